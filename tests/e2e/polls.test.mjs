// Polls and reactions over REST through the edge, live to the members'
// sockets (official socket.io-client): racing votes, a vote after close,
// reactions added and removed.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { api, closeAll, connect, conversation, received, sql, token, until } from "./helpers.mjs";

after(closeAll);

async function joined(tok, conversationId) {
  const socket = await connect(tok);
  const ack = await socket.emitWithAck("join_conversation", { conversation_id: conversationId });
  assert.equal(ack.ok, true, JSON.stringify(ack));
  return socket;
}

test("a poll: racing votes never double-count, results reach other members' sockets, a vote after close is refused", async () => {
  const users = ["alice", "bob", "carol", "dave"];
  const tok = Object.fromEntries(await Promise.all(users.map(async (u) => [u, await token(u)])));
  const group = await conversation(tok.alice, "group", ["bob", "carol", "dave"]);
  const bob = await joined(tok.bob, group);
  const carol = await joined(tok.carol, group);

  const [status, created] = await api(tok.alice, "POST", `/api/v1/conversations/${group}/polls`, {
    question: "Where do we meet?",
    options: ["Office", "Park", "Cafe"],
  });
  assert.equal(status, 201, JSON.stringify(created));
  const poll = created.data.poll;
  assert.equal(created.data.message.type, "poll");
  assert.equal(created.data.message.poll_id, poll.id);
  // the poll arrives as a message with its seq, naming the poll
  const announced = await until(() => received(bob, "new_message").find((m) => m.poll_id === poll.id), "the poll message on bob's socket");
  assert.equal(announced.seq, created.data.message.seq);
  assert.equal(announced.content, "Where do we meet?");

  // everyone votes, changes and retracts at once, several times each
  const optionIds = poll.options.map((o) => o.id);
  const requests = [];
  users.forEach((u, i) => {
    for (let k = 0; k < 5; k++) {
      const path = `/api/v1/polls/${poll.id}/vote`;
      requests.push((i + k) % 3 === 0
        ? api(tok[u], "DELETE", path)
        : api(tok[u], "PUT", path, { option_ids: [optionIds[(i + k) % 3]] }));
    }
  });
  const answers = await Promise.all(requests);
  for (const [s, body] of answers) assert.equal(s, 200, JSON.stringify(body));

  const [, got] = await api(tok.alice, "GET", `/api/v1/polls/${poll.id}`);
  const final = got.data;
  for (const o of final.options) {
    const rows = Number(sql(`SELECT count(*) FROM poll_votes WHERE option_id = '${o.id}'`));
    assert.equal(o.votes, rows, `option ${o.text}: counts equal the rows`);
    assert.equal(o.voters.length, rows);
  }
  const perUser = sql(`SELECT max(n) FROM (SELECT count(*) AS n FROM poll_votes WHERE poll_id = '${poll.id}' GROUP BY user_id) t`);
  assert.ok(perUser === "" || perUser === "1", `single choice: one vote per user at most (${perUser})`);
  assert.equal(final.total_voters, Number(sql(`SELECT count(DISTINCT user_id) FROM poll_votes WHERE poll_id = '${poll.id}'`)));

  // both other members' sockets get the newest results (the highest version wins)
  for (const [name, socket] of [["bob", bob], ["carol", carol]]) {
    const newest = await until(
      () => received(socket, "poll_updated").find((p) => p.id === poll.id && p.version === final.version),
      `${name}'s poll_updated version ${final.version}`,
    );
    assert.deepEqual(newest.options, final.options);
    assert.equal(newest.my_votes, undefined, "the room gets no one's own votes");
    // pushes after commit may overtake each other, so wait for all of them
    const versions = () => new Set(received(socket, "poll_updated").filter((p) => p.id === poll.id).map((p) => p.version));
    await until(() => versions().size === final.version, `${name}: one poll_updated per change (${final.version})`);
    assert.deepEqual([...versions()].sort((a, b) => a - b), Array.from({ length: final.version }, (_, i) => i + 1));
  }

  // dave may not close alice's poll; alice closes it, live; then a vote is a 409
  const [forbidden, refusedClose] = await api(tok.dave, "POST", `/api/v1/polls/${poll.id}/close`);
  assert.equal(forbidden, 403, JSON.stringify(refusedClose));
  const [closedStatus, closed] = await api(tok.alice, "POST", `/api/v1/polls/${poll.id}/close`);
  assert.equal(closedStatus, 200, JSON.stringify(closed));
  assert.equal(closed.data.closed, true);
  await until(() => received(bob, "poll_updated").find((p) => p.id === poll.id && p.closed), "the close on bob's socket");
  const before = sql(`SELECT count(*) FROM poll_votes WHERE poll_id = '${poll.id}'`);
  const [late, lateBody] = await api(tok.dave, "PUT", `/api/v1/polls/${poll.id}/vote`, { option_ids: [optionIds[0]] });
  assert.equal(late, 409, JSON.stringify(lateBody));
  assert.equal(lateBody.error.code, "CONFLICT");
  assert.equal(sql(`SELECT count(*) FROM poll_votes WHERE poll_id = '${poll.id}'`), before);

  // a non-member sees nothing of it
  const [outsider] = await api(await token("erin"), "GET", `/api/v1/polls/${poll.id}`);
  assert.equal(outsider, 403);
  closeAll();
});

test("reactions are added and removed live, and message answers carry them", async () => {
  const [ta, tb] = [await token("alice"), await token("bob")];
  const group = await conversation(ta, "group", ["bob"]);
  const alice = await joined(ta, group);
  const bob = await joined(tb, group);
  const [sent, message] = await api(tb, "POST", "/api/v1/messages", { conversation_id: group, type: "text", content: "shipped" });
  assert.equal(sent, 201, JSON.stringify(message));
  const id = message.data.id;
  const path = (emoji) => `/api/v1/messages/${id}/reactions/${encodeURIComponent(emoji)}`;

  const [added, body] = await api(ta, "PUT", path("👍🏽"));
  assert.equal(added, 201, JSON.stringify(body));
  assert.deepEqual(body.data.reactions, [{ emoji: "👍🏽", count: 1, me: true }]);
  const [repeat] = await api(ta, "PUT", path("👍🏽"));
  assert.equal(repeat, 200, "adding it again changes nothing");
  const live = await until(() => received(bob, "reaction_added").find((r) => r.message_id === id), "reaction_added on bob's socket");
  assert.deepEqual(live, { conversation_id: group, message_id: id, user_id: "alice", emoji: "👍🏽", count: 1 });

  assert.equal((await api(tb, "PUT", path("🎉")))[0], 201);
  await until(() => received(alice, "reaction_added").find((r) => r.emoji === "🎉"), "reaction_added on alice's socket");
  const [, one] = await api(tb, "GET", `/api/v1/messages/${id}`);
  assert.deepEqual(one.data.reactions, [{ emoji: "👍🏽", count: 1, me: false }, { emoji: "🎉", count: 1, me: true }]);

  const [removed, afterRemove] = await api(ta, "DELETE", path("👍🏽"));
  assert.equal(removed, 200, JSON.stringify(afterRemove));
  assert.deepEqual(afterRemove.data.reactions, [{ emoji: "🎉", count: 1, me: false }]);
  const gone = await until(() => received(bob, "reaction_removed").find((r) => r.message_id === id), "reaction_removed on bob's socket");
  assert.deepEqual(gone, { conversation_id: group, message_id: id, user_id: "alice", emoji: "👍🏽", count: 0 });
  assert.equal((await api(ta, "DELETE", path("👍🏽")))[0], 200, "removing it again is fine too");
  assert.equal(received(bob, "reaction_added").filter((r) => r.message_id === id).length, 2, "one event per real change");

  // catch-up carries them; a reaction that is not one emoji is refused
  const [, caughtUp] = await api(ta, "GET", `/api/v1/conversations/${group}/messages?after_seq=0`);
  assert.deepEqual(caughtUp.data[0].reactions, [{ emoji: "🎉", count: 1, me: false }]);
  const [bad, badBody] = await api(ta, "PUT", path("ok"));
  assert.equal(bad, 422, JSON.stringify(badBody));
  assert.equal(sql(`SELECT count(*) FROM reactions WHERE message_id = '${id}'`), "1");
  closeAll();
});
