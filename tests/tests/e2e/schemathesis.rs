//! schemathesis (from PyPI) against the GraphQL endpoint of a spawned server with
//! introspection on: it reads the schema by introspection and sends generated queries
//! and mutations for every root field, as the admin, with the fixtures' round in place.
//! No answer may be a 5xx, every error must carry an `extensions.code` and none may be
//! `INTERNAL_SERVER_ERROR` (the check in `tests/schemathesis/stagewise_checks.py`:
//! schemathesis's own `not_a_server_error` would also count the API's deliberate coded
//! refusals, FORBIDDEN, NOT_FOUND, CONFLICT, as failures), and the server must still stop
//! cleanly afterwards (no panicked task).
//!
//! `st` is looked up as `$STAGEWISE_SCHEMATHESIS`, then `/var/tmp/stagewise-venv/bin/st`
//! (where `.ci/run` installs it), then on `PATH`. `STAGEWISE_SCHEMATHESIS_EXAMPLES` sets
//! the examples per operation (default 25).

use std::path::PathBuf;
use std::process::Command;

use crate::fixtures;
use crate::support::{Backend, TestServer};

const INSTALL: &str = "install schemathesis (pip): python3 -m venv /var/tmp/stagewise-venv && \
     /var/tmp/stagewise-venv/bin/pip install schemathesis==4.32.5 (or run .ci/run, which does)";

fn schemathesis() -> PathBuf {
    let candidates = std::env::var_os("STAGEWISE_SCHEMATHESIS")
        .map(PathBuf::from)
        .into_iter()
        .chain([PathBuf::from("/var/tmp/stagewise-venv/bin/st")])
        .chain(
            std::env::var_os("PATH")
                .map(|path| {
                    std::env::split_paths(&path)
                        .map(|dir| dir.join("st"))
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default(),
        );
    for candidate in candidates {
        let works = Command::new(&candidate)
            .arg("--version")
            .output()
            .is_ok_and(|output| {
                output.status.success()
                    && String::from_utf8_lossy(&output.stdout).contains("version")
            });
        if works {
            return candidate;
        }
    }
    panic!("schemathesis is missing: {INSTALL}");
}

fn examples() -> String {
    std::env::var("STAGEWISE_SCHEMATHESIS_EXAMPLES").unwrap_or_else(|_| "25".to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_error_in_the_graphql_api() {
    let st = schemathesis();
    let server = TestServer::spawn(Backend::Redb).await;
    fixtures::arrange(&server).await;
    let report = tempfile::tempdir().expect("temp dir");
    let url = format!("{}/graphql", server.url);
    let authorization = format!("Authorization: Bearer {}", server.admin);
    let output = tokio::task::spawn_blocking({
        let report = report.path().to_path_buf();
        move || {
            Command::new(st)
                .args(["run", &url])
                .args(["--header", &authorization])
                .args(["--checks", "stagewise_no_server_fault"])
                .args(["--max-examples", &examples()])
                .args(["--phases", "examples,coverage,fuzzing"])
                .args(["--workers", "1", "--no-shrink", "--seed", "20260"])
                .args(["--request-timeout", "30"])
                .arg("--report-dir")
                .arg(&report)
                .current_dir(&report)
                .env(
                    "SCHEMATHESIS_HOOKS",
                    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                        .join("schemathesis/stagewise_checks.py"),
                )
                .output()
                .expect("schemathesis runs")
        }
    })
    .await
    .expect("the schemathesis run");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "schemathesis found problems:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("passed") || stdout.contains("PASSED"),
        "schemathesis ran no operation:\n{stdout}"
    );

    let (status, metrics) = server.get("/metrics").await;
    assert_eq!(status, 200);
    let requests: u64 = metrics
        .lines()
        .find_map(|line| line.strip_prefix("stagewise_graphql_requests_total "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_default();
    assert!(
        requests > 100,
        "schemathesis sent {requests} requests:\n{stdout}"
    );
    assert!(
        metrics.contains("stagewise_errors_total{code=\"INTERNAL_SERVER_ERROR\"} 0"),
        "{metrics}"
    );
    server.stop().await;
}
