//! Group commit for incoming deliveries: one writer task stores every delivery the webhook
//! endpoint accepts, many per transaction, and answers each caller only once the transaction
//! holding its row has committed.
//!
//! Why: a transaction per request makes every webhook pay a commit and, on SQLite, fight the
//! other requests for the single write lock (losers sleep in SQLite's busy handler). With one
//! writer, requests that arrive while a batch commits simply form the next batch, so the batch
//! size follows the load with no timer and no added latency when idle.
//!
//! The guarantees of [`super::store_delivery`] are unchanged: a caller hears `New` or
//! `Duplicate` only after the row is committed (so an acknowledged delivery survives a crash),
//! deliveries are deduplicated by the SHA-256 of their raw bytes (also within one batch), and
//! a failed transaction fails every request in it, so nothing is acknowledged that is not stored.

use std::collections::{HashMap, HashSet};

use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, oneshot};

use super::Stored;
use crate::ids::new_id;
use crate::storage::Db;
use crate::{Error, Result};

/// Deliveries waiting for the writer before callers wait to enqueue (backpressure).
const QUEUE: usize = 8192;
/// Most deliveries in one transaction, so a backlog still commits (and answers) in steps.
const MAX_BATCH: usize = 512;
/// Rows per INSERT statement are powers of two up to this: few distinct statements, so each
/// stays prepared in the connection's statement cache (4 binds a row, far below both
/// databases' limits).
const MAX_ROWS_PER_STATEMENT: usize = 128;

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
    /// Starts the writer task on the current Tokio runtime. It lives until every handle is
    /// dropped.
    pub fn start(db: Db) -> Self {
        let (queue, jobs) = mpsc::channel(QUEUE);
        tokio::spawn(run(db, jobs));
        DeliveryWriter { queue }
    }

    /// Stores a delivery's raw body, deduplicated by its SHA-256, and returns once the row is
    /// committed. Same contract as [`super::store_delivery`].
    pub async fn store(&self, raw_body: &[u8], now: i64) -> Result<Stored> {
        let body = std::str::from_utf8(raw_body)
            .map_err(|_| Error::validation("body", "webhook body is not UTF-8"))?
            .to_owned();
        let dedupe_key = hex::encode(Sha256::digest(raw_body));
        let (done, committed) = oneshot::channel();
        let job = Job { id: new_id(), dedupe_key, body, received_at: now, done };
        let stopped = || Error::Unavailable { message: "the webhook delivery writer has stopped".into() };
        self.queue.send(job).await.map_err(|_| stopped())?;
        committed.await.map_err(|_| stopped())?
    }
}

async fn run(db: Db, mut jobs: mpsc::Receiver<Job>) {
    let statements: HashMap<usize, String> =
        chunk_sizes().map(|rows| (rows, insert_statement(rows))).collect();
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while jobs.recv_many(&mut batch, MAX_BATCH).await > 0 {
        match write_batch(&db, &statements, &batch).await {
            Ok(outcomes) => {
                for (job, outcome) in batch.drain(..).zip(outcomes) {
                    // The caller may have gone (client timeout); the row is stored all the same
                    // and a retry is answered as a duplicate.
                    let _ = job.done.send(Ok(outcome));
                }
            }
            Err(err) => {
                tracing::error!(error = %err, deliveries = batch.len(), "could not store a batch of webhook deliveries");
                for job in batch.drain(..) {
                    let _ =
                        job.done.send(Err(Error::internal(format!("storing the delivery failed: {err}"))));
                }
            }
        }
    }
}

/// 1, 2, 4, … up to [`MAX_ROWS_PER_STATEMENT`].
fn chunk_sizes() -> impl Iterator<Item = usize> {
    std::iter::successors(Some(1usize), |rows| Some(rows * 2))
        .take_while(|rows| *rows <= MAX_ROWS_PER_STATEMENT)
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

/// Inserts the batch in one transaction; the outcome of each job, in order.
async fn write_batch(db: &Db, statements: &HashMap<usize, String>, batch: &[Job]) -> Result<Vec<Stored>> {
    // The same bytes twice in one batch: insert the first, answer both with its row.
    let mut first_of: HashMap<&str, usize> = HashMap::with_capacity(batch.len());
    let unique: Vec<&Job> = batch
        .iter()
        .enumerate()
        .filter(|(i, job)| *first_of.entry(&job.dedupe_key).or_insert(*i) == *i)
        .map(|(_, job)| job)
        .collect();

    let mut tx = db.pool().begin().await?;
    let mut inserted: HashSet<String> = HashSet::with_capacity(unique.len());
    let mut rest = unique.as_slice();
    while !rest.is_empty() {
        let rows = chunk_sizes().take_while(|rows| *rows <= rest.len()).last().unwrap_or(1);
        let (chunk, tail) = rest.split_at(rows);
        let mut query = sqlx::query_as::<_, (String,)>(&statements[&rows]);
        for job in chunk {
            query = query.bind(&job.id).bind(&job.dedupe_key).bind(job.received_at).bind(&job.body);
        }
        inserted.extend(query.fetch_all(&mut *tx).await?.into_iter().map(|(key,)| key));
        rest = tail;
    }
    // Stored before (Meta retried): answer with the existing row. Rare, so one query each.
    let mut existing: HashMap<&str, String> = HashMap::new();
    for job in unique.iter().filter(|job| !inserted.contains(&job.dedupe_key)) {
        let (id,): (String,) = sqlx::query_as("SELECT id FROM webhook_deliveries WHERE dedupe_key = $1")
            .bind(&job.dedupe_key)
            .fetch_one(&mut *tx)
            .await?;
        existing.insert(&job.dedupe_key, id);
    }
    tx.commit().await?;

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
    fn statements_come_in_few_sizes_with_four_binds_a_row() {
        let sizes: Vec<usize> = chunk_sizes().collect();
        assert_eq!(sizes, [1, 2, 4, 8, 16, 32, 64, 128]);
        let two = insert_statement(2);
        assert!(two.contains("($1, $2, $3, $4, 'pending'), ($5, $6, $7, $8, 'pending')"), "{two}");
        assert!(two.ends_with("RETURNING dedupe_key"));
    }
}
