use sse_manager::SseEvents;

#[derive(SseEvents)]
enum FootballEvents {
    #[sse(rename = "goal")]
    #[sse(rename = "score")]
    Goal { minute: u32 },
}

fn main() {}
