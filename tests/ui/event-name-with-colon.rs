use sse_manager::SseEvents;

#[derive(SseEvents)]
enum FootballEvents {
    #[sse(rename = "football:goal")]
    Goal { minute: u32 },
}

fn main() {}
