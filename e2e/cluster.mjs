// Horizontal scaling in a real browser: scripts/cluster runs Redis, three instances of the sports
// example and nginx as a round-robin load balancer (no sticky sessions); a page behind nginx
// listens with a native EventSource, the instance it is connected to is killed (SIGKILL), and the
// page must still show every published event exactly once, in order, with the ids the publishes
// returned: its EventSource reconnects through nginx to another instance, which replays what it
// missed from its Last-Event-ID.
//
// Usage: node cluster.mjs <path to the sports example binary, built with the redis feature>

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { STEP_TIMEOUT, check, freePort, launchChromium, summary } from "./harness.mjs";

const [binary] = process.argv.slice(2);
assert.ok(binary, "usage: node cluster.mjs <sports binary built with --features redis>");

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const MATCH = "cluster-e2e";
// The example's `retry:` is 2 s; reconnecting takes that and a little more.
const RECONNECT_WITHIN = 10_000;

// The page under test, served by playwright at the load balancer's origin: nothing but a native
// EventSource, and what it received in `window.seen`.
const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>behind the load balancer</title>
<link rel="icon" href="data:,">
<script>
  window.seen = { opens: 0, errors: 0, events: [] };
  const source = new EventSource("/stream/football/${MATCH}");
  source.addEventListener("open", () => { seen.opens += 1; });
  source.addEventListener("error", () => { seen.errors += 1; });
  source.addEventListener("announcement", (event) => {
    seen.events.push({ id: event.lastEventId, message: JSON.parse(event.data).message });
  });
  // Never expected here: it would mean the new instance could not replay.
  source.addEventListener("sse:resync", (event) => {
    seen.events.push({ id: event.lastEventId, resync: JSON.parse(event.data) });
  });
</script>
<p>One EventSource through nginx.</p>
`;

// ---- the cluster ----

/// Starts scripts/cluster and resolves once it says it is ready, with its instances' ports and
/// process ids as it printed them.
function startCluster(lbPort) {
  const child = spawn(path.join(ROOT, "scripts/cluster"), ["--port", String(lbPort)], {
    cwd: ROOT,
    env: { ...process.env, SPORTS_BIN: path.resolve(binary), SIMULATE: "0", HEARTBEAT_MS: "5000" },
    stdio: ["ignore", "pipe", "inherit"],
    // Its own process group: whatever happens here, all of it can be killed at once.
    detached: true,
  });
  const instances = {};
  let redisPort;
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("scripts/cluster was not ready within 60 s")), 60_000);
    let buffered = "";
    child.stdout.on("data", (chunk) => {
      process.stdout.write(chunk);
      buffered += chunk;
      let newline;
      while ((newline = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        let m;
        if ((m = line.match(/^cluster: instance (\w+) http:\/\/127\.0\.0\.1:(\d+)\/ \(pid (\d+)\)$/))) {
          instances[m[1]] = { name: m[1], port: Number(m[2]), pid: Number(m[3]) };
        } else if ((m = line.match(/^cluster: Redis +redis:\/\/127\.0\.0\.1:(\d+)\/$/))) {
          redisPort = Number(m[1]);
        } else if (line.startsWith("cluster: ready at ")) {
          clearTimeout(timer);
          resolve();
        }
      }
    });
    child.once("exit", (code, signal) => reject(new Error(`scripts/cluster exited (${code ?? signal}) before it was ready`)));
  });
  return { child, instances, ready, redisPort: () => redisPort };
}

async function getJson(port, path) {
  const response = await fetch(`http://127.0.0.1:${port}${path}`);
  assert.equal(response.status, 200, `GET :${port}${path}`);
  return { body: await response.json(), instance: response.headers.get("x-instance") };
}

/// POST through the load balancer; every publish must succeed, whichever instance is gone.
async function publish(lbPort, message) {
  const response = await fetch(`http://127.0.0.1:${lbPort}/publish/football/${MATCH}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ event: "announcement", data: { message } }),
  });
  assert.equal(response.status, 200, `publish ${message} through nginx`);
  const answer = await response.json();
  return { id: answer.id, message, by: response.headers.get("x-instance") };
}

/// Football clients on each live instance, asked directly (not through nginx).
async function footballClients(instances) {
  const counts = {};
  for (const { name, port } of instances) {
    counts[name] = (await getJson(port, "/stats")).body.namespaces["/football"].clients;
  }
  return counts;
}

function refuses(port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.once("connect", () => { socket.destroy(); resolve(false); });
    socket.once("error", () => resolve(true));
  });
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const lbPort = await freePort();
const cluster = startCluster(lbPort);
const browser = await launchChromium();
try {
  await cluster.ready;
  const lb = `http://127.0.0.1:${lbPort}`;
  const all = Object.values(cluster.instances);
  assert.deepEqual(all.map((i) => i.name), ["a", "b", "c"]);

  await check("nginx hands requests round robin to the three instances, all connected to Redis", async () => {
    const served = [];
    for (let i = 0; i < 6; i++) {
      const { body, instance } = await getJson(lbPort, "/health");
      assert.deepEqual(body, { status: "ok", adapter: "redis", redis: "connected" });
      served.push(instance);
    }
    // a, b, c in turn, from wherever the turn was.
    assert.deepEqual([...served].sort(), ["a", "a", "b", "b", "c", "c"], served.join(" "));
    assert.deepEqual(served.slice(3), served.slice(0, 3), served.join(" "));
  });

  const page = await browser.newPage();
  const problems = [];
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  // Which instance answered each of the page's stream requests.
  const streamedBy = [];
  page.on("response", (response) => {
    if (response.url().includes(`/stream/football/${MATCH}`)) streamedBy.push(response.headers()["x-instance"]);
  });
  await page.route(`${lb}/cluster-e2e.html`, (route) => route.fulfill({ contentType: "text/html; charset=utf-8", body: PAGE }));
  await page.goto(`${lb}/cluster-e2e.html`);

  const published = [];
  let first;
  await check("a page behind nginx receives what is published through any instance, with its id", async () => {
    await page.waitForFunction(() => window.seen.opens === 1, null, { timeout: STEP_TIMEOUT });
    const counts = await footballClients(all);
    const connected = Object.keys(counts).filter((name) => counts[name] === 1);
    assert.equal(connected.length, 1, `one instance has the page's stream: ${JSON.stringify(counts)}`);
    first = cluster.instances[connected[0]];
    assert.deepEqual(streamedBy, [first.name], "the stream's x-instance names the same instance");
    const by = new Set();
    for (let i = 1; i <= 6; i++) {
      const sent = await publish(lbPort, `m${i}`);
      by.add(sent.by);
      published.push({ id: sent.id, message: sent.message });
    }
    assert.equal(by.size, 3, "the publishes went through every instance");
    await page.waitForFunction((n) => window.seen.events.length >= n, published.length, { timeout: STEP_TIMEOUT });
    assert.deepEqual((await page.evaluate(() => window.seen)).events, published);
  });

  await check("the page's instance is killed; its EventSource resumes on another: every event once, in order", async () => {
    process.kill(first.pid, "SIGKILL");
    const killedAt = Date.now();
    // Until the kernel has closed its listening socket, a connection can still be accepted and
    // then reset, after nginx sent the POST (which it does not retry): wait for refusals (bounded).
    for (let i = 0; i < 100 && !(await refuses(first.port)); i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const survivors = all.filter((i) => i !== first);
    // While the page is away (the example's retry is 2 s): replayed from Redis's order.
    for (let i = 7; i <= 9; i++) {
      const sent = await publish(lbPort, `m${i}`);
      assert.notEqual(sent.by, first.name);
      published.push({ id: sent.id, message: sent.message });
    }
    assert.ok(Date.now() - killedAt < 1_500, "published before the page could reconnect");
    await page.waitForFunction(() => window.seen.opens === 2, null, { timeout: RECONNECT_WITHIN });
    assert.equal(alive(first.pid), false, `instance ${first.name} is gone`);
    // Live again, through whichever instance nginx picks.
    for (let i = 10; i <= 12; i++) {
      const sent = await publish(lbPort, `m${i}`);
      published.push({ id: sent.id, message: sent.message });
    }
    await page.waitForFunction((n) => window.seen.events.length >= n, published.length, { timeout: STEP_TIMEOUT });
    // Long enough for a duplicate to show up.
    await page.waitForTimeout(500);
    const seen = await page.evaluate(() => window.seen);
    assert.deepEqual(seen.events, published, "every event exactly once, in order, with its id");
    assert.equal(seen.opens, 2);
    assert.ok(seen.errors >= 1, "the EventSource saw its stream end");
    assert.equal(streamedBy.length, 2, `two stream responses: ${streamedBy.join(" ")}`);
    const second = cluster.instances[streamedBy[1]];
    assert.ok(survivors.includes(second), `reconnected to another instance: ${streamedBy.join(" -> ")}`);
    const stats = (await getJson(second.port, "/stats")).body.namespaces["/football"];
    assert.equal(stats.clients, 1);
    assert.equal(stats.replayed, 3, "m7..m9 replayed from the Last-Event-ID, nothing else");
    assert.equal(stats.resyncs, 0);
    assert.deepEqual(problems, []);
    await page.close();
  });

  await check("the scoreboard page works behind nginx: its three streams connect", async () => {
    const scoreboard = await browser.newPage();
    await scoreboard.goto(`${lb}/`);
    await scoreboard.waitForFunction(
      () => [...document.querySelectorAll(".state")].filter((n) => n.textContent === "connected").length === 3,
      null,
      { timeout: STEP_TIMEOUT },
    );
    await scoreboard.close();
  });

  await check("stopping scripts/cluster stops Redis, the instances and nginx", async () => {
    const exited = new Promise((resolve) => cluster.child.once("exit", (code, signal) => resolve(code ?? signal)));
    cluster.child.kill("SIGINT");
    const timer = new Promise((_, reject) => setTimeout(() => reject(new Error("scripts/cluster did not exit within 10 s of SIGINT")), 10_000));
    assert.equal(await Promise.race([exited, timer]), 130);
    for (const port of [lbPort, cluster.redisPort(), ...all.map((i) => i.port)]) {
      assert.ok(await refuses(port), `nothing listens on ${port} any more`);
    }
    for (const { name, pid } of all) assert.equal(alive(pid), false, `instance ${name} stopped`);
  });
} finally {
  await browser.close();
  if (cluster.child.exitCode === null && cluster.child.signalCode === null) {
    try {
      process.kill(-cluster.child.pid, "SIGKILL");
    } catch {}
  }
}
summary();
