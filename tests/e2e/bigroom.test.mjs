// Large rooms: members paged, membership changes heard live without a
// reconnect, nothing after a removal on any namespace, one copy per socket.
// "Nothing" is checked behind a barrier: another member's socket on the same
// gateway and namespace, which the same delivery reaches, got a later message.
import { test } from "node:test";
import assert from "node:assert/strict";
import { CORE, api, clientId, closeAll, connect, conversation, edgeStats, gatewayOf, received, token, until } from "./helpers.mjs";

/** A socket of `tok` on `gateway` (connects until one lands there; the others are closed). */
async function socketOn(gateway, tok, nsp) {
  for (let i = 0; i < 40; i++) {
    const s = await connect(tok, nsp);
    if (gatewayOf(s) === gateway) return s;
    s.close();
  }
  throw new Error(`no socket landed on ${gateway}`);
}

async function send(tok, conversationId, content) {
  const [status, res] = await api(tok, "POST", "/api/v1/messages", { conversation_id: conversationId, type: "text", content, client_msg_id: clientId() });
  assert.equal(status, 201, JSON.stringify(res));
  return res.data;
}

test("members are paged through the edge; the detail carries the count", async () => {
  const ta = await token("alice");
  const ids = Array.from({ length: 120 }, (_, i) => `load-${String(i + 1).padStart(3, "0")}`);
  const g = await conversation(ta, "group", ids);
  const [status, detail] = await api(ta, "GET", `/api/v1/conversations/${g}`);
  assert.equal(status, 200);
  assert.equal(detail.data.member_count, 121);
  assert.equal(detail.data.members.length, 100);
  const seen = [];
  let cursor = null;
  do {
    const [s, page] = await api(ta, "GET", `/api/v1/conversations/${g}/members?limit=50${cursor ? `&cursor=${cursor}` : ""}`);
    assert.equal(s, 200, JSON.stringify(page));
    seen.push(...page.data.map((m) => m.user_id));
    cursor = page.pagination.next_cursor;
  } while (cursor);
  assert.equal(new Set(seen).size, 121);
});

test("a member added while online hears the group's next message on /notifications without reconnecting", async () => {
  const [ta, tb] = [await token("alice"), await token("bob")];
  const g = await conversation(ta, "group", ["carol"]);
  const b = await connect(tb, "/notifications");
  const [status] = await api(ta, "POST", `/api/v1/conversations/${g}/members`, { member_ids: ["bob"] });
  assert.equal(status, 200);
  const added = await until(() => received(b, "member_added").find((e) => e.conversation_id === g), "bob hears he was added");
  assert.deepEqual(added.user_ids, ["bob"], "only the changed ids");
  const m = await send(ta, g, "welcome bob");
  await until(() => received(b, "new_message").find((e) => e.id === m.id), "bob's /notifications socket gets the next message");
  closeAll();
});

test("a removed member hears nothing more, on any namespace", async () => {
  const [ta, tb, tc] = [await token("alice"), await token("bob"), await token("carol")];
  const g = await conversation(ta, "group", ["bob", "carol"]);
  const cm = await connect(tc); // joined: /messaging
  assert.equal((await cm.emitWithAck("join_conversation", { conversation_id: g })).ok, true);
  const cn = await connect(tc, "/notifications");
  // barriers: bob's sockets on carol's gateways, the same namespaces
  const bm = await socketOn(gatewayOf(cm), tb);
  assert.equal((await bm.emitWithAck("join_conversation", { conversation_id: g })).ok, true);
  const bn = await socketOn(gatewayOf(cn), tb, "/notifications");
  const before = await send(ta, g, "before");
  for (const s of [cm, cn]) await until(() => received(s, "new_message").find((e) => e.id === before.id), "carol's copy before");

  const [status] = await api(ta, "DELETE", `/api/v1/conversations/${g}/members/carol`);
  assert.equal(status, 200);
  await until(() => received(cn, "member_removed").find((e) => e.user_id === "carol"), "carol hears of her removal");
  await until(() => received(bm, "member_removed").find((e) => e.user_id === "carol"), "the room hears of it");
  const after = await send(ta, g, "after");
  await until(() => received(bm, "new_message").find((e) => e.id === after.id), "barrier: bob's joined socket on carol's gateway");
  await until(() => received(bn, "new_message").find((e) => e.id === after.id), "barrier: bob's /notifications socket on carol's gateway");
  for (const s of [cm, cn]) assert.equal(received(s, "new_message").find((e) => e.id === after.id), undefined, "carol got nothing after removal");
  closeAll();
});

test("a user online on two gateways gets one copy per socket", async () => {
  const [ta, tb] = [await token("alice"), await token("bob")];
  const g = await conversation(ta, "group", ["bob"]);
  const first = await connect(tb, "/notifications");
  let second;
  for (let i = 0; i < 40 && !second; i++) {
    const s = await connect(tb, "/notifications");
    if (gatewayOf(s) !== gatewayOf(first)) second = s;
    else s.close();
  }
  assert.ok(second, "bob's sockets on two gateways");
  // barrier: the second gateway's report of bob (batched, asynchronous) reached core
  let heard = false;
  for (let i = 0; i < 10 && !heard; i++) {
    const warm = await send(ta, g, `warm-up ${i}`);
    heard = await until(() => received(second, "new_message").find((e) => e.id === warm.id), "warm-up", 1000).catch(() => false);
  }
  assert.ok(heard, "bob's second gateway hears the group");
  const one = await send(ta, g, "one");
  const two = await send(ta, g, "two"); // barrier: same path, later
  for (const s of [first, second]) {
    await until(() => received(s, "new_message").find((e) => e.id === two.id), `the later message on ${gatewayOf(s)}`);
    assert.equal(received(s, "new_message").filter((e) => e.id === one.id).length, 1, "exactly one copy");
  }
  // each gateway learnt who of its users is a member at the first message: later ones ask core nothing
  const gateways = [gatewayOf(first), gatewayOf(second)];
  const checks = async () => Object.values((await edgeStats({ gateways })).gateways).reduce((n, c) => n + c.notify_checks, 0);
  const before = await checks();
  assert.ok(before >= 2, `one members/check per gateway at the first message (${before})`);
  const three = await send(ta, g, "three");
  for (const s of [first, second]) await until(() => received(s, "new_message").find((e) => e.id === three.id), "the third message");
  assert.equal(await checks(), before, "no members/check per message");
  closeAll();
});

/** Core's count of membership questions (its Prometheus counter, by route pattern). */
async function membershipQuestions() {
  const text = await (await fetch(`${CORE}/metrics`)).text();
  return text
    .split("\n")
    .filter((l) => l.startsWith("http_requests_total{") && l.includes('route="/internal/v1/conversations/{id}/membership"'))
    .reduce((n, l) => n + Number(l.split(" ").pop()), 0);
}

test("a join makes one origin request", async () => {
  const [ta, tb] = [await token("alice"), await token("bob")];
  const g = await conversation(ta, "group", ["bob"]);
  const b = await connect(tb);
  const before = await membershipQuestions();
  assert.equal((await b.emitWithAck("join_conversation", { conversation_id: g })).ok, true);
  const b2 = await connect(tb);
  assert.equal((await b2.emitWithAck("join_conversation", { conversation_id: g })).ok, true);
  assert.equal(await membershipQuestions() - before, 2, "one membership question per join");
  closeAll();
});
