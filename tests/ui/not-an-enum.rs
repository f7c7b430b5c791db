use sse_manager::SseEvents;

#[derive(SseEvents)]
struct ScoreUpdate {
    home_score: u32,
    away_score: u32,
}

fn main() {}
