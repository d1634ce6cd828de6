//! Who is calling: the session cookie or API key behind a request, as axum extractors, plus
//! the CSRF rule, the session cookie itself and the login rate limiter.
//!
//! Handlers ask for [`Auth`] (a workspace principal: a signed-in member or an API key, with
//! the workspace and role) and call [`Auth::require`] with a [`Permission`]; or for
//! [`CurrentUser`] when the action is about the person, not the workspace (logout, change
//! password, switch workspace):
//!
//! ```text
//! async fn members(auth: Auth, State(services): State<Services>) -> Result<Json<Vec<Member>>, ApiError> {
//!     auth.require(Permission::ViewTeam)?;                  // 403 `forbidden` unless the role allows it
//!     Ok(Json(users::members(&services.db, &auth.workspace_id).await?))  // always this workspace
//! }
//! ```
//!
//! Missing or invalid credentials are 401 `unauthenticated`; a role without the permission is
//! 403 `forbidden`. The extractors only need [`Services`] from the state, so Leptos server
//! functions get them with `leptos_axum::extract_with_state::<Auth, Services>(&services)`.
//!
//! **CSRF.** The session cookie is `SameSite=Lax`, and on top of that every cookie-authenticated
//! request that changes something (any method but GET, HEAD, OPTIONS) must carry an `Origin`
//! header naming this server (its `Host`, or `X-Forwarded-Host` behind a proxy) or
//! `Sec-Fetch-Site: same-origin`; otherwise it is refused with 403 `csrf_failed`. Browsers send
//! both on every `fetch` and form post, so the app's own requests pass and another site's
//! cannot. API-key requests are exempt: browsers never attach an `Authorization` header on
//! their own. Sign-in style endpoints without a session (setup, login, accepting an
//! invitation) refuse a foreign `Origin` the same way, which stops login CSRF, and accept
//! requests without one (curl, scripts).

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Mutex;

use axum::extract::{ConnectInfo, FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use calling::Services;
use calling::accounts::api_keys::{self, ApiKey};
use calling::accounts::sessions::{self, SignedIn};
use calling::accounts::{Permission, Role};

use crate::error::ApiError;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "sb_session";

/// A request's credentials, resolved: a live session or a live API key.
#[derive(Clone, Debug)]
pub enum Caller {
    Session(Box<SignedIn>),
    ApiKey(ApiKey),
}

/// Who acts on a workspace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    /// A signed-in member, through their session.
    User { user_id: String, session_id: String },
    /// An API key of the workspace.
    ApiKey { api_key_id: String },
}

/// A principal acting on a workspace with a role: what most handlers need.
#[derive(Clone, Debug)]
pub struct Auth {
    pub principal: Principal,
    pub workspace_id: String,
    pub role: Role,
}

impl Auth {
    /// Ok when the role allows `permission`; 403 `forbidden` otherwise.
    pub fn require(&self, permission: Permission) -> Result<(), ApiError> {
        require(self.role, permission)
    }

    /// The signed-in user's id (`None` for an API key).
    pub fn user_id(&self) -> Option<&str> {
        match &self.principal {
            Principal::User { user_id, .. } => Some(user_id),
            Principal::ApiKey { .. } => None,
        }
    }

    /// The API key's id (`None` for a user).
    pub fn api_key_id(&self) -> Option<&str> {
        match &self.principal {
            Principal::ApiKey { api_key_id } => Some(api_key_id),
            Principal::User { .. } => None,
        }
    }

    /// `user:<id>` or `api_key:<id>`, as the audit log names actors.
    pub fn actor(&self) -> String {
        match &self.principal {
            Principal::User { user_id, .. } => format!("user:{user_id}"),
            Principal::ApiKey { api_key_id } => format!("api_key:{api_key_id}"),
        }
    }
}

/// Ok when `role` allows `permission`; 403 `forbidden` otherwise.
pub fn require(role: Role, permission: Permission) -> Result<(), ApiError> {
    if role.allows(permission) {
        Ok(())
    } else {
        Err(ApiError(calling::Error::forbidden(format!("your role ({role}) does not allow this"))))
    }
}

/// A signed-in person (session cookie only; API keys are refused).
#[derive(Clone, Debug)]
pub struct CurrentUser(pub SignedIn);

impl<S> FromRequestParts<S> for Caller
where
    S: Send + Sync,
    Services: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(cached) = parts.extensions.get::<Caller>() {
            return Ok(cached.clone());
        }
        let services = Services::from_ref(state);
        let now = services.clock.now();
        let caller = if let Some(presented) = bearer(&parts.headers) {
            let key = api_keys::authenticate(&services.db, presented, now)
                .await?
                .ok_or_else(|| unauthenticated("invalid or revoked API key"))?;
            Caller::ApiKey(key)
        } else if let Some(token) = session_token(&parts.headers) {
            let signed_in = sessions::authenticate(&services.db, token, now)
                .await?
                .ok_or_else(|| unauthenticated("your session has expired; sign in again"))?;
            check_same_origin(parts)?;
            Caller::Session(Box::new(signed_in))
        } else {
            return Err(unauthenticated("sign in or send an API key (Authorization: Bearer sb_live_…)"));
        };
        parts.extensions.insert(caller.clone());
        Ok(caller)
    }
}

impl<S> FromRequestParts<S> for CurrentUser
where
    S: Send + Sync,
    Services: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Caller::from_request_parts(parts, state).await? {
            Caller::Session(signed_in) => Ok(CurrentUser(*signed_in)),
            Caller::ApiKey(_) => Err(unauthenticated("this endpoint needs a signed-in user, not an API key")),
        }
    }
}

impl<S> FromRequestParts<S> for Auth
where
    S: Send + Sync,
    Services: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Caller::from_request_parts(parts, state).await? {
            Caller::ApiKey(key) => Ok(Auth {
                principal: Principal::ApiKey { api_key_id: key.id },
                workspace_id: key.workspace_id,
                role: key.role,
            }),
            Caller::Session(signed_in) => match (signed_in.session.workspace_id, signed_in.role) {
                (Some(workspace_id), Some(role)) => Ok(Auth {
                    principal: Principal::User {
                        user_id: signed_in.user.id,
                        session_id: signed_in.session.id,
                    },
                    workspace_id,
                    role,
                }),
                _ => Err(ApiError(calling::Error::forbidden(
                    "you are not a member of this workspace; switch to one of yours",
                ))),
            },
        }
    }
}

fn unauthenticated(message: &str) -> ApiError {
    ApiError(calling::Error::unauthenticated(message))
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|token| !token.is_empty())
}

fn session_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| *name == SESSION_COOKIE && !value.is_empty())
        .map(|(_, value)| value)
}

fn csrf_failed() -> ApiError {
    ApiError(calling::Error::Forbidden {
        code: "csrf_failed",
        message: "this request did not come from Switchboard's own pages (Origin missing or foreign)".into(),
    })
}

/// The host (with port) the client addressed.
fn request_host(parts: &Parts) -> Option<String> {
    let forwarded = parts.headers.get("x-forwarded-host").and_then(|value| value.to_str().ok());
    let host = parts.headers.get(header::HOST).and_then(|value| value.to_str().ok());
    forwarded
        .or(host)
        .map(|host| host.split(',').next().unwrap_or(host).trim().to_ascii_lowercase())
        .or_else(|| parts.uri.authority().map(|authority| authority.as_str().to_ascii_lowercase()))
}

/// `Some(true)` when the `Origin` names this server, `Some(false)` when it names another,
/// `None` when absent.
fn origin_matches(parts: &Parts) -> Option<bool> {
    let origin = parts.headers.get(header::ORIGIN)?.to_str().ok()?.trim().to_ascii_lowercase();
    let authority = origin.split_once("://").map(|(_, rest)| rest.trim_end_matches('/').to_owned());
    Some(authority.is_some() && authority == request_host(parts))
}

fn sec_fetch_site(parts: &Parts) -> Option<&str> {
    parts.headers.get("sec-fetch-site").and_then(|value| value.to_str().ok())
}

/// The CSRF rule for cookie-authenticated requests (see the module docs).
pub fn check_same_origin(parts: &Parts) -> Result<(), ApiError> {
    if matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    if sec_fetch_site(parts) == Some("same-origin") || origin_matches(parts) == Some(true) {
        return Ok(());
    }
    Err(csrf_failed())
}

/// The weaker rule for requests without a session (setup, login, accept): refuse only what a
/// browser marks as coming from another site.
pub fn check_not_cross_site(parts: &Parts) -> Result<(), ApiError> {
    let cross_site = matches!(sec_fetch_site(parts), Some("cross-site" | "same-site"));
    if cross_site || origin_matches(parts) == Some(false) {
        return Err(csrf_failed());
    }
    Ok(())
}

/// Middleware for the Leptos pages and server functions: when the request carries a live
/// session cookie (and, for writes, passes the CSRF rule), the signed-in member is put in the
/// request's extensions as a [`SignedIn`], where the app's server functions find it. Anything
/// else passes through without one, and the app answers "sign in". The client's address goes
/// in too, for the audit entries the pages write.
pub async fn attach_session(
    axum::extract::State(services): axum::extract::State<Services>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let (mut parts, body) = request.into_parts();
    // Static files (the WASM, JS and CSS bundles) need nobody's identity.
    let is_static = parts.uri.path().starts_with("/pkg/");
    if let Some(ip) = client_ip(&parts) {
        parts.extensions.insert(calling::accounts::audit::ClientIp(ip));
    }
    if !is_static
        && session_token(&parts.headers).is_some()
        && let Ok(Caller::Session(signed_in)) = Caller::from_request_parts(&mut parts, &services).await
    {
        parts.extensions.insert(*signed_in);
    }
    next.run(axum::extract::Request::from_parts(parts, body)).await
}

/// The peer's IP address, when the server was started with connection info.
pub fn client_ip(parts: &Parts) -> Option<String> {
    parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(address)| address.ip().to_string())
}

/// Whether the client talks to a loopback name, where cookies cannot be `Secure` (plain HTTP).
fn is_local(parts: &Parts) -> bool {
    let host = request_host(parts).unwrap_or_default();
    let name = if host.starts_with('[') {
        host.split(']').next().map(|name| format!("{name}]")).unwrap_or_default()
    } else {
        host.split(':').next().unwrap_or_default().to_owned()
    };
    matches!(name.as_str(), "localhost" | "127.0.0.1" | "[::1]")
}

/// The `Set-Cookie` value carrying a new session token.
pub fn session_cookie(parts: &Parts, token: &str) -> HeaderValue {
    let max_age = sessions::ABSOLUTE_LIFETIME / 1000;
    let secure = if is_local(parts) { "" } else { "; Secure" };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={token}; HttpOnly; SameSite=Lax; Path=/; Max-Age={max_age}{secure}"
    ))
    .expect("a base64url token is a valid header value")
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn clear_session_cookie(parts: &Parts) -> HeaderValue {
    let secure = if is_local(parts) { "" } else { "; Secure" };
    HeaderValue::from_str(&format!("{SESSION_COOKIE}=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0{secure}"))
        .expect("a static header value")
}

/// Failed sign-ins per account and per IP in a sliding window, in memory (per process).
///
/// Only failures count, so a user who types their password right is never slowed down; a
/// success clears the account's failures.
#[derive(Debug)]
pub struct LoginLimiter {
    failures: Mutex<HashMap<String, VecDeque<i64>>>,
    window_ms: i64,
    per_account: usize,
    per_ip: usize,
}

impl Default for LoginLimiter {
    /// 5 failures per account and 20 per IP address in 15 minutes.
    fn default() -> Self {
        LoginLimiter::new(15 * 60 * 1000, 5, 20)
    }
}

impl LoginLimiter {
    pub fn new(window_ms: i64, per_account: usize, per_ip: usize) -> Self {
        LoginLimiter { failures: Mutex::new(HashMap::new()), window_ms, per_account, per_ip }
    }

    fn keys(email: &str, ip: Option<&str>) -> [(String, bool); 2] {
        [
            (format!("account:{}", email.trim().to_lowercase()), true),
            (format!("ip:{}", ip.unwrap_or("unknown")), false),
        ]
    }

    /// 429 `rate_limited` when either the account or the IP has used up its failures.
    pub fn check(&self, email: &str, ip: Option<&str>, now: i64) -> Result<(), calling::Error> {
        let mut failures = self.failures.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut wait_ms = 0;
        for (key, is_account) in Self::keys(email, ip) {
            let limit = if is_account { self.per_account } else { self.per_ip };
            if let Some(times) = failures.get_mut(&key) {
                while times.front().is_some_and(|&at| at + self.window_ms <= now) {
                    times.pop_front();
                }
                if times.len() >= limit {
                    // The window frees a slot when the oldest counted failure leaves it.
                    let oldest = times[times.len() - limit];
                    wait_ms = wait_ms.max(oldest + self.window_ms - now);
                }
            }
        }
        if wait_ms > 0 {
            let retry_after_seconds = u64::try_from((wait_ms + 999) / 1000).unwrap_or(1).max(1);
            return Err(calling::Error::RateLimited { retry_after_seconds });
        }
        Ok(())
    }

    /// Counts a failed attempt.
    pub fn record_failure(&self, email: &str, ip: Option<&str>, now: i64) {
        let mut failures = self.failures.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        // Bound memory under a spray of distinct emails: forget keys with nothing recent.
        if failures.len() > 100_000 {
            let window = self.window_ms;
            failures.retain(|_, times| times.back().is_some_and(|&at| at + window > now));
        }
        for (key, _) in Self::keys(email, ip) {
            failures.entry(key).or_default().push_back(now);
        }
    }

    /// Forgets an account's failures after a successful sign-in.
    pub fn record_success(&self, email: &str) {
        let mut failures = self.failures.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        failures.remove(&format!("account:{}", email.trim().to_lowercase()));
    }
}

/// Password reset requests per email and per IP (every request counts, known email or not,
/// so the limit reveals nothing): 3 per email and 20 per IP address in 15 minutes.
#[derive(Debug)]
pub struct ResetLimiter(pub LoginLimiter);

impl Default for ResetLimiter {
    fn default() -> Self {
        ResetLimiter(LoginLimiter::new(15 * 60 * 1000, 3, 20))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limiter_counts_failures_in_a_sliding_window() {
        let limiter = LoginLimiter::new(60_000, 3, 5);
        for at in 0..3 {
            limiter.check("a@x.io", Some("1.1.1.1"), at * 1000).unwrap();
            limiter.record_failure("A@x.io", Some("1.1.1.1"), at * 1000);
        }
        let err = limiter.check("a@x.io", Some("2.2.2.2"), 3000).unwrap_err();
        assert!(matches!(err, calling::Error::RateLimited { retry_after_seconds: 57 }), "{err:?}");
        // Another account from the same IP still has two tries left, then the IP is blocked.
        limiter.check("b@x.io", Some("1.1.1.1"), 3000).unwrap();
        limiter.record_failure("b@x.io", Some("1.1.1.1"), 3000);
        limiter.record_failure("c@x.io", Some("1.1.1.1"), 3000);
        assert!(limiter.check("d@x.io", Some("1.1.1.1"), 3000).is_err());
        // Once the oldest failure leaves the window, the account may try again.
        limiter.check("a@x.io", Some("3.3.3.3"), 60_001).unwrap();
        limiter.record_success("a@x.io");
        limiter.check("a@x.io", Some("3.3.3.3"), 3000).unwrap();
    }
}
