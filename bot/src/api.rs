//! The only code that speaks to the Stagewise server. Handlers depend on the [`Backend`]
//! trait; [`graphql::GraphqlBackend`] implements it over HTTP with the operations in
//! `api/graphql.rs`, written against `server/schema.graphql` (the only contract between
//! bot and server: no Rust type is shared with the server).
//!
//! Every call names the Telegram chat it acts for; the server decides what that chat may
//! do. Errors arrive as [`ApiError`], built from the GraphQL `extensions.code`, and the
//! handlers turn them into texts.

pub mod graphql;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// Why a call to the server failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// The server could not be reached, or asked to retry: nothing was changed that the
    /// person must know about; they try again.
    #[error("the server is unavailable")]
    Unavailable,
    /// The chat is not linked to a person (`FORBIDDEN` for the bot).
    #[error("the chat is not linked")]
    NotLinked,
    /// What was asked for does not exist (`NOT_FOUND`).
    #[error("not found: {0}")]
    NotFound(String),
    /// The request conflicts with the response's state (`CONFLICT`), e.g. a submitted
    /// response, or required questions still missing (listed in `details`).
    #[error("conflict: {message}")]
    Conflict {
        /// The server's message.
        message: String,
        /// `extensions.details`, e.g. unanswered question ids.
        details: Vec<String>,
    },
    /// The input was refused (`BAD_USER_INPUT`), with the problems in `details`.
    #[error("refused: {message}")]
    BadInput {
        /// The server's message.
        message: String,
        /// `extensions.details`.
        details: Vec<String>,
    },
    /// Anything else: a bug on one side, or a bad bot token.
    #[error("unexpected answer from the server: {0}")]
    Unexpected(String),
}

/// Result of a backend call.
pub type ApiResult<T> = Result<T, ApiError>;

/// A response the person answers: the server's `ResponseRefInput`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Target {
    /// The round.
    pub round_id: String,
    /// The organisation.
    pub organisation_id: String,
    /// The instrument, `id@version`.
    pub instrument: String,
    /// The respondent of a per-person response; absent for a consolidated one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub person_id: Option<String>,
}

impl Target {
    /// The instrument id and version.
    pub fn instrument_parts(&self) -> (&str, u32) {
        match self.instrument.rsplit_once('@') {
            Some((id, version)) => (id, version.parse().unwrap_or(1)),
            None => (&self.instrument, 1),
        }
    }

    /// Whether this is a stage questionnaire (components, stages).
    pub fn is_stage_questionnaire(&self) -> bool {
        self.instrument_parts().0 == "jiu-rbm-stages"
    }
}

/// The person a linked chat acts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Me {
    /// The person's id.
    pub person_id: String,
    /// The person's name.
    pub name: String,
    /// What they answer in open rounds.
    pub responses: Vec<Assigned>,
}

/// A response assigned to the person, with its progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assigned {
    /// Which response.
    pub target: Target,
    /// The round's title.
    pub round_title: String,
    /// The instrument's title.
    pub instrument_title: String,
    /// Whether it was submitted.
    pub submitted: bool,
    /// Required questions answered.
    pub answered: u32,
    /// Required questions.
    pub total: u32,
    /// Per pillar (stage questionnaire): number, name, answered, total.
    pub pillars: Vec<PillarCount>,
}

/// Required questions of one pillar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PillarCount {
    /// The pillar's number.
    pub number: u32,
    /// The pillar's name.
    pub name: String,
    /// Answered.
    pub answered: u32,
    /// Required.
    pub total: u32,
}

/// Where the person continues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Next {
    /// The question id.
    pub question_id: String,
    /// Its position in the instrument, from 1.
    pub position: u32,
    /// Questions in the instrument.
    pub total: u32,
    /// Required questions still unanswered.
    pub required_remaining: u32,
}

/// What kind of answer a question takes (the server's `QuestionType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum QuestionKind {
    /// A stage 1–5.
    Stage,
    /// A rating on a scale.
    Rating,
    /// One line.
    ShortText,
    /// Paragraphs.
    LongText,
    /// A date.
    Date,
    /// Lines.
    TextList,
    /// Evidence lines or documents.
    Evidence,
    /// The organisation's own activities, named and rated.
    OtherActivities,
}

/// A point of a rating scale.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ScalePoint {
    /// The value.
    pub value: u8,
    /// What it means.
    pub label: String,
}

/// A stage descriptor of a component.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct StageText {
    /// 1 to 5.
    pub stage: u8,
    /// The title.
    pub title: String,
    /// The descriptor.
    pub text: String,
}

/// A driver of the stages, as guidance.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DriverText {
    /// The name.
    pub name: String,
    /// The key question.
    pub key_question: String,
}

/// A component of the stage questionnaire, as a question shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentView {
    /// `2.3`.
    pub id: String,
    /// The name.
    pub name: String,
    /// The description.
    pub description: String,
    /// The output quality.
    pub output_quality: String,
    /// The performance indicators.
    pub indicators: Vec<String>,
    /// The five stage descriptors.
    pub stages: Vec<StageText>,
    /// The drivers that list the component.
    pub drivers: Vec<DriverText>,
    /// The number of Q.2 activities.
    pub activities: usize,
}

/// Everything the bot shows to ask one question (immutable per round and instrument
/// version, so it may be cached).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuestionView {
    /// The question id.
    pub id: String,
    /// The answer it takes.
    pub kind: QuestionKind,
    /// Whether it must be answered before submitting.
    pub required: bool,
    /// The number as printed (`1.2`, an activity's number), if any.
    pub number: Option<String>,
    /// The question.
    pub text: String,
    /// The group's heading (Q.1, Q.2, section title).
    pub heading: Option<String>,
    /// Further texts the source prints with it (the warning not to average).
    pub guidance: Vec<String>,
    /// The label of the answer field, for questionnaire items with several.
    pub field_label: Option<String>,
    /// The rating scale, for ratings and other activities.
    pub scale: Vec<ScalePoint>,
    /// The component, for the stage questionnaire.
    pub component: Option<ComponentView>,
}

/// One evidence line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Evidence {
    /// `DOCUMENT` or `PERSON`.
    pub kind: EvidenceKind,
    /// Title, reference or name.
    pub text: String,
    /// An uploaded file.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub file: Option<FileRef>,
}

/// What an evidence line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EvidenceKind {
    /// A document.
    Document,
    /// A person's name (weak evidence).
    Person,
}

/// A file uploaded through Telegram, as an evidence reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileRef {
    /// The file name as sent.
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
    /// Telegram's file id.
    pub telegram_file_id: String,
}

/// An activity the organisation named and rated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedActivity {
    /// The activity.
    pub name: String,
    /// Its rating.
    pub rating: u8,
}

/// An answer's value; serialises as the server's `AnswerValueInput` (one field set).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Value {
    /// A stage 1–5.
    Stage(u8),
    /// A rating.
    Rating(u8),
    /// A text.
    Text(String),
    /// Lines.
    Lines(Vec<String>),
    /// A date, `YYYY-MM-DD`.
    Date(String),
    /// Evidence lines.
    Evidence(Vec<Evidence>),
    /// Named and rated activities.
    Activities(Vec<NamedActivity>),
}

/// Through which channel an answer came.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Channel {
    /// This bot.
    Telegram,
    /// The web form.
    Web,
    /// The GraphQL API.
    Graphql,
    /// An import.
    Import,
}

/// A current answer with its provenance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerView {
    /// The question.
    pub question_id: String,
    /// The value.
    pub value: Value,
    /// The event that set it.
    pub seq: u64,
    /// Through which channel.
    pub channel: Channel,
}

/// A response as the bot reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseView {
    /// Whether it was submitted.
    pub submitted: bool,
    /// The seq of its last event.
    pub last_seq: u64,
    /// Current answers (all, or the one asked for).
    pub answers: Vec<AnswerView>,
    /// Required questions still unanswered, in order.
    pub missing_required: Vec<String>,
}

/// One answer to save.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AnswerInput {
    /// The question.
    pub question_id: String,
    /// The value.
    pub value: Value,
}

/// What a save recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Saved {
    /// The response's last seq after the save.
    pub seq: u64,
    /// Where the respondent continues after the (first) question saved.
    pub next: Option<Next>,
}

/// A message the server's reminder scheduler queued for a linked chat (the server's
/// `TelegramNotice`): the bot words it, sends it, and acknowledges it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// Acknowledge with this id once sent.
    pub id: String,
    /// The chat to send it to.
    pub chat_id: i64,
    /// The person's name.
    pub person_name: String,
    /// The round's title.
    pub round_title: String,
    /// When answering is due (RFC 3339), if a deadline is set.
    pub deadline: Option<String>,
    /// Days before the deadline.
    pub days_before: u32,
    /// The responses still open.
    pub responses: Vec<NoticeResponse>,
}

/// One open response a reminder names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeResponse {
    /// The instrument's title.
    pub instrument_title: String,
    /// The organisation's name.
    pub organisation_name: String,
    /// Required questions answered.
    pub answered: u32,
    /// Required questions.
    pub total: u32,
}

/// Everything the bot asks of the server, for the chat named in each call.
#[async_trait]
pub trait Backend: Send + Sync {
    /// Records that an update is being handled; `false` when it was seen before.
    async fn mark_update(&self, update_id: i64) -> ApiResult<bool>;
    /// Links `chat` with a one-time code; returns the person's name.
    async fn link(&self, chat: i64, code: &str) -> ApiResult<String>;
    /// Unlinks `chat`.
    async fn unlink(&self, chat: i64) -> ApiResult<()>;
    /// The person `chat` acts for, with their responses.
    async fn me(&self, chat: i64) -> ApiResult<Me>;
    /// Where to continue; `after` the question just shown.
    async fn next_question(
        &self,
        chat: i64,
        target: &Target,
        after: Option<&str>,
    ) -> ApiResult<Option<Next>>;
    /// How to ask a question.
    async fn question(
        &self,
        chat: i64,
        target: &Target,
        question_id: &str,
    ) -> ApiResult<std::sync::Arc<QuestionView>>;
    /// The response's status and last seq, with only the answer to `question_id` when
    /// given (every answer otherwise).
    async fn response(
        &self,
        chat: i64,
        target: &Target,
        question_id: Option<&str>,
    ) -> ApiResult<ResponseView>;
    /// Saves answers atomically, with an idempotency key; only if the response's last
    /// event is `expected_seq` when given. Returns the response's new last seq and the
    /// question that comes after the first one saved (one request for both).
    async fn save(
        &self,
        chat: i64,
        target: &Target,
        idempotency_key: &str,
        answers: Vec<AnswerInput>,
        expected_seq: Option<u64>,
    ) -> ApiResult<Saved>;
    /// Submits the response.
    async fn submit(&self, chat: i64, target: &Target, idempotency_key: &str) -> ApiResult<()>;
    /// Claims up to `limit` notices that are due (no chat: the bot itself asks); each
    /// must be acknowledged once sent, or it comes back later.
    async fn claim_notices(&self, limit: u32) -> ApiResult<Vec<Notice>>;
    /// Acknowledges a notice sent (or given up on); `false` when it was acknowledged
    /// before.
    async fn ack_notice(&self, id: &str) -> ApiResult<bool>;
}
