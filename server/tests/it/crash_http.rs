//! Crash safety over HTTP: the `stagewise-server` binary serves a burst of 1,000
//! concurrent `saveAnswers` (each with its own idempotency key), is killed with SIGKILL
//! part-way, and is started again; the clients then retry every write that was not
//! acknowledged and re-send some that were, with the same keys. Afterwards, read back
//! through `response` and `responseHistory`, every acknowledged answer is present where
//! it was acknowledged, and none is recorded twice.
//!
//! On Redis, redis-server (AOF, `appendfsync always`) is killed with SIGKILL at the same
//! moment and restarted: answers, histories and the API token survive.
//!
//! CI runs 3 kills per backend; `STAGEWISE_LONG_TESTS=1` runs the full 20.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use server::catalogue::InstrumentRef;
use server::domain::{
    ApiToken, Organisation, OrganisationId, Round, RoundId, RoundStatus, Timestamp, TokenHash,
    TokenId, TokenRole,
};
use tests::RedisServer;
use tests::load::{self, Outcome, Report, Target, Write};

/// Concurrent writes per burst.
const WRITES: usize = 1000;
/// Organisations in the round; each one's stage questionnaire takes an equal share.
const ORGANISATIONS: usize = 10;
const ROUND: &str = "r-crash";
const INSTRUMENT: &str = "jiu-rbm-stages@1";
/// How long a retried write may take to be acknowledged after a restart.
const RETRY_LIMIT: Duration = Duration::from_secs(120);

/// Kills per backend: 20 with `STAGEWISE_LONG_TESTS=1`, else 3.
fn kills() -> usize {
    if std::env::var("STAGEWISE_LONG_TESTS").is_ok_and(|v| v == "1") {
        20
    } else {
        3
    }
}

/// A server binary with its configuration and data, started and killed by the test.
struct Deployment {
    config: tempfile::TempDir,
    data: tempfile::TempDir,
    port: u16,
    redis: Option<RedisServer>,
    child: Option<Child>,
}

impl Deployment {
    fn new(redis: Option<RedisServer>) -> Self {
        let config = tempfile::tempdir().expect("temp dir");
        let data = tempfile::tempdir().expect("temp dir");
        let port = tests::free_port();
        let store = match &redis {
            None => "[store]\nbackend = \"redb\"\n".to_owned(),
            Some(redis) => format!(
                "[store]\nbackend = \"redis\"\n[store.redis]\nurl = {:?}\nkey_prefix = \"crash-http\"\n",
                redis.url()
            ),
        };
        let text = format!(
            "[catalogue]\ndir = {catalogue:?}\n\
             [log]\nfilter = \"warn\"\n\
             [server]\nbind = \"127.0.0.1:{port}\"\npublic_base_url = \"http://127.0.0.1:{port}\"\n\
             shutdown_grace_secs = 1\n\
             [email]\noutbox_dir = {outbox:?}\n\
             [reminders]\nenabled = false\n\
             {store}[store.redb]\ndata_dir = {data:?}\n",
            catalogue = tests::questionnaires_dir().display().to_string(),
            outbox = data.path().join("outbox").display().to_string(),
            data = data.path().display().to_string(),
        );
        std::fs::write(config.path().join("server.toml"), text).expect("config");
        Self {
            config,
            data,
            port,
            redis,
            child: None,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn log(&self) -> PathBuf {
        self.data.path().join("server.log")
    }

    /// Puts the organisations, the round and an administrator's token straight into the
    /// store (before the server runs); returns the token's secret.
    async fn arrange(&self) -> String {
        let settings = server::config::load(self.config.path()).expect("the test config loads");
        let store = server::store::open(&settings)
            .await
            .expect("the store opens");
        let mut organisations = Vec::new();
        for n in 0..ORGANISATIONS {
            let id = OrganisationId::parse(&format!("o-{n}")).expect("id");
            store
                .put_organisation(
                    &Organisation::new(id.clone(), &format!("Org {n}"), None).expect("org"),
                )
                .await
                .expect("organisation stored");
            organisations.push(id);
        }
        store
            .put_round(&Round {
                id: RoundId::parse(ROUND).expect("id"),
                title: "Crash".to_owned(),
                instruments: vec![InstrumentRef::parse(INSTRUMENT).expect("ref")],
                organisations,
                deadline: None,
                status: RoundStatus::Open,
            })
            .await
            .expect("round stored");
        let secret = server::service::access::new_secret().expect("randomness");
        let hash = TokenHash::of(&secret);
        store
            .put_api_token(&ApiToken {
                id: TokenId::parse(&format!("t-{}", &hash.to_hex()[..10])).expect("id"),
                hash,
                role: TokenRole::Admin,
                label: "crash test".to_owned(),
                created_at: Timestamp::now(),
                revoked: false,
            })
            .await
            .expect("token stored");
        store.close().await.expect("store closed");
        secret
    }

    /// Starts the server and waits until `/readyz` says ready.
    async fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log())
            .expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_stagewise-server"))
            .env("STAGEWISE_CONFIG_DIR", self.config.path())
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start the server");
        self.child = Some(child);
        let http = load::client();
        let started = Instant::now();
        loop {
            if let Ok(response) = http.get(format!("{}/readyz", self.url())).send().await
                && response.status() == 200
            {
                return;
            }
            if started.elapsed() > Duration::from_secs(60) {
                panic!(
                    "the server did not become ready; its log:\n{}",
                    std::fs::read_to_string(self.log()).unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILLs the server (and, on Redis, redis-server, which restarts from its AOF).
    fn crash(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL the server");
            let status = child.wait().expect("reap");
            assert!(!status.success(), "the server was killed, not stopped");
        }
        if let Some(redis) = &mut self.redis {
            redis.restart();
        }
    }
}

impl Drop for Deployment {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// One burst of concurrent writes; SIGKILLs the server once `kill_after` of them are
/// acknowledged. Returns the acknowledged writes, the others and what the clients saw.
async fn burst(
    deployment: &mut Deployment,
    target: &Target,
    writes: Vec<Write>,
    kill_after: usize,
) -> (BTreeMap<String, (usize, u64)>, Vec<Write>, Report) {
    let http = load::client();
    let acks = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = writes
        .into_iter()
        .map(|write| {
            let (http, target, acks) = (http.clone(), target.clone(), acks.clone());
            tokio::spawn(async move {
                let (outcome, took) = load::save(&http, &target, &write).await;
                if matches!(outcome, Outcome::Acked { .. }) {
                    acks.fetch_add(1, Ordering::SeqCst);
                }
                (write, outcome, took)
            })
        })
        .collect();
    let started = Instant::now();
    while acks.load(Ordering::SeqCst) < kill_after {
        assert!(
            started.elapsed() < RETRY_LIMIT,
            "only {} of {kill_after} writes acknowledged",
            acks.load(Ordering::SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    deployment.crash();
    let mut acked = BTreeMap::new();
    let mut pending = Vec::new();
    let mut report = Report::default();
    for task in tasks {
        let (write, outcome, took) = task.await.expect("a client");
        if report.record(&write, &outcome, took).is_some() {
            acked.insert(write.key.clone(), report.acked[&write.key]);
        } else {
            pending.push(write);
        }
    }
    (acked, pending, report)
}

async fn crash_and_retry(mut deployment: Deployment) {
    let token = deployment.arrange().await;
    deployment.start().await;
    let target = Target {
        url: deployment.url(),
        token,
        responses: (0..ORGANISATIONS)
            .map(|n| {
                json!({ "roundId": ROUND, "organisationId": format!("o-{n}"), "instrument": INSTRUMENT })
            })
            .collect(),
    };
    let http = load::client();
    let mut acked = BTreeMap::new();
    let mut interrupted = 0;
    for round in 0..kills() {
        let writes = (0..WRITES)
            .map(|i| Write {
                key: format!("k{round}-{i}"),
                response: i % ORGANISATIONS,
            })
            .collect();
        // Kill after between 100 and 600 acknowledgements, different each round.
        let kill_after = 100 + (round * 173) % 500;
        let (burst_acked, pending, report) =
            burst(&mut deployment, &target, writes, kill_after).await;
        assert!(
            report.not_retryable.is_empty()
                && report
                    .errors
                    .keys()
                    .all(|code| code == "UNAVAILABLE" || code == "transport"),
            "only retryable errors or lost connections: {:?}",
            report.errors
        );
        interrupted += pending.len();
        deployment.start().await;

        // Everything not acknowledged is retried with its key, concurrently.
        let retries: Vec<_> = pending
            .into_iter()
            .map(|write| {
                let (http, target) = (http.clone(), target.clone());
                tokio::spawn(async move {
                    let mut report = Report::default();
                    let outcome =
                        load::save_until_acked(&http, &target, &write, &mut report, RETRY_LIMIT)
                            .await;
                    (write, outcome)
                })
            })
            .collect();
        // Some acknowledged ones are sent again: replayed, with the event acknowledged.
        load::resend_acked(&http, &target, &burst_acked, 7).await;
        acked.extend(burst_acked);
        for retry in retries {
            let (write, outcome) = retry.await.expect("a retry");
            let Outcome::Acked { seq, .. } = outcome else {
                panic!("{} not acknowledged: {outcome:?}", write.key)
            };
            acked.insert(write.key, (write.response, seq));
        }
        assert_eq!(acked.len(), WRITES * (round + 1));
        load::verify(&http, &target, &acked, true).await;
    }
    assert!(interrupted > 0, "some writes were cut short by the kills");
    if let Some(mut child) = deployment.child.take() {
        child.kill().expect("stop the server");
        let _ = child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redb_server_killed_under_load_loses_and_duplicates_no_answer() {
    crash_and_retry(Deployment::new(None)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_server_and_redis_killed_under_load_lose_and_duplicate_no_answer() {
    crash_and_retry(Deployment::new(Some(RedisServer::start()))).await;
}
