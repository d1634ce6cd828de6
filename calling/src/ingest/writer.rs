//! The ingest task: one task, on a thread and database connections of its own, stores every
//! delivery the webhook endpoint accepts — many per statement (group commit) — answers each
//! caller only once the statement holding its row has committed, and processes the stored
//! deliveries in between.
//!
//! Why one task: a transaction per request makes every webhook pay a commit and, on SQLite,
//! fight the other requests for the single write lock (losers sleep in SQLite's busy handler
//! for milliseconds). With one writer, requests that arrive while a batch commits simply form
//! the next batch, so the batch size follows the load with no timer and no added latency when
//! idle; and storing and processing take turns instead of fighting over that lock.
//!
//! Why a thread of its own (a single-threaded Tokio runtime): every statement is a wait for
//! the database, and on the server's runtime the task, once woken, queued behind the HTTP
//! tasks of the flood it was serving — each round trip cost a millisecond under load (a quiet
//! `BEGIN IMMEDIATE` takes 30 µs). On SQLite, batches are stored through the SQLite library
//! directly ([`SqliteStore`]), not through sqlx, whose every statement is a hand-over to the
//! connection's own thread and back.
//!
//! Storing comes first: each turn stores everything waiting, then processes stored
//! deliveries. While new ones keep arriving (a flood), a short slice of them at intervals, so
//! an acknowledgement seldom waits behind processing and then briefly; otherwise as many as
//! are pending, in one transaction, until a delivery arrives to be stored (see
//! [`process_deliveries`]), so the backlog is worked off quickly once the flood eases.
//! Deliveries left `pending` by a previous run are queued at start.
//!
//! The guarantees: a caller hears `New` or `Duplicate` only after the row is committed (so an
//! acknowledged delivery survives a crash), deliveries are deduplicated by their
//! [`super::dedupe_key`] (also within one batch), and a failed statement fails every request
//! in it, so nothing is acknowledged that is not stored.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use sqlx::AnyConnection;
use tokio::sync::mpsc::error::TryRecvError;
use tokio::sync::{mpsc, oneshot};

use super::{Pending, Stored, pending_deliveries, process_deliveries};
use crate::ids::new_id;
use crate::{Error, Result, Services};

/// Deliveries waiting for the writer before callers wait to enqueue (backpressure).
const QUEUE: usize = 8192;
/// Processing backlog entries keep their body (no re-read) while the backlog is shorter than
/// this, so a long flood does not pile bodies up in memory.
const BODIES_IN_MEMORY: usize = 10_000;
/// A flood is over when no batch was stored for this long.
const FLOOD_QUIET: Duration = Duration::from_millis(20);
/// During a flood (a batch stored in the last [`FLOOD_QUIET`]), deliveries are processed in
/// one transaction of at most [`FLOOD_PROCESSING_SLICE`] every [`FLOOD_PROCESSING_EVERY`]:
/// processing keeps going (calls still ring during a flood, later), acknowledgements seldom
/// wait behind it, and SQLite's storing connection loses its page cache (which every commit
/// on another connection wipes) once per interval instead of after every delivery. Processing
/// one delivery per turn instead took half the task's time, and the cache misses it caused
/// were most of what storing cost.
const FLOOD_PROCESSING_EVERY: Duration = Duration::from_millis(50);
const FLOOD_PROCESSING_SLICE: Duration = Duration::from_millis(2);
/// Most deliveries in one statement, so a backlog still commits (and answers) in steps. Four
/// binds a row: 2 048 binds, far below both databases' limits (SQLite 32 766, PostgreSQL 65 535).
const MAX_BATCH: usize = 512;

/// The handle the webhook endpoint stores deliveries through. Cheap to clone.
#[derive(Clone, Debug)]
pub struct DeliveryWriter {
    queue: mpsc::Sender<Job>,
}

#[derive(Debug)]
struct Job {
    id: String,
    dedupe_key: String,
    body: String,
    received_at: i64,
    done: oneshot::Sender<Result<Stored>>,
}

impl DeliveryWriter {
    /// Starts the ingest task on a thread of its own. It lives until every handle is dropped
    /// and its backlog is processed.
    pub fn start(services: Services) -> Self {
        let (queue, jobs) = mpsc::channel(QUEUE);
        spawn_ingest_thread(services, jobs);
        DeliveryWriter { queue }
    }

    /// Stores a delivery's raw body under its [`super::dedupe_key`] (a body stored before is a
    /// `Duplicate`) and returns once the row is committed.
    pub async fn store(&self, raw_body: &[u8], dedupe_key: String, now: i64) -> Result<Stored> {
        let body = std::str::from_utf8(raw_body)
            .map_err(|_| Error::validation("body", "webhook body is not UTF-8"))?
            .to_owned();
        let (done, committed) = oneshot::channel();
        let job = Job { id: new_id(), dedupe_key, body, received_at: now, done };
        let stopped = || Error::Unavailable { message: "the webhook delivery writer has stopped".into() };
        self.queue.send(job).await.map_err(|_| stopped())?;
        committed.await.map_err(|_| stopped())?
    }
}

/// Runs the ingest task on a new thread, on a single-threaded runtime of its own: woken by the
/// database, it runs at once instead of after the HTTP tasks queued on the server's runtime.
fn spawn_ingest_thread(services: Services, jobs: mpsc::Receiver<Job>) {
    let spawned = std::thread::Builder::new().name("webhook-ingest".into()).spawn(move || {
        match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(runtime) => runtime.block_on(run(services, jobs)),
            Err(err) => tracing::error!(error = %err, "cannot start the webhook ingest runtime"),
        }
    });
    if let Err(err) = spawned {
        // The receiver went with the closure: every store() answers "unavailable".
        tracing::error!(error = %err, "cannot start the webhook ingest thread");
    }
}

async fn run(services: Services, mut jobs: mpsc::Receiver<Job>) {
    let mut backlog: Backlog = VecDeque::new();
    // Deliveries a previous run stored but did not process are read, once, before this run
    // stores any (so none is queued twice).
    let mut recovered = false;
    let mut statements = Statements::default();
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut connection: Option<AnyConnection> = None;
    let mut sqlite: Option<SqliteStore> = None;
    // When a batch was last stored, and when processing may next run while they keep coming.
    let mut last_stored_at: Option<Instant> = None;
    let mut process_again_at = Instant::now();
    let mut closed = false;
    loop {
        let flooding = !closed && last_stored_at.is_some_and(|at| at.elapsed() < FLOOD_QUIET);
        // Wait for work when there is nothing to process, or processing must wait its turn;
        // otherwise take what is waiting.
        if recovered && backlog.is_empty() {
            if jobs.recv_many(&mut batch, MAX_BATCH).await == 0 {
                return; // every handle dropped, nothing left to do
            }
        } else if recovered && flooding && Instant::now() < process_again_at {
            let deadline = tokio::time::Instant::from_std(process_again_at);
            if let Ok(0) = tokio::time::timeout_at(deadline, jobs.recv_many(&mut batch, MAX_BATCH)).await {
                closed = true;
            }
        } else {
            while batch.len() < MAX_BATCH {
                match jobs.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
                }
            }
        }
        // A connection that failed is replaced at the next turn.
        let worked = async {
            let conn = match &mut connection {
                Some(conn) => conn,
                None => connection.insert(services.db.dedicated_connection().await?),
            };
            if sqlite.is_none()
                && let Some(file) = services.db.sqlite_file()
            {
                sqlite = Some(SqliteStore::open(&file)?);
            }
            if !recovered {
                let pending = pending_deliveries(conn).await?;
                if !pending.is_empty() {
                    tracing::info!(
                        count = pending.len(),
                        "processing webhook deliveries left from the last run"
                    );
                }
                backlog.extend(pending.into_iter().map(|id| (id, None)));
                recovered = true;
            }
            if !batch.is_empty() {
                let outcomes = match &mut sqlite {
                    Some(sqlite) => sqlite.write_batch(&batch),
                    None => write_batch(conn, &mut statements, &batch).await,
                };
                answer_batch(outcomes, &mut batch, &mut backlog)?;
                last_stored_at = Some(Instant::now());
                services.db.writing_burst();
            }
            // During a flood, a slice at intervals; otherwise as many as are pending, for as
            // long as no delivery waits to be stored (the one in hand finishes and the
            // transaction commits first).
            if !backlog.is_empty() && (!flooding || Instant::now() >= process_again_at) {
                let started = Instant::now();
                let keep_going = || {
                    if flooding { started.elapsed() < FLOOD_PROCESSING_SLICE } else { jobs.is_empty() }
                };
                let handled =
                    process_deliveries(&services, conn, backlog.make_contiguous(), keep_going).await?;
                for (delivery_id, _) in backlog.drain(..handled) {
                    if let Some(sqlite) = &mut sqlite {
                        sqlite.processed(&delivery_id);
                    }
                }
                if flooding {
                    process_again_at = started + FLOOD_PROCESSING_EVERY;
                }
            }
            Ok::<_, Error>(())
        }
        .await;
        if let Err(err) = worked {
            // Most likely the connection broke: open fresh ones next turn. What was not
            // processed stays at the front of the backlog.
            tracing::warn!(error = %err, "webhook ingest: replacing the database connection");
            connection = None;
            sqlite = None;
            fail_batch(&mut batch, &err);
            // Do not spin while the database is unreachable.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Stored deliveries waiting to be processed, oldest first.
type Backlog = VecDeque<Pending>;

/// Answers the callers of a stored `batch`; new deliveries join the processing `backlog`. If
/// storing failed, every caller is answered with the error, which is returned too.
fn answer_batch(outcomes: Result<Vec<Stored>>, batch: &mut Vec<Job>, backlog: &mut Backlog) -> Result<()> {
    match outcomes {
        Ok(outcomes) => {
            for (Job { body, done, .. }, outcome) in batch.drain(..).zip(outcomes) {
                if let Stored::New { delivery_id } = &outcome {
                    let body = (backlog.len() < BODIES_IN_MEMORY).then_some(body);
                    backlog.push_back((delivery_id.clone(), body));
                }
                // The caller may have gone (client timeout); the row is stored all the same and
                // a retry is answered as a duplicate.
                let _ = done.send(Ok(outcome));
            }
            Ok(())
        }
        Err(err) => {
            tracing::error!(error = %err, deliveries = batch.len(), "could not store a batch of webhook deliveries");
            fail_batch(batch, &err);
            Err(err)
        }
    }
}

/// Answers every waiting caller with an error: nothing of theirs is acknowledged, Meta retries.
fn fail_batch(batch: &mut Vec<Job>, err: &Error) {
    for job in batch.drain(..) {
        let _ = job.done.send(Err(Error::internal(format!("storing the delivery failed: {err}"))));
    }
}

/// The multi-row INSERT (and, on SQLite, the key lookup) for each batch size met so far (the
/// text is built once; the database connection keeps the prepared statements of the sizes in
/// use).
#[derive(Default)]
struct Statements {
    texts: HashMap<usize, String>,
    lookups: HashMap<usize, String>,
    /// SQLite: no unique index to lean on (see [`SqliteStore`]), so a plain INSERT.
    plain: bool,
}

impl Statements {
    fn plain() -> Self {
        Statements { plain: true, ..Statements::default() }
    }

    fn insert(&mut self, rows: usize) -> &str {
        let plain = self.plain;
        self.texts.entry(rows).or_insert_with(|| insert_statement(rows, plain))
    }

    fn processed_keys(&mut self, keys: usize) -> &str {
        self.lookups.entry(keys).or_insert_with(|| processed_keys_statement(keys))
    }
}

fn insert_statement(rows: usize, plain: bool) -> String {
    let values: Vec<String> = (0..rows)
        .map(|row| {
            let n = row * 4;
            format!("(${}, ${}, ${}, ${}, 'pending')", n + 1, n + 2, n + 3, n + 4)
        })
        .collect();
    let insert = format!(
        "INSERT INTO webhook_deliveries (id, dedupe_key, received_at, body, state) VALUES {}",
        values.join(", ")
    );
    if plain { insert } else { insert + " ON CONFLICT (dedupe_key) DO NOTHING RETURNING dedupe_key" }
}

/// The jobs of a batch to insert: the first of each dedupe key (the same bytes twice in one
/// batch: insert the first, answer both with its row), and where each key first appears.
fn unique_jobs(batch: &[Job]) -> (HashMap<&str, usize>, Vec<&Job>) {
    let mut first_of: HashMap<&str, usize> = HashMap::with_capacity(batch.len());
    let unique = batch
        .iter()
        .enumerate()
        .filter(|(i, job)| *first_of.entry(&job.dedupe_key).or_insert(*i) == *i)
        .map(|(_, job)| job)
        .collect();
    (first_of, unique)
}

/// The outcome of each job, in order, given the rows stored before (`existing`, by dedupe
/// key): those are duplicates of the stored row, the rest new or duplicates of the batch's
/// first job with the same key.
fn outcomes(
    batch: &[Job],
    first_of: &HashMap<&str, usize>,
    existing: &HashMap<String, String>,
) -> Vec<Stored> {
    batch
        .iter()
        .enumerate()
        .map(|(i, job)| {
            let first = first_of[job.dedupe_key.as_str()];
            match existing.get(job.dedupe_key.as_str()) {
                Some(id) => Stored::Duplicate { delivery_id: id.clone() },
                None if first == i => Stored::New { delivery_id: job.id.clone() },
                None => Stored::Duplicate { delivery_id: batch[first].id.clone() },
            }
        })
        .collect()
}

/// Inserts the batch with one statement (its own transaction); the outcome of each job, in
/// order.
async fn write_batch(
    connection: &mut AnyConnection,
    statements: &mut Statements,
    batch: &[Job],
) -> Result<Vec<Stored>> {
    let (first_of, unique) = unique_jobs(batch);
    // One statement, so one round trip to the database and one commit for the whole batch.
    let mut query = sqlx::query_as::<_, (String,)>(statements.insert(unique.len()));
    for job in &unique {
        query = query.bind(&job.id).bind(&job.dedupe_key).bind(job.received_at).bind(&job.body);
    }
    let inserted: HashSet<String> =
        query.fetch_all(&mut *connection).await?.into_iter().map(|(key,)| key).collect();
    // Stored before (Meta retried): answer with the existing row, which is committed. Rare, so
    // one query each.
    let mut existing = HashMap::new();
    for job in unique.iter().filter(|job| !inserted.contains(&job.dedupe_key)) {
        let (id,): (String,) = sqlx::query_as("SELECT id FROM webhook_deliveries WHERE dedupe_key = $1")
            .bind(&job.dedupe_key)
            .fetch_one(&mut *connection)
            .await?;
        existing.insert(job.dedupe_key.clone(), id);
    }
    Ok(outcomes(batch, &first_of, &existing))
}

/// SQLite: batches are stored through a connection of the SQLite library's own, called
/// directly on the ingest thread. Through sqlx, every statement is a round trip to the
/// connection's own thread; under load that hand-over (two thread switches, each waiting for a
/// CPU the HTTP tasks want too) cost more than the insert itself. Processing stays on the sqlx
/// connection; the two never hold SQLite's write lock at once, as the ingest task stores only
/// between its processing transactions.
///
/// Deduplication without a unique index on the stored deliveries (migration 0020): a key is
/// known either here, for the deliveries stored and not yet processed (loaded from the file
/// when the store opens, so a restart forgets nothing), or in `webhook_delivery_keys`, where a
/// trigger records it when processing ends a delivery's `pending` state. One ingest task owns
/// a SQLite file and stores and processes in turn, so no key is in neither place. The unique
/// index it replaces rewrote about one index page per stored row (the keys are random within
/// a second); the keys table's pages are written by processing, at its own pace, instead.
struct SqliteStore {
    conn: rusqlite::Connection,
    statements: Statements,
    /// Stored and not yet processed: dedupe key → delivery id, and back.
    unprocessed: HashMap<String, String>,
    key_of: HashMap<String, String>,
}

impl SqliteStore {
    fn open(file: &std::path::Path) -> Result<Self> {
        let conn = rusqlite::Connection::open_with_flags(
            file,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(sqlite_error)?;
        // The same settings as every pooled connection; `journal_mode` answers with a row.
        conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(())).map_err(sqlite_error)?;
        conn.execute_batch(
            "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; \
             PRAGMA wal_autocheckpoint = 0; PRAGMA cache_size = -8192;",
        )
        .map_err(sqlite_error)?;
        // One prepared statement per batch size met (a batch is at most the requests in flight).
        conn.set_prepared_statement_cache_capacity(256);
        let mut unprocessed = HashMap::new();
        let mut key_of = HashMap::new();
        {
            let mut pending = conn
                .prepare("SELECT dedupe_key, id FROM webhook_deliveries WHERE state = 'pending'")
                .map_err(sqlite_error)?;
            let mut rows = pending.query([]).map_err(sqlite_error)?;
            while let Some(row) = rows.next().map_err(sqlite_error)? {
                let (key, id): (String, String) =
                    (row.get(0).map_err(sqlite_error)?, row.get(1).map_err(sqlite_error)?);
                key_of.insert(id.clone(), key.clone());
                unprocessed.insert(key, id);
            }
        }
        Ok(SqliteStore { conn, statements: Statements::plain(), unprocessed, key_of })
    }

    /// [`write_batch`] on this connection: the keys looked up (see the type's doc), then the
    /// new deliveries in one statement, its own transaction.
    fn write_batch(&mut self, batch: &[Job]) -> Result<Vec<Stored>> {
        let (first_of, unique) = unique_jobs(batch);
        let mut existing = HashMap::new();
        let mut unknown = Vec::with_capacity(unique.len());
        for job in unique {
            match self.unprocessed.get(&job.dedupe_key) {
                Some(id) => {
                    existing.insert(job.dedupe_key.clone(), id.clone());
                }
                None => unknown.push(job),
            }
        }
        if !unknown.is_empty() {
            let mut statement = self
                .conn
                .prepare_cached(self.statements.processed_keys(unknown.len()))
                .map_err(sqlite_error)?;
            for (i, job) in unknown.iter().enumerate() {
                statement.raw_bind_parameter(i + 1, &job.dedupe_key).map_err(sqlite_error)?;
            }
            let mut rows = statement.raw_query();
            while let Some(row) = rows.next().map_err(sqlite_error)? {
                existing.insert(row.get(0).map_err(sqlite_error)?, row.get(1).map_err(sqlite_error)?);
            }
        }
        let new: Vec<&Job> =
            unknown.into_iter().filter(|job| !existing.contains_key(&job.dedupe_key)).collect();
        if !new.is_empty() {
            let mut statement =
                self.conn.prepare_cached(self.statements.insert(new.len())).map_err(sqlite_error)?;
            for (i, job) in new.iter().enumerate() {
                let n = i * 4;
                statement.raw_bind_parameter(n + 1, &job.id).map_err(sqlite_error)?;
                statement.raw_bind_parameter(n + 2, &job.dedupe_key).map_err(sqlite_error)?;
                statement.raw_bind_parameter(n + 3, job.received_at).map_err(sqlite_error)?;
                statement.raw_bind_parameter(n + 4, &job.body).map_err(sqlite_error)?;
            }
            statement.raw_execute().map_err(sqlite_error)?;
            for job in new {
                self.unprocessed.insert(job.dedupe_key.clone(), job.id.clone());
                self.key_of.insert(job.id.clone(), job.dedupe_key.clone());
            }
        }
        Ok(outcomes(batch, &first_of, &existing))
    }

    /// `delivery_id` was processed: its key is in `webhook_delivery_keys` now.
    fn processed(&mut self, delivery_id: &str) {
        if let Some(key) = self.key_of.remove(delivery_id) {
            self.unprocessed.remove(&key);
        }
    }
}

/// The processed deliveries among `keys` dedupe keys: `(dedupe_key, delivery_id)` rows.
fn processed_keys_statement(keys: usize) -> String {
    let places: Vec<String> = (1..=keys).map(|n| format!("${n}")).collect();
    format!(
        "SELECT dedupe_key, delivery_id FROM webhook_delivery_keys WHERE dedupe_key IN ({})",
        places.join(", ")
    )
}

fn sqlite_error(err: rusqlite::Error) -> Error {
    Error::Unavailable { message: format!("database unavailable: {err}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_statement_has_four_binds_a_row() {
        let two = insert_statement(2, false);
        assert!(two.contains("($1, $2, $3, $4, 'pending'), ($5, $6, $7, $8, 'pending')"), "{two}");
        assert!(two.ends_with("RETURNING dedupe_key"));
        assert!(insert_statement(2, true).ends_with("($5, $6, $7, $8, 'pending')"));
        assert!(processed_keys_statement(3).ends_with("IN ($1, $2, $3)"));
    }
}
