// Engine.IO details that the official client hides: server pings from the
// Durable Object alarm, refused transports and versions, malformed frames
// (polling: polling.test.mjs).
import { test, after } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { EDGE, closeAll, connect, sleep, token, until } from "./helpers.mjs";

after(closeAll);
const wsUrl = EDGE.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket";

function raw() {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl);
    const frames = [];
    ws.on("message", (d, isBinary) => frames.push(isBinary ? d : d.toString()));
    ws.closed = new Promise((r) => ws.on("close", (code, reason) => r({ code, reason: reason.toString() })));
    ws.frames = frames;
    ws.on("open", () => resolve(ws));
    ws.on("error", reject);
  });
}

test("the handshake advertises the configured heartbeat and no upgrades", async () => {
  const ws = await raw();
  const open = await until(() => ws.frames[0], "open packet");
  assert.equal(open[0], "0");
  const handshake = JSON.parse(open.slice(1));
  assert.deepEqual(handshake.upgrades, []);
  assert.equal(handshake.pingInterval, Number(process.env.PING_INTERVAL_MS));
  assert.equal(handshake.pingTimeout, Number(process.env.PING_TIMEOUT_MS));
  assert.ok(handshake.sid && handshake.maxPayload > 0);
  ws.close();
});

test("server pings keep a socket alive; a silent client is dropped after the pong timeout", async () => {
  const s = await connect(await token("alice"));
  let pings = 0;
  s.io.on("ping", () => pings++);
  const interval = Number(process.env.PING_INTERVAL_MS);
  await sleep(interval * 3 + 500);
  assert.ok(pings >= 2, `pings seen: ${pings}`);
  assert.ok(s.connected, "still connected after several intervals");

  const ws = await raw(); // never answers pings
  // the server's close frame moves the socket to CLOSING; workerd may finish the TCP close later
  const deadline = interval + Number(process.env.PING_TIMEOUT_MS) + 2000;
  await until(() => ws.readyState !== WebSocket.OPEN, "the server to close the silent socket", deadline);
  assert.ok(ws.frames.includes("2"), "it was pinged first");
  closeAll();
});

test("unknown transports and protocol versions are refused with Engine.IO errors", async () => {
  const unknown = await fetch(`${EDGE}/socket.io/?EIO=4&transport=flashsocket`);
  assert.equal(unknown.status, 400);
  assert.deepEqual(await unknown.json(), { code: 0, message: "Transport unknown" });
  const v3 = await fetch(`${EDGE}/socket.io/?EIO=3&transport=websocket`);
  assert.equal(v3.status, 400);
  assert.equal((await v3.json()).code, 5);
});

test("malformed and binary frames close the socket with a protocol error, and the edge keeps serving", async () => {
  for (const [name, frame, code] of [
    ["garbage", "zzz", 1002],
    ["bad socket.io packet", "49/messaging,", 1002],
    ["event without auth", '42/messaging,["send_message",{}]', null],
    ["binary", Buffer.from([1, 2, 3]), 1003],
  ]) {
    const ws = await raw();
    await until(() => ws.frames.length > 0, "open");
    ws.send(frame);
    if (code === null) {
      // the barrier: a CONNECT to an unknown namespace is refused after the event was read
      ws.send("40/nowhere,");
      await until(() => ws.frames.find((f) => f.startsWith("44/nowhere,")), `${name}: the refusal after it`);
      assert.equal(ws.readyState, WebSocket.OPEN, `${name}: an event on an unconnected namespace is ignored`);
      assert.deepEqual(ws.frames.slice(1, -1).filter((f) => f !== "2"), [], `${name}: and answered with nothing`);
      ws.close();
      continue;
    }
    const closed = await Promise.race([ws.closed, sleep(3000).then(() => null)]);
    assert.ok(closed, `${name}: socket closed`);
    assert.equal(closed.code, code, `${name}: ${JSON.stringify(closed)}`);
  }
  const s = await connect(await token("bob"));
  assert.ok(s.connected, "new connections still work");
  closeAll();
});

test("namespaces are multiplexed on one socket, and unknown ones are refused", async () => {
  const tok = await token("alice");
  const messaging = await connect(tok, "/messaging");
  // a second namespace on the same Manager: one WebSocket carries both
  const notifications = messaging.io.socket("/notifications", { auth: { token: tok } });
  await new Promise((resolve, reject) => {
    notifications.on("connect", resolve);
    notifications.on("connect_error", reject);
    notifications.connect();
  });
  assert.ok(messaging.connected && notifications.connected);
  assert.equal(notifications.io, messaging.io, "one Manager");
  assert.equal(notifications.io.engine.id, messaging.io.engine.id, "one Engine.IO session");
  assert.notEqual(notifications.id, messaging.id, "a socket id per namespace");
  notifications.close();
  await assert.rejects(connect(tok, "/admin"), (err) => err.message === "Invalid namespace");
  closeAll();
});
