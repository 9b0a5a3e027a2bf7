// The reference for the benchmark: npm `socket.io` in memory, with the edge's
// events on `/messaging` (join_conversation, send_message → new_message to the
// room) and a connectable `/notifications`. No auth check: any token string is
// accepted; the user is `auth.user`, else the JWT's unverified `sub`.
//
//   PORT=0 PING_INTERVAL_MS=25000 PING_TIMEOUT_MS=20000 node bench/reference-server.mjs
// Prints `listening <port>` on stdout once it accepts connections.
import { createServer } from "node:http";
import { randomUUID } from "node:crypto";
import { Server } from "socket.io";

const port = Number(process.env.PORT || 0);
const http = createServer((req, res) => {
  res.writeHead(req.url === "/health" ? 200 : 404, { "content-type": "application/json" });
  res.end(JSON.stringify({ status: "ok" }));
});
const io = new Server(http, {
  transports: ["websocket"],
  pingInterval: Number(process.env.PING_INTERVAL_MS || 25000),
  pingTimeout: Number(process.env.PING_TIMEOUT_MS || 20000),
  serveClient: false,
});

function userOf(auth) {
  if (auth && typeof auth.user === "string") return auth.user;
  const token = auth && auth.token;
  if (typeof token !== "string" || !token) return null;
  try {
    return JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString()).sub || token;
  } catch {
    return token;
  }
}

const seqs = new Map(); // conversation_id -> last seq
const fail = (code, message) => ({ ok: false, error: { code, message } });
const reply = (ack, value) => typeof ack === "function" && ack(value);

for (const name of ["/messaging", "/notifications"]) {
  io.of(name).use((socket, next) => {
    const user = userOf(socket.handshake.auth);
    if (!user) return next(new Error("UNAUTHORIZED"));
    socket.data.user = user;
    next();
  });
}

io.of("/messaging").on("connection", (socket) => {
  socket.on("join_conversation", (p, ack) => {
    if (!p || typeof p.conversation_id !== "string") return reply(ack, fail("VALIDATION_ERROR", "conversation_id"));
    socket.join(p.conversation_id);
    reply(ack, { ok: true, data: { conversation_id: p.conversation_id } });
  });
  socket.on("leave_conversation", (p, ack) => {
    if (p && typeof p.conversation_id === "string") socket.leave(p.conversation_id);
    reply(ack, { ok: true, data: { conversation_id: p && p.conversation_id } });
  });
  socket.on("send_message", (p, ack) => {
    if (!p || typeof p.conversation_id !== "string" || typeof p.content !== "string") {
      return reply(ack, fail("VALIDATION_ERROR", "conversation_id and content"));
    }
    if (!socket.rooms.has(p.conversation_id)) return reply(ack, fail("FORBIDDEN", "join the conversation first"));
    const seq = (seqs.get(p.conversation_id) || 0) + 1;
    seqs.set(p.conversation_id, seq);
    const message = {
      id: randomUUID(),
      conversation_id: p.conversation_id,
      seq,
      sender_id: socket.data.user,
      type: p.type || "text",
      content: p.content,
      client_msg_id: p.client_msg_id ?? null,
      created_at: new Date().toISOString(),
    };
    reply(ack, { ok: true, data: message });
    io.of("/messaging").to(p.conversation_id).emit("new_message", message);
  });
});
io.of("/notifications").on("connection", () => {});

http.listen(port, "127.0.0.1", () => console.log(`listening ${http.address().port}`));
for (const sig of ["SIGTERM", "SIGINT"]) process.on(sig, () => process.exit(0));
