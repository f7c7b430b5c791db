//! `Self` in a payload means the enum, as in serde's derive.
use serde::{Deserialize, Serialize};
use sse_manager::{SseEvents, SseServer};

#[derive(SseEvents, Serialize, Deserialize, Debug, Clone, PartialEq)]
enum Thread {
    Reply { text: String, replies: Vec<Self> },
    Quote(Box<Self>),
    Closed,
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let event = Thread::Reply {
        text: "first".into(),
        replies: vec![Thread::Quote(Box::new(Thread::Closed))],
    };
    let mut data = Vec::new();
    event.write_data(&mut data).unwrap();
    let data = String::from_utf8(data).unwrap();
    // The nested values are the enum's own serde form (`#[derive(Serialize)]` above).
    assert_eq!(data, r#"{"text":"first","replies":[{"Quote":"Closed"}]}"#);
    assert_eq!(Thread::decode("reply", &data).unwrap(), event);

    let server = SseServer::builder().build().unwrap();
    let threads = server.of::<Thread>("/threads").unwrap();
    use ThreadEmitter as _;
    threads.emit_reply("hi".into(), vec![Thread::Closed]).await.unwrap();
    threads.emit_quote(Box::new(Thread::Closed)).await.unwrap();
}
