use sse_manager::SseEvents;

// `#[sse(typescript)]` needs sse-manager's `typescript` feature.
#[derive(SseEvents)]
#[sse(typescript)]
enum FootballEvents {
    Kickoff,
}

fn main() {}
