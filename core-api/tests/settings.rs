mod common;

use common::TestApp;
use reqwest::Method;
use serde_json::{json, Value};
use sqlx::PgPool;

async fn patch(app: &TestApp, user: &str, conversation: &str, body: Value) -> common::Reply {
    app.call(
        Method::PATCH,
        &format!("/api/v1/conversations/{conversation}/settings"),
        user,
        Some(body),
    )
    .await
}

fn listed(r: &common::Reply) -> Vec<String> {
    r.data()
        .as_array()
        .expect("a list")
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect()
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn settings_default_change_partially_and_sync_to_the_users_devices(pool: PgPool) {
    let (app, edge) = TestApp::spawn_with_edge(pool, |_| {}).await;
    let dm = app.conversation("alice", "direct", &["bob"]).await;
    // alice on two gateways (two devices), bob online elsewhere
    app.report("DFW.0", &["alice"], &[]).await;
    app.report("AMS.1", &["alice", "bob"], &[]).await;

    let r = app
        .get(&format!("/api/v1/conversations/{dm}/settings"), "alice")
        .await;
    r.expect(200);
    assert_eq!(
        r.data(),
        &json!({"conversation_id": dm, "notification_level": "all", "muted_until": null,
                "pinned": false, "archived": false})
    );

    let r = patch(
        &app,
        "alice",
        &dm,
        json!({"notification_level": "mentions", "muted_until": "2999-01-01T00:00:00Z", "pinned": true}),
    )
    .await;
    r.expect(200);
    let expected = json!({"conversation_id": dm, "notification_level": "mentions",
        "muted_until": "2999-01-01T00:00:00Z", "pinned": true, "archived": false});
    assert_eq!(r.data(), &expected);
    // only what was given changes; null unmutes
    let r = patch(&app, "alice", &dm, json!({"muted_until": null})).await;
    r.expect(200);
    assert_eq!(r.data()["muted_until"], Value::Null);
    assert_eq!(r.data()["notification_level"], "mentions");
    assert_eq!(r.data()["pinned"], true);
    let row: (String, Option<chrono::DateTime<chrono::Utc>>, bool, bool) = sqlx::query_as(
        "SELECT cm.notification_level, cm.muted_until, cm.pinned, cm.archived
           FROM conversation_members cm JOIN users u ON u.id = cm.user_id
          WHERE cm.conversation_id = $1::uuid AND u.tms_user_id = 'alice'",
    )
    .bind(&dm)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(row, ("mentions".into(), None, true, false));
    // bob's are his own
    let r = app
        .get(&format!("/api/v1/conversations/{dm}/settings"), "bob")
        .await;
    assert_eq!(r.data()["pinned"], false);

    // both changes reached every gateway of alice, and no one else
    let pushed = edge.wait_for("conversation_settings_updated", 2).await;
    assert_eq!(pushed.len(), 2);
    assert_eq!(pushed[0]["namespace"], "/notifications");
    assert_eq!(pushed[0]["data"], expected);
    assert_eq!(
        pushed[0]["target"],
        json!({"kind": "gateways", "gateways": [
            {"gateway": "AMS.1", "user_ids": ["alice"]},
            {"gateway": "DFW.0", "user_ids": ["alice"]}]})
    );
    assert_eq!(pushed[1]["data"]["muted_until"], Value::Null);
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn refusals_change_nothing(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let dm = app.conversation("alice", "direct", &["bob"]).await;
    for body in [
        json!({}),
        json!({"pinned": "yes"}),
        json!({"notification_level": "loud"}),
        json!({"muted_until": "tomorrow"}),
        json!({"colour": "red"}),
    ] {
        patch(&app, "alice", &dm, body)
            .await
            .expect_error(422, "VALIDATION_ERROR");
    }
    patch(&app, "carol", &dm, json!({"pinned": true}))
        .await
        .expect_error(403, "FORBIDDEN");
    app.get(&format!("/api/v1/conversations/{dm}/settings"), "carol")
        .await
        .expect_error(403, "FORBIDDEN");
    let nowhere = uuid::Uuid::new_v4();
    patch(&app, "alice", &nowhere.to_string(), json!({"pinned": true}))
        .await
        .expect_error(404, "NOT_FOUND");
    let r = app
        .get(&format!("/api/v1/conversations/{dm}/settings"), "alice")
        .await;
    assert_eq!(r.data()["pinned"], false);
    assert_eq!(r.data()["notification_level"], "all");
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn the_list_puts_pinned_first_and_hides_archived(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let first = app.conversation("alice", "direct", &["bob"]).await;
    let second = app.conversation("alice", "direct", &["carol"]).await;
    let third = app.conversation("alice", "direct", &["dave"]).await;
    let fourth = app.conversation("alice", "direct", &["erin"]).await;
    for (i, c) in [&first, &second, &third, &fourth].into_iter().enumerate() {
        app.send("alice", c, &format!("message {i}")).await;
    }
    patch(&app, "alice", &first, json!({"pinned": true}))
        .await
        .expect(200);
    patch(&app, "alice", &third, json!({"archived": true}))
        .await
        .expect(200);

    let r = app.get("/api/v1/conversations", "alice").await;
    r.expect(200);
    assert_eq!(listed(&r), [first.clone(), fourth.clone(), second.clone()]);
    assert_eq!(r.data()[0]["pinned"], true);
    assert_eq!(r.data()[1]["pinned"], false);
    assert_eq!(r.data()[1]["notification_level"], "all");

    let r = app
        .get("/api/v1/conversations?archived=true", "alice")
        .await;
    assert_eq!(
        listed(&r),
        [first.clone(), fourth.clone(), third.clone(), second.clone()]
    );
    assert_eq!(r.data()[2]["archived"], true);

    // pages of one follow the same order across the pinned boundary
    let mut seen = Vec::new();
    let mut path = "/api/v1/conversations?archived=true&limit=1".to_string();
    loop {
        let r = app.get(&path, "alice").await;
        r.expect(200);
        seen.extend(listed(&r));
        let Some(next) = r.body["pagination"]["next_cursor"].as_str() else {
            break;
        };
        path = format!("/api/v1/conversations?archived=true&limit=1&cursor={next}");
    }
    assert_eq!(seen, [first.clone(), fourth, third, second]);
    // bob's list is his own
    let r = app.get("/api/v1/conversations", "bob").await;
    assert_eq!(r.data()[0]["pinned"], false);
    app.get("/api/v1/conversations?archived=maybe", "alice")
        .await
        .expect_error(422, "VALIDATION_ERROR");
}
