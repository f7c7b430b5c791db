use sse_manager::SseEvents;

#[derive(SseEvents)]
enum FootballEvents {
    // Does not rename the event: that is `#[sse(rename = "goal")]`.
    #[serde(rename = "goal")]
    ScoreUpdate { home: u32, away: u32 },
    // An event set cannot leave an event out.
    #[serde(skip)]
    Internal { note: String },
}

fn main() {}
