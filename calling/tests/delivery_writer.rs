//! The ingest task on SQLite and PostgreSQL: concurrent callers share statements (group
//! commit), every answer names a committed row, equal bodies are stored once, and everything
//! stored is then processed.

use calling::clock::Clock;
use calling::ingest::{self, DeliveryWriter, Stored};
use calling::testing;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_deliveries_are_stored_once_and_answered_after_commit() {
    for test_db in testing::every_database().await {
        let db = test_db.db.clone();
        let writer = DeliveryWriter::start(testing::services(&db, Clock::System));
        // 300 concurrent callers, 100 of them repeating an earlier body (some in the same batch).
        let bodies: Vec<String> = (0..300).map(|n| format!("{{\"n\":{}}}", n % 200)).collect();
        let mut tasks = tokio::task::JoinSet::new();
        for (i, body) in bodies.iter().enumerate() {
            let (writer, body) = (writer.clone(), body.clone());
            tasks.spawn(async move {
                let key = ingest::dedupe_key(body.as_bytes(), None);
                (i, writer.store(body.as_bytes(), key, 1).await)
            });
        }
        let mut outcomes = tasks.join_all().await;
        outcomes.sort_by_key(|(i, _)| *i);

        let new = outcomes.iter().filter(|(_, o)| matches!(o, Ok(Stored::New { .. }))).count();
        let duplicates = outcomes.iter().filter(|(_, o)| matches!(o, Ok(Stored::Duplicate { .. }))).count();
        assert_eq!((new, duplicates), (200, 100), "{:?}", test_db.dialect());
        for (body, (_, outcome)) in bodies.iter().zip(&outcomes) {
            let key = ingest::dedupe_key(body.as_bytes(), None);
            let (id,): (String,) = sqlx::query_as("SELECT id FROM webhook_deliveries WHERE dedupe_key = $1")
                .bind(&key)
                .fetch_one(db.pool())
                .await
                .unwrap();
            let (Stored::New { delivery_id } | Stored::Duplicate { delivery_id }) = outcome.as_ref().unwrap();
            assert_eq!(delivery_id, &id, "the answer names the stored row");
        }
        let (rows,): (i64,) = sqlx::query_as("SELECT CAST(COUNT(*) AS BIGINT) FROM webhook_deliveries")
            .fetch_one(db.pool())
            .await
            .unwrap();
        assert_eq!(rows, 200);

        // A later retry is a duplicate; a body that is not UTF-8 is refused and not stored.
        let again =
            writer.store(bodies[0].as_bytes(), ingest::dedupe_key(bodies[0].as_bytes(), None), 2).await;
        assert!(matches!(again.unwrap(), Stored::Duplicate { .. }));
        assert!(writer.store(&[0xff, 0xfe], ingest::dedupe_key(&[0xff, 0xfe], None), 3).await.is_err());
        let (rows,): (i64,) = sqlx::query_as("SELECT CAST(COUNT(*) AS BIGINT) FROM webhook_deliveries")
            .fetch_one(db.pool())
            .await
            .unwrap();
        assert_eq!(rows, 200);

        // Stored deliveries are processed by the same task (these name no number: nothing to
        // apply, but each is marked processed).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let (processed,): (i64,) = sqlx::query_as(
                "SELECT CAST(COUNT(*) AS BIGINT) FROM webhook_deliveries WHERE state = 'processed'",
            )
            .fetch_one(db.pool())
            .await
            .unwrap();
            if processed == 200 {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "only {processed} of 200 processed");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}
