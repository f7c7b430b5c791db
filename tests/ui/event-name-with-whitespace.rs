use sse_manager::SseEvents;

#[derive(SseEvents)]
enum FootballEvents {
    #[sse(rename = "own goal")]
    OwnGoal { minute: u32 },
}

fn main() {}
