use sse_manager::SseEvents;

#[derive(serde::Deserialize)]
struct Player {
    name: String,
    number: u8,
}

#[derive(SseEvents)]
enum FootballEvents {
    RedCard { player: Player, minute: u32 },
    Kickoff,
}

fn main() {}
