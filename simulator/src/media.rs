//! The WebRTC peer that plays the WhatsApp user's phone (and, in tests, the business).
//!
//! Owns one str0m `Rtc` per call, driven by its sans-IO loop on a dedicated thread with one UDP
//! socket on `127.0.0.1:0`. Like Meta's media edge it is ICE-lite by default, offers a single
//! Opus audio m-line with `telephone-event/8000` on PT 126 and `a=setup:actpass`, and carries its
//! one loopback host candidate inline (there is no trickle channel in the Calling API).
//!
//! Audio: once told to (after `accept` for user-initiated calls, when the user picks up for
//! business-initiated ones) it loops a pre-encoded 440 Hz Opus tone shipped in `assets/`.
//! It counts what it receives and decodes it with a pure-Rust Opus decoder (`opus-rs`, no
//! libopus/cmake) to report the RMS level of the last second of received audio.
//!
//! Loopback strictness: non-127/8 `a=candidate` lines are stripped from remote SDPs and datagrams
//! from non-loopback sources are dropped, so a test never depends on the machine's other
//! interfaces.

use std::net::{SocketAddr, UdpSocket};
use std::sync::mpsc::{Receiver, Sender, TryRecvError, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::Serialize;
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::format::{Codec, FormatParams};
use str0m::media::{Direction, Frequency, MediaKind, MediaTime, Mid, Pt};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc, RtcConfig};

/// The pre-encoded tone: `[u16 big-endian length][Opus frame]` repeated, 20 ms mono CELT frames
/// of a 440 Hz sine at -12 dBFS, generated once with `sox` + `opusenc` (see `assets/README.md`).
const TONE: &[u8] = include_bytes!("../assets/tone-440hz-20ms.opusframes");

/// Received packets the level is averaged over (50 × 20 ms = 1 s).
const LEVEL_WINDOW: usize = 50;

/// Largest Opus frame per channel at 48 kHz (120 ms).
const MAX_FRAME_48K: usize = 5760;

/// RTP payload type Meta uses for `telephone-event/8000`.
const PT_TELEPHONE_EVENT: u8 = 126;

/// Counters for one call's media, as the sandbox API reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct MediaStats {
    /// Audio RTP packets received from the other side (after SRTP).
    pub rx_packets: u64,
    /// Payload bytes of those packets.
    pub rx_bytes: u64,
    /// RMS level (0.0–1.0 of full scale) of the last second of decoded received audio.
    /// The shipped tone measures about 0.18; silence is 0.0.
    pub rx_level: f64,
    /// Received packets the decoder rejected.
    pub rx_decode_errors: u64,
    /// Audio RTP packets this peer sent.
    pub tx_packets: u64,
    /// True once ICE and DTLS-SRTP are connected.
    pub connected: bool,
}

/// How a peer behaves on the wire.
#[derive(Debug, Clone, Copy)]
pub struct PeerConfig {
    /// ICE-lite like Meta (default). `false` = full ICE, which connects ~1 s faster.
    pub ice_lite: bool,
}

impl Default for PeerConfig {
    fn default() -> Self {
        Self { ice_lite: true }
    }
}

enum Command {
    AcceptAnswer(Box<SdpAnswer>, tokio::sync::oneshot::Sender<Result<(), String>>),
    StartSending,
    Stop,
}

/// A running WebRTC peer. Dropping it stops its thread.
pub struct Peer {
    commands: Sender<Command>,
    stats: Arc<Mutex<MediaStats>>,
    thread: Option<JoinHandle<()>>,
    local_addr: SocketAddr,
}

impl std::fmt::Debug for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Peer").field("local_addr", &self.local_addr).finish()
    }
}

/// Install str0m's crypto provider once per process (idempotent).
fn install_crypto() {
    str0m::crypto::from_feature_flags().install_process_default();
}

fn new_rtc(cfg: PeerConfig) -> Rtc {
    install_crypto();
    let mut rc = RtcConfig::new().clear_codecs().set_ice_lite(cfg.ice_lite);
    let codecs = rc.codec_config();
    codecs.add_config(
        Pt::new_with_value(111),
        None,
        Codec::Opus,
        Frequency::FORTY_EIGHT_KHZ,
        Some(2),
        FormatParams { min_p_time: Some(10), use_inband_fec: Some(true), ..Default::default() },
    );
    codecs.add_config(
        Pt::new_with_value(PT_TELEPHONE_EVENT),
        None,
        Codec::Tele,
        Frequency::EIGHT_KHZ,
        None,
        FormatParams::default(),
    );
    rc.build(Instant::now())
}

fn bind_loopback(rtc: &mut Rtc) -> Result<(UdpSocket, SocketAddr), String> {
    let socket = UdpSocket::bind("127.0.0.1:0").map_err(|e| format!("bind UDP: {e}"))?;
    let local = socket.local_addr().map_err(|e| e.to_string())?;
    let cand = Candidate::host(local, "udp").map_err(|e| format!("candidate: {e}"))?;
    rtc.add_local_candidate(cand);
    Ok((socket, local))
}

/// Keep only loopback `a=candidate` lines; the simulator never talks to other addresses.
pub fn keep_loopback_candidates(sdp: &str) -> String {
    let mut out = String::with_capacity(sdp.len());
    for line in sdp.split_inclusive('\n') {
        let trimmed = line.trim_end();
        if let Some(rest) = trimmed.strip_prefix("a=candidate:") {
            // foundation component transport priority address port typ ...
            let addr = rest.split_whitespace().nth(4).unwrap_or("");
            let loopback = addr.parse::<std::net::IpAddr>().is_ok_and(|ip| match ip {
                std::net::IpAddr::V4(v4) => v4.octets()[0] == 127,
                std::net::IpAddr::V6(_) => false,
            });
            if !loopback {
                continue;
            }
        }
        out.push_str(line);
    }
    out
}

impl Peer {
    /// Create a peer that makes the offer (the user's phone for a user-initiated call, or the
    /// business in a business-initiated call). Returns the peer and its SDP offer.
    pub fn offerer(cfg: PeerConfig) -> Result<(Peer, String), String> {
        let mut rtc = new_rtc(cfg);
        let (socket, local) = bind_loopback(&mut rtc)?;
        let mut api = rtc.sdp_api();
        let mid = api.add_media(
            MediaKind::Audio,
            Direction::SendRecv,
            Some("wa-user".into()),
            Some("wa-user-mic".into()),
            None,
        );
        let (offer, pending) = api.apply().ok_or("str0m produced no offer")?;
        let sdp = offer.to_sdp_string();
        Ok((Peer::spawn(rtc, socket, local, mid, Some(pending)), sdp))
    }

    /// Create a peer that answers `offer_sdp`. Returns the peer and its SDP answer.
    pub fn answerer(cfg: PeerConfig, offer_sdp: &str) -> Result<(Peer, String), String> {
        let mut rtc = new_rtc(cfg);
        let (socket, local) = bind_loopback(&mut rtc)?;
        let offer = SdpOffer::from_sdp_string(&keep_loopback_candidates(offer_sdp))
            .map_err(|e| format!("invalid SDP offer: {e}"))?;
        let answer = rtc.sdp_api().accept_offer(offer).map_err(|e| format!("cannot answer offer: {e}"))?;
        let sdp = answer.to_sdp_string();
        // The answer has exactly the offer's m-lines; ours is the first audio one.
        let mid = sdp
            .split("m=audio")
            .nth(1)
            .and_then(|m| m.lines().find_map(|l| l.trim().strip_prefix("a=mid:").map(str::to_owned)))
            .map(|m| Mid::from(m.as_str()))
            .ok_or("offer has no audio m-line")?;
        Ok((Peer::spawn(rtc, socket, local, mid, None), sdp))
    }

    fn spawn(
        rtc: Rtc,
        socket: UdpSocket,
        local: SocketAddr,
        mid: Mid,
        pending: Option<SdpPendingOffer>,
    ) -> Peer {
        let (tx, rx) = channel();
        let stats = Arc::new(Mutex::new(MediaStats::default()));
        let thread_stats = stats.clone();
        let thread = std::thread::Builder::new()
            .name(format!("sim-peer-{}", local.port()))
            .spawn(move || {
                let mut lp = PeerLoop { rtc, socket, local, mid, pending, stats: thread_stats, commands: rx };
                if let Err(e) = lp.run() {
                    tracing::debug!(port = local.port(), error = %e, "peer loop ended with error");
                }
            })
            .ok();
        Peer { commands: tx, stats, thread, local_addr: local }
    }

    /// Apply the remote answer to this peer's offer. Non-loopback candidates are dropped first.
    pub async fn accept_answer(&self, answer_sdp: &str) -> Result<(), String> {
        let answer = SdpAnswer::from_sdp_string(&keep_loopback_candidates(answer_sdp))
            .map_err(|e| format!("invalid SDP answer: {e}"))?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.commands
            .send(Command::AcceptAnswer(Box::new(answer), tx))
            .map_err(|_| "peer has stopped".to_string())?;
        rx.await.map_err(|_| "peer has stopped".to_string())?
    }

    /// Start sending the tone (as soon as DTLS-SRTP is connected).
    pub fn start_sending(&self) {
        let _ = self.commands.send(Command::StartSending);
    }

    /// Stop the peer: closes the socket and ends the thread.
    pub fn stop(&self) {
        let _ = self.commands.send(Command::Stop);
    }

    /// Current media counters.
    pub fn stats(&self) -> MediaStats {
        self.stats.lock().map(|s| *s).unwrap_or_default()
    }

    /// The UDP address this peer listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// A cheap handle for reading this peer's counters after the peer is dropped or moved.
    pub fn stats_handle(&self) -> StatsHandle {
        StatsHandle(self.stats.clone())
    }
}

/// Shared read access to a peer's counters.
#[derive(Clone, Debug)]
pub struct StatsHandle(Arc<Mutex<MediaStats>>);

impl StatsHandle {
    /// Current counters.
    pub fn get(&self) -> MediaStats {
        self.0.lock().map(|s| *s).unwrap_or_default()
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.commands.send(Command::Stop);
        // Detach rather than join: joining could stall an async caller for up to one poll tick.
        drop(self.thread.take());
    }
}

struct PeerLoop {
    rtc: Rtc,
    socket: UdpSocket,
    local: SocketAddr,
    mid: Mid,
    pending: Option<SdpPendingOffer>,
    stats: Arc<Mutex<MediaStats>>,
    commands: Receiver<Command>,
}

fn tone_frames() -> Vec<&'static [u8]> {
    let mut frames = Vec::new();
    let mut rest = TONE;
    while rest.len() >= 2 {
        let len = u16::from_be_bytes([rest[0], rest[1]]) as usize;
        if rest.len() < 2 + len {
            break;
        }
        frames.push(&rest[2..2 + len]);
        rest = &rest[2 + len..];
    }
    frames
}

impl PeerLoop {
    fn run(&mut self) -> Result<(), String> {
        let frames = tone_frames();
        let mut frame_idx = 0usize;
        let mut rtp_ts: u64 = 0;
        let mut sending = false;
        let mut connected = false;
        let mut next_send = Instant::now();
        let mut buf = vec![0u8; 2000];
        let mut decoder = opus_rs::OpusDecoder::new(48_000, 1).map_err(str::to_owned)?;
        let mut pcm = vec![0f32; MAX_FRAME_48K];
        // Mean square of each of the last LEVEL_WINDOW packets.
        let mut window: std::collections::VecDeque<f64> =
            std::collections::VecDeque::with_capacity(LEVEL_WINDOW);
        const FRAME: Duration = Duration::from_millis(20);
        // Commands are checked at least this often even when the network is quiet.
        const TICK: Duration = Duration::from_millis(20);

        loop {
            loop {
                match self.commands.try_recv() {
                    Ok(Command::AcceptAnswer(answer, reply)) => {
                        let res = match self.pending.take() {
                            Some(pending) => self
                                .rtc
                                .sdp_api()
                                .accept_answer(pending, *answer)
                                .map_err(|e| format!("cannot apply answer: {e}")),
                            None => Err("no offer is pending".into()),
                        };
                        let _ = reply.send(res);
                    }
                    Ok(Command::StartSending) => {
                        if !sending {
                            sending = true;
                            next_send = Instant::now();
                        }
                    }
                    Ok(Command::Stop) | Err(TryRecvError::Disconnected) => {
                        self.rtc.disconnect();
                        return Ok(());
                    }
                    Err(TryRecvError::Empty) => break,
                }
            }

            let timeout = loop {
                match self.rtc.poll_output().map_err(|e| e.to_string())? {
                    Output::Transmit(t) => {
                        if t.destination.ip().is_loopback() {
                            let _ = self.socket.send_to(&t.contents, t.destination);
                        }
                    }
                    Output::Event(Event::Connected) => {
                        connected = true;
                        if let Ok(mut s) = self.stats.lock() {
                            s.connected = true;
                        }
                        tracing::debug!(port = self.local.port(), "peer connected (DTLS-SRTP)");
                    }
                    Output::Event(Event::IceConnectionStateChange(IceConnectionState::Disconnected)) => {
                        tracing::debug!(port = self.local.port(), "peer ICE disconnected");
                    }
                    Output::Event(Event::MediaData(d)) => {
                        if d.params.spec().codec == Codec::Opus {
                            let decoded = decoder.decode(&d.data, MAX_FRAME_48K, &mut pcm);
                            if let Ok(n) = decoded
                                && n > 0
                            {
                                let ms =
                                    pcm[..n].iter().map(|x| f64::from(*x).powi(2)).sum::<f64>() / n as f64;
                                if window.len() == LEVEL_WINDOW {
                                    window.pop_front();
                                }
                                window.push_back(ms);
                            }
                            if let Ok(mut s) = self.stats.lock() {
                                s.rx_packets += 1;
                                s.rx_bytes += d.data.len() as u64;
                                if decoded.is_err() {
                                    s.rx_decode_errors += 1;
                                }
                                if !window.is_empty() {
                                    s.rx_level = (window.iter().sum::<f64>() / window.len() as f64).sqrt();
                                }
                            }
                        }
                    }
                    Output::Event(_) => {}
                    Output::Timeout(t) => break t,
                }
                if !self.rtc.is_alive() {
                    return Ok(());
                }
            };

            let now = Instant::now();
            if sending && connected && now >= next_send && !frames.is_empty() {
                let Some(writer) = self.rtc.writer(self.mid) else {
                    return Ok(());
                };
                let Some(pt) =
                    writer.payload_params().find(|p| p.spec().codec == Codec::Opus).map(|p| p.pt())
                else {
                    return Err("no Opus payload type negotiated".into());
                };
                let frame = frames[frame_idx % frames.len()];
                frame_idx += 1;
                writer
                    .write(pt, now, MediaTime::new(rtp_ts, Frequency::FORTY_EIGHT_KHZ), frame.to_vec())
                    .map_err(|e| e.to_string())?;
                rtp_ts += 960;
                next_send += FRAME;
                if next_send + FRAME < now {
                    // We fell behind (a loaded machine): resynchronise rather than burst.
                    next_send = now + FRAME;
                }
                if let Ok(mut s) = self.stats.lock() {
                    s.tx_packets += 1;
                }
                continue;
            }

            let mut deadline = timeout.min(now + TICK);
            if sending && connected {
                deadline = deadline.min(next_send);
            }
            let wait = deadline.saturating_duration_since(now).max(Duration::from_millis(1));
            self.socket.set_read_timeout(Some(wait)).map_err(|e| e.to_string())?;
            match self.socket.recv_from(&mut buf) {
                Ok((n, src)) if src.ip().is_loopback() => {
                    let Ok(contents) = buf[..n].try_into() else { continue };
                    let input = Input::Receive(
                        Instant::now(),
                        Receive { proto: Protocol::Udp, source: src, destination: self.local, contents },
                    );
                    if let Err(e) = self.rtc.handle_input(input) {
                        tracing::debug!(error = %e, "peer dropped a datagram");
                    }
                }
                // Non-loopback sources are dropped on purpose (see module docs).
                Ok(_) => {}
                Err(_) => {
                    self.rtc.handle_input(Input::Timeout(Instant::now())).map_err(|e| e.to_string())?;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tone_file_holds_one_second_of_frames() {
        let frames = tone_frames();
        assert!(frames.len() >= 50, "{} frames", frames.len());
        // TOC byte: a CELT config (16..=31) with 20 ms frames (config % 4 == 3), mono, one
        // frame per packet (code 0). The encoder moves between fullband and wideband.
        assert!(frames.iter().all(|f| {
            let config = f[0] >> 3;
            config >= 16 && config % 4 == 3 && f[0] & 0b111 == 0 && f.len() > 8
        }));
    }

    #[test]
    fn tone_decodes_to_the_expected_level() {
        let mut dec = opus_rs::OpusDecoder::new(48_000, 1).unwrap();
        let mut pcm = vec![0f32; 5760];
        let (mut sum, mut n) = (0f64, 0usize);
        for (i, f) in tone_frames().iter().enumerate() {
            let got = dec.decode(f, MAX_FRAME_48K, &mut pcm).unwrap();
            assert_eq!(got, 960);
            if i >= 5 {
                sum += pcm[..got].iter().map(|s| f64::from(*s).powi(2)).sum::<f64>();
                n += got;
            }
        }
        let rms = (sum / n as f64).sqrt();
        // a sine at amplitude 0.25 has RMS 0.177
        assert!((rms - 0.177).abs() < 0.03, "rms {rms}");
    }

    #[test]
    fn non_loopback_candidates_are_stripped() {
        let sdp = "v=0\r\na=candidate:1 1 udp 2122260223 192.0.2.2 3484 typ host\r\n\
                   a=candidate:2 1 udp 2122260223 127.0.0.1 3485 typ host\r\n\
                   a=candidate:3 1 udp 2122260223 ::1 3486 typ host\r\na=end-of-candidates\r\n";
        let out = keep_loopback_candidates(sdp);
        assert!(!out.contains("192.0.2.2"));
        assert!(!out.contains("::1"));
        assert!(out.contains("127.0.0.1 3485"));
        assert!(out.contains("a=end-of-candidates"));
    }
}
