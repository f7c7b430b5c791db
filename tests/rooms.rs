//! Rooms over real HTTP: who receives what.

mod common;

use common::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sse_manager::EventId;
use std::collections::{BTreeSet, HashMap};

#[tokio::test]
async fn a_client_in_room_x_never_sees_room_y() {
    let app = spawn(builder()).await;
    let http = http();
    let mut x = open(&http, &app.url("/football?room=x")).await;
    let mut y = open(&http, &app.url("/football?room=y")).await;

    app.football
        .to("y")
        .emit(announcement("for y"))
        .await
        .unwrap();
    app.football
        .to("x")
        .emit(announcement("for x"))
        .await
        .unwrap();
    app.football.emit(announcement("end")).await.unwrap();

    assert_eq!(messages(&x.until("end").await), ["for x", "end"]);
    assert_eq!(messages(&y.until("end").await), ["for y", "end"]);
}

#[tokio::test]
async fn a_client_in_two_selected_rooms_gets_the_event_once() {
    let app = spawn(builder()).await;
    let http = http();
    let mut both = open(&http, &app.url("/football?room=a&room=b")).await;
    let mut only_b = open(&http, &app.url("/football?room=b")).await;

    let sent = app
        .football
        .to("a")
        .to(["b", "a"])
        .emit(announcement("union"))
        .await
        .unwrap();
    assert_eq!(sent.delivered, 2);
    app.football.emit(announcement("end")).await.unwrap();

    assert_eq!(messages(&both.until("end").await), ["union", "end"]);
    assert_eq!(messages(&only_b.until("end").await), ["union", "end"]);
}

#[tokio::test]
async fn except_skips_members_even_of_selected_rooms() {
    let app = spawn(builder()).await;
    let http = http();
    let mut a = open(&http, &app.url("/football?room=a")).await;
    let mut a_muted = open(&http, &app.url("/football?room=a&room=muted")).await;
    let mut other = open(&http, &app.url("/football?room=z")).await;

    let sent = app
        .football
        .to("a")
        .except("muted")
        .emit(announcement("to a"))
        .await
        .unwrap();
    assert_eq!(sent.delivered, 1);
    let sent = app
        .football
        .except("a")
        .emit(announcement("all but a"))
        .await
        .unwrap();
    assert_eq!(sent.delivered, 1);
    app.football.emit(announcement("end")).await.unwrap();

    assert_eq!(messages(&a.until("end").await), ["to a", "end"]);
    assert_eq!(messages(&a_muted.until("end").await), ["end"]);
    assert_eq!(messages(&other.until("end").await), ["all but a", "end"]);
}

#[tokio::test]
async fn namespaces_are_isolated_with_both_live() {
    let app = spawn(builder()).await;
    let http = http();
    // The same room name in both namespaces.
    let mut football = open(&http, &app.url("/football?room=final")).await;
    let mut cricket = open(&http, &app.url("/cricket/final")).await;

    app.cricket
        .to("final")
        .emit(CricketEvents::Boundary {
            r#match: "final".into(),
            player: "Root".into(),
            runs: Runs::Four,
        })
        .await
        .unwrap();
    app.football
        .to("final")
        .emit(announcement("kick-off"))
        .await
        .unwrap();
    app.cricket
        .emit(CricketEvents::OverComplete {
            r#match: "final".into(),
            overs_played: 1,
            runs_in_over: 7,
        })
        .await
        .unwrap();
    app.football.emit(announcement("end")).await.unwrap();

    assert_eq!(messages(&football.until("end").await), ["kick-off", "end"]);
    let first = cricket.next().await;
    assert_eq!(first.event, "boundary");
    assert_eq!(first.data, r#"{"match":"final","player":"Root","runs":4}"#);
    let second = cricket.next().await;
    assert_eq!(second.event, "over_complete");
    // Ids count per namespace.
    let (first_id, second_id): (EventId, EventId) =
        (first.id.parse().unwrap(), second.id.parse().unwrap());
    assert_eq!(second_id, first_id.next(), "ids count per namespace");
    assert!(cricket
        .try_next(std::time::Duration::from_millis(200))
        .await
        .is_none());
}

/// Joins, leaves and emits in random order over 24 rooms and 120 clients, checked against a model
/// of who is in which room.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_joins_leaves_and_emits_match_the_model() {
    const CLIENTS: usize = 120;
    const ROOMS: usize = 24;
    const OPS: usize = 400;
    let app = spawn(builder().client_queue(1024)).await;
    let http = http();
    let mut rng = StdRng::seed_from_u64(0x5EED);
    let room = |i: usize| format!("room-{i}");

    // Model: client -> rooms; expected messages per client.
    let mut member_of: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); CLIENTS];
    let mut expected: Vec<Vec<String>> = vec![Vec::new(); CLIENTS];
    let mut streams = Vec::with_capacity(CLIENTS);
    for (c, rooms) in member_of.iter_mut().enumerate() {
        let initial: BTreeSet<usize> = (0..rng.random_range(0..3))
            .map(|_| rng.random_range(0..ROOMS))
            .collect();
        let query: String = initial
            .iter()
            .map(|r| format!("&room={}", room(*r)))
            .collect();
        streams.push(open(&http, &app.url(&format!("/football?tag={c}{query}"))).await);
        *rooms = initial;
    }
    let handles = app.tagged.lock().unwrap().clone();
    let handle = |c: usize| handles[&c.to_string()].clone();

    for op in 0..OPS {
        match rng.random_range(0..10) {
            0..=2 => {
                let (c, r) = (rng.random_range(0..CLIENTS), rng.random_range(0..ROOMS));
                handle(c).join(room(r)).unwrap();
                member_of[c].insert(r);
            }
            3..=4 => {
                let (c, r) = (rng.random_range(0..CLIENTS), rng.random_range(0..ROOMS));
                handle(c).leave(room(r));
                member_of[c].remove(&r);
            }
            _ => {
                let to: BTreeSet<usize> = (0..rng.random_range(0..4))
                    .map(|_| rng.random_range(0..ROOMS))
                    .collect();
                let except: BTreeSet<usize> = (0..rng.random_range(0..2))
                    .map(|_| rng.random_range(0..ROOMS))
                    .collect();
                let message = format!("op-{op}");
                let mut operator = app
                    .football
                    .except(except.iter().map(|r| room(*r)).collect::<Vec<_>>());
                if !to.is_empty() {
                    operator = operator.to(to.iter().map(|r| room(*r)).collect::<Vec<_>>());
                }
                let sent = operator.emit(announcement(&message)).await.unwrap();
                let mut receivers = 0;
                for c in 0..CLIENTS {
                    let selected = to.is_empty() || !member_of[c].is_disjoint(&to);
                    if selected && member_of[c].is_disjoint(&except) {
                        expected[c].push(message.clone());
                        receivers += 1;
                    }
                }
                assert_eq!(sent.delivered, receivers, "op {op}");
            }
        }
    }
    // The server's view of the rooms agrees with the model.
    let mut sizes: HashMap<usize, usize> = HashMap::new();
    for rooms in &member_of {
        for r in rooms {
            *sizes.entry(*r).or_default() += 1;
        }
    }
    for r in 0..ROOMS {
        assert_eq!(
            app.football.room_size(&room(r)),
            sizes.get(&r).copied().unwrap_or(0)
        );
    }
    assert_eq!(app.football.rooms().len(), sizes.len());
    for (c, rooms) in member_of.iter().enumerate() {
        let rooms: Vec<String> = rooms.iter().map(|r| room(*r)).collect();
        let mut server_view = handle(c).rooms();
        server_view.sort_by_key(|name| name[5..].parse::<usize>().unwrap());
        assert_eq!(server_view, rooms, "rooms of client {c}");
    }

    app.football.emit(announcement("end")).await.unwrap();
    for (c, stream) in streams.iter_mut().enumerate() {
        let mut got = messages(&stream.until("end").await);
        assert_eq!(got.pop().as_deref(), Some("end"));
        assert_eq!(got, expected[c], "client {c}");
    }
}

#[tokio::test]
async fn an_event_emitted_right_after_open_is_received() {
    // Open means joined: the client is in its room before its response headers are sent.
    let app = spawn(builder()).await;
    let http = http();
    for i in 0..50 {
        let room = format!("fresh-{i}");
        let mut stream = open(&http, &app.url(&format!("/football?room={room}"))).await;
        let sent = app
            .football
            .to(room.as_str())
            .emit(announcement("first"))
            .await
            .unwrap();
        assert_eq!(sent.delivered, 1);
        assert_eq!(messages(&[stream.next().await]), ["first"]);
    }
}

#[tokio::test]
async fn typed_emitters_work_on_namespace_operator_and_client() {
    use common::events::FootballEventsEmitter;
    let app = spawn(builder()).await;
    let http = http();
    let mut a = open(&http, &app.url("/football?room=a&tag=a")).await;
    let mut b = open(&http, &app.url("/football?room=b")).await;
    let handle = app.tagged.lock().unwrap()["a"].clone();

    assert_eq!(app.football.to("a").count(), 1);
    assert_eq!(app.football.to(["a", "b"]).except("b").count(), 1);
    app.football
        .to("a")
        .emit_score_update("a".into(), 1, 0, 5)
        .await
        .unwrap();
    handle
        .emit_match_end("a".into(), "1-0".into())
        .await
        .unwrap();
    let sent = app.football.emit_announcement("end".into()).await.unwrap();
    assert_eq!(sent.delivered, 2);

    let got: Vec<(String, String)> = a
        .until("end")
        .await
        .into_iter()
        .map(|e| (e.event, e.data))
        .collect();
    assert_eq!(
        got,
        [
            (
                "score_update".to_string(),
                r#"{"match":"a","homeScore":1,"awayScore":0,"minute":5}"#.to_string()
            ),
            (
                "match_end".into(),
                r#"{"match":"a","finalScore":"1-0"}"#.into()
            ),
            ("announcement".into(), r#"{"message":"end"}"#.into()),
        ]
    );
    assert_eq!(messages(&b.until("end").await), ["end"]);
}
