// The live scoreboard: one card per watched match, each fed by its own EventSource through the
// helpers generated from the Rust event enums (FootballEvents.ts, CricketEvents.ts), so every
// event name and payload field used here is checked against the server's types by tsc.
//
// Built into ../js/ by `npm --prefix e2e run build-page`; the server serves that at /assets/.
import * as football from "./FootballEvents.js";
import * as cricket from "./CricketEvents.js";
const DEFAULT_MATCHES = [
    ["football", "arsenal-vs-chelsea"],
    ["football", "liverpool-vs-everton"],
    ["cricket", "india-vs-australia"],
];
function byId(id, type) {
    const node = document.getElementById(id);
    if (!(node instanceof type))
        throw new Error(`the page has no <${type.name}> #${id}`);
    return node;
}
const token = new URLSearchParams(location.search).get("token");
const cards = byId("cards", HTMLElement);
const watching = new Map();
function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls)
        node.className = cls;
    if (text !== undefined)
        node.textContent = text;
    return node;
}
function isSport(value) {
    return value === "football" || value === "cricket";
}
function watch(sport, match) {
    const key = sport + "/" + match;
    if (watching.has(key))
        return;
    const card = el("section", "card");
    card.dataset["key"] = key;
    const top = el("div", "top");
    const badge = el("span", "state", "connecting");
    top.append(el("span", "sport", sport), badge);
    const score = el("div", "score", sport === "football" ? "0 – 0" : "0/0");
    const meta = el("div", "meta", "");
    const ticker = el("ol", "ticker");
    card.append(top, el("div", "title", match.replace(/-/g, " ")), score, meta, ticker);
    cards.append(card);
    const state = { card, score, meta, ticker, badge, runs: 0, wickets: 0, overs: 0, lastMinute: undefined, flashTimer: undefined };
    let url = "/stream/" + sport + "/" + encodeURIComponent(match);
    if (token && sport === "football")
        url += "?token=" + encodeURIComponent(token);
    const source = sport === "football" ? watchFootball(state, url) : watchCricket(state, url);
    watching.set(key, source);
    source.onopen = () => setState(state, "connected");
    source.onerror = () => setState(state, source.readyState === EventSource.CLOSED ? "refused" : "reconnecting");
}
function setState(state, text) {
    state.badge.textContent = text;
    state.badge.className = "state " + text;
}
function flash(state, kind) {
    state.card.classList.remove("flash", "wicket", "six");
    void state.card.offsetWidth; // restart the transition when two flashes come close together
    state.card.classList.add("flash");
    if (kind)
        state.card.classList.add(kind);
    clearTimeout(state.flashTimer);
    state.flashTimer = window.setTimeout(() => state.card.classList.remove("flash", "wicket", "six"), 1200);
}
function tick(state, cls, tag, text) {
    const item = el("li", cls);
    item.append(el("span", "tag", tag), document.createTextNode(text));
    state.ticker.prepend(item);
    while (state.ticker.children.length > 8)
        state.ticker.lastElementChild?.remove();
}
/** The server could not replay what this page missed while it was away (see the README). */
function resync(state, data) {
    const dropped = data.dropped === undefined ? "" : ", " + data.dropped + " dropped";
    tick(state, "", "resync", "Missed events could not be replayed (" + data.reason + dropped + ")");
}
function watchFootball(state, url) {
    const source = football.footballEventsSource(url);
    football.listen(source, {
        score_update(data) {
            const text = data.homeScore + " – " + data.awayScore;
            if (state.score.textContent !== text && state.lastMinute !== undefined && data.minute > state.lastMinute) {
                tick(state, "goal", "goal " + data.minute + "'", "Score is now " + text);
                flash(state);
            }
            state.lastMinute = data.minute;
            state.score.textContent = text;
            state.meta.textContent = data.minute + "'";
        },
        red_card(data) {
            tick(state, "card-red", "red " + data.minute + "'", data.player + " (" + data.team + ") is sent off");
            flash(state, "wicket");
        },
        match_end(data) {
            state.meta.textContent = "Full time";
            tick(state, "end", "full time", "Final score " + data.finalScore);
            flash(state);
        },
        announcement(data) {
            tick(state, "", "news", data.message);
        },
    });
    football.onSseResync(source, (data) => resync(state, data));
    return source;
}
function watchCricket(state, url) {
    const source = cricket.cricketEventsSource(url);
    cricket.listen(source, {
        wicket(data) {
            state.wickets = data.totalWickets;
            state.score.textContent = state.runs + "/" + state.wickets;
            tick(state, "wicket", "wicket", data.player + " (" + data.team + ") is out · " + data.totalWickets + " down");
            flash(state, "wicket");
        },
        boundary(data) {
            const six = data.runs === 6;
            tick(state, "boundary", six ? "six!" : "four", data.player + " hits " + data.runs);
            flash(state, six ? "six" : undefined);
        },
        over_complete(data) {
            if (data.oversPlayed < state.overs) {
                // A new innings (or the simulator started a new match): the totals start again.
                state.runs = 0;
                state.wickets = 0;
            }
            state.overs = data.oversPlayed;
            state.runs += data.runsInOver;
            state.score.textContent = state.runs + "/" + state.wickets;
            state.meta.textContent = data.oversPlayed + " overs · " + data.runsInOver + " off the last";
        },
        "sse:resync": (data) => resync(state, data),
    });
    return source;
}
const sportInput = byId("sport", HTMLSelectElement);
const matchInput = byId("match", HTMLInputElement);
byId("watch", HTMLFormElement).addEventListener("submit", (event) => {
    event.preventDefault();
    const match = matchInput.value.trim();
    if (match && isSport(sportInput.value))
        watch(sportInput.value, match);
});
for (const [sport, match] of DEFAULT_MATCHES)
    watch(sport, match);
