//! Keys by conversation: the migration moves a populated database's rows
//! unchanged, and a history page or a send touches one partition.

mod common;

use std::borrow::Cow;

use common::TestApp;
use core_api::startup::MIGRATOR;
use serde_json::Value;
use sqlx::migrate::Migrator;
use sqlx::PgPool;
use uuid::Uuid;

/// The migration under test (`migrations/20261206000100_keys_by_conversation.sql`).
const KEYS_BY_CONVERSATION: i64 = 20261206000100;

/// Every column the old schema had, per table, as one JSON text in a fixed
/// order: what must survive the migration unchanged.
const SNAPSHOTS: [(&str, &str); 7] = [
    (
        "messages",
        "SELECT id, conversation_id, seq, sender_id, kind, content, attachment, reply_to_id,
                client_msg_id, created_at, edited_at, deleted_at FROM messages",
    ),
    (
        "message_status",
        "SELECT message_id, user_id, delivered_at, read_at FROM message_status",
    ),
    (
        "reactions",
        "SELECT message_id, user_id, emoji, created_at FROM reactions",
    ),
    (
        "polls",
        "SELECT id, conversation_id, message_id, creator_id, question, multiple_choice, anonymous,
                closes_at, closed_at, created_at, version FROM polls",
    ),
    (
        "poll_options",
        "SELECT id, poll_id, position, text FROM poll_options",
    ),
    (
        "poll_votes",
        "SELECT poll_id, option_id, user_id, voted_at FROM poll_votes",
    ),
    (
        "conversations",
        "SELECT id, kind, title, created_by, direct_key, last_seq FROM conversations",
    ),
];

async fn snapshot(pool: &PgPool) -> Vec<(String, i64, String)> {
    let mut out = Vec::new();
    for (table, select) in SNAPSHOTS {
        let (n, rows): (i64, String) = sqlx::query_as(&format!(
            "SELECT count(*), COALESCE(jsonb_agg(to_jsonb(t) ORDER BY to_jsonb(t)::text), '[]')::text
               FROM ({select}) t"
        ))
        .fetch_one(pool)
        .await
        .unwrap();
        out.push((table.to_string(), n, rows));
    }
    out
}

/// Rows in every table the migration moves, of every shape: replies,
/// idempotency keys, attachments, edits, tombstones, receipts, reactions,
/// polls with votes, over conversations that hash to different partitions.
async fn populate(pool: &PgPool) {
    sqlx::raw_sql(
        r#"
        INSERT INTO users (tms_user_id) SELECT 'user-' || i FROM generate_series(1, 5) i;
        INSERT INTO conversations (kind, title, created_by)
            SELECT 'group', 'g' || i, (SELECT id FROM users WHERE tms_user_id = 'user-1')
              FROM generate_series(1, 40) i;
        INSERT INTO conversation_members (conversation_id, user_id)
            SELECT c.id, u.id FROM conversations c, users u;
        -- 25 messages in each conversation, every third with a client id,
        -- every fifth with an attachment, some edited or deleted
        INSERT INTO messages (conversation_id, seq, sender_id, kind, content, attachment,
                              client_msg_id, edited_at, deleted_at)
            SELECT c.id, s, (SELECT id FROM users WHERE tms_user_id = 'user-' || (1 + s % 5)),
                   CASE WHEN s % 5 = 0 THEN 'image' ELSE 'text' END,
                   CASE WHEN s % 7 = 0 THEN NULL ELSE 'm ' || c.title || ' ' || s END,
                   CASE WHEN s % 5 = 0 THEN jsonb_build_object('object_key', 'k/' || s, 'size', s) END,
                   CASE WHEN s % 3 = 0 THEN 'cm-' || c.title || '-' || s END,
                   CASE WHEN s % 4 = 0 THEN now() END,
                   CASE WHEN s % 7 = 0 THEN now() END
              FROM conversations c, generate_series(1, 25) s;
        UPDATE conversations SET last_seq = 25;
        -- replies to the message two before, in the same conversation
        UPDATE messages m SET reply_to_id = p.id
          FROM messages p
         WHERE p.conversation_id = m.conversation_id AND p.seq = m.seq - 2 AND m.seq % 6 = 0;
        INSERT INTO message_status (message_id, user_id, delivered_at, read_at)
            SELECT m.id, u.id, now(), CASE WHEN m.seq % 2 = 0 THEN now() END
              FROM messages m, users u WHERE u.id <> m.sender_id AND m.seq % 4 = 1;
        INSERT INTO reactions (message_id, user_id, emoji)
            SELECT m.id, u.id, e FROM messages m, users u, unnest(ARRAY['👍', '🎉']) e
             WHERE m.seq % 5 = 2 AND u.tms_user_id IN ('user-2', 'user-3');
        INSERT INTO messages (conversation_id, seq, sender_id, kind, content)
            SELECT c.id, 26, c.created_by, 'poll', 'lunch?' FROM conversations c;
        UPDATE conversations SET last_seq = 26;
        INSERT INTO polls (conversation_id, message_id, creator_id, question, multiple_choice)
            SELECT m.conversation_id, m.id, m.sender_id, 'lunch?', m.conversation_id::text < '8'
              FROM messages m WHERE m.kind = 'poll';
        INSERT INTO poll_options (poll_id, position, text)
            SELECT p.id, o, 'option ' || o FROM polls p, generate_series(0, 2) o;
        INSERT INTO poll_votes (poll_id, option_id, user_id)
            SELECT o.poll_id, o.id, u.id FROM poll_options o, users u
             WHERE (o.position + length(u.tms_user_id)) % 2 = 0;
        "#,
    )
    .execute(pool)
    .await
    .expect("populate the old schema");
}

#[sqlx::test(migrations = false)]
async fn the_migration_moves_a_populated_database_unchanged(pool: PgPool) {
    let before_mine = Migrator {
        migrations: Cow::Owned(
            MIGRATOR
                .migrations
                .iter()
                .filter(|m| m.version < KEYS_BY_CONVERSATION)
                .cloned()
                .collect(),
        ),
        ..Migrator::DEFAULT
    };
    before_mine
        .run(&pool)
        .await
        .expect("the earlier migrations");
    populate(&pool).await;
    let before = snapshot(&pool).await;
    for (table, n, _) in &before {
        assert!(*n > 0, "{table} is populated");
    }

    MIGRATOR
        .run(&pool)
        .await
        .expect("this migration (and any later)");
    let after = snapshot(&pool).await;
    for ((table, n0, rows0), (_, n1, rows1)) in before.iter().zip(&after) {
        assert_eq!(n0, n1, "{table}: row count");
        assert!(
            rows0 == rows1,
            "{table}: contents differ after the migration"
        );
    }
    // the new key columns name each row's own conversation
    let wrong: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM message_status s JOIN messages m ON m.id = s.message_id
                  WHERE m.conversation_id <> s.conversation_id)
              + (SELECT count(*) FROM reactions r JOIN messages m ON m.id = r.message_id
                  WHERE m.conversation_id <> r.conversation_id)
              + (SELECT count(*) FROM poll_votes v JOIN polls p ON p.id = v.poll_id
                  WHERE p.conversation_id <> v.conversation_id)
              + (SELECT count(*) FROM poll_options o JOIN polls p ON p.id = o.poll_id
                  WHERE p.conversation_id <> o.conversation_id)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(wrong, 0);
    // the rows are spread over the partitions, each conversation in one
    let (partitions, split): (i64, i64) = sqlx::query_as(
        "SELECT count(DISTINCT tableoid),
                (SELECT count(*) FROM (SELECT conversation_id FROM messages
                  GROUP BY conversation_id HAVING count(DISTINCT tableoid) > 1) x)
           FROM messages",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(
        partitions > 8,
        "40 conversations over 16 partitions: {partitions}"
    );
    assert_eq!(split, 0);
}

/// Every primary and unique key of the tables that grow with traffic
/// includes `conversation_id` (what partitioning and Citus require).
#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn every_unique_key_of_the_growing_tables_names_the_conversation(pool: PgPool) {
    let missing: Vec<String> = sqlx::query_scalar(
        "SELECT c.conrelid::regclass::text || '.' || c.conname
           FROM pg_constraint c
          WHERE c.contype IN ('p', 'u')
            AND c.conrelid::regclass::text IN
                ('messages', 'message_status', 'reactions', 'polls', 'poll_options', 'poll_votes')
            AND NOT EXISTS (SELECT 1 FROM unnest(c.conkey) k JOIN pg_attribute a
                             ON a.attrelid = c.conrelid AND a.attnum = k
                            WHERE a.attname = 'conversation_id')
         UNION ALL
         SELECT i.indrelid::regclass::text || '.' || i.indexrelid::regclass::text
           FROM pg_index i
          WHERE i.indisunique
            AND i.indrelid::regclass::text IN
                ('messages', 'message_status', 'reactions', 'polls', 'poll_options', 'poll_votes')
            AND NOT EXISTS (SELECT 1 FROM unnest(i.indkey) k JOIN pg_attribute a
                             ON a.attrelid = i.indrelid AND a.attnum = k
                            WHERE a.attname = 'conversation_id')",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(
        missing.is_empty(),
        "keys without conversation_id: {missing:?}"
    );
    let partitioned: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text || ':' || (SELECT count(*) FROM pg_inherits i WHERE i.inhparent = c.oid)
           FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid ORDER BY 1",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        partitioned,
        vec!["message_status:16", "messages:16", "reactions:16"]
    );
}

/// The text of one of core's checked queries, from the committed `.sqlx/`
/// data: the exact statement the app runs.
fn checked_query(matches: impl Fn(&str) -> bool) -> String {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../.sqlx");
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).expect(".sqlx/") {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        let q: Value = serde_json::from_str(&text).unwrap();
        let sql = q["query"].as_str().unwrap().to_string();
        if matches(&sql) {
            found.push(sql);
        }
    }
    assert_eq!(found.len(), 1, "one query matches: {found:?}");
    found.pop().unwrap()
}

/// The partitions (`<table>_pNN`) a plan reads or writes, from EXPLAIN
/// ANALYZE: partitions pruned at plan time or at executor start are absent.
fn partitions_in(plan: &Value, out: &mut Vec<String>) {
    if let Some(r) = plan.get("Relation Name").and_then(Value::as_str) {
        if r.contains("_p") && r.rsplit("_p").next().is_some_and(|n| n.len() == 2) {
            out.push(r.to_string());
        }
    }
    if let Some(children) = plan.get("Plans").and_then(Value::as_array) {
        for c in children {
            partitions_in(c, out);
        }
    }
}

/// Runs `sql` (with `$n` parameters) as the app does, a prepared statement
/// with a generic plan (the send pool's `plan_cache_mode`), under EXPLAIN
/// ANALYZE; returns the partitions its plan touched.
async fn touched(pool: &PgPool, sql: &str, args: &[String]) -> Vec<String> {
    let mut conn = pool.acquire().await.unwrap();
    sqlx::raw_sql("SET plan_cache_mode = force_generic_plan")
        .execute(&mut *conn)
        .await
        .unwrap();
    sqlx::raw_sql(&format!("PREPARE q AS {sql}"))
        .execute(&mut *conn)
        .await
        .unwrap();
    let (plan,): (Value,) = sqlx::query_as(&format!(
        "EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE q({})",
        args.join(", ")
    ))
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    sqlx::raw_sql("DEALLOCATE q")
        .execute(&mut *conn)
        .await
        .unwrap();
    let mut out = Vec::new();
    partitions_in(&plan[0]["Plan"], &mut out);
    out.sort();
    out.dedup();
    out
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn a_history_page_and_a_send_touch_one_partition(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    // conversations in many partitions, so that one touched is a choice
    let mut convs = Vec::new();
    for _ in 0..20 {
        let c = app.conversation("alice", "group", &["bob"]).await;
        app.send("alice", &c, "hello").await;
        app.send("bob", &c, "hi").await;
        convs.push(c);
    }
    let c = &convs[7];
    let home: String = sqlx::query_scalar(
        "SELECT DISTINCT tableoid::regclass::text FROM messages WHERE conversation_id = $1::uuid",
    )
    .bind(c)
    .fetch_one(&pool)
    .await
    .unwrap();
    let alice: Uuid = sqlx::query_scalar("SELECT id FROM users WHERE tms_user_id = 'alice'")
        .fetch_one(&pool)
        .await
        .unwrap();

    // GET /conversations/{id}/messages: messages::list_before
    let page = checked_query(|q| q.contains("ORDER BY m.seq DESC LIMIT $3"));
    let args = [format!("'{c}'"), "NULL".into(), "51".into()];
    assert_eq!(touched(&pool, &page, &args).await, vec![home.clone()]);

    // a send that commits alone: sends::insert_one, with a client id (its
    // idempotency lookup reads messages too)
    let send = checked_query(|q| {
        q.contains("INSERT INTO messages") && q.contains("$8") && !q.contains("unnest")
    });
    let args = [
        format!("'{}'", Uuid::new_v4()),
        format!("'{c}'"),
        format!("'{alice}'"),
        "'text'".into(),
        "'explained'".into(),
        "NULL".into(),
        "NULL".into(),
        "'cm-explain'".into(),
        "'{}'::text[]".into(), // mentions
        "false".into(),        // mentions_all
    ];
    assert_eq!(touched(&pool, &send, &args).await, vec![home.clone()]);
    // and the row went there
    let landed: String = sqlx::query_scalar(
        "SELECT tableoid::regclass::text FROM messages WHERE client_msg_id = 'cm-explain'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(landed, home);
}
