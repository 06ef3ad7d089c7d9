//! Real-time learning: activities (rounds that ask a learning set, with the metadata in
//! [`Activity`]), the findings compiled per question as answers arrive, theme tags, the
//! findings report of annex 2 (prefilled, edited, rendered), follow-up actions with the
//! five-priority limit, the overdue list, action reminders, and repeating cycles.
//!
//! Participants are ordinary `learning-participant` assignments of the round: they answer
//! through the Telegram bot and the emailed web form unchanged, and every answer is
//! announced on the round's `roundEvents` like any other.

use std::collections::{BTreeMap, BTreeSet};

use handlebars::Handlebars;
use serde::Serialize;
use serde_json::json;

use crate::catalogue::{Catalogue, Instrument, Text};
use crate::domain::answer::parse_text;
use crate::domain::learning::{MAX_PRIORITY_ACTIONS, MAX_THEME_CHARS, MAX_THEMES};
use crate::domain::{
    Action, ActionId, ActionLink, ActionReminderKind, ActionReminderMark, ActionStatus,
    ActionWrite, Activity, ActivityKind, Actor, MAX_SHORT_TEXT_CHARS, MAX_TEXT_CHARS,
    OrganisationId, Person, PersonId, Respondent, Response, ResponseKey, Role, Round, RoundId,
    RoundStatus, Timestamp,
};
use crate::email::{Email, Mailer};
use crate::pack::markdown_escape;
use crate::profile::answer_text;
use crate::service::admin::{self, AdminError, NewAssignment, NewRound, RoleName};
use crate::service::answers::Questions;
use crate::store::{Store, StoreError};

/// The instrument whose questions are the concept note's fields (annex 1).
pub const CONCEPT_NOTE: &str = "iom-rtl-concept-note";
/// The instrument whose questions are the findings report's sections (annex 2).
pub const FINDINGS_REPORT: &str = "iom-rtl-findings-report";

const HTML_TEMPLATE: &str = include_str!("../../templates/learning-report.html.hbs");
const MARKDOWN_TEMPLATE: &str = include_str!("../../templates/learning-report.md.hbs");

/// Why a learning request was refused.
#[derive(Debug, thiserror::Error)]
pub enum LearningError {
    /// Invalid input; nothing was written.
    #[error("{0}")]
    Invalid(String),
    /// What the request names does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with the current state; nothing was written.
    #[error("{0}")]
    Conflict(String),
    /// The organisation has the most priority actions allowed in the round; nothing was
    /// written.
    #[error(
        "organisation `{organisation}` already has {max} priority actions in round `{round}`: \
         finish, drop or demote one first"
    )]
    PriorityLimit {
        /// The round.
        round: RoundId,
        /// The organisation.
        organisation: OrganisationId,
        /// The limit.
        max: u32,
    },
    /// A template failed (a bug; the tests render every template).
    #[error("the report could not be rendered: {0}")]
    Render(String),
    /// An administrative step (assignments, round creation) was refused or failed.
    #[error(transparent)]
    Admin(#[from] AdminError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Result of a learning use-case.
pub type LearningResult<T> = Result<T, LearningError>;

fn invalid(message: impl Into<String>) -> LearningError {
    LearningError::Invalid(message.into())
}

// --- activities ----------------------------------------------------------------------

/// A participant as given when an activity is created.
#[derive(Debug, Clone)]
pub struct NewParticipant {
    /// Person id.
    pub person: String,
    /// Organisation id (one of the round's).
    pub organisation: String,
    /// Their role in the intervention, e.g. "Field officer".
    pub role: String,
}

/// An activity as requested.
#[derive(Debug, Clone)]
pub struct NewActivity {
    /// The round that asks the learning set (created before, in draft or open).
    pub round: String,
    /// The kind.
    pub kind: ActivityKind,
    /// The intervention.
    pub intervention: String,
    /// The facilitator's person id.
    pub facilitator: String,
    /// The period the questions refer to.
    pub period: String,
    /// Concept-note fields: question id of [`CONCEPT_NOTE`] → text.
    pub concept_note: Vec<(String, String)>,
    /// Participants, assigned to the round as learning participants.
    pub participants: Vec<NewParticipant>,
}

async fn existing_round(store: &dyn Store, id: &str) -> LearningResult<Round> {
    let id = RoundId::parse(id.trim()).map_err(|e| invalid(e.to_string()))?;
    store
        .round(&id)
        .await?
        .ok_or_else(|| LearningError::NotFound(format!("no round `{id}`")))
}

/// The activity of a round, or not found.
///
/// # Errors
/// Not found (no such round or no activity); the store's failure.
pub async fn existing_activity(store: &dyn Store, round: &str) -> LearningResult<Activity> {
    let round = existing_round(store, round).await?;
    store
        .activity(&round.id)
        .await?
        .ok_or_else(|| LearningError::NotFound(format!("round `{}` is not an activity", round.id)))
}

/// The learning set a round asks for an activity of `kind`.
fn learning_instrument<'a>(
    catalogue: &'a Catalogue,
    round: &Round,
    kind: ActivityKind,
) -> Option<&'a Instrument> {
    round
        .instruments
        .iter()
        .find(|r| r.id == kind.instrument_id())
        .and_then(|r| catalogue.get(&r.id, r.version))
}

fn concept_note_fields(
    catalogue: &Catalogue,
    fields: &[(String, String)],
    problems: &mut Vec<String>,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Some(note) = catalogue.latest(CONCEPT_NOTE) else {
        if !fields.is_empty() {
            problems.push("the catalogue has no concept note instrument".to_owned());
        }
        return out;
    };
    for (question, text) in fields {
        if note.question(question).is_none() {
            problems.push(format!("`{question}` is not a field of the concept note"));
            continue;
        }
        if out.contains_key(question) {
            problems.push(format!("concept note field `{question}` is given twice"));
            continue;
        }
        match parse_text(text, MAX_TEXT_CHARS) {
            Ok(text) => {
                out.insert(question.clone(), text);
            }
            Err(e) => problems.push(format!("concept note `{question}`: {e}")),
        }
    }
    out
}

/// The questionnaire parameter values an activity sets: its period.
pub fn parameter_values(activity: &Activity) -> BTreeMap<String, String> {
    [("period".to_owned(), activity.period.clone())].into()
}

/// Creates the activity of an existing round: checks everything first (the round asks
/// the kind's learning set and has no activity yet, the facilitator and participants
/// exist, the concept-note fields are fields of annex 1), then assigns the participants
/// and stores the activity.
///
/// # Errors
/// Invalid input (every problem in one message), not found, a conflict when the round
/// is an activity already; the store's failure.
pub async fn create_activity(
    store: &dyn Store,
    catalogue: &Catalogue,
    actor: &Actor,
    at: Timestamp,
    new: NewActivity,
) -> LearningResult<Activity> {
    let round = existing_round(store, &new.round).await?;
    if store.activity(&round.id).await?.is_some() {
        return Err(LearningError::Conflict(format!(
            "round `{}` is an activity already",
            round.id
        )));
    }
    let mut problems = Vec::new();
    if learning_instrument(catalogue, &round, new.kind).is_none() {
        problems.push(format!(
            "a {} asks `{}`, which round `{}` does not use",
            new.kind.label().to_lowercase(),
            new.kind.instrument_id(),
            round.id
        ));
    }
    let intervention = parse_text(&new.intervention, MAX_SHORT_TEXT_CHARS)
        .map_err(|e| problems.push(format!("intervention: {e}")))
        .unwrap_or_default();
    let period = parse_text(&new.period, MAX_SHORT_TEXT_CHARS)
        .map_err(|e| problems.push(format!("period: {e}")))
        .unwrap_or_default();
    let facilitator = match PersonId::parse(new.facilitator.trim()) {
        Ok(id) => {
            if store.person(&id).await?.is_none() {
                problems.push(format!("no person `{id}` (facilitator)"));
            }
            Some(id)
        }
        Err(e) => {
            problems.push(format!("facilitator: {e}"));
            None
        }
    };
    let concept_note = concept_note_fields(catalogue, &new.concept_note, &mut problems);
    let mut participant_roles = BTreeMap::new();
    for participant in &new.participants {
        let person = match PersonId::parse(participant.person.trim()) {
            Ok(id) => id,
            Err(e) => {
                problems.push(format!("participant: {e}"));
                continue;
            }
        };
        if store.person(&person).await?.is_none() {
            problems.push(format!("no person `{person}` (participant)"));
        }
        match OrganisationId::parse(participant.organisation.trim()) {
            Ok(organisation) if round.organisations.contains(&organisation) => {}
            Ok(organisation) => problems.push(format!(
                "organisation `{organisation}` is not in round `{}`",
                round.id
            )),
            Err(e) => problems.push(format!("participant `{person}`: {e}")),
        }
        match parse_text(&participant.role, MAX_SHORT_TEXT_CHARS) {
            Ok(role) => {
                if participant_roles.insert(person.clone(), role).is_some() {
                    problems.push(format!("participant `{person}` is listed twice"));
                }
            }
            Err(e) => problems.push(format!("participant `{person}` role: {e}")),
        }
    }
    let (Some(facilitator), true) = (facilitator, problems.is_empty()) else {
        return Err(LearningError::Invalid(problems.join("; ")));
    };
    for participant in &new.participants {
        admin::assign(
            store,
            catalogue,
            actor,
            at,
            NewAssignment {
                round: round.id.to_string(),
                organisation: participant.organisation.trim().to_owned(),
                person: participant.person.trim().to_owned(),
                role: RoleName::LearningParticipant,
                outcome_areas: Vec::new(),
            },
        )
        .await?;
    }
    let activity = Activity {
        round: round.id.clone(),
        kind: new.kind,
        intervention,
        facilitator,
        participant_roles,
        period,
        concept_note,
        previous: None,
        cycle: 1,
        themes: Vec::new(),
        report: BTreeMap::new(),
        added: Vec::new(),
        created_at: at,
    };
    store.put_activity(&activity).await?;
    tracing::info!(round = %activity.round, kind = activity.kind.as_str(), "activity created");
    Ok(activity)
}

/// Adds a facilitator's question to an activity, asked after the learning set's own
/// questions (`added/<n>`; a long text, optional). Allowed while the round is in draft
/// or open, also once answers have started: participants who have not submitted see it
/// where they continue; those who submitted are not asked again.
///
/// # Errors
/// Invalid input (an empty or too long text, a question the activity already asks, more
/// than [`crate::domain::learning::MAX_ADDED_QUESTIONS`]); not found; a conflict when
/// the round is closed or later; the store's failure. A refusal changes nothing.
pub async fn add_question(
    store: &dyn Store,
    round: &str,
    text: &str,
    at: Timestamp,
) -> LearningResult<Activity> {
    let round = existing_round(store, round).await?;
    let mut activity = store.activity(&round.id).await?.ok_or_else(|| {
        LearningError::NotFound(format!("round `{}` is not an activity", round.id))
    })?;
    if !matches!(round.status, RoundStatus::Draft | RoundStatus::Open) {
        return Err(LearningError::Conflict(format!(
            "round `{}` is {}: questions are added while it is in draft or open",
            round.id,
            round.status.as_str()
        )));
    }
    let id = activity
        .add_question(text, at)
        .map_err(|e| invalid(e.to_string()))?
        .id
        .clone();
    store.put_activity(&activity).await?;
    tracing::info!(round = %activity.round, question = %id, "question added to an activity");
    Ok(activity)
}

/// Tags one answer with themes (replacing its earlier themes; none removes the tag).
///
/// # Errors
/// Invalid input (a response of another round or not a participant's, a question the
/// response has no answer to, too many or too long themes); not found; the store's
/// failure.
pub async fn tag_answer(
    store: &dyn Store,
    round: &str,
    response: &str,
    question: &str,
    themes: &[String],
) -> LearningResult<Activity> {
    let mut activity = existing_activity(store, round).await?;
    let key = ResponseKey::parse(response.trim())
        .ok_or_else(|| invalid(format!("`{response}` is not a response id")))?;
    if key.round != activity.round || !matches!(key.respondent, Respondent::Person(_)) {
        return Err(invalid(format!(
            "`{response}` is not a participant's response in round `{}`",
            activity.round
        )));
    }
    let answered = store
        .response(&key)
        .await?
        .is_some_and(|r| r.answers.keys().any(|q| q.as_str() == question.trim()));
    if !answered {
        return Err(invalid(format!(
            "response `{response}` has no answer to `{question}`"
        )));
    }
    if themes.len() > MAX_THEMES {
        return Err(invalid(format!("at most {MAX_THEMES} themes per answer")));
    }
    let mut cleaned: Vec<String> = Vec::new();
    for theme in themes {
        let theme =
            parse_text(theme, MAX_THEME_CHARS).map_err(|e| invalid(format!("theme: {e}")))?;
        if !cleaned.contains(&theme) {
            cleaned.push(theme);
        }
    }
    activity.set_themes(&key, question.trim(), cleaned);
    store.put_activity(&activity).await?;
    Ok(activity)
}

// --- findings ------------------------------------------------------------------------

/// One answer in the compiled findings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FindingAnswer {
    /// The response (for tagging).
    pub response: String,
    /// The participant.
    pub person: String,
    /// Their name.
    pub name: String,
    /// Their role in the intervention (as given when the activity was created), else
    /// `learning participant`.
    pub role: String,
    /// Their organisation.
    pub organisation: String,
    /// The answer as text.
    pub text: String,
    /// Through which channel it was given (`telegram`, `web`, `graphql`, `import`).
    pub channel: String,
    /// When, RFC 3339.
    pub at: String,
    /// Whether the response was submitted.
    pub submitted: bool,
    /// The facilitator's themes.
    pub themes: Vec<String>,
}

/// How often a theme was tagged under one question.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ThemeCount {
    /// The theme.
    pub theme: String,
    /// Answers tagged with it.
    pub count: usize,
}

/// The findings of one question.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuestionFindings {
    /// Question id, e.g. `questions/expected`.
    pub id: String,
    /// The question as asked (with the period filled in).
    pub text: String,
    /// Answers given.
    pub count: usize,
    /// The answers, by organisation and person.
    pub answers: Vec<FindingAnswer>,
    /// Themes by count (most first), then name.
    pub themes: Vec<ThemeCount>,
}

/// The compiled findings of an activity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Findings {
    /// The round.
    pub round: String,
    /// Which cycle.
    pub cycle: u32,
    /// The period.
    pub period: String,
    /// People assigned as participants.
    pub participants: usize,
    /// Participants who answered at least one question.
    pub responded: usize,
    /// Participants who submitted.
    pub submitted: usize,
    /// Per question, in instrument order.
    pub questions: Vec<QuestionFindings>,
}

/// The question texts of a questionnaire instrument, by question id: the item's text
/// (placeholders filled from `values`, else the parameters' defaults), with the field's
/// label for items with several fields.
pub fn question_texts(
    instrument: &Instrument,
    values: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Some(body) = instrument.as_questionnaire() else {
        return out;
    };
    let mut filled: BTreeMap<String, String> = body
        .parameters
        .iter()
        .map(|p| (p.id.clone(), p.default.as_str().to_owned()))
        .collect();
    for (key, value) in values {
        if !value.trim().is_empty() {
            filled.insert(key.clone(), value.clone());
        }
    }
    for question in instrument.questions() {
        let mut parts = question.id.split('/');
        let (Some(section), Some(item)) = (parts.next(), parts.next()) else {
            continue;
        };
        let field = parts.next();
        let Some(item) = body
            .sections
            .iter()
            .find(|s| s.id == section)
            .and_then(|s| s.items.iter().find(|i| i.id == item))
        else {
            continue;
        };
        let mut text = Text::new(item.text.as_str()).render(&filled);
        if let Some(field) = field
            && item.fields.len() > 1
            && let Some(field) = item.fields.iter().find(|f| f.id == field)
        {
            text = format!("{text} — {}", field.label.as_str());
        }
        out.insert(question.id.clone(), text);
    }
    out
}

/// Compiles the findings of an activity from the answers stored now.
///
/// # Errors
/// Not found; the store's failure.
pub async fn findings(
    store: &dyn Store,
    catalogue: &Catalogue,
    round: &str,
) -> LearningResult<Findings> {
    let activity = existing_activity(store, round).await?;
    let round = existing_round(store, activity.round.as_str()).await?;
    compile(store, catalogue, &round, &activity).await
}

async fn compile(
    store: &dyn Store,
    catalogue: &Catalogue,
    round: &Round,
    activity: &Activity,
) -> LearningResult<Findings> {
    let instrument = learning_instrument(catalogue, round, activity.kind).ok_or_else(|| {
        LearningError::Conflict(format!(
            "round `{}` no longer asks `{}`",
            round.id,
            activity.kind.instrument_id()
        ))
    })?;
    let mut texts = question_texts(instrument, &parameter_values(activity));
    let asked = Questions::of(instrument, Some(activity));
    for added in asked.added() {
        texts.insert(added.id.to_string(), added.text.clone());
    }
    let participants: BTreeSet<(OrganisationId, PersonId)> = store
        .assignments(&round.id)
        .await?
        .into_iter()
        .filter(|a| a.role == Role::LearningParticipant)
        .map(|a| (a.organisation, a.person))
        .collect();
    let mut responses: Vec<Response> = Vec::new();
    for key in store.responses(&round.id).await? {
        if key.instrument != instrument.reference() {
            continue;
        }
        let Respondent::Person(person) = &key.respondent else {
            continue;
        };
        if !participants.contains(&(key.organisation.clone(), person.clone())) {
            continue;
        }
        if let Some(response) = store.response(&key).await? {
            responses.push(response);
        }
    }
    responses.sort_by(|a, b| a.key.cmp(&b.key));
    let mut names: BTreeMap<PersonId, String> = BTreeMap::new();
    for response in &responses {
        if let Respondent::Person(person) = &response.key.respondent
            && !names.contains_key(person)
        {
            let name = store
                .person(person)
                .await?
                .map_or_else(|| person.to_string(), |p| p.name);
            names.insert(person.clone(), name);
        }
    }
    let mut questions = Vec::new();
    for question in asked.all() {
        let mut answers = Vec::new();
        let mut theme_counts: BTreeMap<String, usize> = BTreeMap::new();
        for response in &responses {
            let Respondent::Person(person) = &response.key.respondent else {
                continue;
            };
            let Some(answer) = response
                .answers
                .iter()
                .find(|(q, _)| q.as_str() == question.id)
                .map(|(_, a)| a)
            else {
                continue;
            };
            let themes = activity.themes_of(&response.key, &question.id).to_vec();
            for theme in &themes {
                *theme_counts.entry(theme.clone()).or_default() += 1;
            }
            answers.push(FindingAnswer {
                response: response.key.id().to_string(),
                person: person.to_string(),
                name: names.get(person).cloned().unwrap_or_default(),
                role: activity
                    .participant_roles
                    .get(person)
                    .cloned()
                    .unwrap_or_else(|| "learning participant".to_owned()),
                organisation: response.key.organisation.to_string(),
                text: answer_text(&answer.value),
                channel: answer.channel.as_str().to_owned(),
                at: answer.at.to_rfc3339(),
                submitted: response.meta.status == crate::domain::ResponseStatus::Submitted,
                themes,
            });
        }
        let mut themes: Vec<ThemeCount> = theme_counts
            .into_iter()
            .map(|(theme, count)| ThemeCount { theme, count })
            .collect();
        themes.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.theme.cmp(&b.theme)));
        questions.push(QuestionFindings {
            id: question.id.clone(),
            text: texts.get(&question.id).cloned().unwrap_or_default(),
            count: answers.len(),
            answers,
            themes,
        });
    }
    let responded = responses.iter().filter(|r| !r.answers.is_empty()).count();
    let submitted = responses
        .iter()
        .filter(|r| r.meta.status == crate::domain::ResponseStatus::Submitted)
        .count();
    Ok(Findings {
        round: round.id.to_string(),
        cycle: activity.cycle,
        period: activity.period.clone(),
        participants: participants.len(),
        responded,
        submitted,
        questions,
    })
}

// --- findings report (annex 2) -------------------------------------------------------

/// One section (question) of the findings report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportSection {
    /// Question id of the findings-report instrument, e.g. `findings/findings`.
    pub id: String,
    /// The section's title.
    pub heading: String,
    /// The item's label.
    pub label: String,
    /// The text: the facilitator's edit, else the prefill (may be empty).
    pub text: String,
    /// Whether the facilitator edited it.
    pub edited: bool,
}

/// The findings report of an activity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FindingsReport {
    /// The report's title.
    pub title: String,
    /// The round.
    pub round: String,
    /// The activity's kind, as read.
    pub kind: String,
    /// The intervention.
    pub intervention: String,
    /// The period.
    pub period: String,
    /// The sections in the template's order.
    pub sections: Vec<ReportSection>,
}

/// What the report is prefilled from, besides the activity.
#[derive(Debug, Clone)]
pub struct ReportInputs<'a> {
    /// The round.
    pub round: &'a Round,
    /// The activity.
    pub activity: &'a Activity,
    /// The facilitator, if they still exist.
    pub facilitator: Option<&'a Person>,
    /// The compiled findings.
    pub findings: &'a Findings,
    /// The round's actions, with their owners' names.
    pub actions: &'a [(Action, String)],
}

/// The prefill of one findings-report question: the concept note's field of the same id
/// (the intervention table), the context and purpose of the concept note, a methodology
/// paragraph from the activity, the findings per question with counts, themes and
/// answers, the action plan from the round's actions, and the facilitator as contact.
pub fn prefill(question: &str, inputs: &ReportInputs<'_>) -> String {
    let activity = inputs.activity;
    let note = |id: &str| activity.concept_note.get(id).cloned().unwrap_or_default();
    match question {
        "intervention/intervention-title/value" => {
            let from_note = note(question);
            if from_note.is_empty() {
                activity.intervention.clone()
            } else {
                from_note
            }
        }
        "context/context" => note("context/context"),
        "objectives/objectives" => note("purpose/purpose"),
        "methodology/methodology" => {
            let findings = inputs.findings;
            let roles: BTreeSet<&str> = activity
                .participant_roles
                .values()
                .map(String::as_str)
                .collect();
            let mut text = format!(
                "{} (cycle {}) on the period {}, with {} participant{}",
                activity.kind.label(),
                activity.cycle,
                activity.period,
                findings.participants,
                if findings.participants == 1 { "" } else { "s" },
            );
            if !roles.is_empty() {
                text.push_str(&format!(
                    " ({})",
                    roles.into_iter().collect::<Vec<_>>().join(", ")
                ));
            }
            text.push_str(&format!(
                ". {} questions were asked through Telegram and an emailed web form; {} \
                 participants answered and {} submitted.",
                findings.questions.len(),
                findings.responded,
                findings.submitted
            ));
            if let Some(facilitator) = inputs.facilitator {
                text.push_str(&format!(" Facilitated by {}.", facilitator.name));
            }
            if let Some(deadline) = inputs.round.deadline {
                text.push_str(&format!(
                    " Answers were due by {}.",
                    deadline.to_rfc3339().get(..10).unwrap_or_default()
                ));
            }
            text
        }
        "findings/findings" => {
            let mut blocks = Vec::new();
            for question in &inputs.findings.questions {
                let mut block = format!(
                    "{} ({} answer{})",
                    question.text,
                    question.count,
                    if question.count == 1 { "" } else { "s" }
                );
                if !question.themes.is_empty() {
                    let themes: Vec<String> = question
                        .themes
                        .iter()
                        .map(|t| format!("{} ({})", t.theme, t.count))
                        .collect();
                    block.push_str(&format!("\nThemes: {}", themes.join(", ")));
                }
                for answer in &question.answers {
                    block.push_str(&format!("\n- {} ({})", answer.text, answer.role));
                }
                blocks.push(block);
            }
            blocks.join("\n\n")
        }
        "action-plan/action-plan" => inputs
            .actions
            .iter()
            .map(|(action, owner)| {
                format!(
                    "- {}{} — {}, due {}, {}",
                    if action.priority { "[priority] " } else { "" },
                    action.text,
                    owner,
                    action.due.to_rfc3339().get(..10).unwrap_or_default(),
                    action.status.as_str()
                )
            })
            .collect::<Vec<_>>()
            .join("\n"),
        "intervention/person-responsible/value" | "more-information/more-information/value" => {
            inputs.facilitator.map_or_else(
                || note(question),
                |f| {
                    let from_note = note(question);
                    if from_note.is_empty() {
                        format!("{} <{}>", f.name, f.email)
                    } else {
                        from_note
                    }
                },
            )
        }
        other => note(other),
    }
}

/// The findings report of an activity: every question of the annex 2 template, the
/// facilitator's edit where there is one, else the prefill.
///
/// # Errors
/// Not found; a conflict when the catalogue lacks the template; the store's failure.
pub async fn report(
    store: &dyn Store,
    catalogue: &Catalogue,
    round: &str,
) -> LearningResult<FindingsReport> {
    let activity = existing_activity(store, round).await?;
    let round = existing_round(store, activity.round.as_str()).await?;
    let findings = compile(store, catalogue, &round, &activity).await?;
    let facilitator = store.person(&activity.facilitator).await?;
    let mut actions = Vec::new();
    for action in store.actions(&round.id).await? {
        let owner = store
            .person(&action.owner)
            .await?
            .map_or_else(|| action.owner.to_string(), |p| p.name);
        actions.push((action, owner));
    }
    let inputs = ReportInputs {
        round: &round,
        activity: &activity,
        facilitator: facilitator.as_ref(),
        findings: &findings,
        actions: &actions,
    };
    build_report(catalogue, &inputs)
}

/// Builds the report from its inputs (pure).
///
/// # Errors
/// A conflict when the catalogue lacks the template.
pub fn build_report(
    catalogue: &Catalogue,
    inputs: &ReportInputs<'_>,
) -> LearningResult<FindingsReport> {
    let template = catalogue.latest(FINDINGS_REPORT).ok_or_else(|| {
        LearningError::Conflict("the catalogue has no findings report template".to_owned())
    })?;
    let body = template
        .as_questionnaire()
        .ok_or_else(|| LearningError::Conflict("the findings report is no form".to_owned()))?;
    let labels = question_texts(template, &BTreeMap::new());
    let mut sections = Vec::new();
    for question in template.questions() {
        let section = question.id.split('/').next().unwrap_or_default();
        let heading = body
            .sections
            .iter()
            .find(|s| s.id == section)
            .map(|s| s.title.as_str().to_owned())
            .unwrap_or_default();
        let edit = inputs.activity.report.get(&question.id);
        sections.push(ReportSection {
            id: question.id.clone(),
            heading,
            label: labels.get(&question.id).cloned().unwrap_or_default(),
            text: edit
                .cloned()
                .unwrap_or_else(|| prefill(&question.id, inputs)),
            edited: edit.is_some(),
        });
    }
    Ok(FindingsReport {
        title: template.header().title.as_str().to_owned(),
        round: inputs.round.id.to_string(),
        kind: inputs.activity.kind.label().to_owned(),
        intervention: inputs.activity.intervention.clone(),
        period: inputs.activity.period.clone(),
        sections,
    })
}

/// Edits one section of the findings report; an empty text removes the edit, so the
/// section is prefilled again.
///
/// # Errors
/// Invalid input (not a question of the template, text too long); not found; the
/// store's failure.
pub async fn edit_report(
    store: &dyn Store,
    catalogue: &Catalogue,
    round: &str,
    section: &str,
    text: &str,
) -> LearningResult<Activity> {
    let mut activity = existing_activity(store, round).await?;
    let template = catalogue.latest(FINDINGS_REPORT).ok_or_else(|| {
        LearningError::Conflict("the catalogue has no findings report template".to_owned())
    })?;
    let section = section.trim();
    if template.question(section).is_none() {
        return Err(invalid(format!(
            "`{section}` is not a section of the findings report"
        )));
    }
    if text.trim().is_empty() {
        activity.report.remove(section);
    } else {
        let text = parse_text(text, MAX_TEXT_CHARS).map_err(|e| invalid(format!("{e}")))?;
        activity.report.insert(section.to_owned(), text);
    }
    store.put_activity(&activity).await?;
    Ok(activity)
}

/// A rendering of the findings report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    /// A standalone HTML page.
    Html,
    /// Markdown.
    Markdown,
}

impl FindingsReport {
    /// The report in `format`, from the handlebars templates in `server/templates`.
    ///
    /// # Errors
    /// [`LearningError::Render`] when a template fails (a bug).
    pub fn render(&self, format: ReportFormat) -> LearningResult<String> {
        let mut registry = Handlebars::new();
        registry.set_strict_mode(true);
        let template = match format {
            ReportFormat::Html => HTML_TEMPLATE,
            ReportFormat::Markdown => {
                registry.register_escape_fn(markdown_escape);
                MARKDOWN_TEMPLATE
            }
        };
        registry
            .register_template_string("report", template)
            .map_err(|e| LearningError::Render(e.to_string()))?;
        let mut previous_heading: Option<&str> = None;
        let mut sections: Vec<serde_json::Value> = Vec::new();
        for s in &self.sections {
            let new_section = previous_heading != Some(s.heading.as_str());
            previous_heading = Some(s.heading.as_str());
            let paragraphs: Vec<Vec<&str>> = s
                .text
                .split("\n\n")
                .filter(|p| !p.trim().is_empty())
                .map(|p| p.lines().collect())
                .collect();
            sections.push(json!({
                "id": s.id,
                "heading": s.heading,
                "new_section": new_section,
                "label": s.label,
                "show_label": s.label != s.heading,
                "paragraphs": paragraphs,
                "empty": s.text.trim().is_empty(),
                "edited": s.edited,
            }));
        }
        let data = json!({
            "title": self.title,
            "round": self.round,
            "kind": self.kind,
            "intervention": self.intervention,
            "period": self.period,
            "sections": sections,
        });
        registry
            .render("report", &data)
            .map_err(|e| LearningError::Render(e.to_string()))
    }
}

// --- actions -------------------------------------------------------------------------

/// An action as requested.
#[derive(Debug, Clone)]
pub struct NewAction {
    /// Its id (a slug, unique in the round).
    pub id: String,
    /// The round (an activity, or any round of the RBM side).
    pub round: String,
    /// The organisation (one of the round's).
    pub organisation: String,
    /// What it follows up.
    pub link: ActionLink,
    /// What is to be done.
    pub text: String,
    /// The owner's person id.
    pub owner: String,
    /// Due date-time, RFC 3339.
    pub due: String,
    /// A priority action.
    pub priority: bool,
}

/// A change of an action; `None` leaves a part as it is.
#[derive(Debug, Clone, Default)]
pub struct ActionChange {
    /// New text.
    pub text: Option<String>,
    /// New owner.
    pub owner: Option<String>,
    /// New due date-time.
    pub due: Option<String>,
    /// New status (an allowed move, [`ActionStatus::can_become`]).
    pub status: Option<ActionStatus>,
    /// Priority or not.
    pub priority: Option<bool>,
}

async fn write_action(store: &dyn Store, action: &Action) -> LearningResult<()> {
    match store.put_action(action, MAX_PRIORITY_ACTIONS).await? {
        ActionWrite::Written => Ok(()),
        ActionWrite::PriorityLimitReached => Err(LearningError::PriorityLimit {
            round: action.round.clone(),
            organisation: action.organisation.clone(),
            max: MAX_PRIORITY_ACTIONS,
        }),
    }
}

async fn check_owner(store: &dyn Store, owner: &str) -> LearningResult<PersonId> {
    let owner = PersonId::parse(owner.trim()).map_err(|e| invalid(format!("owner: {e}")))?;
    if store.person(&owner).await?.is_none() {
        return Err(invalid(format!("no person `{owner}` (owner)")));
    }
    Ok(owner)
}

fn check_link(
    link: &ActionLink,
    activity: Option<&Activity>,
    round: &RoundId,
) -> LearningResult<()> {
    match link {
        ActionLink::Activity if activity.is_none() => Err(invalid(format!(
            "round `{round}` is not an activity: link the action to a component or pillar"
        ))),
        ActionLink::Component(c) | ActionLink::Pillar(c)
            if c.is_empty()
                || c.len() > 16
                || !c.bytes().all(|b| b.is_ascii_digit() || b == b'.') =>
        {
            Err(invalid(format!(
                "`{c}` is not a component or pillar number such as `2.3` or `2`"
            )))
        }
        _ => Ok(()),
    }
}

/// Creates an action (status open). A priority action beyond the fifth of its
/// organisation in the round is refused with [`LearningError::PriorityLimit`] and
/// nothing is written.
///
/// # Errors
/// Invalid input; not found (round); a conflict when the id is taken; the limit.
pub async fn create_action(
    store: &dyn Store,
    at: Timestamp,
    new: NewAction,
) -> LearningResult<Action> {
    let round = existing_round(store, &new.round).await?;
    let id = ActionId::parse(new.id.trim()).map_err(|e| invalid(e.to_string()))?;
    let organisation =
        OrganisationId::parse(new.organisation.trim()).map_err(|e| invalid(e.to_string()))?;
    if !round.organisations.contains(&organisation) {
        return Err(invalid(format!(
            "organisation `{organisation}` is not in round `{}`",
            round.id
        )));
    }
    let activity = store.activity(&round.id).await?;
    check_link(&new.link, activity.as_ref(), &round.id)?;
    let text = parse_text(&new.text, MAX_TEXT_CHARS).map_err(|e| invalid(format!("text: {e}")))?;
    let owner = check_owner(store, &new.owner).await?;
    let due = admin::parse_deadline(&new.due).map_err(|e| invalid(format!("due: {e}")))?;
    if store.actions(&round.id).await?.iter().any(|a| a.id == id) {
        return Err(LearningError::Conflict(format!(
            "action `{id}` exists already in round `{}`",
            round.id
        )));
    }
    let action = Action {
        id,
        round: round.id,
        organisation,
        link: new.link,
        text,
        owner,
        due,
        status: ActionStatus::Open,
        priority: new.priority,
        created_at: at,
        updated_at: at,
    };
    write_action(store, &action).await?;
    tracing::info!(round = %action.round, action = %action.id, "action created");
    Ok(action)
}

/// The actions of a round, by id.
///
/// # Errors
/// Not found; the store's failure.
pub async fn actions(store: &dyn Store, round: &str) -> LearningResult<Vec<Action>> {
    let round = existing_round(store, round).await?;
    Ok(store.actions(&round.id).await?)
}

/// Changes an action.
///
/// # Errors
/// Invalid input, a status move that is not allowed (conflict), the priority limit, not
/// found; the store's failure. A refused change writes nothing.
pub async fn update_action(
    store: &dyn Store,
    at: Timestamp,
    round: &str,
    id: &str,
    change: ActionChange,
) -> LearningResult<Action> {
    let round = existing_round(store, round).await?;
    let id = ActionId::parse(id.trim()).map_err(|e| invalid(e.to_string()))?;
    let mut action = store
        .actions(&round.id)
        .await?
        .into_iter()
        .find(|a| a.id == id)
        .ok_or_else(|| {
            LearningError::NotFound(format!("no action `{id}` in round `{}`", round.id))
        })?;
    if let Some(text) = &change.text {
        action.text =
            parse_text(text, MAX_TEXT_CHARS).map_err(|e| invalid(format!("text: {e}")))?;
    }
    if let Some(owner) = &change.owner {
        action.owner = check_owner(store, owner).await?;
    }
    if let Some(due) = &change.due {
        action.due = admin::parse_deadline(due).map_err(|e| invalid(format!("due: {e}")))?;
    }
    if let Some(status) = change.status
        && status != action.status
    {
        if !action.status.can_become(status) {
            return Err(LearningError::Conflict(format!(
                "an action that is {} cannot become {}",
                action.status.as_str(),
                status.as_str()
            )));
        }
        action.status = status;
    }
    if let Some(priority) = change.priority {
        action.priority = priority;
    }
    action.updated_at = at;
    write_action(store, &action).await?;
    Ok(action)
}

/// The pending actions past their due date at `now`, over every round (or one), by
/// due date.
///
/// # Errors
/// Not found (a named round); the store's failure.
pub async fn overdue(
    store: &dyn Store,
    round: Option<&str>,
    now: Timestamp,
) -> LearningResult<Vec<Action>> {
    let rounds = match round {
        Some(round) => vec![existing_round(store, round).await?],
        None => store.rounds().await?,
    };
    let mut out = Vec::new();
    for round in rounds {
        out.extend(
            store
                .actions(&round.id)
                .await?
                .into_iter()
                .filter(|a| a.is_overdue(now)),
        );
    }
    out.sort_by(|a, b| (a.due, &a.round, &a.id).cmp(&(b.due, &b.round, &b.id)));
    Ok(out)
}

/// One action reminder a tick sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionReminded {
    /// The round.
    pub round: RoundId,
    /// The action.
    pub action: ActionId,
    /// Which reminder.
    pub kind: ActionReminderKind,
    /// To whom.
    pub owner: PersonId,
}

/// Reminds the owners of pending actions at `now`, from the reminder scheduler's tick
/// (under its lease): once `days_before` days before the due date, once when overdue,
/// each claimed in the store first ([`Store::claim_action_reminder`]) so that it goes
/// out once whichever instance sends it; a mail that fails releases the mark, to be
/// tried at the next tick. Returns what was sent and what failed.
///
/// # Errors
/// The store's failure.
pub async fn remind_actions(
    store: &dyn Store,
    mailer: &Mailer,
    holder: &str,
    days_before: u32,
    now: Timestamp,
) -> Result<(Vec<ActionReminded>, Vec<ActionReminded>), StoreError> {
    let mut sent = Vec::new();
    let mut failed = Vec::new();
    for round in store.rounds().await? {
        for action in store.actions(&round.id).await? {
            let Some(kind) = ActionReminderKind::at(&action, now, days_before) else {
                continue;
            };
            let mark = ActionReminderMark {
                round: round.id.clone(),
                action: action.id.clone(),
                kind,
                owner: action.owner.clone(),
                claimed_at: now,
                holder: holder.to_owned(),
            };
            if !store.claim_action_reminder(&mark).await? {
                continue;
            }
            let reminded = ActionReminded {
                round: round.id.clone(),
                action: action.id.clone(),
                kind,
                owner: action.owner.clone(),
            };
            let Some(owner) = store.person(&action.owner).await? else {
                // Nobody to remind; the mark stays so that no one is asked again.
                continue;
            };
            let rendered = mailer.templates().render(
                "action-reminder",
                &json!({
                    "name": owner.name,
                    "round": round.title,
                    "text": action.text,
                    "due": action.due.to_rfc3339().get(..10).unwrap_or_default(),
                    "overdue": kind == ActionReminderKind::Overdue,
                    "status": action.status.as_str(),
                    "priority": action.priority,
                }),
            );
            let result = match rendered {
                Ok((text, html)) => {
                    mailer
                        .send(Email {
                            to_name: owner.name.clone(),
                            to_address: owner.email.as_str().to_owned(),
                            subject: match kind {
                                ActionReminderKind::Due => format!(
                                    "Action due by {}: {}",
                                    action.due.to_rfc3339().get(..10).unwrap_or_default(),
                                    round.title
                                ),
                                ActionReminderKind::Overdue => {
                                    format!("Overdue action: {}", round.title)
                                }
                            },
                            text,
                            html,
                        })
                        .await
                }
                Err(error) => Err(error),
            };
            match result {
                Ok(()) => {
                    tracing::info!(round = %round.id, action = %action.id, kind = kind.as_str(), "action reminder sent");
                    sent.push(reminded);
                }
                Err(error) => {
                    tracing::warn!(%error, round = %round.id, action = %action.id, "an action reminder could not be sent; it is tried again at the next check");
                    store
                        .release_action_reminder(&round.id, &action.id, kind)
                        .await?;
                    failed.push(reminded);
                }
            }
        }
    }
    Ok((sent, failed))
}

// --- cycles --------------------------------------------------------------------------

/// The next cycle of an activity, as requested.
#[derive(Debug, Clone)]
pub struct NextCycle {
    /// The activity repeated (normally the latest cycle).
    pub round: String,
    /// The new round's id.
    pub id: String,
    /// The new round's title.
    pub title: String,
    /// The period the questions of the new cycle refer to.
    pub period: String,
    /// The new round's deadline, RFC 3339.
    pub deadline: Option<String>,
}

/// Creates the next cycle of an activity: a new round (in draft) with the same
/// instruments and organisations, the same participants with their roles, and an
/// activity of the same kind, intervention, facilitator, concept note and added
/// questions (same ids, so cycles compare question by question), one cycle later,
/// linked to the one it repeats. Themes and report edits start empty.
///
/// # Errors
/// Invalid input; not found; a conflict when the new id is taken or the activity was
/// repeated already; the store's failure.
pub async fn next_cycle(
    store: &dyn Store,
    catalogue: &Catalogue,
    actor: &Actor,
    at: Timestamp,
    next: NextCycle,
) -> LearningResult<Activity> {
    let previous = existing_activity(store, &next.round).await?;
    let round = existing_round(store, previous.round.as_str()).await?;
    if store
        .activities()
        .await?
        .iter()
        .any(|a| a.previous.as_ref() == Some(&previous.round))
    {
        return Err(LearningError::Conflict(format!(
            "activity `{}` was repeated already",
            previous.round
        )));
    }
    let period = parse_text(&next.period, MAX_SHORT_TEXT_CHARS)
        .map_err(|e| invalid(format!("period: {e}")))?;
    let created = admin::create_round(
        store,
        catalogue,
        actor,
        at,
        NewRound {
            id: next.id,
            title: next.title,
            instruments: round.instruments.iter().map(ToString::to_string).collect(),
            organisations: round
                .organisations
                .iter()
                .map(ToString::to_string)
                .collect(),
            deadline: next.deadline,
        },
    )
    .await?;
    for assignment in store.assignments(&round.id).await? {
        if assignment.role != Role::LearningParticipant {
            continue;
        }
        admin::assign(
            store,
            catalogue,
            actor,
            at,
            NewAssignment {
                round: created.id.to_string(),
                organisation: assignment.organisation.to_string(),
                person: assignment.person.to_string(),
                role: RoleName::LearningParticipant,
                outcome_areas: Vec::new(),
            },
        )
        .await?;
    }
    let activity = Activity {
        round: created.id,
        kind: previous.kind,
        intervention: previous.intervention.clone(),
        facilitator: previous.facilitator.clone(),
        participant_roles: previous.participant_roles.clone(),
        period,
        concept_note: previous.concept_note.clone(),
        previous: Some(previous.round.clone()),
        cycle: previous.cycle.saturating_add(1),
        themes: Vec::new(),
        report: BTreeMap::new(),
        added: previous.added.clone(),
        created_at: at,
    };
    store.put_activity(&activity).await?;
    Ok(activity)
}

/// The findings of every cycle of an activity up to it, oldest first, to compare
/// answers across cycles.
///
/// # Errors
/// Not found; the store's failure.
pub async fn cycles(
    store: &dyn Store,
    catalogue: &Catalogue,
    round: &str,
) -> LearningResult<Vec<Findings>> {
    let mut activity = existing_activity(store, round).await?;
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    loop {
        if !seen.insert(activity.round.clone()) {
            break;
        }
        let round = existing_round(store, activity.round.as_str()).await?;
        out.push(compile(store, catalogue, &round, &activity).await?);
        let Some(previous) = activity.previous.clone() else {
            break;
        };
        match store.activity(&previous).await? {
            Some(earlier) => activity = earlier,
            None => break,
        }
    }
    out.reverse();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::catalogue::InstrumentRef;
    use crate::domain::{AnswerValue, EmailAddress, RoundStatus};

    fn catalogue() -> Catalogue {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../questionnaires");
        Catalogue::load(&dir).unwrap_or_else(|e| panic!("catalogue: {e}"))
    }

    fn id<T, E: std::fmt::Debug>(result: Result<T, E>) -> T {
        result.unwrap_or_else(|e| panic!("fixture id: {e:?}"))
    }

    fn fixture() -> (Round, Activity, Person, Findings, Vec<(Action, String)>) {
        let round = Round {
            id: id(RoundId::parse("aar-1")),
            title: "Flood AAR".to_owned(),
            instruments: vec![id(InstrumentRef::parse("iom-rtl-after-action-review@1"))],
            organisations: vec![id(OrganisationId::parse("iom"))],
            deadline: Some(Timestamp::from_millis(1_900_000_000_000)),
            status: RoundStatus::Open,
        };
        let activity = Activity {
            round: round.id.clone(),
            kind: ActivityKind::AfterActionReview,
            intervention: "Flood response".to_owned(),
            facilitator: id(PersonId::parse("p-fac")),
            participant_roles: [
                (id(PersonId::parse("p-a")), "Field officer".to_owned()),
                (id(PersonId::parse("p-b")), "Driver".to_owned()),
            ]
            .into(),
            period: "March".to_owned(),
            concept_note: [
                (
                    "context/context".to_owned(),
                    "Floods in the north.".to_owned(),
                ),
                ("purpose/purpose".to_owned(), "Learn fast.".to_owned()),
                ("intervention/donors/value".to_owned(), "ECHO".to_owned()),
            ]
            .into(),
            previous: None,
            cycle: 2,
            themes: Vec::new(),
            report: [(
                "recommendations/recommendations".to_owned(),
                "Pre-position stock.".to_owned(),
            )]
            .into(),
            added: Vec::new(),
            created_at: Timestamp::from_millis(0),
        };
        let facilitator = Person {
            id: activity.facilitator.clone(),
            name: "Fay".to_owned(),
            email: id(EmailAddress::parse("fay@example.org")),
            telegram_chat: None,
        };
        let answer = |person: &str, role: &str, text: &str| FindingAnswer {
            response: format!("aar-1/iom/iom-rtl-after-action-review@1/~{person}"),
            person: person.to_owned(),
            name: person.to_owned(),
            role: role.to_owned(),
            organisation: "iom".to_owned(),
            text: text.to_owned(),
            channel: "web".to_owned(),
            at: "2030-01-01T00:00:00Z".to_owned(),
            submitted: false,
            themes: Vec::new(),
        };
        let findings = Findings {
            round: "aar-1".to_owned(),
            cycle: 2,
            period: "March".to_owned(),
            participants: 2,
            responded: 2,
            submitted: 1,
            questions: vec![QuestionFindings {
                id: "questions/expected".to_owned(),
                text: "What was expected to happen?".to_owned(),
                count: 2,
                answers: vec![
                    answer("p-a", "Field officer", "Quick delivery"),
                    answer("p-b", "Driver", "Open roads"),
                ],
                themes: vec![ThemeCount {
                    theme: "logistics".to_owned(),
                    count: 2,
                }],
            }],
        };
        let action = Action {
            id: id(ActionId::parse("stock")),
            round: round.id.clone(),
            organisation: id(OrganisationId::parse("iom")),
            link: ActionLink::Activity,
            text: "Buy boats".to_owned(),
            owner: id(PersonId::parse("p-a")),
            due: Timestamp::from_millis(1_900_000_000_000),
            status: ActionStatus::InProgress,
            priority: true,
            created_at: Timestamp::from_millis(0),
            updated_at: Timestamp::from_millis(0),
        };
        (
            round,
            activity,
            facilitator,
            findings,
            vec![(action, "Ana".to_owned())],
        )
    }

    #[test]
    fn the_report_is_prefilled_from_the_activity_findings_and_actions() {
        let catalogue = catalogue();
        let (round, activity, facilitator, findings, actions) = fixture();
        let inputs = ReportInputs {
            round: &round,
            activity: &activity,
            facilitator: Some(&facilitator),
            findings: &findings,
            actions: &actions,
        };
        let report = build_report(&catalogue, &inputs).expect("report");
        let text = |id: &str| {
            report
                .sections
                .iter()
                .find(|s| s.id == id)
                .unwrap_or_else(|| panic!("section {id}"))
                .text
                .clone()
        };
        assert_eq!(
            text("intervention/intervention-title/value"),
            "Flood response"
        );
        assert_eq!(text("intervention/donors/value"), "ECHO");
        assert_eq!(text("context/context"), "Floods in the north.");
        assert_eq!(text("objectives/objectives"), "Learn fast.");
        let methodology = text("methodology/methodology");
        assert!(
            methodology.starts_with("After-action review (cycle 2) on the period March, with 2 participants (Driver, Field officer)."),
            "{methodology}"
        );
        assert!(methodology.contains("2 participants answered and 1 submitted"));
        assert!(methodology.contains("Facilitated by Fay."));
        assert_eq!(
            text("findings/findings"),
            "What was expected to happen? (2 answers)\nThemes: logistics (2)\n\
             - Quick delivery (Field officer)\n- Open roads (Driver)"
        );
        assert_eq!(
            text("action-plan/action-plan"),
            "- [priority] Buy boats — Ana, due 2030-03-17, in-progress"
        );
        assert_eq!(text("conclusions/conclusions"), "", "nothing to prefill");
        assert_eq!(
            text("more-information/more-information/value"),
            "Fay <fay@example.org>"
        );
        let edited = report
            .sections
            .iter()
            .find(|s| s.id == "recommendations/recommendations")
            .expect("recommendations");
        assert!(edited.edited);
        assert_eq!(edited.text, "Pre-position stock.");
        let headings: Vec<&str> = report.sections.iter().map(|s| s.heading.as_str()).collect();
        for heading in [
            "Intervention",
            "Intervention context",
            "Objectives of the RTL activity",
            "Methodology and process",
            "Findings",
            "Conclusions",
            "Recommendations",
            "Action plan",
            "For more information",
        ] {
            assert!(headings.contains(&heading), "{heading}");
        }
    }

    #[test]
    fn the_report_renders_escaped_in_both_formats() {
        let catalogue = catalogue();
        let (round, mut activity, facilitator, findings, actions) = fixture();
        activity.report.insert(
            "conclusions/conclusions".to_owned(),
            "<b>Bold</b> & *stars*\n\nSecond paragraph".to_owned(),
        );
        let inputs = ReportInputs {
            round: &round,
            activity: &activity,
            facilitator: Some(&facilitator),
            findings: &findings,
            actions: &actions,
        };
        let report = build_report(&catalogue, &inputs).expect("report");
        let html = report.render(ReportFormat::Html).expect("html");
        assert!(
            html.contains("&lt;b&gt;Bold&lt;/b&gt; &amp; *stars*"),
            "{html}"
        );
        assert!(html.contains("<h2>Conclusions</h2>"));
        assert!(html.contains("<p>Second paragraph</p>"));
        assert!(html.contains("<h3>Donor(s)</h3>"));
        let markdown = report.render(ReportFormat::Markdown).expect("markdown");
        assert!(
            markdown.contains("\\<b\\>Bold\\</b\\> \\& \\*stars\\*"),
            "{markdown}"
        );
        assert!(markdown.contains("\n## Conclusions\n"), "{markdown}");
        assert!(markdown.contains("\n### Donor(s)\n"), "{markdown}");
        assert!(
            markdown.contains("\\- Quick delivery (Field officer)"),
            "{markdown}"
        );
    }

    #[test]
    fn answers_as_text() {
        assert_eq!(answer_text(&AnswerValue::Text("a".to_owned())), "a");
        assert_eq!(
            answer_text(&AnswerValue::TextList(vec!["a".to_owned(), "b".to_owned()])),
            "a\nb"
        );
    }
}
