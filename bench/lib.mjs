// Helpers of the benchmark: percentiles, process memory from /proc, and the
// edge's signed `/internal/v1/stats` counters.
import { readFileSync, readdirSync } from "node:fs";
import { createHash, createHmac, randomUUID } from "node:crypto";

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const now = () => performance.now();

/** Nearest-rank percentile of numbers (null when empty). */
export function pct(xs, p) {
  if (!xs.length) return null;
  const s = Float64Array.from(xs).sort();
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

function procStat(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const close = stat.lastIndexOf(")");
    const comm = stat.slice(stat.indexOf("(") + 1, close);
    const ppid = Number(stat.slice(close + 2).split(" ")[1]);
    return { pid, comm, ppid };
  } catch {
    return null; // gone meanwhile
  }
}

function rssKiB(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/**
 * The processes in the tree under `root` (itself included) whose command name
 * is `comm` (e.g. "workerd" under wrangler or Miniflare, "node" for the
 * reference server), with their summed RSS in KiB.
 */
export function treeRss(root, comm) {
  const all = readdirSync("/proc").filter((d) => /^\d+$/.test(d)).map(Number).map(procStat).filter(Boolean);
  const children = new Map();
  for (const p of all) children.set(p.ppid, [...(children.get(p.ppid) || []), p]);
  const found = [];
  const stack = [procStat(root)].filter(Boolean);
  while (stack.length) {
    const p = stack.pop();
    if (p.comm === comm) found.push(p.pid);
    stack.push(...(children.get(p.pid) || []));
  }
  return { pids: found, kib: found.reduce((sum, pid) => sum + rssKiB(pid), 0) };
}

/** The internal HMAC headers (shared-auth's canonical string), as core signs its calls to the edge. */
export function signInternal(secret, method, path, body) {
  const timestamp = String(Math.floor(Date.now() / 1000));
  const nonce = randomUUID().replaceAll("-", "");
  const canonical = [method, path, timestamp, nonce, "", createHash("sha256").update(body).digest("hex")].join("\n");
  return {
    "content-type": "application/json",
    "x-internal-timestamp": timestamp,
    "x-internal-nonce": nonce,
    "x-internal-user": "",
    "x-internal-signature": createHmac("sha256", secret).update(canonical).digest("hex"),
  };
}

/**
 * The edge's own counters for these gateways and conversations, or
 * `{unavailable: reason}` (e.g. an edge without `/internal/v1/stats`).
 */
export async function edgeStats(edgeUrl, secret, gateways, conversations) {
  if (!secret) return { unavailable: "no INTERNAL_API_SECRET" };
  const path = "/internal/v1/stats";
  const body = JSON.stringify({ gateways: [...gateways], conversations: [...conversations] });
  try {
    const r = await fetch(edgeUrl + path, {
      method: "POST",
      headers: signInternal(secret, "POST", path, body),
      body,
      signal: AbortSignal.timeout(10_000),
    });
    const text = await r.text();
    if (r.status !== 200) return { unavailable: `HTTP ${r.status}` };
    const parsed = JSON.parse(text);
    if (!parsed.success || !parsed.data) return { unavailable: `not a success envelope: ${text.slice(0, 200)}` };
    return { gateways: parsed.data.gateways || {}, rooms: parsed.data.rooms || {} };
  } catch (e) {
    return { unavailable: String(e.message || e) };
  }
}

const FIELDS = ["requests", "alarms", "storage_writes", "ws_messages", "sockets", "frames_sent", "events", "active_ms"];

/**
 * after − before per object, summed per kind. An object whose `instance`
 * changed was recreated in between: its counters restarted, so its `after`
 * values are taken whole and it is listed in `resets`.
 */
export function statsDelta(before, after) {
  if (!before || !after || before.unavailable || after.unavailable) {
    return { unavailable: (after && after.unavailable) || (before && before.unavailable) || "missing" };
  }
  const out = { gateways: {}, rooms: {}, resets: [], objects: { gateways: 0, rooms: 0 } };
  for (const kind of ["gateways", "rooms"]) {
    for (const [name, a] of Object.entries(after[kind] || {})) {
      const b = (before[kind] || {})[name];
      const reset = !b || b.instance !== a.instance;
      if (b && reset) out.resets.push(`${kind}:${name}`);
      out.objects[kind] += 1;
      for (const f of FIELDS) {
        if (typeof a[f] !== "number") continue;
        const d = f === "sockets" ? a[f] : reset ? a[f] : a[f] - (b[f] || 0);
        out[kind][f] = (out[kind][f] || 0) + d;
      }
    }
  }
  return out;
}

/** Gateway name from an Engine.IO id `<colo>.<shard>.<32 hex>` (null for other shapes). */
export function gatewayOf(engineId) {
  if (typeof engineId !== "string" || !engineId.includes(".")) return null;
  return engineId.slice(0, engineId.lastIndexOf("."));
}
