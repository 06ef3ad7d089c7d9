//! The reminder scheduler as it runs in a spawned server (its own background task every
//! second, on a manual clock), against a real SMTP server on loopback: on redb, and with
//! two server instances sharing one Redis or one Redis Cluster, each reminder arrives
//! once; the link in a reminder opens the form.

use std::sync::Arc;
use std::time::Duration;

use server::clock::Clock;
use server::domain::reminders::DAY_MILLIS;
use server::domain::{RoundId, Timestamp};
use tests::smtp::SmtpSink;

use crate::fixtures::{self, ROUND};
use crate::support::{Backend, TestServer, on_cluster};

/// The deadline given to round `r-2026`.
pub const DEADLINE: i64 = 1_900_000_000_000;
const HOUR: i64 = 60 * 60 * 1000;

/// `days` days and one hour before the deadline.
pub fn before(days: i64) -> Timestamp {
    Timestamp::from_millis(DEADLINE - days * DAY_MILLIS + HOUR)
}

/// Gives round `r-2026` of the fixtures the deadline [`DEADLINE`].
pub async fn set_deadline(server: &TestServer) {
    let store = &server.state.store;
    let mut round = store
        .round(&RoundId::parse(ROUND).expect("id"))
        .await
        .expect("read")
        .expect("the fixtures' round");
    round.deadline = Some(Timestamp::from_millis(DEADLINE));
    store.put_round(&round).await.expect("stored");
}

/// Waits until the sink holds `count` messages, then a little longer (several checks of
/// every instance) and asserts that no more arrived.
fn exactly(sink: &SmtpSink, count: usize) -> Vec<tests::smtp::Received> {
    sink.wait_for(count, Duration::from_secs(30));
    std::thread::sleep(Duration::from_millis(2_500));
    let messages = sink.messages();
    assert_eq!(messages.len(), count, "each reminder once");
    messages
}

fn recipients(messages: &[tests::smtp::Received]) -> Vec<String> {
    let mut to: Vec<String> = messages.iter().flat_map(|m| m.to.clone()).collect();
    to.sort();
    to
}

/// A local Redis Cluster and the node an instance starts from.
type ClusterNode = Option<(Arc<tests::RedisCluster>, usize)>;

async fn spawn(
    backend: Backend,
    redis: Option<Arc<tests::RedisServer>>,
    cluster: ClusterNode,
    sink: &SmtpSink,
    clock: &Clock,
) -> TestServer {
    let port = tests::free_port();
    TestServer::spawn_with_clock(backend, redis, "remind", clock.clone(), |settings| {
        if let Some((cluster, node)) = &cluster {
            on_cluster(settings, cluster, *node, "remind");
        }
        settings.server.bind = format!("127.0.0.1:{port}");
        settings.server.public_base_url = format!("http://127.0.0.1:{port}");
        settings.email.smtp_host = "127.0.0.1".to_owned();
        settings.email.smtp_port = sink.port();
        settings.email.tls = server::config::SmtpTls::None;
        settings.reminders.enabled = true;
        settings.reminders.check_interval_secs = 1;
        settings.reminders.days_before = vec![7, 2];
    })
    .await
}

/// On Redis (one server, or `cluster`), two instances share the store, each running its
/// own scheduler.
async fn each_reminder_arrives_once(backend: Backend, cluster: Option<Arc<tests::RedisCluster>>) {
    let sink = SmtpSink::start();
    let clock = Clock::manual(before(10));
    let redis = (backend == Backend::Redis && cluster.is_none())
        .then(|| Arc::new(tests::RedisServer::start()));
    let node = |index: usize| cluster.clone().map(|cluster| (cluster, index));
    let first = spawn(backend, redis.clone(), node(0), &sink, &clock).await;
    let second = match backend {
        Backend::Redis => Some(spawn(backend, redis.clone(), node(2), &sink, &clock).await),
        Backend::Redb => None,
    };
    fixtures::arrange(&first).await;
    set_deadline(&first).await;

    clock.set(before(7));
    let messages = tokio::task::spawn_blocking({
        let sink = sink.clone();
        move || exactly(&sink, 3)
    })
    .await
    .expect("waited");
    assert_eq!(
        recipients(&messages),
        ["p-ana@example.org", "p-ben@example.org", "p-cy@example.org"]
    );

    // The link in Ben's reminder opens his form.
    let ben = messages
        .iter()
        .find(|m| m.to == ["p-ben@example.org"])
        .expect("Ben's reminder");
    let text = tests::smtp::decode_quoted_printable(&ben.data);
    let start = text.find("http://127.0.0.1:").expect("a link");
    let url: String = text[start..]
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != '"' && *c != '<')
        .collect();
    assert!(url.contains("/l/"), "{url}");
    let (status, location, _) = crate::web::open(&crate::web::client(), &url).await;
    assert_eq!((status, location.as_deref()), (303, Some("/form")));

    // Two days before: the second reminder, once each.
    clock.set(before(2));
    let messages = tokio::task::spawn_blocking({
        let sink = sink.clone();
        move || exactly(&sink, 6)
    })
    .await
    .expect("waited");
    assert_eq!(
        recipients(&messages[3..]),
        ["p-ana@example.org", "p-ben@example.org", "p-cy@example.org"]
    );

    if let Some(second) = second {
        second.stop().await;
    }
    first.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scheduler_sends_each_reminder_once_on_redb() {
    each_reminder_arrives_once(Backend::Redb, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_redis_send_each_reminder_once() {
    each_reminder_arrives_once(Backend::Redis, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_a_redis_cluster_send_each_reminder_once() {
    let cluster = Arc::new(tests::RedisCluster::start());
    each_reminder_arrives_once(Backend::Redis, Some(cluster)).await;
}
