use sse_manager::SseEvents;

#[derive(SseEvents)]
enum FootballEvents {
    #[sse(rename = "message")]
    Kickoff,
}

fn main() {}
