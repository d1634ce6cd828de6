//! Tenant isolation, walked over **every** REST route and **every** server function: an owner
//! session and an owner API key of workspace B use each of them with workspace A's ids (its
//! calls, templates, number, members, invitations, keys, WhatsApp users). Each answer is a
//! refusal (404 for A's things, 403 where B's caller may not act at all) or B's own data, and no
//! answer carries anything of A's. Afterwards A's data is as it was.
//!
//! "Every" is checked, not promised: the routes are read from the server's source (each
//! `.route(…)` of the API's route files, under the prefix it is nested at) and the server
//! functions from the registry the page router serves; a route or server function missing from
//! the walk fails the test.

use std::collections::BTreeSet;
use std::path::Path;

use calling::accounts::{self, NewOwner, Role, api_keys, invitations};
use calling::permissions::PermissionLimits;
use calling::phone::PhoneNumber;
use leptos::server_fn::ServerFn;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use simulator::InboundCall;

use crate::support::{Caller, Sandbox, eventually, user_accepts_calls, wav};

/// Workspace A's things, and the strings that would betray them.
struct WorkspaceA {
    call: String,
    template: String,
    number: String,
    phone_number_id: String,
    agent: String,
    owner: String,
    invitation: String,
    key: String,
    contact: String,
    granted_user: &'static str,
    leaks: Vec<String>,
}

/// What a route or server function must answer B's caller.
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// B's own data (any 2xx).
    Own,
    /// Refused with one of these statuses.
    Refused(&'static [StatusCode]),
}

const NOT_FOUND: Expect = Expect::Refused(&[StatusCode::NOT_FOUND]);
const NOT_YOURS: Expect = Expect::Refused(&[StatusCode::NOT_FOUND, StatusCode::FORBIDDEN]);
const FORBIDDEN: Expect = Expect::Refused(&[StatusCode::FORBIDDEN]);
const UNAUTHENTICATED: Expect = Expect::Refused(&[StatusCode::UNAUTHORIZED]);

/// One REST route as the router declares it, and how the walk calls it.
struct Row {
    method: Method,
    /// The route as declared, under `/api/v1` (or absolute for `/sandbox/…`).
    route: &'static str,
    /// The path actually requested (A's ids in place of the parameters), with its query.
    path: String,
    body: Option<Value>,
    /// For B's owner session, and for B's owner API key.
    session: Expect,
    key: Expect,
}

fn row(method: Method, route: &'static str, path: String, body: Option<Value>, both: Expect) -> Row {
    Row { method, route, path, body, session: both, key: both }
}

/// Routes that take no workspace and no id of anyone else's: they act on the caller's own
/// sign-in, or on nobody yet. The walk does not send them (logging B out would end the walk),
/// but they are named so that a new route is a decision, not an oversight.
const UNSCOPED: [(&str, &str); 3] =
    [("POST", "/logout"), ("POST", "/logout-everywhere"), ("POST", "/password")];

async fn set_up_workspace_a(sandbox: &Sandbox) -> WorkspaceA {
    let services = sandbox.services();
    let db = &services.db;
    let now = services.clock.now();
    let workspace = sandbox.workspace.id.clone();
    let owner = NewOwner {
        email: "owner@a.example".into(),
        display_name: Some("Alice Owner".into()),
        password: "a-owner-password-1".into(),
        workspace_name: None,
    };
    let (owner, _) = accounts::setup(db, owner, now).await.unwrap();
    let (token, _) =
        invitations::create(db, &workspace, "agent@a.example", Role::Agent, &owner.id, now).await.unwrap();
    let acceptance = invitations::Acceptance {
        token,
        display_name: Some("Andy Agent".into()),
        password: "a-agent-password-1".into(),
    };
    let (agent, _, _) = invitations::accept(db, acceptance, None, now).await.unwrap();
    let (_, invitation) =
        invitations::create(db, &workspace, "pending@a.example", Role::Viewer, &owner.id, now).await.unwrap();
    let (_, key) =
        api_keys::create(db, &workspace, "a-integration", Role::Admin, &owner.id, now).await.unwrap();

    let admin = Caller::key(sandbox, &workspace, Role::Admin).await;
    let (status, template) = admin
        .rest(
            Method::POST,
            "/app/calling/templates/call-button",
            Some(json!({ "name": "isolation_cb", "label": "Call A Corp", "phone_number": "+447700900189" })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{template}");

    let wa_call_id = sandbox
        .sim
        .sim
        .place_inbound_call(InboundCall {
            to: sandbox.business.phone_number_id.clone(),
            from: "+447700900180".into(),
            name: Some("Iso Caller".into()),
            cta_payload: Some("a-secret-payload".into()),
            deeplink_payload: None,
        })
        .unwrap();
    sandbox.sim.sim.hangup(&wa_call_id).unwrap();
    let call = eventually(10, "A's call, missed", || async {
        let (_, page) = admin.rest(Method::GET, "/app/calling/calls?status=missed", None).await;
        page["calls"][0]["id"].as_str().map(str::to_owned)
    })
    .await;
    let (status, recording) = admin
        .upload(
            &format!("/api/v1/app/calling/calls/{call}/recording"),
            "file",
            "a-secret-recording.wav",
            &wav(400),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{recording}");
    let granted_user = "+447700900181";
    let user = PhoneNumber::parse(granted_user).unwrap();
    user_accepts_calls(sandbox, &user, &PermissionLimits::PRODUCTION).await;

    let (status, contact) = admin
        .rest(
            Method::POST,
            "/app/contacts",
            Some(
                json!({ "phone_number": "+447700900182", "name": "Carla Contact", "tags": ["a-secret-tag"] }),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{contact}");
    let contact = contact["id"].as_str().unwrap().to_owned();
    let template_id = template["template_id"].as_str().unwrap().to_owned();
    let leaks = [
        workspace.as_str(),
        "Sandbox Co",
        &owner.id,
        "owner@a.example",
        "Alice Owner",
        &agent.id,
        "agent@a.example",
        "Andy Agent",
        &invitation.id,
        "pending@a.example",
        &key.id,
        &key.prefix,
        "a-integration",
        &template_id,
        "isolation_cb",
        "Call A Corp",
        &call,
        &wa_call_id,
        "447700900180",
        "Iso Caller",
        "a-secret-payload",
        "447700900181",
        &contact,
        "Carla Contact",
        "447700900182",
        "a-secret-tag",
        "a-secret-recording",
        &sandbox.number.id,
        &sandbox.business.phone_number_id,
        sandbox.number.e164.trim_start_matches('+'),
    ]
    .map(str::to_owned)
    .to_vec();
    WorkspaceA {
        call,
        template: template_id,
        number: sandbox.number.id.clone(),
        phone_number_id: sandbox.business.phone_number_id.clone(),
        agent: agent.id,
        owner: owner.id,
        invitation: invitation.id,
        key: key.id,
        contact,
        granted_user,
        leaks,
    }
}

fn rest_walk(a: &WorkspaceA) -> Vec<Row> {
    use Expect::Own;
    let sdp = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n";
    let user = a.granted_user.replace('+', "%2B");
    let number_form = json!({
        "phone_number_id": a.phone_number_id, "waba_id": "200000000000999", "phone_number": "+44 7700 900999",
        "access_token": "EAAG-b", "app_secret": "b-secret", "verify_token": "b-verify",
    });
    let settings = json!({ "phone_number_id": a.phone_number_id, "settings": { "status": "ENABLED" } });
    let sample = json!({ "at_ms": 2000, "round_trip_ms": 20.0, "jitter_ms": 1.0, "packets_in": 100, "packets_lost": 0, "packets_out": 100, "level_in": 0.2 });
    let call = &a.call;
    vec![
        // Accounts: the session's workspace only.
        row(Method::GET, "/setup", "/setup".into(), None, Own),
        row(
            Method::POST,
            "/setup",
            "/setup".into(),
            Some(json!({ "email": "x@b.example", "password": "long-enough-pass-1" })),
            Expect::Refused(&[StatusCode::CONFLICT]),
        ),
        row(
            Method::POST,
            "/login",
            "/login".into(),
            Some(json!({ "email": "owner@a.example", "password": "wrong-password-1" })),
            Expect::Refused(&[StatusCode::UNAUTHORIZED]),
        ),
        row(Method::GET, "/me", "/me".into(), None, Own),
        Row {
            key: UNAUTHENTICATED,
            ..row(
                Method::POST,
                "/session/workspace",
                "/session/workspace".into(),
                Some(json!({ "workspace_id": &a.leaks[0] })),
                NOT_FOUND,
            )
        },
        row(
            Method::POST,
            "/password/reset",
            "/password/reset".into(),
            Some(json!({ "email": "owner@a.example" })),
            Own,
        ),
        row(
            Method::POST,
            "/password/reset/confirm",
            "/password/reset/confirm".into(),
            Some(json!({ "token": "nope", "password": "long-enough-pass-1" })),
            Expect::Refused(&[
                StatusCode::BAD_REQUEST,
                StatusCode::NOT_FOUND,
                StatusCode::UNPROCESSABLE_ENTITY,
            ]),
        ),
        row(Method::GET, "/invitations", "/invitations".into(), None, Own),
        row(
            Method::POST,
            "/invitations",
            "/invitations".into(),
            Some(json!({ "email": "new@b.example", "role": "agent" })),
            Own,
        ),
        row(
            Method::POST,
            "/invitations/accept",
            "/invitations/accept".into(),
            Some(json!({ "token": "nope", "password": "long-enough-pass-1" })),
            UNAUTHENTICATED,
        ),
        row(Method::DELETE, "/invitations/{id}", format!("/invitations/{}", a.invitation), None, NOT_FOUND),
        row(Method::GET, "/members", "/members".into(), None, Own),
        row(
            Method::PATCH,
            "/members/{user_id}",
            format!("/members/{}", a.agent),
            Some(json!({ "role": "viewer" })),
            NOT_FOUND,
        ),
        row(
            Method::PATCH,
            "/members/{user_id}",
            format!("/members/{}", a.owner),
            Some(json!({ "role": "viewer" })),
            NOT_FOUND,
        ),
        row(Method::DELETE, "/members/{user_id}", format!("/members/{}", a.agent), None, NOT_FOUND),
        row(Method::GET, "/api-keys", "/api-keys".into(), None, Own),
        row(
            Method::POST,
            "/api-keys",
            "/api-keys".into(),
            Some(json!({ "name": "b-key", "role": "agent" })),
            Own,
        ),
        row(Method::DELETE, "/api-keys/{id}", format!("/api-keys/{}", a.key), None, NOT_FOUND),
        row(Method::GET, "/audit-log", "/audit-log".into(), None, Own),
        row(Method::GET, "/workspace", "/workspace".into(), None, Own),
        row(Method::PUT, "/workspace", "/workspace".into(), Some(json!({ "name": "B Corp Renamed" })), Own),
        // The calling API.
        row(Method::GET, "/app/calling/overview", "/app/calling/overview?period=7d".into(), None, Own),
        row(Method::GET, "/app/calling/analytics", "/app/calling/analytics?period=30d".into(), None, Own),
        row(
            Method::GET,
            "/app/calling/analytics",
            "/app/calling/analytics?from=2026-01-01&to=2026-12-31".into(),
            None,
            Own,
        ),
        row(Method::GET, "/app/calling/calls", "/app/calling/calls?limit=200".into(), None, Own),
        row(
            Method::GET,
            "/app/calling/calls",
            format!("/app/calling/calls?phone_number_id={}&agent={}", a.phone_number_id, a.agent),
            None,
            Own,
        ),
        row(Method::GET, "/app/calling/calls.csv", "/app/calling/calls.csv".into(), None, Own),
        row(
            Method::GET,
            "/app/calling/calls/{call_id}",
            format!("/app/calling/calls/{call}"),
            None,
            NOT_FOUND,
        ),
        row(
            Method::GET,
            "/app/calling/calls/{call_id}/status",
            format!("/app/calling/calls/{call}/status"),
            None,
            NOT_FOUND,
        ),
        row(
            Method::GET,
            "/app/calling/permission-status",
            format!("/app/calling/permission-status?phone={user}"),
            None,
            NOT_FOUND,
        ),
        row(
            Method::GET,
            "/app/calling/permission-status",
            format!("/app/calling/permission-status?phone={user}&phone_number_id={}", a.phone_number_id),
            None,
            NOT_FOUND,
        ),
        row(
            Method::POST,
            "/app/calling/permission-status/sync",
            format!("/app/calling/permission-status/sync?phone={user}&phone_number_id={}", a.phone_number_id),
            None,
            NOT_FOUND,
        ),
        // B has no number yet: nothing to list permissions of.
        row(Method::GET, "/app/calling/permissions", "/app/calling/permissions".into(), None, NOT_FOUND),
        row(Method::GET, "/app/calling/settings", "/app/calling/settings".into(), None, Own),
        row(Method::PUT, "/app/calling/settings", "/app/calling/settings".into(), Some(settings), NOT_FOUND),
        row(Method::GET, "/app/calling/estimate", format!("/app/calling/estimate?to={user}"), None, Own),
        row(
            Method::GET,
            "/app/calling/deep-link",
            format!("/app/calling/deep-link?phone_number_id={}", a.phone_number_id),
            None,
            NOT_FOUND,
        ),
        row(Method::GET, "/app/calling/templates", "/app/calling/templates".into(), None, Own),
        row(
            Method::POST,
            "/app/calling/templates/call-button",
            "/app/calling/templates/call-button".into(),
            Some(json!({ "name": "b_cb", "label": "Call B", "phone_number": "+447700900190" })),
            NOT_FOUND,
        ),
        row(
            Method::POST,
            "/app/calling/templates/permission",
            "/app/calling/templates/permission".into(),
            Some(json!({ "name": "b_perm", "body": "May we call you?" })),
            NOT_FOUND,
        ),
        row(
            Method::GET,
            "/app/calling/templates/{id}",
            format!("/app/calling/templates/{}", a.template),
            None,
            NOT_FOUND,
        ),
        row(
            Method::DELETE,
            "/app/calling/templates/{id}",
            format!("/app/calling/templates/{}", a.template),
            None,
            NOT_FOUND,
        ),
        row(
            Method::POST,
            "/app/calling/templates/{id}/set-default",
            format!("/app/calling/templates/{}/set-default", a.template),
            None,
            NOT_FOUND,
        ),
        row(
            Method::POST,
            "/app/calling/send",
            "/app/calling/send".into(),
            Some(json!({ "template_id": a.template, "to": a.granted_user, "vars": [] })),
            NOT_FOUND,
        ),
        row(Method::GET, "/app/calling/incoming", "/app/calling/incoming".into(), None, Own),
        Row {
            session: NOT_FOUND,
            key: FORBIDDEN,
            ..row(
                Method::POST,
                "/app/calling/calls/{call_id}/pre-accept",
                format!("/app/calling/calls/{call}/pre-accept"),
                Some(json!({ "sdp": sdp })),
                NOT_FOUND,
            )
        },
        Row {
            session: NOT_FOUND,
            key: FORBIDDEN,
            ..row(
                Method::POST,
                "/app/calling/calls/{call_id}/accept",
                format!("/app/calling/calls/{call}/accept"),
                None,
                NOT_FOUND,
            )
        },
        row(
            Method::POST,
            "/app/calling/calls/{call_id}/reject",
            format!("/app/calling/calls/{call}/reject"),
            None,
            NOT_FOUND,
        ),
        row(
            Method::POST,
            "/app/calling/calls/{call_id}/terminate",
            format!("/app/calling/calls/{call}/terminate"),
            None,
            NOT_FOUND,
        ),
        row(
            Method::POST,
            "/app/calling/initiate",
            "/app/calling/initiate".into(),
            Some(json!({ "to": a.granted_user, "phone_number_id": a.phone_number_id, "sdp": sdp })),
            NOT_YOURS,
        ),
        Row {
            session: NOT_FOUND,
            key: FORBIDDEN,
            ..row(
                Method::POST,
                "/app/calling/calls/{call_id}/dial",
                format!("/app/calling/calls/{call}/dial"),
                Some(json!({ "sdp": sdp })),
                NOT_FOUND,
            )
        },
        row(
            Method::GET,
            "/app/calling/calls/{call_id}/session",
            format!("/app/calling/calls/{call}/session"),
            None,
            NOT_YOURS,
        ),
        row(
            Method::POST,
            "/app/calling/calls/{call_id}/quality",
            format!("/app/calling/calls/{call}/quality"),
            Some(json!({ "samples": [sample] })),
            NOT_YOURS,
        ),
        // Recordings: A's call's is neither played nor replaced (the upload is real multipart).
        row(
            Method::GET,
            "/app/calling/calls/{call_id}/recording",
            format!("/app/calling/calls/{call}/recording"),
            None,
            NOT_FOUND,
        ),
        row(
            Method::POST,
            "/app/calling/calls/{call_id}/recording",
            format!("/app/calling/calls/{call}/recording"),
            None,
            NOT_FOUND,
        ),
        row(Method::GET, "/app/calling/ice-servers", "/app/calling/ice-servers".into(), None, Own),
        // Numbers: A's number can be neither edited, tested nor connected a second time.
        row(Method::GET, "/app/numbers/", "/app/numbers".into(), None, Own),
        row(
            Method::POST,
            "/app/numbers/",
            "/app/numbers".into(),
            Some(number_form.clone()),
            Expect::Refused(&[StatusCode::CONFLICT, StatusCode::UNPROCESSABLE_ENTITY]),
        ),
        row(
            Method::PUT,
            "/app/numbers/{id}",
            format!("/app/numbers/{}", a.number),
            Some(number_form),
            NOT_FOUND,
        ),
        row(
            Method::POST,
            "/app/numbers/{id}/test",
            format!("/app/numbers/{}/test", a.number),
            None,
            NOT_FOUND,
        ),
        // Contacts: B's own (the key's second try is B's own duplicate); A's stay A's.
        row(Method::GET, "/app/contacts/", "/app/contacts".into(), None, Own),
        row(Method::GET, "/app/contacts/", "/app/contacts?tag=a-secret-tag".into(), None, Own),
        Row {
            key: Expect::Refused(&[StatusCode::CONFLICT]),
            ..row(
                Method::POST,
                "/app/contacts/",
                "/app/contacts".into(),
                Some(json!({ "phone_number": "+447700900183", "tags": ["b-leads"] })),
                Own,
            )
        },
        row(Method::GET, "/app/contacts/{id}", format!("/app/contacts/{}", a.contact), None, NOT_FOUND),
        row(
            Method::PUT,
            "/app/contacts/{id}",
            format!("/app/contacts/{}", a.contact),
            Some(json!({ "name": "Mine now", "add_tags": ["b"] })),
            NOT_FOUND,
        ),
        row(Method::DELETE, "/app/contacts/{id}", format!("/app/contacts/{}", a.contact), None, NOT_FOUND),
        // Billing and presence.
        row(Method::GET, "/app/billing/", "/app/billing".into(), None, Own),
        row(Method::GET, "/app/billing/expenses", "/app/billing/expenses".into(), None, Own),
        row(Method::GET, "/app/billing/expenses.csv", "/app/billing/expenses.csv".into(), None, Own),
        // Billing writes name no ids: they can only ever act on B's own wallet and card.
        row(
            Method::POST,
            "/app/billing/top-ups",
            "/app/billing/top-ups".into(),
            Some(json!({ "amount": 5_000_000, "reference": "b-walk-1" })),
            Own,
        ),
        row(
            Method::POST,
            "/app/billing/adjustments",
            "/app/billing/adjustments".into(),
            Some(json!({ "amount": -1, "reason": "isolation walk" })),
            Own,
        ),
        row(Method::GET, "/app/billing/rate-card", "/app/billing/rate-card".into(), None, Own),
        row(
            Method::PUT,
            "/app/billing/rate-card",
            "/app/billing/rate-card".into(),
            Some(json!({})),
            Expect::Refused(&[StatusCode::UNPROCESSABLE_ENTITY]),
        ),
        row(
            Method::PUT,
            "/app/billing/subscription",
            "/app/billing/subscription".into(),
            Some(json!({ "plan": "pro", "status": "active", "current_period_end": 4_102_444_800_000_i64 })),
            Own,
        ),
        row(
            Method::PUT,
            "/app/billing/low-balance-threshold",
            "/app/billing/low-balance-threshold".into(),
            Some(json!({ "threshold": 0 })),
            Own,
        ),
        row(Method::GET, "/app/presence/", "/app/presence".into(), None, Own),
        Row {
            session: Expect::Refused(&[StatusCode::UNPROCESSABLE_ENTITY]),
            key: FORBIDDEN,
            ..row(
                Method::PUT,
                "/app/presence/",
                "/app/presence".into(),
                Some(json!({ "status": "online", "call_id": call })),
                Own,
            )
        },
        // The API's description: the same for everyone, holding no workspace's data.
        row(Method::GET, "/openapi.json", "/openapi.json".into(), None, Own),
        row(Method::GET, "/docs", "/docs".into(), None, Own),
    ]
}

/// Every `(METHOD, route)` the API's route files declare, under the prefix each is nested at
/// (`server/src/api/mod.rs`, `server/src/lib.rs`).
pub(crate) fn declared_routes() -> BTreeSet<(String, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let files = [
        ("accounts.rs", ""),
        ("api/mod.rs", ""),
        ("api/calling_routes.rs", "/app/calling"),
        ("api/templates_routes.rs", "/app/calling"),
        ("api/answer_routes.rs", "/app/calling"),
        ("api/recording_routes.rs", "/app/calling"),
        ("api/numbers_routes.rs", "/app/numbers"),
        ("api/contacts_routes.rs", "/app/contacts"),
        ("api/billing_routes.rs", "/app/billing"),
        ("api/presence_routes.rs", "/app/presence"),
    ];
    let known: BTreeSet<&str> = files.iter().map(|(file, _)| *file).collect();
    for entry in std::fs::read_dir(src.join("api")).unwrap() {
        let name = format!("api/{}", entry.unwrap().file_name().to_string_lossy());
        let text = std::fs::read_to_string(src.join(&name)).unwrap();
        assert!(
            known.contains(name.as_str()) || !text.contains(".route("),
            "{name} declares routes the walk does not know"
        );
    }
    let mut routes = BTreeSet::new();
    for (file, prefix) in files {
        let text = std::fs::read_to_string(src.join(file)).unwrap();
        // Each `.route("path", handlers)`, however rustfmt laid them out on the lines.
        for declaration in text.split(".route(\"").skip(1) {
            let (path, rest) = declaration.split_once('"').unwrap();
            // The handlers end where the `.route(` call's parenthesis closes.
            let mut depth = 1;
            let end = rest
                .char_indices()
                .find(|(_, c)| {
                    depth += match c {
                        '(' => 1,
                        ')' => -1,
                        _ => 0,
                    };
                    depth == 0
                })
                .map_or(rest.len(), |(at, _)| at);
            let handlers = &rest[..end];
            for method in ["get", "post", "put", "patch", "delete"] {
                let called = handlers.match_indices(&format!("{method}(")).any(|(at, _)| {
                    at == 0
                        || !handlers.as_bytes()[at - 1].is_ascii_alphanumeric()
                            && handlers.as_bytes()[at - 1] != b'_'
                });
                if called {
                    routes.insert((method.to_uppercase(), format!("{prefix}{path}")));
                }
            }
        }
    }
    assert!(routes.len() > 50, "the route scan found only {routes:?}");
    routes
}

/// Anything of A's in `body` that B did not send itself (an answer may repeat B's own input,
/// such as a phone number id B tried to connect).
fn leaked(a: &WorkspaceA, body: &str, sent: &str) -> Option<String> {
    a.leaks
        .iter()
        .find(|leak| body.contains(leak.as_str()) && !sent.contains(leak.as_str()))
        .map(|leak| format!("leaks {leak:?} of workspace A: {body}"))
}

fn assert_no_leak(a: &WorkspaceA, what: &str, body: &str) {
    if let Some(problem) = leaked(a, body, "") {
        panic!("{what} {problem}");
    }
}

/// Why the answer is wrong, if it is: an unexpected status, or anything of A's in the body.
fn check(
    a: &WorkspaceA,
    what: &str,
    sent: &str,
    expect: Expect,
    status: StatusCode,
    body: &Value,
) -> Option<String> {
    let status_ok = match expect {
        Expect::Own => status.is_success(),
        Expect::Refused(statuses) => statuses.contains(&status),
    };
    if !status_ok {
        return Some(format!("{what}: expected {expect:?}, got {status} {body}"));
    }
    leaked(a, &body.to_string(), sent).map(|problem| format!("{what}: {problem}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_workspace_reaches_nothing_through_any_route_or_server_function() {
    let sandbox = Sandbox::start(|_| {}).await;
    let services = sandbox.services();
    let db = &services.db;
    let a = set_up_workspace_a(&sandbox).await;
    let before = Caller::key(&sandbox, &sandbox.workspace.id, Role::Owner).await;
    let a_before = snapshot(&before, &a.call).await;

    let owner_b = NewOwner {
        email: "boss@b.example".into(),
        display_name: Some("Bob Boss".into()),
        password: "b-owner-password-1".into(),
        workspace_name: None,
    };
    let (boss, workspace_b) =
        accounts::create_owner(db, owner_b, "B Corp", services.clock.now()).await.unwrap();
    let session = Caller::browser(&sandbox, &boss.id, &workspace_b.id).await;
    let key = Caller::key(&sandbox, &workspace_b.id, Role::Owner).await;

    // Every declared route is walked, or named as unscoped.
    let walk = rest_walk(&a);
    let walked: BTreeSet<(String, String)> =
        walk.iter().map(|row| (row.method.to_string(), row.route.to_owned())).collect();
    let unscoped: BTreeSet<(String, String)> =
        UNSCOPED.iter().map(|(method, route)| (method.to_string(), route.to_string())).collect();
    let mut declared = declared_routes();
    declared.remove(&("GET".into(), "/app/events".into())); // a stream: checked below
    let missing: Vec<_> = declared.difference(&walked).filter(|route| !unscoped.contains(*route)).collect();
    assert!(missing.is_empty(), "routes the isolation walk does not cover: {missing:?}");
    let unknown: Vec<_> = walked.difference(&declared).collect();
    assert!(unknown.is_empty(), "the walk names routes the server does not declare: {unknown:?}");

    let mut failures = Vec::new();
    for row in &walk {
        for (who, caller, expect) in [("owner session", &session, row.session), ("owner key", &key, row.key)]
        {
            let (status, body) = if row.route.ends_with("/recording") && row.method == Method::POST {
                caller.upload(&format!("/api/v1{}", row.path), "file", "b.wav", &wav(100)).await
            } else {
                caller.rest(row.method.clone(), &row.path, row.body.clone()).await
            };
            let what = format!("{who}: {} {}", row.method, row.path);
            let sent = row.body.as_ref().map(Value::to_string).unwrap_or_default();
            failures.extend(check(&a, &what, &sent, expect, status, &body));
        }
    }

    // The scenario API of the sandbox belongs to the workspace that owns the sandbox number.
    for (method, path, body) in [
        (Method::GET, "/sandbox/numbers", None),
        (Method::POST, "/sandbox/calls/inbound", Some(json!({ "from": "+447700900191" }))),
        (
            Method::POST,
            &*format!("/sandbox/users/{}/permission", a.granted_user),
            Some(json!({ "grant": "none" })),
        ),
    ] {
        for (who, caller) in [("owner session", &session), ("owner key", &key)] {
            let (status, body) = caller.raw(method.clone(), path, body.clone()).await;
            failures.extend(check(&a, &format!("{who}: {method} {path}"), "", NOT_YOURS, status, &body));
        }
    }

    failures.extend(walk_server_functions(&a, &session).await);
    assert!(failures.is_empty(), "{} wrong answers:\n{}", failures.len(), failures.join("\n"));
    live_events_stay_in_their_workspace(&sandbox, &a, &session).await;

    assert_eq!(snapshot(&before, &a.call).await, a_before, "workspace A changed");
}

/// What B could have changed of A's: team, keys, profile, templates, numbers, the call.
async fn snapshot(owner_a: &Caller, call: &str) -> Vec<Value> {
    let mut seen = Vec::new();
    for path in [
        "/members",
        "/invitations",
        "/api-keys",
        "/workspace",
        "/app/calling/templates",
        "/app/numbers",
        "/app/contacts",
    ] {
        seen.push(owner_a.rest(Method::GET, path, None).await.1);
    }
    let call = owner_a.rest(Method::GET, &format!("/app/calling/calls/{call}"), None).await.1;
    seen.push(json!({
        "status": call["status"],
        "events": call["timeline"].as_array().map(Vec::len),
        "recording": call["recording"],
    }));
    seen
}

/// Every server function the page router serves, called with B's session and A's ids.
async fn walk_server_functions(a: &WorkspaceA, session: &Caller) -> Vec<String> {
    use Expect::Own;
    use app::api::*;
    use app::pages::admin::server_fns::*;
    use app::pages::calling::settings::{LoadCallSettings, RefreshCallSettings, SaveCallSettings};
    use app::pages::calling::templates::{
        CreateCallButtonTemplate, CreatePermissionTemplate, DeleteTemplate, ListTemplates, MakeDeepLink,
        SendTemplate, SetDefaultTemplate, TemplateAccess,
    };

    let number_form = json!({
        "phone_number_id": a.phone_number_id, "waba_id": "200000000000999", "phone_number": "+44 7700 900999",
        "graph_api_version": "", "graph_api_base_url": "", "access_token": "EAAG-b", "app_secret": "b-secret",
        "verify_token": "b-verify",
    });
    let closed = json!({ "open": false, "ranges": [] });
    let settings_form = json!({
        "phone_number_id": a.phone_number_id, "calling_enabled": true, "icon_visibility": "DEFAULT",
        "callback_enabled": false, "countries": "", "hours_enabled": false, "timezone": "Europe/London",
        "week": [closed, closed, closed, closed, closed, closed, closed], "holidays": [],
    });
    let rate = json!({ "meta": "0.01", "billable": "0.02" });
    let rate_card = json!({
        "call_estimate_minutes": "5", "default_call": rate, "countries": [], "text": rate, "media": rate,
        "template": rate, "calling_template": rate, "note": "isolation walk",
    });
    let send_form = json!({ "template_id": a.template, "to": a.granted_user, "vars": [], "ttl_minutes": "", "payload": "" });
    let button = [
        ("button[label]", "Call B"),
        ("button[target]", "phone_number"),
        ("button[phone_number]", "+447700900190"),
        ("button[url]", ""),
        ("button[ttl_minutes]", ""),
    ];
    let template_fields = |name: &'static str| {
        vec![
            ("name", name),
            ("language", "en_US"),
            ("category", "MARKETING"),
            ("body", "Call us"),
            ("examples", ""),
        ]
    };
    let mut permission_template = template_fields("b_perm");
    permission_template.extend([("header", ""), ("footer", "")]);
    let mut call_button = template_fields("b_cb");
    call_button.extend(button);

    enum Args {
        Form(Vec<(&'static str, String)>),
        Json(Value),
    }
    let form = |fields: &[(&'static str, &str)]| {
        Args::Form(fields.iter().map(|(name, value)| (*name, value.to_string())).collect())
    };
    let walk: Vec<(&str, Args, Expect)> = vec![
        (GetOverview::PATH, form(&[("period", "seven_days")]), Own),
        // This harness runs the simulator beside the server, not in it: the server says so (409)
        // before anything is looked up; http.rs covers the sign-in rules of this one.
        (
            SimulateInboundCall::PATH,
            form(&[("from", "+447700900192"), ("name", ""), ("cta_payload", "")]),
            Expect::Refused(&[StatusCode::NOT_FOUND, StatusCode::CONFLICT]),
        ),
        (GetAnalytics::PATH, form(&[("period", "30d")]), Own),
        (GetAnalyticsBetween::PATH, form(&[("from", "2026-01-01"), ("to", "2026-12-31")]), Own),
        (LookupPermission::PATH, form(&[("phone", a.granted_user)]), NOT_FOUND),
        (ListPermissions::PATH, form(&[]), Own),
        (ListCalls::PATH, Args::Json(json!({ "filter": {} })), Own),
        (GetCall::PATH, form(&[("id", &a.call)]), NOT_FOUND),
        (CallFilterChoices::PATH, form(&[]), Own),
        (CurrentVisitor::PATH, form(&[]), Own),
        (ListAdminNumbers::PATH, form(&[]), Own),
        (ConnectAdminNumber::PATH, Args::Json(json!({ "form": number_form })), Own),
        (UpdateAdminNumber::PATH, Args::Json(json!({ "id": a.number, "form": number_form })), NOT_FOUND),
        (TestAdminNumber::PATH, form(&[("id", &a.number)]), NOT_FOUND),
        (LoadTeam::PATH, form(&[]), Own),
        (InviteMember::PATH, form(&[("email", "new2@b.example"), ("role", "agent")]), Own),
        (RevokeTeamInvitation::PATH, form(&[("id", &a.invitation)]), NOT_FOUND),
        (ChangeMemberRole::PATH, form(&[("user_id", &a.agent), ("role", "viewer")]), NOT_FOUND),
        (RemoveTeamMember::PATH, form(&[("user_id", &a.agent)]), NOT_FOUND),
        (LoadWorkspaceProfile::PATH, form(&[]), Own),
        (RenameWorkspace::PATH, form(&[("name", "B Corp Again")]), Own),
        (ListAuditEntries::PATH, form(&[]), Own),
        (ListAdminApiKeys::PATH, form(&[]), Own),
        (CreateAdminApiKey::PATH, form(&[("name", "b-panel-key"), ("role", "viewer")]), Own),
        (RevokeAdminApiKey::PATH, form(&[("id", &a.key)]), NOT_FOUND),
        (MakeDeepLink::PATH, form(&[("phone_number_id", &a.phone_number_id), ("payload", "x")]), NOT_FOUND),
        (LoadBilling::PATH, form(&[]), Own),
        (LoadRateCards::PATH, form(&[]), Own),
        (ListExpenses::PATH, Args::Json(json!({ "filter": {} })), Own),
        (RecordTopUp::PATH, form(&[("amount", "2.00"), ("reference", "b-panel-1"), ("note", "")]), Own),
        (SetLowBalanceThreshold::PATH, form(&[("threshold", "1.00")]), Own),
        (
            UpdateSubscription::PATH,
            form(&[("plan", "pro"), ("status", "active"), ("period_end", "2099-12-31")]),
            Own,
        ),
        (PublishRateCard::PATH, Args::Json(json!({ "form": rate_card })), Own),
        (TemplateAccess::PATH, form(&[]), Own),
        (ListTemplates::PATH, form(&[]), Own),
        (CreateCallButtonTemplate::PATH, form(&call_button), NOT_FOUND),
        (CreatePermissionTemplate::PATH, form(&permission_template), NOT_FOUND),
        (SetDefaultTemplate::PATH, form(&[("id", &a.template)]), NOT_FOUND),
        (DeleteTemplate::PATH, form(&[("id", &a.template)]), NOT_FOUND),
        (SendTemplate::PATH, Args::Json(json!({ "form": send_form })), NOT_FOUND),
        (LoadCallSettings::PATH, form(&[]), Own),
        (RefreshCallSettings::PATH, form(&[("phone_number_id", &a.phone_number_id)]), NOT_FOUND),
        (SaveCallSettings::PATH, Args::Json(json!({ "form": settings_form })), NOT_FOUND),
    ];

    let registered: BTreeSet<String> =
        leptos::server_fn::axum::server_fn_paths().map(|(path, _)| path.to_owned()).collect();
    let walked: BTreeSet<String> = walk.iter().map(|(path, _, _)| path.to_string()).collect();
    let missing: Vec<_> = registered.difference(&walked).collect();
    assert!(missing.is_empty(), "server functions the isolation walk does not cover: {missing:?}");

    let mut failures = Vec::new();
    for (path, args, expect) in walk {
        let (sent, (status, body)) = match args {
            Args::Form(fields) => {
                let fields: Vec<(&str, &str)> =
                    fields.iter().map(|(name, value)| (*name, value.as_str())).collect();
                (format!("{fields:?}"), session.form(path, &fields).await)
            }
            Args::Json(body) => (body.to_string(), session.json(path, body).await),
        };
        failures.extend(check(a, &format!("server function {path}"), &sent, expect, status, &body));
    }
    failures
}

/// B's live event stream hears nothing of A's calls: A's own stream is the clock — once it has
/// seen A's new call ring, B's has had the same chance.
async fn live_events_stay_in_their_workspace(sandbox: &Sandbox, a: &WorkspaceA, session: &Caller) {
    let owner_a = Caller::browser(sandbox, &a.owner, &sandbox.workspace.id).await;
    let mut stream_a = owner_a.stream("/api/v1/app/events").await;
    let mut stream_b = session.stream("/api/v1/app/events").await;
    let wa_call_id = sandbox
        .sim
        .sim
        .place_inbound_call(InboundCall {
            to: sandbox.business.phone_number_id.clone(),
            from: "+447700900180".into(),
            name: Some("Iso Caller".into()),
            cta_payload: None,
            deeplink_payload: None,
        })
        .unwrap();
    let mut heard_a = String::new();
    let ringing = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        loop {
            let chunk = stream_a.chunk().await.unwrap().expect("A's stream ended");
            heard_a.push_str(&String::from_utf8_lossy(&chunk));
            if heard_a.contains("call.") {
                break;
            }
        }
    })
    .await;
    assert!(ringing.is_ok(), "A's stream never heard its own call: {heard_a}");
    let mut heard_b = String::new();
    while let Ok(Ok(Some(chunk))) =
        tokio::time::timeout(std::time::Duration::from_millis(500), stream_b.chunk()).await
    {
        heard_b.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert_no_leak(a, "B's live events", &heard_b);
    assert!(!heard_b.contains("call."), "B heard a call event: {heard_b}");
    sandbox.sim.sim.hangup(&wa_call_id).unwrap();
}
