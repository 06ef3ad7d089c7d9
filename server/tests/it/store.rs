//! The store contract, the fold property and the key layout on both backends: redb in a
//! temporary folder and a private `redis-server` started by the test.

use std::sync::Arc;

use proptest::prelude::*;
use server::catalogue::InstrumentRef;
use server::domain::{
    AnswerChange, AnswerValue, Command, OrganisationId, PersonId, Rating, Respondent, ResponseKey,
    RoundId,
};
use server::store::contract::{self, CHECKS};
use server::store::keys::{KeyLayout, cluster_slot};
use server::store::{SharedStore, StoreError};
use tests::RedisServer;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn redb_store(dir: &tempfile::TempDir, name: &str) -> SharedStore {
    Arc::new(
        server::store::redb::open(&dir.path().join(format!("{name}.redb")))
            .unwrap_or_else(|e| panic!("open redb: {e}")),
    )
}

async fn redis_store(redis: &RedisServer, prefix: &str) -> SharedStore {
    Arc::new(
        server::store::redis::connect(&redis.url(), prefix)
            .await
            .unwrap_or_else(|e| panic!("connect to redis: {e}")),
    )
}

#[test]
fn contract_holds_on_redb() {
    let dir = tempfile::tempdir().expect("temp dir");
    runtime().block_on(async {
        for (index, (name, check)) in CHECKS.iter().enumerate() {
            eprintln!("redb: {name}");
            let store = redb_store(&dir, &format!("contract-{index}"));
            check(Arc::clone(&store)).await;
            let _ = store.close().await;
        }
    });
}

#[test]
fn contract_holds_on_redis() {
    let redis = RedisServer::start();
    runtime().block_on(async {
        for (index, (name, check)) in CHECKS.iter().enumerate() {
            eprintln!("redis: {name}");
            let store = redis_store(&redis, &format!("contract{index}")).await;
            check(store).await;
        }
    });
}

#[test]
fn redb_keeps_acknowledged_writes_across_reopening() {
    let dir = tempfile::tempdir().expect("temp dir");
    let rt = runtime();
    let key = contract::response_key("unicef");
    rt.block_on(async {
        let store = redb_store(&dir, "reopen");
        store
            .execute(&contract::answers(
                &key,
                "k",
                vec![(
                    contract::question("1.1/stage"),
                    AnswerChange::Set(contract::stage(4)),
                )],
            ))
            .await
            .expect("write");
        store.close().await.expect("close");
        let reopened = redb_store(&dir, "reopen");
        contract::assert_state_is_fold(reopened.as_ref(), &key).await;
        assert_eq!(reopened.history(&key).await.expect("history").len(), 1);
    });
}

#[test]
fn redis_keeps_acknowledged_writes_across_a_restart() {
    let mut redis = RedisServer::start();
    let rt = runtime();
    let key = contract::response_key("unicef");
    rt.block_on(async {
        let store = redis_store(&redis, "restart").await;
        store
            .execute(&contract::answers(
                &key,
                "k",
                vec![(
                    contract::question("1.1/stage"),
                    AnswerChange::Set(contract::stage(4)),
                )],
            ))
            .await
            .expect("write");
    });
    redis.restart();
    rt.block_on(async {
        let store = redis_store(&redis, "restart").await;
        contract::assert_state_is_fold(store.as_ref(), &key).await;
        assert_eq!(store.history(&key).await.expect("history").len(), 1);
    });
}

/// One step of a random session against one response.
#[derive(Debug, Clone)]
enum Step {
    /// Set question `q` to rating `r` with a fresh key.
    Set { question: usize, rating: i64 },
    /// Clear question `q` with a fresh key.
    Clear { question: usize },
    /// Resend the request of an earlier step (same key, same content).
    Repeat { step: usize },
    /// Submit or reopen, with a fresh key.
    Toggle,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        5 => (0usize..6, 1i64..=3).prop_map(|(question, rating)| Step::Set { question, rating }),
        2 => (0usize..6).prop_map(|question| Step::Clear { question }),
        3 => (0usize..64).prop_map(|step| Step::Repeat { step }),
        1 => Just(Step::Toggle),
    ]
}

/// Plays the steps; returns how many events the store recorded according to receipts.
async fn play(store: &SharedStore, key: &ResponseKey, steps: &[Step]) -> usize {
    let mut sent: Vec<server::store::ResponseRequest> = Vec::new();
    let mut submitted = false;
    let mut recorded = 0;
    for (index, step) in steps.iter().enumerate() {
        let question = |q: usize| contract::question(&format!("1.1/activity/{}", q + 1));
        let fresh = format!("step-{index}");
        let request = match step {
            Step::Set {
                question: q,
                rating,
            } => contract::answers(
                key,
                &fresh,
                vec![(
                    question(*q),
                    AnswerChange::Set(AnswerValue::Rating(
                        Rating::parse(*rating, 1, 3).expect("rating"),
                    )),
                )],
            ),
            Step::Clear { question: q } => {
                contract::answers(key, &fresh, vec![(question(*q), AnswerChange::Clear)])
            }
            Step::Repeat { step } if !sent.is_empty() => sent[step % sent.len()].clone(),
            Step::Repeat { .. } => continue,
            Step::Toggle if submitted => contract::request(
                key,
                &fresh,
                Command::Reopen {
                    reason: "property test".into(),
                },
            ),
            Step::Toggle => contract::request(key, &fresh, Command::Submit),
        };
        let before = store.history(key).await.expect("history").len();
        match store.execute(&request).await {
            Ok(receipt) => {
                let after = store.history(key).await.expect("history").len();
                if receipt.replayed {
                    assert_eq!(after, before, "a repeat adds no events");
                } else {
                    assert_eq!(after, before + receipt.events.len());
                    recorded += receipt.events.len();
                    if matches!(request.command, Command::Submit) {
                        submitted = true;
                    }
                    if matches!(request.command, Command::Reopen { .. }) {
                        submitted = false;
                    }
                }
            }
            Err(StoreError::Refused(_)) => {
                assert_eq!(
                    store.history(key).await.expect("history").len(),
                    before,
                    "a refusal adds no events"
                );
            }
            Err(error) => panic!("unexpected store error: {error}"),
        }
        if !matches!(step, Step::Repeat { .. }) {
            sent.push(request);
        }
        contract::assert_state_is_fold(store.as_ref(), key).await;
    }
    recorded
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

    #[test]
    fn redb_state_is_the_fold_of_the_log(steps in proptest::collection::vec(step(), 1..40)) {
        let dir = tempfile::tempdir().expect("temp dir");
        runtime().block_on(async {
            let store = redb_store(&dir, "fold");
            let key = contract::response_key("unicef");
            let recorded = play(&store, &key, &steps).await;
            assert_eq!(store.history(&key).await.expect("history").len(), recorded);
            let _ = store.close().await;
        });
    }
}

#[test]
fn redis_state_is_the_fold_of_the_log() {
    let redis = RedisServer::start();
    let rt = runtime();
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 48,
        ..ProptestConfig::default()
    });
    let case = std::sync::atomic::AtomicUsize::new(0);
    runner
        .run(&proptest::collection::vec(step(), 1..40), |steps| {
            let case = case.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            rt.block_on(async {
                let store = redis_store(&redis, &format!("fold{case}")).await;
                let key = contract::response_key("unicef");
                let recorded = play(&store, &key, &steps).await;
                assert_eq!(store.history(&key).await.expect("history").len(), recorded);
            });
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
}

proptest! {
    /// Any strings as ids: either they are rejected, or every key of a response and of a
    /// round lands in one slot. Braces and non-ASCII characters are always rejected.
    #[test]
    fn keys_of_multi_key_operations_share_one_slot(
        round in "\\PC{0,20}",
        organisation in "\\PC{0,20}",
        person in "\\PC{0,20}",
    ) {
        let parsed = (
            RoundId::parse(&round),
            OrganisationId::parse(&organisation),
            PersonId::parse(&person),
        );
        let has_hostile = |s: &str| s.contains('{') || s.contains('}') || !s.is_ascii();
        if has_hostile(&round) { prop_assert!(parsed.0.is_err()); }
        if has_hostile(&organisation) { prop_assert!(parsed.1.is_err()); }
        if has_hostile(&person) { prop_assert!(parsed.2.is_err()); }
        if let (Ok(round), Ok(organisation), Ok(person)) = parsed {
            let key = ResponseKey {
                round,
                organisation,
                instrument: InstrumentRef::parse("jiu-rbm-outcomes@1").expect("ref"),
                respondent: Respondent::Person(person),
            };
            let layout = KeyLayout::new("stagewise");
            let response = layout.response(&key.id());
            let slot = cluster_slot(&response.meta);
            for k in response.all() {
                prop_assert_eq!(cluster_slot(k), slot, "{}", k);
            }
            let round_keys = layout.round(&key.round);
            let round_slot = cluster_slot(&round_keys.round);
            for k in [&round_keys.assignments, &round_keys.responses] {
                prop_assert_eq!(cluster_slot(k), round_slot);
            }
            prop_assert_eq!(
                cluster_slot(&layout.validations(&key.round, &key.organisation)),
                round_slot
            );
            // The action script's two keys, and an action's reminder marks.
            prop_assert_eq!(cluster_slot(&layout.actions(&key.round)), round_slot);
            prop_assert_eq!(
                cluster_slot(&layout.priority_actions(&key.round, &key.organisation)),
                round_slot
            );
            let action = server::domain::ActionId::parse(key.organisation.as_str()).expect("a slug");
            prop_assert_eq!(
                cluster_slot(&layout.action_reminders(&key.round, &action)),
                round_slot
            );
        }
    }
}
