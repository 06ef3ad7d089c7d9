//! Saving answers through the service: every answer is checked against the catalogue
//! before anything is written; invalid input names each problem and writes nothing.

use std::sync::Arc;

use server::catalogue::InstrumentRef;
use server::domain::{
    Actor, AnswerValue, Channel, IdempotencyKey, OrganisationId, PersonId, Respondent, ResponseKey,
    Round, RoundId, RoundStatus, Timestamp,
};
use server::service::answers::{self, AnswerProblem, RawAnswer, RawValue, SaveAnswers, SaveError};
use server::store::contract::response_key;
use server::store::{SharedStore, StoreError};

use crate::support::shipped;

fn save_request(key: &ResponseKey, idempotency: &str, answers: Vec<RawAnswer>) -> SaveAnswers {
    SaveAnswers {
        key: key.clone(),
        idempotency_key: IdempotencyKey::parse(idempotency).expect("key"),
        answers,
        expected_seq: None,
        actor: Actor::Person(PersonId::parse("p-focal").expect("id")),
        channel: Channel::Web,
        at: Timestamp::from_millis(1_790_000_000_000),
    }
}

fn answer(question: &str, value: RawValue) -> RawAnswer {
    RawAnswer {
        question: question.to_owned(),
        value: Some(value),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn store(dir: &tempfile::TempDir) -> SharedStore {
    Arc::new(server::store::redb::open(&dir.path().join("answers.redb")).expect("open"))
}

/// Round `r-2026` (the contract fixtures' round), open, with UNICEF and the stage and
/// outcome instruments.
async fn open_round(store: &SharedStore, status: RoundStatus) {
    store
        .put_round(&Round {
            id: RoundId::parse("r-2026").expect("id"),
            title: "Test round".to_owned(),
            instruments: vec![
                InstrumentRef::parse("jiu-rbm-stages@1").expect("ref"),
                InstrumentRef::parse("jiu-rbm-outcomes@1").expect("ref"),
                InstrumentRef::parse("jiu-rbm-drivers@1").expect("ref"),
            ],
            organisations: vec![OrganisationId::parse("unicef").expect("id")],
            deadline: None,
            status,
        })
        .await
        .expect("round stored");
}

#[test]
fn invalid_answers_are_named_and_nothing_is_written() {
    let catalogue = shipped();
    let dir = tempfile::tempdir().expect("temp dir");
    let store = store(&dir);
    let key = response_key("unicef");
    runtime().block_on(async {
        open_round(&store, RoundStatus::Open).await;
        let request = save_request(
            &key,
            "bad",
            vec![
                answer("1.1/stage", RawValue::Number(3)),
                answer("2.3/stage", RawValue::Number(7)),
                answer("9.9/stage", RawValue::Number(2)),
                answer("1.1/activity/2", RawValue::Number(4)),
                answer("1.1/rationale", RawValue::Text("x".repeat(10_001))),
                answer("1.2/stage", RawValue::Text("three".into())),
                answer("1.1/activity/8", RawValue::Number(1)),
            ],
        );
        let Err(SaveError::Invalid(problems)) =
            answers::save(store.as_ref(), &catalogue, request).await
        else {
            panic!("invalid answers rejected");
        };
        let shown: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            vec![
                "`2.3/stage`: a stage is 1 to 5, not 7",
                "`9.9/stage` is not a question of this instrument",
                "`1.1/activity/2`: a rating is 1 to 3, not 4",
                "`1.1/rationale`: the text is 10001 characters long; at most 10000 are accepted",
                "`1.2/stage` takes a stage, 1 to 5",
                "`1.1/activity/8` is not a question of this instrument",
            ]
        );
        assert!(matches!(problems[1], AnswerProblem::UnknownQuestion(_)));
        assert!(
            store.history(&key).await.expect("history").is_empty(),
            "nothing written"
        );
        assert_eq!(store.response(&key).await.expect("response"), None);
    });
}

#[test]
fn valid_answers_are_saved_with_their_provenance() {
    let catalogue = shipped();
    let dir = tempfile::tempdir().expect("temp dir");
    let store = store(&dir);
    let key = response_key("unicef");
    runtime().block_on(async {
        open_round(&store, RoundStatus::Open).await;
        let receipt = answers::save(
            store.as_ref(),
            &catalogue,
            save_request(
                &key,
                "good",
                vec![
                    answer("1.1/stage", RawValue::Number(4)),
                    answer(
                        "1.1/rationale",
                        RawValue::Text("  Endorsed in 2024.  ".into()),
                    ),
                    answer(
                        "1.1/evidence",
                        RawValue::Evidence(vec![answers::RawEvidence {
                            person: false,
                            text: "RBM strategy 2024-2027".into(),
                            file: None,
                        }]),
                    ),
                    answer(
                        "1.1/other",
                        RawValue::Named(vec![("Peer review".into(), 3)]),
                    ),
                ],
            ),
        )
        .await
        .expect("saved");
        assert_eq!(receipt.events.len(), 4);
        let response = store.response(&key).await.expect("read").expect("exists");
        let rationale =
            &response.answers[&server::domain::QuestionId::parse("1.1/rationale").expect("id")];
        assert_eq!(
            rationale.value,
            AnswerValue::Text("Endorsed in 2024.".into())
        );
        assert_eq!(rationale.channel, Channel::Web);
    });
}

#[test]
fn the_respondent_must_fit_the_instrument() {
    let catalogue = shipped();
    let dir = tempfile::tempdir().expect("temp dir");
    let store = store(&dir);
    let person = Respondent::Person(PersonId::parse("p-ben").expect("id"));
    let cases = [
        (
            ResponseKey {
                respondent: person.clone(),
                ..response_key("unicef")
            },
            "one consolidated response per organisation",
        ),
        (
            ResponseKey {
                instrument: InstrumentRef::parse("jiu-rbm-outcomes@1").expect("ref"),
                ..response_key("unicef")
            },
            "one response per respondent",
        ),
        (
            ResponseKey {
                instrument: InstrumentRef::parse("jiu-rbm-drivers@1").expect("ref"),
                ..response_key("unicef")
            },
            "guidance and takes no answers",
        ),
        (
            ResponseKey {
                instrument: InstrumentRef::parse("jiu-rbm-stages@9").expect("ref"),
                ..response_key("unicef")
            },
            "no instrument jiu-rbm-stages@9",
        ),
    ];
    runtime().block_on(async {
        open_round(&store, RoundStatus::Open).await;
        for (key, message) in cases {
            let error = answers::save(
                store.as_ref(),
                &catalogue,
                save_request(&key, "k", vec![answer("1.1/stage", RawValue::Number(2))]),
            )
            .await
            .expect_err("rejected");
            assert!(error.to_string().contains(message), "{error}");
            assert!(store.history(&key).await.expect("history").is_empty());
        }
    });
}

#[test]
fn a_submitted_response_refuses_answers() {
    let catalogue = shipped();
    let dir = tempfile::tempdir().expect("temp dir");
    let store = store(&dir);
    let key = response_key("unicef");
    runtime().block_on(async {
        open_round(&store, RoundStatus::Open).await;
        answers::save(
            store.as_ref(),
            &catalogue,
            save_request(&key, "a", vec![answer("1.1/stage", RawValue::Number(2))]),
        )
        .await
        .expect("saved");
        store
            .execute(&server::store::contract::request(
                &key,
                "submit",
                server::domain::Command::Submit,
            ))
            .await
            .expect("submitted");
        let error = answers::save(
            store.as_ref(),
            &catalogue,
            save_request(&key, "b", vec![answer("1.1/stage", RawValue::Number(3))]),
        )
        .await
        .expect_err("refused");
        assert!(
            matches!(error, SaveError::Store(StoreError::Refused(_))),
            "{error}"
        );
        assert_eq!(store.history(&key).await.expect("history").len(), 2);
    });
}

#[test]
fn answers_need_an_open_round_that_includes_the_response() {
    let catalogue = shipped();
    let dir = tempfile::tempdir().expect("temp dir");
    let store = store(&dir);
    let stage = || vec![answer("1.1/stage", RawValue::Number(2))];
    runtime().block_on(async {
        let key = response_key("unicef");
        let error = answers::save(store.as_ref(), &catalogue, save_request(&key, "a", stage()))
            .await
            .expect_err("no round");
        assert!(matches!(error, SaveError::UnknownRound(_)), "{error}");

        open_round(&store, RoundStatus::Draft).await;
        let error = answers::save(store.as_ref(), &catalogue, save_request(&key, "a", stage()))
            .await
            .expect_err("draft round");
        assert!(error.to_string().contains("is draft, not open"), "{error}");

        open_round(&store, RoundStatus::Open).await;
        let elsewhere = response_key("fao");
        let error = answers::save(
            store.as_ref(),
            &catalogue,
            save_request(&elsewhere, "a", stage()),
        )
        .await
        .expect_err("not in round");
        assert!(matches!(error, SaveError::NotInRound(_)), "{error}");
        for key in [&key, &elsewhere] {
            assert!(store.history(key).await.expect("history").is_empty());
        }
    });
}

#[test]
fn submission_waits_for_every_required_answer() {
    let catalogue = shipped();
    let dir = tempfile::tempdir().expect("temp dir");
    let store = store(&dir);
    let key = response_key("unicef");
    let instrument = catalogue.get("jiu-rbm-stages", 1).expect("instrument");
    let actor = || Actor::Person(PersonId::parse("p-focal").expect("id"));
    runtime().block_on(async {
        open_round(&store, RoundStatus::Open).await;
        let submit = |key_text: &'static str| {
            let store = Arc::clone(&store);
            let catalogue = &catalogue;
            let key = key.clone();
            async move {
                answers::submit(
                    store.as_ref(),
                    catalogue,
                    &key,
                    IdempotencyKey::parse(key_text).expect("key"),
                    actor(),
                    Channel::Web,
                    Timestamp::from_millis(1),
                )
                .await
            }
        };
        let Err(SaveError::Incomplete(missing)) = submit("s-1").await else {
            panic!("an empty response cannot be submitted");
        };
        // Stage, rationale and evidence of each of the 17 components.
        assert_eq!(missing.len(), 17 * 3);
        assert_eq!(missing[0], "1.1/stage");

        // The channel continues where nothing is answered yet.
        let questions = answers::Questions::of(instrument, None);
        let next = answers::next_question(&questions, None, None).expect("a question");
        assert_eq!(next.id, "1.1/stage");

        // Answer every required question.
        let mut all = Vec::new();
        for id in &missing {
            let value = match id.rsplit('/').next() {
                Some("stage") => RawValue::Number(3),
                Some("evidence") => RawValue::Evidence(vec![answers::RawEvidence {
                    person: false,
                    text: "Annual report".into(),
                    file: None,
                }]),
                _ => RawValue::Text("Because the policy is applied.".into()),
            };
            all.push(answer(id, value));
        }
        answers::save(store.as_ref(), &catalogue, save_request(&key, "all", all))
            .await
            .expect("saved");
        let response = store.response(&key).await.expect("read");
        assert!(answers::missing_required(instrument, response.as_ref()).is_empty());
        // Skipping the optional comments of 1.1 leads to its plans, then its activities.
        let after_comments =
            answers::next_question(&questions, response.as_ref(), Some("1.1/comments"))
                .expect("next");
        assert_eq!(after_comments.id, "1.1/plans");

        let receipt = submit("s-2").await.expect("submitted");
        assert_eq!(receipt.events.len(), 1);
        let again = submit("s-2")
            .await
            .expect("a retry is answered from the record");
        assert!(again.replayed);
        let error = submit("s-3").await.expect_err("already submitted");
        assert!(
            matches!(error, SaveError::Store(StoreError::Refused(_))),
            "{error}"
        );
    });
}

#[test]
fn only_an_independent_rater_answers_the_stage_questionnaire_in_person() {
    use server::domain::{Assignment, Role};
    let catalogue = shipped();
    let dir = tempfile::tempdir().expect("temp dir");
    let store = store(&dir);
    let own = |person: &str| ResponseKey {
        respondent: Respondent::Person(PersonId::parse(person).expect("id")),
        ..response_key("unicef")
    };
    let stage = || vec![answer("1.1/stage", RawValue::Number(4))];
    runtime().block_on(async {
        open_round(&store, RoundStatus::Open).await;
        for (person, role) in [
            ("p-rater", Role::IndependentRater),
            ("p-focal", Role::FocalPoint),
            // Both roles: not independent of the self-assessment.
            ("p-both", Role::FocalPoint),
            ("p-both", Role::IndependentRater),
            (
                "p-ben",
                Role::SeniorManager {
                    outcome_areas: vec![],
                },
            ),
        ] {
            store
                .put_assignment(&Assignment {
                    round: RoundId::parse("r-2026").expect("id"),
                    organisation: OrganisationId::parse("unicef").expect("id"),
                    person: PersonId::parse(person).expect("id"),
                    role,
                })
                .await
                .expect("assigned");
        }

        // The rater's own rating is saved and can be submitted once complete.
        let key = own("p-rater");
        let receipt = answers::save(store.as_ref(), &catalogue, save_request(&key, "r", stage()))
            .await
            .expect("a rater rates in person");
        assert_eq!(receipt.events.len(), 1);
        let error = answers::submit(
            store.as_ref(),
            &catalogue,
            &key,
            IdempotencyKey::parse("rs").expect("key"),
            Actor::Person(PersonId::parse("p-rater").expect("id")),
            Channel::Web,
            Timestamp::from_millis(1),
        )
        .await
        .expect_err("incomplete");
        assert!(matches!(error, SaveError::Incomplete(_)), "{error}");

        // Focal points, people with both roles, other roles and strangers cannot.
        for person in ["p-focal", "p-both", "p-ben", "p-nobody"] {
            let key = own(person);
            let error = answers::save(store.as_ref(), &catalogue, save_request(&key, "x", stage()))
                .await
                .expect_err("refused");
            assert!(
                matches!(error, SaveError::WrongRespondent(_))
                    && error.to_string().contains("only an independent rater"),
                "{person}: {error}"
            );
            assert!(store.history(&key).await.expect("history").is_empty());
        }
        // The consolidated response is untouched by the rating.
        assert!(
            store
                .history(&response_key("unicef"))
                .await
                .expect("history")
                .is_empty()
        );
    });
}
