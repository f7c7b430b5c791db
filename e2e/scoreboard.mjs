// The sports scoreboard in a real browser: Debian's headless Chromium, driven by playwright-core.
//
// Usage: node scoreboard.mjs <path to the sports example binary> <screenshot.png>
//
// Starts the example on a free loopback port with a fast simulator, opens the page, checks that
// every stream connects and live events show up, publishes an event over HTTP and checks it
// appears, takes the screenshot, then restarts the server and checks that the page's
// EventSources reconnect by themselves and show new events.

import { chromium } from "playwright-core";
import { spawn } from "node:child_process";
import net from "node:net";
import assert from "node:assert/strict";

const [binary, screenshot] = process.argv.slice(2);
assert.ok(binary && screenshot, "usage: node scoreboard.mjs <sports binary> <screenshot.png>");

const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const STEP_TIMEOUT = 15_000;

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function startServer(port) {
  const child = spawn(binary, [], {
    env: { ...process.env, HOST: "127.0.0.1", PORT: String(port), SIMULATE: "1", SIMULATE_SEED: "7", SIMULATE_TICK_MS: "150", HEARTBEAT_MS: "5000" },
    stdio: ["ignore", "inherit", "inherit"],
  });
  return child;
}

async function waitHealthy(port) {
  const deadline = Date.now() + STEP_TIMEOUT;
  while (Date.now() < deadline) {
    try {
      const response = await fetch(`http://127.0.0.1:${port}/health`);
      if (response.ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the sports server on port ${port} did not become healthy`);
}

async function stop(child) {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGKILL");
  await exited;
}

// Ctrl-C: the server must end its open streams and exit by itself, promptly and cleanly.
async function interrupt(child) {
  const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  const started = Date.now();
  child.kill("SIGINT");
  const timer = new Promise((_, reject) => setTimeout(() => reject(new Error("the server did not exit within 3 s of SIGINT")), 3_000));
  const { code, signal } = await Promise.race([exited, timer]);
  assert.equal(code, 0, `exit code (signal ${signal})`);
  return Date.now() - started;
}

async function publish(port, path, body) {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  assert.equal(response.status, 200, `POST ${path}`);
  return response.json();
}

const states = (page) => page.$$eval(".state", (nodes) => nodes.map((n) => n.textContent));

let passed = 0;
async function check(name, body) {
  await body();
  passed += 1;
  console.log(`ok - ${name}`);
}

const port = await freePort();
let server = startServer(port);
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic", "--no-first-run", "--disable-component-update", "--disable-sync"],
});
try {
  await waitHealthy(port);
  const page = await browser.newPage({ viewport: { width: 1180, height: 760 } });
  await page.goto(`http://127.0.0.1:${port}/`);

  await check("every stream connects", async () => {
    await page.waitForFunction(
      () => [...document.querySelectorAll(".state")].every((n) => n.textContent === "connected") && document.querySelectorAll(".state").length === 3,
      null,
      { timeout: STEP_TIMEOUT },
    );
  });

  await check("live simulator events update the scores and the ticker", async () => {
    await page.waitForFunction(
      () => {
        const metas = [...document.querySelectorAll(".meta")].map((n) => n.textContent);
        return metas[0].endsWith("'") && metas[1].endsWith("'") && metas[2].includes("overs");
      },
      null,
      { timeout: STEP_TIMEOUT },
    );
  });

  await check("an event published over HTTP appears in the page", async () => {
    const sent = await publish(port, "/publish/football/arsenal-vs-chelsea", {
      event: "red_card",
      data: { match: "arsenal-vs-chelsea", player: "E2E Player", team: "Chelsea", minute: 77 },
    });
    assert.equal(sent.delivered, 1);
    await page.waitForFunction(() => document.body.innerText.includes("E2E Player (Chelsea) is sent off"), null, { timeout: STEP_TIMEOUT });
    await publish(port, "/publish/cricket/india-vs-australia", {
      event: "boundary",
      data: { match: "india-vs-australia", player: "E2E Batter", runs: 6 },
    });
    await page.waitForFunction(() => document.body.innerText.includes("E2E Batter hits 6"), null, { timeout: STEP_TIMEOUT });
  });

  await page.screenshot({ path: screenshot });
  console.log(`screenshot: ${screenshot}`);

  await check("Ctrl-C ends the open streams and the server exits cleanly", async () => {
    const took = await interrupt(server);
    console.log(`  exited ${took} ms after SIGINT with 3 streams open`);
  });

  await check("the page reconnects after a server restart and shows new events", async () => {
    await page.waitForFunction(
      () => [...document.querySelectorAll(".state")].some((n) => n.textContent === "reconnecting"),
      null,
      { timeout: STEP_TIMEOUT },
    );
    server = startServer(port);
    await waitHealthy(port);
    await page.waitForFunction(
      () => [...document.querySelectorAll(".state")].every((n) => n.textContent === "connected"),
      null,
      { timeout: STEP_TIMEOUT },
    );
    await publish(port, "/publish/football/liverpool-vs-everton", {
      event: "announcement",
      data: { message: "Back after the restart" },
    });
    await page.waitForFunction(() => document.body.innerText.includes("Back after the restart"), null, { timeout: STEP_TIMEOUT });
  });
  assert.deepEqual(await states(page), ["connected", "connected", "connected"]);
} finally {
  await browser.close();
  await stop(server);
}
console.log(`${passed} passed, 0 failed`);
