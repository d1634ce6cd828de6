//! The `/calling/templates` page's server functions over real HTTP, sent the way the hydrated
//! page sends them (the create forms' URL-encoded fields, `button[label]` included; the send
//! form's JSON), with a signed-in member's session cookie, against the simulator: refused fields
//! come back as replies naming the field and store nothing, the first template of a kind is the
//! default, set default and delete hand it over, sends from the sandbox number are free, a second
//! permission request the same day and a send from an unpaid billed number are refused in plain
//! words, every change is audited as the REST API audits it, and viewers only read.

use crate::support;

use app::pages::calling::templates::{
    CreateCallButtonTemplate, CreatePermissionTemplate, DeleteTemplate, ListTemplates, SendTemplate,
    SetDefaultTemplate, TemplateAccess,
};
use calling::accounts::{self, NewOwner, audit, sessions};
use leptos::server_fn::ServerFn;
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::Sandbox;

/// The signed-in browser: its session cookie, and the page's own `Origin` on every call.
struct Browser {
    base: String,
    cookie: String,
    client: reqwest::Client,
}

impl Browser {
    async fn reply(request: reqwest::RequestBuilder) -> (StatusCode, String) {
        let reply = request.send().await.unwrap();
        (reply.status(), reply.text().await.unwrap())
    }

    fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.client
            .post(format!("{}{path}", self.base))
            .header("Cookie", &self.cookie)
            .header("Origin", &self.base)
            .header("Accept", "application/json")
    }

    /// An `ActionForm` submission: `fields` URL-encoded, in order.
    async fn form(&self, path: &str, fields: &[(&str, &str)]) -> (StatusCode, String) {
        let body = fields
            .iter()
            .map(|(name, value)| format!("{}={}", encode(name), encode(value)))
            .collect::<Vec<_>>()
            .join("&");
        Self::reply(self.post(path).header("Content-Type", "application/x-www-form-urlencoded").body(body))
            .await
    }

    async fn json(&self, path: &str, body: Value) -> (StatusCode, String) {
        Self::reply(self.post(path).json(&body)).await
    }

    /// A successful call's JSON answer.
    async fn ok(&self, path: &str, fields: &[(&str, &str)]) -> Value {
        let (status, body) = self.form(path, fields).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        serde_json::from_str(&body).unwrap()
    }
}

/// `application/x-www-form-urlencoded` as browsers write it (brackets too).
fn encode(raw: &str) -> String {
    raw.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => (byte as char).to_string(),
            b' ' => "+".to_owned(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// The call-button form with every field as the page sends it; `changes` overrides some.
fn call_button<'a>(changes: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut fields = vec![
        ("name", ""),
        ("language", "en_US"),
        ("category", "marketing"),
        ("body", ""),
        ("examples", ""),
        ("button[label]", "Call Now"),
        ("button[target]", "whatsapp_call"),
        ("button[ttl_minutes]", ""),
        ("button[phone_number]", ""),
        ("button[url]", ""),
    ];
    for (name, value) in changes {
        fields.iter_mut().find(|(field, _)| field == name).expect("a form field").1 = value;
    }
    fields
}

fn permission<'a>(changes: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut fields = vec![
        ("name", ""),
        ("language", "en_US"),
        ("category", "marketing"),
        ("header", ""),
        ("body", ""),
        ("examples", ""),
        ("footer", ""),
    ];
    for (name, value) in changes {
        fields.iter_mut().find(|(field, _)| field == name).expect("a form field").1 = value;
    }
    fields
}

/// The template of a `Done` reply.
fn done(reply: &Value) -> &Value {
    reply.get("Done").unwrap_or_else(|| panic!("not done: {reply}"))
}

/// `(field, message)` of an `Invalid` reply.
fn invalid(reply: &Value) -> (&str, &str) {
    let refused = reply.get("Invalid").unwrap_or_else(|| panic!("not refused: {reply}"));
    (refused["field"].as_str().unwrap(), refused["message"].as_str().unwrap())
}

/// `name → is_default` of the listed templates.
async fn defaults(browser: &Browser) -> Vec<(String, bool)> {
    let list = browser.ok(ListTemplates::PATH, &[]).await;
    list.as_array()
        .unwrap()
        .iter()
        .map(|t| (t["name"].as_str().unwrap().to_owned(), t["is_default"].as_bool().unwrap()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_templates_page_manages_and_sends_templates_as_the_api_does() {
    let sandbox = Sandbox::start(|_| {}).await;
    let services = sandbox.services();
    let db = &services.db;
    let now = services.clock.now();
    // The install's owner: setup adopts the sandbox's workspace, the install's only one.
    let owner = NewOwner {
        email: "owner@acme.example".into(),
        display_name: Some("Olivia Owner".into()),
        password: "owner-password-long".into(),
        workspace_name: None,
    };
    let (user, workspace) = accounts::setup(db, owner, now).await.unwrap();
    assert_eq!(workspace.id, sandbox.workspace.id);
    let (token, session) = sessions::create(db, &user.id, &sessions::Origin::default(), now).await.unwrap();
    sessions::switch_workspace(db, &session, &sandbox.workspace.id).await.unwrap();
    let browser = Browser {
        base: sandbox.server.url.clone(),
        cookie: format!("{}={token}", server::auth::SESSION_COOKIE),
        client: reqwest::Client::new(),
    };

    assert_eq!(browser.ok(TemplateAccess::PATH, &[]).await, json!({ "can_manage": true, "can_send": true }));
    assert_eq!(browser.ok(ListTemplates::PATH, &[]).await, json!([]));

    // Refused fields name the field; nothing reaches WhatsApp or the list.
    let path = CreateCallButtonTemplate::PATH;
    for (changes, field, message) in [
        (
            vec![("name", "support_cb"), ("button[label]", "Call our support team")],
            "label",
            "is 21 characters; at most 20",
        ),
        (vec![("name", "Support")], "name", "may hold only lowercase letters"),
        (
            vec![("name", "support_cb"), ("button[ttl_minutes]", "soon")],
            "ttl_minutes",
            "whole number of minutes",
        ),
        (
            vec![("name", "support_cb"), ("button[ttl_minutes]", "60")],
            "ttl_minutes",
            "outside WhatsApp's range",
        ),
        (
            vec![("name", "support_cb"), ("button[target]", "url"), ("button[url]", "example.com")],
            "url",
            "not an http",
        ),
        (vec![("name", "support_cb"), ("button[target]", "fax")], "target", "choose what the button does"),
        (vec![("name", "support_cb"), ("body", "Hi {{1}}")], "examples", "exactly one example"),
    ] {
        let reply = browser.ok(path, &call_button(&changes)).await;
        let (refused, text) = invalid(&reply);
        assert_eq!(refused, field, "{changes:?}: {reply}");
        assert!(text.contains(message), "{changes:?}: {reply}");
    }
    assert_eq!(browser.ok(ListTemplates::PATH, &[]).await, json!([]));

    // The first call button is the default; the button's target decides which fields count
    // (the lifetime typed before switching to "dial a number" is ignored).
    let first = browser
        .ok(
            path,
            &call_button(&[
                ("name", "support_cb"),
                ("button[label]", "Call support"),
                ("button[target]", "phone_number"),
                ("button[phone_number]", "+1 415 555 0100"),
                ("button[ttl_minutes]", "999"),
            ]),
        )
        .await;
    let first = done(&first);
    assert_eq!(
        (
            &first["type"],
            &first["target"],
            &first["phone_number"],
            &first["ttl_minutes"],
            &first["is_default"]
        ),
        (&json!("call_button"), &json!("phone_number"), &json!("+14155550100"), &Value::Null, &json!(true))
    );
    assert_eq!(first["status"], "approved");
    let reply = browser.ok(path, &call_button(&[("name", "support_cb")])).await;
    assert_eq!(invalid(&reply).0, "name", "WhatsApp already has the name: {reply}");

    let second = browser
        .ok(
            path,
            &call_button(&[
                ("name", "order_cb"),
                ("body", "Hi {{1}}, call us about {{2}}"),
                ("examples", "Ada\r\n\r\nORD-1\r\n"),
                ("button[ttl_minutes]", "1440"),
            ]),
        )
        .await;
    let second = done(&second).clone();
    assert_eq!(
        (&second["target"], &second["ttl_minutes"], &second["body_variables"], &second["is_default"]),
        (&json!("whatsapp_call"), &json!(1440), &json!(2), &json!(false))
    );
    let second_id = second["template_id"].as_str().unwrap();

    let reply = browser.ok(CreatePermissionTemplate::PATH, &permission(&[("name", "ask_perm")])).await;
    assert_eq!(invalid(&reply), ("body", "must not be blank"));
    let ask = browser
        .ok(
            CreatePermissionTemplate::PATH,
            &permission(&[
                ("name", "ask_perm"),
                ("header", "A quick question"),
                ("body", "May we call you?"),
            ]),
        )
        .await;
    let ask = done(&ask).clone();
    assert_eq!(
        (&ask["type"], &ask["header"], &ask["is_default"]),
        (&json!("permission"), &json!("A quick question"), &json!(true))
    );

    // Set default hands the badge over; deleting the default hands it back.
    let switched = browser.ok(SetDefaultTemplate::PATH, &[("id", second_id)]).await;
    assert_eq!(switched["is_default"], true);
    assert_eq!(
        defaults(&browser).await,
        [("support_cb".to_owned(), false), ("order_cb".to_owned(), true), ("ask_perm".to_owned(), true)]
    );
    let deleted = browser.ok(DeleteTemplate::PATH, &[("id", second_id)]).await;
    assert_eq!(deleted["name"], "order_cb");
    assert_eq!(defaults(&browser).await, [("support_cb".to_owned(), true), ("ask_perm".to_owned(), true)]);
    let (status, body) = browser.form(DeleteTemplate::PATH, &[("id", second_id)]).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");

    // Every change is audited under the member, as the REST API audits it.
    let actor = format!("user:{}", user.id);
    for (action, count) in [("template.created", 3), ("template.default_set", 1), ("template.deleted", 1)] {
        let entries = audit::by_action(db, action).await.unwrap();
        assert_eq!(entries.len(), count, "{action}");
        assert!(entries.iter().all(|entry| entry.actor == actor), "{action}: {entries:?}");
    }

    // Sends from the sandbox number are free. A permission request's send form has no button
    // fields; the second request the same day is WhatsApp's 138009, refused before it is sent.
    let ask_id = ask["template_id"].as_str().unwrap();
    let send = |to: &str, template_id: &str| json!({ "form": { "template_id": template_id, "to": to, "vars": [], "ttl_minutes": "", "payload": "" } });
    let (status, body) = browser.json(SendTemplate::PATH, send("+44 7700 900123", ask_id)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let sent: Value = serde_json::from_str(&body).unwrap();
    assert_eq!((&done(&sent)["to"], &done(&sent)["cost_micros"]), (&json!("+447700900123"), &json!(0)));
    let (status, body) = browser.json(SendTemplate::PATH, send("+44 7700 900123", ask_id)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body.contains("The call permission request limit for this contact is reached (Meta error 138009)"),
        "{body}"
    );
    let (status, body) = browser.json(SendTemplate::PATH, send("12", ask_id)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(invalid(&serde_json::from_str(&body).unwrap()).0, "to");

    // A billed number without a subscription (setup started a trial: gone here): refused with
    // what to do about it.
    sqlx::query("UPDATE whatsapp_numbers SET is_sandbox = 0 WHERE id = $1")
        .bind(&sandbox.number.id)
        .execute(db.pool())
        .await
        .unwrap();
    sqlx::query("DELETE FROM subscriptions WHERE workspace_id = $1")
        .bind(&sandbox.workspace.id)
        .execute(db.pool())
        .await
        .unwrap();
    let support_id = first["template_id"].as_str().unwrap();
    let (status, body) = browser.json(SendTemplate::PATH, send("+44 7700 900124", support_id)).await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED, "{body}");
    assert!(
        body.contains("the workspace has no active subscription. Start a subscription in Admin → Billing"),
        "{body}"
    );

    // Viewers read the list and nothing else.
    sqlx::query("UPDATE memberships SET role = 'viewer' WHERE workspace_id = $1 AND user_id = $2")
        .bind(&sandbox.workspace.id)
        .bind(&user.id)
        .execute(db.pool())
        .await
        .unwrap();
    assert_eq!(
        browser.ok(TemplateAccess::PATH, &[]).await,
        json!({ "can_manage": false, "can_send": false })
    );
    assert_eq!(defaults(&browser).await.len(), 2);
    let (status, body) = browser.form(CreatePermissionTemplate::PATH, &permission(&[("name", "x")])).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = browser.form(SetDefaultTemplate::PATH, &[("id", support_id)]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = browser.json(SendTemplate::PATH, send("+44 7700 900125", support_id)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");

    // Without a session, nothing.
    let stranger = Browser { cookie: String::new(), ..browser };
    let (status, _) = stranger.form(ListTemplates::PATH, &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
