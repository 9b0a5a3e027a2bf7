// Load generator for the benchmark (official socket.io-client, websocket only).
//
//   node bench/load.mjs --url http://127.0.0.1:PORT --target reference|edge \
//     --workload rooms --rooms 1 --members 20 --rate 10 --duration 15 --warmup 3 --out result.json
//   node bench/load.mjs --url ... --target edge --workload idle --sockets 2000 --cycles 3 \
//     --ping-interval-ms 5000 --rss-root PID --rss-comm workerd --out idle.json
//
// `--target edge` takes tokens from the TMS stand-in (--tms URL, users
// load-001…load-500) and creates group conversations through the edge's REST;
// `--target reference` makes up ids. With --secret (INTERNAL_API_SECRET) it
// reads the edge's own counters before and after (`/internal/v1/stats`).
import { randomUUID } from "node:crypto";
import { writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { io } from "socket.io-client";
import { edgeStats, gatewayOf, now, pct, sleep, statsDelta, treeRss } from "./lib.mjs";

const { values: o } = parseArgs({
  options: {
    url: { type: "string" },
    target: { type: "string", default: "reference" },
    tms: { type: "string", default: process.env.TMS_URL },
    secret: { type: "string", default: process.env.INTERNAL_API_SECRET },
    workload: { type: "string", default: "rooms" },
    rooms: { type: "string", default: "1" },
    members: { type: "string", default: "20" },
    rate: { type: "string", default: "10" }, // msg/s per member
    duration: { type: "string", default: "15" }, // measured seconds
    warmup: { type: "string", default: "3" },
    drain: { type: "string", default: "12" }, // max seconds to wait for stragglers after the last send
    "ack-timeout": { type: "string", default: "10000" },
    sockets: { type: "string", default: "2000" },
    cycles: { type: "string", default: "3" },
    "ping-interval-ms": { type: "string", default: "25000" },
    concurrency: { type: "string", default: "10" }, // connects in flight
    "connect-budget": { type: "string", default: "90" }, // s: idle sockets not started by then are not attempted
    "rss-root": { type: "string" },
    "rss-comm": { type: "string" },
    "keep-latencies": { type: "string", default: "20000" }, // samples kept for the plot
    out: { type: "string" },
  },
});
if (!o.url) throw new Error("--url is required");
const num = (k) => Number(o[k]);
const EDGE = o.target === "edge";
const log = (...a) => console.error(`[load ${o.target}/${o.workload}]`, ...a);

// ---------- identities and rooms ----------

const tokens = new Map();
async function authFor(user) {
  if (!EDGE) return { token: "reference", user };
  if (!tokens.has(user)) {
    const r = await fetch(`${o.tms}/dev/token`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ sub: user }),
      signal: AbortSignal.timeout(10_000),
    });
    if (r.status !== 200) throw new Error(`token for ${user}: ${r.status} ${await r.text()}`);
    tokens.set(user, (await r.json()).token);
  }
  return { token: tokens.get(user) };
}

async function createRoom(users) {
  if (!EDGE) return randomUUID();
  const { token } = await authFor(users[0]);
  // a server still busy with the previous workload may answer 5xx for a while
  for (let attempt = 1; ; attempt++) {
    try {
      return await createRoomOnce(users, token);
    } catch (e) {
      if (attempt >= 6) throw e;
      log(`${e.message}; retrying in 5 s`);
      await sleep(5000);
    }
  }
}

async function createRoomOnce(users, token) {
  const r = await fetch(`${o.url}/api/v1/conversations`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ type: "group", title: "bench room", member_ids: users.slice(1) }),
    signal: AbortSignal.timeout(15_000),
  });
  const body = await r.json().catch(() => ({}));
  if (r.status !== 201 && r.status !== 200) throw new Error(`create conversation: ${r.status} ${JSON.stringify(body)}`);
  return body.data.id;
}

const loadUser = (i) => `load-${String((i % 500) + 1).padStart(3, "0")}`;

/** Runs `fn` over items with at most `limit` in flight; starts none after `deadline` (a now() value). */
async function pool(items, limit, fn, deadline = Infinity) {
  let next = 0;
  const results = new Array(items.length);
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length && now() < deadline) {
        const i = next++;
        results[i] = await fn(items[i], i);
      }
    }),
  );
  return results;
}

const sockets = [];
let dropped = 0; // server-side or ping-timeout disconnects of connected sockets
const dropReasons = {};
/** Resolves to a connected socket, or null after a connect error or 15 s. */
function connect(auth) {
  return new Promise((resolve) => {
    const socket = io(`${o.url}/messaging`, { transports: ["websocket"], auth, reconnection: false, forceNew: true, timeout: 15_000 });
    sockets.push(socket);
    socket.on("disconnect", (reason) => {
      if (reason === "io client disconnect") return;
      dropped++;
      dropReasons[reason] = (dropReasons[reason] || 0) + 1;
    });
    const timer = setTimeout(() => done(null, "timeout"), 15_000);
    const done = (value, why) => {
      clearTimeout(timer);
      if (!value) {
        socket.connectError = why;
        socket.close();
      }
      resolve(value);
    };
    socket.once("connect", () => done(socket));
    socket.once("connect_error", (e) => done(null, String(e.message || e)));
  });
}
const closeAll = () => sockets.forEach((s) => s.close());
const rss = () => (o["rss-root"] ? treeRss(Number(o["rss-root"]), o["rss-comm"] || "workerd") : null);

// ---------- workload: rooms of members sending at a fixed rate ----------

async function rooms() {
  const R = num("rooms"), M = num("members"), rate = num("rate");
  const period = 1000 / rate, ackTimeout = num("ack-timeout");
  const convs = [];
  for (let r = 0; r < R; r++) convs.push(await createRoom(Array.from({ length: M }, (_, m) => loadUser(r * M + m))));
  log(`${R} room(s) of ${M} created`);

  const members = []; // {socket, room, idx}
  const connectErrors = {};
  const t0 = now();
  await pool(Array.from({ length: R * M }, (_, i) => i), num("concurrency"), async (i) => {
    const socket = await connect(await authFor(loadUser(i)));
    if (!socket) return;
    const room = Math.floor(i / M), idx = i % M;
    const ack = await socket.timeout(15_000).emitWithAck("join_conversation", { conversation_id: convs[room] }).catch((e) => ({ ok: false, error: { code: String(e.message) } }));
    if (!ack.ok) {
      connectErrors[ack.error?.code || "JOIN_FAILED"] = (connectErrors[ack.error?.code || "JOIN_FAILED"] || 0) + 1;
      return;
    }
    members.push({ socket, room, idx });
  });
  for (const s of sockets) if (s.connectError) connectErrors[s.connectError] = (connectErrors[s.connectError] || 0) + 1;
  log(`${members.length}/${R * M} sockets joined in ${((now() - t0) / 1000).toFixed(1)} s`);
  if (members.length < R * M) throw new Error(`only ${members.length}/${R * M} sockets joined: ${JSON.stringify(connectErrors)}`);

  const gateways = new Set(members.map((m) => gatewayOf(m.socket.io.engine.id)).filter(Boolean));
  // the counters bracket the send phase; the joins before it are not counted
  const statsBefore = EDGE ? await edgeStats(o.url, o.secret, gateways, convs) : null;
  const msgs = new Map(); // key -> record
  const lastSeq = new Map(); // `${room}|${idx}` -> last seq seen
  let orderViolations = 0, duplicates = 0, selfEchoes = 0, windowDeliveries = 0, foreign = 0;
  const latencies = [];
  const ackLatencies = [];
  const ackCodes = {};
  const start = now() + 200;
  const measureFrom = start + num("warmup") * 1000;
  const sendEnd = measureFrom + num("duration") * 1000;

  for (const m of members) {
    m.socket.on("new_message", (msg) => {
      const t = now();
      const last = lastSeq.get(`${m.room}|${m.idx}`) ?? 0;
      if (!(msg.seq > last)) orderViolations++;
      else lastSeq.set(`${m.room}|${m.idx}`, msg.seq);
      const parts = typeof msg.content === "string" ? msg.content.split("|") : [];
      if (parts[0] !== "b") return void foreign++;
      const rec = msgs.get(`${parts[1]}|${parts[2]}|${parts[3]}`);
      if (!rec) return void foreign++;
      if (rec.sender === m.idx) return void selfEchoes++;
      if (rec.got[m.idx]) return void duplicates++;
      rec.got[m.idx] = 1;
      rec.received++;
      if (t >= measureFrom && t <= sendEnd) windowDeliveries++;
      if (rec.measured) latencies.push(t - rec.sentAt);
    });
  }

  let sent = 0;
  await new Promise((resolve) => {
    let running = members.length;
    for (const m of members) {
      let n = 0;
      const tick = () => {
        const t = now();
        if (t >= sendEnd) {
          clearInterval(m.timer);
          if (--running === 0) resolve();
          return;
        }
        const rec = { room: m.room, sender: m.idx, sentAt: t, measured: t >= measureFrom, ack: null, got: new Uint8Array(M), received: 0 };
        const id = `${m.room}|${m.idx}|${n++}`;
        msgs.set(id, rec);
        sent++;
        m.socket.timeout(ackTimeout).emit(
          "send_message",
          { conversation_id: convs[m.room], type: "text", content: `b|${id}|${t.toFixed(3)}`, client_msg_id: randomUUID() },
          (err, res) => {
            const code = err ? "ACK_TIMEOUT" : res && res.ok ? "ok" : res?.error?.code || "BAD_ACK";
            rec.ack = code;
            if (rec.measured) {
              if (!err) ackLatencies.push(now() - rec.sentAt);
              ackCodes[code] = (ackCodes[code] || 0) + 1;
            }
          },
        );
      };
      // evenly paced, each member at its own random phase, so the per-socket
      // token bucket (10/s) sees a steady stream rather than bursts
      setTimeout(() => {
        tick();
        m.timer = setInterval(tick, period);
      }, start - now() + Math.random() * period);
    }
  });
  const measured = [...msgs.values()].filter((r) => r.measured);
  // a message is expected everywhere unless the server refused it in its ack;
  // one whose ack timed out may still arrive (and counts as lost if it does not)
  const expected = (r) => r.ack === "ok" || r.ack === "ACK_TIMEOUT";
  const complete = () => measured.every((r) => r.ack !== null && (!expected(r) || r.received >= M - 1));
  const drainUntil = now() + Math.max(num("drain") * 1000, ackTimeout + 1000);
  while (!complete() && now() < drainUntil) await sleep(100);
  const drained = (now() - sendEnd) / 1000;
  log(`sent ${sent}, drained for ${drained.toFixed(1)} s`);
  const statsAfter = EDGE ? await edgeStats(o.url, o.secret, gateways, convs) : null;

  const offered = measured.length * (M - 1);
  const received = measured.reduce((n, r) => n + r.received, 0);
  const lost = measured.filter(expected).reduce((n, r) => n + (M - 1 - r.received), 0);
  const seconds = num("duration");
  const sample = latencies.length > num("keep-latencies") ? latencies.filter((_, i) => i % Math.ceil(latencies.length / num("keep-latencies")) === 0) : latencies;
  return {
    rooms: R,
    members: M,
    rate_per_member: rate,
    duration_s: seconds,
    warmup_s: num("warmup"),
    conversations: convs,
    gateways: [...gateways],
    // distinct gateways holding each room's members: the per-message bound is 1 + this
    gateways_per_room: Array.from({ length: R }, (_, r) => new Set(members.filter((m) => m.room === r).map((m) => gatewayOf(m.socket.io.engine.id)).filter(Boolean)).size),
    sent_measured: measured.length,
    sends_per_s: measured.length / seconds,
    offered_deliveries: offered,
    offered_deliveries_per_s: offered / seconds,
    received,
    deliveries_per_s: windowDeliveries / seconds,
    delivered_pct: offered ? (100 * received) / offered : 0,
    lost,
    order_violations: orderViolations,
    duplicates,
    self_echoes: selfEchoes,
    unknown_messages: foreign,
    latency_ms: { p50: pct(latencies, 50), p99: pct(latencies, 99), max: pct(latencies, 100), n: latencies.length },
    ack_ms: { p50: pct(ackLatencies, 50), p99: pct(ackLatencies, 99), n: ackLatencies.length },
    acks: ackCodes,
    rate_limited: ackCodes.RATE_LIMITED || 0,
    drained_s: drained,
    connect_errors: connectErrors,
    dropped_sockets: dropped,
    drop_reasons: dropReasons,
    sent_total: sent,
    acked_ok_total: [...msgs.values()].filter((r) => r.ack === "ok").length,
    stats_before: statsBefore,
    stats_after: statsAfter,
    stats_delta: EDGE ? statsDelta(statsBefore, statsAfter) : null,
    latency_sample_ms: sample.map((x) => Math.round(x * 100) / 100),
  };
}

// ---------- workload: idle sockets held across ping cycles ----------

async function idle() {
  const N = num("sockets"), cycles = num("cycles"), interval = num("ping-interval-ms");
  const users = Array.from({ length: Math.min(N, 500) }, (_, i) => loadUser(i));
  await pool(users, 10, authFor); // tokens first, so connects/s measures the server only
  // one socket first: the server's one-time costs (isolate, wasm) stay out of the per-socket figure
  const warm = await connect(await authFor(users[0]));
  if (!warm) throw new Error(`warm-up socket failed: ${sockets[0].connectError}`);
  warm.close();
  sockets.length = 0;
  await sleep(2000);
  const before = rss();
  const t0 = now();
  // bounded in time: a slow server gets fewer sockets, and the figures are per socket connected
  const deadline = t0 + num("connect-budget") * 1000;
  const connected = (await pool(Array.from({ length: N }, (_, i) => i), num("concurrency"), async (i) => connect(await authFor(users[i % users.length])), deadline)).filter(Boolean);
  const connectSeconds = (now() - t0) / 1000;
  const errors = {};
  for (const s of sockets) if (s.connectError) errors[s.connectError] = (errors[s.connectError] || 0) + 1;
  log(`${connected.length}/${N} connected in ${connectSeconds.toFixed(1)} s`);
  await sleep(1000);
  const droppedBeforeHold = dropped;
  const afterConnect = rss();
  const gateways = new Set(connected.map((s) => gatewayOf(s.io.engine.id)).filter(Boolean));
  const statsBefore = EDGE ? await edgeStats(o.url, o.secret, gateways, []) : null;
  const holdStart = now();
  await sleep(cycles * interval + 500);
  const holdSeconds = (now() - holdStart) / 1000;
  const statsAfter = EDGE ? await edgeStats(o.url, o.secret, gateways, []) : null;
  const afterHold = rss();
  const alive = connected.filter((s) => s.connected).length;
  const perSocket = (r) => (before && r && connected.length ? ((r.kib - before.kib) * 1024) / connected.length : null);
  return {
    sockets: N,
    connected: connected.length,
    connect_errors: errors,
    connect_s: connectSeconds,
    connects_per_s: connected.length / connectSeconds,
    ping_interval_ms: interval,
    cycles,
    hold_s: holdSeconds,
    alive_after_hold: alive,
    dropped_before_hold: droppedBeforeHold,
    dropped_during_hold: dropped - droppedBeforeHold,
    drop_reasons: dropReasons,
    attempted: sockets.length,
    rss_kib: { before: before?.kib ?? null, after_connect: afterConnect?.kib ?? null, after_hold: afterHold?.kib ?? null, processes: afterHold?.pids.length ?? null },
    bytes_per_socket: perSocket(afterHold),
    bytes_per_socket_after_connect: perSocket(afterConnect),
    gateways: [...gateways],
    stats_before: statsBefore,
    stats_after: statsAfter,
    stats_delta: EDGE ? statsDelta(statsBefore, statsAfter) : null,
  };
}

// ---------- main ----------

const hardStop = setTimeout(() => {
  log("hard time limit reached");
  process.exit(3);
}, 300_000);
// other work on the machine skews every figure: recorded with the results
const loadAtStart = loadavg()[0];
let result;
try {
  result = o.workload === "idle" ? await idle() : await rooms();
} finally {
  closeAll();
  clearTimeout(hardStop);
}

result = { target: o.target, workload: o.workload, url: o.url, at: new Date().toISOString(), loadavg_at_start: loadAtStart, ...result };
if (o.out) writeFileSync(o.out, JSON.stringify(result, null, 1));
const { latency_sample_ms: _s, ...brief } = result;
console.log(JSON.stringify(brief));
process.exit(0);
