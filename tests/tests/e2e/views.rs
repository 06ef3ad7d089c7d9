//! Profiles and the matrix are cached until the store changes: a change made through
//! this instance or announced by another is never followed by a stale view.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::answering::SAVE;
use crate::fixtures::{self, ROUND, stages};
use crate::support::{Backend, TestServer, data};

const PROFILE: &str = "query($r: String!, $o: String!) {
  profile(roundId: $r, organisationId: $o) { components { id stage } }
}";

const MATRIX: &str =
    "query($r: String!) { roundMatrix(roundId: $r) { rows { organisationId stages } } }";

fn save(key: &str, stage: i64) -> Value {
    json!({ "input": {
        "response": stages("unicef"),
        "idempotencyKey": key,
        "answers": [{ "questionId": "1.1/stage", "value": { "stage": stage } }]
    } })
}

/// UNICEF's stage for component 1.1 in the profile and in the matrix.
async fn stage_of_1_1(server: &TestServer) -> (Value, Value) {
    let profile = server
        .admin(PROFILE, json!({ "r": ROUND, "o": "unicef" }))
        .await;
    let component = data(&profile)["profile"]["components"]
        .as_array()
        .expect("components")
        .iter()
        .find(|c| c["id"] == "1.1")
        .expect("1.1")["stage"]
        .clone();
    let matrix = server.admin(MATRIX, json!({ "r": ROUND })).await;
    let row = data(&matrix)["roundMatrix"]["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["organisationId"] == "unicef")
        .expect("unicef")["stages"][0]
        .clone();
    (component, row)
}

async fn a_change_here_is_seen_at_once(backend: Backend) {
    let server = TestServer::spawn(backend).await;
    fixtures::arrange(&server).await;
    for (index, stage) in [2, 4, 1, 5].into_iter().enumerate() {
        let saved = server.admin(SAVE, save(&format!("k-{index}"), stage)).await;
        assert_eq!(data(&saved)["saveAnswers"]["replayed"], false, "{saved}");
        // Read twice: the second read is served from the cache and must agree.
        for _ in 0..2 {
            assert_eq!(stage_of_1_1(&server).await, (json!(stage), json!(stage)));
        }
    }
    assert!(!server.state.views.is_empty(), "views were cached");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_here_is_seen_at_once_on_redb() {
    a_change_here_is_seen_at_once(Backend::Redb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_here_is_seen_at_once_on_redis() {
    a_change_here_is_seen_at_once(Backend::Redis).await;
}

/// Two instances on one Redis: B's cached profile gives way to A's save as soon as A's
/// announcement arrives, well before B's time to live would expire it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_redis_a_change_on_another_instance_is_seen_once_announced() {
    let redis = Arc::new(tests::RedisServer::start());
    let a = TestServer::spawn_on(Backend::Redis, Some(Arc::clone(&redis)), "views").await;
    let b = TestServer::spawn_on(Backend::Redis, Some(Arc::clone(&redis)), "views").await;
    fixtures::arrange(&a).await;
    a.admin(SAVE, save("a-1", 2)).await;
    // B computes and keeps the profile with stage 2, just before A's change.
    assert_eq!(stage_of_1_1(&b).await, (json!(2), json!(2)));
    let saved = a.admin(SAVE, save("a-2", 4)).await;
    assert_eq!(data(&saved)["saveAnswers"]["replayed"], false, "{saved}");
    let within = server::store::redis::ROUND_TTL / 2;
    let started = Instant::now();
    loop {
        if stage_of_1_1(&b).await == (json!(4), json!(4)) {
            break;
        }
        assert!(
            started.elapsed() < within,
            "B served the old profile for {:?} after A's save",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    a.stop().await;
    b.stop().await;
}
