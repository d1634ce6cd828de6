//! ICE servers for agents' browsers: the STUN and TURN servers an install configures
//! (`ICE_SERVERS`), and time-limited TURN credentials from a secret shared with the TURN
//! server (`TURN_SECRET`, coturn's `use-auth-secret`, the "TURN REST API" scheme): username
//! `<expiry unix seconds>:<user id>`, password base64(HMAC-SHA1(secret, username)). A leaked
//! credential stops working at its expiry, and no TURN password is ever stored.
//!
//! On loopback and in the sandbox none are needed: host candidates connect.

use serde::{Deserialize, Serialize};

use crate::error::Quoted;
use crate::{Error, Result};

/// How long TURN credentials handed to a browser stay valid (seconds).
pub const TURN_CREDENTIAL_TTL_S: i64 = 12 * 3600;

/// One `RTCIceServer` as the browser takes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub struct IceServer {
    pub urls: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

/// A STUN or TURN server address (`stun:`, `stuns:`, `turn:`, `turns:`), checked once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IceUrl(String);

impl IceUrl {
    pub fn parse(raw: &str) -> Result<IceUrl> {
        let url = raw.trim();
        let (scheme, rest) = url.split_once(':').unwrap_or_default();
        if !matches!(scheme, "stun" | "stuns" | "turn" | "turns") || rest.is_empty() || rest.contains(' ') {
            return Err(Error::validation(
                "ice_servers",
                format!(
                    "{url} is not a STUN or TURN address (stun:host:port, turn:host:port?transport=udp)",
                    url = Quoted(url)
                ),
            ));
        }
        Ok(IceUrl(url.to_owned()))
    }

    #[cfg(feature = "server")]
    fn is_turn(&self) -> bool {
        self.0.starts_with("turn")
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The install's ICE configuration.
#[derive(Clone, Debug, Default)]
pub struct IceConfig {
    pub urls: Vec<IceUrl>,
    /// Shared with the TURN server; without it TURN URLs are handed out without credentials.
    pub turn_secret: Option<String>,
}

impl IceConfig {
    /// Parses a comma- or whitespace-separated list of addresses.
    pub fn parse(urls: &str, turn_secret: Option<String>) -> Result<IceConfig> {
        let urls = urls
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|url| !url.is_empty())
            .map(IceUrl::parse)
            .collect::<Result<Vec<_>>>()?;
        Ok(IceConfig { urls, turn_secret: turn_secret.filter(|secret| !secret.is_empty()) })
    }
}

#[cfg(feature = "server")]
impl IceConfig {
    /// The servers for `user_id`'s browser at `now_ms`: STUN as configured, TURN with fresh
    /// time-limited credentials.
    pub fn servers_for(&self, user_id: &str, now_ms: i64) -> Vec<IceServer> {
        use base64::Engine;
        use hmac::{Hmac, Mac};

        let (turn, stun): (Vec<&IceUrl>, Vec<&IceUrl>) = self.urls.iter().partition(|url| url.is_turn());
        let mut servers = Vec::new();
        if !stun.is_empty() {
            servers.push(IceServer {
                urls: stun.iter().map(|url| url.as_str().to_owned()).collect(),
                username: None,
                credential: None,
            });
        }
        if !turn.is_empty() {
            let credentials = self.turn_secret.as_ref().map(|secret| {
                let username = format!("{}:{user_id}", now_ms / 1000 + TURN_CREDENTIAL_TTL_S);
                let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes())
                    .expect("HMAC takes keys of any length");
                mac.update(username.as_bytes());
                let credential =
                    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
                (username, credential)
            });
            let (username, credential) = credentials.unzip();
            servers.push(IceServer {
                urls: turn.iter().map(|url| url.as_str().to_owned()).collect(),
                username,
                credential,
            });
        }
        servers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_checked_once() {
        let config =
            IceConfig::parse("stun:stun.example.com:3478, turn:turn.example.com:3478?transport=udp", None)
                .unwrap();
        assert_eq!(config.urls.len(), 2);
        assert!(IceConfig::parse("", None).unwrap().urls.is_empty());
        let err = IceConfig::parse("http://turn.example.com", None).unwrap_err();
        assert_eq!(err.code(), "validation_failed");
        assert!(err.to_string().contains("not a STUN or TURN address"), "{err}");
    }

    #[cfg(feature = "server")]
    #[test]
    fn turn_credentials_follow_the_turn_rest_scheme_and_expire() {
        let config = IceConfig::parse(
            "stun:stun.example.com:3478 turn:turn.example.com:3478 turns:turn.example.com:5349",
            Some("north-sea-secret".into()),
        )
        .unwrap();
        let now_ms = (1_700_043_200 - TURN_CREDENTIAL_TTL_S) * 1000;
        let servers = config.servers_for("user-1", now_ms);
        assert_eq!(
            servers[0],
            IceServer { urls: vec!["stun:stun.example.com:3478".into()], username: None, credential: None }
        );
        assert_eq!(servers[1].urls, ["turn:turn.example.com:3478", "turns:turn.example.com:5349"]);
        assert_eq!(servers[1].username.as_deref(), Some("1700043200:user-1"));
        // The same HMAC coturn computes (checked with Python's hmac + hashlib.sha1).
        assert_eq!(servers[1].credential.as_deref(), Some("eF6H313SbZYCTYOly+KvsFi/iX4="));
        let without_secret = IceConfig::parse("turn:turn.example.com:3478", None).unwrap();
        assert_eq!(without_secret.servers_for("user-1", now_ms)[0].username, None);
    }
}
