//! Saving answers: untrusted input is checked against the catalogue — the instrument
//! version exists and is answerable, the respondent fits its response mode, each question
//! exists in that version, each value fits the question's type and limits — before the
//! store is asked to write. Invalid input writes nothing and says what is wrong with each
//! answer.

use std::collections::BTreeSet;

use crate::catalogue::model::{InstrumentKind, ResponseMode};
use crate::catalogue::{AnswerType, Catalogue, Instrument};
use crate::domain::answer::{check_list_len, parse_text};
use crate::domain::{
    Actor, AnswerChange, AnswerValue, Channel, Command, DateValue, EvidenceItem, EvidenceKind,
    FileRef, IdempotencyKey, MAX_SHORT_TEXT_CHARS, MAX_TEXT_CHARS, NamedRating, QuestionId, Rating,
    Respondent, Response, ResponseKey, Role, RoundStatus, Stage, Timestamp, ValueError,
};
use crate::store::{Receipt, ResponseRequest, Store, StoreError};

/// An answer as a channel received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawValue {
    /// A number: a stage or a rating.
    Number(i64),
    /// A text: short or long text, or a date `YYYY-MM-DD`.
    Text(String),
    /// Lines of text.
    Lines(Vec<String>),
    /// Evidence lines.
    Evidence(Vec<RawEvidence>),
    /// Activities the organisation names and rates.
    Named(Vec<(String, i64)>),
}

/// One evidence line as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawEvidence {
    /// `true` for the name of a person, `false` for a document.
    pub person: bool,
    /// Title, reference or name.
    pub text: String,
    /// An uploaded file.
    pub file: Option<FileRef>,
}

/// One answer to save: a value, or `None` to clear the question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawAnswer {
    /// The question id as received.
    pub question: String,
    /// The value, or `None` to clear.
    pub value: Option<RawValue>,
}

/// Why one answer was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnswerProblem {
    /// Not a question of this instrument version.
    #[error("`{0}` is not a question of this instrument")]
    UnknownQuestion(String),
    /// The same question twice in one request.
    #[error("`{0}` is answered twice in one request")]
    Duplicate(String),
    /// A value of the wrong kind for the question.
    #[error("`{question}` takes {expected}")]
    WrongType {
        /// The question.
        question: String,
        /// What it takes, in words.
        expected: &'static str,
    },
    /// A value outside the question's limits.
    #[error("`{question}`: {problem}")]
    Invalid {
        /// The question.
        question: String,
        /// What is wrong.
        problem: ValueError,
    },
}

/// Why answers could not be saved.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    /// The catalogue has no such instrument version.
    #[error("the catalogue has no instrument {0}")]
    UnknownInstrument(String),
    /// The instrument is guidance, not a questionnaire.
    #[error("instrument {0} is guidance and takes no answers")]
    NotAnswerable(String),
    /// An organisation's response to a per-respondent instrument, or the reverse.
    #[error("{0}")]
    WrongRespondent(&'static str),
    /// No answers given.
    #[error("no answers were given")]
    NoAnswers,
    /// The round does not exist.
    #[error("there is no round `{0}`")]
    UnknownRound(String),
    /// The round is not open for answers.
    #[error("round `{round}` is {status}, not open; answers are accepted only while it is open")]
    RoundNotOpen {
        /// The round.
        round: String,
        /// Its status.
        status: &'static str,
    },
    /// The organisation does not take part in the round.
    #[error("organisation `{0}` does not take part in this round")]
    NotInRound(String),
    /// The round does not use this instrument version.
    #[error("this round does not use instrument {0}")]
    InstrumentNotInRound(String),
    /// Required questions are unanswered, so the response cannot be submitted.
    #[error("{} required question(s) are unanswered", .0.len())]
    Incomplete(Vec<String>),
    /// Too many answers in one request.
    #[error("{0} answers in one request; at most {MAX_ANSWERS_PER_REQUEST} are accepted")]
    TooManyAnswers(usize),
    /// One or more answers are invalid; nothing was saved.
    #[error("{} answer(s) are invalid: {}", .0.len(), .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<AnswerProblem>),
    /// The store refused or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Most answers one request may carry (a whole component's worth, generously).
pub const MAX_ANSWERS_PER_REQUEST: usize = 200;

/// A request to save answers.
#[derive(Debug, Clone)]
pub struct SaveAnswers {
    /// The response.
    pub key: ResponseKey,
    /// The client's idempotency key.
    pub idempotency_key: IdempotencyKey,
    /// The answers, applied in order.
    pub answers: Vec<RawAnswer>,
    /// Only apply if the response's last event is this one.
    pub expected_seq: Option<u64>,
    /// Who answers.
    pub actor: Actor,
    /// Through which channel.
    pub channel: Channel,
    /// When.
    pub at: Timestamp,
}

/// Checks that the response can take answers of its instrument.
///
/// # Errors
/// [`SaveError::UnknownInstrument`], [`SaveError::NotAnswerable`] or
/// [`SaveError::WrongRespondent`].
pub fn instrument_for<'a>(
    catalogue: &'a Catalogue,
    key: &ResponseKey,
) -> Result<&'a Instrument, SaveError> {
    let instrument = catalogue
        .get(&key.instrument.id, key.instrument.version)
        .ok_or_else(|| SaveError::UnknownInstrument(key.instrument.to_string()))?;
    match (instrument.header().response_mode, &key.respondent) {
        (ResponseMode::Reference, _) => Err(SaveError::NotAnswerable(key.instrument.to_string())),
        // An independent rater's blind rating is their own response to the stage
        // questionnaire; `check_rater` checks the person is one.
        (ResponseMode::PerOrganisation, Respondent::Person(_))
            if instrument.header().kind != InstrumentKind::StageQuestionnaire =>
        {
            Err(SaveError::WrongRespondent(
                "this instrument takes one consolidated response per organisation",
            ))
        }
        (ResponseMode::PerRespondent, Respondent::Organisation) => Err(SaveError::WrongRespondent(
            "this instrument takes one response per respondent",
        )),
        _ => Ok(instrument),
    }
}

const NOT_A_RATER: &str = "this instrument takes one consolidated response per organisation; \
     only an independent rater of the organisation who is not one of its focal points answers \
     it in person";

/// Checks a person's own response to a per-organisation instrument (an independent
/// rater's blind rating of the stage questionnaire): the person must be assigned to the
/// organisation in the round as independent rater, and not also as focal point (a rater
/// is independent of the self-assessment). Any other response passes without a read.
///
/// # Errors
/// [`SaveError::WrongRespondent`], or the store's failure.
pub async fn check_rater(
    store: &dyn Store,
    instrument: &Instrument,
    key: &ResponseKey,
) -> Result<(), SaveError> {
    let Respondent::Person(person) = &key.respondent else {
        return Ok(());
    };
    if instrument.header().response_mode != ResponseMode::PerOrganisation {
        return Ok(());
    }
    let assignments = store.assignments(&key.round).await?;
    let roles: Vec<&Role> = assignments
        .iter()
        .filter(|a| &a.person == person && a.organisation == key.organisation)
        .map(|a| &a.role)
        .collect();
    if roles.contains(&&Role::IndependentRater) && !roles.contains(&&Role::FocalPoint) {
        Ok(())
    } else {
        Err(SaveError::WrongRespondent(NOT_A_RATER))
    }
}

/// Validates raw answers against an instrument, all of them, and returns the command to
/// record or every problem found.
///
/// # Errors
/// [`SaveError::NoAnswers`], [`SaveError::TooManyAnswers`] or [`SaveError::Invalid`].
pub fn validate(instrument: &Instrument, answers: &[RawAnswer]) -> Result<Command, SaveError> {
    if answers.is_empty() {
        return Err(SaveError::NoAnswers);
    }
    if answers.len() > MAX_ANSWERS_PER_REQUEST {
        return Err(SaveError::TooManyAnswers(answers.len()));
    }
    let mut problems = Vec::new();
    let mut changes = Vec::with_capacity(answers.len());
    let mut seen = BTreeSet::new();
    for answer in answers {
        let shown = || answer.question.chars().take(100).collect::<String>();
        let Some(question) = instrument.question(&answer.question) else {
            problems.push(AnswerProblem::UnknownQuestion(shown()));
            continue;
        };
        if !seen.insert(answer.question.as_str()) {
            problems.push(AnswerProblem::Duplicate(shown()));
            continue;
        }
        // The catalogue's ids always parse; this keeps the domain type honest.
        let Ok(id) = QuestionId::parse(&question.id) else {
            problems.push(AnswerProblem::UnknownQuestion(shown()));
            continue;
        };
        match &answer.value {
            None => changes.push((id, AnswerChange::Clear)),
            Some(raw) => match value(question.answer, raw, &question.id) {
                Ok(value) => changes.push((id, AnswerChange::Set(value))),
                Err(problem) => problems.push(problem),
            },
        }
    }
    if problems.is_empty() {
        Ok(Command::Answers(changes))
    } else {
        Err(SaveError::Invalid(problems))
    }
}

fn value(
    expected: AnswerType,
    raw: &RawValue,
    question: &str,
) -> Result<AnswerValue, AnswerProblem> {
    let invalid = |problem: ValueError| AnswerProblem::Invalid {
        question: question.to_owned(),
        problem,
    };
    let wrong = |expected: &'static str| AnswerProblem::WrongType {
        question: question.to_owned(),
        expected,
    };
    match (expected, raw) {
        (AnswerType::Stage, RawValue::Number(n)) => {
            Stage::parse(*n).map(AnswerValue::Stage).map_err(invalid)
        }
        (AnswerType::Stage, _) => Err(wrong("a stage, 1 to 5")),
        (AnswerType::Rating { min, max }, RawValue::Number(n)) => Rating::parse(*n, min, max)
            .map(AnswerValue::Rating)
            .map_err(invalid),
        (AnswerType::Rating { .. }, _) => Err(wrong("a rating")),
        (AnswerType::ShortText, RawValue::Text(t)) => parse_text(t, MAX_SHORT_TEXT_CHARS)
            .map(AnswerValue::Text)
            .map_err(invalid),
        (AnswerType::LongText, RawValue::Text(t)) => parse_text(t, MAX_TEXT_CHARS)
            .map(AnswerValue::Text)
            .map_err(invalid),
        (AnswerType::ShortText | AnswerType::LongText, _) => Err(wrong("a text")),
        (AnswerType::Date, RawValue::Text(t)) => DateValue::parse(t.trim())
            .map(AnswerValue::Date)
            .map_err(invalid),
        (AnswerType::Date, _) => Err(wrong("a date, YYYY-MM-DD")),
        (AnswerType::TextList, RawValue::Lines(lines)) => {
            check_list_len(lines.len()).map_err(invalid)?;
            lines
                .iter()
                .map(|line| parse_text(line, MAX_SHORT_TEXT_CHARS))
                .collect::<Result<Vec<_>, _>>()
                .map(AnswerValue::TextList)
                .map_err(invalid)
        }
        (AnswerType::TextList, _) => Err(wrong("a list of lines")),
        (AnswerType::Evidence, RawValue::Evidence(items)) => {
            check_list_len(items.len()).map_err(invalid)?;
            items
                .iter()
                .map(|item| {
                    Ok(EvidenceItem {
                        kind: if item.person {
                            EvidenceKind::Person
                        } else {
                            EvidenceKind::Document
                        },
                        text: parse_text(&item.text, MAX_SHORT_TEXT_CHARS)?,
                        file: item
                            .file
                            .as_ref()
                            .map(|file| {
                                Ok::<_, ValueError>(FileRef {
                                    name: parse_text(&file.name, MAX_SHORT_TEXT_CHARS)?,
                                    size: file.size,
                                    telegram_file_id: parse_text(
                                        &file.telegram_file_id,
                                        MAX_SHORT_TEXT_CHARS,
                                    )?,
                                })
                            })
                            .transpose()?,
                    })
                })
                .collect::<Result<Vec<_>, ValueError>>()
                .map(AnswerValue::Evidence)
                .map_err(invalid)
        }
        (AnswerType::Evidence, _) => Err(wrong("evidence lines")),
        (AnswerType::OtherActivities { max_rows, min, max }, RawValue::Named(items)) => {
            if items.len() > usize::from(max_rows) {
                return Err(invalid(ValueError::TooMany {
                    items: items.len(),
                    max: usize::from(max_rows),
                }));
            }
            items
                .iter()
                .map(|(name, rating)| {
                    Ok(NamedRating {
                        name: parse_text(name, MAX_SHORT_TEXT_CHARS)?,
                        rating: Rating::parse(*rating, min, max)?,
                    })
                })
                .collect::<Result<Vec<_>, ValueError>>()
                .map(AnswerValue::OtherActivities)
                .map_err(invalid)
        }
        (AnswerType::OtherActivities { .. }, _) => Err(wrong("named activities, each rated")),
    }
}

/// Checks that the response's round exists, is open, includes its organisation and uses
/// its instrument version.
///
/// # Errors
/// [`SaveError::UnknownRound`], [`SaveError::RoundNotOpen`], [`SaveError::NotInRound`],
/// [`SaveError::InstrumentNotInRound`], or the store's failure.
pub async fn check_round(store: &dyn Store, key: &ResponseKey) -> Result<(), SaveError> {
    let round = store
        .round_shared(&key.round)
        .await?
        .ok_or_else(|| SaveError::UnknownRound(key.round.to_string()))?;
    if round.status != RoundStatus::Open {
        return Err(SaveError::RoundNotOpen {
            round: key.round.to_string(),
            status: round.status.as_str(),
        });
    }
    if !round.organisations.contains(&key.organisation) {
        return Err(SaveError::NotInRound(key.organisation.to_string()));
    }
    if !round.instruments.contains(&key.instrument) {
        return Err(SaveError::InstrumentNotInRound(key.instrument.to_string()));
    }
    Ok(())
}

/// The required questions a response has not answered, in instrument order.
pub fn missing_required(instrument: &Instrument, response: Option<&Response>) -> Vec<String> {
    instrument
        .questions()
        .iter()
        .filter(|q| q.required)
        .filter(|q| {
            !response.is_some_and(|r| {
                QuestionId::parse(&q.id).is_ok_and(|id| r.answers.contains_key(&id))
            })
        })
        .map(|q| q.id.clone())
        .collect()
}

/// Where a respondent continues: after `after` (the question just shown), the next
/// unanswered question in instrument order; without `after`, the first unanswered
/// required question, else the first unanswered one. `None` when nothing is left.
/// Channels pass the question they showed, so they keep no state of their own.
pub fn next_question<'a>(
    instrument: &'a Instrument,
    response: Option<&Response>,
    after: Option<&str>,
) -> Option<&'a crate::catalogue::Question> {
    let answered = |id: &str| {
        response.is_some_and(|r| QuestionId::parse(id).is_ok_and(|id| r.answers.contains_key(&id)))
    };
    let questions = instrument.questions();
    match after {
        Some(after) => {
            let start = questions
                .iter()
                .position(|q| q.id == after)
                .map_or(0, |index| index + 1);
            questions[start..].iter().find(|q| !answered(&q.id))
        }
        None => questions
            .iter()
            .find(|q| q.required && !answered(&q.id))
            .or_else(|| questions.iter().find(|q| !answered(&q.id))),
    }
}

/// Submits a response once every required question is answered. The check and the
/// submission are tied by the response's last seq, so an answer cleared in between makes
/// the submission fail with a conflict instead of slipping through.
///
/// # Errors
/// [`SaveError::Incomplete`] listing the unanswered required questions; round and
/// instrument errors as for [`save`]; the store's refusal (already submitted, changed
/// meanwhile) or failure.
pub async fn submit(
    store: &dyn Store,
    catalogue: &Catalogue,
    key: &ResponseKey,
    idempotency_key: IdempotencyKey,
    actor: Actor,
    channel: Channel,
    at: Timestamp,
) -> Result<Receipt, SaveError> {
    let instrument = instrument_for(catalogue, key)?;
    check_round(store, key).await?;
    check_rater(store, instrument, key).await?;
    let response = store.response(key).await?;
    let request = ResponseRequest {
        key: key.clone(),
        idempotency_key,
        command: Command::Submit,
        expected_seq: Some(response.as_ref().map_or(0, |r| r.meta.last_seq)),
        actor,
        channel,
        at,
    };
    // A retried submission of a submitted response finds it complete (answers cannot
    // change after submission) and is answered from the idempotency record.
    let missing = missing_required(instrument, response.as_ref());
    if !missing.is_empty() {
        return Err(SaveError::Incomplete(missing));
    }
    Ok(store.execute(&request).await?)
}

/// Validates and saves answers: nothing reaches the store unless every answer is valid
/// and the round is open for this response.
///
/// # Errors
/// A [`SaveError`]: invalid input (nothing written), or the store's refusal or failure.
pub async fn save(
    store: &dyn Store,
    catalogue: &Catalogue,
    request: SaveAnswers,
) -> Result<Receipt, SaveError> {
    let instrument = instrument_for(catalogue, &request.key)?;
    let command = validate(instrument, &request.answers)?;
    check_round(store, &request.key).await?;
    check_rater(store, instrument, &request.key).await?;
    let receipt = store
        .execute(&ResponseRequest {
            key: request.key,
            idempotency_key: request.idempotency_key,
            command,
            expected_seq: request.expected_seq,
            actor: request.actor,
            channel: request.channel,
            at: request.at,
        })
        .await?;
    Ok(receipt)
}
