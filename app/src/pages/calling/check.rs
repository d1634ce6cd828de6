//! `/calling/check`: the agent check page. Before going available an agent can see that their
//! microphone is heard, their speakers play, and their network can reach WhatsApp's media
//! (which ICE candidates the browser finds with the install's STUN/TURN servers).

use leptos::prelude::*;
use leptos_meta::Title;

use crate::bridge::media;

#[component]
pub fn CheckPage() -> impl IntoView {
    view! {
        <Title text="Audio check" />
        <div class="page-head">
            <h1>"Audio check"</h1>
        </div>
        <p class="lead">"Check your microphone, speakers and connection before taking calls."</p>
        <MicrophoneCheck />
        <SpeakerCheck />
        <ConnectionCheck />
    }
}

#[component]
fn MicrophoneCheck() -> impl IntoView {
    let level = RwSignal::new(0.0_f64);
    let loudest = RwSignal::new(0.0_f64);
    let state = RwSignal::new("idle");
    let error = RwSignal::new(None::<String>);
    let start = move |_| {
        state.set("listening");
        error.set(None);
        loudest.set(0.0);
        leptos::task::spawn_local(async move {
            let result = media::listen_to_microphone(8, move |now| {
                level.set(now);
                loudest.update(|loudest| *loudest = loudest.max(now));
            })
            .await;
            match result {
                Ok(()) => state.set("done"),
                Err(message) => {
                    error.set(Some(message));
                    state.set("idle");
                }
            }
            level.set(0.0);
        });
    };
    let verdict = move || match (state.get(), loudest.get()) {
        ("idle", _) => None,
        (_, loudest) if loudest >= 0.01 => Some("Your microphone is heard."),
        ("listening", _) => Some("Say something…"),
        _ => Some("Nothing was heard: check the microphone and its mute switch, then try again."),
    };
    view! {
        <section class="card check" aria-labelledby="mic-heading">
            <h2 id="mic-heading">"Microphone"</h2>
            <meter
                min="0"
                max="0.3"
                value=move || level.get().min(0.3)
                aria-label="Microphone level"
                data-check="mic-level"
                data-loudest=move || format!("{:.3}", loudest.get())
            ></meter>
            <p role="status">{verdict}</p>
            {move || error.get().map(|message| view! { <p class="error" role="alert">{message}</p> })}
            <button class="button" type="button" disabled=move || state.get() == "listening" on:click=start>
                "Test the microphone"
            </button>
        </section>
    }
}

#[component]
fn SpeakerCheck() -> impl IntoView {
    let played = RwSignal::new(false);
    view! {
        <section class="card check" aria-labelledby="speaker-heading">
            <h2 id="speaker-heading">"Speakers"</h2>
            <p class="muted">"Plays a one-second tone. If you hear nothing, check the output device and volume."</p>
            <button
                class="button"
                type="button"
                on:click=move |_| {
                    media::play_test_tone();
                    played.set(true);
                }
            >
                "Play a test tone"
            </button>
            {move || played.get().then(|| view! { <p role="status">"Tone played."</p> })}
        </section>
    }
}

#[component]
fn ConnectionCheck() -> impl IntoView {
    let result = RwSignal::new(None::<Result<Vec<String>, String>>);
    let running = RwSignal::new(false);
    let run = move |_| {
        running.set(true);
        leptos::task::spawn_local(async move {
            result.set(Some(media::connection_test().await));
            running.set(false);
        });
    };
    let verdict = move || {
        result.get().map(|outcome| match outcome {
            Err(message) => view! { <p class="error" role="alert">{message}</p> }.into_any(),
            Ok(kinds) => {
                let has = |kind: &str| kinds.iter().any(|found| found == kind);
                let summary = if has("relay") {
                    "A relay (TURN) is reachable: calls connect even through strict firewalls."
                } else if has("srflx") {
                    "Your public address is known (STUN): calls connect through most networks."
                } else if has("host") {
                    "Only local addresses: fine on this machine or network; add STUN/TURN servers (ICE_SERVERS) for agents behind NAT."
                } else {
                    "No network path found: check the firewall and the ICE_SERVERS setting."
                };
                view! {
                    <p role="status" data-check="candidates" data-kinds=kinds.join(",")>{summary}</p>
                    <p class="muted">"Candidate kinds found: " {if kinds.is_empty() { "none".to_owned() } else { kinds.join(", ") }}</p>
                }
                .into_any()
            }
        })
    };
    view! {
        <section class="card check" aria-labelledby="connection-heading">
            <h2 id="connection-heading">"Connection"</h2>
            <p class="muted">"Looks for the network paths a call's audio could take from this browser."</p>
            <button class="button" type="button" disabled=move || running.get() on:click=run>
                {move || if running.get() { "Testing…" } else { "Test the connection" }}
            </button>
            {verdict}
        </section>
    }
}
