use sse_manager::SseEvents;

#[derive(SseEvents)]
#[allow(non_camel_case_types)]
enum Api {
    // The event `type` ...
    r#type { value: String },
    // ... renamed away from it, but still `emit_type` and `Api::TYPE`.
    #[sse(rename = "kind")]
    Type { value: String },
}

fn main() {}
