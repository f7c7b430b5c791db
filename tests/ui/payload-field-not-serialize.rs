use sse_manager::SseEvents;

#[derive(serde::Deserialize, ts_rs::TS)]
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
