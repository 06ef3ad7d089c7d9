//! The reminder scheduler with a manual clock, on both backends, against a real SMTP
//! server on loopback: the right people (assigned, with a response not submitted, in an
//! open round with a deadline), on the right days, once each — also with two server
//! instances on one Redis ticking at the same moment — at most `max_per_person`, nothing
//! after submission, a failed mail tried again, and the Telegram notices for linked
//! people.

use std::collections::BTreeSet;
use std::sync::Arc;

use server::app::{App, AppState};
use server::catalogue::InstrumentRef;
use server::clock::Clock;
use server::config::{BackendKind, LoadedSettings, Settings, SmtpTls};
use server::domain::reminders::DAY_MILLIS;
use server::domain::{
    Actor, Assignment, Channel, Command, EmailAddress, IdempotencyKey, Organisation,
    OrganisationId, Person, PersonId, Respondent, ResponseKey, Role, Round, RoundId, RoundStatus,
    TelegramChatId, Timestamp,
};
use server::email::Mailer;
use server::service::reminders::{self, Reminders, TickReport};
use server::store::ResponseRequest;
use tests::RedisServer;
use tests::smtp::SmtpSink;

/// The deadline of round `r-2026`: 2030-03-17T17:46:40Z.
const DEADLINE: i64 = 1_900_000_000_000;
const HOUR: i64 = 60 * 60 * 1000;
/// Ana's linked Telegram chat.
const ANA_CHAT: i64 = 1001;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// `days` days and one hour before the deadline.
fn before(days: i64) -> Timestamp {
    Timestamp::from_millis(DEADLINE - days * DAY_MILLIS + HOUR)
}

fn settings(
    data: &tempfile::TempDir,
    redis: Option<&RedisServer>,
    smtp_port: u16,
) -> LoadedSettings {
    let mut settings = Settings::default();
    settings.catalogue.dir = tests::questionnaires_dir();
    settings.server.bind = "127.0.0.1:0".to_owned();
    settings.server.public_base_url = "http://127.0.0.1:9".to_owned();
    settings.store.redb.data_dir = data.path().to_path_buf();
    settings.email.smtp_host = "127.0.0.1".to_owned();
    settings.email.smtp_port = smtp_port;
    settings.email.tls = SmtpTls::None;
    settings.email.timeout_secs = 5;
    settings.reminders.days_before = vec![7, 2, 1];
    settings.reminders.max_per_person = 2;
    if let Some(redis) = redis {
        settings.store.backend = BackendKind::Redis;
        settings.store.redis.url = redis.url().into();
        settings.store.redis.key_prefix = "remind".to_owned();
    }
    LoadedSettings {
        settings,
        config_dir: tests::workspace_root().join("config"),
    }
}

/// A server instance's state (not serving: the test ticks by hand).
async fn instance(
    data: &tempfile::TempDir,
    redis: Option<&RedisServer>,
    smtp_port: u16,
    clock: &Clock,
) -> Arc<AppState> {
    App::build_with_clock(settings(data, redis, smtp_port), clock.clone())
        .await
        .unwrap_or_else(|e| panic!("the server builds: {e:#}"))
        .state()
}

fn id<T, E: std::fmt::Display>(parsed: Result<T, E>) -> T {
    parsed.unwrap_or_else(|e| panic!("fixture id: {e}"))
}

fn person(name: &str, chat: Option<i64>) -> Person {
    Person {
        id: id(PersonId::parse(&format!("p-{name}"))),
        name: name.to_owned(),
        email: id(EmailAddress::parse(&format!("{name}@example.org"))),
        telegram_chat: chat.map(TelegramChatId),
    }
}

fn round(name: &str, status: RoundStatus, deadline: Option<i64>) -> Round {
    Round {
        id: id(RoundId::parse(name)),
        title: format!("Round {name}"),
        instruments: vec![
            id(InstrumentRef::parse("jiu-rbm-stages@1")),
            id(InstrumentRef::parse("jiu-rbm-outcomes@1")),
        ],
        organisations: vec![
            id(OrganisationId::parse("unicef")),
            id(OrganisationId::parse("fao")),
        ],
        deadline: deadline.map(Timestamp::from_millis),
        status,
    }
}

/// Round `r-2026` (open, deadline [`DEADLINE`]): Ana (linked to Telegram) and Cy are
/// the focal points of UNICEF and FAO, Ben a senior manager of UNICEF. Dee is assigned
/// only in a closed round, Eve only in an open round without a deadline, Zed nowhere.
async fn arrange(state: &AppState) {
    let store = &state.store;
    for (organisation, name) in [("unicef", "UNICEF"), ("fao", "FAO")] {
        store
            .put_organisation(&id(Organisation::new(
                id(OrganisationId::parse(organisation)),
                name,
                None,
            )))
            .await
            .expect("organisation");
    }
    for person in [
        person("ana", Some(ANA_CHAT)),
        person("ben", None),
        person("cy", None),
        person("dee", None),
        person("eve", None),
        person("zed", None),
    ] {
        store.put_person(&person).await.expect("person");
    }
    for round in [
        round("r-2026", RoundStatus::Open, Some(DEADLINE)),
        round("r-closed", RoundStatus::Closed, Some(DEADLINE)),
        round("r-open-ended", RoundStatus::Open, None),
    ] {
        store.put_round(&round).await.expect("round");
    }
    let senior = Role::SeniorManager {
        outcome_areas: vec!["qcpr-1".to_owned()],
    };
    for (round, organisation, person, role) in [
        ("r-2026", "unicef", "p-ana", Role::FocalPoint),
        ("r-2026", "unicef", "p-ben", senior.clone()),
        ("r-2026", "fao", "p-cy", Role::FocalPoint),
        ("r-closed", "fao", "p-dee", Role::FocalPoint),
        ("r-open-ended", "fao", "p-eve", Role::FocalPoint),
    ] {
        store
            .put_assignment(&Assignment {
                round: id(RoundId::parse(round)),
                organisation: id(OrganisationId::parse(organisation)),
                person: id(PersonId::parse(person)),
                role,
            })
            .await
            .expect("assignment");
    }
}

/// Ben's outcome-protocol response in `r-2026`.
fn ben_outcomes() -> ResponseKey {
    ResponseKey {
        round: id(RoundId::parse("r-2026")),
        organisation: id(OrganisationId::parse("unicef")),
        instrument: id(InstrumentRef::parse("jiu-rbm-outcomes@1")),
        respondent: Respondent::Person(id(PersonId::parse("p-ben"))),
    }
}

/// Ben's response, submitted (straight through the store: the test is about reminders,
/// not about which answers a submission needs).
async fn submit_ben(state: &AppState) {
    state
        .store
        .execute(&ResponseRequest {
            key: ben_outcomes(),
            idempotency_key: id(IdempotencyKey::parse("submit-ben")),
            command: Command::Submit,
            expected_seq: None,
            actor: Actor::System,
            channel: Channel::Graphql,
            at: Timestamp::from_millis(DEADLINE - 3 * DAY_MILLIS),
        })
        .await
        .expect("submitted");
}

/// Every instance ticks at the same moment; returns their reports.
async fn tick_all(states: &[Arc<AppState>], clock: &Clock) -> Vec<TickReport> {
    let now = clock.now();
    let ticks = states.iter().map(|state| async move {
        Reminders::of(state)
            .tick(now)
            .await
            .unwrap_or_else(|e| panic!("tick: {e}"))
    });
    futures_util::future::join_all(ticks).await
}

fn sent_to(reports: &[TickReport]) -> Vec<(String, u32)> {
    let mut sent: Vec<_> = reports
        .iter()
        .flat_map(|r| &r.sent)
        .map(|r| (r.person.to_string(), r.day))
        .collect();
    sent.sort();
    sent
}

/// The recipients of the messages from `from` on.
fn recipients(sink: &SmtpSink, from: usize) -> BTreeSet<String> {
    sink.messages()[from..]
        .iter()
        .flat_map(|m| m.to.clone())
        .collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| format!("{n}@example.org")).collect()
}

fn story(backend: BackendKind) {
    let sink = SmtpSink::start();
    let redis = (backend == BackendKind::Redis).then(RedisServer::start);
    let data = tempfile::tempdir().expect("temp dir");
    let clock = Clock::manual(before(10));
    runtime().block_on(async {
        // One instance on redb (one process owns the file); two sharing one Redis.
        let mut states = vec![instance(&data, redis.as_ref(), sink.port(), &clock).await];
        if redis.is_some() {
            states.push(instance(&data, redis.as_ref(), sink.port(), &clock).await);
        }
        let state = Arc::clone(&states[0]);
        arrange(&state).await;

        // Ten days before: nothing is due.
        let reports = tick_all(&states, &clock).await;
        assert_eq!(sent_to(&reports), vec![]);
        assert!(sink.messages().is_empty());

        // Seven days before: everyone assigned in the open round with a deadline, once,
        // whichever instance sends it; not Dee (closed round), Eve (no deadline), Zed.
        clock.set(before(7));
        let reports = tick_all(&states, &clock).await;
        assert_eq!(
            sent_to(&reports),
            vec![
                ("p-ana".to_owned(), 7),
                ("p-ben".to_owned(), 7),
                ("p-cy".to_owned(), 7)
            ]
        );
        assert!(reports.iter().all(|r| r.failed.is_empty()));
        assert_eq!(
            sink.messages().len(),
            3,
            "one message each, from one instance"
        );
        assert_eq!(recipients(&sink, 0), set(&["ana", "ben", "cy"]));
        let ana = sink
            .messages()
            .into_iter()
            .find(|m| m.to == ["ana@example.org"])
            .expect("Ana's reminder");
        let text = tests::smtp::decode_quoted_printable(&ana.data);
        assert!(
            text.contains("Subject: Reminder: Round r-2026 is due by 2030-03-17"),
            "{text}"
        );
        assert!(
            text.contains("http://127.0.0.1:9/l/"),
            "a personal link: {text}"
        );
        assert!(text.contains("0 of 51 required questions"), "{text}");
        assert!(
            text.contains("/continue"),
            "Ana is linked to Telegram: {text}"
        );
        // Ticking again, on any instance, sends nothing more.
        clock.set(before(7).plus_millis(HOUR));
        let reports = tick_all(&states, &clock).await;
        assert_eq!(sent_to(&reports), vec![]);
        assert_eq!(sink.messages().len(), 3);

        // Ana is linked: the bot gets a notice for her, once; nobody else gets one.
        let store = state.store.as_ref();
        let notices = reminders::claim_notices(store, &state.catalogue, clock.now(), 10)
            .await
            .expect("claimed");
        assert_eq!(notices.len(), 1, "{notices:?}");
        let notice = &notices[0];
        assert_eq!(notice.chat, TelegramChatId(ANA_CHAT));
        assert_eq!(
            (
                notice.day,
                notice.round_title.as_str(),
                notice.person_name.as_str()
            ),
            (7, "Round r-2026", "ana")
        );
        assert_eq!(notice.responses.len(), 1);
        assert_eq!(notice.responses[0].organisation_name, "UNICEF");
        assert_eq!(
            (notice.responses[0].answered, notice.responses[0].total),
            (0, 51)
        );
        assert!(
            reminders::ack_notice(store, notice.id.as_str())
                .await
                .expect("acknowledged")
        );
        let again = reminders::claim_notices(store, &state.catalogue, clock.now(), 10)
            .await
            .expect("claimed");
        assert!(again.is_empty(), "delivered once: {again:?}");

        // Ben submits; two days before, Ana and Cy get their second reminder, he none.
        submit_ben(&state).await;
        clock.set(before(2));
        let reports = tick_all(&states, &clock).await;
        assert_eq!(
            sent_to(&reports),
            vec![("p-ana".to_owned(), 2), ("p-cy".to_owned(), 2)]
        );
        assert_eq!(sink.messages().len(), 5);
        assert_eq!(recipients(&sink, 3), set(&["ana", "cy"]));

        // One day before: two reminders is the most per person.
        clock.set(before(1));
        let reports = tick_all(&states, &clock).await;
        assert_eq!(sent_to(&reports), vec![]);
        assert_eq!(sink.messages().len(), 5);
        let marks = store
            .reminder_marks(&id(RoundId::parse("r-2026")), &id(PersonId::parse("p-ana")))
            .await
            .expect("marks");
        assert_eq!(marks.iter().map(|m| m.day).collect::<Vec<_>>(), vec![2, 7]);

        // At and after the deadline: nothing.
        clock.set(Timestamp::from_millis(DEADLINE));
        let reports = tick_all(&states, &clock).await;
        assert_eq!(sent_to(&reports), vec![]);
        assert_eq!(sink.messages().len(), 5);
    });
}

#[test]
fn reminders_on_redb() {
    story(BackendKind::Redb);
}

#[test]
fn reminders_with_two_instances_on_redis() {
    story(BackendKind::Redis);
}

/// When the mail fails, the day's mark is released and the links made for it revoked;
/// the next check sends the reminder.
#[test]
fn a_failed_reminder_is_sent_at_the_next_check() {
    let sink = SmtpSink::start();
    let data = tempfile::tempdir().expect("temp dir");
    let clock = Clock::manual(before(7));
    runtime().block_on(async {
        // Nothing listens on this port: every send fails.
        let state = instance(&data, None, tests::free_port(), &clock).await;
        arrange(&state).await;
        let report = Reminders::of(&state)
            .tick(clock.now())
            .await
            .expect("ticked");
        assert!(report.leased && report.sent.is_empty());
        assert_eq!(report.failed.len(), 3, "{report:?}");
        assert_eq!(report.notices, 0, "no Telegram copy of an unsent reminder");
        let ana = id(PersonId::parse("p-ana"));
        let round = id(RoundId::parse("r-2026"));
        assert_eq!(
            state
                .store
                .reminder_marks(&round, &ana)
                .await
                .expect("marks"),
            vec![],
            "the mark is released"
        );

        // The same store with a mailer that reaches the sink.
        let working = Mailer::build(&settings(&data, None, sink.port())).expect("mailer");
        let report = Reminders {
            mailer: &working,
            ..Reminders::of(&state)
        }
        .tick(clock.now())
        .await
        .expect("ticked");
        assert_eq!(report.sent.len(), 3, "{report:?}");
        assert_eq!(sink.messages().len(), 3);
        assert_eq!(report.notices, 1, "Ana's Telegram copy");
    });
}

/// An instance that cannot get the lease does nothing; the holder's lease runs out or
/// is released, and then the work is done once.
#[test]
fn the_lease_keeps_a_second_instance_idle() {
    let sink = SmtpSink::start();
    let redis = RedisServer::start();
    let data = tempfile::tempdir().expect("temp dir");
    let clock = Clock::manual(before(7));
    runtime().block_on(async {
        let state = instance(&data, Some(&redis), sink.port(), &clock).await;
        arrange(&state).await;
        // Another instance holds the lease (say, in the middle of its own check).
        assert!(
            state
                .store
                .acquire_lease(reminders::LEASE, "other-instance", clock.now(), 60_000)
                .await
                .expect("lease")
        );
        let report = Reminders::of(&state)
            .tick(clock.now())
            .await
            .expect("ticked");
        assert_eq!(report, TickReport::default(), "not leased, nothing done");
        assert!(sink.messages().is_empty());
        assert!(
            state
                .store
                .release_lease(reminders::LEASE, "other-instance")
                .await
                .expect("released")
        );
        let report = Reminders::of(&state)
            .tick(clock.now())
            .await
            .expect("ticked");
        assert!(report.leased);
        assert_eq!(report.sent.len(), 3);
    });
}
