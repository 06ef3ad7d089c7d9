//! Answering over GraphQL: save, clear and submit answers; read a response with the
//! provenance of each answer, its history, and where its respondent continues.
//!
//! Transport only: inputs become `RawAnswer`s and response keys, the `answers` service
//! validates and writes, and events are published after the store acknowledged. The
//! channel recorded is derived from who calls: the bot's token means Telegram, any other
//! token means the GraphQL API (the web form writes through its own handler as `web`).

use std::sync::Arc;

use async_graphql::connection::{Connection, Edge, EmptyFields, query};
use async_graphql::{Context, Enum, InputObject, Object, OneofObject, SimpleObject};

use crate::catalogue::{Catalogue, InstrumentRef};
use crate::domain::{
    Actor, AnswerChange, AnswerValue, Channel, EventKind, EvidenceKind, FileRef, IdempotencyKey,
    OrganisationId, PersonId, Respondent, Response, ResponseEvent, ResponseKey, ResponseStatus,
    RoundId, Timestamp,
};
use crate::events::RoundEvent;
use crate::graphql::error::{Code, GqlError};
use crate::graphql::{RequestContext, request};
use crate::service::access::Identity;
use crate::service::answers::{
    self, Questions, RawAnswer, RawEvidence, RawValue, SaveAnswers, SaveError,
};
use crate::store::Receipt;

// --- inputs ----------------------------------------------------------------------------

/// Which response: a round, an organisation, an instrument version, and — for
/// instruments answered by each respondent — the person.
#[derive(Debug, Clone, InputObject)]
pub struct ResponseRefInput {
    /// The round's id, e.g. `jiu-rbm-2026`.
    pub round_id: String,
    /// The organisation's id, e.g. `unicef`.
    pub organisation_id: String,
    /// The instrument and version as `id@version`, e.g. `jiu-rbm-stages@1`.
    pub instrument: String,
    /// The respondent, for per-respondent instruments (the outcome protocol, learning
    /// sets); omit for an organisation's consolidated response.
    pub person_id: Option<String>,
}

impl ResponseRefInput {
    pub(super) fn key(&self) -> Result<ResponseKey, GqlError> {
        Ok(ResponseKey {
            round: RoundId::parse(&self.round_id)?,
            organisation: OrganisationId::parse(&self.organisation_id)?,
            instrument: InstrumentRef::parse(&self.instrument).map_err(GqlError::bad_input)?,
            respondent: match &self.person_id {
                Some(person) => Respondent::Person(PersonId::parse(person)?),
                None => Respondent::Organisation,
            },
        })
    }
}

/// The value of one answer: exactly one of these.
#[derive(Debug, Clone, OneofObject)]
pub enum AnswerValueInput {
    /// A stage of development, 1 to 5.
    Stage(i32),
    /// A rating on the question's scale (Q.2 activities: 1 to 3).
    Rating(i32),
    /// A text (short or long).
    Text(String),
    /// A list of lines.
    Lines(Vec<String>),
    /// A date, `YYYY-MM-DD`.
    Date(String),
    /// Evidence lines: documents, or names of people when nothing is documented.
    Evidence(Vec<EvidenceInput>),
    /// Activities the organisation names and rates itself.
    Activities(Vec<NamedActivityInput>),
}

/// What a piece of evidence is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum EvidenceKindValue {
    /// A document (named, linked or uploaded).
    Document,
    /// The name of a person involved, where nothing is documented (weak evidence).
    Person,
}

/// A file sent as evidence through Telegram.
#[derive(Debug, Clone, InputObject, SimpleObject)]
#[graphql(input_name = "FileInput")]
pub struct FileValue {
    /// The file name as sent.
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
    /// Telegram's file id.
    pub telegram_file_id: String,
}

/// One evidence line.
#[derive(Debug, Clone, InputObject)]
pub struct EvidenceInput {
    /// Document or person.
    pub kind: EvidenceKindValue,
    /// Title, reference or name.
    pub text: String,
    /// The uploaded file, if any.
    pub file: Option<FileValue>,
}

/// An activity the organisation names and rates.
#[derive(Debug, Clone, InputObject)]
pub struct NamedActivityInput {
    /// The activity.
    pub name: String,
    /// Its rating on the question's scale.
    pub rating: i32,
}

/// One answer to save.
#[derive(Debug, Clone, InputObject)]
pub struct AnswerInput {
    /// The question's id, e.g. `2.3/stage` or `part-1/q3`.
    pub question_id: String,
    /// The value.
    pub value: AnswerValueInput,
}

/// Answers to save in one response, atomically.
#[derive(Debug, Clone, InputObject)]
pub struct SaveAnswersInput {
    /// The response.
    pub response: ResponseRefInput,
    /// A key the client makes up per change (e.g. a UUID) and reuses when it retries
    /// the same change: the same key twice records the answers once.
    pub idempotency_key: String,
    /// The answers, applied in order (at most 200).
    pub answers: Vec<AnswerInput>,
    /// When given, the answers are saved only if the response's last event is this
    /// one; otherwise the request fails with CONFLICT (someone else changed it).
    pub expected_seq: Option<u64>,
}

/// A question to clear.
#[derive(Debug, Clone, InputObject)]
pub struct ClearAnswerInput {
    /// The response.
    pub response: ResponseRefInput,
    /// The client's idempotency key for this change.
    pub idempotency_key: String,
    /// The question whose answer is removed.
    pub question_id: String,
}

/// A response to submit.
#[derive(Debug, Clone, InputObject)]
pub struct SubmitResponseInput {
    /// The response.
    pub response: ResponseRefInput,
    /// The client's idempotency key for the submission.
    pub idempotency_key: String,
}

fn raw_value(value: &AnswerValueInput) -> RawValue {
    match value {
        AnswerValueInput::Stage(n) | AnswerValueInput::Rating(n) => RawValue::Number(i64::from(*n)),
        AnswerValueInput::Text(text) | AnswerValueInput::Date(text) => RawValue::Text(text.clone()),
        AnswerValueInput::Lines(lines) => RawValue::Lines(lines.clone()),
        AnswerValueInput::Evidence(items) => RawValue::Evidence(
            items
                .iter()
                .map(|item| RawEvidence {
                    person: item.kind == EvidenceKindValue::Person,
                    text: item.text.clone(),
                    file: item.file.as_ref().map(|f| FileRef {
                        name: f.name.clone(),
                        size: f.size,
                        telegram_file_id: f.telegram_file_id.clone(),
                    }),
                })
                .collect(),
        ),
        AnswerValueInput::Activities(items) => RawValue::Named(
            items
                .iter()
                .map(|a| (a.name.clone(), i64::from(a.rating)))
                .collect(),
        ),
    }
}

// --- outputs ---------------------------------------------------------------------------

/// Whether a response is still being answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(name = "ResponseStatus")]
pub enum ResponseStatusValue {
    /// Answers may change.
    Draft,
    /// Submitted: read-only until an administrator reopens it.
    Submitted,
}

/// Through which channel an answer came.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(name = "AnswerChannel")]
pub enum ChannelValue {
    /// The Telegram bot.
    Telegram,
    /// The web form behind an emailed link.
    Web,
    /// The GraphQL API directly.
    Graphql,
    /// A bulk import.
    Import,
}

impl From<Channel> for ChannelValue {
    fn from(channel: Channel) -> Self {
        match channel {
            Channel::Telegram => Self::Telegram,
            Channel::Web => Self::Web,
            Channel::Graphql => Self::Graphql,
            Channel::Import => Self::Import,
        }
    }
}

/// Who did something: a person, an API token, or Stagewise itself.
#[derive(Debug, Clone, SimpleObject)]
pub struct ResponseActor {
    /// `PERSON`, `TOKEN` or `SYSTEM`.
    pub kind: ActorKind,
    /// The person's or token's id; empty for the system.
    pub id: String,
}

/// The kinds of actor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum ActorKind {
    /// A person (through Telegram, a link, or a token acting for them).
    Person,
    /// An API token not tied to a person.
    Token,
    /// Stagewise itself.
    System,
}

impl From<&Actor> for ResponseActor {
    fn from(actor: &Actor) -> Self {
        match actor {
            Actor::Person(id) => Self {
                kind: ActorKind::Person,
                id: id.to_string(),
            },
            Actor::Token(id) => Self {
                kind: ActorKind::Token,
                id: id.to_string(),
            },
            Actor::System => Self {
                kind: ActorKind::System,
                id: String::new(),
            },
        }
    }
}

/// One evidence line.
#[derive(Debug, Clone, SimpleObject)]
pub struct EvidenceValue {
    /// Document or person.
    pub kind: EvidenceKindValue,
    /// Title, reference or name.
    pub text: String,
    /// The uploaded file, if any.
    pub file: Option<FileValue>,
}

/// An activity the organisation named and rated.
#[derive(Debug, Clone, SimpleObject)]
pub struct NamedActivityValue {
    /// The activity.
    pub name: String,
    /// Its rating.
    pub rating: i32,
}

/// An answer's value: exactly one field is set, by the question's type.
#[derive(Debug, Clone, Default, SimpleObject)]
pub struct AnswerValueObject {
    /// A stage of development, 1 to 5.
    pub stage: Option<i32>,
    /// A rating.
    pub rating: Option<i32>,
    /// A text.
    pub text: Option<String>,
    /// A list of lines.
    pub lines: Option<Vec<String>>,
    /// A date, `YYYY-MM-DD`.
    pub date: Option<String>,
    /// Evidence lines.
    pub evidence: Option<Vec<EvidenceValue>>,
    /// Named and rated activities.
    pub activities: Option<Vec<NamedActivityValue>>,
}

impl From<&AnswerValue> for AnswerValueObject {
    fn from(value: &AnswerValue) -> Self {
        match value {
            AnswerValue::Stage(s) => Self {
                stage: Some(i32::from(s.get())),
                ..Self::default()
            },
            AnswerValue::Rating(r) => Self {
                rating: Some(i32::from(r.get())),
                ..Self::default()
            },
            AnswerValue::Text(t) => Self {
                text: Some(t.clone()),
                ..Self::default()
            },
            AnswerValue::TextList(l) => Self {
                lines: Some(l.clone()),
                ..Self::default()
            },
            AnswerValue::Date(d) => Self {
                date: Some(d.as_str().to_owned()),
                ..Self::default()
            },
            AnswerValue::Evidence(items) => Self {
                evidence: Some(
                    items
                        .iter()
                        .map(|i| EvidenceValue {
                            kind: match i.kind {
                                EvidenceKind::Document => EvidenceKindValue::Document,
                                EvidenceKind::Person => EvidenceKindValue::Person,
                            },
                            text: i.text.clone(),
                            file: i.file.as_ref().map(|f| FileValue {
                                name: f.name.clone(),
                                size: f.size,
                                telegram_file_id: f.telegram_file_id.clone(),
                            }),
                        })
                        .collect(),
                ),
                ..Self::default()
            },
            AnswerValue::OtherActivities(items) => Self {
                activities: Some(
                    items
                        .iter()
                        .map(|n| NamedActivityValue {
                            name: n.name.clone(),
                            rating: i32::from(n.rating.get()),
                        })
                        .collect(),
                ),
                ..Self::default()
            },
        }
    }
}

/// The current answer to a question, with its provenance.
#[derive(Debug, Clone, SimpleObject)]
pub struct AnswerObject {
    /// The question.
    pub question_id: String,
    /// The value.
    pub value: AnswerValueObject,
    /// The event that set it (its position in the response's history).
    pub seq: u64,
    /// Who gave it.
    pub actor: ResponseActor,
    /// Through which channel.
    pub channel: ChannelValue,
    /// When, RFC 3339.
    pub at: String,
}

/// What an event of a response's history records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum ResponseEventKind {
    /// An answer was set or replaced.
    AnswerSet,
    /// An answer was cleared.
    AnswerCleared,
    /// The response was submitted.
    Submitted,
    /// A submitted response was reopened.
    Reopened,
}

/// One entry of a response's history.
#[derive(Debug, Clone, SimpleObject)]
#[graphql(name = "ResponseEvent")]
pub struct ResponseEventObject {
    /// Position in the history, from 1, without gaps.
    pub seq: u64,
    /// What happened.
    pub kind: ResponseEventKind,
    /// The question, for answer events.
    pub question_id: Option<String>,
    /// The value set, for `ANSWER_SET`.
    pub value: Option<AnswerValueObject>,
    /// Why it was reopened, for `REOPENED`.
    pub reason: Option<String>,
    /// Who did it.
    pub actor: ResponseActor,
    /// Through which channel.
    pub channel: ChannelValue,
    /// When, RFC 3339.
    pub at: String,
}

impl From<&ResponseEvent> for ResponseEventObject {
    fn from(event: &ResponseEvent) -> Self {
        let (kind, question_id, value, reason) = match &event.kind {
            EventKind::Answer {
                question,
                change: AnswerChange::Set(value),
            } => (
                ResponseEventKind::AnswerSet,
                Some(question.to_string()),
                Some(value.into()),
                None,
            ),
            EventKind::Answer {
                question,
                change: AnswerChange::Clear,
            } => (
                ResponseEventKind::AnswerCleared,
                Some(question.to_string()),
                None,
                None,
            ),
            EventKind::Submitted => (ResponseEventKind::Submitted, None, None, None),
            EventKind::Reopened { reason } => (
                ResponseEventKind::Reopened,
                None,
                None,
                Some(reason.clone()),
            ),
        };
        Self {
            seq: event.seq,
            kind,
            question_id,
            value,
            reason,
            actor: (&event.actor).into(),
            channel: event.channel.into(),
            at: event.at.to_rfc3339(),
        }
    }
}

/// How far a response is.
#[derive(Debug, Clone, SimpleObject)]
pub struct ResponseCompletion {
    /// Questions answered (required or not).
    pub answered: usize,
    /// Questions to answer: the instrument's, and a learning activity's added ones.
    pub total: usize,
    /// Required questions answered.
    pub required_answered: usize,
    /// Required questions in the instrument.
    pub required: usize,
}

/// A response: its status and current answers. A response nobody has answered yet is
/// returned as a draft with no answers.
pub struct ResponseObject {
    catalogue: Arc<Catalogue>,
    key: ResponseKey,
    response: Option<Response>,
}

impl ResponseObject {
    fn answers_of(&self) -> impl Iterator<Item = AnswerObject> + '_ {
        self.response.iter().flat_map(|r| {
            r.answers.iter().map(|(question, answer)| AnswerObject {
                question_id: question.to_string(),
                value: (&answer.value).into(),
                seq: answer.seq,
                actor: (&answer.actor).into(),
                channel: answer.channel.into(),
                at: answer.at.to_rfc3339(),
            })
        })
    }

    fn catalogue_instrument(&self) -> Option<&crate::catalogue::Instrument> {
        self.catalogue
            .get(&self.key.instrument.id, self.key.instrument.version)
    }

    /// The questions the response answers (a learning set's with the activity's added
    /// ones); `None` for an instrument the catalogue does not have.
    async fn questions(&self, ctx: &Context<'_>) -> Result<Option<Questions<'_>>, GqlError> {
        let Some(instrument) = self.catalogue_instrument() else {
            return Ok(None);
        };
        let store = request(ctx)?.state.store.as_ref();
        Ok(Some(
            answers::questions_for(store, instrument, &self.key.round).await?,
        ))
    }
}

/// A response: its status and current answers, each with its provenance. A response
/// nobody has answered yet is a draft with no answers.
#[Object(name = "Response")]
impl ResponseObject {
    /// The response's id: `<round>/<organisation>/<instrument>@<version>[/~<person>]`.
    async fn id(&self) -> String {
        self.key.id().to_string()
    }

    /// The round.
    async fn round_id(&self) -> String {
        self.key.round.to_string()
    }

    /// The organisation.
    async fn organisation_id(&self) -> String {
        self.key.organisation.to_string()
    }

    /// The instrument and version answered, `id@version`.
    async fn instrument(&self) -> String {
        self.key.instrument.to_string()
    }

    /// The respondent, for per-respondent instruments; null for an organisation's
    /// consolidated response.
    async fn person_id(&self) -> Option<String> {
        match &self.key.respondent {
            Respondent::Person(person) => Some(person.to_string()),
            Respondent::Organisation => None,
        }
    }

    /// Draft or submitted.
    async fn status(&self) -> ResponseStatusValue {
        match self.response.as_ref().map(|r| r.meta.status) {
            Some(ResponseStatus::Submitted) => ResponseStatusValue::Submitted,
            _ => ResponseStatusValue::Draft,
        }
    }

    /// The seq of the last event (0 before the first answer); pass it as `expectedSeq`
    /// to save only if nobody changed the response meanwhile.
    async fn last_seq(&self) -> u64 {
        self.response.as_ref().map_or(0, |r| r.meta.last_seq)
    }

    /// When it last changed, RFC 3339; null before the first answer.
    async fn updated_at(&self) -> Option<String> {
        self.response
            .as_ref()
            .and_then(|r| r.updated_at)
            .map(Timestamp::to_rfc3339)
    }

    /// The current answers, by question id, each with who gave it, when and through
    /// which channel.
    async fn answers(&self) -> Vec<AnswerObject> {
        self.answers_of().collect()
    }

    /// The current answer to one question, or null.
    async fn answer(&self, question_id: String) -> Option<AnswerObject> {
        self.answers_of().find(|a| a.question_id == question_id)
    }

    /// The required questions still unanswered, in instrument order; submission waits
    /// for these.
    async fn missing_required(&self) -> Vec<String> {
        self.catalogue_instrument()
            .map(|i| answers::missing_required(i, self.response.as_ref()))
            .unwrap_or_default()
    }

    /// Where the respondent continues, as `Query.nextQuestion` says; handy in a
    /// mutation's payload to save and learn the next question in one request.
    async fn next_question(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "The question just shown (e.g. answered or skipped): the next unanswered question after it; without it, the first unanswered required question, else the first unanswered one."
        )]
        after: Option<String>,
    ) -> async_graphql::Result<Option<NextQuestion>> {
        let Some(questions) = self.questions(ctx).await? else {
            return Ok(None);
        };
        Ok(next_of(
            &questions,
            self.response.as_ref(),
            after.as_deref(),
        )?)
    }

    /// Answered and required counts, over the instrument's questions and, for a
    /// learning activity, the facilitator's added ones.
    async fn progress(&self, ctx: &Context<'_>) -> async_graphql::Result<ResponseCompletion> {
        let Some(questions) = self.questions(ctx).await? else {
            return Ok(ResponseCompletion {
                answered: 0,
                total: 0,
                required_answered: 0,
                required: 0,
            });
        };
        let instrument = questions.instrument();
        let required = instrument.questions().iter().filter(|q| q.required).count();
        let missing = answers::missing_required(instrument, self.response.as_ref()).len();
        let answered = self.response.as_ref().map_or(0, |r| {
            questions
                .all()
                .iter()
                .filter(|q| r.answers.keys().any(|id| id.as_str() == q.id))
                .count()
        });
        Ok(ResponseCompletion {
            answered,
            total: questions.all().len(),
            required_answered: required - missing,
            required,
        })
    }
}

/// Where a respondent continues.
#[derive(Debug, Clone, SimpleObject)]
pub struct NextQuestion {
    /// The question to ask; render it with `question(instrumentId, version, questionId, response:)` (a learning activity's added question, `added/<n>`, needs the response).
    pub question_id: String,
    /// Whether it must be answered before submitting.
    pub required: bool,
    /// Its position among the questions to ask, from 1.
    pub position: usize,
    /// Questions to ask: the instrument's, and a learning activity's added ones.
    pub total: usize,
    /// Required questions still unanswered.
    pub required_remaining: usize,
}

/// Where the respondent of `response` continues (see `Query.nextQuestion`).
fn next_of(
    questions: &Questions<'_>,
    response: Option<&Response>,
    after: Option<&str>,
) -> Result<Option<NextQuestion>, GqlError> {
    if let Some(after) = after
        && questions.get(after).is_none()
    {
        return Err(GqlError::bad_input(format!(
            "`{}` is not a question of this instrument",
            after.chars().take(100).collect::<String>()
        )));
    }
    let required_remaining = answers::missing_required(questions.instrument(), response).len();
    Ok(
        answers::next_question(questions, response, after).map(|q| NextQuestion {
            question_id: q.id.clone(),
            required: q.required,
            position: questions
                .all()
                .iter()
                .position(|other| other.id == q.id)
                .map_or(0, |p| p + 1),
            total: questions.all().len(),
            required_remaining,
        }),
    )
}

/// What a change recorded.
pub struct ResponsePayload {
    catalogue: Arc<Catalogue>,
    key: ResponseKey,
    /// Converted for GraphQL only when `events` is asked for.
    events: Vec<ResponseEvent>,
    replayed: bool,
}

/// What a change recorded.
#[Object]
impl ResponsePayload {
    /// The response after the change (read when asked for).
    async fn response(&self, ctx: &Context<'_>) -> async_graphql::Result<ResponseObject> {
        let request = request(ctx)?;
        let response = request
            .state
            .store
            .response(&self.key)
            .await
            .map_err(GqlError::from)?;
        Ok(ResponseObject {
            catalogue: Arc::clone(&self.catalogue),
            key: self.key.clone(),
            response,
        })
    }

    /// The events recorded (the same events again when the idempotency key was used
    /// before).
    async fn events(&self) -> Vec<ResponseEventObject> {
        self.events.iter().map(Into::into).collect()
    }

    /// Whether this key had been used before, so nothing new was recorded.
    async fn replayed(&self) -> bool {
        self.replayed
    }
}

// --- resolvers -------------------------------------------------------------------------

fn channel_of(identity: &Identity) -> Channel {
    match identity {
        Identity::Bot { .. } => Channel::Telegram,
        _ => Channel::Graphql,
    }
}

async fn load(request: &RequestContext, key: ResponseKey) -> Result<ResponseObject, GqlError> {
    let response = request.state.store.response(&key).await?;
    Ok(ResponseObject {
        catalogue: Arc::clone(&request.state.catalogue),
        key,
        response,
    })
}

/// Publishes what a receipt recorded, then reads the response back.
async fn after_write(
    request: &RequestContext,
    key: ResponseKey,
    receipt: Receipt,
) -> Result<ResponsePayload, GqlError> {
    announce(&request.state, &key, &receipt).await;
    Ok(ResponsePayload {
        catalogue: Arc::clone(&request.state.catalogue),
        key,
        events: receipt.events,
        replayed: receipt.replayed,
    })
}

/// Counts and publishes to `roundEvents` what a receipt recorded (nothing for a
/// replay): answers saved, a submission. Every channel that writes answers calls it
/// after the store acknowledged (GraphQL and the bot here, the web form in `web`).
pub(crate) async fn announce(state: &crate::app::AppState, key: &ResponseKey, receipt: &Receipt) {
    if !receipt.replayed
        && let Some(last) = receipt.events.last()
    {
        let questions: Vec<String> = receipt
            .events
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::Answer { question, .. } => Some(question.to_string()),
                _ => None,
            })
            .collect();
        if !questions.is_empty() {
            state.metrics.answers_saved(last.channel, questions.len());
            state
                .events
                .publish(
                    &key.round,
                    RoundEvent::AnswersSaved {
                        response: key.id(),
                        questions,
                        seq: last.seq,
                        channel: last.channel,
                        at: last.at,
                    },
                )
                .await;
        }
        if matches!(last.kind, EventKind::Submitted) {
            state
                .events
                .publish(
                    &key.round,
                    RoundEvent::ResponseSubmitted {
                        response: key.id(),
                        at: last.at,
                    },
                )
                .await;
        }
    }
}

fn save_error(error: SaveError) -> GqlError {
    match error {
        SaveError::Incomplete(missing) => GqlError::new(
            Code::Conflict,
            format!(
                "{} required question(s) are unanswered; the response was not submitted",
                missing.len()
            ),
        )
        .with_details(missing),
        SaveError::UnknownRound(_) => GqlError::not_found(error.to_string()),
        SaveError::RoundNotOpen { .. } => GqlError::new(Code::Conflict, error.to_string()),
        other => other.into(),
    }
}

/// The response a change is for, and who makes it (access checked).
async fn answerer(
    request: &RequestContext,
    response: &ResponseRefInput,
) -> Result<(ResponseKey, Actor), GqlError> {
    request.identity.require_any()?;
    let key = response.key()?;
    let actor = request
        .identity
        .require_answerer(request.state.store.as_ref(), &key)
        .await?;
    Ok((key, actor))
}

/// Saves or clears answers through the answers service, then publishes and reports.
async fn write_answers(
    request: &RequestContext,
    response: &ResponseRefInput,
    idempotency_key: &str,
    answers: Vec<RawAnswer>,
    expected_seq: Option<u64>,
) -> Result<ResponsePayload, GqlError> {
    let (key, actor) = answerer(request, response).await?;
    let receipt = answers::save(
        request.state.store.as_ref(),
        &request.state.catalogue,
        SaveAnswers {
            key: key.clone(),
            idempotency_key: IdempotencyKey::parse(idempotency_key)?,
            answers,
            expected_seq,
            actor,
            channel: channel_of(&request.identity),
            at: Timestamp::now(),
        },
    )
    .await
    .map_err(save_error)?;
    after_write(request, key, receipt).await
}

/// The answering part of `Query`.
#[derive(Debug, Default)]
pub struct AnsweringQuery;

#[Object]
impl AnsweringQuery {
    /// A response with its answers and their provenance. Readable by administrators,
    /// by the bot for the person who owns it, and by validators of its round.
    async fn response(
        &self,
        ctx: &Context<'_>,
        response: ResponseRefInput,
    ) -> async_graphql::Result<ResponseObject> {
        let request = request(ctx)?;
        request.identity.require_any().map_err(GqlError::from)?;
        let key = response.key()?;
        answers::instrument_for(&request.state.catalogue, &key).map_err(save_error)?;
        request
            .identity
            .require_response_reader(request.state.store.as_ref(), &key)
            .await
            .map_err(GqlError::from)?;
        Ok(load(request, key).await?)
    }

    /// The history of a response: every event in order, oldest first, as a connection
    /// (cursor: the seq).
    async fn response_history(
        &self,
        ctx: &Context<'_>,
        response: ResponseRefInput,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> async_graphql::Result<Connection<u64, ResponseEventObject, EmptyFields, EmptyFields>> {
        let request = request(ctx)?;
        request.identity.require_any().map_err(GqlError::from)?;
        let key = response.key()?;
        answers::instrument_for(&request.state.catalogue, &key).map_err(save_error)?;
        request
            .identity
            .require_response_reader(request.state.store.as_ref(), &key)
            .await
            .map_err(GqlError::from)?;
        let history = request
            .state
            .store
            .history(&key)
            .await
            .map_err(GqlError::from)?;
        query(
            after,
            before,
            first,
            last,
            |after: Option<u64>, before: Option<u64>, first, last| async move {
                let mut window: Vec<&ResponseEvent> = history
                    .iter()
                    .filter(|e| after.is_none_or(|a| e.seq > a))
                    .filter(|e| before.is_none_or(|b| e.seq < b))
                    .collect();
                let total = window.len();
                if let Some(first) = first {
                    window.truncate(first);
                }
                if let Some(last) = last {
                    let skip = window.len().saturating_sub(last);
                    window.drain(..skip);
                }
                let has_previous = window.first().is_some_and(|e| e.seq > 1)
                    && (after.is_some() || last.is_some_and(|l| l < total));
                let has_next = window
                    .last()
                    .is_some_and(|e| e.seq < history.last().map_or(0, |l| l.seq));
                let mut connection = Connection::new(has_previous, has_next);
                connection
                    .edges
                    .extend(window.into_iter().map(|e| Edge::new(e.seq, e.into())));
                Ok::<_, async_graphql::Error>(connection)
            },
        )
        .await
    }

    /// Where the respondent continues: after `after` (the question just shown, e.g.
    /// skipped), the next unanswered question in order; without it, the first
    /// unanswered required question, else the first unanswered one. Null when every
    /// question is answered.
    async fn next_question(
        &self,
        ctx: &Context<'_>,
        response: ResponseRefInput,
        after: Option<String>,
    ) -> async_graphql::Result<Option<NextQuestion>> {
        let request = request(ctx)?;
        request.identity.require_any().map_err(GqlError::from)?;
        let key = response.key()?;
        let instrument =
            answers::instrument_for(&request.state.catalogue, &key).map_err(save_error)?;
        request
            .identity
            .require_response_reader(request.state.store.as_ref(), &key)
            .await
            .map_err(GqlError::from)?;
        let current = request
            .state
            .store
            .response(&key)
            .await
            .map_err(GqlError::from)?;
        let questions =
            answers::questions_for(request.state.store.as_ref(), instrument, &key.round)
                .await
                .map_err(GqlError::from)?;
        Ok(next_of(&questions, current.as_ref(), after.as_deref())?)
    }
}

/// The answering part of `Mutation`.
#[derive(Debug, Default)]
pub struct AnsweringMutation;

#[Object]
impl AnsweringMutation {
    /// Saves several answers to one response atomically. Every answer is checked against
    /// the instrument version first; if any is invalid nothing is saved and each problem
    /// is listed in `extensions.details`. Administrators, and the bot for the person who
    /// owns the response, may save.
    async fn save_answers(
        &self,
        ctx: &Context<'_>,
        input: SaveAnswersInput,
    ) -> async_graphql::Result<ResponsePayload> {
        let answers = input
            .answers
            .iter()
            .map(|a| RawAnswer {
                question: a.question_id.clone(),
                value: Some(raw_value(&a.value)),
            })
            .collect();
        Ok(write_answers(
            request(ctx)?,
            &input.response,
            &input.idempotency_key,
            answers,
            input.expected_seq,
        )
        .await?)
    }

    /// Removes the answer to one question (recorded in the history as cleared).
    async fn clear_answer(
        &self,
        ctx: &Context<'_>,
        input: ClearAnswerInput,
    ) -> async_graphql::Result<ResponsePayload> {
        let cleared = vec![RawAnswer {
            question: input.question_id.clone(),
            value: None,
        }];
        Ok(write_answers(
            request(ctx)?,
            &input.response,
            &input.idempotency_key,
            cleared,
            None,
        )
        .await?)
    }

    /// Submits a response. Refused with CONFLICT while required questions are
    /// unanswered; their ids are listed in `extensions.details`.
    async fn submit_response(
        &self,
        ctx: &Context<'_>,
        input: SubmitResponseInput,
    ) -> async_graphql::Result<ResponsePayload> {
        let request = request(ctx)?;
        let (key, actor) = answerer(request, &input.response).await?;
        let receipt = answers::submit(
            request.state.store.as_ref(),
            &request.state.catalogue,
            &key,
            IdempotencyKey::parse(&input.idempotency_key).map_err(GqlError::from)?,
            actor,
            channel_of(&request.identity),
            Timestamp::now(),
        )
        .await
        .map_err(save_error)?;
        Ok(after_write(request, key, receipt).await?)
    }
}
