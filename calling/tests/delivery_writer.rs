//! The ingest task on SQLite and PostgreSQL: concurrent callers share statements (group
//! commit), every answer names a committed row, equal bodies are stored once, and everything
//! stored is then processed.

use calling::clock::Clock;
use calling::ingest::{DeliveryWriter, Stored};
use calling::testing;
use sha2::{Digest, Sha256};

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
            tasks.spawn(async move { (i, writer.store(body.as_bytes(), 1).await) });
        }
        let mut outcomes = tasks.join_all().await;
        outcomes.sort_by_key(|(i, _)| *i);

        let new = outcomes.iter().filter(|(_, o)| matches!(o, Ok(Stored::New { .. }))).count();
        let duplicates = outcomes.iter().filter(|(_, o)| matches!(o, Ok(Stored::Duplicate { .. }))).count();
        assert_eq!((new, duplicates), (200, 100), "{:?}", test_db.dialect());
        for (body, (_, outcome)) in bodies.iter().zip(&outcomes) {
            let key = hex::encode(Sha256::digest(body.as_bytes()));
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
        assert!(matches!(writer.store(bodies[0].as_bytes(), 2).await.unwrap(), Stored::Duplicate { .. }));
        assert!(writer.store(&[0xff, 0xfe], 3).await.is_err());
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
