//! `switchboard calling …`: a command-line client of the REST API that mirrors the `/calling`
//! page, as the seed's CLI does. It prints the API's JSON on stdout (pipe it to `jq`) and the
//! error on stderr with a non-zero exit.

use std::io::Write;

use clap::{Args, Subcommand};
use serde_json::{Value, json};

/// Where the API is and how to authenticate.
#[derive(Args, Debug, Clone)]
pub struct ClientArgs {
    /// The Switchboard server.
    #[arg(long, env = "SWITCHBOARD_URL", default_value = "http://127.0.0.1:3000")]
    pub url: String,
    /// An API key (`switchboard admin create-api-key …` or the team panel).
    #[arg(long, env = "SWITCHBOARD_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum CallingCommand {
    /// The page-header card (the default).
    Overview {
        #[arg(long)]
        period: Option<String>,
    },
    /// Totals and the daily series: `--period 30d|7d|today`.
    Analytics {
        #[arg(long, default_value = "30d")]
        period: String,
    },
    /// The call history, newest first.
    Calls {
        #[arg(long)]
        limit: Option<i64>,
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        direction: Option<String>,
        /// Part of a number or name.
        #[arg(long)]
        search: Option<String>,
        /// On this business number (its Graph `phone_number_id`).
        #[arg(long)]
        phone_number_id: Option<String>,
        /// Taken by this agent (user id).
        #[arg(long)]
        agent: Option<String>,
        /// Started at or after (unix ms).
        #[arg(long)]
        from: Option<i64>,
        /// Started before (unix ms).
        #[arg(long)]
        to: Option<i64>,
        /// From a previous page's `next_cursor`.
        #[arg(long)]
        cursor: Option<String>,
    },
    /// One call (`call <id>`), or where it stands now (`call <id> status`).
    Call {
        call_id: String,
        #[arg(value_parser = ["status"])]
        what: Option<String>,
    },
    /// Each number's call settings and drift; `settings update …` changes them.
    Settings {
        #[command(subcommand)]
        command: Option<SettingsCommand>,
    },
    /// Whether a user allows calls: `--to +91…`.
    PermissionStatus {
        #[arg(long)]
        to: String,
    },
    /// Everyone who allows calls.
    Permissions,
    /// Every calling template (call buttons and permission requests), with `is_default`.
    Templates,
    /// One template (`template <id>`), or manage them: `template create-call-button …`,
    /// `create-permission …`, `set-default <id>`, `delete <id>`.
    #[command(args_conflicts_with_subcommands = true)]
    Template {
        template_id: Option<String>,
        #[command(subcommand)]
        command: Option<TemplateCommand>,
    },
    /// Attach a recording to a call: `upload-recording ./call.mp3 --call-id <id>` (MP3 or WAV,
    /// up to 25 MB).
    UploadRecording {
        file: std::path::PathBuf,
        #[arg(long)]
        call_id: String,
    },
    /// Place a business-initiated call: `initiate --to +91… [--phone-number-id <id>]`. The
    /// permission check and the billing preflight run now; the call then waits a minute for an
    /// agent to dial it from their browser (the CLI carries no audio). Prints the `call_id` to
    /// poll with `call <id> status`.
    Initiate {
        #[arg(long)]
        to: String,
        /// Which of the workspace's numbers calls (its Graph `phone_number_id`).
        #[arg(long)]
        phone_number_id: Option<String>,
    },
    /// Send a template message: `send <template_id> --to +91… [--var 1=John] [--vars '["John"]']`.
    Send {
        template_id: Option<String>,
        /// The same as the positional id.
        #[arg(long = "template-id", conflicts_with = "template_id")]
        template_id_flag: Option<String>,
        #[arg(long)]
        to: String,
        /// A body variable, `n=value` (repeat for each).
        #[arg(long = "var", value_name = "N=VALUE", conflicts_with = "vars")]
        var: Vec<String>,
        /// All body variables as JSON: `["John","ORD-1024"]`.
        #[arg(long)]
        vars: Option<String>,
        /// WhatsApp call buttons: how long the button works, in minutes.
        #[arg(long)]
        ttl_minutes: Option<i64>,
        /// WhatsApp call buttons: comes back as the call's `cta_payload`.
        #[arg(long)]
        payload: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum SettingsCommand {
    /// Change some settings, keeping the rest:
    /// `settings update --hours '{"mon":["09:00","18:00"]}' --icon-visible true`.
    Update {
        /// Weekly hours: `{"mon":["09:00","18:00"],"sat":[["09:00","12:00"],["14:00","16:00"]]}`.
        /// Turns call hours on; the time zone and holidays already set are kept.
        #[arg(long)]
        hours: Option<String>,
        /// The call hours' IANA time zone, e.g. `Asia/Kolkata`.
        #[arg(long)]
        timezone: Option<String>,
        /// Show the call icon in chats (`false` hides it; call buttons still work).
        #[arg(long)]
        icon_visible: Option<bool>,
        /// Let users who called ask to be called back.
        #[arg(long)]
        callback_permission: Option<bool>,
        /// Which number (the workspace's first when absent).
        #[arg(long)]
        phone_number_id: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum TemplateCommand {
    /// Show one template.
    Get { template_id: String },
    /// Delete a template at WhatsApp and here (nothing is deleted if WhatsApp refuses).
    Delete { template_id: String },
    /// Make a template the default of its kind.
    SetDefault { template_id: String },
    /// A tap-to-call template: a WhatsApp call to this number, or `--phone-number` / `--url`.
    CreateCallButton {
        #[arg(long)]
        name: String,
        #[arg(long)]
        label: Option<String>,
        #[arg(long)]
        body: Option<String>,
        #[arg(long)]
        phone_number: Option<String>,
        #[arg(long, conflicts_with = "phone_number")]
        url: Option<String>,
        #[arg(long)]
        ttl_minutes: Option<i64>,
        #[command(flatten)]
        common: NewTemplateArgs,
    },
    /// A call permission request template.
    CreatePermission {
        #[arg(long)]
        name: String,
        #[arg(long)]
        body: String,
        #[arg(long)]
        header: Option<String>,
        #[arg(long)]
        footer: Option<String>,
        #[command(flatten)]
        common: NewTemplateArgs,
    },
}

/// What both template kinds take.
#[derive(Args, Debug)]
pub struct NewTemplateArgs {
    /// e.g. en_US (the default).
    #[arg(long)]
    language: Option<String>,
    /// marketing (the default) or utility.
    #[arg(long)]
    category: Option<String>,
    /// A sample value for each body variable, in order (repeat).
    #[arg(long = "example")]
    examples: Vec<String>,
    /// Which business number's account; the workspace's first when absent.
    #[arg(long)]
    phone_number_id: Option<String>,
}

/// One API request.
struct Call {
    method: reqwest::Method,
    /// The API it belongs to: `/api/v1/app/{scope}`.
    scope: &'static str,
    path: String,
    query: Vec<(&'static str, Option<String>)>,
    body: Option<Value>,
}

impl Call {
    fn get(path: impl Into<String>, query: Vec<(&'static str, Option<String>)>) -> Self {
        Call { method: reqwest::Method::GET, scope: "calling", path: path.into(), query, body: None }
    }

    fn post(path: impl Into<String>, body: Value) -> Self {
        Call {
            method: reqwest::Method::POST,
            scope: "calling",
            path: path.into(),
            query: vec![],
            body: Some(body),
        }
    }

    fn put(path: impl Into<String>, body: Value) -> Self {
        Call {
            method: reqwest::Method::PUT,
            scope: "calling",
            path: path.into(),
            query: vec![],
            body: Some(body),
        }
    }
}

/// The JSON object of `fields`, leaving out the absent ones.
fn object(fields: Vec<(&str, Option<Value>)>) -> Value {
    Value::Object(fields.into_iter().filter_map(|(k, v)| v.map(|v| (k.to_owned(), v))).collect())
}

fn template_call(command: TemplateCommand) -> Call {
    let common = |c: NewTemplateArgs| {
        vec![
            ("language", c.language.map(Value::from)),
            ("category", c.category.map(Value::from)),
            ("examples", Some(Value::from(c.examples))),
            ("phone_number_id", c.phone_number_id.map(Value::from)),
        ]
    };
    match command {
        TemplateCommand::Get { template_id } => Call::get(format!("/templates/{template_id}"), vec![]),
        TemplateCommand::Delete { template_id } => {
            Call { method: reqwest::Method::DELETE, ..Call::get(format!("/templates/{template_id}"), vec![]) }
        }
        TemplateCommand::SetDefault { template_id } => {
            Call::post(format!("/templates/{template_id}/set-default"), json!({}))
        }
        TemplateCommand::CreateCallButton {
            name,
            label,
            body,
            phone_number,
            url,
            ttl_minutes,
            common: c,
        } => {
            let mut fields = vec![
                ("name", Some(Value::from(name))),
                ("label", label.map(Value::from)),
                ("body", body.map(Value::from)),
                ("phone_number", phone_number.map(Value::from)),
                ("url", url.map(Value::from)),
                ("ttl_minutes", ttl_minutes.map(Value::from)),
            ];
            fields.extend(common(c));
            Call::post("/templates/call-button", object(fields))
        }
        TemplateCommand::CreatePermission { name, body, header, footer, common: c } => {
            let mut fields = vec![
                ("name", Some(Value::from(name))),
                ("body", Some(Value::from(body))),
                ("header", header.map(Value::from)),
                ("footer", footer.map(Value::from)),
            ];
            fields.extend(common(c));
            Call::post("/templates/permission", object(fields))
        }
    }
}

/// `--var 1=John --var 2=ORD-1024` or `--vars '["John","ORD-1024"]'` as the API's `vars`.
fn send_vars(var: Vec<String>, vars: Option<String>) -> Result<Option<Value>, String> {
    if let Some(raw) = vars {
        return serde_json::from_str(&raw).map(Some).map_err(|err| format!("--vars is not JSON: {err}"));
    }
    if var.is_empty() {
        return Ok(None);
    }
    let mut map = serde_json::Map::new();
    for pair in var {
        let (key, value) = pair.split_once('=').ok_or_else(|| format!("--var {pair:?} is not N=VALUE"))?;
        map.insert(key.trim().to_owned(), Value::from(value));
    }
    Ok(Some(Value::Object(map)))
}

/// Runs one command; the error is what to print on stderr.
pub async fn run(client: &ClientArgs, command: Option<CallingCommand>) -> Result<(), String> {
    let call = match command.unwrap_or(CallingCommand::Overview { period: None }) {
        CallingCommand::Overview { period } => Call::get("/overview", vec![("period", period)]),
        CallingCommand::Analytics { period } => Call::get("/analytics", vec![("period", Some(period))]),
        CallingCommand::Calls {
            limit,
            status,
            direction,
            search,
            phone_number_id,
            agent,
            from,
            to,
            cursor,
        } => Call::get(
            "/calls",
            vec![
                ("limit", limit.map(|l| l.to_string())),
                ("status", status),
                ("direction", direction),
                ("q", search),
                ("phone_number_id", phone_number_id),
                ("agent", agent),
                ("from", from.map(|ms| ms.to_string())),
                ("to", to.map(|ms| ms.to_string())),
                ("cursor", cursor),
            ],
        ),
        CallingCommand::Call { call_id, what } => {
            let suffix = if what.is_some() { "/status" } else { "" };
            Call::get(format!("/calls/{call_id}{suffix}"), vec![])
        }
        CallingCommand::Settings { command: None } => Call::get("/settings", vec![]),
        CallingCommand::Settings { command: Some(update) } => settings_update(client, update).await?,
        CallingCommand::PermissionStatus { to } => Call::get("/permission-status", vec![("phone", Some(to))]),
        CallingCommand::Permissions => Call::get("/permissions", vec![]),
        CallingCommand::Templates => Call::get("/templates", vec![]),
        CallingCommand::Template { template_id, command } => match (template_id, command) {
            (_, Some(command)) => template_call(command),
            (Some(template_id), None) => template_call(TemplateCommand::Get { template_id }),
            (None, None) => return Err("give a template id, or a command (see --help)".into()),
        },
        CallingCommand::Initiate { to, phone_number_id } => Call::post(
            "/initiate",
            object(vec![
                ("to", Some(Value::from(to))),
                ("phone_number_id", phone_number_id.map(Value::from)),
            ]),
        ),
        CallingCommand::UploadRecording { file, call_id } => {
            return upload_recording(client, &file, &call_id).await;
        }
        CallingCommand::Send { template_id, template_id_flag, to, var, vars, ttl_minutes, payload } => {
            let template_id = template_id.or(template_id_flag).ok_or("give the template id")?;
            let body = object(vec![
                ("template_id", Some(Value::from(template_id))),
                ("to", Some(Value::from(to))),
                ("vars", send_vars(var, vars)?),
                ("ttl_minutes", ttl_minutes.map(Value::from)),
                ("payload", payload.map(Value::from)),
            ]);
            Call::post("/send", body)
        }
    };
    print(client, call).await
}

/// Sends one request and prints the API's JSON.
async fn print(client: &ClientArgs, call: Call) -> Result<(), String> {
    print_json(&send(client, call).await?)
}

fn print_json(body: &Value) -> Result<(), String> {
    let pretty = serde_json::to_string_pretty(body).map_err(|err| err.to_string())?;
    writeln!(std::io::stdout().lock(), "{pretty}").map_err(|err| err.to_string())
}

/// `switchboard contacts …`: list (`--tag leads`), add, show, update, delete.
#[derive(Subcommand, Debug)]
pub enum ContactsCommand {
    /// Add a contact: `contacts add --phone +91… [--name Asha] [--tag leads]…`.
    Add {
        #[arg(long)]
        phone: String,
        #[arg(long)]
        name: Option<String>,
        /// A tag (repeat for each).
        #[arg(long = "tag")]
        tags: Vec<String>,
    },
    /// One contact.
    Show { contact_id: String },
    /// Change a contact: `--name`, `--tag` (replaces all tags; repeat), `--add-tag`, `--remove-tag`.
    Update {
        contact_id: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long = "tag")]
        tags: Vec<String>,
        /// Remove every tag (with no `--tag`).
        #[arg(long, conflicts_with = "tags")]
        clear_tags: bool,
        #[arg(long = "add-tag")]
        add_tags: Vec<String>,
        #[arg(long = "remove-tag")]
        remove_tags: Vec<String>,
    },
    /// Delete a contact.
    Delete { contact_id: String },
}

/// Runs `contacts [--tag T]` or one of its commands.
pub async fn run_contacts(
    client: &ClientArgs,
    tag: Option<String>,
    command: Option<ContactsCommand>,
) -> Result<(), String> {
    let scoped = |call: Call| Call { scope: "contacts", ..call };
    let call = match command {
        None => Call::get("", vec![("tag", tag)]),
        Some(ContactsCommand::Add { phone, name, tags }) => Call::post(
            "",
            object(vec![
                ("phone_number", Some(phone.into())),
                ("name", name.map(Value::from)),
                ("tags", Some(tags.into())),
            ]),
        ),
        Some(ContactsCommand::Show { contact_id }) => Call::get(format!("/{contact_id}"), vec![]),
        Some(ContactsCommand::Update { contact_id, name, tags, clear_tags, add_tags, remove_tags }) => {
            let replaced = (!tags.is_empty() || clear_tags).then(|| Value::from(tags));
            let body = object(vec![
                ("name", name.map(Value::from)),
                ("tags", replaced),
                ("add_tags", Some(add_tags.into())),
                ("remove_tags", Some(remove_tags.into())),
            ]);
            Call::put(format!("/{contact_id}"), body)
        }
        Some(ContactsCommand::Delete { contact_id }) => {
            Call { method: reqwest::Method::DELETE, ..Call::get(format!("/{contact_id}"), vec![]) }
        }
    };
    print(client, scoped(call)).await
}

/// `upload-recording <file> --call-id <id>`: the file as the `file` part of a multipart body
/// (built here: the server decides by the bytes whether it is MP3 or WAV).
async fn upload_recording(client: &ClientArgs, file: &std::path::Path, call_id: &str) -> Result<(), String> {
    let key = client.api_key.as_deref().ok_or("set SWITCHBOARD_API_KEY (or pass --api-key)")?;
    let bytes = std::fs::read(file).map_err(|err| format!("cannot read {}: {err}", file.display()))?;
    let name: String = file
        .file_name()
        .map(|name| name.to_string_lossy().chars().filter(|c| *c != '"' && !c.is_control()).collect())
        .unwrap_or_else(|| "recording".into());
    let boundary = format!("switchboard-{}", bytes.len());
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(&bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let url = format!("{}/api/v1/app/calling/calls/{call_id}/recording", client.url.trim_end_matches('/'));
    let reply = reqwest::Client::new()
        .post(&url)
        .bearer_auth(key)
        .header(reqwest::header::CONTENT_TYPE, format!("multipart/form-data; boundary={boundary}"))
        .body(body)
        .send()
        .await
        .map_err(|err| format!("cannot reach {}: {err}", client.url))?;
    let body = answer_of(reply).await?;
    print_json(&body)
}

/// The API's JSON, or the error to print (`code: message (HTTP n)`).
async fn answer_of(reply: reqwest::Response) -> Result<Value, String> {
    let status = reply.status();
    let body: Value =
        reply.json().await.map_err(|err| format!("the server answered {status} without JSON: {err}"))?;
    if !status.is_success() {
        let code = body["error"]["code"].as_str().unwrap_or("error");
        let message = body["error"]["message"].as_str().unwrap_or("");
        return Err(format!("{code}: {message} (HTTP {})", status.as_u16()));
    }
    Ok(body)
}

/// Sends one request; the API's JSON, or the error to print.
async fn send(client: &ClientArgs, call: Call) -> Result<Value, String> {
    let key = client.api_key.as_deref().ok_or("set SWITCHBOARD_API_KEY (or pass --api-key)")?;
    let query: Vec<(&str, String)> = call.query.into_iter().filter_map(|(k, v)| v.map(|v| (k, v))).collect();
    let url = format!("{}/api/v1/app/{}{}", client.url.trim_end_matches('/'), call.scope, call.path);
    let mut request = reqwest::Client::new().request(call.method, &url).bearer_auth(key).query(&query);
    if let Some(body) = &call.body {
        request = request.json(body);
    }
    let reply = request.send().await.map_err(|err| format!("cannot reach {}: {err}", client.url))?;
    answer_of(reply).await
}

/// `settings update`: Meta replaces `call_hours` whole, so changing the hours or the time zone
/// starts from what the number has (what was set here, else what WhatsApp reports) and keeps
/// the rest of it.
async fn settings_update(client: &ClientArgs, update: SettingsCommand) -> Result<Call, String> {
    let SettingsCommand::Update { hours, timezone, icon_visible, callback_permission, phone_number_id } =
        update;
    let toggle = |on: bool| Value::from(if on { "ENABLED" } else { "DISABLED" });
    let mut settings = object(vec![
        (
            "call_icon_visibility",
            icon_visible.map(|on| Value::from(if on { "DEFAULT" } else { "DISABLE_ALL" })),
        ),
        ("callback_permission_status", callback_permission.map(toggle)),
    ]);
    if hours.is_some() || timezone.is_some() {
        let current = send(client, Call::get("/settings", vec![])).await?;
        let numbers = current["numbers"].as_array().cloned().unwrap_or_default();
        let number = match &phone_number_id {
            Some(id) => numbers.iter().find(|n| n["phone_number_id"] == id.as_str()),
            None => numbers.first(),
        }
        .ok_or("no such WhatsApp number in this workspace")?;
        let settings_now = if number["desired"].is_object() { &number["desired"] } else { &number["remote"] };
        let mut call_hours = settings_now["call_hours"].clone();
        if !call_hours.is_object() {
            call_hours = json!({});
        }
        call_hours["status"] = Value::from("ENABLED");
        if let Some(hours) = hours {
            let weekly =
                calling::settings::weekly_hours_from_shorthand(&hours).map_err(|err| err.to_string())?;
            call_hours["weekly_operating_hours"] =
                serde_json::to_value(weekly).map_err(|err| err.to_string())?;
        }
        if let Some(timezone) = timezone {
            call_hours["timezone_id"] = Value::from(timezone);
        }
        if call_hours.get("holiday_schedule").is_none_or(Value::is_null) {
            call_hours["holiday_schedule"] = json!([]);
        }
        settings["call_hours"] = call_hours;
    }
    if settings.as_object().is_some_and(serde_json::Map::is_empty) {
        return Err(
            "nothing to change: give --hours, --timezone, --icon-visible or --callback-permission".into()
        );
    }
    Ok(Call::put(
        "/settings",
        object(vec![("phone_number_id", phone_number_id.map(Value::from)), ("settings", Some(settings))]),
    ))
}
