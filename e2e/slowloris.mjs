// The sports binary against slowloris: connections that send nothing or half a request head are
// closed after HEAD_TIMEOUT_MS, and hundreds of them do not keep a real client out.
// Usage: node slowloris.mjs <path to the sports example binary>
import assert from "node:assert/strict";
import net from "node:net";
import { check, freePort, startServer, stop, summary, waitHealthy } from "./harness.mjs";

const binary = process.argv[2];
assert.ok(binary, "usage: node slowloris.mjs <sports binary>");
const HEAD_TIMEOUT_MS = 500;

/// Resolves with the ms until the server closes `socket`, or rejects if it answers anything or
/// keeps it open past `limit` ms.
function closedWithin(socket, limit) {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`still open after ${limit} ms`)), limit);
    socket.once("data", (data) => reject(new Error(`answered: ${data}`)));
    socket.once("close", () => { clearTimeout(timer); resolve(Date.now() - start); });
    socket.once("error", () => {});
  });
}

function connect(port, send) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1", () => {
      if (send) socket.write(send);
      resolve(socket);
    });
    socket.once("error", reject);
  });
}

const port = await freePort();
const server = startServer(binary, port, { SIMULATE: "0", HEAD_TIMEOUT_MS: String(HEAD_TIMEOUT_MS) });
try {
  await waitHealthy(port);

  await check("a connection that sends nothing, or half a head, is closed after HEAD_TIMEOUT_MS", async () => {
    const silent = await connect(port);
    const half = await connect(port, "GET /stream/football/x HTTP/1.1\r\nHost: x\r\n");
    const [a, b] = await Promise.all([closedWithin(silent, 5_000), closedWithin(half, 5_000)]);
    for (const ms of [a, b]) assert.ok(ms >= HEAD_TIMEOUT_MS - 50, `closed after ${ms} ms`);
  });

  await check("with 600 idle connections open, a real client still streams at once", async () => {
    const idle = [];
    for (let i = 0; i < 600; i++) idle.push(await connect(port, i % 2 ? "GET / HTTP/1.1\r\n" : undefined));
    const closed = Promise.all(idle.map((socket) => closedWithin(socket, 10_000)));
    const controller = new AbortController();
    const response = await fetch(`http://127.0.0.1:${port}/stream/football/x`, { signal: controller.signal });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("content-type"), "text/event-stream");
    const reader = response.body.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    assert.ok(first.startsWith("retry: ") || first.startsWith(":"), `the stream opens: ${JSON.stringify(first)}`);
    // The idle ones all go, and the stream outlives the head timeout.
    await closed;
    const health = await fetch(`http://127.0.0.1:${port}/health`);
    assert.equal(health.status, 200);
    controller.abort();
  });
} finally {
  await stop(server);
}
summary();
