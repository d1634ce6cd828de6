//! An existing SQLite install upgraded to migration 0020: the stored deliveries survive the
//! rebuild of their table, the processed ones' keys are known, and a delivery processed after
//! the upgrade is recorded by the trigger. (Every other test migrates an empty database at
//! once, which never runs the copying part of a migration.)

use std::path::Path;

fn migrations_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../migrations/sqlite"))
}

/// The SQL of every migration, in order, as (version, text).
fn migrations() -> Vec<(u32, String)> {
    let mut files: Vec<(u32, String)> = std::fs::read_dir(migrations_dir())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "sql"))
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let version = name.split('_').next().unwrap().parse().unwrap();
            (version, std::fs::read_to_string(&path).unwrap())
        })
        .collect();
    files.sort();
    files
}

#[test]
fn deliveries_stored_before_the_keys_table_keep_their_dedupe() {
    let db = rusqlite::Connection::open_in_memory().unwrap();
    db.execute_batch("PRAGMA foreign_keys = ON;").unwrap();
    let (before, after): (Vec<_>, Vec<_>) = migrations().into_iter().partition(|(version, _)| *version < 20);
    for (_, sql) in &before {
        db.execute_batch(sql).unwrap();
    }
    db.execute_batch(
        "INSERT INTO webhook_deliveries (id, dedupe_key, received_at, body, state, processed_at) VALUES
             ('d1', 'k1', 1, '{}', 'processed', 2),
             ('d2', 'k2', 1, '{}', 'failed', 2),
             ('d3', 'k3', 1, '{}', 'pending', NULL);",
    )
    .unwrap();
    for (_, sql) in &after {
        db.execute_batch(sql).unwrap();
    }

    let rows: i64 = db.query_row("SELECT COUNT(*) FROM webhook_deliveries", [], |row| row.get(0)).unwrap();
    assert_eq!(rows, 3);
    let keys = |db: &rusqlite::Connection| -> Vec<(String, String)> {
        let mut statement = db
            .prepare("SELECT dedupe_key, delivery_id FROM webhook_delivery_keys ORDER BY dedupe_key")
            .unwrap();
        statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?))).unwrap().map(Result::unwrap).collect()
    };
    // The pending one is known to the ingest task (it loads pending keys), not to the table.
    assert_eq!(keys(&db), [("k1".into(), "d1".into()), ("k2".into(), "d2".into())]);

    // Processing it records its key; a repeated update does not fail or duplicate it.
    db.execute("UPDATE webhook_deliveries SET state = 'processed' WHERE id = 'd3'", []).unwrap();
    db.execute("UPDATE webhook_deliveries SET state = 'processed' WHERE id = 'd3'", []).unwrap();
    assert_eq!(keys(&db).len(), 3);
    assert_eq!(keys(&db)[2], ("k3".into(), "d3".into()));

    // The key is no longer unique on the table itself (the ingest task checks), and the
    // pending index is back.
    db.execute("INSERT INTO webhook_deliveries (id, dedupe_key, received_at, body, state) VALUES ('d4', 'k1', 3, '{}', 'pending')", [])
        .unwrap();
    let indexes: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = 'webhook_deliveries_pending'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(indexes, 1);
}
