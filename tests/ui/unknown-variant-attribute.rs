use sse_manager::SseEvents;

#[derive(SseEvents)]
enum FootballEvents {
    #[sse(name = "goal")]
    Goal { minute: u32 },
}

fn main() {}
