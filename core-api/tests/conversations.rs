mod common;

use common::TestApp;
use reqwest::Method;
use serde_json::json;
use sqlx::PgPool;

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn direct_conversation_exists_once(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let first = app
        .post(
            "/api/v1/conversations",
            "alice",
            json!({"type": "direct", "member_ids": ["bob"]}),
        )
        .await;
    first.expect(201);
    let id = first.data()["id"].as_str().unwrap().to_string();
    assert_eq!(first.data()["type"], "direct");
    let members: Vec<&str> = first.data()["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["user_id"].as_str().unwrap())
        .collect();
    assert_eq!(members.len(), 2);
    assert!(members.contains(&"alice") && members.contains(&"bob"));
    assert_eq!(
        first.data()["members"][0]["profile"]["display_name"]
            .as_str()
            .map(|s| !s.is_empty()),
        Some(true)
    );

    let again = app
        .post(
            "/api/v1/conversations",
            "alice",
            json!({"type": "direct", "member_ids": ["bob"]}),
        )
        .await;
    again.expect(200);
    assert_eq!(again.data()["id"], id.as_str());
    let reverse = app
        .post(
            "/api/v1/conversations",
            "bob",
            json!({"type": "direct", "member_ids": ["alice"]}),
        )
        .await;
    reverse.expect(200);
    assert_eq!(reverse.data()["id"], id.as_str());

    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM conversations WHERE kind = 'direct'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(rows, 1);
    // both users got their local reference rows on first sight
    let users: i64 =
        sqlx::query_scalar("SELECT count(*) FROM users WHERE tms_user_id IN ('alice','bob')")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(users, 2);
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn creation_is_validated(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let unknown = app
        .post(
            "/api/v1/conversations",
            "alice",
            json!({"type": "group", "title": "T", "member_ids": ["bob", "mallory"]}),
        )
        .await;
    unknown.expect_error(422, "UNKNOWN_USER");
    assert_eq!(
        unknown.body["error"]["details"]["unknown_ids"],
        json!(["mallory"])
    );
    app.post(
        "/api/v1/conversations",
        "alice",
        json!({"type": "direct", "member_ids": ["alice"]}),
    )
    .await
    .expect_error(422, "VALIDATION_ERROR");
    app.post(
        "/api/v1/conversations",
        "alice",
        json!({"type": "direct", "member_ids": ["bob", "carol"]}),
    )
    .await
    .expect_error(422, "VALIDATION_ERROR");
    app.post(
        "/api/v1/conversations",
        "alice",
        json!({"type": "group", "member_ids": ["bob"]}),
    )
    .await
    .expect_error(422, "VALIDATION_ERROR");
    app.post(
        "/api/v1/conversations",
        "alice",
        json!({"type": "group", "title": "  ", "member_ids": ["bob"]}),
    )
    .await
    .expect_error(422, "VALIDATION_ERROR");
    app.post(
        "/api/v1/conversations",
        "alice",
        json!({"type": "channel", "member_ids": ["bob"]}),
    )
    .await
    .expect_error(422, "VALIDATION_ERROR");
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM conversations")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(count, 0, "rejected requests store nothing");
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn list_is_paginated_by_activity_with_unread_and_last_message(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let dm_bob = app.conversation("alice", "direct", &["bob"]).await;
    let dm_carol = app.conversation("alice", "direct", &["carol"]).await;
    let group = app.conversation("alice", "group", &["bob", "carol"]).await;
    app.send("bob", &dm_bob, "hi alice").await;
    app.send("bob", &dm_bob, "are you there?").await;
    let last = app.send("carol", &group, "hello team").await;

    let page1 = app.get("/api/v1/conversations?limit=2", "alice").await;
    page1.expect(200);
    let items = page1.data().as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["id"], group.as_str(), "most recent activity first");
    assert_eq!(items[0]["unread_count"], 1);
    // the same wire shape as every other `Message` answer (list previews carry no reactions)
    let mut expected = last.clone();
    expected.as_object_mut().unwrap().remove("reactions");
    assert_eq!(items[0]["last_message"], expected);
    assert_eq!(items[1]["id"], dm_bob.as_str());
    assert_eq!(items[1]["unread_count"], 2);
    assert_eq!(items[1]["last_message"]["sender_id"], "bob");
    assert_eq!(page1.body["pagination"]["has_more"], true);
    let cursor = page1.body["pagination"]["next_cursor"].as_str().unwrap();

    let page2 = app
        .get(
            &format!("/api/v1/conversations?limit=2&cursor={cursor}"),
            "alice",
        )
        .await;
    page2.expect(200);
    let items = page2.data().as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], dm_carol.as_str());
    assert!(items[0]["last_message"].is_null());
    assert_eq!(page2.body["pagination"]["has_more"], false);
    assert!(page2.body["pagination"]["next_cursor"].is_null());

    // the sender has nothing unread in its own conversation
    let bob = app.get("/api/v1/conversations", "bob").await;
    let bob_dm = bob
        .data()
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == dm_bob.as_str())
        .unwrap()
        .clone();
    assert_eq!(bob_dm["unread_count"], 0);
    // dave sees none of them
    let dave = app.get("/api/v1/conversations", "dave").await;
    assert_eq!(dave.data().as_array().unwrap().len(), 0);
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn group_roles_rename_add_remove_leave(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let g = app.conversation("alice", "group", &["bob"]).await;
    let path = format!("/api/v1/conversations/{g}");

    app.call(Method::PATCH, &path, "bob", Some(json!({"title": "Bob's"})))
        .await
        .expect_error(403, "FORBIDDEN");
    let renamed = app
        .call(
            Method::PATCH,
            &path,
            "alice",
            Some(json!({"title": "Renamed"})),
        )
        .await;
    renamed.expect(200);
    assert_eq!(renamed.data()["title"], "Renamed");

    app.post(
        &format!("{path}/members"),
        "bob",
        json!({"member_ids": ["carol"]}),
    )
    .await
    .expect_error(403, "FORBIDDEN");
    app.post(
        &format!("{path}/members"),
        "alice",
        json!({"member_ids": ["zed"]}),
    )
    .await
    .expect_error(422, "UNKNOWN_USER");
    let added = app
        .post(
            &format!("{path}/members"),
            "alice",
            json!({"member_ids": ["carol", "dave"]}),
        )
        .await;
    added.expect(200);
    assert_eq!(added.data()["members"].as_array().unwrap().len(), 4);

    // owner makes bob an admin; an admin cannot remove another admin or the owner
    app.set_role(&g, "alice", "bob", "admin").await.expect(200);
    app.set_role(&g, "bob", "carol", "admin")
        .await
        .expect_error(403, "FORBIDDEN");
    app.call(
        Method::DELETE,
        &format!("{path}/members/alice"),
        "bob",
        None,
    )
    .await
    .expect_error(403, "FORBIDDEN");
    let removed = app
        .call(Method::DELETE, &format!("{path}/members/dave"), "bob", None)
        .await;
    removed.expect(200);
    assert!(!removed.data()["members"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["user_id"] == "dave"));
    app.get(&path, "dave").await.expect_error(403, "FORBIDDEN");

    // the owner leaves: the admin becomes owner
    app.post(&format!("{path}/leave"), "alice", json!({}))
        .await
        .expect(200);
    let after = app.get(&path, "bob").await;
    after.expect(200);
    let bob = after.data()["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["user_id"] == "bob")
        .unwrap()
        .clone();
    assert_eq!(bob["role"], "owner");
    app.get(&path, "alice").await.expect_error(403, "FORBIDDEN");

    // DMs have fixed membership and no title
    let dm = app.conversation("carol", "direct", &["dave"]).await;
    app.call(
        Method::PATCH,
        &format!("/api/v1/conversations/{dm}"),
        "carol",
        Some(json!({"title": "x"})),
    )
    .await
    .expect_error(422, "VALIDATION_ERROR");
    app.post(
        &format!("/api/v1/conversations/{dm}/leave"),
        "carol",
        json!({}),
    )
    .await
    .expect_error(422, "VALIDATION_ERROR");
}

/// Every conversation-scoped route refuses a non-member.
#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn non_members_are_refused_on_every_conversation_route(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let g = app.conversation("alice", "group", &["bob"]).await;
    let m = app.send("alice", &g, "secret").await;
    let mid = m["id"].as_str().unwrap();
    let c = format!("/api/v1/conversations/{g}");
    let cases: Vec<(Method, String, Option<serde_json::Value>)> = vec![
        (Method::GET, c.clone(), None),
        (Method::PATCH, c.clone(), Some(json!({"title": "x"}))),
        (
            Method::POST,
            format!("{c}/members"),
            Some(json!({"member_ids": ["dave"]})),
        ),
        (Method::DELETE, format!("{c}/members/bob"), None),
        (
            Method::PATCH,
            format!("{c}/members/bob"),
            Some(json!({"role": "admin"})),
        ),
        (Method::POST, format!("{c}/leave"), Some(json!({}))),
        (Method::GET, format!("{c}/messages"), None),
        (Method::GET, format!("{c}/messages?after_seq=0"), None),
        (
            Method::POST,
            "/api/v1/messages".into(),
            Some(json!({"conversation_id": g, "type": "text", "content": "hi"})),
        ),
        (Method::GET, format!("/api/v1/messages/{mid}"), None),
        (
            Method::PATCH,
            format!("/api/v1/messages/{mid}"),
            Some(json!({"content": "x"})),
        ),
        (Method::DELETE, format!("/api/v1/messages/{mid}"), None),
        (
            Method::POST,
            format!("/api/v1/messages/{mid}/read"),
            Some(json!({})),
        ),
        (
            Method::POST,
            format!("/api/v1/messages/{mid}/delivered"),
            Some(json!({})),
        ),
        (Method::GET, format!("/api/v1/messages/{mid}/status"), None),
    ];
    for (method, path, body) in cases {
        let r = app.call(method.clone(), &path, "carol", body).await;
        assert_eq!(r.status.as_u16(), 403, "{method} {path}: {}", r.body);
        r.expect_error(403, "FORBIDDEN");
    }
    // and a conversation that does not exist is 404, not 403
    let missing = uuid::Uuid::new_v4();
    app.get(&format!("/api/v1/conversations/{missing}"), "carol")
        .await
        .expect_error(404, "NOT_FOUND");
    // nothing changed: one message, two members, original title
    let (msgs, members): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM messages), (SELECT count(*) FROM conversation_members)",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!((msgs, members), (1, 2));
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn concurrent_leaves_never_leave_a_group_without_an_owner(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    // the owner leaving hands over to the admin, who leaves at the same moment
    for round in 0..10 {
        let g = app.conversation("alice", "group", &["bob", "carol"]).await;
        let path = format!("/api/v1/conversations/{g}");
        app.set_role(&g, "alice", "bob", "admin").await.expect(200);
        let leave = format!("{path}/leave");
        let (a, b) = tokio::join!(
            app.post(&leave, "alice", json!({})),
            app.post(&leave, "bob", json!({}))
        );
        a.expect(200);
        b.expect(200);
        let roles: Vec<String> = sqlx::query_scalar(
            "SELECT role FROM conversation_members WHERE conversation_id = $1::uuid",
        )
        .bind(&g)
        .fetch_all(&app.pool)
        .await
        .unwrap();
        assert_eq!(roles, ["owner"], "round {round}: carol must own the group");
    }
}

/// Remove and leave ask TMS for profiles only after their commit: a slow TMS
/// must not hold the group's row lock, which every send into the group takes.
#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn slow_tms_during_remove_or_leave_does_not_hold_up_sends(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let g = app
        .conversation("alice", "group", &["bob", "carol", "dave"])
        .await;
    let path = format!("/api/v1/conversations/{g}");
    let tms_delay = std::time::Duration::from_millis(1500);
    for (who, route) in [
        ("alice", format!("{path}/members/carol")),
        ("dave", format!("{path}/leave")),
    ] {
        // profiles no longer cached: the change has to ask TMS
        let keys = ["alice", "bob", "carol", "dave"].map(core_api::cache::keys::profile);
        app.state.cache.delete(&keys).await.unwrap();
        app.tms.controls.set_delay(tms_delay);
        let change = async {
            let started = std::time::Instant::now();
            let r = if route.ends_with("/leave") {
                app.post(&route, who, json!({})).await
            } else {
                app.call(Method::DELETE, &route, who, None).await
            };
            (r, started.elapsed())
        };
        let send = async {
            // let the change take the lock and reach TMS first
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            let started = std::time::Instant::now();
            app.send("bob", &g, "still flowing").await;
            started.elapsed()
        };
        let ((changed, change_took), send_took) = tokio::join!(change, send);
        changed.expect(200);
        assert!(
            change_took >= tms_delay,
            "{route}: TMS was not asked during the change ({change_took:?})"
        );
        assert!(
            send_took < std::time::Duration::from_millis(700),
            "{route}: the send waited {send_took:?} for a change that was waiting on TMS"
        );
        app.tms.controls.set_delay(std::time::Duration::ZERO);
    }
    let members: Vec<String> = sqlx::query_scalar(
        "SELECT u.tms_user_id FROM conversation_members cm JOIN users u ON u.id = cm.user_id
         WHERE cm.conversation_id = $1::uuid ORDER BY 1",
    )
    .bind(&g)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(members, ["alice", "bob"]);
}

/// A large group: its detail carries the first 100 members and the count;
/// the members route pages all of them in join order, each once.
#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn a_large_group_is_paged_not_carried_whole(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let ids: Vec<String> = (1..=149).map(|n| format!("load-{n:03}")).collect();
    let created = app
        .post(
            "/api/v1/conversations",
            "alice",
            json!({"type": "group", "title": "All hands", "member_ids": ids}),
        )
        .await;
    created.expect(201);
    assert_eq!(created.data()["member_count"], 150);
    assert_eq!(created.data()["members"].as_array().unwrap().len(), 100);
    let id = created.data()["id"].as_str().unwrap().to_string();
    let detail = app
        .get(&format!("/api/v1/conversations/{id}"), "load-149")
        .await;
    detail.expect(200);
    assert_eq!(detail.data()["member_count"], 150);
    assert_eq!(detail.data()["members"].as_array().unwrap().len(), 100);

    let mut seen: Vec<String> = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/conversations/{id}/members?limit=40&cursor={c}"),
            None => format!("/api/v1/conversations/{id}/members?limit=40"),
        };
        let page = app.get(&path, "load-001").await;
        page.expect(200);
        pages += 1;
        for m in page.data().as_array().unwrap() {
            seen.push(m["user_id"].as_str().unwrap().to_string());
            assert!(m["profile"]["display_name"].is_string(), "{m}");
        }
        match page.body["pagination"]["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => {
                assert_eq!(page.body["pagination"]["has_more"], false);
                break;
            }
        }
    }
    assert_eq!(pages, 4);
    assert_eq!(seen.len(), 150);
    let unique: std::collections::HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), 150, "each member once");
    assert!(seen.contains(&"alice".to_string()));
    // the detail's members are the first of those pages (one order everywhere)
    let first: Vec<&str> = detail.data()["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["user_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        first,
        seen[..100].iter().map(String::as_str).collect::<Vec<_>>()
    );

    // the list of my conversations carries the count and at most 100 ids
    let mine = app.get("/api/v1/conversations", "load-001").await;
    mine.expect(200);
    assert_eq!(mine.data()[0]["member_count"], 150);
    assert_eq!(mine.data()[0]["member_ids"].as_array().unwrap().len(), 100);

    // only members page; bad cursors and limits are refused
    app.get(&format!("/api/v1/conversations/{id}/members"), "bob")
        .await
        .expect_error(403, "FORBIDDEN");
    app.get(
        &format!("/api/v1/conversations/{id}/members?cursor=zz"),
        "alice",
    )
    .await
    .expect_error(422, "VALIDATION_ERROR");
    app.get(
        &format!("/api/v1/conversations/{id}/members?limit=101"),
        "alice",
    )
    .await
    .expect_error(422, "VALIDATION_ERROR");
    app.get(
        &format!("/api/v1/conversations/{}/members", uuid::Uuid::new_v4()),
        "alice",
    )
    .await
    .expect_error(404, "NOT_FOUND");
}

/// `MAX_GROUP_MEMBERS`: a create or an add past it is refused with 422
/// naming the limit, and nothing is added.
#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn a_group_is_bounded_by_max_group_members(pool: PgPool) {
    let app = TestApp::spawn_with(pool, |v| {
        v.insert("MAX_GROUP_MEMBERS".into(), "3".into());
    })
    .await;
    let too_many = app
        .post(
            "/api/v1/conversations",
            "alice",
            json!({"type": "group", "title": "T", "member_ids": ["bob", "carol", "dave"]}),
        )
        .await;
    too_many.expect_error(422, "VALIDATION_ERROR");
    assert!(
        too_many.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("at most 3 members"),
        "{:?}",
        too_many.body
    );
    let group = app.conversation("alice", "group", &["bob", "carol"]).await;
    let add = app
        .post(
            &format!("/api/v1/conversations/{group}/members"),
            "alice",
            json!({"member_ids": ["dave"]}),
        )
        .await;
    add.expect_error(422, "VALIDATION_ERROR");
    assert!(add.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("MAX_GROUP_MEMBERS"));
    let rows: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM conversation_members WHERE conversation_id = $1::uuid",
    )
    .bind(&group)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(rows, 3, "nothing added");
    // re-adding a member already in stays within the limit
    app.post(
        &format!("/api/v1/conversations/{group}/members"),
        "alice",
        json!({"member_ids": ["bob"]}),
    )
    .await
    .expect(200);
}
