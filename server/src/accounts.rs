//! The accounts REST API under `/api/v1`: first-run setup, sign-in and sessions, the current
//! user, passwords, invitations, members, API keys and the workspace's profile.
//!
//! Invitations and reset links go out by email when SMTP is configured. A mail server that
//! fails does not undo anything: an invitation is still created (the answer says the email was
//! not sent, and carries the link to pass on by hand), and a reset request still answers the
//! same neutral 202 (the failure is logged as a warning).
//!
//! Rules live in `calling::accounts`; this module turns them into JSON, cookies and audit
//! entries, and applies the login rate limit. Every workspace-scoped endpoint takes the
//! workspace from the caller's [`Auth`], never from the request, so another workspace's ids
//! are simply not found.

use std::sync::Arc;

use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post};
use axum::{Extension, Json, Router};
use calling::Services;
use calling::accounts::sessions::{self, Origin};
use calling::accounts::{
    self, NewOwner, Permission, Role, api_keys, audit, invitations, mail, resets, users,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::auth::{self, Auth, Caller, CurrentUser, LoginLimiter, ResetLimiter};
use crate::error::ApiError;

type ApiResult<T = Response> = Result<T, ApiError>;

/// The accounts routes (relative to `/api/v1`), each router with its own login limiter.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/setup", get(setup_status).post(setup))
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/logout-everywhere", post(logout_everywhere))
        .route("/me", get(me))
        .route("/session/workspace", post(switch_workspace))
        .route("/password", post(change_password))
        .route("/password/reset", post(request_reset))
        .route("/password/reset/confirm", post(confirm_reset))
        .route("/invitations", get(list_invitations).post(invite))
        .route("/invitations/accept", post(accept_invitation))
        .route("/invitations/{id}", delete(revoke_invitation))
        .route("/members", get(list_members))
        .route("/members/{user_id}", patch(change_member_role).delete(remove_member))
        .route("/api-keys", get(list_api_keys).post(create_api_key))
        .route("/api-keys/{id}", delete(revoke_api_key))
        .route("/audit-log", get(audit_log))
        .route("/workspace", get(workspace_profile).put(update_workspace_profile))
        .layer(Extension(Arc::new(LoginLimiter::default())))
        .layer(Extension(Arc::new(ResetLimiter::default())))
}

/// The request's headers, method and peer, for cookies, CSRF checks and the audit log.
pub struct Meta(Parts);

impl<S: Send + Sync> FromRequestParts<S> for Meta {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Meta(parts.clone()))
    }
}

impl Meta {
    pub fn ip(&self) -> Option<String> {
        auth::client_ip(&self.0)
    }

    fn origin(&self) -> Origin {
        Origin {
            ip: self.ip(),
            user_agent: self
                .0
                .headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        }
    }

    /// `http(s)://host` as the client addressed us, for links we hand out.
    fn base_url(&self) -> String {
        let host = self
            .0
            .headers
            .get("x-forwarded-host")
            .or_else(|| self.0.headers.get(header::HOST))
            .and_then(|v| v.to_str().ok())
            .unwrap_or("localhost");
        let proto = self.0.headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()).unwrap_or("http");
        format!("{proto}://{host}")
    }
}

async fn audit_entry(
    services: &Services,
    workspace_id: Option<&str>,
    actor: &str,
    action: &str,
    target: Option<&str>,
    details: Value,
    meta: &Meta,
) -> ApiResult<()> {
    let ip = meta.ip();
    let entry = audit::NewEntry { workspace_id, actor, action, target, details, ip: ip.as_deref() };
    audit::record(&services.db, entry, services.clock.now()).await?;
    Ok(())
}

/// A JSON reply that also sets (or clears) the session cookie.
fn with_cookie(status: StatusCode, cookie: axum::http::HeaderValue, body: Value) -> Response {
    (status, [(header::SET_COOKIE, cookie)], Json(body)).into_response()
}

/// What sign-in style replies say about the session they started.
async fn session_body(services: &Services, signed_in: &sessions::SignedIn) -> ApiResult<Value> {
    let workspace = match &signed_in.session.workspace_id {
        Some(id) => Some(accounts::workspace(&services.db, id).await?),
        None => None,
    };
    Ok(json!({
        "user": signed_in.user,
        "workspace": workspace,
        "role": signed_in.role,
        "session_expires_at": signed_in.session.expires_at,
    }))
}

async fn setup_status(State(services): State<Services>) -> ApiResult<Json<Value>> {
    Ok(Json(json!({ "needed": accounts::setup_needed(&services.db).await? })))
}

#[derive(Deserialize)]
struct SetupRequest {
    email: String,
    password: String,
    display_name: Option<String>,
    workspace_name: Option<String>,
}

async fn setup(State(services): State<Services>, meta: Meta, Json(body): Json<SetupRequest>) -> ApiResult {
    auth::check_not_cross_site(&meta.0)?;
    let now = services.clock.now();
    let owner = NewOwner {
        email: body.email,
        display_name: body.display_name,
        password: body.password,
        workspace_name: body.workspace_name,
    };
    let (user, workspace) = accounts::setup(&services.db, owner, now).await?;
    tracing::info!(user = %user.id, workspace = %workspace.id, "first owner created");
    let (token, _) = sessions::create(&services.db, &user.id, &meta.origin(), now).await?;
    let signed_in = sessions::authenticate(&services.db, &token, now)
        .await?
        .ok_or_else(|| calling::Error::internal("a new session is not valid"))?;
    let body = session_body(&services, &signed_in).await?;
    Ok(with_cookie(StatusCode::CREATED, auth::session_cookie(&meta.0, &token), body))
}

#[derive(Deserialize)]
struct LoginRequest {
    email: String,
    password: String,
}

async fn login(
    State(services): State<Services>,
    Extension(limiter): Extension<Arc<LoginLimiter>>,
    meta: Meta,
    Json(body): Json<LoginRequest>,
) -> ApiResult {
    auth::check_not_cross_site(&meta.0)?;
    let now = services.clock.now();
    let ip = meta.ip();
    limiter.check(&body.email, ip.as_deref(), now)?;
    match sessions::login(&services.db, &body.email, &body.password, &meta.origin(), now).await {
        Ok((token, signed_in)) => {
            limiter.record_success(&body.email);
            let body = session_body(&services, &signed_in).await?;
            Ok(with_cookie(StatusCode::OK, auth::session_cookie(&meta.0, &token), body))
        }
        Err(err @ calling::Error::Unauthenticated { .. }) => {
            limiter.record_failure(&body.email, ip.as_deref(), now);
            tracing::info!(ip = ?ip, "failed sign-in");
            Err(err.into())
        }
        Err(err) => Err(err.into()),
    }
}

async fn logout(
    State(services): State<Services>,
    CurrentUser(signed_in): CurrentUser,
    meta: Meta,
) -> ApiResult {
    sessions::delete(&services.db, &signed_in.session.id).await?;
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, auth::clear_session_cookie(&meta.0))]).into_response())
}

async fn logout_everywhere(
    State(services): State<Services>,
    CurrentUser(signed_in): CurrentUser,
    meta: Meta,
) -> ApiResult {
    let ended = sessions::delete_all_for_user(&services.db, &signed_in.user.id, None).await?;
    let actor = format!("user:{}", signed_in.user.id);
    audit_entry(&services, None, &actor, "session.logout_everywhere", None, json!({ "ended": ended }), &meta)
        .await?;
    Ok(with_cookie(StatusCode::OK, auth::clear_session_cookie(&meta.0), json!({ "sessions_ended": ended })))
}

async fn me(State(services): State<Services>, caller: Caller) -> ApiResult<Json<Value>> {
    let db = &services.db;
    let (user, api_key, memberships, workspace_id, role) = match caller {
        Caller::Session(signed_in) => {
            let memberships = users::memberships(db, &signed_in.user.id).await?;
            let workspace_id = signed_in.session.workspace_id.clone().filter(|_| signed_in.role.is_some());
            (Some(signed_in.user), None, memberships, workspace_id, signed_in.role)
        }
        Caller::ApiKey(key) => {
            let workspace_id = Some(key.workspace_id.clone());
            let role = Some(key.role);
            (None, Some(key), Vec::new(), workspace_id, role)
        }
    };
    let workspace = match &workspace_id {
        Some(id) => Some(accounts::workspace(db, id).await?),
        None => None,
    };
    let permissions: Vec<Permission> = role
        .map(|role| Permission::ALL.into_iter().filter(|p| role.allows(*p)).collect())
        .unwrap_or_default();
    Ok(Json(json!({
        "user": user,
        "api_key": api_key,
        "memberships": memberships,
        "workspace": workspace,
        "role": role,
        "permissions": permissions,
    })))
}

#[derive(Deserialize)]
struct SwitchRequest {
    workspace_id: String,
}

async fn switch_workspace(
    State(services): State<Services>,
    CurrentUser(signed_in): CurrentUser,
    Json(body): Json<SwitchRequest>,
) -> ApiResult<Json<Value>> {
    let role = sessions::switch_workspace(&services.db, &signed_in.session, &body.workspace_id).await?;
    let workspace = accounts::workspace(&services.db, &body.workspace_id).await?;
    Ok(Json(json!({ "workspace": workspace, "role": role })))
}

#[derive(Deserialize)]
struct ChangePassword {
    current_password: String,
    new_password: String,
}

async fn change_password(
    State(services): State<Services>,
    CurrentUser(signed_in): CurrentUser,
    meta: Meta,
    Json(body): Json<ChangePassword>,
) -> ApiResult {
    let now = services.clock.now();
    sessions::change_password(
        &services.db,
        &signed_in.session,
        &body.current_password,
        &body.new_password,
        now,
    )
    .await?;
    let actor = format!("user:{}", signed_in.user.id);
    audit_entry(&services, None, &actor, "password.changed", Some(&actor), json!({}), &meta).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
struct ResetRequest {
    email: String,
}

/// Always 202, whether or not the email has an account, so the answer reveals nothing.
async fn request_reset(
    State(state): State<AppState>,
    Extension(limiter): Extension<Arc<ResetLimiter>>,
    meta: Meta,
    Json(body): Json<ResetRequest>,
) -> ApiResult {
    let services = &state.services;
    let now = services.clock.now();
    let ip = meta.ip();
    limiter.0.check(&body.email, ip.as_deref(), now)?;
    limiter.0.record_failure(&body.email, ip.as_deref(), now);
    if let Some((token, user)) = resets::request(&services.db, &body.email, now).await? {
        let actor = format!("user:{}", user.id);
        audit_entry(services, None, "anonymous", "password.reset_requested", Some(&actor), json!({}), &meta)
            .await?;
        let mailer = &services.mailer;
        let link = mailer.link(&meta.base_url(), &format!("/reset-password?token={token}"));
        if mailer.is_configured() {
            // Sent after answering, so the answer takes as long whether or not the email has an
            // account; a failure is logged by the mailer.
            let email = mail::password_reset(&user.email, &link, now + resets::LIFETIME);
            let mailer = mailer.clone();
            tokio::spawn(async move { mailer.send(&email).await });
        } else if state.sandbox.is_some() {
            // Sandbox installs have no mail transport; the operator reads the link in the log.
            tracing::info!(email = %user.email, %link, "password reset link (sandbox mode)");
        } else {
            tracing::warn!(user = %user.id, "password reset requested, but no mail transport is configured (SMTP_URL)");
        }
    }
    Ok((StatusCode::ACCEPTED, Json(json!({ "accepted": true }))).into_response())
}

#[derive(Deserialize)]
struct ResetConfirm {
    token: String,
    new_password: String,
}

async fn confirm_reset(
    State(services): State<Services>,
    meta: Meta,
    Json(body): Json<ResetConfirm>,
) -> ApiResult {
    auth::check_not_cross_site(&meta.0)?;
    let user = resets::confirm(&services.db, &body.token, &body.new_password, services.clock.now()).await?;
    let actor = format!("user:{}", user.id);
    audit_entry(&services, None, &actor, "password.reset", Some(&actor), json!({}), &meta).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
struct InviteRequest {
    email: String,
    role: String,
}

/// Owners only hand out owner; nobody hands out more than they hold.
fn check_may_grant(auth: &Auth, role: Role) -> ApiResult<()> {
    if auth.role.may_grant(role) {
        Ok(())
    } else {
        Err(ApiError(calling::Error::forbidden(format!("a {} cannot grant the {role} role", auth.role))))
    }
}

async fn invite(
    State(services): State<Services>,
    auth: Auth,
    meta: Meta,
    Json(body): Json<InviteRequest>,
) -> ApiResult {
    auth.require(Permission::ManageTeam)?;
    let role: Role = body.role.parse()?;
    check_may_grant(&auth, role)?;
    let now = services.clock.now();
    let (token, invitation) =
        invitations::create(&services.db, &auth.workspace_id, &body.email, role, &auth.actor(), now).await?;
    let target = format!("invitation:{}", invitation.id);
    let details = json!({ "email": invitation.email, "role": role });
    audit_entry(
        &services,
        Some(&auth.workspace_id),
        &auth.actor(),
        "member.invited",
        Some(&target),
        details,
        &meta,
    )
    .await?;
    // Emailed when SMTP is configured; either way the inviter sees the link this once, to pass
    // it on by hand when the email cannot be sent.
    let accept_url = services.mailer.link(&meta.base_url(), &format!("/accept-invitation?token={token}"));
    let email =
        invitations::email(&services.db, &services.mailer, &invitation, auth.user_id(), &accept_url).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "invitation": invitation, "token": token, "accept_url": accept_url, "email": email })),
    )
        .into_response())
}

async fn list_invitations(State(services): State<Services>, auth: Auth) -> ApiResult<Json<Value>> {
    auth.require(Permission::ManageTeam)?;
    Ok(Json(json!({ "invitations": invitations::list(&services.db, &auth.workspace_id).await? })))
}

async fn revoke_invitation(
    State(services): State<Services>,
    auth: Auth,
    meta: Meta,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    auth.require(Permission::ManageTeam)?;
    let invitation = invitations::revoke(&services.db, &auth.workspace_id, &id, services.clock.now()).await?;
    let target = format!("invitation:{id}");
    audit_entry(
        &services,
        Some(&auth.workspace_id),
        &auth.actor(),
        "invitation.revoked",
        Some(&target),
        json!({}),
        &meta,
    )
    .await?;
    Ok(Json(json!({ "invitation": invitation })))
}

#[derive(Deserialize)]
struct AcceptRequest {
    token: String,
    password: String,
    display_name: Option<String>,
}

/// Accepts an invitation and signs in, in the workspace just joined.
async fn accept_invitation(
    State(services): State<Services>,
    meta: Meta,
    Json(body): Json<AcceptRequest>,
) -> ApiResult {
    auth::check_not_cross_site(&meta.0)?;
    let now = services.clock.now();
    let acceptance = invitations::Acceptance {
        token: body.token,
        display_name: body.display_name,
        password: body.password,
    };
    let ip = meta.ip();
    let (user, workspace_id, _) = invitations::accept(&services.db, acceptance, ip.as_deref(), now).await?;
    let (token, session) = sessions::create(&services.db, &user.id, &meta.origin(), now).await?;
    sessions::switch_workspace(&services.db, &session, &workspace_id).await?;
    let signed_in = sessions::authenticate(&services.db, &token, now)
        .await?
        .ok_or_else(|| calling::Error::internal("a new session is not valid"))?;
    let body = session_body(&services, &signed_in).await?;
    Ok(with_cookie(StatusCode::OK, auth::session_cookie(&meta.0, &token), body))
}

async fn list_members(State(services): State<Services>, auth: Auth) -> ApiResult<Json<Value>> {
    auth.require(Permission::ViewTeam)?;
    Ok(Json(json!({ "members": users::members(&services.db, &auth.workspace_id).await? })))
}

#[derive(Deserialize)]
struct RoleChange {
    role: String,
}

async fn change_member_role(
    State(services): State<Services>,
    auth: Auth,
    meta: Meta,
    Path(user_id): Path<String>,
    Json(body): Json<RoleChange>,
) -> ApiResult<Json<Value>> {
    auth.require(Permission::ManageTeam)?;
    let role: Role = body.role.parse()?;
    let current = users::member(&services.db, &auth.workspace_id, &user_id).await?;
    check_may_grant(&auth, role)?;
    if current.role == Role::Owner {
        auth.require(Permission::ManageOwners)?;
    }
    let member =
        users::change_role(&services.db, &auth.workspace_id, &user_id, role, services.clock.now()).await?;
    let target = format!("user:{user_id}");
    let details = json!({ "from": current.role, "to": role });
    audit_entry(
        &services,
        Some(&auth.workspace_id),
        &auth.actor(),
        "member.role_changed",
        Some(&target),
        details,
        &meta,
    )
    .await?;
    Ok(Json(json!({ "member": member })))
}

/// Removes a member; anyone may also remove themselves (leave), except the last owner.
async fn remove_member(
    State(services): State<Services>,
    auth: Auth,
    meta: Meta,
    Path(user_id): Path<String>,
) -> ApiResult {
    let current = users::member(&services.db, &auth.workspace_id, &user_id).await?;
    if auth.user_id() != Some(user_id.as_str()) {
        auth.require(Permission::ManageTeam)?;
        if current.role == Role::Owner {
            auth.require(Permission::ManageOwners)?;
        }
    }
    users::remove_member(&services.db, &auth.workspace_id, &user_id).await?;
    let target = format!("user:{user_id}");
    let details = json!({ "email": current.email, "role": current.role });
    audit_entry(
        &services,
        Some(&auth.workspace_id),
        &auth.actor(),
        "member.removed",
        Some(&target),
        details,
        &meta,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn list_api_keys(State(services): State<Services>, auth: Auth) -> ApiResult<Json<Value>> {
    auth.require(Permission::ManageApiKeys)?;
    Ok(Json(json!({ "api_keys": api_keys::list(&services.db, &auth.workspace_id).await? })))
}

#[derive(Deserialize)]
struct NewApiKey {
    name: String,
    role: String,
}

async fn create_api_key(
    State(services): State<Services>,
    auth: Auth,
    meta: Meta,
    Json(body): Json<NewApiKey>,
) -> ApiResult {
    auth.require(Permission::ManageApiKeys)?;
    let role: Role = body.role.parse()?;
    check_may_grant(&auth, role)?;
    let now = services.clock.now();
    let (key, api_key) =
        api_keys::create(&services.db, &auth.workspace_id, &body.name, role, &auth.actor(), now).await?;
    let target = format!("api_key:{}", api_key.id);
    let details = json!({ "name": api_key.name, "role": role, "prefix": api_key.prefix });
    audit_entry(
        &services,
        Some(&auth.workspace_id),
        &auth.actor(),
        "api_key.created",
        Some(&target),
        details,
        &meta,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(json!({ "api_key": api_key, "key": key }))).into_response())
}

async fn revoke_api_key(
    State(services): State<Services>,
    auth: Auth,
    meta: Meta,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    auth.require(Permission::ManageApiKeys)?;
    let api_key = api_keys::revoke(&services.db, &auth.workspace_id, &id, services.clock.now()).await?;
    let target = format!("api_key:{id}");
    audit_entry(
        &services,
        Some(&auth.workspace_id),
        &auth.actor(),
        "api_key.revoked",
        Some(&target),
        json!({}),
        &meta,
    )
    .await?;
    Ok(Json(json!({ "api_key": api_key })))
}

async fn audit_log(State(services): State<Services>, auth: Auth) -> ApiResult<Json<Value>> {
    auth.require(Permission::ViewAuditLog)?;
    Ok(Json(json!({ "entries": audit::list(&services.db, &auth.workspace_id, 200).await? })))
}

/// `GET /workspace`: the current workspace's profile, for anyone in it.
async fn workspace_profile(State(services): State<Services>, auth: Auth) -> ApiResult<Json<Value>> {
    auth.require(Permission::ViewTeam)?;
    Ok(Json(json!({ "workspace": accounts::workspace(&services.db, &auth.workspace_id).await? })))
}

#[derive(Deserialize)]
struct ProfileChange {
    name: String,
}

/// `PUT /workspace`: renames the current workspace (owners and admins), audited.
async fn update_workspace_profile(
    State(services): State<Services>,
    auth: Auth,
    meta: Meta,
    Json(body): Json<ProfileChange>,
) -> ApiResult<Json<Value>> {
    auth.require(Permission::ChangeSettings)?;
    let (workspace, before) =
        calling::workspace::rename(&services.db, &auth.workspace_id, &body.name).await?;
    if before != workspace.name {
        let target = format!("workspace:{}", workspace.id);
        let details = json!({ "name": { "from": before, "to": workspace.name } });
        audit_entry(
            &services,
            Some(&workspace.id),
            &auth.actor(),
            "workspace.updated",
            Some(&target),
            details,
            &meta,
        )
        .await?;
    }
    Ok(Json(json!({ "workspace": workspace })))
}
