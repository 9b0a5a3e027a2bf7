// The security suite (docs/security.md): a JWT corpus refused alike at the
// edge's REST, core's REST and socket connect; an authorization matrix
// generated from the OpenAPI document (each operation with a path id, with
// no token, as an outsider and as a removed member; the owner/admin/author
// operations as a plain member) and from the AsyncAPI document (every client
// event with an ack), each also checking that nothing changed in Postgres;
// removed means removed at the gateway; probes of the internal API, the webhook and /metrics; and the
// input bounds.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { createHmac, createPublicKey, generateKeyPairSync, sign as rsaSign } from "node:crypto";
import net from "node:net";
import WebSocket from "ws";
import { CORE, EDGE, TMS, api, clientId, closeAll, connect, conversation, edgeFetch, edgeStats, gatewayOf, received, signedHeaders, sleep, sql, token, until } from "./helpers.mjs";

after(closeAll);

const now = () => Math.floor(Date.now() / 1000);
const b64 = (v) => Buffer.from(typeof v === "string" ? v : JSON.stringify(v)).toString("base64url");
const ISS = process.env.JWT_ISSUER;
const AUD = process.env.JWT_AUDIENCE;

/** A token signed with `secret` (HS256 by default) from any header and claims. */
function hs(claims, header = {}, secret = process.env.JWT_SECRET) {
  const h = { alg: "HS256", typ: "JWT", ...header };
  const input = `${b64(h)}.${b64(claims)}`;
  return `${input}.${createHmac("sha256", secret).update(input).digest("base64url")}`;
}

/** Claims a TMS token for `sub` would carry, valid now. */
function claims(sub = "alice", extra = {}) {
  const c = { sub, iat: now(), exp: now() + 600 };
  if (ISS) c.iss = ISS;
  if (AUD) c.aud = AUD;
  return { ...c, ...extra };
}

async function corpus() {
  const jwks = await (await fetch(`${TMS}/.well-known/jwks.json`)).json();
  const rsa = jwks.keys.find((k) => k.kty === "RSA");
  const rsaPem = createPublicKey({ key: rsa, format: "jwk" }).export({ type: "spki", format: "pem" });
  // an attacker's own key, announced through jku/x5u: both must be ignored
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const rsSigned = (header) => {
    const input = `${b64({ alg: "RS256", typ: "JWT", ...header })}.${b64(claims())}`;
    return `${input}.${rsaSign("sha256", Buffer.from(input), privateKey).toString("base64url")}`;
  };
  const none = (alg) => `${b64({ alg, typ: "JWT" })}.${b64(claims())}.`;
  const stand = (body) => token(body.sub ?? "alice", body);
  return [
    ["alg none", none("none"), "TOKEN_ALGORITHM_NOT_ALLOWED"],
    ["alg None", none("None"), "TOKEN_ALGORITHM_NOT_ALLOWED"],
    ["alg NONE", none("NONE"), "TOKEN_ALGORITHM_NOT_ALLOWED"],
    ["alg nOnE", none("nOnE"), "TOKEN_ALGORITHM_NOT_ALLOWED"],
    ["alg hs512", hs(claims(), { alg: "HS512" }), "TOKEN_ALGORITHM_NOT_ALLOWED"],
    // HS256 keyed with the RSA public key the JWKS publishes (algorithm confusion)
    ["HS/RS confusion", hs(claims(), { kid: rsa.kid }, rsaPem), "TOKEN_SIGNATURE_INVALID"],
    ["RS256 unknown kid", rsSigned({ kid: "no-such-kid" }), "TOKEN_UNKNOWN_KEY"],
    ["hostile kid path", rsSigned({ kid: "../../../../etc/passwd" }), "TOKEN_UNKNOWN_KEY"],
    ["hostile kid sql", rsSigned({ kid: "' OR '1'='1" }), "TOKEN_UNKNOWN_KEY"],
    ["kid not a string", hs(claims(), { kid: { $ne: 1 } }), "TOKEN_MALFORMED"],
    ["jku ignored", rsSigned({ kid: rsa.kid, jku: `${TMS}/attacker.json` }), "TOKEN_SIGNATURE_INVALID"],
    ["x5u ignored", rsSigned({ kid: rsa.kid, x5u: `${TMS}/attacker.pem` }), "TOKEN_SIGNATURE_INVALID"],
    ["crit", hs(claims(), { crit: ["exp"] }), "TOKEN_MALFORMED"],
    ["expired", await stand({ sub: "alice", ttl_secs: -3600 }), "TOKEN_EXPIRED"],
    ["not yet valid", hs(claims("alice", { nbf: now() + 3600 })), "TOKEN_NOT_YET_VALID"],
    ["missing exp", hs(claims("alice", { exp: undefined })), "TOKEN_MALFORMED"],
    ["lifetime over the maximum", hs(claims("alice", { exp: now() + 10 * 86400 })), "TOKEN_LIFETIME_TOO_LONG"],
    ["exp in the year 3000", hs(claims("alice", { exp: 32503680000 })), "TOKEN_LIFETIME_TOO_LONG"],
    ["sub missing", hs(claims("alice", { sub: undefined })), "TOKEN_SUBJECT_MISSING"],
    ["sub empty", hs(claims("")), "TOKEN_SUBJECT_MISSING"],
    ["sub object", hs(claims({ id: "alice" })), "TOKEN_SUBJECT_MISSING"],
    ["sub float", hs(claims(1.5)), "TOKEN_SUBJECT_MISSING"],
    ["sub spaces", hs(claims(" alice")), "TOKEN_SUBJECT_MISSING"],
    ["sub dot segment", hs(claims("..")), "TOKEN_SUBJECT_MISSING"],
    ["sub too long", hs(claims("u".repeat(129))), "TOKEN_SUBJECT_MISSING"],
    ["oversized", hs(claims("alice", { pad: "x".repeat(9000) })), "TOKEN_MALFORMED"],
    ["two segments", "abc.def", "TOKEN_MALFORMED"],
    ["wrong secret", hs(claims(), {}, "not-the-tms-secret-0123456789abcdef0123"), "TOKEN_SIGNATURE_INVALID"],
    ["wrong iss", hs(claims("alice", { iss: "https://evil.example" })), ISS ? "TOKEN_ISSUER_INVALID" : null],
    ["missing iss", hs(claims("alice", { iss: undefined })), ISS ? "TOKEN_ISSUER_INVALID" : null],
    ["wrong aud", hs(claims("alice", { aud: "someone-else" })), AUD ? "TOKEN_AUDIENCE_INVALID" : null],
    ["aud array without ours", hs(claims("alice", { aud: ["a", "b"] })), AUD ? "TOKEN_AUDIENCE_INVALID" : null],
  ].filter(([, , code]) => code !== null);
}

test("the JWT corpus is refused with the same code at edge REST, core REST and socket connect", async () => {
  assert.ok(ISS && AUD, "the e2e stack sets JWT_ISSUER and JWT_AUDIENCE");
  // core and edge know TMS's current RSA key (an earlier test may have rotated it): else a
  // forged token naming it would be refused as an unknown key before its signature is checked
  const fresh = await token("alice", { alg: "RS256" });
  for (const base of [EDGE, CORE]) {
    await until(async () => (await edgeFetch(`${base}/api/v1/auth/me`, { headers: { authorization: `Bearer ${fresh}` } })).status === 200, `${base} knows the current key`);
  }
  const cases = await corpus();
  for (const [name, tok, code] of cases) {
    for (const base of [EDGE, CORE]) {
      const r = await edgeFetch(`${base}/api/v1/auth/me`, { headers: { authorization: `Bearer ${tok}` } });
      const body = await r.json();
      assert.equal(r.status, 401, `${name} at ${base}: ${JSON.stringify(body)}`);
      assert.equal(body.error?.code, code, `${name} at ${base}: ${JSON.stringify(body)}`);
    }
    await assert.rejects(connect(tok), (err) => {
      assert.equal(err.data?.code, code, `${name} at connect: ${JSON.stringify(err.data)} ${err.message}`);
      return true;
    });
  }
  // the control: a TMS token passes all three
  const good = await token("alice");
  const [status] = await api(good, "GET", "/api/v1/auth/me");
  assert.equal(status, 200);
  assert.equal((await fetch(`${CORE}/api/v1/auth/me`, { headers: { authorization: `Bearer ${good}` } })).status, 200);
  assert.ok((await connect(good)).connected);
  closeAll();
});

/** A fingerprint of every table's rows (Redis-only state aside). */
function snapshot() {
  const tables = sql(
    "SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables WHERE schemaname = 'public' AND tablename <> '_sqlx_migrations'",
  ).split(",");
  return Object.fromEntries(tables.map((t) => [t, sql(`SELECT md5(coalesce(string_agg(x::text, ',' ORDER BY x::text), '')) FROM "${t}" x`)]));
}

/** The schema at a local `$ref` (`#/components/…`) of an OpenAPI or AsyncAPI document. */
function resolve(doc, schema) {
  return schema?.$ref ? resolve(doc, schema.$ref.split("/").slice(1).reduce((node, key) => node[key], doc)) : schema;
}

/** A well-formed value for a JSON schema: `values` by property name, else the first enum
 *  value, else the smallest value of the type; objects get their required properties and
 *  those named in `values` (allOf parts merged). */
function example(doc, schema, values, name) {
  const s = resolve(doc, schema) ?? {};
  if (name !== undefined && name in values) return values[name];
  const parts = [s, ...(s.allOf ?? []).map((p) => resolve(doc, p))];
  const alternative = s.oneOf ?? s.anyOf;
  if (alternative) return example(doc, alternative.find((a) => resolve(doc, a)?.type !== "null") ?? alternative[0], values);
  const enumValues = parts.map((p) => p.enum).find(Boolean);
  if (enumValues) return enumValues[0];
  const properties = Object.assign({}, ...parts.map((p) => p.properties ?? {}));
  if (Object.keys(properties).length) {
    const required = parts.flatMap((p) => p.required ?? []);
    return Object.fromEntries(
      Object.entries(properties)
        .filter(([key]) => required.includes(key) || key in values)
        .map(([key, p]) => [key, example(doc, p, values, key)]),
    );
  }
  const type = [s.type].flat().find((t) => t !== "null");
  if (type === "array") return [example(doc, s.items, values)];
  return { integer: 1, number: 1, boolean: false, object: {} }[type] ?? "x";
}

test("authorization matrix from the OpenAPI document: no token, an outsider and a removed member change nothing", async () => {
  const doc = await (await fetch(`${CORE}/openapi.json`)).json();
  const [ta, tb, tf, te] = [await token("alice"), await token("bob"), await token("frank"), await token("erin")];
  // frank exists locally before the matrix starts (his first call registers him)
  assert.equal((await api(tf, "GET", "/api/v1/conversations"))[0], 200);
  const group = await conversation(ta, "group", ["bob", "erin"]);
  const [, sent] = await api(ta, "POST", "/api/v1/messages", { conversation_id: group, type: "text", content: "matrix", client_msg_id: clientId() });
  const [, poll] = await api(ta, "POST", `/api/v1/conversations/${group}/polls`, { question: "q?", options: ["a", "b"] });
  const [, call] = await api(ta, "POST", `/api/v1/conversations/${group}/calls`, { type: "voice" });
  const callId = call.data?.id ?? call.data?.call?.id;
  const pollId = poll.data?.poll?.id;
  assert.ok(sent.data?.id && pollId, `${JSON.stringify(sent)} ${JSON.stringify(poll)}`);
  // ended before the snapshot: a call left ringing is swept as missed (and writes its system line) mid-matrix
  if (callId) assert.equal((await api(ta, "POST", `/api/v1/calls/${callId}/end`, {}))[0], 200);
  // erin was a member when the message, poll and call were made
  assert.equal((await api(ta, "DELETE", `/api/v1/conversations/${group}/members/erin`))[0], 200);
  const ids = { conversation: group, message: sent.data.id, poll: pollId, call: callId };

  const fill = (path) =>
    path.replace(/\{(\w+)\}/g, (_, name) => {
      if (name === "user_id") return "bob";
      if (name === "emoji") return encodeURIComponent("👍");
      if (name === "action") return "end";
      if (name === "kind") return "read";
      const scope = path.split("/")[1]; // conversations, messages, polls, calls
      return ids[{ conversations: "conversation", messages: "message", polls: "poll", calls: "call" }[scope]];
    });
  const operations = [];
  for (const [fullPath, item] of Object.entries(doc.paths)) {
    // the document's paths are absolute (`/api/v1/…`); `api` adds the prefix
    if (!fullPath.startsWith("/api/v1/") || !fullPath.includes("{")) continue;
    const path = fullPath.slice("/api/v1".length);
    const scope = path.split("/")[1];
    // profiles are every user's to read; the docs' assets are public
    if (["users", "docs"].includes(scope)) continue;
    for (const method of Object.keys(item)) {
      if (!["get", "post", "put", "patch", "delete"].includes(method)) continue;
      if (scope === "calls" && !ids.call) continue;
      operations.push([method.toUpperCase(), fill(path)]);
    }
  }
  assert.ok(operations.length >= 15, `only ${operations.length} operations with a path id`);
  assert.ok(!operations.some(([, path]) => path.includes("undefined")), JSON.stringify(operations));
  // a well-formed body from each operation's schema: a refusal must come from authorization, not from parsing
  const values = { content: "x", role: "admin", option_ids: [poll.data.poll.options[0].id], member_ids: ["frank"], title: "t", question: "q?", options: ["a", "b"], seq: 1, client_msg_id: "matrix", pinned: true };
  const bodies = {};
  for (const [fullPath, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const schema = op.requestBody?.content?.["application/json"]?.schema;
      if (schema) bodies[`${method.toUpperCase()} ${fill(fullPath.slice("/api/v1".length))}`] = example(doc, schema, values);
    }
  }
  const bodyFor = (method, path) => bodies[`${method} ${path}`];

  const before = snapshot();
  for (const [method, path] of operations) {
    const [noToken, res0] = await api(undefined, method, `/api/v1${path}`, bodyFor(method, path));
    assert.equal(noToken, 401, `${method} ${path} without a token: ${JSON.stringify(res0)}`);
    assert.equal(res0.error.code, "TOKEN_MISSING");
    const [outsider, res1] = await api(tf, method, `/api/v1${path}`, bodyFor(method, path));
    assert.ok([403, 404].includes(outsider), `${method} ${path} as an outsider: ${outsider} ${JSON.stringify(res1)}`);
    assert.equal(res1.success, false);
    const [removed, res2] = await api(te, method, `/api/v1${path}`, bodyFor(method, path));
    assert.ok([403, 404].includes(removed), `${method} ${path} as a removed member: ${removed} ${JSON.stringify(res2)}`);
    assert.equal(res2.success, false);
  }
  const afterwards = snapshot();
  for (const table of Object.keys(before)) assert.equal(afterwards[table], before[table], `${table} changed`);
  // the control: bob, a member, reads what frank could not
  assert.equal((await api(tb, "GET", `/api/v1/conversations/${group}/messages`))[0], 200);
});

test("a member without the role is refused every owner/admin/sender-only operation, and nothing changes", async () => {
  const doc = await (await fetch(`${CORE}/openapi.json`)).json();
  const byId = {};
  for (const [path, item] of Object.entries(doc.paths)) for (const [method, op] of Object.entries(item)) byId[op.operationId] = [method.toUpperCase(), path.replace(/^\/api\/v1/, "")];
  const [ta, tb] = [await token("alice"), await token("bob")];
  const group = await conversation(ta, "group", ["bob", "carol"]);
  const [, sent] = await api(ta, "POST", "/api/v1/messages", { conversation_id: group, type: "text", content: "role matrix", client_msg_id: clientId() });
  const [, poll] = await api(ta, "POST", `/api/v1/conversations/${group}/polls`, { question: "q?", options: ["a", "b"] });
  const fill = (path) => path.replace("{id}", path.startsWith("/messages") ? sent.data.id : path.startsWith("/polls") ? poll.data.poll.id : group).replace("{user_id}", "carol");
  // bob is a plain member; these need the owner, an admin, or the message's or poll's author
  const gated = {
    renameConversation: { title: "renamed by bob" },
    addMembers: { member_ids: ["frank"] },
    removeMember: undefined,
    setMemberRole: { role: "admin" },
    setConversationPrivacy: { push_previews: false },
    editMessage: { content: "edited by bob" },
    deleteMessage: undefined,
    closePoll: {},
  };
  const before = snapshot();
  for (const [operationId, body] of Object.entries(gated)) {
    assert.ok(byId[operationId], `${operationId} is in the OpenAPI document`);
    const [method, path] = byId[operationId];
    const [status, res] = await api(tb, method, `/api/v1${fill(path)}`, body);
    assert.equal(status, 403, `${operationId} as a member without the role: ${status} ${JSON.stringify(res)}`);
    assert.equal(res.error.code, "FORBIDDEN");
  }
  const afterwards = snapshot();
  for (const table of Object.keys(before)) assert.equal(afterwards[table], before[table], `${table} changed`);
  // the control: the owner may do what bob could not
  const [method, path] = byId.renameConversation;
  assert.equal((await api(ta, method, `/api/v1${fill(path)}`, gated.renameConversation))[0], 200);
});

test("socket event matrix from the AsyncAPI document: an outsider and a removed member are refused and change nothing", async () => {
  const doc = await (await fetch(`${CORE}/asyncapi.json`)).json();
  const [ta, tf, te] = [await token("alice"), await token("frank"), await token("erin")];
  const group = await conversation(ta, "group", ["bob", "erin"]);
  const [, sent] = await api(ta, "POST", "/api/v1/messages", { conversation_id: group, type: "text", content: "socket matrix", client_msg_id: clientId() });
  const [, call] = await api(ta, "POST", `/api/v1/conversations/${group}/calls`, { type: "voice" });
  const callId = call.data?.id ?? call.data?.call?.id;
  assert.ok(callId, JSON.stringify(call));
  // ended before the snapshot (a ringing call is swept as missed mid-matrix); the refusals come first anyway
  assert.equal((await api(ta, "POST", `/api/v1/calls/${callId}/end`, {}))[0], 200);
  assert.equal((await api(ta, "DELETE", `/api/v1/conversations/${group}/members/erin`))[0], 200);
  const values = { conversation_id: group, message_id: sent.data.id, call_id: callId, client_msg_id: clientId(), to_user_id: "alice", user_id: "alice", content: "x" };
  const schemaOf = (ref) => resolve(doc, { $ref: ref });
  const operations = Object.values(doc.operations).filter((op) => op.action === "receive" && op.reply);
  const byNamespace = {};
  for (const op of operations) {
    const address = schemaOf(op.channel.$ref).address;
    const message = schemaOf(op.messages[0].$ref);
    // refreshing one's own token and leaving a room one is not in are no one else's business
    if (["refresh_token", "leave_conversation"].includes(message.name)) continue;
    (byNamespace[address] ??= []).push([message.name, example(doc, message.payload, values)]);
  }
  assert.ok(Object.values(byNamespace).flat().length >= 8, JSON.stringify(byNamespace));
  const before = snapshot();
  for (const [who, tok] of [["an outsider", tf], ["a removed member", te]]) {
    for (const [nsp, events] of Object.entries(byNamespace)) {
      const socket = await connect(tok, nsp);
      for (const [name, payload] of events) {
        const ack = await socket.emitWithAck(name, payload);
        assert.equal(ack.ok, false, `${nsp} ${name} as ${who}: ${JSON.stringify(ack)}`);
        assert.ok(["FORBIDDEN", "NOT_FOUND"].includes(ack.error.code), `${nsp} ${name} as ${who}: ${JSON.stringify(ack)}`);
      }
    }
  }
  const afterwards = snapshot();
  for (const table of Object.keys(before)) assert.equal(afterwards[table], before[table], `${table} changed`);
  closeAll();
});

test("removed means removed: a removal whose pushes never reached the edge still stops the room at the gateway", async () => {
  const [ta, tc, td] = [await token("alice"), await token("carol"), await token("dave")];
  const g = await conversation(ta, "group", ["carol", "dave"]);
  const [a, c, d] = [await connect(ta), await connect(tc), await connect(td)];
  for (const s of [a, c, d]) assert.equal((await s.emitWithAck("join_conversation", { conversation_id: g })).ok, true);
  const send = (content) => a.emitWithAck("send_message", { conversation_id: g, type: "text", content, client_msg_id: clientId() });
  const copy = (s, ack) => () => received(s, "new_message").find((m) => m.id === ack.data.id);
  const texts = (s) => received(s, "new_message").filter((m) => m.type === "text").map((m) => m.content);
  const before = await send("before");
  await until(copy(c, before), "carol's copy before");
  const gateways = [...new Set([a, c, d].map(gatewayOf))];
  const checks = async () => Object.values((await edgeStats({ gateways })).gateways).reduce((n, g) => n + (g.member_checks ?? 0), 0);
  const checksBefore = await checks();

  // carol removed as Postgres holds it, with none of the removal's pushes sent (as if every one was dropped)
  const epoch = sql(`WITH gone AS (DELETE FROM conversation_members WHERE conversation_id = '${g}'
    AND user_id = (SELECT id FROM users WHERE tms_user_id = 'carol') RETURNING conversation_id)
    UPDATE conversations SET removal_epoch = removal_epoch + 1 WHERE id IN (SELECT conversation_id FROM gone) RETURNING removal_epoch`);
  assert.equal(epoch.split("\n")[0], "1", epoch);
  const after = await send("after");
  await until(copy(d, after), "dave, still a member, gets it once core confirmed him");
  await until(copy(a, after), "alice's own copy");
  const checksAfter = await checks();
  assert.ok(checksAfter > checksBefore, `the gateways asked core (${checksBefore} → ${checksAfter})`);

  // the barrier: added back and joined, carol hears the room's next message after "after" would have arrived
  assert.equal((await api(ta, "POST", `/api/v1/conversations/${g}/members`, { member_ids: ["carol"] }))[0], 200);
  assert.equal((await c.emitWithAck("join_conversation", { conversation_id: g })).ok, true);
  const back = await send("back");
  await until(copy(c, back), "carol's copy once back");
  assert.deepEqual(texts(c), ["before", "back"], "carol got nothing while removed");

  // a removal whose eviction reaches the gateways costs no question to core
  assert.equal((await api(ta, "DELETE", `/api/v1/conversations/${g}/members/dave`))[0], 200);
  await until(() => received(a, "member_removed").find((e) => e.user_id === "dave"), "the room hears of dave's removal");
  const final = await send("final");
  await until(copy(c, final), "carol's copy of the next message");
  await until(copy(a, final), "alice's copy of the next message");
  assert.equal(await checks(), checksAfter, "the eviction advanced the other sockets' epoch");
  closeAll();
});

function webhookHeader(body, { t = now(), secret = process.env.TMS_WEBHOOK_SECRET, extra = "" } = {}) {
  const v1 = createHmac("sha256", secret).update(`${t}.${body}`).digest("hex");
  return `t=${t}${extra},v1=${v1}`;
}

test("internal API, webhook and metrics probes are refused", async () => {
  // core's internal API takes only the edge's signature, never a user token
  for (const [method, path] of [["POST", "/internal/v1/messages"], ["GET", `/internal/v1/conversations/00000000-0000-0000-0000-000000000000/membership`], ["POST", "/internal/v1/presence"]]) {
    for (const headers of [{}, { authorization: `Bearer ${await token("alice")}` }, signedHeaders(path, "{}", { timestamp: now() - 600 })]) {
      const r = await fetch(`${CORE}${path}`, { method, headers: { "content-type": "application/json", ...headers }, body: method === "GET" ? undefined : "{}" });
      assert.equal(r.status, 401, `${method} ${path}`);
      assert.equal((await r.json()).error.code, "INTERNAL_AUTH_FAILED");
    }
  }
  // the webhook: unsigned, stale, hostile (too many candidates, oversized) and replayed
  const body = JSON.stringify({ id: `evt-${clientId()}`, type: "user.updated", data: { tms_user_id: "bob" } });
  const post = (sig) => edgeFetch(`${EDGE}/api/v1/webhooks/tms`, { method: "POST", headers: { "content-type": "application/json", ...(sig ? { "x-tms-signature": sig } : {}) }, body });
  for (const [name, sig] of [
    ["unsigned", undefined],
    ["stale", webhookHeader(body, { t: now() - 3600 })],
    ["many candidates", webhookHeader(body, { extra: ",v1=00".repeat(10) })],
    ["oversized", webhookHeader(body, { extra: `,x=${"a".repeat(2000)}` })],
  ]) {
    const r = await post(sig);
    assert.equal(r.status, 401, name);
    assert.equal((await r.json()).error.code, "WEBHOOK_SIGNATURE_INVALID", name);
  }
  const good = webhookHeader(body);
  assert.equal((await post(good)).status, 200);
  const replay = await post(good);
  assert.equal(replay.status, 401, "replayed");
  // /metrics is core's, never the edge's
  assert.equal((await edgeFetch(`${EDGE}/metrics`)).status, 404);
});

/** Sends `request` as written on a TCP socket to `base`; resolves with the
 *  answer once a JSON body ended in it (or the server closed). */
function rawHttp(base, request) {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    let data = "";
    const s = net.connect(Number(url.port), url.hostname, () => s.write(request));
    const done = () => { s.destroy(); resolve(data); };
    s.on("data", (d) => {
      data += d;
      if (data.includes("\r\n\r\n") && /\}\s*(0\s*)?$/.test(data)) done();
    });
    s.on("end", done);
    s.on("error", reject);
    setTimeout(() => { s.destroy(); reject(new Error(`no answer: ${data}`)); }, 8000);
  });
}

test("input bounds: NUL, file names, dimensions, dot-segment ids and declared lengths", async () => {
  const ta = await token("alice");
  const dm = await conversation(ta, "direct", ["bob"]);
  const count = () => sql(`SELECT count(*) FROM messages WHERE conversation_id = '${dm}'`);
  const before = count();
  const refused = [
    { conversation_id: dm, type: "text", content: "a\u0000b", client_msg_id: clientId() },
    { conversation_id: dm, type: "image", attachment: { object_key: "k", content_type: "image/png", size_bytes: 1, file_name: "n".repeat(256) } },
    { conversation_id: dm, type: "image", attachment: { object_key: "k", content_type: "image/png", size_bytes: 1, width: -1 } },
    { conversation_id: dm, type: "voice", attachment: { object_key: "k", content_type: "audio/ogg", size_bytes: 1, duration_ms: -1 } },
  ];
  for (const body of refused) {
    const [status, res] = await api(ta, "POST", "/api/v1/messages", body);
    assert.equal(status, 422, JSON.stringify(res));
    assert.equal(res.error.code, "VALIDATION_ERROR");
  }
  const socket = await connect(ta);
  const ack = await socket.emitWithAck("send_message", refused[0]);
  assert.equal(ack.ok, false);
  assert.equal(ack.error.code, "VALIDATION_ERROR");
  assert.equal(count(), before, "nothing stored");

  // a dot segment never reaches TMS as another path
  const tmsBefore = (await (await fetch(`${TMS}/__control/stats`)).json()).user;
  // fetch resolves `%2E%2E` itself: an attacker's raw socket does not
  for (const base of [EDGE, CORE]) {
    const answer = await rawHttp(base, `GET /api/v1/users/%2E%2E HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${ta}\r\nconnection: close\r\n\r\n`);
    assert.match(answer, /^HTTP\/1\.1 (422|404)/, answer);
    if (base === CORE) assert.match(answer, /^HTTP\/1\.1 422[\s\S]*VALIDATION_ERROR/, answer);
  }
  const tmsAfter = (await (await fetch(`${TMS}/__control/stats`)).json()).user;
  assert.equal(tmsAfter, tmsBefore, "TMS was not asked for a user");

  // a declared Content-Length over the limit is refused (before the body is
  // read: front_door::check_content_length; wrangler dev's proxy reads the
  // whole body before workerd sees it, so the e2e sends all of it)
  const big = JSON.stringify({ conversation_id: dm, type: "text", content: "x".repeat(300 * 1024) });
  const answer = await rawHttp(
    EDGE,
    `POST /api/v1/messages HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${ta}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(big)}\r\nconnection: close\r\n\r\n${big}`,
  );
  assert.match(answer, /^HTTP\/1\.1 413/, answer);
  assert.match(answer, /PAYLOAD_TOO_LARGE/);
});

test("past its token's exp a socket can neither send nor join until it sends a fresh token", async () => {
  const ta = await token("alice");
  const dm = await conversation(ta, "direct", ["bob"]);
  // lives 2 s; the e2e edge's leeway is 1 s
  const socket = await connect(await token("alice", { ttl_secs: 2 }));
  const send = () => socket.emitWithAck("send_message", { conversation_id: dm, type: "text", content: "after exp", client_msg_id: clientId() });
  assert.equal((await socket.emitWithAck("join_conversation", { conversation_id: dm })).ok, true);
  await sleep(3500);
  const refused = await send();
  assert.equal(refused.ok, false);
  assert.equal(refused.error.code, "TOKEN_EXPIRED");
  const join = await socket.emitWithAck("join_conversation", { conversation_id: dm });
  assert.equal(join.error?.code, "TOKEN_EXPIRED");
  await until(() => received(socket, "token_expired").length === 1, "token_expired event");
  assert.equal(sql(`SELECT count(*) FROM messages WHERE content = 'after exp'`), "0");

  // another user's token is no refresh; a forged one neither
  const other = await socket.emitWithAck("refresh_token", { token: await token("bob") });
  assert.equal(other.error?.code, "FORBIDDEN");
  const forged = await socket.emitWithAck("refresh_token", { token: "a.b.c" });
  assert.equal(forged.error?.code, "TOKEN_MALFORMED");
  const fresh = await socket.emitWithAck("refresh_token", { token: await token("alice") });
  assert.equal(fresh.ok, true, JSON.stringify(fresh));
  const sent = await send();
  assert.equal(sent.ok, true, JSON.stringify(sent));
  assert.equal(sql(`SELECT count(*) FROM messages WHERE content = 'after exp'`), "1");
  closeAll();
});

test("a socket whose token expired and was not refreshed is disconnected after the grace", async () => {
  const socket = await connect(await token("carol", { ttl_secs: 2 }));
  const reason = await new Promise((resolve) => socket.on("disconnect", resolve));
  assert.ok(received(socket, "token_expired").length >= 1, "told before");
  assert.ok(reason, "disconnected");
  closeAll();
});

test("a user deleted in TMS is refused at core at once and at the edge within DENY_LIST_TTL_SECS", async () => {
  const id = `deleted-${Date.now()}`;
  const add = await fetch(`${TMS}/__control/users`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ id, display_name: "Soon gone" }) });
  assert.equal(add.status, 201);
  const tok = await token(id);
  assert.equal((await api(tok, "GET", "/api/v1/auth/me"))[0], 200);
  const removed = await fetch(`${TMS}/__control/users/${id}`, { method: "DELETE" });
  const report = await removed.json();
  assert.equal(removed.status, 200, JSON.stringify(report));
  // core: at once
  const direct = await fetch(`${CORE}/api/v1/auth/me`, { headers: { authorization: `Bearer ${tok}` } });
  assert.equal(direct.status, 401);
  assert.equal((await direct.json()).error.code, "TOKEN_REVOKED");
  // the edge: its copy of the list is at most DENY_LIST_TTL_SECS old (2 s in e2e)
  const started = Date.now();
  let last;
  while (Date.now() - started < 4000) {
    last = await api(tok, "GET", "/api/v1/auth/me");
    if (last[0] === 401) break;
    await sleep(100);
  }
  assert.equal(last[0], 401, JSON.stringify(last[1]));
  assert.equal(last[1].error.code, "TOKEN_REVOKED");
  // a new socket: the gateway's own copy, also within the TTL plus one fetch
  let refusal;
  while (!refusal && Date.now() - started < 6000) {
    try {
      (await connect(tok)).close();
      await sleep(200);
    } catch (err) {
      refusal = err;
    }
  }
  assert.equal(refusal?.data?.code, "TOKEN_REVOKED", String(refusal));
});

/** A raw Engine.IO socket (no socket.io client): frames as sent. */
function rawSocket() {
  const url = `${EDGE.replace("http", "ws")}/socket.io/?EIO=4&transport=websocket`;
  const ws = new WebSocket(url);
  ws.frames = [];
  ws.on("message", (m) => ws.frames.push(m.toString()));
  return new Promise((resolve, reject) => {
    ws.on("open", () => resolve(ws));
    ws.on("error", reject);
  });
}

test("a socket that never sends CONNECT is closed within 10 s", async () => {
  const ws = await rawSocket();
  const opened = Date.now();
  // it answers pings, so only the connect timeout can close it
  ws.on("message", (m) => m.toString() === "2" && ws.readyState === WebSocket.OPEN && ws.send("3"));
  // CLOSING as soon as the server's close frame arrives (the client's 'close' waits for TCP)
  await until(() => ws.readyState !== WebSocket.OPEN, "the server closes it", 12_000);
  const took = Date.now() - opened;
  assert.ok(took >= 9_000 && took <= 11_000, `closed after ${took} ms`);
  ws.terminate();
});

test("noop frames count against the socket guard like events", async () => {
  const ws = await rawSocket();
  ws.send(`40/messaging,${JSON.stringify({ token: await token("dave") })}`);
  await until(() => ws.frames.some((f) => f.startsWith("40/messaging,")), "connected");
  for (let i = 0; i < 12; i++) ws.send("6");
  ws.send(`42/messaging,1["join_conversation",{"conversation_id":"00000000-0000-0000-0000-000000000000"}]`);
  await until(() => ws.frames.some((f) => f.startsWith("43/messaging,1")), "the ack");
  const ack = ws.frames.find((f) => f.startsWith("43/messaging,1"));
  assert.match(ack, /RATE_LIMITED/, ack);
  ws.close();
});
