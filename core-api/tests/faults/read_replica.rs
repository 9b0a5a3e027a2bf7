//! History pages and conversation lists on a streaming replica of a private
//! Postgres (`pg_basebackup -R`): read there once it has replayed up to the
//! primary's position, so a page read right after a send includes the send;
//! with replay paused the reads go to the primary, and with the replica
//! stopped too.

use std::time::Duration;

use core_api::services::replica::{pool_for_read, ReadFrom};
use serde_json::Value;
use sqlx::PgPool;

use super::procs::PgCluster;
use super::{recovery, timed};
use crate::common::TestApp;

fn ids(page: &Value) -> Vec<String> {
    page.as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect()
}

async fn read_from(app: &TestApp) -> ReadFrom {
    pool_for_read(&app.state).await.1
}

#[tokio::test]
async fn reads_go_to_the_replica_and_a_writer_reads_its_writes() {
    let primary = PgCluster::start();
    let replica = primary.replica();
    let pool = PgPool::connect(&primary.url()).await.unwrap();
    core_api::startup::MIGRATOR.run(&pool).await.unwrap();
    let replica_url = replica.url();
    let app = TestApp::spawn_with(pool, |vars| {
        vars.insert("DATABASE_READ_URL".into(), replica_url);
    })
    .await;
    let group = app.conversation("alice", "group", &["bob"]).await;
    let history = format!("/api/v1/conversations/{group}/messages");
    recovery(Duration::from_secs(10), || async {
        read_from(&app).await == ReadFrom::Replica
    })
    .await;

    // each page read right after a send includes it, whichever server answers
    let mut on_replica = 0;
    for i in 0..20 {
        let sent = app.send("alice", &group, &format!("m{i}")).await;
        let (from, _) = timed(read_from(&app)).await;
        on_replica += usize::from(from == ReadFrom::Replica);
        let page = app.get(&history, "alice").await;
        page.expect(200);
        assert!(
            ids(page.data()).contains(&sent["id"].as_str().unwrap().to_string()),
            "round {i}: the send is missing from the page"
        );
    }
    println!("READ-REPLICA reads after a send served by the replica: {on_replica}/20");
    assert!(
        on_replica > 0,
        "the replica never caught up within the wait"
    );

    // replay paused: the replica falls behind, reads go to the primary
    let standby = PgPool::connect(&replica.url()).await.unwrap();
    sqlx::query("SELECT pg_wal_replay_pause()")
        .execute(&standby)
        .await
        .unwrap();
    let sent = app.send("alice", &group, "while paused").await;
    assert_eq!(read_from(&app).await, ReadFrom::Primary);
    let page = app.get(&history, "alice").await;
    page.expect(200);
    assert!(ids(page.data()).contains(&sent["id"].as_str().unwrap().to_string()));
    let dm = app.conversation("alice", "direct", &["carol"]).await;
    let list = app.get("/api/v1/conversations", "alice").await;
    list.expect(200);
    assert!(
        ids(list.data()).contains(&dm),
        "a new conversation is listed at once"
    );

    sqlx::query("SELECT pg_wal_replay_resume()")
        .execute(&standby)
        .await
        .unwrap();
    recovery(Duration::from_secs(10), || async {
        read_from(&app).await == ReadFrom::Replica
    })
    .await;
    let list = app.get("/api/v1/conversations", "alice").await;
    list.expect(200);
    assert!(ids(list.data()).contains(&dm));

    // the replica stopped: reads go to the primary
    standby.close().await;
    replica.stop_immediate();
    let (page, took) = timed(app.get(&history, "alice")).await;
    page.expect(200);
    println!(
        "READ-REPLICA first page read with the replica stopped: 200 from the primary in {took:.1?}"
    );
    let (page, then) = timed(app.get(&history, "alice")).await;
    page.expect(200);
    println!("READ-REPLICA next page read: 200 from the primary in {then:.1?}");
    assert!(
        then < Duration::from_millis(100),
        "the stopped replica is skipped: {then:?}"
    );
    assert_eq!(read_from(&app).await, ReadFrom::Primary);
}
