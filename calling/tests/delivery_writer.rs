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

        // Processed deliveries are still recognised, also by a writer started later (after a
        // restart), and so is one a previous run stored and left pending.
        let key_of = |body: &str| ingest::dedupe_key(body.as_bytes(), None);
        let first_id = |outcome: &Result<Stored, calling::Error>| match outcome.as_ref().unwrap() {
            Stored::New { delivery_id } | Stored::Duplicate { delivery_id } => delivery_id.clone(),
        };
        let again = writer.store(bodies[7].as_bytes(), key_of(&bodies[7]), 4).await;
        assert!(
            matches!(again, Ok(Stored::Duplicate { ref delivery_id }) if *delivery_id == first_id(&outcomes[7].1))
        );
        let left_over = r#"{"left":"over"}"#;
        sqlx::query(
            "INSERT INTO webhook_deliveries (id, dedupe_key, received_at, body, state) \
             VALUES ('left-over', $1, 1, $2, 'pending')",
        )
        .bind(key_of(left_over))
        .bind(left_over)
        .execute(db.pool())
        .await
        .unwrap();
        let restarted = DeliveryWriter::start(testing::services(&db, Clock::System));
        let pending_again = restarted.store(left_over.as_bytes(), key_of(left_over), 5).await;
        assert!(
            matches!(pending_again, Ok(Stored::Duplicate { ref delivery_id }) if delivery_id == "left-over"),
            "{pending_again:?} ({:?})",
            test_db.dialect()
        );
        let processed_again = restarted.store(bodies[9].as_bytes(), key_of(&bodies[9]), 6).await;
        assert!(
            matches!(processed_again, Ok(Stored::Duplicate { ref delivery_id }) if *delivery_id == first_id(&outcomes[9].1))
        );
        let fresh = restarted.store(b"{\"fresh\":1}", key_of("{\"fresh\":1}"), 7).await;
        assert!(matches!(fresh, Ok(Stored::New { .. })));
        let (rows,): (i64,) = sqlx::query_as("SELECT CAST(COUNT(*) AS BIGINT) FROM webhook_deliveries")
            .fetch_one(db.pool())
            .await
            .unwrap();
        assert_eq!(rows, 202, "{:?}", test_db.dialect());
    }
}
