use sse_manager::SseEvents;

#[derive(SseEvents)]
#[sse(rename_all = "camelCase", tag = "type")]
enum FootballEvents {
    ScoreUpdate { home_score: u32, away_score: u32 },
}

fn main() {}
