//! The ingest task: one task, on one database connection of its own, stores every delivery
//! the webhook endpoint accepts — many per statement (group commit) — answers each caller only
//! once the statement holding its row has committed, and processes the stored deliveries in
//! between.
//!
//! Why one task and one connection: a transaction per request makes every webhook pay a
//! commit and, on SQLite, fight the other requests for the single write lock (losers sleep in
//! SQLite's busy handler for milliseconds). With one writer, requests that arrive while a batch
//! commits simply form the next batch, so the batch size follows the load with no timer and no
//! added latency when idle. Processing on the same connection means it never waits for that
//! lock either, and — SQLite again — never discards the connection's page cache the way a
//! commit from another connection does, so the pages the inserts touch stay in memory.
//!
//! Storing comes first: each turn stores everything waiting, then processes stored deliveries
//! — one while new ones keep arriving, so under a flood an acknowledgement waits for at most one
//! delivery's processing; up to [`PROCESS_WHEN_QUIET`] in one transaction (one commit for all of
//! them, on PostgreSQL one `fsync`) when none arrived, so the backlog is worked off quickly once
//! the flood eases. Deliveries left `pending` by a previous run are queued at start.
//!
//! The guarantees: a caller hears `New` or `Duplicate` only after the row is committed (so an
//! acknowledged delivery survives a crash), deliveries are deduplicated by their
//! [`super::dedupe_key`] (also within one batch), and a failed statement fails every request
//! in it, so nothing is acknowledged that is not stored.

use std::collections::{HashMap, HashSet};

use std::collections::VecDeque;

use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, Connection};
use tokio::sync::mpsc::error::TryRecvError;
use tokio::sync::{mpsc, oneshot};

use super::{Stored, pending_deliveries, process_delivery, publish};
use crate::ids::new_id;
use crate::storage::Dialect;
use crate::{Error, Result, Services};

/// Deliveries waiting for the writer before callers wait to enqueue (backpressure).
const QUEUE: usize = 8192;
/// Deliveries processed per turn while new ones keep arriving (acknowledgements wait for them),
/// and while none do.
const PROCESS_UNDER_LOAD: usize = 1;
const PROCESS_WHEN_QUIET: usize = 32;
/// Processing backlog entries keep their body (no re-read) while the backlog is shorter than
/// this, so a long flood does not pile bodies up in memory.
const BODIES_IN_MEMORY: usize = 10_000;
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
    /// Starts the ingest task on the current Tokio runtime. It lives until every handle is
    /// dropped and its backlog is processed.
    pub fn start(services: Services) -> Self {
        let (queue, jobs) = mpsc::channel(QUEUE);
        tokio::spawn(run(services, jobs));
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

async fn run(services: Services, mut jobs: mpsc::Receiver<Job>) {
    let mut backlog: Backlog = match pending_deliveries(&services.db).await {
        Ok(pending) => {
            if !pending.is_empty() {
                tracing::info!(count = pending.len(), "processing webhook deliveries left from the last run");
            }
            pending.into_iter().map(|id| (id, None)).collect()
        }
        Err(err) => {
            tracing::error!(error = %err, "could not read pending webhook deliveries");
            VecDeque::new()
        }
    };
    let mut statements = Statements::default();
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut connection: Option<PoolConnection<Any>> = None;
    loop {
        // Wait for work only when there is nothing to process; otherwise take what is waiting.
        if backlog.is_empty() {
            if jobs.recv_many(&mut batch, MAX_BATCH).await == 0 {
                return; // every handle dropped, nothing left to do
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
                None => connection.insert(services.db.pool().acquire().await?),
            };
            let busy = !batch.is_empty();
            if busy {
                store_batch(conn, &mut statements, &mut batch, &mut backlog).await?;
            }
            let take = if busy { PROCESS_UNDER_LOAD } else { PROCESS_WHEN_QUIET };
            let chunk: Vec<_> = backlog.drain(..take.min(backlog.len())).collect();
            if !chunk.is_empty() {
                process_chunk(&services, conn, chunk, &mut backlog).await?;
            }
            Ok::<_, Error>(())
        }
        .await;
        if let Err(err) = worked {
            // Most likely the connection broke: take a fresh one next turn.
            tracing::warn!(error = %err, "webhook ingest: replacing the database connection");
            connection = None;
            fail_batch(&mut batch, &err);
        }
    }
}

/// Stored deliveries waiting to be processed: id, and the body while it is kept in memory.
type Backlog = VecDeque<(String, Option<String>)>;

/// Processes `chunk` in one transaction, then sends the live notices. If the transaction
/// itself fails (the connection, most likely), the chunk goes back to the front of the backlog.
async fn process_chunk(
    services: &Services,
    conn: &mut AnyConnection,
    chunk: Vec<(String, Option<String>)>,
    backlog: &mut Backlog,
) -> Result<()> {
    let mut notices = Vec::new();
    let processed = async {
        // SQLite: take the write lock up front. A deferred transaction that reads first (a body
        // not kept in memory) cannot upgrade to writing if another connection committed in
        // between, and would fail instead of waiting its turn.
        let mut tx = match services.db.dialect() {
            Dialect::Sqlite => conn.begin_with("BEGIN IMMEDIATE").await?,
            Dialect::Postgres => conn.begin().await?,
        };
        for (delivery_id, body) in &chunk {
            // A delivery that fails is marked failed (with why) and the rest go on.
            if let Err(err) =
                process_delivery(services, &mut tx, delivery_id, body.clone(), &mut notices).await
            {
                tracing::warn!(%delivery_id, error = %err, "webhook delivery failed to process");
            }
        }
        tx.commit().await
    }
    .await;
    match processed {
        Ok(()) => {
            publish(services, notices).await;
            Ok(())
        }
        Err(err) => {
            for entry in chunk.into_iter().rev() {
                backlog.push_front(entry);
            }
            Err(err.into())
        }
    }
}

/// Stores `batch` and answers its callers; new deliveries join the processing `backlog`. On
/// failure every caller has been answered with the error, which is returned too.
async fn store_batch(
    conn: &mut AnyConnection,
    statements: &mut Statements,
    batch: &mut Vec<Job>,
    backlog: &mut Backlog,
) -> Result<()> {
    match write_batch(conn, statements, batch).await {
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

/// The multi-row INSERT for each batch size met so far (the text is built once; the database
/// connection keeps the prepared statements of the sizes in use).
#[derive(Default)]
struct Statements(HashMap<usize, String>);

impl Statements {
    fn insert(&mut self, rows: usize) -> &str {
        self.0.entry(rows).or_insert_with(|| insert_statement(rows))
    }
}

fn insert_statement(rows: usize) -> String {
    let values: Vec<String> = (0..rows)
        .map(|row| {
            let n = row * 4;
            format!("(${}, ${}, ${}, ${}, 'pending')", n + 1, n + 2, n + 3, n + 4)
        })
        .collect();
    format!(
        "INSERT INTO webhook_deliveries (id, dedupe_key, received_at, body, state) VALUES {} \
         ON CONFLICT (dedupe_key) DO NOTHING RETURNING dedupe_key",
        values.join(", ")
    )
}

/// Inserts the batch with one statement (its own transaction); the outcome of each job, in
/// order.
async fn write_batch(
    connection: &mut AnyConnection,
    statements: &mut Statements,
    batch: &[Job],
) -> Result<Vec<Stored>> {
    // The same bytes twice in one batch: insert the first, answer both with its row.
    let mut first_of: HashMap<&str, usize> = HashMap::with_capacity(batch.len());
    let unique: Vec<&Job> = batch
        .iter()
        .enumerate()
        .filter(|(i, job)| *first_of.entry(&job.dedupe_key).or_insert(*i) == *i)
        .map(|(_, job)| job)
        .collect();

    // One statement, so one round trip to the database and one commit for the whole batch.
    let mut query = sqlx::query_as::<_, (String,)>(statements.insert(unique.len()));
    for job in &unique {
        query = query.bind(&job.id).bind(&job.dedupe_key).bind(job.received_at).bind(&job.body);
    }
    let inserted: HashSet<String> =
        query.fetch_all(&mut *connection).await?.into_iter().map(|(key,)| key).collect();
    // Stored before (Meta retried): answer with the existing row, which is committed. Rare, so
    // one query each.
    let mut existing: HashMap<&str, String> = HashMap::new();
    for job in unique.iter().filter(|job| !inserted.contains(&job.dedupe_key)) {
        let (id,): (String,) = sqlx::query_as("SELECT id FROM webhook_deliveries WHERE dedupe_key = $1")
            .bind(&job.dedupe_key)
            .fetch_one(&mut *connection)
            .await?;
        existing.insert(&job.dedupe_key, id);
    }

    Ok(batch
        .iter()
        .enumerate()
        .map(|(i, job)| {
            let first = &batch[first_of[job.dedupe_key.as_str()]];
            match existing.get(job.dedupe_key.as_str()) {
                Some(id) => Stored::Duplicate { delivery_id: id.clone() },
                None if first_of[job.dedupe_key.as_str()] == i => Stored::New { delivery_id: job.id.clone() },
                None => Stored::Duplicate { delivery_id: first.id.clone() },
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_statement_has_four_binds_a_row() {
        let two = insert_statement(2);
        assert!(two.contains("($1, $2, $3, $4, 'pending'), ($5, $6, $7, $8, 'pending')"), "{two}");
        assert!(two.ends_with("RETURNING dedupe_key"));
    }
}
