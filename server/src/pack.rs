//! The validation interview pack of one organisation in one round: the model
//! ([`ValidationPack`]) and its three renderings, HTML for print on A4, Markdown and
//! JSON, all from the same model.
//!
//! The model is filled by `service::pack` from the profile, the round matrix, the
//! organisation's answers and the catalogue; this module computes nothing and does no
//! IO. HTML and Markdown come from the handlebars templates under `server/templates/`
//! (compiled into the binary), JSON is the model serialised, so the three carry the same
//! content. Every text is escaped for its format: HTML by handlebars' HTML escaping,
//! Markdown by [`markdown_escape`] and the `cell` helper for table cells. The one text
//! written unescaped is the configuration chart, SVG made by `crate::charts`, which
//! escapes every label itself.
//!
//! The model's field names are the published JSON format (`stagewise.validation-pack`,
//! [`VERSION`]): fields may be added, none renamed or removed without raising the
//! version. Lists keep a stable order (components in instrument order, people by role
//! then id, flags in the profile's order), so the same data always gives the same
//! document.

use handlebars::{
    Context, Handlebars, Helper, HelperResult, Output, RenderContext, RenderError,
    RenderErrorReason,
};
use serde::Serialize;

/// The value of [`ValidationPack::format`].
pub const FORMAT: &str = "stagewise.validation-pack";
/// The value of [`ValidationPack::version`].
pub const VERSION: u32 = 1;

/// How many senior managers the method asks to interview, at least (JIU/NOTE/2017/1,
/// paragraph 69).
pub const SENIOR_MANAGER_TARGET: usize = 5;

/// Paragraph 69 of JIU/NOTE/2017/1, the sentence that sets the number of senior managers
/// to interview, word for word.
pub const SENIOR_MANAGER_TARGET_SOURCE: &str = "In that regard, focused and semi-structured interviews are conducted separately with at least five senior managers who actually make decisions at the corporate level in the areas identified in the quadrennial comprehensive policy review.";

/// A validation interview pack.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ValidationPack {
    /// Always [`FORMAT`].
    pub format: &'static str,
    /// Always [`VERSION`].
    pub version: u32,
    /// The cover page.
    pub cover: Cover,
    /// Annex IX part 2 with the pillar stages.
    pub summary_sheet: SummarySheet,
    /// The configuration chart.
    pub chart: Chart,
    /// Every consistency flag, in the profile's order (components, then pillars, then
    /// the whole profile).
    pub flags: Vec<PackFlag>,
    /// The components in instrument order.
    pub components: Vec<PackComponent>,
    /// External validity: the organisation against its peers.
    pub external_validity: ExternalValidity,
    /// The system-wide dimension: pillar 5 and every stage-5 claim.
    pub system_wide: SystemWide,
    /// The senior managers' outcome-protocol answers.
    pub outcomes: Outcomes,
    /// The two interview guides.
    pub guides: Guides,
    /// The validator's worksheet.
    pub worksheet: Worksheet,
}

// --- cover ---------------------------------------------------------------------------

/// The cover page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cover {
    /// The pack's title.
    pub title: String,
    /// The organisation.
    pub organisation: OrganisationInfo,
    /// The round.
    pub round: RoundInfo,
    /// The stage questionnaire answered, `id@version`.
    pub instrument: String,
    /// The people of the organisation assigned in the round, by role then id.
    pub people: Vec<PackPerson>,
    /// The dates that matter.
    pub dates: Dates,
    /// How complete the self-assessment is.
    pub completion: Completion,
    /// How far the validation has got.
    pub validation: ValidationInfo,
}

/// The organisation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrganisationInfo {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its acronym, if any.
    pub acronym: Option<String>,
}

/// The round.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoundInfo {
    /// Its id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// Its status: `draft`, `open`, `closed`, `in-validation`, `validated`.
    pub status: &'static str,
}

/// A person assigned to the organisation in the round (names and roles only: the pack
/// carries no email address).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PackPerson {
    /// Their id.
    pub id: String,
    /// Their name.
    pub name: String,
    /// Their role, in words: `focal point`, `senior manager`, `independent rater`,
    /// `learning participant`.
    pub role: &'static str,
    /// The outcome areas a senior manager judges, by name; empty for other roles (and
    /// for a senior manager assigned to every area).
    pub outcome_areas: Vec<String>,
}

/// Dates, RFC 3339 in UTC.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Dates {
    /// When answering was due.
    pub deadline: Option<String>,
    /// When the self-assessment was submitted; `null` while it is a draft.
    pub submitted_at: Option<String>,
    /// When the self-assessment last changed.
    pub last_answer_at: Option<String>,
    /// When the pack was prepared.
    pub prepared_at: String,
}

/// How complete the self-assessment is.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Completion {
    /// Whether the self-assessment is submitted.
    pub submitted: bool,
    /// Components with a self-assessed stage.
    pub components_answered: usize,
    /// Components in the questionnaire.
    pub components: usize,
    /// Required items answered (stage, rationale, evidence).
    pub required_answered: usize,
    /// Required items.
    pub required: usize,
}

/// How far the organisation's validation has got.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ValidationInfo {
    /// `not-started`, `in-validation` or `validated`.
    pub status: &'static str,
    /// Components with a validated stage.
    pub validated_components: usize,
    /// The sign-off, once given.
    pub sign_off: Option<PackSignOff>,
}

/// The sign-off of the validation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PackSignOff {
    /// Who signed off (the token's label).
    pub validator: String,
    /// When.
    pub at: String,
    /// The note given.
    pub note: String,
}

// --- summary sheet and chart ----------------------------------------------------------

/// Annex IX part 2 as printed, with this organisation's stages.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SummarySheet {
    /// The sheet's title as printed.
    pub title: String,
    /// Its four column headings as printed.
    pub columns: [String; 4],
    /// Whether any component has a validated stage (the sheet then shows a column for
    /// it).
    pub has_validated: bool,
    /// The pillars in the sheet's order.
    pub pillars: Vec<crate::export::SummaryPillar>,
    /// The overall pattern, e.g. `3-4-3-3-3`.
    pub pattern: String,
    /// Notes under the table: the pillar rule, each pillar's range, a draft's warning.
    pub notes: Vec<String>,
}

/// The configuration chart.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Chart {
    /// Its title.
    pub title: String,
    /// The SVG document (the same as the chart download).
    pub svg: String,
    /// What it shows, component by component, for formats without pictures.
    pub rows: Vec<ChartRow>,
}

/// One bar of the configuration chart.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChartRow {
    /// The pillar's number.
    pub pillar: u8,
    /// The component id.
    pub component: String,
    /// The component's name.
    pub name: String,
    /// The self-assessed stage.
    pub stage: Option<u8>,
    /// The validated stage.
    pub validated_stage: Option<u8>,
}

// --- flags and components --------------------------------------------------------------

/// A consistency flag with its interview prompt.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PackFlag {
    /// The stable code, e.g. `EVIDENCE_MISSING`.
    pub code: &'static str,
    /// Where: a component id, `Pillar <n>`, or `Whole profile`.
    pub about: String,
    /// What triggered it.
    pub trigger: String,
    /// The items concerned (unanswered question ids, components at a pillar's extremes).
    pub items: Vec<String>,
    /// The annex IX part 3 concern and point, e.g. `Internal validity in rating, point
    /// 1`; `null` when the catalogue has no validation guide.
    pub prompt_source: Option<String>,
    /// The point's text, word for word.
    pub prompt: Option<String>,
}

/// One component, as the focal points answered it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PackComponent {
    /// The id, e.g. `2.3`.
    pub id: String,
    /// The name.
    pub name: String,
    /// The pillar's number.
    pub pillar: u8,
    /// The pillar's name.
    pub pillar_name: String,
    /// The self-assessed stage; `null` when unanswered.
    pub stage: Option<u8>,
    /// The title of that stage's descriptor, e.g. `Not started`.
    pub stage_title: Option<String>,
    /// The descriptor of that stage for this component, word for word.
    pub stage_descriptor: Option<String>,
    /// The validator's judgement, once recorded.
    pub validated: Option<PackValidated>,
    /// Q.1.2, the rationale.
    pub rationale: Option<String>,
    /// Q.1.3, the evidence, as listed.
    pub evidence: Vec<PackEvidence>,
    /// Q.1.4, the comments.
    pub comments: Option<String>,
    /// Q.1.5, the future plans.
    pub plans: Option<String>,
    /// Q.2, the listed activities with their ratings.
    pub activities: Vec<PackActivity>,
    /// Q.2, the organisation's own activities with their ratings.
    pub other_activities: Vec<PackActivity>,
    /// The mean of all ratings, two decimals; `null` without ratings.
    pub activity_mean: Option<String>,
    /// Required items unanswered (question ids).
    pub missing: Vec<String>,
    /// The independent raters' stages, by rater.
    pub rater_stages: Vec<RaterStage>,
    /// The stage in the previous round, if the organisation answered one.
    pub previous_stage: Option<u8>,
    /// The flags on this component, in the profile's order.
    pub flags: Vec<PackFlag>,
    /// The outcome areas annex III links the component to, by name.
    pub outcome_areas: Vec<String>,
}

/// A validator's recorded judgement of a component.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PackValidated {
    /// The validated stage.
    pub stage: u8,
    /// The validator's note.
    pub note: String,
    /// The evidence reviewed.
    pub evidence_reviewed: Vec<String>,
    /// Who (the token's label).
    pub validator: String,
    /// When.
    pub at: String,
}

/// One line of evidence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PackEvidence {
    /// `document` or `person`.
    pub kind: &'static str,
    /// The title, reference or name.
    pub text: String,
    /// The uploaded file's name, if any.
    pub file: Option<String>,
}

/// An activity and its rating.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PackActivity {
    /// The activity.
    pub text: String,
    /// The rating, 1 to 3; `null` when not rated.
    pub rating: Option<u8>,
    /// The rating's meaning, e.g. `Significant contribution`.
    pub rating_label: Option<String>,
}

/// An independent rater's stage.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RaterStage {
    /// The rater's name.
    pub rater: String,
    /// Their stage; `null` when they did not rate the component.
    pub stage: Option<u8>,
}

// --- external validity and system-wide -----------------------------------------------

/// A concern of annex IX part 3, word for word.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Concern {
    /// Its number as printed.
    pub number: u8,
    /// Its title.
    pub title: String,
    /// Its text, when the source gives one.
    pub text: Option<String>,
    /// Its points.
    pub points: Vec<String>,
}

/// The organisation against its peers in the round.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExternalValidity {
    /// The external-validity concern of the validation guide.
    pub concern: Option<Concern>,
    /// Organisations in the round.
    pub organisations: usize,
    /// Distributions of fewer organisations than this are withheld.
    pub min_group_size: usize,
    /// Per component.
    pub components: Vec<PeerRow>,
    /// Per pillar.
    pub pillars: Vec<PeerRow>,
}

/// This organisation's stage beside the round's distribution.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PeerRow {
    /// A component id, or the pillar's number.
    pub id: String,
    /// The name.
    pub name: String,
    /// This organisation's stage.
    pub stage: Option<u8>,
    /// Organisations with a stage.
    pub n: usize,
    /// Whether the distribution is withheld.
    pub withheld: bool,
    /// Why, when withheld.
    pub withheld_reason: Option<String>,
    /// The median (type 7), as written, e.g. `3.5`.
    pub median: Option<String>,
    /// The first quartile.
    pub q1: Option<String>,
    /// The third quartile.
    pub q3: Option<String>,
    /// Organisations at stages 1 to 5.
    pub counts: Option<[usize; 5]>,
}

/// The system-wide dimension.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SystemWide {
    /// The system-wide concern of the validation guide.
    pub concern: Option<Concern>,
    /// Pillar 5's number and name.
    pub pillar: Option<String>,
    /// Pillar 5's stage by the rule.
    pub pillar_stage: Option<u8>,
    /// Pillar 5's components.
    pub components: Vec<SystemWideComponent>,
    /// Every component self-assessed at stage 5.
    pub stage5_claims: Vec<SystemWideComponent>,
}

/// A component of the system-wide dimension.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SystemWideComponent {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The self-assessed stage.
    pub stage: Option<u8>,
    /// The validated stage.
    pub validated_stage: Option<u8>,
    /// The stage's descriptor.
    pub stage_descriptor: Option<String>,
    /// The evidence listed.
    pub evidence: Vec<PackEvidence>,
    /// Whether a document cites an evaluation, review, audit or lessons learned.
    pub cites_evaluation: bool,
}

// --- outcomes --------------------------------------------------------------------------

/// The senior managers' outcome-protocol answers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcomes {
    /// The outcome protocol, `id@version`; `null` when the round has none.
    pub instrument: Option<String>,
    /// The outcome areas in protocol order, with the linked components.
    pub areas: Vec<OutcomeAreaAnswers>,
    /// Answers outside the outcome areas (part 1, the organisation's own outcomes), by
    /// section.
    pub other_sections: Vec<OutcomeSection>,
}

/// One outcome area.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutcomeAreaAnswers {
    /// Its id, e.g. `qcpr-1`.
    pub id: String,
    /// Its number.
    pub number: u8,
    /// Its name.
    pub name: String,
    /// The components annex III links to it.
    pub components: Vec<LinkedComponent>,
    /// The senior managers assigned to it or who answered for it.
    pub managers: Vec<ManagerAnswers>,
}

/// A component linked to an outcome area.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LinkedComponent {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The self-assessed stage.
    pub stage: Option<u8>,
    /// The validated stage.
    pub validated_stage: Option<u8>,
}

/// One senior manager's answers in an area or section.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ManagerAnswers {
    /// Their name.
    pub name: String,
    /// Whether they are assigned to it.
    pub assigned: bool,
    /// Whether their outcome-protocol response is submitted.
    pub submitted: bool,
    /// Their answers, in protocol order.
    pub answers: Vec<PackAnswer>,
}

/// One answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PackAnswer {
    /// The question id, e.g. `outcome-1/q3`.
    pub question_id: String,
    /// The question as worded, with its number.
    pub question: String,
    /// The answer.
    pub answer: String,
}

/// A section of the outcome protocol outside the outcome areas.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutcomeSection {
    /// Its id, e.g. `part-1`.
    pub id: String,
    /// Its title.
    pub title: String,
    /// The senior managers who answered in it.
    pub managers: Vec<ManagerAnswers>,
}

// --- guides and worksheet ----------------------------------------------------------------

/// The two interview guides.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Guides {
    /// Annex IX part 3: the interview with the focal points.
    pub focal_points: FocalPointGuide,
    /// Annex X section 2: the interviews with senior managers.
    pub senior_managers: SeniorManagerGuide,
}

/// A titled text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TitledText {
    /// The title.
    pub title: String,
    /// The text.
    pub text: String,
}

/// The guide for the interview with the focal points.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FocalPointGuide {
    /// The validation guide's title.
    pub title: Option<String>,
    /// Its prose, in source order.
    pub sections: Vec<TitledText>,
    /// Its concerns.
    pub concerns: Vec<Concern>,
}

/// The guide for the interviews with senior managers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeniorManagerGuide {
    /// Annex X section 2, word for word; `null` when the round's outcome protocol has
    /// no interview guidance.
    pub guide: Option<TitledText>,
    /// How many senior managers to interview, at least.
    pub target: usize,
    /// Where that number comes from, word for word.
    pub target_source: String,
    /// Senior managers assigned to the organisation in the round.
    pub assigned: usize,
    /// Of those and any others, how many gave at least one answer.
    pub answered: usize,
    /// How many submitted their answers.
    pub submitted: usize,
    /// The senior managers, by id: name and whether they answered.
    pub managers: Vec<ManagerStatus>,
}

/// A senior manager's progress.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ManagerStatus {
    /// Their name.
    pub name: String,
    /// Whether they gave at least one answer.
    pub answered: bool,
    /// Whether they submitted.
    pub submitted: bool,
}

/// The validator's worksheet: one row per component, filled with what is recorded.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Worksheet {
    /// The rows, in instrument order.
    pub rows: Vec<WorksheetRow>,
    /// The validation status and sign-off.
    pub validation: ValidationInfo,
}

/// One row of the worksheet.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorksheetRow {
    /// The component id.
    pub component: String,
    /// Its name.
    pub name: String,
    /// The self-assessed stage.
    pub stage: Option<u8>,
    /// The codes of its flags.
    pub flags: Vec<&'static str>,
    /// The validated stage, once recorded.
    pub validated_stage: Option<u8>,
    /// The evidence reviewed, once recorded.
    pub evidence_reviewed: Vec<String>,
    /// The validator's note, once recorded.
    pub note: Option<String>,
}

// --- rendering ---------------------------------------------------------------------------

/// The formats a pack is rendered in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PackFormat {
    /// HTML for the browser and for print on A4.
    Html,
    /// Markdown (CommonMark with pipe tables).
    Markdown,
    /// The model as JSON.
    Json,
}

impl PackFormat {
    /// Every format.
    pub const ALL: [Self; 3] = [Self::Html, Self::Markdown, Self::Json];

    /// The file extension, e.g. `html`.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Html => "html",
            Self::Markdown => "md",
            Self::Json => "json",
        }
    }

    /// The format of a file extension.
    pub fn from_extension(extension: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.extension() == extension)
    }

    /// The media type.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Html => "text/html; charset=utf-8",
            Self::Markdown => "text/markdown; charset=utf-8",
            Self::Json => "application/json",
        }
    }
}

/// Why a pack could not be rendered (a bug in a template or the model, never the data).
#[derive(Debug, thiserror::Error)]
pub enum RenderPackError {
    /// A template failed.
    #[error("a pack template failed: {0}")]
    Template(#[from] Box<RenderError>),
    /// The model could not be serialised.
    #[error("the pack cannot be serialised: {0}")]
    Json(#[from] serde_json::Error),
}

const HTML_TEMPLATE: &str = include_str!("../templates/pack.html.hbs");
const MARKDOWN_TEMPLATE: &str = include_str!("../templates/pack.md.hbs");

/// Escapes text for Markdown: every character that could start markup is
/// backslash-escaped (CommonMark allows a backslash before any ASCII punctuation), `&`
/// too, so that no entity is decoded; a line break becomes a hard break.
pub fn markdown_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for c in text.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '{' | '}' | '[' | ']' | '<' | '>' | '#' | '|' | '~' | '&'
            | '!' => {
                out.push('\\');
                out.push(c);
            }
            '\r' => {}
            '\n' => out.push_str("  \n"),
            _ => out.push(c),
        }
    }
    // A line that starts with a list or heading marker would become markup.
    let mut lines: Vec<String> = Vec::new();
    for line in out.split('\n') {
        let trimmed = line.trim_start();
        let digits = trimmed.chars().take_while(char::is_ascii_digit).count();
        let after = &trimmed[digits..];
        let ordered = digits > 0
            && after.starts_with(['.', ')'])
            && (after.len() == 1 || after[1..].starts_with([' ', '\t']));
        let indent = line.len() - trimmed.len();
        if ordered {
            // Escape the delimiter: a backslash before a digit would be shown as is.
            lines.push(format!(
                "{}{}\\{}",
                &line[..indent],
                &trimmed[..digits],
                &trimmed[digits..]
            ));
        } else if trimmed.starts_with(['-', '+', '=']) {
            lines.push(format!("{}\\{}", &line[..indent], trimmed));
        } else {
            lines.push(line.to_owned());
        }
    }
    lines.join("\n")
}

/// A table cell in Markdown: escaped, on one line (line breaks become `<br>`).
fn markdown_cell(text: &str) -> String {
    markdown_escape(text)
        .replace("  \n", "<br>")
        .replace('\n', "<br>")
}

/// `{{cell value}}`: a value as a Markdown table cell; null is empty.
fn cell_helper(
    helper: &Helper<'_>,
    _: &Handlebars<'_>,
    _: &Context,
    _: &mut RenderContext<'_, '_>,
    out: &mut dyn Output,
) -> HelperResult {
    let value = helper
        .param(0)
        .ok_or_else(|| RenderErrorReason::ParamNotFoundForIndex("cell", 0))?
        .value();
    let text = match value {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    };
    out.write(&markdown_cell(&text))?;
    Ok(())
}

/// `{{join list}}`: a list of strings joined by `, ` (escaped by the registry's escape
/// function).
fn join_helper(
    helper: &Helper<'_>,
    registry: &Handlebars<'_>,
    _: &Context,
    _: &mut RenderContext<'_, '_>,
    out: &mut dyn Output,
) -> HelperResult {
    let value = helper
        .param(0)
        .ok_or_else(|| RenderErrorReason::ParamNotFoundForIndex("join", 0))?
        .value();
    let text = value
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    out.write(&registry.get_escape_fn()(&text))?;
    Ok(())
}

/// `{{show_stage value}}`: a stage, or `not answered` for null.
fn stage_helper(
    helper: &Helper<'_>,
    _: &Handlebars<'_>,
    _: &Context,
    _: &mut RenderContext<'_, '_>,
    out: &mut dyn Output,
) -> HelperResult {
    let value = helper
        .param(0)
        .ok_or_else(|| RenderErrorReason::ParamNotFoundForIndex("show_stage", 0))?
        .value();
    match value.as_u64() {
        Some(stage) => out.write(&stage.to_string())?,
        None => out.write("not answered")?,
    }
    Ok(())
}

fn registry(template: &'static str, markdown: bool) -> Result<Handlebars<'static>, RenderError> {
    let mut registry = Handlebars::new();
    registry.set_strict_mode(true);
    registry.register_helper("join", Box::new(join_helper));
    registry.register_helper("show_stage", Box::new(stage_helper));
    if markdown {
        registry.register_escape_fn(markdown_escape);
        registry.register_helper("cell", Box::new(cell_helper));
    }
    registry
        .register_template_string("pack", template)
        .map_err(RenderError::from)?;
    Ok(registry)
}

impl ValidationPack {
    /// The pack in `format`.
    ///
    /// # Errors
    /// [`RenderPackError`] when a template fails (a bug; the tests render every
    /// template).
    pub fn render(&self, format: PackFormat) -> Result<String, RenderPackError> {
        match format {
            PackFormat::Html => self.render_template(HTML_TEMPLATE, false),
            PackFormat::Markdown => self.render_template(MARKDOWN_TEMPLATE, true),
            PackFormat::Json => Ok(serde_json::to_string_pretty(self)? + "\n"),
        }
    }

    fn render_template(
        &self,
        template: &'static str,
        markdown: bool,
    ) -> Result<String, RenderPackError> {
        let registry = registry(template, markdown).map_err(Box::new)?;
        Ok(registry.render("pack", self).map_err(Box::new)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_escape_neutralises_markup() {
        assert_eq!(
            markdown_escape("a *b* _c_ [d](e) <f> & g|h"),
            r"a \*b\* \_c\_ \[d\](e) \<f\> \& g\|h"
        );
        assert_eq!(markdown_escape("# title"), r"\# title");
        assert_eq!(
            markdown_escape("- item\n2. second\nplain"),
            "\\- item  \n2\\. second  \nplain"
        );
        assert_eq!(markdown_escape("12) twelve"), r"12\) twelve");
        assert_eq!(
            markdown_escape("1.1 Results-based"),
            "1.1 Results-based",
            "a component id is no list marker"
        );
        assert_eq!(markdown_cell("one\ntwo | three"), r"one<br>two \| three");
    }

    #[test]
    fn formats_round_trip_through_extensions() {
        for format in PackFormat::ALL {
            assert_eq!(PackFormat::from_extension(format.extension()), Some(format));
        }
        assert_eq!(PackFormat::from_extension("pdf"), None);
    }
}
