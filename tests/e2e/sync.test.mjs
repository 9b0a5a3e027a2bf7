// Read state across devices, system messages and the change feed, with the
// official client: a read on one device reaches the reader's other sockets
// at once; a member change is a system line in the room; the feed replays
// what the room saw, in the same order.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { api, closeAll, connect, conversation, received, token, until } from "./helpers.mjs";

after(closeAll);

test("a read on one device reaches the reader's other sockets at once", async () => {
  const [alice, bob] = [await token("alice"), await token("bob")];
  // a new group: the alice–bob DM may hold other tests' messages
  const dm = await conversation(alice, "group", ["bob"]);
  const laptop = await connect(bob, "/notifications");
  const phone = await connect(bob, "/notifications");
  const sender = await connect(alice, "/notifications");
  for (const content of ["one", "two", "three"]) {
    const [status] = await api(alice, "POST", "/api/v1/messages", { conversation_id: dm, type: "text", content });
    assert.equal(status, 201);
  }
  await until(() => received(laptop, "new_message").filter((m) => m.conversation_id === dm).length === 3, "the messages on the laptop");
  const [status, body] = await api(bob, "POST", `/api/v1/conversations/${dm}/read`, { seq: 2 });
  assert.equal(status, 200, JSON.stringify(body));
  const want = { conversation_id: dm, last_read_seq: 2, unread_count: 1 };
  assert.deepEqual(body.data, want);
  const reads = (device) => received(device, "conversation_read").filter((r) => r.conversation_id === dm);
  for (const device of [laptop, phone]) {
    const got = await until(() => reads(device)[0], "conversation_read on every device");
    assert.deepEqual(got, want);
  }
  // the conversation list agrees
  const [, list] = await api(bob, "GET", "/api/v1/conversations");
  assert.equal(list.data.find((c) => c.id === dm).unread_count, 1);
  // read-all: the rest (and bob's other conversations), on every device again
  const [s2, all] = await api(bob, "POST", "/api/v1/conversations/read-all");
  assert.equal(s2, 200);
  const mine = { conversation_id: dm, last_read_seq: 3, unread_count: 0 };
  assert.deepEqual(all.data.find((r) => r.conversation_id === dm), mine);
  assert.ok(all.data.every((r) => r.unread_count === 0));
  for (const device of [laptop, phone]) {
    const second = await until(() => reads(device)[1], "the second conversation_read");
    assert.deepEqual(second, mine);
  }
  // nobody else heard of bob's reads
  assert.equal(received(sender, "conversation_read").filter((r) => r.conversation_id === dm).length, 0);
});

test("member changes are system lines in the room, and the feed replays the room in order", async () => {
  const [alice, bob] = [await token("alice"), await token("bob")];
  const [, start] = await api(bob, "GET", "/api/v1/sync");
  const since = start.pagination.next_cursor;
  const group = await conversation(alice, "group", ["bob"]);
  const room = await connect(bob);
  assert.equal((await room.emitWithAck("join_conversation", { conversation_id: group })).ok, true);
  const a = await connect(alice);
  assert.equal((await a.emitWithAck("join_conversation", { conversation_id: group })).ok, true);
  const sent = await a.emitWithAck("send_message", { conversation_id: group, type: "text", content: "before", client_msg_id: `sync-${Date.now()}` });
  assert.equal(sent.ok, true);
  const [s1] = await api(alice, "POST", `/api/v1/conversations/${group}/members`, { member_ids: ["carol"] });
  assert.equal(s1, 200);
  const [s2] = await api(alice, "PATCH", `/api/v1/conversations/${group}`, { title: "Renamed" });
  assert.equal(s2, 200);
  const lines = await until(() => {
    const got = received(room, "new_message");
    return got.length === 3 && got;
  }, "three messages in the room");
  assert.deepEqual(lines.map((m) => [m.seq, m.type]), [[1, "text"], [2, "system"], [3, "system"]]);
  assert.deepEqual(lines[1].system, { event: "member_added", actor_id: "alice", user_ids: ["carol"] });
  assert.equal(lines[2].content, 'alice changed the title to "Renamed"');
  // the feed, in pages of one, has the same messages in the same order. It
  // holds changes back while an older transaction anywhere on the (shared)
  // Postgres is running, so read it again until the room's messages are out.
  const readFeed = async () => {
    let cursor = since;
    const fed = [];
    for (;;) {
      const [status, page] = await api(bob, "GET", `/api/v1/sync?since=${cursor}&limit=1`);
      assert.equal(status, 200, JSON.stringify(page));
      fed.push(...page.data);
      cursor = page.pagination.next_cursor;
      if (!page.pagination.has_more) return fed;
    }
  };
  const messagesOf = (fed) => fed.filter((c) => c.event === "new_message" && c.conversation_id === group).map((c) => c.data.id);
  let fed = await readFeed();
  for (let i = 0; i < 150 && messagesOf(fed).length < lines.length; i++) {
    await new Promise((r) => setTimeout(r, 100));
    fed = await readFeed();
  }
  assert.deepEqual(messagesOf(fed), lines.map((m) => m.id));
  assert.ok(fed.some((c) => c.event === "member_added" && c.data.user_ids[0] === "carol"));
  assert.ok(fed.some((c) => c.event === "conversation_updated" && c.data.title === "Renamed"));
});
