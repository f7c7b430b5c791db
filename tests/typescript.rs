//! The TypeScript generated from the event enums: exact text, staleness of the checked-in files,
//! and how serde and `#[sse(..)]` attributes shape it.

mod common;

use common::events::{CricketEvents, FootballEvents};
use serde::{Deserialize, Serialize};
use sse_manager::{typescript, SseEvents};
use std::path::Path;

/// Compares with the checked-in file; `SSE_BLESS=1` rewrites it instead.
fn assert_matches_file(generated: &str, file: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
    if std::env::var_os("SSE_BLESS").is_some() {
        std::fs::write(&path, generated).unwrap();
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "{file} is stale: run `cargo run --features typescript --example export-ts`, then `npm --prefix e2e run build-page`"
    );
}

#[test]
fn the_checked_in_modules_of_the_sports_page_are_up_to_date() {
    assert_matches_file(
        &typescript::render::<FootballEvents>(),
        "examples/sports/page/ts/FootballEvents.ts",
    );
    assert_matches_file(
        &typescript::render::<CricketEvents>(),
        "examples/sports/page/ts/CricketEvents.ts",
    );
}

#[test]
fn football_payloads_follow_the_wire() {
    let ts = typescript::render::<FootballEvents>();
    for expected in [
        "export interface ScoreUpdatePayload {\n  match: string;\n  homeScore: number;\n  awayScore: number;\n  minute: number;\n}",
        "export interface MatchEndPayload {\n  match: string;\n  finalScore: string;\n}",
        "export interface FootballEventsMap {\n  \"score_update\": ScoreUpdatePayload;\n  \"red_card\": RedCardPayload;\n  \"match_end\": MatchEndPayload;\n  \"announcement\": AnnouncementPayload;\n  \"sse:resync\": SseResyncPayload;\n}",
        "export const FOOTBALL_EVENTS = [\"score_update\", \"red_card\", \"match_end\", \"announcement\"] as const;",
        "export function footballEventsSource(url: string | URL, init?: EventSourceInit): FootballEventsSource {",
        "export function onRedCard(",
        "export function onSseResync(",
        "export function listen(",
    ] {
        assert!(ts.contains(expected), "missing:\n{expected}\n\nin:\n{ts}");
    }
    assert_eq!(FootballEvents::NAMES.len(), 4);
}

#[test]
fn cricket_runs_are_four_or_six() {
    let ts = typescript::render::<CricketEvents>();
    assert!(ts.contains("export type Runs = 4 | 6;"), "{ts}");
    assert!(ts.contains("  runs: Runs;\n"), "{ts}");
}

#[derive(Serialize, Deserialize, ts_rs::TS, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
struct Lineup {
    team_name: String,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    players: Vec<Player>,
}

/// A player on the sheet.
#[derive(Serialize, Deserialize, ts_rs::TS, Debug, Clone, PartialEq)]
struct Player {
    name: String,
    shirt: Option<u8>,
}

#[derive(SseEvents)]
#[sse(rename_all = "snake_case")]
#[allow(dead_code)]
enum Shapes {
    /// Newtype: the inner type, declared once with what it uses.
    Lineup(Lineup),
    /// Unit: null.
    Kickoff,
    #[sse(rename = "half-time")]
    HalfTime {
        #[serde(rename = "min")]
        minute: u32,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        note: Option<String>,
        #[serde(skip)]
        internal: u8,
        #[sse(ts = "`${number}-${number}`")]
        score: String,
        spectators: u64,
        referee_name: String,
    },
    Stats(#[sse(ts = "Record<string, number>")] std::collections::HashMap<String, f64>),
}

#[test]
fn serde_and_sse_attributes_shape_the_types() {
    let ts = typescript::render::<Shapes>();
    let expected = [
        "export type Lineup = { teamName: string, players?: Array<Player>, };",
        "/**\n * A player on the sheet.\n */\nexport type Player = { name: string, shirt: number | null, };",
        "/** Newtype: the inner type, declared once with what it uses. */\nexport type LineupPayload = Lineup;",
        "/** Unit: null. */\nexport type KickoffPayload = null;",
        "export interface HalfTimePayload {\n  min: number;\n  note?: string | null;\n  score: `${number}-${number}`;\n  spectators: number;\n  referee_name: string;\n}",
        "export type StatsPayload = Record<string, number>;",
        "  \"half-time\": HalfTimePayload;",
        "  \"half-time\": [\"min\", \"score\", \"spectators\", \"referee_name\"],",
        "  \"kickoff\": null,",
        "export function onHalfTime(",
    ];
    for expected in expected {
        assert!(ts.contains(expected), "missing:\n{expected}\n\nin:\n{ts}");
    }
    assert!(
        !ts.contains("internal"),
        "skipped fields are not on the wire"
    );
    assert_eq!(
        ts.matches("export type Player =").count(),
        1,
        "declared once"
    );
}
