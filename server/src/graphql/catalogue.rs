//! Catalogue queries: every instrument version with its full content, and each
//! answerable question with what a channel shows to ask it.
//!
//! Transport only. The catalogue is immutable and shared, so the objects here are thin
//! wrappers that borrow from it for the request's lifetime and translate each text as it
//! is read; they never copy the catalogue and never decide anything about answers. The
//! requested language is set once on a root field (`instruments`, `instrument`,
//! `question`) and flows down to every object below it.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use async_graphql::{Context, Enum, InputObject, Object};

use super::answering::ResponseRefInput;
use super::error::{Code, GqlError, GqlResult};
use crate::catalogue::model::{
    self, ActivityQuestion, Block, Component, Concern, Driver, DriverStage, Drivers, Field,
    Indicator, Item, OutcomeArea, OutcomeMap, Parameter, Pillar, QcprOutcome, Questionnaire,
    ScalePoint, Section, StageDescriptor, StageName, StageQuestion, StageQuestionItem,
    StageQuestionnaire, SubQuestion, SummaryRow, SummarySheet, ValidationGuide,
};
use crate::catalogue::{
    AnswerType, Catalogue, Instrument, InstrumentRef, LanguageCode, Note, Question, Text,
};
use crate::domain::learning::{ADDED_QUESTIONS_HEADING, is_added_question_id};
use crate::service::answers::Questions;
use crate::service::learning;

/// Longest parameter value accepted, in characters: a period or a place name, not prose.
const MAX_PARAMETER_VALUE_CHARS: usize = 200;

/// The catalogue part of `Query`.
#[derive(Debug, Default)]
pub struct CatalogueQuery;

#[Object]
impl CatalogueQuery {
    /// Every instrument version in the catalogue, ordered by id then version; only the
    /// versions of one kind when `kind` is given. Needs any valid token.
    async fn instruments<'ctx>(
        &self,
        ctx: &Context<'ctx>,
        #[graphql(desc = "Only instruments of this kind; all kinds when omitted.")] kind: Option<
            InstrumentKind,
        >,
        #[graphql(
            desc = "Two-letter ISO 639-1 code of the language every text below is shown in. A text without a translation into it is shown in its instrument's own language; omitted, every text is in its instrument's own language. A code that is not two lowercase letters is BAD_USER_INPUT."
        )]
        language: Option<String>,
    ) -> async_graphql::Result<Vec<InstrumentObject<'ctx>>> {
        let catalogue = catalogue(ctx)?;
        let language = parse_language(language)?;
        Ok(catalogue
            .instruments()
            .filter(|instrument| {
                kind.is_none_or(|kind| kind == InstrumentKind::from(instrument.header().kind))
            })
            .map(|instrument| InstrumentObject {
                view: View::new(catalogue, instrument, language.clone()),
            })
            .collect())
    }

    /// One instrument version: `version`, or the latest version when it is omitted. An
    /// unknown id or version is a NOT_FOUND error (never null). Needs any valid token.
    async fn instrument<'ctx>(
        &self,
        ctx: &Context<'ctx>,
        #[graphql(desc = "The instrument id, e.g. `jiu-rbm-stages`.")] id: String,
        #[graphql(desc = "The version, from 1; the latest version when omitted.")] version: Option<
            i32,
        >,
        #[graphql(
            desc = "Two-letter ISO 639-1 code of the language every text below is shown in. A text without a translation into it is shown in the instrument's own language; omitted, every text is in the instrument's own language. A code that is not two lowercase letters is BAD_USER_INPUT."
        )]
        language: Option<String>,
    ) -> async_graphql::Result<InstrumentObject<'ctx>> {
        let catalogue = catalogue(ctx)?;
        let language = parse_language(language)?;
        let instrument = find_instrument(catalogue, &id, version)?;
        Ok(InstrumentObject {
            view: View::new(catalogue, instrument, language),
        })
    }

    /// One answerable question of one instrument version, for a channel that renders one
    /// question at a time. A question a learning activity's facilitator added
    /// (`added/<n>`) is found with `response`, a response of that activity to this
    /// instrument version. An unknown instrument, version or question is a NOT_FOUND
    /// error (never null). Needs any valid token.
    async fn question<'ctx>(
        &self,
        ctx: &Context<'ctx>,
        #[graphql(desc = "The instrument id, e.g. `jiu-rbm-stages`.")] instrument_id: String,
        #[graphql(desc = "The instrument version the answers are stored against.")] version: i32,
        #[graphql(desc = "The question id, e.g. `1.1/stage` or `questions/key-successes`.")]
        question_id: String,
        #[graphql(
            desc = "Two-letter ISO 639-1 code of the language the texts are shown in; a text without a translation into it is shown in the instrument's own language. A code that is not two lowercase letters is BAD_USER_INPUT."
        )]
        language: Option<String>,
        #[graphql(
            desc = "The response the question is asked for: its round's values fill the questionnaire's placeholders (a learning activity's period) where `prompt` is given no parameters, and its activity's added questions (`added/<n>`) are found. The caller must be able to read that response; otherwise FORBIDDEN."
        )]
        response: Option<ResponseRefInput>,
    ) -> async_graphql::Result<QuestionObject<'ctx>> {
        let catalogue = catalogue(ctx)?;
        let language = parse_language(language)?;
        let instrument = find_instrument(catalogue, &instrument_id, Some(version))?;
        let not_found = || {
            GqlError::not_found(format!(
                "{} has no question `{question_id}`",
                instrument.reference()
            ))
        };
        let question = instrument.question(&question_id);
        // An added question exists only for the responses of its activity.
        let added_id = question.is_none() && is_added_question_id(&question_id);
        if question.is_none() && (!added_id || response.is_none()) {
            return Err(not_found().into());
        }
        let mut view = View::new(catalogue, instrument, language);
        let Some(response) = response else {
            let question = question.ok_or_else(not_found)?;
            return Ok(QuestionObject::catalogue(view, question));
        };
        let request = super::request(ctx)?;
        let key = response.key()?;
        request
            .identity
            .require_response_reader(request.state.store.as_ref(), &key)
            .await
            .map_err(GqlError::from)?;
        let activity = request
            .state
            .store
            .activity(&key.round)
            .await
            .map_err(GqlError::from)?;
        let values = activity
            .as_ref()
            .map(learning::parameter_values)
            .unwrap_or_default();
        view = view.with_known_values(values);
        if let Some(question) = question {
            return Ok(QuestionObject::catalogue(view, question));
        }
        // The response must answer this instrument version for its added questions to
        // apply.
        if key.instrument != instrument.reference() {
            return Err(not_found().into());
        }
        let questions = Questions::of(instrument, activity.as_ref());
        let (Some(question), Some(added)) = (
            questions.get(&question_id),
            questions.added_question(&question_id),
        ) else {
            return Err(not_found().into());
        };
        Ok(QuestionObject {
            view,
            question: Cow::Owned(question.clone()),
            added_text: Some(added.text.clone()),
        })
    }
}

/// The catalogue, once the caller has shown a valid token.
fn catalogue<'ctx>(ctx: &Context<'ctx>) -> GqlResult<&'ctx Catalogue> {
    let request = super::request(ctx)?;
    request.identity.require_any().map_err(GqlError::from)?;
    Ok(&request.state.catalogue)
}

fn parse_language(language: Option<String>) -> GqlResult<Option<LanguageCode>> {
    language
        .map(|code| LanguageCode::parse(&code).map_err(GqlError::bad_input))
        .transpose()
}

fn find_instrument<'a>(
    catalogue: &'a Catalogue,
    id: &str,
    version: Option<i32>,
) -> GqlResult<&'a Instrument> {
    let found = match version {
        None => catalogue.latest(id),
        Some(version) => {
            let version = u32::try_from(version)
                .ok()
                .filter(|version| *version > 0)
                .ok_or_else(|| {
                    GqlError::bad_input(format!(
                        "`{version}` is not a version (a positive integer)"
                    ))
                })?;
            catalogue.get(id, version)
        }
    };
    found.ok_or_else(|| match version {
        None => GqlError::not_found(format!("no instrument `{id}`")),
        Some(version) => GqlError::not_found(format!("no instrument `{id}` at version {version}")),
    })
}

/// A derived question or structure that does not match its instrument: a bug in the
/// derivation, never the caller's fault.
fn inconsistent(reference: &InstrumentRef, what: &str) -> GqlError {
    tracing::error!(instrument = %reference, what, "catalogue question does not match its instrument");
    GqlError::new(Code::Internal, "internal error")
}

/// What every object below a root field shares: the catalogue, the instrument it
/// belongs to, the language its texts are shown in, and the parameter values that
/// questionnaire texts are rendered with.
#[derive(Clone)]
struct View<'a> {
    catalogue: &'a Catalogue,
    instrument: &'a Instrument,
    language: Option<LanguageCode>,
    /// Parameter id → value, defaults included; empty outside questionnaires.
    values: Arc<BTreeMap<String, String>>,
}

impl<'a> View<'a> {
    fn new(
        catalogue: &'a Catalogue,
        instrument: &'a Instrument,
        language: Option<LanguageCode>,
    ) -> Self {
        let mut view = Self {
            catalogue,
            instrument,
            language,
            values: Arc::default(),
        };
        view.values = Arc::new(view.defaults());
        view
    }

    /// The same request seen from another instrument (the drivers a component names).
    fn on(&self, instrument: &'a Instrument) -> Self {
        Self::new(self.catalogue, instrument, self.language.clone())
    }

    /// The text in the requested language, or in the instrument's own.
    fn text(&self, text: &'a Text) -> &'a str {
        match &self.language {
            Some(language) => text.get(language),
            None => text.as_str(),
        }
    }

    fn optional(&self, text: Option<&'a Text>) -> Option<&'a str> {
        text.map(|text| self.text(text))
    }

    fn texts(&self, texts: &'a [Text]) -> Vec<&'a str> {
        texts.iter().map(|text| self.text(text)).collect()
    }

    /// A questionnaire text with its placeholders rendered from the parameter values.
    fn rendered(&self, text: &'a Text) -> String {
        Text::new(self.text(text)).render(&self.values)
    }

    fn parameters(&self) -> &'a [Parameter] {
        self.instrument
            .as_questionnaire()
            .map_or(&[], |questionnaire| questionnaire.parameters.as_slice())
    }

    fn defaults(&self) -> BTreeMap<String, String> {
        self.parameters()
            .iter()
            .map(|parameter| {
                (
                    parameter.id.clone(),
                    self.text(&parameter.default).to_owned(),
                )
            })
            .collect()
    }

    /// This view with `values` over the defaults, for the parameters the instrument has
    /// (values it has no parameter for are left out).
    fn with_known_values(&self, values: BTreeMap<String, String>) -> Self {
        let mut merged = self.defaults();
        for (id, value) in values {
            if let Some(slot) = merged.get_mut(&id) {
                *slot = value;
            }
        }
        let mut view = self.clone();
        view.values = Arc::new(merged);
        view
    }

    /// This view with the caller's parameter values over the defaults.
    ///
    /// # Errors
    /// BAD_USER_INPUT for a parameter the instrument does not have, a parameter given
    /// twice, or a blank or overlong value.
    fn with_values(&self, given: Option<Vec<ParameterValue>>) -> GqlResult<Self> {
        let Some(given) = given else {
            return Ok(self.clone());
        };
        let mut values = self.defaults();
        let mut seen = BTreeSet::new();
        for ParameterValue { id, value } in given {
            if !self.parameters().iter().any(|parameter| parameter.id == id) {
                return Err(GqlError::bad_input(format!(
                    "{} has no parameter `{id}`",
                    self.instrument.reference()
                )));
            }
            if !seen.insert(id.clone()) {
                return Err(GqlError::bad_input(format!(
                    "parameter `{id}` is given more than once"
                )));
            }
            let value = value.trim();
            if value.is_empty() {
                return Err(GqlError::bad_input(format!(
                    "the value of parameter `{id}` is blank"
                )));
            }
            if value.chars().count() > MAX_PARAMETER_VALUE_CHARS {
                return Err(GqlError::bad_input(format!(
                    "the value of parameter `{id}` is longer than {MAX_PARAMETER_VALUE_CHARS} characters"
                )));
            }
            values.insert(id, value.to_owned());
        }
        let mut view = self.clone();
        view.values = Arc::new(values);
        Ok(view)
    }
}

// --- enums ---------------------------------------------------------------------------

/// The kinds of instrument.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstrumentKind {
    /// Annex IX part 1 of JIU/NOTE/2017/1: pillars, components, their stages of
    /// development, and questions Q.1 and Q.2 asked for every component.
    StageQuestionnaire,
    /// Annex V with box 4: the drivers of the stages of development, described at each
    /// stage. Reference only, never answered.
    Drivers,
    /// Sections of questions: the outcome protocol, the IOM learning sets and templates.
    Questionnaire,
    /// Annex IX parts 2 and 3: the validation concerns and the summary sheet. Reference
    /// only, never answered.
    ValidationGuide,
    /// Annex III: pillars and components linked to outcomes and QCPR outcome areas.
    /// Reference only, never answered.
    OutcomeMap,
}

impl From<model::InstrumentKind> for InstrumentKind {
    fn from(kind: model::InstrumentKind) -> Self {
        match kind {
            model::InstrumentKind::StageQuestionnaire => Self::StageQuestionnaire,
            model::InstrumentKind::Drivers => Self::Drivers,
            model::InstrumentKind::Questionnaire => Self::Questionnaire,
            model::InstrumentKind::ValidationGuide => Self::ValidationGuide,
            model::InstrumentKind::OutcomeMap => Self::OutcomeMap,
        }
    }
}

/// Who an instrument is for.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// The RBM focal point leading an organisation's self-assessment.
    RbmFocalPoint,
    /// A senior manager answering the outcome protocol.
    SeniorManager,
    /// A validator: the JIU, an evaluation or audit unit, or peers.
    Validator,
    /// A participant of a real-time learning activity.
    LearningParticipant,
    /// The facilitator or reviewer of a learning activity.
    Facilitator,
    /// An administrator or secretariat.
    Administrator,
}

impl From<model::Audience> for Audience {
    fn from(audience: model::Audience) -> Self {
        match audience {
            model::Audience::RbmFocalPoint => Self::RbmFocalPoint,
            model::Audience::SeniorManager => Self::SeniorManager,
            model::Audience::Validator => Self::Validator,
            model::Audience::LearningParticipant => Self::LearningParticipant,
            model::Audience::Facilitator => Self::Facilitator,
            model::Audience::Administrator => Self::Administrator,
        }
    }
}

/// Whose response an instrument collects.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseMode {
    /// One consolidated response per organisation, edited by its focal points.
    PerOrganisation,
    /// One response per respondent.
    PerRespondent,
    /// Guidance only, never answered.
    Reference,
}

impl From<model::ResponseMode> for ResponseMode {
    fn from(mode: model::ResponseMode) -> Self {
        match mode {
            model::ResponseMode::PerOrganisation => Self::PerOrganisation,
            model::ResponseMode::PerRespondent => Self::PerRespondent,
            model::ResponseMode::Reference => Self::Reference,
        }
    }
}

/// What kind of answer a question takes.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuestionType {
    /// A stage of development, 1 to 5 (the component's `stages`).
    Stage,
    /// A rating from `min` to `max` (the prompt's `scale`).
    Rating,
    /// One line of text.
    ShortText,
    /// Paragraphs of text.
    LongText,
    /// A calendar date.
    Date,
    /// A list of lines.
    TextList,
    /// Evidence: documents, or the names of people when nothing is documented.
    Evidence,
    /// Activities the organisation names itself, at most `maxRows`, each rated from
    /// `min` to `max`.
    OtherActivities,
}

impl From<AnswerType> for QuestionType {
    fn from(answer: AnswerType) -> Self {
        match answer {
            AnswerType::Stage => Self::Stage,
            AnswerType::Rating { .. } => Self::Rating,
            AnswerType::ShortText => Self::ShortText,
            AnswerType::LongText => Self::LongText,
            AnswerType::Date => Self::Date,
            AnswerType::TextList => Self::TextList,
            AnswerType::Evidence => Self::Evidence,
            AnswerType::OtherActivities { .. } => Self::OtherActivities,
        }
    }
}

/// An evaluation criterion (OECD-DAC) that a section or item is tagged with.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Criterion {
    /// Relevance.
    Relevance,
    /// Coherence.
    Coherence,
    /// Effectiveness.
    Effectiveness,
    /// Efficiency.
    Efficiency,
    /// Impact.
    Impact,
    /// Sustainability.
    Sustainability,
}

impl From<model::Criterion> for Criterion {
    fn from(criterion: model::Criterion) -> Self {
        match criterion {
            model::Criterion::Relevance => Self::Relevance,
            model::Criterion::Coherence => Self::Coherence,
            model::Criterion::Effectiveness => Self::Effectiveness,
            model::Criterion::Efficiency => Self::Efficiency,
            model::Criterion::Impact => Self::Impact,
            model::Criterion::Sustainability => Self::Sustainability,
        }
    }
}

fn criteria(criteria: &[model::Criterion]) -> Vec<Criterion> {
    criteria.iter().copied().map(Criterion::from).collect()
}

/// The kinds of answer field of a questionnaire item.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// One line.
    ShortText,
    /// Paragraphs.
    LongText,
    /// A calendar date.
    Date,
    /// A list of lines.
    TextList,
}

impl From<model::FieldType> for FieldType {
    fn from(field_type: model::FieldType) -> Self {
        match field_type {
            model::FieldType::ShortText => Self::ShortText,
            model::FieldType::LongText => Self::LongText,
            model::FieldType::Date => Self::Date,
            model::FieldType::TextList => Self::TextList,
        }
    }
}

/// A value for a parameter of a questionnaire, e.g. the period its questions refer to.
#[derive(InputObject, Debug, Clone)]
pub struct ParameterValue {
    /// The parameter id, as listed in the questionnaire's `parameters`.
    pub id: String,
    /// The value, at most 200 characters; blank values are refused.
    pub value: String,
}

// --- instrument ----------------------------------------------------------------------

pub struct InstrumentObject<'a> {
    view: View<'a>,
}

/// The header of an instrument, read through the wrapper.
impl InstrumentObject<'_> {
    fn header(&self) -> &crate::catalogue::Header {
        self.view.instrument.header()
    }
}

/// One published version of an instrument. Exactly one of `stageQuestionnaire`,
/// `drivers`, `questionnaire`, `validationGuide` and `outcomeMap` is set, by `kind`.
#[Object(name = "Instrument")]
impl<'a> InstrumentObject<'a> {
    /// The instrument id, lowercase kebab-case, e.g. `jiu-rbm-stages`.
    async fn id(&self) -> &str {
        &self.header().id
    }

    /// The version, from 1. A published version never changes; answers name the version
    /// they answered.
    async fn version(&self) -> u32 {
        self.header().version
    }

    /// `id@version`, e.g. `jiu-rbm-stages@1`.
    async fn reference(&self) -> String {
        self.view.instrument.reference().to_string()
    }

    /// What kind of instrument this is; it says which content field is set.
    async fn kind(&self) -> InstrumentKind {
        self.header().kind.into()
    }

    /// The title shown to people.
    async fn title(&self) -> &'a str {
        self.view.text(&self.view.instrument.header().title)
    }

    /// Who the instrument is for.
    async fn audience(&self) -> Vec<Audience> {
        self.header()
            .audience
            .iter()
            .copied()
            .map(Audience::from)
            .collect()
    }

    /// Whose response the instrument collects.
    async fn response_mode(&self) -> ResponseMode {
        self.header().response_mode.into()
    }

    /// The instrument's own language (ISO 639-1), the one every text is written in and
    /// the one shown where a text has no translation into the requested language.
    async fn language(&self) -> &str {
        self.header().language.as_str()
    }

    /// Other instruments this one points into, as `id@version` (the stage questionnaire
    /// names the drivers of annex V).
    async fn references(&self) -> &[String] {
        &self.header().references
    }

    /// Where the instrument was transcribed from.
    async fn source(&self) -> SourceObject<'a> {
        SourceObject {
            source: &self.view.instrument.header().source,
        }
    }

    /// The transcription decisions, in file order (always in English, never translated).
    async fn notes(&self) -> Vec<NoteObject<'a>> {
        self.view
            .instrument
            .notes()
            .iter()
            .map(|note| NoteObject { note })
            .collect()
    }

    /// Every answerable question, in the order a respondent meets them; empty for
    /// reference instruments.
    async fn questions(&self) -> Vec<QuestionObject<'a>> {
        self.view
            .instrument
            .questions()
            .iter()
            .map(|question| QuestionObject::catalogue(self.view.clone(), question))
            .collect()
    }

    /// The question with `id`, or null when this instrument has none.
    async fn question(
        &self,
        #[graphql(desc = "The question id, e.g. `1.1/stage`.")] id: String,
    ) -> Option<QuestionObject<'a>> {
        self.view
            .instrument
            .question(&id)
            .map(|question| QuestionObject::catalogue(self.view.clone(), question))
    }

    /// The content of a stage questionnaire; null for other kinds.
    async fn stage_questionnaire(&self) -> Option<StageQuestionnaireObject<'a>> {
        self.view
            .instrument
            .as_stage_questionnaire()
            .map(|body| StageQuestionnaireObject {
                view: self.view.clone(),
                body,
            })
    }

    /// The content of the drivers of annex V; null for other kinds.
    async fn drivers(&self) -> Option<DriversObject<'a>> {
        self.view.instrument.as_drivers().map(|body| DriversObject {
            view: self.view.clone(),
            body,
        })
    }

    /// The content of a questionnaire, its texts rendered with the parameter values;
    /// null for other kinds.
    async fn questionnaire(
        &self,
        #[graphql(
            desc = "Values for the questionnaire's parameters; a parameter not given takes its default. An unknown parameter, one given twice, or a blank value is BAD_USER_INPUT."
        )]
        parameters: Option<Vec<ParameterValue>>,
    ) -> async_graphql::Result<Option<QuestionnaireObject<'a>>> {
        let Some(body) = self.view.instrument.as_questionnaire() else {
            return Ok(None);
        };
        Ok(Some(QuestionnaireObject {
            view: self.view.with_values(parameters)?,
            body,
        }))
    }

    /// The content of a validation guide; null for other kinds.
    async fn validation_guide(&self) -> Option<ValidationGuideObject<'a>> {
        self.view
            .instrument
            .as_validation_guide()
            .map(|body| ValidationGuideObject {
                view: self.view.clone(),
                body,
            })
    }

    /// The content of the outcome map of annex III; null for other kinds.
    async fn outcome_map(&self) -> Option<OutcomeMapObject<'a>> {
        self.view
            .instrument
            .as_outcome_map()
            .map(|body| OutcomeMapObject {
                view: self.view.clone(),
                body,
            })
    }
}

pub struct SourceObject<'a> {
    source: &'a model::Source,
}

/// Where an instrument was transcribed from.
#[Object(name = "InstrumentSource")]
impl<'a> SourceObject<'a> {
    /// The published document.
    async fn document(&self) -> &'a str {
        &self.source.document
    }

    /// The annex or part of the document.
    async fn part(&self) -> &'a str {
        &self.source.part
    }

    /// The page range in the published document, e.g. `80-120`.
    async fn pages(&self) -> &'a str {
        &self.source.pages
    }
}

pub struct NoteObject<'a> {
    note: &'a Note,
}

/// A transcription decision: where the instrument departs from, or interprets, its
/// source, and why.
#[Object(name = "InstrumentNote")]
impl<'a> NoteObject<'a> {
    /// What the note concerns, e.g. `1.2 activities`; null when it concerns the whole
    /// instrument.
    async fn about(&self) -> Option<&'a str> {
        self.note.about.as_deref()
    }

    /// The decision and its reason.
    async fn text(&self) -> &'a str {
        &self.note.text
    }
}

// --- questions -----------------------------------------------------------------------

pub struct QuestionObject<'a> {
    view: View<'a>,
    question: Cow<'a, Question>,
    /// The facilitator's text, for a question added to a learning activity.
    added_text: Option<String>,
}

impl<'a> QuestionObject<'a> {
    fn catalogue(view: View<'a>, question: &'a Question) -> Self {
        Self {
            view,
            question: Cow::Borrowed(question),
            added_text: None,
        }
    }
}

/// An answerable question, derived from the instrument's structure. Answers are stored
/// under its `id`.
#[Object(name = "Question")]
impl<'a> QuestionObject<'a> {
    /// The id answers are stored under: `<component>/stage`, `/rationale`, `/evidence`,
    /// `/comments`, `/plans`, `/activity/<n>` (n from 1) and `/other` in a stage
    /// questionnaire; `<section>/<item>` or `<section>/<item>/<field>` in a questionnaire;
    /// `added/<n>` for a question a learning activity's facilitator added.
    async fn id(&self) -> &str {
        &self.question.id
    }

    /// What kind of answer the question takes.
    #[graphql(name = "type")]
    async fn question_type(&self) -> QuestionType {
        self.question.answer.into()
    }

    /// Whether an answer is needed before the response can be submitted.
    async fn required(&self) -> bool {
        self.question.required
    }

    /// The lowest rating, for RATING and OTHER_ACTIVITIES; null otherwise.
    async fn min(&self) -> Option<u8> {
        match self.question.answer {
            AnswerType::Rating { min, .. } | AnswerType::OtherActivities { min, .. } => Some(min),
            _ => None,
        }
    }

    /// The highest rating, for RATING and OTHER_ACTIVITIES; null otherwise.
    async fn max(&self) -> Option<u8> {
        match self.question.answer {
            AnswerType::Rating { max, .. } | AnswerType::OtherActivities { max, .. } => Some(max),
            _ => None,
        }
    }

    /// The most activities the organisation may name, for OTHER_ACTIVITIES; null
    /// otherwise.
    async fn max_rows(&self) -> Option<u8> {
        match self.question.answer {
            AnswerType::OtherActivities { max_rows, .. } => Some(max_rows),
            _ => None,
        }
    }

    /// What to show to ask the question, in the requested language, with a
    /// questionnaire's placeholders rendered from the parameter values.
    async fn prompt(
        &self,
        #[graphql(
            desc = "Values for the questionnaire's parameters; a parameter not given takes its default. An unknown parameter, one given twice, or a blank value is BAD_USER_INPUT."
        )]
        parameters: Option<Vec<ParameterValue>>,
    ) -> async_graphql::Result<PromptObject<'a>> {
        let view = self.view.with_values(parameters)?;
        if let Some(text) = &self.added_text {
            return Ok(added_prompt(view, text));
        }
        let prompt = match view.instrument.body() {
            model::Body::StageQuestionnaire(body) => stage_prompt(view, body, &self.question)?,
            model::Body::Questionnaire(body) => questionnaire_prompt(view, body, &self.question)?,
            _ => {
                return Err(
                    inconsistent(&self.view.instrument.reference(), &self.question.id).into(),
                );
            }
        };
        Ok(prompt)
    }
}

/// What part of the stage questionnaire a question id points at.
enum StagePart<'a> {
    Item(&'a StageQuestionItem),
    Activity(usize, &'a model::Activity),
    Other,
}

fn stage_prompt<'a>(
    view: View<'a>,
    body: &'a StageQuestionnaire,
    question: &Question,
) -> GqlResult<PromptObject<'a>> {
    let missing = || inconsistent(&view.instrument.reference(), &question.id);
    let (component, rest) = body
        .components()
        .find_map(|component| {
            question
                .id
                .strip_prefix(component.id.as_str())
                .and_then(|rest| rest.strip_prefix('/'))
                .map(|rest| (component, rest))
        })
        .ok_or_else(missing)?;
    let part = if rest == "other" {
        StagePart::Other
    } else if let Some(number) = rest.strip_prefix("activity/") {
        let number: usize = number.parse().map_err(|_| missing())?;
        let activity = number
            .checked_sub(1)
            .and_then(|index| component.activities.get(index))
            .ok_or_else(missing)?;
        StagePart::Activity(number, activity)
    } else {
        let item = body
            .stage_question
            .items
            .iter()
            .find(|item| item.id.as_str() == rest)
            .ok_or_else(missing)?;
        StagePart::Item(item)
    };
    let q1 = &body.stage_question;
    let q2 = &body.activity_question;
    let q2_instructions = view.text(
        component
            .activity_instructions
            .as_ref()
            .unwrap_or(&q2.instructions),
    );
    let mut prompt = PromptObject {
        view: view.clone(),
        number: None,
        text: String::new(),
        heading: None,
        instructions: None,
        help: None,
        guidance: Vec::new(),
        sub_questions: Vec::new(),
        field_label: None,
        component: Some(component),
        section: None,
        scale: &[],
    };
    match part {
        StagePart::Item(item) => {
            prompt.number = Some(item.number.clone());
            prompt.text = view.text(&item.text).to_owned();
            prompt.heading = Some(view.text(&q1.heading));
            prompt.instructions = Some(view.text(&q1.instructions));
            prompt.guidance = vec![view.text(&q1.warning), view.text(&q1.drivers_pointer)];
        }
        StagePart::Activity(number, activity) => {
            prompt.number = Some(number.to_string());
            prompt.text = view.text(&activity.text).to_owned();
            prompt.heading = Some(view.text(&q2.heading));
            prompt.instructions = Some(q2_instructions);
            prompt.scale = &q2.scale;
        }
        StagePart::Other => {
            prompt.text = view.text(&q2.other_heading).to_owned();
            prompt.heading = Some(view.text(&q2.heading));
            prompt.instructions = Some(q2_instructions);
            prompt.scale = &q2.scale;
        }
    }
    Ok(prompt)
}

/// The prompt of a question a facilitator added: their text under its own heading.
fn added_prompt<'a>(view: View<'a>, text: &str) -> PromptObject<'a> {
    PromptObject {
        view,
        number: None,
        text: text.to_owned(),
        heading: Some(ADDED_QUESTIONS_HEADING),
        instructions: None,
        help: None,
        guidance: Vec::new(),
        sub_questions: Vec::new(),
        field_label: None,
        component: None,
        section: None,
        scale: &[],
    }
}

fn questionnaire_prompt<'a>(
    view: View<'a>,
    body: &'a Questionnaire,
    question: &Question,
) -> GqlResult<PromptObject<'a>> {
    let missing = || inconsistent(&view.instrument.reference(), &question.id);
    let mut parts = question.id.split('/');
    let (Some(section_id), Some(item_id), field_id, None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(missing());
    };
    let section = body
        .sections
        .iter()
        .find(|section| section.id == section_id)
        .ok_or_else(missing)?;
    let item = section
        .items
        .iter()
        .find(|item| item.id == item_id)
        .ok_or_else(missing)?;
    let field = match field_id {
        Some(field_id) => Some(
            item.fields
                .iter()
                .find(|field| field.id == field_id)
                .ok_or_else(missing)?,
        ),
        None => None,
    };
    Ok(PromptObject {
        number: item.number.clone(),
        text: view.rendered(&item.text),
        heading: Some(view.text(&section.title)),
        instructions: section.text.as_ref().map(|text| view.text(text)),
        help: item.help.as_ref().map(|help| view.rendered(help)),
        guidance: Vec::new(),
        sub_questions: item
            .sub_questions
            .iter()
            .map(|sub| view.rendered(&sub.text))
            .collect(),
        field_label: field.map(|field| view.text(&field.label)),
        component: None,
        section: Some(section),
        scale: &[],
        view,
    })
}

pub struct PromptObject<'a> {
    view: View<'a>,
    number: Option<String>,
    text: String,
    heading: Option<&'a str>,
    instructions: Option<&'a str>,
    help: Option<String>,
    guidance: Vec<&'a str>,
    sub_questions: Vec<String>,
    field_label: Option<&'a str>,
    component: Option<&'a Component>,
    section: Option<&'a Section>,
    scale: &'a [ScalePoint],
}

/// What a channel shows to ask one question, in the requested language. For a stage
/// questionnaire: the Q.1 item (`1.1` `Select the stage of development:`), a Q.2
/// activity, or the heading of the organisation's own activities, with the component
/// and the rating scale. For a questionnaire: the item, its help and sub-questions, and
/// the label of the field when the item has several.
#[Object(name = "QuestionPrompt")]
impl<'a> PromptObject<'a> {
    /// The number as printed: `1.1` to `1.5` for Q.1 items, the activity's number (from
    /// 1) for Q.2 activities, the item's number in a questionnaire where it has one;
    /// null otherwise (the organisation's own activities, unnumbered items).
    async fn number(&self) -> Option<&str> {
        self.number.as_deref()
    }

    /// The question itself: the Q.1 item text, the activity to rate, the heading of the
    /// organisation's own activities, or the questionnaire item with its placeholders
    /// rendered.
    async fn text(&self) -> &str {
        &self.text
    }

    /// The heading of the group the question belongs to: the Q.1 or Q.2 heading, or the
    /// section title.
    async fn heading(&self) -> Option<&'a str> {
        self.heading
    }

    /// Instructions for the group: Q.1's, Q.2's (the component's own where it words them
    /// differently), or the section's introduction; null where there are none.
    async fn instructions(&self) -> Option<&'a str> {
        self.instructions
    }

    /// Help shown on demand (questionnaire items that have it); null otherwise.
    async fn help(&self) -> Option<&str> {
        self.help.as_deref()
    }

    /// Further texts the source prints with the question: for Q.1 items the warning not
    /// to average across indicators and the pointer to the drivers of annex V (see the
    /// component's `drivers`); empty otherwise.
    async fn guidance(&self) -> &[&'a str] {
        &self.guidance
    }

    /// Prompts inside a questionnaire item, answered in its fields, with placeholders
    /// rendered; empty otherwise.
    async fn sub_questions(&self) -> &[String] {
        &self.sub_questions
    }

    /// The caption of the answer box, for a question that is one field of a
    /// questionnaire item (`<section>/<item>/<field>`); null otherwise.
    async fn field_label(&self) -> Option<&'a str> {
        self.field_label
    }

    /// The component the question is asked for (stage questionnaire): its name,
    /// stages, indicators and drivers; null for questionnaires.
    async fn component(&self) -> Option<ComponentObject<'a>> {
        self.component.map(|component| ComponentObject {
            view: self.view.clone(),
            component,
        })
    }

    /// The section the question belongs to (questionnaire); null for stage
    /// questionnaires.
    async fn section(&self) -> Option<SectionObject<'a>> {
        self.section.map(|section| SectionObject {
            view: self.view.clone(),
            section,
        })
    }

    /// The rating scale with its labels, for RATING and OTHER_ACTIVITIES; empty
    /// otherwise.
    async fn scale(&self) -> Vec<ScalePointObject<'a>> {
        scale(&self.view, self.scale)
    }
}

// --- stage questionnaire -------------------------------------------------------------

pub struct StageQuestionnaireObject<'a> {
    view: View<'a>,
    body: &'a StageQuestionnaire,
}

/// Annex IX part 1: the stage questionnaire. Q.1 and Q.2 are asked for every component.
#[Object(name = "StageQuestionnaire")]
impl<'a> StageQuestionnaireObject<'a> {
    /// The instrument's preamble; null when it has none.
    async fn introduction(&self) -> Option<&'a str> {
        self.view.optional(self.body.introduction.as_ref())
    }

    /// Q.1: the assessment of the stage of development and the evidence for it.
    async fn stage_question(&self) -> StageQuestionObject<'a> {
        StageQuestionObject {
            view: self.view.clone(),
            question: &self.body.stage_question,
        }
    }

    /// Q.2: the activities rated for their contribution.
    async fn activity_question(&self) -> ActivityQuestionObject<'a> {
        ActivityQuestionObject {
            view: self.view.clone(),
            question: &self.body.activity_question,
        }
    }

    /// The pillars in order, each with its components.
    async fn pillars(&self) -> Vec<PillarObject<'a>> {
        self.body
            .pillars
            .iter()
            .map(|pillar| PillarObject {
                view: self.view.clone(),
                pillar,
            })
            .collect()
    }

    /// Every component in pillar order.
    async fn components(&self) -> Vec<ComponentObject<'a>> {
        self.body
            .components()
            .map(|component| ComponentObject {
                view: self.view.clone(),
                component,
            })
            .collect()
    }

    /// The component with `id`, or null when there is none.
    async fn component(
        &self,
        #[graphql(desc = "The component id, `<pillar>.<n>`, e.g. `2.3`.")] id: String,
    ) -> Option<ComponentObject<'a>> {
        self.body.component(&id).map(|component| ComponentObject {
            view: self.view.clone(),
            component,
        })
    }
}

pub struct StageQuestionObject<'a> {
    view: View<'a>,
    question: &'a StageQuestion,
}

/// Q.1, asked for every component: the stage of development and the evidence for it.
#[Object(name = "StageQuestion")]
impl<'a> StageQuestionObject<'a> {
    /// The heading as printed.
    async fn heading(&self) -> &'a str {
        self.view.text(&self.question.heading)
    }

    /// The instructions.
    async fn instructions(&self) -> &'a str {
        self.view.text(&self.question.instructions)
    }

    /// The instruction not to average across the indicators of a component.
    async fn warning(&self) -> &'a str {
        self.view.text(&self.question.warning)
    }

    /// The pointer to the drivers of annex V.
    async fn drivers_pointer(&self) -> &'a str {
        self.view.text(&self.question.drivers_pointer)
    }

    /// Items 1.1 to 1.5 in order.
    async fn items(&self) -> Vec<StageQuestionItemObject<'a>> {
        self.question
            .items
            .iter()
            .map(|item| StageQuestionItemObject {
                view: self.view.clone(),
                item,
            })
            .collect()
    }
}

pub struct StageQuestionItemObject<'a> {
    view: View<'a>,
    item: &'a StageQuestionItem,
}

/// One item of Q.1.
#[Object(name = "StageQuestionItem")]
impl<'a> StageQuestionItemObject<'a> {
    /// Which item: `stage`, `rationale`, `evidence`, `comments` or `plans`; the
    /// question id for a component is `<component>/<id>`.
    async fn id(&self) -> &'static str {
        self.item.id.as_str()
    }

    /// The number as printed, e.g. `1.3`.
    async fn number(&self) -> &'a str {
        &self.item.number
    }

    /// The question.
    async fn text(&self) -> &'a str {
        self.view.text(&self.item.text)
    }

    /// Whether an answer is needed before the response can be submitted.
    async fn required(&self) -> bool {
        self.item.required
    }
}

pub struct ActivityQuestionObject<'a> {
    view: View<'a>,
    question: &'a ActivityQuestion,
}

/// Q.2, asked for every component: the activities rated for their contribution.
#[Object(name = "ActivityQuestion")]
impl<'a> ActivityQuestionObject<'a> {
    /// The heading as printed.
    async fn heading(&self) -> &'a str {
        self.view.text(&self.question.heading)
    }

    /// The common instructions; a component may word its own (`activityInstructions`).
    async fn instructions(&self) -> &'a str {
        self.view.text(&self.question.instructions)
    }

    /// The heading of the rows where the organisation names and rates its own
    /// activities.
    async fn other_heading(&self) -> &'a str {
        self.view.text(&self.question.other_heading)
    }

    /// How many such rows the printed form offers (the server accepts more, see the
    /// question's `maxRows`).
    async fn other_rows(&self) -> u8 {
        self.question.other_rows
    }

    /// The rating scale, lowest value first.
    async fn scale(&self) -> Vec<ScalePointObject<'a>> {
        scale(&self.view, &self.question.scale)
    }
}

fn scale<'a>(view: &View<'a>, points: &'a [ScalePoint]) -> Vec<ScalePointObject<'a>> {
    points
        .iter()
        .map(|point| ScalePointObject {
            view: view.clone(),
            point,
        })
        .collect()
}

pub struct ScalePointObject<'a> {
    view: View<'a>,
    point: &'a ScalePoint,
}

/// One point of a rating scale.
#[Object(name = "ScalePoint")]
impl<'a> ScalePointObject<'a> {
    /// The value stored as the answer.
    async fn value(&self) -> u8 {
        self.point.value
    }

    /// What the value means, e.g. `Little contribution`.
    async fn label(&self) -> &'a str {
        self.view.text(&self.point.label)
    }
}

pub struct PillarObject<'a> {
    view: View<'a>,
    pillar: &'a Pillar,
}

/// A pillar of the benchmarking framework.
#[Object(name = "Pillar")]
impl<'a> PillarObject<'a> {
    /// The number, from 1.
    async fn number(&self) -> u8 {
        self.pillar.number
    }

    /// The name.
    async fn name(&self) -> &'a str {
        self.view.text(&self.pillar.name)
    }

    /// The broad management function the pillar serves (table 2 of the note).
    async fn management_function(&self) -> &'a str {
        self.view.text(&self.pillar.management_function)
    }

    /// Other names the source uses for the pillar.
    async fn aliases(&self) -> Vec<&'a str> {
        self.view.texts(&self.pillar.aliases)
    }

    /// The pillar's components in order.
    async fn components(&self) -> Vec<ComponentObject<'a>> {
        self.pillar
            .components
            .iter()
            .map(|component| ComponentObject {
                view: self.view.clone(),
                component,
            })
            .collect()
    }
}

pub struct ComponentObject<'a> {
    view: View<'a>,
    component: &'a Component,
}

/// A component of a pillar: what it is, how its quality shows, its five stages of
/// development, and the activities rated in Q.2.
#[Object(name = "Component")]
impl<'a> ComponentObject<'a> {
    /// The id, `<pillar>.<n>`, e.g. `1.1`; question ids start with it.
    async fn id(&self) -> &'a str {
        &self.component.id
    }

    /// The name.
    async fn name(&self) -> &'a str {
        self.view.text(&self.component.name)
    }

    /// The pillar the component belongs to.
    async fn pillar(&self) -> async_graphql::Result<PillarObject<'a>> {
        let body = self
            .view
            .instrument
            .as_stage_questionnaire()
            .ok_or_else(|| inconsistent(&self.view.instrument.reference(), &self.component.id))?;
        let pillar = body
            .pillars
            .iter()
            .find(|pillar| {
                pillar
                    .components
                    .iter()
                    .any(|component| std::ptr::eq(component, self.component))
            })
            .ok_or_else(|| inconsistent(&self.view.instrument.reference(), &self.component.id))?;
        Ok(PillarObject {
            view: self.view.clone(),
            pillar,
        })
    }

    /// Other names the source uses for the component (annex IX part 2, annex III, …).
    async fn aliases(&self) -> Vec<&'a str> {
        self.view.texts(&self.component.aliases)
    }

    /// The description.
    async fn description(&self) -> &'a str {
        self.view.text(&self.component.description)
    }

    /// The output quality expected of the component.
    async fn output_quality(&self) -> &'a str {
        self.view.text(&self.component.output_quality)
    }

    /// The sentence that introduces the indicators; null where the source prints none.
    async fn indicators_intro(&self) -> Option<&'a str> {
        self.view.optional(self.component.indicators_intro.as_ref())
    }

    /// The performance indicators in order.
    async fn indicators(&self) -> Vec<IndicatorObject<'a>> {
        self.component
            .indicators
            .iter()
            .map(|indicator| IndicatorObject {
                view: self.view.clone(),
                indicator,
            })
            .collect()
    }

    /// The five stages of development, stage 1 first: what Q.1 item 1.1 selects from.
    async fn stages(&self) -> Vec<StageDescriptorObject<'a>> {
        self.component
            .stages
            .iter()
            .map(|stage| StageDescriptorObject {
                view: self.view.clone(),
                stage,
            })
            .collect()
    }

    /// The Q.2 instructions where the component words them differently from the common
    /// ones (`activityQuestion.instructions`); null otherwise.
    async fn activity_instructions(&self) -> Option<&'a str> {
        self.view
            .optional(self.component.activity_instructions.as_ref())
    }

    /// The activities rated in Q.2, in order; empty where the source lists none and only
    /// asks for the organisation's own.
    async fn activities(&self) -> Vec<ActivityObject<'a>> {
        self.component
            .activities
            .iter()
            .enumerate()
            .map(|(index, activity)| ActivityObject {
                view: self.view.clone(),
                component: self.component,
                number: index + 1,
                activity,
            })
            .collect()
    }

    /// The component's questions (`<id>/…`), in the order a respondent meets them.
    async fn questions(&self) -> Vec<QuestionObject<'a>> {
        let prefix = format!("{}/", self.component.id);
        self.view
            .instrument
            .questions()
            .iter()
            .filter(|question| question.id.starts_with(&prefix))
            .map(|question| QuestionObject::catalogue(self.view.clone(), question))
            .collect()
    }

    /// The drivers of annex V that list this component, in box 4 order, from the drivers
    /// instrument this stage questionnaire references; shown as guidance for Q.1.
    async fn drivers(&self) -> Vec<DriverObject<'a>> {
        let view = &self.view;
        view.instrument
            .header()
            .references
            .iter()
            .filter_map(|reference| InstrumentRef::parse(reference).ok())
            .filter_map(|reference| view.catalogue.get(&reference.id, reference.version))
            .filter_map(|instrument| instrument.as_drivers().map(|body| (instrument, body)))
            .flat_map(|(instrument, body)| {
                let view = view.on(instrument);
                body.drivers
                    .iter()
                    .filter(|driver| driver.components.contains(&self.component.id))
                    .map(move |driver| DriverObject {
                        view: view.clone(),
                        stages: &body.stages,
                        driver,
                    })
            })
            .collect()
    }
}

pub struct IndicatorObject<'a> {
    view: View<'a>,
    indicator: &'a Indicator,
}

/// A performance indicator of a component.
#[Object(name = "Indicator")]
impl<'a> IndicatorObject<'a> {
    /// The indicator.
    async fn text(&self) -> &'a str {
        self.view.text(&self.indicator.text)
    }

    /// Whether the source marks it with an asterisk: part of the 2004 JIU benchmarking
    /// framework (JIU/REP/2004/5 to 8).
    async fn jiu2004(&self) -> bool {
        self.indicator.jiu2004
    }

    /// A sentence printed before this indicator that introduces it and the ones after
    /// it (a second list); null otherwise.
    async fn intro(&self) -> Option<&'a str> {
        self.view.optional(self.indicator.intro.as_ref())
    }
}

pub struct StageDescriptorObject<'a> {
    view: View<'a>,
    stage: &'a StageDescriptor,
}

/// A stage of development of one component.
#[Object(name = "StageDescriptor")]
impl<'a> StageDescriptorObject<'a> {
    /// The stage, 1 to 5: the value a STAGE answer stores.
    async fn stage(&self) -> u8 {
        self.stage.stage
    }

    /// The title, e.g. `Not started`.
    async fn title(&self) -> &'a str {
        self.view.text(&self.stage.title)
    }

    /// What the component looks like at this stage.
    async fn text(&self) -> &'a str {
        self.view.text(&self.stage.text)
    }
}

pub struct ActivityObject<'a> {
    view: View<'a>,
    component: &'a Component,
    number: usize,
    activity: &'a model::Activity,
}

/// An activity rated in Q.2.
#[Object(name = "Activity")]
impl<'a> ActivityObject<'a> {
    /// The position in the component's list, from 1; the question id is
    /// `<component>/activity/<number>`.
    async fn number(&self) -> usize {
        self.number
    }

    /// The id of the question that rates it, `<component>/activity/<number>`.
    async fn question_id(&self) -> String {
        format!("{}/activity/{}", self.component.id, self.number)
    }

    /// The activity.
    async fn text(&self) -> &'a str {
        self.view.text(&self.activity.text)
    }
}

// --- drivers -------------------------------------------------------------------------

pub struct DriversObject<'a> {
    view: View<'a>,
    body: &'a Drivers,
}

/// Annex V with box 4: the drivers of the stages of development.
#[Object(name = "Drivers")]
impl<'a> DriversObject<'a> {
    /// The introductory text; null when there is none.
    async fn introduction(&self) -> Option<&'a str> {
        self.view.optional(self.body.introduction.as_ref())
    }

    /// The names annex V gives the five stages.
    async fn stages(&self) -> Vec<StageNameObject<'a>> {
        self.body
            .stages
            .iter()
            .map(|stage| StageNameObject {
                view: self.view.clone(),
                stage,
            })
            .collect()
    }

    /// The drivers in box 4 order.
    async fn drivers(&self) -> Vec<DriverObject<'a>> {
        self.body
            .drivers
            .iter()
            .map(|driver| DriverObject {
                view: self.view.clone(),
                stages: &self.body.stages,
                driver,
            })
            .collect()
    }
}

pub struct StageNameObject<'a> {
    view: View<'a>,
    stage: &'a StageName,
}

/// The name annex V gives a stage.
#[Object(name = "StageName")]
impl<'a> StageNameObject<'a> {
    /// The stage, 1 to 5.
    async fn stage(&self) -> u8 {
        self.stage.stage
    }

    /// The name, e.g. `Not started`.
    async fn name(&self) -> &'a str {
        self.view.text(&self.stage.name)
    }
}

pub struct DriverObject<'a> {
    view: View<'a>,
    stages: &'a [StageName],
    driver: &'a Driver,
}

/// A driver of the stages of development (box 4 and annex V).
#[Object(name = "Driver")]
impl<'a> DriverObject<'a> {
    /// The number in box 4, from 1.
    async fn number(&self) -> u8 {
        self.driver.number
    }

    /// The name in box 4.
    async fn name(&self) -> &'a str {
        self.view.text(&self.driver.name)
    }

    /// The focus given in parentheses in box 4, e.g. `content`.
    async fn focus(&self) -> &'a str {
        self.view.text(&self.driver.focus)
    }

    /// The key question that guides the reflection on a component.
    async fn key_question(&self) -> &'a str {
        self.view.text(&self.driver.key_question)
    }

    /// The annex V column heading.
    async fn column(&self) -> &'a str {
        self.view.text(&self.driver.column)
    }

    /// Ids of the components that show the driver in their stages.
    async fn components(&self) -> &'a [String] {
        &self.driver.components
    }

    /// The driver described at each stage, stage 1 first.
    async fn stages(&self) -> Vec<DriverStageObject<'a>> {
        self.driver
            .stages
            .iter()
            .map(|stage| DriverStageObject {
                view: self.view.clone(),
                name: self.stages.iter().find(|name| name.stage == stage.stage),
                stage,
            })
            .collect()
    }
}

pub struct DriverStageObject<'a> {
    view: View<'a>,
    name: Option<&'a StageName>,
    stage: &'a DriverStage,
}

/// A driver described at one stage.
#[Object(name = "DriverStage")]
impl<'a> DriverStageObject<'a> {
    /// The stage, 1 to 5.
    async fn stage(&self) -> u8 {
        self.stage.stage
    }

    /// The name annex V gives the stage, e.g. `Not started`; null if it names none.
    async fn name(&self) -> Option<&'a str> {
        self.name.map(|name| self.view.text(&name.name))
    }

    /// How the driver shows at this stage.
    async fn text(&self) -> &'a str {
        self.view.text(&self.stage.text)
    }
}

// --- questionnaire -------------------------------------------------------------------

pub struct QuestionnaireObject<'a> {
    view: View<'a>,
    body: &'a Questionnaire,
}

/// Sections of questions: the outcome protocol, the IOM learning sets and templates.
/// Texts that carry placeholders (section question and text, item text and help,
/// sub-questions) are rendered with the parameter values.
#[Object(name = "Questionnaire")]
impl<'a> QuestionnaireObject<'a> {
    /// The introductory text; null when there is none.
    async fn introduction(&self) -> Option<&'a str> {
        self.view.optional(self.body.introduction.as_ref())
    }

    /// The instructions; null when there are none.
    async fn instructions(&self) -> Option<&'a str> {
        self.view.optional(self.body.instructions.as_ref())
    }

    /// The values set per use (e.g. the period the questions refer to), with their
    /// defaults.
    async fn parameters(&self) -> Vec<ParameterObject<'a>> {
        self.body
            .parameters
            .iter()
            .map(|parameter| ParameterObject {
                view: self.view.clone(),
                parameter,
            })
            .collect()
    }

    /// The QCPR outcome areas that sections and other instruments refer to; empty when
    /// there are none.
    async fn outcome_areas(&self) -> Vec<OutcomeAreaObject<'a>> {
        self.body
            .outcome_areas
            .iter()
            .map(|area| OutcomeAreaObject {
                view: self.view.clone(),
                area,
            })
            .collect()
    }

    /// The sections in order.
    async fn sections(&self) -> Vec<SectionObject<'a>> {
        self.body
            .sections
            .iter()
            .map(|section| SectionObject {
                view: self.view.clone(),
                section,
            })
            .collect()
    }

    /// Guidance shown to people, never answered; empty when there is none.
    async fn guidance(&self) -> Vec<BlockObject<'a>> {
        blocks(&self.view, &self.body.guidance)
    }
}

pub struct ParameterObject<'a> {
    view: View<'a>,
    parameter: &'a Parameter,
}

/// A value set per use of a questionnaire; texts write it as `{id}` inside the square
/// brackets that mark the variable part.
#[Object(name = "Parameter")]
impl<'a> ParameterObject<'a> {
    /// The id, as written in the placeholders and given in `ParameterValue.id`.
    async fn id(&self) -> &'a str {
        &self.parameter.id
    }

    /// What the parameter is.
    async fn label(&self) -> &'a str {
        self.view.text(&self.parameter.label)
    }

    /// The value used when none is given, e.g. `the last period`.
    async fn default(&self) -> &'a str {
        self.view.text(&self.parameter.default)
    }
}

pub struct OutcomeAreaObject<'a> {
    view: View<'a>,
    area: &'a OutcomeArea,
}

/// An outcome area of the quadrennial comprehensive policy review (QCPR).
#[Object(name = "OutcomeArea")]
impl<'a> OutcomeAreaObject<'a> {
    /// The id, e.g. `qcpr-1`.
    async fn id(&self) -> &'a str {
        &self.area.id
    }

    /// The number as printed.
    async fn number(&self) -> u8 {
        self.area.number
    }

    /// The name.
    async fn name(&self) -> &'a str {
        self.view.text(&self.area.name)
    }

    /// The quoted wording of the resolution.
    async fn quote(&self) -> &'a str {
        self.view.text(&self.area.quote)
    }

    /// The paragraph of the resolution, e.g. `para. 164`.
    async fn reference(&self) -> &'a str {
        self.view.text(&self.area.reference)
    }

    /// The definition at area level; null where the source defines the area only in
    /// its sections.
    async fn definition(&self) -> Option<&'a str> {
        self.view.optional(self.area.definition.as_ref())
    }
}

pub struct SectionObject<'a> {
    view: View<'a>,
    section: &'a Section,
}

/// A section of a questionnaire.
#[Object(name = "Section")]
impl<'a> SectionObject<'a> {
    /// The id, unique in the instrument; question ids start with it.
    async fn id(&self) -> &'a str {
        &self.section.id
    }

    /// The title.
    async fn title(&self) -> &'a str {
        self.view.text(&self.section.title)
    }

    /// The overarching question of the section; null when there is none.
    async fn question(&self) -> Option<String> {
        self.section
            .question
            .as_ref()
            .map(|text| self.view.rendered(text))
    }

    /// The introduction of the section; null when there is none.
    async fn text(&self) -> Option<String> {
        self.section
            .text
            .as_ref()
            .map(|text| self.view.rendered(text))
    }

    /// The id of the outcome area the section assesses (see `outcomeAreas`); null when
    /// there is none.
    async fn outcome_area(&self) -> Option<&'a str> {
        self.section.outcome_area.as_deref()
    }

    /// The evaluation criterion the section covers; null when there is none.
    async fn criterion(&self) -> Option<Criterion> {
        self.section.criterion.map(Criterion::from)
    }

    /// The items in order.
    async fn items(&self) -> Vec<ItemObject<'a>> {
        self.section
            .items
            .iter()
            .map(|item| ItemObject {
                view: self.view.clone(),
                section: self.section,
                item,
            })
            .collect()
    }
}

pub struct ItemObject<'a> {
    view: View<'a>,
    section: &'a Section,
    item: &'a Item,
}

/// A question of a questionnaire with its answer fields.
#[Object(name = "QuestionnaireItem")]
impl<'a> ItemObject<'a> {
    /// The id, unique in the section.
    async fn id(&self) -> &'a str {
        &self.item.id
    }

    /// The id of the question that answers the item as a whole, `<section>/<item>`,
    /// when it has no fields; null when it is answered in its `fields`.
    async fn question_id(&self) -> Option<String> {
        self.item
            .fields
            .is_empty()
            .then(|| format!("{}/{}", self.section.id, self.item.id))
    }

    /// The number as printed; null for unnumbered items.
    async fn number(&self) -> Option<&'a str> {
        self.item.number.as_deref()
    }

    /// The question, with its placeholders rendered.
    async fn text(&self) -> String {
        self.view.rendered(&self.item.text)
    }

    /// Help shown on demand; null when there is none.
    async fn help(&self) -> Option<String> {
        self.item.help.as_ref().map(|help| self.view.rendered(help))
    }

    /// The evaluation criteria the item is tagged with.
    async fn criteria(&self) -> Vec<Criterion> {
        criteria(&self.item.criteria)
    }

    /// Prompts inside the item, answered in its fields.
    async fn sub_questions(&self) -> Vec<SubQuestionObject<'a>> {
        self.item
            .sub_questions
            .iter()
            .map(|sub| SubQuestionObject {
                view: self.view.clone(),
                sub,
            })
            .collect()
    }

    /// The answer fields; empty when the item takes one required long-text answer.
    async fn fields(&self) -> Vec<FieldObject<'a>> {
        self.item
            .fields
            .iter()
            .map(|field| FieldObject {
                view: self.view.clone(),
                question_id: format!("{}/{}/{}", self.section.id, self.item.id, field.id),
                field,
            })
            .collect()
    }
}

pub struct SubQuestionObject<'a> {
    view: View<'a>,
    sub: &'a SubQuestion,
}

/// A prompt inside a questionnaire item.
#[Object(name = "SubQuestion")]
impl<'a> SubQuestionObject<'a> {
    /// The prompt, with its placeholders rendered.
    async fn text(&self) -> String {
        self.view.rendered(&self.sub.text)
    }

    /// The evaluation criteria the prompt is tagged with.
    async fn criteria(&self) -> Vec<Criterion> {
        criteria(&self.sub.criteria)
    }
}

pub struct FieldObject<'a> {
    view: View<'a>,
    question_id: String,
    field: &'a Field,
}

/// An answer field of a questionnaire item; each field is one question.
#[Object(name = "AnswerField")]
impl<'a> FieldObject<'a> {
    /// The id, unique in the item.
    async fn id(&self) -> &'a str {
        &self.field.id
    }

    /// The id of the question the field is, `<section>/<item>/<field>`.
    async fn question_id(&self) -> &str {
        &self.question_id
    }

    /// The caption of the answer box.
    async fn label(&self) -> &'a str {
        self.view.text(&self.field.label)
    }

    /// What kind of answer the field takes.
    #[graphql(name = "type")]
    async fn field_type(&self) -> FieldType {
        self.field.field_type.into()
    }

    /// Whether an answer is needed before the response can be submitted.
    async fn required(&self) -> bool {
        self.field.required
    }
}

fn blocks<'a>(view: &View<'a>, blocks: &'a [Block]) -> Vec<BlockObject<'a>> {
    blocks
        .iter()
        .map(|block| BlockObject {
            view: view.clone(),
            block,
        })
        .collect()
}

pub struct BlockObject<'a> {
    view: View<'a>,
    block: &'a Block,
}

/// A titled block of prose.
#[Object(name = "TextBlock")]
impl<'a> BlockObject<'a> {
    /// The id, unique in its list.
    async fn id(&self) -> &'a str {
        &self.block.id
    }

    /// The title.
    async fn title(&self) -> &'a str {
        self.view.text(&self.block.title)
    }

    /// The text.
    async fn text(&self) -> &'a str {
        self.view.text(&self.block.text)
    }
}

// --- validation guide ----------------------------------------------------------------

pub struct ValidationGuideObject<'a> {
    view: View<'a>,
    body: &'a ValidationGuide,
}

/// Annex IX parts 2 and 3: how validators check a self-assessment.
#[Object(name = "ValidationGuide")]
impl<'a> ValidationGuideObject<'a> {
    /// The introductory text; null when there is none.
    async fn introduction(&self) -> Option<&'a str> {
        self.view.optional(self.body.introduction.as_ref())
    }

    /// Prose blocks in source order.
    async fn sections(&self) -> Vec<BlockObject<'a>> {
        blocks(&self.view, &self.body.sections)
    }

    /// The concerns of the validation interview, in order.
    async fn concerns(&self) -> Vec<ConcernObject<'a>> {
        self.body
            .concerns
            .iter()
            .map(|concern| ConcernObject {
                view: self.view.clone(),
                concern,
            })
            .collect()
    }

    /// The layout of the summary sheet.
    async fn summary_sheet(&self) -> SummarySheetObject<'a> {
        SummarySheetObject {
            view: self.view.clone(),
            sheet: &self.body.summary_sheet,
        }
    }
}

pub struct ConcernObject<'a> {
    view: View<'a>,
    concern: &'a Concern,
}

/// A concern of the validation interview.
#[Object(name = "ValidationConcern")]
impl<'a> ConcernObject<'a> {
    /// The id, e.g. `internal-validity`.
    async fn id(&self) -> &'a str {
        &self.concern.id
    }

    /// The number as printed.
    async fn number(&self) -> u8 {
        self.concern.number
    }

    /// The title.
    async fn title(&self) -> &'a str {
        self.view.text(&self.concern.title)
    }

    /// The text; null when the concern has only points.
    async fn text(&self) -> Option<&'a str> {
        self.view.optional(self.concern.text.as_ref())
    }

    /// The points, in order.
    async fn points(&self) -> Vec<&'a str> {
        self.concern
            .points
            .iter()
            .map(|point| self.view.text(&point.text))
            .collect()
    }
}

pub struct SummarySheetObject<'a> {
    view: View<'a>,
    sheet: &'a SummarySheet,
}

/// Annex IX part 2: the summary sheet, one row per component.
#[Object(name = "SummarySheet")]
impl<'a> SummarySheetObject<'a> {
    /// The title.
    async fn title(&self) -> &'a str {
        self.view.text(&self.sheet.title)
    }

    /// The column headings as printed.
    async fn columns(&self) -> Vec<&'a str> {
        self.view.texts(&self.sheet.columns)
    }

    /// One row per component, in order.
    async fn rows(&self) -> Vec<SummaryRowObject<'a>> {
        self.sheet
            .rows
            .iter()
            .map(|row| SummaryRowObject {
                view: self.view.clone(),
                row,
            })
            .collect()
    }
}

pub struct SummaryRowObject<'a> {
    view: View<'a>,
    row: &'a SummaryRow,
}

/// A row of the summary sheet.
#[Object(name = "SummaryRow")]
impl<'a> SummaryRowObject<'a> {
    /// The pillar number.
    async fn pillar(&self) -> u8 {
        self.row.pillar
    }

    /// The pillar as printed in the sheet.
    async fn pillar_label(&self) -> &'a str {
        self.view.text(&self.row.pillar_label)
    }

    /// The component id in the stage questionnaire.
    async fn component(&self) -> &'a str {
        &self.row.component
    }

    /// The component as printed in the sheet.
    async fn component_label(&self) -> &'a str {
        self.view.text(&self.row.component_label)
    }
}

// --- outcome map ---------------------------------------------------------------------

pub struct OutcomeMapObject<'a> {
    view: View<'a>,
    body: &'a OutcomeMap,
}

/// Annex III: pillars and components linked to outcomes and QCPR outcome areas.
#[Object(name = "OutcomeMap")]
impl<'a> OutcomeMapObject<'a> {
    /// The QCPR outcomes annex III lists.
    async fn qcpr_outcomes(&self) -> Vec<QcprOutcomeObject<'a>> {
        self.body
            .qcpr_outcomes
            .iter()
            .map(|outcome| QcprOutcomeObject {
                view: self.view.clone(),
                outcome,
            })
            .collect()
    }

    /// The outcomes of each pillar.
    async fn pillars(&self) -> Vec<PillarOutcomesObject<'a>> {
        self.body
            .pillars
            .iter()
            .map(|pillar| PillarOutcomesObject {
                view: self.view.clone(),
                pillar,
            })
            .collect()
    }

    /// The outcomes of each component.
    async fn components(&self) -> Vec<ComponentOutcomesObject<'a>> {
        self.body
            .components
            .iter()
            .map(|component| ComponentOutcomesObject {
                view: self.view.clone(),
                component,
            })
            .collect()
    }
}

pub struct QcprOutcomeObject<'a> {
    view: View<'a>,
    outcome: &'a QcprOutcome,
}

/// A QCPR outcome as annex III words it.
#[Object(name = "QcprOutcome")]
impl<'a> QcprOutcomeObject<'a> {
    /// The id, e.g. `para-164`.
    async fn id(&self) -> &'a str {
        &self.outcome.id
    }

    /// The wording.
    async fn text(&self) -> &'a str {
        self.view.text(&self.outcome.text)
    }

    /// The paragraph, e.g. `para. 164`.
    async fn reference(&self) -> &'a str {
        self.view.text(&self.outcome.reference)
    }

    /// The id of the matching outcome area of the outcome protocol; null when there is
    /// none.
    async fn outcome_area(&self) -> Option<&'a str> {
        self.outcome.outcome_area.as_deref()
    }
}

pub struct PillarOutcomesObject<'a> {
    view: View<'a>,
    pillar: &'a model::PillarOutcomes,
}

/// The outcomes annex III links to a pillar.
#[Object(name = "PillarOutcomes")]
impl<'a> PillarOutcomesObject<'a> {
    /// The pillar number.
    async fn pillar(&self) -> u8 {
        self.pillar.pillar
    }

    /// The expected outcomes.
    async fn expected_outcomes(&self) -> Vec<&'a str> {
        self.view.texts(&self.pillar.expected_outcomes)
    }

    /// Ids of the linked QCPR outcomes (see `qcprOutcomes`).
    async fn qcpr_outcomes(&self) -> &'a [String] {
        &self.pillar.qcpr_outcomes
    }
}

pub struct ComponentOutcomesObject<'a> {
    view: View<'a>,
    component: &'a model::ComponentOutcomes,
}

/// The outcomes annex III links to a component.
#[Object(name = "ComponentOutcomes")]
impl<'a> ComponentOutcomesObject<'a> {
    /// The component id in the stage questionnaire.
    async fn component(&self) -> &'a str {
        &self.component.component
    }

    /// The indicative outcomes.
    async fn indicative_outcomes(&self) -> Vec<&'a str> {
        self.view.texts(&self.component.indicative_outcomes)
    }

    /// Ids of the linked QCPR outcomes (see `qcprOutcomes`).
    async fn qcpr_outcomes(&self) -> &'a [String] {
        &self.component.qcpr_outcomes
    }

    /// Ids of the linked outcome areas of the outcome protocol.
    async fn outcome_areas(&self) -> &'a [String] {
        &self.component.outcome_areas
    }
}
