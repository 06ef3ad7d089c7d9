//! Responses and their append-only event log.
//!
//! A response's current state is, by definition, the fold of its events
//! ([`Response::replay`]); stores keep the folded state for fast reads and must keep it
//! equal to the fold. [`ResponseMeta::decide`] is the single rule for which commands a
//! response accepts, shared by every store backend.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::answer::{AnswerChange, AnswerValue, Channel};
use super::id::{
    IdempotencyKey, OrganisationId, PersonId, QuestionId, ResponseId, RoundId, TokenId,
};
use super::time::Timestamp;
use crate::catalogue::InstrumentRef;

/// Whose response it is.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Respondent {
    /// The organisation's consolidated response, edited by its focal points.
    Organisation,
    /// One person's response.
    Person(PersonId),
}

/// What identifies a response.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ResponseKey {
    /// The round.
    pub round: RoundId,
    /// The organisation.
    pub organisation: OrganisationId,
    /// The instrument version answered.
    pub instrument: InstrumentRef,
    /// Whose response.
    pub respondent: Respondent,
}

impl ResponseKey {
    /// The response's id: `<round>/<organisation>/<instrument>@<version>[/~<person>]`.
    pub fn id(&self) -> ResponseId {
        let (round, organisation) = (self.round.as_str(), self.organisation.as_str());
        let instrument = &self.instrument.id;
        let mut id = String::with_capacity(round.len() + organisation.len() + instrument.len() + 8);
        id.push_str(round);
        id.push('/');
        id.push_str(organisation);
        id.push('/');
        id.push_str(instrument);
        id.push('@');
        // Writing to a String cannot fail.
        let _ = write!(id, "{}", self.instrument.version);
        if let Respondent::Person(person) = &self.respondent {
            id.push_str("/~");
            id.push_str(person.as_str());
        }
        ResponseId::from_parts(id)
    }

    /// Parses a response id back into its key.
    pub fn parse(id: &str) -> Option<Self> {
        let mut parts = id.split('/');
        let round = RoundId::parse(parts.next()?).ok()?;
        let organisation = OrganisationId::parse(parts.next()?).ok()?;
        let instrument = InstrumentRef::parse(parts.next()?).ok()?;
        let respondent = match parts.next() {
            None => Respondent::Organisation,
            Some(person) => Respondent::Person(PersonId::parse(person.strip_prefix('~')?).ok()?),
        };
        if parts.next().is_some() {
            return None;
        }
        Some(Self {
            round,
            organisation,
            instrument,
            respondent,
        })
    }
}

/// Whether a response is still being answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResponseStatus {
    /// Answers may change.
    Draft,
    /// Submitted: read-only until reopened.
    Submitted,
}

impl ResponseStatus {
    /// The status's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Submitted => "submitted",
        }
    }
}

/// Who did something.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Actor {
    /// A person (through Telegram, a link, or a token acting for them).
    Person(PersonId),
    /// An API token not tied to a person (an administrator's, an import).
    Token(TokenId),
    /// Stagewise itself.
    System,
}

/// What happened to a response.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// An answer was set or cleared.
    Answer {
        /// The question.
        question: QuestionId,
        /// The change.
        change: AnswerChange,
    },
    /// The response was submitted.
    Submitted,
    /// A submitted response was reopened.
    Reopened {
        /// Why.
        reason: String,
    },
}

/// One entry of a response's log.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResponseEvent {
    /// The response.
    pub response: ResponseId,
    /// Position in the response's log, from 1, without gaps.
    pub seq: u64,
    /// What happened.
    pub kind: EventKind,
    /// Who did it.
    pub actor: Actor,
    /// Through which channel.
    pub channel: Channel,
    /// When.
    pub at: Timestamp,
    /// The idempotency key of the request that recorded it.
    pub idempotency_key: IdempotencyKey,
}

/// The current answer to a question, with its provenance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentAnswer {
    /// The value.
    pub value: AnswerValue,
    /// The event that set it.
    pub seq: u64,
    /// Who gave it.
    pub actor: Actor,
    /// Through which channel.
    pub channel: Channel,
    /// When.
    pub at: Timestamp,
}

/// What a response needs for deciding on a command: its status and log length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseMeta {
    /// Draft or submitted.
    pub status: ResponseStatus,
    /// Seq of the last event; 0 for a response with no events.
    pub last_seq: u64,
}

impl Default for ResponseMeta {
    fn default() -> Self {
        Self {
            status: ResponseStatus::Draft,
            last_seq: 0,
        }
    }
}

/// A change requested of a response.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Command {
    /// Set or clear answers, in order.
    Answers(Vec<(QuestionId, AnswerChange)>),
    /// Submit the response.
    Submit,
    /// Reopen a submitted response.
    Reopen {
        /// Why, for the log.
        reason: String,
    },
}

/// Why a response refused a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// Answers to a submitted response.
    #[error("the response is submitted; ask for it to be reopened to change answers")]
    Submitted,
    /// Submitting twice.
    #[error("the response is already submitted")]
    AlreadySubmitted,
    /// Reopening a draft.
    #[error("the response is not submitted, so there is nothing to reopen")]
    NotSubmitted,
    /// An empty list of answers.
    #[error("no answers were given")]
    NoAnswers,
    /// The caller decided on an older state of the response.
    #[error("the response changed since it was read (expected event {expected}, found {actual})")]
    Stale {
        /// The seq the caller read.
        expected: u64,
        /// The current seq.
        actual: u64,
    },
}

impl ResponseMeta {
    /// Decides which events a command records, or why it is refused. `expected_seq`, when
    /// given, must equal the current `last_seq` (optimistic concurrency).
    ///
    /// # Errors
    /// [`CommandError`] when the response refuses the command; nothing is then recorded.
    pub fn decide(
        &self,
        command: &Command,
        expected_seq: Option<u64>,
    ) -> Result<Vec<EventKind>, CommandError> {
        if let Some(expected) = expected_seq
            && expected != self.last_seq
        {
            return Err(CommandError::Stale {
                expected,
                actual: self.last_seq,
            });
        }
        match (command, self.status) {
            (Command::Answers(answers), ResponseStatus::Draft) => {
                if answers.is_empty() {
                    return Err(CommandError::NoAnswers);
                }
                Ok(answers
                    .iter()
                    .map(|(question, change)| EventKind::Answer {
                        question: question.clone(),
                        change: change.clone(),
                    })
                    .collect())
            }
            (Command::Answers(_), ResponseStatus::Submitted) => Err(CommandError::Submitted),
            (Command::Submit, ResponseStatus::Draft) => Ok(vec![EventKind::Submitted]),
            (Command::Submit, ResponseStatus::Submitted) => Err(CommandError::AlreadySubmitted),
            (Command::Reopen { reason }, ResponseStatus::Submitted) => {
                Ok(vec![EventKind::Reopened {
                    reason: reason.clone(),
                }])
            }
            (Command::Reopen { .. }, ResponseStatus::Draft) => Err(CommandError::NotSubmitted),
        }
    }

    /// The meta after `event`.
    pub fn apply(&mut self, event: &ResponseEvent) {
        self.last_seq = event.seq;
        match event.kind {
            EventKind::Answer { .. } => {}
            EventKind::Submitted => self.status = ResponseStatus::Submitted,
            EventKind::Reopened { .. } => self.status = ResponseStatus::Draft,
        }
    }
}

/// A response: its status and current answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Which response.
    pub key: ResponseKey,
    /// Status and log length.
    pub meta: ResponseMeta,
    /// Current answer per question.
    pub answers: BTreeMap<QuestionId, CurrentAnswer>,
    /// When the last event happened.
    pub updated_at: Option<Timestamp>,
}

impl Response {
    /// A response with no events.
    pub fn new(key: ResponseKey) -> Self {
        Self {
            key,
            meta: ResponseMeta::default(),
            answers: BTreeMap::new(),
            updated_at: None,
        }
    }

    /// Applies one event.
    pub fn apply(&mut self, event: &ResponseEvent) {
        self.meta.apply(event);
        self.updated_at = Some(event.at);
        if let EventKind::Answer { question, change } = &event.kind {
            match change {
                AnswerChange::Set(value) => {
                    self.answers.insert(
                        question.clone(),
                        CurrentAnswer {
                            value: value.clone(),
                            seq: event.seq,
                            actor: event.actor.clone(),
                            channel: event.channel,
                            at: event.at,
                        },
                    );
                }
                AnswerChange::Clear => {
                    self.answers.remove(question);
                }
            }
        }
    }

    /// The fold of a log: the state every store must hold for these events.
    pub fn replay<'a>(
        key: ResponseKey,
        events: impl IntoIterator<Item = &'a ResponseEvent>,
    ) -> Self {
        let mut response = Self::new(key);
        for event in events {
            response.apply(event);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::answer::Stage;

    fn key() -> ResponseKey {
        ResponseKey {
            round: RoundId::parse("jiu-rbm-2026").expect("id"),
            organisation: OrganisationId::parse("unicef").expect("id"),
            instrument: InstrumentRef::parse("jiu-rbm-stages@1").expect("ref"),
            respondent: Respondent::Organisation,
        }
    }

    #[test]
    fn response_ids_round_trip() {
        let organisation = key();
        assert_eq!(
            organisation.id().as_str(),
            "jiu-rbm-2026/unicef/jiu-rbm-stages@1"
        );
        assert_eq!(
            ResponseKey::parse(organisation.id().as_str()),
            Some(organisation)
        );
        let person = ResponseKey {
            respondent: Respondent::Person(PersonId::parse("p-1").expect("id")),
            ..key()
        };
        assert_eq!(
            person.id().as_str(),
            "jiu-rbm-2026/unicef/jiu-rbm-stages@1/~p-1"
        );
        assert_eq!(ResponseKey::parse(person.id().as_str()), Some(person));
        for bad in [
            "",
            "a/b",
            "a/b/c",
            "a/b/x@1/p-1",
            "a/b/x@1/~p-1/z",
            "A/b/x@1",
        ] {
            assert_eq!(ResponseKey::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn decide_follows_the_status() {
        let question = QuestionId::parse("1.1/stage").expect("id");
        let answers = Command::Answers(vec![(
            question,
            AnswerChange::Set(AnswerValue::Stage(Stage::parse(3).expect("stage"))),
        )]);
        let draft = ResponseMeta::default();
        assert_eq!(draft.decide(&answers, None).map(|e| e.len()), Ok(1));
        assert_eq!(
            draft.decide(&Command::Answers(vec![]), None),
            Err(CommandError::NoAnswers)
        );
        assert_eq!(
            draft.decide(&Command::Reopen { reason: "x".into() }, None),
            Err(CommandError::NotSubmitted)
        );
        assert_eq!(
            draft.decide(&answers, Some(4)),
            Err(CommandError::Stale {
                expected: 4,
                actual: 0
            })
        );
        let submitted = ResponseMeta {
            status: ResponseStatus::Submitted,
            last_seq: 9,
        };
        assert_eq!(
            submitted.decide(&answers, None),
            Err(CommandError::Submitted)
        );
        assert_eq!(
            submitted.decide(&Command::Submit, None),
            Err(CommandError::AlreadySubmitted)
        );
        assert!(
            submitted
                .decide(&Command::Reopen { reason: "x".into() }, Some(9))
                .is_ok()
        );
    }
}
