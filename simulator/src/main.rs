//! `switchboard-sim`: the WhatsApp simulator on its own, on 127.0.0.1, serving the same Graph
//! API (`/{version}/…`) and scenario API (`/sandbox/…`) the server mounts in-process.

use std::time::Duration;

use clap::Parser;
use simulator::{SimConfig, Simulator};

#[derive(Parser, Debug)]
#[command(name = "switchboard-sim", about = "A local stand-in for WhatsApp's Calling API")]
struct Args {
    /// Port to listen on (127.0.0.1 only; 0 picks a free port).
    #[arg(long, default_value_t = 4000)]
    port: u16,
    /// The business's webhook URL (signed POSTs go there).
    #[arg(long, env = "SIM_WEBHOOK_URL")]
    webhook_url: Option<String>,
    /// App secret used for X-Hub-Signature-256.
    #[arg(long, env = "SIM_APP_SECRET", default_value = simulator::DEFAULT_APP_SECRET)]
    app_secret: String,
    /// Bearer token the Graph API accepts.
    #[arg(long, env = "SIM_TOKEN", default_value = simulator::DEFAULT_ACCESS_TOKEN)]
    token: String,
    /// The user's WebRTC peer is ICE-lite, like Meta (default).
    #[arg(long, conflicts_with = "full_ice")]
    ice_lite: bool,
    /// The user's WebRTC peer runs full ICE (connects about 1 s faster).
    #[arg(long)]
    full_ice: bool,
    /// Seconds a call may ring before it fails unanswered.
    #[arg(long, default_value_t = 45)]
    answer_window: u64,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    let sim = Simulator::new(SimConfig {
        webhook_url: args.webhook_url,
        app_secret: args.app_secret,
        access_token: args.token,
        ice_lite: !args.full_ice,
        answer_window: Duration::from_secs(args.answer_window),
        ..SimConfig::default()
    });
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port)).await?;
    let addr = listener.local_addr()?;
    for n in sim.numbers() {
        tracing::info!(
            phone_number_id = %n.phone_number_id,
            display = %n.display_phone_number,
            waba_id = %n.waba_id,
            "simulated business number"
        );
    }
    tracing::info!(%addr, graph = %format!("http://{addr}/{}", sim.config().graph_version), "switchboard-sim listening");
    axum::serve(listener, sim.router()).await
}
