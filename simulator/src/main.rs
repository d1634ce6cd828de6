//! `switchboard-sim`: the WhatsApp simulator on its own, on 127.0.0.1.

use clap::Parser;

#[derive(Parser, Debug)]
#[command(name = "switchboard-sim", about = "A local stand-in for WhatsApp's Calling API")]
struct Args {
    /// Port to listen on (127.0.0.1 only).
    #[arg(long, default_value_t = 4000)]
    port: u16,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).init();
    let args = Args::parse();
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port)).await?;
    tracing::info!(addr = %listener.local_addr()?, "simulator listening");
    axum::serve(listener, simulator::router()).await
}
