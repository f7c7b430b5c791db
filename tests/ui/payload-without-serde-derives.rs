use sse_manager::SseEvents;

#[derive(ts_rs::TS)]
struct Lineup {
    team: String,
    players: Vec<String>,
}

#[derive(SseEvents)]
enum FootballEvents {
    Lineup(Lineup),
    Kickoff,
}

fn main() {}
