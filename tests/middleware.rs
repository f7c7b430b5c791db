//! Middleware over real HTTP: order, rejection before the stream starts, data for the handler.

mod common;

use axum::extract::State;
use axum::routing::get;
use axum::Router;
use common::*;
use sse_manager::{Handshake, Reject, SseStream};
use std::sync::{Arc, Mutex};

#[derive(Clone, Debug, PartialEq)]
struct UserId(String);

async fn stream(State(app): State<App>, hs: Handshake) -> Result<SseStream, Reject> {
    let client = app.football.connect(hs).await?;
    let user = client
        .data::<UserId>()
        .expect("the auth middleware attached a user");
    client.join(format!("user:{}", user.0))?;
    Ok(client.into_stream())
}

async fn app_with_auth() -> (App, Arc<Mutex<Vec<&'static str>>>) {
    let server = builder().build().unwrap();
    let app = spawn_with(server, |app| {
        Router::new()
            .route("/football", get(stream))
            .with_state(app.clone())
    })
    .await;
    let calls = Arc::new(Mutex::new(Vec::new()));
    let (c1, c2, c3) = (calls.clone(), calls.clone(), calls.clone());
    app.football
        .middleware(move |_hs: Handshake| {
            let calls = c1.clone();
            async move {
                calls.lock().unwrap().push("log");
                Ok(())
            }
        })
        .middleware(move |hs: Handshake| {
            let calls = c2.clone();
            async move {
                calls.lock().unwrap().push("auth");
                // EventSource cannot send headers: accept the query token too.
                let token = hs
                    .bearer_token()
                    .or_else(|| hs.query("token"))
                    .or_else(|| hs.cookie("session"));
                match token {
                    Some(t) if t.starts_with("user-") => {
                        hs.insert(UserId(t["user-".len()..].to_owned()));
                        Ok(())
                    }
                    Some(_) => Err(Reject::forbidden("this token cannot watch football")),
                    None => Err(Reject::unauthorized("a token is required")),
                }
            }
        })
        .middleware(move |hs: Handshake| {
            let calls = c3.clone();
            async move {
                calls.lock().unwrap().push("after-auth");
                // Data attached by an earlier middleware is visible to later ones.
                assert!(hs.get::<UserId>().is_some());
                Ok(())
            }
        });
    (app, calls)
}

#[tokio::test]
async fn middleware_runs_in_order_and_attaches_data_for_the_handler() {
    let (app, calls) = app_with_auth().await;
    let http = http();
    let mut by_query = open(&http, &app.url("/football?token=user-42")).await;
    assert_eq!(*calls.lock().unwrap(), ["log", "auth", "after-auth"]);

    let response = http
        .get(app.url("/football"))
        .bearer_auth("user-7")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let by_cookie = http
        .get(app.url("/football"))
        .header("cookie", "theme=dark; session=user-9")
        .send()
        .await
        .unwrap();
    assert_eq!(by_cookie.status(), 200);
    assert_eq!(app.football.room_size("user:9"), 1);

    let sent = app
        .football
        .to("user:42")
        .emit(announcement("hello 42"))
        .await
        .unwrap();
    assert_eq!(sent.delivered, 1);
    assert_eq!(app.football.room_size("user:7"), 1);
    assert_eq!(messages(&[by_query.next().await]), ["hello 42"]);
}

#[tokio::test]
async fn a_rejection_is_the_http_answer_and_stops_the_chain() {
    let (app, calls) = app_with_auth().await;
    let http = http();

    let response = http.get(app.url("/football")).send().await.unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(
        response.text().await.unwrap(),
        r#"{"error":"a token is required"}"#
    );
    assert_eq!(
        *calls.lock().unwrap(),
        ["log", "auth"],
        "the chain stops at the rejection"
    );

    let response = http
        .get(app.url("/football?token=guest"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert_eq!(
        response.text().await.unwrap(),
        r#"{"error":"this token cannot watch football"}"#
    );
    assert_eq!(
        app.football.client_count(),
        0,
        "rejected clients are never registered"
    );
    assert_eq!(app.server.connection_count(), 0);
}
