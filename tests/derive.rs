//! What `#[derive(SseEvents)]` generates: names, constants, payload JSON, decoding, typed emitters.

// The sports events, and `builder()`: the one test that emits runs against the adapter under
// test too.
mod common;

use common::events::{self, CricketEvents, FootballEvents, Runs};
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

/// A number of seconds written as text (`"t1700000000"`), and read back: a `with` module as
/// users write them for timestamps.
mod stamp {
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(value: &u64, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format!("t{value}"))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.strip_prefix('t')
            .and_then(|seconds| seconds.parse().ok())
            .ok_or_else(|| D::Error::custom(format!("not a stamp: {text:?}")))
    }
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Weather {
    sky: String,
}

/// Every shape the derive honours, for the round-trip property below.
#[derive(SseEvents, Debug, Clone, PartialEq)]
#[sse(rename_all = "camelCase", emitter = "WideEmit")]
#[allow(non_camel_case_types)]
enum Wide {
    /// A raw identifier is the event `type`; raw field names lose their `r#` too.
    r#type {
        r#match: String,
        home_score: u32,
    },
    /// The variant's own spelling of its keys.
    #[sse(rename_all = "kebab-case", emitter = "emit_report")]
    Detailed {
        minute_played: u8,
        #[serde(skip_serializing_if = "Option::is_none")]
        note: Option<String>,
        #[serde(skip_serializing_if = "Vec::is_empty", default)]
        tags: Vec<String>,
        #[serde(with = "stamp", rename = "at")]
        recorded_at: u64,
        #[serde(alias = "oldName")]
        renamed_later: bool,
        #[serde(flatten)]
        weather: Weather,
    },
    /// A newtype written and read by its `with` functions.
    Stamped(#[serde(with = "stamp")] u64),
    Lineup(Lineup),
    Kickoff,
}

fn encode<E: SseEvents>(event: &E) -> String {
    data(event)
}

#[test]
fn raw_identifiers_renames_and_functions_on_the_wire() {
    assert_eq!(
        Wide::NAMES,
        ["type", "detailed", "stamped", "lineup", "kickoff"]
    );
    assert_eq!(Wide::TYPE, "type");
    let typed = Wide::r#type {
        r#match: "m".into(),
        home_score: 2,
    };
    assert_eq!(encode(&typed), r#"{"match":"m","homeScore":2}"#);
    let detailed = Wide::Detailed {
        minute_played: 90,
        note: None,
        tags: vec![],
        recorded_at: 1_700_000_000,
        renamed_later: true,
        weather: Weather { sky: "grey".into() },
    };
    assert_eq!(
        encode(&detailed),
        r#"{"minute-played":90,"at":"t1700000000","renamed-later":true,"sky":"grey"}"#
    );
    assert_eq!(encode(&Wide::Stamped(5)), r#""t5""#);
    assert_eq!(
        Wide::decode("stamped", r#""t5""#).unwrap(),
        Wide::Stamped(5)
    );
    let err = Wide::decode("stamped", "5").unwrap_err().to_string();
    assert!(
        err.starts_with(
            "invalid payload for event `stamped`: invalid type: integer `5`, expected a string"
        ),
        "{err}"
    );
    // `alias` is a second key decoding accepts, on purpose.
    let old = r#"{"minute-played":90,"at":"t1700000000","oldName":true,"sky":"grey"}"#;
    assert_eq!(Wide::decode("detailed", old).unwrap(), detailed);
}

#[tokio::test]
async fn renamed_emitter_trait_and_methods() {
    use WideEmit as _;
    let server = common::builder().build().unwrap();
    let wide = server.of::<Wide>("/wide").unwrap();
    let sent = wide.emit_type("m".into(), 1).await.unwrap();
    let report = wide
        .to("room")
        .emit_report(1, None, vec![], 2, false, Weather { sky: "blue".into() })
        .await
        .unwrap();
    assert_eq!(report.id, sent.id.next());
    wide.emit_stamped(3).await.unwrap();
    wide.emit_kickoff().await.unwrap();
}

mod property {
    use super::{encode, events, Lineup, Shapes, Weather, Wide};
    use events::{CricketEvents, FootballEvents, Runs};
    use proptest::prelude::*;
    use sse_manager::SseEvents;

    fn football() -> impl Strategy<Value = FootballEvents> {
        let text = any::<String>;
        prop_oneof![
            (text(), any::<u32>(), any::<u32>(), any::<u32>()).prop_map(|(m, h, a, minute)| {
                FootballEvents::ScoreUpdate {
                    r#match: m,
                    home_score: h,
                    away_score: a,
                    minute,
                }
            }),
            (text(), text(), text(), any::<u32>()).prop_map(|(m, player, team, minute)| {
                FootballEvents::RedCard {
                    r#match: m,
                    player,
                    team,
                    minute,
                }
            }),
            (text(), text()).prop_map(|(m, final_score)| FootballEvents::MatchEnd {
                r#match: m,
                final_score
            }),
            text().prop_map(|message| FootballEvents::Announcement { message }),
        ]
    }

    fn cricket() -> impl Strategy<Value = CricketEvents> {
        let text = any::<String>;
        prop_oneof![
            (text(), text(), text(), any::<u32>()).prop_map(|(m, player, team, total)| {
                CricketEvents::Wicket {
                    r#match: m,
                    player,
                    team,
                    total_wickets: total,
                }
            }),
            (text(), text(), any::<bool>()).prop_map(|(m, player, six)| {
                CricketEvents::Boundary {
                    r#match: m,
                    player,
                    runs: if six { Runs::Six } else { Runs::Four },
                }
            }),
            (text(), any::<u32>(), any::<u32>()).prop_map(|(m, overs, runs)| {
                CricketEvents::OverComplete {
                    r#match: m,
                    overs_played: overs,
                    runs_in_over: runs,
                }
            }),
        ]
    }

    fn lineup() -> impl Strategy<Value = Lineup> {
        (
            any::<String>(),
            prop::collection::vec(any::<String>(), 0..4),
        )
            .prop_map(|(team, players)| Lineup { team, players })
    }

    fn shapes() -> impl Strategy<Value = Shapes> {
        prop_oneof![
            lineup().prop_map(Shapes::Lineup),
            Just(Shapes::Kickoff),
            (any::<u32>(), any::<Option<String>>())
                .prop_map(|(minute, note)| Shapes::HalfTime { minute, note }),
        ]
    }

    fn wide() -> impl Strategy<Value = Wide> {
        let text = any::<String>;
        prop_oneof![
            (text(), any::<u32>()).prop_map(|(m, home_score)| Wide::r#type {
                r#match: m,
                home_score
            }),
            (
                any::<u8>(),
                any::<Option<String>>(),
                prop::collection::vec(text(), 0..3),
                any::<u64>(),
                any::<bool>(),
                text(),
            )
                .prop_map(
                    |(minute_played, note, tags, recorded_at, renamed_later, sky)| {
                        Wide::Detailed {
                            minute_played,
                            note,
                            tags,
                            recorded_at,
                            renamed_later,
                            weather: Weather { sky },
                        }
                    }
                ),
            any::<u64>().prop_map(Wide::Stamped),
            lineup().prop_map(Wide::Lineup),
            Just(Wide::Kickoff),
        ]
    }

    fn round_trips<E: SseEvents + PartialEq + std::fmt::Debug>(event: E) {
        let data = encode(&event);
        assert_eq!(E::decode(event.name(), &data).unwrap(), event, "{data}");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// `decode(name(x), encode(x)) == x` for every value of every test enum.
        #[test]
        fn decode_inverts_encode(
            football in football(),
            cricket in cricket(),
            shapes in shapes(),
            wide in wide(),
        ) {
            round_trips(football);
            round_trips(cricket);
            round_trips(shapes);
            round_trips(wide);
        }
    }
}

/// A struct variant's payload is a JSON object, nothing else: serde's struct visitor would also
/// read an array of the fields in order, which encoding never writes.
#[test]
fn struct_payloads_decode_from_objects_only() {
    let bodies = [
        r#"["hi"]"#,
        "[]",
        r#"["m", 1, 0, 9]"#,
        " \n\t[\"hi\"]",
        "1",
        "-2.5",
        r#""text""#,
        "true",
        "false",
        "null",
    ];
    let mut checked = 0;
    for (name, decode) in [
        (
            "announcement",
            decode_as::<FootballEvents> as fn(&str, &str) -> _,
        ),
        ("score_update", decode_as::<FootballEvents>),
        ("red_card", decode_as::<FootballEvents>),
        ("match_end", decode_as::<FootballEvents>),
        ("wicket", decode_as::<CricketEvents>),
        ("boundary", decode_as::<CricketEvents>),
        ("over_complete", decode_as::<CricketEvents>),
        ("half-time", decode_as::<Shapes>),
        ("type", decode_as::<Wide>),
        ("detailed", decode_as::<Wide>),
    ] {
        for body in bodies {
            match decode(name, body) {
                Err(DecodeError::InvalidPayload {
                    name: event,
                    reason,
                }) => {
                    assert_eq!(event, name);
                    let found = reason.rsplit("found ").next().unwrap_or_default();
                    assert_eq!(
                        reason,
                        format!(
                            "expected the payload of event `{name}`, a JSON object, found {found}"
                        )
                    );
                    assert!(
                        ["an array", "a number", "a string", "a boolean", "null"].contains(&found),
                        "{reason}"
                    );
                }
                other => panic!("{name} decoded from {body}: {other:?}"),
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 100);
}

fn decode_as<E: SseEvents + std::fmt::Debug>(
    name: &str,
    data: &str,
) -> Result<String, DecodeError> {
    E::decode(name, data).map(|event| format!("{event:?}"))
}
