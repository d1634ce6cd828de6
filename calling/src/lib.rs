//! Switchboard's domain core.
//!
//! Everything a WhatsApp Business Calling dashboard knows lives here as plain types and
//! functions: calls, templates, permissions, billing, storage, the Graph API client and
//! webhook parsing. Nothing here knows about axum, Leptos or HTML, so the same rules serve the
//! REST API, the server functions behind the `/calling` page and the CLI.
//!
//! Without the `server` feature the crate is only its types (no database, no runtime) and
//! compiles to wasm32, which lets the browser share them with the server.

pub mod analytics;
pub mod answering;
pub mod call_state;
pub mod calls;
pub mod dates;
pub mod deep_links;
pub mod error;
pub mod ice;
pub mod meta_errors;
pub mod numbers;
pub mod overview;
pub mod permissions;
pub mod phone;
pub mod presence;
pub mod quality;
pub mod settings;
pub mod templates;
pub mod time_zone;
pub mod url;
pub mod webhook;

#[cfg(feature = "server")]
pub mod accounts;
/// Without the `server` feature, only the roles (the browser shows them and hides what a role
/// may not do; the server still checks) and the password policy (forms check as you type).
#[cfg(not(feature = "server"))]
pub mod accounts {
    pub mod password_policy;
    pub mod roles;
    pub use roles::{Permission, Role};
}
#[cfg(feature = "server")]
pub mod billing;
/// Without the `server` feature, only money and the billing forms (the admin panel's billing
/// page shows amounts and builds its filters and its CSV link in the browser).
#[cfg(not(feature = "server"))]
pub mod billing {
    pub mod forms;
    pub mod money;
    pub use money::{Currency, Micros, Money};
}
#[cfg(feature = "server")]
pub mod bus;
#[cfg(feature = "server")]
pub mod call_actions;
#[cfg(feature = "server")]
pub mod clock;
#[cfg(feature = "server")]
pub mod contacts;
#[cfg(feature = "server")]
pub mod csv;
#[cfg(feature = "server")]
pub mod graph;
#[cfg(feature = "server")]
pub mod ids;
#[cfg(feature = "server")]
pub mod ingest;
#[cfg(feature = "server")]
pub mod ledger;
#[cfg(feature = "server")]
pub mod permission_sync;
#[cfg(feature = "server")]
pub mod recordings;
#[cfg(feature = "server")]
pub mod secrets;
#[cfg(feature = "server")]
pub mod services;
#[cfg(feature = "server")]
pub mod settings_sync;
#[cfg(feature = "server")]
pub mod storage;
#[cfg(feature = "testing")]
pub mod testing;
#[cfg(feature = "server")]
pub mod workspace;

pub use error::Error;
#[cfg(feature = "server")]
pub use services::Services;

/// Results of the domain layer.
pub type Result<T, E = Error> = std::result::Result<T, E>;
