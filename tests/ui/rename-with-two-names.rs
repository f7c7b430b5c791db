use sse_manager::SseEvents;

#[derive(SseEvents)]
enum FootballEvents {
    ScoreUpdate {
        // Written as `home`, read as `homeScore`: an event would not decode its own JSON.
        #[serde(rename(serialize = "home", deserialize = "homeScore"))]
        home_score: u32,
    },
}

fn main() {}
