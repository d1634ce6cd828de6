//! `/calling/calls`: the call history with filters and pagination, and `/calling/calls/:id`:
//! one call with its timeline.
//!
//! Filters live in the URL (`?status=missed&q=asha`), so a filtered view can be bookmarked or
//! shared, works without JavaScript (a plain GET form), and the back button does the expected.

use calling::calls::{CallDetail, CallFilter, CallStatus, CallSummary, Direction};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Form;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::api::{error_text, get_call, list_calls};
use crate::format;

fn direction_label(direction: Direction) -> &'static str {
    match direction {
        Direction::UserInitiated => "Inbound",
        Direction::BusinessInitiated => "Outbound",
    }
}

#[component]
pub fn CallsPage() -> impl IntoView {
    let query = use_query_map();
    let filter = move || {
        query.with(|q| {
            let text = |key: &str| q.get(key).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
            CallFilter {
                status: text("status").and_then(|s| CallStatus::parse(&s)),
                direction: text("direction").and_then(|d| Direction::parse(&d)),
                search: text("q"),
                cursor: text("cursor"),
                ..CallFilter::default()
            }
        })
    };
    let live = crate::bridge::live_changes();
    let page = Resource::new(move || (filter(), live.get()), |(filter, _)| list_calls(filter));
    let selected =
        move |key: &'static str, value: &'static str| query.with(|q| q.get(key).as_deref() == Some(value));
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
                <button class="button" type="submit">"Apply"</button>
                <a href="/calling/calls">"Clear"</a>
            </Form>
            <Transition fallback=|| view! { <p class="muted">"Loading calls…"</p> }>
                {move || Suspend::new(async move {
                    match page.await {
                        Ok(page) => {
                            let older = page.next_cursor.map(|cursor| {
                                let href = query.with(|q| {
                                    let mut params: Vec<String> = ["q", "status", "direction"]
                                        .into_iter()
                                        .filter_map(|key| q.get(key).filter(|v| !v.is_empty()).map(|v| format!("{key}={}", encode(&v))))
                                        .collect();
                                    params.push(format!("cursor={}", encode(&cursor)));
                                    format!("/calling/calls?{}", params.join("&"))
                                });
                                view! { <a class="older" href=href>"Older calls →"</a> }
                            });
                            view! { <CallsTable calls=page.calls /> {older} }.into_any()
                        }
                        Err(err) => view! { <p class="error" role="alert">{error_text(&err)}</p> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

/// Percent-encodes a query value (letters, digits and `-_.~` pass through).
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A table of calls, each linking to its detail, or a friendly empty state.
#[component]
pub fn CallsTable(calls: Vec<CallSummary>) -> impl IntoView {
    if calls.is_empty() {
        return view! { <p class="empty">"No calls yet. Calls to and from your WhatsApp numbers appear here."</p> }
            .into_any();
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
    let call = Resource::new(
        move || (params.with(|p| p.get("id").unwrap_or_default()), live.get()),
        |(id, _)| get_call(id),
    );
    view! {
        <Title text="Call" />
        <p><a href="/calling/calls">"← All calls"</a></p>
        <Transition fallback=|| view! { <p class="muted">"Loading the call…"</p> }>
            {move || Suspend::new(async move {
                match call.await {
                    Ok(call) => view! { <CallDetailView call /> }.into_any(),
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
fn CallDetailView(call: CallDetail) -> impl IntoView {
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
                {row("Cost", Some(format::money(summary.cost_micros)))}
                {row("Button payload", call.cta_payload)}
                {row("Deep link payload", call.deeplink_payload)}
                {row("WhatsApp call id", call.wa_call_id)}
            </dl>
        </section>
        {call.quality.map(|quality| view! { <QualityCard quality /> })}
        <section class="card" aria-labelledby="timeline-heading">
            <h2 id="timeline-heading">"Timeline"</h2>
            <ol class="timeline">{timeline}</ol>
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
