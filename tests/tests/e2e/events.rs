//! Live round events over graphql-ws: who may subscribe, that a subscriber gets its
//! round's events and no other's, and that on Redis an event published on one server
//! instance reaches a subscriber on another exactly once, also after Redis dropped the
//! pub/sub connections.
//!
//! Subscriptions have no "ready" message, so a test first publishes probe events (round
//! status `DRAFT`, which no test event uses) until one arrives; from then on the
//! subscription is live, and later reads skip stray probes. Every wait is bounded.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use server::domain::{Channel, ResponseKey, RoundId, RoundStatus, Timestamp};
use server::events::RoundEvent;
use tests::RedisServer;
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

use crate::support::{Backend, TestServer};

/// The longest any single wait may take, so a failure cannot hang CI.
const WAIT: Duration = Duration::from_secs(10);

/// How long to wait for a probe before publishing the next one.
const PROBE_WAIT: Duration = Duration::from_millis(100);

const SUBSCRIPTION: &str = "subscription($roundId: String!) { roundEvents(roundId: $roundId) \
     { kind roundId responseId questionIds seq channel status at } }";

pub(crate) type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A websocket client speaking `protocol` to `server`.
pub(crate) async fn open(server: &TestServer, protocol: &'static str) -> Socket {
    let url = format!("{}/graphql/ws", server.url.replacen("http://", "ws://", 1));
    let mut request = url.into_client_request().expect("a websocket request");
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", HeaderValue::from_static(protocol));
    let (socket, response) = timeout(WAIT, connect_async(request))
        .await
        .expect("the websocket opens in time")
        .expect("the websocket opens");
    assert_eq!(
        response
            .headers()
            .get("sec-websocket-protocol")
            .and_then(|value| value.to_str().ok()),
        Some(protocol),
        "the server speaks the protocol asked for"
    );
    socket
}

pub(crate) async fn send(socket: &mut Socket, message: Value) {
    timeout(WAIT, socket.send(Message::text(message.to_string())))
        .await
        .expect("sent in time")
        .expect("sent");
}

/// The next JSON message, or `None` when nothing arrives within `wait`.
pub(crate) async fn receive_within(socket: &mut Socket, wait: Duration) -> Option<Value> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let message = tokio::time::timeout_at(deadline, socket.next())
            .await
            .ok()?;
        match message.expect("the websocket stays open").expect("a frame") {
            Message::Text(text) => return Some(serde_json::from_str(&text).expect("JSON")),
            Message::Close(frame) => panic!("the server closed the websocket: {frame:?}"),
            // Pings are answered by tungstenite itself.
            _ => {}
        }
    }
}

pub(crate) async fn receive(socket: &mut Socket) -> Value {
    receive_within(socket, WAIT)
        .await
        .expect("a message within the time limit")
}

/// A graphql-transport-ws connection, initialised with `token` (if any) in the
/// `connection_init` payload and acknowledged.
/// Creates empty draft rounds with these ids (subscribing needs the round to exist).
async fn rounds(server: &TestServer, ids: &[&str]) {
    for id in ids {
        server
            .state
            .store
            .put_round(&server::domain::Round {
                id: round(id),
                title: format!("Round {id}"),
                instruments: Vec::new(),
                organisations: Vec::new(),
                deadline: None,
                status: RoundStatus::Draft,
            })
            .await
            .expect("round stored");
    }
}

pub(crate) async fn connect(server: &TestServer, token: Option<&str>) -> Socket {
    let mut socket = open(server, "graphql-transport-ws").await;
    let payload = match token {
        Some(token) => json!({ "authorization": format!("Bearer {token}") }),
        None => json!({}),
    };
    send(
        &mut socket,
        json!({ "type": "connection_init", "payload": payload }),
    )
    .await;
    assert_eq!(receive(&mut socket).await["type"], "connection_ack");
    socket
}

pub(crate) async fn subscribe(socket: &mut Socket, id: &str, round: &str) {
    send(
        socket,
        json!({
            "id": id,
            "type": "subscribe",
            "payload": { "query": SUBSCRIPTION, "variables": { "roundId": round } },
        }),
    )
    .await;
}

fn round(id: &str) -> RoundId {
    RoundId::parse(id).expect("round id")
}

fn probe(n: i64) -> RoundEvent {
    RoundEvent::RoundStatusChanged {
        status: RoundStatus::Draft,
        at: Timestamp::from_millis(n),
    }
}

fn is_probe(event: &Value) -> bool {
    event["kind"] == "ROUND_STATUS_CHANGED" && event["status"] == "DRAFT"
}

/// Publishes probes for `round_id` on `server` until subscription `id` receives one.
pub(crate) async fn until_live(server: &TestServer, socket: &mut Socket, id: &str, round_id: &str) {
    for n in 0..(WAIT.as_millis() / PROBE_WAIT.as_millis()) {
        server
            .state
            .events
            .publish(&round(round_id), probe(i64::try_from(n).unwrap_or(0)))
            .await;
        if let Some(message) = receive_within(socket, PROBE_WAIT).await {
            assert_eq!(message["type"], "next", "{message}");
            assert_eq!(message["id"], id);
            let event = &message["payload"]["data"]["roundEvents"];
            assert!(is_probe(event), "a probe first: {message}");
            return;
        }
    }
    panic!("subscription {id} did not receive a probe within {WAIT:?}");
}

/// The next event of subscription `id` that is not a probe.
pub(crate) async fn next_event(socket: &mut Socket, id: &str) -> Value {
    loop {
        let message = receive(socket).await;
        assert_eq!(message["type"], "next", "{message}");
        assert_eq!(message["id"], id);
        assert!(message["payload"].get("errors").is_none(), "{message}");
        let event = message["payload"]["data"]["roundEvents"].clone();
        if !is_probe(&event) {
            return event;
        }
    }
}

/// The error code a subscription ended with: a `next` carrying the error, then
/// `complete`.
async fn refused(socket: &mut Socket, id: &str) -> String {
    let message = receive(socket).await;
    assert_eq!(message["type"], "next", "{message}");
    assert_eq!(message["id"], id);
    assert!(message["payload"]["data"].is_null(), "{message}");
    let code = message["payload"]["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let complete = receive(socket).await;
    assert_eq!(complete, json!({ "type": "complete", "id": id }));
    code
}

fn answers_saved(round_id: &str, at: i64) -> RoundEvent {
    RoundEvent::AnswersSaved {
        response: ResponseKey::parse(&format!("{round_id}/unicef/jiu-rbm-stages@1"))
            .expect("response id")
            .id(),
        questions: vec!["1.1/stage".to_owned(), "1.2/stage".to_owned()],
        seq: 3,
        channel: Channel::Telegram,
        at: Timestamp::from_millis(at),
    }
}

fn submitted(round_id: &str, person: &str, at: i64) -> RoundEvent {
    RoundEvent::ResponseSubmitted {
        response: ResponseKey::parse(&format!("{round_id}/unicef/jiu-rbm-outcomes@1/~{person}"))
            .expect("response id")
            .id(),
        at: Timestamp::from_millis(at),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_validator_receives_its_rounds_events_and_not_another_rounds() {
    let server = TestServer::spawn(Backend::Redb).await;
    rounds(&server, &["r-live", "r-other"]).await;
    let validator = server.validator(&["r-live"]).await;
    let mut socket = connect(&server, Some(&validator)).await;
    subscribe(&mut socket, "1", "r-live").await;
    until_live(&server, &mut socket, "1", "r-live").await;

    let events = &server.state.events;
    events
        .publish(&round("r-other"), answers_saved("r-other", 1))
        .await;
    events
        .publish(&round("r-live"), answers_saved("r-live", 1_700_000_000_123))
        .await;
    events
        .publish(&round("r-live"), submitted("r-live", "p-1", 2))
        .await;
    events
        .publish(
            &round("r-live"),
            RoundEvent::ResponseReopened {
                response: ResponseKey::parse("r-live/unicef/jiu-rbm-stages@1")
                    .expect("response id")
                    .id(),
                at: Timestamp::from_millis(3),
            },
        )
        .await;
    events
        .publish(
            &round("r-live"),
            RoundEvent::RoundStatusChanged {
                status: RoundStatus::InValidation,
                at: Timestamp::from_millis(4),
            },
        )
        .await;

    // The other round's event came first and was not delivered.
    assert_eq!(
        next_event(&mut socket, "1").await,
        json!({
            "kind": "ANSWERS_SAVED",
            "roundId": "r-live",
            "responseId": "r-live/unicef/jiu-rbm-stages@1",
            "questionIds": ["1.1/stage", "1.2/stage"],
            "seq": 3,
            "channel": "TELEGRAM",
            "status": null,
            "at": "2023-11-14T22:13:20.123Z",
        })
    );
    let event = next_event(&mut socket, "1").await;
    assert_eq!(event["kind"], "RESPONSE_SUBMITTED");
    assert_eq!(event["responseId"], "r-live/unicef/jiu-rbm-outcomes@1/~p-1");
    assert!(event["questionIds"].is_null() && event["seq"].is_null());
    assert_eq!(event["at"], "1970-01-01T00:00:00.002Z");
    let event = next_event(&mut socket, "1").await;
    assert_eq!(event["kind"], "RESPONSE_REOPENED");
    assert_eq!(event["responseId"], "r-live/unicef/jiu-rbm-stages@1");
    let event = next_event(&mut socket, "1").await;
    assert_eq!(event["kind"], "ROUND_STATUS_CHANGED");
    assert_eq!(event["status"], "IN_VALIDATION");
    assert!(event["responseId"].is_null());

    // Stopping the server ends the subscription.
    server.stop().await;
    let message = timeout(WAIT, async {
        loop {
            let message = receive(&mut socket).await;
            if message["type"] != "next" {
                return message;
            }
        }
    })
    .await
    .expect("the subscription ends when the server stops");
    assert_eq!(message, json!({ "type": "complete", "id": "1" }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribing_needs_a_valid_token_with_the_round_in_scope() {
    let server = TestServer::spawn(Backend::Redb).await;
    rounds(&server, &["r-1", "r-2"]).await;

    let mut anonymous = connect(&server, None).await;
    subscribe(&mut anonymous, "a", "r-1").await;
    assert_eq!(refused(&mut anonymous, "a").await, "UNAUTHENTICATED");

    let mut unknown = connect(&server, Some("not-a-token")).await;
    subscribe(&mut unknown, "u", "r-1").await;
    assert_eq!(refused(&mut unknown, "u").await, "UNAUTHENTICATED");

    let validator = server.validator(&["r-2"]).await;
    let mut out_of_scope = connect(&server, Some(&validator)).await;
    subscribe(&mut out_of_scope, "v", "r-1").await;
    assert_eq!(refused(&mut out_of_scope, "v").await, "FORBIDDEN");

    let bot = server.token(server::domain::TokenRole::Bot).await;
    let mut bot = connect(&server, Some(&bot)).await;
    subscribe(&mut bot, "b", "r-1").await;
    assert_eq!(refused(&mut bot, "b").await, "FORBIDDEN");

    // The same connection may still subscribe to a round in scope.
    subscribe(&mut out_of_scope, "w", "r-2").await;
    until_live(&server, &mut out_of_scope, "w", "r-2").await;

    let mut admin = connect(&server, Some(&server.admin)).await;
    subscribe(&mut admin, "x", "Not A Round").await;
    assert_eq!(refused(&mut admin, "x").await, "BAD_USER_INPUT");
    subscribe(&mut admin, "y", "r-missing").await;
    assert_eq!(
        refused(&mut admin, "y").await,
        "NOT_FOUND",
        "an unknown round is an error"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_legacy_graphql_ws_protocol_works_too() {
    let server = TestServer::spawn(Backend::Redb).await;
    rounds(&server, &["r-1"]).await;
    let mut socket = open(&server, "graphql-ws").await;
    send(
        &mut socket,
        json!({
            "type": "connection_init",
            "payload": { "Authorization": format!("Bearer {}", server.admin) },
        }),
    )
    .await;
    assert_eq!(receive(&mut socket).await["type"], "connection_ack");
    send(
        &mut socket,
        json!({
            "id": "1",
            "type": "start",
            "payload": { "query": SUBSCRIPTION, "variables": { "roundId": "r-1" } },
        }),
    )
    .await;
    for n in 0.. {
        assert!(n < 100, "no event within {WAIT:?}");
        server
            .state
            .events
            .publish(&round("r-1"), submitted("r-1", "p-1", n))
            .await;
        if let Some(message) = receive_within(&mut socket, PROBE_WAIT).await {
            assert_eq!(message["type"], "data", "{message}");
            assert_eq!(
                message["payload"]["data"]["roundEvents"]["kind"],
                "RESPONSE_SUBMITTED"
            );
            break;
        }
    }
    server.stop().await;
}

/// Reads subscription `id` until `last` arrives; returns every event before it.
async fn events_until(socket: &mut Socket, id: &str, last: &Value) -> Vec<Value> {
    let mut seen = Vec::new();
    loop {
        let event = next_event(socket, id).await;
        if &event == last {
            return seen;
        }
        seen.push(event);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_redis_an_event_from_another_instance_arrives_exactly_once() {
    let redis = Arc::new(RedisServer::start());
    let a = TestServer::spawn_on(Backend::Redis, Some(Arc::clone(&redis)), "shared").await;
    let b = TestServer::spawn_on(Backend::Redis, Some(Arc::clone(&redis)), "shared").await;
    rounds(&b, &["r-multi"]).await;
    // A validator token made on one instance is valid on both: one store.
    let validator = b.validator(&["r-multi"]).await;
    let mut socket = connect(&a, Some(&validator)).await;
    subscribe(&mut socket, "1", "r-multi").await;
    until_live(&a, &mut socket, "1", "r-multi").await;

    // Published on B, received on A once. B's marker, sent after it on the same
    // path (B → Redis → A), proves that no copy is still on its way.
    let r = round("r-multi");
    b.state
        .events
        .publish(&r, answers_saved("r-multi", 12))
        .await;
    b.state
        .events
        .publish(&r, submitted("r-multi", "marker-b", 13))
        .await;
    let seen = events_until(
        &mut socket,
        "1",
        &json!({
            "kind": "RESPONSE_SUBMITTED",
            "roundId": "r-multi",
            "responseId": "r-multi/unicef/jiu-rbm-outcomes@1/~marker-b",
            "questionIds": null,
            "seq": null,
            "channel": null,
            "status": null,
            "at": "1970-01-01T00:00:00.013Z",
        }),
    )
    .await;
    assert_eq!(seen.len(), 1, "exactly once: {seen:?}");
    assert_eq!(seen[0]["kind"], "ANSWERS_SAVED");
    assert_eq!(seen[0]["at"], "1970-01-01T00:00:00.012Z");

    // Published on A: delivered locally once, and A skips its own copy from Redis,
    // which Redis sends A before B's later marker.
    a.state
        .events
        .publish(
            &r,
            RoundEvent::RoundStatusChanged {
                status: RoundStatus::Closed,
                at: Timestamp::from_millis(20),
            },
        )
        .await;
    b.state
        .events
        .publish(&r, submitted("r-multi", "marker-c", 21))
        .await;
    let seen = events_until(
        &mut socket,
        "1",
        &json!({
            "kind": "RESPONSE_SUBMITTED",
            "roundId": "r-multi",
            "responseId": "r-multi/unicef/jiu-rbm-outcomes@1/~marker-c",
            "questionIds": null,
            "seq": null,
            "channel": null,
            "status": null,
            "at": "1970-01-01T00:00:00.021Z",
        }),
    )
    .await;
    assert_eq!(seen.len(), 1, "exactly once: {seen:?}");
    assert_eq!(seen[0]["kind"], "ROUND_STATUS_CHANGED");
    assert_eq!(seen[0]["status"], "CLOSED");

    // Redis drops every pub/sub connection: A's listener reconnects by itself and
    // events from B reach A's subscriber again. Only on the test's own Redis: on the
    // cluster shared by the whole suite (STAGEWISE_E2E_REDIS=cluster) the kill would cut
    // the listeners of tests running beside this one.
    if !crate::support::on_shared_cluster() {
        let killed = redis.command(&["CLIENT", "KILL", "TYPE", "pubsub"]);
        assert!(killed.starts_with(':') && killed != ":0", "{killed}");
        until_live(&b, &mut socket, "1", "r-multi").await;
    }

    a.stop().await;
    b.stop().await;
}

const SAVE: &str =
    "mutation($input: SaveAnswersInput!) { saveAnswers(input: $input) { replayed } }";

/// An administrator saves an answer over HTTP on `saver`; a validator subscribed on
/// `listener` is told, once.
async fn a_save_over_http_is_announced(listener: &TestServer, saver: &TestServer) {
    crate::fixtures::arrange(listener).await;
    let validator = listener.validator(&[crate::fixtures::ROUND]).await;
    let mut socket = connect(listener, Some(&validator)).await;
    subscribe(&mut socket, "1", crate::fixtures::ROUND).await;
    until_live(listener, &mut socket, "1", crate::fixtures::ROUND).await;

    let saved = saver
        .admin(
            SAVE,
            json!({ "input": {
                "response": crate::fixtures::stages("unicef"),
                "idempotencyKey": "events-1",
                "answers": [{ "questionId": "1.1/stage", "value": { "stage": 3 } }],
            } }),
        )
        .await;
    assert_eq!(
        crate::support::data(&saved)["saveAnswers"]["replayed"],
        false
    );

    let event = next_event(&mut socket, "1").await;
    assert_eq!(event["kind"], "ANSWERS_SAVED");
    assert_eq!(event["roundId"], crate::fixtures::ROUND);
    assert_eq!(event["responseId"], "r-2026/unicef/jiu-rbm-stages@1");
    assert_eq!(event["questionIds"], json!(["1.1/stage"]));
    assert_eq!(event["seq"], 1);
    assert_eq!(event["channel"], "GRAPHQL");
    assert!(event["at"].as_str().is_some_and(|at| at.ends_with('Z')));

    // Replaying the same request changes nothing and announces nothing: the next event
    // is the marker published after it on the same path.
    let again = saver
        .admin(
            SAVE,
            json!({ "input": {
                "response": crate::fixtures::stages("unicef"),
                "idempotencyKey": "events-1",
                "answers": [{ "questionId": "1.1/stage", "value": { "stage": 3 } }],
            } }),
        )
        .await;
    assert_eq!(
        crate::support::data(&again)["saveAnswers"]["replayed"],
        true
    );
    saver
        .state
        .events
        .publish(
            &round(crate::fixtures::ROUND),
            RoundEvent::RoundStatusChanged {
                status: RoundStatus::Closed,
                at: Timestamp::from_millis(1),
            },
        )
        .await;
    let event = next_event(&mut socket, "1").await;
    assert_eq!(event["kind"], "ROUND_STATUS_CHANGED", "{event}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_save_over_http_is_announced_on_redb() {
    let server = TestServer::spawn(Backend::Redb).await;
    a_save_over_http_is_announced(&server, &server).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_save_over_http_on_one_instance_is_announced_on_another() {
    let redis = Arc::new(RedisServer::start());
    let a = TestServer::spawn_on(Backend::Redis, Some(Arc::clone(&redis)), "shared").await;
    let b = TestServer::spawn_on(Backend::Redis, Some(Arc::clone(&redis)), "shared").await;
    a_save_over_http_is_announced(&a, &b).await;
    a.stop().await;
    b.stop().await;
}
