// Large-group benchmark (issue 16, item 7): the same S online sockets on
// `/notifications` (not joined to the room: the notify path) in a group of K
// members, for each K, the owner sending over REST at a fixed rate. Per K:
// delivered share, send→delivery p50/p99, Redis commands per message (INFO
// commandstats of the run's private Redis), core CPU ms per message
// (/proc of core), bytes core→edge per message (the counting proxy in front
// of the edge's /internal/v1/fanout), object requests per message (the
// objects' own counters). When all S sockets are members (K > S), the group
// is made before they connect and the members past the sockets' users are
// inserted straight into Postgres; when K - 1 < S, the sockets connect first
// and the K - 1 members are taken round-robin over the gateways they landed
// on, added over REST (core registers their gateways), so a small group's
// members sit on as many gateways as a large one's. Run by scripts/bench-bigroom.sh.
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { io } from "socket.io-client";
import { edgeStats, gatewayOf, now, pct, sleep } from "./lib.mjs";

const { values: o } = parseArgs({
  options: {
    edge: { type: "string" },
    core: { type: "string" },
    tms: { type: "string" },
    secret: { type: "string" },
    db: { type: "string" },
    "redis-port": { type: "string" },
    "core-pid": { type: "string" },
    proxy: { type: "string" },
    sockets: { type: "string", default: "200" },
    ks: { type: "string", default: "20,1000,10000,100000" },
    rate: { type: "string", default: "20" },
    duration: { type: "string", default: "10" },
    out: { type: "string" },
    md: { type: "string" },
    // a connect wave: this many sockets (users load-001… in turn) into one group of wave-k members
    wave: { type: "string", default: "0" },
    "wave-concurrency": { type: "string", default: "40" },
    // the owner's rate in the wave (every message goes to every wave socket); default --rate
    "wave-rate": { type: "string" },
    "wave-k": { type: "string", default: "10000" },
  },
});
const S = Number(o.sockets);
const log = (...a) => console.error("[bigroom]", ...a);
const user = (i) => `load-${String(i + 1).padStart(3, "0")}`;

async function token(sub) {
  const r = await fetch(`${o.tms}/dev/token`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ sub }),
  });
  if (r.status !== 200) throw new Error(`token ${sub}: ${r.status}`);
  return (await r.json()).token;
}

async function rest(tok, method, path, body) {
  const r = await fetch(`${o.core}${path}`, {
    method,
    headers: { "content-type": "application/json", authorization: `Bearer ${tok}` },
    body: body ? JSON.stringify(body) : undefined,
  });
  const json = await r.json().catch(() => ({}));
  if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(json)}`);
  return json.data;
}

const psql = (sql) => execFileSync("psql", [o.db, "-qAt", "-c", sql], { encoding: "utf8" }).trim();
/** Calls per Redis command (`cmdstat_<name>`) so far. */
const redisStats = () =>
  Object.fromEntries(
    execFileSync("redis-cli", ["-p", o["redis-port"], "INFO", "commandstats"], { encoding: "utf8" })
      .split("\n")
      .filter((l) => l.startsWith("cmdstat_"))
      .map((l) => [l.slice(8, l.indexOf(":")), Number(l.split("calls=")[1].split(",")[0])]),
  );
const redisCalls = () => Object.values(redisStats()).reduce((a, b) => a + b, 0);
const statsDiff = (a, b) => Object.fromEntries(Object.entries(b).map(([k, v]) => [k, v - (a[k] || 0)]).filter(([k, v]) => v && k !== "info"));
const cpuMs = () => {
  const f = readFileSync(`/proc/${o["core-pid"]}/stat`, "utf8").split(") ")[1].split(" ");
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // utime + stime, clock ticks of 10 ms
};
const proxyBytes = async () => (await (await fetch(`${o.proxy}/count`)).json()).bytes;

/** A group of `k` members: the owner, the S socket users, then fillers inserted into Postgres. */
async function group(ownerTok, k) {
  const conv = (await rest(ownerTok, "POST", "/api/v1/conversations", { type: "group", title: `k${k}`, member_ids: [user(0)] })).id;
  const socketUsers = Array.from({ length: Math.min(S, k - 1) }, (_, i) => user(i)).slice(1);
  const fillers = Math.max(0, k - 2 - socketUsers.length);
  psql(`
    INSERT INTO users (tms_user_id) SELECT unnest(ARRAY[${socketUsers.map((u) => `'${u}'`).join(",") || "NULL"}]::text[]) ON CONFLICT DO NOTHING;
    INSERT INTO users (tms_user_id) SELECT 'k${k}-' || g FROM generate_series(1, ${fillers}) g ON CONFLICT DO NOTHING;
    INSERT INTO conversation_members (conversation_id, user_id)
      SELECT '${conv}', id FROM users WHERE tms_user_id = ANY(ARRAY[${socketUsers.map((u) => `'${u}'`).join(",") || "NULL"}]::text[])
         OR tms_user_id LIKE 'k${k}-%' ON CONFLICT DO NOTHING;`);
  return conv;
}

/** `n` of the sockets, taken round-robin over their gateways (in name order). */
function spreadOverGateways(sockets, n) {
  const by = new Map();
  for (const s of sockets) {
    const g = gatewayOf(s.io.engine.id);
    if (!by.has(g)) by.set(g, []);
    by.get(g).push(s);
  }
  const lists = [...by.keys()].sort().map((g) => by.get(g));
  const out = [];
  for (let i = 0; out.length < n; i++) for (const l of lists) if (i < l.length && out.length < n) out.push(l[i]);
  return out;
}

/** A group of the owner and `users`, made over REST (100 ids a request), so core registers their gateways. */
async function groupOver(ownerTok, k, users) {
  const conv = (await rest(ownerTok, "POST", "/api/v1/conversations", { type: "group", title: `k${k}`, member_ids: users.slice(0, 100) })).id;
  for (let i = 100; i < users.length; i += 100) {
    await rest(ownerTok, "POST", `/api/v1/conversations/${conv}/members`, { member_ids: users.slice(i, i + 100) });
  }
  return conv;
}

function connect(tok, who) {
  return new Promise((resolve, reject) => {
    const s = io(`${o.edge}/notifications`, { transports: ["websocket"], auth: { token: tok }, reconnection: false, forceNew: true });
    s.user = who;
    s.got = new Map();
    s.on("new_message", (m) => s.got.set(m.id, now()));
    s.once("connect", () => resolve(s));
    s.once("connect_error", (e) => reject(e));
  });
}

async function runK(ownerTok, tokens, k) {
  // the same S sockets online at every K: all of them members when K > S (the
  // group made first, their connects register them), else K - 1 of them
  // spread round-robin over the gateways they landed on (added over REST)
  const small = k - 1 < S;
  let conv = small ? null : await group(ownerTok, k);
  const all = [];
  for (let i = 0; i < S; i += 20) all.push(...(await Promise.all(tokens.slice(i, i + 20).map((t, j) => connect(t, user(i + j))))));
  const sockets = small ? spreadOverGateways(all, Math.max(k - 1, 1)) : all;
  if (small) conv = await groupOver(ownerTok, k, sockets.map((s) => s.user));
  const members = Number(psql(`SELECT count(*) FROM conversation_members WHERE conversation_id = '${conv}'`));
  const outsiders = all.filter((s) => !sockets.includes(s));
  const gateways = new Set(all.map((s) => gatewayOf(s.io.engine.id)));
  const memberGateways = new Set(sockets.map((s) => gatewayOf(s.io.engine.id)));
  // barrier: every socket's gateway registered (reports are batched): a warm-up reaches all
  let ready = false;
  for (let i = 0; i < 15 && !ready; i++) {
    const m = await rest(ownerTok, "POST", "/api/v1/messages", { conversation_id: conv, type: "text", content: `warm ${i}` });
    const until = now() + 2000;
    while (now() < until && !(ready = sockets.every((s) => s.got.has(m.id)))) await sleep(50);
  }
  // and the connects' presence work is over: Redis idle for a second (at most 20 s)
  for (let i = 0, a = redisCalls(); i < 20; i++) {
    await sleep(1000);
    const b = redisCalls();
    if (b - a <= 1) break;
    a = b;
  }
  log(`K=${k}: ${members} members, ${sockets.length} member sockets on ${memberGateways.size} of ${gateways.size} gateways, ready=${ready}`);
  const before = { redis: redisCalls(), byCommand: redisStats(), cpu: cpuMs(), bytes: await proxyBytes(), edge: await edgeStats(o.edge, o.secret, gateways, [conv]) };
  const sent = new Map();
  const n = Number(o.rate) * Number(o.duration);
  const start = now();
  for (let i = 0; i < n; i++) {
    const due = start + (i * 1000) / Number(o.rate);
    if (due > now()) await sleep(due - now());
    const t = now();
    const m = await rest(ownerTok, "POST", "/api/v1/messages", { conversation_id: conv, type: "text", content: `m${i}` });
    sent.set(m.id, t);
  }
  const drainUntil = now() + 15000;
  while (now() < drainUntil && !sockets.every((s) => [...sent.keys()].every((id) => s.got.has(id)))) await sleep(100);
  const after = { redis: redisCalls(), byCommand: redisStats(), cpu: cpuMs(), bytes: await proxyBytes(), edge: await edgeStats(o.edge, o.secret, gateways, [conv]) };
  const lat = [];
  let copies = 0;
  for (const s of sockets) for (const [id, t] of sent) if (s.got.has(id)) (copies++, lat.push(s.got.get(id) - t));
  const leaked = outsiders.reduce((a, s) => a + [...sent.keys()].filter((id) => s.got.has(id)).length, 0);
  lat.sort((a, b) => a - b);
  const sum = (x, kind) => Object.values(x.edge[kind] || {}).reduce((a, c) => a + (c.requests || 0), 0);
  const objReq = sum(after, "gateways") + sum(after, "rooms") - sum(before, "gateways") - sum(before, "rooms");
  // wall-clock ms the objects had work in progress (billed as duration)
  const act = (x, kind) => Object.values(x.edge[kind] || {}).reduce((a, c) => a + (c.active_ms || 0), 0);
  const objActive = act(after, "gateways") + act(after, "rooms") - act(before, "gateways") - act(before, "rooms");
  const row = {
    k, members, sockets: all.length, member_sockets: sockets.length, gateways: gateways.size, member_gateways: memberGateways.size,
    messages: n, ready,
    copies_to_non_members: leaked,
    delivered_pct: (100 * copies) / (n * sockets.length),
    p50_ms: pct(lat, 50), p99_ms: pct(lat, 99),
    redis_per_msg: (after.redis - before.redis - 2) / n,
    redis_commands: statsDiff(before.byCommand, after.byCommand),
    // a gateway's periodic full presence report, when one fell in the window: per
    // reported user 1 HGETALL + 1 HSET + 1 EXPIRE (presence.rs APPLY_REPORT; the
    // only HSETs between connects), plus its one script call
    redis_presence_report_per_msg: (3 * (statsDiff(before.byCommand, after.byCommand).hset || 0)) / n,
    core_cpu_ms_per_msg: (after.cpu - before.cpu) / n,
    bytes_core_to_edge_per_msg: (after.bytes - before.bytes) / n,
    object_requests_per_msg: objReq / n,
    object_active_ms_per_msg: objActive / n,
    room_active_ms_per_msg: (act(after, "rooms") - act(before, "rooms")) / n,
    gateway_active_ms_per_msg: (act(after, "gateways") - act(before, "gateways")) / n,
  };
  log(JSON.stringify(row));
  all.forEach((s) => s.close());
  // the departures' presence work (reports, the offline grace) settles before the next K
  await sleep(10000);
  return row;
}

/** `wave` sockets of S users connect at once into a group of `k`; then every message must reach every socket. */
async function runWave(ownerTok, tokens, k, wave) {
  const conv = await group(ownerTok, k);
  const before = { redis: redisCalls(), cpu: cpuMs() };
  const started = now();
  const all = [];
  let next = 0;
  let failed = 0;
  await Promise.all(
    Array.from({ length: Number(o["wave-concurrency"]) }, async () => {
      while (next < wave) {
        const i = next++;
        try {
          all.push(await connect(tokens[i % S], user(i % S)));
        } catch {
          failed++;
        }
      }
    }),
  );
  const connectS = (now() - started) / 1000;
  // the wave's presence reports and registrations: until Redis is idle for a second (at most 60 s)
  for (let i = 0, a = redisCalls(); i < 60; i++) {
    await sleep(1000);
    const b = redisCalls();
    if (b - a <= 1) break;
    a = b;
  }
  const waveCost = { redis: redisCalls() - before.redis, cpu_ms: cpuMs() - before.cpu };
  const gateways = new Set(all.map((s) => gatewayOf(s.io.engine.id)));
  const sent = new Map();
  const n = waveRate * Number(o.duration);
  const start = now();
  for (let i = 0; i < n; i++) {
    const due = start + (i * 1000) / waveRate;
    if (due > now()) await sleep(due - now());
    const t = now();
    const m = await rest(ownerTok, "POST", "/api/v1/messages", { conversation_id: conv, type: "text", content: `w${i}` });
    sent.set(m.id, t);
  }
  const drainUntil = now() + 60000;
  while (now() < drainUntil && !all.every((s) => [...sent.keys()].every((id) => s.got.has(id)))) await sleep(200);
  const lat = [];
  let copies = 0;
  for (const s of all) for (const [id, t] of sent) if (s.got.has(id)) (copies++, lat.push(s.got.get(id) - t));
  lat.sort((a, b) => a - b);
  const row = {
    k, wave, connected: all.length, failed, gateways: gateways.size, connect_s: connectS, connects_per_s: all.length / connectS, rate: waveRate,
    wave_redis_commands: waveCost.redis, wave_core_cpu_ms: waveCost.cpu_ms, messages: n,
    delivered_pct: (100 * copies) / (n * all.length), p50_ms: pct(lat, 50), p99_ms: pct(lat, 99),
    complete: all.filter((s) => [...sent.keys()].every((id) => s.got.has(id))).length,
  };
  log(JSON.stringify(row));
  all.forEach((s) => s.close());
  return row;
}

const waveRate = Number(o["wave-rate"] || o.rate);
const ownerTok = await token("alice");
const tokens = [];
for (let i = 0; i < S; i++) tokens.push(await token(user(i)));
const rows = [];
const ks = o.ks.split(",").map(Number).filter(Boolean);
for (const k of ks) rows.push(await runK(ownerTok, tokens, k));
const wave = Number(o.wave) > 0 ? await runWave(ownerTok, tokens, Number(o["wave-k"]), Number(o.wave)) : null;
writeFileSync(o.out, JSON.stringify({ rows, wave }, null, 2));

const f = (x, d = 2) => Number(x).toFixed(d);
const perMsg = (r) =>
  Object.entries(r.redis_commands)
    .map(([c, v]) => `${c} ${f(v / r.messages)}`)
    .join(", ");
const table = [
  "| K | member sockets (of S), on gateways (of all) | gateways named | delivered | copies to non-members | p50 | p99 | Redis commands / msg (by command) | of them, the periodic presence report | core CPU ms / msg | bytes core→edge / msg | object requests / msg | object active ms / msg |",
  "|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|",
  ...rows.map(
    (r) =>
      `| ${r.k.toLocaleString("en")} | ${r.member_sockets.toLocaleString("en")} of ${r.sockets.toLocaleString("en")}, on ${r.member_gateways} of ${r.gateways} | ${r.object_requests_per_msg > 0 ? f(r.object_requests_per_msg - 1, 1) : "?"} | ${f(r.delivered_pct, 1)} % | ${r.copies_to_non_members} | ${f(r.p50_ms, 1)} ms | ${f(r.p99_ms, 1)} ms | ${f(r.redis_per_msg)} (${perMsg(r)}) | ${f(r.redis_presence_report_per_msg)} | ${f(r.core_cpu_ms_per_msg)} | ${f(r.bytes_core_to_edge_per_msg, 0)} | ${f(r.object_requests_per_msg)} | ${f(r.object_active_ms_per_msg)} |`,
  ),
].join("\n");
const waveLine = wave
  ? `\nConnect wave: ${wave.connected} of ${wave.wave} sockets (${S} users, ${Math.ceil(wave.wave / S)} sockets each at most) connected into one group of ${wave.k.toLocaleString("en")} members in ${f(wave.connect_s, 1)} s (${f(wave.connects_per_s, 0)} connects/s, ${wave.failed} failed, ${wave.gateways} gateways); the wave and its presence reports cost core ${f(wave.wave_redis_commands, 0)} Redis commands (${f(wave.wave_redis_commands / wave.connected, 1)} per socket) and ${f(wave.wave_core_cpu_ms, 0)} ms of CPU (${f(wave.wave_core_cpu_ms / wave.connected, 2)} ms per socket); then ${wave.messages} messages at ${wave.rate}/s: ${f(wave.delivered_pct, 2)} % of the copies delivered (${wave.complete} of ${wave.connected} sockets got every message), p50 ${f(wave.p50_ms, 1)} ms, p99 ${f(wave.p99_ms, 1)} ms.\n`
  : "";
if (o.md) writeFileSync(o.md, `${table}\n${waveLine}`);
