//! Storage smoke test: the same migrations apply and the same queries give the same answers on
//! SQLite and on PostgreSQL.

use calling::calls::{self, CallStatus, Direction, NewCall};
use calling::clock::DAY;
use calling::overview::{Overview, OverviewPeriod};
use calling::testing::every_database;
use calling::workspace;

const NOW: i64 = 1_795_355_100_000; // 2026-11-22T13:45:00Z
const TODAY: i64 = 1_795_305_600_000; // 2026-11-22T00:00:00Z

fn call(workspace_id: &str, status: CallStatus, started_at: i64, duration: Option<i64>) -> NewCall {
    NewCall {
        workspace_id: workspace_id.to_owned(),
        wa_call_id: Some(format!("wacid.{started_at}.{}", status.as_str())),
        phone_number_id: "1000001".to_owned(),
        direction: Direction::UserInitiated,
        status,
        contact_number: "+919876543210".to_owned(),
        contact_name: Some("Asha".to_owned()),
        business_number: "+1 555 010 0001".to_owned(),
        started_at,
        answered_at: duration.map(|_| started_at + 5_000),
        ended_at: Some(started_at + 60_000),
        duration_seconds: duration,
        cost_micros: if duration.is_some() { 12_500 } else { 0 },
    }
}

#[tokio::test]
async fn migrations_and_queries_agree_on_every_dialect() {
    for test_db in every_database().await {
        let db = &test_db.db;
        let dialect = test_db.dialect();
        // Migrating twice is a no-op.
        db.migrate().await.unwrap();
        db.ping().await.unwrap();

        // Numbered placeholders bind by number, not by position, on both drivers.
        let (second, first): (String, i64) =
            sqlx::query_as("SELECT $2, $1").bind(7_i64).bind("b").fetch_one(db.pool()).await.unwrap();
        assert_eq!((second.as_str(), first), ("b", 7), "{dialect:?}");

        assert!(workspace::first(db).await.unwrap().is_none());
        let acme = workspace::create(db, "  Acme Support ", NOW - 10 * DAY).await.unwrap();
        let other = workspace::create(db, "Other", NOW).await.unwrap();
        assert_eq!(acme.name, "Acme Support");
        assert_eq!(workspace::first(db).await.unwrap(), Some(acme.clone()));

        // A new workspace has no calls: zeros, and no made-up rates.
        let empty = Overview::load(db, &acme.id, OverviewPeriod::Today, NOW).await.unwrap();
        assert_eq!((empty.calls, empty.answer_rate_percent()), (0, None), "{dialect:?}");

        for c in [
            call(&acme.id, CallStatus::Completed, TODAY + 1_000, Some(90)),
            call(&acme.id, CallStatus::Completed, TODAY + 2_000, Some(31)),
            call(&acme.id, CallStatus::Missed, TODAY + 3_000, None),
            call(&acme.id, CallStatus::Failed, TODAY + 4_000, None),
            call(&acme.id, CallStatus::Completed, TODAY - 3 * DAY, Some(10)), // earlier this week
            call(&acme.id, CallStatus::Missed, TODAY - 8 * DAY, None),        // too old for 7 days
            call(&other.id, CallStatus::Completed, TODAY + 5_000, Some(500)), // another tenant
        ] {
            calls::record(db, &c).await.unwrap();
        }

        let today = Overview::load(db, &acme.id, OverviewPeriod::Today, NOW).await.unwrap();
        assert_eq!(
            (today.since, today.calls, today.answered, today.missed, today.failed),
            (TODAY, 4, 2, 1, 1),
            "{dialect:?}"
        );
        assert_eq!((today.talk_seconds, today.spend_micros), (121, 25_000), "{dialect:?}");
        assert_eq!(today.answer_rate_percent(), Some(50));
        assert_eq!(today.average_duration_seconds(), Some(61));

        let week = Overview::load(db, &acme.id, OverviewPeriod::SevenDays, NOW).await.unwrap();
        assert_eq!((week.since, week.calls, week.answered), (TODAY - 6 * DAY, 5, 3), "{dialect:?}");

        let recent = calls::recent(db, &acme.id, 3).await.unwrap();
        let starts: Vec<i64> = recent.iter().map(|c| c.started_at).collect();
        assert_eq!(starts, vec![TODAY + 4_000, TODAY + 3_000, TODAY + 2_000], "{dialect:?}");
        assert_eq!(recent[0].status, CallStatus::Failed);
        assert!(
            calls::recent(db, &other.id, 50).await.unwrap().iter().all(|c| c.duration_seconds == Some(500))
        );

        // Meta's call id is unique per workspace.
        let duplicate =
            calls::record(db, &call(&acme.id, CallStatus::Completed, TODAY + 1_000, Some(90))).await;
        assert!(duplicate.is_err(), "{dialect:?}: duplicate wa_call_id accepted");
    }
}

#[tokio::test]
async fn call_history_filters_and_pages_the_same_on_every_dialect() {
    use calling::calls::{CallFilter, Outcome, list};
    for test_db in every_database().await {
        let db = &test_db.db;
        let dialect = test_db.dialect();
        let acme = workspace::create(db, "Acme", NOW).await.unwrap();
        let other = workspace::create(db, "Other", NOW).await.unwrap();
        let owner = calling::accounts::NewOwner {
            email: "ravi@acme.example".into(),
            display_name: Some("Ravi".into()),
            password: "a-long-enough-password".into(),
            workspace_name: None,
        };
        let (ravi, _) = calling::accounts::create_owner(db, owner, "Ravi's own", NOW).await.unwrap();
        let mut ids = Vec::new();
        for i in 0..7 {
            let status = if i % 2 == 0 { CallStatus::Completed } else { CallStatus::Missed };
            let mut c = call(&acme.id, status, TODAY + i * 1_000, (i % 2 == 0).then_some(30));
            c.wa_call_id = Some(format!("wacid.page-{i}"));
            c.contact_name = Some(if i == 3 { "Zoë Ng".into() } else { format!("Caller {i}") });
            if i == 5 {
                c.phone_number_id = "100000000000002".into();
            }
            ids.push(calls::record(db, &c).await.unwrap());
        }
        // Ravi took calls 2 and 4.
        for i in [2, 4] {
            calling::answering::claim(db, &acme.id, &ids[i], &ravi.id).await.unwrap();
        }
        calls::record(db, &call(&other.id, CallStatus::Missed, TODAY, None)).await.unwrap();

        // Page through everything two at a time: newest first, nothing lost or repeated.
        let mut seen = Vec::new();
        let mut filter = CallFilter { limit: Some(2), ..CallFilter::default() };
        loop {
            let page = list(db, &acme.id, &filter).await.unwrap();
            seen.extend(page.calls.iter().map(|c| c.started_at));
            match page.next_cursor {
                Some(cursor) => filter.cursor = Some(cursor),
                None => break,
            }
        }
        let expected: Vec<i64> = (0..7).rev().map(|i| TODAY + i * 1_000).collect();
        assert_eq!(seen, expected, "{dialect:?}");

        let missed =
            list(db, &acme.id, &CallFilter { status: Some(CallStatus::Missed), ..CallFilter::default() })
                .await
                .unwrap();
        assert_eq!(missed.calls.len(), 3, "{dialect:?}");
        // The seed's spellings group statuses: completed calls were delivered, missed ones sent.
        for (outcome, count) in [(Outcome::Delivered, 4), (Outcome::Sent, 3), (Outcome::Failed, 0)] {
            let found = list(db, &acme.id, &CallFilter { outcome: Some(outcome), ..CallFilter::default() })
                .await
                .unwrap();
            assert_eq!(found.calls.len(), count, "{outcome:?} on {dialect:?}");
            assert!(found.calls.iter().all(|c| Outcome::of(c.status) == outcome), "{dialect:?}");
        }
        let by_name = list(db, &acme.id, &CallFilter { search: Some("zoë".into()), ..CallFilter::default() })
            .await
            .unwrap();
        assert_eq!(by_name.calls.len(), 1, "{dialect:?}");
        let by_number =
            list(db, &acme.id, &CallFilter { search: Some("98765".into()), ..CallFilter::default() })
                .await
                .unwrap();
        assert_eq!(by_number.calls.len(), 7, "{dialect:?}");
        let window =
            CallFilter { from: Some(TODAY + 2_000), to: Some(TODAY + 5_000), ..CallFilter::default() };
        assert_eq!(list(db, &acme.id, &window).await.unwrap().calls.len(), 3, "{dialect:?}");
        let outbound = CallFilter { direction: Some(Direction::BusinessInitiated), ..CallFilter::default() };
        assert!(list(db, &acme.id, &outbound).await.unwrap().calls.is_empty());

        // By business number and by agent; each row names its agent.
        let second = CallFilter { phone_number_id: Some("100000000000002".into()), ..CallFilter::default() };
        let on_second = list(db, &acme.id, &second).await.unwrap().calls;
        assert_eq!(
            on_second.iter().map(|c| c.id.clone()).collect::<Vec<_>>(),
            vec![ids[5].clone()],
            "{dialect:?}"
        );
        assert_eq!(on_second[0].phone_number_id, "100000000000002");
        let by_ravi = CallFilter { agent: Some(ravi.id.clone()), ..CallFilter::default() };
        let taken = list(db, &acme.id, &by_ravi).await.unwrap().calls;
        assert_eq!(
            taken.iter().map(|c| c.id.clone()).collect::<Vec<_>>(),
            vec![ids[4].clone(), ids[2].clone()]
        );
        assert!(
            taken
                .iter()
                .all(|c| c.agent_name.as_deref() == Some("Ravi") && c.agent_id == Some(ravi.id.clone()))
        );
        assert_eq!(calls::agents(db, &acme.id).await.unwrap(), vec![(ravi.id.clone(), "Ravi".to_owned())]);
        assert!(calls::agents(db, &other.id).await.unwrap().is_empty(), "{dialect:?}");

        // The export has every call the filter selects (no paging), with a header row.
        let csv = calls::csv(db, &acme.id, &CallFilter { limit: Some(1), ..by_ravi.clone() }).await.unwrap();
        let lines: Vec<&str> = csv.split("\r\n").filter(|line| !line.is_empty()).collect();
        assert_eq!(lines.len(), 3, "{csv}");
        assert!(
            lines[0].starts_with("call_id,started_at,started_at_unix_ms,direction,status,contact_number")
        );
        assert!(
            lines[1].starts_with(&format!(
                "{},2026-11-22T00:00:04Z,{},user_initiated,completed,",
                ids[4],
                TODAY + 4_000
            )),
            "{csv}"
        );
        assert!(lines[1].contains(",Ravi,30,"), "{csv}");
        let everything = calls::csv(db, &acme.id, &CallFilter::default()).await.unwrap();
        assert_eq!(everything.matches("\r\n").count(), 8, "{dialect:?}: header + 7 calls");
        assert!(!everything.contains("wacid"), "Meta's ids are not exported");

        for bad in [
            CallFilter { limit: Some(0), ..CallFilter::default() },
            CallFilter { cursor: Some("nonsense".into()), ..CallFilter::default() },
        ] {
            assert_eq!(list(db, &acme.id, &bad).await.unwrap_err().code(), "validation_failed");
        }
        // Another workspace's call is invisible, and its detail is "not found".
        let foreign = list(db, &other.id, &CallFilter::default()).await.unwrap().calls[0].id.clone();
        assert_eq!(calls::detail(db, &acme.id, &foreign).await.unwrap_err().code(), "not_found");
        let mine = list(db, &acme.id, &CallFilter::default()).await.unwrap().calls[0].id.clone();
        assert_eq!(calls::detail(db, &acme.id, &mine).await.unwrap().summary.id, mine);
    }
}

#[tokio::test]
async fn analytics_series_has_every_day_and_agrees_on_every_dialect() {
    use calling::analytics::{Analytics, AnalyticsPeriod};
    for test_db in every_database().await {
        let db = &test_db.db;
        let dialect = test_db.dialect();
        let acme = workspace::create(db, "Acme", NOW).await.unwrap();
        let owner = calling::accounts::NewOwner {
            email: "ravi@acme.example".into(),
            display_name: Some("Ravi".into()),
            password: "a-long-enough-password".into(),
            workspace_name: None,
        };
        let (ravi, _) = calling::accounts::create_owner(db, owner, "Ravi's own", NOW).await.unwrap();
        let mut ids = Vec::new();
        for (i, (status, started, duration)) in [
            (CallStatus::Completed, TODAY + 1_000, Some(60)),
            (CallStatus::Completed, TODAY + 2_000, Some(31)),
            (CallStatus::Failed, TODAY + 3_000, None),
            (CallStatus::Missed, TODAY - 2 * DAY, None),
            (CallStatus::Completed, TODAY - 40 * DAY, Some(10)), // outside 30 days
        ]
        .into_iter()
        .enumerate()
        {
            let mut c = call(&acme.id, status, started, duration);
            c.wa_call_id = Some(format!("wacid.analytics-{i}"));
            ids.push(calls::record(db, &c).await.unwrap());
        }
        // Ravi took the first two (answered) and the missed one.
        for i in [0, 1, 3] {
            calling::answering::claim(db, &acme.id, &ids[i], &ravi.id).await.unwrap();
        }
        let month = Analytics::load(db, &acme.id, AnalyticsPeriod::ThirtyDays, NOW).await.unwrap();
        assert_eq!(month.daily_series.len(), 30, "{dialect:?}");
        assert_eq!(month.daily_series.last().unwrap().date, "2026-11-22");
        assert_eq!(month.daily_series.first().unwrap().date, "2026-10-24");
        assert_eq!(
            (month.total_calls, month.answered_calls, month.missed_calls, month.failed_calls),
            (4, 2, 1, 1),
            "{dialect:?}"
        );
        assert_eq!(month.answer_rate_percent, Some(50));
        let today = month.daily_series.last().unwrap();
        assert_eq!(
            (today.count, today.failed_count, today.average_duration_seconds),
            (3, 1, Some(46)),
            "{dialect:?}"
        );
        assert_eq!(today.cost_micros, 25_000);
        let two_days_ago = &month.daily_series[27];
        assert_eq!((two_days_ago.date.as_str(), two_days_ago.missed_count), ("2026-11-20", 1));
        assert!(month.daily_series[..27].iter().all(|day| day.count == 0));

        let one_day = Analytics::load(db, &acme.id, AnalyticsPeriod::Today, NOW).await.unwrap();
        assert_eq!((one_day.daily_series.len(), one_day.total_calls), (1, 3), "{dialect:?}");

        // A custom range: the 20th to the 22nd (the missed call and today's three), both days in.
        let range = Analytics::load_between(db, &acme.id, "2026-11-20", "2026-11-22", NOW).await.unwrap();
        assert_eq!(
            (range.period, range.daily_series.len(), range.total_calls),
            (AnalyticsPeriod::Custom, 3, 4)
        );
        assert_eq!((range.since, range.until), (TODAY - 2 * DAY, TODAY + DAY));
        let before = Analytics::load_between(db, &acme.id, "2026-10-01", "2026-10-14", NOW).await.unwrap();
        assert_eq!(
            (before.total_calls, before.daily_series.len()),
            (1, 14),
            "{dialect:?}: the call 40 days ago"
        );
        for (from, to, field) in [
            ("2026-11-22", "2026-11-20", "to"),
            ("2025-01-01", "2026-11-22", "to"),
            ("nope", "2026-11-22", "from"),
        ] {
            let err = Analytics::load_between(db, &acme.id, from, to, NOW).await.unwrap_err();
            assert_eq!(err.to_string().split(':').next(), Some(field), "{from}..{to}");
        }

        // The heatmap: today's three calls at Sunday 00:00, the missed one on Friday 00:00.
        assert_eq!(month.hour_of_week.len(), 7);
        assert_eq!((month.hour_of_week[6][0], month.hour_of_week[4][0]), (3, 1), "{dialect:?}");
        assert_eq!(month.hour_of_week.iter().flatten().sum::<i64>(), 4);
        // Per agent: three calls taken, two connected, 91 s of talk.
        assert_eq!(month.agents.len(), 1, "{dialect:?}");
        let agent = &month.agents[0];
        assert_eq!(
            (agent.name.as_str(), agent.calls, agent.answered, agent.talk_seconds),
            ("Ravi", 3, 2, 91)
        );
        assert_eq!(agent.average_duration_seconds, Some(46));
        assert!(one_day.agents[0].calls == 2, "{dialect:?}: the missed call was two days ago");
    }
}

#[tokio::test]
async fn analytics_roll_ups_follow_every_change_of_a_settled_hour_on_every_dialect() {
    use calling::analytics::{Analytics, AnalyticsPeriod};
    for test_db in every_database().await {
        let db = &test_db.db;
        let dialect = test_db.dialect();
        let acme = workspace::create(db, "Acme", NOW).await.unwrap();
        let mut ids = Vec::new();
        for (i, (status, started, duration)) in [
            (CallStatus::Completed, TODAY - 2 * DAY + 3_600_000, Some(60)),
            (CallStatus::Missed, TODAY - 2 * DAY + 3_600_000 + 5, None),
            (CallStatus::Failed, TODAY - DAY + 7_200_000, None),
            (CallStatus::Completed, NOW - 60_000, Some(20)), // the live last hours
        ]
        .into_iter()
        .enumerate()
        {
            let mut c = call(&acme.id, status, started, duration);
            c.wa_call_id = Some(format!("wacid.rollup-{i}"));
            ids.push(calls::record(db, &c).await.unwrap());
        }
        let week = || Analytics::load(db, &acme.id, AnalyticsPeriod::SevenDays, NOW);
        let marks = || async {
            let (n,): (i64,) = sqlx::query_as(
                "SELECT CAST(COUNT(*) AS BIGINT) FROM call_stats_hours_done WHERE workspace_id = $1",
            )
            .bind(&acme.id)
            .fetch_one(db.pool())
            .await
            .unwrap();
            n
        };

        let first = week().await.unwrap();
        assert_eq!((first.total_calls, first.answered_calls, first.missed_calls), (4, 2, 1), "{dialect:?}");
        let settled_hours = marks().await;
        assert!(settled_hours > 100, "the settled hours are rolled up: {settled_hours} on {dialect:?}");
        assert_eq!(week().await.unwrap(), first, "read back from the roll-ups on {dialect:?}");

        // A settled hour's call changes (a late terminate): its hour is read afresh.
        sqlx::query("UPDATE calls SET status = 'completed', answered_at = started_at + 1000, duration_seconds = 30 WHERE id = $1")
            .bind(&ids[1])
            .execute(db.pool())
            .await
            .unwrap();
        assert_eq!(marks().await, settled_hours - 1, "{dialect:?}");
        let changed = week().await.unwrap();
        assert_eq!(
            (changed.total_calls, changed.answered_calls, changed.missed_calls),
            (4, 3, 0),
            "{dialect:?}"
        );

        // A call stored late in a settled hour, and one deleted, count at once too.
        let mut late = call(&acme.id, CallStatus::Missed, TODAY - 3 * DAY, None);
        late.wa_call_id = Some("wacid.rollup-late".into());
        calls::record(db, &late).await.unwrap();
        sqlx::query("DELETE FROM calls WHERE id = $1").bind(&ids[2]).execute(db.pool()).await.unwrap();
        let after = week().await.unwrap();
        assert_eq!((after.total_calls, after.missed_calls, after.failed_calls), (4, 1, 0), "{dialect:?}");

        // And the roll-ups agree with the calls themselves: forget them all and read again.
        sqlx::query("DELETE FROM call_stats_hours_done").execute(db.pool()).await.unwrap();
        assert_eq!(week().await.unwrap(), after, "{dialect:?}");
    }
}
