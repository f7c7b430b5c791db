use sse_manager::SseEvents;

#[derive(SseEvents)]
enum FootballEvents {
    ScoreUpdate { home_score: u32, away_score: u32 },
}

async fn report_score() {
    use FootballEventsEmitter as _;

    let football = sse_manager::SseServer::builder()
        .build()
        .unwrap()
        .of::<FootballEvents>("/football")
        .unwrap();
    football.emit_score_update("2", 1).await.unwrap();
}

fn main() {}
