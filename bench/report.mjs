// Writes BENCHMARKS.md (and the latency plot, with gnuplot) from the result
// files of bench/load.mjs that scripts/bench-edge.sh collects.
//
//   node bench/report.mjs --results .dev/bench/results --out BENCHMARKS.md --plot bench/latency.png
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const { values: o } = parseArgs({
  options: {
    results: { type: "string" },
    out: { type: "string", default: join(ROOT, "BENCHMARKS.md") },
    plot: { type: "string", default: join(ROOT, "bench/latency.png") },
    "ping-interval-ms": { type: "string", default: "10000" },
    targets: { type: "string", default: "reference floor wrangler workerd" },
  },
});

// Cloudflare Workers Paid, Durable Objects (developers.cloudflare.com/durable-objects/platform/pricing/, read 2026-12-01)
const PRICE = {
  request: 0.15 / 1e6, // per request, beyond the 1 M included per month
  gbSecond: 12.5 / 1e6, // per GB-s of duration (128 MB per active object), beyond 400,000 GB-s
  rowWritten: 1.0 / 1e6, // SQLite-backed storage, per row written
  rowRead: 0.001 / 1e6, // per row read (the edge does not count reads)
  wsRatio: 20, // incoming WebSocket messages are billed 20:1 as requests
};
const OBJECT_GB = 0.128;
const PROD_PING_MS = 25_000;

const TARGETS = o.targets.split(/\s+/).filter(Boolean);
// `floor` runs only the idle workload; the message tables and criteria leave it out
const MESSAGING = TARGETS.filter((t) => t !== "floor");
const EDGES = MESSAGING.filter((t) => t !== "reference");
const LABEL = { floor: "floor: a JS Durable Object that only holds WebSockets (workerd serve)", reference: "reference (npm socket.io)", wrangler: "edge, wrangler dev", workerd: "edge, workerd serve", miniflare: "edge, workerd via Miniflare" };
const load = (t, w) => {
  const f = join(o.results, `${t}-${w}.json`);
  return existsSync(f) ? JSON.parse(readFileSync(f, "utf8")) : null;
};
const R = {};
for (const t of TARGETS) R[t] = { room: load(t, "room"), rooms10: load(t, "rooms10"), idle: load(t, "idle") };

const f0 = (x) => (x == null || Number.isNaN(x) ? "–" : Math.round(x).toLocaleString("en-US"));
const f1 = (x) => (x == null || Number.isNaN(x) ? "–" : x.toFixed(1));
const f2 = (x) => (x == null || Number.isNaN(x) ? "–" : x.toFixed(2));
const ms = (x) => (x == null ? "–" : x >= 1000 ? `${(x / 1000).toFixed(2)} s` : `${x.toFixed(1)} ms`);
const kib = (b) => (b == null ? "–" : `${(b / 1024).toFixed(1)} KiB`);
const usd = (x) => (x == null ? "–" : x === 0 ? "$0" : x < 0.01 ? `$${x.toExponential(2)}` : `$${x.toFixed(4)}`);
const ratio = (a, b) => (a == null || b == null || !b ? "–" : `${(a / b).toFixed(2)}×`);

function otherErrors(r) {
  const e = Object.entries(r.acks || {}).filter(([k]) => k !== "ok" && k !== "RATE_LIMITED");
  const parts = e.map(([k, v]) => `${k} ${v}`);
  if (r.dropped_sockets) parts.push(`${r.dropped_sockets} sockets dropped`);
  return parts.length ? parts.join(", ") : "0";
}

function messageTable(w) {
  const rows = [
    "| target | deliveries/s (offered) | delivered | lost | out of order | send→delivery p50 / p99 | ack p99 | RATE_LIMITED | other ack errors |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---|",
  ];
  for (const t of MESSAGING) {
    const r = R[t][w];
    if (!r) {
      rows.push(`| ${LABEL[t]} | failed (see .dev/bench/load.log) | | | | | | | |`);
      continue;
    }
    rows.push(
      `| ${LABEL[t]} | ${f0(r.deliveries_per_s)} (${f0(r.offered_deliveries_per_s)}) | ${f1(r.delivered_pct)} % | ${f0(r.lost)} | ${f0(r.order_violations)} | ${ms(r.latency_ms.p50)} / ${ms(r.latency_ms.p99)} | ${ms(r.ack_ms.p99)} | ${f0(r.rate_limited)} | ${otherErrors(r)} |`,
    );
  }
  return rows.join("\n");
}

function idleTable() {
  const rows = [
    "| target | connected | connects/s | memory per idle socket (after connect / after the hold) | server RSS before → after the hold | dropped while connecting / during the hold |",
    "|---|---:|---:|---:|---:|---:|",
  ];
  for (const t of TARGETS) {
    const r = R[t].idle;
    if (!r) {
      rows.push(`| ${LABEL[t]} | failed | | | | |`);
      continue;
    }
    rows.push(
      `| ${LABEL[t]} | ${f0(r.connected)} / ${f0(r.attempted ?? r.sockets)}${(r.attempted ?? r.sockets) < r.sockets ? ` (connect budget spent after ${f0(r.attempted)} of ${f0(r.sockets)})` : ""} | ${f0(r.connects_per_s)} | ${kib(r.bytes_per_socket_after_connect)} / ${kib(r.bytes_per_socket)} | ${f1(r.rss_kib.before / 1024)} → ${f1(r.rss_kib.after_hold / 1024)} MiB (${r.rss_kib.processes} process${r.rss_kib.processes === 1 ? "" : "es"}) | ${f0(r.dropped_before_hold)} / ${f0(r.dropped_during_hold)}${Object.keys(r.drop_reasons || {}).length ? ` (${Object.entries(r.drop_reasons).map(([k, v]) => `${k}: ${v}`).join(", ")})` : ""} |`,
    );
  }
  return rows.join("\n");
}

function ratioTable() {
  const ref = R.reference;
  if (!ref) return "_no reference run_";
  const rows = [
    "| target | deliveries/s, 1 room | deliveries/s, 10 rooms | p99, 1 room | p99, 10 rooms | memory per idle socket | connects/s |",
    "|---|---:|---:|---:|---:|---:|---:|",
  ];
  for (const t of TARGETS.filter((t) => t !== "reference")) {
    const r = R[t];
    if (t === "floor") {
      rows.push(`| ${LABEL[t]} | – | – | – | – | ${ratio(r.idle?.bytes_per_socket, ref.idle?.bytes_per_socket)} | ${ratio(r.idle?.connects_per_s, ref.idle?.connects_per_s)} |`);
      continue;
    }
    rows.push(
      `| ${LABEL[t]} | ${ratio(r.room?.deliveries_per_s, ref.room?.deliveries_per_s)} | ${ratio(r.rooms10?.deliveries_per_s, ref.rooms10?.deliveries_per_s)} | ${ratio(r.room?.latency_ms.p99, ref.room?.latency_ms.p99)} | ${ratio(r.rooms10?.latency_ms.p99, ref.rooms10?.latency_ms.p99)} | ${ratio(r.idle?.bytes_per_socket, ref.idle?.bytes_per_socket)} | ${ratio(r.idle?.connects_per_s, ref.idle?.connects_per_s)} |`,
    );
  }
  return rows.join("\n");
}

/** Edge counters of a message workload, per message. */
function perMessage(r) {
  const d = r?.stats_delta;
  if (!d || d.unavailable) return { unavailable: d?.unavailable || "no result" };
  const g = d.gateways, m = d.rooms;
  const messages = r.acked_ok_total;
  const objectRequests = (m.requests || 0) + (m.alarms || 0) + (g.requests || 0) + (g.alarms || 0);
  const wsIn = g.ws_messages || 0;
  // a gateway re-arms its ping alarm (one set_alarm, counted as a write) each
  // time it fires: that is the idle cost per ping interval, not a message's
  const alarmRearms = Math.min(g.alarms || 0, g.storage_writes || 0);
  const writes = (m.storage_writes || 0) + (g.storage_writes || 0) - alarmRearms;
  const activeMs = (m.active_ms ?? null) === null && (g.active_ms ?? null) === null ? null : (m.active_ms || 0) + (g.active_ms || 0);
  const billable = objectRequests + wsIn / PRICE.wsRatio;
  const gwPerRoom = r.gateways_per_room?.length ? r.gateways_per_room.reduce((a, b) => a + b, 0) / r.gateways_per_room.length : null;
  const perMsgCost = (billable * PRICE.request + writes * PRICE.rowWritten + (activeMs == null ? 0 : (activeMs / 1000) * OBJECT_GB * PRICE.gbSecond)) / messages;
  return {
    messages,
    objectRequests: objectRequests / messages,
    billable: billable / messages,
    writes: writes / messages,
    bound: gwPerRoom == null ? null : 1 + gwPerRoom,
    gwPerRoom,
    activeMs,
    costPerMillion: perMsgCost * 1e6,
    resets: d.resets,
    raw: d,
  };
}

/** Edge counters of the idle workload, per idle socket-hour and per socket per ping. */
function perIdle(r) {
  const d = r?.stats_delta;
  if (!d || d.unavailable) return { unavailable: d?.unavailable || "no result" };
  const g = d.gateways;
  const socketHours = (r.connected * r.hold_s) / 3600;
  const requests = (g.requests || 0) + (g.alarms || 0) + (g.ws_messages || 0) / PRICE.wsRatio;
  const writes = g.storage_writes || 0;
  const wakeups = (g.requests || 0) + (g.ws_messages || 0); // object wake-ups other than its ping alarm
  const activeMs = g.active_ms ?? null;
  const cost = (requests * PRICE.request + writes * PRICE.rowWritten + (activeMs == null ? 0 : (activeMs / 1000) * OBJECT_GB * PRICE.gbSecond)) / socketHours;
  return {
    requests: requests / socketHours,
    writes: writes / socketHours,
    wakeupsPerSocketPerPing: wakeups / (r.connected * r.cycles),
    alarms: g.alarms || 0,
    cost,
    // the idle work follows the ping cycle: scaled to the production interval
    costAt25s: cost * (r.ping_interval_ms / PROD_PING_MS),
    activeMs,
    resets: d.resets,
    raw: d,
  };
}

function countersSection() {
  const out = [];
  for (const t of EDGES) {
    out.push(`### ${LABEL[t]}`, "");
    const rows = ["| workload | messages | DO requests/message (bound 1 + gateways) | billable requests/message | storage writes/message | cost per million messages |", "|---|---:|---:|---:|---:|---:|"];
    let any = false;
    for (const [w, name] of [["room", "1 room"], ["rooms10", "10 rooms"]]) {
      const c = perMessage(R[t][w]);
      if (c.unavailable) {
        rows.push(`| ${name} | counters unavailable (${c.unavailable}) | | | | |`);
        continue;
      }
      any = true;
      rows.push(`| ${name} | ${f0(c.messages)} | ${f2(c.objectRequests)} (≤ ${f2(c.bound)}) | ${f2(c.billable)} | ${f2(c.writes)} | ${usd(c.costPerMillion)}${c.activeMs == null ? " + duration" : ""} |`);
      if (c.resets?.length) rows.push(`| | objects recreated during the run: ${c.resets.join(", ")} | | | | |`);
    }
    out.push(rows.join("\n"), "");
    const i = perIdle(R[t].idle);
    if (i.unavailable) {
      out.push(`Idle sockets: counters unavailable (${i.unavailable}).`, "");
    } else {
      out.push(
        `Idle sockets (${f0(R[t].idle.connected)} over ${f1(R[t].idle.hold_s)} s, ping every ${R[t].idle.ping_interval_ms} ms): ` +
          `${f2(i.requests)} billable DO requests and ${f2(i.writes)} storage writes per idle socket-hour; ` +
          `${f2(i.wakeupsPerSocketPerPing)} object wake-ups per socket per ping cycle besides the ping alarm (${f0(i.alarms)} alarms); ` +
          `cost ${usd(i.cost)} per idle socket-hour at this ping interval, ${usd(i.costAt25s)} at the production 25 s ` +
          `(${usd(i.costAt25s * 1000 * 720)} per 1,000 sockets idle for a 30-day month)${i.activeMs == null ? ", plus duration, which the counters do not report" : ""}.`,
        "",
      );
      any = true;
    }
    if (any) out.push("<details><summary>raw counter deltas</summary>", "", "```text", ...["room", "rooms10", "idle"].map((w) => `"${w}": ${JSON.stringify(R[t][w]?.stats_delta ?? null)}`), "```", "", "</details>", "");
  }
  return out.join("\n");
}

function criteria() {
  const ref = R.reference;
  const out = ["| criterion (issue 7) | " + EDGES.map((t) => LABEL[t]).join(" | ") + " |", "|---|" + EDGES.map(() => "---").join("|") + "|"];
  const mark = (ok, text) => (ok == null ? `n/a ${text}` : `${ok ? "✅" : "❌"} ${text}`);
  const lines = [
    ["1 room: 0 lost, 0 out of order", (r) => (r.room ? mark(r.room.lost === 0 && r.room.order_violations === 0, `${r.room.lost} lost, ${r.room.order_violations} out of order`) : "failed")],
    ["1 room: deliveries/s ≥ 0.9 × reference", (r) => (r.room && ref?.room ? mark(r.room.deliveries_per_s >= 0.9 * ref.room.deliveries_per_s, ratio(r.room.deliveries_per_s, ref.room.deliveries_per_s)) : "failed")],
    ["1 room: send→delivery p99 ≤ 100 ms", (r) => (r.room ? mark(r.room.latency_ms.p99 != null && r.room.latency_ms.p99 <= 100, ms(r.room.latency_ms.p99)) : "failed")],
    ["10 rooms: 0 lost", (r) => (r.rooms10 ? mark(r.rooms10.lost === 0, `${r.rooms10.lost} lost`) : "failed")],
    ["DO requests per message ≤ 1 + gateways", (r) => { const c = perMessage(r.room); return c.unavailable ? "counters unavailable" : mark(c.objectRequests <= c.bound, `${f2(c.objectRequests)} ≤ ${f2(c.bound)}`); }],
    ["0 storage writes per message", (r) => { const c = perMessage(r.room); return c.unavailable ? "counters unavailable" : mark(c.writes === 0, f2(c.writes)); }],
    ["0 wake-ups per idle socket between pings", (r) => { const i = perIdle(r.idle); return i.unavailable ? "counters unavailable" : mark(i.wakeupsPerSocketPerPing === 0, f2(i.wakeupsPerSocketPerPing)); }],
    ["idle memory per socket ≤ 2 × reference", (r) => (r.idle && ref?.idle ? mark(r.idle.bytes_per_socket <= 2 * ref.idle.bytes_per_socket, ratio(r.idle.bytes_per_socket, ref.idle.bytes_per_socket) + (R.floor?.idle ? ` (workerd's floor alone: ${ratio(R.floor.idle.bytes_per_socket, ref.idle.bytes_per_socket)})` : "")) : "failed")],
  ];
  for (const [name, fn] of lines) out.push(`| ${name} | ${EDGES.map((t) => fn(R[t])).join(" | ")} |`);
  return out.join("\n");
}

function plot() {
  try {
    execFileSync("gnuplot", ["--version"], { stdio: "ignore" });
  } catch {
    return "_gnuplot not found: no plot_";
  }
  const dir = mkdtempSync(join(tmpdir(), "bench-plot-"));
  const panels = [];
  for (const [w, title] of [["room", "1 room, 20 members x 10 msg/s"], ["rooms10", "10 rooms, 20 members x 10 msg/s each"]]) {
    const series = [];
    for (const t of MESSAGING) {
      const r = R[t][w];
      const xs = (r?.latency_sample_ms || []).slice().sort((a, b) => a - b);
      if (!xs.length) continue;
      // over the offered deliveries: a target that delivered 40 % tops out at 0.4
      const share = r.offered_deliveries ? r.received / r.offered_deliveries : 1;
      const file = join(dir, `${t}-${w}.dat`);
      writeFileSync(file, xs.map((x, i) => `${Math.max(x, 0.01)} ${((i + 1) / xs.length) * share}`).join("\n") + "\n");
      series.push(`'${file}' using 1:2 with lines lw 2 lc ${TARGETS.indexOf(t) + 1} title '${LABEL[t]}'`);
    }
    if (series.length) panels.push(`set title '${title}'\nplot ${series.join(", ")}`);
  }
  if (!panels.length) return "_no latency samples: no plot_";
  const script = [
    `set terminal pngcairo size 1400,520 font 'sans,10' noenhanced`,
    `set output '${o.plot}'`,
    `set multiplot layout 1,${panels.length} title 'send -> delivery latency, CDF over the offered deliveries (lost ones never arrive)'`,
    `set logscale x`, `set xrange [0.1:100000]`, `set xlabel 'ms (log scale)'`, `set ylabel 'fraction of offered deliveries'`, `set yrange [0:1.05]`, `set grid`, `set key at graph 0.97, graph 0.62 right`,
    `set arrow from 100, graph 0 to 100, graph 1 nohead dashtype 2 lc rgb 'gray40'`, `set label 'p99 goal 100 ms' at 110, graph 0.03 tc rgb 'gray40'`,
    ...panels,
    `unset multiplot`,
  ].join("\n");
  try {
    execFileSync("gnuplot", [], { input: script });
  } catch {
    execFileSync("gnuplot", [], { input: script.replace("pngcairo size 1400,520 font 'sans,10'", "png size 1400,520") });
  }
  return `![send → delivery latency CDF](${relative(dirname(o.out), o.plot)})`;
}

const sh = (cmd, args) => {
  try {
    return execFileSync(cmd, args, { encoding: "utf8", cwd: ROOT }).trim();
  } catch {
    return "?";
  }
};
const version = (pkg) => {
  try {
    return JSON.parse(readFileSync(join(ROOT, "node_modules", pkg, "package.json"), "utf8")).version;
  } catch {
    return "?";
  }
};
const pingMs = Number(o["ping-interval-ms"]);
const startedAt = Object.values(R).flatMap((x) => Object.values(x)).filter(Boolean).map((r) => r.at).sort()[0] || new Date().toISOString();
const first = Object.values(R).flatMap((x) => Object.values(x)).find(Boolean);

const md = `# Benchmarks

Generated by \`bash scripts/bench-edge.sh\` (one run, started ${startedAt.slice(0, 16).replace("T", " ")} UTC, commit \`${sh("git", ["rev-parse", "--short", "HEAD"])}\`).
Machine: ${cpus().length} CPUs (\`nproc\` ${sh("nproc", [])}, ${cpus()[0]?.model || "?"}), ${f1(totalmem() / 2 ** 30)} GiB RAM, Node ${process.version}.
1-minute load average when each workload started: ${Object.entries(R).flatMap(([t, x]) => Object.entries(x).filter(([, r]) => r).map(([w, r]) => `${t}/${w} ${r.loadavg_at_start?.toFixed(1) ?? "?"}`)).join(", ")}
(above ${cpus().length} means other work competed for the CPUs and the figures are pessimistic for every target).
Load generator, servers, core, Postgres and Redis all share this machine; the load generator (one Node process,
official \`socket.io-client\` ${version("socket.io-client")}, WebSocket only) is a client of every target alike.

Targets:
- **reference**: npm \`socket.io\` ${version("socket.io")} in memory (\`bench/reference-server.mjs\`): the same events, no auth check, no database.
- **edge, wrangler dev**: this project's edge under \`wrangler dev --local\` (wrangler ${version("wrangler")}), release core over a fresh database, the TMS stand-in.
${TARGETS.includes("floor") ? `- **floor**: \`bench/floor/worker.mjs\` in \`workerd serve\` (\`bench/workerd-edge.mjs --floor\`), idle workload only: a Durable Object in plain JavaScript that accepts hibernatable WebSockets and answers just the Engine.IO open and the namespace CONNECT, keeping no state; what workerd itself holds per WebSocket, under any gateway.\n` : ""}${TARGETS.includes("workerd") ? `- **edge, workerd serve**: the same build in \`workerd serve\` (workerd ${version("workerd")}) with a generated config (\`bench/workerd-edge.mjs\`): the Worker and its Durable Objects alone, as production runs them, with neither wrangler's dev proxy nor Miniflare's entry worker in front; same core.\n` : ""}${TARGETS.includes("miniflare") ? `- **edge, workerd via Miniflare**: the same build, run by Miniflare's API (miniflare ${version("miniflare")}, workerd ${version("workerd")}) without wrangler's dev proxy (\`bench/miniflare-edge.mjs\`), same core.\n` : ""}
Workloads (each member paced evenly, one send every 100 ms at a random phase; ${first?.duration_s ?? "?"} s measured after ${first?.warmup_s ?? "?"} s warm-up; then up to 12 s of drain):
- **1 room**: 20 members, each sending 10 msg/s: 200 msg/s, 3,800 deliveries/s offered (the sender's own copy is not counted).
- **10 rooms**: ten such rooms at once: 2,000 msg/s, 38,000 deliveries/s offered.
- **idle**: ${f0(R.reference?.idle?.sockets ?? first?.sockets)} sockets on \`/messaging\` (no joins) connected 10 at a time within a 90 s budget, then held for ${R.reference?.idle?.cycles ?? "?"} ping cycles of ${pingMs} ms; memory per socket is the RSS of the server's processes (node for the reference, all \`workerd\` processes of the edge) after the hold minus before, divided by the sockets.

Definitions: *deliveries/s* are \`new_message\` events received during the measured window per second; *delivered* is received ÷ offered
(messages sent in the window × 19 receivers); *lost* counts (message, receiver) pairs that had not arrived at the end of the drain, for
every message the server did not refuse in its ack (acknowledged \`ok\`, or no ack within the 10 s timeout);
*out of order* counts deliveries whose \`seq\` was not above the last one that receiver saw in that conversation; latencies are from the
send (timestamp in the content) to the delivery, and from the send to its ack (acks that came; timeouts are counted apart).
Memory per idle socket divides by the sockets that connected; sockets the server dropped meanwhile are listed.

## One room: 20 members × 10 msg/s

${messageTable("room")}

## Ten rooms at once

${messageTable("rooms10")}

## Idle sockets

${idleTable()}

## Ratios to the reference server

${ratioTable()}

## Latency

${plot()}

## Edge counters and cost

Read from the edge itself (\`POST /internal/v1/stats\`, signed like core's fan-out) before and after each workload, for the
gateways that held the sockets and the rooms of the workload. Per message (messages acknowledged \`ok\`):

- *DO requests/message* = (room requests + room alarms + gateway requests + gateway alarms) ÷ messages; the bound is 1 + the gateways holding the room's members.
- *billable requests/message* = the same + incoming WebSocket messages ÷ 20 (Cloudflare bills incoming WebSocket messages 20:1 as requests).
- *storage writes/message* = (room + gateway storage writes, less the gateways' ping-alarm re-arms, one per alarm fired, which are the idle cost below) ÷ messages.
- cost = billable requests × $0.15/M + storage rows written × $1.00/M (+ duration at $12.50/M GB-s, 128 MB per active object, when the edge reports active time).
- Idle: the same sums over the gateways during the hold, per socket-hour (sockets × hold); *wake-ups* are gateway requests + incoming WebSocket messages (anything but the ping alarm) per socket per ping cycle.

${countersSection()}

Prices (Cloudflare Workers Paid, Durable Objects; https://developers.cloudflare.com/durable-objects/platform/pricing/, read 2026-12-01):
requests $0.15 per million beyond 1 M/month (HTTP requests, RPC sessions, WebSocket messages, alarm invocations; incoming WebSocket
messages billed 20:1, outgoing ones and protocol pings free, auto-responses not billed); duration $12.50 per million GB-s beyond
400,000 GB-s (128 MB per active object); SQLite storage rows written $1.00 per million, rows read $0.001 per million (storage billing
for SQLite-backed objects started in January 2026 per the Durable Objects release notes). The 20:1 ratio is from the Durable Objects
changelog of 2024-04-01. Included monthly amounts are ignored: these are marginal costs.

## Issue 7's benchmark criteria

${criteria()}

Reproduce: \`bash scripts/bench-edge.sh\` (about 10 minutes with warm builds; \`DURATION\`, \`WARMUP\`, \`IDLE_SOCKETS\`, \`IDLE_CYCLES\`,
\`PING_INTERVAL_MS\`, \`TARGETS\` override the defaults; logs in \`.dev/bench\`).
`;
writeFileSync(o.out, md);

// the same tables on stdout
console.log(`\n1 room, 20 x 10 msg/s\n${messageTable("room")}\n\n10 rooms\n${messageTable("rooms10")}\n\nidle\n${idleTable()}\n\nratios to the reference\n${ratioTable()}\n\ncriteria\n${criteria()}\n\nwrote ${relative(ROOT, o.out)} and ${relative(ROOT, o.plot)}`);
