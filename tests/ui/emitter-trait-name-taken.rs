use sse_manager::SseEvents;

// A user item already has the emitter trait's default name; `#[sse(emitter = "...")]` picks another.
struct FootballEventsEmitter;

#[derive(SseEvents)]
enum FootballEvents {
    Kickoff,
}

fn main() {}
