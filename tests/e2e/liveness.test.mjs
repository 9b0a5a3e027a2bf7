// Engine.IO liveness as specified: a client that stops answering pings is
// closed once it has been silent for pingInterval + pingTimeout, not a
// round later; one that keeps answering stays. Timed with the official
// client, whose pongs are dropped from a chosen moment on.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { closeAll, connect, sleep, token, until } from "./helpers.mjs";

after(closeAll);
const interval = Number(process.env.PING_INTERVAL_MS);
const timeout = Number(process.env.PING_TIMEOUT_MS);

/** Records when the client sent each pong, and drops them once `silent` is set. */
function instrument(socket) {
  const engine = socket.io.engine;
  const state = { pongs: [], pings: [], silent: false };
  // engine.io-client 6.6 answers a ping with `_sendPacket("pong")`
  const send = engine._sendPacket.bind(engine);
  engine._sendPacket = (type, ...rest) => {
    if (type === "pong") {
      if (state.silent) return;
      state.pongs.push(Date.now());
    }
    return send(type, ...rest);
  };
  engine.on("ping", () => state.pings.push(Date.now()));
  return state;
}

test("a client that stops answering pings is closed pingInterval + pingTimeout after its last pong", async () => {
  const alice = await connect(await token("alice"));
  const bob = await connect(await token("bob"));
  const a = instrument(alice);
  const b = instrument(bob);
  // a few rounds answered
  await until(() => a.pongs.length >= 2 && b.pongs.length >= 2, "two answered pings", interval * 4);
  a.silent = true;
  const lastPong = a.pongs.at(-1);
  const closed = await new Promise((resolve) => alice.on("disconnect", (reason) => resolve({ reason, at: Date.now() })));
  const silentFor = closed.at - lastPong;
  assert.equal(closed.reason, "transport close", "the server closed it");
  // workerd answers the pong a moment after the client sent it: allow a little
  // on the low side, and the alarm's and the close frame's delays on the high side
  assert.ok(silentFor >= interval + timeout - 50, `closed after ${silentFor} ms of silence, before ${interval + timeout} ms`);
  assert.ok(silentFor <= interval + timeout + 600, `closed after ${silentFor} ms of silence, later than ${interval + timeout} ms`);
  // the unanswered ping got its full timeout
  const unanswered = a.pings.filter((t) => t > lastPong);
  assert.ok(unanswered.length >= 1, "it was pinged while silent");
  assert.ok(closed.at - unanswered[0] >= timeout - 50, "the first unanswered ping had its timeout");
  // the one that kept answering is still connected, a round later
  const pongs = b.pongs.length;
  await until(() => b.pongs.length > pongs, "bob's next pong", interval * 2);
  assert.ok(bob.connected);
});

test("a silent client is closed on time however long it answered before", async () => {
  const carol = await connect(await token("carol"));
  const c = instrument(carol);
  c.silent = true; // never answers: counted from the last pong, or from the opening
  const opened = Date.now();
  const closed = await new Promise((resolve) => carol.on("disconnect", () => resolve(Date.now())));
  assert.ok(c.pings.length >= 1, "it was pinged");
  assert.ok(closed - opened <= interval + timeout + 600, `closed after ${closed - opened} ms`);
  assert.ok(closed - c.pings[0] >= timeout - 50, "its ping had its timeout");
  await sleep(10);
});
