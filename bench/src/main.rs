//! `switchboard-bench`: the load generators behind `./dev bench webhooks` and `./dev bench api`
//! ([`api`]).
//!
//! It owns the whole measurement: a fresh database with one connected number, the real
//! `switchboard serve` binary started on it, N distinct signed call webhooks sent over loopback
//! HTTP/1.1 keep-alive connections at a fixed concurrency, the ack latency of each, the server's
//! peak RSS, and a check in the database that every acknowledged delivery is stored. The same
//! client is first pointed at a trivial "read the body, answer 200" axum server in its own
//! process: that is the ceiling the real endpoint is compared with.
//!
//! The report goes to stdout (and, with `--markdown`, to a file): this is a command-line tool,
//! not the server, so it prints.
#![allow(clippy::print_stdout)]

use std::collections::HashSet;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderValue, Request, StatusCode};
use calling::clock::Clock;
use calling::ingest;
use calling::numbers::{self, NewNumber, NumberCredentials};
use calling::secrets::SecretKey;
use calling::storage::{Db, PoolSize};
use calling::webhook::signature::{SIGNATURE_HEADER, sign};
use calling::workspace;
use clap::{Parser, Subcommand};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;

mod api;

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Result<T, E = BoxError> = std::result::Result<T, E>;

const APP_SECRET: &str = "bench-app-secret";
const PHONE_NUMBER_ID: &str = "100000000000088";
const WABA_ID: &str = "200000000000088";

#[derive(Parser)]
#[command(name = "switchboard-bench", about = "Switchboard load generators")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Signed, distinct call webhooks against the ceiling, SQLite and (optionally) PostgreSQL.
    Webhooks(WebhookArgs),
    /// The REST API's read paths against a workspace of a million calls, on SQLite and PostgreSQL.
    Api(api::ApiArgs),
    /// The ceiling: an axum server that reads each body and answers 200 (run by `webhooks`).
    #[command(hide = true)]
    CeilingServer {
        #[arg(long)]
        bind: SocketAddr,
    },
}

#[derive(Parser, Clone)]
struct WebhookArgs {
    /// The `switchboard` binary to measure (build it with --release).
    #[arg(long)]
    server: PathBuf,
    /// Measured deliveries per target (after the warm-up).
    #[arg(long, default_value_t = 100_000)]
    requests: usize,
    /// Deliveries sent first and not timed (connections, caches, SQLite pages warm up).
    #[arg(long, default_value_t = 5_000)]
    warmup: usize,
    /// Requests in flight: one keep-alive connection each.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// A PostgreSQL server URL (any database on it); a fresh database is created there.
    #[arg(long)]
    postgres: Option<String>,
    /// Which targets to run (comma-separated): ceiling, sqlite, postgres.
    #[arg(long, default_value = "ceiling,sqlite,postgres")]
    targets: String,
    /// Also write the results table (Markdown) here.
    #[arg(long)]
    markdown: Option<PathBuf>,
}

/// What one target measured.
struct Outcome {
    target: String,
    sent: usize,
    elapsed: Duration,
    latencies_us: Vec<u32>,
    failures: usize,
    peak_rss_kib: Option<u64>,
    /// Server CPU time (user + system) spent during the measured part.
    server_cpu: Option<Duration>,
    /// `stored == sent` checked in the database (`None` for the ceiling: nothing is stored).
    stored: Option<usize>,
    /// Deliveries already processed when the load ended.
    processed: Option<usize>,
    /// How long after the load every stored delivery was processed (`None`: not within the
    /// wait, or nothing stored).
    drained_after: Option<Duration>,
}

impl Outcome {
    fn per_second(&self) -> f64 {
        self.latencies_us.len() as f64 / self.elapsed.as_secs_f64()
    }

    fn percentile_ms(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return f64::NAN;
        }
        let rank = ((p / 100.0) * self.latencies_us.len() as f64).ceil() as usize;
        let index = rank.clamp(1, self.latencies_us.len()) - 1;
        f64::from(self.latencies_us[index]) / 1000.0
    }
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match cli.command {
        Cmd::CeilingServer { bind } => runtime.block_on(ceiling_server(bind)),
        Cmd::Webhooks(args) => runtime.block_on(webhooks(args)),
        Cmd::Api(args) => runtime.block_on(api::run(args)),
    }
}

/// The ceiling: read the whole body, answer 200, nothing else.
async fn ceiling_server(bind: SocketAddr) -> Result<()> {
    async fn accept(body: Bytes) -> StatusCode {
        std::hint::black_box(body.len());
        StatusCode::OK
    }
    let app = axum::Router::new()
        .route("/webhooks/whatsapp", axum::routing::post(accept))
        .route("/readyz", axum::routing::get(|| async { StatusCode::OK }));
    let listener = tokio::net::TcpListener::bind(bind).await?;
    axum::serve(listener, app).await?;
    Ok(())
}

async fn webhooks(mut args: WebhookArgs) -> Result<()> {
    // The server runs in a temporary directory, so a relative path would not resolve there.
    args.server = std::fs::canonicalize(&args.server)
        .map_err(|err| format!("--server {}: {err}", args.server.display()))?;
    let targets: Vec<&str> = args.targets.split(',').map(str::trim).collect();
    let mut outcomes = Vec::new();
    for target in &targets {
        let outcome = match *target {
            "ceiling" => Some(run_ceiling(&args).await?),
            "sqlite" => Some(run_switchboard(&args, Backend::Sqlite).await?),
            "postgres" => match &args.postgres {
                Some(url) => Some(run_switchboard(&args, Backend::Postgres(url.clone())).await?),
                None => {
                    eprintln!("skipping postgres: no --postgres URL");
                    None
                }
            },
            other => return Err(format!("unknown target {other:?}").into()),
        };
        if let Some(outcome) = outcome {
            eprintln!("{}", row(&outcome, None));
            outcomes.push(outcome);
        }
    }
    let ceiling = outcomes.iter().find(|o| o.target == "ceiling").map(Outcome::per_second);
    let table = table(&outcomes, ceiling, &args);
    println!("{table}");
    if let Some(path) = &args.markdown {
        std::fs::write(path, &table)?;
    }
    let failed = outcomes.iter().any(|o| o.failures > 0 || o.stored.is_some_and(|stored| stored != o.sent));
    if failed {
        return Err("some deliveries were not acknowledged or not stored".into());
    }
    Ok(())
}

fn table(outcomes: &[Outcome], ceiling: Option<f64>, args: &WebhookArgs) -> String {
    let mut out = format!(
        "{} measured deliveries per target after {} warm-up, concurrency {}, HTTP/1.1 keep-alive over loopback.\n\n",
        args.requests, args.warmup, args.concurrency
    );
    out.push_str(
        "| target | deliveries/s | % of ceiling | p50 ack | p99 ack | max ack | peak server RSS | server CPU per delivery | stored / sent | processed by end of load | all processed |\n",
    );
    out.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|\n");
    for outcome in outcomes {
        out.push_str(&row(outcome, ceiling));
        out.push('\n');
    }
    out
}

fn row(o: &Outcome, ceiling: Option<f64>) -> String {
    let share = match ceiling {
        Some(ceiling) if o.target != "ceiling" => format!("{:.0} %", 100.0 * o.per_second() / ceiling),
        Some(_) => "100 %".into(),
        None => "–".into(),
    };
    let rss = o.peak_rss_kib.map_or("–".into(), |kib| format!("{:.0} MiB", kib as f64 / 1024.0));
    let stored = match o.stored {
        Some(stored) if stored == o.sent => format!("{stored} / {} ✓", o.sent),
        Some(stored) => format!("{stored} / {} ✗", o.sent),
        None => "– (stores nothing)".into(),
    };
    let cpu = o.server_cpu.map_or("–".into(), |cpu| {
        format!("{:.0} µs", cpu.as_secs_f64() * 1e6 / o.latencies_us.len().max(1) as f64)
    });
    let failures = if o.failures > 0 { format!(" ({} failed)", o.failures) } else { String::new() };
    let drained = match (o.stored, o.drained_after) {
        (None, _) => "–".into(),
        (Some(_), Some(after)) => format!("{:.1} s after the load", after.as_secs_f64()),
        (Some(_), None) => "not within 120 s".into(),
    };
    format!(
        "| {} | {:.0}{failures} | {share} | {:.2} ms | {:.2} ms | {:.2} ms | {rss} | {cpu} | {stored} | {} | {drained} |",
        o.target,
        o.per_second(),
        o.percentile_ms(50.0),
        o.percentile_ms(99.0),
        o.percentile_ms(100.0),
        o.processed.map_or("–".into(), |n| n.to_string()),
    )
}

enum Backend {
    Sqlite,
    Postgres(String),
}

/// One signed delivery, ready to send.
struct Delivery {
    body: Bytes,
    signature: HeaderValue,
}

/// `count` distinct connect webhooks (each a new call from a new caller), signed; `offset`
/// keeps the warm-up's bodies different from the measured ones.
fn deliveries(offset: usize, count: usize) -> Vec<Delivery> {
    (offset..offset + count)
        .map(|n| {
            let body = serde_json::json!({
                "object": "whatsapp_business_account",
                "entry": [{ "id": WABA_ID, "changes": [{ "field": "calls", "value": {
                    "messaging_product": "whatsapp",
                    "metadata": { "phone_number_id": PHONE_NUMBER_ID, "display_phone_number": "447700900088" },
                    "contacts": [{ "wa_id": format!("44770{n:07}"), "profile": { "name": format!("Caller {n}") } }],
                    "calls": [{ "id": format!("wacid.bench-{n}"), "to": "447700900088", "from": format!("44770{n:07}"),
                                "event": "connect", "timestamp": "1795355100", "direction": "USER_INITIATED",
                                "session": { "sdp_type": "offer", "sdp": "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n" } }]
                }}]}]
            })
            .to_string();
            let signature = HeaderValue::from_str(&sign(APP_SECRET.as_bytes(), body.as_bytes()))
                .expect("a hex signature is a valid header value");
            Delivery { body: Bytes::from(body), signature }
        })
        .collect()
}

/// A child process killed when dropped, so an early error leaves nothing running.
struct Server {
    child: Child,
}

impl Server {
    /// User + system CPU time so far (`/proc/<pid>/stat`, in clock ticks of 10 ms).
    fn cpu_time(&self) -> Option<Duration> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).ok()?;
        // Fields after the parenthesised command name; utime and stime are the 14th and 15th.
        let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
        Some(Duration::from_millis(ticks * 10))
    }

    fn peak_rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_addr() -> Result<SocketAddr> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

async fn run_ceiling(args: &WebhookArgs) -> Result<Outcome> {
    eprintln!("ceiling: trivial axum server");
    let addr = free_addr()?;
    let child = Command::new(std::env::current_exe()?)
        .args(["ceiling-server", "--bind", &addr.to_string()])
        .stdout(Stdio::null())
        .spawn()?;
    let server = Server { child };
    wait_ready(addr, &server).await?;
    let Load { sent, elapsed, latencies: latencies_us, failures, server_cpu } =
        load(addr, args, &server).await?;
    Ok(Outcome {
        target: "ceiling".into(),
        sent,
        elapsed,
        latencies_us,
        failures,
        peak_rss_kib: server.peak_rss_kib(),
        server_cpu,
        stored: None,
        processed: None,
        drained_after: None,
    })
}

async fn run_switchboard(args: &WebhookArgs, backend: Backend) -> Result<Outcome> {
    let dir = tempfile::tempdir()?;
    let (target, url) = match &backend {
        Backend::Sqlite => ("sqlite", format!("sqlite://{}?mode=rwc", dir.path().join("bench.db").display())),
        Backend::Postgres(server_url) => ("postgres", fresh_postgres_database(server_url).await?),
    };
    eprintln!("{target}: switchboard serve on {}", redact(&url));
    let key_hex = SecretKey::generate_hex();
    prepare(&url, &key_hex).await?;

    let addr = free_addr()?;
    let log = std::fs::File::create(dir.path().join("server.log"))?;
    let child = Command::new(&args.server)
        .arg("serve")
        .env("DATABASE_URL", &url)
        .env("BIND", addr.to_string())
        .env("SECRET_KEY", &key_hex)
        .env("SANDBOX", "off")
        .env("RUST_LOG", "warn")
        .current_dir(dir.path())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()?;
    let server = Server { child };
    wait_ready(addr, &server).await?;
    let Load { sent, elapsed, latencies: latencies_us, failures, server_cpu } =
        load(addr, args, &server).await?;
    let peak_rss_kib = server.peak_rss_kib();

    // Verify against the database while the server is still up: every acknowledged body's
    // dedupe key must be there, and nothing else.
    let load_ended = Instant::now();
    let db = Db::connect(&url, PoolSize(2)).await?;
    let processed_count = || async {
        let (processed,): (i64,) = sqlx::query_as(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM webhook_deliveries WHERE state = 'processed'",
        )
        .fetch_one(db.pool())
        .await?;
        Ok::<_, sqlx::Error>(usize::try_from(processed).unwrap_or(0))
    };
    let processed = processed_count().await?;
    let keys: Vec<(String,)> =
        sqlx::query_as("SELECT dedupe_key FROM webhook_deliveries").fetch_all(db.pool()).await?;
    let keys: HashSet<String> = keys.into_iter().map(|(key,)| key).collect();
    let all = deliveries(0, args.warmup).into_iter().chain(deliveries(args.warmup, args.requests));
    let stored = all
        .filter(|d| keys.contains(&ingest::screen(&d.body).map(|s| s.dedupe_key).unwrap_or_default()))
        .count();
    if keys.len() != stored {
        return Err(format!("{} rows stored but only {stored} match a sent body", keys.len()).into());
    }
    // Then wait (up to two minutes) for the backlog the load left to be processed.
    let mut drained_after = None;
    while load_ended.elapsed() < Duration::from_secs(120) {
        if processed_count().await? >= stored {
            drained_after = Some(load_ended.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    db.close().await;
    drop(server);
    let log = std::fs::read_to_string(dir.path().join("server.log")).unwrap_or_default();
    if !log.trim().is_empty() {
        eprintln!("--- {target} server log (last lines) ---");
        for line in log.lines().rev().take(10).collect::<Vec<_>>().into_iter().rev() {
            eprintln!("{line}");
        }
    }
    Ok(Outcome {
        target: target.into(),
        sent,
        elapsed,
        latencies_us,
        failures,
        peak_rss_kib,
        server_cpu,
        stored: Some(stored),
        processed: Some(processed),
        drained_after,
    })
}

fn redact(url: &str) -> &str {
    url.split('?').next().unwrap_or(url)
}

/// A new database on the PostgreSQL server, so every run starts empty.
async fn fresh_postgres_database(server_url: &str) -> Result<String> {
    let admin = Db::connect(server_url, PoolSize(1)).await?;
    let name = format!(
        "switchboard_bench_{}_{}",
        std::process::id(),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis()
    );
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(admin.pool()).await?;
    admin.close().await;
    let base = server_url.rsplit_once('/').map_or(server_url, |(base, _)| base);
    Ok(format!("{base}/{name}"))
}

/// Migrations, a workspace and one connected number whose app secret signs the deliveries.
async fn prepare(url: &str, key_hex: &str) -> Result<()> {
    let db = Db::connect(url, PoolSize(1)).await?;
    db.migrate().await?;
    let now = Clock::System.now();
    let workspace = workspace::create(&db, "Bench", now).await?;
    let new = NewNumber {
        phone_number_id: PHONE_NUMBER_ID.into(),
        waba_id: WABA_ID.into(),
        phone_number: "+447700900088".into(),
        credentials: NumberCredentials {
            access_token: "token".into(),
            app_secret: APP_SECRET.into(),
            verify_token: "verify".into(),
        },
        graph_api_version: None,
        graph_api_base_url: None,
        is_sandbox: false,
    };
    numbers::connect(&db, &SecretKey::from_hex(key_hex)?, &workspace.id, new, now).await?;
    db.close().await;
    Ok(())
}

async fn wait_ready(addr: SocketAddr, server: &Server) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(200) = get_status(addr, "/readyz").await {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("the server (pid {}) never became ready", server.child.id()).into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn get_status(addr: SocketAddr, path: &str) -> Result<u16> {
    let mut sender = connect(addr).await?;
    let request = Request::get(path).header("host", addr.to_string()).body(Full::new(Bytes::new()))?;
    let response = sender.send_request(request).await?;
    Ok(response.status().as_u16())
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

async fn connect(addr: SocketAddr) -> Result<Sender> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}

/// The warm-up, then the measured run: `concurrency` connections, each sending the next
/// unsent delivery as soon as its previous one is answered. Returns (sent, elapsed of the
/// measured part, sorted latencies of its 200s, non-200 or failed requests).
async fn load(addr: SocketAddr, args: &WebhookArgs, server: &Server) -> Result<Load> {
    let warmup = Arc::new(deliveries(0, args.warmup));
    let measured = Arc::new(deliveries(args.warmup, args.requests));
    let (_, _, warm_failures) = blast(addr, warmup, args.concurrency).await?;
    let cpu_before = server.cpu_time();
    let started = Instant::now();
    let (mut latencies, _, failures) = blast(addr, measured, args.concurrency).await?;
    let elapsed = started.elapsed();
    let server_cpu = cpu_before.zip(server.cpu_time()).map(|(before, after)| after.saturating_sub(before));
    latencies.sort_unstable();
    Ok(Load {
        sent: args.warmup + args.requests,
        elapsed,
        latencies,
        failures: failures + warm_failures,
        server_cpu,
    })
}

/// What [`load`] measured.
struct Load {
    sent: usize,
    elapsed: Duration,
    latencies: Vec<u32>,
    failures: usize,
    server_cpu: Option<Duration>,
}

async fn blast(
    addr: SocketAddr,
    deliveries: Arc<Vec<Delivery>>,
    concurrency: usize,
) -> Result<(Vec<u32>, usize, usize)> {
    let next = Arc::new(AtomicUsize::new(0));
    let authority = addr.to_string();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (deliveries, next, authority) = (deliveries.clone(), next.clone(), authority.clone());
        let mut sender = connect(addr).await?;
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(deliveries.len() / concurrency + 1);
            let mut failures = 0usize;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(delivery) = deliveries.get(i) else { break };
                let request = Request::post("/webhooks/whatsapp")
                    .header("host", &authority)
                    .header("content-type", "application/json")
                    .header(SIGNATURE_HEADER, delivery.signature.clone())
                    .body(Full::new(delivery.body.clone()))
                    .expect("a valid request");
                let started = Instant::now();
                let ok = match sender.ready().await {
                    Ok(()) => match sender.send_request(request).await {
                        Ok(response) => {
                            let status = response.status();
                            response.into_body().collect().await.is_ok() && status == StatusCode::OK
                        }
                        Err(_) => false,
                    },
                    Err(_) => false,
                };
                if ok {
                    latencies.push(u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX));
                } else {
                    failures += 1;
                    // A failed request may have closed the connection: open a new one.
                    match connect(addr).await {
                        Ok(fresh) => sender = fresh,
                        Err(_) => break,
                    }
                }
            }
            (latencies, failures)
        }));
    }
    let mut all = Vec::with_capacity(deliveries.len());
    let mut failures = 0;
    for task in tasks {
        let (latencies, failed) = task.await?;
        all.extend(latencies);
        failures += failed;
    }
    let answered = all.len();
    Ok((all, answered, failures))
}
