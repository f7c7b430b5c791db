use sse_manager::SseEvents;

#[derive(SseEvents)]
#[sse(rename_all = "camelCase")]
enum FootballEvents {
    ScoreUpdate {
        home_score: u32,
        #[serde(rename = "homeScore")]
        home: u32,
    },
}

fn main() {}
