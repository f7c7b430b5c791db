//! Cargo features are additive: this compiles with and without sse-manager's `typescript`
//! feature, although `Player` has no `ts_rs::TS`, because the enum does not ask for TypeScript
//! (`#[sse(typescript)]`).
use serde::{Deserialize, Serialize};
use sse_manager::SseEvents;

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Player {
    name: String,
}

#[derive(SseEvents, Debug, PartialEq)]
enum FootballEvents {
    RedCard { player: Player, minute: u32 },
    Lineup(Vec<Player>),
}

fn main() {
    let event = FootballEvents::Lineup(vec![Player { name: "Saka".into() }]);
    let mut data = Vec::new();
    event.write_data(&mut data).unwrap();
    assert_eq!(data, br#"[{"name":"Saka"}]"#);
    let red = FootballEvents::decode("red_card", r#"{"player":{"name":"X"},"minute":3}"#);
    assert!(red.is_ok());
}
