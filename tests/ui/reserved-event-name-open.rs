use sse_manager::SseEvents;

#[derive(SseEvents)]
enum FootballEvents {
    #[sse(rename = "open")]
    Kickoff,
}

fn main() {}
