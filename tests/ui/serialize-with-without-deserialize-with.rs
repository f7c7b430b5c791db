use sse_manager::SseEvents;

fn as_text<S: serde::Serializer>(value: &u32, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&value.to_string())
}

#[derive(SseEvents)]
enum FootballEvents {
    ScoreUpdate {
        // Written as "3", read as a number: decoding would refuse what encoding wrote.
        #[serde(serialize_with = "as_text")]
        minute: u32,
    },
}

fn main() {}
