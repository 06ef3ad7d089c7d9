//! The contract every store backend must pass: one story per check, run by the tests
//! against redb (a temporary file) and against a real Redis (a private `redis-server`).
//!
//! Checks panic with a message on failure; each takes a fresh, empty store. This module
//! holds test logic only and is never called by the server itself.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::catalogue::InstrumentRef;
use crate::domain::{
    Actor, AnswerChange, AnswerValue, ApiToken, Assignment, Channel, Command, CommandError,
    EmailAddress, EventKind, IdempotencyKey, LinkBinding, LinkToken, NoticeId, Organisation,
    OrganisationId, Person, PersonId, QuestionId, Rating, ReminderClaim, ReminderMark, Respondent,
    Response, ResponseKey, ResponseStatus, Role, Round, RoundId, RoundStatus, Stage,
    TelegramChatId, TelegramLinkCode, TelegramNotice, Timestamp, TokenHash, TokenId, TokenRole,
    ValidationRecord, ValidationStatus, ValidationSubject, Validator,
};

use super::{AuditAction, AuditEntry};
use super::{Receipt, ResponseRequest, SharedStore, Store, StoreError};
use crate::domain::{
    Action, ActionId, ActionLink, ActionReminderKind, ActionReminderMark, ActionStatus,
    ActionWrite, Activity, ActivityKind, AddedQuestion, ThemeTag,
};

/// A check of the contract.
pub type Check = fn(SharedStore) -> Pin<Box<dyn Future<Output = ()> + Send>>;

/// Every check, by name.
pub const CHECKS: &[(&str, Check)] = &[
    ("organisations", |s| Box::pin(organisations(s))),
    ("persons and chat links", |s| Box::pin(persons_and_chats(s))),
    ("rounds and assignments", |s| {
        Box::pin(rounds_and_assignments(s))
    }),
    ("one person's assignments", |s| {
        Box::pin(assignments_of_one_person(s))
    }),
    ("answers with their events", |s| {
        Box::pin(answers_with_events(s))
    }),
    ("idempotent requests", |s| Box::pin(idempotent_requests(s))),
    ("refused commands change nothing", |s| Box::pin(refusals(s))),
    ("one response per respondent", |s| Box::pin(respondents(s))),
    ("concurrent writers", |s| Box::pin(concurrent_writers(s))),
    ("validations", |s| Box::pin(validations(s))),
    ("audit log", |s| Box::pin(audit_log(s))),
    ("tokens", |s| Box::pin(tokens(s))),
    ("telegram linking codes", |s| Box::pin(telegram_codes(s))),
    ("telegram updates", |s| Box::pin(telegram_updates(s))),
    ("leases", |s| Box::pin(leases(s))),
    ("reminder marks", |s| Box::pin(reminder_marks(s))),
    ("telegram notices", |s| Box::pin(telegram_notices(s))),
    ("learning activities", |s| Box::pin(activities(s))),
    ("actions and the priority limit", |s| {
        Box::pin(actions_and_priority_limit(s))
    }),
    ("concurrent priority actions", |s| {
        Box::pin(concurrent_priority_actions(s))
    }),
    ("action reminder marks", |s| {
        Box::pin(action_reminder_marks(s))
    }),
    ("closed store", |s| Box::pin(closed_store(s))),
];

// --- fixtures ------------------------------------------------------------------------

fn id<T>(result: Result<T, crate::domain::IdError>) -> T {
    result.unwrap_or_else(|e| panic!("fixture id: {e}"))
}

/// The consolidated stage-questionnaire response of `organisation` in round `r-2026`.
pub fn response_key(organisation: &str) -> ResponseKey {
    ResponseKey {
        round: id(RoundId::parse("r-2026")),
        organisation: id(OrganisationId::parse(organisation)),
        instrument: InstrumentRef::parse("jiu-rbm-stages@1")
            .unwrap_or_else(|e| panic!("fixture instrument: {e}")),
        respondent: Respondent::Organisation,
    }
}

/// A question id.
pub fn question(text: &str) -> QuestionId {
    id(QuestionId::parse(text))
}

/// A stage value.
pub fn stage(value: i64) -> AnswerValue {
    AnswerValue::Stage(Stage::parse(value).unwrap_or_else(|e| panic!("fixture stage: {e}")))
}

/// A request setting or clearing answers.
pub fn answers(
    key: &ResponseKey,
    idempotency_key: &str,
    changes: Vec<(QuestionId, AnswerChange)>,
) -> ResponseRequest {
    request(key, idempotency_key, Command::Answers(changes))
}

/// A request with any command, by a fixed person through Telegram.
pub fn request(key: &ResponseKey, idempotency_key: &str, command: Command) -> ResponseRequest {
    ResponseRequest {
        key: key.clone(),
        idempotency_key: id(IdempotencyKey::parse(idempotency_key)),
        command,
        expected_seq: None,
        actor: Actor::Person(id(PersonId::parse("p-focal"))),
        channel: Channel::Telegram,
        at: Timestamp::from_millis(1_790_000_000_000),
    }
}

fn person(person_id: &str, chat: Option<i64>) -> Person {
    Person {
        id: id(PersonId::parse(person_id)),
        name: format!("Person {person_id}"),
        email: EmailAddress::parse(&format!("{person_id}@example.org"))
            .unwrap_or_else(|e| panic!("fixture email: {e}")),
        telegram_chat: chat.map(TelegramChatId),
    }
}

async fn ok<T>(what: &str, future: impl Future<Output = Result<T, StoreError>>) -> T {
    future
        .await
        .unwrap_or_else(|e| panic!("{what} failed: {e} ({e:?})"))
}

async fn current(store: &dyn Store, key: &ResponseKey) -> Response {
    ok("response", store.response(key))
        .await
        .unwrap_or_else(|| panic!("response {} exists", key.id()))
}

/// Asserts that the stored state of a response equals the fold of its log.
pub async fn assert_state_is_fold(store: &dyn Store, key: &ResponseKey) {
    let history = ok("history", store.history(key)).await;
    let seqs: Vec<u64> = history.iter().map(|e| e.seq).collect();
    let expected: Vec<u64> = (1..=history.len() as u64).collect();
    assert_eq!(seqs, expected, "the log of {} has no gaps", key.id());
    let stored = ok("response", store.response(key)).await;
    if history.is_empty() {
        assert!(stored.is_none(), "no events, no response");
    } else {
        assert_eq!(
            stored,
            Some(Response::replay(key.clone(), &history)),
            "the stored state of {} equals the fold of its log",
            key.id()
        );
    }
}

// --- checks --------------------------------------------------------------------------

async fn organisations(store: SharedStore) {
    let unicef = Organisation::new(
        id(OrganisationId::parse("unicef")),
        "UNICEF",
        Some("UNICEF"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let fao = Organisation::new(
        id(OrganisationId::parse("fao")),
        "Food and Agriculture Organization",
        None,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ok("get", store.organisation(&unicef.id)).await, None);
    ok("put", store.put_organisation(&unicef)).await;
    ok("put", store.put_organisation(&fao)).await;
    assert_eq!(
        ok("get", store.organisation(&unicef.id)).await,
        Some(unicef.clone())
    );
    let renamed = Organisation {
        name: "United Nations Children's Fund".to_owned(),
        ..unicef
    };
    ok("replace", store.put_organisation(&renamed)).await;
    assert_eq!(
        ok("list", store.organisations()).await,
        vec![fao, renamed],
        "listed by id, replaced in place"
    );
}

async fn persons_and_chats(store: SharedStore) {
    let ana = person("p-ana", Some(42));
    let ben = person("p-ben", None);
    ok("put", store.put_person(&ana)).await;
    ok("put", store.put_person(&ben)).await;
    assert_eq!(ok("get", store.person(&ana.id)).await, Some(ana.clone()));
    assert_eq!(
        ok("by chat", store.person_by_chat(TelegramChatId(42))).await,
        Some(ana.clone())
    );
    assert_eq!(
        ok("by chat", store.person_by_chat(TelegramChatId(7))).await,
        None
    );

    // Chat 42 moves to Ben: it is unlinked from Ana.
    let ben_linked = Person {
        telegram_chat: Some(TelegramChatId(42)),
        ..ben.clone()
    };
    ok("relink", store.put_person(&ben_linked)).await;
    assert_eq!(
        ok("by chat", store.person_by_chat(TelegramChatId(42))).await,
        Some(ben_linked.clone())
    );
    assert_eq!(
        ok("get", store.person(&ana.id))
            .await
            .and_then(|p| p.telegram_chat),
        None,
        "a chat belongs to one person"
    );
    // Ben unlinks: the chat maps to nobody.
    ok("unlink", store.put_person(&ben)).await;
    assert_eq!(
        ok("by chat", store.person_by_chat(TelegramChatId(42))).await,
        None
    );
    let listed: Vec<PersonId> = ok("list", store.persons())
        .await
        .into_iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(listed, vec![ana.id, ben.id]);
}

async fn rounds_and_assignments(store: SharedStore) {
    let mut round = Round {
        id: id(RoundId::parse("r-2026")),
        title: "JIU RBM 2026".to_owned(),
        instruments: vec![
            InstrumentRef::parse("jiu-rbm-stages@1").unwrap_or_else(|e| panic!("{e}")),
        ],
        organisations: vec![id(OrganisationId::parse("unicef"))],
        deadline: Some(Timestamp::from_millis(1_800_000_000_000)),
        status: RoundStatus::Draft,
    };
    ok("put", store.put_round(&round)).await;
    round.status = RoundStatus::Open;
    ok("update", store.put_round(&round)).await;
    assert_eq!(ok("get", store.round(&round.id)).await, Some(round.clone()));
    assert_eq!(ok("list", store.rounds()).await, vec![round.clone()]);

    let focal = Assignment {
        round: round.id.clone(),
        organisation: id(OrganisationId::parse("unicef")),
        person: id(PersonId::parse("p-ana")),
        role: Role::FocalPoint,
    };
    let manager = Assignment {
        person: id(PersonId::parse("p-ben")),
        role: Role::SeniorManager {
            outcome_areas: vec!["qcpr-1".to_owned()],
        },
        ..focal.clone()
    };
    ok("assign", store.put_assignment(&manager)).await;
    ok("assign", store.put_assignment(&focal)).await;
    ok("assign twice", store.put_assignment(&focal)).await;
    let more_areas = Assignment {
        role: Role::SeniorManager {
            outcome_areas: vec!["qcpr-1".to_owned(), "qcpr-5".to_owned()],
        },
        ..manager.clone()
    };
    ok("replace", store.put_assignment(&more_areas)).await;
    assert_eq!(
        ok("list", store.assignments(&round.id)).await,
        vec![focal.clone(), more_areas.clone()],
        "one entry per identity, by organisation and person"
    );
    assert!(ok("remove", store.remove_assignment(&focal)).await);
    assert!(!ok("remove again", store.remove_assignment(&focal)).await);
    assert_eq!(
        ok("list", store.assignments(&round.id)).await,
        vec![more_areas]
    );
}

async fn assignments_of_one_person(store: SharedStore) {
    let assignment = |round: &str, organisation: &str, person: &str, role: Role| Assignment {
        round: id(RoundId::parse(round)),
        organisation: id(OrganisationId::parse(organisation)),
        person: id(PersonId::parse(person)),
        role,
    };
    let focal = assignment("r-2026", "unicef", "p-ana", Role::FocalPoint);
    let learner = assignment("r-2026", "unicef", "p-ana", Role::LearningParticipant);
    // Neighbours whose keys share a prefix or sort next to hers.
    let others = [
        assignment("r-2026", "unicef", "p-ana-2", Role::FocalPoint),
        assignment("r-2026", "unicef", "p-an", Role::FocalPoint),
        assignment("r-2026", "unicef-x", "p-ana", Role::FocalPoint),
        assignment("r-2026", "unice", "p-ana", Role::IndependentRater),
        assignment("r-2027", "unicef", "p-ana", Role::IndependentRater),
    ];
    for a in others.iter().chain([&learner, &focal]) {
        ok("assign", store.put_assignment(a)).await;
    }
    let of = |round: &str, organisation: &str, person: &str| {
        let store = Arc::clone(&store);
        let (round, organisation, person) = (
            id(RoundId::parse(round)),
            id(OrganisationId::parse(organisation)),
            id(PersonId::parse(person)),
        );
        async move {
            ok(
                "assignments of",
                store.assignments_of(&round, &organisation, &person),
            )
            .await
        }
    };
    assert_eq!(
        of("r-2026", "unicef", "p-ana").await,
        vec![focal.clone(), learner.clone()],
        "hers, by role name, and no neighbour's"
    );
    assert_eq!(
        of("r-2026", "unicef", "p-ana-2").await,
        vec![others[0].clone()]
    );
    assert_eq!(of("r-2026", "unicef", "p-nobody").await, vec![]);
    assert!(ok("remove", store.remove_assignment(&focal)).await);
    assert_eq!(of("r-2026", "unicef", "p-ana").await, vec![learner]);
}

async fn answers_with_events(store: SharedStore) {
    let key = response_key("unicef");
    assert_eq!(ok("absent", store.response(&key)).await, None);
    assert!(ok("history", store.history(&key)).await.is_empty());

    let receipt = ok(
        "execute",
        store.execute(&answers(
            &key,
            "k-1",
            vec![
                (question("1.1/stage"), AnswerChange::Set(stage(3))),
                (
                    question("1.1/rationale"),
                    AnswerChange::Set(AnswerValue::Text("A strategy exists.".to_owned())),
                ),
                (
                    question("1.1/activity/2"),
                    AnswerChange::Set(AnswerValue::Rating(
                        Rating::parse(2, 1, 3).unwrap_or_else(|e| panic!("{e}")),
                    )),
                ),
            ],
        )),
    )
    .await;
    assert!(!receipt.replayed);
    let seqs: Vec<u64> = receipt.events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, vec![1, 2, 3]);
    assert!(receipt.events.iter().all(|e| e.response == key.id()));

    let response = current(store.as_ref(), &key).await;
    assert_eq!(response.meta.status, ResponseStatus::Draft);
    assert_eq!(response.meta.last_seq, 3);
    let stage_answer = &response.answers[&question("1.1/stage")];
    assert_eq!(stage_answer.value, stage(3));
    assert_eq!(
        stage_answer.channel,
        Channel::Telegram,
        "provenance: channel"
    );
    assert_eq!(
        stage_answer.actor,
        Actor::Person(id(PersonId::parse("p-focal"))),
        "provenance: who"
    );
    assert_eq!(stage_answer.seq, 1, "provenance: which event");

    // A later answer replaces, a clear removes; the log keeps everything.
    let mut later = answers(
        &key,
        "k-2",
        vec![
            (question("1.1/stage"), AnswerChange::Set(stage(4))),
            (question("1.1/rationale"), AnswerChange::Clear),
        ],
    );
    later.channel = Channel::Web;
    ok("execute", store.execute(&later)).await;
    let response = current(store.as_ref(), &key).await;
    assert_eq!(response.answers[&question("1.1/stage")].value, stage(4));
    assert_eq!(
        response.answers[&question("1.1/stage")].channel,
        Channel::Web
    );
    assert!(!response.answers.contains_key(&question("1.1/rationale")));
    assert_eq!(ok("history", store.history(&key)).await.len(), 5);
    assert_state_is_fold(store.as_ref(), &key).await;
    assert_eq!(
        ok("index", store.responses(&key.round)).await,
        vec![key.clone()]
    );

    // Requests larger than any the service lets through (it takes at most 200 answers):
    // 300 answers set in one request, then the same 300 cleared in one. On Redis each
    // kind of value goes in chunks, which these sizes cross.
    let many: Vec<QuestionId> = (1..=300)
        .map(|n| question(&format!("9.9/extra/{n}")))
        .collect();
    let set = answers(
        &key,
        "k-many",
        many.iter()
            .enumerate()
            .map(|(n, q)| {
                let value = AnswerValue::Text(format!("answer {n}"));
                (q.clone(), AnswerChange::Set(value))
            })
            .collect(),
    );
    let receipt = ok("execute", store.execute(&set)).await;
    assert_eq!(receipt.events.len(), 300);
    let response = current(store.as_ref(), &key).await;
    assert_eq!(response.meta.last_seq, 305);
    for (n, q) in many.iter().enumerate() {
        assert_eq!(
            response.answers[q].value,
            AnswerValue::Text(format!("answer {n}")),
            "{q}"
        );
    }
    let clear = answers(
        &key,
        "k-many-cleared",
        many.iter()
            .map(|q| (q.clone(), AnswerChange::Clear))
            .collect(),
    );
    ok("execute", store.execute(&clear)).await;
    let response = current(store.as_ref(), &key).await;
    assert_eq!(response.meta.last_seq, 605);
    assert!(many.iter().all(|q| !response.answers.contains_key(q)));
    assert_eq!(response.answers.len(), 2, "the earlier answers stay");
    assert_eq!(ok("history", store.history(&key)).await.len(), 605);
    assert_state_is_fold(store.as_ref(), &key).await;
}

async fn idempotent_requests(store: SharedStore) {
    let key = response_key("unicef");
    let first = answers(
        &key,
        "same-key",
        vec![(question("2.1/stage"), AnswerChange::Set(stage(2)))],
    );
    let receipt = ok("first", store.execute(&first)).await;
    // A retry (later, same content) returns the same events and records nothing new.
    let retry = ResponseRequest {
        at: first.at.plus_millis(5_000),
        ..first.clone()
    };
    let replay: Receipt = ok("retry", store.execute(&retry)).await;
    assert!(replay.replayed);
    assert_eq!(replay.events, receipt.events, "the same result");
    assert_eq!(ok("history", store.history(&key)).await.len(), 1);

    // The same key for a different request is a conflict and changes nothing.
    let different = answers(
        &key,
        "same-key",
        vec![(question("2.1/stage"), AnswerChange::Set(stage(5)))],
    );
    assert!(matches!(
        store.execute(&different).await,
        Err(StoreError::IdempotencyConflict)
    ));
    assert_eq!(ok("history", store.history(&key)).await.len(), 1);
    assert_eq!(
        current(store.as_ref(), &key).await.answers[&question("2.1/stage")].value,
        stage(2)
    );

    // Keys are per response: the same key on another response is a new request.
    let other = response_key("fao");
    let elsewhere = answers(
        &other,
        "same-key",
        vec![(question("2.1/stage"), AnswerChange::Set(stage(2)))],
    );
    assert!(
        !ok("other response", store.execute(&elsewhere))
            .await
            .replayed
    );

    // A replay still answers after the response was submitted.
    ok(
        "submit",
        store.execute(&request(&key, "submit-1", Command::Submit)),
    )
    .await;
    let late_retry = ok("late retry", store.execute(&first)).await;
    assert!(late_retry.replayed);
    assert_eq!(late_retry.events, receipt.events);
    assert_state_is_fold(store.as_ref(), &key).await;
}

async fn refusals(store: SharedStore) {
    let key = response_key("unicef");
    ok(
        "answer",
        store.execute(&answers(
            &key,
            "a-1",
            vec![(question("3.1/stage"), AnswerChange::Set(stage(1)))],
        )),
    )
    .await;
    assert!(matches!(
        store
            .execute(&request(
                &key,
                "reopen-0",
                Command::Reopen { reason: "x".into() }
            ))
            .await,
        Err(StoreError::Refused(CommandError::NotSubmitted))
    ));
    assert!(matches!(
        store.execute(&answers(&key, "empty", vec![])).await,
        Err(StoreError::Refused(CommandError::NoAnswers))
    ));
    let mut stale = answers(
        &key,
        "stale",
        vec![(question("3.1/stage"), AnswerChange::Set(stage(5)))],
    );
    stale.expected_seq = Some(0);
    assert!(matches!(
        store.execute(&stale).await,
        Err(StoreError::Refused(CommandError::Stale {
            expected: 0,
            actual: 1
        }))
    ));
    let mut fresh = stale.clone();
    fresh.idempotency_key = id(IdempotencyKey::parse("fresh"));
    fresh.expected_seq = Some(1);
    ok("expected seq matches", store.execute(&fresh)).await;

    let submitted = ok(
        "submit",
        store.execute(&request(&key, "submit", Command::Submit)),
    )
    .await;
    assert_eq!(submitted.events[0].kind, EventKind::Submitted);
    let before = ok("history", store.history(&key)).await;
    assert!(matches!(
        store
            .execute(&answers(
                &key,
                "after-submit",
                vec![(question("3.1/stage"), AnswerChange::Set(stage(2)))],
            ))
            .await,
        Err(StoreError::Refused(CommandError::Submitted))
    ));
    assert!(matches!(
        store
            .execute(&request(&key, "submit-again", Command::Submit))
            .await,
        Err(StoreError::Refused(CommandError::AlreadySubmitted))
    ));
    assert_eq!(
        ok("history", store.history(&key)).await,
        before,
        "refused commands record nothing"
    );
    // A refused request did not consume its key: after reopening, it can be sent again.
    ok(
        "reopen",
        store.execute(&request(
            &key,
            "reopen",
            Command::Reopen {
                reason: "the focal point asked to correct 3.1".into(),
            },
        )),
    )
    .await;
    assert_eq!(
        current(store.as_ref(), &key).await.meta.status,
        ResponseStatus::Draft
    );
    ok(
        "answer after reopening",
        store.execute(&answers(
            &key,
            "after-submit",
            vec![(question("3.1/stage"), AnswerChange::Set(stage(2)))],
        )),
    )
    .await;
    assert_state_is_fold(store.as_ref(), &key).await;
}

async fn respondents(store: SharedStore) {
    let organisation = response_key("unicef");
    let manager = ResponseKey {
        instrument: InstrumentRef::parse("jiu-rbm-outcomes@1").unwrap_or_else(|e| panic!("{e}")),
        respondent: Respondent::Person(id(PersonId::parse("p-ben"))),
        ..organisation.clone()
    };
    let other_manager = ResponseKey {
        respondent: Respondent::Person(id(PersonId::parse("p-cy"))),
        ..manager.clone()
    };
    for (key, text) in [(&manager, "Ben's"), (&other_manager, "Cy's")] {
        ok(
            "answer",
            store.execute(&answers(
                key,
                "k",
                vec![(
                    question("part-1/q1"),
                    AnswerChange::Set(AnswerValue::Text(text.to_owned())),
                )],
            )),
        )
        .await;
    }
    assert_eq!(
        current(store.as_ref(), &manager).await.answers[&question("part-1/q1")].value,
        AnswerValue::Text("Ben's".to_owned())
    );
    assert_eq!(
        ok("organisation's", store.response(&organisation)).await,
        None
    );
    let mut expected = vec![manager, other_manager];
    expected.sort_by_key(ResponseKey::id);
    assert_eq!(
        ok("index", store.responses(&organisation.round)).await,
        expected
    );
}

async fn concurrent_writers(store: SharedStore) {
    let key = response_key("unicef");
    let mut tasks = Vec::new();
    for writer in 0..64 {
        let store = Arc::clone(&store);
        let key = key.clone();
        tasks.push(tokio::spawn(async move {
            let request = answers(
                &key,
                &format!("writer-{writer}"),
                vec![(
                    question(&format!("1.{}/activity/{}", writer % 3 + 1, writer % 7 + 1)),
                    AnswerChange::Set(AnswerValue::Rating(
                        Rating::parse(i64::from(writer % 3 + 1), 1, 3)
                            .unwrap_or_else(|e| panic!("{e}")),
                    )),
                )],
            );
            store.execute(&request).await
        }));
    }
    for task in tasks {
        let receipt = task
            .await
            .unwrap_or_else(|e| panic!("writer task: {e}"))
            .unwrap_or_else(|e| panic!("concurrent write failed: {e}"));
        assert_eq!(receipt.events.len(), 1);
    }
    assert_eq!(ok("history", store.history(&key)).await.len(), 64);
    assert_state_is_fold(store.as_ref(), &key).await;
}

async fn validations(store: SharedStore) {
    let round = id(RoundId::parse("r-2026"));
    let unicef = id(OrganisationId::parse("unicef"));
    let validator = Validator {
        actor: Actor::Token(id(TokenId::parse("t-validator"))),
        label: "JIU validation team — «2026»".to_owned(),
    };
    let record = |component: &str, value: i64, at: i64| ValidationRecord {
        round: round.clone(),
        organisation: unicef.clone(),
        subject: ValidationSubject::Component {
            component: component.to_owned(),
            stage: Stage::parse(value).unwrap_or_else(|e| panic!("{e}")),
            evidence_reviewed: vec![format!("Policy on {component}"), "Ms Rao".to_owned()],
        },
        note: format!("checked {component}"),
        validator: validator.clone(),
        at: Timestamp::from_millis(at),
    };
    let first = record("2.3", 3, 1);
    let second = record("1.1", 2, 2);
    let revised = record("2.3", 2, 3);
    let signed_off = ValidationRecord {
        subject: ValidationSubject::Status(ValidationStatus::Validated),
        note: "signed off".to_owned(),
        ..record("2.3", 2, 4)
    };
    for r in [&first, &second, &revised, &signed_off] {
        ok("add", store.add_validation(r)).await;
    }
    assert_eq!(
        ok("list", store.validations(&round, &unicef)).await,
        vec![first, second, revised, signed_off],
        "an audit trail, oldest first, never replaced"
    );
    assert!(
        ok(
            "other organisation",
            store.validations(&round, &id(OrganisationId::parse("fao")))
        )
        .await
        .is_empty()
    );
}

async fn audit_log(store: SharedStore) {
    let round = id(RoundId::parse("r-2026"));
    let other = id(RoundId::parse("r-2027"));
    let unicef = id(OrganisationId::parse("unicef"));
    let ben = id(PersonId::parse("p-ben"));
    let admin = Actor::Token(id(TokenId::parse("t-admin")));
    let entry = |round: &RoundId, at: i64, action: AuditAction| AuditEntry {
        round: round.clone(),
        at: Timestamp::from_millis(at),
        actor: admin.clone(),
        action,
    };
    assert!(
        ok("empty", store.audit(&round)).await.is_empty(),
        "a round without acts has an empty log"
    );
    // Every kind of act, with times out of order: the log keeps the order of appending.
    let entries = vec![
        entry(&round, 5, AuditAction::RoundCreated),
        entry(
            &round,
            4,
            AuditAction::StatusChanged {
                from: RoundStatus::Draft,
                to: RoundStatus::Open,
            },
        ),
        entry(
            &round,
            6,
            AuditAction::OrganisationAdded {
                organisation: unicef.clone(),
            },
        ),
        entry(
            &round,
            7,
            AuditAction::AssignmentAdded {
                organisation: unicef.clone(),
                person: ben.clone(),
                role: Role::SeniorManager {
                    outcome_areas: vec!["qcpr-1".to_owned(), "qcpr-3".to_owned()],
                },
            },
        ),
        entry(
            &round,
            8,
            AuditAction::AssignmentRemoved {
                organisation: unicef.clone(),
                person: ben.clone(),
                role: Role::FocalPoint,
            },
        ),
        entry(
            &round,
            10,
            AuditAction::ComponentValidated {
                organisation: unicef.clone(),
                component: "2.3".to_owned(),
                stage: Stage::parse(2).unwrap_or_else(|e| panic!("{e}")),
            },
        ),
        entry(
            &round,
            11,
            AuditAction::ValidationStatusChanged {
                organisation: unicef.clone(),
                from: ValidationStatus::InValidation,
                to: ValidationStatus::Validated,
            },
        ),
        entry(
            &round,
            9,
            AuditAction::ResponseReopened {
                response: ResponseKey {
                    respondent: Respondent::Person(ben.clone()),
                    ..response_key("unicef")
                },
                reason: "wrong file attached — «corrected» ✓".to_owned(),
            },
        ),
    ];
    for entry in &entries {
        ok("append", store.append_audit(entry)).await;
    }
    let elsewhere = entry(&other, 1, AuditAction::RoundCreated);
    ok("append elsewhere", store.append_audit(&elsewhere)).await;
    assert_eq!(
        ok("log", store.audit(&round)).await,
        entries,
        "every entry, oldest first, as appended"
    );
    assert_eq!(
        ok("other log", store.audit(&other)).await,
        vec![elsewhere],
        "each round has its own log"
    );
    // Concurrent appends lose nothing.
    let mut tasks = Vec::new();
    for n in 0..16 {
        let store = Arc::clone(&store);
        let other = other.clone();
        let admin = admin.clone();
        tasks.push(tokio::spawn(async move {
            store
                .append_audit(&AuditEntry {
                    round: other,
                    at: Timestamp::from_millis(100 + n),
                    actor: admin,
                    action: AuditAction::RoundCreated,
                })
                .await
        }));
    }
    for task in tasks {
        task.await
            .unwrap_or_else(|e| panic!("append task: {e}"))
            .unwrap_or_else(|e| panic!("concurrent append failed: {e}"));
    }
    assert_eq!(ok("other log", store.audit(&other)).await.len(), 17);
}

async fn tokens(store: SharedStore) {
    let admin = ApiToken {
        id: id(TokenId::parse("t-admin")),
        hash: TokenHash::of("secret-admin"),
        role: TokenRole::Admin,
        label: "first administrator".to_owned(),
        created_at: Timestamp::from_millis(1),
        revoked: false,
    };
    let validator = ApiToken {
        id: id(TokenId::parse("t-jiu")),
        hash: TokenHash::of("secret-jiu"),
        role: TokenRole::Validator {
            rounds: vec![id(RoundId::parse("r-2026"))],
        },
        label: "JIU".to_owned(),
        created_at: Timestamp::from_millis(2),
        revoked: false,
    };
    ok("put", store.put_api_token(&admin)).await;
    ok("put", store.put_api_token(&validator)).await;
    assert_eq!(
        ok("by hash", store.api_token(&TokenHash::of("secret-jiu"))).await,
        Some(validator.clone())
    );
    assert_eq!(
        ok("unknown", store.api_token(&TokenHash::of("guess"))).await,
        None
    );
    assert!(ok("revoke", store.revoke_api_token(&admin.id)).await);
    assert!(
        !ok(
            "revoke unknown",
            store.revoke_api_token(&id(TokenId::parse("t-none")))
        )
        .await
    );
    let listed = ok("list", store.api_tokens()).await;
    assert_eq!(
        listed
            .iter()
            .map(|t| (t.id.as_str(), t.revoked))
            .collect::<Vec<_>>(),
        vec![("t-admin", true), ("t-jiu", false)]
    );

    let link = LinkToken {
        hash: TokenHash::of("link-secret"),
        binding: LinkBinding {
            response: ResponseKey {
                respondent: Respondent::Person(id(PersonId::parse("p-ben"))),
                ..response_key("unicef")
            },
            person: id(PersonId::parse("p-ben")),
        },
        expires_at: Timestamp::from_millis(1_800_000_000_000),
        revoked: false,
        created_at: Timestamp::from_millis(3),
    };
    ok("put link", store.put_link_token(&link)).await;
    assert_eq!(
        ok("link", store.link_token(&link.hash)).await,
        Some(link.clone())
    );
    assert!(ok("revoke link", store.revoke_link_token(&link.hash)).await);
    assert_eq!(
        ok("link", store.link_token(&link.hash))
            .await
            .map(|l| l.revoked),
        Some(true)
    );
    assert!(
        !ok(
            "revoke unknown link",
            store.revoke_link_token(&TokenHash::of("x"))
        )
        .await
    );

    // Revoking by binding: every usable link of that person's response, no other.
    let second = LinkToken {
        hash: TokenHash::of("link-secret-2"),
        ..link.clone()
    };
    let third = LinkToken {
        hash: TokenHash::of("link-secret-3"),
        ..link.clone()
    };
    let other = LinkToken {
        hash: TokenHash::of("link-secret-ana"),
        binding: LinkBinding {
            response: ResponseKey {
                respondent: Respondent::Person(id(PersonId::parse("p-ana"))),
                ..response_key("unicef")
            },
            person: id(PersonId::parse("p-ana")),
        },
        ..link.clone()
    };
    for token in [&second, &third, &other] {
        ok("put link", store.put_link_token(token)).await;
    }
    assert_eq!(
        ok("revoke links of", store.revoke_links_of(&link.binding)).await,
        2,
        "the two usable links; the first was revoked already"
    );
    for token in [&link, &second, &third] {
        assert_eq!(
            ok("link", store.link_token(&token.hash))
                .await
                .map(|l| l.revoked),
            Some(true)
        );
    }
    assert_eq!(
        ok("link", store.link_token(&other.hash))
            .await
            .map(|l| l.revoked),
        Some(false),
        "another person's link is untouched"
    );
    assert_eq!(
        ok("revoke again", store.revoke_links_of(&link.binding)).await,
        0
    );
}

async fn telegram_codes(store: SharedStore) {
    // Real time: Redis expires the record on its own clock.
    let now = Timestamp::now();
    let code = |secret: &str, expires_at: Timestamp| TelegramLinkCode {
        hash: TokenHash::of(secret),
        person: id(PersonId::parse("p-ana")),
        created_at: now,
        expires_at,
    };
    let fresh = code("code-fresh", now.plus_millis(60 * 60 * 1000));
    ok("put", store.put_telegram_code(&fresh)).await;
    assert_eq!(
        ok("take", store.take_telegram_code(&fresh.hash, now)).await,
        Some(fresh.clone()),
        "a usable code is taken"
    );
    assert_eq!(
        ok("take again", store.take_telegram_code(&fresh.hash, now)).await,
        None,
        "a code works once"
    );
    assert_eq!(
        ok(
            "unknown",
            store.take_telegram_code(&TokenHash::of("code-guess"), now)
        )
        .await,
        None
    );

    // Used after its expiry: not returned, and gone.
    let short = code("code-short", now.plus_millis(60 * 60 * 1000));
    ok("put", store.put_telegram_code(&short)).await;
    let later = now.plus_millis(2 * 60 * 60 * 1000);
    assert_eq!(
        ok("expired", store.take_telegram_code(&short.hash, later)).await,
        None
    );
    assert_eq!(
        ok("expired, again", store.take_telegram_code(&short.hash, now)).await,
        None
    );

    // Two concurrent takers: exactly one gets the code.
    let raced = code("code-raced", now.plus_millis(60 * 60 * 1000));
    ok("put", store.put_telegram_code(&raced)).await;
    let takers: Vec<_> = (0..8)
        .map(|_| {
            let store = Arc::clone(&store);
            let hash = raced.hash;
            tokio::spawn(async move { store.take_telegram_code(&hash, now).await })
        })
        .collect();
    let mut winners = 0;
    for taker in takers {
        let taken = taker
            .await
            .unwrap_or_else(|e| panic!("take task: {e}"))
            .unwrap_or_else(|e| panic!("concurrent take failed: {e}"));
        winners += usize::from(taken.is_some());
    }
    assert_eq!(winners, 1, "one of the concurrent takers gets the code");
}

async fn telegram_updates(store: SharedStore) {
    let now = Timestamp::from_millis(1_790_000_000_000);
    assert!(ok("first", store.mark_update_seen(1001, now)).await);
    assert!(
        !ok(
            "again",
            store.mark_update_seen(1001, now.plus_millis(1_000))
        )
        .await
    );
    // Kept for at least 25 hours.
    assert!(
        !ok(
            "25 hours later",
            store.mark_update_seen(1001, now.plus_millis(25 * 60 * 60 * 1000))
        )
        .await
    );
    assert!(ok("another", store.mark_update_seen(1002, now)).await);
}

async fn leases(store: SharedStore) {
    // Real time: Redis ends a lease on its own clock.
    let now = Timestamp::now();
    let minute = 60_000;
    assert!(ok("take", store.acquire_lease("job", "a", now, minute)).await);
    assert!(
        !ok("taken", store.acquire_lease("job", "b", now, minute)).await,
        "one holder at a time"
    );
    assert!(
        ok("extend", store.acquire_lease("job", "a", now, minute)).await,
        "the holder may take it again"
    );
    assert!(
        ok("other name", store.acquire_lease("other", "b", now, minute)).await,
        "leases are independent"
    );
    assert!(!ok("not b's", store.release_lease("job", "b")).await);
    assert!(
        !ok("still a's", store.acquire_lease("job", "b", now, minute)).await,
        "releasing someone else's lease changes nothing"
    );
    assert!(ok("release", store.release_lease("job", "a")).await);
    assert!(!ok("released", store.release_lease("job", "a")).await);
    assert!(ok("free", store.acquire_lease("job", "b", now, minute)).await);

    // A lease runs out by itself.
    assert!(ok("short", store.acquire_lease("short", "a", now, 50)).await);
    tokio::time::sleep(std::time::Duration::from_millis(120)).await;
    assert!(
        ok(
            "after its end",
            store.acquire_lease("short", "b", Timestamp::now(), minute)
        )
        .await,
        "an ended lease is free"
    );

    // Of concurrent takers, one gets it.
    let takers: Vec<_> = (0..8)
        .map(|n| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                store
                    .acquire_lease("raced", &format!("h{n}"), Timestamp::now(), minute)
                    .await
            })
        })
        .collect();
    let mut winners = 0;
    for taker in takers {
        let taken = taker
            .await
            .unwrap_or_else(|e| panic!("lease task: {e}"))
            .unwrap_or_else(|e| panic!("concurrent lease failed: {e}"));
        winners += usize::from(taken);
    }
    assert_eq!(winners, 1, "one of the concurrent takers holds the lease");
}

fn mark(round: &str, person: &str, day: u32) -> ReminderMark {
    ReminderMark {
        round: id(RoundId::parse(round)),
        person: id(PersonId::parse(person)),
        day,
        claimed_at: Timestamp::from_millis(1_790_000_000_000 + i64::from(day)),
        holder: "instance-a".to_owned(),
    }
}

async fn reminder_marks(store: SharedStore) {
    let round = id(RoundId::parse("r-2026"));
    let ana = id(PersonId::parse("p-ana"));
    assert_eq!(
        ok(
            "claim 7",
            store.claim_reminder(&mark("r-2026", "p-ana", 7), 2)
        )
        .await,
        ReminderClaim::Claimed
    );
    assert_eq!(
        ok(
            "claim 7 again",
            store.claim_reminder(&mark("r-2026", "p-ana", 7), 2)
        )
        .await,
        ReminderClaim::AlreadyClaimed,
        "a day is claimed once"
    );
    assert_eq!(
        ok(
            "claim 2",
            store.claim_reminder(&mark("r-2026", "p-ana", 2), 2)
        )
        .await,
        ReminderClaim::Claimed
    );
    assert_eq!(
        ok(
            "claim 1",
            store.claim_reminder(&mark("r-2026", "p-ana", 1), 2)
        )
        .await,
        ReminderClaim::LimitReached,
        "at most two per person"
    );
    assert_eq!(
        ok(
            "claim 2 again",
            store.claim_reminder(&mark("r-2026", "p-ana", 2), 2)
        )
        .await,
        ReminderClaim::AlreadyClaimed,
        "a claimed day is reported as claimed, also at the limit"
    );
    // Other people and rounds count apart.
    assert_eq!(
        ok("ben", store.claim_reminder(&mark("r-2026", "p-ben", 7), 2)).await,
        ReminderClaim::Claimed
    );
    assert_eq!(
        ok(
            "other round",
            store.claim_reminder(&mark("r-2027", "p-ana", 7), 2)
        )
        .await,
        ReminderClaim::Claimed
    );
    assert_eq!(
        ok("marks", store.reminder_marks(&round, &ana)).await,
        vec![mark("r-2026", "p-ana", 2), mark("r-2026", "p-ana", 7)],
        "marks by day, as claimed"
    );

    // A released mark (its mail failed) is claimed again.
    assert!(ok("release", store.release_reminder(&round, &ana, 2)).await);
    assert!(!ok("release again", store.release_reminder(&round, &ana, 2)).await);
    assert_eq!(
        ok(
            "claim 1 now",
            store.claim_reminder(&mark("r-2026", "p-ana", 1), 2)
        )
        .await,
        ReminderClaim::Claimed,
        "a released mark frees its place"
    );
    assert_eq!(
        ok("marks after", store.reminder_marks(&round, &ana))
            .await
            .iter()
            .map(|m| m.day)
            .collect::<Vec<_>>(),
        vec![1, 7]
    );

    // Concurrent claims of one day: exactly one succeeds.
    let claimers: Vec<_> = (0..8)
        .map(|n| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let mut claim = mark("r-2026", "p-cy", 7);
                claim.holder = format!("instance-{n}");
                store.claim_reminder(&claim, 3).await
            })
        })
        .collect();
    let mut claimed = 0;
    for claimer in claimers {
        let outcome = claimer
            .await
            .unwrap_or_else(|e| panic!("claim task: {e}"))
            .unwrap_or_else(|e| panic!("concurrent claim failed: {e}"));
        claimed += usize::from(outcome == ReminderClaim::Claimed);
    }
    assert_eq!(claimed, 1, "one of the concurrent claims wins");
}

fn notice(name: &str, created_at: i64, expires_at: i64) -> TelegramNotice {
    TelegramNotice {
        id: NoticeId::parse(&format!("r-2026/{name}/7"))
            .unwrap_or_else(|e| panic!("fixture notice id: {e}")),
        person: id(PersonId::parse(name)),
        round: id(RoundId::parse("r-2026")),
        day: 7,
        responses: vec![response_key("unicef")],
        created_at: Timestamp::from_millis(created_at),
        expires_at: Timestamp::from_millis(expires_at),
    }
}

async fn telegram_notices(store: SharedStore) {
    let t0 = 1_790_000_000_000;
    let end = t0 + 10_000_000;
    let hold = 60_000;
    let first = notice("p-ana", t0, end);
    let second = notice("p-ben", t0 + 1, end);
    let third = notice("p-cy", t0 + 2, end);
    assert!(ok("queue", store.put_telegram_notice(&first)).await);
    assert!(
        !ok("queue again", store.put_telegram_notice(&first)).await,
        "one notice per id"
    );
    assert!(ok("queue", store.put_telegram_notice(&second)).await);
    assert!(ok("queue", store.put_telegram_notice(&third)).await);
    assert_eq!(
        ok(
            "before any is claimable",
            store.claim_telegram_notices(Timestamp::from_millis(t0 - 1), 10, hold)
        )
        .await,
        vec![]
    );

    let now = Timestamp::from_millis(t0 + 100);
    assert_eq!(
        ok("claim two", store.claim_telegram_notices(now, 2, hold)).await,
        vec![first.clone(), second.clone()],
        "oldest first, at most the limit"
    );
    assert_eq!(
        ok(
            "claim the rest",
            store.claim_telegram_notices(now, 10, hold)
        )
        .await,
        vec![third.clone()],
        "claimed notices are hidden from other claims"
    );
    assert!(ok("ack", store.ack_telegram_notice(&first.id)).await);
    assert!(
        !ok("ack again", store.ack_telegram_notice(&first.id)).await,
        "acknowledged once"
    );
    // Not acknowledged within the hold: claimable again.
    let later = now.plus_millis(hold + 1);
    assert_eq!(
        ok(
            "claim after the hold",
            store.claim_telegram_notices(later, 10, hold)
        )
        .await,
        vec![second.clone(), third.clone()],
        "unacknowledged notices come back"
    );
    assert!(ok("ack", store.ack_telegram_notice(&second.id)).await);

    // An expired notice is dropped, never returned.
    let much_later = Timestamp::from_millis(end);
    assert_eq!(
        ok(
            "expired",
            store.claim_telegram_notices(much_later, 10, hold)
        )
        .await,
        vec![]
    );
    assert!(
        !ok("gone", store.ack_telegram_notice(&third.id)).await,
        "the expired notice was removed"
    );
    assert!(
        ok("queued again after", store.put_telegram_notice(&third)).await,
        "its id is free again"
    );
}

fn activity_fixture(round: &str) -> Activity {
    let key = ResponseKey {
        round: id(RoundId::parse(round)),
        organisation: id(OrganisationId::parse("iom")),
        instrument: InstrumentRef::parse("iom-rtl-after-action-review@1")
            .unwrap_or_else(|e| panic!("fixture instrument: {e}")),
        respondent: Respondent::Person(id(PersonId::parse("p-ana"))),
    };
    Activity {
        round: id(RoundId::parse(round)),
        kind: ActivityKind::AfterActionReview,
        intervention: "Flood response".to_owned(),
        facilitator: id(PersonId::parse("p-fac")),
        participant_roles: [(id(PersonId::parse("p-ana")), "Field officer".to_owned())].into(),
        period: "March 2026".to_owned(),
        concept_note: [("context".to_owned(), "Floods in the north".to_owned())].into(),
        previous: None,
        cycle: 1,
        themes: vec![ThemeTag {
            response: key,
            question: "questions/expected".to_owned(),
            themes: vec!["logistics".to_owned(), "staffing".to_owned()],
        }],
        report: [("conclusions/conclusions".to_owned(), "It worked".to_owned())].into(),
        added: vec![AddedQuestion {
            id: id(QuestionId::parse("added/1")),
            text: "Did the hotline \"work\"? ✓".to_owned(),
            added_at: Timestamp::from_millis(1_500),
        }],
        created_at: Timestamp::from_millis(1_000),
    }
}

async fn activities(store: SharedStore) {
    let round = id(RoundId::parse("aar-1"));
    assert_eq!(ok("activity", store.activity(&round)).await, None);
    let first = activity_fixture("aar-1");
    ok("put", store.put_activity(&first)).await;
    assert_eq!(
        ok("activity", store.activity(&round)).await,
        Some(first.clone())
    );
    let mut second = activity_fixture("aar-2");
    second.previous = Some(round.clone());
    second.cycle = 2;
    second.themes.clear();
    ok("put second", store.put_activity(&second)).await;
    let mut changed = first.clone();
    changed
        .report
        .insert("findings/findings".to_owned(), "Edited".to_owned());
    ok("replace", store.put_activity(&changed)).await;
    assert_eq!(
        ok("activities", store.activities()).await,
        vec![changed, second],
        "by round id, the latest version"
    );
}

/// An action of organisation `organisation` in round `aar-1`.
pub fn action_fixture(action: &str, organisation: &str, priority: bool) -> Action {
    Action {
        id: id(ActionId::parse(action)),
        round: id(RoundId::parse("aar-1")),
        organisation: id(OrganisationId::parse(organisation)),
        link: ActionLink::Component("2.3".to_owned()),
        text: format!("Follow up {action}"),
        owner: id(PersonId::parse("p-ana")),
        due: Timestamp::from_millis(5_000),
        status: ActionStatus::Open,
        priority,
        created_at: Timestamp::from_millis(1_000),
        updated_at: Timestamp::from_millis(1_000),
    }
}

async fn actions_and_priority_limit(store: SharedStore) {
    let round = id(RoundId::parse("aar-1"));
    for n in 1..=5 {
        let action = action_fixture(&format!("a-{n}"), "iom", true);
        assert_eq!(
            ok("put priority", store.put_action(&action, 5)).await,
            ActionWrite::Written
        );
    }
    let sixth = action_fixture("a-6", "iom", true);
    assert_eq!(
        ok("sixth", store.put_action(&sixth, 5)).await,
        ActionWrite::PriorityLimitReached,
        "a sixth priority action is refused"
    );
    let listed = ok("actions", store.actions(&round)).await;
    assert_eq!(listed.len(), 5, "the refused one was not written");
    assert!(listed.iter().all(|a| a.id.as_str() != "a-6"));
    // Editing one of the five is allowed; another organisation has its own five; an
    // ordinary action is not limited.
    let mut edited = action_fixture("a-3", "iom", true);
    edited.status = ActionStatus::InProgress;
    edited.link = ActionLink::Pillar("2".to_owned());
    assert_eq!(
        ok("edit", store.put_action(&edited, 5)).await,
        ActionWrite::Written
    );
    assert_eq!(
        ok(
            "other org",
            store.put_action(&action_fixture("b-1", "unhcr", true), 5)
        )
        .await,
        ActionWrite::Written
    );
    assert_eq!(
        ok(
            "ordinary",
            store.put_action(&action_fixture("a-7", "iom", false), 5)
        )
        .await,
        ActionWrite::Written
    );
    // Demoting one frees a place.
    let mut demoted = action_fixture("a-1", "iom", false);
    demoted.link = ActionLink::Activity;
    assert_eq!(
        ok("demote", store.put_action(&demoted, 5)).await,
        ActionWrite::Written
    );
    assert_eq!(
        ok("sixth now fits", store.put_action(&sixth, 5)).await,
        ActionWrite::Written
    );
    assert_eq!(
        ok(
            "a seventh",
            store.put_action(&action_fixture("a-8", "iom", true), 5)
        )
        .await,
        ActionWrite::PriorityLimitReached
    );
    let listed = ok("actions", store.actions(&round)).await;
    let ids: Vec<&str> = listed.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(
        ids,
        ["a-1", "a-2", "a-3", "a-4", "a-5", "a-6", "a-7", "b-1"],
        "by id"
    );
    assert_eq!(listed[0], demoted);
    assert_eq!(listed[2], edited);
    assert!(
        ok("other round", store.actions(&id(RoundId::parse("aar-2"))))
            .await
            .is_empty()
    );
}

async fn concurrent_priority_actions(store: SharedStore) {
    let writes = (1..=8).map(|n| {
        let store = Arc::clone(&store);
        async move {
            store
                .put_action(&action_fixture(&format!("c-{n}"), "iom", true), 5)
                .await
        }
    });
    let outcomes = futures_util::future::join_all(writes).await;
    let written = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(ActionWrite::Written)))
        .count();
    assert_eq!(
        written, 5,
        "exactly five of eight concurrent priority actions"
    );
    let stored = ok("actions", store.actions(&id(RoundId::parse("aar-1")))).await;
    assert_eq!(stored.len(), 5);
}

async fn action_reminder_marks(store: SharedStore) {
    let round = id(RoundId::parse("aar-1"));
    let action = id(ActionId::parse("a-1"));
    let mark = |kind| ActionReminderMark {
        round: round.clone(),
        action: action.clone(),
        kind,
        owner: id(PersonId::parse("p-ana")),
        claimed_at: Timestamp::from_millis(7_000),
        holder: "instance-a".to_owned(),
    };
    assert!(
        ok(
            "claim",
            store.claim_action_reminder(&mark(ActionReminderKind::Due))
        )
        .await
    );
    assert!(
        !ok(
            "again",
            store.claim_action_reminder(&mark(ActionReminderKind::Due))
        )
        .await,
        "once per kind"
    );
    assert!(
        ok(
            "overdue",
            store.claim_action_reminder(&mark(ActionReminderKind::Overdue))
        )
        .await
    );
    assert_eq!(
        ok("marks", store.action_reminder_marks(&round, &action)).await,
        vec![
            mark(ActionReminderKind::Due),
            mark(ActionReminderKind::Overdue)
        ]
    );
    assert!(
        ok(
            "release",
            store.release_action_reminder(&round, &action, ActionReminderKind::Due)
        )
        .await
    );
    assert!(
        !ok(
            "release again",
            store.release_action_reminder(&round, &action, ActionReminderKind::Due)
        )
        .await
    );
    assert!(
        ok(
            "claim after release",
            store.claim_action_reminder(&mark(ActionReminderKind::Due))
        )
        .await
    );
    let other = id(ActionId::parse("a-2"));
    assert!(
        ok("other action", store.action_reminder_marks(&round, &other))
            .await
            .is_empty()
    );
}

async fn closed_store(store: SharedStore) {
    ok("ping", store.ping()).await;
    ok("close", store.close()).await;
    assert!(matches!(store.ping().await, Err(StoreError::Closed)));
    assert!(matches!(
        store.organisations().await,
        Err(StoreError::Closed)
    ));
    let key = response_key("unicef");
    assert!(matches!(
        store
            .execute(&answers(
                &key,
                "after-close",
                vec![(question("1.1/stage"), AnswerChange::Set(stage(1)))],
            ))
            .await,
        Err(StoreError::Closed)
    ));
}
