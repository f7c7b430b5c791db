use sse_manager::SseEvents;

#[derive(SseEvents)]
enum FootballEvents {
    ScoreUpdate { home_score: u32, away_score: u32 },
}

fn main() {
    let _ = FootballEvents::ScoreUpdate {
        home_score: "two",
        away_score: 1,
    };
}
