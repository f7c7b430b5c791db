use sse_manager::SseEvents;

#[derive(SseEvents)]
enum FootballEvents {
    Announcement { message: &'static str },
    Kickoff,
}

fn main() {}
