//! GraphQL throughput over HTTP, per backend, in one run: `{ ping }`, the answer mutation
//! (`saveAnswers`: token lookup, validation against the catalogue, the atomic write with
//! its events and idempotency record), a one-response read (`response`), one
//! organisation's configuration profile (`profile`, in a round of 100 organisations that
//! answered every component) and that round's matrix (`roundMatrix`, 100 × 17, measured
//! at 2 connections for its p99 latency), each as a ratio of `{ ping }` measured in the
//! same run on the same build, with the server's CPU time per request (which stays
//! meaningful when other work shares the machine, unlike the rates).
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
    Actor, ApiToken, Channel, IdempotencyKey, Organisation, OrganisationId, Respondent,
    ResponseKey, Round, RoundId, RoundStatus, Timestamp, TokenHash, TokenId, TokenRole,
};
use server::service::answers::{self, RawAnswer, RawEvidence, RawValue, SaveAnswers};

// The same allocator as the `stagewise-server` binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CONNECTIONS: usize = 64;
/// Connections for the matrix: its target is a latency (p99), measured at the number of
/// cores rather than behind a queue of 64.
const MATRIX_CONNECTIONS: usize = 2;
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
fn wrk(url: &str, script: &std::path::Path, connections: usize) -> (f64, String) {
    let output = Command::new("wrk")
        .args([
            "-t2",
            &format!("-c{connections}"),
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
    assert!(
        non_2xx.is_empty(),
        "{} answered errors ({non_2xx}); a failing request is not measured",
        script.display()
    );
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

/// Organisations of the round the profile and matrix measurements read.
const VIEW_ORGANISATIONS: usize = 100;

/// Round `views`: [`VIEW_ORGANISATIONS`] organisations, each with every component's stage,
/// rationale and evidence and a few activity ratings, saved through the answers service
/// as a channel would.
async fn arrange_views(app: &App) {
    let state = app.state();
    let mut organisations = Vec::new();
    for index in 0..VIEW_ORGANISATIONS {
        let id = OrganisationId::parse(&format!("v-{index}")).expect("id");
        state
            .store
            .put_organisation(&Organisation::new(id.clone(), "Views", None).expect("org"))
            .await
            .expect("organisation");
        organisations.push(id);
    }
    let round = RoundId::parse("views").expect("id");
    state
        .store
        .put_round(&Round {
            id: round.clone(),
            title: "Views".to_owned(),
            instruments: vec![InstrumentRef::parse("jiu-rbm-stages@1").expect("ref")],
            organisations: organisations.clone(),
            deadline: None,
            status: RoundStatus::Open,
        })
        .await
        .expect("round");
    let instrument = state
        .catalogue
        .get("jiu-rbm-stages", 1)
        .expect("stage questionnaire");
    let components: Vec<String> = instrument
        .questions()
        .iter()
        .filter_map(|q| q.id.strip_suffix("/stage").map(str::to_owned))
        .collect();
    for (index, organisation) in organisations.iter().enumerate() {
        let mut answers = Vec::new();
        for (c, component) in components.iter().enumerate() {
            let stage = i64::try_from((index + c) % 5 + 1).expect("small");
            answers.push(RawAnswer {
                question: format!("{component}/stage"),
                value: Some(RawValue::Number(stage)),
            });
            answers.push(RawAnswer {
                question: format!("{component}/rationale"),
                value: Some(RawValue::Text(format!(
                    "Stage {stage}: the practice is documented and followed in most units."
                ))),
            });
            if (index + c) % 4 != 0 {
                answers.push(RawAnswer {
                    question: format!("{component}/evidence"),
                    value: Some(RawValue::Evidence(vec![RawEvidence {
                        person: false,
                        text: "Annual results report 2025".to_owned(),
                        file: None,
                    }])),
                });
            }
        }
        for activity in 1..=4 {
            answers.push(RawAnswer {
                question: format!("1.1/activity/{activity}"),
                value: Some(RawValue::Number(
                    i64::try_from((index + activity) % 3 + 1).expect("small"),
                )),
            });
        }
        answers::save(
            state.store.as_ref(),
            &state.catalogue,
            SaveAnswers {
                key: ResponseKey {
                    round: round.clone(),
                    organisation: organisation.clone(),
                    instrument: InstrumentRef::parse("jiu-rbm-stages@1").expect("ref"),
                    respondent: Respondent::Organisation,
                },
                idempotency_key: IdempotencyKey::parse(&format!("views-{index}")).expect("key"),
                answers,
                expected_seq: None,
                actor: Actor::Token(TokenId::parse("t-bench").expect("id")),
                channel: Channel::Graphql,
                at: Timestamp::now(),
            },
        )
        .await
        .expect("answers saved");
    }
}

/// Sends one request the way `script` would (with `n` = 1, `t` = 0) and panics unless it
/// succeeds without GraphQL errors, so that a broken query is never measured as fast.
fn probe(port: u16, token: &str, script: &std::path::Path) {
    use std::io::Read;
    let lua = std::fs::read_to_string(script).expect("script");
    let body_lua = lua
        .split_once("wrk.format(nil, \"/graphql\", nil, ")
        .and_then(|(_, rest)| rest.split_once("\nend").map(|(call, _)| call))
        .and_then(|call| call.rsplit_once(')'))
        .map(|(body, _)| body)
        .expect("the script's body");
    // Evaluate the Lua concatenation for n = 1, t = 0: the arithmetic in the bodies is
    // `(n % k + j)` or `(n % k)`, and `t` alone.
    let mut body = String::new();
    for (index, part) in body_lua.split(" .. ").enumerate() {
        let part = part.trim();
        if index % 2 == 0 {
            // A Lua string literal: `\"` is a quote and `\\` a backslash.
            let literal = part.trim_matches('\'');
            body.push_str(&literal.replace("\\\"", "\"").replace("\\\\", "\\"));
        } else if part == "t" {
            body.push('0');
        } else {
            let inner = part.trim_start_matches('(').trim_end_matches(')');
            let mut terms = inner.split(" + ");
            let modulo: u64 = terms
                .next()
                .and_then(|m| m.strip_prefix("n % "))
                .and_then(|k| k.parse().ok())
                .map_or(1, |k: u64| 1 % k);
            let add: u64 = terms.next().map_or(0, |j| j.parse().expect("number"));
            body.push_str(&(modulo + add).to_string());
        }
    }
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    write!(
        stream,
        "POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("send");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("receive");
    assert!(
        answer.starts_with("HTTP/1.1 200") && !answer.contains("\"errors\""),
        "{} fails, so it is not measured:\n{body}\n{answer}",
        script.display()
    );
}

/// CPU time this process (the server) has used so far, in microseconds.
fn cpu_micros() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("read /proc/self/stat");
    // Fields after the command name (which may hold spaces) start after the last `)`.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .expect("stat format")
        .1
        .split_whitespace()
        .collect();
    let ticks: u64 =
        fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
    // Linux reports these in clock ticks of 1/100 s (USER_HZ).
    ticks * 10_000
}

/// One measurement: requests per second, the server's CPU per request, and wrk's notes.
struct Measured {
    rate: f64,
    cpu_per_request: f64,
    note: String,
}

fn measure(url: &str, script: &std::path::Path, connections: usize) -> Measured {
    let before = cpu_micros();
    let (rate, note) = wrk(url, script, connections);
    let used = cpu_micros() - before;
    let requests = rate * seconds() as f64;
    Measured {
        rate,
        cpu_per_request: used as f64 / requests.max(1.0),
        note,
    }
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
        let port = app.port();
        let url = format!("http://127.0.0.1:{port}");
        let token = runtime.block_on(arrange(&app));
        runtime.block_on(arrange_views(&app));
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
        // What a validator's screen asks of one organisation: component and pillar
        // stages, evidence and activity summaries, agreement and flags.
        let profile = script(
            scripts.path(),
            "profile",
            &token,
            r#"'{"query":"query($r: String!, $o: String!) { profile(roundId: $r, organisationId: $o) { submitted components { id stage evidence { documents persons } activities { rated mean } } pillars { number stage min max } flags { code componentId trigger } } }","variables":{"r":"views","o":"v-' .. (n % 100) .. '"}}'"#,
        );
        let matrix = script(
            scripts.path(),
            "matrix",
            &token,
            r#"'{"query":"query($r: String!) { roundMatrix(roundId: $r) { rows { organisationId stages pillarStages } components { id distribution { n withheld median q1 q3 counts } } } }","variables":{"r":"views"}}'"#,
        );
        for script in [&ping, &mutation, &read, &profile, &matrix] {
            probe(port, &token, script);
        }
        let measured = Row {
            backend,
            ping: measure(&url, &ping, CONNECTIONS),
            save: measure(&url, &mutation, CONNECTIONS),
            read: measure(&url, &read, CONNECTIONS),
            profile: measure(&url, &profile, CONNECTIONS),
            matrix: measure(&url, &matrix, MATRIX_CONNECTIONS),
        };
        let _ = stop.send(());
        runtime
            .block_on(server)
            .expect("server task")
            .expect("server stops");
        rows.push(measured);
    }
    println!(
        "GraphQL over HTTP, wrk -t2 -d{}s, {CONNECTIONS} connections ({MATRIX_CONNECTIONS} for the matrix), server in-process with 2 worker threads, {} cores",
        seconds(),
        std::thread::available_parallelism().map_or(0, usize::from)
    );
    println!(
        "ratio: requests per second relative to {{ ping }} in the same run; cpu: the server's CPU time per request"
    );
    println!(
        "{:<7} {:<12} {:>10} {:>7} {:>9}  wrk",
        "backend", "request", "per second", "ratio", "cpu"
    );
    for row in &rows {
        for (name, m) in [
            ("{ ping }", &row.ping),
            ("saveAnswers", &row.save),
            ("response", &row.read),
            ("profile", &row.profile),
            ("roundMatrix", &row.matrix),
        ] {
            println!(
                "{:<7} {name:<12} {:>10.0} {:>6.2}x {:>7.0}us  {}",
                format!("{:?}", row.backend).to_lowercase(),
                m.rate,
                m.rate / row.ping.rate,
                m.cpu_per_request,
                m.note
            );
        }
    }
}

/// One backend's measurements.
struct Row {
    backend: BackendKind,
    ping: Measured,
    save: Measured,
    read: Measured,
    profile: Measured,
    matrix: Measured,
}
