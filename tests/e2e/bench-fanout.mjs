// Fan-out and round-trip benchmark against a running stack (make dev, or the
// e2e stack): 1 sender, N receivers in one room. Not part of `make test`.
//
//   EDGE_URL=http://127.0.0.1:8787 TMS_URL=http://127.0.0.1:8100 node tests/e2e/bench-fanout.mjs
//
// Env: RECEIVERS (20), MESSAGES (200), MODE (ws|rest|both), REST_CONCURRENCY (4).
// WS sends are paced under the per-user limit (10 msg/s); REST sends are not.
import { api, connect, closeAll, conversation, received, sleep, token, until, clientId } from "./helpers.mjs";

const RECEIVERS = Number(process.env.RECEIVERS || 20);
const MESSAGES = Number(process.env.MESSAGES || 200);
const MODE = process.env.MODE || "both";
const REST_CONCURRENCY = Number(process.env.REST_CONCURRENCY || 4);

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const fmt = (xs) => `p50 ${pct(xs, 50).toFixed(1)} ms, p99 ${pct(xs, 99).toFixed(1)} ms, max ${Math.max(...xs).toFixed(1)} ms`;

const senderToken = await token("alice");
const ids = Array.from({ length: RECEIVERS }, (_, i) => `load-${String(i + 1).padStart(3, "0")}`);
const room = await conversation(senderToken, "group", ids);
const sender = await connect(senderToken);
await sender.emitWithAck("join_conversation", { conversation_id: room });
const receivers = [];
const joinTimes = [];
for (const id of ids) {
  const s = await connect(await token(id));
  const t0 = performance.now();
  const joined = await s.emitWithAck("join_conversation", { conversation_id: room });
  joinTimes.push(performance.now() - t0);
  if (!joined.ok) throw new Error(`join failed for ${id}: ${JSON.stringify(joined)}`);
  receivers.push(s);
}
console.log(`join_conversation round trip (${joinTimes.length} joins): ${fmt(joinTimes)}`);
const arrivals = new Map(); // content -> [receive times]
for (const s of receivers) {
  s.on("new_message", (m) => {
    const list = arrivals.get(m.content) || [];
    list.push(performance.now());
    arrivals.set(m.content, list);
  });
}

async function run(label, sendOne, pacedMs, concurrency = 1) {
  arrivals.clear();
  const sentAt = new Map();
  const rtts = [];
  const start = performance.now();
  let next = 0;
  async function worker() {
    while (next < MESSAGES) {
      const i = next++;
      const content = `${label}-${i}`;
      const t0 = performance.now();
      sentAt.set(content, t0);
      await sendOne(content);
      rtts.push(performance.now() - t0);
      if (pacedMs) await sleep(Math.max(0, pacedMs - (performance.now() - t0)));
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  const expected = MESSAGES * RECEIVERS;
  const count = () => [...arrivals.values()].reduce((n, l) => n + l.length, 0);
  await until(() => count() >= expected, `${expected} deliveries`, 60_000).catch(() => {});
  const end = Math.max(...[...arrivals.values()].flat());
  const latencies = [...arrivals.entries()].flatMap(([c, ts]) => ts.map((t) => t - sentAt.get(c)));
  const seconds = (end - start) / 1000;
  console.log(`${label}: ${MESSAGES} messages x ${RECEIVERS} receivers, delivered ${count()}/${expected} in ${seconds.toFixed(2)} s`);
  console.log(`  sends/s ${(MESSAGES / seconds).toFixed(1)}, deliveries/s ${(count() / seconds).toFixed(1)}`);
  console.log(`  send round trip (ack or 201): ${fmt(rtts)}`);
  console.log(`  fan-out latency (send -> receiver): ${fmt(latencies)}`);
}

if (MODE === "ws" || MODE === "both") {
  await run(
    "ws",
    async (content) => {
      const ack = await sender.emitWithAck("send_message", { conversation_id: room, type: "text", content, client_msg_id: clientId() });
      if (!ack.ok) throw new Error(JSON.stringify(ack));
    },
    110, // under 10 msg/s: the per-socket limit
  );
}
if (MODE === "rest" || MODE === "both") {
  await run(
    "rest",
    async (content) => {
      const [status, body] = await api(senderToken, "POST", "/api/v1/messages", { conversation_id: room, type: "text", content });
      if (status !== 201) throw new Error(`${status} ${JSON.stringify(body)}`);
    },
    0,
    REST_CONCURRENCY,
  );
}
closeAll();
process.exit(0);
