use sse_manager::SseEvents;

// `Self` is the enum, which `#[derive(SseEvents)]` does not make `Serialize`.
#[derive(SseEvents)]
enum Thread {
    Reply { text: String, replies: Vec<Self> },
}

fn main() {}
