//! Two server instances on one Redis, and on a local three-primary Redis Cluster (each
//! instance seeded from a different node), under a concurrent load of answers written
//! through both: every answer acknowledged by one instance is read back, exactly once,
//! through the other; and a subscriber on each instance receives every save's event
//! exactly once, whichever instance took the save. (Reminders sent once by two
//! instances: `reminders::two_instances_on_one_redis_send_each_reminder_once` and
//! `reminders::two_instances_on_a_redis_cluster_send_each_reminder_once`.)

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use server::domain::{RoundId, RoundStatus, Timestamp};
use server::events::RoundEvent;
use tests::load::{self, Report, Target, Write};
use tests::{RedisCluster, RedisServer};

use crate::events::{Socket, connect, next_event, subscribe, until_live};
use crate::fixtures::{self, ROUND, stages};
use crate::support::{Backend, TestServer, on_cluster};

/// Writes through each instance.
const WRITES_PER_INSTANCE: usize = 100;
const CLIENTS: usize = 8;

/// Reads `socket`'s subscription until a marker event (round status `CLOSED`, which the
/// load never produces) has arrived from each of `markers` instances; returns the answer
/// events seen before, as (response id, seq) → times seen.
async fn collect(mut socket: Socket, markers: usize) -> BTreeMap<(String, u64), usize> {
    let mut seen = BTreeMap::new();
    let mut marked = 0;
    while marked < markers {
        let event = next_event(&mut socket, "1").await;
        if event["kind"] == "ROUND_STATUS_CHANGED" && event["status"] == "CLOSED" {
            marked += 1;
            continue;
        }
        assert_eq!(event["kind"], "ANSWERS_SAVED", "{event}");
        let response = event["responseId"].as_str().expect("response").to_owned();
        let seq = event["seq"].as_u64().expect("seq");
        *seen.entry((response, seq)).or_default() += 1;
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_redis_share_answers_and_every_event() {
    let redis = Arc::new(RedisServer::start());
    let a = TestServer::spawn_on(Backend::Redis, Some(Arc::clone(&redis)), "scale").await;
    let b = TestServer::spawn_on(Backend::Redis, Some(Arc::clone(&redis)), "scale").await;
    share_answers_and_every_event(a, b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_a_redis_cluster_share_answers_and_every_event() {
    let cluster = RedisCluster::start();
    // Each instance starts from another node, so events cross nodes on their way.
    let a = TestServer::spawn_with(Backend::Redis, None, "scale", |settings| {
        on_cluster(settings, &cluster, 0, "scale");
    })
    .await;
    let b = TestServer::spawn_with(Backend::Redis, None, "scale", |settings| {
        on_cluster(settings, &cluster, 1, "scale");
    })
    .await;
    share_answers_and_every_event(a, b).await;
    // The data really is spread over the cluster.
    for node in cluster.nodes() {
        assert_ne!(node.command(&["DBSIZE"]), ":0", "a node holds no key");
    }
}

async fn share_answers_and_every_event(a: TestServer, b: TestServer) {
    fixtures::arrange(&a).await;
    let validator = a.validator(&[ROUND]).await;

    // A subscriber on each instance, live before the load starts.
    let mut listeners = Vec::new();
    for server in [&a, &b] {
        let mut socket = connect(server, Some(&validator)).await;
        subscribe(&mut socket, "1", ROUND).await;
        until_live(server, &mut socket, "1", ROUND).await;
        listeners.push(tokio::spawn(collect(socket, 2)));
    }

    // Concurrent clients, half on each instance, writing to the same two responses.
    let responses = vec![stages("unicef"), stages("fao")];
    let targets: Vec<Target> = [&a, &b]
        .iter()
        .map(|server| Target {
            url: server.url.clone(),
            token: server.admin.clone(),
            responses: responses.clone(),
        })
        .collect();
    let per_client = 2 * WRITES_PER_INSTANCE / CLIENTS;
    let clients: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let target = targets[client % 2].clone();
            tokio::spawn(async move {
                let http = load::client();
                let mut report = Report::default();
                for n in 0..per_client {
                    let write = Write {
                        key: format!("c{client}-{n}"),
                        response: (client + n) % target.responses.len(),
                    };
                    load::save_until_acked(
                        &http,
                        &target,
                        &write,
                        &mut report,
                        Duration::from_secs(30),
                    )
                    .await;
                }
                report
            })
        })
        .collect();
    let mut report = Report::default();
    for client in clients {
        report.merge(client.await.expect("a client"));
    }
    assert!(report.errors.is_empty(), "no errors: {:?}", report.errors);
    assert_eq!(report.acked.len(), CLIENTS * per_client);

    // Read back through each instance: all there, each once, wherever it was written.
    let http = load::client();
    for target in &targets {
        load::verify(&http, target, &report.acked, true).await;
    }

    // Each instance publishes a marker after every save it made was announced; a
    // subscriber that has both markers has every event that will ever come.
    let round = RoundId::parse(ROUND).expect("round");
    for server in [&a, &b] {
        server
            .state
            .events
            .publish(
                &round,
                RoundEvent::RoundStatusChanged {
                    status: RoundStatus::Closed,
                    at: Timestamp::now(),
                },
            )
            .await;
    }
    let expected: BTreeMap<(String, u64), usize> = report
        .acked
        .values()
        .map(|(response, seq)| {
            let id = format!(
                "{ROUND}/{}/jiu-rbm-stages@1",
                responses[*response]["organisationId"]
                    .as_str()
                    .expect("organisation")
            );
            ((id, *seq), 1)
        })
        .collect();
    for (name, listener) in ["A", "B"].into_iter().zip(listeners) {
        let seen = listener.await.expect("a listener");
        let wrong: Vec<(&(String, u64), &usize)> = seen
            .iter()
            .filter(|(event, count)| expected.get(*event) != Some(*count))
            .collect();
        assert!(
            wrong.is_empty(),
            "subscriber on {name}: unexpected {wrong:?}"
        );
        assert_eq!(
            seen.len(),
            expected.len(),
            "subscriber on {name} received every save's event"
        );
    }
    a.stop().await;
    b.stop().await;
}

/// With `STAGEWISE_E2E_REDIS=cluster` every Redis-backed test server really runs on the
/// shared cluster (and without it, on its private redis-server): the second e2e pass of
/// `.ci/run` is not the first one again.
#[tokio::test]
async fn redis_backed_test_servers_run_where_the_run_asks() {
    let server = TestServer::spawn(Backend::Redis).await;
    let redis = &server.state.settings.settings.store.redis;
    assert_eq!(redis.cluster, crate::support::on_shared_cluster());
    assert_eq!(server.state.store.backend(), server::store::Backend::Redis);
    server.stop().await;
}
