//! Crash safety: `kill -9` the writing process (and, for Redis, the Redis server too)
//! during a burst of concurrent answer writes; after restart every acknowledged write is
//! present, and after the clients retry with the same idempotency keys none is
//! duplicated.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

use server::store::SharedStore;
use tests::RedisServer;

const WRITERS: usize = 64;
const REQUESTS: usize = 60;
/// Each load-test request writes two answers.
const EVENTS_PER_REQUEST: usize = 2;

fn load_test(config_dir: &Path) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_stagewise-server"))
        .args(["store", "load-test"])
        .args(["--writers", &WRITERS.to_string()])
        .args(["--requests", &REQUESTS.to_string()])
        .env("STAGEWISE_CONFIG_DIR", config_dir)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the load test")
}

/// Runs the load test, kills it with SIGKILL after `kill_after` acknowledgements, and
/// returns every (response, idempotency key) it acknowledged before dying.
fn burst_and_kill(config_dir: &Path, kill_after: usize) -> BTreeSet<(String, String)> {
    let mut child = load_test(config_dir);
    let stdout = child.stdout.take().expect("stdout");
    let mut acknowledged = BTreeSet::new();
    let mut killed = false;
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { break };
        let mut parts = line.split(' ');
        if let (Some("ack"), Some(response), Some(key)) = (parts.next(), parts.next(), parts.next())
        {
            acknowledged.insert((response.to_owned(), key.to_owned()));
        }
        if !killed && acknowledged.len() >= kill_after {
            child.kill().expect("SIGKILL the writer");
            killed = true;
        }
    }
    let status = child.wait().expect("reap");
    assert!(
        killed,
        "the burst ended before {kill_after} acknowledgements"
    );
    assert!(!status.success(), "the writer was killed, not finished");
    acknowledged
}

fn run_to_completion(config_dir: &Path) {
    let mut child = load_test(config_dir);
    let stdout = child.stdout.take().expect("stdout");
    let acks = BufReader::new(stdout).lines().count();
    assert!(
        child.wait().expect("reap").success(),
        "the retry run completes"
    );
    assert_eq!(acks, WRITERS * REQUESTS);
}

/// Every acknowledged key has its events exactly once; with `complete`, every request
/// of the load test does.
async fn verify(store: &SharedStore, acknowledged: &BTreeSet<(String, String)>, complete: bool) {
    let mut by_response: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    for writer in 0..WRITERS {
        let key = server::store::load::response_of(writer).expect("response key");
        let history = store.history(&key).await.expect("history");
        let seqs: Vec<u64> = history.iter().map(|e| e.seq).collect();
        assert_eq!(
            seqs,
            (1..=history.len() as u64).collect::<Vec<_>>(),
            "no gaps"
        );
        let counts = by_response.entry(key.id().to_string()).or_default();
        for event in &history {
            *counts.entry(event.idempotency_key.to_string()).or_default() += 1;
        }
        server::store::contract::assert_state_is_fold(store.as_ref(), &key).await;
        if complete {
            assert_eq!(history.len(), REQUESTS * EVENTS_PER_REQUEST, "{}", key.id());
        }
    }
    for (response, key) in acknowledged {
        let count = by_response
            .get(response)
            .and_then(|counts| counts.get(key))
            .copied()
            .unwrap_or(0);
        assert_eq!(
            count, EVENTS_PER_REQUEST,
            "acknowledged write {response} {key} is present exactly once"
        );
    }
    for counts in by_response.values() {
        assert!(
            counts.values().all(|&c| c == EVENTS_PER_REQUEST),
            "no duplicates"
        );
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn redb_loses_no_acknowledged_write_when_killed() {
    let data = tempfile::tempdir().expect("temp dir");
    let config = tempfile::tempdir().expect("temp dir");
    let path = data.path().join(server::config::REDB_FILE);
    std::fs::write(
        config.path().join("server.toml"),
        format!(
            "[store]\nbackend = \"redb\"\n[store.redb]\ndata_dir = {:?}\n",
            data.path().display().to_string()
        ),
    )
    .expect("config");
    let rt = runtime();
    let mut acknowledged = BTreeSet::new();
    for round in 0..3 {
        acknowledged.extend(burst_and_kill(config.path(), 400 + 300 * round));
        rt.block_on(async {
            let store: SharedStore = Arc::new(server::store::redb::open(&path).expect("reopen"));
            verify(&store, &acknowledged, false).await;
            store.close().await.expect("close");
        });
    }
    run_to_completion(config.path());
    rt.block_on(async {
        let store: SharedStore = Arc::new(server::store::redb::open(&path).expect("reopen"));
        verify(&store, &acknowledged, true).await;
        store.close().await.expect("close");
    });
}

#[test]
fn redis_loses_no_acknowledged_write_when_killed() {
    let mut redis = RedisServer::start();
    let config = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        config.path().join("server.toml"),
        format!(
            "[store]\nbackend = \"redis\"\n[store.redis]\nurl = {:?}\nkey_prefix = \"crash\"\n",
            redis.url()
        ),
    )
    .expect("config");
    let rt = runtime();
    let mut acknowledged = BTreeSet::new();
    for round in 0..3 {
        acknowledged.extend(burst_and_kill(config.path(), 400 + 300 * round));
        // Redis itself crashes too: with appendfsync always, nothing acknowledged is lost.
        redis.restart();
        rt.block_on(async {
            let store: SharedStore = Arc::new(
                server::store::redis::connect(&redis.url(), "crash")
                    .await
                    .expect("connect"),
            );
            verify(&store, &acknowledged, false).await;
        });
    }
    run_to_completion(config.path());
    rt.block_on(async {
        let store: SharedStore = Arc::new(
            server::store::redis::connect(&redis.url(), "crash")
                .await
                .expect("connect"),
        );
        verify(&store, &acknowledged, true).await;
    });
}
