use sse_manager::SseEvents;

// serde never serializes the event enum itself: this would change nothing on the wire.
#[derive(SseEvents)]
#[serde(rename_all = "camelCase")]
enum FootballEvents {
    ScoreUpdate { home_score: u32, away_score: u32 },
}

fn main() {}
