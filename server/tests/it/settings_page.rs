//! The `/calling/settings` page's server functions over real HTTP, sent the way the hydrated page
//! sends them (the editor's form as JSON), with a signed-in member's session cookie, against the
//! simulator: the page loads what WhatsApp has, broken rules come back by field path and reach
//! neither WhatsApp nor the database, an accepted save is what WhatsApp reports back and is
//! audited as the REST API audits it, WhatsApp's own refusals come back in its words with nothing
//! stored, and viewers only read.

use crate::support;

use app::pages::calling::settings::{LoadCallSettings, RefreshCallSettings, SaveCallSettings};
use calling::accounts::{self, NewOwner, audit, sessions};
use leptos::server_fn::ServerFn;
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::Sandbox;

struct Browser {
    base: String,
    cookie: String,
    client: reqwest::Client,
}

/// What the page shows of a number's settings: sent as JSON text inside the answer (the Call hours
/// page, which shares the answer, never reads it).
fn shown(state: &Value) -> Value {
    serde_json::from_str(state.as_str().unwrap_or_else(|| panic!("state is not text: {state}"))).unwrap()
}

impl Browser {
    async fn call(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let reply = self
            .client
            .post(format!("{}{path}", self.base))
            .header("Cookie", &self.cookie)
            .header("Origin", &self.base)
            .header("Accept", "application/json")
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = reply.status();
        let text = reply.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// `load_call_settings` and `refresh_call_settings` take their arguments URL-encoded.
    async fn form(&self, path: &str, body: &str) -> (StatusCode, Value) {
        let reply = self
            .client
            .post(format!("{}{path}", self.base))
            .header("Cookie", &self.cookie)
            .header("Origin", &self.base)
            .header("Accept", "application/json")
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body.to_owned())
            .send()
            .await
            .unwrap();
        let status = reply.status();
        let text = reply.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }
}

/// The editor's form: calling on, Monday–Friday 09:00–17:00 in São Paulo, one holiday.
fn office_week(phone_number_id: &str, holiday: &str) -> Value {
    let open = json!({ "open": true, "ranges": [{ "open": "09:00", "close": "17:00" }] });
    let closed = json!({ "open": false, "ranges": [] });
    json!({
        "phone_number_id": phone_number_id,
        "calling_enabled": true,
        "icon_visibility": "DEFAULT",
        "callback_enabled": true,
        "countries": "",
        "hours_enabled": true,
        "timezone": "America/Sao_Paulo",
        "week": [open, open, open, open, open, closed, closed],
        "holidays": [{ "date": holiday, "all_day": true, "start": "00:00", "end": "23:59" }],
    })
}

/// The field paths of an `Invalid` reply.
fn refused_fields(reply: &Value) -> Vec<&str> {
    reply["Invalid"]
        .as_array()
        .unwrap_or_else(|| panic!("not refused: {reply}"))
        .iter()
        .map(|problem| problem["field"].as_str().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_settings_page_saves_hours_to_whatsapp_as_the_api_does() {
    let sandbox = Sandbox::start(|_| {}).await;
    let services = sandbox.services();
    let db = &services.db;
    let now = services.clock.now();
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
    let pid = sandbox.number.phone_number_id.clone();
    let holiday = calling::dates::date_of_millis(now + 30 * 86_400_000);

    // The first load asks WhatsApp what it has: the sandbox number takes calls.
    let (status, page) = browser.form(LoadCallSettings::PATH, "").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["can_change"], json!(true));
    let number = &page["numbers"][0];
    assert_eq!(number["phone_number_id"], json!(pid));
    assert_eq!(number["is_sandbox"], json!(true));
    let state = shown(&number["state"]);
    assert_eq!(state["reported"]["calling"], json!("On"), "{state}");
    assert_eq!(state["drift"], json!([]));
    // The editor starts from what WhatsApp has, nothing having been saved here.
    assert_eq!(number["form"]["calling_enabled"], json!(true), "{number}");
    assert_eq!(number["form"]["hours_enabled"], json!(false));

    // Overlapping ranges and a day that closes before it opens: every problem by its field,
    // and nothing reaches WhatsApp or the database.
    let mut broken = office_week(&pid, &holiday);
    broken["week"][0]["ranges"] =
        json!([{ "open": "09:00", "close": "12:00" }, { "open": "11:00", "close": "14:00" }]);
    broken["week"][2]["ranges"] = json!([{ "open": "17:00", "close": "09:00" }]);
    broken["holidays"][0]["date"] = json!("2020-01-01");
    let (status, reply) = browser.call(SaveCallSettings::PATH, json!({ "form": broken })).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(
        refused_fields(&reply),
        [
            // Monday's two ranges come first, then Tuesday's, then Wednesday's.
            "call_hours.weekly_operating_hours[3].close_time",
            "call_hours.weekly_operating_hours[1].open_time",
            "call_hours.holiday_schedule[0].date",
        ]
    );
    let stored = calling::settings_sync::load(db, &sandbox.number.id).await.unwrap();
    assert_eq!(stored.desired, None);
    assert!(audit::by_action(db, "settings.updated").await.unwrap().is_empty());

    // Valid: WhatsApp (the simulator) takes it, and reports back exactly the hours sent.
    let (status, reply) =
        browser.call(SaveCallSettings::PATH, json!({ "form": office_week(&pid, &holiday) })).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let saved = shown(&reply["Saved"]);
    let weekday = json!("09:00–17:00");
    assert_eq!(
        saved["reported"]["hours"]["On"],
        json!({
            "zone": "America/Sao_Paulo",
            "days": [weekday, weekday, weekday, weekday, weekday, "Closed", "Closed"],
            "holidays": [format!("{holiday}: closed all day")],
        }),
        "{saved}"
    );
    assert_eq!(saved["reported"]["callback"], json!("On"));
    assert_eq!(saved["drift"], json!([]));
    let remote = calling::settings_sync::load(db, &sandbox.number.id).await.unwrap().remote.unwrap();
    let hours = serde_json::to_value(remote.call_hours).unwrap();
    assert_eq!(hours["status"], json!("ENABLED"), "{reply}");
    assert_eq!(hours["timezone_id"], json!("America/Sao_Paulo"));
    let mut days: Vec<String> = hours["weekly_operating_hours"]
        .as_array()
        .unwrap()
        .iter()
        .map(|slot| format!("{} {}-{}", slot["day_of_week"], slot["open_time"], slot["close_time"]))
        .collect();
    days.sort();
    assert_eq!(
        days,
        ["FRIDAY", "MONDAY", "THURSDAY", "TUESDAY", "WEDNESDAY"]
            .map(|day| format!("\"{day}\" \"0900\"-\"1700\""))
    );
    assert_eq!(
        hours["holiday_schedule"],
        json!([{ "date": holiday, "start_time": "0000", "end_time": "2359" }])
    );
    assert_eq!(serde_json::to_value(remote.callback_permission_status).unwrap(), json!("ENABLED"));
    let entries = audit::by_action(db, "settings.updated").await.unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].actor, format!("user:{}", user.id));
    assert_eq!(entries[0].target.as_deref(), Some(sandbox.number.id.as_str()));
    assert_eq!(entries[0].details["call_hours"]["timezone_id"], json!("America/Sao_Paulo"));

    // WhatsApp's own refusal (call hours off with only a holiday: the simulator wants a week)
    // comes back in its words, and what was saved stays.
    let mut holiday_only = office_week(&pid, &holiday);
    holiday_only["hours_enabled"] = json!(false);
    for day in 0..7 {
        holiday_only["week"][day] = json!({ "open": false, "ranges": [] });
    }
    let (status, reply) = browser.call(SaveCallSettings::PATH, json!({ "form": holiday_only })).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let refusal = reply["Refused"].as_str().unwrap_or_else(|| panic!("not refused: {reply}"));
    assert!(refusal.contains("weekly_operating_hours"), "{refusal}");
    let stored = calling::settings_sync::load(db, &sandbox.number.id).await.unwrap();
    assert_eq!(stored.desired.unwrap().call_hours.unwrap().weekly_operating_hours.len(), 5);
    assert_eq!(audit::by_action(db, "settings.updated").await.unwrap().len(), 1);

    // Asking WhatsApp again changes nothing: no drift.
    let (status, fresh) = browser.form(RefreshCallSettings::PATH, &format!("phone_number_id={pid}")).await;
    assert_eq!(status, StatusCode::OK, "{fresh}");
    assert_eq!(fresh["drift"], json!([]));

    // Someone changes the zone in Meta's tools (WhatsApp's webhook reports it): the page shows
    // the drift, field by field.
    let mut changed = calling::settings_sync::load(db, &sandbox.number.id).await.unwrap().remote.unwrap();
    changed.call_hours.as_mut().unwrap().timezone_id = Some("UTC".into());
    calling::settings_sync::record_remote(db.pool(), &sandbox.number, &changed, now).await.unwrap();
    let (status, page) = browser.form(LoadCallSettings::PATH, "").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(
        shown(&page["numbers"][0]["state"])["drift"],
        json!([{ "field": "Time zone", "saved": "America/Sao_Paulo", "reported": "UTC" }])
    );

    // Viewers read, and may not save.
    sqlx::query("UPDATE memberships SET role = 'viewer' WHERE workspace_id = $1 AND user_id = $2")
        .bind(&sandbox.workspace.id)
        .bind(&user.id)
        .execute(db.pool())
        .await
        .unwrap();
    let (status, page) = browser.form(LoadCallSettings::PATH, "").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["can_change"], json!(false));
    assert_eq!(page["numbers"][0]["form"]["hours_enabled"], json!(true), "{page}");
    let (status, reply) =
        browser.call(SaveCallSettings::PATH, json!({ "form": office_week(&pid, &holiday) })).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{reply}");
    assert_eq!(audit::by_action(db, "settings.updated").await.unwrap().len(), 1);

    // Without a session, nothing.
    let stranger = Browser { cookie: String::new(), ..browser };
    let (status, _) = stranger.form(LoadCallSettings::PATH, "").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
