//! The `switchboard` command line: `serve` (the default), `migrate` and the operator's `admin …`.

use std::io::Write;
use std::process::ExitCode;

use axum::serve::ListenerExt;
use clap::{Parser, Subcommand};
use tokio::net::TcpListener;

use crate::webhooks::Webhooks;
use crate::{AppState, Config, leptos_options, router};
use calling::Services;
use calling::bus::EventBus;
use calling::clock::Clock;
use calling::secrets::SecretKey;
use calling::storage::{Db, Dialect, PoolSize};

/// Switchboard: WhatsApp Business Calling for your team, self-hosted.
#[derive(Parser, Debug)]
#[command(name = "switchboard", version, about)]
pub struct Cli {
    #[command(flatten)]
    pub config: Config,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the web server (the default when no command is given).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// The calling page from the command line (REST API client; prints JSON).
    Calling {
        #[command(flatten)]
        client: crate::client_cli::ClientArgs,
        #[command(subcommand)]
        command: Option<crate::client_cli::CallingCommand>,
    },
    /// The workspace's contacts with tags (REST API client; prints JSON): `contacts --tag leads`,
    /// `contacts add|show|update|delete …`.
    #[command(args_conflicts_with_subcommands = true)]
    Contacts {
        #[command(flatten)]
        client: crate::client_cli::ClientArgs,
        /// Only the contacts with this tag.
        #[arg(long)]
        tag: Option<String>,
        #[command(subcommand)]
        command: Option<crate::client_cli::ContactsCommand>,
    },
    /// Operator commands: create owners and API keys without the web UI.
    Admin {
        #[command(subcommand)]
        command: crate::accounts_cli::AdminCommand,
    },
}

/// A client's failure is the server's answer, not a crash: printed plainly, exit code 1.
fn client_outcome(outcome: Result<(), String>) -> StartResult<()> {
    if let Err(message) = outcome {
        let _ = writeln!(std::io::stderr(), "error: {message}");
        std::process::exit(1);
    }
    Ok(())
}

/// Parses the command line, runs the command, and turns failures into an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    crate::telemetry::init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            tracing::error!(error = %err, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => serve(&cli.config).await,
            Command::Migrate => migrate(&cli.config).await,
            Command::Admin { command } => crate::accounts_cli::run(&cli.config, command).await,
            Command::Calling { client, command } => {
                return client_outcome(crate::client_cli::run(&client, command).await);
            }
            Command::Contacts { client, tag, command } => {
                return client_outcome(crate::client_cli::run_contacts(&client, tag, command).await);
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %err, "switchboard stopped with an error");
            ExitCode::FAILURE
        }
    }
}

type StartResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Opens the database, applies migrations and assembles the application state for a server
/// listening on `listening_on`.
pub async fn start(config: &Config, listening_on: std::net::SocketAddr) -> StartResult<AppState> {
    let db = Db::connect(&config.database_url, PoolSize(config.database_max_connections)).await?;
    db.migrate().await?;
    tracing::info!(dialect = ?db.dialect(), "database ready");
    let secret_key = match &config.secret_key {
        Some(hex) => SecretKey::from_hex(hex)?,
        None => SecretKey::load_or_create(&config.secret_key_file)?,
    };
    // Several replicas share a PostgreSQL database, so they share its LISTEN/NOTIFY bus too.
    let bus = match db.dialect() {
        Dialect::Postgres => EventBus::postgres(&config.database_url).await?,
        Dialect::Sqlite => EventBus::in_process(),
    };
    let ice = config.ice()?;
    let mailer = config.mailer()?;
    let services = Services { db, clock: Clock::System, bus, secret_key, mailer };
    let sandbox = crate::sandbox::start(&services, config.sandbox, config.sandbox_ice, listening_on).await?;
    crate::sweeper::start(services.clone());
    Ok(AppState {
        sandbox,
        webhooks: Webhooks::start(services.clone()),
        services,
        leptos: leptos_options(config),
        limits: config.limits(),
        ice,
        routing: config.routing(),
    })
}

async fn serve(config: &Config) -> StartResult<()> {
    let listener = TcpListener::bind(config.bind).await?;
    let address = listener.local_addr()?;
    // Live events and small answers go out at once: with Nagle's algorithm a write waits for
    // the browser's (delayed, up to 40 ms) acknowledgement of the one before.
    let listener = listener.tap_io(|stream| {
        if let Err(err) = stream.set_nodelay(true) {
            tracing::debug!(error = %err, "could not set TCP_NODELAY on a connection");
        }
    });
    let state = start(config, address).await?;
    let db = state.services.db.clone();
    tracing::info!(url = %format!("http://{address}/calling"), "Switchboard is listening");
    // Connection info gives the login rate limit and the audit log the peer's address.
    let app = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app).with_graceful_shutdown(shutdown_signal()).await?;
    db.close().await;
    tracing::info!("stopped cleanly");
    Ok(())
}

async fn migrate(config: &Config) -> StartResult<()> {
    let db = Db::connect(&config.database_url, PoolSize(1)).await?;
    db.migrate().await?;
    db.close().await;
    tracing::info!("migrations applied");
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM, so in-flight requests finish before the process exits.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("Ctrl-C received, shutting down"),
        () = terminate => tracing::info!("SIGTERM received, shutting down"),
    }
}
