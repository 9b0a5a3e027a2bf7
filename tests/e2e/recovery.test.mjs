// Connection-state recovery with the official client: a socket cut mid-stream
// and back within the window gets every event it missed, once and in order,
// with `socket.recovered === true`, on whichever gateway it lands; after the
// window, or after an explicit disconnect, it is not recovered.
// (run.sh sets MAX_DISCONNECTION_DURATION_MS short.)
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { api, clientId, closeAll, connect, conversation, gatewayOf, received, roundTrip, sleep, token, until } from "./helpers.mjs";

after(closeAll);

const WINDOW_MS = Number(process.env.MAX_DISCONNECTION_DURATION_MS);

/** Resolves on the socket's next `connect`. */
const reconnected = (socket) =>
  new Promise((resolve, reject) => {
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", reject);
    socket.connect();
  });

const disconnected = (socket) => new Promise((resolve) => socket.once("disconnect", resolve));

async function joined(tok, conversationId) {
  const socket = await connect(tok);
  const ack = await socket.emitWithAck("join_conversation", { conversation_id: conversationId });
  assert.equal(ack.ok, true, JSON.stringify(ack));
  return socket;
}

test("a socket cut mid-stream gets every event it missed, once, in order, and is recovered", async (t) => {
  const [alice, bob] = [await token("alice"), await token("bob")];
  const group = await conversation(alice, "group", ["bob"]);
  const a = await joined(alice, group);
  const b = await joined(bob, group);
  // another socket of alice's: it hears her user-addressed events too
  const watch = await connect(alice);
  assert.equal(typeof a._pid, "string", "CONNECT answered with a pid");
  assert.equal(a.recovered, false);
  const mine = await a.emitWithAck("send_message", { conversation_id: group, type: "text", content: "mine", client_msg_id: clientId() });
  assert.equal(mine.ok, true);
  const m0 = mine.data.id;
  await until(() => received(a, "new_message").some((m) => m.id === m0), "alice's own message in the room");
  const last = a.events.at(-1).args.at(-1);
  assert.equal(typeof last, "string", "events carry their offset as the last argument");
  assert.equal(a._lastOffset, last);

  // cut the transport: no DISCONNECT, as when a network drops
  const from = gatewayOf(a);
  const gone = disconnected(a);
  a.io.engine.close();
  // the engine closed under the socket: no DISCONNECT packet was sent
  assert.notEqual(await gone, "io client disconnect");
  const before = a.events.length;

  // while alice is away: a message, its edit, a reaction, and a read of alice's own message
  const sent = await b.emitWithAck("send_message", { conversation_id: group, type: "text", content: "while away", client_msg_id: clientId() });
  assert.equal(sent.ok, true);
  const m1 = sent.data.id;
  const [s1] = await api(bob, "PATCH", `/api/v1/messages/${m1}`, { content: "while away (edited)" });
  assert.equal(s1, 200);
  const [s2] = await api(bob, "PUT", `/api/v1/messages/${m1}/reactions/${encodeURIComponent("👍")}`);
  assert.ok(s2 === 200 || s2 === 201, `reaction: ${s2}`);
  assert.equal((await b.emitWithAck("message_read", { conversation_id: group, message_id: m0 })).ok, true);
  // they have all left core: bob heard the room's, alice's other socket the receipt
  await until(() => received(b, "reaction_added").some((r) => r.message_id === m1), "the reaction in the room");
  const isReceipt = (s) => s.message_id === m0 && s.status === "read";
  await until(() => received(watch, "message_status").some(isReceipt), "the receipt at alice's other socket");

  await reconnected(a);
  assert.equal(a.recovered, true, "the same pid came back");
  t.diagnostic(`recovered from gateway ${from} on ${gatewayOf(a)}`);
  const missed = () => a.events.slice(before);
  const wanted = (e) =>
    (e.name === "new_message" && e.args[0].id === m1) ||
    (e.name === "message_updated" && e.args[0].id === m1) ||
    (e.name === "reaction_added" && e.args[0].message_id === m1) ||
    (e.name === "message_status" && isReceipt(e.args[0]));
  await until(() => missed().filter(wanted).length >= 4, "the four missed events");
  // the room goes on to the recovered socket (its rooms came back with it)
  const after = await b.emitWithAck("send_message", { conversation_id: group, type: "text", content: "after", client_msg_id: clientId() });
  assert.equal(after.ok, true);
  await until(() => received(a, "new_message").some((m) => m.id === after.data.id), "a live message after the recovery");
  await roundTrip(a);
  const got = missed().filter(wanted).map((e) => e.name);
  assert.deepEqual(got, ["new_message", "message_updated", "reaction_added", "message_status"], "each once, in order");
  const offsets = missed().map((e) => e.args.at(-1));
  assert.equal(new Set(offsets).size, offsets.length, "no event twice");
  assert.equal(missed().filter((e) => e.name === "new_message" && e.args[0].id === m0).length, 0, "nothing from before the cut again");
});

test("after an explicit disconnect, or once the window has passed, the socket is not recovered", async () => {
  const alice = await token("alice");
  const group = await conversation(alice, "group", ["bob"]);
  const a = await joined(alice, group);
  const pid = a._pid;
  assert.equal(typeof pid, "string");
  // explicit: the client's DISCONNECT ends the session
  a.disconnect();
  await reconnected(a);
  assert.equal(a.recovered, false, "a new session after socket.disconnect()");
  assert.notEqual(a._pid, pid);

  const c = await joined(alice, group);
  const gone = disconnected(c);
  c.io.engine.close();
  await gone;
  await sleep(WINDOW_MS + 500);
  await reconnected(c);
  assert.equal(c.recovered, false, "the window passed");
});
