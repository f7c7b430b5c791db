use sse_manager::SseEvents;

#[derive(SseEvents)]
enum Audit {
    // `emit_event` is the method every typed emitter is built on.
    Event { action: String },
}

fn main() {}
