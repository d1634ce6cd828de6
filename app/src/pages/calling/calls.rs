//! `/calling/calls`: the call history with filters and pagination, and `/calling/calls/:id`:
//! one call with its timeline.
//!
//! Filters live in the URL (`?status=missed&q=asha&number=…&agent=…&from=2026-11-01`), so a
//! filtered view can be bookmarked or shared, works without JavaScript (a plain GET form), and
//! the back button does the expected. "Download CSV" exports exactly what the filters select.

use calling::calls::{CallDetail, CallFilter, CallStatus, CallSummary, Direction, RecordingSummary};
use calling::url::encode_value;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Form;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::api::{call_filter_choices, error_text, get_call, list_calls};
use crate::format;
use crate::server_resource::ServerResource;

fn direction_label(direction: Direction) -> &'static str {
    match direction {
        Direction::UserInitiated => "Inbound",
        Direction::BusinessInitiated => "Outbound",
    }
}

/// The page's filter keys in the URL, in the order links carry them.
const FILTER_KEYS: [&str; 7] = ["q", "status", "direction", "number", "agent", "from", "to"];

/// The history's filter from the page's URL; dates are whole UTC days, `to` included.
fn filter_of(q: &leptos_router::params::ParamsMap) -> CallFilter {
    let text = |key: &str| q.get(key).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    let day = |key: &str| text(key).and_then(|date| calling::dates::start_of_date(&date));
    CallFilter {
        status: text("status").and_then(|s| CallStatus::parse(&s)),
        outcome: None,
        direction: text("direction").and_then(|d| Direction::parse(&d)),
        search: text("q"),
        phone_number_id: text("number"),
        agent: text("agent"),
        from: day("from"),
        to: day("to").map(|start| start + calling::dates::DAY_MS),
        cursor: text("cursor"),
        limit: None,
    }
}

/// The REST export of what `filter` selects (the browser's session cookie authenticates it).
fn csv_href(filter: &CallFilter) -> String {
    let mut params = Vec::new();
    let mut add = |key: &str, value: Option<String>| {
        if let Some(value) = value {
            params.push(format!("{key}={}", encode_value(&value)));
        }
    };
    add("status", filter.status.map(|s| s.as_str().to_owned()));
    add("direction", filter.direction.map(|d| d.as_str().to_owned()));
    add("q", filter.search.clone());
    add("phone_number_id", filter.phone_number_id.clone());
    add("agent", filter.agent.clone());
    add("from", filter.from.map(|ms| ms.to_string()));
    add("to", filter.to.map(|ms| ms.to_string()));
    format!("/api/v1/app/calling/calls.csv?{}", params.join("&"))
}

#[component]
pub fn CallsPage() -> impl IntoView {
    let query = use_query_map();
    let filter = move || query.with(filter_of);
    let live = crate::bridge::live_changes();
    let page = ServerResource::new(move || (filter(), live.get()), |(filter, _)| list_calls(filter));
    let choices = ServerResource::new(|| (), |_| call_filter_choices());
    let selected =
        move |key: &'static str, value: &'static str| query.with(|q| q.get(key).as_deref() == Some(value));
    let current = move |key: &'static str| query.with(|q| q.get(key).unwrap_or_default());
    let choice_select =
        move |key: &'static str, label: &'static str, any: &'static str, options: Vec<(String, String)>| {
            view! {
                <label>
                    {label}
                    <select name=key>
                        <option value="">{any}</option>
                        {options
                            .into_iter()
                            .map(|(value, text)| {
                                let is_current = current(key) == value;
                                view! { <option value=value selected=is_current>{text}</option> }
                            })
                            .collect_view()}
                    </select>
                </label>
            }
        };
    view! {
        <Title text="Calls" />
        <div class="page-head">
            <h1>"Calls"</h1>
        </div>
        <section class="card">
            <Form method="GET" action="" attr:class="inline-form filters" attr:aria-label="Filter calls">
                <label>
                    "Search"
                    <input type="search" name="q" placeholder="Number or name"
                        prop:value=move || query.with(|q| q.get("q").unwrap_or_default()) />
                </label>
                <label>
                    "Status"
                    <select name="status">
                        <option value="">"Any status"</option>
                        {CallStatus::ALL
                            .into_iter()
                            .map(|status| view! {
                                <option value=status.as_str() selected=move || selected("status", status.as_str())>
                                    {status.label()}
                                </option>
                            })
                            .collect_view()}
                    </select>
                </label>
                <label>
                    "Direction"
                    <select name="direction">
                        <option value="">"Both directions"</option>
                        <option value="user_initiated" selected=move || selected("direction", "user_initiated")>"Inbound"</option>
                        <option value="business_initiated" selected=move || selected("direction", "business_initiated")>"Outbound"</option>
                    </select>
                </label>
                <Suspense>
                    {move || Suspend::new(async move {
                        let choices = choices.await.unwrap_or_default();
                        view! {
                            {choice_select("number", "Number", "All numbers", choices.numbers)}
                            {choice_select("agent", "Agent", "Any agent", choices.agents)}
                        }
                    })}
                </Suspense>
                <label>
                    "From"
                    <input type="date" name="from" prop:value=move || current("from") />
                </label>
                <label>
                    "To"
                    <input type="date" name="to" prop:value=move || current("to") />
                </label>
                <button class="button" type="submit">"Apply"</button>
                <a href="/calling/calls">"Clear"</a>
                <a class="button quiet" href=move || csv_href(&filter()) download>"Download CSV"</a>
            </Form>
            <Transition fallback=|| view! { <p class="muted">"Loading calls…"</p> }>
                {move || Suspend::new(async move {
                    match page.await {
                        Ok(page) => {
                            let older = page.next_cursor.map(|cursor| {
                                let href = query.with(|q| {
                                    let mut params: Vec<String> = FILTER_KEYS
                                        .into_iter()
                                        .filter_map(|key| q.get(key).filter(|v| !v.is_empty()).map(|v| format!("{key}={}", encode_value(&v))))
                                        .collect();
                                    params.push(format!("cursor={}", encode_value(&cursor)));
                                    format!("/calling/calls?{}", params.join("&"))
                                });
                                view! { <a class="older" href=href>"Older calls →"</a> }
                            });
                            let filtered = query.with(|q| FILTER_KEYS.iter().any(|key| q.get(key).is_some_and(|v| !v.trim().is_empty())));
                            view! { <CallsTable calls=page.calls filtered /> {older} }.into_any()
                        }
                        Err(err) => view! { <p class="error" role="alert">{error_text(&err)}</p> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

/// A table of calls, each linking to its detail, or a friendly empty state.
/// `filtered`: the list is narrowed by filters, so an empty one says so rather than "no calls yet".
#[component]
pub fn CallsTable(calls: Vec<CallSummary>, #[prop(optional)] filtered: bool) -> impl IntoView {
    if calls.is_empty() {
        let message = if filtered {
            "No calls match these filters."
        } else {
            "No calls yet. Calls to and from your WhatsApp numbers appear here."
        };
        return view! { <p class="empty">{message}</p> }.into_any();
    }
    view! {
        <div class="table-wrap">
            <table class="calls">
                <thead>
                    <tr>
                        <th scope="col">"Contact"</th>
                        <th scope="col">"Direction"</th>
                        <th scope="col">"Status"</th>
                        <th scope="col">"Started"</th>
                        <th scope="col">"Agent"</th>
                        <th scope="col" class="num">"Duration"</th>
                        <th scope="col" class="num">"Cost"</th>
                    </tr>
                </thead>
                <tbody>
                    {calls
                        .into_iter()
                        .map(|call| {
                            let href = format!("/calling/calls/{}", call.id);
                            view! {
                                <tr>
                                    <td>
                                        <a class="contact" href=href>
                                            <span class="contact-name">{call.contact_name.clone().unwrap_or_default()}</span>
                                            " "
                                            <span class="contact-number">{call.contact_number}</span>
                                        </a>
                                    </td>
                                    <td>{direction_label(call.direction)}</td>
                                    <td>
                                        <span class=format!("badge status-{}", call.status.as_str())>{call.status.label()}</span>
                                    </td>
                                    <td>{format::utc_timestamp(call.started_at)}</td>
                                    <td class="agent">{call.agent_name.clone().unwrap_or_else(|| "—".into())}</td>
                                    <td class="num">{call.duration_seconds.map(format::duration).unwrap_or_else(|| "—".into())}</td>
                                    <td class="num">{format::money(call.cost_micros)}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

#[component]
pub fn CallDetailPage() -> impl IntoView {
    let params = use_params_map();
    let live = crate::bridge::live_changes();
    let reload = RwSignal::new(0u32);
    // Lives here, not in the card: the card is rebuilt when the call is fetched again after an
    // upload, and the upload's outcome must stay on screen.
    let upload_outcome = RwSignal::new(None::<Result<String, String>>);
    let call = ServerResource::new(
        move || (params.with(|p| p.get("id").unwrap_or_default()), live.get(), reload.get()),
        |(id, _, _)| get_call(id),
    );
    view! {
        <Title text="Call" />
        <p><a href="/calling/calls">"← All calls"</a></p>
        <Transition fallback=|| view! { <p class="muted">"Loading the call…"</p> }>
            {move || Suspend::new(async move {
                match call.await {
                    Ok(call) => view! { <CallDetailView call reload upload_outcome /> }.into_any(),
                    Err(err) => view! {
                        <h1>"Call not found"</h1>
                        <p class="error" role="alert">{error_text(&err)}</p>
                    }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn CallDetailView(
    call: CallDetail,
    reload: RwSignal<u32>,
    upload_outcome: RwSignal<Option<Result<String, String>>>,
) -> impl IntoView {
    let summary = call.summary;
    let heading = summary.contact_name.clone().unwrap_or_else(|| summary.contact_number.clone());
    let row = |label: &'static str, value: Option<String>| {
        value.map(|value| view! { <div><dt>{label}</dt><dd>{value}</dd></div> })
    };
    let timeline = call
        .timeline
        .into_iter()
        .map(|item| {
            view! {
                <li data-kind=item.kind.clone()>
                    <time>{format::utc_timestamp(item.at)}</time>
                    " "
                    <span>{item.label()}</span>
                </li>
            }
        })
        .collect_view();
    view! {
        <div class="page-head">
            <h1>{heading}</h1>
            <span class=format!("badge status-{}", summary.status.as_str())>{summary.status.label()}</span>
        </div>
        {call.failure_reason.map(|reason| view! {
            <p class="error" role="alert">
                {reason} {call.failure_code.map(|code| format!(" (WhatsApp error {code})"))}
            </p>
        })}
        <section class="card" aria-label="Call details">
            <dl class="facts">
                {row("Number", Some(summary.contact_number.clone()))}
                {row("Direction", Some(direction_label(summary.direction).to_owned()))}
                {row("Business number", Some(summary.business_number.clone()))}
                {row("Started", Some(format::utc_timestamp(summary.started_at)))}
                {row("Answered", call.answered_at.map(format::utc_timestamp))}
                {row("Ended", call.ended_at.map(format::utc_timestamp))}
                {row("Duration", summary.duration_seconds.map(format::duration))}
                {row("Agent", summary.agent_name.clone())}
                {row("Cost", Some(format::money(summary.cost_micros)))}
                {row("Button payload", call.cta_payload)}
                {row("Deep link payload", call.deeplink_payload)}
                {row("WhatsApp call id", call.wa_call_id)}
            </dl>
        </section>
        {call.quality.map(|quality| view! { <QualityCard quality /> })}
        <RecordingCard call_id=summary.id.clone() recording=call.recording reload outcome=upload_outcome />
        <section class="card" aria-labelledby="timeline-heading">
            <h2 id="timeline-heading">"Timeline"</h2>
            <ol class="timeline">{timeline}</ol>
        </section>
    }
}

/// The call's recording: a player and a download link when there is one, and (for members who
/// take calls) a form to attach or replace one — MP3 or WAV, up to 25 MB, checked by the server.
#[component]
fn RecordingCard(
    call_id: String,
    recording: Option<RecordingSummary>,
    reload: RwSignal<u32>,
    outcome: RwSignal<Option<Result<String, String>>>,
) -> impl IntoView {
    let may_upload = use_context::<crate::api::Viewer>()
        .is_some_and(|viewer| viewer.role.allows(calling::accounts::Permission::AnswerCalls));
    let src = format!("/api/v1/app/calling/calls/{call_id}/recording");
    let pending = RwSignal::new(false);
    let form_ref = NodeRef::<leptos::html::Form>::new();
    let upload_path = StoredValue::new(src.clone());
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        #[cfg(feature = "hydrate")]
        if let Some(form) = form_ref.get_untracked() {
            pending.set(true);
            outcome.set(None);
            leptos::task::spawn_local(async move {
                let sent = crate::rest::post_form::<serde_json::Value>(&upload_path.get_value(), &form).await;
                outcome.set(Some(match sent {
                    Ok(_) => {
                        form.reset();
                        reload.update(|n| *n += 1);
                        Ok("The recording is attached.".to_owned())
                    }
                    Err(refusal) => Err(refusal.text()),
                }));
                pending.set(false);
            });
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (form_ref, upload_path, reload);
    };
    let has_recording = recording.is_some();
    let player = match recording {
        Some(recording) => {
            let about = format!(
                "{} · {} · attached {}",
                recording.format.to_uppercase(),
                format::bytes(recording.byte_size),
                format::utc_timestamp(recording.uploaded_at)
            );
            view! {
                <audio controls preload="metadata" src=src.clone() data-recording="player"></audio>
                <p class="muted">
                    {recording.file_name.map(|name| format!("{name} · "))}{about}" · "
                    <a href=format!("{src}?download=1") download>"Download"</a>
                </p>
            }
            .into_any()
        }
        None => view! { <p class="empty">"No recording is attached to this call."</p> }.into_any(),
    };
    let upload = may_upload.then(|| {
        view! {
            <form node_ref=form_ref class="inline-form" on:submit=on_submit aria-label="Attach a recording">
                <label>
                    {if has_recording { "Replace the recording" } else { "Attach a recording" }}
                    <input type="file" name="file" required accept="audio/mpeg,audio/wav,.mp3,.wav" />
                </label>
                <span class="hint">"MP3 or WAV, up to 25 MB."</span>
                <button class="button" type="submit" disabled=move || pending.get()>
                    {move || if pending.get() { "Uploading…" } else { "Upload" }}
                </button>
            </form>
            {move || outcome.get().map(|outcome| match outcome {
                Ok(message) => view! { <p class="ok" role="status">{message}</p> }.into_any(),
                Err(message) => view! { <p class="error" role="alert">{message}</p> }.into_any(),
            })}
        }
    });
    view! {
        <section class="card" aria-labelledby="recording-heading">
            <h2 id="recording-heading">"Recording"</h2>
            {player}
            {upload}
        </section>
    }
}

/// What the agent's browser measured during the call.
#[component]
fn QualityCard(quality: calling::quality::CallQuality) -> impl IntoView {
    let q = quality.summary;
    let ms = |value: Option<f64>| value.map_or_else(|| "—".to_owned(), |ms| format!("{ms:.0} ms"));
    view! {
        <section class="card" aria-labelledby="quality-heading">
            <div class="card-head">
                <h2 id="quality-heading">"Call quality"</h2>
                <span class="badge" data-quality="verdict">{q.verdict()}</span>
            </div>
            <dl class="stats">
                <div class="stat"><dt>"Estimated MOS"</dt><dd data-quality="mos">{format!("{:.1}", q.mos)}</dd></div>
                <div class="stat"><dt>"Round trip"</dt><dd data-quality="rtt">{ms(q.round_trip_avg_ms)}</dd></div>
                <div class="stat"><dt>"Worst round trip"</dt><dd>{ms(q.round_trip_max_ms)}</dd></div>
                <div class="stat"><dt>"Jitter"</dt><dd data-quality="jitter">{format!("{:.0} ms", q.jitter_avg_ms)}</dd></div>
                <div class="stat"><dt>"Packet loss"</dt><dd data-quality="loss">{format!("{:.1}%", q.loss_percent)}</dd></div>
                <div class="stat"><dt>"Samples"</dt><dd data-quality="samples">{q.samples}</dd></div>
            </dl>
            {q.silent_from_s.map(|at| view! {
                <p class="notice" role="note">
                    {format!("No audio from the caller for 10 s or more from {} into the call.", format::duration(at as i64))}
                </p>
            })}
        </section>
    }
}
