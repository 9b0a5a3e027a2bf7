//! The ring timeout: a deadline in Postgres, applied by a sweeper on every
//! replica (once at start, then periodically), announced exactly once.

use std::time::Duration;

use core_api::services::calls::sweeper;

use super::*;

async fn with_clock(
    pool: PgPool,
    clock: &ManualClock,
    tweak: impl FnOnce(&mut HashMap<String, String>),
) -> (TestApp, common::edge::EdgeStandIn) {
    let edge = common::edge::EdgeStandIn::start().await;
    let url = edge.url.clone();
    let app = TestApp::spawn_full(
        pool,
        |v| {
            v.insert("EDGE_FANOUT_URL".into(), url);
            tweak(v);
        },
        Arc::new(clock.clone()),
    )
    .await;
    (app, edge)
}

async fn get_call(app: &TestApp, call: &Value, user: &str) -> Value {
    let r = app
        .get(
            &format!("/api/v1/calls/{}", call["id"].as_str().unwrap()),
            user,
        )
        .await;
    r.expect(200);
    r.data().clone()
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn an_unanswered_call_is_missed_once_the_ring_times_out(pool: PgPool) {
    let clock = ManualClock::at(Utc::now());
    let (app, edge) = with_clock(pool, &clock, quiet_sweeper).await;
    let dm = app.conversation("alice", "direct", &["bob"]).await;
    app.report("AMS.1", &["alice", "bob"], &[]).await;
    let call = ring(&app, &dm, "alice").await;

    clock.advance(chrono::Duration::seconds(44));
    assert_eq!(sweeper::sweep(&app.state).await.unwrap(), 0, "not yet");
    assert_eq!(get_call(&app, &call, "bob").await["status"], "ringing");
    clock.advance(chrono::Duration::seconds(2));
    assert_eq!(sweeper::sweep(&app.state).await.unwrap(), 1);
    let missed = get_call(&app, &call, "bob").await;
    assert_eq!(missed["status"], "missed");
    assert_eq!(missed["end_reason"], "timeout");
    assert_eq!(missed["ring_expires_at"], Value::Null);
    assert_eq!(missed["duration_secs"], Value::Null);
    assert_eq!(
        (status_of(&missed, "alice"), status_of(&missed, "bob")),
        ("left", "missed")
    );
    let ends = edge.wait_for("call_end", 1).await;
    assert_eq!(recipients(&ends[0]), ["alice", "bob"], "both are told");
    assert_eq!(ends[0]["data"]["user_id"], Value::Null, "nobody did it");
    assert_eq!(ends[0]["data"]["call"], missed);
    assert_eq!(sweeper::sweep(&app.state).await.unwrap(), 0, "once");
    let deadline: Option<chrono::DateTime<Utc>> =
        sqlx::query_scalar("SELECT ring_deadline FROM calls")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(deadline, None);
    // bob is free again
    let again = ring(&app, &dm, "alice").await;
    assert_eq!(status_of(&again, "bob"), "ringing");
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn an_accept_after_the_deadline_is_refused_before_any_sweep(pool: PgPool) {
    let clock = ManualClock::at(Utc::now());
    let (app, edge) = with_clock(pool, &clock, quiet_sweeper).await;
    let dm = app.conversation("alice", "direct", &["bob"]).await;
    app.report("AMS.1", &["alice", "bob"], &[]).await;
    let call = ring(&app, &dm, "alice").await;
    clock.advance(chrono::Duration::seconds(45));
    act(&app, &call, "bob", "accept")
        .await
        .expect_error(409, "CONFLICT");
    let missed = get_call(&app, &call, "alice").await;
    assert_eq!(missed["status"], "missed");
    assert_eq!(missed["end_reason"], "timeout");
    edge.wait_for("call_end", 1).await;
    assert_eq!(sweeper::sweep(&app.state).await.unwrap(), 0);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(about(&edge, "call_end", &call).len(), 1, "announced once");
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn the_background_sweeper_applies_a_short_timeout(pool: PgPool) {
    let app = TestApp::spawn_with(pool, |v| {
        v.insert("CALL_RING_TIMEOUT_SECS".into(), "1".into());
        v.insert("CALL_SWEEP_INTERVAL_MS".into(), "50".into());
    })
    .await;
    let dm = app.conversation("alice", "direct", &["bob"]).await;
    let call = ring(&app, &dm, "alice").await;
    let started: chrono::DateTime<Utc> =
        serde_json::from_value(call["started_at"].clone()).unwrap();
    let expires: chrono::DateTime<Utc> =
        serde_json::from_value(call["ring_expires_at"].clone()).unwrap();
    assert_eq!(expires - started, chrono::Duration::seconds(1));
    let mut status = String::new();
    for _ in 0..60 {
        status = get_call(&app, &call, "alice").await["status"]
            .as_str()
            .unwrap()
            .to_owned();
        if status != "ringing" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, "missed");
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn the_ring_timeout_survives_a_restart_of_core(pool: PgPool) {
    let t0 = Utc::now();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let first = TestApp::spawn_until(
        pool.clone(),
        quiet_sweeper,
        Arc::new(ManualClock::at(t0)),
        async move {
            let _ = stopped.await;
        },
    )
    .await;
    let dm = first.conversation("alice", "direct", &["bob"]).await;
    let call = ring(&first, &dm, "alice").await;
    // the first core goes away with the call ringing
    stop.send(()).unwrap();
    let mut down = false;
    for _ in 0..100 {
        if first
            .http
            .get(format!("{}/health/live", first.base))
            .send()
            .await
            .is_err()
        {
            down = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(down, "the first core stopped serving");
    drop(first);

    // a new core on the same database, a minute later: its first sweep, at
    // start, times the ring out from the stored deadline
    let later = ManualClock::at(t0 + chrono::Duration::seconds(60));
    let (second, edge) = with_clock(pool, &later, quiet_sweeper).await;
    let mut status = String::new();
    for _ in 0..100 {
        status = get_call(&second, &call, "bob").await["status"]
            .as_str()
            .unwrap()
            .to_owned();
        if status == "missed" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(status, "missed");
    let stored: (String, Option<String>) = sqlx::query_as("SELECT status, end_reason FROM calls")
        .fetch_one(&second.pool)
        .await
        .unwrap();
    assert_eq!(stored, ("missed".into(), Some("timeout".into())));
    // nobody was online at the second core: nothing to push
    assert!(edge.named("call_end").is_empty());
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn two_replicas_announce_a_timeout_once(pool: PgPool) {
    let clock = ManualClock::at(Utc::now());
    let fast = |v: &mut HashMap<String, String>| {
        v.insert("CALL_SWEEP_INTERVAL_MS".into(), "10".into());
    };
    let (one, edge_one) = with_clock(pool.clone(), &clock, fast).await;
    let (two, edge_two) = with_clock(pool, &clock, fast).await;
    let dm = one.conversation("alice", "direct", &["bob"]).await;
    for app in [&one, &two] {
        app.report("AMS.1", &["alice", "bob"], &[]).await;
    }
    let mut calls = Vec::new();
    for i in 0..5 {
        // five rings at once, between five pairs
        let (a, b) = (
            format!("load-{:03}", 2 * i + 1),
            format!("load-{:03}", 2 * i + 2),
        );
        let pair = one.conversation(&a, "direct", &[&b]).await;
        for app in [&one, &two] {
            app.report("AMS.1", &[a.as_str(), b.as_str()], &[]).await;
        }
        calls.push(ring(&one, &pair, &a).await);
    }
    calls.push(ring(&two, &dm, "alice").await);
    clock.advance(chrono::Duration::seconds(46));
    for call in &calls {
        let mut status = String::new();
        for _ in 0..100 {
            status = get_call(&one, call, call["initiator_id"].as_str().unwrap()).await["status"]
                .as_str()
                .unwrap()
                .to_owned();
            if status == "missed" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(status, "missed");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    for call in &calls {
        let told =
            about(&edge_one, "call_end", call).len() + about(&edge_two, "call_end", call).len();
        assert_eq!(told, 1, "exactly one replica announced {}", call["id"]);
    }
}
