use sse_manager::SseEvents;

#[derive(SseEvents)]
enum FootballEvents {
    Goal {
        minute: u32,
    },
    #[sse(rename = "goal")]
    OwnGoal {
        minute: u32,
    },
}

fn main() {}
