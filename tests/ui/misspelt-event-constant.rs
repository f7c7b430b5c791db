use sse_manager::SseEvents;

#[derive(SseEvents)]
enum FootballEvents {
    ScoreUpdate { home_score: u32, away_score: u32 },
    RedCard { player: String },
}

fn main() {
    let _ = FootballEvents::SCORE_UPDAT;
}
