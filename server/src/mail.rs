//! Email over SMTP (`SMTP_URL`, `MAIL_FROM`, `PUBLIC_URL`): the [`Transport`] behind
//! `calling::accounts::mail::Mailer`, built on lettre with rustls.
//!
//! `SMTP_URL` takes lettre's forms: `smtp://user:pass@host:587?tls=required` (STARTTLS),
//! `smtps://user:pass@host:465` (TLS from the first byte) and `smtp://host:25` (no TLS: a relay
//! on the same machine or network only). A configuration that cannot work stops the server at
//! start with a message saying which setting is wrong, rather than failing at the first email.

use std::time::Duration;

use calling::accounts::mail::{Email, Mailer, SendFuture, Transport};
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// How long one email may take (connect, greet, send) before it counts as failed.
const SEND_TIMEOUT: Duration = Duration::from_secs(15);

/// A configuration that cannot send email.
#[derive(Debug)]
pub struct MailConfigError {
    pub setting: &'static str,
    pub message: String,
}

impl std::fmt::Display for MailConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.setting, self.message)
    }
}

impl std::error::Error for MailConfigError {}

fn config_error(setting: &'static str, message: impl Into<String>) -> MailConfigError {
    MailConfigError { setting, message: message.into() }
}

/// The mailer the settings describe: none without `SMTP_URL`, which then needs `MAIL_FROM`
/// (the sender) and `PUBLIC_URL` (where the links in emails point).
pub fn mailer(
    smtp_url: Option<&str>,
    mail_from: Option<&str>,
    public_url: Option<&str>,
) -> Result<Mailer, MailConfigError> {
    let Some(smtp_url) = smtp_url.map(str::trim).filter(|url| !url.is_empty()) else {
        return Ok(Mailer::default());
    };
    let from = mail_from.map(str::trim).filter(|from| !from.is_empty()).ok_or_else(|| {
        config_error("MAIL_FROM", "required with SMTP_URL: the sender of Switchboard's emails")
    })?;
    let from: Mailbox = from.parse().map_err(|err| {
        config_error(
            "MAIL_FROM",
            format!("{from:?} is not an address like Switchboard <sb@example.com>: {err}"),
        )
    })?;
    let public_url = public_url.map(str::trim).filter(|url| !url.is_empty()).ok_or_else(|| {
        config_error(
            "PUBLIC_URL",
            "required with SMTP_URL: the address people open Switchboard at, for links in emails",
        )
    })?;
    if !(public_url.starts_with("https://") || public_url.starts_with("http://")) {
        return Err(config_error(
            "PUBLIC_URL",
            format!("{public_url:?} must start with https:// or http://"),
        ));
    }
    let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(smtp_url)
        .map_err(|err| config_error("SMTP_URL", format!("{} cannot be used: {err}", redact(smtp_url))))?
        .timeout(Some(SEND_TIMEOUT))
        .build();
    let smtp = Smtp { transport, from, describe: redact(smtp_url) };
    tracing::info!(via = %smtp.describe, %public_url, "invitation and password reset emails go out by SMTP");
    Ok(Mailer::new(smtp, public_url))
}

/// lettre's SMTP client with the configured sender.
struct Smtp {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    describe: String,
}

impl Transport for Smtp {
    fn send<'a>(&'a self, email: &'a Email) -> SendFuture<'a> {
        Box::pin(async move {
            let to: Mailbox = email
                .to
                .parse()
                .map_err(|err| format!("{} is not an address we can send to: {err}", email.to))?;
            let message = Message::builder()
                .from(self.from.clone())
                .to(to)
                .subject(email.subject.as_str())
                .header(ContentType::TEXT_PLAIN)
                .body(email.text.clone())
                .map_err(|err| format!("the email could not be composed: {err}"))?;
            self.transport
                .send(message)
                .await
                .map(|_| ())
                .map_err(|err| format!("the mail server ({}) did not take it: {err}", self.describe))
        })
    }

    fn describe(&self) -> String {
        self.describe.clone()
    }
}

/// The URL without its user name, password and query, for logs and messages.
fn redact(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority = rest.split(['/', '?']).next().unwrap_or(rest);
    let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    format!("{scheme}://{host}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_reach_logs() {
        assert_eq!(
            redact("smtp://user:p%40ss@mail.example.com:587?tls=required"),
            "smtp://mail.example.com:587"
        );
        assert_eq!(redact("smtps://mail.example.com"), "smtps://mail.example.com");
    }

    #[test]
    fn a_configuration_that_cannot_work_names_the_setting() {
        assert!(!mailer(None, None, None).unwrap().is_configured());
        assert!(!mailer(Some(" "), None, None).unwrap().is_configured());
        let url = Some("smtp://127.0.0.1:2525");
        let site = Some("https://sb.example");
        assert_eq!(mailer(url, None, site).unwrap_err().setting, "MAIL_FROM");
        assert_eq!(mailer(url, Some("not an address"), site).unwrap_err().setting, "MAIL_FROM");
        assert_eq!(mailer(url, Some("sb@example.com"), None).unwrap_err().setting, "PUBLIC_URL");
        assert_eq!(
            mailer(url, Some("sb@example.com"), Some("sb.example")).unwrap_err().setting,
            "PUBLIC_URL"
        );
        let err = mailer(Some("imap://user:secret@host"), Some("sb@example.com"), site).unwrap_err();
        assert_eq!(err.setting, "SMTP_URL");
        assert!(!err.message.contains("secret"), "{err}");
        let configured = mailer(url, Some("Switchboard <sb@example.com>"), site).unwrap();
        assert!(configured.is_configured());
        assert_eq!(
            configured.link("http://forged", "/reset-password?token=t"),
            "https://sb.example/reset-password?token=t"
        );
    }
}
