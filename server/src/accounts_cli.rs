//! `switchboard admin …`: the operator's account commands, for a fresh install without the web
//! UI or to recover one.
//!
//! `create-owner` reads the password from stdin (never from an argument, which would land in
//! shell history and `ps`); `create-api-key` prints the new key, and only the key, on stdout so
//! scripts can capture it. Both are recorded in the audit log with the actor `cli`.

use std::io::{BufRead, Write};

use calling::accounts::{self, NewOwner, Role, api_keys, audit};
use calling::clock::Clock;
use calling::storage::{Db, PoolSize};
use clap::Subcommand;

use crate::Config;

type CliResult<T = ()> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// The `admin` subcommands.
#[derive(Subcommand, Debug)]
pub enum AdminCommand {
    /// Make EMAIL an owner of workspace NAME (both created when missing). The password is read
    /// from the first line of stdin; an existing user's password is replaced by it.
    CreateOwner {
        #[arg(long)]
        email: String,
        /// The workspace's name (or id).
        #[arg(long)]
        workspace: String,
        /// Display name of a new user (default: the email's local part).
        #[arg(long)]
        display_name: Option<String>,
    },
    /// Create an API key for workspace NAME and print it (shown this once).
    CreateApiKey {
        /// The workspace's name (or id).
        #[arg(long)]
        workspace: String,
        /// What the key is for, e.g. "CRM sync".
        #[arg(long)]
        name: String,
        /// owner, admin, agent or viewer.
        #[arg(long)]
        role: String,
    },
}

/// Runs one admin command against `DATABASE_URL` (migrating it first).
pub async fn run(config: &Config, command: AdminCommand) -> CliResult {
    let db = Db::connect(&config.database_url, PoolSize(1)).await?;
    db.migrate().await?;
    let result = match command {
        AdminCommand::CreateOwner { email, workspace, display_name } => {
            create_owner(&db, email, &workspace, display_name).await
        }
        AdminCommand::CreateApiKey { workspace, name, role } => {
            create_api_key(&db, &workspace, &name, &role).await
        }
    };
    db.close().await;
    result
}

async fn create_owner(db: &Db, email: String, workspace: &str, display_name: Option<String>) -> CliResult {
    let password = read_password()?;
    let owner = NewOwner { email, display_name, password, workspace_name: None };
    let (user, workspace) = accounts::create_owner(db, owner, workspace, Clock::System.now()).await?;
    tracing::info!(user = %user.id, email = %user.email, workspace = %workspace.name, workspace_id = %workspace.id, "owner ready");
    Ok(())
}

/// The first line of stdin, without its line ending.
fn read_password() -> CliResult<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    if password.is_empty() {
        return Err("give the password on stdin, e.g. `read -rs P && printf '%s\\n' \"$P\" | switchboard admin create-owner …`".into());
    }
    Ok(password)
}

async fn create_api_key(db: &Db, workspace: &str, name: &str, role: &str) -> CliResult {
    let role: Role = role.parse()?;
    let workspace = accounts::workspace_by_name(db, workspace)
        .await?
        .ok_or_else(|| format!("no workspace is named {workspace:?}"))?;
    let now = Clock::System.now();
    let (key, api_key) = api_keys::create(db, &workspace.id, name, role, "cli", now).await?;
    let target = format!("api_key:{}", api_key.id);
    let entry = audit::NewEntry {
        workspace_id: Some(&workspace.id),
        actor: "cli",
        action: "api_key.created",
        target: Some(&target),
        details: serde_json::json!({ "name": api_key.name, "role": role, "prefix": api_key.prefix }),
        ip: None,
    };
    audit::record(db, entry, now).await?;
    tracing::info!(workspace = %workspace.name, key = %api_key.prefix, %role, "API key created");
    // The key is this command's output: stdout, alone, for `KEY=$(switchboard admin …)`.
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{key}")?;
    stdout.flush()?;
    Ok(())
}
