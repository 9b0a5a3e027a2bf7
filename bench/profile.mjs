// A CPU profile of the Worker (bench/workerd-edge.mjs or miniflare-edge.mjs
// started with EDGE_INSPECTOR_PORT): samples for --seconds, then prints the functions
// with the most self time. Wasm functions show under their Rust names when the
// build keeps its name section.
//
//   node bench/profile.mjs --port 9229 --seconds 8 [--top 40] [--out profile.cpuprofile]
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import WebSocket from "ws";

const { values: o } = parseArgs({
  options: {
    port: { type: "string", default: "9229" },
    seconds: { type: "string", default: "8" },
    top: { type: "string", default: "40" },
    out: { type: "string" },
  },
});
const targets = await (await fetch(`http://127.0.0.1:${o.port}/json`)).json();
const target = targets.find((t) => !/internal|proxy/i.test(t.title ?? t.id)) ?? targets[0];
console.error("targets:", targets.map((t) => t.title ?? t.id).join(", "), "→", target.title ?? target.id);
const ws = new WebSocket(target.webSocketDebuggerUrl);
await new Promise((res, rej) => ws.once("open", res).once("error", rej));
let next = 1;
const pending = new Map();
ws.on("message", (m) => {
  const msg = JSON.parse(m.toString());
  if (msg.id && pending.has(msg.id)) {
    pending.get(msg.id)(msg);
    pending.delete(msg.id);
  }
});
const call = (method, params = {}) =>
  new Promise((res) => {
    const id = next++;
    pending.set(id, res);
    ws.send(JSON.stringify({ id, method, params }));
  });
await call("Profiler.enable");
await call("Profiler.setSamplingInterval", { interval: 200 });
await call("Profiler.start");
await new Promise((r) => setTimeout(r, Number(o.seconds) * 1000));
const { result } = await call("Profiler.stop");
ws.close();
const profile = result.profile;
if (o.out) writeFileSync(o.out, JSON.stringify(profile));
const self = new Map();
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const counts = new Map();
for (const s of profile.samples) counts.set(s, (counts.get(s) ?? 0) + 1);
let total = 0;
for (const [id, c] of counts) {
  const n = byId.get(id);
  const name = `${n.callFrame.functionName || "(anonymous)"} ${n.callFrame.url ? n.callFrame.url.split("/").pop() : ""}`;
  self.set(name, (self.get(name) ?? 0) + c);
  total += c;
}
const rows = [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(o.top));
for (const [name, c] of rows) console.log(`${((100 * c) / total).toFixed(1).padStart(5)} %  ${name}`);
