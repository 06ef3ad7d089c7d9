//! The server's speed and size, per backend, in one run, the way an operator would see
//! them: the release `stagewise-server` binary of this build runs in its own process and
//! wrk measures, over HTTP, `{ ping }`, the answer mutation (`saveAnswers`: token lookup,
//! validation against the catalogue, the atomic write with its events and idempotency
//! record), a one-response read (`response`), one organisation's configuration profile
//! (`profile`, in a round of 100 organisations that answered every component), that
//! round's matrix (`roundMatrix`, 100 × 17, measured at 2 connections for its p99
//! latency) and one organisation's validation pack as HTML with its charts (`pack html`),
//! each as a ratio of `{ ping }` measured in the same run on the same build, with the
//! server's CPU time per request (which stays meaningful when other work shares the
//! machine, unlike the rates). Then, per backend: time from start to ready (median of 5
//! starts: spawn to the first 200 from `/readyz`), resident memory when idle, and the
//! peak under the load.
//!
//! `cargo bench -p server --bench api` (needs `wrk`: `apt-get install wrk`). Seconds per
//! measurement: `STAGEWISE_BENCH_SECS` (default 10); only some requests:
//! `STAGEWISE_BENCH_ONLY=saveAnswers,profile` (`{ ping }` always runs); connections: 64,
//! wrk threads: 2. The data is arranged in this process through the store and the
//! answers service before the binary starts on it; Redis is a private `redis-server`
//! with `appendfsync always`.

use std::io::Write;

use secrecy::ExposeSecret;
use std::process::Command;

use server::app::App;
use server::catalogue::InstrumentRef;
use server::config::{BackendKind, LoadedSettings, Settings};
use server::domain::{
    Actor, ApiToken, Channel, IdempotencyKey, Organisation, OrganisationId, Respondent,
    ResponseKey, Round, RoundId, RoundStatus, Timestamp, TokenHash, TokenId, TokenRole,
};
use server::service::answers::{self, RawAnswer, RawEvidence, RawValue, SaveAnswers};
use tests::wrk;

// The same allocator as the `stagewise-server` binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CONNECTIONS: usize = 64;
/// Connections for the matrix: its target is a latency (p99), measured at the number of
/// cores rather than behind a queue of 64.
const MATRIX_CONNECTIONS: usize = 2;
const ORGANISATIONS: usize = 64;

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

/// The server under measurement: the `stagewise-server` binary of this build, in its own
/// process, so that its CPU time, memory and start-up are its own.
struct Server {
    child: std::process::Child,
    port: u16,
}

impl Server {
    /// Starts the binary on `settings`' store and returns it with the time from spawn to
    /// the first `200` from `GET /readyz`.
    fn start(settings: &Settings) -> (Self, std::time::Duration) {
        let port = tests::free_port();
        let mut command = Command::new(env!("CARGO_BIN_EXE_stagewise-server"));
        command
            .args(["--config-dir"])
            .arg(tests::workspace_root().join("config"))
            .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
            .env("STAGEWISE__CATALOGUE__DIR", tests::questionnaires_dir())
            .env("STAGEWISE__LOG__FILTER", "warn")
            .env(
                "STAGEWISE__STORE__BACKEND",
                format!("{:?}", settings.store.backend).to_lowercase(),
            )
            .env(
                "STAGEWISE__STORE__REDB__DATA_DIR",
                &settings.store.redb.data_dir,
            )
            .env(
                "STAGEWISE__STORE__REDIS__URL",
                settings.store.redis.url.expose_secret(),
            )
            .env(
                "STAGEWISE__STORE__REDIS__KEY_PREFIX",
                &settings.store.redis.key_prefix,
            )
            .stdout(std::process::Stdio::null());
        let started = std::time::Instant::now();
        let mut child = command
            .spawn()
            .expect("the stagewise-server binary of this build starts");
        loop {
            if let Some(status) = child.try_wait().expect("server status") {
                panic!("the server exited before it was ready: {status}");
            }
            if http_status(port, "GET", "/readyz", "") == Some(200) {
                break;
            }
            assert!(
                started.elapsed() < std::time::Duration::from_secs(30),
                "the server was not ready within 30 s"
            );
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let ready = started.elapsed();
        (Self { child, port }, ready)
    }

    /// A line of `/proc/<pid>/status`, in kB (e.g. `VmRSS`, `VmHWM`).
    fn memory_kb(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("read the server's /proc status");
        status
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no {field} in /proc status"))
    }

    /// CPU time the server has used so far, in microseconds.
    fn cpu_micros(&self) -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))
            .expect("read the server's /proc stat");
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

    /// Stops the server as an administrator would (SIGTERM) and waits for it.
    fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let status = self.child.wait().expect("server exit");
        assert!(
            status.success(),
            "the server did not stop cleanly: {status}"
        );
    }
}

/// One HTTP/1.1 request with `Connection: close`; the status code, if an answer came.
fn http_status(port: u16, method: &str, path: &str, headers: &str) -> Option<u16> {
    use std::io::Read;
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}Connection: close\r\n\r\n"
    )
    .ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    answer.get(9..12)?.parse().ok()
}

/// One measurement: requests per second, the server's CPU per request, and wrk's notes.
struct Measured {
    rate: f64,
    cpu_per_request: f64,
    note: String,
}

fn measure(server: &Server, script: &std::path::Path, connections: usize) -> Measured {
    let url = format!("http://127.0.0.1:{}", server.port);
    let before = server.cpu_micros();
    let run = wrk::run(&url, script, connections);
    let used = server.cpu_micros() - before;
    Measured {
        rate: run.rate,
        cpu_per_request: used as f64 / run.requests.max(1) as f64,
        note: run.note,
    }
}

/// Starts of the server per backend for the start-to-ready figure (the median is shown).
const STARTS: usize = 5;

fn main() {
    let runtime = tests::bench_runtime();
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
        // The data is arranged in this process, through the store and the answers
        // service; the store is closed before the binary opens it.
        let loaded = LoadedSettings {
            settings: settings.clone(),
            config_dir: tests::workspace_root().join("config"),
        };
        let token = runtime.block_on(async {
            let app = App::build(loaded).await.expect("server builds");
            let token = arrange(&app).await;
            arrange_views(&app).await;
            app.run_until(async {})
                .await
                .expect("the arranging server stops");
            token
        });

        let mut starts = Vec::new();
        for _ in 1..STARTS {
            let (server, ready) = Server::start(&settings);
            starts.push(ready);
            server.stop();
        }
        let (server, ready) = Server::start(&settings);
        starts.push(ready);
        starts.sort();
        // Idle: ready, then a moment with nothing to do.
        std::thread::sleep(std::time::Duration::from_secs(1));
        let idle_kb = server.memory_kb("VmRSS");

        let ping = wrk::post_script(scripts.path(), "ping", &token, r#"'{"query":"{ ping }"}'"#);
        let mutation = wrk::post_script(
            scripts.path(),
            "save",
            &token,
            r#"'{"query":"mutation($i: SaveAnswersInput!) { saveAnswers(input: $i) { replayed } }","variables":{"i":{"response":{"roundId":"bench","organisationId":"o-' .. (n % 64) .. '","instrument":"jiu-rbm-stages@1"},"idempotencyKey":"k-' .. t .. '-' .. n .. '","answers":[{"questionId":"1.' .. (n % 3 + 1) .. '/stage","value":{"stage":' .. (n % 5 + 1) .. '}},{"questionId":"1.1/activity/' .. (n % 7 + 1) .. '","value":{"rating":' .. (n % 3 + 1) .. '}}]}}}'"#,
        );
        let read = wrk::post_script(
            scripts.path(),
            "read",
            &token,
            r#"'{"query":"query($r: ResponseRefInput!) { response(response: $r) { status lastSeq answers { questionId value { stage rating } channel at } } }","variables":{"r":{"roundId":"bench","organisationId":"o-' .. (n % 64) .. '","instrument":"jiu-rbm-stages@1"}}}'"#,
        );
        // What a validator's screen asks of one organisation: component and pillar
        // stages, evidence and activity summaries, agreement and flags.
        let profile = wrk::post_script(
            scripts.path(),
            "profile",
            &token,
            r#"'{"query":"query($r: String!, $o: String!) { profile(roundId: $r, organisationId: $o) { submitted components { id stage evidence { documents persons } activities { rated mean } } pillars { number stage min max } flags { code componentId trigger } } }","variables":{"r":"views","o":"v-' .. (n % 100) .. '"}}'"#,
        );
        let matrix = wrk::post_script(
            scripts.path(),
            "matrix",
            &token,
            r#"'{"query":"query($r: String!) { roundMatrix(roundId: $r) { rows { organisationId stages pillarStages } components { id distribution { n withheld median q1 q3 counts } } } }","variables":{"r":"views"}}'"#,
        );
        // One organisation's validation pack as HTML, with its charts.
        let pack = wrk::get_script(
            scripts.path(),
            "pack",
            &token,
            r#"'/packs/views/v-' .. (n % 100) .. '.html'"#,
        );
        for script in [&ping, &mutation, &read, &profile, &matrix] {
            wrk::probe(server.port, &token, script);
        }
        assert_eq!(
            http_status(
                server.port,
                "GET",
                "/packs/views/v-1.html",
                &format!("Authorization: Bearer {token}\r\n")
            ),
            Some(200),
            "the pack cannot be rendered, so it is not measured"
        );
        let only = std::env::var("STAGEWISE_BENCH_ONLY").unwrap_or_default();
        let wanted = |name: &str| only.is_empty() || only.split(',').any(|o| o == name);
        let mut measured = Vec::new();
        for (name, script, connections) in [
            ("{ ping }", &ping, CONNECTIONS),
            ("saveAnswers", &mutation, CONNECTIONS),
            ("response", &read, CONNECTIONS),
            ("profile", &profile, CONNECTIONS),
            ("roundMatrix", &matrix, MATRIX_CONNECTIONS),
            ("pack html", &pack, CONNECTIONS),
        ] {
            if name == "{ ping }" || wanted(name) {
                measured.push((name, measure(&server, script, connections)));
            }
        }
        let loaded_kb = server.memory_kb("VmHWM");
        server.stop();
        rows.push(Row {
            backend,
            measured,
            ready: starts[starts.len() / 2],
            idle_kb,
            loaded_kb,
        });
    }
    println!(
        "GraphQL over HTTP, wrk -t2 -d{}s, {CONNECTIONS} connections ({MATRIX_CONNECTIONS} for the matrix), the release stagewise-server binary in its own process, {} cores",
        wrk::seconds(),
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
        let ping = row.measured[0].1.rate;
        for (name, m) in &row.measured {
            println!(
                "{:<7} {name:<12} {:>10.0} {:>6.2}x {:>7.0}us  {}",
                format!("{:?}", row.backend).to_lowercase(),
                m.rate,
                m.rate / ping,
                m.cpu_per_request,
                m.note
            );
        }
    }
    println!();
    println!(
        "{:<7} {:>14} {:>14} {:>18}",
        "backend", "start to ready", "idle RSS", "peak RSS under load"
    );
    for row in &rows {
        println!(
            "{:<7} {:>11.0} ms {:>11.1} MB {:>15.1} MB",
            format!("{:?}", row.backend).to_lowercase(),
            row.ready.as_secs_f64() * 1000.0,
            row.idle_kb as f64 / 1024.0,
            row.loaded_kb as f64 / 1024.0,
        );
    }
    println!(
        "start to ready: median of {STARTS} starts of the release binary, spawn to the first 200 from /readyz"
    );
}

/// One backend's measurements.
struct Row {
    backend: BackendKind,
    /// `{ ping }` first, then the others, by name.
    measured: Vec<(&'static str, Measured)>,
    /// Median start to ready.
    ready: std::time::Duration,
    /// Resident memory when ready and idle, in kB.
    idle_kb: u64,
    /// Peak resident memory after the measurements, in kB.
    loaded_kb: u64,
}
