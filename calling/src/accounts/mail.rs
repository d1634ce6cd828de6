//! The emails accounts send — an invitation, a password reset link — and the [`Mailer`] that
//! sends them.
//!
//! What a message says lives here; how it travels is the server's business, behind
//! [`Transport`] (SMTP when `SMTP_URL` is configured). Without a transport nothing is sent and
//! [`Mailer::send`] says so ([`Delivery::NotConfigured`]): the caller still holds the link and
//! decides what to do with it (an inviter copies it from the page; sandbox mode logs a reset
//! link).
//!
//! Links in emails start with the install's configured public address, never with the `Host`
//! a request came with: a reset requested with a forged `Host` must not mail the victim a link
//! to the forger's site.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::DateTime;
use serde::Serialize;

use super::Role;

/// A plain-text email to one person.
#[derive(Clone, PartialEq, Eq)]
pub struct Email {
    pub to: String,
    pub subject: String,
    pub text: String,
}

impl fmt::Debug for Email {
    /// The body carries a one-time link, so logs get the recipient and subject only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Email").field("to", &self.to).field("subject", &self.subject).finish_non_exhaustive()
    }
}

/// What sending takes: an error is the transport's own words (refused recipient, connection
/// failed), safe to show to the person who asked for the email.
pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;

/// A way to deliver email (the server's SMTP client).
pub trait Transport: Send + Sync {
    fn send<'a>(&'a self, email: &'a Email) -> SendFuture<'a>;

    /// Where mail goes, for logs, without credentials (`smtp://mail.example.com:587`).
    fn describe(&self) -> String;
}

/// Sends email when a transport is configured; a cheap clone.
#[derive(Clone, Default)]
pub struct Mailer(Option<Arc<Configured>>);

struct Configured {
    transport: Box<dyn Transport>,
    /// `https://switchboard.example.com`: where the links in emails point.
    public_url: String,
}

impl fmt::Debug for Mailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(configured) => {
                write!(f, "Mailer({}, links to {})", configured.transport.describe(), configured.public_url)
            }
            None => f.write_str("Mailer(none)"),
        }
    }
}

/// What became of an email.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Delivery {
    /// The mail server accepted it.
    Sent,
    /// No mail transport is configured (`SMTP_URL`); nothing was sent.
    NotConfigured,
    /// The mail server could not be reached or refused the message.
    Failed { message: String },
}

impl Mailer {
    /// A mailer sending through `transport`, its links pointing at `public_url`.
    pub fn new(transport: impl Transport + 'static, public_url: &str) -> Self {
        let public_url = public_url.trim().trim_end_matches('/').to_owned();
        Mailer(Some(Arc::new(Configured { transport: Box::new(transport), public_url })))
    }

    /// Whether email can be sent at all.
    pub fn is_configured(&self) -> bool {
        self.0.is_some()
    }

    /// The link to `path_and_query` on this install: under the configured public address when
    /// email is configured, else under `request_base` (the address the requester used, for
    /// links shown to them or logged, never mailed).
    pub fn link(&self, request_base: &str, path_and_query: &str) -> String {
        let base = self.0.as_ref().map_or(request_base, |configured| configured.public_url.as_str());
        format!("{}{path_and_query}", base.trim_end_matches('/'))
    }

    /// Sends `email`. A failure is logged and reported, never raised: the invitation or reset
    /// it announces exists either way.
    pub async fn send(&self, email: &Email) -> Delivery {
        let Some(configured) = &self.0 else { return Delivery::NotConfigured };
        let transport = &configured.transport;
        match transport.send(email).await {
            Ok(()) => {
                tracing::info!(to = %email.to, subject = %email.subject, "email sent");
                Delivery::Sent
            }
            Err(message) => {
                tracing::warn!(to = %email.to, via = %transport.describe(), error = %message, "email not sent");
                Delivery::Failed { message }
            }
        }
    }
}

/// The invitation to `workspace` for `to`, with the link that accepts it.
pub fn invitation(
    to: &str,
    workspace: &str,
    invited_by: &str,
    role: Role,
    link: &str,
    expires_at: i64,
) -> Email {
    Email {
        to: to.to_owned(),
        subject: format!("{invited_by} invited you to {workspace} on Switchboard"),
        text: format!(
            "{invited_by} invited you to join {workspace} on Switchboard as {article} {role}.\n\n\
             Accept the invitation and choose your password here:\n{link}\n\n\
             The link works once and expires on {expires}. If you did not expect this email, you can \
             ignore it.\n",
            article = if role == Role::Viewer { "a" } else { "an" },
            expires = utc(expires_at),
        ),
    }
}

/// The password reset link for the account `to`.
pub fn password_reset(to: &str, link: &str, expires_at: i64) -> Email {
    Email {
        to: to.to_owned(),
        subject: "Reset your Switchboard password".to_owned(),
        text: format!(
            "Someone asked to reset the password of the Switchboard account {to}.\n\n\
             Choose a new password here:\n{link}\n\n\
             The link works once and expires on {expires}. Using it signs the account out everywhere. \
             If you did not ask for this, ignore this email: your password stays as it is.\n",
            expires = utc(expires_at),
        ),
    }
}

fn utc(millis: i64) -> String {
    DateTime::from_timestamp_millis(millis)
        .map(|at| at.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| millis.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Refusing;

    impl Transport for Refusing {
        fn send<'a>(&'a self, _: &'a Email) -> SendFuture<'a> {
            Box::pin(async { Err("550 mailbox unavailable".to_owned()) })
        }

        fn describe(&self) -> String {
            "smtp://refusing".into()
        }
    }

    #[test]
    fn messages_carry_the_link_and_when_it_expires() {
        let invite = invitation("ann@x.io", "Acme", "Olivia", Role::Agent, "http://h/invite?token=t", 0);
        assert!(invite.subject.contains("Olivia invited you to Acme"), "{}", invite.subject);
        assert!(invite.text.contains("as an agent") && invite.text.contains("http://h/invite?token=t"));
        assert!(invite.text.contains("1970-01-01 00:00 UTC"));
        let reset = password_reset("ann@x.io", "http://h/reset-password?token=r", 3_600_000);
        assert!(reset.text.contains("http://h/reset-password?token=r") && reset.text.contains("01:00 UTC"));
        assert!(!format!("{reset:?}").contains("token=r"), "Debug hides the link");
    }

    #[tokio::test]
    async fn delivery_says_what_happened() {
        let email = password_reset("ann@x.io", "l", 0);
        assert_eq!(Mailer::default().send(&email).await, Delivery::NotConfigured);
        assert_eq!(Mailer::default().link("http://seen", "/x?t=1"), "http://seen/x?t=1");
        let refusing = Mailer::new(Refusing, "https://sb.example/ ");
        assert_eq!(refusing.link("http://forged.example", "/x?t=1"), "https://sb.example/x?t=1");
        let refused = refusing.send(&email).await;
        assert_eq!(refused, Delivery::Failed { message: "550 mailbox unavailable".into() });
        assert_eq!(
            serde_json::to_value(&refused).unwrap(),
            serde_json::json!({ "status": "failed", "message": "550 mailbox unavailable" })
        );
    }
}
