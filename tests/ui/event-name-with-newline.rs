use sse_manager::SseEvents;

#[derive(SseEvents)]
enum FootballEvents {
    #[sse(rename = "goal\nevent: red_card")]
    Goal { minute: u32 },
}

fn main() {}
