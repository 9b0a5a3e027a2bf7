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
import { edgeVars, readWranglerToml } from "./wrangler-toml.mjs";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const { values: o } = parseArgs({
  options: {
    port: { type: "string", default: "8787" },
    config: { type: "string", default: join(ROOT, "wrangler.toml") },
    var: { type: "string", multiple: true, default: [] },
  },
});

const cfg = readWranglerToml(readFileSync(o.config, "utf8"));
if (!cfg.main || !cfg.compatibilityDate || !Object.keys(cfg.bindings).length) {
  throw new Error(`could not read main, compatibility_date and the Durable Object bindings from ${o.config}: ${JSON.stringify(cfg)}`);
}
const vars = edgeVars(cfg, o.var);
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
  ...(process.env.EDGE_INSPECTOR_PORT ? { inspectorPort: Number(process.env.EDGE_INSPECTOR_PORT) } : {}),
});
const url = await mf.ready;
console.log(`listening ${url}`);
const stop = async () => {
  await mf.dispose().catch(() => {});
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
