// The TypeScript side, checked with the real tsc (npm `typescript`, pinned by package-lock.json).
//
// Usage: node e2e/typecheck.mjs        (or `npm --prefix e2e run typecheck`; any working directory)
//
// 1. e2e/tsconfig.json (strict, noEmit): the files generated from the Rust event enums compile,
//    e2e/ts/usage.ts uses every helper and compiles, and every line of e2e/ts/mistakes.ts after a
//    `@ts-expect-error` fails to (tsc reports a directive that suppresses nothing).
// 2. The same mistakes with the directives removed: every error is on a marked line, with the
//    TSxxxx code its comment gives, so none of them passes for an unrelated reason.
// 3. The page (examples/sports/page/ts) builds into a temporary directory, and the result is
//    byte for byte the committed examples/sports/page/js/ that the example serves.
// 5. The modules tests/typescript.rs exports for odd enums (serde renames, flatten, fields
//    written by functions, a newtype named after its payload) compile under the same options.
//    `cargo test --all-features` writes them first; without them this check fails.
// 4. The built helpers behave at run time (node, with a stand-in EventSource): one JSON.parse per
//    frame, handlers get typed payloads, malformed frames go to onMalformed (or console.warn)
//    instead, and the returned functions remove every listener.

import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import assert from "node:assert/strict";
import { fileURLToPath, pathToFileURL } from "node:url";
import { format } from "node:util";

const E2E = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.dirname(E2E);
const TSC = path.join(E2E, "node_modules", ".bin", "tsc");
const PAGE = path.join(ROOT, "examples", "sports", "page");
const GENERATED = ["FootballEvents.ts", "CricketEvents.ts"].map((name) => path.join(PAGE, "ts", name));
const MISTAKES = path.join(E2E, "ts", "mistakes.ts");
const RUST_EXPORTS = path.join(process.env.CARGO_TARGET_DIR ?? path.join(ROOT, "target"), "tmp", "typescript-check");

let passed = 0;
let failed = 0;
async function check(name, body) {
  try {
    await body();
    passed += 1;
    console.log(`ok - ${name}`);
  } catch (error) {
    failed += 1;
    console.log(`not ok - ${name}`);
    console.log(String(error?.message ?? error).replace(/^/gm, "  "));
  }
}

function tsc(...args) {
  const run = spawnSync(TSC, ["--pretty", "false", ...args], { cwd: ROOT, encoding: "utf8" });
  if (run.error) throw run.error;
  return { status: run.status, output: (run.stdout + run.stderr).trim() };
}

/** `file(line,col): error TSnnnn: message` lines of tsc's output. */
function errorsOf(output) {
  const errors = [];
  for (const line of output.split("\n")) {
    const match = /^(.*)\((\d+),(\d+)\): error TS(\d+): (.*)$/.exec(line);
    if (match) errors.push({ file: path.resolve(ROOT, match[1]), line: Number(match[2]), code: match[4], message: match[5] });
  }
  return errors;
}

function listFiles(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(dir, path.join(entry.parentPath ?? entry.path, entry.name)))
    .sort();
}

if (!fs.existsSync(TSC)) {
  console.error(`no tsc at ${TSC}: run \`npm ci\` in e2e/`);
  process.exit(1);
}
const version = tsc("--version").output;
console.log(`# ${version}`);

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "sse-typecheck-"));
try {
  await check("e2e/tsconfig.json: the generated files and usage.ts compile, every mistake is rejected", () => {
    const { status, output } = tsc("-p", path.join(E2E, "tsconfig.json"));
    assert.equal(status, 0, `tsc -p e2e/tsconfig.json failed:\n${output}`);
  });

  await check("each mistake fails for the reason its comment gives", () => {
    const lines = fs.readFileSync(MISTAKES, "utf8").split("\n");
    const expected = new Map(); // line number (1-based) of the marked line -> TS code
    const stripped = lines.map((text, index) => {
      if (!/^\s*\/\/\s*@ts-expect-error/.test(text)) return text;
      const code = /\(TS(\d+)\)\s*$/.exec(text);
      assert.ok(code, `mistakes.ts:${index + 1}: end the comment with the expected error code, e.g. (TS2322)`);
      expected.set(index + 2, code[1]);
      return text.replace("@ts-expect-error", "expect-error");
    });
    assert.ok(expected.size >= 6, `only ${expected.size} marked mistakes`);
    const dir = path.join(tmp, "mistakes");
    fs.mkdirSync(dir);
    const pageTs = path.join(PAGE, "ts") + path.sep;
    const copy = path.join(dir, "mistakes.ts");
    fs.writeFileSync(copy, stripped.join("\n").replaceAll("../../examples/sports/page/ts/", pageTs.split(path.sep).join("/")));
    fs.writeFileSync(
      path.join(dir, "tsconfig.json"),
      JSON.stringify({ extends: path.join(E2E, "tsconfig.json"), files: [...GENERATED, copy] }),
    );
    const { output } = tsc("-p", path.join(dir, "tsconfig.json"));
    const errors = errorsOf(output);
    const elsewhere = errors.filter((e) => e.file !== copy);
    assert.ok(elsewhere.length === 0, `errors outside mistakes.ts:\n${output}`);
    const problems = [];
    for (const [line, code] of expected) {
      const here = errors.filter((e) => e.line === line);
      if (!here.some((e) => e.code === code)) {
        const got = here.map((e) => `TS${e.code} ${e.message}`).join("; ") || "no error";
        problems.push(`mistakes.ts:${line}: expected TS${code}, got ${got}`);
      }
    }
    for (const e of errors) {
      if (!expected.has(e.line)) problems.push(`mistakes.ts:${e.line}: an unmarked error TS${e.code} ${e.message}`);
    }
    assert.ok(problems.length === 0, problems.join("\n"));
    console.log(`  ${expected.size} mistakes rejected, each with its expected code`);
  });

  await check("the modules exported by tests/typescript.rs compile under tsc --strict", () => {
    const files = listFiles(RUST_EXPORTS).filter((f) => f.endsWith(".ts")).map((f) => path.join(RUST_EXPORTS, f));
    assert.ok(files.length >= 3, `no modules in ${RUST_EXPORTS}: run \`cargo test --all-features --test typescript\` first`);
    const dir = path.join(tmp, "exports");
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, "tsconfig.json"), JSON.stringify({ extends: path.join(E2E, "tsconfig.json"), files }));
    const { status, output } = tsc("-p", path.join(dir, "tsconfig.json"));
    assert.equal(status, 0, `tsc failed on the exported modules:\n${output}`);
    console.log(`  ${files.length} modules: ${files.map((f) => path.basename(f)).join(", ")}`);
  });

  await check("the page builds, and the committed examples/sports/page/js/ is up to date", () => {
    const out = path.join(tmp, "page", "js");
    const { status, output } = tsc("-p", path.join(PAGE, "tsconfig.json"), "--outDir", out);
    assert.equal(status, 0, `tsc -p examples/sports/page/tsconfig.json failed:\n${output}`);
    fs.writeFileSync(path.join(tmp, "page", "package.json"), JSON.stringify({ type: "module" }));
    const committed = path.join(PAGE, "js");
    const built = listFiles(out);
    const have = listFiles(committed);
    const stale = [];
    for (const file of new Set([...built, ...have])) {
      const a = built.includes(file) ? fs.readFileSync(path.join(out, file)) : null;
      const b = have.includes(file) ? fs.readFileSync(path.join(committed, file)) : null;
      if (a === null) stale.push(`${file}: committed but not built from ts/`);
      else if (b === null) stale.push(`${file}: built but not committed`);
      else if (!a.equals(b)) stale.push(`${file}: differs`);
    }
    assert.deepEqual(built, ["CricketEvents.js", "FootballEvents.js", "app.js"], "the files the example serves at /assets/");
    assert.ok(stale.length === 0, `the built page is stale: run \`npm --prefix e2e run build-page\`\n${stale.join("\n")}`);
  });

  // A stand-in for the browser's EventSource: an EventTarget that knows its listeners.
  class FakeEventSource extends EventTarget {
    static instances = [];
    static CONNECTING = 0;
    static OPEN = 1;
    static CLOSED = 2;
    listeners = new Map(); // type -> Set of listeners, as EventTarget keeps them
    constructor(url, init) {
      super();
      this.url = String(url);
      this.withCredentials = Boolean(init?.withCredentials);
      this.readyState = 0;
      FakeEventSource.instances.push(this);
    }
    addEventListener(type, listener, options) {
      if (!this.listeners.has(type)) this.listeners.set(type, new Set());
      this.listeners.get(type).add(listener);
      super.addEventListener(type, listener, options);
    }
    removeEventListener(type, listener, options) {
      this.listeners.get(type)?.delete(listener);
      super.removeEventListener(type, listener, options);
    }
    get listenerCount() {
      return [...this.listeners.values()].reduce((n, set) => n + set.size, 0);
    }
    frame(event, data, lastEventId = "") {
      this.dispatchEvent(new MessageEvent(event, { data, lastEventId }));
    }
    close() {
      this.readyState = 2;
    }
  }

  const built = (name) => import(pathToFileURL(path.join(tmp, "page", "js", name)).href);
  await check("the built helpers work at run time (stand-in EventSource)", async () => {
    globalThis.EventSource = FakeEventSource;
    const football = await built("FootballEvents.js");
    const cricket = await built("CricketEvents.js");

    assert.deepEqual([...football.FOOTBALL_EVENTS], ["score_update", "red_card", "match_end", "announcement"]);
    assert.deepEqual([...cricket.CRICKET_EVENTS], ["wicket", "boundary", "over_complete"]);

    const source = football.footballEventsSource("/stream/football/a?token=t", { withCredentials: true });
    assert.ok(source instanceof FakeEventSource, "footballEventsSource opens an EventSource");
    assert.equal(source.url, "/stream/football/a?token=t");
    assert.equal(source.withCredentials, true);

    const seen = [];
    const malformed = [];
    const parse = JSON.parse;
    let parses = 0;
    JSON.parse = (...args) => {
      parses += 1;
      return parse(...args);
    };
    let stop;
    try {
      stop = football.listen(
        source,
        {
          score_update: (data, event) => seen.push(["score_update", data, event.lastEventId]),
          red_card: (data) => seen.push(["red_card", data]),
          "sse:resync": (data) => seen.push(["sse:resync", data]),
        },
        { onMalformed: (frame) => malformed.push(frame) },
      );
      assert.equal(source.listenerCount, 3, "one listener per given handler");
      const goal = { match: "a", homeScore: 2, awayScore: 1, minute: 61 };
      source.frame("score_update", JSON.stringify(goal), "7");
      source.frame("red_card", '{"match":"a","player":"P","team":"T","minute":3}');
      source.frame("sse:resync", '{"reason":"lagged","lastEventId":null,"dropped":4}');
      source.frame("announcement", '{"message":"nobody listens"}');
      assert.equal(parses, 3, "JSON.parse runs once per frame, only for subscribed events");
      assert.deepEqual(seen, [
        ["score_update", goal, "7"],
        ["red_card", { match: "a", player: "P", team: "T", minute: 3 }],
        ["sse:resync", { reason: "lagged", lastEventId: null, dropped: 4 }],
      ]);

      seen.length = 0;
      source.frame("score_update", "{not json");
      source.frame("score_update", '{"match":"a","homeScore":2,"minute":61}');
      source.frame("red_card", "null");
      source.frame("red_card", "[1,2]");
      source.frame("sse:resync", '"expired"');
      assert.deepEqual(seen, [], "no handler sees a malformed frame");
      assert.deepEqual(
        malformed.map((frame) => [frame.event, frame.data]),
        [
          ["score_update", "{not json"],
          ["score_update", '{"match":"a","homeScore":2,"minute":61}'],
          ["red_card", "null"],
          ["red_card", "[1,2]"],
          ["sse:resync", '"expired"'],
        ],
      );
      assert.match(malformed[1].reason, /awayScore/, "the reason names the missing field");
      assert.ok(malformed.every((frame) => typeof frame.reason === "string" && frame.reason.length > 0));
    } finally {
      JSON.parse = parse;
    }

    stop();
    assert.equal(source.listenerCount, 0, "listen's function removes every listener");
    stop();
    assert.equal(source.listenerCount, 0, "and calling it twice is harmless");

    // From untyped code (or an object typed wider), a name that is not an event of the set
    // subscribes nothing, rather than a listener that has no payload shape to check.
    const stopOdd = football.listen(source, { announcement: () => {}, wicket: () => {}, goal: () => {} });
    assert.deepEqual([...source.listeners].filter(([, set]) => set.size > 0).map(([type]) => type), ["announcement"]);
    stopOdd();
    source.frame("score_update", '{"match":"a","homeScore":9,"awayScore":9,"minute":90}');
    assert.deepEqual(seen, []);

    // on*: one listener each; without onMalformed a malformed frame is a console.warn.
    const warn = console.warn;
    const warnings = [];
    console.warn = (...args) => warnings.push(format(...args));
    try {
      const pitch = cricket.cricketEventsSource("/stream/cricket/c");
      const got = [];
      const offs = [
        cricket.onWicket(pitch, (data) => got.push(data.totalWickets)),
        cricket.onBoundary(pitch, (data) => got.push(data.runs)),
        cricket.onOverComplete(pitch, (data) => got.push(data.runsInOver)),
        cricket.onSseResync(pitch, (data) => got.push(data.reason)),
      ];
      assert.equal(pitch.listenerCount, 4);
      pitch.frame("wicket", '{"match":"c","player":"P","team":"T","totalWickets":3}');
      pitch.frame("boundary", '{"match":"c","player":"P","runs":6}');
      pitch.frame("over_complete", '{"match":"c","oversPlayed":4,"runsInOver":9}');
      pitch.frame("sse:resync", '{"reason":"expired","lastEventId":"12"}');
      pitch.frame("boundary", '{"match":"c","player":"P"}');
      assert.deepEqual(got, [3, 6, 9, "expired"]);
      assert.equal(warnings.length, 1, "a malformed frame without onMalformed is one console.warn");
      assert.match(warnings[0], /boundary/, "naming the event");
      for (const off of offs) off();
      assert.equal(pitch.listenerCount, 0, "each on* function removes its listener");

      const stopFootball = football.onScoreUpdate(source, () => got.push("goal"));
      assert.equal(source.listenerCount, 1);
      stopFootball();
      assert.equal(source.listenerCount, 0);
    } finally {
      console.warn = warn;
    }
  });
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
  delete globalThis.EventSource;
}

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
