use super::*;

fn sockets<T>(batch: &Batch<T>) -> Vec<&str> {
    batch.iter().map(|(s, _)| s.as_str()).collect()
}

#[test]
fn a_lone_send_goes_at_once() {
    let mut b = SendBatcher::new(2, 100, 1000);
    assert!(b.push("a", 1, 1));
    assert_eq!(b.next_batch(), Some(vec![("a".into(), vec![1])]));
    assert_eq!(b.next_batch(), None);
}

#[test]
fn sends_queued_meanwhile_go_together_in_order() {
    let mut b = SendBatcher::new(1, 100, 1000);
    assert!(b.push("a", 1, 1));
    let first = b.next_batch().unwrap();
    // the one batch allowed is in flight: no new loop
    assert!(!b.push("a", 2, 1));
    assert!(!b.push("b", 10, 1));
    assert!(!b.push("a", 3, 1));
    assert_eq!(b.next_batch(), None);
    b.finish(sockets(&first));
    assert_eq!(
        b.next_batch(),
        Some(vec![("a".into(), vec![2, 3]), ("b".into(), vec![10])])
    );
}

#[test]
fn a_socket_in_flight_waits_while_others_go_in_a_second_batch() {
    let mut b = SendBatcher::new(2, 100, 1000);
    b.push("a", 1, 1);
    let first = b.next_batch().unwrap();
    assert!(
        !b.push("a", 2, 1),
        "a has a send in flight: its next must wait"
    );
    assert!(b.push("b", 10, 1), "b may go in a second batch");
    assert_eq!(b.next_batch(), Some(vec![("b".into(), vec![10])]));
    assert_eq!(b.next_batch(), None, "two batches in flight");
    b.finish(sockets(&first));
    assert_eq!(b.next_batch(), Some(vec![("a".into(), vec![2])]));
}

#[test]
fn a_batch_holds_at_most_max_items_and_the_rest_follows_in_order() {
    let mut b = SendBatcher::new(1, 3, 1000);
    for i in 0..5 {
        b.push("a", i, 1);
    }
    let first = b.next_batch().unwrap();
    assert_eq!(first, vec![("a".into(), vec![0, 1, 2])]);
    b.finish(sockets(&first));
    assert_eq!(b.next_batch(), Some(vec![("a".into(), vec![3, 4])]));
}

#[test]
fn a_batch_stops_at_max_bytes_but_never_goes_empty() {
    let mut b = SendBatcher::new(1, 100, 10);
    b.push("a", 1, 6);
    b.push("b", 2, 6);
    b.push("c", 3, 50);
    let first = b.next_batch().unwrap();
    assert_eq!(first, vec![("a".into(), vec![1])], "6 + 6 > 10");
    b.finish(sockets(&first));
    let second = b.next_batch().unwrap();
    assert_eq!(second, vec![("b".into(), vec![2])]);
    b.finish(sockets(&second));
    // larger than the limit alone: it still goes, by itself
    assert_eq!(b.next_batch(), Some(vec![("c".into(), vec![3])]));
}

#[test]
fn a_closed_socket_loses_its_queue_and_others_are_untouched() {
    let mut b = SendBatcher::new(1, 100, 1000);
    b.push("a", 1, 1);
    let first = b.next_batch().unwrap();
    b.push("a", 2, 1);
    b.push("b", 3, 1);
    assert_eq!(b.discard("a"), vec![2]);
    b.finish(sockets(&first));
    assert_eq!(b.next_batch(), Some(vec![("b".into(), vec![3])]));
    assert_eq!(b.queued(), 0);
}

#[test]
fn drain_all_empties_every_queue() {
    let mut b = SendBatcher::new(1, 100, 1000);
    b.push("a", 1, 1);
    b.push("b", 2, 1);
    b.push("a", 3, 1);
    let all = b.drain_all();
    assert_eq!(all, vec![("a".into(), vec![1, 3]), ("b".into(), vec![2])]);
    assert_eq!(b.next_batch(), None);
}

fn pending(ack_id: Option<u64>) -> PendingSend {
    PendingSend {
        ack: ack_id.map(|id| AckHandle {
            nsp: "/messaging".into(),
            id,
        }),
        encoded: String::new(),
    }
}

fn answer(json: &str) -> Result<BatchAnswer, Ack> {
    Ok(serde_json::from_str(json).unwrap())
}

/// The edge's reading of core's answer follows `PersistedBatch`.
#[test]
fn core_batch_answers_read_as_raw_results() {
    use shared_types::internal::{PersistedBatch, PersistedMessage};
    use shared_types::Envelope;
    let message: shared_types::api::Message = serde_json::from_value(serde_json::json!({
        "id": "00000000-0000-0000-0000-000000000001",
        "conversation_id": "00000000-0000-0000-0000-000000000002",
        "sender_id": "alice", "type": "text", "content": "hi", "seq": 1,
        "created_at": "2026-12-02T00:00:00Z"
    }))
    .unwrap();
    let answer = PersistedBatch {
        results: vec![
            Envelope::ok(PersistedMessage {
                message: message.clone(),
                created: true,
            }),
            Envelope::failure(ApiErrorBody::new(ErrorCode::RateLimited, "slow down")),
        ],
    };
    let text = serde_json::to_string(&Envelope::ok(answer)).unwrap();
    let read: Envelope<BatchAnswer> = serde_json::from_str(&text).unwrap();
    let mut results = read.data.unwrap().results.into_iter();
    let first = results.next().unwrap();
    let raw = first.data.unwrap().message;
    let again: shared_types::api::Message = serde_json::from_str(raw.get()).unwrap();
    assert_eq!(again, message);
    let second = results.next().unwrap();
    assert_eq!(second.error.unwrap().code, ErrorCode::RateLimited);
    assert!(second.data.is_none());
}

/// The n-th result answers the n-th send, also after a send that asked
/// for no ack: each ack gets its own message, as core wrote it.
#[test]
fn each_send_is_acked_with_its_own_result() {
    let batch = vec![
        ("s1".to_owned(), vec![pending(Some(1)), pending(None)]),
        ("s2".to_owned(), vec![pending(Some(7))]),
    ];
    let acks = batch_acks(
        &batch,
        answer(
            r#"{"results":[
                {"data":{"message":{"id":"m1"},"created":true}},
                {"data":{"message":{"id":"m2"},"created":true}},
                {"error":{"code":"RATE_LIMITED","message":"slow down","details":{"retry_after_ms":40}}}
            ]}"#,
        ),
    );
    assert_eq!(
        acks.frames,
        vec![
            (
                "s1".to_owned(),
                r#"43/messaging,1[{"ok":true,"data":{"id":"m1"}}]"#.to_owned()
            ),
            (
                "s2".to_owned(),
                r#"43/messaging,7[{"ok":false,"error":{"code":"RATE_LIMITED","message":"slow down","details":{"retry_after_ms":40}}}]"#
                    .to_owned()
            ),
        ]
    );
    assert!(acks.problems.is_empty());
}

#[test]
fn a_miscounted_or_failed_answer_acks_every_send_with_the_error() {
    let batch = vec![("s1".to_owned(), vec![pending(Some(1)), pending(Some(2))])];
    let unavailable = |id: u64| {
        format!(
            r#"43/messaging,{id}[{{"ok":false,"error":{{"code":"CORE_UNAVAILABLE","message":"core is unavailable, retry later"}}}}]"#
        )
    };
    let short = batch_acks(
        &batch,
        answer(r#"{"results":[{"data":{"message":{"id":"m1"}}}]}"#),
    );
    let frames: Vec<&str> = short.frames.iter().map(|(_, f)| f.as_str()).collect();
    assert_eq!(frames, [unavailable(1), unavailable(2)]);
    assert_eq!(short.problems, ["1 results for 2 sends"]);

    let limited = Ack::err(ErrorCode::RateLimited, "slow down");
    let failed = batch_acks(&batch, Err(limited));
    assert_eq!(
        failed.frames[1].1,
        r#"43/messaging,2[{"ok":false,"error":{"code":"RATE_LIMITED","message":"slow down"}}]"#
    );

    let empty = batch_acks(&batch, answer(r#"{"results":[{},{"data":{"message":1}}]}"#));
    assert_eq!(empty.frames[0].1, unavailable(1));
    assert_eq!(empty.frames[1].1, r#"43/messaging,2[{"ok":true,"data":1}]"#);
    assert_eq!(empty.problems, ["empty result"]);
}

#[test]
fn a_send_is_encoded_once_with_its_sender() {
    let message: shared_types::api::SendMessage = serde_json::from_value(serde_json::json!({
        "conversation_id": "00000000-0000-0000-0000-000000000002",
        "type": "text", "content": "hi"
    }))
    .unwrap();
    let payload = ValidSend::try_from(message).unwrap();
    let send = PendingSend::encode(None, "alice".into(), payload).unwrap();
    let sent: BatchedSend = serde_json::from_str(&send.encoded).unwrap();
    assert_eq!(sent.user_id, "alice");
    assert_eq!(sent.message.content.as_deref(), Some("hi"));
}
