// Clients with default options: Engine.IO HTTP long-polling for the
// handshake, then the upgrade to a WebSocket; and a client that stays on
// polling. The official socket.io-client, plus the raw Engine.IO requests
// whose answers the reference server defines.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { io } from "socket.io-client";
import WebSocket from "ws";
import { EDGE, clientId, closeAll, connect, conversation, edgeStats, gatewayOf, received, roundTrip, sleep, token, until } from "./helpers.mjs";

const open = [];
after(() => {
  closeAll();
  while (open.length) open.pop().close();
});

/** A client with the given options on top of the defaults (no `transports`). */
function client(tok, opts = {}) {
  const socket = io(EDGE + "/messaging", { auth: { token: tok }, reconnection: false, forceNew: true, ...opts });
  open.push(socket);
  socket.events = [];
  socket.onAny((name, ...args) => socket.events.push({ name, args }));
  socket.firstTransport = socket.io.engine.transport.name;
  socket.upgradedTo = new Promise((resolve) => socket.io.engine.once("upgrade", (t) => resolve(t.name)));
  return new Promise((resolve, reject) => {
    socket.on("connect", () => resolve(socket));
    socket.on("connect_error", reject);
  });
}

const sid = () => `local.0.${"0".repeat(32)}`;
const engine = (query) => `${EDGE}/socket.io/?EIO=4&${query}`;

test("io(url) with default options starts on polling, upgrades to the WebSocket, and sends, receives and acks", async () => {
  const [aliceTok, bobTok] = [await token("alice"), await token("bob")];
  const dm = await conversation(aliceTok, "direct", ["bob"]);
  const alice = await client(aliceTok);
  const bob = await client(bobTok);
  for (const s of [alice, bob]) {
    assert.equal(s.firstTransport, "polling");
    assert.equal(await s.upgradedTo, "websocket");
    assert.equal(s.io.engine.transport.name, "websocket");
  }
  assert.deepEqual(await alice.emitWithAck("join_conversation", { conversation_id: dm }), { ok: true, data: { conversation_id: dm } });
  assert.equal((await bob.emitWithAck("join_conversation", { conversation_id: dm })).ok, true);
  const ack = await alice.emitWithAck("send_message", { conversation_id: dm, type: "text", content: "upgraded hello", client_msg_id: clientId() });
  assert.equal(ack.ok, true, JSON.stringify(ack));
  await until(() => received(bob, "new_message").some((m) => m.content === "upgraded hello"), "bob hears alice");
  const back = await bob.emitWithAck("send_message", { conversation_id: dm, type: "text", content: "and back", client_msg_id: clientId() });
  assert.equal(back.ok, true);
  await until(() => received(alice, "new_message").some((m) => m.content === "and back"), "alice hears bob");
  // the session still stands after several ping rounds on the WebSocket
  await sleep(2 * Number(process.env.PING_INTERVAL_MS));
  await roundTrip(alice);
  assert.ok(alice.connected);
});

test("a client that stays on polling sends, receives and acks, and lives through ping rounds and hold timeouts", async (t) => {
  const [carolTok, daveTok] = [await token("carol"), await token("dave")];
  const dm = await conversation(carolTok, "direct", ["dave"]);
  const carol = await client(carolTok, { transports: ["polling"] });
  const dave = await connect(daveTok);
  assert.equal(carol.io.engine.transport.name, "polling");
  assert.equal((await carol.emitWithAck("join_conversation", { conversation_id: dm })).ok, true);
  assert.equal((await dave.emitWithAck("join_conversation", { conversation_id: dm })).ok, true);
  const ack = await carol.emitWithAck("send_message", { conversation_id: dm, type: "text", content: "from polling", client_msg_id: clientId() });
  assert.equal(ack.ok, true, JSON.stringify(ack));
  await until(() => received(dave, "new_message").some((m) => m.content === "from polling"), "dave hears carol");
  await dave.emitWithAck("send_message", { conversation_id: dm, type: "text", content: "to polling", client_msg_id: clientId() });
  await until(() => received(carol, "new_message").some((m) => m.content === "to polling"), "carol hears dave");
  // pings go out in GET answers and pongs come back in POSTs: past the
  // liveness deadline (interval + timeout) and several holds, still there
  let pings = 0;
  carol.io.on("ping", () => pings++);
  const interval = Number(process.env.PING_INTERVAL_MS);
  const gateway = gatewayOf(carol);
  const before = (await edgeStats({ gateways: [gateway] })).gateways[gateway];
  const started = Date.now();
  await sleep(interval + Number(process.env.PING_TIMEOUT_MS) + interval);
  const after = (await edgeStats({ gateways: [gateway] })).gateways[gateway];
  assert.ok(pings >= 2, `${pings} pings`);
  assert.equal(after.instance, before.instance, "the same object life, so the counters compare");
  // the figure the README states: an idle polling session's requests to its gateway
  const secs = (Date.now() - started) / 1000;
  const requests = after.requests - before.requests;
  t.diagnostic(`idle polling session: ${requests} gateway requests in ${secs.toFixed(1)} s (${pings} pings, ping ${interval} ms, hold ${process.env.POLLING_HOLD_MS} ms)`);
  assert.ok(requests > 0 && requests <= Math.ceil(secs * 1000 / Math.min(interval, Number(process.env.POLLING_HOLD_MS))) * 2 + 4, `${requests} requests`);
  await roundTrip(carol);
  assert.ok(carol.connected);
  assert.equal(carol.io.engine.transport.name, "polling");
});

test("raw polling: the handshake, a send, an unknown sid, an overlapping GET, an oversized POST", async () => {
  const hello = await fetch(engine("transport=polling"));
  assert.equal(hello.status, 200);
  assert.match(hello.headers.get("content-type"), /^text\/plain/);
  const body = await hello.text();
  assert.equal(body[0], "0");
  const handshake = JSON.parse(body.slice(1));
  assert.deepEqual(handshake.upgrades, ["websocket"]);
  assert.equal(handshake.maxPayload, 65536);
  assert.match(handshake.sid, /^[A-Za-z0-9]+\.\d+\.[0-9a-f]{32}$/);
  const own = (query) => engine(`transport=polling&sid=${encodeURIComponent(handshake.sid)}${query}`);

  // CONNECT with the token, over POST; its answer in the next GET
  const post = await fetch(own(""), { method: "POST", body: `40/messaging,${JSON.stringify({ token: await token("erin") })}` });
  assert.equal(post.status, 200);
  assert.equal(await post.text(), "ok");
  const connected = (await (await fetch(own(""))).text()).split("\x1e");
  assert.ok(connected.some((p) => /^40\/messaging,\{"sid":/.test(p)), connected.join(" | "));

  for (const [method, query] of [["GET", sid()], ["POST", sid()], ["GET", "nonsense"]]) {
    const r = await fetch(engine(`transport=polling&sid=${query}`), { method, body: method === "POST" ? "3" : undefined });
    assert.equal(r.status, 400, `${method} ${query}`);
    assert.deepEqual(await r.json(), { code: 1, message: "Session ID unknown" });
  }

  const tooBig = await fetch(own(""), { method: "POST", body: `42/messaging,["x","${"a".repeat(65536)}"]` });
  assert.equal(tooBig.status, 413);

  // a second GET while one is held closes the session, as the reference
  // server does. A ping may answer the first GET at once (the gateway pings
  // every PING_INTERVAL_MS): then it was not held, and the pair is tried again.
  let second, held;
  for (let attempt = 0; attempt < 5 && !second; attempt++) {
    await fetch(own("")); // takes whatever waits
    let settled = false;
    held = fetch(own("")).then(async (r) => ((settled = true), [r.status, await r.text()]));
    await sleep(100);
    if (!settled) second = await fetch(own(""));
    else await held;
  }
  assert.ok(second, "a GET was held");
  assert.equal(second.status, 400);
  const [heldStatus, heldBody] = await held;
  assert.equal(heldStatus, 200);
  assert.ok(heldBody.split("\x1e").includes("1"), `the held GET gets the close packet: ${heldBody}`);
  const after = await fetch(own(""));
  assert.equal(after.status, 400);
  assert.deepEqual(await after.json(), { code: 1, message: "Session ID unknown" });
});

test("a polling client that stops answering pings is closed pingInterval + pingTimeout after it opened", async (t) => {
  const opened = Date.now();
  const hello = await (await fetch(engine("transport=polling"))).text();
  const own = engine(`transport=polling&sid=${encodeURIComponent(JSON.parse(hello.slice(1)).sid)}`);
  const post = await fetch(own, { method: "POST", body: `40/messaging,${JSON.stringify({ token: await token("erin") })}` });
  assert.equal(await post.text(), "ok");
  // keep polling, never POST a pong: the pings arrive, then the close packet
  const seen = [];
  let closedAt;
  while (!closedAt && Date.now() - opened < 20_000) {
    const r = await fetch(own);
    if (r.status !== 200) {
      closedAt = Date.now();
      seen.push(`HTTP ${r.status}`);
      break;
    }
    const packets = (await r.text()).split("\x1e");
    seen.push(...packets);
    if (packets.includes("1")) closedAt = Date.now();
  }
  assert.ok(closedAt, `closed: ${seen.join(" | ")}`);
  assert.ok(seen.includes("2"), `it was pinged first: ${seen.join(" | ")}`);
  const limit = Number(process.env.PING_INTERVAL_MS) + Number(process.env.PING_TIMEOUT_MS);
  const took = closedAt - opened;
  t.diagnostic(`silent polling session closed after ${took} ms (limit ${limit} ms)`);
  // the deadline is exact at the gateway; the slack covers the held GET that carries the close
  assert.ok(took >= limit - 100 && took <= limit + 1000, `closed after ${took} ms, limit ${limit} ms`);
});

test("the upgrade carries the session: a room joined over polling delivers on the WebSocket, and the polling sid is retired", async () => {
  const [erinTok, frankTok] = [await token("erin"), await token("frank")];
  const dm = await conversation(erinTok, "direct", ["frank"]);
  const hello = await (await fetch(engine("transport=polling"))).text();
  const sidValue = JSON.parse(hello.slice(1)).sid;
  const own = engine(`transport=polling&sid=${encodeURIComponent(sidValue)}`);
  const packetsUntil = async (predicate) => {
    for (let i = 0; i < 10; i++) {
      const packets = (await (await fetch(own)).text()).split("\x1e");
      const hit = packets.find(predicate);
      if (hit) return hit;
    }
    throw new Error("no such packet");
  };
  assert.equal(await (await fetch(own, { method: "POST", body: `40/messaging,${JSON.stringify({ token: erinTok })}` })).text(), "ok");
  await packetsUntil((p) => p.startsWith("40/messaging,"));
  const join = `42/messaging,7${JSON.stringify(["join_conversation", { conversation_id: dm }])}`;
  assert.equal(await (await fetch(own, { method: "POST", body: join })).text(), "ok");
  const joined = await packetsUntil((p) => p.startsWith("43/messaging,7"));
  assert.deepEqual(JSON.parse(joined.slice("43/messaging,7".length)), [{ ok: true, data: { conversation_id: dm } }]);

  // the upgrade, by hand: probe, then 5
  const ws = new WebSocket(`${EDGE.replace("http", "ws")}/socket.io/?EIO=4&transport=websocket&sid=${encodeURIComponent(sidValue)}`);
  open.push({ close: () => ws.close() });
  const frames = [];
  ws.on("message", (d) => frames.push(d.toString()));
  await new Promise((resolve, reject) => (ws.on("open", resolve), ws.on("error", reject)));
  ws.send("2probe");
  await until(() => frames.includes("3probe"), "3probe");
  ws.send("5");
  // a request on the old transport is refused now (after the 5 is handled: a barrier on the WebSocket)
  ws.send(`42/messaging,8${JSON.stringify(["e2e_barrier", {}])}`);
  await until(() => frames.some((f) => f.startsWith("43/messaging,8")), "the barrier's ack on the WebSocket");
  const old = await fetch(own);
  assert.equal(old.status, 400);
  assert.equal((await old.json()).code, 3);

  const frank = await connect(frankTok);
  assert.equal((await frank.emitWithAck("send_message", { conversation_id: dm, type: "text", content: "to the upgraded socket", client_msg_id: clientId() })).ok, true);
  await until(() => frames.some((f) => f.startsWith('42/messaging,["new_message"') && f.includes("to the upgraded socket")), "the room event on the WebSocket");
});
