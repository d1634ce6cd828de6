//! Call deep links: `https://wa.me/call/<business number>?biz_payload=<payload>` opens a
//! WhatsApp call to the business from a website, an email or a printed QR code, without a
//! template. The payload comes back as the call's `deeplink_payload` (WhatsApp ≥ 2.25.27), so a
//! team can tell which poster or page a call came from. Deep links do not work on desktop
//! WhatsApp clients.
//!
//! [`DeepLink::build`] checks the payload once and draws the QR code as SVG here, on the server,
//! so the browser bundle carries no QR encoder.

use serde::{Deserialize, Serialize};

use crate::phone::PhoneNumber;
use crate::{Error, Result};

/// Longest `biz_payload` accepted. Meta documents no limit; links must stay short enough to
/// scan and share.
pub const MAX_PAYLOAD_CHARS: usize = 256;

/// A call link and its QR code.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub struct DeepLink {
    pub url: String,
    /// `None` without a payload.
    pub biz_payload: Option<String>,
    /// The URL as a QR code: a standalone SVG document (black modules on white, a quiet zone
    /// of four modules), ready to download or print.
    pub qr_svg: String,
}

impl DeepLink {
    /// The link that calls `business` with `payload` (trimmed; blank means none).
    pub fn build(business: &PhoneNumber, payload: Option<&str>) -> Result<DeepLink> {
        let payload = payload.map(str::trim).filter(|payload| !payload.is_empty());
        if let Some(payload) = payload {
            if payload.chars().count() > MAX_PAYLOAD_CHARS {
                return Err(Error::validation("payload", format!("at most {MAX_PAYLOAD_CHARS} characters")));
            }
            if payload.chars().any(char::is_control) {
                return Err(Error::validation("payload", "no line breaks or control characters"));
            }
        }
        let digits = business.e164().trim_start_matches('+');
        let url = match payload {
            Some(payload) => {
                format!("https://wa.me/call/{digits}?biz_payload={}", crate::url::encode_value(payload))
            }
            None => format!("https://wa.me/call/{digits}"),
        };
        let qr_svg = qr_svg(&url)?;
        Ok(DeepLink { url, biz_payload: payload.map(str::to_owned), qr_svg })
    }
}

/// `text` as a QR code (error correction M) drawn as one SVG path.
fn qr_svg(text: &str) -> Result<String> {
    use qrcodegen::{QrCode, QrCodeEcc};
    const QUIET: i32 = 4;
    let qr = QrCode::encode_text(text, QrCodeEcc::Medium)
        .map_err(|_| Error::validation("payload", "too long for a QR code"))?;
    let size = qr.size();
    let mut path = String::new();
    for y in 0..size {
        for x in 0..size {
            if qr.get_module(x, y) {
                path.push_str(&format!("M{},{}h1v1h-1z", x + QUIET, y + QUIET));
            }
        }
    }
    let full = size + 2 * QUIET;
    Ok(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {full} {full}\" shape-rendering=\"crispEdges\">\
         <rect width=\"100%\" height=\"100%\" fill=\"#fff\"/><path fill=\"#000\" d=\"{path}\"/></svg>"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn business() -> PhoneNumber {
        PhoneNumber::parse("+44 7700 900001").unwrap()
    }

    #[test]
    fn links_carry_the_number_and_the_encoded_payload() {
        let plain = DeepLink::build(&business(), None).unwrap();
        assert_eq!(plain.url, "https://wa.me/call/447700900001");
        assert_eq!(plain.biz_payload, None);
        let tagged = DeepLink::build(&business(), Some(" poster/Q4 & more ")).unwrap();
        assert_eq!(tagged.url, "https://wa.me/call/447700900001?biz_payload=poster%2FQ4%20%26%20more");
        assert_eq!(tagged.biz_payload.as_deref(), Some("poster/Q4 & more"));
        assert_eq!(DeepLink::build(&business(), Some("   ")).unwrap().url, plain.url);
    }

    #[test]
    fn payloads_are_checked() {
        let long = "x".repeat(MAX_PAYLOAD_CHARS + 1);
        for bad in [long.as_str(), "line\nbreak"] {
            let err = DeepLink::build(&business(), Some(bad)).unwrap_err();
            assert_eq!(err.to_string().split(':').next(), Some("payload"), "{bad:?}");
        }
    }

    #[test]
    fn the_qr_code_is_an_svg_of_the_link() {
        let link = DeepLink::build(&business(), Some("campaign-7")).unwrap();
        assert!(link.qr_svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 "));
        assert!(link.qr_svg.ends_with("</svg>"));
        // Version 3 (29 modules) for a link this long, plus the quiet zone on both sides.
        let qr = qrcodegen::QrCode::encode_text(&link.url, qrcodegen::QrCodeEcc::Medium).unwrap();
        let full = qr.size() + 8;
        assert!(link.qr_svg.contains(&format!("viewBox=\"0 0 {full} {full}\"")), "{}", &link.qr_svg[..120]);
        // Every dark module is drawn once; the three finder patterns' corners are dark.
        let dark = (0..qr.size())
            .flat_map(|y| (0..qr.size()).map(move |x| (x, y)))
            .filter(|&(x, y)| qr.get_module(x, y))
            .count();
        assert_eq!(link.qr_svg.matches("h1v1h-1z").count(), dark);
        assert!(link.qr_svg.contains("M4,4h1v1h-1z"));
    }
}
