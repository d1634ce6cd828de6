//! The answer bridge: WhatsApp calls ring in every signed-in agent's browser and are answered
//! there with real two-way audio. Audio goes straight between this browser and WhatsApp's media
//! servers; the server only relays the SDP and the call actions.
//!
//! - **Ringing** comes from the live event stream (`/api/v1/app/events`, SSE): on any call
//!   event the bridge refetches `/api/v1/app/calling/incoming`, so a reload or a dropped
//!   connection never loses a ring.
//! - **Answering** (see [`media`]): the microphone is taken, an `RTCPeerConnection` answers
//!   WhatsApp's offer with the mic track *disabled*, ICE gathering is awaited (capped) so the SDP
//!   is complete, `pre-accept` claims the call (the first agent wins), the browser waits for ICE
//!   to connect (capped), `accept` is sent with the same SDP, and only after its 200 the mic
//!   track is attached to its sender — WhatsApp drops media sent before accept.
//! - **In call**: timer, mute, hang up, and audio figures from `getStats` every 2 s. Closing the
//!   tab ends the call with a beacon.

mod media;

use calling::answering::IncomingCall;
use leptos::prelude::*;

use crate::format;
use crate::rest;

/// Where this browser's call stands.
#[derive(Clone, Debug, PartialEq)]
enum Phase {
    /// Taking the mic, building the answer, pre-accepting, waiting for ICE, accepting.
    Connecting(&'static str),
    /// Accepted: audio flows.
    Live,
    /// Over, with why.
    Ended(String),
}

#[derive(Clone, Debug, PartialEq)]
struct ActiveCall {
    call_id: String,
    caller: String,
    phase: Phase,
    /// When the call went live (ms since the epoch, browser clock).
    live_since: Option<f64>,
    muted: bool,
}

/// Audio figures from `getStats`, shown in the call panel.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AudioFigures {
    pub packets_in: u64,
    pub packets_out: u64,
    pub packets_lost: i64,
    pub jitter_ms: f64,
    pub round_trip_ms: Option<f64>,
    pub level_in: f64,
}

#[derive(serde::Deserialize)]
struct IncomingResponse {
    calls: Vec<IncomingCall>,
}

/// The ring panel and the call panel, on every dashboard page. `can_answer` is the member's
/// role allowing it (viewers see nothing ring).
#[component]
pub fn CallBridge(can_answer: bool) -> AnyView {
    let incoming = RwSignal::new(Vec::<IncomingCall>::new());
    let active = RwSignal::new(None::<ActiveCall>);
    let figures = RwSignal::new(None::<AudioFigures>);
    let notice = RwSignal::new(None::<String>);
    let now = RwSignal::new(0.0_f64);

    let refresh = move || {
        leptos::task::spawn_local(async move {
            match rest::get::<IncomingResponse>("/api/v1/app/calling/incoming").await {
                Ok(response) => incoming.set(response.calls),
                Err(refusal) => notice.set(Some(refusal.text())),
            }
        });
    };

    // Ended by the other side (or by WhatsApp): the call's event says so.
    let on_call_event = move |subject: String, status: String| {
        let ended = matches!(status.as_str(), "completed" | "failed" | "missed" | "rejected");
        let ours = active.with_untracked(|call| {
            call.as_ref()
                .is_some_and(|call| call.call_id == subject && !matches!(call.phase, Phase::Ended(_)))
        });
        if ended && ours {
            media::hang_up_locally();
            active.update(|call| {
                if let Some(call) = call {
                    call.phase = Phase::Ended("The call has ended.".into());
                }
            });
        }
    };

    if can_answer {
        Effect::new(move || {
            media::listen(refresh, on_call_event);
            media::every_second(move |ms| now.set(ms));
            media::end_call_when_the_page_closes(move || {
                active.with_untracked(|call| {
                    call.as_ref()
                        .filter(|call| !matches!(call.phase, Phase::Ended(_)))
                        .map(|c| c.call_id.clone())
                })
            });
        });
    }

    let answer = move |call: IncomingCall| {
        let caller = call.contact_name.clone().unwrap_or_else(|| call.contact_number.clone());
        active.set(Some(ActiveCall {
            call_id: call.call_id.clone(),
            caller,
            phase: Phase::Connecting("Connecting…"),
            live_since: None,
            muted: false,
        }));
        figures.set(None);
        leptos::task::spawn_local(async move {
            let step = move |label: &'static str| {
                active.update(|active| {
                    if let Some(active) = active {
                        active.phase = Phase::Connecting(label);
                    }
                })
            };
            match media::answer(&call, step).await {
                Ok(()) => {
                    active.update(|active| {
                        if let Some(active) = active {
                            active.phase = Phase::Live;
                            active.live_since = Some(js_now());
                        }
                    });
                    media::watch_audio(move |latest| {
                        let live = active.with_untracked(|call| {
                            call.as_ref().is_some_and(|call| call.phase == Phase::Live)
                        });
                        if live {
                            figures.set(Some(latest));
                        }
                        live
                    });
                }
                Err(reason) => {
                    media::hang_up_locally();
                    active.update(|active| {
                        if let Some(active) = active {
                            active.phase = Phase::Ended(reason);
                        }
                    });
                }
            }
            refresh();
        });
    };

    let reject = move |call_id: String| {
        leptos::task::spawn_local(async move {
            let path = format!("/api/v1/app/calling/calls/{call_id}/reject");
            if let Err(refusal) = rest::post::<_, serde_json::Value>(&path, &serde_json::json!({})).await {
                notice.set(Some(refusal.text()));
            }
            refresh();
        });
    };

    let hang_up = move |_| {
        let Some(call_id) = active.with_untracked(|call| call.as_ref().map(|call| call.call_id.clone()))
        else {
            return;
        };
        media::hang_up_locally();
        active.update(|call| {
            if let Some(call) = call {
                call.phase = Phase::Ended("You hung up.".into());
            }
        });
        leptos::task::spawn_local(async move {
            let path = format!("/api/v1/app/calling/calls/{call_id}/terminate");
            if let Err(refusal) = rest::post::<_, serde_json::Value>(&path, &serde_json::json!({})).await {
                notice.set(Some(refusal.text()));
            }
        });
    };

    let toggle_mute = move |_| {
        active.update(|call| {
            if let Some(call) = call {
                call.muted = !call.muted;
                media::set_muted(call.muted);
            }
        })
    };

    let ringing = move || {
        let busy =
            active.with(|call| call.as_ref().is_some_and(|call| !matches!(call.phase, Phase::Ended(_))));
        let mine = active.with(|call| call.as_ref().map(|call| call.call_id.clone()));
        incoming
            .get()
            .into_iter()
            .filter(|call| Some(&call.call_id) != mine.as_ref())
            .map(|call| {
                let name = call.contact_name.clone().unwrap_or_else(|| "WhatsApp caller".to_owned());
                let deadline = call.answer_deadline;
                let left = move || {
                    deadline.map(|deadline| {
                        let seconds = ((deadline as f64 - now.get()) / 1000.0).max(0.0) as i64;
                        format!("Rings for {} more", format::duration(seconds))
                    })
                };
                let taken = call.answered_by.is_some();
                let for_answer = call.clone();
                let call_id = call.call_id.clone();
                view! {
                    <section class="ring" role="alertdialog" aria-label="Incoming WhatsApp call" data-call-id=call.call_id.clone()>
                        <p class="ring-title">"Incoming WhatsApp call"</p>
                        <p class="ring-caller">{name}</p>
                        <p class="contact-number">{call.contact_number.clone()}</p>
                        <p class="muted ring-left">{left}</p>
                        {if taken {
                            view! { <p class="muted">"A teammate is answering."</p> }.into_any()
                        } else {
                            view! {
                                <div class="ring-actions">
                                    <button class="button accept" type="button" disabled=busy
                                        on:click=move |_| answer(for_answer.clone())>"Accept"</button>
                                    <button class="button danger" type="button"
                                        on:click=move |_| reject(call_id.clone())>"Reject"</button>
                                </div>
                            }.into_any()
                        }}
                    </section>
                }
                .into_any()
            })
            .collect_view()
    };

    let call_panel = move || {
        active.get().map(|call| {
            let status = match &call.phase {
                Phase::Connecting(step) => step.to_string(),
                Phase::Live => {
                    let since = call.live_since.unwrap_or_default();
                    format!("On call · {}", format::duration(((now.get() - since) / 1000.0).max(0.0) as i64))
                }
                Phase::Ended(reason) => reason.clone(),
            };
            let live = call.phase == Phase::Live;
            let ended = matches!(call.phase, Phase::Ended(_));
            let muted = call.muted;
            view! {
                <section class="in-call" aria-label="Current call" data-phase=if live { "live" } else if ended { "ended" } else { "connecting" }>
                    <p class="ring-caller">{call.caller.clone()}</p>
                    <p role="status" class="call-status">{status}</p>
                    {live.then(|| view! { <AudioPanel figures /> })}
                    <div class="ring-actions">
                        {(!ended).then(|| view! {
                            <button class="button quiet" type="button" aria-pressed=muted.to_string() disabled=!live on:click=toggle_mute>
                                {if muted { "Unmute" } else { "Mute" }}
                            </button>
                            <button class="button danger" type="button" on:click=hang_up>"Hang up"</button>
                        })}
                        {ended.then(|| view! {
                            <button class="button quiet" type="button" on:click=move |_| active.set(None)>"Close"</button>
                        })}
                    </div>
                </section>
            }
            .into_any()
        })
    };

    view! {
        <div class="bridge" aria-live="polite">
            {ringing}
            {call_panel}
            {move || notice.get().map(|message| view! {
                <p class="error ring-notice" role="alert">
                    {message}
                    <button class="button quiet" type="button" on:click=move |_| notice.set(None)>"Dismiss"</button>
                </p>
            })}
        </div>
    }
    // Erased: the bridge sits inside the layout's already deep view type.
    .into_any()
}

#[component]
fn AudioPanel(figures: RwSignal<Option<AudioFigures>>) -> impl IntoView {
    move || {
        figures.get().map(|f| {
            let rtt = f.round_trip_ms.map_or_else(|| "—".to_owned(), |ms| format!("{ms:.0} ms"));
            view! {
                <dl class="audio-figures" aria-label="Call quality">
                    <div><dt>"Packets in"</dt><dd data-audio="packets-in">{f.packets_in}</dd></div>
                    <div><dt>"Packets out"</dt><dd data-audio="packets-out">{f.packets_out}</dd></div>
                    <div><dt>"Lost"</dt><dd data-audio="lost">{f.packets_lost}</dd></div>
                    <div><dt>"Jitter"</dt><dd data-audio="jitter">{format!("{:.0} ms", f.jitter_ms)}</dd></div>
                    <div><dt>"Round trip"</dt><dd data-audio="rtt">{rtt}</dd></div>
                    <div><dt>"Caller level"</dt><dd data-audio="level-in">{format!("{:.2}", f.level_in)}</dd></div>
                </dl>
            }
            .into_any()
        })
    }
}

fn js_now() -> f64 {
    #[cfg(feature = "hydrate")]
    {
        js_sys::Date::now()
    }
    #[cfg(not(feature = "hydrate"))]
    0.0
}
