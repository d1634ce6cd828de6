//! The browser side of the bridge, in web-sys: the event stream, the microphone, the
//! `RTCPeerConnection` and its statistics. Everything here runs only after hydration; on the
//! server these functions exist so the components compile, and do nothing.

use calling::answering::IncomingCall;

use super::AudioFigures;

/// An event from the live stream (`/api/v1/app/events`), as the bridge needs it.
pub struct LiveEvent {
    pub topic: &'static str,
    /// The call id (`call.*`) or the contact (`permission.updated`).
    pub subject: String,
    /// The call's status (`call.updated`).
    pub status: String,
}

#[cfg(feature = "hydrate")]
pub use browser::*;

#[cfg(not(feature = "hydrate"))]
mod server_side {
    use super::*;

    pub fn listen(_on_event: impl Fn(LiveEvent) + Copy + 'static) {}
    pub fn every_second(_tick: impl Fn(f64) + 'static) {}
    pub fn end_call_when_the_page_closes(_current: impl Fn() -> Option<String> + 'static) {}
    pub async fn answer(_call: &IncomingCall, _step: impl Fn(&'static str)) -> Result<(), String> {
        Err("calls are answered in the browser".into())
    }
    pub async fn offer(_step: impl Fn(&'static str)) -> Result<String, String> {
        Err("calls are placed in the browser".into())
    }
    pub async fn apply_answer(_sdp: &str) -> Result<(), String> {
        Ok(())
    }
    pub fn watch_audio(_report: impl Fn(AudioFigures) -> bool + 'static) {}
    pub fn hang_up_locally() {}
    pub fn set_muted(_muted: bool) {}
    pub fn ringtone(_on: bool) {}
    pub fn notify_ring(_call_id: &str, _caller: &str) {}
    pub fn clear_ring_notifications() {}
    pub fn ask_for_notifications() {}
    pub fn set_ice_servers(_servers: Vec<calling::ice::IceServer>) {}
    pub async fn listen_to_microphone(_seconds: u32, _level: impl Fn(f64) + 'static) -> Result<(), String> {
        Err("runs in the browser".into())
    }
    pub fn play_test_tone() {}
    pub async fn connection_test() -> Result<Vec<String>, String> {
        Err("runs in the browser".into())
    }
}
#[cfg(not(feature = "hydrate"))]
pub use server_side::*;

#[cfg(feature = "hydrate")]
mod browser {
    use std::cell::RefCell;

    use js_sys::{Array, Map, Reflect};
    use leptos::prelude::window;
    use wasm_bindgen::JsCast;
    use wasm_bindgen::prelude::*;
    use wasm_bindgen_futures::JsFuture;
    use web_sys::{
        AnalyserNode, AudioContext, EventSource, HtmlAudioElement, MediaStream, MediaStreamConstraints,
        MediaStreamTrack, MessageEvent, Notification, NotificationOptions, NotificationPermission,
        OscillatorNode, RtcConfiguration, RtcIceConnectionState, RtcIceGatheringState, RtcIceServer,
        RtcPeerConnection, RtcRtpSender, RtcSdpType, RtcSessionDescriptionInit, RtcTrackEvent,
    };

    use super::*;
    use crate::rest;

    /// How long ICE gathering may take before the answer goes out with what it has.
    const GATHERING_CAP_MS: u32 = 3_000;
    /// How long ICE may take to connect after pre-accept before the call is given up.
    const CONNECT_CAP_MS: u32 = 10_000;

    /// The one call this browser is on.
    struct Media {
        pc: RtcPeerConnection,
        mic: MediaStream,
        /// The mic's senders, each with its track (detached while muted or before accept).
        senders: Vec<(RtcRtpSender, MediaStreamTrack)>,
        /// WhatsApp's answer to our offer was (or is being) applied: the session is read on
        /// every event, and a second `setRemoteDescription` would fail the call.
        answer_applied: bool,
        audio: HtmlAudioElement,
        _on_track: Closure<dyn FnMut(RtcTrackEvent)>,
    }

    thread_local! {
        static RINGTONE: RefCell<Option<(AudioContext, Vec<OscillatorNode>)>> = const { RefCell::new(None) };
        static NOTIFICATIONS: RefCell<Vec<Notification>> = const { RefCell::new(Vec::new()) };
        static MEDIA: RefCell<Option<Media>> = const { RefCell::new(None) };
        static ICE_SERVERS: RefCell<Vec<calling::ice::IceServer>> = const { RefCell::new(Vec::new()) };
        static EVENTS: RefCell<Option<EventSource>> = const { RefCell::new(None) };
    }

    fn describe(err: JsValue) -> String {
        err.dyn_ref::<js_sys::Error>()
            .map(|err| String::from(err.message()))
            .or_else(|| err.as_string())
            .unwrap_or_else(|| "unknown error".into())
    }

    async fn sleep(ms: u32) {
        let promise = js_sys::Promise::new(&mut |resolve, _| {
            let _ = window().set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms as i32);
        });
        let _ = JsFuture::from(promise).await;
    }

    /// Waits until `ready` holds, looking again each time `pc` fires `event` (so the answer
    /// goes out the moment gathering completes, not at the next tick of a poll), for at most
    /// `cap_ms`; whether it came to hold.
    async fn wait_for(pc: &RtcPeerConnection, event: &str, ready: impl Fn() -> bool, cap_ms: u32) -> bool {
        let deadline = js_sys::Date::now() + f64::from(cap_ms);
        while !ready() {
            let remaining = deadline - js_sys::Date::now();
            if remaining <= 0.0 {
                return false;
            }
            let mut wake = None;
            let woken = js_sys::Promise::new(&mut |resolve, _| {
                let _ = pc.add_event_listener_with_callback(event, &resolve);
                let _ = window()
                    .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, remaining as i32);
                wake = Some(resolve);
            });
            let _ = JsFuture::from(woken).await;
            if let Some(wake) = wake {
                let _ = pc.remove_event_listener_with_callback(event, &wake);
            }
        }
        true
    }

    /// Opens the live event stream; every call event refetches what rings.
    pub fn listen(on_event: impl Fn(LiveEvent) + Copy + 'static) {
        if EVENTS.with(|events| events.borrow().is_some()) {
            return;
        }
        let Ok(source) = EventSource::new("/api/v1/app/events") else {
            return;
        };
        for topic in ["resync", "call.ringing", "call.updated", "permission.updated"] {
            let listener = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
                let parsed: serde_json::Value = event
                    .data()
                    .as_string()
                    .and_then(|data| serde_json::from_str(&data).ok())
                    .unwrap_or_default();
                on_event(LiveEvent {
                    topic,
                    subject: parsed["subject"].as_str().unwrap_or_default().to_owned(),
                    status: parsed["data"]["status"].as_str().unwrap_or_default().to_owned(),
                });
            });
            let _ = source.add_event_listener_with_callback(topic, listener.as_ref().unchecked_ref());
            listener.forget();
        }
        EVENTS.with(|events| *events.borrow_mut() = Some(source));
    }

    /// Calls `tick` with the time (ms since the epoch) now and every second.
    pub fn every_second(tick: impl Fn(f64) + 'static) {
        tick(js_sys::Date::now());
        let callback = Closure::<dyn FnMut()>::new(move || tick(js_sys::Date::now()));
        let _ = window()
            .set_interval_with_callback_and_timeout_and_arguments_0(callback.as_ref().unchecked_ref(), 1_000);
        callback.forget();
    }

    /// Closing or leaving the tab mid-call hangs up (a beacon survives the page).
    pub fn end_call_when_the_page_closes(current: impl Fn() -> Option<String> + 'static) {
        let callback = Closure::<dyn FnMut()>::new(move || {
            if let Some(call_id) = current() {
                let path = format!("/api/v1/app/calling/calls/{call_id}/terminate");
                let _ = window().navigator().send_beacon(&path);
            }
        });
        let _ = window().add_event_listener_with_callback("pagehide", callback.as_ref().unchecked_ref());
        callback.forget();
    }

    async fn microphone() -> Result<MediaStream, String> {
        let refused = "The microphone is not available: allow it for this site and try again.";
        let devices = window().navigator().media_devices().map_err(|_| refused.to_owned())?;
        let constraints = MediaStreamConstraints::new();
        constraints.set_audio(&JsValue::TRUE);
        let promise =
            devices.get_user_media_with_constraints(&constraints).map_err(|_| refused.to_owned())?;
        let stream = JsFuture::from(promise).await.map_err(|_| refused.to_owned())?;
        stream.dyn_into::<MediaStream>().map_err(|_| refused.to_owned())
    }

    fn tracks(stream: &MediaStream) -> Vec<MediaStreamTrack> {
        stream.get_audio_tracks().iter().filter_map(|track| track.dyn_into().ok()).collect()
    }

    /// The STUN/TURN servers (from the server) every new peer connection uses.
    pub fn set_ice_servers(servers: Vec<calling::ice::IceServer>) {
        ICE_SERVERS.with(|ice| *ice.borrow_mut() = servers);
    }

    fn new_peer_connection() -> Result<RtcPeerConnection, JsValue> {
        let servers = Array::new();
        for configured in ICE_SERVERS.with(|ice| ice.borrow().clone()) {
            let server = RtcIceServer::new();
            let urls = Array::new();
            for url in &configured.urls {
                urls.push(&JsValue::from_str(url));
            }
            server.set_urls(&urls);
            if let Some(username) = &configured.username {
                server.set_username(username);
            }
            if let Some(credential) = &configured.credential {
                server.set_credential(credential);
            }
            servers.push(&server);
        }
        let config = RtcConfiguration::new();
        config.set_ice_servers(&servers);
        RtcPeerConnection::new_with_configuration(&config)
    }

    /// Takes the microphone and opens a peer connection whose incoming audio plays; both are
    /// kept as this browser's call.
    async fn open_call(step: &impl Fn(&'static str)) -> Result<(RtcPeerConnection, MediaStream), String> {
        step("Getting the microphone…");
        let mic = microphone().await?;
        let pc = RtcPeerConnection::new()
            .map_err(|err| format!("The browser refused WebRTC: {}", describe(err)))?;
        let audio = HtmlAudioElement::new().map_err(describe)?;
        audio.set_autoplay(true);
        let on_track = Closure::<dyn FnMut(RtcTrackEvent)>::new({
            let audio = audio.clone();
            move |event: RtcTrackEvent| {
                if let Ok(stream) = event.streams().get(0).dyn_into::<MediaStream>() {
                    audio.set_src_object(Some(&stream));
                    let _ = audio.play();
                }
            }
        });
        pc.set_ontrack(Some(on_track.as_ref().unchecked_ref()));
        hang_up_locally();
        MEDIA.with(|media| {
            *media.borrow_mut() = Some(Media {
                pc: pc.clone(),
                mic: mic.clone(),
                senders: Vec::new(),
                answer_applied: false,
                audio,
                _on_track: on_track,
            })
        });
        Ok((pc, mic))
    }

    /// Adds the mic's tracks; `attached: false` leaves each sender without its track until
    /// [`set_muted`]`(false)`.
    fn add_microphone(pc: &RtcPeerConnection, mic: &MediaStream, attached: bool) {
        for track in tracks(mic) {
            let sender = pc.add_track_0(&track, mic);
            if !attached {
                let _ = sender.replace_track(None);
            }
            MEDIA.with(|media| {
                if let Some(media) = media.borrow_mut().as_mut() {
                    media.senders.push((sender, track));
                }
            });
        }
    }

    /// The local description once ICE gathering finished (or its cap passed): one complete
    /// SDP with the candidates, as WhatsApp takes no trickled ones.
    async fn complete_local_sdp(pc: &RtcPeerConnection, fallback: String) -> String {
        wait_for(
            pc,
            "icegatheringstatechange",
            || pc.ice_gathering_state() == RtcIceGatheringState::Complete,
            GATHERING_CAP_MS,
        )
        .await;
        pc.local_description().map(|description| description.sdp()).unwrap_or(fallback)
    }

    /// Makes the offer of an outbound call (mic attached: WhatsApp plays nothing before the
    /// customer picks up anyway).
    pub async fn offer(step: impl Fn(&'static str)) -> Result<String, String> {
        let (pc, mic) = open_call(&step).await?;
        add_microphone(&pc, &mic, true);
        step("Preparing the call…");
        let offer = JsFuture::from(pc.create_offer()).await.map_err(describe)?;
        let sdp =
            Reflect::get(&offer, &"sdp".into()).ok().and_then(|sdp| sdp.as_string()).unwrap_or_default();
        let local = RtcSessionDescriptionInit::new(RtcSdpType::Offer);
        local.set_sdp(&sdp);
        JsFuture::from(pc.set_local_description(&local)).await.map_err(describe)?;
        Ok(complete_local_sdp(&pc, sdp).await)
    }

    /// Applies WhatsApp's answer to our outbound offer (once; later calls do nothing).
    pub async fn apply_answer(sdp: &str) -> Result<(), String> {
        // Claimed before the first await, so concurrent readers of the session apply it once.
        let pc = MEDIA.with(|media| {
            let mut media = media.borrow_mut();
            let media = media.as_mut().filter(|media| !media.answer_applied)?;
            media.answer_applied = true;
            Some(media.pc.clone())
        });
        let Some(pc) = pc else {
            return Ok(());
        };
        let answer = RtcSessionDescriptionInit::new(RtcSdpType::Answer);
        answer.set_sdp(sdp);
        JsFuture::from(pc.set_remote_description(&answer))
            .await
            .map(|_| ())
            .map_err(|err| format!("The browser could not use WhatsApp's answer: {}", describe(err)))
    }

    /// Answers `call` (see the module docs of `bridge` for the steps). On an error after
    /// pre-accept the call is ended at WhatsApp too, so the caller is not left hanging.
    pub async fn answer(call: &IncomingCall, step: impl Fn(&'static str)) -> Result<(), String> {
        let (pc, mic) = open_call(&step).await?;

        step("Preparing the answer…");
        let offer = RtcSessionDescriptionInit::new(RtcSdpType::Offer);
        offer.set_sdp(&call.sdp_offer);
        JsFuture::from(pc.set_remote_description(&offer))
            .await
            .map_err(|err| format!("The browser could not use WhatsApp's offer: {}", describe(err)))?;
        // The mic is in the SDP from the start, but nothing is sent until WhatsApp has the
        // accept (media before it is dropped): the senders start without their tracks.
        add_microphone(&pc, &mic, false);
        let answer = JsFuture::from(pc.create_answer()).await.map_err(describe)?;
        let sdp =
            Reflect::get(&answer, &"sdp".into()).ok().and_then(|sdp| sdp.as_string()).unwrap_or_default();
        let local = RtcSessionDescriptionInit::new(RtcSdpType::Answer);
        local.set_sdp(&sdp);
        JsFuture::from(pc.set_local_description(&local)).await.map_err(describe)?;
        let sdp = complete_local_sdp(&pc, sdp).await;

        step("Answering…");
        let base = format!("/api/v1/app/calling/calls/{}", call.call_id);
        rest::post::<_, serde_json::Value>(&format!("{base}/pre-accept"), &serde_json::json!({ "sdp": sdp }))
            .await
            .map_err(|refusal| refusal.text())?;

        step("Connecting audio…");
        let connected = wait_for(
            &pc,
            "iceconnectionstatechange",
            || {
                matches!(
                    pc.ice_connection_state(),
                    RtcIceConnectionState::Connected | RtcIceConnectionState::Completed
                )
            },
            CONNECT_CAP_MS,
        )
        .await;
        if !connected {
            let _ = rest::post::<_, serde_json::Value>(&format!("{base}/terminate"), &serde_json::json!({}))
                .await;
            return Err("Audio could not connect to WhatsApp (no network path); the call was ended.".into());
        }
        if let Err(refusal) =
            rest::post::<_, serde_json::Value>(&format!("{base}/accept"), &serde_json::json!({})).await
        {
            let _ = rest::post::<_, serde_json::Value>(&format!("{base}/terminate"), &serde_json::json!({}))
                .await;
            return Err(refusal.text());
        }
        set_muted(false);
        Ok(())
    }

    /// Reads the call's audio figures every 2 s for as long as `report` returns true.
    pub fn watch_audio(report: impl Fn(AudioFigures) -> bool + 'static) {
        leptos::task::spawn_local(async move {
            loop {
                let Some(pc) = MEDIA.with(|media| media.borrow().as_ref().map(|media| media.pc.clone()))
                else {
                    return;
                };
                let figures = audio_figures(&pc).await.unwrap_or_default();
                if !report(figures) {
                    return;
                }
                sleep(2_000).await;
            }
        });
    }

    fn number(stat: &JsValue, name: &str) -> Option<f64> {
        Reflect::get(stat, &name.into()).ok().and_then(|value| value.as_f64())
    }

    fn text(stat: &JsValue, name: &str) -> Option<String> {
        Reflect::get(stat, &name.into()).ok().and_then(|value| value.as_string())
    }

    async fn audio_figures(pc: &RtcPeerConnection) -> Result<AudioFigures, JsValue> {
        let report: Map = JsFuture::from(pc.get_stats()).await?.unchecked_into();
        let mut figures = AudioFigures::default();
        report.for_each(&mut |stat, _| {
            let kind = text(&stat, "kind");
            match text(&stat, "type").as_deref() {
                Some("inbound-rtp") if kind.as_deref() == Some("audio") => {
                    figures.packets_in = number(&stat, "packetsReceived").unwrap_or_default() as u64;
                    figures.packets_lost = number(&stat, "packetsLost").unwrap_or_default() as i64;
                    figures.jitter_ms = number(&stat, "jitter").unwrap_or_default() * 1000.0;
                    figures.level_in = number(&stat, "audioLevel").unwrap_or_default();
                }
                Some("outbound-rtp") if kind.as_deref() == Some("audio") => {
                    figures.packets_out = number(&stat, "packetsSent").unwrap_or_default() as u64;
                }
                Some("candidate-pair") if text(&stat, "state").as_deref() == Some("succeeded") => {
                    if let Some(rtt) = number(&stat, "currentRoundTripTime") {
                        figures.round_trip_ms = Some(rtt * 1000.0);
                    }
                }
                _ => {}
            }
        });
        Ok(figures)
    }

    /// Closes the connection and releases the microphone (the call ended or failed).
    pub fn hang_up_locally() {
        if let Some(media) = MEDIA.with(|media| media.borrow_mut().take()) {
            for track in tracks(&media.mic) {
                track.stop();
            }
            media.audio.set_src_object(None);
            media.pc.close();
        }
    }

    /// Detaches the mic from its senders (nothing is sent: the caller hears silence) or
    /// attaches it again. Detaching is used rather than `track.enabled`, which Chromium's
    /// fake capture device ignores, so the tests could not show that mute works.
    pub fn set_muted(muted: bool) {
        MEDIA.with(|media| {
            if let Some(media) = media.borrow().as_ref() {
                for (sender, track) in &media.senders {
                    let _ = sender.replace_track(if muted { None } else { Some(track) });
                }
            }
        });
    }

    /// Plays a ring (440 + 480 Hz, 1.2 s on, 2 s off, the familiar ringback cadence) while
    /// `on`; stops it otherwise. Silently does nothing where the browser allows no audio yet.
    pub fn ringtone(on: bool) {
        let playing = RINGTONE.with(|ringtone| ringtone.borrow().is_some());
        if on == playing {
            return;
        }
        if !on {
            if let Some((context, oscillators)) = RINGTONE.with(|ringtone| ringtone.borrow_mut().take()) {
                for oscillator in oscillators {
                    let _ = oscillator.stop();
                }
                let _ = context.close();
            }
            return;
        }
        let start = || -> Result<(AudioContext, Vec<OscillatorNode>), JsValue> {
            let context = AudioContext::new()?;
            let _ = context.resume();
            let gain = context.create_gain()?;
            gain.connect_with_audio_node(&context.destination())?;
            let level = gain.gain();
            level.set_value(0.0);
            let t0 = context.current_time();
            // Two minutes of cadence: longer than any answer window.
            for ring in 0..38 {
                let at = t0 + f64::from(ring) * 3.2;
                level.set_value_at_time(0.12, at)?;
                level.set_value_at_time(0.0, at + 1.2)?;
            }
            let mut oscillators = Vec::new();
            for frequency in [440.0, 480.0] {
                let oscillator = context.create_oscillator()?;
                oscillator.frequency().set_value(frequency);
                oscillator.connect_with_audio_node(&gain)?;
                oscillator.start()?;
                oscillators.push(oscillator);
            }
            Ok((context, oscillators))
        };
        if let Ok(playing) = start() {
            RINGTONE.with(|ringtone| *ringtone.borrow_mut() = Some(playing));
        }
    }

    /// A desktop notification for a ringing call, when the agent allowed them (clicking it
    /// brings the tab forward, where Accept is).
    pub fn notify_ring(call_id: &str, caller: &str) {
        if Notification::permission() != NotificationPermission::Granted {
            return;
        }
        let options = NotificationOptions::new();
        options.set_body(caller);
        options.set_tag(call_id);
        options.set_require_interaction(true);
        if let Ok(notification) = Notification::new_with_options("Incoming WhatsApp call", &options) {
            let focus = Closure::<dyn FnMut()>::new(|| {
                let _ = window().focus();
            });
            notification.set_onclick(Some(focus.as_ref().unchecked_ref()));
            focus.forget();
            NOTIFICATIONS.with(|all| all.borrow_mut().push(notification));
        }
    }

    /// Closes the ring notifications (nothing rings any more).
    pub fn clear_ring_notifications() {
        for notification in NOTIFICATIONS.with(|all| std::mem::take(&mut *all.borrow_mut())) {
            notification.close();
        }
    }

    /// Asks once for permission to show desktop notifications (browsers only ask from a click).
    pub fn ask_for_notifications() {
        if Notification::permission() == NotificationPermission::Default {
            let _ = Notification::request_permission();
        }
    }

    /// The agent check page's microphone test: reports the mic's level (RMS, 0–1) ten times a
    /// second for `seconds`, then releases the mic.
    pub async fn listen_to_microphone(seconds: u32, level: impl Fn(f64) + 'static) -> Result<(), String> {
        let mic = microphone().await?;
        let context = AudioContext::new().map_err(describe)?;
        let source = context.create_media_stream_source(&mic).map_err(describe)?;
        let analyser: AnalyserNode = context.create_analyser().map_err(describe)?;
        analyser.set_fft_size(2048);
        source.connect_with_audio_node(&analyser).map_err(describe)?;
        let mut buffer = vec![0.0_f32; 2048];
        for _ in 0..seconds * 10 {
            analyser.get_float_time_domain_data(&mut buffer);
            let rms =
                (buffer.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>() / buffer.len() as f64).sqrt();
            level(rms);
            sleep(100).await;
        }
        for track in tracks(&mic) {
            track.stop();
        }
        let _ = context.close();
        Ok(())
    }

    /// The agent check page's speaker test: one second of 440 Hz.
    pub fn play_test_tone() {
        let play = || -> Result<(), JsValue> {
            let context = AudioContext::new()?;
            let gain = context.create_gain()?;
            gain.gain().set_value(0.2);
            gain.connect_with_audio_node(&context.destination())?;
            let oscillator = context.create_oscillator()?;
            oscillator.frequency().set_value(440.0);
            oscillator.connect_with_audio_node(&gain)?;
            oscillator.start()?;
            oscillator.stop_with_when(context.current_time() + 1.0)?;
            Ok(())
        };
        let _ = play();
    }

    /// The agent check page's connection test: gathers ICE candidates with the configured
    /// servers and returns the kinds found (`host`, `srflx` via STUN, `relay` via TURN).
    pub async fn connection_test() -> Result<Vec<String>, String> {
        let pc =
            new_peer_connection().map_err(|err| format!("The browser refused WebRTC: {}", describe(err)))?;
        let _channel = pc.create_data_channel("check");
        let offer = JsFuture::from(pc.create_offer()).await.map_err(describe)?;
        let sdp =
            Reflect::get(&offer, &"sdp".into()).ok().and_then(|sdp| sdp.as_string()).unwrap_or_default();
        let local = RtcSessionDescriptionInit::new(RtcSdpType::Offer);
        local.set_sdp(&sdp);
        JsFuture::from(pc.set_local_description(&local)).await.map_err(describe)?;
        let sdp = complete_local_sdp(&pc, sdp).await;
        pc.close();
        let mut kinds: Vec<String> = sdp
            .lines()
            .filter(|line| line.starts_with("a=candidate:"))
            .filter_map(|line| line.split(" typ ").nth(1)?.split_whitespace().next().map(str::to_owned))
            .collect();
        kinds.sort();
        kinds.dedup();
        Ok(kinds)
    }
}
