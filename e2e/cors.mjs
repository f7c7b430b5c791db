// CORS_ORIGINS in a real browser: a page on one port opens a credentialed EventSource to the
// sports example on another port, and publishes to it with fetch.
//
// Usage: node cors.mjs <path to the sports example binary>
//
// A tiny node server serves the page from 127.0.0.1:<page port>. With the sports server started
// with CORS_ORIGINS=http://127.0.0.1:<page port> (and SPORTS_TOKEN, so the page's publish needs
// a preflight for `authorization`), the page's `new EventSource(url, { withCredentials: true })`
// opens and receives an event published from node, and the page's own cross-origin POST goes
// through its preflight and arrives too. With the page's origin not listed
// (CORS_ORIGINS=http://localhost:<page port>: same port, another host, so another origin), the
// EventSource fires `error`, closes and receives nothing, and the page's POST never reaches the
// server.

import http from "node:http";
import assert from "node:assert/strict";
import { STEP_TIMEOUT, check, freePort, launchChromium, publish, startServer, stop, summary, waitHealthy } from "./harness.mjs";

const [binary] = process.argv.slice(2);
assert.ok(binary, "usage: node cors.mjs <sports binary>");

const TOKEN = "e2e-secret";
const MATCH = "cors-e2e";

// The page learns where the sports server is from its query string. `window.seen` is what the
// test reads: whether the stream opened, how many `error`s fired, the messages received.
const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>another origin</title>
<link rel="icon" href="data:,">
<script>
  const params = new URLSearchParams(location.search);
  const sports = params.get("sports");
  const match = params.get("match");
  const token = params.get("token");
  window.seen = { opened: false, errors: 0, messages: [] };
  window.source = new EventSource(\`\${sports}/stream/football/\${match}?token=\${token}\`, { withCredentials: true });
  source.addEventListener("open", () => { seen.opened = true; });
  source.addEventListener("error", () => { seen.errors += 1; });
  source.addEventListener("announcement", (event) => { seen.messages.push(JSON.parse(event.data).message); });
  // Cross-origin, credentialed, JSON and a token: a preflight for POST, content-type and
  // authorization comes first. Resolves to the status, or to the browser's error.
  window.publishFromPage = (message) =>
    fetch(\`\${sports}/publish/football/\${match}\`, {
      method: "POST",
      credentials: "include",
      headers: { "content-type": "application/json", authorization: \`Bearer \${token}\` },
      body: JSON.stringify({ event: "announcement", data: { message } }),
    }).then((response) => response.status, (error) => \`\${error.name}: \${error.message}\`);
</script>
<p>A page on another origin than the sports server.</p>
`;

const pages = http.createServer((request, response) => {
  if (new URL(request.url, "http://x").pathname !== "/") {
    response.writeHead(404).end();
    return;
  }
  response.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(PAGE);
});
const pagePort = await new Promise((resolve) => pages.listen(0, "127.0.0.1", () => resolve(pages.address().port)));
const pageOrigin = `http://127.0.0.1:${pagePort}`;

async function emitted(port) {
  const stats = await (await fetch(`http://127.0.0.1:${port}/stats`)).json();
  return stats.namespaces["/football"].emitted;
}

// Starts the sports server with `corsOrigins` and opens the page against it.
async function openPage(browser, corsOrigins) {
  const port = await freePort();
  const server = startServer(binary, port, { SIMULATE: "0", SPORTS_TOKEN: TOKEN, CORS_ORIGINS: corsOrigins });
  await waitHealthy(port);
  const page = await browser.newPage();
  const query = new URLSearchParams({ sports: `http://127.0.0.1:${port}`, match: MATCH, token: TOKEN });
  await page.goto(`${pageOrigin}/?${query}`);
  return { port, server, page };
}

const browser = await launchChromium();
try {
  await check("a listed origin's page opens a credentialed EventSource, receives and publishes", async () => {
    const { port, server, page } = await openPage(browser, pageOrigin);
    try {
      const problems = [];
      page.on("console", (message) => {
        if (message.type() === "error" || message.type() === "warning") problems.push(message.text());
      });
      await page.waitForFunction(() => window.seen.opened, null, { timeout: STEP_TIMEOUT });
      const sent = await publish(port, `/publish/football/${MATCH}`, { event: "announcement", data: { message: "from node" } }, { authorization: `Bearer ${TOKEN}` });
      assert.equal(sent.delivered, 1);
      await page.waitForFunction(() => window.seen.messages.includes("from node"), null, { timeout: STEP_TIMEOUT });

      assert.equal(await page.evaluate(() => window.publishFromPage("from the page")), 200);
      await page.waitForFunction(() => window.seen.messages.includes("from the page"), null, { timeout: STEP_TIMEOUT });
      const seen = await page.evaluate(() => window.seen);
      assert.deepEqual(seen, { opened: true, errors: 0, messages: ["from node", "from the page"] });
      assert.deepEqual(problems, []);
    } finally {
      await stop(server);
    }
  });

  await check("an unlisted origin's EventSource fires error and receives nothing; its publish never arrives", async () => {
    const { port, server, page } = await openPage(browser, `http://localhost:${pagePort}`);
    try {
      await page.waitForFunction(() => window.seen.errors > 0, null, { timeout: STEP_TIMEOUT });
      // A CORS failure is fatal for EventSource: closed, no retry.
      assert.equal(await page.evaluate(() => window.source.readyState), 2);

      const before = await emitted(port);
      assert.match(await page.evaluate(() => window.publishFromPage("from the page")), /^TypeError: /);
      await publish(port, `/publish/football/${MATCH}`, { event: "announcement", data: { message: "from node" } }, { authorization: `Bearer ${TOKEN}` });
      assert.equal(await emitted(port), before + 1, "only node's publish was emitted: the page's stopped at its preflight");
      // Long enough for a delivered event to show (the listed case takes milliseconds).
      await page.waitForTimeout(1_000);
      const seen = await page.evaluate(() => window.seen);
      assert.equal(seen.opened, false);
      assert.deepEqual(seen.messages, []);
    } finally {
      await stop(server);
    }
  });
} finally {
  await browser.close();
  pages.close();
}
summary();
