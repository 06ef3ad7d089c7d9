//! A write load generator for crash and performance testing (`stagewise-server store
//! load-test`): concurrent writers send deterministic answer requests to synthetic
//! responses in round `load-test`, and each acknowledged write is printed as it is
//! acknowledged. Running it again with the same arguments resends the same requests with
//! the same idempotency keys, as clients retrying after a crash would.

use std::io::Write;
use std::sync::Arc;
use std::time::Instant;

use crate::catalogue::InstrumentRef;
use crate::domain::{
    Actor, AnswerChange, AnswerValue, Channel, Command, IdError, IdempotencyKey, OrganisationId,
    PersonId, QuestionId, Rating, Respondent, ResponseKey, RoundId, Stage, Timestamp,
};
use crate::store::{ResponseRequest, SharedStore, StoreError};

/// The round the load test writes to.
pub const LOAD_TEST_ROUND: &str = "load-test";

/// What to run.
#[derive(Debug, Clone, Copy)]
pub struct LoadTest {
    /// Concurrent writers; writer `w` writes to organisation `load-w<w>`.
    pub writers: usize,
    /// Requests per writer.
    pub requests: usize,
    /// Print an `ack` line per acknowledged write.
    pub print_acks: bool,
}

/// The response writer `writer` writes to.
///
/// # Errors
/// Never for writer numbers; the ids are fixed shapes.
pub fn response_of(writer: usize) -> Result<ResponseKey, IdError> {
    Ok(ResponseKey {
        round: RoundId::parse(LOAD_TEST_ROUND)?,
        organisation: OrganisationId::parse(&format!("load-w{writer}"))?,
        instrument: InstrumentRef {
            id: "jiu-rbm-stages".to_owned(),
            version: 1,
        },
        respondent: Respondent::Organisation,
    })
}

/// Request `index` of `writer`: always the same for the same numbers.
///
/// # Errors
/// Never for these shapes.
pub fn request_of(writer: usize, index: usize) -> Result<ResponseRequest, IdError> {
    let key = response_of(writer)?;
    let component = index % 3 + 1;
    let rating = i64::try_from(index % 3 + 1).unwrap_or(1);
    let stage = i64::try_from(index % 5 + 1).unwrap_or(1);
    let changes = vec![
        (
            QuestionId::parse(&format!("1.{component}/activity/{}", index % 2 + 1))?,
            AnswerChange::Set(AnswerValue::Rating(
                Rating::parse(rating, 1, 3).map_err(|_| IdError::Empty { what: "rating" })?,
            )),
        ),
        (
            QuestionId::parse(&format!("1.{component}/stage"))?,
            AnswerChange::Set(AnswerValue::Stage(
                Stage::parse(stage).map_err(|_| IdError::Empty { what: "stage" })?,
            )),
        ),
    ];
    Ok(ResponseRequest {
        key,
        idempotency_key: IdempotencyKey::parse(&format!("w{writer}-i{index}"))?,
        command: Command::Answers(changes),
        expected_seq: None,
        actor: Actor::Person(PersonId::parse(&format!("load-w{writer}"))?),
        channel: Channel::Import,
        at: Timestamp::now(),
    })
}

/// The outcome of a run.
#[derive(Debug, Clone, Copy)]
pub struct LoadReport {
    /// Requests acknowledged.
    pub acknowledged: usize,
    /// Of which replays of an earlier run.
    pub replayed: usize,
    /// Seconds taken.
    pub seconds: f64,
}

/// Runs the load test against `store`.
///
/// # Errors
/// The first store error a writer meets (retryable errors are retried up to 20 times).
pub async fn run(store: SharedStore, load: LoadTest) -> Result<LoadReport, StoreError> {
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(load.writers);
    for writer in 0..load.writers {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let mut acknowledged = 0;
            let mut replayed = 0;
            for index in 0..load.requests {
                let request = request_of(writer, index)
                    .map_err(|e| StoreError::Corrupt(format!("load-test request: {e}")))?;
                let mut attempt = 0;
                let receipt = loop {
                    match store.execute(&request).await {
                        Ok(receipt) => break receipt,
                        Err(error) if error.is_retryable() && attempt < 20 => {
                            attempt += 1;
                            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        }
                        Err(error) => return Err(error),
                    }
                };
                acknowledged += 1;
                replayed += usize::from(receipt.replayed);
                if load.print_acks {
                    let first = receipt.events.first().map_or(0, |e| e.seq);
                    let mut out = std::io::stdout().lock();
                    // A closed stdout (the test harness killed us) ends the run quietly.
                    if writeln!(
                        out,
                        "ack {} {} {first}",
                        request.key.id(),
                        request.idempotency_key
                    )
                    .and_then(|()| out.flush())
                    .is_err()
                    {
                        return Ok((acknowledged, replayed));
                    }
                }
            }
            Ok::<_, StoreError>((acknowledged, replayed))
        }));
    }
    let mut report = LoadReport {
        acknowledged: 0,
        replayed: 0,
        seconds: 0.0,
    };
    for task in tasks {
        let (acknowledged, replayed) = task
            .await
            .map_err(|e| StoreError::Corrupt(format!("load-test writer panicked: {e}")))??;
        report.acknowledged += acknowledged;
        report.replayed += replayed;
    }
    report.seconds = start.elapsed().as_secs_f64();
    Ok(report)
}
