use sse_manager::SseEvents;

#[derive(SseEvents)]
enum FootballEvents {
    Lineup {
        team: String,
        // Left out when empty, then "missing field `players`" when decoded.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        players: Vec<String>,
    },
}

fn main() {}
