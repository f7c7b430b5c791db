use sse_manager::SseEvents;

#[derive(SseEvents)]
enum FootballEvents {}

fn main() {}
