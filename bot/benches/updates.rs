//! Updates handled per second: the bot's real handler tree and GraphQL client against a
//! server spawned in-process (redb in a temporary folder) and teloxide_tests' fake Bot
//! API on loopback. Many focal points, each in their own chat, walk through component 1.1
//! of the stage questionnaire (commands, stage and rating presses, text answers, evidence,
//! Done): every update is de-duplicated on the server, checked for staleness, saved, and
//! answered with the next question. Run with `cargo bench -p bot --bench updates`;
//! target: at least 1,000 updates per second.
//!
//! Besides the rate it prints where the time goes: the GraphQL calls per update with
//! their mean latency, the CPU time of the server's threads against the rest of the
//! process (the bot and the fake Bot API), and `{ ping }` requests per second from the
//! same process in the same run, so that runs on a loaded machine compare by ratio.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use bot::api::graphql::GraphqlBackend;
use bot::api::{
    AnswerInput, ApiResult, Backend, Me, Next, Notice, QuestionView, ResponseView, Saved, Target,
};
use bot::keyboards::{Action, Callback};
use bot::outbox::Outbox;
use bot::{Storage, handler_tree};
use server::app::App;
use server::catalogue::{Catalogue, InstrumentRef};
use server::config::{LoadedSettings, Settings};
use server::domain::{
    ApiToken, Assignment, EmailAddress, Organisation, OrganisationId, Person, PersonId, Role,
    Round, RoundId, RoundStatus, TelegramChatId, Timestamp, TokenHash, TokenId, TokenRole,
};
use teloxide::dptree::deps;
use teloxide::types::{Chat, Update};
use teloxide_tests::{MockBot, MockCallbackQuery, MockMessageText, MockPrivateChat, MockUser};

/// Chats walking through the component at once, each for its own organisation of the
/// round (`STAGEWISE_BENCH_CHATS`, default 160).
fn chats() -> i64 {
    std::env::var("STAGEWISE_BENCH_CHATS")
        .ok()
        .and_then(|n| n.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(160)
}
const FIRST_CHAT: i64 = 700_000;

fn workspace() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default()
}

fn chat(id: i64) -> Chat {
    MockPrivateChat::new().id(id).build()
}

fn text(chat_id: i64, text: &str) -> Update {
    let mut updates = teloxide_tests::IntoUpdate::into_update(
        MockMessageText::new()
            .text(text)
            .chat(chat(chat_id))
            .from(MockUser::new().id(chat_id as u64).build()),
        &std::sync::atomic::AtomicI32::new(0),
    );
    updates.remove(0)
}

fn press(chat_id: i64, action: Action, question: &str, seq: u64) -> Update {
    let data = Callback {
        action,
        question: question.to_owned(),
        prompt_tag: bot::dialogue::tag_of(seq),
    }
    .encode()
    .expect("fits");
    let mut updates = teloxide_tests::IntoUpdate::into_update(
        MockCallbackQuery::new()
            .data(data)
            .from(MockUser::new().id(chat_id as u64).build())
            .message(MockMessageText::new().chat(chat(chat_id)).build()),
        &std::sync::atomic::AtomicI32::new(0),
    );
    updates.remove(0)
}

/// One chat's walk through component 1.1; the tags follow the response's seq, which
/// starts at 0 for each organisation.
fn script(chat_id: i64, activities: usize) -> Vec<Update> {
    let mut updates = vec![
        text(chat_id, "/continue"),
        press(chat_id, Action::Answer(3), "1.1/stage", 0),
        text(chat_id, "Our policy of 2024 sets the targets."),
        text(chat_id, "RBM policy 2024\nperson: Ana Ruiz"),
        press(chat_id, Action::Skip, "1.1/evidence", 3),
        text(chat_id, "No comment."),
        text(chat_id, "A review in 2027."),
    ];
    let mut seq = 5;
    for n in 1..=activities {
        updates.push(press(
            chat_id,
            Action::Answer(2),
            &format!("1.1/activity/{n}"),
            seq,
        ));
        seq += 1;
    }
    updates.push(press(chat_id, Action::Skip, "1.1/other", seq));
    updates
}

async fn arrange(state: &server::app::AppState) -> String {
    let store = &state.store;
    let round = RoundId::parse("bench-2026").expect("id");
    let mut organisations = Vec::new();
    for n in 0..chats() {
        let organisation = OrganisationId::parse(&format!("org-{n}")).expect("id");
        store
            .put_organisation(
                &Organisation::new(organisation.clone(), &format!("Organisation {n}"), None)
                    .expect("organisation"),
            )
            .await
            .expect("stored");
        let person = PersonId::parse(&format!("p-bench-{n}")).expect("id");
        store
            .put_person(&Person {
                id: person.clone(),
                name: format!("Focal point {n}"),
                email: EmailAddress::parse(&format!("fp{n}@example.org")).expect("email"),
                telegram_chat: Some(TelegramChatId(FIRST_CHAT + n)),
            })
            .await
            .expect("stored");
        organisations.push((organisation, person));
    }
    store
        .put_round(&Round {
            id: round.clone(),
            title: "Benchmark".to_owned(),
            instruments: vec![InstrumentRef::parse("jiu-rbm-stages@1").expect("ref")],
            organisations: organisations.iter().map(|(o, _)| o.clone()).collect(),
            deadline: None,
            status: RoundStatus::Open,
        })
        .await
        .expect("stored");
    for (organisation, person) in organisations {
        store
            .put_assignment(&Assignment {
                round: round.clone(),
                organisation,
                person,
                role: Role::FocalPoint,
            })
            .await
            .expect("stored");
    }
    let secret = server::service::access::new_secret().expect("randomness");
    store
        .put_api_token(&ApiToken {
            id: TokenId::parse("t-bench-bot").expect("id"),
            hash: TokenHash::of(&secret),
            role: TokenRole::Bot,
            label: "bench".to_owned(),
            created_at: Timestamp::now(),
            revoked: false,
        })
        .await
        .expect("stored");
    secret
}

/// A backend that times every call of the real one, by kind.
struct Timed {
    inner: Arc<dyn Backend>,
    calls: Mutex<BTreeMap<&'static str, (u64, Duration)>>,
}

impl Timed {
    async fn time<T>(&self, kind: &'static str, call: impl Future<Output = T>) -> T {
        let started = Instant::now();
        let result = call.await;
        let elapsed = started.elapsed();
        let mut calls = self.calls.lock().expect("lock");
        let entry = calls.entry(kind).or_default();
        entry.0 += 1;
        entry.1 += elapsed;
        result
    }
}

#[async_trait]
impl Backend for Timed {
    async fn mark_update(&self, update_id: i64) -> ApiResult<bool> {
        self.time("markTelegramUpdate", self.inner.mark_update(update_id))
            .await
    }
    async fn link(&self, chat: i64, code: &str) -> ApiResult<String> {
        self.time("linkTelegramChat", self.inner.link(chat, code))
            .await
    }
    async fn unlink(&self, chat: i64) -> ApiResult<()> {
        self.time("unlinkTelegramChat", self.inner.unlink(chat))
            .await
    }
    async fn me(&self, chat: i64) -> ApiResult<Me> {
        self.time("telegramMe", self.inner.me(chat)).await
    }
    async fn next_question(
        &self,
        chat: i64,
        target: &Target,
        after: Option<&str>,
    ) -> ApiResult<Option<Next>> {
        self.time(
            "nextQuestion",
            self.inner.next_question(chat, target, after),
        )
        .await
    }
    async fn question(
        &self,
        chat: i64,
        target: &Target,
        question_id: &str,
    ) -> ApiResult<Arc<QuestionView>> {
        // Cached after the first time per question: counted, mostly not a request.
        self.time(
            "question (cached)",
            self.inner.question(chat, target, question_id),
        )
        .await
    }
    async fn response(
        &self,
        chat: i64,
        target: &Target,
        question_id: Option<&str>,
    ) -> ApiResult<ResponseView> {
        self.time("response", self.inner.response(chat, target, question_id))
            .await
    }
    async fn save(
        &self,
        chat: i64,
        target: &Target,
        idempotency_key: &str,
        answers: Vec<AnswerInput>,
        expected_seq: Option<u64>,
    ) -> ApiResult<Saved> {
        self.time(
            "saveAnswers",
            self.inner
                .save(chat, target, idempotency_key, answers, expected_seq),
        )
        .await
    }
    async fn submit(&self, chat: i64, target: &Target, idempotency_key: &str) -> ApiResult<()> {
        self.time(
            "submitResponse",
            self.inner.submit(chat, target, idempotency_key),
        )
        .await
    }

    async fn claim_notices(&self, limit: u32) -> ApiResult<Vec<Notice>> {
        self.time("claimTelegramNotices", self.inner.claim_notices(limit))
            .await
    }

    async fn ack_notice(&self, id: &str) -> ApiResult<bool> {
        self.time("acknowledgeTelegramNotice", self.inner.ack_notice(id))
            .await
    }
}

/// CPU seconds used so far by this process, and by its threads named `prefix…`.
fn cpu_seconds(prefix: &str) -> (f64, f64) {
    let ticks = |stat: &str| -> f64 {
        // Fields after the command name: state is field 3, utime 14 and stime 15.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.split_whitespace().collect())
            .unwrap_or_default();
        let value = |index: usize| -> f64 {
            fields
                .get(index - 3)
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or_default()
        };
        (value(14) + value(15)) / 100.0
    };
    let process = std::fs::read_to_string("/proc/self/stat")
        .map(|stat| ticks(&stat))
        .unwrap_or_default();
    let mut threads = 0.0;
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        for task in tasks.flatten() {
            let name = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
            if name.starts_with(prefix) {
                threads += std::fs::read_to_string(task.path().join("stat"))
                    .map(|stat| ticks(&stat))
                    .unwrap_or_default();
            }
        }
    }
    (process, threads)
}

/// `{ ping }` requests per second from this process: 64 clients, 4,000 requests.
async fn ping_rate(url: &str) -> f64 {
    let client = reqwest::Client::new();
    let endpoint = format!("{url}/graphql");
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..64 {
        let client = client.clone();
        let endpoint = endpoint.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..4000 / 64 {
                let response = client
                    .post(&endpoint)
                    .header("content-type", "application/json")
                    .body(r#"{"query":"{ ping }"}"#)
                    .send()
                    .await
                    .expect("ping");
                assert!(response.status().is_success());
                let _ = response.bytes().await;
            }
        }));
    }
    for task in tasks {
        task.await.expect("ping task");
    }
    f64::from(4000 / 64 * 64) / started.elapsed().as_secs_f64()
}

/// The server's runtime threads are named so that their CPU time can be told apart.
const SERVER_THREADS: &str = "stagewise-srv";

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .thread_name(SERVER_THREADS)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run());
}

async fn run() {
    let data = tempfile::tempdir().expect("temp dir");
    let mut settings = Settings::default();
    settings.catalogue.dir = workspace().join("questionnaires");
    settings.server.bind = "127.0.0.1:0".to_owned();
    settings.store.redb.data_dir = data.path().to_path_buf();
    settings.log.filter = "warn".to_owned();
    let app = App::build(LoadedSettings {
        settings,
        config_dir: workspace().join("config"),
    })
    .await
    .expect("the server builds");
    let url = format!("http://127.0.0.1:{}", app.port());
    let state = app.state();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    let secret = arrange(&state).await;

    let catalogue =
        Catalogue::load(&workspace().join("questionnaires")).expect("the shipped catalogue");
    let activities = catalogue
        .get("jiu-rbm-stages", 1)
        .expect("stage questionnaire")
        .questions()
        .iter()
        .filter(|q| q.id.starts_with("1.1/activity/"))
        .count();
    let mut updates = Vec::new();
    let scripts: Vec<Vec<Update>> = (0..chats())
        .map(|n| script(FIRST_CHAT + n, activities))
        .collect();
    // Interleaved, as chats talk at the same time; each chat's updates stay in order.
    for step in 0..scripts[0].len() {
        for script in &scripts {
            updates.push(script[step].clone());
        }
    }
    let total = updates.len();

    let backend: Arc<dyn Backend> = Arc::new(
        GraphqlBackend::new(&url, secret.into(), Duration::from_secs(30)).expect("client"),
    );
    let timed = Arc::new(Timed {
        inner: Arc::clone(&backend),
        calls: Mutex::new(BTreeMap::new()),
    });
    let timed_backend: Arc<dyn Backend> = timed.clone();
    let mut bot = MockBot::new(updates, handler_tree());
    bot.dependencies(deps![timed_backend, Outbox::direct(), Storage::new()]);
    let ping_before = ping_rate(&url).await;
    let (process_before, server_before) = cpu_seconds(SERVER_THREADS);
    let started = Instant::now();
    bot.dispatch().await;
    let elapsed = started.elapsed();
    let (process_after, server_after) = cpu_seconds(SERVER_THREADS);
    let ping_after = ping_rate(&url).await;

    // Check the work was done: every chat's component 1.1 has its required answers.
    let mut complete = 0;
    for n in 0..chats() {
        let target = Target {
            round_id: "bench-2026".to_owned(),
            organisation_id: format!("org-{n}"),
            instrument: "jiu-rbm-stages@1".to_owned(),
            person_id: None,
        };
        let response = backend
            .response(FIRST_CHAT + n, &target, None)
            .await
            .expect("readable");
        let answered = response
            .answers
            .iter()
            .filter(|a| a.question_id.starts_with("1.1/"))
            .count();
        if answered == 5 + activities {
            complete += 1;
        }
    }
    let sent = bot.get_responses().sent_messages.len();
    let rate = total as f64 / elapsed.as_secs_f64();
    println!(
        "bot updates: {total} updates from {} chats in {:.2} s = {rate:.0} updates/s \
         (target 1000/s: {:.2}x); {sent} messages sent; {complete}/{} chats completed \
         component 1.1 (redb)",
        chats(),
        elapsed.as_secs_f64(),
        rate / 1000.0,
        chats()
    );
    let ping = (ping_before + ping_after) / 2.0;
    println!(
        "{{ ping }}: {ping:.0}/s from the same process (before {ping_before:.0}, after \
         {ping_after:.0}); updates/s ÷ ping/s = {:.3}",
        rate / ping
    );
    let server_cpu = server_after - server_before;
    let all_cpu = process_after - process_before;
    println!(
        "CPU during the run: {all_cpu:.2} s in all, server threads {server_cpu:.2} s ({:.0} %), \
         bot and fake Bot API {:.2} s; per update: server {:.0} µs, bot side {:.0} µs",
        100.0 * server_cpu / all_cpu.max(f64::EPSILON),
        all_cpu - server_cpu,
        server_cpu * 1e6 / total as f64,
        (all_cpu - server_cpu) * 1e6 / total as f64,
    );
    for (kind, (count, spent)) in timed.calls.lock().expect("lock").iter() {
        println!(
            "  {kind:<20} {:>5.2} per update, mean {:>7.2} ms",
            *count as f64 / total as f64,
            spent.as_secs_f64() * 1e3 / (*count).max(1) as f64
        );
    }
    assert_eq!(complete, chats(), "every walk-through completed");
    let _ = stop.send(());
    let _ = server.await;
}
