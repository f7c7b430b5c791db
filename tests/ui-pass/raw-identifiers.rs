//! A raw identifier is a real event name for many APIs: `r#type` is the event `type`, with the
//! constant `TYPE` and the emitter method `emit_type`.
use sse_manager::{SseEvents, SseServer};

#[derive(SseEvents, Debug, PartialEq)]
#[allow(non_camel_case_types)]
enum Api {
    r#type { r#match: String, r#type: u8 },
    r#loop,
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    assert_eq!(Api::NAMES, ["type", "loop"]);
    assert_eq!((Api::TYPE, Api::LOOP), ("type", "loop"));
    let event = Api::r#type {
        r#match: "m".into(),
        r#type: 1,
    };
    let mut data = Vec::new();
    event.write_data(&mut data).unwrap();
    let data = String::from_utf8(data).unwrap();
    assert_eq!(data, r#"{"match":"m","type":1}"#);
    assert_eq!(Api::decode(event.name(), &data).unwrap(), event);

    let server = SseServer::builder().build().unwrap();
    let api = server.of::<Api>("/api").unwrap();
    use ApiEmitter as _;
    api.emit_type("m".into(), 2).await.unwrap();
    api.emit_loop().await.unwrap();
}
