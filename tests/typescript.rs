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
        &typescript::render::<FootballEvents>().unwrap(),
        "examples/sports/page/ts/FootballEvents.ts",
    );
    assert_matches_file(
        &typescript::render::<CricketEvents>().unwrap(),
        "examples/sports/page/ts/CricketEvents.ts",
    );
}

#[test]
fn football_payloads_follow_the_wire() {
    let ts = typescript::render::<FootballEvents>().unwrap();
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
    let ts = typescript::render::<CricketEvents>().unwrap();
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
#[sse(typescript)]
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
    let ts = typescript::render::<Shapes>().unwrap();
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

mod collisions {
    use serde::{Deserialize, Serialize};
    use sse_manager::{typescript, SseEvents};

    #[derive(SseEvents)]
    #[sse(typescript)]
    #[allow(dead_code)]
    pub(crate) enum Event {
        Ping,
    }

    #[derive(SseEvents)]
    #[sse(typescript)]
    #[allow(dead_code)]
    pub(crate) enum Library {
        /// Its `onSseResync` would be the library's.
        SseResync,
    }

    #[derive(Serialize, Deserialize, ts_rs::TS)]
    pub(crate) struct ScoreUpdatePayload {
        pub(crate) home: u32,
    }

    /// A newtype named after its payload type is the common pattern: no alias, no duplicate.
    #[derive(SseEvents)]
    #[sse(typescript)]
    #[allow(dead_code)]
    pub(crate) enum Named {
        ScoreUpdate(ScoreUpdatePayload),
    }

    #[test]
    fn generated_names_never_clash() {
        let err = typescript::render::<Event>().unwrap_err().to_string();
        assert_eq!(
            err,
            "`Event`: the TypeScript name `EventSource` would be a browser global; rename the enum, the variant or the payload type"
        );
        let err = typescript::render::<Library>().unwrap_err().to_string();
        assert!(
            err.contains("`SseResyncPayload` would be declared twice"),
            "{err}"
        );
        let ts = typescript::render::<Named>().unwrap();
        assert_eq!(ts.matches("ScoreUpdatePayload =").count(), 1, "{ts}");
        assert!(ts.contains("\"score_update\": ScoreUpdatePayload;"));
    }
}

/// A number written as text, and read back.
mod as_text {
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(value: &u32, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&value.to_string())
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(D::Error::custom)
    }
}

#[derive(Serialize, Deserialize, ts_rs::TS, Debug, Clone, PartialEq)]
struct Extra {
    weather: String,
}

#[derive(SseEvents)]
#[sse(typescript)]
#[sse(rename_all = "camelCase")]
#[allow(dead_code)]
enum Tricky {
    Odd {
        /// Written as a string by a function: typed `unknown` unless told.
        #[serde(with = "as_text")]
        count: u32,
        #[serde(with = "as_text")]
        #[sse(ts = "string")]
        told: u32,
        #[serde(rename = "outName")]
        renamed: bool,
        #[serde(skip_serializing, default)]
        hidden: u8,
        #[serde(flatten)]
        extra: Option<Extra>,
        #[serde(rename = "needs-quotes")]
        dashed: u8,
    },
    Empty {},
}

#[test]
fn fields_written_by_functions_renamed_or_flattened() {
    let ts = typescript::render::<Tricky>().unwrap();
    let expected = "export type OddPayload = {\n  count: unknown;\n  told: string;\n  outName: boolean;\n  \"needs-quotes\": number;\n} & Partial<Extra>;";
    assert!(ts.contains(expected), "missing:\n{expected}\n\nin:\n{ts}");
    assert!(ts.contains("export interface EmptyPayload {}"), "{ts}");
    assert!(!ts.contains("hidden"));
}

/// The keys a payload is written with are the keys its TypeScript type declares: required keys
/// always present, optional ones allowed.
#[test]
fn typescript_keys_are_the_keys_on_the_wire() {
    let ts = typescript::render::<Tricky>().unwrap();
    let odd = |extra: Option<Extra>| Tricky::Odd {
        count: 5,
        told: 6,
        renamed: true,
        hidden: 1,
        extra,
        dashed: 2,
    };
    for event in [
        odd(None),
        odd(Some(Extra {
            weather: "rain".into(),
        })),
    ] {
        let mut data = Vec::new();
        event.write_data(&mut data).unwrap();
        let json: serde_json::Value = serde_json::from_slice(&data).unwrap();
        let mut keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        let mut declared = vec!["count", "needs-quotes", "outName", "told"];
        if keys.contains(&"weather") {
            declared.push("weather"); // from Partial<Extra>
        }
        declared.sort_unstable();
        assert_eq!(keys, declared, "{json}");
        assert_eq!(json["count"], "5", "written as text, typed unknown");
    }
    assert!(
        ts.contains("  \"odd\": [\"count\", \"told\", \"outName\", \"needs-quotes\"],"),
        "{ts}"
    );
}

/// Every module above goes to the real `tsc --strict` too (e2e/typecheck.mjs compiles what this
/// writes to target/tmp/typescript-check).
#[test]
fn modules_for_the_compiler() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("typescript-check");
    let _ = std::fs::remove_dir_all(&dir);
    typescript::export::<Shapes>(&dir).unwrap();
    typescript::export::<Tricky>(&dir).unwrap();
    typescript::export::<collisions::Named>(&dir).unwrap();
    typescript::export::<Raw>(&dir).unwrap();
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 4);
}

/// A raw identifier loses its `r#` in TypeScript as on the wire.
#[derive(SseEvents)]
#[sse(typescript)]
#[allow(dead_code, non_camel_case_types)]
enum Raw {
    r#type { r#match: String },
}

#[test]
fn raw_identifiers_are_plain_names_in_typescript() {
    let ts = typescript::render::<Raw>().unwrap();
    assert!(
        ts.contains("export interface typePayload {\n  match: string;\n}"),
        "{ts}"
    );
    assert!(ts.contains("  \"type\": typePayload;"), "{ts}");
    assert!(ts.contains("export function ontype("), "{ts}");
    assert!(!ts.contains("r#"), "{ts}");
}
