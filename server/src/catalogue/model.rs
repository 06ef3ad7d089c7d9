//! The typed form of the instrument files described in `questionnaires/README.md`.
//!
//! These structs mirror the file format one to one: every table rejects keys it does not
//! know, so a typo in a data file is an error and never a silently missing text. They are
//! read-only once loaded; the catalogue hands out shared references only. Cross-field and
//! cross-instrument rules live in `validate.rs`, not here.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::text::{LanguageCode, Text};

/// The kinds of instrument the catalogue knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum InstrumentKind {
    /// Annex IX part 1: pillars, components, stages, Q.1 and Q.2.
    StageQuestionnaire,
    /// Annex V with box 4: drivers described at each stage.
    Drivers,
    /// Sections of questions: the outcome protocol, the IOM sets and templates.
    Questionnaire,
    /// Annex IX parts 2 and 3: validation concerns and the summary sheet.
    ValidationGuide,
    /// Annex III: pillars and components linked to outcomes and QCPR outcome areas.
    OutcomeMap,
}

impl InstrumentKind {
    /// The kind as written in the files.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::StageQuestionnaire => "stage-questionnaire",
            Self::Drivers => "drivers",
            Self::Questionnaire => "questionnaire",
            Self::ValidationGuide => "validation-guide",
            Self::OutcomeMap => "outcome-map",
        }
    }
}

/// Who an instrument is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Audience {
    /// The RBM focal point leading an organisation's self-assessment.
    RbmFocalPoint,
    /// A senior manager answering the outcome protocol.
    SeniorManager,
    /// A validator (JIU, evaluation or audit unit, peers).
    Validator,
    /// A participant of a real-time learning activity.
    LearningParticipant,
    /// The facilitator or reviewer of a learning activity.
    Facilitator,
    /// An administrator or secretariat.
    Administrator,
}

/// Whose response an instrument collects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResponseMode {
    /// One consolidated response per organisation, edited by its focal points.
    PerOrganisation,
    /// One response per respondent.
    PerRespondent,
    /// Guidance only, never answered.
    Reference,
}

/// An instrument id and version, written `id@version`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InstrumentRef {
    /// The instrument id, e.g. `jiu-rbm-stages`.
    pub id: String,
    /// The version, from 1.
    pub version: u32,
}

impl InstrumentRef {
    /// Parses `id@version`.
    ///
    /// # Errors
    /// Returns a message when the text is not of that form.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (id, version) = text
            .split_once('@')
            .ok_or_else(|| format!("`{text}` is not of the form id@version"))?;
        if !is_kebab_id(id) {
            return Err(format!(
                "`{id}` is not an instrument id (lowercase kebab-case)"
            ));
        }
        let version = version
            .parse::<u32>()
            .ok()
            .filter(|v| *v > 0)
            .ok_or_else(|| format!("`{version}` is not a version (a positive integer)"))?;
        Ok(Self {
            id: id.to_owned(),
            version,
        })
    }
}

impl fmt::Display for InstrumentRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.id, self.version)
    }
}

/// Whether `id` is lowercase kebab-case: letters, digits and single inner hyphens.
pub fn is_kebab_id(id: &str) -> bool {
    !id.is_empty()
        && !id.starts_with('-')
        && !id.ends_with('-')
        && !id.contains("--")
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The `[instrument]` table every file starts with.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// Lowercase kebab-case id, equal to the folder name.
    pub id: String,
    /// Version, equal to the file name `v<version>.toml`.
    pub version: u32,
    /// What kind of instrument the file holds.
    pub kind: InstrumentKind,
    /// Title shown to people.
    pub title: Text,
    /// Who the instrument is for.
    pub audience: Vec<Audience>,
    /// Whose response it collects.
    pub response_mode: ResponseMode,
    /// Language of the untagged texts.
    pub language: LanguageCode,
    /// Other instruments this one points into, as `id@version`.
    #[serde(default)]
    pub references: Vec<String>,
    /// Where the instrument comes from.
    pub source: Source,
}

/// Where an instrument was transcribed from.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// The published document.
    pub document: String,
    /// The annex or part of the document.
    pub part: String,
    /// Page range in the published document.
    pub pages: String,
    /// File name of the text conversion the transcription was made from.
    pub seed: String,
    /// Line range in that file.
    pub seed_lines: String,
}

/// A transcription decision.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Note {
    /// What the note concerns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub about: Option<String>,
    /// The decision and its reason.
    pub text: String,
}

// --- stage questionnaire -------------------------------------------------------------

/// Annex IX part 1: the stage questionnaire.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StageQuestionnaire {
    /// The instrument's preamble.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introduction: Option<Text>,
    /// Q.1, asked for every component.
    pub stage_question: StageQuestion,
    /// Q.2, asked for every component.
    pub activity_question: ActivityQuestion,
    /// The pillars in order.
    pub pillars: Vec<Pillar>,
}

impl StageQuestionnaire {
    /// Every component in pillar order.
    pub fn components(&self) -> impl Iterator<Item = &Component> {
        self.pillars.iter().flat_map(|p| p.components.iter())
    }

    /// The component with `id`, e.g. `2.3`.
    pub fn component(&self, id: &str) -> Option<&Component> {
        self.components().find(|c| c.id == id)
    }
}

/// Q.1: assessment of the stage and evidence for it.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StageQuestion {
    /// The heading as printed.
    pub heading: Text,
    /// The instructions.
    pub instructions: Text,
    /// The instruction not to average across indicators.
    pub warning: Text,
    /// The pointer to the drivers of annex V.
    pub drivers_pointer: Text,
    /// Items 1.1–1.5.
    pub items: Vec<StageQuestionItem>,
}

/// The five items of Q.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StageItemId {
    /// 1.1 select the stage.
    Stage,
    /// 1.2 rationale.
    Rationale,
    /// 1.3 evidence.
    Evidence,
    /// 1.4 comments.
    Comments,
    /// 1.5 future plans.
    Plans,
}

impl StageItemId {
    /// The items in the order of the instrument.
    pub const ALL: [Self; 5] = [
        Self::Stage,
        Self::Rationale,
        Self::Evidence,
        Self::Comments,
        Self::Plans,
    ];

    /// The id as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stage => "stage",
            Self::Rationale => "rationale",
            Self::Evidence => "evidence",
            Self::Comments => "comments",
            Self::Plans => "plans",
        }
    }
}

/// One item of Q.1.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StageQuestionItem {
    /// Which item.
    pub id: StageItemId,
    /// Number as printed, e.g. `1.3`.
    pub number: String,
    /// The question.
    pub text: Text,
    /// Whether an answer is needed to submit.
    pub required: bool,
}

/// Q.2: activities rated 1–3.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ActivityQuestion {
    /// The heading as printed.
    pub heading: Text,
    /// The instructions.
    pub instructions: Text,
    /// Heading of the rows where the organisation names its own activities.
    pub other_heading: Text,
    /// Number of named rows the printed form offers.
    pub other_rows: u8,
    /// The rating scale, 1 to 3.
    pub scale: Vec<ScalePoint>,
}

/// One point of a rating scale.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScalePoint {
    /// The value.
    pub value: u8,
    /// What it means.
    pub label: Text,
}

/// A pillar of the benchmarking framework.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Pillar {
    /// Number from 1.
    pub number: u8,
    /// Name.
    pub name: Text,
    /// The broad management function (table 2).
    pub management_function: Text,
    /// Names used for the pillar elsewhere in the source.
    #[serde(default)]
    pub aliases: Vec<Text>,
    /// Its components in order.
    pub components: Vec<Component>,
}

/// A component of a pillar.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Component {
    /// `<pillar>.<n>`, e.g. `1.1`.
    pub id: String,
    /// Name.
    pub name: Text,
    /// Names used for the component elsewhere in the source.
    #[serde(default)]
    pub aliases: Vec<Text>,
    /// Description.
    pub description: Text,
    /// Output quality.
    pub output_quality: Text,
    /// The sentence that introduces the indicators, where the source prints one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub indicators_intro: Option<Text>,
    /// Performance indicators.
    pub indicators: Vec<Indicator>,
    /// The five stages.
    pub stages: Vec<StageDescriptor>,
    /// Q.2 instructions where the component's own wording differs from the common one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity_instructions: Option<Text>,
    /// Activities rated in Q.2; may be empty where the source lists none (5.1, 5.2) and
    /// only asks for the organisation's own.
    #[serde(default)]
    pub activities: Vec<Activity>,
}

/// A performance indicator.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Indicator {
    /// The indicator.
    pub text: Text,
    /// Marked `*` in the source: part of the 2004 JIU framework.
    #[serde(default)]
    pub jiu2004: bool,
    /// A sentence printed before this indicator that introduces it and the ones after it,
    /// where a component has a second list (3.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intro: Option<Text>,
}

/// A stage of development of one component.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StageDescriptor {
    /// 1 to 5.
    pub stage: u8,
    /// Title, e.g. `Not started`.
    pub title: Text,
    /// The descriptor.
    pub text: Text,
}

/// An activity rated in Q.2.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Activity {
    /// The activity.
    pub text: Text,
}

// --- drivers -------------------------------------------------------------------------

/// Annex V with box 4.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Drivers {
    /// Introductory text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introduction: Option<Text>,
    /// The stage names annex V uses.
    pub stages: Vec<StageName>,
    /// The drivers in box 4 order.
    pub drivers: Vec<Driver>,
}

/// A stage name.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StageName {
    /// 1 to 5.
    pub stage: u8,
    /// Name.
    pub name: Text,
}

/// One driver of the stages of development.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Driver {
    /// Box 4 numbering.
    pub number: u8,
    /// Name.
    pub name: Text,
    /// The focus in parentheses in box 4.
    pub focus: Text,
    /// The key question.
    pub key_question: Text,
    /// The annex V column heading.
    pub column: Text,
    /// Components showing the driver in the stages.
    pub components: Vec<String>,
    /// The driver at each stage.
    pub stages: Vec<DriverStage>,
}

/// A driver described at one stage.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DriverStage {
    /// 1 to 5.
    pub stage: u8,
    /// The description.
    pub text: Text,
}

// --- questionnaire -------------------------------------------------------------------

/// Sections of questions.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Questionnaire {
    /// Introductory text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introduction: Option<Text>,
    /// Instructions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<Text>,
    /// Values set per use, e.g. the period.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<Parameter>,
    /// Outcome areas that sections and other instruments refer to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outcome_areas: Vec<OutcomeArea>,
    /// The sections in order.
    pub sections: Vec<Section>,
    /// Guidance, never answered.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub guidance: Vec<Block>,
}

impl Questionnaire {
    /// The outcome area with `id`.
    pub fn outcome_area(&self, id: &str) -> Option<&OutcomeArea> {
        self.outcome_areas.iter().find(|a| a.id == id)
    }
}

/// A value set per use of an instrument.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Parameter {
    /// Placeholder name.
    pub id: String,
    /// What it is.
    pub label: Text,
    /// Value when none is set.
    pub default: Text,
}

/// An outcome area of the quadrennial comprehensive policy review.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OutcomeArea {
    /// Id, e.g. `qcpr-1`.
    pub id: String,
    /// Number as printed.
    pub number: u8,
    /// Name.
    pub name: Text,
    /// The quoted resolution wording.
    pub quote: Text,
    /// Paragraph of the resolution.
    pub reference: Text,
    /// Definition at area level; absent where the source defines the area only in its
    /// sections (outcome 4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub definition: Option<Text>,
}

/// A section of a questionnaire.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Section {
    /// Id, unique in the instrument.
    pub id: String,
    /// Title.
    pub title: Text,
    /// Overarching question of the section.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub question: Option<Text>,
    /// Introduction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<Text>,
    /// The outcome area the section assesses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome_area: Option<String>,
    /// The evaluation criterion the section covers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub criterion: Option<Criterion>,
    /// Items in order.
    pub items: Vec<Item>,
}

/// Evaluation criteria (OECD-DAC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
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

/// A question with its answer fields.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Item {
    /// Id, unique in the section.
    pub id: String,
    /// Number as printed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    /// The question.
    pub text: Text,
    /// Help shown on demand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help: Option<Text>,
    /// Criteria tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub criteria: Vec<Criterion>,
    /// Prompts inside the item, answered in its fields.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sub_questions: Vec<SubQuestion>,
    /// Answer fields; none means one required long-text answer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<Field>,
}

/// A prompt inside an item.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SubQuestion {
    /// The prompt.
    pub text: Text,
    /// Criteria tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub criteria: Vec<Criterion>,
}

/// An answer field of an item.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Field {
    /// Id, unique in the item.
    pub id: String,
    /// Caption of the answer box.
    pub label: Text,
    /// What kind of answer.
    #[serde(rename = "type")]
    pub field_type: FieldType,
    /// Whether an answer is needed to submit.
    #[serde(default = "yes")]
    pub required: bool,
}

fn yes() -> bool {
    true
}

/// The kinds of answer a questionnaire field takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
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

/// A titled block of prose.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Block {
    /// Id, unique in its list.
    pub id: String,
    /// Title.
    pub title: Text,
    /// Text.
    pub text: Text,
}

// --- validation guide ----------------------------------------------------------------

/// Annex IX parts 2 and 3.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ValidationGuide {
    /// Introductory text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introduction: Option<Text>,
    /// Prose blocks in source order.
    #[serde(default)]
    pub sections: Vec<Block>,
    /// The interview concerns.
    pub concerns: Vec<Concern>,
    /// The summary sheet layout.
    pub summary_sheet: SummarySheet,
}

/// A concern of the validation interview.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Concern {
    /// Id.
    pub id: String,
    /// Number as printed.
    pub number: u8,
    /// Title.
    pub title: Text,
    /// Text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<Text>,
    /// Points.
    #[serde(default)]
    pub points: Vec<Point>,
}

/// A point of a concern.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Point {
    /// The point.
    pub text: Text,
}

/// Annex IX part 2.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SummarySheet {
    /// Title.
    pub title: Text,
    /// Column headings as printed.
    pub columns: Vec<Text>,
    /// One row per component.
    pub rows: Vec<SummaryRow>,
}

/// A row of the summary sheet.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SummaryRow {
    /// Pillar number.
    pub pillar: u8,
    /// Pillar as printed in the sheet.
    pub pillar_label: Text,
    /// Component id in the stage questionnaire.
    pub component: String,
    /// Component as printed in the sheet.
    pub component_label: Text,
}

// --- outcome map ---------------------------------------------------------------------

/// Annex III.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OutcomeMap {
    /// The QCPR outcome areas annex III lists.
    pub qcpr_outcomes: Vec<QcprOutcome>,
    /// Per pillar.
    pub pillars: Vec<PillarOutcomes>,
    /// Per component.
    pub components: Vec<ComponentOutcomes>,
}

impl OutcomeMap {
    /// The mapping of component `id`.
    pub fn component(&self, id: &str) -> Option<&ComponentOutcomes> {
        self.components.iter().find(|c| c.component == id)
    }
}

/// A QCPR outcome as annex III words it.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct QcprOutcome {
    /// Id, e.g. `para-164`.
    pub id: String,
    /// Wording.
    pub text: Text,
    /// Paragraph.
    pub reference: Text,
    /// Matching outcome-protocol area.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome_area: Option<String>,
}

/// Outcomes of a pillar.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PillarOutcomes {
    /// Pillar number.
    pub pillar: u8,
    /// Expected outcomes.
    pub expected_outcomes: Vec<Text>,
    /// Linked QCPR outcomes.
    #[serde(default)]
    pub qcpr_outcomes: Vec<String>,
}

/// Outcomes of a component.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ComponentOutcomes {
    /// Component id.
    pub component: String,
    /// Indicative outcomes.
    pub indicative_outcomes: Vec<Text>,
    /// Linked QCPR outcomes.
    #[serde(default)]
    pub qcpr_outcomes: Vec<String>,
    /// Linked outcome-protocol areas.
    #[serde(default)]
    pub outcome_areas: Vec<String>,
}

// --- files ---------------------------------------------------------------------------

/// The body of an instrument, by kind.
#[expect(
    clippy::large_enum_variant,
    reason = "one body per instrument version, built once at start"
)]
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Body {
    /// Annex IX part 1.
    StageQuestionnaire(StageQuestionnaire),
    /// Annex V.
    Drivers(Drivers),
    /// Sections of questions.
    Questionnaire(Questionnaire),
    /// Annex IX parts 2 and 3.
    ValidationGuide(ValidationGuide),
    /// Annex III.
    OutcomeMap(OutcomeMap),
}

macro_rules! instrument_file {
    ($name:ident, $body:ident, { $($field:ident : $ty:ty),* $(,)? }) => {
        #[derive(Debug, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub(super) struct $name {
            pub(super) instrument: Header,
            #[serde(default)]
            pub(super) notes: Vec<Note>,
            $(pub(super) $field: $ty,)*
        }

        impl $name {
            pub(super) fn into_parts(self) -> (Header, Vec<Note>, Body) {
                (self.instrument, self.notes, Body::$body($body { $($field: self.$field,)* }))
            }
        }
    };
}

instrument_file!(StageQuestionnaireFile, StageQuestionnaire, {
    introduction: Option<Text>,
    stage_question: StageQuestion,
    activity_question: ActivityQuestion,
    pillars: Vec<Pillar>,
});

/// Files of the kinds whose body has optional parts get serde defaults through these
/// wrappers, so that the macro above stays one shape.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DriversFile {
    pub(super) instrument: Header,
    #[serde(default)]
    pub(super) notes: Vec<Note>,
    #[serde(default)]
    pub(super) introduction: Option<Text>,
    pub(super) stages: Vec<StageName>,
    pub(super) drivers: Vec<Driver>,
}

impl DriversFile {
    pub(super) fn into_parts(self) -> (Header, Vec<Note>, Body) {
        let body = Drivers {
            introduction: self.introduction,
            stages: self.stages,
            drivers: self.drivers,
        };
        (self.instrument, self.notes, Body::Drivers(body))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct QuestionnaireFile {
    pub(super) instrument: Header,
    #[serde(default)]
    pub(super) notes: Vec<Note>,
    #[serde(default)]
    pub(super) introduction: Option<Text>,
    #[serde(default)]
    pub(super) instructions: Option<Text>,
    #[serde(default)]
    pub(super) parameters: Vec<Parameter>,
    #[serde(default)]
    pub(super) outcome_areas: Vec<OutcomeArea>,
    pub(super) sections: Vec<Section>,
    #[serde(default)]
    pub(super) guidance: Vec<Block>,
}

impl QuestionnaireFile {
    pub(super) fn into_parts(self) -> (Header, Vec<Note>, Body) {
        let body = Questionnaire {
            introduction: self.introduction,
            instructions: self.instructions,
            parameters: self.parameters,
            outcome_areas: self.outcome_areas,
            sections: self.sections,
            guidance: self.guidance,
        };
        (self.instrument, self.notes, Body::Questionnaire(body))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ValidationGuideFile {
    pub(super) instrument: Header,
    #[serde(default)]
    pub(super) notes: Vec<Note>,
    #[serde(default)]
    pub(super) introduction: Option<Text>,
    #[serde(default)]
    pub(super) sections: Vec<Block>,
    pub(super) concerns: Vec<Concern>,
    pub(super) summary_sheet: SummarySheet,
}

impl ValidationGuideFile {
    pub(super) fn into_parts(self) -> (Header, Vec<Note>, Body) {
        let body = ValidationGuide {
            introduction: self.introduction,
            sections: self.sections,
            concerns: self.concerns,
            summary_sheet: self.summary_sheet,
        };
        (self.instrument, self.notes, Body::ValidationGuide(body))
    }
}

instrument_file!(OutcomeMapFile, OutcomeMap, {
    qcpr_outcomes: Vec<QcprOutcome>,
    pillars: Vec<PillarOutcomes>,
    components: Vec<ComponentOutcomes>,
});

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn instrument_ref_round_trips() {
        let parsed = InstrumentRef::parse("jiu-rbm-stages@1").expect("valid");
        assert_eq!(parsed.id, "jiu-rbm-stages");
        assert_eq!(parsed.version, 1);
        assert_eq!(parsed.to_string(), "jiu-rbm-stages@1");
    }

    #[test]
    fn instrument_ref_rejects_malformed() {
        for bad in [
            "jiu-rbm-stages",
            "@1",
            "Jiu@1",
            "x@0",
            "x@-1",
            "x@one",
            "x--y@1",
        ] {
            assert!(InstrumentRef::parse(bad).is_err(), "{bad} accepted");
        }
    }

    proptest! {
        #[test]
        fn kebab_ids_never_contain_other_characters(id in "\\PC{0,12}") {
            if is_kebab_id(&id) {
                prop_assert!(id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
                prop_assert!(!id.starts_with('-') && !id.ends_with('-'));
            }
        }
    }
}
