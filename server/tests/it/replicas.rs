//! Several replicas on one PostgreSQL database: a webhook taken by replica A is seen live by a
//! subscriber on replica B, through PostgreSQL's LISTEN/NOTIFY bus.

use crate::support;

use std::time::Duration;

use calling::Services;
use calling::bus::EventBus;
use calling::clock::Clock;
use calling::storage::{Db, PoolSize};
use calling::testing;
use simulator::InboundCall;
use support::{Sandbox, spawn_server};

#[tokio::test]
async fn a_webhook_taken_by_one_replica_rings_on_the_other() {
    let Some(database) = testing::postgres().await else {
        return; // no PostgreSQL configured; ./dev test always configures one
    };
    let url = database.url.clone();
    let replica = |db: Db| {
        let url = url.clone();
        async move {
            Services { bus: EventBus::postgres(&url).await.unwrap(), ..testing::services(&db, Clock::System) }
        }
    };

    // Replica A takes the webhooks; replica B has its own pool and its own bus listener.
    let a = replica(database.db.clone()).await;
    let b_db = Db::connect(&url, PoolSize(4)).await.unwrap();
    let b = Services { secret_key: a.secret_key.clone(), ..replica(b_db).await };
    let _replica_b = spawn_server(b.clone()).await;
    let sandbox = Sandbox::start_with(a, Some(database), |_| {}).await;
    let mut on_b = b.bus.subscribe(&sandbox.workspace.id);

    let call_id = sandbox
        .sim
        .sim
        .place_inbound_call(InboundCall {
            to: sandbox.business.phone_number_id.clone(),
            from: "+447700900321".into(),
            name: Some("Replica Test".into()),
            cta_payload: None,
            deeplink_payload: None,
        })
        .unwrap();
    let notice =
        tokio::time::timeout(Duration::from_secs(10), on_b.next()).await.expect("B heard it").unwrap();
    assert_eq!(notice.topic, "call.updated");
    assert_eq!(notice.data["ringing"], true);

    // B reads the same call A stored.
    let (wa_call_id,): (String,) = sqlx::query_as("SELECT wa_call_id FROM calls WHERE id = $1")
        .bind(&notice.subject)
        .fetch_one(b.db.pool())
        .await
        .unwrap();
    assert_eq!(wa_call_id, call_id);
}
