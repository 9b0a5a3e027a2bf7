// What the bench's edge runners (miniflare-edge.mjs, workerd-edge.mjs) read
// from wrangler.toml, and the --var NAME:VALUE overrides.

/**
 * The parts of wrangler.toml this needs, from its top level (environments are
 * ignored): main, compatibility_date and _flags, [vars], the Durable Object bindings and
 * the classes of `new_sqlite_classes`. A small reader for this file's shape,
 * not a TOML parser.
 */
export function readWranglerToml(text) {
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


/** `[vars]` with the `NAME:VALUE` overrides applied. */
export function edgeVars(cfg, overrides) {
  const vars = { ...cfg.vars };
  for (const kv of overrides) {
    const i = kv.indexOf(":");
    vars[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return vars;
}
