mod common;

use common::TestApp;
use serde_json::json;
use sqlx::PgPool;

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn read_and_delivered_receipts(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let g = app.conversation("alice", "group", &["bob", "carol"]).await;
    let m1 = app.send("alice", &g, "one").await;
    let m2 = app.send("alice", &g, "two").await;
    let (id1, id2) = (m1["id"].as_str().unwrap(), m2["id"].as_str().unwrap());

    let unread = |r: &common::Reply| {
        r.data().as_array().unwrap()[0]["unread_count"]
            .as_i64()
            .unwrap()
    };
    assert_eq!(unread(&app.get("/api/v1/conversations", "bob").await), 2);

    let d = app
        .post(
            &format!("/api/v1/messages/{id1}/delivered"),
            "bob",
            json!({}),
        )
        .await;
    d.expect(200);
    assert!(d.data()["delivered_at"].is_string() && d.data()["read_at"].is_null());
    let r = app
        .post(&format!("/api/v1/messages/{id2}/read"), "bob", json!({}))
        .await;
    r.expect(200);
    assert!(r.data()["read_at"].is_string());
    // reading the newest message reads everything before it
    assert_eq!(unread(&app.get("/api/v1/conversations", "bob").await), 0);
    assert_eq!(unread(&app.get("/api/v1/conversations", "carol").await), 2);

    let status = app
        .get(&format!("/api/v1/messages/{id2}/status"), "alice")
        .await;
    status.expect(200);
    assert_eq!(status.data()[0]["user_id"], "bob");
    assert!(status.data()[0]["read_at"].is_string());
    assert_eq!(status.data()[1]["user_id"], "carol");
    assert!(status.data()[1]["delivered_at"].is_null());

    app.get(&format!("/api/v1/messages/{id2}/status"), "bob")
        .await
        .expect_error(403, "FORBIDDEN");
    app.post(&format!("/api/v1/messages/{id1}/read"), "alice", json!({}))
        .await
        .expect_error(422, "VALIDATION_ERROR");
    app.post(&format!("/api/v1/messages/{id1}/read"), "dave", json!({}))
        .await
        .expect_error(403, "FORBIDDEN");
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM message_status")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(rows, 2, "only bob's two marks were stored");
}
