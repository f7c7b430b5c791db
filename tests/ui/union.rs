use sse_manager::SseEvents;

#[derive(SseEvents)]
union Score {
    home: u32,
    away: u32,
}

fn main() {}
