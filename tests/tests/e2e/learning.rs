//! Real-time learning end to end: an after-action review whose five participants answer
//! through both channels (two in Telegram through the bot's handler tree and its real
//! GraphQL client, three in the web form behind their emailed links), the answers
//! announced live on `roundEvents`, compiled per question with counts and roles, tagged
//! with themes, turned into the annex 2 findings report (HTML and Markdown), followed by
//! three actions whose owners the scheduler reminds exactly once when the injected clock
//! passes their due date; and the five-priority limit per organisation and round.

use std::sync::Arc;
use std::time::Duration;

use bot::api::Backend as BotBackend;
use bot::api::graphql::GraphqlBackend;
use bot::dialogue::State;
use bot::outbox::Outbox;
use bot::{Storage, handler_tree};
use serde_json::{Value, json};
use server::clock::Clock;
use server::domain::reminders::DAY_MILLIS;
use server::domain::{
    ActionId, ActionReminderKind, EmailAddress, Organisation, OrganisationId, Person, PersonId,
    RoundId, TelegramChatId, Timestamp, TokenRole,
};
use teloxide::dptree::deps;
use teloxide_tests::{MockBot, MockMessageText, MockPrivateChat};
use tests::smtp::{Received, SmtpSink};

use crate::support::{Backend, TestServer, data, error_code};

type Mock = MockBot<bot::handlers::HandlerError, teloxide_tests::mock_bot::DistributionKey>;

const ROUND: &str = "aar-flood-1";
/// Participants: (person, role, Telegram chat). Two answer in Telegram, three on the web.
const PARTICIPANTS: [(&str, &str, Option<i64>); 5] = [
    ("p-p1", "Field officer", Some(2001)),
    ("p-p2", "Logistics officer", Some(2002)),
    ("p-p3", "Protection officer", None),
    ("p-p4", "Programme manager", None),
    ("p-p5", "Community mobiliser", None),
];
const QUESTIONS: [&str; 4] = [
    "questions/expected",
    "questions/occurred",
    "questions/went-well",
    "questions/improve",
];

const CREATE_ACTIVITY: &str = "mutation($input: CreateActivityInput!) { \
    createActivity(input: $input) { roundId kind cycle participantRoles { personId role } } }";
const CREATE_ACTION: &str =
    "mutation($input: CreateActionInput!) { createAction(input: $input) { id status priority } }";

async fn arrange(server: &TestServer) {
    let store = &server.state.store;
    store
        .put_organisation(
            &Organisation::new(OrganisationId::parse("iom").expect("id"), "IOM", None)
                .expect("organisation"),
        )
        .await
        .expect("stored");
    let people = PARTICIPANTS
        .iter()
        .map(|(id, _, chat)| (*id, *chat))
        .chain([("p-fac", None)]);
    for (id, chat) in people {
        store
            .put_person(&Person {
                id: PersonId::parse(id).expect("id"),
                name: format!("Name of {id}"),
                email: EmailAddress::parse(&format!("{id}@example.org")).expect("email"),
                telegram_chat: chat.map(TelegramChatId),
            })
            .await
            .expect("stored");
    }
}

/// Creates round [`ROUND`] (the after-action review, due in 30 days) and its activity,
/// then opens it.
async fn create_activity(server: &TestServer, now: Timestamp) {
    let created = server
        .admin(
            "mutation($input: CreateRoundInput!) { createRound(input: $input) { round { id } } }",
            json!({ "input": {
                "id": ROUND,
                "title": "Flood response AAR",
                "instruments": ["iom-rtl-after-action-review@1"],
                "organisationIds": ["iom"],
                "deadline": now.plus_millis(30 * DAY_MILLIS).to_rfc3339(),
            } }),
        )
        .await;
    data(&created);
    let participants: Vec<Value> = PARTICIPANTS
        .iter()
        .map(|(id, role, _)| json!({ "personId": id, "organisationId": "iom", "role": role }))
        .collect();
    let activity = server
        .admin(
            CREATE_ACTIVITY,
            json!({ "input": {
                "roundId": ROUND,
                "kind": "AFTER_ACTION_REVIEW",
                "intervention": "Flood response in the north",
                "facilitatorId": "p-fac",
                "period": "the first two weeks of the response",
                "conceptNote": [
                    { "questionId": "context/context", "text": "Floods displaced 20000 people in the north." },
                    { "questionId": "purpose/purpose", "text": "Learn from the first distribution cycle." },
                ],
                "participants": participants,
            } }),
        )
        .await;
    let activity = &data(&activity)["createActivity"];
    assert_eq!(activity["kind"], "AFTER_ACTION_REVIEW");
    assert_eq!(activity["cycle"], 1);
    assert_eq!(
        activity["participantRoles"].as_array().map(Vec::len),
        Some(5)
    );
    let opened = server
        .admin(
            "mutation($input: SetRoundStatusInput!) { setRoundStatus(input: $input) { round { status } } }",
            json!({ "input": { "roundId": ROUND, "status": "OPEN" } }),
        )
        .await;
    assert_eq!(data(&opened)["setRoundStatus"]["round"]["status"], "OPEN");
}

fn chat(id: i64) -> MockMessageText {
    MockMessageText::new().chat(MockPrivateChat::new().id(id).build())
}

/// The bot as it runs: its GraphQL client on `server` with the bot token `token`, and its
/// handler tree after `/continue` in chat `chat_id` (dispatched).
async fn bot_continuing(
    server: &TestServer,
    token: &str,
    chat_id: i64,
) -> (Arc<dyn BotBackend>, Mock) {
    let client: Arc<dyn BotBackend> = Arc::new(
        GraphqlBackend::new(
            &server.url,
            token.to_owned().into(),
            Duration::from_secs(10),
        )
        .expect("client"),
    );
    let mut bot: Mock = MockBot::new(chat(chat_id).text("/continue"), handler_tree());
    bot.dependencies(deps![Arc::clone(&client), Outbox::direct(), Storage::new()]);
    bot.dispatch().await;
    (client, bot)
}

/// The personal link in a received message: `<base>/l/<64 hex>`.
fn link_in(message: &Received, base: &str) -> String {
    let text = tests::smtp::decode_quoted_printable(&message.data);
    let prefix = format!("{base}/l/");
    let start = text.find(&prefix).expect("a personal link");
    let secret: String = text[start + prefix.len()..]
        .chars()
        .take_while(char::is_ascii_hexdigit)
        .collect();
    format!("{prefix}{secret}")
}

/// Waits until the sink holds `count` messages, then a few more scheduler ticks, and
/// asserts that no more arrived.
async fn exactly(sink: &SmtpSink, count: usize) -> Vec<Received> {
    let sink = sink.clone();
    tokio::task::spawn_blocking(move || {
        sink.wait_for(count, Duration::from_secs(30));
        std::thread::sleep(Duration::from_millis(3_000));
        let messages = sink.messages();
        assert_eq!(messages.len(), count, "each message once");
        messages
    })
    .await
    .expect("waited")
}

async fn spawn(backend: Backend, sink: &SmtpSink, clock: &Clock) -> (TestServer, String) {
    let port = tests::free_port();
    let base = format!("http://127.0.0.1:{port}");
    let redis = (backend == Backend::Redis).then(|| Arc::new(tests::RedisServer::start()));
    let server = TestServer::spawn_with_clock(backend, redis, "learn", clock.clone(), |settings| {
        settings.server.bind = format!("127.0.0.1:{port}");
        settings.server.public_base_url = format!("http://127.0.0.1:{port}");
        settings.email.smtp_host = "127.0.0.1".to_owned();
        settings.email.smtp_port = sink.port();
        settings.email.tls = server::config::SmtpTls::None;
        settings.reminders.enabled = true;
        settings.reminders.check_interval_secs = 1;
        settings.reminders.action_days_before = 3;
    })
    .await;
    (server, base)
}

async fn after_action_review(backend: Backend) {
    let sink = SmtpSink::start();
    let start = Timestamp::now();
    let clock = Clock::manual(start);
    let (server, base) = spawn(backend, &sink, &clock).await;
    arrange(&server).await;
    create_activity(&server, start).await;

    // The facilitator watches the round's events live.
    let mut socket = crate::events::connect(&server, Some(&server.admin)).await;
    crate::events::subscribe(&mut socket, "1", ROUND).await;
    crate::events::until_live(&server, &mut socket, "1", ROUND).await;

    // Two participants answer in Telegram.
    let bot_token = server.token(TokenRole::Bot).await;
    let first_chat = PARTICIPANTS[0].2.expect("a chat");
    let (_, mut bot) = bot_continuing(&server, &bot_token, first_chat).await;
    for (index, (person, _, telegram)) in PARTICIPANTS.iter().enumerate() {
        let Some(chat_id) = telegram else {
            continue;
        };
        if index > 0 {
            bot.update(chat(*chat_id).text("/continue"));
            bot.dispatch().await;
        }
        for _ in QUESTIONS {
            let state: State = bot.get_state().await;
            let State::Asking(prompt) = state else {
                panic!("no question on screen for {person}: {state:?}");
            };
            assert_eq!(prompt.target.instrument, "iom-rtl-after-action-review@1");
            bot.update(chat(*chat_id).text(format!(
                "Telegram answer of {person} to {}",
                prompt.question_id
            )));
            bot.dispatch().await;
            if index == 0 && prompt.question_id == QUESTIONS[0] {
                let event = crate::events::next_event(&mut socket, "1").await;
                assert_eq!(event["kind"], "ANSWERS_SAVED", "{event}");
                assert_eq!(event["channel"], "TELEGRAM", "{event}");
                assert_eq!(
                    event["responseId"],
                    format!("{ROUND}/iom/iom-rtl-after-action-review@1/~p-p1")
                );
            }
        }
    }
    drop(bot);

    // Everyone is invited by email; three answer in the web form behind their link.
    let invited = server
        .admin(
            "mutation($input: InviteByEmailInput!) { inviteByEmail(input: $input) { sent { personId } failed { personId } } }",
            json!({ "input": { "roundId": ROUND, "organisationId": "iom" } }),
        )
        .await;
    assert_eq!(
        data(&invited)["inviteByEmail"]["sent"]
            .as_array()
            .map(Vec::len),
        Some(5)
    );
    let invitations = exactly(&sink, 5).await;
    let client = crate::web::client();
    for (n, (person, _, telegram)) in PARTICIPANTS.iter().enumerate() {
        if telegram.is_some() {
            continue;
        }
        let message = invitations
            .iter()
            .find(|m| m.to == [format!("{person}@example.org")])
            .expect("an invitation");
        let (status, _, cookie) = crate::web::open(&client, &link_in(message, &base)).await;
        assert_eq!(status, 303);
        let cookie = cookie.expect("a session");
        let (status, html) = crate::web::get(&client, &base, "/form", &cookie).await;
        assert_eq!(status, 200);
        let csrf = crate::web::hidden(&html, "csrf");
        let mut fields = crate::web::fill_all(&html, &format!("Web answer of {person}"));
        assert_eq!(fields.len(), QUESTIONS.len(), "{fields:?}");
        fields.push(("csrf".to_owned(), csrf));
        fields.push(("request".to_owned(), format!("learn-{n}")));
        fields.push(("action".to_owned(), "save".to_owned()));
        let fields: Vec<(&str, &str)> = fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let (status, _, _) = crate::web::post(&client, &base, &cookie, &fields).await;
        assert_eq!(status, 303, "saved");
    }
    // The web answers reach the subscriber too.
    let mut web_events = 0;
    for _ in 0..40 {
        let event = crate::events::next_event(&mut socket, "1").await;
        if event["channel"] == "WEB" {
            assert_eq!(event["kind"], "ANSWERS_SAVED");
            assert_eq!(event["questionIds"].as_array().map(Vec::len), Some(4));
            web_events += 1;
            if web_events == 3 {
                break;
            }
        }
    }
    assert_eq!(web_events, 3, "each web save is announced");

    // Compiled findings: five answers per question, with roles and channels.
    let findings = server
        .admin(
            "query($r: String!) { activityFindings(roundId: $r) { participants responded submitted \
             questions { questionId text count answers { responseId personId role channel text } } } }",
            json!({ "r": ROUND }),
        )
        .await;
    let findings = &data(&findings)["activityFindings"];
    assert_eq!(findings["participants"], 5);
    assert_eq!(findings["responded"], 5);
    let questions = findings["questions"].as_array().expect("questions");
    assert_eq!(questions.len(), 4);
    assert_eq!(questions[0]["text"], "What was expected to happen?");
    for (question, id) in questions.iter().zip(QUESTIONS) {
        assert_eq!(question["questionId"], id);
        assert_eq!(question["count"], 5, "{question}");
        let answers = question["answers"].as_array().expect("answers");
        let channel = |c: &str| answers.iter().filter(|a| a["channel"] == c).count();
        assert_eq!((channel("telegram"), channel("web")), (2, 3), "{question}");
        for (person, role, _) in PARTICIPANTS {
            let answer = answers
                .iter()
                .find(|a| a["personId"] == person)
                .unwrap_or_else(|| panic!("{person} answered {id}"));
            assert_eq!(answer["role"], role);
        }
    }
    let p3_answer = questions[0]["answers"]
        .as_array()
        .and_then(|a| a.iter().find(|a| a["personId"] == "p-p3"))
        .expect("p-p3's answer");
    assert_eq!(p3_answer["text"], "Web answer of p-p3");

    // The facilitator tags answers with themes.
    let tagged = server
        .admin(
            "mutation($r: String!, $resp: String!) { tagAnswer(roundId: $r, responseId: $resp, \
             questionId: \"questions/expected\", themes: [\"logistics\", \"timing\", \"logistics\"]) \
             { questions { themes { theme count } } } }",
            json!({ "r": ROUND, "resp": p3_answer["responseId"] }),
        )
        .await;
    assert_eq!(
        data(&tagged)["tagAnswer"]["questions"][0]["themes"],
        json!([{ "theme": "logistics", "count": 1 }, { "theme": "timing", "count": 1 }])
    );

    // Three actions with owners, due in ten days.
    let due = start.plus_millis(10 * DAY_MILLIS).to_rfc3339();
    for (id, owner, priority) in [
        ("pre-position-stock", "p-fac", true),
        ("hotline-hours", "p-p1", false),
        ("referral-map", "p-p3", false),
    ] {
        let created = server
            .admin(
                CREATE_ACTION,
                json!({ "input": {
                    "id": id, "roundId": ROUND, "organisationId": "iom", "link": "ACTIVITY",
                    "text": format!("Action {id}"), "ownerId": owner, "due": due, "priority": priority,
                } }),
            )
            .await;
        assert_eq!(data(&created)["createAction"]["status"], "OPEN");
    }

    // The findings report (annex 2), edited and rendered.
    let edited = server
        .admin(
            "mutation($r: String!) { editFindingsReport(roundId: $r, sectionId: \"conclusions/conclusions\", \
             text: \"The response was timely.\") { sections { sectionId edited } } }",
            json!({ "r": ROUND }),
        )
        .await;
    let sections = data(&edited)["editFindingsReport"]["sections"]
        .as_array()
        .expect("sections")
        .clone();
    assert!(
        sections
            .iter()
            .any(|s| s["sectionId"] == "conclusions/conclusions" && s["edited"] == true)
    );
    let report = server
        .admin(
            "query($r: String!) { findingsReport(roundId: $r) { sections { sectionId text } \
             html: rendered(format: HTML) markdown: rendered(format: MARKDOWN) } }",
            json!({ "r": ROUND }),
        )
        .await;
    let report = &data(&report)["findingsReport"];
    let section = |id: &str| -> String {
        report["sections"]
            .as_array()
            .and_then(|s| s.iter().find(|s| s["sectionId"] == id))
            .and_then(|s| s["text"].as_str())
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(
        section("context/context"),
        "Floods displaced 20000 people in the north."
    );
    assert_eq!(
        section("objectives/objectives"),
        "Learn from the first distribution cycle."
    );
    assert!(section("methodology/methodology").contains("5 participants"));
    assert!(section("findings/findings").contains("What was expected to happen? (5 answers)"));
    assert!(section("findings/findings").contains("Themes: logistics (1), timing (1)"));
    assert!(section("action-plan/action-plan").contains("Action referral-map"));
    for (format, document) in [("HTML", &report["html"]), ("Markdown", &report["markdown"])] {
        let document = document.as_str().expect("rendered");
        for heading in [
            "Intervention context",
            "Objectives of the RTL activity",
            "Methodology and process",
            "Findings",
            "Conclusions",
            "Recommendations",
            "Action plan",
            "For more information",
        ] {
            assert!(document.contains(heading), "{format}: {heading}");
        }
        for text in [
            "Web answer of p-p4",
            "Telegram answer of p-p2 to questions/improve",
            "The response was timely.",
            "Action pre-position",
            "Floods displaced 20000 people in the north.",
        ] {
            assert!(document.contains(text), "{format}: {text}\n{document}");
        }
    }
    let html = report["html"].as_str().unwrap_or_default();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("<h2>Findings</h2>"), "{html}");
    assert!(html.contains("<h3>Intervention title</h3>"), "{html}");
    let markdown = report["markdown"].as_str().unwrap_or_default();
    assert!(markdown.contains("\n## Findings\n"), "{markdown}");

    // The same report as files behind the API token.
    let http = reqwest::Client::new();
    let url = format!("{}/reports/{ROUND}/findings.html", server.url);
    let anonymous = http.get(&url).send().await.expect("answer");
    assert_eq!(anonymous.status().as_u16(), 401);
    let download = http
        .get(&url)
        .bearer_auth(&server.admin)
        .send()
        .await
        .expect("answer");
    assert_eq!(download.status().as_u16(), 200);
    assert_eq!(download.text().await.expect("body"), html);
    let download = http
        .get(format!("{}/reports/{ROUND}/findings.md", server.url))
        .bearer_auth(&server.admin)
        .send()
        .await
        .expect("answer");
    assert_eq!(download.status().as_u16(), 200);
    assert_eq!(download.text().await.expect("body"), markdown);

    // Nothing is overdue yet; no action reminder went out.
    let overdue = server.admin("{ overdueActions { id } }", json!({})).await;
    assert_eq!(data(&overdue)["overdueActions"], json!([]));
    assert_eq!(sink.messages().len(), 5, "only the invitations so far");

    // The clock passes the due date: the three are overdue and their owners are reminded
    // once, whatever further ticks come.
    clock.set(start.plus_millis(11 * DAY_MILLIS));
    let messages = exactly(&sink, 8).await;
    let mut reminded: Vec<String> = messages[5..].iter().flat_map(|m| m.to.clone()).collect();
    reminded.sort();
    assert_eq!(
        reminded,
        ["p-fac@example.org", "p-p1@example.org", "p-p3@example.org"]
    );
    for message in &messages[5..] {
        let text = tests::smtp::decode_quoted_printable(&message.data);
        assert!(
            text.contains("Overdue action: Flood response AAR"),
            "{text}"
        );
        assert!(text.contains("Action "), "{text}");
    }
    let overdue = server
        .admin(
            "query($r: String!) { overdueActions(roundId: $r) { id ownerId } }",
            json!({ "r": ROUND }),
        )
        .await;
    assert_eq!(
        data(&overdue)["overdueActions"],
        json!([
            { "id": "hotline-hours", "ownerId": "p-p1" },
            { "id": "pre-position-stock", "ownerId": "p-fac" },
            { "id": "referral-map", "ownerId": "p-p3" },
        ])
    );
    let round = RoundId::parse(ROUND).expect("id");
    for id in ["hotline-hours", "pre-position-stock", "referral-map"] {
        let marks = server
            .state
            .store
            .action_reminder_marks(&round, &ActionId::parse(id).expect("id"))
            .await
            .expect("marks");
        assert_eq!(marks.len(), 1, "{id}");
        assert_eq!(marks[0].kind, ActionReminderKind::Overdue);
    }
    // A day later, more ticks: still nobody reminded twice.
    clock.set(start.plus_millis(12 * DAY_MILLIS));
    exactly(&sink, 8).await;

    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_after_action_review_from_both_channels_to_reminded_actions_on_redb() {
    after_action_review(Backend::Redb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_after_action_review_from_both_channels_to_reminded_actions_on_redis() {
    after_action_review(Backend::Redis).await;
}

async fn sixth_priority_action_is_refused(backend: Backend) {
    let server = TestServer::spawn(backend).await;
    arrange(&server).await;
    create_activity(&server, Timestamp::now()).await;
    let action = |n: usize, priority: bool| {
        json!({ "input": {
            "id": format!("a-{n}"), "roundId": ROUND, "organisationId": "iom",
            "link": "COMPONENT", "target": "2.3", "text": format!("Priority {n}"),
            "ownerId": "p-fac", "due": "2030-01-01T00:00:00Z", "priority": priority,
        } })
    };
    for n in 1..=5 {
        let created = server.admin(CREATE_ACTION, action(n, true)).await;
        assert_eq!(data(&created)["createAction"]["priority"], true);
    }
    let refused = server.admin(CREATE_ACTION, action(6, true)).await;
    assert_eq!(error_code(&refused), Some("CONFLICT"), "{refused}");
    assert_eq!(
        refused["errors"][0]["extensions"]["details"],
        json!(["PRIORITY_ACTION_LIMIT"])
    );
    let message = refused["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("already has 5 priority actions"),
        "{message}"
    );
    let round = RoundId::parse(ROUND).expect("id");
    let stored = server.state.store.actions(&round).await.expect("read");
    assert_eq!(stored.len(), 5, "the sixth was not written");
    assert!(stored.iter().all(|a| a.priority));

    // An ordinary sixth is fine, but promoting it is refused and changes nothing.
    data(&server.admin(CREATE_ACTION, action(6, false)).await);
    let promoted = server
        .admin(
            "mutation { updateAction(input: { roundId: \"aar-flood-1\", id: \"a-6\", priority: true, \
             status: IN_PROGRESS }) { id } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&promoted), Some("CONFLICT"));
    let sixth = server
        .state
        .store
        .actions(&round)
        .await
        .expect("read")
        .into_iter()
        .find(|a| a.id.as_str() == "a-6")
        .expect("a-6");
    assert!(!sixth.priority);
    assert_eq!(
        sixth.status,
        server::domain::ActionStatus::Open,
        "nothing changed"
    );

    // Done actions still count: the limit is on priority actions, whatever their status.
    let done = server
        .admin(
            "mutation { updateAction(input: { roundId: \"aar-flood-1\", id: \"a-1\", status: DONE }) \
             { status } }",
            json!({}),
        )
        .await;
    assert_eq!(data(&done)["updateAction"]["status"], "DONE");
    let back = server
        .admin(
            "mutation { updateAction(input: { roundId: \"aar-flood-1\", id: \"a-1\", status: IN_PROGRESS }) \
             { status } }",
            json!({}),
        )
        .await;
    assert_eq!(
        error_code(&back),
        Some("CONFLICT"),
        "done goes back to open only"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sixth_priority_action_is_refused_on_redb() {
    sixth_priority_action_is_refused(Backend::Redb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sixth_priority_action_is_refused_on_redis() {
    sixth_priority_action_is_refused(Backend::Redis).await;
}

/// Saves `text` as `person`'s answer to `question` in `round` (through GraphQL, as the
/// administrator).
async fn answer(server: &TestServer, round: &str, person: &str, question: &str, text: &str) {
    let saved = server
        .admin(
            "mutation($input: SaveAnswersInput!) { saveAnswers(input: $input) { replayed } }",
            json!({ "input": {
                "response": {
                    "roundId": round, "organisationId": "iom",
                    "instrument": "iom-rtl-after-action-review@1", "personId": person,
                },
                "idempotencyKey": format!("{round}-{person}-{question}"),
                "answers": [{ "questionId": question, "value": { "text": text } }],
            } }),
        )
        .await;
    data(&saved);
}

/// A monthly review repeats: the next cycle reuses the questions, participants and
/// concept note, and the answers of both cycles come back side by side.
/// The cycles of the repeated activity `aar-flood-2`, each with the fields `selection`.
async fn cycles_of(server: &TestServer, selection: &str) -> Vec<Value> {
    let cycles = server
        .admin(
            &format!("query {{ activityCycles(roundId: \"aar-flood-2\") {{ {selection} }} }}"),
            json!({}),
        )
        .await;
    data(&cycles)["activityCycles"]
        .as_array()
        .expect("cycles")
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_activity_compares_answers_across_cycles() {
    let server = TestServer::spawn(Backend::Redb).await;
    arrange(&server).await;
    create_activity(&server, Timestamp::now()).await;
    answer(
        &server,
        ROUND,
        "p-p1",
        "questions/expected",
        "Fast delivery",
    )
    .await;

    let next = server
        .admin(
            "mutation($input: CreateNextCycleInput!) { createNextCycle(input: $input) \
             { roundId cycle previousRoundId period participantRoles { personId role } \
               conceptNote { questionId text } } }",
            json!({ "input": {
                "roundId": ROUND, "id": "aar-flood-2", "title": "Flood response AAR, cycle 2",
                "period": "weeks three and four",
            } }),
        )
        .await;
    let next = &data(&next)["createNextCycle"];
    assert_eq!(next["cycle"], 2);
    assert_eq!(next["previousRoundId"], ROUND);
    assert_eq!(next["participantRoles"].as_array().map(Vec::len), Some(5));
    assert_eq!(next["conceptNote"].as_array().map(Vec::len), Some(2));
    let again = server
        .admin(
            "mutation($input: CreateNextCycleInput!) { createNextCycle(input: $input) { cycle } }",
            json!({ "input": {
                "roundId": ROUND, "id": "aar-flood-2b", "title": "Twice", "period": "x",
            } }),
        )
        .await;
    assert_eq!(
        error_code(&again),
        Some("CONFLICT"),
        "a cycle is repeated once"
    );

    // The new round has the same participants and questions; it opens like any round.
    let round = server
        .admin(
            "query { round(id: \"aar-flood-2\") { instruments status } }",
            json!({}),
        )
        .await;
    assert_eq!(
        data(&round)["round"]["instruments"],
        json!(["iom-rtl-after-action-review@1"])
    );
    let opened = server
        .admin(
            "mutation { setRoundStatus(input: { roundId: \"aar-flood-2\", status: OPEN }) { round { status } } }",
            json!({}),
        )
        .await;
    data(&opened);
    answer(
        &server,
        "aar-flood-2",
        "p-p1",
        "questions/expected",
        "Faster delivery",
    )
    .await;
    answer(
        &server,
        "aar-flood-2",
        "p-p2",
        "questions/expected",
        "Roads reopened",
    )
    .await;

    let cycles = cycles_of(
        &server,
        "roundId cycle period participants questions { questionId count answers { personId text } }",
    )
    .await;
    assert_eq!(cycles.len(), 2);
    assert_eq!(
        (&cycles[0]["roundId"], &cycles[0]["cycle"]),
        (&json!(ROUND), &json!(1))
    );
    assert_eq!(
        (&cycles[1]["roundId"], &cycles[1]["cycle"]),
        (&json!("aar-flood-2"), &json!(2))
    );
    assert_eq!(cycles[1]["period"], "weeks three and four");
    assert_eq!(cycles[1]["participants"], 5);
    assert_eq!(cycles[0]["questions"][0]["count"], 1);
    assert_eq!(
        cycles[0]["questions"][0]["answers"],
        json!([{ "personId": "p-p1", "text": "Fast delivery" }])
    );
    assert_eq!(cycles[1]["questions"][0]["count"], 2);
    assert_eq!(
        cycles[1]["questions"][0]["answers"],
        json!([
            { "personId": "p-p1", "text": "Faster delivery" },
            { "personId": "p-p2", "text": "Roads reopened" },
        ])
    );
    server.stop().await;
}

/// Bad input to the learning mutations is refused with a coded error and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_learning_input_is_refused_and_changes_nothing() {
    let server = TestServer::spawn(Backend::Redb).await;
    arrange(&server).await;
    let created = server
        .admin(
            "mutation { createRound(input: { id: \"rtr-1\", title: \"RTR\", \
             instruments: [\"iom-rtl-real-time-review@1\"], organisationIds: [\"iom\"] }) { round { id } } }",
            json!({}),
        )
        .await;
    data(&created);
    let refused = server
        .admin(
            CREATE_ACTIVITY,
            json!({ "input": {
                "roundId": "rtr-1",
                "kind": "AFTER_ACTION_REVIEW",
                "intervention": " ",
                "facilitatorId": "p-nobody",
                "period": "March",
                "conceptNote": [{ "questionId": "no/such", "text": "x" }],
                "participants": [{ "personId": "p-p1", "organisationId": "unhcr", "role": "x" }],
            } }),
        )
        .await;
    assert_eq!(error_code(&refused), Some("BAD_USER_INPUT"));
    let message = refused["errors"][0]["message"].as_str().unwrap_or_default();
    for part in [
        "iom-rtl-after-action-review",
        "intervention",
        "p-nobody",
        "no/such",
        "unhcr",
    ] {
        assert!(message.contains(part), "{part} in {message}");
    }
    let round = RoundId::parse("rtr-1").expect("id");
    assert_eq!(
        server.state.store.activity(&round).await.expect("read"),
        None
    );
    assert!(
        server
            .state
            .store
            .assignments(&round)
            .await
            .expect("read")
            .is_empty(),
        "no participant was assigned"
    );
    // An action linked to the activity of a round that is none, and an unknown owner.
    let refused = server
        .admin(
            CREATE_ACTION,
            json!({ "input": {
                "id": "a-1", "roundId": "rtr-1", "organisationId": "iom", "link": "ACTIVITY",
                "text": "x", "ownerId": "p-fac", "due": "2030-01-01T00:00:00Z",
            } }),
        )
        .await;
    assert_eq!(error_code(&refused), Some("BAD_USER_INPUT"));
    let refused = server
        .admin(
            CREATE_ACTION,
            json!({ "input": {
                "id": "a-1", "roundId": "rtr-1", "organisationId": "iom", "link": "PILLAR",
                "target": "two", "text": "x", "ownerId": "p-fac", "due": "2030-01-01T00:00:00Z",
            } }),
        )
        .await;
    assert_eq!(error_code(&refused), Some("BAD_USER_INPUT"));
    assert!(
        server
            .state
            .store
            .actions(&round)
            .await
            .expect("read")
            .is_empty()
    );
    server.stop().await;
}

/// The activity's period fills the `{period}` placeholders of the lessons-learned
/// questions where participants see them: in the bot's walk-through and in the web
/// form behind a link (with no activity, the printed default stays).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_activity_period_shows_in_the_bot_and_the_web_form() {
    let server = TestServer::spawn(Backend::Redb).await;
    arrange(&server).await;
    let created = server
        .admin(
            "mutation { createRound(input: { id: \"ll-1\", title: \"Lessons\", \
             instruments: [\"iom-rtl-lessons-learned@1\"], organisationIds: [\"iom\"] }) { round { id } } }",
            json!({}),
        )
        .await;
    data(&created);
    let activity = server
        .admin(
            CREATE_ACTIVITY,
            json!({ "input": {
                "roundId": "ll-1",
                "kind": "LESSONS_LEARNED",
                "intervention": "Shelter programme",
                "facilitatorId": "p-fac",
                "period": "March 2026",
                "participants": [
                    { "personId": "p-p1", "organisationId": "iom", "role": "Field officer" },
                    { "personId": "p-p3", "organisationId": "iom", "role": "Protection officer" },
                ],
            } }),
        )
        .await;
    assert_eq!(data(&activity)["createActivity"]["kind"], "LESSONS_LEARNED");
    let opened = server
        .admin(
            "mutation { setRoundStatus(input: { roundId: \"ll-1\", status: OPEN }) { round { status } } }",
            json!({}),
        )
        .await;
    assert_eq!(data(&opened)["setRoundStatus"]["round"]["status"], "OPEN");

    // Telegram: the first question as the bot shows it.
    let bot_token = server.token(TokenRole::Bot).await;
    let (_, bot) = bot_continuing(&server, &bot_token, 2001).await;
    let state: State = bot.get_state().await;
    let State::Asking(prompt) = state else {
        panic!("no question on screen: {state:?}");
    };
    assert_eq!(prompt.question_id, "questions/key-successes");
    let shown: Vec<String> = bot
        .get_responses()
        .sent_messages
        .iter()
        .map(|m| m.text().unwrap_or_default().to_owned())
        .collect();
    assert!(
        shown
            .iter()
            .any(|t| t.contains("What were the key successes in March 2026?")),
        "{shown:?}"
    );
    assert!(
        !shown.iter().any(|t| t.contains("the last period")),
        "{shown:?}"
    );
    drop(bot);

    // The web form behind p-p3's link.
    let round = server
        .state
        .store
        .round(&RoundId::parse("ll-1").expect("id"))
        .await
        .expect("read")
        .expect("round");
    let link = server::service::links::create(
        server.state.store.as_ref(),
        &round,
        server::domain::LinkBinding {
            response: server::domain::ResponseKey {
                round: round.id.clone(),
                organisation: OrganisationId::parse("iom").expect("id"),
                instrument: server::catalogue::InstrumentRef::parse("iom-rtl-lessons-learned@1")
                    .expect("ref"),
                respondent: server::domain::Respondent::Person(
                    PersonId::parse("p-p3").expect("id"),
                ),
            },
            person: PersonId::parse("p-p3").expect("id"),
        },
        Timestamp::now(),
    )
    .await
    .expect("link made");
    let client = crate::web::client();
    let (status, _, cookie) = crate::web::open(
        &client,
        &server::service::links::url(&server.url, &link.secret),
    )
    .await;
    assert_eq!(status, 303);
    let (status, html) =
        crate::web::get(&client, &server.url, "/form", &cookie.expect("a session")).await;
    assert_eq!(status, 200);
    for text in [
        "What were the key successes in March 2026?",
        "What were the biggest challenges in March 2026?",
        "What are the top three learnings from March 2026?",
    ] {
        assert!(html.contains(text), "{text}");
    }
    assert!(!html.contains("the last period"));

    // The round's values are only for callers who may read the response: not the bot
    // for another participant's chat, nor a validator of another round.
    let ask = |person: &str| {
        json!({ "r": { "roundId": "ll-1", "organisationId": "iom",
            "instrument": "iom-rtl-lessons-learned@1", "personId": person } })
    };
    const ASKED: &str = "query($r: ResponseRefInput!) { question(instrumentId: \
        \"iom-rtl-lessons-learned\", version: 1, questionId: \"questions/key-successes\", \
        response: $r) { prompt { text } } }";
    let own = server
        .graphql_as(Some(&bot_token), Some(2001), ASKED, ask("p-p1"))
        .await;
    assert_eq!(
        data(&own)["question"]["prompt"]["text"],
        "What were the key successes in March 2026?"
    );
    let other = server
        .graphql_as(Some(&bot_token), Some(2001), ASKED, ask("p-p3"))
        .await;
    assert_eq!(error_code(&other), Some("FORBIDDEN"), "{other}");
    let validator = server.validator(&["aar-flood-1"]).await;
    let outside = server
        .graphql_as(Some(&validator), None, ASKED, ask("p-p3"))
        .await;
    assert_eq!(error_code(&outside), Some("FORBIDDEN"), "{outside}");

    // Asked without the response, the question keeps the printed default.
    let plain = server
        .admin(
            "{ question(instrumentId: \"iom-rtl-lessons-learned\", version: 1, \
             questionId: \"questions/key-successes\") { prompt { text } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        data(&plain)["question"]["prompt"]["text"],
        "What were the key successes in the last period?"
    );
    server.stop().await;
}

const ADDED: &str = "How did the community hotline work?";
const ADD_QUESTION: &str = "mutation($r: String!, $t: String!) { addActivityQuestion(roundId: $r, \
    text: $t) { roundId addedQuestions { questionId text addedAt } } }";

/// The added questions stored on round `round`'s activity, as (id, text).
async fn stored_added(server: &TestServer, round: &str) -> Vec<(String, String)> {
    server
        .state
        .store
        .activity(&RoundId::parse(round).expect("id"))
        .await
        .expect("read")
        .expect("an activity")
        .added
        .into_iter()
        .map(|q| (q.id.to_string(), q.text))
        .collect()
}

/// A participant's response to the after-action review of `round`, for the bot.
fn target(round: &str, person: &str) -> bot::api::Target {
    bot::api::Target {
        round_id: round.to_owned(),
        organisation_id: "iom".to_owned(),
        instrument: "iom-rtl-after-action-review@1".to_owned(),
        person_id: Some(person.to_owned()),
    }
}

/// The facilitator adds a question of their own to an open after-action review: the bot
/// asks it after the set's questions, the web form shows it as a text area and its
/// receipt lists it, the findings and the report compile it with the facilitator's
/// text, the next cycle carries it and the cycles compare it. Bad input (an empty or too
/// long text, a repeat, an eleventh question, a closed round, a non-admin token, an
/// unknown `added/<n>` in `saveAnswers`) is refused with a code and changes nothing.
async fn facilitator_added_questions(backend: Backend) {
    let sink = SmtpSink::start();
    let start = Timestamp::now();
    let clock = Clock::manual(start);
    let (server, base) = spawn(backend, &sink, &clock).await;
    arrange(&server).await;
    create_activity(&server, start).await;
    let add = |round: &str, text: &str| json!({ "r": round, "t": text });

    // Refused: an empty text, a text over 500 characters, a round that is no activity,
    // and every caller but an administrator.
    let empty = server.admin(ADD_QUESTION, add(ROUND, "   ")).await;
    assert_eq!(error_code(&empty), Some("BAD_USER_INPUT"), "{empty}");
    let long = server
        .admin(ADD_QUESTION, add(ROUND, &"x".repeat(501)))
        .await;
    assert_eq!(error_code(&long), Some("BAD_USER_INPUT"), "{long}");
    let nowhere = server
        .admin(ADD_QUESTION, add("no-such-round", ADDED))
        .await;
    assert_eq!(error_code(&nowhere), Some("NOT_FOUND"), "{nowhere}");
    let validator = server.validator(&[ROUND]).await;
    let bot_token = server.token(TokenRole::Bot).await;
    for (token, chat, code) in [
        (None, None, "UNAUTHENTICATED"),
        (Some(validator.as_str()), None, "FORBIDDEN"),
        (Some(bot_token.as_str()), Some(2001), "FORBIDDEN"),
    ] {
        let refused = server
            .graphql_as(token, chat, ADD_QUESTION, add(ROUND, ADDED))
            .await;
        assert_eq!(error_code(&refused), Some(code), "{refused}");
    }
    assert!(
        stored_added(&server, ROUND).await.is_empty(),
        "nothing added"
    );

    // Added while the round is open; a repeat of it is refused.
    let added = server.admin(ADD_QUESTION, add(ROUND, ADDED)).await;
    let questions = &data(&added)["addActivityQuestion"]["addedQuestions"];
    assert_eq!(questions[0]["questionId"], "added/1", "{added}");
    assert_eq!(questions[0]["text"], ADDED);
    assert!(
        questions[0]["addedAt"]
            .as_str()
            .is_some_and(|at| at.len() >= 20)
    );
    let repeat = server
        .admin(
            ADD_QUESTION,
            add(ROUND, "how did the community  HOTLINE work?"),
        )
        .await;
    assert_eq!(error_code(&repeat), Some("BAD_USER_INPUT"), "{repeat}");
    assert_eq!(
        stored_added(&server, ROUND).await,
        [("added/1".to_owned(), ADDED.to_owned())]
    );

    // Telegram: p-p1 answers the set's four questions, then the added one.
    let (backend_client, mut bot) = bot_continuing(&server, &bot_token, 2001).await;
    let mut asked = Vec::new();
    for _ in 0..5 {
        let state: State = bot.get_state().await;
        let State::Asking(prompt) = state else {
            panic!("no question on screen: {state:?}");
        };
        asked.push(prompt.question_id.clone());
        if prompt.question_id == "added/1" {
            let shown: Vec<String> = bot
                .get_responses()
                .sent_messages
                .iter()
                .map(|m| m.text().unwrap_or_default().to_owned())
                .collect();
            assert!(shown.iter().any(|t| t.contains(ADDED)), "{shown:?}");
        }
        bot.update(chat(2001).text(format!("Telegram answer to {}", prompt.question_id)));
        bot.dispatch().await;
    }
    drop(bot);
    let mut expected: Vec<&str> = QUESTIONS.to_vec();
    expected.push("added/1");
    assert_eq!(asked, expected, "the added question comes after the set's");
    let progress = server
        .admin(
            "query($r: ResponseRefInput!) { response(response: $r) { progress { answered total \
             required } nextQuestion { questionId } } }",
            json!({ "r": target(ROUND, "p-p1") }),
        )
        .await;
    let progress = &data(&progress)["response"];
    assert_eq!(progress["progress"]["answered"], 5, "{progress}");
    assert_eq!(progress["progress"]["total"], 5);
    assert_eq!(progress["nextQuestion"], Value::Null);

    // Another activity has its own `added/1`: the bot's question cache keeps them apart
    // (it is keyed by round). Adding is allowed in draft; the eleventh is refused.
    let other = "aar-other";
    data(
        &server
            .admin(
                "mutation($input: CreateRoundInput!) { createRound(input: $input) { round { id } } }",
                json!({ "input": {
                    "id": other, "title": "Another AAR",
                    "instruments": ["iom-rtl-after-action-review@1"], "organisationIds": ["iom"],
                } }),
            )
            .await,
    );
    data(
        &server
            .admin(
                CREATE_ACTIVITY,
                json!({ "input": {
                    "roundId": other, "kind": "AFTER_ACTION_REVIEW", "intervention": "Other",
                    "facilitatorId": "p-fac", "period": "April",
                    "participants": [{ "personId": "p-p1", "organisationId": "iom", "role": "Field officer" }],
                } }),
            )
            .await,
    );
    for n in 1..=10 {
        let text = if n == 1 {
            "Which warehouse ran out first?".to_owned()
        } else {
            format!("Extra question {n}?")
        };
        data(&server.admin(ADD_QUESTION, add(other, &text)).await);
    }
    let eleventh = server
        .admin(ADD_QUESTION, add(other, "One question too many?"))
        .await;
    assert_eq!(error_code(&eleventh), Some("BAD_USER_INPUT"), "{eleventh}");
    let message = eleventh["errors"][0]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(message.contains("at most 10"), "{message}");
    let stored = stored_added(&server, other).await;
    assert_eq!(stored.len(), 10, "the eleventh was not added");
    assert_eq!(stored[9].0, "added/10");
    let here = backend_client
        .question(2001, &target(ROUND, "p-p1"), "added/1")
        .await
        .expect("rendered");
    let there = backend_client
        .question(2001, &target(other, "p-p1"), "added/1")
        .await
        .expect("rendered");
    assert_eq!(here.text, ADDED);
    assert_eq!(there.text, "Which warehouse ran out first?");
    // Without a response, or for a response of another instrument, there is no
    // `added/1`.
    let plain = server
        .admin(
            "{ question(instrumentId: \"iom-rtl-after-action-review\", version: 1, \
             questionId: \"added/1\") { id } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&plain), Some("NOT_FOUND"), "{plain}");

    // An unknown added question is refused in saveAnswers, with the known one beside
    // it: nothing is saved.
    let refused = server
        .admin(
            "mutation($input: SaveAnswersInput!) { saveAnswers(input: $input) { replayed } }",
            json!({ "input": {
                "response": target(ROUND, "p-p2"),
                "idempotencyKey": "unknown-added",
                "answers": [
                    { "questionId": "added/1", "value": { "text": "Fine" } },
                    { "questionId": "added/9", "value": { "text": "No such question" } },
                ],
            } }),
        )
        .await;
    assert_eq!(error_code(&refused), Some("BAD_USER_INPUT"), "{refused}");
    let details = refused["errors"][0]["extensions"]["details"].to_string();
    assert!(details.contains("added/9"), "{refused}");
    assert!(!details.contains("added/1"), "{refused}");
    let p2 = server::domain::ResponseKey {
        round: RoundId::parse(ROUND).expect("id"),
        organisation: OrganisationId::parse("iom").expect("id"),
        instrument: server::catalogue::InstrumentRef::parse("iom-rtl-after-action-review@1")
            .expect("ref"),
        respondent: server::domain::Respondent::Person(PersonId::parse("p-p2").expect("id")),
    };
    assert_eq!(
        server.state.store.response(&p2).await.expect("read"),
        None,
        "nothing saved"
    );

    // The web form: p-p3 answers everything, the added question as a text area, and
    // submits; the receipt lists the added question with the answer.
    let round = server
        .state
        .store
        .round(&RoundId::parse(ROUND).expect("id"))
        .await
        .expect("read")
        .expect("round");
    let p3 = server::domain::ResponseKey {
        respondent: server::domain::Respondent::Person(PersonId::parse("p-p3").expect("id")),
        ..p2.clone()
    };
    let link = server::service::links::create(
        server.state.store.as_ref(),
        &round,
        server::domain::LinkBinding {
            response: p3.clone(),
            person: PersonId::parse("p-p3").expect("id"),
        },
        Timestamp::now(),
    )
    .await
    .expect("link made");
    let client = crate::web::client();
    let (status, _, cookie) =
        crate::web::open(&client, &server::service::links::url(&base, &link.secret)).await;
    assert_eq!(status, 303);
    let cookie = cookie.expect("a session");
    let (status, html) = crate::web::get(&client, &base, "/form", &cookie).await;
    assert_eq!(status, 200);
    assert!(html.contains("Questions from the facilitator"), "{html}");
    assert!(html.contains(ADDED), "{html}");
    assert!(html.contains("name=\"q:added/1\""), "{html}");
    let mut fields = crate::web::fill_all(&html, "Web answer of p-p3");
    assert_eq!(fields.len(), 5, "{fields:?}");
    assert!(fields.iter().any(|(name, _)| name == "q:added/1"));
    fields.push(("csrf".to_owned(), crate::web::hidden(&html, "csrf")));
    fields.push(("request".to_owned(), "added1".to_owned()));
    fields.push(("action".to_owned(), "submit".to_owned()));
    let fields: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let (status, location, _) = crate::web::post(&client, &base, &cookie, &fields).await;
    assert_eq!(status, 303);
    assert_eq!(location.as_deref(), Some("/form/submitted"));
    let receipt = exactly(&sink, 1).await;
    assert_eq!(receipt[0].to, ["p-p3@example.org"]);
    let text = tests::smtp::decode_quoted_printable(&receipt[0].data);
    assert!(text.contains(ADDED), "{text}");
    assert!(text.contains("Web answer of p-p3"), "{text}");

    // Findings: the added question last, with the facilitator's text, an answer from
    // each channel; the report compiles it like the set's questions.
    let findings = server
        .admin(
            "query($r: String!) { activityFindings(roundId: $r) { questions { questionId text \
             count answers { personId channel text } } } }",
            json!({ "r": ROUND }),
        )
        .await;
    let questions = data(&findings)["activityFindings"]["questions"]
        .as_array()
        .expect("questions")
        .clone();
    assert_eq!(questions.len(), 5);
    let last = &questions[4];
    assert_eq!(last["questionId"], "added/1");
    assert_eq!(last["text"], ADDED);
    assert_eq!(last["count"], 2, "{last}");
    assert_eq!(
        last["answers"],
        json!([
            { "personId": "p-p1", "channel": "telegram", "text": "Telegram answer to added/1" },
            { "personId": "p-p3", "channel": "web", "text": "Web answer of p-p3" },
        ])
    );
    let report = server
        .admin(
            "query($r: String!) { findingsReport(roundId: $r) { sections { sectionId text } \
             markdown: rendered(format: MARKDOWN) } }",
            json!({ "r": ROUND }),
        )
        .await;
    let report = &data(&report)["findingsReport"];
    let findings_text = report["sections"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["sectionId"] == "findings/findings"))
        .and_then(|s| s["text"].as_str())
        .unwrap_or_default();
    assert!(
        findings_text.contains(&format!("{ADDED} (2 answers)")),
        "{findings_text}"
    );
    let markdown = report["markdown"].as_str().unwrap_or_default();
    assert!(
        markdown.contains("Telegram answer to added/1"),
        "{markdown}"
    );

    // The next cycle asks the same added question; the cycles compare it.
    let next = server
        .admin(
            "mutation($input: CreateNextCycleInput!) { createNextCycle(input: $input) \
             { addedQuestions { questionId text } } }",
            json!({ "input": {
                "roundId": ROUND, "id": "aar-flood-2", "title": "Cycle 2", "period": "weeks three and four",
            } }),
        )
        .await;
    assert_eq!(
        data(&next)["createNextCycle"]["addedQuestions"],
        json!([{ "questionId": "added/1", "text": ADDED }])
    );
    data(
        &server
            .admin(
                "mutation { setRoundStatus(input: { roundId: \"aar-flood-2\", status: OPEN }) { round { status } } }",
                json!({}),
            )
            .await,
    );
    answer(
        &server,
        "aar-flood-2",
        "p-p2",
        "added/1",
        "Calls answered within a day",
    )
    .await;
    let cycles = cycles_of(&server, "cycle questions { questionId text count }").await;
    assert_eq!(cycles.len(), 2);
    for (cycle, count) in cycles.iter().zip([2, 1]) {
        let added = cycle["questions"]
            .as_array()
            .and_then(|q| q.iter().find(|q| q["questionId"] == "added/1"))
            .unwrap_or_else(|| panic!("added/1 in {cycle}"));
        assert_eq!(added["text"], ADDED);
        assert_eq!(added["count"], count, "{cycle}");
    }

    // Once the round is closed, no more questions.
    data(
        &server
            .admin(
                "mutation($input: SetRoundStatusInput!) { setRoundStatus(input: $input) { round { status } } }",
                json!({ "input": { "roundId": ROUND, "status": "CLOSED" } }),
            )
            .await,
    );
    let closed = server.admin(ADD_QUESTION, add(ROUND, "Too late?")).await;
    assert_eq!(error_code(&closed), Some("CONFLICT"), "{closed}");
    assert_eq!(stored_added(&server, ROUND).await.len(), 1, "nothing added");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn facilitator_added_questions_through_every_channel_on_redb() {
    facilitator_added_questions(Backend::Redb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn facilitator_added_questions_through_every_channel_on_redis() {
    facilitator_added_questions(Backend::Redis).await;
}
