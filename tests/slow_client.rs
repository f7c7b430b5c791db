//! One client stops reading while a hundred others read: the others get everything, the slow one
//! is disconnected, and the server's memory stays bounded. Alone in its binary so the memory
//! measurement sees no other test.

mod common;

use common::*;
use futures_util::future::join_all;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_reader_is_cut_off_and_memory_stays_bounded() {
    const READERS: usize = 100;
    const SMALL: usize = 1_000;
    const BIG: usize = 3_000;
    const BIG_SIZE: usize = 64 * 1024; // 3,000 × 64 KiB ≈ 188 MiB sent to the stalled reader
                                       // History keeps the last 100 frames (6 MiB of big ones); it is bounded too, but measured here
                                       // is what a stalled reader costs.
    let app = spawn(
        builder()
            .client_queue(64)
            .history(100, std::time::Duration::from_secs(60)),
    )
    .await;
    let http = http();

    let mut readers = Vec::new();
    for _ in 0..READERS {
        readers.push(open(&http, &app.url("/football?room=all")).await);
    }
    // Connected, in both rooms, and never read.
    let stalled = http
        .get(app.url("/football?room=all&room=firehose&tag=stalled"))
        .send()
        .await
        .unwrap();
    let stalled_handle = app.tagged.lock().unwrap()["stalled"].clone();
    let before = rss();

    let readers = tokio::spawn(async move {
        join_all(
            readers
                .into_iter()
                // The emit loop below keeps a core busy: be patient with each event.
                .map(|mut reader| async move {
                    messages(&reader.until_within("end", Duration::from_secs(60)).await)
                }),
        )
        .await
    });
    let big = "x".repeat(BIG_SIZE);
    let mut peak = before;
    for i in 0..BIG.max(SMALL) {
        if i < SMALL {
            app.football
                .to("all")
                .emit(announcement(&i.to_string()))
                .await
                .unwrap();
        }
        if i < BIG {
            app.football
                .to("firehose")
                .emit(announcement(&big))
                .await
                .unwrap();
        }
        if i % 10 == 0 {
            peak = peak.max(rss());
            tokio::task::yield_now().await;
        }
    }
    // The readers are all still connected; the stalled one is not, although its TCP
    // connection is still open: its slot is free.
    assert_eq!(app.server.connection_count(), READERS);
    app.football
        .to("all")
        .emit(announcement("end"))
        .await
        .unwrap();
    let received = readers.await.unwrap();
    peak = peak.max(rss());

    let expected: Vec<String> = (0..SMALL)
        .map(|i| i.to_string())
        .chain(["end".into()])
        .collect();
    for (r, got) in received.iter().enumerate() {
        assert_eq!(got, &expected, "reader {r} missed or repeated events");
    }
    assert!(
        !stalled_handle.is_connected(),
        "the stalled reader was disconnected"
    );
    assert_eq!(app.football.stats().slow_disconnects, 1);

    let growth = peak.saturating_sub(before);
    println!(
        "rss before {} MiB, peak {} MiB, growth {} MiB for {} MiB sent to a stalled reader",
        before >> 20,
        peak >> 20,
        growth >> 20,
        (BIG * BIG_SIZE) >> 20
    );
    // Unbounded buffering would grow by about the 188 MiB the stalled reader was sent; the queue
    // (64 frames) and the socket buffers bound it far below that.
    assert!(growth < 48 << 20, "memory grew by {} MiB", growth >> 20);
    drop(stalled);
}
