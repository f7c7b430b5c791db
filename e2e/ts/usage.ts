// Every generated helper, used the way a page would, for both event sets. It must compile under
// e2e/tsconfig.json (strict); `node e2e/typecheck.mjs` runs it. Never run: only type-checked.

import * as football from "../../examples/sports/page/ts/FootballEvents.js";
import * as cricket from "../../examples/sports/page/ts/CricketEvents.js";
import {
  FOOTBALL_EVENTS,
  footballEventsSource,
  listen,
  onAnnouncement,
  onMatchEnd,
  onRedCard,
  onScoreUpdate,
  onSseResync,
  type AnnouncementPayload,
  type FootballEventsHandler,
  type FootballEventsMap,
  type FootballEventsName,
  type FootballEventsSource,
  type ListenOptions,
  type MalformedFrame,
  type MatchEndPayload,
  type RedCardPayload,
  type ScoreUpdatePayload,
  type SseResyncPayload,
} from "../../examples/sports/page/ts/FootballEvents.js";

const options: ListenOptions = {
  onMalformed(frame: MalformedFrame) {
    const text: string = frame.event + " " + frame.reason + " " + frame.data;
    console.error(text);
  },
};

// --- Football -----------------------------------------------------------------------------

const source: FootballEventsSource = footballEventsSource("/stream/football/a-vs-b?token=t");
const withCredentials: FootballEventsSource = footballEventsSource(new URL("https://example.invalid/s"), { withCredentials: true });
// Still a plain EventSource for everything else.
const plain: EventSource = source;
source.onopen = () => console.log(plain.readyState === EventSource.OPEN);
source.close();

const stopAll: () => void = listen(
  source,
  {
    score_update(data, event) {
      const home: number = data.homeScore;
      const away: number = data.awayScore;
      const minute: number = data.minute;
      const match: string = data.match;
      const raw: string = event.data;
      const id: string = event.lastEventId;
      console.log(home, away, minute, match, raw, id);
    },
    red_card: (data) => {
      const who: string = data.player + data.team + data.match;
      const minute: number = data.minute;
      console.log(who, minute);
    },
    match_end: (data) => console.log(data.finalScore.toUpperCase(), data.match),
    announcement: (data) => console.log(data.message.length),
    "sse:resync": (data) => {
      const reason: "expired" | "unknown" | "malformed" | "lagged" | "outage" | "epoch" = data.reason;
      const last: string | null = data.lastEventId;
      const dropped: number | undefined = data.dropped;
      console.log(reason, last, dropped);
    },
  },
  options,
);
stopAll();

// Some handlers only; no options.
const stopSome = listen(withCredentials, { announcement: (data) => console.log(data.message) });
stopSome();
listen(source, {})();

const offs: (() => void)[] = [
  onScoreUpdate(source, (data: ScoreUpdatePayload) => console.log(data.homeScore - data.awayScore)),
  onRedCard(source, (data: RedCardPayload, event: MessageEvent<string>) => console.log(data.player, event.data)),
  onMatchEnd(source, (data: MatchEndPayload) => console.log(data.finalScore), options),
  onAnnouncement(source, (data: AnnouncementPayload) => console.log(data.message), {}),
  onSseResync(source, (data: SseResyncPayload) => console.log(data.reason, data.lastEventId ?? "none", data.dropped ?? 0)),
];
for (const off of offs) off();

// A handler written on its own, typed by the event it handles.
const onGoal: FootballEventsHandler<"score_update"> = (data) => console.log(data.minute);
listen(source, { score_update: onGoal });
onScoreUpdate(source, onGoal);

// The names: a const tuple, its union, and the map's keys (which add the library's own event).
const names: readonly FootballEventsName[] = FOOTBALL_EVENTS;
const first: "score_update" = FOOTBALL_EVENTS[0];
const every: (keyof FootballEventsMap)[] = [...FOOTBALL_EVENTS, "sse:resync"];
function isFootballEvent(name: string): name is FootballEventsName {
  return (FOOTBALL_EVENTS as readonly string[]).includes(name);
}
console.log(names, first, every, isFootballEvent("red_card"));

// A payload built by hand (as a test or a publisher would) has exactly the wire's field names.
const goal: FootballEventsMap["score_update"] = { match: "a-vs-b", homeScore: 2, awayScore: 1, minute: 61 };
const resync: SseResyncPayload = { reason: "lagged", lastEventId: null, dropped: 3 };
console.log(goal, resync);

// --- Cricket (through the namespace import) -----------------------------------------------

const pitch: cricket.CricketEventsSource = cricket.cricketEventsSource("/stream/cricket/india-vs-australia");
const stopCricket = cricket.listen(
  pitch,
  {
    wicket(data) {
      const down: number = data.totalWickets;
      console.log(data.player, data.team, data.match, down);
    },
    boundary(data) {
      const runs: cricket.Runs = data.runs;
      const six: boolean = runs === 6;
      console.log(six ? "six" : "four", data.player, data.match);
    },
    over_complete(data) {
      const total: number = data.oversPlayed + data.runsInOver;
      console.log(total, data.match);
    },
    "sse:resync": (data) => console.log(data.reason),
  },
  { onMalformed: (frame: cricket.MalformedFrame) => console.warn(frame.reason) },
);
stopCricket();

const cricketOffs = [
  cricket.onWicket(pitch, (data: cricket.WicketPayload) => console.log(data.totalWickets)),
  cricket.onBoundary(pitch, (data: cricket.BoundaryPayload) => console.log(data.runs)),
  cricket.onOverComplete(pitch, (data: cricket.OverCompletePayload) => console.log(data.runsInOver), {}),
  cricket.onSseResync(pitch, (data: cricket.SseResyncPayload) => console.log(data.lastEventId)),
];
cricketOffs.forEach((off) => off());

const cricketNames: readonly cricket.CricketEventsName[] = cricket.CRICKET_EVENTS;
const four: cricket.BoundaryPayload = { match: "m", player: "p", runs: 4 };
const map: cricket.CricketEventsMap["over_complete"] = { match: "m", oversPlayed: 3, runsInOver: 11 };
const handler: cricket.CricketEventsHandler<"wicket"> = (data, event) => console.log(data.player, event.type);
cricket.onWicket(pitch, handler);
console.log(cricketNames, four, map);

// The two sets share the resync payload's shape.
const shared: football.SseResyncPayload = { reason: "expired", lastEventId: "12" };
const same: cricket.SseResyncPayload = shared;
console.log(same);
