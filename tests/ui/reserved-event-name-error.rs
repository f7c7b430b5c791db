use sse_manager::SseEvents;

#[derive(SseEvents)]
enum FootballEvents {
    #[sse(rename = "error")]
    Kickoff,
}

fn main() {}
