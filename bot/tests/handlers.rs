//! Handler tests: the bot's real handler tree against teloxide_tests' fake Bot API, with
//! an in-memory [`Backend`] that behaves as the server does (next question, stale
//! answers, submission), so every step and command is checked without a server.
//! teloxide_tests serialises its bots with a global lock: the tests are few and walk
//! several steps each.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use bot::api::{
    AnswerInput, AnswerView, ApiError, ApiResult, Assigned, Backend, Channel, ComponentView,
    DriverText, Me, Next, Notice, NoticeResponse, PillarCount, QuestionKind, QuestionView,
    ResponseView, Saved, ScalePoint, StageText, Target, Value,
};
use bot::dialogue::State;
use bot::keyboards::{Action, Callback};
use bot::outbox::Outbox;
use bot::{Storage, handler_tree, texts};
use teloxide::dptree::deps;
use teloxide::types::Message;
use teloxide_tests::{MockBot, MockCallbackQuery, MockMessageDocument, MockMessageText};

// --- an in-memory server ------------------------------------------------------------------

const CODE: &str = "0123456789abcdef0123456789abcdef";

fn target() -> Target {
    Target {
        round_id: "r-2026".to_owned(),
        organisation_id: "unicef".to_owned(),
        instrument: "jiu-rbm-stages@1".to_owned(),
        person_id: None,
    }
}

fn component(id: &str, activities: usize) -> ComponentView {
    ComponentView {
        id: id.to_owned(),
        name: format!("Component {id} name"),
        description: format!("What {id} is about."),
        output_quality: format!("Quality of {id}."),
        indicators: vec![format!("Indicator of {id}")],
        stages: (1..=5)
            .map(|stage| StageText {
                stage,
                title: format!("Stage title {stage}"),
                text: format!("Descriptor {stage} of {id}"),
            })
            .collect(),
        drivers: vec![DriverText {
            name: "Leadership".to_owned(),
            key_question: "Who leads?".to_owned(),
        }],
        activities,
    }
}

fn question(id: &str, kind: QuestionKind, required: bool) -> QuestionView {
    let scale = if matches!(kind, QuestionKind::Rating | QuestionKind::OtherActivities) {
        [
            "No contribution",
            "Little contribution",
            "Significant contribution",
        ]
        .iter()
        .zip(1..)
        .map(|(label, value)| ScalePoint {
            value,
            label: (*label).to_owned(),
        })
        .collect()
    } else {
        Vec::new()
    };
    let component_id = id.split('/').next().unwrap_or_default();
    QuestionView {
        id: id.to_owned(),
        kind,
        required,
        number: match id.rsplit('/').next() {
            Some("stage") => Some("1.1".to_owned()),
            Some("rationale") => Some("1.2".to_owned()),
            Some("evidence") => Some("1.3".to_owned()),
            Some("1") => Some("1".to_owned()),
            _ => None,
        },
        text: format!("Text of {id}"),
        heading: None,
        guidance: vec!["Do not average across indicators.".to_owned()],
        field_label: None,
        scale,
        component: Some(component(component_id, 1)),
    }
}

fn catalogue() -> Vec<QuestionView> {
    use QuestionKind::{Evidence, LongText, OtherActivities, Rating, Stage};
    vec![
        question("1.1/stage", Stage, true),
        question("1.1/rationale", LongText, true),
        question("1.1/evidence", Evidence, true),
        question("1.1/comments", LongText, false),
        question("1.1/plans", LongText, false),
        question("1.1/activity/1", Rating, false),
        question("1.1/other", OtherActivities, false),
        {
            // A description long enough to need three messages.
            let mut long = question("1.2/stage", Stage, true);
            if let Some(component) = long.component.as_mut() {
                component.description = long_text();
            }
            long
        },
    ]
}

/// Three paragraphs of 1,800 characters each.
fn long_text() -> String {
    let paragraph = "Sentence of a long description. ".repeat(56);
    [paragraph.trim(); 3].join("\n\n")
}

#[derive(Default)]
struct Stored {
    answers: BTreeMap<String, AnswerView>,
    last_seq: u64,
    submitted: bool,
    seen_updates: HashSet<i64>,
    linked: bool,
    unavailable: bool,
    keys: Vec<String>,
    notices: Vec<Notice>,
    acknowledged: Vec<String>,
}

struct Fake {
    questions: Vec<QuestionView>,
    stored: Mutex<Stored>,
}

impl Fake {
    fn new(linked: bool) -> Arc<Self> {
        Arc::new(Self {
            questions: catalogue(),
            stored: Mutex::new(Stored {
                linked,
                ..Stored::default()
            }),
        })
    }

    fn with<T>(&self, f: impl FnOnce(&mut Stored) -> T) -> T {
        f(&mut self.stored.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// An answer given elsewhere (the web form).
    fn answer_elsewhere(&self, question_id: &str, value: Value) {
        self.with(|s| {
            s.last_seq += 1;
            let seq = s.last_seq;
            s.answers.insert(
                question_id.to_owned(),
                AnswerView {
                    question_id: question_id.to_owned(),
                    value,
                    seq,
                    channel: Channel::Web,
                },
            );
        });
    }

    fn answer(&self, question_id: &str) -> Option<Value> {
        self.with(|s| s.answers.get(question_id).map(|a| a.value.clone()))
    }

    fn check(&self) -> ApiResult<()> {
        self.with(|s| match (s.unavailable, s.linked) {
            (true, _) => Err(ApiError::Unavailable),
            (false, false) => Err(ApiError::NotLinked),
            (false, true) => Ok(()),
        })
    }

    fn missing(&self, s: &Stored) -> Vec<String> {
        self.questions
            .iter()
            .filter(|q| q.required && !s.answers.contains_key(&q.id))
            .map(|q| q.id.clone())
            .collect()
    }
}

#[async_trait]
impl Backend for Fake {
    async fn mark_update(&self, update_id: i64) -> ApiResult<bool> {
        self.with(|s| {
            if s.unavailable {
                Err(ApiError::Unavailable)
            } else {
                Ok(s.seen_updates.insert(update_id))
            }
        })
    }

    async fn link(&self, _chat: i64, code: &str) -> ApiResult<String> {
        self.with(|s| {
            if code == CODE && !s.linked {
                s.linked = true;
                Ok("Ana".to_owned())
            } else {
                Err(ApiError::NotFound("unknown code".to_owned()))
            }
        })
    }

    async fn unlink(&self, _chat: i64) -> ApiResult<()> {
        self.check()?;
        self.with(|s| s.linked = false);
        Ok(())
    }

    async fn me(&self, _chat: i64) -> ApiResult<Me> {
        self.check()?;
        Ok(self.with(|s| {
            let missing = self.missing(s);
            let required = self.questions.iter().filter(|q| q.required).count();
            let answered = u32::try_from(required - missing.len()).unwrap_or(0);
            Me {
                person_id: "p-ana".to_owned(),
                name: "Ana".to_owned(),
                responses: vec![Assigned {
                    target: target(),
                    round_title: "JIU RBM 2026".to_owned(),
                    instrument_title: "Stage questionnaire".to_owned(),
                    submitted: s.submitted,
                    answered,
                    total: 4,
                    pillars: vec![PillarCount {
                        number: 1,
                        name: "Planning".to_owned(),
                        answered,
                        total: 4,
                    }],
                }],
            }
        }))
    }

    async fn next_question(
        &self,
        _chat: i64,
        _target: &Target,
        after: Option<&str>,
    ) -> ApiResult<Option<Next>> {
        self.check()?;
        Ok(self.with(|s| {
            let open = |q: &&QuestionView| !s.answers.contains_key(&q.id);
            let found = match after {
                Some(after) => {
                    let from = self.questions.iter().position(|q| q.id == after)? + 1;
                    self.questions[from..].iter().find(open)
                }
                None => self
                    .questions
                    .iter()
                    .filter(|q| q.required)
                    .find(open)
                    .or_else(|| self.questions.iter().find(open)),
            }?;
            Some(Next {
                question_id: found.id.clone(),
                position: 1 + u32::try_from(self.questions.iter().position(|q| q.id == found.id)?)
                    .ok()?,
                total: 8,
                required_remaining: u32::try_from(self.missing(s).len()).ok()?,
            })
        }))
    }

    async fn question(
        &self,
        _chat: i64,
        _target: &Target,
        question_id: &str,
    ) -> ApiResult<Arc<QuestionView>> {
        self.check()?;
        self.questions
            .iter()
            .find(|q| q.id == question_id)
            .map(|q| Arc::new(q.clone()))
            .ok_or_else(|| ApiError::NotFound(question_id.to_owned()))
    }

    async fn response(
        &self,
        _chat: i64,
        _target: &Target,
        question_id: Option<&str>,
    ) -> ApiResult<ResponseView> {
        self.check()?;
        Ok(self.with(|s| ResponseView {
            submitted: s.submitted,
            last_seq: s.last_seq,
            answers: s
                .answers
                .values()
                .filter(|a| question_id.is_none_or(|q| a.question_id == q))
                .cloned()
                .collect(),
            missing_required: self.missing(s),
        }))
    }

    async fn save(
        &self,
        _chat: i64,
        _target: &Target,
        idempotency_key: &str,
        answers: Vec<AnswerInput>,
        expected_seq: Option<u64>,
    ) -> ApiResult<Saved> {
        self.check()?;
        let first = answers.first().map(|a| a.question_id.clone());
        let seq = self.with(|s| {
            if s.submitted || expected_seq.is_some_and(|e| e != s.last_seq) {
                return Err(ApiError::Conflict {
                    message: "changed".to_owned(),
                    details: Vec::new(),
                });
            }
            s.keys.push(idempotency_key.to_owned());
            for answer in answers {
                s.last_seq += 1;
                let seq = s.last_seq;
                s.answers.insert(
                    answer.question_id.clone(),
                    AnswerView {
                        question_id: answer.question_id,
                        value: answer.value,
                        seq,
                        channel: Channel::Telegram,
                    },
                );
            }
            Ok(s.last_seq)
        })?;
        let next = self.next_question(0, &target(), first.as_deref()).await?;
        Ok(Saved { seq, next })
    }

    async fn claim_notices(&self, limit: u32) -> ApiResult<Vec<Notice>> {
        self.with(|s| {
            if s.unavailable {
                return Err(ApiError::Unavailable);
            }
            let n = s.notices.len().min(limit as usize);
            Ok(s.notices.drain(..n).collect())
        })
    }

    async fn ack_notice(&self, id: &str) -> ApiResult<bool> {
        self.with(|s| {
            let first = !s.acknowledged.iter().any(|a| a == id);
            s.acknowledged.push(id.to_owned());
            Ok(first)
        })
    }

    async fn submit(&self, _chat: i64, _target: &Target, _key: &str) -> ApiResult<()> {
        self.check()?;
        self.with(|s| {
            let missing = self.missing(s);
            if missing.is_empty() {
                s.submitted = true;
                s.last_seq += 1;
                Ok(())
            } else {
                Err(ApiError::Conflict {
                    message: "missing".to_owned(),
                    details: missing,
                })
            }
        })
    }
}

// --- helpers ------------------------------------------------------------------------------

type Bot = MockBot<bot::handlers::HandlerError, teloxide_tests::mock_bot::DistributionKey>;

fn mock(first: MockMessageText, fake: &Arc<Fake>) -> Bot {
    let mut bot = MockBot::new(first, handler_tree());
    let backend: Arc<dyn Backend> = Arc::clone(fake) as Arc<dyn Backend>;
    bot.dependencies(deps![backend, Outbox::direct(), Storage::new()]);
    bot
}

fn text(message: &str) -> MockMessageText {
    MockMessageText::new().text(message)
}

/// The texts the bot sent in the last dispatch.
fn sent(bot: &Bot) -> Vec<String> {
    bot.get_responses()
        .sent_messages
        .iter()
        .map(|m| m.text().unwrap_or_default().to_owned())
        .collect()
}

/// The last message the bot sent.
fn last(bot: &Bot) -> Message {
    bot.get_responses()
        .sent_messages
        .last()
        .cloned()
        .expect("the bot sent a message")
}

/// The callback data of the button labelled `label` under the last message.
fn button(bot: &Bot, label: &str) -> String {
    let message = last(bot);
    let markup = message.reply_markup().expect("the message has buttons");
    markup
        .inline_keyboard
        .iter()
        .flatten()
        .find(|b| b.text == label)
        .and_then(|b| match &b.kind {
            teloxide::types::InlineKeyboardButtonKind::CallbackData(data) => Some(data.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no button {label:?} under {:?}", message.text()))
}

fn press(data: &str) -> MockCallbackQuery {
    MockCallbackQuery::new().data(data)
}

/// The notice shown for the last button press, if any.
fn notice(bot: &Bot) -> Option<String> {
    bot.get_responses()
        .answered_callback_queries
        .last()
        .expect("the press was answered")
        .text
        .clone()
}

async fn step(bot: &mut Bot, update: impl teloxide_tests::IntoUpdate) {
    bot.update(update);
    bot.dispatch().await;
}

/// Presses the button labelled `label` under the last message.
async fn press_button(bot: &mut Bot, label: &str) {
    let data = button(bot, label);
    step(bot, press(&data)).await;
}

fn prompt_of(state: &State) -> (&str, u16) {
    match state {
        State::Asking(prompt) => (prompt.question_id.as_str(), prompt.tag),
        other => panic!("no question on screen: {other:?}"),
    }
}

// --- the tests ----------------------------------------------------------------------------

/// Linking, then every step of a component: stage (with the descriptors and the
/// component's description), rationale, evidence as text and as a document, comments and
/// plans skipped, an activity rated, an own activity named and rated, then the next
/// component.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_and_walks_through_a_component() {
    let fake = Fake::new(false);
    let mut bot = mock(text("/start"), &fake);
    bot.dispatch().await;
    assert_eq!(sent(&bot), vec![texts::start_without_code()]);

    step(&mut bot, text("/start wrong-code")).await;
    assert_eq!(sent(&bot), vec![texts::bad_code()]);

    step(&mut bot, text(&format!("/start {CODE}"))).await;
    let messages = sent(&bot);
    assert_eq!(messages[0], texts::linked("Ana"));
    let stage = &fake.questions[0];
    let first = texts::question(
        stage,
        Some(&Next {
            question_id: "1.1/stage".to_owned(),
            position: 1,
            total: 8,
            required_remaining: 4,
        }),
        None,
    );
    assert_eq!(messages[1], first);
    assert!(first.contains("Component 1.1 — Component 1.1 name"));
    assert!(first.contains("Output quality: Quality of 1.1."));

    // The two guidance buttons show texts and change nothing.
    press_button(&mut bot, &texts::descriptors_label()).await;
    assert_eq!(
        sent(&bot),
        vec![texts::stage_descriptors(&component("1.1", 1))]
    );
    bot.update(text("/continue"));
    bot.dispatch().await;
    press_button(&mut bot, &texts::about_label()).await;
    assert_eq!(
        sent(&bot),
        vec![texts::about_component(&component("1.1", 1))]
    );
    assert_eq!(fake.answer("1.1/stage"), None);

    // Stage 3.
    step(&mut bot, text("/continue")).await;
    press_button(&mut bot, "3").await;
    assert_eq!(notice(&bot), None);
    assert_eq!(fake.answer("1.1/stage"), Some(Value::Stage(3)));
    assert!(sent(&bot)[0].contains("Text of 1.1/rationale"));

    // Rationale as text.
    step(&mut bot, text("Because of our 2024 policy.")).await;
    assert_eq!(
        fake.answer("1.1/rationale"),
        Some(Value::Text("Because of our 2024 policy.".to_owned()))
    );
    assert!(sent(&bot)[0].contains("Text of 1.1/evidence"));

    // Evidence: lines, then a document; Done goes on.
    step(&mut bot, text("RBM policy 2024\nperson: Ana Ruiz")).await;
    assert_eq!(sent(&bot), vec![texts::evidence_recorded(2)]);
    step(
        &mut bot,
        MockMessageDocument::new()
            .file_name("plan.pdf")
            .file_id(teloxide::types::FileId("file-123".to_owned()))
            .file_size(2048),
    )
    .await;
    assert_eq!(sent(&bot), vec![texts::evidence_recorded(3)]);
    let Some(Value::Evidence(items)) = fake.answer("1.1/evidence") else {
        panic!("evidence saved");
    };
    assert_eq!(items.len(), 3);
    assert_eq!(items[1].kind, bot::api::EvidenceKind::Person);
    let file = items[2].file.as_ref().expect("a file reference");
    assert_eq!(
        (
            file.name.as_str(),
            file.size,
            file.telegram_file_id.as_str()
        ),
        ("plan.pdf", 2048, "file-123")
    );
    press_button(&mut bot, &texts::done_label()).await;
    assert!(sent(&bot)[0].contains("Text of 1.1/comments"));

    // Comments and plans skipped.
    press_button(&mut bot, &texts::skip_label()).await;
    assert!(sent(&bot)[0].contains("Text of 1.1/plans"));
    press_button(&mut bot, &texts::skip_label()).await;
    assert!(sent(&bot)[0].contains("Q.2 activity 1 of 1: Text of 1.1/activity/1"));
    assert_eq!(fake.answer("1.1/comments"), None);

    // The activity rated 2.
    press_button(&mut bot, "2").await;
    assert_eq!(fake.answer("1.1/activity/1"), Some(Value::Rating(2)));
    assert!(sent(&bot)[0].contains("Text of 1.1/other"));

    // An own activity: name, then rating; Done goes to the next component.
    step(&mut bot, text("Peer reviews")).await;
    assert_eq!(
        sent(&bot)[0],
        texts::rate_activity("Peer reviews", &fake.questions[6].scale)
    );
    press_button(&mut bot, "3").await;
    assert_eq!(sent(&bot), vec![texts::activity_recorded("Peer reviews")]);
    assert_eq!(
        fake.answer("1.1/other"),
        Some(Value::Activities(vec![bot::api::NamedActivity {
            name: "Peer reviews".to_owned(),
            rating: 3
        }]))
    );
    press_button(&mut bot, &texts::done_label()).await;
    assert!(sent(&bot)[0].contains("Component 1.2 — Component 1.2 name"));

    // Every answer went with the idempotency key of its update.
    assert!(fake.with(|s| s.keys.iter().all(|k| k.starts_with("tg-"))));
}

/// A stale button, a duplicate update, text where a stage is expected, and the server
/// being unreachable: each gets its notice and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_what_is_out_of_date_and_survives_an_outage() {
    let fake = Fake::new(true);
    let mut bot = mock(text("/continue"), &fake);
    bot.dispatch().await;
    let stage_3 = button(&bot, "3");

    // Text where a stage is expected: a notice, the question again, nothing saved.
    step(&mut bot, text("three")).await;
    let messages = sent(&bot);
    assert_eq!(messages[0], texts::use_buttons());
    assert!(messages[1].contains("Text of 1.1/stage"));
    assert_eq!(fake.answer("1.1/stage"), None);

    // The stage is answered in the web form meanwhile: the old button is stale.
    let state: State = bot.get_state().await;
    let (question, tag) = prompt_of(&state);
    assert_eq!(question, "1.1/stage");
    fake.answer_elsewhere("1.1/stage", Value::Stage(2));
    let current = Callback {
        action: Action::Answer(4),
        question: "1.1/stage".to_owned(),
        prompt_tag: tag,
    }
    .encode()
    .expect("fits");
    step(&mut bot, press(&current)).await;
    assert_eq!(notice(&bot), Some(texts::stale_button()));
    assert_eq!(fake.answer("1.1/stage"), Some(Value::Stage(2)));
    // A button of an earlier prompt is stale too.
    step(&mut bot, press(&stage_3)).await;
    assert_eq!(notice(&bot), Some(texts::stale_button()));
    assert!(bot.get_responses().sent_messages.is_empty());
    // Data this bot never produced.
    step(&mut bot, press("a9|../..|zz")).await;
    assert_eq!(notice(&bot), Some(texts::stale_button()));

    // A duplicate update (the server has seen its id) is dropped without a word.
    step(&mut bot, text("/continue")).await;
    bot.update(text("A rationale delivered twice"));
    let id = i64::from(bot.updates[0].id.0);
    assert!(fake.with(|s| s.seen_updates.insert(id)), "first seen here");
    bot.dispatch().await;
    assert!(bot.get_responses().sent_messages.is_empty());
    assert_eq!(fake.answer("1.1/rationale"), None);

    // Server unreachable: try again, nothing lost; the same text then works.
    fake.with(|s| s.unavailable = true);
    step(&mut bot, text("The rationale")).await;
    assert_eq!(sent(&bot), vec![texts::try_again()]);
    fake.with(|s| s.unavailable = false);
    step(&mut bot, text("The rationale")).await;
    assert_eq!(
        fake.answer("1.1/rationale"),
        Some(Value::Text("The rationale".to_owned()))
    );

    // Once submitted, no press changes anything.
    fake.with(|s| s.submitted = true);
    let state: State = bot.get_state().await;
    let (question, tag) = prompt_of(&state);
    let done = Callback {
        action: Action::Skip,
        question: question.to_owned(),
        prompt_tag: tag,
    }
    .encode()
    .expect("fits");
    step(&mut bot, press(&done)).await;
    assert_eq!(notice(&bot), Some(texts::already_submitted()));
}

/// After a restart the conversation is forgotten: a button that is still current works,
/// judged by the server alone; one whose question was answered since does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buttons_survive_a_restart() {
    let fake = Fake::new(true);
    let mut bot = mock(text("/continue"), &fake);
    bot.dispatch().await;
    let stage_4 = button(&bot, "4");
    // A new storage: the bot restarted.
    let backend: Arc<dyn Backend> = Arc::clone(&fake) as Arc<dyn Backend>;
    bot.dependencies(deps![backend, Outbox::direct(), Storage::new()]);
    step(&mut bot, press(&stage_4)).await;
    assert_eq!(notice(&bot), None);
    assert_eq!(fake.answer("1.1/stage"), Some(Value::Stage(4)));
    assert!(sent(&bot)[0].contains("Text of 1.1/rationale"));
    // Restarted again: the same button is now stale (its answer is newer than it).
    let backend: Arc<dyn Backend> = Arc::clone(&fake) as Arc<dyn Backend>;
    bot.dependencies(deps![backend, Outbox::direct(), Storage::new()]);
    step(&mut bot, press(&stage_4)).await;
    assert_eq!(notice(&bot), Some(texts::stale_button()));
    assert_eq!(fake.answer("1.1/stage"), Some(Value::Stage(4)));
}

/// The commands: help, progress, component (with a description too long for one message,
/// split at paragraphs), review, submit (missing,
/// then confirmed), unlink.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands() {
    let fake = Fake::new(true);
    let mut bot = mock(text("/help"), &fake);
    bot.dispatch().await;
    assert_eq!(sent(&bot), vec![texts::help()]);

    step(&mut bot, text("/nonsense")).await;
    assert_eq!(sent(&bot), vec![texts::unknown_command()]);

    step(&mut bot, text("hello")).await;
    assert_eq!(sent(&bot), vec![texts::nothing_asked()]);

    // /progress by pillar.
    step(&mut bot, text("/progress")).await;
    let progress = sent(&bot).remove(0);
    assert!(progress.contains("JIU RBM 2026 — Stage questionnaire"));
    assert!(progress.contains("· 1. Planning: 0/4"));

    // /component jumps to a component's stage, showing the current answer.
    fake.answer_elsewhere("1.2/stage", Value::Stage(4));
    step(&mut bot, text("/component 1.2")).await;
    let shown = sent(&bot).remove(0);
    assert!(shown.contains("Component 1.2 — Component 1.2 name"));
    assert!(shown.contains("Current answer: stage 4"));
    // Its description is longer than a message: sent in parts split at paragraphs.
    press_button(&mut bot, &texts::about_label()).await;
    let about = fake.questions[7].component.clone().expect("a component");
    let whole = texts::about_component(&about);
    assert!(whole.chars().count() > texts::MAX_MESSAGE_CHARS);
    let parts = sent(&bot);
    assert_eq!(parts.len(), 2);
    assert_eq!(
        parts,
        texts::split_message(&whole, texts::MAX_MESSAGE_CHARS)
    );
    assert!(parts[1].starts_with("Sentence of a long description."));
    assert_eq!(parts.join("\n\n"), whole);
    step(&mut bot, text("/component 9.9")).await;
    assert_eq!(sent(&bot), vec![texts::no_such_component("9.9")]);

    // /submit lists what is missing.
    step(&mut bot, text("/submit")).await;
    assert_eq!(
        sent(&bot),
        vec![texts::submit_missing(&[
            "1.1/stage".to_owned(),
            "1.1/rationale".to_owned(),
            "1.1/evidence".to_owned(),
        ])]
    );

    // /review lists every answer with its channel, long ones shortened.
    let long = long_text();
    fake.answer_elsewhere("1.1/stage", Value::Stage(1));
    fake.answer_elsewhere("1.1/rationale", Value::Text("Short.".to_owned()));
    fake.answer_elsewhere(
        "1.1/evidence",
        Value::Evidence(vec![bot::api::Evidence {
            kind: bot::api::EvidenceKind::Document,
            text: "Policy".to_owned(),
            file: None,
        }]),
    );
    for n in 0..4 {
        fake.answer_elsewhere(&format!("1.{}/comments", n + 3), Value::Text(long.clone()));
    }
    step(&mut bot, text("/review")).await;
    let parts = sent(&bot);
    let answers: Vec<AnswerView> = fake.with(|s| s.answers.values().cloned().collect());
    let whole = texts::review("Stage questionnaire", &answers, 0);
    assert_eq!(
        parts,
        texts::split_message(&whole, texts::MAX_MESSAGE_CHARS)
    );
    assert!(whole.contains("• stage: stage 4 — via web form"));
    step(&mut bot, text("/help")).await;

    // Everything required is answered: /submit asks to confirm; "not yet" keeps it open.
    step(&mut bot, text("/submit")).await;
    assert_eq!(
        sent(&bot),
        vec![texts::confirm_submit("Stage questionnaire")]
    );
    press_button(&mut bot, &texts::cancel_label()).await;
    assert_eq!(sent(&bot), vec![texts::submit_cancelled()]);
    assert!(!fake.with(|s| s.submitted));
    step(&mut bot, text("/submit")).await;
    let confirm = button(&bot, &texts::confirm_submit_label());
    step(&mut bot, press(&confirm)).await;
    assert_eq!(sent(&bot), vec![texts::submitted()]);
    assert!(fake.with(|s| s.submitted));
    // The confirmation button again: stale.
    step(&mut bot, press(&confirm)).await;
    assert_eq!(notice(&bot), Some(texts::stale_button()));

    // /unlink, after which the chat is a stranger.
    step(&mut bot, text("/unlink")).await;
    assert_eq!(sent(&bot), vec![texts::unlinked()]);
    step(&mut bot, text("/progress")).await;
    assert_eq!(sent(&bot), vec![texts::not_linked()]);
}

/// The reminder job: claimed notices go to their chats in the bot's words, each is
/// acknowledged once sent, and a poll with nothing due sends nothing; an outage sends
/// nothing and loses nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivers_reminders_once_to_their_chats() {
    let fake = Fake::new(true);
    let notice = |id: &str, chat: i64, name: &str| Notice {
        id: id.to_owned(),
        chat_id: chat,
        person_name: name.to_owned(),
        round_title: "JIU RBM 2026".to_owned(),
        deadline: Some("2030-03-17T17:46:40Z".to_owned()),
        days_before: 7,
        responses: vec![NoticeResponse {
            instrument_title: "Stage questionnaire".to_owned(),
            organisation_name: "UNICEF".to_owned(),
            answered: 3,
            total: 51,
        }],
    };
    let ana = notice("r-2026/p-ana/7", 1001, "Ana");
    let ben = notice("r-2026/p-ben/7", 1002, "Ben");
    fake.with(|s| {
        s.notices = vec![ana.clone(), ben.clone()];
        s.unavailable = true;
    });
    let tree = teloxide::dptree::entry().endpoint(
        |bot: teloxide::Bot, backend: Arc<dyn Backend>| async move {
            // An outage is reported, not swallowed: the notices stay queued.
            let _ = bot::notices::deliver_once(backend.as_ref(), &bot).await;
            Ok::<(), bot::handlers::HandlerError>(())
        },
    );
    let mut bot: Bot = MockBot::new(text("tick"), tree);
    let backend: Arc<dyn Backend> = Arc::clone(&fake) as Arc<dyn Backend>;
    bot.dependencies(deps![backend]);
    bot.dispatch().await;
    assert!(bot.get_responses().sent_messages.is_empty());
    assert_eq!(
        fake.with(|s| s.notices.len()),
        2,
        "nothing lost in the outage"
    );

    fake.with(|s| s.unavailable = false);
    step(&mut bot, text("tick")).await;
    let sent: Vec<(i64, String)> = bot
        .get_responses()
        .sent_messages
        .iter()
        .map(|m| (m.chat.id.0, m.text().unwrap_or_default().to_owned()))
        .collect();
    assert_eq!(
        sent,
        vec![(1001, texts::reminder(&ana)), (1002, texts::reminder(&ben))]
    );
    assert!(sent[0].1.contains("due by 2030-03-17") && sent[0].1.contains("3 of 51"));
    assert_eq!(
        fake.with(|s| s.acknowledged.clone()),
        vec![ana.id.clone(), ben.id.clone()],
        "each acknowledged once sent"
    );
    step(&mut bot, text("tick")).await;
    assert!(
        bot.get_responses().sent_messages.is_empty(),
        "nothing twice"
    );
}
