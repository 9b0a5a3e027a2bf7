// Socket.IO through the edge (workerd) against core: auth, rooms, fan-out,
// typing, authorization, multi-device and catch-up.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { TMS, api, clientId, closeAll, connect, conversation, received, sleep, sql, token, until } from "./helpers.mjs";

after(closeAll);

/** The contents of the user messages a socket received, in order (system lines left out). */
const texts = (socket) => received(socket, "new_message").filter((m) => m.type !== "system").map((m) => m.content);

test("a bad, expired or missing token gets connect_error with its code", async () => {
  const cases = [
    ["garbage", "not-a-jwt", "TOKEN_MALFORMED"],
    ["expired", await token("alice", { ttl_secs: -3600 }), "TOKEN_EXPIRED"],
    ["missing", undefined, "TOKEN_MISSING"],
  ];
  for (const [name, tok, code] of cases) {
    await assert.rejects(connect(tok), (err) => {
      assert.equal(err.data?.code, code, `${name}: ${JSON.stringify(err.data)} ${err.message}`);
      return true;
    });
  }
  // the ?token= query works as a fallback, but is never required
  const viaQuery = await connect(undefined, "/messaging", { query: { token: await token("alice") } });
  assert.ok(viaQuery.connected);
  viaQuery.close();
  // RS256 through the TMS JWKS works as well
  const rs = await connect(await token("alice", { alg: "RS256" }));
  assert.ok(rs.connected);
  rs.close();
});

test("after TMS rotates its keys, requests and sockets arriving at once with the new key all get in", async () => {
  // the e2e edge may refetch the JWKS once a second (JWKS_MIN_REFRESH_SECS=1)
  await sleep(1100);
  const rotated = await fetch(`${TMS}/__control/rotate-keys`, { method: "POST" });
  assert.equal(rotated.status, 200);
  const { rs256_kid } = await rotated.json();
  const users = ["alice", "bob", "carol", "dave", "alice", "bob"];
  const tokens = await Promise.all(users.map((u) => token(u, { alg: "RS256" })));
  const header = JSON.parse(Buffer.from(tokens[0].split(".")[0], "base64url"));
  assert.equal(header.kid, rs256_kid, "signed with the new key");
  // one request fetches the new JWKS; the others wait for it instead of failing
  const replies = await Promise.all(tokens.map((t) => api(t, "GET", "/api/v1/auth/me")));
  assert.deepEqual(replies.map(([status]) => status), users.map(() => 200), JSON.stringify(replies));
  assert.deepEqual(replies.map(([, body]) => body.data.tms_user_id), users);
  const sockets = await Promise.all(tokens.map((t) => connect(t)));
  assert.ok(sockets.every((s) => s.connected));
  closeAll();
});

test("DM over WebSocket: ack after commit, the other member receives it, the row is in Postgres", async () => {
  const [ta, tb] = [await token("alice"), await token("bob")];
  const dm = await conversation(ta, "direct", ["bob"]);
  const a = await connect(ta);
  const b = await connect(tb);
  assert.deepEqual(await a.emitWithAck("join_conversation", { conversation_id: dm }), { ok: true, data: { conversation_id: dm } });
  assert.equal((await b.emitWithAck("join_conversation", { conversation_id: dm })).ok, true);

  const cmid = clientId();
  const ack = await a.emitWithAck("send_message", { conversation_id: dm, type: "text", content: "hello bob", client_msg_id: cmid });
  assert.equal(ack.ok, true, JSON.stringify(ack));
  assert.equal(ack.data.sender_id, "alice");
  assert.equal(ack.data.client_msg_id, cmid);
  const got = await until(() => received(b, "new_message").find((m) => m.id === ack.data.id), "bob's new_message");
  assert.equal(got.seq, ack.data.seq);
  assert.equal(got.content, "hello bob");
  assert.equal(sql(`SELECT content || '|' || seq FROM messages WHERE id = '${ack.data.id}'`), `hello bob|${ack.data.seq}`);

  // a retried client_msg_id returns the original and stores nothing new
  const again = await a.emitWithAck("send_message", { conversation_id: dm, type: "text", content: "hello bob", client_msg_id: cmid });
  assert.equal(again.data.id, ack.data.id);
  assert.equal(sql(`SELECT count(*) FROM messages WHERE client_msg_id = '${cmid}'`), "1");
  // bad input is an ack error, never a crash
  const bad = await a.emitWithAck("send_message", { conversation_id: dm, type: "text", content: "", client_msg_id: clientId() });
  assert.equal(bad.ok, false);
  assert.equal(bad.error.code, "VALIDATION_ERROR");
  const notUuid = await a.emitWithAck("join_conversation", { conversation_id: "nope" });
  assert.equal(notUuid.error.code, "VALIDATION_ERROR");
  closeAll();
});

test("messages a socket sends without waiting for acks are stored in the order sent", async () => {
  const [ta, tb] = [await token("alice"), await token("bob")];
  const dm = await conversation(ta, "direct", ["bob"]);
  const a = await connect(ta);
  await a.emitWithAck("join_conversation", { conversation_id: dm });
  // all emitted before the first ack returns; with CONNECT and the join that
  // is 9 packets, one under the guard's burst of 10
  const contents = Array.from({ length: 7 }, (_, i) => `burst ${i}`);
  const acks = await Promise.all(
    contents.map((content) => a.emitWithAck("send_message", { conversation_id: dm, type: "text", content, client_msg_id: clientId() })),
  );
  assert.ok(acks.every((ack) => ack.ok), JSON.stringify(acks));
  const seqs = acks.map((ack) => ack.data.seq);
  assert.deepEqual(seqs, [...seqs].sort((x, y) => x - y), "acked seqs follow the send order");
  const stored = sql(`SELECT string_agg(content, '|' ORDER BY seq) FROM messages WHERE conversation_id = '${dm}' AND content LIKE 'burst %'`);
  assert.equal(stored, contents.join("|"));
  closeAll();
});

test("a message sent over REST through the edge arrives live on the socket", async () => {
  const [ta, tb] = [await token("alice"), await token("bob")];
  const dm = await conversation(ta, "direct", ["bob"]);
  const a = await connect(ta);
  await a.emitWithAck("join_conversation", { conversation_id: dm });
  const [status, res] = await api(tb, "POST", "/api/v1/messages", { conversation_id: dm, type: "text", content: "over rest", client_msg_id: clientId() });
  assert.equal(status, 201, JSON.stringify(res));
  const live = await until(() => received(a, "new_message").find((m) => m.id === res.data.id), "alice's live message");
  assert.equal(live.sender_id, "bob");
  assert.equal(live.seq, res.data.seq);
  // the edge verifies the JWT itself
  const [unauth, body] = await api("garbage", "GET", "/api/v1/conversations");
  assert.equal(unauth, 401);
  assert.equal(body.error.code, "TOKEN_MALFORMED");
  closeAll();
});

test("typing reaches only the other members, and is not persisted", async () => {
  const [ta, tb, tc] = [await token("alice"), await token("bob"), await token("carol")];
  const g = await conversation(ta, "group", ["bob"]);
  const a = await connect(ta);
  const b = await connect(tb);
  const c = await connect(tc);
  await a.emitWithAck("join_conversation", { conversation_id: g });
  await b.emitWithAck("join_conversation", { conversation_id: g });
  // user messages only: adding carol below writes a system line
  const before = sql("SELECT count(*) FROM messages WHERE kind <> 'system'");
  a.emit("typing_start", { conversation_id: g });
  const typing = await until(() => received(b, "user_typing")[0], "bob's user_typing");
  assert.deepEqual(typing, { conversation_id: g, user_id: "alice", typing: true });
  a.emit("typing_stop", { conversation_id: g });
  await until(() => received(b, "user_typing").length === 2, "typing stop");
  assert.equal(received(b, "user_typing")[1].typing, false);
  // barriers: bob's typing reaches alice after hers would have; carol, once added, hears the next one
  b.emit("typing_start", { conversation_id: g });
  await until(() => received(a, "user_typing").length > 0, "bob's typing at alice");
  assert.deepEqual(received(a, "user_typing").map((t) => t.user_id), ["bob"], "the typist does not get its own typing");
  const [added] = await api(ta, "POST", `/api/v1/conversations/${g}/members`, { member_ids: ["carol"] });
  assert.equal(added, 200);
  assert.equal((await c.emitWithAck("join_conversation", { conversation_id: g })).ok, true);
  a.emit("typing_start", { conversation_id: g });
  await until(() => received(c, "user_typing").length > 0, "carol hears typing once a member");
  assert.deepEqual(received(c, "user_typing").map((t) => t.user_id), ["alice"], "nothing from before she was a member");
  assert.equal(sql("SELECT count(*) FROM messages WHERE kind <> 'system'"), before);
  closeAll();
});

test("a non-member's join is refused and that user receives nothing", async () => {
  const [ta, tb, tc] = [await token("alice"), await token("bob"), await token("carol")];
  const dm = await conversation(ta, "group", ["bob"]);
  const c = await connect(tc);
  const join = await c.emitWithAck("join_conversation", { conversation_id: dm });
  assert.equal(join.ok, false);
  assert.equal(join.error.code, "FORBIDDEN");
  const send = await c.emitWithAck("send_message", { conversation_id: dm, type: "text", content: "intrude", client_msg_id: clientId() });
  assert.equal(send.ok, false);
  assert.equal(send.error.code, "FORBIDDEN");
  const typing = await c.emitWithAck("typing_start", { conversation_id: dm });
  assert.equal(typing.ok, false);
  const a = await connect(ta);
  await a.emitWithAck("join_conversation", { conversation_id: dm });
  await a.emitWithAck("send_message", { conversation_id: dm, type: "text", content: "private", client_msg_id: clientId() });
  await api(tb, "POST", "/api/v1/messages", { conversation_id: dm, type: "text", content: "also private" });
  // the barrier: once carol is added and joined, the room's next message reaches her after any leak would have
  const [added] = await api(ta, "POST", `/api/v1/conversations/${dm}/members`, { member_ids: ["carol"] });
  assert.equal(added, 200);
  assert.equal((await c.emitWithAck("join_conversation", { conversation_id: dm })).ok, true);
  const welcome = await a.emitWithAck("send_message", { conversation_id: dm, type: "text", content: "welcome", client_msg_id: clientId() });
  await until(() => received(c, "new_message").find((m) => m.id === welcome.data.id), "carol's first message as a member");
  assert.deepEqual(texts(c), ["welcome"], "carol received nothing from before");
  assert.ok(!JSON.stringify(c.events).includes("private"), "no event of hers carries the earlier messages");
  assert.equal(sql(`SELECT count(*) FROM messages WHERE content = 'intrude'`), "0");
  closeAll();
});

test("two devices of one user both receive", async () => {
  const [ta, tb] = [await token("alice"), await token("bob")];
  const dm = await conversation(ta, "direct", ["bob"]);
  const phone = await connect(tb);
  const laptop = await connect(tb);
  const a = await connect(ta);
  for (const s of [phone, laptop, a]) assert.equal((await s.emitWithAck("join_conversation", { conversation_id: dm })).ok, true);
  const ack = await a.emitWithAck("send_message", { conversation_id: dm, type: "text", content: "to both", client_msg_id: clientId() });
  for (const device of [phone, laptop]) {
    await until(() => received(device, "new_message").find((m) => m.id === ack.data.id), "each device");
  }
  // and the sender's other device sees its own message too
  const phoneAck = await phone.emitWithAck("send_message", { conversation_id: dm, type: "text", content: "from phone", client_msg_id: clientId() });
  await until(() => received(laptop, "new_message").find((m) => m.id === phoneAck.data.id), "the sender's other device");
  closeAll();
});

test("after a disconnect, catch-up with after_seq returns exactly the missed messages", async () => {
  const [ta, tb] = [await token("alice"), await token("bob")];
  const g = await conversation(ta, "group", ["bob"]);
  let b = await connect(tb);
  await b.emitWithAck("join_conversation", { conversation_id: g });
  const a = await connect(ta);
  await a.emitWithAck("join_conversation", { conversation_id: g });
  for (let i = 0; i < 3; i++) await a.emitWithAck("send_message", { conversation_id: g, type: "text", content: `seen ${i}`, client_msg_id: clientId() });
  await until(() => received(b, "new_message").length === 3, "the first three");
  const lastSeen = Math.max(...received(b, "new_message").map((m) => m.seq));
  b.close();
  const missed = [];
  for (let i = 0; i < 4; i++) {
    const ack = await a.emitWithAck("send_message", { conversation_id: g, type: "text", content: `missed ${i}`, client_msg_id: clientId() });
    missed.push(ack.data.seq);
  }
  b = await connect(tb);
  const [status, page] = await api(tb, "GET", `/api/v1/conversations/${g}/messages?after_seq=${lastSeen}`);
  assert.equal(status, 200);
  assert.deepEqual(page.data.map((m) => m.seq), missed);
  assert.deepEqual(page.data.map((m) => m.content), ["missed 0", "missed 1", "missed 2", "missed 3"]);
  assert.equal(page.pagination.has_more, false);
  closeAll();
});

test("a member removed from a group stops receiving its events at once", async () => {
  const [ta, tc] = [await token("alice"), await token("carol")];
  const g = await conversation(ta, "group", ["bob", "carol"]);
  const a = await connect(ta);
  const c = await connect(tc);
  await a.emitWithAck("join_conversation", { conversation_id: g });
  assert.equal((await c.emitWithAck("join_conversation", { conversation_id: g })).ok, true);
  const first = await a.emitWithAck("send_message", { conversation_id: g, type: "text", content: "before", client_msg_id: clientId() });
  await until(() => received(c, "new_message").find((m) => m.id === first.data.id), "carol's message before removal");

  const [status] = await api(ta, "DELETE", `/api/v1/conversations/${g}/members/carol`);
  assert.equal(status, 200);
  await until(() => received(a, "member_removed").find((e) => e.user_id === "carol"), "the room hears of the removal");
  const after = await a.emitWithAck("send_message", { conversation_id: g, type: "text", content: "after", client_msg_id: clientId() });
  await until(() => received(a, "new_message").find((m) => m.id === after.data.id), "alice's own copy");
  const send = await c.emitWithAck("send_message", { conversation_id: g, type: "text", content: "still here?", client_msg_id: clientId() });
  assert.equal(send.error.code, "FORBIDDEN");
  const rejoin = await c.emitWithAck("join_conversation", { conversation_id: g });
  assert.equal(rejoin.error?.code, "FORBIDDEN", "a removed member cannot re-join the room");
  // the barrier: added back and joined, carol hears the room's next message after "after" would have arrived
  const [added] = await api(ta, "POST", `/api/v1/conversations/${g}/members`, { member_ids: ["carol"] });
  assert.equal(added, 200);
  assert.equal((await c.emitWithAck("join_conversation", { conversation_id: g })).ok, true);
  const back = await a.emitWithAck("send_message", { conversation_id: g, type: "text", content: "back", client_msg_id: clientId() });
  await until(() => received(c, "new_message").find((m) => m.id === back.data.id), "carol's copy once back");
  assert.deepEqual(texts(c), ["before", "back"], "carol got nothing while removed");
  closeAll();
});
