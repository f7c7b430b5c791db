use sse_manager::SseEvents;

#[derive(SseEvents)]
enum FootballEvents {
    // `goal` would be shadowed by, or shadow, a method of `Namespace` or `ClientHandle` one day.
    #[sse(emitter = "goal")]
    ScoreUpdate { home: u32, away: u32 },
}

fn main() {}
