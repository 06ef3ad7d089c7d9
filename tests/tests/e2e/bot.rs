//! The bot end to end: its real handler tree and GraphQL client against a server spawned
//! on a free port, Telegram played by teloxide_tests' fake Bot API. A focal point links
//! her chat with a code, answers two components in Telegram, a third arrives through
//! GraphQL, `/review` shows all three with their channels, and `/submit` refuses while
//! components are missing.

use std::sync::Arc;
use std::time::Duration;

use bot::api::graphql::GraphqlBackend;
use bot::api::{Backend, QuestionKind};
use bot::dialogue::State;
use bot::outbox::Outbox;
use bot::{Storage, handler_tree, texts};
use serde_json::json;
use server::domain::TokenRole;
use teloxide::dptree::deps;
use teloxide::types::InlineKeyboardButtonKind;
use teloxide_tests::{MockBot, MockCallbackQuery, MockMessageText, MockUser};

use crate::fixtures::{self, ANA_CHAT};
use crate::support::{Backend as StoreBackend, TestServer, data};

type Mock = MockBot<bot::handlers::HandlerError, teloxide_tests::mock_bot::DistributionKey>;

async fn send(bot: &mut Mock, text: &str) -> Vec<String> {
    bot.update(MockMessageText::new().text(text));
    bot.dispatch().await;
    sent(bot)
}

fn sent(bot: &Mock) -> Vec<String> {
    bot.get_responses()
        .sent_messages
        .iter()
        .map(|m| m.text().unwrap_or_default().to_owned())
        .collect()
}

async fn press(bot: &mut Mock, label: &str) {
    let message = bot
        .get_responses()
        .sent_messages
        .last()
        .cloned()
        .expect("a message with buttons");
    let data = message
        .reply_markup()
        .into_iter()
        .flat_map(|markup| markup.inline_keyboard.iter().flatten())
        .find(|button| button.text == label)
        .and_then(|button| match &button.kind {
            InlineKeyboardButtonKind::CallbackData(data) => Some(data.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no button {label:?} under {:?}", message.text()));
    bot.update(MockCallbackQuery::new().data(data));
    bot.dispatch().await;
    let answered = bot.get_responses().answered_callback_queries;
    assert_eq!(
        answered.last().and_then(|a| a.text.clone()),
        None,
        "the press {label:?} was refused"
    );
}

/// Answers questions in the bot, as a person would, until the question on screen belongs
/// to `stop_at` (a component id).
async fn answer_until(bot: &mut Mock, stop_at: &str) -> usize {
    let mut steps = 0;
    loop {
        let state: State = bot.get_state().await;
        let State::Asking(prompt) = state else {
            panic!("no question on screen: {state:?}");
        };
        if prompt.question_id.starts_with(&format!("{stop_at}/")) {
            return steps;
        }
        steps += 1;
        assert!(steps < 60, "the walk-through does not advance");
        match prompt.kind {
            QuestionKind::Stage => press(bot, "3").await,
            QuestionKind::Rating => press(bot, "2").await,
            QuestionKind::Evidence => {
                let reply = send(bot, "Annual RBM report 2025\nperson: Ana Ruiz").await;
                assert_eq!(reply, vec![texts::evidence_recorded(2)]);
                press(bot, &texts::done_label()).await;
            }
            QuestionKind::OtherActivities => {
                send(bot, "Quarterly peer reviews").await;
                press(bot, "3").await;
                press(bot, &texts::done_label()).await;
            }
            _ => {
                send(bot, &format!("Answer to {}.", prompt.question_id)).await;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_focal_point_links_answers_reviews_and_cannot_submit_early() {
    let server = TestServer::spawn(StoreBackend::Redb).await;
    fixtures::arrange(&server).await;
    let bot_token = server.token(TokenRole::Bot).await;
    let backend: Arc<dyn Backend> = Arc::new(
        GraphqlBackend::new(&server.url, bot_token.into(), Duration::from_secs(10))
            .expect("client"),
    );
    let chat = MockUser::ID as i64;

    // A code for Ana, who so far used chat 1001.
    let created = server
        .admin(
            "mutation($input: CreateTelegramLinkCodeInput!) { createTelegramLinkCode(input: $input) { code } }",
            json!({ "input": { "personId": "p-ana" } }),
        )
        .await;
    let code = data(&created)["createTelegramLinkCode"]["code"]
        .as_str()
        .expect("a code")
        .to_owned();

    let mut bot: Mock = MockBot::new(MockMessageText::new().text("/start"), handler_tree());
    bot.dependencies(deps![
        Arc::clone(&backend),
        Outbox::direct(),
        Storage::new()
    ]);
    bot.dispatch().await;
    assert_eq!(sent(&bot), vec![texts::start_without_code()]);

    let linked = send(&mut bot, &format!("/start {code}")).await;
    assert_eq!(linked[0], texts::linked("p-ana"));
    assert!(
        linked[1].contains("Component 1.1"),
        "the walk-through starts: {}",
        linked[1]
    );
    assert_eq!(
        backend.me(chat).await.expect("linked").person_id,
        "p-ana",
        "the new chat acts for Ana"
    );
    assert!(
        backend.me(ANA_CHAT).await.is_err(),
        "the old chat no longer does"
    );

    // Two components in Telegram.
    let steps = answer_until(&mut bot, "1.3").await;
    assert!(steps >= 14, "two components took {steps} steps");

    // A third through GraphQL.
    let saved = server
        .admin(
            "mutation($input: SaveAnswersInput!) { saveAnswers(input: $input) { replayed } }",
            json!({ "input": {
                "response": fixtures::stages("unicef"),
                "idempotencyKey": "e2e-bot-third",
                "answers": [
                    { "questionId": "2.1/stage", "value": { "stage": 2 } },
                    { "questionId": "2.1/rationale", "value": { "text": "Set by the secretariat." } },
                    { "questionId": "2.1/evidence", "value": { "evidence": [{ "kind": "DOCUMENT", "text": "Board minutes" }] } },
                ],
            } }),
        )
        .await;
    data(&saved);

    // /review lists all three, each answer with its channel.
    let review = send(&mut bot, "/review").await.join("\n");
    for component in ["1.1", "1.2", "2.1"] {
        assert!(
            review.contains(&format!("\n\n{component}\n")),
            "{component} in {review}"
        );
    }
    assert!(
        review.contains("• stage: stage 3 — via Telegram"),
        "{review}"
    );
    assert!(
        review.contains("• evidence: Annual RBM report 2025; Ana Ruiz (person) — via Telegram"),
        "{review}"
    );
    assert!(review.contains("• stage: stage 2 — via API"), "{review}");
    assert!(
        review.contains("• rationale: Set by the secretariat. — via API"),
        "{review}"
    );

    // The server agrees on provenance.
    let response = server
        .admin(
            "query($r: ResponseRefInput!) { response(response: $r) { missingRequired \
             answer(questionId: \"1.2/rationale\") { channel actor { kind id } } } }",
            json!({ "r": fixtures::stages("unicef") }),
        )
        .await;
    let response = &data(&response)["response"];
    assert_eq!(
        response["answer"],
        json!({ "channel": "TELEGRAM", "actor": { "kind": "PERSON", "id": "p-ana" } })
    );
    let every = server
        .admin(
            "query($r: ResponseRefInput!) { response(response: $r) { answers { questionId } } }",
            json!({ "r": fixtures::stages("unicef") }),
        )
        .await;
    let answered: Vec<String> = data(&every)["response"]["answers"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|a| a["questionId"].as_str().unwrap_or_default().to_owned())
        .collect();
    let catalogue =
        server::catalogue::Catalogue::load(&tests::questionnaires_dir()).expect("catalogue");
    let stages = catalogue
        .get("jiu-rbm-stages", 1)
        .expect("stage questionnaire");
    for question in stages.questions() {
        if question.id.starts_with("1.1/") || question.id.starts_with("1.2/") {
            assert!(
                answered.contains(&question.id),
                "{} unanswered",
                question.id
            );
        }
    }
    let missing: Vec<String> = response["missingRequired"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|m| m.as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(!missing.is_empty());
    assert!(
        !missing
            .iter()
            .any(|m| m.starts_with("1.1/") || m.starts_with("2.1/"))
    );

    // /submit refuses and names what is missing.
    let refused = send(&mut bot, "/submit").await;
    assert_eq!(refused, vec![texts::submit_missing(&missing)]);
    let status = server
        .admin(
            "query($r: ResponseRefInput!) { response(response: $r) { status } }",
            json!({ "r": fixtures::stages("unicef") }),
        )
        .await;
    assert_eq!(data(&status)["response"]["status"], "DRAFT");

    drop(bot);
    server.stop().await;
}

/// The same walk-through serves the outcome protocol: a senior manager answers its first
/// question in Telegram, and the server records it with its channel.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_senior_manager_answers_the_outcome_protocol() {
    let server = TestServer::spawn(StoreBackend::Redb).await;
    fixtures::arrange(&server).await;
    let bot_token = server.token(TokenRole::Bot).await;
    let backend: Arc<dyn Backend> = Arc::new(
        GraphqlBackend::new(&server.url, bot_token.into(), Duration::from_secs(10))
            .expect("client"),
    );
    let ben = || {
        MockMessageText::new().chat(
            teloxide_tests::MockPrivateChat::new()
                .id(fixtures::BEN_CHAT)
                .build(),
        )
    };
    let mut bot: Mock = MockBot::new(ben().text("/continue"), handler_tree());
    bot.dependencies(deps![
        Arc::clone(&backend),
        Outbox::direct(),
        Storage::new()
    ]);
    bot.dispatch().await;
    let state: State = bot.get_state().await;
    let State::Asking(prompt) = state else {
        panic!("no question on screen: {state:?}");
    };
    assert_eq!(prompt.target.instrument, "jiu-rbm-outcomes@1");
    assert_eq!(prompt.target.person_id.as_deref(), Some("p-ben"));
    let first = prompt.question_id.clone();

    bot.update(ben().text("Our outcomes are reviewed every year."));
    bot.dispatch().await;
    let state: State = bot.get_state().await;
    let State::Asking(next) = state else {
        panic!("no next question: {state:?}");
    };
    assert_ne!(next.question_id, first, "the walk-through moved on");

    let read = server
        .admin(
            "query($r: ResponseRefInput!, $q: String!) { response(response: $r) \
             { answer(questionId: $q) { channel value { text } } } }",
            json!({ "r": fixtures::outcomes("unicef", "p-ben"), "q": first }),
        )
        .await;
    assert_eq!(
        data(&read)["response"]["answer"],
        json!({ "channel": "TELEGRAM", "value": { "text": "Our outcomes are reviewed every year." } })
    );

    bot.update(ben().text("/progress"));
    bot.dispatch().await;
    let progress = sent(&bot).join("\n");
    assert!(progress.contains("JIU RBM 2026 — "), "{progress}");
    drop(bot);
    server.stop().await;
}

/// The tree of the reminder job: every update polls the server once for due notices and
/// delivers them through the fake Bot API, as `bot::notices::run` does on a timer.
fn delivery_tree() -> teloxide::dispatching::UpdateHandler<bot::handlers::HandlerError> {
    teloxide::dptree::entry().endpoint(|bot: teloxide::Bot, backend: Arc<dyn Backend>| async move {
        let delivered = bot::notices::deliver_once(backend.as_ref(), &bot)
            .await
            .expect("the server answers");
        assert_eq!((delivered.dropped, delivered.retried), (0, 0));
        Ok(())
    })
}

/// A reminder from the server's scheduler reaches a linked person's chat through the
/// bot, once: the bot claims it over GraphQL, sends it, acknowledges it, and the next
/// poll finds nothing. People without a linked chat get none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_linked_person_gets_the_reminder_in_telegram_once() {
    let clock = server::clock::Clock::manual(crate::reminders::before(7));
    let server =
        TestServer::spawn_with_clock(StoreBackend::Redb, None, "e2e", clock.clone(), |_| {}).await;
    fixtures::arrange(&server).await;
    crate::reminders::set_deadline(&server).await;
    // Cy unlinks: he gets the email only.
    let store = &server.state.store;
    let cy_id = server::domain::PersonId::parse("p-cy").expect("id");
    let mut cy = store.person(&cy_id).await.expect("read").expect("Cy");
    cy.telegram_chat = None;
    store.put_person(&cy).await.expect("unlinked");

    // The scheduler's check (its task is off in tests; the check is the same).
    let report = server::service::reminders::Reminders::of(&server.state)
        .tick(clock.now())
        .await
        .expect("checked");
    assert_eq!(report.sent.len(), 3, "Ana, Ben and Cy are emailed");
    assert_eq!(report.notices, 2, "Ana and Ben are linked");

    let bot_token = server.token(TokenRole::Bot).await;
    let backend: Arc<dyn Backend> = Arc::new(
        GraphqlBackend::new(&server.url, bot_token.into(), Duration::from_secs(10))
            .expect("client"),
    );
    let mut bot: Mock = MockBot::new(MockMessageText::new().text("tick"), delivery_tree());
    bot.dependencies(deps![Arc::clone(&backend)]);
    bot.dispatch().await;
    let mut sent: Vec<(i64, String)> = bot
        .get_responses()
        .sent_messages
        .iter()
        .map(|m| (m.chat.id.0, m.text().unwrap_or_default().to_owned()))
        .collect();
    sent.sort();
    assert_eq!(
        sent.iter().map(|(chat, _)| *chat).collect::<Vec<_>>(),
        vec![ANA_CHAT, fixtures::BEN_CHAT],
        "one reminder to each linked chat"
    );
    let ana = &sent[0].1;
    assert!(
        ana.starts_with("Reminder, p-ana: answers for JIU RBM 2026 are due by 2030-03-17"),
        "{ana}"
    );
    assert!(ana.contains("0 of 51 required questions answered"), "{ana}");
    assert!(ana.contains("/continue"), "{ana}");

    // Delivered once: the next poll finds nothing.
    bot.update(MockMessageText::new().text("tick"));
    bot.dispatch().await;
    assert!(
        bot.get_responses().sent_messages.is_empty(),
        "no reminder twice"
    );
    drop(bot);
    server.stop().await;
}
