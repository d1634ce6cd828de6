//! The browser's calls to Switchboard's own REST API (`/api/v1/…`), for the actions that
//! belong to the API rather than to a page: signing in and out, first-run setup, and the
//! answer bridge's call actions. Going through the API keeps one implementation of each action —
//! its rate limits, CSRF rule, cookies and audit entries — for the pages and integrators alike.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// A refusal as the API words it: `{"error":{"code","message"}}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiRefusal {
    pub status: u16,
    pub code: String,
    pub message: String,
    /// The field a validation error names (`details.field`), so a form can put it there.
    pub field: Option<String>,
}

impl ApiRefusal {
    /// What the user reads.
    pub fn text(&self) -> String {
        self.message.clone()
    }

    fn transport(message: impl Into<String>) -> Self {
        ApiRefusal { status: 0, code: "network_error".into(), message: message.into(), field: None }
    }
}

/// `POST path` with a JSON body; the JSON answer, or the API's refusal.
pub async fn post<B: Serialize, T: DeserializeOwned>(path: &str, body: &B) -> Result<T, ApiRefusal> {
    #[cfg(feature = "hydrate")]
    {
        let request = gloo_net::http::Request::post(path)
            .json(body)
            .map_err(|err| ApiRefusal::transport(format!("could not encode the request: {err}")))?;
        answer(request.send().await).await
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = (path, body);
        Err(ApiRefusal::transport("this action runs in the browser"))
    }
}

/// `PUT path` with a JSON body; the JSON answer, or the API's refusal.
pub async fn put<B: Serialize, T: DeserializeOwned>(path: &str, body: &B) -> Result<T, ApiRefusal> {
    #[cfg(feature = "hydrate")]
    {
        let request = gloo_net::http::Request::put(path)
            .json(body)
            .map_err(|err| ApiRefusal::transport(format!("could not encode the request: {err}")))?;
        answer(request.send().await).await
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = (path, body);
        Err(ApiRefusal::transport("this action runs in the browser"))
    }
}

/// `POST path` with a form's fields as multipart/form-data (file inputs included); the JSON
/// answer, or the API's refusal.
#[cfg(feature = "hydrate")]
pub async fn post_form<T: DeserializeOwned>(
    path: &str,
    form: &web_sys::HtmlFormElement,
) -> Result<T, ApiRefusal> {
    let data = web_sys::FormData::new_with_form(form)
        .map_err(|_| ApiRefusal::transport("the browser could not read the form"))?;
    let request = gloo_net::http::Request::post(path)
        .body(data)
        .map_err(|err| ApiRefusal::transport(format!("could not encode the request: {err}")))?;
    answer(request.send().await).await
}

/// `GET path`; the JSON answer, or the API's refusal.
pub async fn get<T: DeserializeOwned>(path: &str) -> Result<T, ApiRefusal> {
    #[cfg(feature = "hydrate")]
    {
        answer(gloo_net::http::Request::get(path).send().await).await
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = path;
        Err(ApiRefusal::transport("this action runs in the browser"))
    }
}

#[cfg(feature = "hydrate")]
async fn answer<T: DeserializeOwned>(
    sent: Result<gloo_net::http::Response, gloo_net::Error>,
) -> Result<T, ApiRefusal> {
    let response =
        sent.map_err(|_| ApiRefusal::transport("Switchboard did not answer; check your connection"))?;
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    if (200..300).contains(&status) {
        let text = if text.trim().is_empty() { "null" } else { &text };
        return serde_json::from_str(text)
            .map_err(|err| ApiRefusal::transport(format!("unexpected answer from Switchboard: {err}")));
    }
    Err(refusal(status, &text))
}

/// Reads the API's error envelope; anything else (a proxy's error page) becomes a plain
/// message with the status.
pub fn refusal(status: u16, body: &str) -> ApiRefusal {
    let parsed: Option<serde_json::Value> = serde_json::from_str(body).ok();
    let error = parsed.as_ref().and_then(|value| value.get("error"));
    let field = |name: &str| error.and_then(|error| error.get(name)).and_then(|value| value.as_str());
    let named = error
        .and_then(|error| error.pointer("/details/field"))
        .and_then(|value| value.as_str())
        .map(str::to_owned);
    match (field("code"), field("message")) {
        (Some(code), Some(message)) => {
            ApiRefusal { status, code: code.to_owned(), message: message.to_owned(), field: named }
        }
        _ => ApiRefusal {
            status,
            code: "http_error".into(),
            message: format!("Switchboard answered HTTP {status}"),
            field: None,
        },
    }
}

/// Sends the browser to `url` with a full page load, so the server renders it with the new
/// session cookie.
pub fn go_to(url: &str) {
    #[cfg(feature = "hydrate")]
    {
        let _ = leptos::prelude::window().location().set_href(url);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = url;
}

/// Only same-site paths are followed after sign-in, so a crafted `?next=` cannot send the
/// user to another site.
pub fn safe_next(next: Option<String>) -> String {
    next.filter(|next| next.starts_with('/') && !next.starts_with("//") && !next.contains('\\'))
        .unwrap_or_else(|| "/calling".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_error_envelope_is_read_and_anything_else_is_named_by_its_status() {
        let refusal_ =
            refusal(401, r#"{"error":{"code":"invalid_credentials","message":"Wrong email or password."}}"#);
        assert_eq!(refusal_.code, "invalid_credentials");
        assert_eq!(refusal_.text(), "Wrong email or password.");
        let invalid = refusal(
            422,
            r#"{"error":{"code":"validation_failed","message":"password: too short","details":{"field":"password"}}}"#,
        );
        assert_eq!(invalid.field.as_deref(), Some("password"));
        let gateway = refusal(502, "<html>Bad gateway</html>");
        assert_eq!(gateway.code, "http_error");
        assert_eq!(gateway.text(), "Switchboard answered HTTP 502");
    }

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert_eq!(safe_next(Some("/calling/calls?status=missed".into())), "/calling/calls?status=missed");
        assert_eq!(safe_next(Some("https://evil.example".into())), "/calling");
        assert_eq!(safe_next(Some("//evil.example".into())), "/calling");
        assert_eq!(safe_next(Some("/\\evil.example".into())), "/calling");
        assert_eq!(safe_next(None), "/calling");
    }
}
