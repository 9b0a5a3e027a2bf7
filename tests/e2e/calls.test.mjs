// Calls over `/calls` through the edge (workerd) against core, with the
// official socket.io-client: ringing every device of the callees, accept,
// SDP offer/answer and ICE relayed to the addressed participant only, end,
// history; refusals; a missed call (run.sh sets CALL_RING_TIMEOUT_SECS=3).
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { api, closeAll, connect, conversation, received, roundTrip, sleep, sql, token, until, untilOnline } from "./helpers.mjs";

after(closeAll);

/** A socket on `nsp` that also keeps every raw Engine.IO message of its connection. */
async function recording(tok, nsp) {
  const socket = await connect(tok, nsp);
  socket.raw = [];
  socket.io.engine.on("message", (data) => socket.raw.push(String(data)));
  return socket;
}

/** Every user online at core, and a moment for a second gateway of the same user to report in its own batch. */
async function online(tok, users) {
  await untilOnline(tok, users);
  await sleep(300);
}

const ofCall = (socket, name, id) => received(socket, name).filter((e) => (e.call?.id ?? e.call_id) === id);

test("a call: every device of the callees rings, signals reach the addressed participant only, history shows it completed", async () => {
  const tok = Object.fromEntries(await Promise.all(["alice", "bob", "carol"].map(async (u) => [u, await token(u)])));
  const group = await conversation(tok.alice, "group", ["bob", "carol"]);
  const alice = await connect(tok.alice, "/calls");
  const bob1 = await connect(tok.bob, "/calls");
  const bob2 = await connect(tok.bob, "/calls");
  const bobChat = await recording(tok.bob, "/messaging"); // a socket that never connected /calls
  const carol = await connect(tok.carol, "/calls");
  await online(tok.alice, ["bob", "carol"]);

  const invited = await alice.emitWithAck("call_invite", { conversation_id: group, type: "video" });
  assert.equal(invited.ok, true, JSON.stringify(invited));
  const call = invited.data;
  assert.equal(call.status, "ringing");
  assert.equal(call.type, "video");
  assert.deepEqual(call.participants.map((p) => [p.user_id, p.status]), [["alice", "joined"], ["bob", "ringing"], ["carol", "ringing"]]);
  assert.equal(sql(`SELECT status FROM calls WHERE id = '${call.id}'`), "ringing");

  // every device of every callee rings; the caller's socket does not
  for (const [name, s] of [["bob1", bob1], ["bob2", bob2], ["carol", carol]]) {
    const invite = await until(() => ofCall(s, "call_invite", call.id)[0], `${name}'s call_invite`);
    assert.equal(invite.user_id, "alice");
    assert.equal(invite.call.status, "ringing");
  }
  assert.equal(ofCall(alice, "call_invite", call.id).length, 0);

  const accepted = await bob1.emitWithAck("call_accept", { call_id: call.id });
  assert.equal(accepted.ok, true, JSON.stringify(accepted));
  assert.equal(accepted.data.status, "ongoing");
  // the caller hears it; bob's other device stops ringing; carol still rings
  for (const [name, s] of [["alice", alice], ["bob2", bob2], ["carol", carol]]) {
    const told = await until(() => ofCall(s, "call_accept", call.id)[0], `${name}'s call_accept`);
    assert.equal(told.user_id, "bob");
  }

  const offer = { type: "offer", sdp: "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n" };
  const sent = await alice.emitWithAck("call_signal", { call_id: call.id, to_user_id: "bob", kind: "offer", payload: offer });
  assert.deepEqual(sent, { ok: true, data: { call_id: call.id, to_user_id: "bob", kind: "offer" } });
  for (const [name, s] of [["bob1", bob1], ["bob2", bob2]]) {
    const got = await until(() => ofCall(s, "call_signal", call.id)[0], `${name}'s offer`);
    assert.deepEqual(got, { call_id: call.id, from_user_id: "alice", kind: "offer", payload: offer });
  }
  const answer = { type: "answer", sdp: "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n" };
  const bobIce = [{ candidate: "candidate:1 1 udp 2122260223 192.168.1.2 54400 typ host", sdpMid: "0", sdpMLineIndex: 0 }];
  const aliceIce = [{ candidate: "candidate:2 1 udp 2122260223 192.168.1.3 54401 typ host", sdpMid: "0", sdpMLineIndex: 0 }];
  // bob answers and trickles without waiting for acks: they arrive in his order
  const acks = await Promise.all([
    bob1.emitWithAck("call_signal", { call_id: call.id, to_user_id: "alice", kind: "answer", payload: answer }),
    bob1.emitWithAck("call_signal", { call_id: call.id, to_user_id: "alice", kind: "ice", payload: bobIce }),
    alice.emitWithAck("call_signal", { call_id: call.id, to_user_id: "bob", kind: "ice", payload: aliceIce }),
  ]);
  for (const a of acks) assert.equal(a.ok, true, JSON.stringify(a));
  await until(() => ofCall(alice, "call_signal", call.id).length === 2, "alice's answer and ICE");
  assert.deepEqual(ofCall(alice, "call_signal", call.id).map((s) => [s.from_user_id, s.kind]), [["bob", "answer"], ["bob", "ice"]]);
  assert.deepEqual(ofCall(alice, "call_signal", call.id)[1].payload, bobIce);
  await until(() => ofCall(bob2, "call_signal", call.id).length === 2, "bob2's offer and ICE");
  assert.deepEqual(ofCall(bob1, "call_signal", call.id)[1].payload, aliceIce);

  const ended = await alice.emitWithAck("call_end", { call_id: call.id });
  assert.equal(ended.ok, true, JSON.stringify(ended));
  assert.equal(ended.data.status, "completed");
  assert.equal(typeof ended.data.duration_secs, "number");
  for (const [name, s] of [["bob1", bob1], ["bob2", bob2], ["carol", carol]]) {
    const end = await until(() => ofCall(s, "call_end", call.id)[0], `${name}'s call_end`);
    assert.equal(end.call.status, "completed");
    assert.equal(end.user_id, "alice");
  }
  // barriers: call_end reached each socket after the signals would have; bob's chat socket answers a round trip
  await roundTrip(bobChat);
  // the third member's socket got none of it; a socket that never connected /calls got no /calls frame
  assert.equal(received(carol, "call_signal").length, 0, "carol must not get the signals");
  assert.deepEqual(bobChat.raw.filter((m) => m.includes("/calls")), []);
  assert.equal(ofCall(bob1, "call_signal", call.id).filter((s) => s.from_user_id === "bob").length, 0, "no echo");

  const [status, history] = await api(tok.carol, "GET", `/api/v1/conversations/${group}/calls`);
  assert.equal(status, 200, JSON.stringify(history));
  const listed = history.data.find((c) => c.id === call.id);
  assert.equal(listed.status, "completed");
  assert.equal(listed.end_reason, "hangup");
  assert.ok(listed.duration_secs >= 0 && listed.answered_at && listed.ended_at, JSON.stringify(listed));
  assert.deepEqual(listed.participants.map((p) => [p.user_id, p.status]), [["alice", "left"], ["bob", "left"], ["carol", "missed"]]);
  assert.equal(sql(`SELECT status || ',' || end_reason FROM calls WHERE id = '${call.id}'`), "completed,hangup");
  closeAll();
});

test("refusals: bad input, a non-member, a signal to oneself, to a non-participant or too large, a busy callee", async () => {
  const tok = Object.fromEntries(await Promise.all(["alice", "bob", "carol", "dave"].map(async (u) => [u, await token(u)])));
  const dm = await conversation(tok.alice, "direct", ["bob"]);
  const carolBob = await conversation(tok.carol, "direct", ["bob"]);
  const alice = await connect(tok.alice, "/calls");
  const carol = await connect(tok.carol, "/calls");
  const dave = await connect(tok.dave, "/calls");

  assert.equal(code(await dave.emitWithAck("call_invite", { conversation_id: dm, type: "voice" })), "FORBIDDEN");
  assert.equal(code(await alice.emitWithAck("call_invite", { conversation_id: dm, type: "fax" })), "VALIDATION_ERROR");
  assert.equal(code(await alice.emitWithAck("call_invite", { conversation_id: "nope", type: "voice" })), "VALIDATION_ERROR");
  assert.equal(code(await alice.emitWithAck("call_hold", { call_id: dm })), "BAD_REQUEST");
  // alice's socket sends 13 events here: stay under its guard (10/s, burst 10)
  await sleep(1000);
  assert.equal(Number(sql(`SELECT count(*) FROM calls WHERE conversation_id = '${dm}'`)), 0, "nothing stored");

  const { data: call } = await alice.emitWithAck("call_invite", { conversation_id: dm, type: "voice" });
  const signal = (socket, body) => socket.emitWithAck("call_signal", { call_id: call.id, kind: "ice", payload: {}, ...body });
  assert.equal(code(await signal(alice, { to_user_id: "alice" })), "VALIDATION_ERROR");
  assert.equal(code(await signal(alice, { to_user_id: "dave" })), "UNPROCESSABLE");
  assert.equal(code(await signal(alice, { to_user_id: "bob", kind: "bye" })), "VALIDATION_ERROR");
  assert.equal(code(await signal(alice, { to_user_id: "bob", payload: { sdp: "x".repeat(16 * 1024) } })), "PAYLOAD_TOO_LARGE");
  assert.equal(code(await signal(dave, { to_user_id: "bob" })), "FORBIDDEN");
  assert.equal(code(await dave.emitWithAck("call_accept", { call_id: call.id })), "FORBIDDEN");
  assert.equal(code(await alice.emitWithAck("call_accept", { call_id: "00000000-0000-4000-8000-000000000000" })), "NOT_FOUND");
  assert.equal(code(await alice.emitWithAck("call_reject", { call_id: call.id })), "CONFLICT", "the caller cannot reject");

  // bob rings in alice's call: carol's DM call to him is busy, nothing stored
  const busy = await carol.emitWithAck("call_invite", { conversation_id: carolBob, type: "voice" });
  assert.equal(code(busy), "BUSY", JSON.stringify(busy));
  assert.equal(Number(sql(`SELECT count(*) FROM calls WHERE conversation_id = '${carolBob}'`)), 0);

  const ended = await alice.emitWithAck("call_end", { call_id: call.id });
  assert.equal(ended.data.status, "missed", "hung up before an answer");
  closeAll();
});

test("an unanswered call is missed after the ring timeout, and both sides are told", async () => {
  const [te, tf] = [await token("erin"), await token("frank")];
  const dm = await conversation(te, "direct", ["frank"]);
  const erin = await connect(te, "/calls");
  const frank = await connect(tf, "/calls");
  await online(te, ["erin", "frank"]);
  const { ok, data: call } = await erin.emitWithAck("call_invite", { conversation_id: dm, type: "voice" });
  assert.equal(ok, true);
  await until(() => ofCall(frank, "call_invite", call.id)[0], "frank's call_invite");
  const started = Date.now();
  for (const [name, s] of [["erin", erin], ["frank", frank]]) {
    const end = await until(() => ofCall(s, "call_end", call.id)[0], `${name}'s call_end`, 8000);
    assert.equal(end.call.status, "missed");
    assert.equal(end.call.end_reason, "timeout");
    assert.equal(end.user_id, null);
  }
  assert.ok(Date.now() - started < 6000, "within the ring timeout and a sweep");
  const [, got] = await api(tf, "GET", `/api/v1/calls/${call.id}`);
  assert.deepEqual(got.data.participants.map((p) => [p.user_id, p.status]), [["erin", "left"], ["frank", "missed"]]);
  assert.equal(code(await frank.emitWithAck("call_accept", { call_id: call.id })), "CONFLICT", "too late");
  closeAll();
});

function code(ack) {
  return ack.error?.code;
}
