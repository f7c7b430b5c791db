use sse_manager::SseEvents;

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
