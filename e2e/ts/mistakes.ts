// Mistakes the generated types must reject. Each line after a `@ts-expect-error` must fail to
// compile (tsc reports an unused directive otherwise), and `node e2e/typecheck.mjs` also checks,
// with the directives removed, that it fails for the reason given: the TSxxxx code at the end of
// the comment. Never run: only type-checked.

import * as football from "../../examples/sports/page/ts/FootballEvents.js";
import * as cricket from "../../examples/sports/page/ts/CricketEvents.js";

const footballSource = football.footballEventsSource("/stream/football/a-vs-b");
const cricketSource = cricket.cricketEventsSource("/stream/cricket/c-vs-d");

football.onScoreUpdate(footballSource, (data) => {
  // @ts-expect-error a wrong field name read from a payload: on the wire it is camelCase `homeScore` (TS2551)
  console.log(data.home_score);
  // @ts-expect-error a field of another event: a score update has no `player` (TS2339)
  console.log(data.player);
  // @ts-expect-error a payload field has its Rust type: `minute` is a number, not a string (TS2339)
  console.log(data.minute.toUpperCase());
});

const goal: football.ScoreUpdatePayload = {
  match: "a-vs-b",
  // @ts-expect-error a wrong payload type: `homeScore` is a u32 in Rust, a number here, not "two" (TS2322)
  homeScore: "two",
  awayScore: 0,
  minute: 12,
};

// @ts-expect-error a payload missing a field: a red card needs `team` (TS2741)
const card: football.RedCardPayload = { match: "a-vs-b", player: "P", minute: 3 };

football.listen(footballSource, {
  score_update: (data) => console.log(data.minute),
  // @ts-expect-error a misspelt event name: football has `score_update`, not `score_updated` (TS2561)
  score_updated: (data: unknown) => console.log(data),
});

football.listen(footballSource, {
  // @ts-expect-error an unknown event name: the server never sends `goal` on /football (TS2353)
  goal: (data: unknown) => console.log(data),
});

const six: cricket.BoundaryPayload = {
  match: "c-vs-d",
  player: "Kohli",
  // @ts-expect-error a boundary is 4 or 6 runs (`Runs` in Rust), never 5 (TS2322)
  runs: 5,
};

cricket.onBoundary(cricketSource, (data) => {
  // @ts-expect-error `runs` is the union 4 | 6, so comparing it with 5 is always false (TS2367)
  if (data.runs === 5) console.log("five");
});

// @ts-expect-error a cricket handler on a football source: the brands differ (TS2345)
cricket.onWicket(footballSource, (data) => console.log(data.totalWickets));

// @ts-expect-error a football handler on a cricket source (TS2345)
football.onRedCard(cricketSource, (data) => console.log(data.player));

football.listen(footballSource, {
  // @ts-expect-error a cricket event in football's `listen`: `wicket` is not a football event (TS2353)
  wicket: (data: cricket.WicketPayload) => console.log(data.player),
});

// @ts-expect-error a plain EventSource is not known to carry football events: open it with footballEventsSource (TS2345)
football.onAnnouncement(new EventSource("/stream/football/a-vs-b"), (data) => console.log(data.message));

// @ts-expect-error the handler's payload type must match its event: an announcement is not a score update (TS2345)
football.onAnnouncement(footballSource, (data: football.ScoreUpdatePayload) => console.log(data.minute));

football.listen(footballSource, {
  // @ts-expect-error a handler given to the wrong event: `red_card` gets a RedCardPayload (TS2322)
  red_card: (data: football.MatchEndPayload) => console.log(data.finalScore),
});

// @ts-expect-error `sse:resync` is the library's event, not one of FOOTBALL_EVENTS' names (TS2322)
const names: football.FootballEventsName = "sse:resync";

// @ts-expect-error `sse:resync` reasons are a closed set (TS2322)
const resync: football.SseResyncPayload = { reason: "timeout", lastEventId: null };

console.log(goal, card, six, names, resync);
