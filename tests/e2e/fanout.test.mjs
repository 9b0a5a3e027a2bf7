// Core → edge `/internal/v1/fanout`: only core's HMAC opens it, a signed
// request is accepted once, and what it carries reaches the right sockets.
// The signer here is written from the contract (shared-auth's canonical
// string), independently of the Rust one, so the two are checked against
// each other.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { EDGE, closeAll, connect, conversation, gatewayOf, received, signedHeaders, token, until } from "./helpers.mjs";

after(closeAll);

const PATH = "/internal/v1/fanout";
const signed = (body, opts) => signedHeaders(PATH, body, opts);

async function post(headers, body) {
  const r = await fetch(EDGE + PATH, { method: "POST", headers, body });
  return [r.status, await r.json()];
}

test("fan-out without core's signature is refused in the envelope", async () => {
  const body = JSON.stringify({ events: [{ target: { kind: "gateways", gateways: [{ gateway: "local.0", user_ids: ["bob"] }] }, namespace: "/notifications", event: "x", data: {} }] });
  const cases = [
    ["unsigned", { "content-type": "application/json" }],
    ["wrong secret", signed(body, { secret: "not-the-internal-secret-0123456789abcdef" })],
    ["stale timestamp", signed(body, { timestamp: Math.floor(Date.now() / 1000) - 600 })],
    ["signed for another body", signed(body.replace("bob", "carol"))],
  ];
  for (const [name, headers] of cases) {
    const [status, res] = await post(headers, body);
    assert.equal(status, 401, name);
    assert.equal(res.success, false, name);
    assert.equal(res.error.code, "INTERNAL_AUTH_FAILED", name);
  }
  // a TMS JWT is no way in either
  const [status] = await post({ "content-type": "application/json", authorization: `Bearer ${await token("alice")}` }, body);
  assert.equal(status, 401);
});

test("a user-addressed fan-out reaches every socket of that user on the gateway once; its replay is refused", async () => {
  const bob = await connect(await token("bob"), "/notifications");
  const carol = await connect(await token("carol"), "/notifications");
  const marker = randomUUID();
  const body = JSON.stringify({
    events: [{
      target: { kind: "gateways", gateways: [{ gateway: gatewayOf(bob), user_ids: ["bob"] }] },
      namespace: "/notifications",
      event: "conversation_updated",
      data: { marker },
    }],
  });
  const headers = signed(body);
  const [status, res] = await post(headers, body);
  assert.equal(status, 200, JSON.stringify(res));
  assert.deepEqual(res.data, { accepted: 1 });
  await until(() => received(bob, "conversation_updated").some((d) => d.marker === marker), "bob's notification");

  const [replayStatus, replay] = await post(headers, body);
  assert.equal(replayStatus, 401);
  assert.equal(replay.error.code, "INTERNAL_AUTH_FAILED");
  // the barrier: a second batch, to both, arrives after anything the first could have caused
  const second = randomUUID();
  const barrier = JSON.stringify({
    events: [{
      target: { kind: "gateways", gateways: [{ gateway: gatewayOf(bob), user_ids: ["bob"] }, { gateway: gatewayOf(carol), user_ids: ["carol"] }] },
      namespace: "/notifications",
      event: "conversation_updated",
      data: { marker: second },
    }],
  });
  assert.equal((await post(signed(barrier), barrier))[0], 200);
  for (const s of [bob, carol]) await until(() => received(s, "conversation_updated").some((d) => d.marker === second), "the second batch");
  assert.equal(received(bob, "conversation_updated").filter((d) => d.marker === marker).length, 1, "delivered once");
  assert.equal(received(carol, "conversation_updated").filter((d) => d.marker === marker).length, 0, "carol was not addressed");
  closeAll();
});

test("a conversation fan-out reaches the joined sessions; its replay is refused", async () => {
  const [ta, tb] = [await token("alice"), await token("bob")];
  const dm = await conversation(ta, "direct", ["bob"]);
  const b = await connect(tb);
  assert.equal((await b.emitWithAck("join_conversation", { conversation_id: dm })).ok, true);
  const marker = randomUUID();
  // no seq: not a message, so the Room's order book does not dedupe it; only the replay guard can
  const body = JSON.stringify({
    events: [{
      target: { kind: "conversation", conversation_id: dm },
      namespace: "/messaging",
      event: "message_updated",
      data: { conversation_id: dm, marker },
    }],
  });
  const headers = signed(body);
  const [status, res] = await post(headers, body);
  assert.equal(status, 200, JSON.stringify(res));
  await until(() => received(b, "message_updated").some((d) => d.marker === marker), "bob's event");

  const [replayStatus] = await post(headers, body);
  assert.equal(replayStatus, 401);
  // the barrier: a second event through the same room arrives after a replayed one would have
  const second = randomUUID();
  const barrier = body.replace(marker, second);
  assert.equal((await post(signed(barrier), barrier))[0], 200);
  await until(() => received(b, "message_updated").some((d) => d.marker === second), "the second event");
  assert.equal(received(b, "message_updated").filter((d) => d.marker === marker).length, 1, "delivered once");
  closeAll();
});
