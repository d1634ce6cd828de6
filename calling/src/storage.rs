//! The database: one schema in two dialects (SQLite by default, PostgreSQL for production and
//! for several replicas), reached through one pool.
//!
//! Queries are written once in portable SQL with `$1`-style placeholders (both drivers accept
//! them) and run through sqlx's `Any` driver. Portability rules every query follows:
//! ids are `TEXT`, times are `BIGINT` unix milliseconds, money is `BIGINT` micro-units, flags
//! are `BIGINT` 0/1, JSON is `TEXT`; aggregates are `CAST(… AS BIGINT)` because PostgreSQL's
//! `SUM` returns `NUMERIC`, which the `Any` driver cannot decode.

use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Once};
use std::time::{Duration, Instant};

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::migrate::Migrator;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{AnyConnection, AnyPool, ConnectOptions, Executor};

use crate::{Error, Result};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/postgres");

/// Which SQL dialect a database speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// The dialect of a `DATABASE_URL`.
    pub fn of_url(url: &str) -> Result<Self> {
        if url.starts_with("sqlite:") {
            Ok(Dialect::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Dialect::Postgres)
        } else {
            Err(Error::validation(
                "DATABASE_URL",
                "must start with sqlite: or postgres:// (e.g. sqlite://data/switchboard.db)",
            ))
        }
    }
}

/// A connection pool and the dialect behind it. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Db {
    pool: AnyPool,
    dialect: Dialect,
    bursts: Arc<WriteBursts>,
}

/// How many connections to open at most.
#[derive(Clone, Copy, Debug)]
pub struct PoolSize(pub u32);

impl Default for PoolSize {
    fn default() -> Self {
        PoolSize(16)
    }
}

impl Db {
    /// Connects to `url`. For SQLite, the file and its directory are created when missing and
    /// every connection runs in WAL mode with foreign keys on, so writers don't block readers
    /// and an acknowledged write survives the process being killed.
    ///
    /// SQLite's WAL is checkpointed by a background task (see [`SQLITE_CHECKPOINT_EVERY`])
    /// rather than by whichever connection happens to commit when the WAL is full: that commit
    /// would otherwise pay for copying the WAL back and two `fsync`s, and every request waiting
    /// on it (webhook acknowledgements) would wait too.
    pub async fn connect(url: &str, size: PoolSize) -> Result<Self> {
        static DRIVERS: Once = Once::new();
        DRIVERS.call_once(install_default_drivers);

        let dialect = Dialect::of_url(url)?;
        let mut options =
            AnyPoolOptions::new().max_connections(size.0).acquire_timeout(Duration::from_secs(10));
        if dialect == Dialect::Sqlite {
            create_sqlite_parent_dir(url)?;
            options = options.after_connect(|conn, _meta| {
                Box::pin(async move {
                    conn.execute(SQLITE_PRAGMAS).await?;
                    Ok(())
                })
            });
        }
        let pool = options
            .connect(url)
            .await
            .map_err(|err| Error::Unavailable { message: format!("cannot open the database: {err}") })?;
        let bursts = Arc::new(WriteBursts::default());
        if dialect == Dialect::Sqlite {
            spawn_sqlite_checkpointer(pool.clone(), bursts.clone());
        }
        Ok(Db { pool, dialect, bursts })
    }

    /// Applies the migrations of this database's dialect that have not run yet.
    pub async fn migrate(&self) -> Result<()> {
        let migrator = match self.dialect {
            Dialect::Sqlite => &SQLITE_MIGRATIONS,
            Dialect::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.run(&self.pool).await?;
        Ok(())
    }

    /// Checks that the database answers a trivial query.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// A new connection outside the pool, set up like the pool's, for a task that keeps one
    /// to itself (the webhook ingest task). It is opened on the caller's runtime: a
    /// PostgreSQL socket is driven by the runtime it was opened on, so a task on a runtime of
    /// its own must not borrow one of the pool's.
    pub async fn dedicated_connection(&self) -> Result<AnyConnection> {
        let mut conn = self.pool.connect_options().connect().await?;
        if self.dialect == Dialect::Sqlite {
            conn.execute(SQLITE_PRAGMAS).await?;
        }
        Ok(conn)
    }

    /// The SQLite database file (`None` on PostgreSQL, or for an in-memory database), for a
    /// connection of the SQLite library's own (the webhook ingest task stores batches through
    /// one).
    pub fn sqlite_file(&self) -> Option<std::path::PathBuf> {
        if self.dialect != Dialect::Sqlite {
            return None;
        }
        let options = SqliteConnectOptions::from_url(&self.pool.connect_options().database_url).ok()?;
        let file = options.get_filename();
        (file.as_os_str() != ":memory:" && !file.as_os_str().is_empty()).then(|| file.to_path_buf())
    }

    /// Says that a burst of writes is under way (the webhook ingest task, after each batch it
    /// stores): SQLite's background checkpoints hold off until the burst is over, for at most
    /// [`SQLITE_CHECKPOINT_DEFERRAL`] (see [`spawn_sqlite_checkpointer`]).
    pub fn writing_burst(&self) {
        self.bursts.mark();
    }

    /// The pool, for queries.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The dialect, for the rare statement that must differ.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Closes every connection (graceful shutdown, tests).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Every SQLite connection's settings: WAL, so readers never block the writer; `NORMAL`
/// sync, so a commit survives the process being killed (not a power cut) without an `fsync`;
/// checkpoints left to [`spawn_sqlite_checkpointer`]; a modest private page cache.
pub(crate) const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
     PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; \
     PRAGMA wal_autocheckpoint = 0; PRAGMA cache_size = -8192;";

/// How often the SQLite WAL is checkpointed in the background.
pub const SQLITE_CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

/// The longest a burst of writes holds SQLite's checkpoints off.
pub const SQLITE_CHECKPOINT_DEFERRAL: Duration = Duration::from_secs(10);

/// When the last burst of writes was marked ([`Db::writing_burst`]), in milliseconds after
/// `since` (0: never).
#[derive(Debug)]
struct WriteBursts {
    since: Instant,
    last_mark_ms: AtomicU64,
}

impl Default for WriteBursts {
    fn default() -> Self {
        WriteBursts { since: Instant::now(), last_mark_ms: AtomicU64::new(0) }
    }
}

impl WriteBursts {
    fn mark(&self) {
        let ms = u64::try_from(self.since.elapsed().as_millis()).unwrap_or(u64::MAX).max(1);
        self.last_mark_ms.store(ms, Ordering::Relaxed);
    }

    /// Whether a burst was marked within the last `window`.
    fn under_way(&self, window: Duration) -> bool {
        let last = self.last_mark_ms.load(Ordering::Relaxed);
        last != 0 && self.since.elapsed().saturating_sub(Duration::from_millis(last)) < window
    }
}

/// Checkpoints the WAL every [`SQLITE_CHECKPOINT_EVERY`] until the pool closes. PASSIVE never
/// waits for readers or writers; what it could not copy is copied next time, and the WAL
/// restarts from its beginning once a checkpoint completes.
///
/// While a burst of webhook deliveries is being stored, checkpoints wait for it to end (for
/// at most [`SQLITE_CHECKPOINT_DEFERRAL`]): a checkpoint copies everything written since the
/// last one and `fsync`s twice, a tenth of a core during a flood, taken from the two the
/// acknowledgements share with everything else. The WAL is not restarted during a burst
/// anyway (SQLite restarts it only when a checkpoint has caught up with the last writer), so
/// waiting costs only the copying, done once the burst is over.
fn spawn_sqlite_checkpointer(pool: AnyPool, bursts: Arc<WriteBursts>) {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(SQLITE_CHECKPOINT_EVERY);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_checkpoint = Instant::now();
        while !pool.is_closed() {
            interval.tick().await;
            if bursts.under_way(SQLITE_CHECKPOINT_EVERY)
                && last_checkpoint.elapsed() < SQLITE_CHECKPOINT_DEFERRAL
            {
                continue;
            }
            last_checkpoint = Instant::now();
            if let Err(err) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&pool).await
                && !pool.is_closed()
            {
                tracing::warn!(error = %err, "could not checkpoint the SQLite WAL");
            }
        }
    });
}

/// `sqlite://data/x.db` needs `data/` to exist before SQLite can create the file.
fn create_sqlite_parent_dir(url: &str) -> Result<()> {
    let options = SqliteConnectOptions::from_str(url)
        .map_err(|err| Error::validation("DATABASE_URL", err.to_string()))?;
    let file = options.get_filename();
    if file.as_os_str() == ":memory:" || file.as_os_str().is_empty() {
        return Ok(());
    }
    if let Some(dir) = file.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|err| Error::Unavailable {
            message: format!("cannot create {}: {err}", dir.display()),
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_of_writes_is_under_way_only_within_its_window() {
        let bursts = WriteBursts::default();
        assert!(!bursts.under_way(Duration::from_secs(60)), "nothing marked yet");
        bursts.mark();
        assert!(bursts.under_way(Duration::from_secs(60)));
        std::thread::sleep(Duration::from_millis(30));
        assert!(!bursts.under_way(Duration::from_millis(10)), "the mark is older than the window");
    }

    #[test]
    fn dialect_comes_from_the_url_scheme() {
        assert_eq!(Dialect::of_url("sqlite://data/a.db").unwrap(), Dialect::Sqlite);
        assert_eq!(Dialect::of_url("sqlite::memory:").unwrap(), Dialect::Sqlite);
        assert_eq!(Dialect::of_url("postgres://u@h/db").unwrap(), Dialect::Postgres);
        assert_eq!(Dialect::of_url("postgresql://u@h/db").unwrap(), Dialect::Postgres);
        let err = Dialect::of_url("mysql://x").unwrap_err();
        assert_eq!(err.code(), "validation_failed");
    }
}
