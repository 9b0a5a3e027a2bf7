// Shared helpers for the end-to-end tests: tokens from the TMS stand-in, REST
// through the edge, sockets with the official socket.io-client, rows via psql.
import { execFileSync } from "node:child_process";
import { createHash, createHmac, randomUUID } from "node:crypto";
import { io } from "socket.io-client";

export const EDGE = process.env.EDGE_URL;
export const TMS = process.env.TMS_URL;
export const CORE = process.env.CORE_URL;

export async function token(user, extra = {}) {
  const r = await fetch(`${TMS}/dev/token`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ sub: user, ...extra }),
  });
  if (r.status !== 200) throw new Error(`token for ${user}: ${r.status} ${await r.text()}`);
  return (await r.json()).token;
}

/** `fetch` to the edge, sent again when wrangler's dev proxy lost its pooled
 *  connection to workerd before the request got there: it then answers 503
 *  "Your worker restarted mid-request" and retries only GET/HEAD itself; and
 *  when the client's own pooled connection to the proxy was closed while idle
 *  (seen after a few idle seconds). Both are the local proxy's, not the Worker's.
 *  `init` may be a function, called per attempt: a signed request must be
 *  signed again, since the edge refuses a replayed signature. */
export async function edgeFetch(url, init) {
  for (let attempt = 1; ; attempt++) {
    let r;
    try {
      r = await fetch(url, typeof init === "function" ? init() : init);
    } catch (e) {
      // a pooled keep-alive connection the proxy closed while idle: undici sends
      // only idempotent requests again itself, so a POST or PATCH fails here
      if (e?.cause?.code !== "UND_ERR_SOCKET" || attempt === 3) throw e;
      continue;
    }
    if (r.status !== 503 || attempt === 3) return r;
    const text = await r.clone().text();
    if (!text.includes("restarted mid-request")) return r;
  }
}

/** REST through the edge; returns [status, body]. */
export async function api(tok, method, path, body) {
  const headers = { "content-type": "application/json" };
  if (tok) headers.authorization = `Bearer ${tok}`;
  const r = await edgeFetch(EDGE + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  return [r.status, await r.json()];
}

export async function conversation(tok, type, memberIds) {
  const body = { type, member_ids: memberIds };
  if (type === "group") body.title = "e2e group";
  const [status, res] = await api(tok, "POST", "/api/v1/conversations", body);
  if (status !== 201 && status !== 200) throw new Error(`create conversation: ${status} ${JSON.stringify(res)}`);
  return res.data.id;
}

const open = [];

/** Connects a socket to a namespace; resolves when connected, rejects on connect_error. */
export function connect(tok, nsp = "/messaging", opts = {}) {
  return new Promise((resolve, reject) => {
    const socket = io(EDGE + nsp, {
      transports: ["websocket"],
      auth: tok === undefined ? undefined : { token: tok },
      reconnection: false,
      forceNew: true,
      ...opts,
    });
    open.push(socket);
    const events = [];
    socket.onAny((name, ...args) => events.push({ name, args }));
    socket.events = events;
    socket.on("connect", () => resolve(socket));
    socket.on("connect_error", (err) => reject(err));
  });
}

export function closeAll() {
  while (open.length) open.pop().close();
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Waits until `predicate()` (which may be async) is truthy, polling. */
export async function until(predicate, what, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await predicate();
    if (value) return value;
    await sleep(20);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Waits until core sees every user online (presence reaches it in the gateways' next batch). */
export async function untilOnline(tok, users) {
  await until(async () => {
    const [, res] = await api(tok, "GET", `/api/v1/presence?user_ids=${users.join(",")}`);
    return res.data?.every((p) => p.online);
  }, `${users} online at core`);
}

export function received(socket, name) {
  return socket.events.filter((e) => e.name === name).map((e) => e.args[0]);
}

/** One SQL value from the e2e database (psql, so no driver is needed). */
export function sql(query) {
  return execFileSync("psql", [process.env.E2E_DATABASE_URL, "-Atc", query], { encoding: "utf8" }).trim();
}

let counter = 0;
export const clientId = () => `e2e-${process.pid}-${Date.now()}-${counter++}`;

/** The internal-API headers for a system call (core → edge), signed with INTERNAL_API_SECRET
 *  from the contract's canonical string, independently of the Rust signer. */
export function signedHeaders(path, body, { timestamp = Math.floor(Date.now() / 1000), secret = process.env.INTERNAL_API_SECRET, nonce = randomUUID().replaceAll("-", "") } = {}) {
  const bodyHash = createHash("sha256").update(body).digest("hex");
  const canonical = ["POST", path, String(timestamp), nonce, "", bodyHash].join("\n");
  return {
    "content-type": "application/json",
    "x-internal-timestamp": String(timestamp),
    "x-internal-nonce": nonce,
    "x-internal-user": "",
    "x-internal-signature": createHmac("sha256", secret).update(canonical).digest("hex"),
  };
}

/** The gateway object that holds a socket: its Engine.IO id is `{gateway}.{nonce}`. */
export function gatewayOf(socket) {
  const sid = socket.io.engine.id;
  return sid.slice(0, sid.lastIndexOf("."));
}

/** The edge objects' own counters (`POST /internal/v1/stats`). */
export async function edgeStats({ gateways = [], conversations = [] }) {
  const body = JSON.stringify({ gateways, conversations });
  const r = await edgeFetch(`${EDGE}/internal/v1/stats`, () => ({ method: "POST", headers: signedHeaders("/internal/v1/stats", body), body }));
  if (r.status !== 200) throw new Error(`stats: ${r.status} ${await r.text()}`);
  return (await r.json()).data;
}

/** A barrier on one socket: an event the gateway answers with an error ack
 *  (an unknown name). When its ack is back, every frame the gateway wrote to
 *  this socket before reading the probe has arrived. */
export async function roundTrip(socket) {
  const ack = await socket.emitWithAck("e2e_barrier", {});
  if (ack?.error?.code !== "BAD_REQUEST") throw new Error(`barrier: ${JSON.stringify(ack)}`);
}
