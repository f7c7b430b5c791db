// The sports scoreboard in a real browser: Debian's headless Chromium, driven by playwright-core.
//
// Usage: node scoreboard.mjs <path to the sports example binary> <screenshot.png>
//
// Starts the example on a free loopback port with a fast simulator, opens the page, checks that
// every stream connects and live events show up, publishes an event over HTTP and checks it
// appears, takes the screenshot, then restarts the server and checks that the page's
// EventSources reconnect by themselves and show new events. The page's script is TypeScript
// (examples/sports/page/ts, built into page/js and served at /assets/); the checks also cover its
// "watch another match" form and its `?token=` for football streams (refused without it).

import assert from "node:assert/strict";
import { STEP_TIMEOUT, check, freePort, launchChromium, publish, startServer as startSports, stop, summary, waitHealthy } from "./harness.mjs";

const [binary, screenshot] = process.argv.slice(2);
assert.ok(binary && screenshot, "usage: node scoreboard.mjs <sports binary> <screenshot.png>");

const startServer = (port, env) => startSports(binary, port, env);

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

const states = (page) => page.$$eval(".state", (nodes) => nodes.map((n) => n.textContent));

const port = await freePort();
const browser = await launchChromium();
let server = startServer(port);
try {
  await waitHealthy(port);
  await check("the page's scripts are served at /assets/, anything else there is a JSON 404", async () => {
    for (const file of ["app.js", "FootballEvents.js", "CricketEvents.js"]) {
      const response = await fetch(`http://127.0.0.1:${port}/assets/${file}`);
      assert.equal(response.status, 200, file);
      assert.equal(response.headers.get("content-type"), "text/javascript; charset=utf-8", file);
      assert.ok((await response.text()).length > 0, file);
    }
    for (const file of ["nope.js", "app.ts", "..%2Fapp.rs"]) {
      const response = await fetch(`http://127.0.0.1:${port}/assets/${file}`);
      assert.equal(response.status, 404, file);
      assert.equal(typeof (await response.json()).error, "string", file);
    }
  });

  const page = await browser.newPage({ viewport: { width: 1180, height: 760 } });
  // Until the server is stopped on purpose, the page must log no error and no warning (a
  // malformed frame is a console.warn from the generated helpers).
  const problems = [];
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error" || message.type() === "warning") problems.push(`console.${message.type()}: ${message.text()} (${message.location().url})`);
  });
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

  await check("no error or warning in the page's console", async () => {
    assert.deepEqual(problems, []);
  });

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

  await check("the form opens another match's stream", async () => {
    await page.selectOption("#sport", "cricket");
    await page.fill("#match", "e2e-vs-form");
    await page.click("#watch button");
    await page.waitForFunction(
      () => document.querySelectorAll(".card").length === 4 && document.querySelectorAll(".state")[3].textContent === "connected",
      null,
      { timeout: STEP_TIMEOUT },
    );
    assert.equal(await page.textContent(".card:nth-child(4) .title"), "e2e vs form");
    await publish(port, "/publish/cricket/e2e-vs-form", {
      event: "wicket",
      data: { match: "e2e-vs-form", player: "Form Batter", team: "India", totalWickets: 2 },
    });
    await page.waitForFunction(() => document.querySelectorAll(".score")[3].textContent === "0/2", null, { timeout: STEP_TIMEOUT });
    assert.match(await page.textContent(".card:nth-child(4) .ticker"), /Form Batter \(India\) is out · 2 down/);
    // The same match again opens no second card.
    await page.click("#watch button");
    assert.equal(await page.locator(".card").count(), 4);
  });
} finally {
  await browser.close();
  await stop(server);
}

// SPORTS_TOKEN set: football streams need the page's `?token=`, cricket streams stay open.
const guardedPort = await freePort();
const browser2 = await launchChromium();
let guarded = startServer(guardedPort, { SIMULATE: "0", SPORTS_TOKEN: "e2e-secret" });
try {
  await waitHealthy(guardedPort);
  await check("with SPORTS_TOKEN, `?token=` reaches the football streams (and `sse:resync` shows); without it they are refused", async () => {
    const page = await browser2.newPage({ viewport: { width: 1180, height: 760 } });
    await page.goto(`http://127.0.0.1:${guardedPort}/?token=e2e-secret`);
    await page.waitForFunction(
      () => [...document.querySelectorAll(".state")].every((n) => n.textContent === "connected") && document.querySelectorAll(".state").length === 3,
      null,
      { timeout: STEP_TIMEOUT },
    );
    await publish(
      guardedPort,
      "/publish/football/arsenal-vs-chelsea",
      { event: "score_update", data: { match: "arsenal-vs-chelsea", homeScore: 4, awayScore: 2, minute: 70 } },
      { authorization: "Bearer e2e-secret" },
    );
    await page.waitForFunction(() => document.querySelector(".score").textContent === "4 – 2", null, { timeout: STEP_TIMEOUT });

    // A new server run cannot replay what the page missed (each run starts its ids at a random
    // point, so the old Last-Event-ID is outside the new run's range, below or above): the stream
    // says so with `sse:resync`, and the card shows it.
    await stop(guarded);
    guarded = startServer(guardedPort, { SIMULATE: "0", SPORTS_TOKEN: "e2e-secret" });
    await waitHealthy(guardedPort);
    await page.waitForFunction(
      () => /Missed events could not be replayed \((expired|unknown)\)/.test(document.querySelector(".ticker").innerText),
      null,
      { timeout: STEP_TIMEOUT },
    );
    await page.waitForFunction(
      () => [...document.querySelectorAll(".state")].every((n) => n.textContent === "connected"),
      null,
      { timeout: STEP_TIMEOUT },
    );

    const anonymous = await browser2.newPage({ viewport: { width: 1180, height: 760 } });
    await anonymous.goto(`http://127.0.0.1:${guardedPort}/`);
    await anonymous.waitForFunction(
      () => {
        const shown = [...document.querySelectorAll(".state")].map((n) => n.textContent);
        return shown.length === 3 && shown[0] === "refused" && shown[1] === "refused" && shown[2] === "connected";
      },
      null,
      { timeout: STEP_TIMEOUT },
    );
  });
} finally {
  await browser2.close();
  await stop(guarded);
}
summary();
