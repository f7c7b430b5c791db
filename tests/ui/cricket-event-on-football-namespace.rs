use sse_manager::SseEvents;

#[derive(SseEvents)]
enum FootballEvents {
    ScoreUpdate { home_score: u32, away_score: u32 },
}

#[derive(SseEvents)]
enum CricketEvents {
    Wicket { player: String, total_wickets: u32 },
}

async fn report_wicket() {
    let football = sse_manager::SseServer::builder()
        .build()
        .unwrap()
        .of::<FootballEvents>("/football")
        .unwrap();
    football
        .emit(CricketEvents::Wicket {
            player: "Kohli".into(),
            total_wickets: 3,
        })
        .await
        .unwrap();
}

fn main() {}
