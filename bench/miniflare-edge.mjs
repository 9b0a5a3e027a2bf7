// The edge in workerd through Miniflare's API, without wrangler's dev proxy:
// loads edge-worker/build (the Worker and its wasm) with the Durable Object
// bindings, [vars] and compatibility date of wrangler.toml, plus the given vars.
//
//   node bench/miniflare-edge.mjs --port 8787 --var CORE_API_URL:http://… --var JWT_SECRET:…
// Prints `listening <url>` once ready; stops on SIGTERM/SIGINT.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Log, LogLevel, Miniflare } from "miniflare";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const { values: o } = parseArgs({
  options: {
    port: { type: "string", default: "8787" },
    config: { type: "string", default: join(ROOT, "wrangler.toml") },
    var: { type: "string", multiple: true, default: [] },
  },
});

/**
 * The parts of wrangler.toml this needs, from its top level (environments are
 * ignored): main, compatibility_date and _flags, [vars], the Durable Object bindings and
 * the classes of `new_sqlite_classes`. A small reader for this file's shape,
 * not a TOML parser.
 */
function readWranglerToml(text) {
  const top = text.split(/^\[env\./m)[0];
  const str = (key) => (new RegExp(`^${key}\\s*=\\s*"([^"]*)"`, "m").exec(top) || [])[1];
  const section = (name) => {
    const m = new RegExp(`^\\[${name}\\]\\s*$([\\s\\S]*?)(?=^\\[|(?![\\s\\S]))`, "m").exec(top);
    return m ? m[1] : "";
  };
  const vars = {};
  for (const m of section("vars").matchAll(/^([A-Z0-9_]+)\s*=\s*"([^"]*)"/gm)) vars[m[1]] = m[2];
  const bindings = {};
  for (const m of section("durable_objects").matchAll(/name\s*=\s*"([^"]+)"\s*,\s*class_name\s*=\s*"([^"]+)"/g)) bindings[m[1]] = m[2];
  // the other spelling: one [[durable_objects.bindings]] table per binding
  for (const m of top.matchAll(/^\[\[durable_objects\.bindings\]\]\s*$([\s\S]*?)(?=^\[|(?![\s\S]))/gm)) {
    const name = /^name\s*=\s*"([^"]+)"/m.exec(m[1]), cls = /^class_name\s*=\s*"([^"]+)"/m.exec(m[1]);
    if (name && cls) bindings[name[1]] = cls[1];
  }
  const sqlite = new Set();
  for (const m of top.matchAll(/new_sqlite_classes\s*=\s*\[([^\]]*)\]/g)) for (const c of m[1].matchAll(/"([^"]+)"/g)) sqlite.add(c[1]);
  const flags = [...((/^compatibility_flags\s*=\s*\[([^\]]*)\]/m.exec(top) || [])[1] || "").matchAll(/"([^"]+)"/g)].map((m) => m[1]);
  return { main: str("main"), compatibilityDate: str("compatibility_date"), flags, vars, bindings, sqlite };
}

const cfg = readWranglerToml(readFileSync(o.config, "utf8"));
if (!cfg.main || !cfg.compatibilityDate || !Object.keys(cfg.bindings).length) {
  throw new Error(`could not read main, compatibility_date and the Durable Object bindings from ${o.config}: ${JSON.stringify(cfg)}`);
}
const vars = { ...cfg.vars };
for (const kv of o.var) {
  const i = kv.indexOf(":");
  vars[kv.slice(0, i)] = kv.slice(i + 1);
}
const durableObjects = {};
for (const [name, className] of Object.entries(cfg.bindings)) durableObjects[name] = { className, useSQLite: cfg.sqlite.has(className) };

const mf = new Miniflare({
  host: "127.0.0.1",
  port: Number(o.port),
  modules: true,
  scriptPath: join(ROOT, cfg.main),
  modulesRules: [
    { type: "ESModule", include: ["**/*.js", "**/*.mjs"] },
    { type: "CompiledWasm", include: ["**/*.wasm"] },
  ],
  compatibilityDate: cfg.compatibilityDate,
  compatibilityFlags: cfg.flags,
  bindings: vars,
  durableObjects,
  cf: false, // no download of the cf object: the fallback one, as wrangler with CLOUDFLARE_CF_FETCH_ENABLED=false
  log: new Log(LogLevel.WARN),
  // for a CPU profile of the Worker (bench/profile.mjs); off unless asked for
  ...(process.env.MF_INSPECTOR_PORT ? { inspectorPort: Number(process.env.MF_INSPECTOR_PORT) } : {}),
});
const url = await mf.ready;
console.log(`listening ${url}`);
const stop = async () => {
  await mf.dispose().catch(() => {});
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
