#!/usr/bin/env node
// A tiny terminal chat through the edge, with the official socket.io client.
// With `make dev` running, in two terminals:
//   node scripts/chat.mjs alice bob
//   node scripts/chat.mjs bob alice
// Type a line to send it. Env: EDGE_URL (http://127.0.0.1:8787), TMS_URL (http://127.0.0.1:8100).
import readline from "node:readline";
import { io } from "socket.io-client";

const [me, peer] = process.argv.slice(2);
if (!me || !peer) {
  console.error("usage: node scripts/chat.mjs <me> <peer>   (users: alice bob carol dave erin frank)");
  process.exit(2);
}
const EDGE = process.env.EDGE_URL || "http://127.0.0.1:8787";
const TMS = process.env.TMS_URL || "http://127.0.0.1:8100";

const tokenResp = await fetch(`${TMS}/dev/token/${encodeURIComponent(me)}`);
if (!tokenResp.ok) throw new Error(`no dev token for ${me}: ${tokenResp.status}`);
const { token } = await tokenResp.json();

// the DM exists once per pair: creating it again returns the same conversation
const created = await fetch(`${EDGE}/api/v1/conversations`, {
  method: "POST",
  headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
  body: JSON.stringify({ type: "direct", member_ids: [peer] }),
});
const conv = await created.json();
if (!conv.success) throw new Error(`cannot open a DM: ${JSON.stringify(conv.error)}`);
const conversationId = conv.data.id;

const socket = io(`${EDGE}/messaging`, { transports: ["websocket"], auth: { token } });
let lastSeq = 0;
socket.on("connect_error", (e) => console.error(`connect error: ${e.message} ${JSON.stringify(e.data ?? {})}`));
socket.on("connect", async () => {
  const joined = await socket.emitWithAck("join_conversation", { conversation_id: conversationId });
  if (!joined.ok) return console.error(`join refused: ${JSON.stringify(joined.error)}`);
  // catch up on what was sent while we were away
  const r = await fetch(`${EDGE}/api/v1/conversations/${conversationId}/messages?after_seq=${lastSeq}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  for (const m of (await r.json()).data ?? []) show(m);
  console.log(`-- ${me} in DM with ${peer} (${conversationId}); type and press enter --`);
});
socket.on("new_message", show);
socket.on("user_typing", (t) => t.typing && console.log(`   (${t.user_id} is typing…)`));

function show(m) {
  if (m.seq <= lastSeq) return;
  lastSeq = m.seq;
  console.log(`[${m.seq}] ${m.sender_id}: ${m.content ?? "(deleted)"}`);
}

const rl = readline.createInterface({ input: process.stdin });
let typingTimer;
rl.on("line", async (line) => {
  if (!line.trim()) return;
  clearTimeout(typingTimer);
  socket.emit("typing_stop", { conversation_id: conversationId });
  const ack = await socket.emitWithAck("send_message", {
    conversation_id: conversationId,
    type: "text",
    content: line,
    client_msg_id: `${me}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`,
  });
  if (!ack.ok) console.error(`not sent: ${ack.error.code} ${ack.error.message}`);
});
process.stdin.on("data", () => {
  socket.emit("typing_start", { conversation_id: conversationId });
  clearTimeout(typingTimer);
  typingTimer = setTimeout(() => socket.emit("typing_stop", { conversation_id: conversationId }), 3000);
});
rl.on("close", () => {
  socket.close();
  process.exit(0);
});
