// Clients written to the original design, browsers and TMS: CORS at the
// edge, sends without client_msg_id, and the signed TMS webhook through the
// edge (the default long-polling-first client: polling.test.mjs).
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import WebSocket from "ws";
import { EDGE, TMS, api, clientId, closeAll, connect, conversation, received, sql, token, until, edgeFetch } from "./helpers.mjs";

after(closeAll);

const ORIGIN = process.env.ALLOWED_ORIGIN;
const SECRET = process.env.TMS_WEBHOOK_SECRET;

test("CORS: an allowed origin gets its preflight and headers; any other origin is refused, sockets included", async () => {
  const preflight = await edgeFetch(`${EDGE}/api/v1/conversations`, {
    method: "OPTIONS",
    headers: { origin: ORIGIN, "access-control-request-method": "POST", "access-control-request-headers": "authorization, content-type" },
  });
  assert.equal(preflight.status, 204);
  assert.equal(preflight.headers.get("access-control-allow-origin"), ORIGIN);
  assert.match(preflight.headers.get("access-control-allow-methods"), /POST/);
  assert.match(preflight.headers.get("access-control-allow-headers"), /authorization/);
  assert.equal(preflight.headers.get("vary"), "Origin");

  const tok = await token("alice");
  const get = await fetch(`${EDGE}/api/v1/auth/me`, { headers: { origin: ORIGIN, authorization: `Bearer ${tok}` } });
  assert.equal(get.status, 200);
  assert.equal(get.headers.get("access-control-allow-origin"), ORIGIN);
  assert.match(get.headers.get("access-control-expose-headers"), /retry-after/);

  const evilPreflight = await edgeFetch(`${EDGE}/api/v1/conversations`, {
    method: "OPTIONS",
    headers: { origin: "https://evil.e2e.test", "access-control-request-method": "POST" },
  });
  assert.equal(evilPreflight.status, 403);
  assert.equal(evilPreflight.headers.get("access-control-allow-origin"), null);
  assert.equal((await evilPreflight.json()).error.code, "FORBIDDEN");
  const evilGet = await fetch(`${EDGE}/api/v1/auth/me`, { headers: { origin: "https://evil.e2e.test", authorization: `Bearer ${tok}` } });
  assert.equal(evilGet.status, 403);

  // a page from another origin cannot open a socket (browsers send Origin on upgrades)
  const upgrade = (origin) =>
    new Promise((resolve) => {
      const ws = new WebSocket(EDGE.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket", { origin });
      ws.on("open", () => { ws.close(); resolve(101); });
      ws.on("unexpected-response", (_, res) => resolve(res.statusCode));
      ws.on("error", () => resolve(0));
    });
  assert.equal(await upgrade("https://evil.e2e.test"), 403);
  assert.equal(await upgrade(ORIGIN), 101);
  assert.equal(await upgrade(EDGE), 101, "the edge's own pages are same-origin");
});

test("send_message without client_msg_id or type, and message_read {conversation_id, message_id}, as the original design has them", async () => {
  const [ta, tb] = [await token("alice"), await token("bob")];
  const dm = await conversation(ta, "direct", ["bob"]);
  const [alice, bob] = [await connect(ta), await connect(tb)];
  assert.equal((await bob.emitWithAck("join_conversation", { conversation_id: dm })).ok, true);
  const content = `no client id ${clientId()}`;
  const first = await alice.emitWithAck("send_message", { conversation_id: dm, content });
  const second = await alice.emitWithAck("send_message", { conversation_id: dm, content });
  assert.equal(first.ok, true, JSON.stringify(first));
  assert.equal(first.data.type, "text");
  assert.notEqual(first.data.id, second.data.id, "without client_msg_id a send is not idempotent");
  assert.equal(sql(`SELECT count(*) FROM messages WHERE content = '${content}'`), "2");
  await until(() => received(bob, "new_message").filter((m) => m.content === content).length === 2, "bob hears both");

  const read = await bob.emitWithAck("message_read", { conversation_id: dm, message_id: second.data.id });
  assert.equal(read.ok, true, JSON.stringify(read));
  await until(() => received(alice, "message_status").some((s) => s.message_id === second.data.id && s.status === "read"), "alice's read tick");
});

function signed(body, { t = Math.floor(Date.now() / 1000), secret = SECRET } = {}) {
  const v1 = createHmac("sha256", secret).update(`${t}.${body}`).digest("hex");
  return { "content-type": "application/json", "x-tms-signature": `t=${t},v1=${v1}` };
}

async function webhook(body, headers) {
  const r = await edgeFetch(`${EDGE}/api/v1/webhooks/tms`, { method: "POST", headers, body });
  return [r.status, await r.json()];
}

test("the TMS webhook through the edge: a profile change shows at once, bad, stale and replayed signatures change nothing", async () => {
  const id = `hook-${Date.now()}`;
  const add = await fetch(`${TMS}/__control/users`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ id, display_name: "Before" }),
  });
  assert.equal(add.status, 201);
  const [ta, tu] = [await token("alice"), await token(id)];
  await conversation(ta, "direct", [id]);
  const [status0, before] = await api(ta, "GET", `/api/v1/users/${id}`);
  assert.equal(status0, 200);
  assert.equal(before.data.display_name, "Before"); // now cached for 10 minutes
  const watcher = await connect(ta, "/notifications");

  // bad, stale and replayed signatures: 401, the cache keeps the old name
  const body = JSON.stringify({ type: "user.updated", data: { tms_user_id: id } });
  const [bad, badBody] = await webhook(body, signed(body, { secret: "not-the-secret-0123456789abcdef0123456" }));
  assert.equal(bad, 401);
  assert.equal(badBody.error.code, "WEBHOOK_SIGNATURE_INVALID");
  const [stale] = await webhook(body, signed(body, { t: Math.floor(Date.now() / 1000) - 301 }));
  assert.equal(stale, 401);
  const [missing] = await webhook(body, { "content-type": "application/json" });
  assert.equal(missing, 401);

  // TMS changes the name; the stand-in sends the signed webhook through the edge
  const put = await fetch(`${TMS}/__control/users/${id}`, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ id, display_name: "After" }),
  });
  assert.equal(put.status, 200);
  assert.deepEqual((await put.json()).webhook, { sent: true, status: 200 });
  const [, after] = await api(ta, "GET", `/api/v1/users/${id}`);
  assert.equal(after.data.display_name, "After");
  await until(() => received(watcher, "user_updated").some((u) => u.user_id === id), "user_updated for the co-member");

  const headers = signed(body);
  const [first, firstBody] = await webhook(body, headers);
  assert.equal(first, 200);
  assert.deepEqual(firstBody.data, { handled: true });
  const [replayed] = await webhook(body, headers);
  assert.equal(replayed, 401);

  const other = JSON.stringify({ type: "team.renamed", data: { tms_user_id: id } });
  const [ignored, ignoredBody] = await webhook(other, signed(other));
  assert.equal(ignored, 200);
  assert.deepEqual(ignoredBody.data, { handled: false });
  const garbled = JSON.stringify({ type: "user.updated" });
  const [invalid, invalidBody] = await webhook(garbled, signed(garbled));
  assert.equal(invalid, 422);
  assert.equal(invalidBody.error.code, "VALIDATION_ERROR");

  // deleted in TMS: every session of the user is closed, and the client does not reconnect
  const [phone, laptop] = [await connect(tu, "/notifications"), await connect(tu, "/messaging")];
  const reasons = [];
  for (const s of [phone, laptop]) s.on("disconnect", (reason) => reasons.push(reason));
  const del = await fetch(`${TMS}/__control/users/${id}`, { method: "DELETE" });
  assert.equal(del.status, 200);
  assert.deepEqual((await del.json()).webhook, { sent: true, status: 200 });
  await until(() => reasons.length === 2, "both sessions closed");
  assert.deepEqual(reasons, ["io server disconnect", "io server disconnect"]);
  assert.deepEqual(received(phone, "session_closed"), [{ reason: "user_deleted" }]);
  const [gone] = await api(ta, "GET", `/api/v1/users/${id}`);
  assert.equal(gone, 404, "the profile is no longer served from the cache");
});
