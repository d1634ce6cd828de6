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

pub(crate) mod media;

use calling::answering::{IncomingCall, RequestedCall};
use calling::presence::Availability;
use calling::quality::{self, QualitySample};
use leptos::lazy;
use leptos::prelude::*;

use crate::format;
use crate::rest;

/// Where this browser's call stands.
#[derive(Clone, Debug, PartialEq)]
enum Phase {
    /// Answering: taking the mic, building the answer, pre-accepting, waiting for ICE,
    /// accepting. Calling out: taking the mic, placing the call, waiting for the customer.
    Connecting(&'static str),
    /// Audio flows.
    Live,
    /// Over, with why.
    Ended(String),
}

#[derive(Clone, Debug, PartialEq)]
struct ActiveCall {
    /// Our call id; empty while an outbound call is still being placed.
    call_id: String,
    caller: String,
    outbound: bool,
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
    #[serde(default)]
    to_dial: Vec<RequestedCall>,
}

#[derive(serde::Deserialize)]
pub(crate) struct IceServers {
    pub ice_servers: Vec<calling::ice::IceServer>,
}

#[derive(serde::Deserialize)]
struct Initiated {
    call_id: String,
}

/// The bridge's state, shared (as context, from the signed-in layout) by the ring and call
/// panels and by the "place a call" form on the pages. Cheap to copy: signals only.
#[derive(Clone, Copy)]
pub struct Bridge {
    incoming: RwSignal<Vec<IncomingCall>>,
    /// Calls requested without audio (the CLI, the API) that wait for an agent to dial them.
    to_dial: RwSignal<Vec<RequestedCall>>,
    active: RwSignal<Option<ActiveCall>>,
    figures: RwSignal<Option<AudioFigures>>,
    notice: RwSignal<Option<String>>,
    now: RwSignal<f64>,
    /// Bumped by every live call or permission change (see [`live_changes`]).
    changes: RwSignal<u64>,
    /// The current call's audio samples, kept with the call when it ends.
    samples: StoredValue<Vec<QualitySample>>,
    /// The caller has not been heard for [`quality::SILENCE_WARNING_MS`].
    caller_silent: RwSignal<bool>,
    /// Available (rung) or away, as the agent chose; sent with every heartbeat.
    availability: RwSignal<Availability>,
    /// The signed-in member: a caller's last agent has their call to themselves for a moment.
    me: StoredValue<String>,
    /// The member's role lets them answer / place calls.
    pub can_answer: bool,
    pub can_place: bool,
}

impl Bridge {
    /// Creates the state and provides it to everything below the caller.
    pub fn provide(can_answer: bool, can_place: bool, user_id: String) -> Bridge {
        let bridge = Bridge {
            incoming: RwSignal::new(Vec::new()),
            to_dial: RwSignal::new(Vec::new()),
            active: RwSignal::new(None),
            figures: RwSignal::new(None),
            notice: RwSignal::new(None),
            now: RwSignal::new(0.0),
            changes: RwSignal::new(0),
            samples: StoredValue::new(Vec::new()),
            caller_silent: RwSignal::new(false),
            availability: RwSignal::new(Availability::Online),
            me: StoredValue::new(user_id),
            can_answer,
            can_place,
        };
        provide_context(bridge);
        bridge
    }

    /// Whether `call` rings in this browser now: not while it is still reserved for the
    /// caller's last agent, if that is someone else (the server refuses them meanwhile too).
    fn rings_here(self, call: &IncomingCall) -> bool {
        self.me.with_value(|me| call.rings_for(me, self.now.get() as i64))
    }

    /// Whether this browser is on a call (or getting on one).
    pub fn busy(self) -> bool {
        self.active.with(|call| call.as_ref().is_some_and(|call| !matches!(call.phase, Phase::Ended(_))))
    }

    fn busy_untracked(self) -> bool {
        self.active
            .with_untracked(|call| call.as_ref().is_some_and(|call| !matches!(call.phase, Phase::Ended(_))))
    }

    /// Moves the current call on; an ended call stays ended (late events and answers to
    /// requests made before the end must not revive or relabel it).
    fn set_phase(self, phase: Phase) {
        self.active.update(|call| {
            if let Some(call) = call.as_mut().filter(|call| !matches!(call.phase, Phase::Ended(_))) {
                if phase == Phase::Live && call.live_since.is_none() {
                    call.live_since = Some(js_now());
                }
                call.phase = phase;
            }
        });
    }

    fn current_call_id(self) -> Option<String> {
        self.active.with_untracked(|call| {
            call.as_ref()
                .filter(|call| !matches!(call.phase, Phase::Ended(_)) && !call.call_id.is_empty())
                .map(|call| call.call_id.clone())
        })
    }

    /// Tells the server this browser is here, available or away, and on which call; the
    /// server ends a call whose browser stops saying so.
    fn heartbeat(self) {
        if !self.can_answer && !self.can_place {
            return;
        }
        let status = self.availability.get_untracked();
        let call_id = self.current_call_id();
        leptos::task::spawn_local(async move {
            let body = serde_json::json!({ "status": status, "call_id": call_id });
            let _ = rest::put::<_, serde_json::Value>("/api/v1/app/presence", &body).await;
        });
    }

    /// Refetches what rings.
    fn refresh(self) {
        self.refresh_then(|| {});
    }

    /// Refetches what rings, then runs `after` (also when this agent may not answer).
    fn refresh_then(self, after: impl FnOnce() + 'static) {
        if !self.can_answer {
            after();
            return;
        }
        leptos::task::spawn_local(async move {
            match rest::get::<IncomingResponse>("/api/v1/app/calling/incoming").await {
                Ok(response) => {
                    self.incoming.set(response.calls);
                    self.to_dial.set(response.to_dial);
                }
                Err(refusal) => self.notice.set(Some(refusal.text())),
            }
            after();
        });
    }

    fn on_event(self, event: media::LiveEvent) {
        match event.topic {
            "call.updated" => {
                // The ring first; the page's own figures, which refetch on `changes`, once it
                // shows, so their requests do not queue ahead of it in the browser and on the
                // server.
                self.refresh_then(move || self.changes.update(|changes| *changes += 1));
                self.on_call_event(event.subject, event.status);
            }
            "permission.updated" => self.changes.update(|changes| *changes += 1),
            _ => self.refresh(),
        }
    }

    /// A call changed (live event): our own call follows its status.
    fn on_call_event(self, subject: String, status: String) {
        let ours = self.current_call_id().is_some_and(|call_id| call_id == subject);
        if !ours {
            return;
        }
        let outbound = self.active.with_untracked(|call| call.as_ref().is_some_and(|call| call.outbound));
        if outbound {
            self.follow_outbound(subject);
        } else if is_over(&status) {
            self.end(Phase::Ended("The call has ended.".into()));
        }
    }

    fn end(self, phase: Phase) {
        media::hang_up_locally();
        self.set_phase(phase);
        self.report_quality();
    }

    /// Sends what this browser measured during the call to be kept with it (once: the
    /// samples are taken).
    fn report_quality(self) {
        let samples = std::mem::take(&mut *self.samples.write_value());
        let call_id = self.active.with_untracked(|call| call.as_ref().map(|call| call.call_id.clone()));
        let Some(call_id) = call_id.filter(|id| !id.is_empty() && !samples.is_empty()) else {
            return;
        };
        leptos::task::spawn_local(async move {
            let path = format!("/api/v1/app/calling/calls/{call_id}/quality");
            let body = serde_json::json!({ "samples": samples });
            if let Err(refusal) = rest::post::<_, serde_json::Value>(&path, &body).await {
                self.notice
                    .set(Some(format!("The call's quality figures were not saved: {}", refusal.text())));
            }
        });
    }

    fn start_audio_figures(self) {
        let (active, figures, samples, silent) =
            (self.active, self.figures, self.samples, self.caller_silent);
        samples.set_value(Vec::new());
        silent.set(false);
        media::watch_audio(move |latest| {
            let live_since = active.with_untracked(|call| {
                call.as_ref().filter(|call| call.phase == Phase::Live).and_then(|call| call.live_since)
            });
            let Some(live_since) = live_since else {
                return false;
            };
            samples.update_value(|samples| {
                samples.push(QualitySample {
                    at_ms: (js_now() - live_since).max(0.0) as u64,
                    round_trip_ms: latest.round_trip_ms,
                    jitter_ms: latest.jitter_ms,
                    packets_in: latest.packets_in,
                    packets_lost: latest.packets_lost,
                    packets_out: latest.packets_out,
                    level_in: latest.level_in,
                })
            });
            silent.set(
                samples.with_value(|samples| quality::silent_for_ms(samples)) >= quality::SILENCE_WARNING_MS,
            );
            figures.set(Some(latest));
            true
        });
    }

    /// Answers a ringing call in this browser.
    fn answer(self, call: IncomingCall) {
        let caller = call.contact_name.clone().unwrap_or_else(|| call.contact_number.clone());
        self.active.set(Some(ActiveCall {
            call_id: call.call_id.clone(),
            caller,
            outbound: false,
            phase: Phase::Connecting("Connecting…"),
            live_since: None,
            muted: false,
        }));
        self.figures.set(None);
        leptos::task::spawn_local(async move {
            match media::answer(&call, move |step| self.set_phase(Phase::Connecting(step))).await {
                Ok(()) => {
                    self.set_phase(Phase::Live);
                    self.start_audio_figures();
                }
                Err(reason) => self.end(Phase::Ended(reason)),
            }
            self.refresh();
        });
    }

    /// Calls a WhatsApp user from this browser: the browser's offer goes out with `initiate`
    /// (permission check and billing preflight first), WhatsApp's answer arrives with the
    /// connect webhook and is applied, and the customer's pick-up makes the call live.
    pub fn place(self, to: String) {
        self.call_out(to.clone(), "/api/v1/app/calling/initiate".into(), serde_json::json!({ "to": to }));
    }

    /// Dials a call that was requested without audio (from the CLI or the API), with this
    /// browser's offer: the first agent to dial it is the one on it.
    fn dial_requested(self, requested: RequestedCall) {
        let caller = requested.contact_name.clone().unwrap_or_else(|| requested.contact_number.clone());
        let path = format!("/api/v1/app/calling/calls/{}/dial", requested.call_id);
        self.call_out(caller, path, serde_json::json!({}));
    }

    /// Takes the microphone, makes the offer and posts it (with `body`'s other fields) to
    /// `path`, then follows the call WhatsApp places.
    fn call_out(self, to: String, path: String, body: serde_json::Value) {
        if self.busy_untracked() {
            self.notice.set(Some("Finish the current call first.".into()));
            return;
        }
        self.active.set(Some(ActiveCall {
            call_id: String::new(),
            caller: to.clone(),
            outbound: true,
            phase: Phase::Connecting("Getting the microphone…"),
            live_since: None,
            muted: false,
        }));
        self.figures.set(None);
        leptos::task::spawn_local(async move {
            let placed = async {
                let offer = media::offer(move |step| self.set_phase(Phase::Connecting(step))).await?;
                self.set_phase(Phase::Connecting("Calling…"));
                let mut body = body;
                body["sdp"] = offer.into();
                rest::post::<_, Initiated>(&path, &body).await.map_err(|refusal| refusal.text())
            }
            .await;
            match placed {
                Ok(initiated) => {
                    self.active.update(|call| {
                        if let Some(call) = call {
                            call.call_id = initiated.call_id.clone();
                        }
                    });
                    // The connect webhook may already be in: don't wait for the next event.
                    self.follow_outbound(initiated.call_id);
                }
                Err(reason) => self.end(Phase::Ended(reason)),
            }
        });
    }

    /// Reads an outbound call's session: applies WhatsApp's answer once it is there and
    /// follows the status (ringing, answered, over).
    fn follow_outbound(self, call_id: String) {
        leptos::task::spawn_local(async move {
            let path = format!("/api/v1/app/calling/calls/{call_id}/session");
            let Ok(session) = rest::get::<calling::answering::CallSession>(&path).await else {
                return;
            };
            if let Some(sdp) = &session.sdp_answer
                && let Err(reason) = media::apply_answer(sdp).await
            {
                self.end(Phase::Ended(reason));
                let path = format!("/api/v1/app/calling/calls/{call_id}/terminate");
                let _ = rest::post::<_, serde_json::Value>(&path, &serde_json::json!({})).await;
                return;
            }
            let live = self
                .active
                .with_untracked(|call| call.as_ref().is_some_and(|call| call.phase == Phase::Live));
            match session.status.as_str() {
                "answered" if !live => {
                    self.set_phase(Phase::Live);
                    self.start_audio_figures();
                }
                "ringing" if !live => self.set_phase(Phase::Connecting("Ringing…")),
                "rejected" => self.end(Phase::Ended("The customer declined the call.".into())),
                "missed" => self.end(Phase::Ended("No answer.".into())),
                "failed" => self.end(Phase::Ended("The call failed.".into())),
                "completed" => self.end(Phase::Ended("The call has ended.".into())),
                _ => {}
            }
        });
    }

    fn reject(self, call_id: String) {
        leptos::task::spawn_local(async move {
            let path = format!("/api/v1/app/calling/calls/{call_id}/reject");
            if let Err(refusal) = rest::post::<_, serde_json::Value>(&path, &serde_json::json!({})).await {
                self.notice.set(Some(refusal.text()));
            }
            self.refresh();
        });
    }

    fn hang_up(self) {
        let call_id = self.current_call_id();
        self.end(Phase::Ended("You hung up.".into()));
        let Some(call_id) = call_id else {
            return;
        };
        leptos::task::spawn_local(async move {
            let path = format!("/api/v1/app/calling/calls/{call_id}/terminate");
            if let Err(refusal) = rest::post::<_, serde_json::Value>(&path, &serde_json::json!({})).await {
                self.notice.set(Some(refusal.text()));
            }
        });
    }

    fn toggle_mute(self) {
        self.active.update(|call| {
            if let Some(call) = call {
                call.muted = !call.muted;
                media::set_muted(call.muted);
            }
        })
    }
}

/// A counter that moves on every live call or permission change of the workspace, for pages
/// to put in their resources' sources: what they show refetches by itself. Always 0 on the
/// server and without a bridge, so hydration sees the same value.
pub fn live_changes() -> Signal<u64> {
    match use_context::<Bridge>() {
        Some(bridge) => bridge.changes.into(),
        None => Signal::derive(|| 0),
    }
}

fn is_over(status: &str) -> bool {
    matches!(status, "completed" | "failed" | "missed" | "rejected")
}

/// The ring panel and the call panel, on every dashboard page (from the [`Bridge`] in context).
#[component]
pub fn CallBridge() -> AnyView {
    let bridge = expect_context::<Bridge>();
    let Bridge { incoming, active, notice, now, .. } = bridge;

    // Everyone signed in listens (pages refresh from it); only agents are rung.
    Effect::new(move || {
        if bridge.can_answer || bridge.can_place {
            // The panels' chunk, fetched now the page is up, so a ring shows at once.
            leptos::lazy_preload!(panels);
            leptos::task::spawn_local(async move {
                if let Ok(servers) = rest::get::<IceServers>("/api/v1/app/calling/ice-servers").await {
                    media::set_ice_servers(servers.ice_servers);
                }
            });
        }
        media::listen(move |event| bridge.on_event(event));
        media::every_second(move |ms| {
            now.set(ms);
            // Heartbeats on a fixed cadence, whatever else happens.
            if (ms / 1000.0) as i64 % (calling::presence::HEARTBEAT_EVERY / 1000) == 0 {
                bridge.heartbeat();
            }
        });
        media::end_call_when_the_page_closes(move || bridge.current_call_id());
    });
    // …and at once when the agent changes availability or gets on or off a call.
    Effect::new(move || {
        bridge.availability.track();
        active.with(|call| {
            call.as_ref().map(|call| (call.call_id.clone(), matches!(call.phase, Phase::Ended(_))))
        });
        bridge.heartbeat();
    });

    // Calls this agent said "not me" to: they stop ringing here and keep ringing for the team.
    let dismissed = RwSignal::new(Vec::<String>::new());
    // What rings for this agent now: the ringtone plays and each new call gets a desktop
    // notification; both stop when nothing rings (answered here or elsewhere, or over).
    let ringing_for_me = Memo::new(move |_| {
        if !bridge.can_answer || bridge.busy() || bridge.availability.get() == Availability::Away {
            return Vec::new();
        }
        incoming.with(|calls| {
            calls
                .iter()
                .filter(|call| {
                    call.answered_by.is_none()
                        && bridge.rings_here(call)
                        && !dismissed.with(|ids| ids.contains(&call.call_id))
                })
                .map(|call| {
                    let caller = call.contact_name.clone().unwrap_or_else(|| call.contact_number.clone());
                    (call.call_id.clone(), caller)
                })
                .collect::<Vec<_>>()
        })
    });
    let notified = StoredValue::new(Vec::<String>::new());
    Effect::new(move || {
        let calls = ringing_for_me.get();
        media::ringtone(!calls.is_empty());
        if calls.is_empty() {
            media::clear_ring_notifications();
            notified.set_value(Vec::new());
        }
        for (call_id, caller) in calls {
            if !notified.with_value(|seen| seen.contains(&call_id)) {
                media::notify_ring(&call_id, &caller);
                notified.update_value(|seen| seen.push(call_id));
            }
        }
    });

    // The panels' code (and the answer path behind their buttons) is a chunk of its own,
    // fetched the first time there is something to show: most page views never ring.
    let showing = Memo::new(move |_| {
        incoming.with(|calls| !calls.is_empty())
            || bridge.to_dial.with(|calls| !calls.is_empty())
            || active.with(Option::is_some)
            || notice.with(Option::is_some)
    });
    view! {
        <div
            class="bridge"
            aria-live="polite"
            data-ringtone=move || if ringing_for_me.with(|calls| calls.is_empty()) { "off" } else { "on" }
        >
            {move || showing.get().then(|| Suspend::new(async move { panels(bridge, dismissed).await }))}
        </div>
    }
    // Erased: the bridge sits inside the layout's already deep view type.
    .into_any()
}

/// The ring, dial and call panels, and the notice.
#[lazy]
fn panels(bridge: Bridge, dismissed: RwSignal<Vec<String>>) -> AnyView {
    let Bridge { incoming, active, figures, notice, now, caller_silent, .. } = bridge;
    let answer = move |call: IncomingCall| {
        media::ask_for_notifications();
        bridge.answer(call)
    };
    let reject = move |call_id: String| bridge.reject(call_id);
    let hang_up = move |_| bridge.hang_up();
    let toggle_mute = move |_| bridge.toggle_mute();

    let ringing = move || {
        if bridge.availability.get() == Availability::Away {
            return Vec::new();
        }
        let busy = bridge.busy();
        let mine = active.with(|call| call.as_ref().map(|call| call.call_id.clone()));
        incoming
            .get()
            .into_iter()
            .filter(|call| Some(&call.call_id) != mine.as_ref())
            .filter(|call| bridge.rings_here(call))
            .filter(|call| !dismissed.with(|ids| ids.contains(&call.call_id)))
            .map(|call| {
                let name = call.contact_name.clone().unwrap_or_else(|| "WhatsApp caller".to_owned());
                let deadline = call.answer_deadline;
                let left = move || {
                    deadline.map(|deadline| {
                        let seconds = ((deadline as f64 - now.get()) / 1000.0).max(0.0) as i64;
                        format!("Rings for {} more", format::duration(seconds))
                    })
                };
                // The caller's last agent is told why it rings only for them for now.
                let first_for_me = bridge.me.with_value(|me| call.preferred_agent_id.as_deref() == Some(me.as_str()));
                let reserved_until = call.rings_everyone_at;
                let reserved = move || {
                    let seconds = ((reserved_until as f64 - now.get()) / 1000.0).ceil() as i64;
                    (first_for_me && seconds > 0)
                        .then(|| format!("Your caller from before: rings only for you for {seconds} s more"))
                };
                let taken = call.answered_by.is_some().then(|| {
                    let who = call.answered_by_name.clone().unwrap_or_else(|| "A teammate".to_owned());
                    format!("{who} is answering.")
                });
                let for_answer = call.clone();
                let call_id = call.call_id.clone();
                let not_me = call.call_id.clone();
                view! {
                    <section class="ring" role="alertdialog" aria-label="Incoming WhatsApp call" data-call-id=call.call_id.clone()>
                        <p class="ring-title">"Incoming WhatsApp call"</p>
                        <p class="ring-caller">{name}</p>
                        <p class="contact-number">{call.contact_number.clone()}</p>
                        <p class="muted ring-left">{left}</p>
                        <p class="muted ring-first">{reserved}</p>
                        {if let Some(taken) = taken {
                            view! { <p class="muted">{taken}</p> }.into_any()
                        } else {
                            view! {
                                <div class="ring-actions">
                                    <button class="button accept" type="button" disabled=busy
                                        on:click=move |_| answer(for_answer.clone())>"Accept"</button>
                                    <button class="button danger" type="button"
                                        on:click=move |_| reject(call_id.clone())>"Reject"</button>
                                    <button class="button quiet" type="button" title="Stop ringing here; it keeps ringing for the team"
                                        on:click=move |_| dismissed.update(|ids| ids.push(not_me.clone()))>"Not me"</button>
                                </div>
                            }.into_any()
                        }}
                    </section>
                }
                .into_any()
            })
            .collect::<Vec<_>>()
    };

    // Calls requested from the CLI or the API: whoever dials first is on the call.
    let to_dial = bridge.to_dial;
    let requested = move || {
        if !bridge.can_place || bridge.availability.get() == Availability::Away {
            return Vec::new();
        }
        let busy = bridge.busy();
        to_dial
            .get()
            .into_iter()
            .filter(|call| call.dialled_by_name.is_none())
            .filter(|call| (call.dial_by as f64) > now.get())
            .map(|call| {
                let who = call.contact_name.clone().unwrap_or_else(|| "WhatsApp user".to_owned());
                let dial_by = call.dial_by;
                let left = move || {
                    let seconds = ((dial_by as f64 - now.get()) / 1000.0).max(0.0) as i64;
                    format!("Waits {} more for an agent to dial", format::duration(seconds))
                };
                let for_dial = call.clone();
                view! {
                    <section class="ring ring-outbound" role="dialog" aria-label="Call to dial" data-call-id=call.call_id.clone()>
                        <p class="ring-title">"Call requested: dial it from here"</p>
                        <p class="ring-caller">{who}</p>
                        <p class="contact-number">{call.contact_number.clone()}</p>
                        <p class="muted ring-left">{left}</p>
                        <div class="ring-actions">
                            <button class="button accept" type="button" disabled=busy
                                on:click=move |_| bridge.dial_requested(for_dial.clone())>"Dial"</button>
                        </div>
                    </section>
                }
                .into_any()
            })
            .collect::<Vec<_>>()
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
                    {move || (live && caller_silent.get()).then(|| view! {
                        <p class="notice" role="alert">"No audio from the caller for 10 seconds. Ask if they can hear you, or call back."</p>
                    })}
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
        {ringing}
        {requested}
        {call_panel}
        {move || notice.get().map(|message| view! {
            <p class="error ring-notice" role="alert">
                {message}
                <button class="button quiet" type="button" on:click=move |_| notice.set(None)>"Dismiss"</button>
            </p>
        })}
    }
    .into_any()
}

/// Available / Away, in the top bar, for members who may answer calls.
#[component]
pub fn AvailabilityToggle() -> impl IntoView {
    let bridge = expect_context::<Bridge>();
    let available = move || bridge.availability.get() == Availability::Online;
    bridge.can_answer.then(|| {
        view! {
            <button
                type="button"
                class=move || if available() { "availability online" } else { "availability away" }
                aria-pressed=move || available().to_string()
                title="Whether calls ring in this browser"
                on:click=move |_| {
                    bridge.availability.update(|availability| {
                        *availability = match availability {
                            Availability::Online => Availability::Away,
                            Availability::Away => Availability::Online,
                        }
                    })
                }
            >
                {move || if available() { "Available" } else { "Away" }}
            </button>
        }
    })
}

/// "Place a call": a WhatsApp number and a Call button, for roles that may place calls. The
/// call happens in this browser (see [`Bridge::place`]).
#[component]
pub fn PlaceCallForm() -> impl IntoView {
    let bridge = expect_context::<Bridge>();
    let to = RwSignal::new(String::new());
    // The number as last left (blur or Enter): what the permission preview looks up.
    let checked = RwSignal::new(String::new());
    let preview = Resource::new(
        move || checked.get(),
        |number| async move {
            if number.is_empty() {
                return None;
            }
            Some(match crate::api::lookup_permission(number).await {
                Ok(found) => match found.call_refusal {
                    None => Ok("Allowed: the call would go through.".to_owned()),
                    Some(refusal) => Err(refusal.message()),
                },
                Err(err) => Err(crate::api::error_text(&err)),
            })
        },
    );
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        media::ask_for_notifications();
        checked.set(to.get_untracked().trim().to_owned());
        bridge.place(to.get_untracked().trim().to_owned());
    };
    bridge.can_place.then(|| {
        view! {
            <section class="card" aria-labelledby="place-heading">
                <h2 id="place-heading">"Place a call"</h2>
                <p class="muted">
                    "Calls a WhatsApp user who has allowed your calls, from this browser. Permission and the wallet are checked before anything is sent to WhatsApp."
                </p>
                <form class="inline-form" on:submit=on_submit aria-label="Place a call">
                    <label>
                        "WhatsApp number"
                        <input
                            type="tel"
                            name="to"
                            required
                            autocomplete="off"
                            placeholder="+91 98765 43210"
                            bind:value=to
                            on:change=move |_| checked.set(to.get_untracked().trim().to_owned())
                        />
                    </label>
                    <button class="button accept" type="submit" disabled=move || bridge.busy()>"Call"</button>
                </form>
                <Transition>
                    {move || Suspend::new(async move {
                        match preview.await {
                            None => ().into_any(),
                            Some(Ok(fine)) => view! { <p class="ok" data-preview="allowed">{fine}</p> }.into_any(),
                            Some(Err(why)) => view! { <p class="error" data-preview="refused">{why}</p> }.into_any(),
                        }
                    })}
                </Transition>
            </section>
        }
    })
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
