// The gateway shape: many sockets per Gateway object, fan-out once per
// gateway, idle sockets that cost nothing, and what every online member
// hears. The suite runs the edge with GATEWAY_MAX_SOCKETS small (see run.sh),
// so a handful of sockets already spreads over several gateways.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { api, clientId, closeAll, connect, conversation, edgeStats, gatewayOf, received, sleep, token, until } from "./helpers.mjs";

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
  await sleep(200);
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
  await sleep(300); // presence reaches core in its next batch
  const [status, res] = await api(ta, "POST", "/api/v1/messages", { conversation_id: dm, type: "text", content: "ping bob", client_msg_id: clientId() });
  assert.equal(status, 201, JSON.stringify(res));
  await until(() => received(bobList, "new_message").find((m) => m.id === res.data.id), "the /notifications copy");
  await until(() => received(bobRoom, "new_message").find((m) => m.id === res.data.id), "the room copy");
  await sleep(200);
  assert.equal(received(bobList, "new_message").filter((m) => m.id === res.data.id).length, 1);
  assert.equal(received(bobRoom, "new_message").filter((m) => m.id === res.data.id).length, 1, "no second copy inside the room");
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
  await sleep(300);
  const sent = await alicePhone.emitWithAck("send_message", { conversation_id: g, type: "text", content: "read me", client_msg_id: clientId() });
  await until(() => received(bob, "new_message").find((m) => m.id === sent.data.id), "bob's copy");
  const read = await bob.emitWithAck("message_read", { conversation_id: g, message_id: sent.data.id });
  assert.equal(read.ok, true, JSON.stringify(read));
  const mine = (s) => received(s, "message_status").filter((e) => e.message_id === sent.data.id);
  await until(() => mine(alicePhone).length > 0, "the status on alice's phone");
  await until(() => mine(aliceWeb).length > 0, "the status on alice's other device, outside the room");
  await sleep(300);
  assert.equal(mine(carol).length, 0, "carol, in the room, does not get bob's receipt");
  assert.equal(mine(bob).length, 0, "nor does bob himself");
  closeAll();
});

test("presence: online on the first socket, offline after the grace, no flapping on a quick reconnect", async () => {
  const [ta, tb] = [await token("erin"), await token("frank")];
  await conversation(ta, "direct", ["frank"]);
  const frank = await connect(tb);
  await sleep(300);
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
  await sleep(GRACE + 1000);
  assert.equal(offline(), 0, "no user_offline for a quick reconnect");
  assert.equal(online(), 1, "and no second user_online");

  erin.close();
  await until(() => offline() === 1, "erin offline after the grace", GRACE + 5000);
  [status, res] = await api(tb, "GET", "/api/v1/presence?user_ids=erin");
  assert.equal(res.data[0].online, false);
  assert.ok(res.data[0].last_seen_at, "last seen is set");
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
  await sleep(300);
  for (const d of daves) assert.equal(received(d, "new_message").find((m) => m.id === after.data.id), undefined, "nothing after removal");
  const typing = await daves[0].emitWithAck("typing_start", { conversation_id: g });
  assert.equal(typing.ok, false, "the room is left: typing is refused");
  closeAll();
});
