use sse_manager::SseEvents;

#[derive(SseEvents)]
enum FootballEvents {
    #[sse(rename = "")]
    Goal { minute: u32 },
}

fn main() {}
