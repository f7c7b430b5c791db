use sse_manager::SseEvents;

#[derive(SseEvents)]
#[sse(rename_all = "camelcase")]
enum FootballEvents {
    ScoreUpdate { home_score: u32, away_score: u32 },
}

fn main() {}
