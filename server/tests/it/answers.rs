//! Saving answers through the service: every answer is checked against the catalogue
//! before anything is written; invalid input names each problem and writes nothing.

use std::sync::Arc;

use server::catalogue::InstrumentRef;
use server::domain::{
    Actor, AnswerValue, Channel, IdempotencyKey, PersonId, Respondent, ResponseKey, Timestamp,
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

#[test]
fn invalid_answers_are_named_and_nothing_is_written() {
    let catalogue = shipped();
    let dir = tempfile::tempdir().expect("temp dir");
    let store = store(&dir);
    let key = response_key("unicef");
    runtime().block_on(async {
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
