// Files end to end: an upload URL from core (through the edge), the bytes PUT
// to the OSS stand-in with it, an image message over the socket, a second
// client receiving it with a signed GET URL, and the bytes fetched back.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { api, clientId, closeAll, connect, conversation, received, sql, token, until } from "./helpers.mjs";

after(closeAll);

const upload = (tok, body) => api(tok, "POST", "/api/v1/files/upload-url", body);

/** A fake PNG: the stand-in stores bytes as they come. */
const pngBytes = (n) => Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), randomBytes(n - 8)]);

test("an image goes up to OSS, over the socket to bob, and back down by its signed URL", async () => {
  const [ta, tb] = [await token("alice"), await token("bob")];
  const dm = await conversation(ta, "direct", ["bob"]);
  const bytes = pngBytes(4096);

  const [status, res] = await upload(ta, { kind: "image", content_type: "image/png", size: bytes.length, filename: "Cat photo.png" });
  assert.equal(status, 200, JSON.stringify(res));
  const { upload_url, object_key, headers, method } = res.data;
  assert.match(object_key, /^u\/alice\/[0-9a-f-]{36}\/Cat_photo\.png$/);
  assert.equal(method, "PUT");
  assert.deepEqual(headers, { "Content-Type": "image/png" });
  assert.ok(Date.parse(res.data.expires_at) > Date.now());

  // the URL is bound to the type and the length: the stand-in checks the signature as OSS does
  const wrongType = await fetch(upload_url, { method: "PUT", headers: { "Content-Type": "image/jpeg" }, body: bytes });
  assert.equal(wrongType.status, 403);
  assert.match(await wrongType.text(), /SignatureDoesNotMatch/);
  const wrongSize = await fetch(upload_url, { method: "PUT", headers, body: Buffer.concat([bytes, Buffer.from("x")]) });
  assert.equal(wrongSize.status, 403);
  const put = await fetch(upload_url, { method: "PUT", headers, body: bytes });
  assert.equal(put.status, 200, await put.text());

  const a = await connect(ta);
  const b = await connect(tb);
  for (const s of [a, b]) assert.equal((await s.emitWithAck("join_conversation", { conversation_id: dm })).ok, true);
  const attachment = { object_key, content_type: "image/png", size_bytes: bytes.length, file_name: "Cat photo.png", width: 64, height: 64 };
  const ack = await a.emitWithAck("send_message", { conversation_id: dm, type: "image", content: "my cat", client_msg_id: clientId(), attachment });
  assert.equal(ack.ok, true, JSON.stringify(ack));
  assert.equal(ack.data.attachment.object_key, object_key);
  assert.ok(ack.data.attachment.url, "the ack carries a GET URL too");

  const got = await until(() => received(b, "new_message").find((m) => m.id === ack.data.id), "bob's new_message");
  assert.equal(got.type, "image");
  assert.equal(got.attachment.object_key, object_key);
  assert.equal(got.attachment.file_name, "Cat photo.png");
  assert.ok(Date.parse(got.attachment.url_expires_at) > Date.now());
  const down = await fetch(got.attachment.url);
  assert.equal(down.status, 200);
  assert.equal(down.headers.get("content-type"), "image/png");
  assert.ok(Buffer.from(await down.arrayBuffer()).equals(bytes), "bob downloads exactly what alice uploaded");

  // the URL cannot be stretched to another object
  const other = got.attachment.url.replace("Cat_photo.png", "other.png");
  assert.equal((await fetch(other)).status, 403);
  // reading it again over REST signs a fresh URL to the same bytes
  const [, one] = await api(tb, "GET", `/api/v1/messages/${ack.data.id}`);
  const again = await fetch(one.data.attachment.url);
  assert.ok(Buffer.from(await again.arrayBuffer()).equals(bytes));
  closeAll();
});

test("a refused type or size gets no URL; a key not issued to the sender is refused on send", async () => {
  const [ta, tb] = [await token("alice"), await token("bob")];
  const dm = await conversation(ta, "direct", ["bob"]);
  const before = sql("SELECT count(*) FROM file_uploads");

  const [typeStatus, typeRes] = await upload(ta, { kind: "image", content_type: "text/html", size: 10, filename: "x.html" });
  assert.equal(typeStatus, 415);
  assert.equal(typeRes.error.code, "UNSUPPORTED_MEDIA_TYPE");
  const [sizeStatus, sizeRes] = await upload(ta, { kind: "voice", content_type: "audio/ogg", size: 1024 ** 3, filename: "v.ogg" });
  assert.equal(sizeStatus, 413);
  assert.equal(sizeRes.error.code, "PAYLOAD_TOO_LARGE");
  const [nameStatus, nameRes] = await upload(ta, { kind: "file", content_type: "application/pdf", size: 10, filename: "..." });
  assert.equal(nameStatus, 422);
  assert.equal(nameRes.error.code, "VALIDATION_ERROR");
  assert.equal(sql("SELECT count(*) FROM file_uploads"), before, "nothing issued");

  // bob's object, sent by alice over the socket: refused in the ack, nothing stored
  const [, bobs] = await upload(tb, { kind: "image", content_type: "image/png", size: 10, filename: "b.png" });
  const a = await connect(ta);
  assert.equal((await a.emitWithAck("join_conversation", { conversation_id: dm })).ok, true);
  const cmid = clientId();
  const attachment = { object_key: bobs.data.object_key, content_type: "image/png", size_bytes: 10 };
  const ack = await a.emitWithAck("send_message", { conversation_id: dm, type: "image", client_msg_id: cmid, attachment });
  assert.equal(ack.ok, false, JSON.stringify(ack));
  assert.equal(ack.error.code, "FORBIDDEN");
  const forgedId = clientId();
  const forged = await a.emitWithAck("send_message", {
    conversation_id: dm, type: "image", client_msg_id: forgedId,
    attachment: { ...attachment, object_key: "u/alice/00000000-0000-0000-0000-000000000000/x.png" },
  });
  assert.equal(forged.error?.code, "FORBIDDEN", JSON.stringify(forged));
  assert.equal(sql(`SELECT count(*) FROM messages WHERE client_msg_id IN ('${cmid}', '${forgedId}')`), "0");
  closeAll();
});
