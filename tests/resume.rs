//! `Last-Event-ID` resumption over real HTTP: exactly what was missed, in order, then live.

mod common;

use axum::extract::State;
use axum::routing::get;
use axum::Router;
use common::*;
use futures_util::future::join_all;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sse_manager::{ClientHandle, EventId, Handshake, Reject, SseStream};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// A client in room `r` receives one event and disconnects; returns that event's id.
async fn seen_then_gone(http: &reqwest::Client, app: &App) -> String {
    let mut first = open(http, &app.url("/football?room=r")).await;
    app.announce("r", "seen").await;
    let last = first.next().await.id;
    drop(first);
    eventually("the client to be gone", || app.football.client_count() == 0).await;
    last
}

#[tokio::test]
async fn a_reconnect_gets_exactly_the_five_it_missed_in_order_then_live() {
    let app = spawn(builder()).await;
    let http = http();
    let last = seen_then_gone(&http, &app).await;

    for i in 1..=5 {
        app.announce("r", &format!("missed {i}")).await;
        app.announce("other", "not for r").await;
    }
    let mut again = resume(&http, &app, "room=r", &last).await;
    app.announce("r", "live").await;
    let got = again.until("live").await;
    assert_eq!(
        messages(&got),
        ["missed 1", "missed 2", "missed 3", "missed 4", "missed 5", "live"]
    );
    let ids: Vec<EventId> = got.iter().map(|e| e.id.parse().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids ascend: {ids:?}");
    assert_eq!(app.football.stats().replayed, 5);
}

#[tokio::test]
async fn replay_covers_namespace_broadcasts_unions_and_excepts() {
    let app = spawn(builder()).await;
    let http = http();
    let mut first = open(&http, &app.url("/football?room=a&room=b")).await;
    app.football.emit(announcement("start")).await.unwrap();
    let last = first.next().await.id;
    drop(first);
    eventually("the client to be gone", || app.football.client_count() == 0).await;

    let football = &app.football;
    football.to("a").emit(announcement("to a")).await.unwrap();
    football.to("c").emit(announcement("to c")).await.unwrap();
    football
        .to(["a", "b"])
        .emit(announcement("to a+b, once"))
        .await
        .unwrap();
    football.emit(announcement("everyone")).await.unwrap();
    football
        .except("b")
        .emit(announcement("all but b"))
        .await
        .unwrap();
    football
        .to("a")
        .except("c")
        .emit(announcement("a but not c"))
        .await
        .unwrap();
    football.to("b").emit(announcement("to b")).await.unwrap();

    // The header is the browser's way; the query parameter is for clients that cannot set it.
    let mut again = open(
        &http,
        &app.url(&format!("/football?room=a&room=b&lastEventId={last}")),
    )
    .await;
    football.emit(announcement("end")).await.unwrap();
    assert_eq!(
        messages(&again.until("end").await),
        [
            "to a",
            "to a+b, once",
            "everyone",
            "a but not c",
            "to b",
            "end"
        ]
    );
}

#[tokio::test]
async fn an_id_older_than_the_window_gets_one_resync_then_live() {
    let app = spawn(builder().history(3, Duration::from_secs(60))).await;
    let http = http();
    let last = seen_then_gone(&http, &app).await;
    for i in 0..10 {
        app.announce("r", &format!("lost {i}")).await;
    }
    let mut again = resume(&http, &app, "room=r", &last).await;
    let resync = again.next().await;
    assert_eq!(resync.event, "sse:resync");
    assert_eq!(
        resync.data,
        format!(r#"{{"reason":"expired","lastEventId":"{last}"}}"#)
    );
    app.announce("r", "live").await;
    assert_eq!(messages(&[again.next().await]), ["live"]);
    assert_eq!(app.football.stats().resyncs, 1);
}

#[tokio::test]
async fn unknown_and_malformed_ids_get_one_resync_each() {
    let app = spawn(builder()).await;
    let http = http();
    let first = app
        .football
        .emit(announcement("one event so far"))
        .await
        .unwrap()
        .id;
    // Newer than any event this run has emitted, and an id of another run or instance.
    let future = EventId::new(first.epoch(), first.offset() + 1).to_string();
    let other_epoch = EventId::new(first.epoch() ^ 1, first.offset()).to_string();
    let number = first.offset().to_string();
    for (id, reason) in [
        (future.as_str(), "unknown"),
        (other_epoch.as_str(), "unknown"),
        (number.as_str(), "malformed"),
        ("12abc", "malformed"),
        ("1.5", "malformed"),
    ] {
        let mut stream = resume(&http, &app, "room=r", id).await;
        let resync = stream.next().await;
        assert_eq!(resync.event, "sse:resync");
        assert_eq!(
            resync.data,
            format!(r#"{{"reason":"{reason}","lastEventId":"{id}"}}"#)
        );
        app.announce("r", "live").await;
        assert_eq!(messages(&[stream.next().await]), ["live"]);
    }
}

#[tokio::test]
async fn without_history_a_gap_is_reported_and_no_gap_is_fine() {
    let app = spawn(builder().no_history()).await;
    let http = http();
    let last = seen_then_gone(&http, &app).await;

    // Nothing emitted since: resuming is exact.
    let mut same = resume(&http, &app, "room=r", &last).await;
    app.announce("r", "next").await;
    let next = same.next().await;
    assert_eq!(messages(std::slice::from_ref(&next)), ["next"]);
    drop(same);

    app.announce("r", "lost").await;
    let mut gap = resume(&http, &app, "room=r", &next.id).await;
    assert_eq!(gap.next().await.event, "sse:resync");
}

/// 10 clients reconnect 10 times each at random points while events are emitted concurrently:
/// every client ends with every event exactly once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_reconnects_racing_emits_lose_and_repeat_nothing() {
    const EVENTS: usize = 1500;
    const CLIENTS: usize = 10;
    const RECONNECTS: usize = 10;
    let app = spawn(builder().history(100_000, Duration::from_secs(600))).await;
    let http = http();

    // Everyone is connected (without an id) before the first event.
    let mut firsts = Vec::new();
    for _ in 0..CLIENTS {
        firsts.push(open(&http, &app.url("/football?room=race")).await);
    }
    let emitter = {
        let football = app.football.clone();
        tokio::spawn(async move {
            for seq in 0..EVENTS {
                football
                    .to("race")
                    .emit(announcement(&seq.to_string()))
                    .await
                    .unwrap();
                if seq % 10 == 0 {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
            football.to("race").emit(announcement("end")).await.unwrap();
        })
    };
    let clients = firsts.into_iter().enumerate().map(|(c, first)| {
        let http = http.clone();
        let app = app.clone();
        async move {
            let mut rng = StdRng::seed_from_u64(c as u64);
            let mut received: Vec<String> = Vec::new();
            let mut last_id = String::new();
            let mut stream = first;
            for _ in 0..RECONNECTS {
                for _ in 0..rng.random_range(1..120) {
                    let event = stream.next().await;
                    last_id = event.id.clone();
                    received.extend(messages(&[event]));
                }
                drop(stream);
                stream = resume(&http, &app, "room=race", &last_id).await;
            }
            loop {
                let event = stream.next().await;
                assert_ne!(
                    event.event, "sse:resync",
                    "client {c} fell out of the window"
                );
                let message = messages(&[event]).remove(0);
                if message == "end" {
                    break;
                }
                received.push(message);
            }
            received
        }
    });
    let results = join_all(clients).await;
    emitter.await.unwrap();
    let expected: Vec<String> = (0..EVENTS).map(|seq| seq.to_string()).collect();
    for (c, received) in results.into_iter().enumerate() {
        assert_eq!(
            received.len(),
            expected.len(),
            "client {c}: gaps or duplicates"
        );
        assert_eq!(received, expected, "client {c}");
    }
    assert!(
        app.football.stats().replayed > 0,
        "some reconnects had to replay"
    );
}

#[tokio::test]
async fn an_id_from_an_earlier_run_is_not_replayed_as_if_it_were_ours() {
    // The earlier run: one event seen, then the server is gone.
    let old = spawn(builder()).await;
    let http = http();
    let old_id = seen_then_gone(&http, &old).await;

    // A new run (here: another server) has emitted events of its own; the old id must not be
    // read as a position among them.
    let new = spawn(builder()).await;
    for i in 0..10 {
        new.football
            .to("r")
            .emit(announcement(&format!("new run {i}")))
            .await
            .unwrap();
    }
    let mut stream = resume(&http, &new, "room=r", &old_id).await;
    let first = stream.next().await;
    assert_eq!(first.event, "sse:resync", "got {:?} instead", first.data);
    assert!(first.data.contains(&format!(r#""lastEventId":"{old_id}""#)));
    new.football
        .to("r")
        .emit(announcement("live"))
        .await
        .unwrap();
    assert_eq!(messages(&[stream.next().await]), ["live"]);
}

#[tokio::test(flavor = "current_thread")]
async fn drop_oldest_clients_resume_from_history_too() {
    let app = spawn(
        builder()
            .client_queue(2)
            .slow_clients(sse_manager::SlowClientPolicy::DropOldest),
    )
    .await;
    let http = http();
    let last = seen_then_gone(&http, &app).await;
    // Missed while away, replayed from history on reconnect: nothing was lost.
    for i in 0..5 {
        app.announce("r", &format!("missed {i}")).await;
    }
    let mut again = resume(&http, &app, "room=r", &last).await;
    app.announce("r", "end").await;
    let got = again.until("end").await;
    assert!(got.iter().all(|e| e.event == "announcement"), "{got:?}");
    assert_eq!(
        messages(&got),
        ["missed 0", "missed 1", "missed 2", "missed 3", "missed 4", "end"]
    );
    assert_eq!(app.football.stats().lagged, 0);
}

/// `GET /football?room=..&tag=..` whose handler, like one that queries a database, awaits `gate`
/// between `connect` (and joining) and `into_stream`.
fn awaiting_router(gate: Arc<Notify>) -> impl FnOnce(&App) -> Router {
    move |app| {
        let handler = move |State(app): State<App>, hs: Handshake| async move {
            let client = connect_football(&app, hs).await?;
            gate.notified().await;
            Ok::<SseStream, Reject>(client.into_stream())
        };
        Router::new()
            .route("/football", get(handler))
            .with_state(app.clone())
    }
}

/// Starts a request to the awaiting router and waits until its client is connected (pending).
async fn connect_pending(
    app: &App,
    query: &str,
    last_event_id: Option<&str>,
) -> (
    tokio::task::JoinHandle<reqwest::Result<reqwest::Response>>,
    ClientHandle<FootballEvents>,
) {
    let mut request = http().get(app.url(&format!("/football?{query}&tag=pending")));
    if let Some(id) = last_event_id {
        request = request.header("last-event-id", id);
    }
    let response = tokio::spawn(request.send());
    eventually("the client to be connected", || {
        app.tagged.lock().unwrap().contains_key("pending")
    })
    .await;
    let handle = app.tagged.lock().unwrap()["pending"].clone();
    (response, handle)
}

async fn spawn_awaiting(builder: sse_manager::SseServerBuilder) -> (App, Arc<Notify>) {
    let gate = Arc::new(Notify::new());
    let server = builder.build().unwrap();
    (
        spawn_with(server, awaiting_router(gate.clone())).await,
        gate,
    )
}

#[tokio::test]
async fn a_handler_that_awaits_before_streaming_does_not_get_its_client_cut_off() {
    const QUEUE: usize = 4;
    let (app, gate) = spawn_awaiting(builder().client_queue(QUEUE)).await;
    let (response, handle) = connect_pending(&app, "room=r", None).await;
    for i in 0..QUEUE * 5 {
        let sent = app
            .football
            .to("r")
            .emit(announcement(&i.to_string()))
            .await
            .unwrap();
        assert_eq!(sent.delivered, 0, "nothing was handed to it yet");
    }
    assert!(handle.is_connected(), "not disconnected as slow");
    assert_eq!(app.football.stats().slow_disconnects, 0);
    assert_eq!(
        (app.football.client_count(), app.football.room_size("r")),
        (1, 1)
    );

    gate.notify_one();
    let mut stream = events_of(response.await.unwrap().unwrap());
    let live = app.football.to("r").emit(announcement("live")).await;
    assert_eq!(live.unwrap().delivered, 1);
    let got = stream.until("live").await;
    let expected: Vec<String> = (0..QUEUE * 5)
        .map(|i| i.to_string())
        .chain(["live".into()])
        .collect();
    assert_eq!(messages(&got), expected, "each once, in order, then live");
    let ids: Vec<EventId> = got.iter().map(|e| e.id.parse().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids ascend: {ids:?}");
    let stats = app.football.stats();
    assert_eq!(
        (stats.slow_disconnects, stats.replayed, stats.resyncs),
        (0, QUEUE as u64 * 5, 0)
    );
}

#[tokio::test]
async fn a_wait_longer_than_the_history_window_starts_with_one_resync() {
    let (app, gate) = spawn_awaiting(
        builder()
            .client_queue(4)
            .history(3, Duration::from_secs(60)),
    )
    .await;
    let (response, handle) = connect_pending(&app, "room=r", None).await;
    for i in 0..10 {
        app.announce("r", &i.to_string()).await;
    }
    gate.notify_one();
    let mut stream = events_of(response.await.unwrap().unwrap());
    let resync = stream.next().await;
    assert_eq!(resync.event, "sse:resync");
    assert_eq!(resync.data, r#"{"reason":"expired","lastEventId":null}"#);
    app.announce("r", "live").await;
    // What the window still holds, then live: no second resync, no silent gap.
    assert_eq!(
        messages(&stream.until("live").await),
        ["7", "8", "9", "live"]
    );
    assert!(handle.is_connected());
    let stats = app.football.stats();
    assert_eq!((stats.resyncs, stats.slow_disconnects), (1, 0));
}

#[tokio::test]
async fn direct_emits_while_pending_arrive_in_id_order_with_the_rest() {
    let (app, gate) = spawn_awaiting(builder().client_queue(4)).await;
    let (response, handle) = connect_pending(&app, "room=r", None).await;
    let to = |room: &'static str| app.football.to(room);
    let mut sent = Vec::new();
    sent.push(to("r").emit(announcement("room 1")).await);
    sent.push(handle.emit(announcement("just you 1")).await);
    to("other").emit(announcement("not yours")).await.unwrap();
    sent.push(to("r").emit(announcement("room 2")).await);
    sent.push(handle.emit(announcement("just you 2")).await);
    sent.push(app.football.emit(announcement("everyone")).await);
    let ids: Vec<EventId> = sent.into_iter().map(|sent| sent.unwrap().id).collect();

    gate.notify_one();
    let mut stream = events_of(response.await.unwrap().unwrap());
    handle.emit(announcement("live")).await.unwrap();
    let got = stream.until("live").await;
    assert_eq!(
        messages(&got),
        [
            "room 1",
            "just you 1",
            "room 2",
            "just you 2",
            "everyone",
            "live"
        ]
    );
    let got_ids: Vec<EventId> = got[..5].iter().map(|e| e.id.parse().unwrap()).collect();
    assert_eq!(got_ids, ids);
}

#[tokio::test]
async fn while_pending_a_reconnect_gets_what_it_missed_before_and_during_the_wait() {
    let (app, gate) = spawn_awaiting(builder()).await;
    let seen = app
        .football
        .to("r")
        .emit(announcement("seen"))
        .await
        .unwrap()
        .id;
    app.announce("r", "while away").await;
    let (response, _) = connect_pending(&app, "room=r", Some(&seen.to_string())).await;
    app.announce("r", "while waiting").await;
    gate.notify_one();
    let mut stream = events_of(response.await.unwrap().unwrap());
    app.announce("r", "live").await;
    assert_eq!(
        messages(&stream.until("live").await),
        ["while away", "while waiting", "live"]
    );
}

#[tokio::test]
async fn while_pending_an_id_that_cannot_be_honoured_gets_one_resync_then_the_wait() {
    let (app, gate) = spawn_awaiting(builder()).await;
    let (response, _) = connect_pending(&app, "room=r", Some("12abc")).await;
    app.announce("r", "while waiting").await;
    gate.notify_one();
    let mut stream = events_of(response.await.unwrap().unwrap());
    let resync = stream.next().await;
    assert_eq!(resync.event, "sse:resync");
    assert_eq!(
        resync.data,
        r#"{"reason":"malformed","lastEventId":"12abc"}"#
    );
    app.announce("r", "live").await;
    assert_eq!(
        messages(&stream.until("live").await),
        ["while waiting", "live"]
    );
    assert_eq!(app.football.stats().resyncs, 1);
}

/// More than a few pages of history (a page is at most 256 frames), with frames sent to the
/// client alone in between: all of it once, in id order, then live.
#[tokio::test]
async fn a_catch_up_of_many_pages_merges_direct_frames_in_id_order() {
    let builder = builder()
        .client_queue(16)
        .history(2_000, Duration::from_secs(60));
    let (app, gate) = spawn_awaiting(builder).await;
    let (response, handle) = connect_pending(&app, "room=r", None).await;
    let mut expected = Vec::new();
    for i in 0..900 {
        let message = format!("room {i}");
        app.announce("r", &message).await;
        expected.push(message);
        app.announce("other", "not yours").await;
        // Direct frames wait in the queue of 16 (history does not keep them).
        if i % 100 == 99 {
            let message = format!("just you {i}");
            handle.emit(announcement(&message)).await.unwrap();
            expected.push(message);
        }
    }
    gate.notify_one();
    let mut stream = events_of(response.await.unwrap().unwrap());
    app.announce("r", "live").await;
    expected.push("live".into());
    let got = stream.until("live").await;
    assert_eq!(messages(&got), expected);
    let ids: Vec<EventId> = got.iter().map(|e| e.id.parse().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids ascend");
    let stats = app.football.stats();
    assert_eq!(
        (stats.replayed, stats.resyncs, stats.slow_disconnects),
        (900, 0, 0)
    );
}
