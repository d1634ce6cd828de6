//! Throwaway databases for tests: a fresh SQLite file, and — when a PostgreSQL server is given
//! in `SWITCHBOARD_TEST_POSTGRES_URL` — a fresh PostgreSQL database, both fully migrated.
//!
//! `./dev test` starts a private PostgreSQL and sets `SWITCHBOARD_REQUIRE_POSTGRES=1`, so a
//! missing server there is a failure, not a silent skip.

use tempfile::TempDir;

use crate::Services;
use crate::bus::EventBus;
use crate::clock::Clock;
use crate::ids::new_id;
use crate::secrets::SecretKey;
use crate::storage::{Db, Dialect, PoolSize};

/// A migrated database that lives as long as this value (SQLite) or the test cluster (PostgreSQL).
pub struct TestDb {
    pub db: Db,
    /// The database's URL, for a second connection (another replica, the CLI).
    pub url: String,
    _dir: Option<TempDir>,
}

impl TestDb {
    pub fn dialect(&self) -> Dialect {
        self.db.dialect()
    }
}

/// A migrated SQLite database in a temporary directory.
pub async fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
    let db = Db::connect(&url, PoolSize::default()).await.expect("open SQLite");
    db.migrate().await.expect("migrate SQLite");
    TestDb { db, url, _dir: Some(dir) }
}

/// A migrated, brand-new PostgreSQL database, or `None` when no server is configured.
///
/// Panics when `SWITCHBOARD_REQUIRE_POSTGRES` is set but no server is given or reachable.
pub async fn postgres() -> Option<TestDb> {
    let required = std::env::var_os("SWITCHBOARD_REQUIRE_POSTGRES").is_some();
    let Ok(admin_url) = std::env::var("SWITCHBOARD_TEST_POSTGRES_URL") else {
        assert!(!required, "SWITCHBOARD_REQUIRE_POSTGRES is set but SWITCHBOARD_TEST_POSTGRES_URL is not");
        return None;
    };
    let admin = Db::connect(&admin_url, PoolSize(1)).await.expect("reach the test PostgreSQL server");
    let name = format!("test_{}", new_id().replace('-', ""));
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(admin.pool())
        .await
        .expect("create test database");
    admin.close().await;
    let url = with_database(&admin_url, &name);
    let db = Db::connect(&url, PoolSize::default()).await.expect("open the test database");
    db.migrate().await.expect("migrate PostgreSQL");
    Some(TestDb { db, url, _dir: None })
}

/// SQLite, plus PostgreSQL when configured: run a storage test on each.
pub async fn every_database() -> Vec<TestDb> {
    let mut all = vec![sqlite().await];
    all.extend(postgres().await);
    all
}

/// `postgres://u@h:p/admin?x` with the database replaced by `name`.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{name}?{query}"),
        None => format!("{base}/{name}"),
    }
}

/// Services over `db` for a test: an in-process bus, a fresh secret key, the given clock.
pub fn services(db: &Db, clock: Clock) -> Services {
    Services {
        db: db.clone(),
        clock,
        bus: EventBus::in_process(),
        secret_key: SecretKey::from_hex(&SecretKey::generate_hex()).expect("a generated key is valid"),
        mailer: Default::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn database_name_is_swapped_and_query_kept() {
        assert_eq!(with_database("postgres://u@h:5/postgres", "t1"), "postgres://u@h:5/t1");
        assert_eq!(with_database("postgres://u@h:5", "t1"), "postgres://u@h:5/t1");
        assert_eq!(
            with_database("postgres://u@h/postgres?host=/tmp/x", "t1"),
            "postgres://u@h/t1?host=/tmp/x"
        );
    }
}
