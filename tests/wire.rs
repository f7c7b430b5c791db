//! Frames are read back exactly by an independent WHATWG parser (`eventsource-stream`).

mod common;

use bytes::Bytes;
use common::*;
use eventsource_stream::{Event, Eventsource};
use futures_util::{FutureExt, StreamExt};
use proptest::prelude::*;
use sse_manager::{wire, SseEvents};
use std::convert::Infallible;

/// Parses bytes as a browser would.
fn parse(bytes: Bytes) -> Vec<Event> {
    let stream = futures_util::stream::iter([Ok::<_, Infallible>(bytes)]).eventsource();
    stream
        .map(Result::unwrap)
        .collect()
        .now_or_never()
        .expect("an in-memory stream is always ready")
}

/// What the parser returns for raw data: the format carries line breaks as `\n`.
fn normalized(data: &str) -> String {
    data.replace("\r\n", "\n").replace('\r', "\n")
}

const TRICKY: &[&str] = &[
    "",
    "\n",
    "a\nb",
    "a\r\nb",
    "a\rb",
    "\n\n\n",
    "trailing\n",
    "\r\n\r\n",
    " leading space",
    "data: injected",
    "event: open\ndata: x\n\nid: 999",
    ": comment",
    "ünïcödé ⚽ 🏏 \u{2028}\u{2029}",
    "\u{0}nul",
    "retry: 1",
];

#[test]
fn raw_data_round_trips_through_a_conformant_parser() {
    for data in TRICKY {
        let frame = wire::event(Some("7"), Some("x"), data).unwrap();
        let events = parse(frame);
        assert_eq!(events.len(), 1, "{data:?}");
        assert_eq!(events[0].data, normalized(data), "{data:?}");
        assert_eq!(
            (events[0].event.as_str(), events[0].id.as_str()),
            ("x", "7")
        );
    }
}

fn announcement_frame(message: &str) -> Bytes {
    let event = announcement(message);
    let mut data = Vec::new();
    event.write_data(&mut data).unwrap();
    wire::event(
        Some("1"),
        Some(event.name()),
        std::str::from_utf8(&data).unwrap(),
    )
    .unwrap()
}

proptest! {
    #[test]
    fn any_string_round_trips_as_raw_data(data in any::<String>()) {
        let events = parse(wire::event(Some("1"), Some("e"), &data).unwrap());
        prop_assert_eq!(events.len(), 1);
        prop_assert_eq!(&events[0].data, &normalized(&data));
    }

    #[test]
    fn any_string_round_trips_exactly_as_a_typed_payload(message in any::<String>()) {
        let events = parse(announcement_frame(&message));
        prop_assert_eq!(events.len(), 1);
        let decoded = FootballEvents::decode(&events[0].event, &events[0].data).unwrap();
        prop_assert_eq!(decoded, announcement(&message));
    }

    #[test]
    fn many_frames_in_one_chunk_stay_separate(messages in proptest::collection::vec(any::<String>(), 1..8)) {
        let mut all = Vec::new();
        for m in &messages {
            all.extend_from_slice(&announcement_frame(m));
        }
        let events = parse(Bytes::from(all));
        prop_assert_eq!(events.len(), messages.len());
        for (event, m) in events.iter().zip(&messages) {
            prop_assert_eq!(FootballEvents::decode(&event.event, &event.data).unwrap(), announcement(m));
        }
    }
}

#[tokio::test]
async fn tricky_payloads_arrive_exactly_over_http() {
    let app = spawn(builder()).await;
    let mut stream = open(&http(), &app.url("/football?room=w")).await;
    for data in TRICKY {
        app.football.to("w").emit(announcement(data)).await.unwrap();
    }
    let mut first_id = None;
    for (i, data) in TRICKY.iter().enumerate() {
        let event = stream.next().await;
        assert_eq!(event.event, "announcement");
        let id: sse_manager::EventId = event.id.parse().expect("every frame has an id of ours");
        let first = *first_id.get_or_insert(id);
        assert_eq!(
            (id.epoch(), id.offset()),
            (first.epoch(), first.offset() + i as u64)
        );
        let decoded = FootballEvents::decode(&event.event, &event.data).unwrap();
        assert_eq!(decoded, announcement(data));
    }
}

#[tokio::test]
async fn exact_frame_bytes_on_the_wire() {
    let app = spawn(builder()).await;
    let mut stream = open_raw(&http(), &app.url("/football?room=bytes")).await;
    stream.read_chunk(PATIENCE).await; // ": ok"
    let sent = app
        .football
        .to("bytes")
        .emit(FootballEvents::ScoreUpdate {
            r#match: "arsenal-vs-chelsea".into(),
            home_score: 2,
            away_score: 1,
            minute: 67,
        })
        .await
        .unwrap();
    let chunk = stream.read_chunk(PATIENCE).await.unwrap();
    assert_eq!(
        std::str::from_utf8(&chunk).unwrap(),
        format!(
            "id: {}\nevent: score_update\ndata: {{\"match\":\"arsenal-vs-chelsea\",\"homeScore\":2,\"awayScore\":1,\"minute\":67}}\n\n",
            sent.id
        )
    );
}
