//! `switchboard calling …`: a command-line client of the REST API that mirrors the `/calling`
//! page, as the seed's CLI does. It prints the API's JSON on stdout (pipe it to `jq`) and the
//! error on stderr with a non-zero exit.

use std::io::Write;

use clap::{Args, Subcommand};
use serde_json::Value;

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
    /// Each number's call settings and drift.
    Settings,
    /// Whether a user allows calls: `--to +91…`.
    PermissionStatus {
        #[arg(long)]
        to: String,
    },
    /// Everyone who allows calls.
    Permissions,
}

/// Runs one command; the error is what to print on stderr.
pub async fn run(client: &ClientArgs, command: Option<CallingCommand>) -> Result<(), String> {
    let (path, query) = match command.unwrap_or(CallingCommand::Overview { period: None }) {
        CallingCommand::Overview { period } => ("/overview".to_owned(), vec![("period", period)]),
        CallingCommand::Analytics { period } => ("/analytics".to_owned(), vec![("period", Some(period))]),
        CallingCommand::Calls { limit, status, direction, search, cursor } => (
            "/calls".to_owned(),
            vec![
                ("limit", limit.map(|l| l.to_string())),
                ("status", status),
                ("direction", direction),
                ("q", search),
                ("cursor", cursor),
            ],
        ),
        CallingCommand::Call { call_id, what } => {
            let suffix = if what.is_some() { "/status" } else { "" };
            (format!("/calls/{call_id}{suffix}"), vec![])
        }
        CallingCommand::Settings => ("/settings".to_owned(), vec![]),
        CallingCommand::PermissionStatus { to } => {
            ("/permission-status".to_owned(), vec![("phone", Some(to))])
        }
        CallingCommand::Permissions => ("/permissions".to_owned(), vec![]),
    };
    let key = client.api_key.as_deref().ok_or("set SWITCHBOARD_API_KEY (or pass --api-key)")?;
    let query: Vec<(&str, String)> = query.into_iter().filter_map(|(k, v)| v.map(|v| (k, v))).collect();
    let url = format!("{}/api/v1/app/calling{path}", client.url.trim_end_matches('/'));
    let reply = reqwest::Client::new()
        .get(&url)
        .bearer_auth(key)
        .query(&query)
        .send()
        .await
        .map_err(|err| format!("cannot reach {}: {err}", client.url))?;
    let status = reply.status();
    let body: Value =
        reply.json().await.map_err(|err| format!("the server answered {status} without JSON: {err}"))?;
    if !status.is_success() {
        let code = body["error"]["code"].as_str().unwrap_or("error");
        let message = body["error"]["message"].as_str().unwrap_or("");
        return Err(format!("{code}: {message} (HTTP {})", status.as_u16()));
    }
    let pretty = serde_json::to_string_pretty(&body).map_err(|err| err.to_string())?;
    writeln!(std::io::stdout().lock(), "{pretty}").map_err(|err| err.to_string())
}
