//! The same streams over HTTP/2 (h2c, prior knowledge).

mod common;

use common::*;

#[tokio::test]
async fn streams_work_over_http2() {
    let app = spawn(builder()).await;
    let h2 = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let response = h2.get(app.url("/football?room=h2")).send().await.unwrap();
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    assert_eq!(response.status(), 200);
    drop(response);

    // Two streams multiplexed on one HTTP/2 connection, each in its own room.
    let mut a = open(&h2, &app.url("/football?room=a")).await;
    let mut b = open(&h2, &app.url("/football?room=b")).await;
    app.football
        .to("a")
        .emit(announcement("to a"))
        .await
        .unwrap();
    app.football
        .to("b")
        .emit(announcement("to b"))
        .await
        .unwrap();
    assert_eq!(messages(&[a.next().await]), ["to a"]);
    assert_eq!(messages(&[b.next().await]), ["to b"]);

    // Dropping one stream resets it (RST_STREAM); the connection stays for the other, and the
    // dropped client leaves its room.
    drop(a);
    eventually("the reset stream's client to leave", || {
        app.football.room_size("a") == 0
    })
    .await;
    app.football
        .to("b")
        .emit(announcement("still here"))
        .await
        .unwrap();
    assert_eq!(messages(&[b.next().await]), ["still here"]);
}
