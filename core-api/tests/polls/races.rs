//! Concurrent votes and closes never double-count.

use super::*;

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn racing_votes_never_double_count(pool: PgPool) {
    let (app, edge) = TestApp::spawn_with_edge(pool, |_| {}).await;
    let app = Arc::new(app);
    let users: Vec<String> = (1..=8).map(|i| format!("load-{i:03}")).collect();
    let others: Vec<&str> = users[1..].iter().map(String::as_str).collect();
    let group = app.conversation(&users[0], "group", &others).await;
    let single = poll(&app, &group, &users[0], poll_body(&["a", "b", "c"])).await;
    let mut body = poll_body(&["a", "b", "c", "d"]);
    body["multiple"] = json!(true);
    let multi = poll(&app, &group, &users[0], body).await;

    let mut tasks = Vec::new();
    for (u, user) in users.iter().enumerate() {
        for k in 0..12usize {
            let (app, user) = (app.clone(), user.clone());
            let (single, multi) = (single.clone(), multi.clone());
            tasks.push(tokio::spawn(async move {
                let target = if k % 2 == 0 { &single } else { &multi };
                let r = match (u + k) % 4 {
                    0 => retract(&app, target, &user).await,
                    _ if k % 2 == 0 => {
                        vote(&app, target, &user, &[option(target, (u + k) % 3)]).await
                    }
                    _ => {
                        let picks = [option(target, k % 4), option(target, (k + u) % 4)];
                        let picks: Vec<&Value> = if picks[0] == picks[1] {
                            vec![picks[0]]
                        } else {
                            picks.to_vec()
                        };
                        vote(&app, target, &user, &picks).await
                    }
                };
                r.expect(200);
                (user, k % 2 == 0, r.data().clone())
            }));
        }
    }
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap());
    }

    for (p, is_single) in [(&single, true), (&multi, false)] {
        let id = p["id"].as_str().unwrap();
        let final_view = app.get(&format!("/api/v1/polls/{id}"), &users[0]).await;
        let final_view = final_view.data().clone();
        // counts and voters equal the rows
        let rows: Vec<(String, i32)> = sqlx::query_as(
            "SELECT u.tms_user_id, o.position FROM poll_votes v
             JOIN users u ON u.id = v.user_id JOIN poll_options o ON o.id = v.option_id
             WHERE v.poll_id = $1::uuid ORDER BY 1, 2",
        )
        .bind(id)
        .fetch_all(&app.pool)
        .await
        .unwrap();
        for (i, o) in final_view["options"].as_array().unwrap().iter().enumerate() {
            let voters: Vec<&str> = rows
                .iter()
                .filter(|r| r.1 == i as i32)
                .map(|r| r.0.as_str())
                .collect();
            assert_eq!(o["votes"], voters.len() as i64, "{final_view}");
            let mut listed: Vec<&str> = o["voters"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            listed.sort();
            assert_eq!(listed, voters);
        }
        let distinct: std::collections::BTreeSet<&str> =
            rows.iter().map(|r| r.0.as_str()).collect();
        assert_eq!(final_view["total_voters"], distinct.len() as i64);
        if is_single {
            assert_eq!(
                distinct.len(),
                rows.len(),
                "one vote per user on a single-choice poll: {rows:?}"
            );
        }
        // each user's answer with the highest version is their final choice
        for user in &users {
            let mine: Vec<&Value> = answers
                .iter()
                .filter(|(u, s, _)| u == user && *s == is_single)
                .map(|(_, _, v)| v)
                .collect();
            let top = mine
                .iter()
                .map(|v| v["version"].as_i64().unwrap())
                .max()
                .unwrap();
            let mut expected: Vec<i32> =
                rows.iter().filter(|r| &r.0 == user).map(|r| r.1).collect();
            expected.sort();
            for v in mine.iter().filter(|v| v["version"] == top) {
                let mut got: Vec<i32> = v["my_votes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|o| {
                        final_view["options"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .position(|x| &x["id"] == o)
                            .unwrap() as i32
                    })
                    .collect();
                got.sort();
                assert_eq!(got, expected, "{user}'s last answer (version {top})");
            }
        }
        // one poll_updated per change, the newest carries the final results
        let version = final_view["version"].as_i64().unwrap();
        let pushed = edge.wait_for("poll_updated", 1).await;
        let _ = pushed;
        let mut updates = Vec::new();
        for _ in 0..100 {
            updates = edge
                .named("poll_updated")
                .into_iter()
                .filter(|e| e["data"]["id"] == p["id"])
                .collect::<Vec<_>>();
            if updates.len() as i64 >= version {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let mut versions: Vec<i64> = updates
            .iter()
            .map(|e| e["data"]["version"].as_i64().unwrap())
            .collect();
        versions.sort();
        assert_eq!(versions, (1..=version).collect::<Vec<_>>());
        let newest = updates
            .iter()
            .find(|e| e["data"]["version"] == version)
            .unwrap();
        assert_eq!(newest["data"]["options"], final_view["options"]);
    }
}

/// Votes racing a close: none lands after it, and the close's answer holds
/// the final results.
#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn votes_racing_a_close_never_land_after_it(pool: PgPool) {
    let app = Arc::new(TestApp::spawn(pool).await);
    let users: Vec<String> = (1..=10).map(|i| format!("load-{i:03}")).collect();
    let others: Vec<&str> = users[1..].iter().map(String::as_str).collect();
    let group = app.conversation(&users[0], "group", &others).await;
    let p = poll(&app, &group, &users[0], poll_body(&["a", "b"])).await;
    let mut tasks = Vec::new();
    for (u, user) in users.iter().enumerate() {
        for k in 0..3usize {
            let (app, user, p) = (app.clone(), user.clone(), p.clone());
            tasks.push(tokio::spawn(async move {
                vote(&app, &p, &user, &[option(&p, (u + k) % 2)]).await
            }));
        }
    }
    // close once the first votes are in, while the rest still race
    for _ in 0..250 {
        if count(&app, "poll_votes").await > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    let closed = close(&app, &p, &users[0]).await;
    closed.expect(200);
    let close_version = closed.data()["version"].as_i64().unwrap();
    let (mut ok, mut refused) = (0, 0);
    for t in tasks {
        let r = t.await.unwrap();
        if r.status == 200 {
            ok += 1;
            assert!(
                r.data()["version"].as_i64().unwrap() < close_version,
                "{}",
                r.body
            );
        } else {
            r.expect_error(409, "CONFLICT");
            refused += 1;
        }
    }
    assert_eq!(ok + refused, 30);
    let id = p["id"].as_str().unwrap();
    let final_view = app.get(&format!("/api/v1/polls/{id}"), &users[0]).await;
    assert_eq!(final_view.data()["options"], closed.data()["options"]);
    assert_eq!(final_view.data()["version"], close_version);
    let stored: i64 = closed.data()["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["votes"].as_i64().unwrap())
        .sum();
    assert_eq!(count(&app, "poll_votes").await, stored);
    assert!(ok > 0, "some votes landed before the close");
    eprintln!("votes racing a close: {ok} before it, {refused} refused after it");
    vote(&app, &p, &users[1], &[option(&p, 0)])
        .await
        .expect_error(409, "CONFLICT");
}
