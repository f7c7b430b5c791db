// What the browser tests share: Debian's Chromium through playwright-core, the sports example
// on a free loopback port, publishing over HTTP, and `ok - ...` lines for each check.

import { chromium } from "playwright-core";
import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import assert from "node:assert/strict";

const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
export const STEP_TIMEOUT = 15_000;
const LAUNCH = {
  executablePath: CHROMIUM,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic", "--no-first-run", "--disable-component-update", "--disable-sync"],
};

// A missing browser is a failure with the fix in the message, never a skipped test.
export function launchChromium() {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`no Chromium at ${CHROMIUM}: install Debian's chromium (apt-get install chromium) or set CHROMIUM`);
  }
  return chromium.launch(LAUNCH);
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

// The sports example on 127.0.0.1:`port`, with a fast simulator unless `env` says otherwise.
export function startServer(binary, port, env = {}) {
  return spawn(binary, [], {
    env: { ...process.env, HOST: "127.0.0.1", PORT: String(port), SIMULATE: "1", SIMULATE_SEED: "7", SIMULATE_TICK_MS: "150", HEARTBEAT_MS: "5000", ...env },
    stdio: ["ignore", "inherit", "inherit"],
  });
}

export async function waitHealthy(port) {
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

export async function stop(child) {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGKILL");
  await exited;
}

export async function publish(port, path, body, headers = {}) {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  assert.equal(response.status, 200, `POST ${path}`);
  return response.json();
}

let passed = 0;
export async function check(name, body) {
  await body();
  passed += 1;
  console.log(`ok - ${name}`);
}

export function summary() {
  console.log(`${passed} passed, 0 failed`);
}
