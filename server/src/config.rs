//! Configuration: command-line flags, each backed by an environment variable, each with a
//! default that works on a laptop (SQLite file under `data/`, loopback only).

use std::net::SocketAddr;
use std::time::Duration;

use clap::Args;

use crate::Limits;

/// Settings shared by every subcommand. README lists them all.
#[derive(Args, Clone, Debug)]
pub struct Config {
    /// Database: `sqlite://path?mode=rwc` (file created on first start) or `postgres://…`.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://data/switchboard.db?mode=rwc",
        global = true
    )]
    pub database_url: String,

    /// Most database connections the server opens.
    #[arg(long, env = "DATABASE_MAX_CONNECTIONS", default_value_t = 16, global = true)]
    pub database_max_connections: u32,

    /// Address the HTTP server listens on.
    #[arg(long, env = "BIND", default_value = "127.0.0.1:3000", global = true)]
    pub bind: SocketAddr,

    /// Directory holding the built site (`pkg/` with the WASM, JS and CSS, plus public files).
    #[arg(long, env = "SITE_ROOT", default_value = "target/site", global = true)]
    pub site_root: String,

    /// Seconds a request may take before it is answered 408.
    #[arg(long, env = "REQUEST_TIMEOUT_SECS", default_value_t = 30, global = true)]
    pub request_timeout_secs: u64,

    /// 64 hex characters (32 bytes) that seal stored WhatsApp credentials. Keep it out of the
    /// database's backups; losing it means re-entering every number's credentials.
    #[arg(long, env = "SECRET_KEY", hide_env_values = true, global = true)]
    pub secret_key: Option<String>,

    /// Where the key lives when SECRET_KEY is not set (created on first start).
    #[arg(long, env = "SECRET_KEY_FILE", default_value = "data/secret.key", global = true)]
    pub secret_key_file: std::path::PathBuf,

    /// Run the built-in WhatsApp simulator: `auto` (when no real number is connected), `on`, `off`.
    #[arg(long, env = "SANDBOX", value_enum, default_value = "auto", global = true)]
    pub sandbox: crate::sandbox::SandboxSetting,

    /// How the simulated WhatsApp user's WebRTC peer does ICE: `lite` (like Meta's media
    /// servers) or `full` (it also checks connectivity itself, which connects sooner).
    #[arg(long, env = "SANDBOX_ICE", value_enum, default_value = "lite", global = true)]
    pub sandbox_ice: crate::sandbox::SandboxIce,

    /// Largest request body accepted, in bytes (recordings are the biggest: 25 MB).
    #[arg(long, env = "MAX_REQUEST_BYTES", default_value_t = 32 * 1024 * 1024, global = true)]
    pub max_request_bytes: usize,

    /// STUN/TURN servers for agents' browsers, comma-separated (`stun:host:3478,turn:host:3478`).
    /// Not needed on one machine; needed when agents or WhatsApp sit behind NAT.
    #[arg(long, env = "ICE_SERVERS", default_value = "", global = true)]
    pub ice_servers: String,

    /// Seconds a caller's last agent has their call to themselves before it rings for every
    /// agent (only while that agent is online and free); 0 rings everyone at once.
    #[arg(long, env = "RING_HEAD_START_SECS", default_value_t = 8, global = true)]
    pub ring_head_start_secs: u64,

    /// Secret shared with the TURN server (coturn `use-auth-secret`): browsers get TURN
    /// credentials that expire after 12 hours.
    #[arg(long, env = "TURN_SECRET", hide_env_values = true, global = true)]
    pub turn_secret: Option<String>,

    /// SMTP server for invitation and password reset emails: `smtp://user:pass@host:587?tls=required`
    /// (STARTTLS), `smtps://user:pass@host:465` or `smtp://host:25` (no TLS, local relays only).
    /// Unset: no email; invitation links are shown to the inviter, and reset links are logged
    /// in sandbox mode.
    #[arg(long, env = "SMTP_URL", hide_env_values = true, global = true)]
    pub smtp_url: Option<String>,

    /// Sender of Switchboard's emails, e.g. `Switchboard <switchboard@example.com>`; needed with
    /// SMTP_URL.
    #[arg(long, env = "MAIL_FROM", global = true)]
    pub mail_from: Option<String>,

    /// The address people open Switchboard at (`https://switchboard.example.com`); needed with
    /// SMTP_URL. Links in emails start with it, never with a request's `Host` header.
    #[arg(long, env = "PUBLIC_URL", global = true)]
    pub public_url: Option<String>,
}

impl Config {
    /// The ICE servers for browsers; an address that is not STUN or TURN is refused at start.
    pub fn ice(&self) -> calling::Result<calling::ice::IceConfig> {
        calling::ice::IceConfig::parse(&self.ice_servers, self.turn_secret.clone())
    }

    /// The mailer for invitations and reset links; a setting that cannot work is refused at
    /// start.
    pub fn mailer(&self) -> Result<calling::accounts::mail::Mailer, crate::mail::MailConfigError> {
        crate::mail::mailer(self.smtp_url.as_deref(), self.mail_from.as_deref(), self.public_url.as_deref())
    }

    /// How inbound calls are offered to agents.
    pub fn routing(&self) -> calling::answering::Routing {
        calling::answering::Routing {
            head_start_ms: i64::try_from(self.ring_head_start_secs).unwrap_or(0) * 1000,
        }
    }

    /// The request limits this configuration sets.
    pub fn limits(&self) -> Limits {
        Limits {
            request_timeout: Duration::from_secs(self.request_timeout_secs.max(1)),
            max_request_bytes: self.max_request_bytes,
        }
    }
}
