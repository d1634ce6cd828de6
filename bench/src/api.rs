//! `switchboard-bench api`: the REST API's read paths against a workspace holding a million
//! calls (`./dev bench api`).
//!
//! For each database (SQLite, PostgreSQL) it builds a fresh database, seeds one workspace with
//! `--calls` calls spread over the last year (two numbers, every status and direction, a third
//! of the answered ones taken by an agent), starts the real `switchboard serve` on it, and
//! times `GET /api/v1/app/calling/calls?limit=50` (first page, filtered, and a page 20,000 calls
//! deep by cursor) and `GET /api/v1/app/calling/analytics?period=30d|7d` one request at a time
//! with an API key, checking every answer is a 200 with what the query asked for. The first
//! analytics read, which fills the hourly roll-ups, is reported on its own.

use std::fmt::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use axum::http::{Request, StatusCode};
use bytes::Bytes;
use calling::accounts::{self, NewOwner, Role, api_keys};
use calling::clock::Clock;
use calling::numbers::{self, NewNumber, NumberCredentials};
use calling::secrets::SecretKey;
use calling::storage::{Db, PoolSize};
use http_body_util::{BodyExt, Full};
use serde_json::Value;

use super::{Result, Sender, Server, connect, free_addr, fresh_postgres_database, redact, wait_ready};

const DAY_MS: i64 = 86_400_000;
const NUMBERS: [(&str, &str); 2] =
    [("100000000000091", "+447700900091"), ("100000000000092", "+447700900092")];

#[derive(clap::Parser, Clone)]
pub struct ApiArgs {
    /// The `switchboard` binary to measure (build it with --release).
    #[arg(long)]
    server: std::path::PathBuf,
    /// Calls in the workspace.
    #[arg(long, default_value_t = 1_000_000)]
    calls: usize,
    /// How deep (in calls) the deep pages are.
    #[arg(long, default_value_t = 20_000)]
    depth: usize,
    /// Timed requests per query (after 20 untimed ones).
    #[arg(long, default_value_t = 300)]
    requests: usize,
    /// A PostgreSQL server URL (any database on it); a fresh database is created there.
    #[arg(long)]
    postgres: Option<String>,
    /// Which databases to run (comma-separated): sqlite, postgres.
    #[arg(long, default_value = "sqlite,postgres")]
    targets: String,
    /// Also write the results table (Markdown) here.
    #[arg(long)]
    markdown: Option<std::path::PathBuf>,
}

/// One query's timings.
struct Timed {
    target: String,
    query: &'static str,
    path: String,
    latencies_us: Vec<u32>,
}

impl Timed {
    fn percentile_ms(&self, p: f64) -> f64 {
        let rank = ((p / 100.0) * self.latencies_us.len() as f64).ceil() as usize;
        let index = rank.clamp(1, self.latencies_us.len()) - 1;
        f64::from(self.latencies_us[index]) / 1000.0
    }
}

pub async fn run(mut args: ApiArgs) -> Result<()> {
    args.server = std::fs::canonicalize(&args.server)
        .map_err(|err| format!("--server {}: {err}", args.server.display()))?;
    let mut results = Vec::new();
    let mut seeding = Vec::new();
    for target in args.targets.split(',').map(str::trim) {
        let url_and_dir = match target {
            "sqlite" => {
                let dir = tempfile::tempdir()?;
                let url = format!("sqlite://{}?mode=rwc", dir.path().join("bench.db").display());
                Some((url, dir))
            }
            "postgres" => match &args.postgres {
                Some(server) => Some((fresh_postgres_database(server).await?, tempfile::tempdir()?)),
                None => {
                    eprintln!("skipping postgres: no --postgres URL");
                    None
                }
            },
            other => return Err(format!("unknown target {other:?}").into()),
        };
        let Some((url, dir)) = url_and_dir else { continue };
        eprintln!("{target}: seeding {} calls into {}", args.calls, redact(&url));
        let key_hex = SecretKey::generate_hex();
        let started = Instant::now();
        let api_key = seed(&url, &key_hex, args.calls).await?;
        seeding.push((target.to_owned(), started.elapsed()));
        eprintln!("{target}: seeded in {:.0} s", started.elapsed().as_secs_f64());
        results.extend(measure(&args, target, &url, &key_hex, &api_key, dir.path()).await?);
    }
    let table = table(&results, &seeding, &args);
    println!("{table}");
    if let Some(path) = &args.markdown {
        std::fs::write(path, &table)?;
    }
    Ok(())
}

/// Migrations, the owner and their workspace, two numbers, `count` calls, a viewer API key.
async fn seed(url: &str, key_hex: &str, count: usize) -> Result<String> {
    let db = Db::connect(url, PoolSize(2)).await?;
    db.migrate().await?;
    let now = Clock::System.now();
    let owner = NewOwner {
        email: "agent@bench.example".into(),
        display_name: Some("Bench Agent".into()),
        password: "bench-password-long-enough".into(),
        workspace_name: None,
    };
    let (agent, workspace) = accounts::create_owner(&db, owner, "Bench", now).await?;
    let mut number_ids = Vec::new();
    for (phone_number_id, e164) in NUMBERS {
        let new = NewNumber {
            phone_number_id: phone_number_id.into(),
            waba_id: "200000000000091".into(),
            phone_number: e164.into(),
            credentials: NumberCredentials {
                access_token: "token".into(),
                app_secret: "secret".into(),
                verify_token: "verify".into(),
            },
            graph_api_version: None,
            graph_api_base_url: None,
            is_sandbox: false,
        };
        number_ids
            .push(numbers::connect(&db, &SecretKey::from_hex(key_hex)?, &workspace.id, new, now).await?.id);
    }

    // Literal multi-row INSERTs (every value is generated here, digits and fixed words), in
    // transactions of 50,000 rows: the quickest load both dialects take through one code path.
    const ROWS_PER_STATEMENT: usize = 500;
    let year = 365 * DAY_MS;
    let mut n = 0;
    while n < count {
        let mut tx = db.pool().begin().await?;
        let chunk_end = (n + 50_000).min(count);
        while n < chunk_end {
            let mut sql = String::from(
                "INSERT INTO calls (id, workspace_id, wa_call_id, phone_number_id, number_id, direction, status, \
                 phase, contact_number, contact_name, business_number, started_at, answered_at, ended_at, \
                 duration_seconds, cost_micros, answered_by, created_at, updated_at) VALUES ",
            );
            let statement_end = (n + ROWS_PER_STATEMENT).min(chunk_end);
            for i in n..statement_end {
                // Newest first by index, evenly spread over the year, never two at one instant.
                let started = now - (i as i64 * year) / count as i64 - 1;
                let (status, direction) = match i % 10 {
                    0..=4 => ("completed", "user_initiated"),
                    5 => ("completed", "business_initiated"),
                    6 | 7 => ("missed", "user_initiated"),
                    8 => ("rejected", "business_initiated"),
                    _ => ("failed", "business_initiated"),
                };
                let duration = if status == "completed" { Some(30 + (i % 600) as i64) } else { None };
                let cost = if direction == "business_initiated" {
                    duration.map_or(0, |d| (d + 5) / 6 * 2_500)
                } else {
                    0
                };
                let agent = if status == "completed" && i % 3 == 0 {
                    format!("'{}'", agent.id)
                } else {
                    "NULL".into()
                };
                let (phone_number_id, display) = NUMBERS[i % 2];
                let number_id = &number_ids[i % 2];
                let answered = duration.map_or("NULL".into(), |_| (started + 5_000).to_string());
                let ended = (started + 5_000 + duration.unwrap_or(25) * 1000).to_string();
                let duration = duration.map_or("NULL".into(), |d| d.to_string());
                if i > n {
                    sql.push(',');
                }
                let _ = write!(
                    sql,
                    "('bench-{i:08}', '{ws}', 'wacid.bench-{i}', '{phone_number_id}', '{number_id}', '{direction}', \
                     '{status}', 'terminated', '+4477{contact:08}', 'Caller {contact}', '{display}', {started}, \
                     {answered}, {ended}, {duration}, {cost}, {agent}, {started}, {ended})",
                    ws = workspace.id,
                    contact = i % 200_000,
                );
            }
            sqlx::query(&sql).execute(&mut *tx).await?;
            n = statement_end;
        }
        tx.commit().await?;
    }
    // What a long-running database knows about its tables (autovacuum's ANALYZE on
    // PostgreSQL; SQLite's statistics for its planner).
    sqlx::query("ANALYZE").execute(db.pool()).await?;
    let (key, _) = api_keys::create(&db, &workspace.id, "bench", Role::Viewer, &agent.id, now).await?;
    db.close().await;
    Ok(key)
}

async fn measure(
    args: &ApiArgs,
    target: &str,
    url: &str,
    key_hex: &str,
    api_key: &str,
    dir: &std::path::Path,
) -> Result<Vec<Timed>> {
    let addr = free_addr()?;
    let log = std::fs::File::create(dir.join("server.log"))?;
    let child = Command::new(&args.server)
        .arg("serve")
        .env("DATABASE_URL", url)
        .env("BIND", addr.to_string())
        .env("SECRET_KEY", key_hex)
        .env("SANDBOX", "off")
        .env("RUST_LOG", "warn")
        .current_dir(dir)
        .stdout(log.try_clone()?)
        .stderr(log)
        .stdin(Stdio::null())
        .spawn()?;
    let server = Server { child };
    wait_ready(addr, &server).await?;
    let mut client =
        Client { sender: connect(addr).await?, authority: addr.to_string(), key: api_key.to_owned() };

    // A cursor `depth` calls deep, and one as deep into the filtered list.
    let base = "/api/v1/app/calling/calls?limit=200";
    let filter = format!("status=missed&direction=user_initiated&phone_number_id={}", NUMBERS[0].0);
    let pages = args.depth.div_ceil(200);
    let deep = client.cursor_after(base, pages).await?;
    let deep_filtered = client.cursor_after(&format!("{base}&{filter}"), pages).await?;

    let queries: Vec<(&'static str, String)> = vec![
        ("calls, first page", "/api/v1/app/calling/calls?limit=50".into()),
        (
            "calls, filtered (status, direction, number)",
            format!("/api/v1/app/calling/calls?limit=50&{filter}"),
        ),
        ("calls, deep (cursor)", format!("/api/v1/app/calling/calls?limit=50&cursor={deep}")),
        (
            "calls, filtered, deep",
            format!("/api/v1/app/calling/calls?limit=50&{filter}&cursor={deep_filtered}"),
        ),
        ("analytics, 30 days", "/api/v1/app/calling/analytics?period=30d".into()),
        ("analytics, 7 days", "/api/v1/app/calling/analytics?period=7d".into()),
    ];
    let mut out = Vec::new();
    // The first 30-day read after loading fills the hourly roll-ups (calling::analytics): timed
    // on its own, since every later read finds them.
    let first_read = "/api/v1/app/calling/analytics?period=30d";
    let started = Instant::now();
    let body = client.get(first_read).await?;
    let cold = u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX);
    check("analytics", &body)?;
    eprintln!("{target}: analytics, 30 days, first read: {:.2} ms", f64::from(cold) / 1000.0);
    out.push(Timed {
        target: target.to_owned(),
        query: "analytics, 30 days, first read after loading (fills the roll-ups; one request)",
        path: first_read.into(),
        latencies_us: vec![cold],
    });
    for (query, path) in queries {
        for _ in 0..20 {
            client.get(&path).await?;
        }
        let mut latencies_us = Vec::with_capacity(args.requests);
        for _ in 0..args.requests {
            let started = Instant::now();
            let body = client.get(&path).await?;
            latencies_us.push(u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX));
            check(query, &body)?;
        }
        latencies_us.sort_unstable();
        let timed = Timed { target: target.to_owned(), query, path, latencies_us };
        eprintln!(
            "{target}: {query}: p50 {:.2} ms, p99 {:.2} ms",
            timed.percentile_ms(50.0),
            timed.percentile_ms(99.0)
        );
        out.push(timed);
    }
    drop(server);
    Ok(out)
}

/// The answer is what the query asked for, not merely a 200.
fn check(query: &str, body: &Value) -> Result<()> {
    let ok = if query.starts_with("calls") {
        let calls = body["calls"].as_array().map_or(0, Vec::len);
        calls == 50
            && (!query.contains("filtered")
                || body["calls"].as_array().into_iter().flatten().all(|c| c["status"] == "missed"))
    } else {
        body["analytics"]["total_calls"].as_i64().is_some_and(|n| n > 0)
    };
    if ok { Ok(()) } else { Err(format!("{query}: unexpected answer {body}").into()) }
}

struct Client {
    sender: Sender,
    authority: String,
    key: String,
}

impl Client {
    async fn get(&mut self, path: &str) -> Result<Value> {
        self.sender.ready().await?;
        let request = Request::get(path)
            .header("host", &self.authority)
            .header("authorization", format!("Bearer {}", self.key))
            .body(Full::new(Bytes::new()))?;
        let response = self.sender.send_request(request).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        if status != StatusCode::OK {
            return Err(format!("GET {path}: {status} {}", String::from_utf8_lossy(&body)).into());
        }
        Ok(serde_json::from_slice(&body)?)
    }

    /// The cursor after `pages` pages of `path`.
    async fn cursor_after(&mut self, path: &str, pages: usize) -> Result<String> {
        let mut cursor: Option<String> = None;
        for _ in 0..pages {
            let page_path = match &cursor {
                Some(cursor) => format!("{path}&cursor={cursor}"),
                None => path.to_owned(),
            };
            let page = self.get(&page_path).await?;
            cursor =
                Some(page["next_cursor"].as_str().ok_or("the list ended before the deep page")?.to_owned());
        }
        cursor.ok_or_else(|| "no pages".into())
    }
}

fn table(results: &[Timed], seeding: &[(String, Duration)], args: &ApiArgs) -> String {
    let mut out = format!(
        "{} calls in one workspace (spread over a year: ~{} in the last 30 days), two numbers; deep pages \
         start {} calls in. Each query {} times one after another after 20 untimed, over one HTTP/1.1 \
         keep-alive connection with an API key; every answer checked.\n\n",
        args.calls,
        args.calls * 30 / 365,
        args.depth,
        args.requests
    );
    out.push_str("| database | query | p50 | p99 | max | target |\n|---|---|---:|---:|---:|---|\n");
    for timed in results {
        let target_ms = if timed.query.starts_with("analytics") { 50.0 } else { 10.0 };
        let p99 = timed.percentile_ms(99.0);
        let verdict = if timed.latencies_us.len() == 1 {
            "– (once)".to_owned()
        } else if p99 < target_ms {
            format!("p99 < {target_ms} ms ✓")
        } else {
            format!("p99 < {target_ms} ms ✗")
        };
        let _ = writeln!(
            out,
            "| {} | {} (`{}`) | {:.2} ms | {:.2} ms | {:.2} ms | {verdict} |",
            timed.target,
            timed.query,
            timed.path.split('?').nth(1).map_or("", |q| if q.len() > 60 { &q[..60] } else { q }),
            timed.percentile_ms(50.0),
            p99,
            timed.percentile_ms(100.0),
        );
    }
    out.push('\n');
    for (target, took) in seeding {
        let _ = writeln!(out, "Seeding {target}: {:.0} s.", took.as_secs_f64());
    }
    out
}
