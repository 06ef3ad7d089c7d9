//! Saving answers: untrusted input is checked against the catalogue — the instrument
//! version exists and is answerable, the respondent fits its response mode, each question
//! exists in that version, each value fits the question's type and limits — before the
//! store is asked to write. Invalid input writes nothing and says what is wrong with each
//! answer.
//!
//! A response answers [`Questions`]: its instrument version's questions, and for a
//! learning set asked by an activity, the questions the facilitator added
//! ([`questions_for`]). Every check here and every channel (GraphQL, the bot through it,
//! the web form) goes through that one list.

use std::borrow::Cow;
use std::collections::BTreeSet;

use crate::catalogue::model::{InstrumentKind, ResponseMode};
use crate::catalogue::{AnswerType, Catalogue, Instrument, Question};
use crate::domain::answer::{check_list_len, parse_text};
use crate::domain::{
    Activity, ActivityKind, Actor, AddedQuestion, AnswerChange, AnswerValue, Channel, Command,
    DateValue, EvidenceItem, EvidenceKind, FileRef, IdempotencyKey, MAX_SHORT_TEXT_CHARS,
    MAX_TEXT_CHARS, NamedRating, QuestionId, Rating, Respondent, Response, ResponseKey, Role,
    RoundId, RoundStatus, Stage, Timestamp, ValueError,
};
use crate::store::{Receipt, ResponseRequest, Store, StoreError};

/// The questions a response answers, in the order they are asked: the instrument
/// version's own, then (for the learning set of an activity) the facilitator's added
/// questions, each a long text that is not required.
#[derive(Debug, Clone)]
pub struct Questions<'a> {
    instrument: &'a Instrument,
    all: Cow<'a, [Question]>,
    added: Vec<AddedQuestion>,
}

impl<'a> Questions<'a> {
    /// The questions of `instrument`, with the added questions of `activity` when the
    /// activity asks this instrument (another round's or another kind's activity adds
    /// nothing). Pure: [`questions_for`] reads the activity.
    pub fn of(instrument: &'a Instrument, activity: Option<&Activity>) -> Self {
        let added: Vec<AddedQuestion> = activity
            .filter(|a| a.kind.instrument_id() == instrument.header().id)
            .map(|a| a.added.clone())
            .unwrap_or_default();
        let all = if added.is_empty() {
            Cow::Borrowed(instrument.questions())
        } else {
            let mut all = instrument.questions().to_vec();
            all.extend(added.iter().map(|q| Question {
                id: q.id.to_string(),
                answer: AnswerType::LongText,
                required: false,
            }));
            Cow::Owned(all)
        };
        Self {
            instrument,
            all,
            added,
        }
    }

    /// The instrument version.
    pub fn instrument(&self) -> &'a Instrument {
        self.instrument
    }

    /// Every question, in order.
    pub fn all(&self) -> &[Question] {
        &self.all
    }

    /// The question with `id`: the instrument's, else an added one.
    pub fn get(&self, id: &str) -> Option<&Question> {
        match self.all {
            // The instrument's own lookup; no added questions to search.
            Cow::Borrowed(_) => self.instrument.question(id),
            Cow::Owned(ref all) => all.iter().find(|q| q.id == id),
        }
    }

    /// The added questions, in the order added.
    pub fn added(&self) -> &[AddedQuestion] {
        &self.added
    }

    /// The added question with `id`, with its text.
    pub fn added_question(&self, id: &str) -> Option<&AddedQuestion> {
        self.added.iter().find(|q| q.id.as_str() == id)
    }
}

/// Whether an activity may ask `instrument`: one of the learning sets. Only then can a
/// response have added questions, so only then is the activity read.
pub fn is_learning_set(instrument: &Instrument) -> bool {
    ActivityKind::ALL
        .iter()
        .any(|kind| kind.instrument_id() == instrument.header().id)
}

/// The questions a response of round `round` to `instrument` answers: for a learning
/// set, the round's activity is read for its added questions; any other instrument
/// costs no read (the answer-save path of the RBM instruments stays as it was).
///
/// # Errors
/// The store's failure.
pub async fn questions_for<'a>(
    store: &dyn Store,
    instrument: &'a Instrument,
    round: &RoundId,
) -> Result<Questions<'a>, StoreError> {
    if !is_learning_set(instrument) {
        return Ok(Questions::of(instrument, None));
    }
    let activity = store.activity(round).await?;
    Ok(Questions::of(instrument, activity.as_ref()))
}

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

/// Validates raw answers against a response's questions, all of them, and returns the
/// command to record or every problem found.
///
/// # Errors
/// [`SaveError::NoAnswers`], [`SaveError::TooManyAnswers`] or [`SaveError::Invalid`].
pub fn validate(questions: &Questions<'_>, answers: &[RawAnswer]) -> Result<Command, SaveError> {
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
        let Some(question) = questions.get(&answer.question) else {
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

/// The required questions a response has not answered, in instrument order. Added
/// questions are never required, so the instrument alone decides.
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
pub fn next_question<'q>(
    questions: &'q Questions<'_>,
    response: Option<&Response>,
    after: Option<&str>,
) -> Option<&'q Question> {
    let answered = |id: &str| {
        response.is_some_and(|r| QuestionId::parse(id).is_ok_and(|id| r.answers.contains_key(&id)))
    };
    let questions = questions.all();
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
    let questions = questions_for(store, instrument, &request.key.round).await?;
    let command = validate(&questions, &request.answers)?;
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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::domain::ActivityKind;

    fn catalogue() -> Catalogue {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../questionnaires");
        Catalogue::load(&dir).unwrap_or_else(|e| panic!("catalogue: {e}"))
    }

    fn activity_of(kind: ActivityKind) -> Activity {
        let mut activity = Activity::for_tests(kind);
        activity
            .add_question("Did the hotline work?", Timestamp::from_millis(1))
            .expect("added");
        activity
    }

    fn text(question: &str, text: &str) -> RawAnswer {
        RawAnswer {
            question: question.to_owned(),
            value: Some(RawValue::Text(text.to_owned())),
        }
    }

    #[test]
    fn no_learning_set_has_a_section_named_like_the_added_questions() {
        let catalogue = catalogue();
        for kind in ActivityKind::ALL {
            let instrument = catalogue
                .latest(kind.instrument_id())
                .unwrap_or_else(|| panic!("{}", kind.instrument_id()));
            assert!(is_learning_set(instrument));
            for question in instrument.questions() {
                assert!(
                    !question
                        .id
                        .starts_with(crate::domain::learning::ADDED_QUESTION_SECTION),
                    "{} would collide with added questions",
                    question.id
                );
            }
        }
        let stages = catalogue.latest("jiu-rbm-stages").expect("stages");
        assert!(!is_learning_set(stages));
    }

    #[test]
    fn added_questions_follow_the_instrument_as_optional_long_texts() {
        let catalogue = catalogue();
        let instrument = catalogue
            .latest("iom-rtl-after-action-review")
            .expect("instrument");
        let plain = Questions::of(instrument, None);
        assert_eq!(plain.all().len(), instrument.questions().len());
        assert!(plain.get("added/1").is_none());

        let activity = activity_of(ActivityKind::AfterActionReview);
        let questions = Questions::of(instrument, Some(&activity));
        assert_eq!(questions.all().len(), instrument.questions().len() + 1);
        let added = questions.all().last().expect("the added one last");
        assert_eq!(added.id, "added/1");
        assert_eq!(added.answer, AnswerType::LongText);
        assert!(!added.required);
        assert_eq!(questions.get("added/1"), Some(added));
        assert_eq!(
            questions.added_question("added/1").map(|q| q.text.as_str()),
            Some("Did the hotline work?")
        );
        assert!(questions.get("questions/expected").is_some());

        // Another kind's activity (asking another learning set) adds nothing here.
        let other = activity_of(ActivityKind::LessonsLearned);
        assert!(
            Questions::of(instrument, Some(&other))
                .get("added/1")
                .is_none()
        );

        // Saving: the added question takes a long text; an unknown added id is refused.
        assert!(validate(&questions, &[text("added/1", &"y".repeat(2_000))]).is_ok());
        let refused = validate(&questions, &[text("added/1", "ok"), text("added/9", "no")]);
        let Err(SaveError::Invalid(problems)) = refused else {
            panic!("refused: {refused:?}");
        };
        assert_eq!(
            problems,
            vec![AnswerProblem::UnknownQuestion("added/9".to_owned())]
        );
        assert!(matches!(
            validate(&plain, &[text("added/1", "ok")]),
            Err(SaveError::Invalid(_))
        ));
        let wrong = validate(
            &questions,
            &[RawAnswer {
                question: "added/1".to_owned(),
                value: Some(RawValue::Number(3)),
            }],
        );
        assert!(matches!(wrong, Err(SaveError::Invalid(_))), "{wrong:?}");

        // The walk asks the added question after the instrument's, and it is not
        // required.
        let last = instrument.questions().last().expect("questions");
        assert_eq!(
            next_question(&questions, None, Some(&last.id)).map(|q| q.id.as_str()),
            Some("added/1")
        );
        assert_eq!(next_question(&questions, None, Some("added/1")), None);
        assert!(
            !missing_required(instrument, None).contains(&"added/1".to_owned()),
            "optional"
        );
    }
}
