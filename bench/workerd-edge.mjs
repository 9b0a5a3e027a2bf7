// The edge in `workerd serve` with a generated config: the Worker and its
// Durable Objects alone, as production runs them, without wrangler's dev proxy
// and without Miniflare's entry worker in front of every request and socket.
// Durable Object storage is on disk in a temporary directory. Reads wrangler.toml like
// miniflare-edge.mjs; the workerd binary is the one npm installed with wrangler.
//
//   node bench/workerd-edge.mjs --port 8787 --var CORE_API_URL:http://… --var JWT_SECRET:…
// Prints `listening <url>` once ready; stops workerd on SIGTERM/SIGINT.
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { edgeVars, readWranglerToml } from "./wrangler-toml.mjs";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const { values: o } = parseArgs({
  options: {
    port: { type: "string", default: "8787" },
    config: { type: "string", default: join(ROOT, "wrangler.toml") },
    var: { type: "string", multiple: true, default: [] },
    // instead of the edge: bench/floor/worker.mjs, a Durable Object that only
    // holds WebSockets (workerd's own memory per socket, for the idle workload),
    // with the edge's compatibility date and flags
    floor: { type: "boolean", default: false },
  },
});

const cfg = readWranglerToml(readFileSync(o.config, "utf8"));
if (!cfg.main || !cfg.compatibilityDate || !Object.keys(cfg.bindings).length) {
  throw new Error(`could not read main, compatibility_date and the Durable Object bindings from ${o.config}`);
}
const vars = edgeVars(cfg, o.var);
const main = resolve(ROOT, cfg.main);
const wasm = join(dirname(main), "index_bg.wasm");
const str = (s) => JSON.stringify(String(s)); // a Cap'n Proto text literal
const edgeBindings = [
  ...Object.entries(vars).map(([k, v]) => `(name = ${str(k)}, text = ${str(v)})`),
  ...Object.entries(cfg.bindings).map(([name, cls]) => `(name = ${str(name)}, durableObjectNamespace = ${str(cls)})`),
];
const edgeClasses = [...new Set(Object.values(cfg.bindings))].map(
  (cls) => `(className = ${str(cls)}, uniqueKey = ${str(`teamchat-${cls}`)}${cfg.sqlite.has(cls) ? ", enableSql = true" : ""})`,
);
const floorScript = join(ROOT, "bench", "floor", "worker.mjs");
const modules = () =>
  o.floor
    ? [`(name = "worker.mjs", esModule = embed ${str(embedPath(floorScript))})`]
    : [`(name = "index.js", esModule = embed ${str(embedPath(main))})`, `(name = "index_bg.wasm", wasm = embed ${str(embedPath(wasm))})`];
const bindings = o.floor ? [`(name = "HOLDER", durableObjectNamespace = "Holder")`] : edgeBindings;
const classes = o.floor ? [`(className = "Holder", uniqueKey = "floor-holder")`] : edgeClasses;
const capnpText = () => `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "edge", worker = .edge),
    (name = "net", network = (allow = ["public", "private", "local"])),
    (name = "do-storage", disk = (path = ${str(join(dir, "do"))}, writable = true)),
  ],
  sockets = [(name = "http", address = ${str(`127.0.0.1:${o.port}`)}, http = (), service = "edge")],
);
const edge :Workerd.Worker = (
  modules = [
    ${modules().join(",\n    ")}
  ],
  compatibilityDate = ${str(cfg.compatibilityDate)},
  compatibilityFlags = [${cfg.flags.map(str).join(", ")}],
  bindings = [
    ${bindings.join(",\n    ")}
  ],
  durableObjectNamespaces = [${classes.join(", ")}],
  durableObjectStorage = (localDisk = "do-storage"),
  globalOutbound = "net",
);
`;
const dir = mkdtempSync(join(tmpdir(), "workerd-edge-"));
const file = join(dir, "edge.capnp");
// embed paths are relative to the config file (a leading "/" means an import root)
const embedPath = (path) => relative(dir, path);
mkdirSync(join(dir, "do"));
writeFileSync(file, capnpText());
const require = createRequire(import.meta.url);
const bin = join(dirname(require.resolve("@cloudflare/workerd-linux-64/package.json")), "bin", "workerd");
// EDGE_INSPECTOR_PORT: for a CPU profile of the Worker (bench/profile.mjs)
const inspector = process.env.EDGE_INSPECTOR_PORT ? [`--inspector-addr=127.0.0.1:${process.env.EDGE_INSPECTOR_PORT}`] : [];
const child = spawn(bin, ["serve", file, "--experimental", ...inspector], { stdio: ["ignore", "inherit", "inherit"] });
child.on("exit", (code) => {
  rmSync(dir, { recursive: true, force: true });
  process.exit(code ?? 1);
});
const url = `http://127.0.0.1:${o.port}`;
for (let i = 0; i < 300; i++) {
  const up = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) }).then(() => true, () => false);
  if (up) break;
  await new Promise((r) => setTimeout(r, 100));
}
console.log(`listening ${url}`);
const stop = () => child.kill("SIGTERM");
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
