// The gateway shape: many sockets per Gateway object, fan-out once per
// gateway, idle sockets that cost nothing, and what every online member
// hears. The suite runs the edge with GATEWAY_MAX_SOCKETS small (see run.sh),
// so a handful of sockets already spreads over several gateways.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { api, clientId, closeAll, connect, conversation, edgeStats, gatewayOf, received, sleep, token, until, untilOnline } from "./helpers.mjs";

after(closeAll);

const MAX = Number(process.env.GATEWAY_MAX_SOCKETS);
const INTERVAL = Number(process.env.PING_INTERVAL_MS);
const GRACE = Number(process.env.PRESENCE_GRACE_MS);

test("sockets share gateways up to the cap, then spread over more; a room spanning them hears every message", async () => {
  closeAll();
  await sleep(300); // let the previous tests' sockets finish closing
  const users = ["alice", "bob", "carol", "dave", "erin", "frank"];
  const tokens = Object.fromEntries(await Promise.all(users.map(async (u) => [u, await token(u)])));
  const group = await conversation(tokens.alice, "group", users.filter((u) => u !== "alice"));
  const sockets = [];
  for (let i = 0; i < 2 * MAX + 1; i++) {
    const user = users[i % users.length];
    const s = await connect(tokens[user]);
    s.user = user;
    sockets.push(s);
  }
  const perGateway = new Map();
  for (const s of sockets) perGateway.set(gatewayOf(s), (perGateway.get(gatewayOf(s)) ?? 0) + 1);
  assert.ok(perGateway.size >= 3, `spread over ${[...perGateway.keys()]}`);
  for (const [gateway, n] of perGateway) assert.ok(n <= MAX, `${gateway} holds ${n} of ours, cap ${MAX}`);
  assert.ok([...perGateway.values()].some((n) => n >= 2), "several users share a gateway");

  for (const s of sockets) assert.equal((await s.emitWithAck("join_conversation", { conversation_id: group })).ok, true);
  const sent = await sockets[0].emitWithAck("send_message", { conversation_id: group, type: "text", content: "to all gateways", client_msg_id: clientId() });
  assert.equal(sent.ok, true, JSON.stringify(sent));
  for (const s of sockets) {
    await until(() => received(s, "new_message").find((m) => m.id === sent.data.id), `delivery on ${gatewayOf(s)}`);
  }
  // the barrier: the room's next message arrives after any second copy of the first would have
  const next = await sockets[0].emitWithAck("send_message", { conversation_id: group, type: "text", content: "barrier", client_msg_id: clientId() });
  for (const s of sockets) await until(() => received(s, "new_message").find((m) => m.id === next.data.id), "the barrier message");
  for (const s of sockets) assert.equal(received(s, "new_message").filter((m) => m.id === sent.data.id).length, 1, "exactly once");

  // the Room was written once per gateway subscription, never per message
  const stats = await edgeStats({ conversations: [group] });
  const room = stats.rooms[group];
  assert.ok(room, "the room reports its counters");
  assert.ok(room.storage_writes <= perGateway.size + 1, `room storage writes: ${room.storage_writes}`);
  closeAll();
});

test("an idle socket's pongs are answered by the runtime: no Rust runs between pings", async () => {
  closeAll();
  const s = await connect(await token("alice"), "/notifications");
  let pings = 0;
  s.io.on("ping", () => pings++);
  const gateway = gatewayOf(s);
  const before = (await edgeStats({ gateways: [gateway] })).gateways[gateway];
  await sleep(INTERVAL * 3 + 500);
  const after = (await edgeStats({ gateways: [gateway] })).gateways[gateway];
  assert.ok(pings >= 2, `pings seen: ${pings}`);
  assert.ok(s.connected, "still alive: its pongs were seen (the gateway closes sockets that miss them)");
  assert.equal(after.instance, before.instance, "the same object life, so the counters compare");
  assert.equal(after.ws_messages, before.ws_messages, "no websocket_message ran for the pongs");
  assert.ok(after.alarms > before.alarms, "the pings came from the gateway's alarm");
  closeAll();
});

test("a member's other sockets get new_message on /notifications for a conversation they have not joined", async () => {
  const [ta, tb] = [await token("alice"), await token("bob")];
  const dm = await conversation(ta, "direct", ["bob"]);
  const bobList = await connect(tb, "/notifications"); // a conversation list, no room joined
  const bobRoom = await connect(tb); // another device inside the room
  assert.equal((await bobRoom.emitWithAck("join_conversation", { conversation_id: dm })).ok, true);
  await untilOnline(ta, ["bob"]); // presence reaches core in the gateways' next batch
  const send = async (content) => {
    const [status, res] = await api(ta, "POST", "/api/v1/messages", { conversation_id: dm, type: "text", content, client_msg_id: clientId() });
    assert.equal(status, 201, JSON.stringify(res));
    for (const s of [bobList, bobRoom]) await until(() => received(s, "new_message").find((m) => m.id === res.data.id), `${content} on ${s.nsp}`);
    return res.data.id;
  };
  const first = await send("ping bob");
  await send("barrier"); // arrives after any second copy of the first would have
  assert.equal(received(bobList, "new_message").filter((m) => m.id === first).length, 1);
  assert.equal(received(bobRoom, "new_message").filter((m) => m.id === first).length, 1, "no second copy inside the room");
  closeAll();
});

test("read receipts reach only the sender's devices, not the room", async () => {
  const [ta, tb, tc] = [await token("alice"), await token("bob"), await token("carol")];
  const g = await conversation(ta, "group", ["bob", "carol"]);
  const alicePhone = await connect(ta);
  const aliceWeb = await connect(ta);
  const bob = await connect(tb);
  const carol = await connect(tc);
  for (const s of [alicePhone, bob, carol]) assert.equal((await s.emitWithAck("join_conversation", { conversation_id: g })).ok, true);
  await untilOnline(ta, ["alice", "bob", "carol"]);
  const sent = await alicePhone.emitWithAck("send_message", { conversation_id: g, type: "text", content: "read me", client_msg_id: clientId() });
  await until(() => received(bob, "new_message").find((m) => m.id === sent.data.id), "bob's copy");
  const read = await bob.emitWithAck("message_read", { conversation_id: g, message_id: sent.data.id });
  assert.equal(read.ok, true, JSON.stringify(read));
  const mine = (s) => received(s, "message_status").filter((e) => e.message_id === sent.data.id);
  await until(() => mine(alicePhone).length > 0, "the status on alice's phone");
  await until(() => mine(aliceWeb).length > 0, "the status on alice's other device, outside the room");
  // barriers: a status about their own messages reaches carol and bob after bob's receipt would have
  for (const [author, reader] of [[carol, bob], [bob, alicePhone]]) {
    const own = await author.emitWithAck("send_message", { conversation_id: g, type: "text", content: "mine", client_msg_id: clientId() });
    await until(() => received(reader, "new_message").find((m) => m.id === own.data.id), "the barrier message");
    assert.equal((await reader.emitWithAck("message_read", { conversation_id: g, message_id: own.data.id })).ok, true);
    await until(() => received(author, "message_status").find((e) => e.message_id === own.data.id), "the barrier status");
  }
  assert.equal(mine(carol).length, 0, "carol, in the room, does not get bob's receipt");
  assert.equal(mine(bob).length, 0, "nor does bob himself");
  closeAll();
});

test("presence: online on the first socket, offline after the grace, no flapping on a quick reconnect", async () => {
  const [ta, tb] = [await token("erin"), await token("frank")];
  await conversation(ta, "direct", ["frank"]);
  const frank = await connect(tb);
  await untilOnline(tb, ["frank"]);
  const online = () => received(frank, "user_online").filter((e) => e.user_id === "erin").length;
  const offline = () => received(frank, "user_offline").filter((e) => e.user_id === "erin").length;

  let erin = await connect(ta);
  await until(() => online() === 1, "erin online");
  let [status, res] = await api(tb, "GET", "/api/v1/presence?user_ids=erin,nobody-at-all");
  assert.equal(status, 200, JSON.stringify(res));
  assert.deepEqual(res.data.map((p) => [p.user_id, p.online]), [["erin", true], ["nobody-at-all", false]]);

  // a reconnect inside the grace period announces nothing
  erin.close();
  await sleep(Math.min(300, GRACE / 3));
  erin = await connect(ta);
  await sleep(GRACE + 500); // past the first close's grace: a wrongly kept timer has fired by now

  erin.close();
  const closedAt = Date.now();
  // the barrier: the final offline comes after a flap would have; it is the only one, and it is the last close's
  await until(() => offline() === 1, "erin offline after the grace", GRACE + 5000);
  assert.equal(online(), 1, "no second user_online");
  [status, res] = await api(tb, "GET", "/api/v1/presence?user_ids=erin");
  assert.equal(res.data[0].online, false);
  assert.ok(Date.parse(res.data[0].last_seen_at) >= closedAt - 200, `last seen ${res.data[0].last_seen_at} is the last close, not the first`);
  assert.equal(offline(), 1, "no user_offline for the quick reconnect");
  closeAll();
});

test("a removed member's sockets leave the room on every gateway at once", async () => {
  const [ta, td] = [await token("alice"), await token("dave")];
  const g = await conversation(ta, "group", ["dave", "bob"]);
  const a = await connect(ta);
  const daves = [];
  for (let i = 0; i < MAX + 1; i++) daves.push(await connect(td)); // more than one gateway's worth
  assert.ok(new Set(daves.map(gatewayOf)).size >= 2, "dave's sockets span gateways");
  for (const s of [a, ...daves]) assert.equal((await s.emitWithAck("join_conversation", { conversation_id: g })).ok, true);
  const [status] = await api(ta, "DELETE", `/api/v1/conversations/${g}/members/dave`);
  assert.equal(status, 200);
  for (const d of daves) await until(() => received(d, "member_removed").find((e) => e.user_id === "dave"), "dave hears of his removal");
  const after = await a.emitWithAck("send_message", { conversation_id: g, type: "text", content: "after dave", client_msg_id: clientId() });
  await until(() => received(a, "new_message").find((m) => m.id === after.data.id), "alice's own copy");
  const typing = await daves[0].emitWithAck("typing_start", { conversation_id: g });
  assert.equal(typing.ok, false, "the room is left: typing is refused");
  // the barrier: added back and joined, every socket of dave's hears the next message after "after dave" would have
  const [added] = await api(ta, "POST", `/api/v1/conversations/${g}/members`, { member_ids: ["dave"] });
  assert.equal(added, 200);
  for (const d of daves) assert.equal((await d.emitWithAck("join_conversation", { conversation_id: g })).ok, true);
  const back = await a.emitWithAck("send_message", { conversation_id: g, type: "text", content: "dave is back", client_msg_id: clientId() });
  for (const d of daves) await until(() => received(d, "new_message").find((m) => m.id === back.data.id), "dave's copy once back");
  for (const d of daves) assert.equal(received(d, "new_message").find((m) => m.id === after.data.id), undefined, "nothing after removal");
  closeAll();
});
