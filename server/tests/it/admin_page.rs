//! The `/admin` panel's server functions over real HTTP, sent the way the hydrated page sends
//! them (URL-encoded form fields) with each member's session cookie: every role check of the REST
//! API holds here too — agents read the team and nothing else, admins neither grant nor touch
//! owners, the last owner stays — and every change is audited as the REST API audits it.

use crate::support;

use app::pages::admin::server_fns::{
    ChangeMemberRole, CreateAdminApiKey, InviteMember, ListAdminApiKeys, ListAuditEntries, LoadTeam,
    RemoveTeamMember, RevokeAdminApiKey, RevokeTeamInvitation,
};
use calling::Services;
use calling::accounts::{self, NewOwner, Role, audit, invitations, sessions};
use leptos::server_fn::ServerFn;
use reqwest::StatusCode;
use serde_json::Value;
use support::Sandbox;

/// A signed-in browser: its session cookie, and the page's own `Origin` on every call.
pub(crate) struct Browser {
    base: String,
    cookie: String,
    client: reqwest::Client,
}

impl Browser {
    pub(crate) async fn sign_in(sandbox: &Sandbox, user_id: &str) -> Browser {
        let services = sandbox.services();
        let now = services.clock.now();
        let (token, session) =
            sessions::create(&services.db, user_id, &sessions::Origin::default(), now).await.unwrap();
        sessions::switch_workspace(&services.db, &session, &sandbox.workspace.id).await.unwrap();
        Browser {
            base: sandbox.server.url.clone(),
            cookie: format!("{}={token}", server::auth::SESSION_COOKIE),
            client: reqwest::Client::new(),
        }
    }

    /// An `ActionForm` submission: `fields` URL-encoded.
    pub(crate) async fn form(&self, path: &str, fields: &[(&str, &str)]) -> (StatusCode, Value) {
        self.send(self.post(path).form(fields)).await
    }

    /// A call of a server function that takes JSON (`input = Json`).
    pub(crate) async fn json(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        self.send(self.post(path).json(body)).await
    }

    fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.client
            .post(format!("{}{path}", self.base))
            .header("Cookie", &self.cookie)
            .header("Origin", &self.base)
            .header("Accept", "application/json")
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let reply = request.send().await.unwrap();
        let status = reply.status();
        let text = reply.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    pub(crate) async fn ok(&self, path: &str, fields: &[(&str, &str)]) -> Value {
        let (status, body) = self.form(path, fields).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        body
    }

    /// A refusal's status and message.
    pub(crate) async fn refused(&self, path: &str, fields: &[(&str, &str)]) -> (StatusCode, String) {
        let (status, body) = self.form(path, fields).await;
        assert!(!status.is_success(), "{path} {fields:?} was allowed: {body}");
        (status, body.to_string())
    }
}

/// Adds a member with `role` the way people join: an invitation, accepted.
pub(crate) async fn join(services: &Services, workspace_id: &str, email: &str, role: Role) -> String {
    let now = services.clock.now();
    let (token, _) = invitations::create(&services.db, workspace_id, email, role, "cli", now).await.unwrap();
    let acceptance = invitations::Acceptance {
        token,
        display_name: Some(email.split('@').next().unwrap().to_owned()),
        password: "a long enough password".into(),
    };
    invitations::accept(&services.db, acceptance, None, now).await.unwrap().0.id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_panel_applies_the_rest_apis_role_rules() {
    let sandbox = Sandbox::start(|_| {}).await;
    let services = sandbox.services();
    let db = &services.db;
    let owner = NewOwner {
        email: "owner@acme.example".into(),
        display_name: Some("Olivia Owner".into()),
        password: "owner-password-long".into(),
        workspace_name: None,
    };
    let (owner, _) = accounts::setup(db, owner, services.clock.now()).await.unwrap();
    let workspace = sandbox.workspace.id.clone();
    let admin_id = join(services, &workspace, "admin@acme.example", Role::Admin).await;
    let agent_id = join(services, &workspace, "agent@acme.example", Role::Agent).await;
    let owner_browser = Browser::sign_in(&sandbox, &owner.id).await;
    let admin = Browser::sign_in(&sandbox, &admin_id).await;
    let agent = Browser::sign_in(&sandbox, &agent_id).await;

    // Agents see the team, without invitations or any way to change it.
    let team = agent.ok(LoadTeam::PATH, &[]).await;
    assert_eq!(team["can_manage"], false);
    assert_eq!(team["members"].as_array().unwrap().len(), 3);
    assert_eq!(team["invitations"], Value::Array(vec![]));
    let invite = [("email", "friend@acme.example"), ("role", "viewer")];
    for (path, fields) in [
        (InviteMember::PATH, &invite[..]),
        (ChangeMemberRole::PATH, &[("user_id", admin_id.as_str()), ("role", "viewer")][..]),
        (RemoveTeamMember::PATH, &[("user_id", admin_id.as_str())][..]),
        (ListAdminApiKeys::PATH, &[][..]),
        (CreateAdminApiKey::PATH, &[("name", "mine"), ("role", "viewer")][..]),
        (ListAuditEntries::PATH, &[][..]),
    ] {
        let (status, message) = agent.refused(path, fields).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {message}");
        assert!(message.contains("does not allow"), "{path}: {message}");
    }

    // Admins manage the team, but grant no owner and touch no owner.
    let (status, message) =
        admin.refused(InviteMember::PATH, &[("email", "boss@acme.example"), ("role", "owner")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(message.contains("cannot grant the owner role"), "{message}");
    let (status, _) =
        admin.refused(ChangeMemberRole::PATH, &[("user_id", &owner.id), ("role", "viewer")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = admin.refused(RemoveTeamMember::PATH, &[("user_id", &owner.id)]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = admin.refused(CreateAdminApiKey::PATH, &[("name", "root"), ("role", "owner")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // A refused field is a reply naming it; a good invitation carries its one-time link.
    let reply = admin.ok(InviteMember::PATH, &[("email", "not an email"), ("role", "agent")]).await;
    assert_eq!(reply["Invalid"]["field"], "email", "{reply}");
    let reply = admin.ok(InviteMember::PATH, &[("email", "agent@acme.example"), ("role", "agent")]).await;
    assert_eq!(reply["Invalid"]["field"], "email", "already a member: {reply}");
    let reply = admin.ok(InviteMember::PATH, &[("email", "new@acme.example"), ("role", "sorcerer")]).await;
    assert_eq!(reply["Invalid"]["field"], "role", "{reply}");
    let reply = admin.ok(InviteMember::PATH, &invite).await;
    let link = reply["Done"]["link"].as_str().unwrap_or_else(|| panic!("{reply}"));
    assert!(link.starts_with(&format!("{}/invite?token=", sandbox.server.url)), "{link}");
    let team = admin.ok(LoadTeam::PATH, &[]).await;
    let pending = team["invitations"].as_array().unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0]["email"], "friend@acme.example");
    let id = pending[0]["id"].as_str().unwrap();
    admin.ok(RevokeTeamInvitation::PATH, &[("id", id)]).await;
    assert_eq!(admin.ok(LoadTeam::PATH, &[]).await["invitations"], Value::Array(vec![]));

    // Role changes and removal by an admin, audited as the REST API audits them.
    let changed = admin.ok(ChangeMemberRole::PATH, &[("user_id", &agent_id), ("role", "viewer")]).await;
    assert_eq!(changed["role"], "viewer");
    admin.ok(RemoveTeamMember::PATH, &[("user_id", &agent_id)]).await;
    let (status, message) = agent.refused(LoadTeam::PATH, &[]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{message}");

    // The last owner can be neither demoted nor removed, even by themselves.
    for (path, fields) in [
        (ChangeMemberRole::PATH, &[("user_id", owner.id.as_str()), ("role", "admin")][..]),
        (RemoveTeamMember::PATH, &[("user_id", owner.id.as_str())][..]),
    ] {
        let (status, message) = owner_browser.refused(path, fields).await;
        assert_eq!(status, StatusCode::CONFLICT, "{path}: {message}");
        assert!(message.contains("at least one owner"), "{message}");
    }

    // API keys: shown once in the reply, listed by prefix, revoked.
    let reply = admin.ok(CreateAdminApiKey::PATH, &[("name", "  "), ("role", "viewer")]).await;
    assert_eq!(reply["Invalid"]["field"], "name", "{reply}");
    let reply = admin.ok(CreateAdminApiKey::PATH, &[("name", "CRM"), ("role", "agent")]).await;
    let key = reply["Done"]["key"].as_str().unwrap_or_else(|| panic!("{reply}"));
    let listed = admin.ok(ListAdminApiKeys::PATH, &[]).await;
    assert!(!listed.to_string().contains(key), "the list never holds the key");
    let row = &listed["keys"][0];
    assert!(key.starts_with(row["prefix"].as_str().unwrap()));
    let revoked = admin.ok(RevokeAdminApiKey::PATH, &[("id", row["id"].as_str().unwrap())]).await;
    assert!(revoked["revoked_at"].is_i64());

    for action in [
        "member.invited",
        "invitation.revoked",
        "member.role_changed",
        "member.removed",
        "api_key.created",
        "api_key.revoked",
    ] {
        let entries = audit::by_action(db, action).await.unwrap();
        assert_eq!(entries.len(), 1, "{action}");
        assert_eq!(entries[0].actor, format!("user:{admin_id}"), "{action}");
        assert_eq!(entries[0].workspace_id.as_deref(), Some(workspace.as_str()));
    }
    // The page's log: newest first, names for ids, and the filter.
    let log = owner_browser.ok(ListAuditEntries::PATH, &[]).await;
    let actions: Vec<&str> =
        log["entries"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions[0], "api_key.revoked", "{actions:?}");
    assert!(log["actions"].as_array().unwrap().iter().any(|a| a == "member.removed"));
    let filtered = owner_browser.ok(ListAuditEntries::PATH, &[("action", "member.role_changed")]).await;
    let entries = filtered["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["details"], "from: agent, to: viewer");
    assert!(entries[0]["who"].as_str().unwrap().contains("admin@acme.example"), "{filtered}");
}
