//! [`Backend`] over the server's GraphQL endpoint: plain JSON documents written against
//! `server/schema.graphql`, the bot's API token as bearer, and the chat in header
//! `X-Stagewise-Telegram-Chat`. Question texts are asked for the response being answered,
//! so placeholders take its round's values (a learning activity's period), and cached
//! per round, instrument version and question (a published version never changes, nor
//! does a round's period, nor an activity's added question `added/<n>`; keyed by round,
//! two activities' `added/1` are two entries).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value as Json, json};

use super::{
    AnswerInput, AnswerView, ApiError, ApiResult, Assigned, Backend, Channel, ComponentView,
    DriverText, Evidence, Me, NamedActivity, Next, Notice, NoticeResponse, PillarCount,
    QuestionKind, QuestionView, ResponseView, Saved, ScalePoint, StageText, Target, Value,
};

/// The header that names the chat the bot acts for.
pub const CHAT_HEADER: &str = "x-stagewise-telegram-chat";

const MARK: &str = "mutation($id: Int!) { markTelegramUpdate(updateId: $id) }";
const LINK: &str =
    "mutation($code: String!) { linkTelegramChat(input: { code: $code }) { name linked } }";
const UNLINK: &str = "mutation { unlinkTelegramChat { linked } }";
const ME: &str = "{ telegramMe { personId name responses { roundId roundTitle instrumentTitle \
    progress { instrument organisationId personId status answered total \
    pillars { number name answered total } } } } }";
const NEXT: &str = "query($r: ResponseRefInput!, $after: String) { \
    nextQuestion(response: $r, after: $after) { questionId position total requiredRemaining } }";
const QUESTION: &str = "query($i: String!, $v: Int!, $q: String!, $r: ResponseRefInput) { \
    question(instrumentId: $i, version: $v, questionId: $q, response: $r) { id type required \
    prompt { number text heading guidance fieldLabel scale { value label } \
    component { id name description outputQuality indicators { text } \
    stages { stage title text } drivers { name keyQuestion } activities { number } } } } }";
const RESPONSE_ONE: &str = concat!(
    "query($r: ResponseRefInput!, $q: String!) { response(response: $r) ",
    "{ status lastSeq missingRequired answer(questionId: $q) { ",
    "questionId seq channel value { stage rating text lines date ",
    "evidence { kind text file { name size telegramFileId } } activities { name rating } } } } }"
);
const RESPONSE_ALL: &str = concat!(
    "query($r: ResponseRefInput!) { response(response: $r) ",
    "{ status lastSeq missingRequired answers { ",
    "questionId seq channel value { stage rating text lines date ",
    "evidence { kind text file { name size telegramFileId } } activities { name rating } } } } }"
);
const SAVE: &str = "mutation($input: SaveAnswersInput!, $after: String) { \
    saveAnswers(input: $input) { events { seq } \
    response { nextQuestion(after: $after) { questionId position total requiredRemaining } } } }";
const SUBMIT: &str =
    "mutation($input: SubmitResponseInput!) { submitResponse(input: $input) { replayed } }";
const CLAIM_NOTICES: &str = "mutation($limit: Int!) { claimTelegramNotices(limit: $limit) { \
    id chatId personName roundTitle deadline daysBefore \
    responses { instrumentTitle organisationName answered total } } }";
const ACK_NOTICE: &str = "mutation($id: String!) { acknowledgeTelegramNotice(id: $id) }";

/// The GraphQL client of the bot.
pub struct GraphqlBackend {
    client: reqwest::Client,
    endpoint: String,
    token: SecretString,
    /// Question texts by round, instrument version and question.
    questions: Mutex<HashMap<(String, String, String), Arc<QuestionView>>>,
}

impl std::fmt::Debug for GraphqlBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphqlBackend")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl GraphqlBackend {
    /// A client of the server at `base_url` (e.g. `http://127.0.0.1:8080`), with the bot's
    /// API token; each request gives up after `timeout`.
    ///
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn new(base_url: &str, token: SecretString, timeout: Duration) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .pool_max_idle_per_host(64)
            .build()?;
        Ok(Self {
            client,
            endpoint: format!("{}/graphql", base_url.trim_end_matches('/')),
            token,
            questions: Mutex::new(HashMap::new()),
        })
    }

    async fn call<T: DeserializeOwned>(
        &self,
        chat: Option<i64>,
        query: &str,
        variables: Json,
    ) -> ApiResult<T> {
        let mut request = self
            .client
            .post(&self.endpoint)
            .bearer_auth(self.token.expose_secret())
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(chat) = chat {
            request = request.header(CHAT_HEADER, chat.to_string());
        }
        let response = request.send().await.map_err(|error| {
            tracing::warn!(%error, "the server is unreachable");
            ApiError::Unavailable
        })?;
        let status = response.status();
        let Ok(bytes) = response.bytes().await else {
            return Err(ApiError::Unavailable);
        };
        // One pass straight into the expected shape; only a body that does not fit it
        // (an error, or a server that is not ours) is read a second time, loosely.
        if let Ok(Envelope {
            data: Some(data),
            errors: None,
        }) = serde_json::from_slice::<Envelope<T>>(&bytes)
        {
            return Ok(data);
        }
        let body: Envelope<Json> = match serde_json::from_slice(&bytes) {
            Ok(body) => body,
            Err(_) if status.is_server_error() => return Err(ApiError::Unavailable),
            Err(error) => return Err(ApiError::Unexpected(error.to_string())),
        };
        if let Some(error) = body.errors.as_ref().and_then(|e| e.first()) {
            return Err(error_of(error));
        }
        if status.is_server_error() {
            return Err(ApiError::Unavailable);
        }
        serde_json::from_value(body.data.unwrap_or_default())
            .map_err(|e| ApiError::Unexpected(format!("unexpected data: {e}")))
    }
}

/// A GraphQL response body.
#[derive(Deserialize)]
struct Envelope<T> {
    #[serde(default = "none")]
    data: Option<T>,
    #[serde(default)]
    errors: Option<Vec<Json>>,
}

fn none<T>() -> Option<T> {
    None
}

fn error_of(error: &Json) -> ApiError {
    let message = error["message"].as_str().unwrap_or_default().to_owned();
    let details = error["extensions"]["details"]
        .as_array()
        .map(|d| {
            d.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    match error["extensions"]["code"].as_str().unwrap_or_default() {
        "UNAVAILABLE" | "RATE_LIMITED" => ApiError::Unavailable,
        "FORBIDDEN" => ApiError::NotLinked,
        "NOT_FOUND" => ApiError::NotFound(message),
        "CONFLICT" => ApiError::Conflict { message, details },
        "BAD_USER_INPUT" => ApiError::BadInput { message, details },
        code => ApiError::Unexpected(format!("{code}: {message}")),
    }
}

// --- wire shapes of the answers ---------------------------------------------------------

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MarkData {
    mark_telegram_update: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LinkData {
    link_telegram_chat: LinkedWire,
}

#[derive(Deserialize)]
struct LinkedWire {
    name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MeData {
    telegram_me: MeWire,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MeWire {
    person_id: String,
    name: String,
    responses: Vec<AssignedWire>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AssignedWire {
    round_id: String,
    round_title: String,
    instrument_title: String,
    progress: ProgressWire,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProgressWire {
    instrument: String,
    organisation_id: String,
    person_id: Option<String>,
    status: String,
    answered: u32,
    total: u32,
    pillars: Vec<PillarWire>,
}

#[derive(Deserialize)]
struct PillarWire {
    number: u32,
    name: String,
    answered: u32,
    total: u32,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NextData {
    next_question: Option<NextWire>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NextWire {
    question_id: String,
    position: u32,
    total: u32,
    required_remaining: u32,
}

#[derive(Deserialize)]
struct QuestionData {
    question: QuestionWire,
}

#[derive(Deserialize)]
struct QuestionWire {
    id: String,
    #[serde(rename = "type")]
    kind: QuestionKind,
    required: bool,
    prompt: PromptWire,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PromptWire {
    number: Option<String>,
    text: String,
    heading: Option<String>,
    guidance: Vec<String>,
    field_label: Option<String>,
    scale: Vec<ScalePoint>,
    component: Option<ComponentWire>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ComponentWire {
    id: String,
    name: String,
    description: String,
    output_quality: String,
    indicators: Vec<TextWire>,
    stages: Vec<StageText>,
    drivers: Vec<DriverText>,
    activities: Vec<Json>,
}

#[derive(Deserialize)]
struct TextWire {
    text: String,
}

#[derive(Deserialize)]
struct ResponseData {
    response: ResponseWire,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ResponseWire {
    status: String,
    last_seq: u64,
    missing_required: Vec<String>,
    #[serde(default)]
    answers: Vec<AnswerWire>,
    #[serde(default)]
    answer: Option<AnswerWire>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AnswerWire {
    question_id: String,
    seq: u64,
    channel: Channel,
    value: ValueWire,
}

#[derive(Deserialize)]
struct ValueWire {
    stage: Option<u8>,
    rating: Option<u8>,
    text: Option<String>,
    lines: Option<Vec<String>>,
    date: Option<String>,
    evidence: Option<Vec<Evidence>>,
    activities: Option<Vec<NamedActivity>>,
}

impl ValueWire {
    fn into_value(self) -> Option<Value> {
        Some(if let Some(stage) = self.stage {
            Value::Stage(stage)
        } else if let Some(rating) = self.rating {
            Value::Rating(rating)
        } else if let Some(text) = self.text {
            Value::Text(text)
        } else if let Some(lines) = self.lines {
            Value::Lines(lines)
        } else if let Some(date) = self.date {
            Value::Date(date)
        } else if let Some(evidence) = self.evidence {
            Value::Evidence(evidence)
        } else {
            Value::Activities(self.activities?)
        })
    }
}

impl AnswerWire {
    fn into_view(self) -> ApiResult<AnswerView> {
        Ok(AnswerView {
            value: self
                .value
                .into_value()
                .ok_or_else(|| ApiError::Unexpected("an answer without a value".to_owned()))?,
            question_id: self.question_id,
            seq: self.seq,
            channel: self.channel,
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ClaimData {
    claim_telegram_notices: Vec<NoticeWire>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NoticeWire {
    id: String,
    chat_id: i64,
    person_name: String,
    round_title: String,
    deadline: Option<String>,
    days_before: u32,
    responses: Vec<NoticeResponseWire>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NoticeResponseWire {
    instrument_title: String,
    organisation_name: String,
    answered: u32,
    total: u32,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AckData {
    acknowledge_telegram_notice: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SaveData {
    save_answers: SavedWire,
}

#[derive(Deserialize)]
struct SavedWire {
    events: Vec<SeqWire>,
    response: SavedResponseWire,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SavedResponseWire {
    next_question: Option<NextWire>,
}

impl NextWire {
    fn into_next(self) -> Next {
        Next {
            question_id: self.question_id,
            position: self.position,
            total: self.total,
            required_remaining: self.required_remaining,
        }
    }
}

#[derive(Deserialize)]
struct SeqWire {
    seq: u64,
}

#[derive(Deserialize)]
struct Ignored {}

#[async_trait]
impl Backend for GraphqlBackend {
    async fn mark_update(&self, update_id: i64) -> ApiResult<bool> {
        let data: MarkData = self.call(None, MARK, json!({ "id": update_id })).await?;
        Ok(data.mark_telegram_update)
    }

    async fn link(&self, chat: i64, code: &str) -> ApiResult<String> {
        let data: LinkData = self.call(Some(chat), LINK, json!({ "code": code })).await?;
        Ok(data.link_telegram_chat.name)
    }

    async fn unlink(&self, chat: i64) -> ApiResult<()> {
        let _: Ignored = self.call(Some(chat), UNLINK, json!({})).await?;
        Ok(())
    }

    async fn me(&self, chat: i64) -> ApiResult<Me> {
        let data: MeData = self.call(Some(chat), ME, json!({})).await?;
        let me = data.telegram_me;
        Ok(Me {
            person_id: me.person_id,
            name: me.name,
            responses: me
                .responses
                .into_iter()
                .map(|r| Assigned {
                    target: Target {
                        round_id: r.round_id,
                        organisation_id: r.progress.organisation_id,
                        instrument: r.progress.instrument,
                        person_id: r.progress.person_id,
                    },
                    round_title: r.round_title,
                    instrument_title: r.instrument_title,
                    submitted: r.progress.status == "SUBMITTED",
                    answered: r.progress.answered,
                    total: r.progress.total,
                    pillars: r
                        .progress
                        .pillars
                        .into_iter()
                        .map(|p| PillarCount {
                            number: p.number,
                            name: p.name,
                            answered: p.answered,
                            total: p.total,
                        })
                        .collect(),
                })
                .collect(),
        })
    }

    async fn next_question(
        &self,
        chat: i64,
        target: &Target,
        after: Option<&str>,
    ) -> ApiResult<Option<Next>> {
        let data: NextData = self
            .call(Some(chat), NEXT, json!({ "r": target, "after": after }))
            .await?;
        Ok(data.next_question.map(NextWire::into_next))
    }

    async fn question(
        &self,
        chat: i64,
        target: &Target,
        question_id: &str,
    ) -> ApiResult<Arc<QuestionView>> {
        let key = (
            target.round_id.clone(),
            target.instrument.clone(),
            question_id.to_owned(),
        );
        if let Some(cached) = self
            .questions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
        {
            return Ok(Arc::clone(cached));
        }
        let (instrument, version) = target.instrument_parts();
        let data: QuestionData = self
            .call(
                Some(chat),
                QUESTION,
                json!({ "i": instrument, "v": version, "q": question_id, "r": target }),
            )
            .await?;
        let q = data.question;
        let view = Arc::new(QuestionView {
            id: q.id,
            kind: q.kind,
            required: q.required,
            number: q.prompt.number,
            text: q.prompt.text,
            heading: q.prompt.heading,
            guidance: q.prompt.guidance,
            field_label: q.prompt.field_label,
            scale: q.prompt.scale,
            component: q.prompt.component.map(|c| ComponentView {
                id: c.id,
                name: c.name,
                description: c.description,
                output_quality: c.output_quality,
                indicators: c.indicators.into_iter().map(|i| i.text).collect(),
                stages: c.stages,
                drivers: c.drivers,
                activities: c.activities.len(),
            }),
        });
        self.questions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key, Arc::clone(&view));
        Ok(view)
    }

    async fn response(
        &self,
        chat: i64,
        target: &Target,
        question_id: Option<&str>,
    ) -> ApiResult<ResponseView> {
        let data: ResponseData = match question_id {
            Some(question_id) => {
                self.call(
                    Some(chat),
                    RESPONSE_ONE,
                    json!({ "r": target, "q": question_id }),
                )
                .await?
            }
            None => {
                self.call(Some(chat), RESPONSE_ALL, json!({ "r": target }))
                    .await?
            }
        };
        let r = data.response;
        let answers = r
            .answers
            .into_iter()
            .chain(r.answer)
            .map(AnswerWire::into_view)
            .collect::<ApiResult<Vec<_>>>()?;
        Ok(ResponseView {
            submitted: r.status == "SUBMITTED",
            last_seq: r.last_seq,
            answers,
            missing_required: r.missing_required,
        })
    }

    async fn save(
        &self,
        chat: i64,
        target: &Target,
        idempotency_key: &str,
        answers: Vec<AnswerInput>,
        expected_seq: Option<u64>,
    ) -> ApiResult<Saved> {
        let after = answers.first().map(|a| a.question_id.clone());
        let data: SaveData = self
            .call(
                Some(chat),
                SAVE,
                json!({ "input": {
                    "response": target,
                    "idempotencyKey": idempotency_key,
                    "answers": answers,
                    "expectedSeq": expected_seq,
                }, "after": after }),
            )
            .await?;
        Ok(Saved {
            seq: data.save_answers.events.last().map_or(0, |e| e.seq),
            next: data
                .save_answers
                .response
                .next_question
                .map(NextWire::into_next),
        })
    }

    async fn submit(&self, chat: i64, target: &Target, idempotency_key: &str) -> ApiResult<()> {
        let _: Json = self
            .call(
                Some(chat),
                SUBMIT,
                json!({ "input": { "response": target, "idempotencyKey": idempotency_key } }),
            )
            .await?;
        Ok(())
    }

    async fn claim_notices(&self, limit: u32) -> ApiResult<Vec<Notice>> {
        let data: ClaimData = self
            .call(None, CLAIM_NOTICES, json!({ "limit": limit }))
            .await?;
        Ok(data
            .claim_telegram_notices
            .into_iter()
            .map(|n| Notice {
                id: n.id,
                chat_id: n.chat_id,
                person_name: n.person_name,
                round_title: n.round_title,
                deadline: n.deadline,
                days_before: n.days_before,
                responses: n
                    .responses
                    .into_iter()
                    .map(|r| NoticeResponse {
                        instrument_title: r.instrument_title,
                        organisation_name: r.organisation_name,
                        answered: r.answered,
                        total: r.total,
                    })
                    .collect(),
            })
            .collect())
    }

    async fn ack_notice(&self, id: &str) -> ApiResult<bool> {
        let data: AckData = self.call(None, ACK_NOTICE, json!({ "id": id })).await?;
        Ok(data.acknowledge_telegram_notice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_serialise_as_the_servers_one_of_input() {
        assert_eq!(
            serde_json::to_value(Value::Stage(3)).expect("json"),
            json!({ "stage": 3 })
        );
        assert_eq!(
            serde_json::to_value(Value::Evidence(vec![Evidence {
                kind: super::super::EvidenceKind::Document,
                text: "Plan".to_owned(),
                file: None,
            }]))
            .expect("json"),
            json!({ "evidence": [{ "kind": "DOCUMENT", "text": "Plan" }] })
        );
    }

    #[test]
    fn error_codes_become_api_errors() {
        let error = |code: &str| json!({ "message": "m", "extensions": { "code": code, "details": ["1.1/stage"] } });
        assert_eq!(error_of(&error("UNAVAILABLE")), ApiError::Unavailable);
        assert_eq!(error_of(&error("FORBIDDEN")), ApiError::NotLinked);
        assert_eq!(
            error_of(&error("CONFLICT")),
            ApiError::Conflict {
                message: "m".to_owned(),
                details: vec!["1.1/stage".to_owned()]
            }
        );
        assert!(matches!(
            error_of(&error("INTERNAL_SERVER_ERROR")),
            ApiError::Unexpected(_)
        ));
    }
}
