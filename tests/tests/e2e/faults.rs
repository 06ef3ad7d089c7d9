//! Redis faults under load: the server's Redis connections go through a TCP proxy
//! ([`tests::proxy::FaultProxy`]) that the test cuts and stalls, and Redis itself kills
//! the server's connections (`CLIENT KILL`), stops answering (`CLIENT PAUSE`), and is
//! killed with SIGKILL and restarted from its AOF, while clients keep saving answers,
//! each with its own idempotency key.
//!
//! Expected: a client sees only the retryable code `UNAVAILABLE` (never an internal
//! error) and never waits much longer than the configured Redis response timeout; the
//! server recovers by itself (later requests succeed, `/readyz` is ready again); and
//! once the clients have retried with the same keys, every acknowledged answer is in its
//! response's history exactly once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use server::config::BackendKind;
use tests::RedisServer;
use tests::load::{self, Report, Target, Write};
use tests::proxy::FaultProxy;

use crate::fixtures::{self, stages};
use crate::support::{Backend, TestServer};

/// The Redis response timeout the server runs with (`store.redis.response_timeout_ms`).
const TIMEOUT: Duration = Duration::from_millis(1000);
/// Concurrent clients.
const CLIENTS: usize = 12;
/// Acknowledgements awaited between two faults, to show the server recovered.
const RECOVERED: usize = 40;
/// How long recovering may take.
const RECOVERY_LIMIT: Duration = Duration::from_secs(60);

/// The running load: clients writing until told to stop.
struct Clients {
    acks: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<Report>>,
}

impl Clients {
    fn start(target: &Target) -> Self {
        let acks = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let tasks = (0..CLIENTS)
            .map(|client| {
                let (target, acks, stop) = (target.clone(), acks.clone(), stop.clone());
                tokio::spawn(async move {
                    let http = load::client();
                    let mut report = Report::default();
                    let mut n = 0;
                    while !stop.load(Ordering::SeqCst) {
                        let write = Write {
                            key: format!("c{client}-{n}"),
                            response: (client + n) % target.responses.len(),
                        };
                        load::save_until_acked(&http, &target, &write, &mut report, RECOVERY_LIMIT)
                            .await;
                        acks.fetch_add(1, Ordering::SeqCst);
                        n += 1;
                    }
                    report
                })
            })
            .collect();
        Self { acks, stop, tasks }
    }

    /// Waits until `more` writes were acknowledged after this call.
    async fn recovered(&self, what: &str) {
        let from = self.acks.load(Ordering::SeqCst);
        let started = Instant::now();
        while self.acks.load(Ordering::SeqCst) < from + RECOVERED {
            assert!(
                started.elapsed() < RECOVERY_LIMIT,
                "no recovery after {what}: {} writes acknowledged in {RECOVERY_LIMIT:?}",
                self.acks.load(Ordering::SeqCst) - from
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn finish(self) -> Report {
        self.stop.store(true, Ordering::SeqCst);
        let mut report = Report::default();
        for task in self.tasks {
            report.merge(task.await.expect("a client"));
        }
        report
    }
}

async fn readyz(server: &TestServer) -> (u16, Duration) {
    let started = Instant::now();
    let (status, _) = server.get("/readyz").await;
    (status, started.elapsed())
}

async fn until_ready(server: &TestServer) {
    let started = Instant::now();
    while readyz(server).await.0 != 200 {
        assert!(
            started.elapsed() < RECOVERY_LIMIT,
            "/readyz did not recover"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs a Redis command (the helper speaks RESP synchronously, so off the async path).
fn redis_command(redis: &RedisServer, args: &[&str]) -> String {
    tokio::task::block_in_place(|| redis.command(args))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_cut_stalled_killed_and_paused_under_load_loses_and_duplicates_nothing() {
    // The test owns redis-server (to kill and restart it); the server reaches it only
    // through the proxy.
    let mut redis = RedisServer::start();
    let proxy = FaultProxy::start(redis.port()).await;
    let proxied = proxy.redis_url();
    let server = TestServer::spawn_with(Backend::Redis, None, "faults", |s| {
        s.store.backend = BackendKind::Redis;
        s.store.redis.key_prefix = "faults".to_owned();
        s.store.redis.url = proxied.into();
        s.store.redis.response_timeout_ms = TIMEOUT.as_millis() as u64;
        s.store.redis.connect_timeout_ms = 500;
    })
    .await;
    fixtures::arrange(&server).await;
    // The load answers a text question of the stage questionnaire.
    let target = Target {
        url: server.url.clone(),
        token: server.admin.clone(),
        responses: vec![stages("unicef"), stages("fao")],
    };
    let clients = Clients::start(&target);
    clients.recovered("the start").await;

    // (a) Every connection to Redis is cut; the server reconnects by itself.
    let accepted = proxy.accepted();
    proxy.cut();
    clients.recovered("the cut").await;
    assert!(proxy.accepted() > accepted, "the server connected again");

    // (b) Redis stops answering (the proxy holds every byte) for three response
    // timeouts: requests fail with UNAVAILABLE after about one timeout, /readyz says
    // not ready within about one timeout, and both recover once the proxy heals.
    proxy.stall();
    let stalled = Instant::now();
    let (status, took) = readyz(&server).await;
    assert_eq!(status, 503, "not ready while Redis is stalled");
    assert!(took < TIMEOUT * 3, "/readyz answered in {took:?}");
    let rest = (TIMEOUT * 3).saturating_sub(stalled.elapsed());
    tokio::time::sleep(rest).await;
    proxy.heal();
    until_ready(&server).await;
    clients.recovered("the stall").await;

    // (c) Redis kills every ordinary client connection (the server's commands).
    let killed = redis_command(&redis, &["CLIENT", "KILL", "TYPE", "normal"]);
    assert!(killed.starts_with(':'), "CLIENT KILL replied {killed}");
    clients.recovered("CLIENT KILL").await;

    // (d) Redis pauses every client for three response timeouts.
    let paused = redis_command(&redis, &["CLIENT", "PAUSE", "3000"]);
    assert_eq!(paused, "+OK");
    tokio::time::sleep(Duration::from_millis(3000)).await;
    clients.recovered("CLIENT PAUSE").await;
    until_ready(&server).await;

    // (e) redis-server itself is killed with SIGKILL and started again from its AOF
    // (appendfsync always): the server reconnects, and what was acknowledged before,
    // tokens included, is still there (checked below, and by every later request, each
    // of which looks its token up).
    let tokens = server.state.store.api_tokens().await.expect("tokens");
    tokio::task::block_in_place(|| redis.restart());
    until_ready(&server).await;
    clients.recovered("the restart of redis-server").await;
    assert_eq!(
        server.state.store.api_tokens().await.expect("tokens"),
        tokens,
        "the API tokens survived the restart"
    );

    let report = clients.finish().await;
    let codes: Vec<&String> = report.errors.keys().collect();
    assert_eq!(
        codes,
        ["UNAVAILABLE"],
        "clients saw only the retryable code: {:?}",
        report.errors
    );
    // A request may wait one timeout for the store, then up to the event bus's
    // publishing timeout (2 s); a generous margin for a loaded debug build on top.
    let bound = TIMEOUT + Duration::from_secs(2) + Duration::from_secs(5);
    assert!(
        report.slowest < bound,
        "the slowest request took {:?}, more than {bound:?}",
        report.slowest
    );

    // Some acknowledged writes are sent again with the same key: replayed, same event.
    let http = load::client();
    load::resend_acked(&http, &target, &report.acked, 10).await;
    load::verify(&http, &target, &report.acked, true).await;
    server.stop().await;
}
