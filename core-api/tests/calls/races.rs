//! Concurrent accepts, accept against end, and concurrent rings of one callee
//! never leave a call half changed: each change runs under the call's lock,
//! each start under its users' locks.

use super::*;

/// Every participant's state fits the call's, and no user is live twice.
async fn assert_consistent(app: &TestApp, call: &Value) -> Value {
    let id = call["id"].as_str().unwrap();
    let got = app
        .get(
            &format!("/api/v1/calls/{id}"),
            call["initiator_id"].as_str().unwrap(),
        )
        .await;
    got.expect(200);
    let now = got.data().clone();
    let statuses: Vec<&str> = now["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["status"].as_str().unwrap())
        .collect();
    match now["status"].as_str().unwrap() {
        "completed" => {
            assert!(now["answered_at"].is_string(), "{now}");
            assert!(
                statuses
                    .iter()
                    .all(|s| ["left", "missed", "rejected", "busy"].contains(s)),
                "{now}"
            );
        }
        "missed" | "rejected" => {
            assert!(now["answered_at"].is_null(), "{now}");
            assert!(
                !statuses.contains(&"joined") && !statuses.contains(&"ringing"),
                "{now}"
            );
        }
        "ongoing" => assert!(
            statuses.iter().filter(|s| **s == "joined").count() >= 2
                || statuses.contains(&"ringing"),
            "{now}"
        ),
        other => panic!("unexpected status {other}: {now}"),
    }
    let twice: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT user_id FROM call_participants
         WHERE status IN ('ringing', 'joined') GROUP BY user_id HAVING count(*) > 1) t",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(twice, 0);
    now
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn racing_accepts_of_one_callee_answer_once(pool: PgPool) {
    let (app, edge) = TestApp::spawn_with_edge(pool, quiet_sweeper).await;
    let app = Arc::new(app);
    app.report("AMS.1", &["alice", "bob"], &[]).await;
    let dm = app.conversation("alice", "direct", &["bob"]).await;
    let call = ring(&app, &dm, "alice").await;
    // bob's devices all accept at once
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (app, call) = (app.clone(), call.clone());
            tokio::spawn(async move { act(&app, &call, "bob", "accept").await })
        })
        .collect();
    let mut answered = Vec::new();
    for t in tasks {
        let r = t.await.unwrap();
        r.expect(200);
        answered.push(r.data()["answered_at"].clone());
    }
    assert!(
        answered.windows(2).all(|w| w[0] == w[1]),
        "one answer time: {answered:?}"
    );
    let now = assert_consistent(&app, &call).await;
    assert_eq!(now["status"], "ongoing");
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(
        about(&edge, "call_accept", &call).len(),
        1,
        "announced once"
    );
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn accepts_racing_an_end_never_corrupt_the_call(pool: PgPool) {
    let (app, edge) = TestApp::spawn_with_edge(pool, quiet_sweeper).await;
    let app = Arc::new(app);
    let callees: Vec<String> = (1..=6).map(|i| format!("load-{i:03}")).collect();
    let names: Vec<&str> = callees.iter().map(String::as_str).collect();
    let group = app.conversation("alice", "group", &names).await;
    let mut everyone = names.clone();
    everyone.push("alice");
    app.report("AMS.1", &everyone, &[]).await;
    for round in 0..6 {
        let call = ring(&app, &group, "alice").await;
        let mut tasks = Vec::new();
        for (i, callee) in callees.iter().enumerate() {
            let (a, c, callee) = (app.clone(), call.clone(), callee.clone());
            let action = if i % 3 == 2 { "reject" } else { "accept" };
            tasks.push(tokio::spawn(async move {
                (action, act(&a, &c, &callee, action).await)
            }));
            if i == round {
                let (app, call) = (app.clone(), call.clone());
                tasks.push(tokio::spawn(async move {
                    ("end", act(&app, &call, "alice", "end").await)
                }));
            }
        }
        let mut accepted = 0;
        for t in tasks {
            let (action, r) = t.await.unwrap();
            match (action, r.status.as_u16()) {
                ("end", s) => assert_eq!(s, 200, "{}", r.body),
                (_, 200) => accepted += usize::from(action == "accept"),
                (_, 409) => assert_eq!(r.code(), "CONFLICT"),
                (_, s) => panic!("{action}: {s} {}", r.body),
            }
        }
        let now = assert_consistent(&app, &call).await;
        let expected = if accepted > 0 { "completed" } else { "missed" };
        assert_eq!(now["status"], expected, "round {round}: {now}");
        assert_eq!(now["end_reason"], "hangup");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        assert_eq!(
            about(&edge, "call_end", &call).len(),
            1,
            "one end announced"
        );
        assert_eq!(about(&edge, "call_accept", &call).len(), accepted);
    }
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn racing_rings_of_one_callee_leave_him_in_one_call(pool: PgPool) {
    let app = Arc::new(TestApp::spawn_with(pool, quiet_sweeper).await);
    let callers: Vec<String> = (1..=8).map(|i| format!("load-{i:03}")).collect();
    let mut dms = Vec::new();
    for caller in &callers {
        dms.push(app.conversation(caller, "direct", &["bob"]).await);
    }
    let tasks: Vec<_> = callers
        .iter()
        .zip(&dms)
        .map(|(caller, dm)| {
            let (app, caller, dm) = (app.clone(), caller.clone(), dm.clone());
            tokio::spawn(async move { start(&app, &dm, &caller, "voice").await })
        })
        .collect();
    let mut rung = 0;
    for t in tasks {
        let r = t.await.unwrap();
        match r.status.as_u16() {
            201 => rung += 1,
            409 => assert_eq!(r.code(), "BUSY", "{}", r.body),
            s => panic!("{s}: {}", r.body),
        }
    }
    assert_eq!(rung, 1, "bob rings in exactly one call");
    assert_eq!(
        count(&app, "calls").await,
        1,
        "the busy ones stored nothing"
    );
}
