use sse_manager::SseEvents;

#[derive(SseEvents)]
#[sse(rename_all = "camel")]
enum FootballEvents {
    #[sse(rename = "red card")]
    RedCard {
        player: String,
    },
    ScoreUpdate(u32, u32),
    Kickoff,
}

fn main() {}
