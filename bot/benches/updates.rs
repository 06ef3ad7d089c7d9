//! Updates handled per second: the bot's real handler tree and GraphQL client against a
//! server spawned in-process (redb in a temporary folder) and teloxide_tests' fake Bot
//! API on loopback. Many focal points, each in their own chat, walk through component 1.1
//! of the stage questionnaire (commands, stage and rating presses, text answers, evidence,
//! Done): every update is de-duplicated on the server, checked for staleness, saved, and
//! answered with the next question. Run with `cargo bench -p bot --bench updates`;
//! target: at least 1,000 updates per second.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bot::api::Backend;
use bot::api::graphql::GraphqlBackend;
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

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
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
    let mut bot = MockBot::new(updates, handler_tree());
    bot.dependencies(deps![
        Arc::clone(&backend),
        Outbox::direct(),
        Storage::new()
    ]);
    let started = Instant::now();
    bot.dispatch().await;
    let elapsed = started.elapsed();

    // Check the work was done: every chat's component 1.1 has its required answers.
    let mut complete = 0;
    for n in 0..chats() {
        let target = bot::api::Target {
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
    assert_eq!(complete, chats(), "every walk-through completed");
    let _ = stop.send(());
    let _ = server.await;
}
