use sse_manager::SseEvents;

#[derive(SseEvents)]
enum Events<T> {
    Update(T),
    Kickoff,
}

fn main() {}
