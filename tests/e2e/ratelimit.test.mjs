// Per-user rate limits at core, end to end with core's defaults (run.sh sets
// none): one user's sockets on different gateways share one budget of 10
// sends per second, so a burst past it gets RATE_LIMITED acks from core and
// only the acked sends are stored; REST through the edge and straight to
// core share one budget of 100 requests per minute, then 429 with headers.
// Users load-4xx are used by no other test, so their budgets start full.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { CORE, EDGE, closeAll, connect, conversation, gatewayOf, sleep, sql, token } from "./helpers.mjs";

after(closeAll);

const MAX = Number(process.env.GATEWAY_MAX_SOCKETS);
const PER_SOCKET = 10; // the edge's per-socket burst: all of them pass the socket's guard and reach core

test("a burst from one user's sockets on two gateways: past 10/s core acks RATE_LIMITED and stores only the acked sends", async () => {
  closeAll();
  await sleep(300);
  const [me, peer] = ["load-401", "load-402"];
  const tok = await token(me);
  const dm = await conversation(tok, "direct", [peer]);
  const sockets = [];
  while (new Set(sockets.map(gatewayOf)).size < 2) {
    assert.ok(sockets.length <= 2 * MAX, "sockets never spread over a second gateway");
    sockets.push(await connect(tok));
  }
  for (const s of sockets) assert.equal((await s.emitWithAck("join_conversation", { conversation_id: dm })).ok, true);
  await sleep(1100); // each socket's own guard (10 packets/s, CONNECT and join included) is full again

  const run = `${process.pid}-${Date.now()}`;
  const sends = sockets.flatMap((s, k) =>
    Array.from({ length: PER_SOCKET }, (_, i) => {
      const client_msg_id = `rl-${run}-${k}-${i}`;
      const payload = { conversation_id: dm, type: "text", content: `burst ${k}.${i}`, client_msg_id };
      return s.emitWithAck("send_message", payload).then((ack) => ({ client_msg_id, ack }));
    }),
  );
  const results = await Promise.all(sends);
  const acked = results.filter((r) => r.ack.ok);
  const refused = results.filter((r) => !r.ack.ok);
  const gateways = new Set(sockets.map(gatewayOf)).size;
  console.log(`burst: ${results.length} sends from ${sockets.length} sockets on ${gateways} gateways: ${acked.length} acked, ${refused.length} RATE_LIMITED`);
  assert.ok(acked.length >= 10, `acked ${acked.length} of ${results.length}`);
  assert.ok(refused.length >= 1, `${results.length} sends from ${sockets.length} sockets, none refused`);
  for (const { ack } of refused) {
    assert.equal(ack.error.code, "RATE_LIMITED", JSON.stringify(ack));
    // refused by core (the per-user limit), not by a socket's own guard
    assert.equal(ack.error.details.kind, "socket_send", JSON.stringify(ack));
    assert.equal(ack.error.details.limit, 10);
    const wait = ack.error.details.retry_after_ms;
    assert.ok(wait >= 1 && wait <= 100, `retry_after_ms ${wait}`);
    assert.match(ack.error.message, /retry after \d+ ms/);
  }

  const stored = sql(`SELECT client_msg_id FROM messages WHERE conversation_id = '${dm}' ORDER BY seq`).split("\n").filter(Boolean);
  assert.deepEqual(new Set(stored), new Set(acked.map((r) => r.client_msg_id)), "stored = acked");
  assert.equal(stored.length, acked.length);

  // a second later the budget is back
  await sleep(1100);
  const again = await sockets[0].emitWithAck("send_message", { conversation_id: dm, type: "text", content: "later", client_msg_id: `rl-${run}-later` });
  assert.equal(again.ok, true, JSON.stringify(again));
  closeAll();
});

/** A REST call; returns the status, the rate-limit headers and the body. */
async function rest(base, tok, method = "GET", path = "/api/v1/auth/me", body) {
  const r = await fetch(base + path, {
    method,
    headers: { authorization: `Bearer ${tok}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const h = (name) => r.headers.get(name);
  return {
    status: r.status,
    limit: h("x-ratelimit-limit"),
    remaining: h("x-ratelimit-remaining"),
    reset: h("x-ratelimit-reset"),
    retryAfter: h("retry-after"),
    body: await r.json(),
  };
}

test("REST through the edge and straight to core spend one budget of 100 a minute, then 429 with Retry-After and X-RateLimit-*", async () => {
  const [me, peer] = ["load-403", "load-404"];
  const [tok, peerTok] = await Promise.all([token(me), token(peer)]);
  // the peer opens the DM, so all of `me`'s budget is left for the burst
  const dm = await conversation(peerTok, "direct", [me]);

  // ten at a time, half through the edge, half to core directly, until refused
  const started = Date.now();
  const remaining = [];
  let refused;
  while (!refused) {
    assert.ok(remaining.length < 300, "never refused");
    const batch = await Promise.all(Array.from({ length: 10 }, (_, i) => rest(i % 2 ? CORE : EDGE, tok)));
    for (const r of batch) {
      if (r.status === 200) {
        assert.equal(r.limit, "100");
        remaining.push(Number(r.remaining));
      } else {
        assert.equal(r.status, 429, JSON.stringify(r.body));
        refused ??= r;
      }
    }
  }
  // the budget refills one request per 0.6 s while the burst runs
  const elapsed = Date.now() - started;
  const allowed = remaining.length;
  console.log(`REST burst: ${allowed} allowed in ${elapsed} ms before the first 429`);
  assert.ok(allowed >= 100 && allowed <= 100 + Math.ceil(elapsed / 600), `${allowed} allowed in ${elapsed} ms`);
  assert.equal(Math.min(...remaining), 0);

  const check429 = (r) => {
    assert.deepEqual(Object.keys(r.body).sort(), ["data", "error", "success"]);
    assert.equal(r.body.success, false);
    assert.equal(r.body.data, null);
    assert.equal(r.body.error.code, "RATE_LIMITED");
    assert.equal(r.body.error.details.kind, "api");
    assert.equal(r.body.error.details.limit, 100);
    assert.equal(r.limit, "100");
    assert.equal(r.remaining, "0");
    assert.ok(Number(r.reset) >= 59 && Number(r.reset) <= 60, `reset ${r.reset}`);
    const wait = r.body.error.details.retry_after_ms;
    assert.ok(wait >= 1 && wait <= 600, `retry_after_ms ${wait}`);
    assert.equal(r.retryAfter, "1", "0.6 s at most, rounded up");
  };
  check429(refused);

  // after the wait exactly one more fits; then sends are refused, through the edge and direct alike.
  // The wait is read from a refusal with nothing else in flight: a later request of the concurrent
  // batch above may have taken a slot that freed after the first refusal was answered.
  let probe;
  for (let i = 0; i < 5 && (probe = await rest(EDGE, tok)).status === 200; i++);
  assert.equal(probe.status, 429, "the budget is spent");
  await sleep(probe.body.error.details.retry_after_ms + 20);
  assert.equal((await rest(EDGE, tok)).status, 200);
  const send = { conversation_id: dm, type: "text", content: "over the limit", client_msg_id: `rl-rest-${process.pid}-${Date.now()}` };
  const [viaEdge, direct] = await Promise.all([EDGE, CORE].map((base) => rest(base, tok, "POST", "/api/v1/messages", send)));
  check429(viaEdge);
  check429(direct);
  assert.equal(sql(`SELECT count(*) FROM messages WHERE conversation_id = '${dm}'`), "0", "nothing stored");
  // the peer's budget is their own
  const r = await rest(EDGE, peerTok);
  assert.equal(r.status, 200);
  assert.ok(Number(r.remaining) >= 98, `peer's remaining ${r.remaining}`);
});
