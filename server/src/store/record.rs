//! Stored records: the serialised form of domain types, shared by every backend.
//!
//! Each record is JSON with a version field `v`. Readers accept every version they know
//! and convert older ones; writers always write the newest. A record format changes by
//! adding a new version number and a conversion, never by changing what an existing
//! version means (see ARCHITECTURE.md, "Data versioning").

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::catalogue::InstrumentRef;
use crate::domain::{
    Action, ActionId, ActionLink, ActionReminderKind, ActionReminderMark, ActionStatus, Activity,
    ActivityKind, AddedQuestion, EmailAddress, ResponseId, ThemeTag,
};
use crate::domain::{
    Actor, AnswerChange, AnswerValue, ApiToken, Assignment, Channel, Command, CurrentAnswer,
    DateValue, EventKind, EvidenceItem, EvidenceKind, FileRef, IdempotencyKey, LinkBinding,
    LinkToken, NamedRating, NoticeId, Organisation, OrganisationId, Person, PersonId, QuestionId,
    Rating, ReminderMark, ResponseEvent, ResponseKey, ResponseMeta, ResponseStatus, Role, Round,
    RoundId, RoundStatus, Stage, TelegramChatId, TelegramLinkCode, TelegramNotice, Timestamp,
    TokenHash, TokenId, TokenRole, ValidationRecord, ValidationStatus, ValidationSubject,
    Validator,
};

use super::{AuditAction, AuditEntry, ResponseRequest, StoreError};

/// The version every record is written with today.
pub const VERSION: u16 = 1;

fn corrupt(what: &str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {detail}"))
}

fn check_version(what: &str, v: u16) -> Result<(), StoreError> {
    if v == VERSION {
        Ok(())
    } else {
        Err(corrupt(what, format!("unknown record version {v}")))
    }
}

/// Encodes a record as JSON bytes.
pub fn encode<T: Serialize>(record: &T) -> Vec<u8> {
    // Records are plain data (strings, numbers, vectors): serialisation cannot fail.
    serde_json::to_vec(record).unwrap_or_default()
}

/// Decodes JSON bytes into a record.
///
/// # Errors
/// [`StoreError::Corrupt`] when the bytes are not such a record.
pub fn decode<'a, T: Deserialize<'a>>(what: &str, bytes: &'a [u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| corrupt(what, e))
}

fn parse<T, E: std::fmt::Display>(what: &str, result: Result<T, E>) -> Result<T, StoreError> {
    result.map_err(|e| corrupt(what, e))
}

// --- organisations and people ----------------------------------------------------------

/// A stored organisation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OrganisationRecord {
    v: u16,
    id: String,
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    acronym: Option<String>,
}

impl From<&Organisation> for OrganisationRecord {
    fn from(o: &Organisation) -> Self {
        Self {
            v: VERSION,
            id: o.id.to_string(),
            name: o.name.clone(),
            acronym: o.acronym.clone(),
        }
    }
}

impl TryFrom<OrganisationRecord> for Organisation {
    type Error = StoreError;
    fn try_from(r: OrganisationRecord) -> Result<Self, StoreError> {
        check_version("organisation", r.v)?;
        Ok(Self {
            id: parse("organisation id", OrganisationId::parse(&r.id))?,
            name: r.name,
            acronym: r.acronym,
        })
    }
}

/// A stored person.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PersonRecord {
    v: u16,
    id: String,
    name: String,
    email: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    telegram_chat: Option<i64>,
}

impl From<&Person> for PersonRecord {
    fn from(p: &Person) -> Self {
        Self {
            v: VERSION,
            id: p.id.to_string(),
            name: p.name.clone(),
            email: p.email.to_string(),
            telegram_chat: p.telegram_chat.map(|c| c.0),
        }
    }
}

impl TryFrom<PersonRecord> for Person {
    type Error = StoreError;
    fn try_from(r: PersonRecord) -> Result<Self, StoreError> {
        check_version("person", r.v)?;
        Ok(Self {
            id: parse("person id", PersonId::parse(&r.id))?,
            name: r.name,
            email: parse("email", EmailAddress::parse(&r.email))?,
            telegram_chat: r.telegram_chat.map(TelegramChatId),
        })
    }
}

// --- rounds ------------------------------------------------------------------------------

/// A stored round.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RoundRecord {
    v: u16,
    id: String,
    title: String,
    instruments: Vec<String>,
    organisations: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    deadline: Option<i64>,
    status: String,
}

impl From<&Round> for RoundRecord {
    fn from(r: &Round) -> Self {
        Self {
            v: VERSION,
            id: r.id.to_string(),
            title: r.title.clone(),
            instruments: r.instruments.iter().map(ToString::to_string).collect(),
            organisations: r.organisations.iter().map(ToString::to_string).collect(),
            deadline: r.deadline.map(Timestamp::millis),
            status: r.status.as_str().to_owned(),
        }
    }
}

impl TryFrom<RoundRecord> for Round {
    type Error = StoreError;
    fn try_from(r: RoundRecord) -> Result<Self, StoreError> {
        check_version("round", r.v)?;
        Ok(Self {
            id: parse("round id", RoundId::parse(&r.id))?,
            title: r.title,
            instruments: r
                .instruments
                .iter()
                .map(|i| parse("instrument", InstrumentRef::parse(i)))
                .collect::<Result<_, _>>()?,
            organisations: r
                .organisations
                .iter()
                .map(|o| parse("organisation id", OrganisationId::parse(o)))
                .collect::<Result<_, _>>()?,
            deadline: r.deadline.map(Timestamp::from_millis),
            status: RoundStatus::parse(&r.status)
                .ok_or_else(|| corrupt("round status", &r.status))?,
        })
    }
}

/// A stored assignment.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AssignmentRecord {
    v: u16,
    round: String,
    organisation: String,
    person: String,
    role: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    outcome_areas: Vec<String>,
}

/// The identity of an assignment within its round: `<organisation>/<person>/<role>`.
pub fn assignment_field(assignment: &Assignment) -> String {
    format!(
        "{}/{}/{}",
        assignment.organisation,
        assignment.person,
        assignment.role.as_str()
    )
}

impl From<&Assignment> for AssignmentRecord {
    fn from(a: &Assignment) -> Self {
        let outcome_areas = match &a.role {
            Role::SeniorManager { outcome_areas } => outcome_areas.clone(),
            _ => Vec::new(),
        };
        Self {
            v: VERSION,
            round: a.round.to_string(),
            organisation: a.organisation.to_string(),
            person: a.person.to_string(),
            role: a.role.as_str().to_owned(),
            outcome_areas,
        }
    }
}

impl TryFrom<AssignmentRecord> for Assignment {
    type Error = StoreError;
    fn try_from(r: AssignmentRecord) -> Result<Self, StoreError> {
        check_version("assignment", r.v)?;
        let role = match r.role.as_str() {
            "focal-point" => Role::FocalPoint,
            "senior-manager" => Role::SeniorManager {
                outcome_areas: r.outcome_areas,
            },
            "independent-rater" => Role::IndependentRater,
            "learning-participant" => Role::LearningParticipant,
            other => return Err(corrupt("role", other)),
        };
        Ok(Self {
            round: parse("round id", RoundId::parse(&r.round))?,
            organisation: parse("organisation id", OrganisationId::parse(&r.organisation))?,
            person: parse("person id", PersonId::parse(&r.person))?,
            role,
        })
    }
}

/// The version validation records are written with. Version 1 (component judgements
/// only, `validator` a person id) is still read: it becomes a component record whose
/// validator is that person, labelled by the id, with no evidence reviewed.
pub const VALIDATION_VERSION: u16 = 2;

/// A stored validation record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ValidationRecordRecord {
    v: u16,
    round: String,
    organisation: String,
    /// `component` or `status` (version 2; version 1 records are all components).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    component: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    stage: Option<u8>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    evidence_reviewed: Vec<String>,
    /// The validation status a status record moves to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    status: Option<String>,
    note: String,
    /// Version 1: a person id; version 2: an actor (`token:<id>`, `person:<id>`, `system`).
    validator: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    validator_label: Option<String>,
    at: i64,
}

impl From<&ValidationRecord> for ValidationRecordRecord {
    fn from(r: &ValidationRecord) -> Self {
        let (kind, component, stage, evidence_reviewed, status) = match &r.subject {
            ValidationSubject::Component {
                component,
                stage,
                evidence_reviewed,
            } => (
                "component",
                Some(component.clone()),
                Some(stage.get()),
                evidence_reviewed.clone(),
                None,
            ),
            ValidationSubject::Status(status) => (
                "status",
                None,
                None,
                Vec::new(),
                Some(status.as_str().to_owned()),
            ),
        };
        Self {
            v: VALIDATION_VERSION,
            round: r.round.to_string(),
            organisation: r.organisation.to_string(),
            kind: Some(kind.to_owned()),
            component,
            stage,
            evidence_reviewed,
            status,
            note: r.note.clone(),
            validator: actor_text(&r.validator.actor),
            validator_label: Some(r.validator.label.clone()),
            at: r.at.millis(),
        }
    }
}

impl TryFrom<ValidationRecordRecord> for ValidationRecord {
    type Error = StoreError;
    fn try_from(r: ValidationRecordRecord) -> Result<Self, StoreError> {
        let component = |component: Option<String>, stage: Option<u8>, evidence_reviewed| {
            let component = component.ok_or_else(|| corrupt("validation", "no component"))?;
            let stage = stage.ok_or_else(|| corrupt("validation", "no stage"))?;
            Ok::<_, StoreError>(ValidationSubject::Component {
                component,
                stage: parse("stage", Stage::parse(i64::from(stage)))?,
                evidence_reviewed,
            })
        };
        let (subject, validator) = match r.v {
            1 => {
                let person = parse("person id", PersonId::parse(&r.validator))?;
                let validator = Validator {
                    label: person.to_string(),
                    actor: Actor::Person(person),
                };
                (
                    component(r.component, r.stage, r.evidence_reviewed)?,
                    validator,
                )
            }
            VALIDATION_VERSION => {
                let subject = match r.kind.as_deref() {
                    Some("component") => component(r.component, r.stage, r.evidence_reviewed)?,
                    Some("status") => {
                        let status = r.status.as_deref().unwrap_or_default();
                        ValidationSubject::Status(
                            ValidationStatus::parse(status)
                                .ok_or_else(|| corrupt("validation status", status))?,
                        )
                    }
                    other => return Err(corrupt("validation kind", format!("{other:?}"))),
                };
                let actor = parse_actor(&r.validator)?;
                let label = r.validator_label.unwrap_or_else(|| r.validator.clone());
                (subject, Validator { actor, label })
            }
            other => {
                return Err(corrupt(
                    "validation",
                    format!("unknown record version {other}"),
                ));
            }
        };
        Ok(Self {
            round: parse("round id", RoundId::parse(&r.round))?,
            organisation: parse("organisation id", OrganisationId::parse(&r.organisation))?,
            subject,
            note: r.note,
            validator,
            at: Timestamp::from_millis(r.at),
        })
    }
}

// --- answers and events ------------------------------------------------------------------

/// A stored answer value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum ValueRecord {
    /// A stage.
    Stage {
        /// 1–5.
        value: u8,
    },
    /// A rating.
    Rating {
        /// The rating.
        value: u8,
    },
    /// A text.
    Text {
        /// The text.
        value: String,
    },
    /// A list of lines.
    TextList {
        /// The lines.
        value: Vec<String>,
    },
    /// A date.
    Date {
        /// `YYYY-MM-DD`.
        value: String,
    },
    /// Evidence.
    Evidence {
        /// The items.
        value: Vec<EvidenceRecord>,
    },
    /// Named activities.
    OtherActivities {
        /// The items.
        value: Vec<NamedRatingRecord>,
    },
}

/// A stored evidence item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvidenceRecord {
    kind: String,
    text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    file: Option<FileRecord>,
}

/// A stored file reference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileRecord {
    name: String,
    size: u64,
    telegram_file_id: String,
}

/// A stored named rating.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NamedRatingRecord {
    name: String,
    rating: u8,
}

impl From<&AnswerValue> for ValueRecord {
    fn from(value: &AnswerValue) -> Self {
        match value {
            AnswerValue::Stage(s) => Self::Stage { value: s.get() },
            AnswerValue::Rating(r) => Self::Rating { value: r.get() },
            AnswerValue::Text(t) => Self::Text { value: t.clone() },
            AnswerValue::TextList(l) => Self::TextList { value: l.clone() },
            AnswerValue::Date(d) => Self::Date {
                value: d.as_str().to_owned(),
            },
            AnswerValue::Evidence(items) => Self::Evidence {
                value: items
                    .iter()
                    .map(|i| EvidenceRecord {
                        kind: match i.kind {
                            EvidenceKind::Document => "document",
                            EvidenceKind::Person => "person",
                        }
                        .to_owned(),
                        text: i.text.clone(),
                        file: i.file.as_ref().map(|f| FileRecord {
                            name: f.name.clone(),
                            size: f.size,
                            telegram_file_id: f.telegram_file_id.clone(),
                        }),
                    })
                    .collect(),
            },
            AnswerValue::OtherActivities(items) => Self::OtherActivities {
                value: items
                    .iter()
                    .map(|n| NamedRatingRecord {
                        name: n.name.clone(),
                        rating: n.rating.get(),
                    })
                    .collect(),
            },
        }
    }
}

impl TryFrom<ValueRecord> for AnswerValue {
    type Error = StoreError;
    fn try_from(r: ValueRecord) -> Result<Self, StoreError> {
        Ok(match r {
            ValueRecord::Stage { value } => {
                Self::Stage(parse("stage", Stage::parse(i64::from(value)))?)
            }
            // The scale was checked against the catalogue when written.
            ValueRecord::Rating { value } => Self::Rating(parse(
                "rating",
                Rating::parse(i64::from(value), 0, u8::MAX),
            )?),
            ValueRecord::Text { value } => Self::Text(value),
            ValueRecord::TextList { value } => Self::TextList(value),
            ValueRecord::Date { value } => Self::Date(parse("date", DateValue::parse(&value))?),
            ValueRecord::Evidence { value } => Self::Evidence(
                value
                    .into_iter()
                    .map(|e| {
                        Ok(EvidenceItem {
                            kind: match e.kind.as_str() {
                                "document" => EvidenceKind::Document,
                                "person" => EvidenceKind::Person,
                                other => return Err(corrupt("evidence kind", other)),
                            },
                            text: e.text,
                            file: e.file.map(|f| FileRef {
                                name: f.name,
                                size: f.size,
                                telegram_file_id: f.telegram_file_id,
                            }),
                        })
                    })
                    .collect::<Result<_, StoreError>>()?,
            ),
            ValueRecord::OtherActivities { value } => Self::OtherActivities(
                value
                    .into_iter()
                    .map(|n| {
                        Ok(NamedRating {
                            name: n.name,
                            rating: parse(
                                "rating",
                                Rating::parse(i64::from(n.rating), 0, u8::MAX),
                            )?,
                        })
                    })
                    .collect::<Result<_, StoreError>>()?,
            ),
        })
    }
}

fn actor_text(actor: &Actor) -> String {
    match actor {
        Actor::Person(p) => format!("person:{p}"),
        Actor::Token(t) => format!("token:{t}"),
        Actor::System => "system".to_owned(),
    }
}

fn parse_actor(text: &str) -> Result<Actor, StoreError> {
    if text == "system" {
        return Ok(Actor::System);
    }
    match text.split_once(':') {
        Some(("person", id)) => Ok(Actor::Person(parse("person id", PersonId::parse(id))?)),
        Some(("token", id)) => Ok(Actor::Token(parse("token id", TokenId::parse(id))?)),
        _ => Err(corrupt("actor", text)),
    }
}

fn parse_channel(text: &str) -> Result<Channel, StoreError> {
    Channel::parse(text).ok_or_else(|| corrupt("channel", text))
}

/// What a stored event records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum EventKindRecord {
    /// An answer set.
    Set {
        /// The question.
        question: String,
        /// The value.
        value: ValueRecord,
    },
    /// An answer cleared.
    Clear {
        /// The question.
        question: String,
    },
    /// Submitted.
    Submitted,
    /// Reopened.
    Reopened {
        /// Why.
        reason: String,
    },
}

impl EventKindRecord {
    /// The record of an answer set or cleared.
    fn answer(question: &QuestionId, change: &AnswerChange) -> Self {
        match change {
            AnswerChange::Set(value) => Self::Set {
                question: question.to_string(),
                value: value.into(),
            },
            AnswerChange::Clear => Self::Clear {
                question: question.to_string(),
            },
        }
    }
}

impl From<&EventKind> for EventKindRecord {
    fn from(kind: &EventKind) -> Self {
        match kind {
            EventKind::Answer { question, change } => Self::answer(question, change),
            EventKind::Submitted => Self::Submitted,
            EventKind::Reopened { reason } => Self::Reopened {
                reason: reason.clone(),
            },
        }
    }
}

impl TryFrom<EventKindRecord> for EventKind {
    type Error = StoreError;
    fn try_from(r: EventKindRecord) -> Result<Self, StoreError> {
        Ok(match r {
            EventKindRecord::Set { question, value } => Self::Answer {
                question: parse("question id", QuestionId::parse(&question))?,
                change: AnswerChange::Set(value.try_into()?),
            },
            EventKindRecord::Clear { question } => Self::Answer {
                question: parse("question id", QuestionId::parse(&question))?,
                change: AnswerChange::Clear,
            },
            EventKindRecord::Submitted => Self::Submitted,
            EventKindRecord::Reopened { reason } => Self::Reopened { reason },
        })
    }
}

/// A stored event. The response id is not repeated inside: the record lives under it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRecord {
    v: u16,
    /// Position in the log.
    pub seq: u64,
    #[serde(flatten)]
    kind: EventKindRecord,
    actor: String,
    channel: String,
    at: i64,
    key: String,
}

impl From<&ResponseEvent> for EventRecord {
    fn from(e: &ResponseEvent) -> Self {
        Self {
            v: VERSION,
            seq: e.seq,
            kind: (&e.kind).into(),
            actor: actor_text(&e.actor),
            channel: e.channel.as_str().to_owned(),
            at: e.at.millis(),
            key: e.idempotency_key.to_string(),
        }
    }
}

impl EventRecord {
    /// The event, placed in `response`.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] for a record that does not parse.
    pub fn into_event(self, response: &ResponseId) -> Result<ResponseEvent, StoreError> {
        check_version("event", self.v)?;
        Ok(ResponseEvent {
            response: response.clone(),
            seq: self.seq,
            kind: self.kind.try_into()?,
            actor: parse_actor(&self.actor)?,
            channel: parse_channel(&self.channel)?,
            at: Timestamp::from_millis(self.at),
            idempotency_key: parse("idempotency key", IdempotencyKey::parse(&self.key))?,
        })
    }
}

/// A stored current answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnswerRecord {
    v: u16,
    value: ValueRecord,
    seq: u64,
    actor: String,
    channel: String,
    at: i64,
}

impl AnswerRecord {
    /// The current answer an event sets, or `None` for an event that clears or is not an
    /// answer.
    pub fn from_event(event: &ResponseEvent) -> Option<Self> {
        match &event.kind {
            EventKind::Answer {
                change: AnswerChange::Set(value),
                ..
            } => Some(Self {
                v: VERSION,
                value: value.into(),
                seq: event.seq,
                actor: actor_text(&event.actor),
                channel: event.channel.as_str().to_owned(),
                at: event.at.millis(),
            }),
            _ => None,
        }
    }
}

impl TryFrom<AnswerRecord> for CurrentAnswer {
    type Error = StoreError;
    fn try_from(r: AnswerRecord) -> Result<Self, StoreError> {
        check_version("answer", r.v)?;
        Ok(Self {
            value: r.value.try_into()?,
            seq: r.seq,
            actor: parse_actor(&r.actor)?,
            channel: parse_channel(&r.channel)?,
            at: Timestamp::from_millis(r.at),
        })
    }
}

/// A stored response meta: status, log length and last change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetaRecord {
    v: u16,
    /// `draft` or `submitted`.
    pub submitted: bool,
    /// Seq of the last event.
    pub last_seq: u64,
    /// When the last event happened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<i64>,
}

impl MetaRecord {
    /// The record of a meta.
    pub fn new(meta: &ResponseMeta, updated_at: Option<Timestamp>) -> Self {
        Self {
            v: VERSION,
            submitted: meta.status == ResponseStatus::Submitted,
            last_seq: meta.last_seq,
            updated_at: updated_at.map(Timestamp::millis),
        }
    }

    /// The meta it records.
    pub fn meta(&self) -> ResponseMeta {
        ResponseMeta {
            status: if self.submitted {
                ResponseStatus::Submitted
            } else {
                ResponseStatus::Draft
            },
            last_seq: self.last_seq,
        }
    }
}

/// What an idempotency key recorded: which request (by fingerprint) and which events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    v: u16,
    /// SHA-256 (hex) of the request, without its time.
    pub fingerprint: String,
    /// Seq of the first event recorded (0 when none was).
    pub first_seq: u64,
    /// How many events were recorded.
    pub count: u64,
}

impl IdempotencyRecord {
    /// The record for a request whose fingerprint was computed beforehand (outside a
    /// writer's critical section).
    pub fn with_fingerprint(fingerprint: String, first_seq: u64, count: u64) -> Self {
        Self {
            v: VERSION,
            fingerprint,
            first_seq,
            count,
        }
    }
}

#[derive(Serialize)]
struct FingerprintInput<'a> {
    command: CommandRecord,
    actor: String,
    channel: &'a str,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "kebab-case")]
enum CommandRecord {
    Answers { answers: Vec<EventKindRecord> },
    Submit,
    Reopen { reason: String },
}

impl From<&Command> for CommandRecord {
    fn from(command: &Command) -> Self {
        match command {
            Command::Answers(answers) => Self::Answers {
                answers: answers
                    .iter()
                    .map(|(question, change)| EventKindRecord::answer(question, change))
                    .collect(),
            },
            Command::Submit => Self::Submit,
            Command::Reopen { reason } => Self::Reopen {
                reason: reason.clone(),
            },
        }
    }
}

impl TryFrom<CommandRecord> for Command {
    type Error = StoreError;
    fn try_from(record: CommandRecord) -> Result<Self, StoreError> {
        Ok(match record {
            CommandRecord::Answers { answers } => Self::Answers(
                answers
                    .into_iter()
                    .map(|answer| match EventKind::try_from(answer)? {
                        EventKind::Answer { question, change } => Ok((question, change)),
                        other => Err(corrupt("answer", format!("{other:?}"))),
                    })
                    .collect::<Result<_, StoreError>>()?,
            ),
            CommandRecord::Submit => Self::Submit,
            CommandRecord::Reopen { reason } => Self::Reopen { reason },
        })
    }
}

/// A request as the redb store's journal keeps it (see [`super::journal`]): everything
/// [`Store::execute`](super::Store::execute) needs to apply it again after a crash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestRecord {
    v: u16,
    response: String,
    key: String,
    #[serde(flatten)]
    command: CommandRecord,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expected_seq: Option<u64>,
    actor: String,
    channel: String,
    at: i64,
}

impl From<&ResponseRequest> for RequestRecord {
    fn from(request: &ResponseRequest) -> Self {
        Self {
            v: VERSION,
            response: request.key.id().to_string(),
            key: request.idempotency_key.to_string(),
            command: (&request.command).into(),
            expected_seq: request.expected_seq,
            actor: actor_text(&request.actor),
            channel: request.channel.as_str().to_owned(),
            at: request.at.millis(),
        }
    }
}

impl TryFrom<RequestRecord> for ResponseRequest {
    type Error = StoreError;
    fn try_from(r: RequestRecord) -> Result<Self, StoreError> {
        check_version("request", r.v)?;
        Ok(Self {
            key: ResponseKey::parse(&r.response)
                .ok_or_else(|| corrupt("response id", &r.response))?,
            idempotency_key: parse("idempotency key", IdempotencyKey::parse(&r.key))?,
            command: r.command.try_into()?,
            expected_seq: r.expected_seq,
            actor: parse_actor(&r.actor)?,
            channel: parse_channel(&r.channel)?,
            at: Timestamp::from_millis(r.at),
        })
    }
}

/// SHA-256 (hex) of what a request asks for: its command, actor and channel. The time is
/// left out, so a client's retry of the same request matches; so is the expected seq, a
/// precondition rather than content, which a retry computed afresh would change.
pub fn fingerprint(request: &ResponseRequest) -> String {
    let input = FingerprintInput {
        command: (&request.command).into(),
        actor: actor_text(&request.actor),
        channel: request.channel.as_str(),
    };
    // The JSON goes straight into the hash rather than into a buffer first: the same
    // bytes, so the same fingerprints as stored records hold.
    let mut hasher = HashWriter(Sha256::new());
    // Plain data into a writer that cannot fail: serialisation cannot fail either.
    let _ = serde_json::to_writer(&mut hasher, &input);
    crate::domain::lower_hex(&hasher.0.finalize())
}

/// Feeds what is written to it into a SHA-256.
struct HashWriter(Sha256);

impl std::io::Write for HashWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.update(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The events a request records, numbered from `meta.last_seq + 1`.
///
/// # Errors
/// [`StoreError::Refused`] when the response refuses the command.
pub fn plan_events(
    meta: &ResponseMeta,
    request: &ResponseRequest,
) -> Result<Vec<ResponseEvent>, StoreError> {
    let kinds = meta.decide(&request.command, request.expected_seq)?;
    let response = request.key.id();
    Ok(kinds
        .into_iter()
        .zip(meta.last_seq + 1..)
        .map(|(kind, seq)| ResponseEvent {
            response: response.clone(),
            seq,
            kind,
            actor: request.actor.clone(),
            channel: request.channel,
            at: request.at,
            idempotency_key: request.idempotency_key.clone(),
        })
        .collect())
}

// --- audit -------------------------------------------------------------------------------

/// A stored audit entry of a round.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    v: u16,
    round: String,
    at: i64,
    actor: String,
    #[serde(flatten)]
    action: AuditActionRecord,
}

/// What a stored audit entry records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum AuditActionRecord {
    /// The round was created.
    RoundCreated,
    /// The status changed.
    StatusChanged {
        /// The status before.
        from: String,
        /// The status after.
        to: String,
    },
    /// A response was reopened.
    ResponseReopened {
        /// The response id.
        response: String,
        /// Why.
        reason: String,
    },
    /// An assignment was added or changed.
    AssignmentAdded {
        /// The organisation id.
        organisation: String,
        /// The person id.
        person: String,
        /// The role name.
        role: String,
        /// Outcome areas of a senior manager.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        outcome_areas: Vec<String>,
    },
    /// An assignment was removed.
    AssignmentRemoved {
        /// The organisation id.
        organisation: String,
        /// The person id.
        person: String,
        /// The role name.
        role: String,
        /// Outcome areas of a senior manager.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        outcome_areas: Vec<String>,
    },
    /// An organisation was added to the round.
    OrganisationAdded {
        /// The organisation id.
        organisation: String,
    },
    /// A component's validated stage was recorded.
    ComponentValidated {
        /// The organisation id.
        organisation: String,
        /// The component id.
        component: String,
        /// The validated stage.
        stage: u8,
    },
    /// An organisation's validation status changed.
    ValidationStatusChanged {
        /// The organisation id.
        organisation: String,
        /// The status before.
        from: String,
        /// The status after.
        to: String,
    },
    /// The links of one person's response were revoked.
    LinksRevoked {
        /// The response id.
        response: String,
        /// The person id.
        person: String,
        /// How many were revoked.
        count: u32,
    },
}

fn audit_role_parts(role: &Role) -> (String, Vec<String>) {
    let areas = match role {
        Role::SeniorManager { outcome_areas } => outcome_areas.clone(),
        _ => Vec::new(),
    };
    (role.as_str().to_owned(), areas)
}

fn audit_role(name: &str, outcome_areas: Vec<String>) -> Result<Role, StoreError> {
    Ok(match name {
        "focal-point" => Role::FocalPoint,
        "senior-manager" => Role::SeniorManager { outcome_areas },
        "independent-rater" => Role::IndependentRater,
        "learning-participant" => Role::LearningParticipant,
        other => return Err(corrupt("role", other)),
    })
}

fn audit_status(text: &str) -> Result<RoundStatus, StoreError> {
    RoundStatus::parse(text).ok_or_else(|| corrupt("round status", text))
}

fn validation_status(text: &str) -> Result<ValidationStatus, StoreError> {
    ValidationStatus::parse(text).ok_or_else(|| corrupt("validation status", text))
}

impl From<&AuditEntry> for AuditRecord {
    fn from(entry: &AuditEntry) -> Self {
        let action = match &entry.action {
            AuditAction::RoundCreated => AuditActionRecord::RoundCreated,
            AuditAction::StatusChanged { from, to } => AuditActionRecord::StatusChanged {
                from: from.as_str().to_owned(),
                to: to.as_str().to_owned(),
            },
            AuditAction::ResponseReopened { response, reason } => {
                AuditActionRecord::ResponseReopened {
                    response: response.id().to_string(),
                    reason: reason.clone(),
                }
            }
            AuditAction::AssignmentAdded {
                organisation,
                person,
                role,
            } => {
                let (role, outcome_areas) = audit_role_parts(role);
                AuditActionRecord::AssignmentAdded {
                    organisation: organisation.to_string(),
                    person: person.to_string(),
                    role,
                    outcome_areas,
                }
            }
            AuditAction::AssignmentRemoved {
                organisation,
                person,
                role,
            } => {
                let (role, outcome_areas) = audit_role_parts(role);
                AuditActionRecord::AssignmentRemoved {
                    organisation: organisation.to_string(),
                    person: person.to_string(),
                    role,
                    outcome_areas,
                }
            }
            AuditAction::OrganisationAdded { organisation } => {
                AuditActionRecord::OrganisationAdded {
                    organisation: organisation.to_string(),
                }
            }
            AuditAction::ComponentValidated {
                organisation,
                component,
                stage,
            } => AuditActionRecord::ComponentValidated {
                organisation: organisation.to_string(),
                component: component.clone(),
                stage: stage.get(),
            },
            AuditAction::ValidationStatusChanged {
                organisation,
                from,
                to,
            } => AuditActionRecord::ValidationStatusChanged {
                organisation: organisation.to_string(),
                from: from.as_str().to_owned(),
                to: to.as_str().to_owned(),
            },
            AuditAction::LinksRevoked {
                response,
                person,
                count,
            } => AuditActionRecord::LinksRevoked {
                response: response.id().to_string(),
                person: person.to_string(),
                count: *count,
            },
        };
        Self {
            v: VERSION,
            round: entry.round.to_string(),
            at: entry.at.millis(),
            actor: actor_text(&entry.actor),
            action,
        }
    }
}

impl TryFrom<AuditRecord> for AuditEntry {
    type Error = StoreError;
    fn try_from(r: AuditRecord) -> Result<Self, StoreError> {
        check_version("audit entry", r.v)?;
        let action = match r.action {
            AuditActionRecord::RoundCreated => AuditAction::RoundCreated,
            AuditActionRecord::StatusChanged { from, to } => AuditAction::StatusChanged {
                from: audit_status(&from)?,
                to: audit_status(&to)?,
            },
            AuditActionRecord::ResponseReopened { response, reason } => {
                AuditAction::ResponseReopened {
                    response: ResponseKey::parse(&response)
                        .ok_or_else(|| corrupt("response id", &response))?,
                    reason,
                }
            }
            AuditActionRecord::AssignmentAdded {
                organisation,
                person,
                role,
                outcome_areas,
            } => AuditAction::AssignmentAdded {
                organisation: parse("organisation id", OrganisationId::parse(&organisation))?,
                person: parse("person id", PersonId::parse(&person))?,
                role: audit_role(&role, outcome_areas)?,
            },
            AuditActionRecord::AssignmentRemoved {
                organisation,
                person,
                role,
                outcome_areas,
            } => AuditAction::AssignmentRemoved {
                organisation: parse("organisation id", OrganisationId::parse(&organisation))?,
                person: parse("person id", PersonId::parse(&person))?,
                role: audit_role(&role, outcome_areas)?,
            },
            AuditActionRecord::OrganisationAdded { organisation } => {
                AuditAction::OrganisationAdded {
                    organisation: parse("organisation id", OrganisationId::parse(&organisation))?,
                }
            }
            AuditActionRecord::ComponentValidated {
                organisation,
                component,
                stage,
            } => AuditAction::ComponentValidated {
                organisation: parse("organisation id", OrganisationId::parse(&organisation))?,
                component,
                stage: parse("stage", Stage::parse(i64::from(stage)))?,
            },
            AuditActionRecord::ValidationStatusChanged {
                organisation,
                from,
                to,
            } => AuditAction::ValidationStatusChanged {
                organisation: parse("organisation id", OrganisationId::parse(&organisation))?,
                from: validation_status(&from)?,
                to: validation_status(&to)?,
            },
            AuditActionRecord::LinksRevoked {
                response,
                person,
                count,
            } => AuditAction::LinksRevoked {
                response: ResponseKey::parse(&response)
                    .ok_or_else(|| corrupt("response id", &response))?,
                person: parse("person id", PersonId::parse(&person))?,
                count,
            },
        };
        Ok(Self {
            round: parse("round id", RoundId::parse(&r.round))?,
            at: Timestamp::from_millis(r.at),
            actor: parse_actor(&r.actor)?,
            action,
        })
    }
}

// --- tokens ------------------------------------------------------------------------------

/// A stored API token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApiTokenRecord {
    v: u16,
    id: String,
    hash: String,
    role: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    rounds: Vec<String>,
    label: String,
    created_at: i64,
    revoked: bool,
}

impl From<&ApiToken> for ApiTokenRecord {
    fn from(t: &ApiToken) -> Self {
        let (role, rounds) = match &t.role {
            TokenRole::Admin => ("admin", Vec::new()),
            TokenRole::Validator { rounds } => (
                "validator",
                rounds.iter().map(ToString::to_string).collect(),
            ),
            TokenRole::Bot => ("bot", Vec::new()),
        };
        Self {
            v: VERSION,
            id: t.id.to_string(),
            hash: t.hash.to_hex(),
            role: role.to_owned(),
            rounds,
            label: t.label.clone(),
            created_at: t.created_at.millis(),
            revoked: t.revoked,
        }
    }
}

impl TryFrom<ApiTokenRecord> for ApiToken {
    type Error = StoreError;
    fn try_from(r: ApiTokenRecord) -> Result<Self, StoreError> {
        check_version("api token", r.v)?;
        let role = match r.role.as_str() {
            "admin" => TokenRole::Admin,
            "validator" => TokenRole::Validator {
                rounds: r
                    .rounds
                    .iter()
                    .map(|id| parse("round id", RoundId::parse(id)))
                    .collect::<Result<_, _>>()?,
            },
            "bot" => TokenRole::Bot,
            other => return Err(corrupt("token role", other)),
        };
        Ok(Self {
            id: parse("token id", TokenId::parse(&r.id))?,
            hash: TokenHash::from_hex(&r.hash).ok_or_else(|| corrupt("token hash", "not hex"))?,
            role,
            label: r.label,
            created_at: Timestamp::from_millis(r.created_at),
            revoked: r.revoked,
        })
    }
}

/// A stored link token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LinkTokenRecord {
    v: u16,
    hash: String,
    response: String,
    person: String,
    expires_at: i64,
    revoked: bool,
    created_at: i64,
}

impl From<&LinkToken> for LinkTokenRecord {
    fn from(t: &LinkToken) -> Self {
        Self {
            v: VERSION,
            hash: t.hash.to_hex(),
            response: t.binding.response.id().to_string(),
            person: t.binding.person.to_string(),
            expires_at: t.expires_at.millis(),
            revoked: t.revoked,
            created_at: t.created_at.millis(),
        }
    }
}

impl TryFrom<LinkTokenRecord> for LinkToken {
    type Error = StoreError;
    fn try_from(r: LinkTokenRecord) -> Result<Self, StoreError> {
        check_version("link token", r.v)?;
        Ok(Self {
            hash: TokenHash::from_hex(&r.hash).ok_or_else(|| corrupt("token hash", "not hex"))?,
            binding: LinkBinding {
                response: ResponseKey::parse(&r.response)
                    .ok_or_else(|| corrupt("response id", &r.response))?,
                person: parse("person id", PersonId::parse(&r.person))?,
            },
            expires_at: Timestamp::from_millis(r.expires_at),
            revoked: r.revoked,
            created_at: Timestamp::from_millis(r.created_at),
        })
    }
}

impl LinkTokenRecord {
    /// Marks the record revoked.
    pub fn revoke(&mut self) {
        self.revoked = true;
    }
}

/// A stored Telegram linking code.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TelegramCodeRecord {
    v: u16,
    hash: String,
    person: String,
    created_at: i64,
    expires_at: i64,
}

impl From<&TelegramLinkCode> for TelegramCodeRecord {
    fn from(c: &TelegramLinkCode) -> Self {
        Self {
            v: VERSION,
            hash: c.hash.to_hex(),
            person: c.person.to_string(),
            created_at: c.created_at.millis(),
            expires_at: c.expires_at.millis(),
        }
    }
}

impl TryFrom<TelegramCodeRecord> for TelegramLinkCode {
    type Error = StoreError;
    fn try_from(r: TelegramCodeRecord) -> Result<Self, StoreError> {
        check_version("telegram code", r.v)?;
        Ok(Self {
            hash: TokenHash::from_hex(&r.hash).ok_or_else(|| corrupt("code hash", "not hex"))?,
            person: parse("person id", PersonId::parse(&r.person))?,
            created_at: Timestamp::from_millis(r.created_at),
            expires_at: Timestamp::from_millis(r.expires_at),
        })
    }
}

/// A stored reminder mark.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReminderMarkRecord {
    v: u16,
    round: String,
    person: String,
    day: u32,
    claimed_at: i64,
    holder: String,
}

impl From<&ReminderMark> for ReminderMarkRecord {
    fn from(m: &ReminderMark) -> Self {
        Self {
            v: VERSION,
            round: m.round.to_string(),
            person: m.person.to_string(),
            day: m.day,
            claimed_at: m.claimed_at.millis(),
            holder: m.holder.clone(),
        }
    }
}

impl TryFrom<ReminderMarkRecord> for ReminderMark {
    type Error = StoreError;
    fn try_from(r: ReminderMarkRecord) -> Result<Self, StoreError> {
        check_version("reminder mark", r.v)?;
        Ok(Self {
            round: parse("round id", RoundId::parse(&r.round))?,
            person: parse("person id", PersonId::parse(&r.person))?,
            day: r.day,
            claimed_at: Timestamp::from_millis(r.claimed_at),
            holder: r.holder,
        })
    }
}

/// A stored Telegram notice. `visible_at` is when the bot may claim it (again): the
/// redb backend keeps it in the record, Redis in a sorted set beside it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TelegramNoticeRecord {
    v: u16,
    id: String,
    person: String,
    round: String,
    day: u32,
    responses: Vec<String>,
    created_at: i64,
    expires_at: i64,
    #[serde(default)]
    visible_at: i64,
}

impl TelegramNoticeRecord {
    /// The record of `notice`, claimable from `visible_at`.
    pub fn new(notice: &TelegramNotice, visible_at: Timestamp) -> Self {
        Self {
            v: VERSION,
            id: notice.id.to_string(),
            person: notice.person.to_string(),
            round: notice.round.to_string(),
            day: notice.day,
            responses: notice
                .responses
                .iter()
                .map(|key| key.id().to_string())
                .collect(),
            created_at: notice.created_at.millis(),
            expires_at: notice.expires_at.millis(),
            visible_at: visible_at.millis(),
        }
    }

    /// When the bot may claim it.
    pub fn visible_at(&self) -> Timestamp {
        Timestamp::from_millis(self.visible_at)
    }

    /// Hides it from claims until `at`.
    pub fn hide_until(&mut self, at: Timestamp) {
        self.visible_at = at.millis();
    }
}

impl TryFrom<TelegramNoticeRecord> for TelegramNotice {
    type Error = StoreError;
    fn try_from(r: TelegramNoticeRecord) -> Result<Self, StoreError> {
        check_version("telegram notice", r.v)?;
        Ok(Self {
            id: parse("notice id", NoticeId::parse(&r.id))?,
            person: parse("person id", PersonId::parse(&r.person))?,
            round: parse("round id", RoundId::parse(&r.round))?,
            day: r.day,
            responses: r
                .responses
                .iter()
                .map(|id| ResponseKey::parse(id).ok_or_else(|| corrupt("response id", id)))
                .collect::<Result<_, _>>()?,
            created_at: Timestamp::from_millis(r.created_at),
            expires_at: Timestamp::from_millis(r.expires_at),
        })
    }
}

/// A stored lease: who holds it, until when (redb; Redis keeps the holder in a key that
/// expires).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LeaseRecord {
    v: u16,
    /// The holder.
    pub holder: String,
    /// When it ends, ms since the epoch.
    pub until: i64,
}

impl LeaseRecord {
    /// A lease for `holder` until `until`.
    pub fn new(holder: &str, until: Timestamp) -> Self {
        Self {
            v: VERSION,
            holder: holder.to_owned(),
            until: until.millis(),
        }
    }

    /// Checks the version.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] for an unknown version.
    pub fn checked(self) -> Result<Self, StoreError> {
        check_version("lease", self.v)?;
        Ok(self)
    }
}

impl ApiTokenRecord {
    /// Marks the record revoked.
    pub fn revoke(&mut self) {
        self.revoked = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Respondent, Stage};

    fn request(value: u8, at: i64) -> ResponseRequest {
        ResponseRequest {
            key: ResponseKey {
                round: RoundId::parse("r").expect("id"),
                organisation: OrganisationId::parse("o").expect("id"),
                instrument: InstrumentRef::parse("jiu-rbm-stages@1").expect("ref"),
                respondent: Respondent::Organisation,
            },
            idempotency_key: IdempotencyKey::parse("k1").expect("key"),
            command: Command::Answers(vec![(
                QuestionId::parse("1.1/stage").expect("id"),
                AnswerChange::Set(AnswerValue::Stage(
                    Stage::parse(i64::from(value)).expect("stage"),
                )),
            )]),
            expected_seq: None,
            actor: Actor::System,
            channel: Channel::Graphql,
            at: Timestamp::from_millis(at),
        }
    }

    #[test]
    fn fingerprint_ignores_time_but_not_content() {
        assert_eq!(fingerprint(&request(3, 1)), fingerprint(&request(3, 2)));
        assert_ne!(fingerprint(&request(3, 1)), fingerprint(&request(4, 1)));
    }

    #[test]
    fn requests_round_trip_through_journal_records() {
        let answers = request(3, 1_700_000_000_000);
        let mut cleared = request(2, 5);
        cleared.command = Command::Answers(vec![(
            QuestionId::parse("1.2/stage").expect("id"),
            AnswerChange::Clear,
        )]);
        cleared.expected_seq = Some(4);
        cleared.actor = Actor::Person(PersonId::parse("p-ana").expect("id"));
        cleared.channel = Channel::Telegram;
        cleared.key.respondent = Respondent::Person(PersonId::parse("p-ana").expect("id"));
        let mut submit = request(1, 6);
        submit.command = Command::Submit;
        submit.actor = Actor::Token(TokenId::parse("t-bot").expect("id"));
        let mut reopen = request(1, 7);
        reopen.command = Command::Reopen {
            reason: "the pillar \"Planning\" needs another look".to_owned(),
        };
        for original in [answers, cleared, submit, reopen] {
            let bytes = encode(&RequestRecord::from(&original));
            let record: RequestRecord = decode("request", &bytes).expect("decodes");
            let back = ResponseRequest::try_from(record).expect("converts");
            assert_eq!(back, original);
            // The fingerprint, stored with every idempotency key, is unchanged by the trip.
            assert_eq!(fingerprint(&back), fingerprint(&original));
        }
    }

    #[test]
    fn fingerprints_stay_what_stored_idempotency_records_hold() {
        // Stored with every idempotency key: a change here would turn every retry of a
        // request made before it into a conflict.
        assert_eq!(
            fingerprint(&request(3, 1)),
            "cf91337f0847b0afd8befed50ae7fe777ff5fab962a48797b6863a9301a399c5"
        );
    }

    #[test]
    fn a_request_record_with_a_non_answer_in_its_answers_is_corrupt() {
        let mut record = RequestRecord::from(&request(3, 1));
        record.command = CommandRecord::Answers {
            answers: vec![EventKindRecord::Submitted],
        };
        assert!(matches!(
            ResponseRequest::try_from(record),
            Err(StoreError::Corrupt(_))
        ));
    }

    #[test]
    fn events_round_trip_through_records() {
        let events = plan_events(&ResponseMeta::default(), &request(3, 7)).expect("planned");
        assert_eq!(events[0].seq, 1);
        let record = EventRecord::from(&events[0]);
        let bytes = encode(&record);
        let back: EventRecord = decode("event", &bytes).expect("decodes");
        assert_eq!(
            back.into_event(&events[0].response).expect("event"),
            events[0]
        );
    }

    #[test]
    fn unknown_versions_are_corrupt_not_misread() {
        let bytes = br#"{"v":9,"id":"unicef","name":"UNICEF"}"#;
        let record: OrganisationRecord = decode("organisation", bytes).expect("json");
        assert!(matches!(
            Organisation::try_from(record),
            Err(StoreError::Corrupt(_))
        ));
    }

    fn validation_back(bytes: &[u8]) -> Result<ValidationRecord, StoreError> {
        let record: ValidationRecordRecord = decode("validation", bytes)?;
        ValidationRecord::try_from(record)
    }

    #[test]
    fn version_1_validation_records_read_as_component_judgements_of_a_person() {
        let bytes = br#"{"v":1,"round":"r-2026","organisation":"unicef","component":"2.3","stage":3,"note":"checked","validator":"p-val","at":42}"#;
        let record = validation_back(bytes).expect("a version 1 record reads");
        assert_eq!(
            record,
            ValidationRecord {
                round: RoundId::parse("r-2026").expect("id"),
                organisation: OrganisationId::parse("unicef").expect("id"),
                subject: ValidationSubject::Component {
                    component: "2.3".to_owned(),
                    stage: Stage::parse(3).expect("stage"),
                    evidence_reviewed: Vec::new(),
                },
                note: "checked".to_owned(),
                validator: Validator {
                    actor: Actor::Person(PersonId::parse("p-val").expect("id")),
                    label: "p-val".to_owned(),
                },
                at: Timestamp::from_millis(42),
            }
        );
    }

    #[test]
    fn validation_records_round_trip_as_version_2() {
        let validator = Validator {
            actor: Actor::Token(TokenId::parse("t-jiu").expect("id")),
            label: "JIU team".to_owned(),
        };
        let records = [
            ValidationRecord {
                round: RoundId::parse("r-2026").expect("id"),
                organisation: OrganisationId::parse("unicef").expect("id"),
                subject: ValidationSubject::Component {
                    component: "5.1".to_owned(),
                    stage: Stage::parse(4).expect("stage"),
                    evidence_reviewed: vec!["Evaluation 2024".to_owned(), "Ms Rao".to_owned()],
                },
                note: "one stage lower: no evaluation".to_owned(),
                validator: validator.clone(),
                at: Timestamp::from_millis(7),
            },
            ValidationRecord {
                round: RoundId::parse("r-2026").expect("id"),
                organisation: OrganisationId::parse("unicef").expect("id"),
                subject: ValidationSubject::Status(ValidationStatus::Validated),
                note: "signed off".to_owned(),
                validator,
                at: Timestamp::from_millis(8),
            },
        ];
        for record in records {
            let bytes = encode(&ValidationRecordRecord::from(&record));
            let text = String::from_utf8(bytes.clone()).expect("utf-8");
            assert!(text.starts_with(r#"{"v":2,"#), "{text}");
            assert_eq!(validation_back(&bytes).expect("reads back"), record);
        }
        for broken in [
            br#"{"v":3,"round":"r","organisation":"o","kind":"component","component":"1.1","stage":2,"note":"","validator":"system","at":1}"#.as_slice(),
            br#"{"v":2,"round":"r","organisation":"o","kind":"component","component":"1.1","stage":7,"note":"","validator":"system","at":1}"#,
            br#"{"v":2,"round":"r","organisation":"o","kind":"status","status":"done","note":"","validator":"system","at":1}"#,
            br#"{"v":2,"round":"r","organisation":"o","kind":"other","note":"","validator":"system","at":1}"#,
        ] {
            assert!(
                matches!(validation_back(broken), Err(StoreError::Corrupt(_))),
                "{}",
                String::from_utf8_lossy(broken)
            );
        }
    }

    #[test]
    fn validation_audit_actions_round_trip() {
        for action in [
            AuditAction::ComponentValidated {
                organisation: OrganisationId::parse("unicef").expect("id"),
                component: "2.3".to_owned(),
                stage: Stage::parse(2).expect("stage"),
            },
            AuditAction::ValidationStatusChanged {
                organisation: OrganisationId::parse("unicef").expect("id"),
                from: ValidationStatus::InValidation,
                to: ValidationStatus::Validated,
            },
            AuditAction::LinksRevoked {
                response: ResponseKey::parse("r-2026/unicef/jiu-rbm-outcomes@1/~p-ben")
                    .expect("key"),
                person: PersonId::parse("p-ben").expect("id"),
                count: 2,
            },
        ] {
            let entry = AuditEntry {
                round: RoundId::parse("r-2026").expect("id"),
                at: Timestamp::from_millis(5),
                actor: Actor::Token(TokenId::parse("t-jiu").expect("id")),
                action,
            };
            let bytes = encode(&AuditRecord::from(&entry));
            let record: AuditRecord = decode("audit entry", &bytes).expect("json");
            assert_eq!(AuditEntry::try_from(record).expect("reads back"), entry);
        }
    }
}

// --- real-time learning ------------------------------------------------------------------

/// A stored theme tag.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ThemeTagRecord {
    response: String,
    question: String,
    themes: Vec<String>,
}

/// A stored facilitator-added question of an activity.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AddedQuestionRecord {
    id: String,
    text: String,
    added_at: i64,
}

/// A stored learning activity. `added` came later: a record without it reads as an
/// activity without added questions.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ActivityRecord {
    v: u16,
    round: String,
    kind: String,
    intervention: String,
    facilitator: String,
    participant_roles: std::collections::BTreeMap<String, String>,
    period: String,
    concept_note: std::collections::BTreeMap<String, String>,
    previous: Option<String>,
    cycle: u32,
    themes: Vec<ThemeTagRecord>,
    report: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    added: Vec<AddedQuestionRecord>,
    created_at: i64,
}

impl From<&Activity> for ActivityRecord {
    fn from(a: &Activity) -> Self {
        Self {
            v: VERSION,
            round: a.round.to_string(),
            kind: a.kind.as_str().to_owned(),
            intervention: a.intervention.clone(),
            facilitator: a.facilitator.to_string(),
            participant_roles: a
                .participant_roles
                .iter()
                .map(|(p, r)| (p.to_string(), r.clone()))
                .collect(),
            period: a.period.clone(),
            concept_note: a.concept_note.clone(),
            previous: a.previous.as_ref().map(ToString::to_string),
            cycle: a.cycle,
            themes: a
                .themes
                .iter()
                .map(|t| ThemeTagRecord {
                    response: t.response.id().to_string(),
                    question: t.question.clone(),
                    themes: t.themes.clone(),
                })
                .collect(),
            report: a.report.clone(),
            added: a
                .added
                .iter()
                .map(|q| AddedQuestionRecord {
                    id: q.id.to_string(),
                    text: q.text.clone(),
                    added_at: q.added_at.millis(),
                })
                .collect(),
            created_at: a.created_at.millis(),
        }
    }
}

impl TryFrom<ActivityRecord> for Activity {
    type Error = StoreError;
    fn try_from(r: ActivityRecord) -> Result<Self, StoreError> {
        check_version("activity", r.v)?;
        let mut themes = Vec::with_capacity(r.themes.len());
        for t in r.themes {
            themes.push(ThemeTag {
                response: ResponseKey::parse(&t.response)
                    .ok_or_else(|| corrupt("response id", &t.response))?,
                question: t.question,
                themes: t.themes,
            });
        }
        Ok(Self {
            round: parse("round id", RoundId::parse(&r.round))?,
            kind: ActivityKind::parse(&r.kind).ok_or_else(|| corrupt("activity kind", &r.kind))?,
            intervention: r.intervention,
            facilitator: parse("person id", PersonId::parse(&r.facilitator))?,
            participant_roles: r
                .participant_roles
                .into_iter()
                .map(|(p, role)| Ok((parse("person id", PersonId::parse(&p))?, role)))
                .collect::<Result<_, StoreError>>()?,
            period: r.period,
            concept_note: r.concept_note,
            previous: r
                .previous
                .map(|p| parse("round id", RoundId::parse(&p)))
                .transpose()?,
            cycle: r.cycle,
            themes,
            report: r.report,
            added: r
                .added
                .into_iter()
                .map(|q| {
                    Ok(AddedQuestion {
                        id: parse("question id", QuestionId::parse(&q.id))?,
                        text: q.text,
                        added_at: Timestamp::from_millis(q.added_at),
                    })
                })
                .collect::<Result<_, StoreError>>()?,
            created_at: Timestamp::from_millis(r.created_at),
        })
    }
}

/// A stored follow-up action. `link` is `activity`, `component:<id>` or `pillar:<id>`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ActionRecord {
    v: u16,
    id: String,
    round: String,
    organisation: String,
    link: String,
    text: String,
    owner: String,
    due: i64,
    status: String,
    priority: bool,
    created_at: i64,
    updated_at: i64,
}

impl From<&Action> for ActionRecord {
    fn from(a: &Action) -> Self {
        Self {
            v: VERSION,
            id: a.id.to_string(),
            round: a.round.to_string(),
            organisation: a.organisation.to_string(),
            link: match &a.link {
                ActionLink::Activity => "activity".to_owned(),
                ActionLink::Component(c) => format!("component:{c}"),
                ActionLink::Pillar(p) => format!("pillar:{p}"),
            },
            text: a.text.clone(),
            owner: a.owner.to_string(),
            due: a.due.millis(),
            status: a.status.as_str().to_owned(),
            priority: a.priority,
            created_at: a.created_at.millis(),
            updated_at: a.updated_at.millis(),
        }
    }
}

impl TryFrom<ActionRecord> for Action {
    type Error = StoreError;
    fn try_from(r: ActionRecord) -> Result<Self, StoreError> {
        check_version("action", r.v)?;
        let link = match r.link.split_once(':') {
            None if r.link == "activity" => ActionLink::Activity,
            Some(("component", c)) => ActionLink::Component(c.to_owned()),
            Some(("pillar", p)) => ActionLink::Pillar(p.to_owned()),
            _ => return Err(corrupt("action link", &r.link)),
        };
        Ok(Self {
            id: parse("action id", ActionId::parse(&r.id))?,
            round: parse("round id", RoundId::parse(&r.round))?,
            organisation: parse("organisation id", OrganisationId::parse(&r.organisation))?,
            link,
            text: r.text,
            owner: parse("person id", PersonId::parse(&r.owner))?,
            due: Timestamp::from_millis(r.due),
            status: ActionStatus::parse(&r.status)
                .ok_or_else(|| corrupt("action status", &r.status))?,
            priority: r.priority,
            created_at: Timestamp::from_millis(r.created_at),
            updated_at: Timestamp::from_millis(r.updated_at),
        })
    }
}

/// A stored action reminder mark.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ActionReminderMarkRecord {
    v: u16,
    round: String,
    action: String,
    kind: String,
    owner: String,
    claimed_at: i64,
    holder: String,
}

impl From<&ActionReminderMark> for ActionReminderMarkRecord {
    fn from(m: &ActionReminderMark) -> Self {
        Self {
            v: VERSION,
            round: m.round.to_string(),
            action: m.action.to_string(),
            kind: m.kind.as_str().to_owned(),
            owner: m.owner.to_string(),
            claimed_at: m.claimed_at.millis(),
            holder: m.holder.clone(),
        }
    }
}

impl TryFrom<ActionReminderMarkRecord> for ActionReminderMark {
    type Error = StoreError;
    fn try_from(r: ActionReminderMarkRecord) -> Result<Self, StoreError> {
        check_version("action reminder mark", r.v)?;
        Ok(Self {
            round: parse("round id", RoundId::parse(&r.round))?,
            action: parse("action id", ActionId::parse(&r.action))?,
            kind: ActionReminderKind::parse(&r.kind)
                .ok_or_else(|| corrupt("action reminder kind", &r.kind))?,
            owner: parse("person id", PersonId::parse(&r.owner))?,
            claimed_at: Timestamp::from_millis(r.claimed_at),
            holder: r.holder,
        })
    }
}

#[cfg(test)]
mod learning_tests {
    use super::*;

    /// An activity written before added questions existed still reads, with none; one
    /// with added questions reads back whole.
    #[test]
    fn activity_records_with_and_without_added_questions() {
        let old = br#"{"v":1,"round":"aar-1","kind":"after-action-review","intervention":"Flood",
            "facilitator":"p-fac","participant_roles":{"p-ana":"Field officer"},"period":"March",
            "concept_note":{},"previous":null,"cycle":1,"themes":[],"report":{},"created_at":7}"#;
        let record: ActivityRecord = decode("activity", old).expect("old record decodes");
        let activity = Activity::try_from(record).expect("old record reads");
        assert!(activity.added.is_empty());
        assert_eq!(activity.period, "March");

        let mut changed = activity.clone();
        changed
            .add_question("Did the hotline work?", Timestamp::from_millis(9))
            .expect("added");
        let bytes = encode(&ActivityRecord::from(&changed));
        let back = Activity::try_from(decode::<ActivityRecord>("activity", &bytes).expect("json"))
            .expect("reads back");
        assert_eq!(back, changed);

        let corrupt = String::from_utf8(bytes)
            .expect("utf-8")
            .replace("added/1", "Added 1");
        let record: ActivityRecord = decode("activity", corrupt.as_bytes()).expect("json");
        assert!(
            Activity::try_from(record).is_err(),
            "a bad question id is corrupt"
        );
    }
}
