use sse_manager::SseEvents;

#[derive(SseEvents)]
enum FootballEvents {
    ScoreUpdate(u32, u32),
    Kickoff,
}

fn main() {}
