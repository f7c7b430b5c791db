use sse_manager::SseEvents;

#[derive(SseEvents)]
enum FootballEvents {
    ScoreUpdate {
        #[sse(rename = "home")]
        home_score: u32,
        away_score: u32,
    },
}

fn main() {}
