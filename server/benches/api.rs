//! GraphQL throughput over HTTP, per backend, in one run: `{ ping }`, the answer mutation
//! (`saveAnswers`: token lookup, validation against the catalogue, the atomic write with
//! its events and idempotency record) and a one-response read (`response`), each as a
//! ratio of `{ ping }` measured in the same run on the same build.
//!
//! `cargo bench -p server --bench api` (needs `wrk`: `apt-get install wrk`). Seconds per
//! measurement: `STAGEWISE_BENCH_SECS` (default 10); connections: 64, wrk threads: 2.
//! The server runs in this process on a free loopback port; Redis is a private
//! `redis-server` with `appendfsync always`.

use std::io::Write;
use std::process::Command;

use server::app::App;
use server::catalogue::InstrumentRef;
use server::config::{BackendKind, LoadedSettings, Settings};
use server::domain::{
    ApiToken, Organisation, OrganisationId, Round, RoundId, RoundStatus, Timestamp, TokenHash,
    TokenId, TokenRole,
};

// The same allocator as the `stagewise-server` binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CONNECTIONS: usize = 64;
const ORGANISATIONS: usize = 64;

fn seconds() -> u64 {
    std::env::var("STAGEWISE_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10)
}

/// The wrk script: POSTs `body(n)` with the token; `n` counts requests per thread, and the
/// thread id keeps idempotency keys unique across threads.
fn script(dir: &std::path::Path, name: &str, token: &str, body_lua: &str) -> std::path::PathBuf {
    let path = dir.join(format!("{name}.lua"));
    let lua = format!(
        r#"
local counter = 0
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {token}"
function request()
  counter = counter + 1
  local n = counter
  local t = tid or 0
  return wrk.format(nil, "/graphql", nil, {body_lua})
end
"#
    );
    let mut file = std::fs::File::create(&path).expect("script");
    file.write_all(lua.as_bytes()).expect("write script");
    path
}

/// Runs wrk and returns requests per second (and whether any response was not 2xx).
fn wrk(url: &str, script: &std::path::Path) -> (f64, String) {
    let output = Command::new("wrk")
        .args([
            "-t2",
            &format!("-c{CONNECTIONS}"),
            &format!("-d{}s", seconds()),
        ])
        .args(["--latency", "-s"])
        .arg(script)
        .arg(url)
        .output()
        .unwrap_or_else(|e| panic!("cannot run wrk ({e}); install it with `apt-get install wrk`"));
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let rate = text
        .lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|r| r.trim().parse().ok())
        .unwrap_or_else(|| panic!("wrk printed no rate:\n{text}"));
    let non_2xx = text
        .lines()
        .find(|l| l.contains("Non-2xx"))
        .unwrap_or("")
        .trim()
        .to_owned();
    let p99 = text
        .lines()
        .find(|l| l.trim_start().starts_with("99%"))
        .map(|l| l.trim().trim_start_matches("99%").trim().to_owned())
        .unwrap_or_default();
    (rate, format!("p99 {p99} {non_2xx}"))
}

async fn arrange(app: &App) -> String {
    let state = app.state();
    let secret = "bench-admin-token-secret";
    state
        .store
        .put_api_token(&ApiToken {
            id: TokenId::parse("t-bench").expect("id"),
            hash: TokenHash::of(secret),
            role: TokenRole::Admin,
            label: "bench".to_owned(),
            created_at: Timestamp::now(),
            revoked: false,
        })
        .await
        .expect("token");
    let mut organisations = Vec::new();
    for index in 0..ORGANISATIONS {
        let id = OrganisationId::parse(&format!("o-{index}")).expect("id");
        state
            .store
            .put_organisation(&Organisation::new(id.clone(), "Bench", None).expect("org"))
            .await
            .expect("organisation");
        organisations.push(id);
    }
    state
        .store
        .put_round(&Round {
            id: RoundId::parse("bench").expect("id"),
            title: "Bench".to_owned(),
            instruments: vec![InstrumentRef::parse("jiu-rbm-stages@1").expect("ref")],
            organisations,
            deadline: None,
            status: RoundStatus::Open,
        })
        .await
        .expect("round");
    secret.to_owned()
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let redis = tests::RedisServer::start();
    let scripts = tempfile::tempdir().expect("temp dir");
    let mut rows = Vec::new();
    for backend in [BackendKind::Redb, BackendKind::Redis] {
        let data = tempfile::tempdir().expect("temp dir");
        let mut settings = Settings::default();
        settings.catalogue.dir = tests::questionnaires_dir();
        settings.server.bind = "127.0.0.1:0".to_owned();
        settings.store.backend = backend;
        settings.store.redb.data_dir = data.path().to_path_buf();
        settings.store.redis.url = redis.url().into();
        settings.store.redis.key_prefix = "bench".to_owned();
        settings.log.filter = "warn".to_owned();
        let loaded = LoadedSettings {
            settings,
            config_dir: tests::workspace_root().join("config"),
        };
        let app = runtime.block_on(App::build(loaded)).expect("server builds");
        let url = format!("http://127.0.0.1:{}", app.port());
        let token = runtime.block_on(arrange(&app));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = runtime.spawn(app.run_until(async {
            let _ = stopped.await;
        }));

        let ping = script(scripts.path(), "ping", &token, r#"'{"query":"{ ping }"}'"#);
        let mutation = script(
            scripts.path(),
            "save",
            &token,
            r#"'{"query":"mutation($i: SaveAnswersInput!) { saveAnswers(input: $i) { replayed } }","variables":{"i":{"response":{"roundId":"bench","organisationId":"o-' .. (n % 64) .. '","instrument":"jiu-rbm-stages@1"},"idempotencyKey":"k-' .. t .. '-' .. n .. '","answers":[{"questionId":"1.' .. (n % 3 + 1) .. '/stage","value":{"stage":' .. (n % 5 + 1) .. '}},{"questionId":"1.1/activity/' .. (n % 7 + 1) .. '","value":{"rating":' .. (n % 3 + 1) .. '}}]}}}'"#,
        );
        let read = script(
            scripts.path(),
            "read",
            &token,
            r#"'{"query":"query($r: ResponseRefInput!) { response(response: $r) { status lastSeq answers { questionId value { stage rating } channel at } } }","variables":{"r":{"roundId":"bench","organisationId":"o-' .. (n % 64) .. '","instrument":"jiu-rbm-stages@1"}}}'"#,
        );
        let (ping_rate, ping_note) = wrk(&url, &ping);
        let (save_rate, save_note) = wrk(&url, &mutation);
        let (read_rate, read_note) = wrk(&url, &read);
        let _ = stop.send(());
        runtime
            .block_on(server)
            .expect("server task")
            .expect("server stops");
        rows.push((
            backend, ping_rate, ping_note, save_rate, save_note, read_rate, read_note,
        ));
    }
    println!(
        "GraphQL over HTTP, wrk -t2 -c{CONNECTIONS} -d{}s, server in-process with 2 worker threads, {} cores",
        seconds(),
        std::thread::available_parallelism().map_or(0, usize::from)
    );
    println!(
        "{:<7} {:>12} {:>14} {:>8} {:>14} {:>8}",
        "backend", "{ ping }/s", "saveAnswers/s", "ratio", "response/s", "ratio"
    );
    for (backend, ping, ping_note, save, save_note, read, read_note) in &rows {
        println!(
            "{:<7} {ping:>12.0} {save:>14.0} {:>7.2}x {read:>14.0} {:>7.2}x",
            format!("{backend:?}").to_lowercase(),
            save / ping,
            read / ping
        );
        println!("        ping {ping_note}; save {save_note}; read {read_note}");
    }
}
