// The teamchat browser demo: plain JavaScript, no build step, served by the
// edge from web/demo/. Tokens come from the TMS stand-in (`?tms=`, default
// http://127.0.0.1:8100) or are pasted; everything else goes to this page's
// own origin (the edge): REST under /api/v1 and Socket.IO on /messaging and
// /notifications.
"use strict";

const params = new URLSearchParams(location.search);
const TMS = (params.get("tms") || "http://127.0.0.1:8100").replace(/\/+$/, "");
const EDGE = location.origin;
// the stand-in's seeded users (tests/tms-standin)
const USERS = ["alice", "bob", "carol", "dave", "erin", "frank"];
const ACK_TIMEOUT_MS = 5000;
const TYPING_IDLE_MS = 2500; // typing_stop after this long without a keystroke
const TYPING_SHOW_MS = 8000; // hide a peer's indicator if its typing_stop is lost
const $ = (id) => document.getElementById(id);

const state = {
  me: null,
  token: null,
  messaging: null,
  notifications: null,
  conversations: new Map(), // id → ConversationSummary
  names: new Map(), // user id → display name
  presence: new Map(), // user id → {online, last_seen_at}
  open: null, // {id, conversation, lastRead: Map(user → seq), messages: Map(id → message)}
  typing: new Map(), // user id → timer, for the open conversation
  uploads: false,
};

// ---------- helpers ----------

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "class") node.className = value;
    else node[key] = value;
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

function showError(err) {
  const box = $("error");
  box.textContent = err instanceof Error ? err.message : String(err);
  box.hidden = false;
  console.error(err);
}

const nameOf = (id) => state.names.get(id) || id;
const time = (iso) => (iso ? new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : "");
const clientMsgId = () => `demo-${state.me}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;

/** REST through the edge; resolves to the envelope's data, rejects with its error. */
async function api(method, path, body) {
  const headers = { authorization: `Bearer ${state.token}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  const resp = await fetch(`${EDGE}/api/v1${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const envelope = await resp.json().catch(() => null);
  if (!resp.ok || !envelope?.success) {
    const err = new Error(`${method} ${path}: ${envelope?.error?.message || `HTTP ${resp.status}`}`);
    err.status = resp.status;
    throw err;
  }
  return envelope.data;
}

/** A /messaging event with its ack; rejects on {ok:false} or no answer in time. */
async function emit(event, payload) {
  const ack = await state.messaging.timeout(ACK_TIMEOUT_MS).emitWithAck(event, payload);
  if (!ack?.ok) throw new Error(`${event}: ${ack?.error?.code} ${ack?.error?.message}`);
  return ack.data;
}

// ---------- sign in ----------

async function fetchToken(user) {
  let resp;
  try {
    resp = await fetch(`${TMS}/dev/token/${encodeURIComponent(user)}?format=text`);
  } catch {
    throw new Error(`cannot reach the TMS stand-in at ${TMS} (is make dev running? another one: ?tms=URL)`);
  }
  if (!resp.ok) throw new Error(`the stand-in at ${TMS} gave no token for ${user} (HTTP ${resp.status})`);
  return (await resp.text()).trim();
}

/** Signs in as a stand-in user, or with a pasted TMS token when one is given. */
async function signIn(user, pasted) {
  signOut();
  state.token = pasted || (await fetchToken(user));
  state.me = pasted ? (await api("GET", "/auth/me")).tms_user_id : user;
  $("intro").hidden = true;
  $("app").hidden = false;
  const peers = USERS.filter((u) => u !== state.me);
  await loadNames([state.me, ...peers]);
  $("me").textContent = nameOf(state.me);
  $("peers").replaceChildren(...peers.map((u) => el("option", { value: u, textContent: nameOf(u) })));
  connect();
  probeUploads();
}

function signOut() {
  state.messaging?.disconnect();
  state.notifications?.disconnect();
  Object.assign(state, { me: null, token: null, messaging: null, notifications: null, open: null });
  state.conversations.clear();
  state.presence.clear();
  clearTyping();
  renderConversations();
  renderChat();
}

async function loadNames(ids) {
  const unknown = [...new Set(ids)].filter((id) => !state.names.has(id));
  if (!unknown.length) return;
  try {
    for (const profile of await api("POST", "/users/batch", { ids: unknown.slice(0, 200) })) {
      state.names.set(profile.id, profile.display_name);
    }
  } catch (err) {
    console.warn("no profiles, showing ids", err); // names are cosmetic
  }
}

// Image messages need the upload-URL route; hide the picker where it is missing.
async function probeUploads() {
  try {
    const resp = await fetch(`${EDGE}/api/v1/files/upload-url`, {
      method: "POST",
      headers: { authorization: `Bearer ${state.token}`, "content-type": "application/json" },
      body: "{}", // refused as invalid where the route exists; 404 where it does not
    });
    state.uploads = resp.status !== 404;
  } catch {
    state.uploads = false;
  }
  $("image-label").hidden = !state.uploads;
  renderChat();
}

// ---------- sockets ----------

function connect() {
  // one WebSocket carries both namespaces
  const manager = new io.Manager(EDGE, { transports: ["websocket"] });
  const messaging = manager.socket("/messaging", { auth: { token: state.token } });
  const notifications = manager.socket("/notifications", { auth: { token: state.token } });
  Object.assign(state, { messaging, notifications });

  messaging.on("connect", async () => {
    setConnection("connected");
    try {
      await refreshConversations();
      if (state.open) await openConversation(state.open.id); // rejoin and catch up
    } catch (err) {
      showError(err);
    }
  });
  messaging.on("disconnect", () => setConnection("reconnecting"));
  messaging.on("connect_error", (err) => {
    setConnection("offline");
    showError(`connect refused: ${err.message}`);
  });

  messaging.on("new_message", onMessage);
  messaging.on("message_updated", onMessage);
  messaging.on("message_deleted", onMessage);
  messaging.on("user_typing", onTyping);
  messaging.on("message_status", onStatus);
  messaging.on("user_online", (p) => setPresence(p.user_id, true, p.last_seen_at));
  messaging.on("user_offline", (p) => setPresence(p.user_id, false, p.last_seen_at));

  // for the conversations this page has not joined
  notifications.on("new_message", (m) => {
    if (m.conversation_id === state.open?.id) return; // /messaging delivers it
    const summary = state.conversations.get(m.conversation_id);
    if (!summary) return refreshConversations().catch(showError);
    if (m.sender_id !== state.me) summary.unread_count += 1;
    noteLast(summary, m);
    renderConversations();
  });
  for (const event of ["conversation_updated", "member_added", "member_removed"]) {
    notifications.on(event, () => refreshConversations().catch(showError));
  }
}

function setConnection(s) {
  $("connection").dataset.state = s;
  $("connection").textContent = s;
}

// ---------- conversations ----------

async function refreshConversations() {
  const list = await api("GET", "/conversations?limit=100");
  state.conversations = new Map(list.map((c) => [c.id, c]));
  if (state.open) {
    const open = state.conversations.get(state.open.id);
    if (open) open.unread_count = 0;
  }
  const others = [...new Set(list.flatMap((c) => c.member_ids))].filter((id) => id !== state.me);
  await Promise.all([loadNames(others), loadPresence(others)]);
  renderConversations();
}

async function loadPresence(ids) {
  for (let i = 0; i < ids.length; i += 100) {
    const chunk = ids.slice(i, i + 100);
    for (const p of await api("GET", `/presence?user_ids=${chunk.map(encodeURIComponent).join(",")}`)) {
      state.presence.set(p.user_id, { online: p.online, last_seen_at: p.last_seen_at });
    }
  }
}

function setPresence(userId, online, lastSeen) {
  state.presence.set(userId, { online, last_seen_at: lastSeen ?? null });
  renderConversations();
  renderChatHeader();
}

const peerOf = (c) => (c.type === "direct" ? c.member_ids.find((id) => id !== state.me) ?? state.me : null);
const titleOf = (c) => (c.type === "direct" ? nameOf(peerOf(c)) : c.title || "group");
const activity = (c) => Date.parse(c.last_message_at || c.updated_at) || 0;

function noteLast(summary, m) {
  if (!summary.last_message || m.seq >= summary.last_message.seq) {
    summary.last_message = m;
    summary.last_message_at = m.created_at;
    summary.last_seq = Math.max(summary.last_seq, m.seq);
  }
}

function preview(m) {
  if (!m) return "";
  const what = m.deleted_at ? "(deleted)" : m.type === "text" ? m.content : `[${m.type}] ${m.content ?? m.attachment?.file_name ?? ""}`;
  return `${m.sender_id === state.me ? "You" : nameOf(m.sender_id)}: ${what}`;
}

function renderConversations() {
  const sorted = [...state.conversations.values()].sort((a, b) => activity(b) - activity(a));
  $("conversations").replaceChildren(
    ...sorted.map((c) => {
      const peer = peerOf(c);
      const online = peer ? state.presence.get(peer)?.online : c.member_ids.some((id) => id !== state.me && state.presence.get(id)?.online);
      return el(
        "li",
        { class: `conversation${c.id === state.open?.id ? " active" : ""}`, dataset: { conversationId: c.id, peer: peer ?? "" }, onclick: () => openConversation(c.id).catch(showError) },
        el("span", { class: `dot${online ? " online" : ""}`, title: online ? "online" : "offline" }),
        el("span", { class: "name", textContent: titleOf(c) }),
        c.unread_count > 0 ? el("span", { class: "badge", textContent: String(c.unread_count) }) : el("span"),
        el("span", { class: "preview", textContent: preview(c.last_message) }),
      );
    }),
  );
  $("no-conversations").hidden = sorted.length > 0;
}

async function startDirect(peer) {
  const conversation = await api("POST", "/conversations", { type: "direct", member_ids: [peer] });
  await refreshConversations();
  await openConversation(conversation.id);
}

// ---------- the open conversation ----------

async function openConversation(id) {
  const previous = state.open?.id;
  if (previous && previous !== id) {
    stopTyping();
    emit("leave_conversation", { conversation_id: previous }).catch(showError);
  }
  if (previous !== id) {
    state.open = { id, conversation: null, lastRead: new Map(), messages: new Map() };
    clearTyping();
  }
  renderChat();
  // join first, then load: nothing sent in between is missed (duplicates merge by id)
  await emit("join_conversation", { conversation_id: id });
  const [conversation, page] = await Promise.all([
    api("GET", `/conversations/${id}`),
    api("GET", `/conversations/${id}/messages?limit=50`),
  ]);
  if (state.open?.id !== id) return; // another one was opened meanwhile
  state.open.conversation = conversation;
  for (const member of conversation.members) {
    state.open.lastRead.set(member.user_id, Math.max(member.last_read_seq, state.open.lastRead.get(member.user_id) ?? 0));
  }
  for (const m of page) state.open.messages.set(m.id, m);
  const summary = state.conversations.get(id);
  if (summary) summary.unread_count = 0;
  renderConversations();
  renderChat();
  const newest = [...state.open.messages.values()].sort((a, b) => b.seq - a.seq).find((m) => m.sender_id !== state.me);
  if (newest) markRead(newest);
}

function markRead(m) {
  emit("message_read", { conversation_id: m.conversation_id, message_id: m.id }).catch(showError);
}

function onMessage(m) {
  const summary = state.conversations.get(m.conversation_id);
  if (summary) {
    noteLast(summary, m);
    renderConversations();
  }
  if (m.conversation_id !== state.open?.id) return;
  const isNew = !state.open.messages.has(m.id);
  state.open.messages.set(m.id, m);
  if (m.sender_id !== state.me) setTyping(m.sender_id, false);
  renderMessages();
  if (isNew && m.sender_id !== state.me && !m.deleted_at) markRead(m);
}

function onStatus(s) {
  // message_status: a receipt for one of my messages
  if (s.status !== "read" || s.conversation_id !== state.open?.id) return;
  const m = state.open.messages.get(s.message_id);
  if (!m) return;
  state.open.lastRead.set(s.user_id, Math.max(m.seq, state.open.lastRead.get(s.user_id) ?? 0));
  renderMessages();
}

function onTyping(t) {
  if (t.conversation_id === state.open?.id && t.user_id !== state.me) setTyping(t.user_id, t.typing);
}

function setTyping(userId, typing) {
  clearTimeout(state.typing.get(userId));
  state.typing.delete(userId);
  if (typing) state.typing.set(userId, setTimeout(() => setTyping(userId, false), TYPING_SHOW_MS));
  const who = [...state.typing.keys()].map(nameOf);
  $("typing").textContent = who.length ? `${who.join(", ")} ${who.length > 1 ? "are" : "is"} typing…` : "";
}

function clearTyping() {
  for (const timer of state.typing.values()) clearTimeout(timer);
  state.typing.clear();
  $("typing").textContent = "";
}

function renderChat() {
  const open = Boolean(state.open);
  $("text").disabled = !open;
  $("send").disabled = !open;
  $("image").disabled = !open || !state.uploads;
  renderChatHeader();
  renderMessages();
}

function renderChatHeader() {
  const title = $("chat-title");
  const presence = $("chat-presence");
  const summary = state.open && state.conversations.get(state.open.id);
  title.className = summary ? "" : "hint";
  title.textContent = summary ? titleOf(summary) : state.open ? "…" : "Select a conversation";
  presence.className = "";
  presence.textContent = "";
  if (!summary) return;
  const peer = peerOf(summary);
  if (peer) {
    const p = state.presence.get(peer);
    presence.className = p?.online ? "online" : "";
    presence.textContent = p?.online ? "online" : p?.last_seen_at ? `last seen ${time(p.last_seen_at)}` : "offline";
  } else {
    const online = summary.member_ids.filter((id) => id !== state.me && state.presence.get(id)?.online).length;
    presence.textContent = `${summary.member_ids.length} members, ${online} online`;
  }
}

// A message of mine is read once every other member has read up to its seq.
function readByAll(m) {
  const others = [...state.open.lastRead.keys()].filter((id) => id !== state.me);
  return others.length > 0 && others.every((id) => state.open.lastRead.get(id) >= m.seq);
}

function renderMessages() {
  const list = $("messages");
  if (!state.open) return list.replaceChildren();
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  const sorted = [...state.open.messages.values()].sort((a, b) => a.seq - b.seq);
  list.replaceChildren(
    ...sorted.map((m) => {
      const mine = m.sender_id === state.me;
      const status = mine ? (readByAll(m) ? "read" : "sent") : "";
      return el(
        "li",
        { class: `message${mine ? " mine" : ""}`, dataset: { id: m.id, seq: String(m.seq), sender: m.sender_id, status } },
        el(
          "div",
          { class: "meta" },
          el("span", { class: "sender", textContent: mine ? "You" : nameOf(m.sender_id) }),
          el("time", { dateTime: m.created_at, textContent: time(m.created_at) }),
          mine ? el("span", { class: "tick", title: status, textContent: status === "read" ? "✓✓" : "✓" }) : null,
        ),
        body(m),
      );
    }),
  );
  if (atBottom || sorted.at(-1)?.sender_id === state.me) list.scrollTop = list.scrollHeight;
}

function body(m) {
  if (m.deleted_at) return el("div", { class: "body hint", textContent: "(deleted)" });
  if (m.type === "image" && m.attachment) {
    const img = m.attachment.url ? el("img", { src: m.attachment.url, alt: m.attachment.file_name || "image" }) : null;
    return el("div", { class: "body" }, img || `[image] ${m.attachment.file_name ?? ""}`, m.content ? el("div", { textContent: m.content }) : null);
  }
  if (m.type === "text") return el("div", { class: "body", textContent: m.content ?? "" });
  return el("div", { class: "body hint", textContent: `[${m.type}] ${m.content ?? ""}` });
}

// ---------- composing ----------

let typingActive = false;
let typingTimer;

function keystroke() {
  if (!state.open) return;
  if (!typingActive) {
    typingActive = true;
    state.messaging.emit("typing_start", { conversation_id: state.open.id });
  }
  clearTimeout(typingTimer);
  typingTimer = setTimeout(stopTyping, TYPING_IDLE_MS);
}

function stopTyping() {
  clearTimeout(typingTimer);
  if (typingActive && state.open) state.messaging.emit("typing_stop", { conversation_id: state.open.id });
  typingActive = false;
}

async function sendText() {
  const input = $("text");
  const content = input.value.trim();
  if (!content || !state.open) return;
  stopTyping();
  input.value = "";
  try {
    const m = await emit("send_message", { conversation_id: state.open.id, type: "text", content, client_msg_id: clientMsgId() });
    onMessage(m);
  } catch (err) {
    input.value = content;
    showError(err);
  }
}

// The files contract: POST /files/upload-url → PUT the bytes to upload_url with
// the given headers → send an image message naming the object_key.
async function sendImage(file) {
  const conversationId = state.open.id;
  const grant = await api("POST", "/files/upload-url", {
    kind: "image",
    content_type: file.type,
    size: file.size,
    filename: file.name,
  });
  const put = await fetch(grant.upload_url, {
    method: "PUT",
    headers: new Headers(grant.headers || { "content-type": file.type }),
    body: file,
  });
  if (!put.ok) throw new Error(`upload refused: HTTP ${put.status}`);
  const m = await emit("send_message", {
    conversation_id: conversationId,
    type: "image",
    client_msg_id: clientMsgId(),
    attachment: { object_key: grant.object_key, content_type: file.type, size_bytes: file.size, file_name: file.name },
  });
  onMessage(m);
}

// ---------- wiring ----------

$("user").replaceChildren(...USERS.map((u) => el("option", { value: u, textContent: u })));
if (USERS.includes(params.get("user"))) $("user").value = params.get("user");
$("error").addEventListener("click", () => ($("error").hidden = true));
$("signin").addEventListener("submit", (e) => {
  e.preventDefault();
  $("error").hidden = true;
  signIn($("user").value, $("token").value.trim()).catch(showError);
});
$("new-dm").addEventListener("submit", (e) => {
  e.preventDefault();
  startDirect($("peer").value.trim()).then(() => ($("peer").value = ""), showError);
});
$("composer").addEventListener("submit", (e) => {
  e.preventDefault();
  sendText();
});
$("text").addEventListener("input", keystroke);
$("image").addEventListener("change", (e) => {
  const file = e.target.files[0];
  e.target.value = "";
  if (file && state.open) sendImage(file).catch(showError);
});
