//! What `#[derive(SseEvents)]` generates: names, constants, payload JSON, decoding, typed emitters.

#[path = "../examples/sports/events.rs"]
mod events;

use events::{CricketEvents, FootballEvents, Runs};
use serde::{Deserialize, Serialize};
use sse_manager::{DecodeError, SseEvents};

fn data<E: SseEvents>(event: &E) -> String {
    let mut out = Vec::new();
    event.write_data(&mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn event_names_are_snake_case_variant_names() {
    assert_eq!(
        FootballEvents::NAMES,
        ["score_update", "red_card", "match_end", "announcement"]
    );
    assert_eq!(
        CricketEvents::NAMES,
        ["wicket", "boundary", "over_complete"]
    );
    assert_eq!(FootballEvents::SCORE_UPDATE, "score_update");
    assert_eq!(CricketEvents::OVER_COMPLETE, "over_complete");
    let red = FootballEvents::RedCard {
        r#match: "m".into(),
        player: "p".into(),
        team: "t".into(),
        minute: 3,
    };
    assert_eq!(red.name(), "red_card");
}

#[test]
fn payload_fields_follow_rename_all() {
    let score = FootballEvents::ScoreUpdate {
        r#match: "arsenal-vs-chelsea".into(),
        home_score: 2,
        away_score: 1,
        minute: 67,
    };
    assert_eq!(
        data(&score),
        r#"{"match":"arsenal-vs-chelsea","homeScore":2,"awayScore":1,"minute":67}"#
    );
    let six = CricketEvents::Boundary {
        r#match: "ind-vs-aus".into(),
        player: "Kohli".into(),
        runs: Runs::Six,
    };
    assert_eq!(
        data(&six),
        r#"{"match":"ind-vs-aus","player":"Kohli","runs":6}"#
    );
}

#[test]
fn decode_is_the_inverse_of_encode() {
    let events = [
        FootballEvents::ScoreUpdate {
            r#match: "a".into(),
            home_score: 1,
            away_score: 0,
            minute: 9,
        },
        FootballEvents::MatchEnd {
            r#match: "a".into(),
            final_score: "1-0".into(),
        },
        FootballEvents::Announcement {
            message: "line\nbreak ✓".into(),
        },
    ];
    for event in events {
        let decoded = FootballEvents::decode(event.name(), &data(&event)).unwrap();
        assert_eq!(decoded, event);
    }
}

#[test]
fn decode_refuses_what_the_types_refuse() {
    let unknown = CricketEvents::decode("goal", "{}").unwrap_err();
    assert_eq!(
        unknown.to_string(),
        "unknown event `goal`, expected one of: `wicket`, `boundary`, `over_complete`"
    );
    let five = CricketEvents::decode("boundary", r#"{"match":"m","player":"p","runs":5}"#);
    assert!(
        matches!(five, Err(DecodeError::InvalidPayload { ref name, .. }) if name == "boundary")
    );
    let missing = CricketEvents::decode("boundary", r#"{"match":"m","runs":4}"#).unwrap_err();
    assert!(
        missing.to_string().contains("missing field `player`"),
        "{missing}"
    );
    let snake = FootballEvents::decode("announcement", r#"{"message":"x","extra":1}"#).unwrap_err();
    assert!(
        snake.to_string().contains("unknown field `extra`"),
        "{snake}"
    );
    let wrong_type = FootballEvents::decode("match_end", r#"{"match":"m","finalScore":3}"#);
    assert!(wrong_type.is_err());
    assert!(FootballEvents::decode("announcement", "not json").is_err());
}

// `ts_rs::TS` too: with the `typescript` feature every payload type needs a TypeScript type.
#[derive(Serialize, Deserialize, ts_rs::TS, Debug, Clone, PartialEq)]
struct Lineup {
    #[serde(rename = "teamName")]
    team: String,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    players: Vec<String>,
}

#[derive(SseEvents, Debug, Clone, PartialEq)]
enum Shapes {
    /// Newtype: the inner type's serde attributes decide.
    Lineup(Lineup),
    /// Unit: `null`.
    Kickoff,
    /// Renamed event; serde field attributes on a struct variant keep working.
    #[sse(rename = "half-time")]
    HalfTime {
        #[serde(rename = "min")]
        minute: u32,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        note: Option<String>,
    },
}

#[test]
fn newtype_unit_and_renamed_variants() {
    assert_eq!(Shapes::NAMES, ["lineup", "kickoff", "half-time"]);
    assert_eq!(Shapes::HALF_TIME, "half-time");
    let lineup = Shapes::Lineup(Lineup {
        team: "Arsenal".into(),
        players: vec![],
    });
    assert_eq!(data(&lineup), r#"{"teamName":"Arsenal"}"#);
    assert_eq!(data(&Shapes::Kickoff), "null");
    let half = Shapes::HalfTime {
        minute: 45,
        note: None,
    };
    assert_eq!(data(&half), r#"{"min":45}"#);
    for event in [lineup, Shapes::Kickoff, half] {
        assert_eq!(Shapes::decode(event.name(), &data(&event)).unwrap(), event);
    }
    assert!(Shapes::decode("kickoff", "{}").is_err());
}

mod renamed_crate {
    // The runtime can be reached through another path with `#[sse(crate = "...")]`.
    use sse_manager as reexported;

    #[derive(reexported::SseEvents)]
    #[sse(crate = "reexported")]
    pub(crate) enum Ping {
        Ping,
    }

    #[test]
    fn crate_path_override() {
        use reexported::SseEvents;
        assert_eq!(Ping::NAMES, ["ping"]);
    }
}

#[derive(SseEvents, Debug, PartialEq)]
enum Odd {
    /// A field renamed to the word `flatten` must not switch off `deny_unknown_fields`.
    Tricky {
        #[serde(rename = "flatten")]
        value: u32,
    },
}

#[test]
fn unknown_fields_are_refused_whatever_the_field_names() {
    assert_eq!(
        Odd::decode("tricky", r#"{"flatten":1}"#).unwrap(),
        Odd::Tricky { value: 1 }
    );
    assert!(Odd::decode("tricky", r#"{"flatten":1,"extra":2}"#).is_err());
}

#[test]
fn decode_errors_speak_of_events_not_generated_types() {
    for (name, data) in [
        ("announcement", "null"),
        ("announcement", "[]"),
        ("announcement", "7"),
        ("score_update", r#"{"match":1}"#),
    ] {
        let err = FootballEvents::decode(name, data).unwrap_err().to_string();
        assert!(!err.contains("__Sse"), "{err}");
        assert!(err.contains(name), "{err}");
    }
    let err = FootballEvents::decode("announcement", "null")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("expected the payload of event `announcement`, a JSON object"),
        "{err}"
    );
}
