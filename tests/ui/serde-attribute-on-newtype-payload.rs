use serde::{Deserialize, Serialize};
use sse_manager::SseEvents;

#[derive(Serialize, Deserialize)]
struct Lineup {
    players: Vec<String>,
}

#[derive(SseEvents)]
enum FootballEvents {
    // The payload is the lineup itself: there is no key to rename.
    Lineup(#[serde(rename = "lineup")] Lineup),
}

fn main() {}
