use sse_manager::SseEvents;

#[derive(serde::Serialize, serde::Deserialize)]
struct Player {
    name: String,
}

#[derive(SseEvents)]
#[sse(typescript)]
enum FootballEvents {
    RedCard { player: Player, minute: u32 },
    Lineup(Vec<Player>),
    #[allow(dead_code)]
    Note(#[sse(ts = "string")] Player),
}

fn main() {}
