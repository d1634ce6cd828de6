//! Meta's SDP rules for what the business sends (reference §7.3): one audio m-line, Opus,
//! a `sha-256` fingerprint only, and the right DTLS role for offers (`actpass`) and answers
//! (`active`/`passive`). Violations are Graph error 100 with the detail in `error_data`.

use str0m::change::{SdpAnswer, SdpOffer};

/// Which side of the exchange an SDP is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SdpRole {
    /// The business's offer in `connect`.
    Offer,
    /// The business's answer in `pre_accept`/`accept`.
    Answer,
}

/// Check an SDP from the business. `Err` carries the `error_data.details` text.
pub fn validate(sdp: &str, role: SdpRole) -> Result<(), String> {
    if sdp.trim().is_empty() {
        return Err("SDP is empty".into());
    }
    if !sdp.starts_with("v=0") {
        return Err("SDP must start with v=0".into());
    }
    if !sdp.contains("\r\n") {
        return Err("SDP lines must end with \\r\\n".into());
    }
    let parsed = match role {
        SdpRole::Offer => SdpOffer::from_sdp_string(sdp).map(|_| ()),
        SdpRole::Answer => SdpAnswer::from_sdp_string(sdp).map(|_| ()),
    };
    parsed.map_err(|e| format!("SDP could not be parsed: {e}"))?;
    let lines: Vec<&str> = sdp.lines().map(str::trim).collect();
    let m_lines: Vec<&&str> = lines.iter().filter(|l| l.starts_with("m=")).collect();
    if m_lines.len() != 1 {
        return Err(format!("SDP must have exactly one media line (audio), found {}", m_lines.len()));
    }
    if !m_lines[0].starts_with("m=audio ") {
        return Err("the only media line must be audio".into());
    }
    if !lines.iter().any(|l| l.starts_with("a=rtpmap:") && l.to_ascii_lowercase().contains("opus/48000")) {
        return Err("SDP must offer Opus (opus/48000/2)".into());
    }
    let fingerprints: Vec<&&str> = lines.iter().filter(|l| l.starts_with("a=fingerprint:")).collect();
    if fingerprints.is_empty() {
        return Err("No fingerprint found in SDP".into());
    }
    if let Some(bad) =
        fingerprints.iter().find(|l| !l.to_ascii_lowercase().starts_with("a=fingerprint:sha-256 "))
    {
        return Err(format!("only sha-256 fingerprints are supported, found {bad}"));
    }
    if !lines.iter().any(|l| l.starts_with("a=ice-ufrag:"))
        || !lines.iter().any(|l| l.starts_with("a=ice-pwd:"))
    {
        return Err("SDP must carry a=ice-ufrag and a=ice-pwd".into());
    }
    let setup = lines.iter().find_map(|l| l.strip_prefix("a=setup:")).unwrap_or("");
    match (role, setup) {
        (SdpRole::Offer, "actpass") => {}
        (SdpRole::Offer, other) => return Err(format!("offer must use a=setup:actpass, found {other:?}")),
        (SdpRole::Answer, "active" | "passive") => {}
        (SdpRole::Answer, other) => return Err(format!("answer must use a=setup:active, found {other:?}")),
    }
    Ok(())
}
