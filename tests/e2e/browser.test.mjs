// The browser demo (web/demo/, served by the edge at /demo/) end to end: two
// Chromium contexts, alice and bob, drive the page with playwright-core and
// Debian's chromium (scripts/ensure-tools.sh --browser). Every wait is on a
// DOM state, never a sleep. Screenshots are kept in .dev/e2e/artifacts/.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { EDGE, TMS, token, edgeFetch } from "./helpers.mjs";

const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const ARTIFACTS = `${ROOT}.dev/e2e/artifacts`;
const WAIT_MS = 10_000;
// a 1×1 PNG for the image step
const PIXEL = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==", "base64");

let browser;
before(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`no ${CHROMIUM}: run scripts/ensure-tools.sh --browser (or set CHROMIUM_PATH)`);
  // root in CI: Chromium's sandbox needs an unprivileged user, so it is off
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox"] });
});
after(async () => {
  await browser?.close();
});

/** A fresh browser context on the demo, signed in as `user` and connected. */
async function openAs(user) {
  const context = await browser.newContext({ viewport: { width: 1000, height: 640 } });
  context.setDefaultTimeout(WAIT_MS);
  const page = await context.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  // the upload probe's 404 is logged as a failed resource load: not a problem
  page.on("console", (m) => m.type() === "error" && !m.text().startsWith("Failed to load resource") && problems.push(`console: ${m.text()}`));
  await page.goto(`${EDGE}/demo/?tms=${encodeURIComponent(TMS)}`);
  await page.selectOption("#user", user);
  await page.click("#signin-button");
  await page.locator('#connection[data-state="connected"]').waitFor();
  return { context, page, problems };
}

/** Waits until `selector`'s text is exactly `expected` ("" also when it is absent). */
function waitText(page, selector, expected) {
  return page.waitForFunction(
    ([s, e]) => (document.querySelector(s)?.textContent ?? "") === e,
    [selector, expected],
    { timeout: WAIT_MS },
  );
}

/** Keeps a screenshot as a test artifact and prints where. */
async function shoot(t, page, name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = `${ARTIFACTS}/demo-${name}.png`;
  await page.screenshot({ path });
  t.diagnostic(`screenshot: ${path}`);
}

async function uploadRouteExists(tok) {
  const r = await edgeFetch(`${EDGE}/api/v1/files/upload-url`, {
    method: "POST",
    headers: { authorization: `Bearer ${tok}`, "content-type": "application/json" },
    body: "{}",
  });
  return r.status !== 404;
}

test("the edge serves the demo and the vendored socket.io client, and keeps its own routes", async () => {
  const page = await fetch(`${EDGE}/demo/`);
  assert.equal(page.status, 200);
  assert.match(page.headers.get("content-type"), /^text\/html/);
  assert.match(await page.text(), /<script src="vendor\/socket\.io\.min\.js"/);

  // the vendored file is the npm package's own dist file, at package.json's version
  const served = await fetch(`${EDGE}/demo/vendor/socket.io.min.js`);
  assert.equal(served.status, 200);
  const packaged = readFileSync(`${ROOT}node_modules/socket.io-client/dist/socket.io.min.js`, "utf8");
  assert.equal(await served.text(), packaged, "web/demo/vendor/socket.io.min.js differs from socket.io-client's dist: copy it again");

  // assets never shadow the Worker
  const health = await fetch(`${EDGE}/health`);
  assert.deepEqual([health.status, (await health.json()).data], [200, { status: "ok" }]);
  const api = await fetch(`${EDGE}/api/v1/conversations`);
  assert.equal(api.status, 401);
  assert.equal((await api.json()).error.code, "TOKEN_MISSING");
  const missing = await fetch(`${EDGE}/demo/nope.js`);
  assert.equal(missing.status, 404);
  assert.equal((await missing.json()).error.code, "NOT_FOUND");

  // the stand-in lets the page (another origin) fetch a token
  const tok = await fetch(`${TMS}/dev/token/alice?format=text`, { headers: { origin: EDGE } });
  assert.equal(tok.status, 200);
  assert.equal(tok.headers.get("access-control-allow-origin"), "*");
});

test("two browsers chat: a DM, a live message and badge, typing, read ticks, presence, an image", async (t) => {
  const alice = await openAs("alice");
  const bob = await openAs("bob");
  const a = alice.page;
  const b = bob.page;

  // alice starts (or reopens) the DM with bob; bob's list shows it live
  await a.fill("#peer", "bob");
  await a.click('#new-dm button[type="submit"]');
  const aliceDm = a.locator('.conversation.active[data-peer="bob"]');
  await aliceDm.waitFor();
  const conversationId = await aliceDm.getAttribute("data-conversation-id");
  await waitText(a, "#chat-title", "Bob Brown");
  const bobDm = `.conversation[data-conversation-id="${conversationId}"]`;
  await b.locator(bobDm).waitFor();

  // presence: each sees the other online
  await waitText(a, "#chat-presence", "online");
  await a.locator('.conversation[data-peer="bob"] .dot.online').waitFor();
  await b.locator(`${bobDm} .dot.online`).waitFor();

  // alice sends; bob, who has not opened the DM, gets a badge and a preview
  const unreadBefore = Number((await b.locator(`${bobDm} .badge`).allTextContents())[0] ?? 0);
  const hello = `hello bob ${Date.now()}`;
  await a.fill("#text", hello);
  await a.press("#text", "Enter");
  const sent = a.locator(".message.mine", { hasText: hello });
  await sent.waitFor();
  assert.equal(await sent.getAttribute("data-status"), "sent", "not read before bob opens the DM");
  await waitText(b, `${bobDm} .badge`, String(unreadBefore + 1));
  await waitText(b, `${bobDm} .preview`, `Alice Anderson: ${hello}`);
  await shoot(t, b, "bob-unread");

  // bob opens it: the message is there, the badge goes, alice's tick turns to read
  await b.click(bobDm);
  await b.locator(".message:not(.mine)", { hasText: hello }).waitFor();
  await waitText(b, `${bobDm} .badge`, "");
  await a.locator('.message.mine[data-status="read"]', { hasText: hello }).waitFor();
  assert.equal(await a.locator(".message.mine", { hasText: hello }).locator(".tick").textContent(), "✓✓");

  // bob types: alice sees it; bob sends: the indicator goes and the reply arrives
  await b.locator("#text").pressSequentially("hi al");
  await waitText(a, "#typing", "Bob Brown is typing…");
  await shoot(t, a, "alice-typing");
  const reply = `hi alice ${Date.now()}`;
  await b.fill("#text", reply);
  await b.press("#text", "Enter");
  await a.locator(".message:not(.mine)", { hasText: reply }).waitFor();
  await waitText(a, "#typing", "");
  // alice has the DM open, so bob's reply is read at once
  await b.locator('.message.mine[data-status="read"]', { hasText: reply }).waitFor();

  // an image, where the upload-URL route exists (the files workstream adds it)
  if (await uploadRouteExists(await token("alice"))) {
    await a.locator("#image-label").waitFor();
    await a.setInputFiles("#image", { name: "pixel.png", mimeType: "image/png", buffer: PIXEL });
    const img = b.locator(".message:not(.mine) img[alt='pixel.png']");
    await img.waitFor();
    await b.waitForFunction((el) => el.complete && el.naturalWidth > 0, await img.elementHandle(), { timeout: WAIT_MS });
  } else {
    t.diagnostic("POST /api/v1/files/upload-url answers 404: the image step is skipped");
    assert.equal(await a.locator("#image-label").isHidden(), true, "no upload button without the route");
  }

  await shoot(t, a, "alice");
  await shoot(t, b, "bob");

  // bob leaves: alice sees him go offline (after core's grace period)
  await bob.context.close();
  await a.waitForFunction(() => /^(offline|last seen)/.test(document.querySelector("#chat-presence").textContent), null, { timeout: WAIT_MS });
  await a.locator('.conversation[data-peer="bob"] .dot:not(.online)').waitFor();

  assert.equal(await a.locator("#error").isHidden(), true, await a.locator("#error").textContent());
  assert.deepEqual(alice.problems, []);
  assert.deepEqual(bob.problems, []);
  await alice.context.close();
});
