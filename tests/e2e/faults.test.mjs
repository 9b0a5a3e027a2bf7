// Core hung behind the edge: socket acks and REST answers come back with
// CORE_UNAVAILABLE within the edge's timeout, sockets stay open, and
// everything works again once core is back.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { api, clientId, closeAll, connect, conversation, token } from "./helpers.mjs";

after(closeAll);

const CORE_PID = Number(process.env.CORE_PID);
const TIMEOUT = Number(process.env.CORE_TIMEOUT_MS);

test("core hung: acks and REST answer CORE_UNAVAILABLE within the timeout; recovery needs no reconnect", async () => {
  const [ta] = [await token("alice")];
  const dm = await conversation(ta, "direct", ["bob"]);
  const a = await connect(ta);
  assert.equal((await a.emitWithAck("join_conversation", { conversation_id: dm })).ok, true);
  process.kill(CORE_PID, "SIGSTOP");
  try {
    const started = Date.now();
    const [ack, [status, body]] = await Promise.all([
      a.timeout(TIMEOUT + 5000).emitWithAck("send_message", { conversation_id: dm, type: "text", content: "into the void", client_msg_id: clientId() }),
      api(ta, "GET", `/api/v1/conversations/${dm}`),
    ]);
    const took = Date.now() - started;
    assert.equal(ack.ok, false);
    assert.equal(ack.error.code, "CORE_UNAVAILABLE");
    assert.equal(status, 503);
    assert.equal(body.error.code, "CORE_UNAVAILABLE");
    assert.ok(took < TIMEOUT + 2000, `answered in ${took} ms (timeout ${TIMEOUT} ms)`);
    assert.ok(a.connected, "the socket stays open");
  } finally {
    process.kill(CORE_PID, "SIGCONT");
  }
  const again = await a.timeout(TIMEOUT + 5000).emitWithAck("send_message", { conversation_id: dm, type: "text", content: "back", client_msg_id: clientId() });
  assert.equal(again.ok, true, JSON.stringify(again));
  const [status] = await api(ta, "GET", `/api/v1/conversations/${dm}`);
  assert.equal(status, 200);
  closeAll();
});
