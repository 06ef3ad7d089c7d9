//! Reports of a round for people who do not use the API: the CSV, the XLSX workbook and
//! the JSON export of every organisation's profile, and the SVG charts (one
//! organisation's configuration, the round's heatmap).
//!
//! This module loads what a report needs (profiles and the matrix through
//! `service::profile`, display names of organisations and people, the summary sheet of
//! annex IX part 2 from the catalogue) and converts the computed profiles into the plain
//! inputs of `crate::export` and `crate::charts`. It computes no stage, rule or flag
//! itself and writes nothing; access is checked by the caller (administrators and
//! validators with the round in scope).
//!
//! The conversions are pure functions of a [`Profile`] or a [`RoundMatrix`] and the names
//! to show, so they are tested without a store. The JSON export's structure is
//! [`json::RoundExport`].

pub mod json;

use std::collections::BTreeMap;

use futures_util::future::{try_join, try_join_all};

use crate::catalogue::Catalogue;
use crate::catalogue::model::SummarySheet;
use crate::charts::{
    ChartComponent, ChartPillar, ConfigurationChartInput, HeatmapColumn, HeatmapInput,
    HeatmapPillar, HeatmapRow,
};
use crate::domain::{OrganisationId, PersonId, Round, RoundId, Stage};
use crate::export::{
    AnswerRow, ExportError, FlagRow, OutcomeAnswerRow, SummaryComponent, SummaryPillar,
    SummarySheetInput, WorkbookInput,
};
use crate::profile::{Instruments, PillarProfile, PillarRule, Profile, RoundMatrix};
use crate::service::profile::{self as profiles, LoadError};
use crate::store::{Store, StoreError};

/// Title of the configuration chart.
pub const CONFIGURATION_TITLE: &str = "Configuration profile";
/// Title of the round heatmap.
pub const HEATMAP_TITLE: &str = "Stages of development by organisation";

/// Title of the summary sheet when the round's catalogue has no validation guide.
const FALLBACK_SHEET_TITLE: &str = "Summary sheet: stages of development";
/// Column headings of the summary sheet when the round's catalogue has no validation
/// guide.
const FALLBACK_SHEET_COLUMNS: [&str; 4] = [
    "Pillars",
    "Components",
    "Stages - Component",
    "Stages - Pillars",
];

/// Everything the round's exports show, loaded once.
#[derive(Debug, Clone)]
pub struct RoundReport {
    /// The round.
    pub round: Round,
    /// The pillar rule of the profiles and the matrix.
    pub rule: PillarRule,
    /// Display names of the round's organisations (the id when none is stored).
    pub organisations: BTreeMap<OrganisationId, String>,
    /// Display names of the senior managers who appear in the outcome linkage.
    pub people: BTreeMap<PersonId, String>,
    /// Every organisation's profile, in the round's order.
    pub profiles: Vec<Profile>,
    /// The round matrix.
    pub matrix: RoundMatrix,
    /// Annex IX part 2 as the round's validation guide prints it; `None` when the
    /// catalogue has none for the round's stage questionnaire.
    pub summary_sheet: Option<SummarySheet>,
}

impl RoundReport {
    /// The display name of `organisation`.
    pub fn organisation_name<'a>(&'a self, organisation: &'a OrganisationId) -> &'a str {
        org_name(&self.organisations, organisation)
    }

    /// The long-format CSV (see `crate::export` for the columns).
    pub fn csv(&self) -> String {
        crate::export::answers_csv(&self.answer_rows())
    }

    /// The XLSX workbook.
    ///
    /// # Errors
    /// [`ExportError`] when the writer refuses the content.
    pub fn xlsx(&self) -> Result<Vec<u8>, ExportError> {
        crate::export::workbook_xlsx(&self.workbook_input())
    }

    /// The JSON export, pretty-printed.
    ///
    /// # Errors
    /// A serialisation failure (none is expected: the export holds only strings,
    /// numbers, booleans, nulls and lists of them in structs).
    pub fn json(&self) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec_pretty(&self.json_export())
    }

    /// The rows of the CSV and of the "Answers" sheet: organisations in the round's
    /// order, components in instrument order.
    pub fn answer_rows(&self) -> Vec<AnswerRow> {
        self.profiles
            .iter()
            .flat_map(|p| answer_rows(p, self.organisation_name(&p.organisation)))
            .collect()
    }

    /// What the workbook holds.
    pub fn workbook_input(&self) -> WorkbookInput {
        WorkbookInput {
            summaries: self
                .profiles
                .iter()
                .map(|p| {
                    summary_sheet_input(
                        self.summary_sheet.as_ref(),
                        p,
                        self.organisation_name(&p.organisation),
                        &self.round.title,
                    )
                })
                .collect(),
            answers: self.answer_rows(),
            outcome_answers: self
                .profiles
                .iter()
                .flat_map(|p| {
                    outcome_answer_rows(p, self.organisation_name(&p.organisation), &self.people)
                })
                .collect(),
            flags: self
                .profiles
                .iter()
                .flat_map(|p| flag_rows(p, self.organisation_name(&p.organisation)))
                .collect(),
        }
    }

    /// The JSON export's structure.
    pub fn json_export(&self) -> json::RoundExport {
        json::RoundExport::new(self)
    }
}

/// The name `names` gives `id`, else the id itself.
fn org_name<'a>(names: &'a BTreeMap<OrganisationId, String>, id: &'a OrganisationId) -> &'a str {
    names.get(id).map_or(id.as_str(), String::as_str)
}

/// The name `names` gives `id`, else the id itself.
fn person_name<'a>(names: &'a BTreeMap<PersonId, String>, id: &'a PersonId) -> &'a str {
    names.get(id).map_or(id.as_str(), String::as_str)
}

// --- loading -------------------------------------------------------------------------

async fn existing_round(store: &dyn Store, id: &RoundId) -> Result<Round, LoadError> {
    store
        .round(id)
        .await?
        .ok_or_else(|| LoadError::UnknownRound(id.clone()))
}

/// Display names of `organisations`: the stored name, or the id when none is stored.
async fn organisation_names(
    store: &dyn Store,
    organisations: &[OrganisationId],
) -> Result<BTreeMap<OrganisationId, String>, StoreError> {
    let reads = organisations.iter().map(|id| store.organisation(id));
    let found = try_join_all(reads).await?;
    Ok(organisations
        .iter()
        .zip(found)
        .map(|(id, organisation)| {
            let name = organisation.map_or_else(|| id.to_string(), |o| o.name);
            (id.clone(), name)
        })
        .collect())
}

/// Loads the round's profiles and matrix by `rule`, with the names to show.
///
/// # Errors
/// [`LoadError::UnknownRound`]; [`LoadError::Profile`] when the round has no stage
/// questionnaire; a store failure.
pub async fn round_report(
    store: &dyn Store,
    catalogue: &Catalogue,
    round: &RoundId,
    rule: PillarRule,
) -> Result<RoundReport, LoadError> {
    let round = existing_round(store, round).await?;
    let summary_sheet = Instruments::resolve(catalogue, &round)?
        .guide
        .map(|guide| guide.summary_sheet.clone());
    let (profiles, matrix) = try_join(
        profiles::round_profiles(store, catalogue, &round.id, rule),
        profiles::round_matrix(store, catalogue, &round.id, rule),
    )
    .await?;
    let mut managers: Vec<PersonId> = profiles
        .iter()
        .flat_map(|p| &p.outcomes)
        .flat_map(|area| &area.managers)
        .map(|m| m.person.clone())
        .collect();
    managers.sort_unstable();
    managers.dedup();
    let (organisations, people) = try_join(
        organisation_names(store, &round.organisations),
        try_join_all(managers.iter().map(|id| store.person(id))),
    )
    .await?;
    let people = managers
        .into_iter()
        .zip(people)
        .filter_map(|(id, person)| person.map(|p| (id, p.name)))
        .collect();
    Ok(RoundReport {
        round,
        rule,
        organisations,
        people,
        profiles,
        matrix,
        summary_sheet,
    })
}

/// The configuration chart (SVG) of `organisation` in round `round`, pillar notes by
/// `rule`.
///
/// # Errors
/// As [`profiles::profile`].
pub async fn configuration_chart(
    store: &dyn Store,
    catalogue: &Catalogue,
    round: &RoundId,
    organisation: &OrganisationId,
    rule: PillarRule,
) -> Result<String, LoadError> {
    let profile = profiles::profile(store, catalogue, round, organisation, rule).await?;
    let (round, names) = try_join(existing_round(store, round), async {
        organisation_names(store, std::slice::from_ref(organisation))
            .await
            .map_err(LoadError::from)
    })
    .await?;
    let input = configuration_chart_input(&profile, org_name(&names, organisation), &round.title);
    Ok(crate::charts::configuration_chart(&input))
}

/// The heatmap (SVG) of round `round`'s matrix.
///
/// # Errors
/// As [`profiles::round_matrix`].
pub async fn matrix_chart(
    store: &dyn Store,
    catalogue: &Catalogue,
    round: &RoundId,
) -> Result<String, LoadError> {
    let round = existing_round(store, round).await?;
    let (matrix, names) = try_join(
        profiles::round_matrix(store, catalogue, &round.id, PillarRule::default()),
        async {
            organisation_names(store, &round.organisations)
                .await
                .map_err(LoadError::from)
        },
    )
    .await?;
    let input = heatmap_input(&matrix, &names, &round.title);
    Ok(crate::charts::round_heatmap(&input))
}

// --- words ---------------------------------------------------------------------------

/// How `rule` derives a pillar's stage, as a phrase for notes: "median of the pillar's
/// answered components, rounded down".
pub fn rule_description(rule: PillarRule) -> &'static str {
    match rule {
        PillarRule::Median => "median of the pillar's answered components, rounded down",
        PillarRule::Minimum => "lowest of the pillar's answered components",
        PillarRule::Mode => {
            "most frequent stage among the pillar's answered components, ties to the lower"
        }
    }
}

/// The line under a pillar's name in the configuration chart: its stage with the rule,
/// its lowest and highest component stage, and how many components are answered when
/// not all are. E.g. "Pillar stage 3 (median of the pillar's answered components,
/// rounded down); lowest 2, highest 4".
pub fn pillar_note(pillar: &PillarProfile, rule: PillarRule) -> String {
    let (Some(stage), Some(min), Some(max)) = (pillar.stage, pillar.min, pillar.max) else {
        return format!(
            "No pillar stage: none of its {} components is answered",
            pillar.components
        );
    };
    let mut note = format!(
        "Pillar stage {} ({}); lowest {}, highest {}",
        stage.get(),
        rule_description(rule),
        min.get(),
        max.get()
    );
    if pillar.answered < pillar.components {
        note.push_str(&format!(
            "; {} of {} components answered",
            pillar.answered, pillar.components
        ));
    }
    note
}

fn stage(stage: Option<Stage>) -> Option<u8> {
    stage.map(Stage::get)
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

// --- tables --------------------------------------------------------------------------

/// One CSV row per component of `profile`, in instrument order; the flags column holds
/// the codes of the flags raised on the component, in the profile's order.
pub fn answer_rows(profile: &Profile, organisation_name: &str) -> Vec<AnswerRow> {
    profile
        .components
        .iter()
        .map(|component| AnswerRow {
            round_id: profile.round.to_string(),
            organisation_id: profile.organisation.to_string(),
            organisation_name: organisation_name.to_owned(),
            pillar: component.pillar,
            component: component.id.clone(),
            component_name: component.name.clone(),
            self_assessed_stage: stage(component.stage),
            validated_stage: stage(component.validated),
            evidence_documents: count(component.evidence.documents),
            evidence_persons: count(component.evidence.persons),
            activities_rated: count(component.activities.rated),
            activity_mean: component.activities.mean,
            answered: count(component.completeness.answered),
            required: count(component.completeness.required),
            flags: profile
                .flags
                .iter()
                .filter(|f| f.component.as_deref() == Some(component.id.as_str()))
                .map(|f| f.code.as_str().to_owned())
                .collect(),
        })
        .collect()
}

/// Annex IX part 2 for `profile`: the sheet's title, columns and labels as `sheet` prints
/// them (rows keyed by component id, so the sheet's swapped labels of 1.2 and 1.3 stay
/// with the right stages), pillar stages by the profile's rule, and notes with the rule,
/// each pillar's range and whether the self-assessment is still a draft. Without a
/// sheet, the questionnaire's own names are used.
pub fn summary_sheet_input(
    sheet: Option<&SummarySheet>,
    profile: &Profile,
    organisation_name: &str,
    round_title: &str,
) -> SummarySheetInput {
    let component = |id: &str| profile.components.iter().find(|c| c.id == id);
    let pillar_stage = |number: u8| {
        profile
            .pillars
            .iter()
            .find(|p| p.number == number)
            .and_then(|p| stage(p.stage))
    };
    let (title, columns, pillars) = match sheet {
        Some(sheet) => {
            let mut pillars: Vec<(u8, SummaryPillar)> = Vec::new();
            for row in &sheet.rows {
                let found = component(&row.component);
                let line = SummaryComponent {
                    label: row.component_label.as_str().to_owned(),
                    stage: found.and_then(|c| stage(c.stage)),
                    validated_stage: found.and_then(|c| stage(c.validated)),
                };
                match pillars.last_mut() {
                    Some((number, pillar)) if *number == row.pillar => {
                        pillar.components.push(line);
                    }
                    _ => pillars.push((
                        row.pillar,
                        SummaryPillar {
                            label: row.pillar_label.as_str().to_owned(),
                            stage: pillar_stage(row.pillar),
                            components: vec![line],
                        },
                    )),
                }
            }
            let heading = |index: usize| {
                sheet
                    .columns
                    .get(index)
                    .map_or(FALLBACK_SHEET_COLUMNS[index], |t| t.as_str())
                    .to_owned()
            };
            (
                sheet.title.as_str().to_owned(),
                [heading(0), heading(1), heading(2), heading(3)],
                pillars.into_iter().map(|(_, p)| p).collect(),
            )
        }
        None => (
            FALLBACK_SHEET_TITLE.to_owned(),
            FALLBACK_SHEET_COLUMNS.map(str::to_owned),
            profile
                .pillars
                .iter()
                .map(|pillar| SummaryPillar {
                    label: format!("Pillar {} - {}", pillar.number, pillar.name),
                    stage: stage(pillar.stage),
                    components: profile
                        .components
                        .iter()
                        .filter(|c| c.pillar == pillar.number)
                        .map(|c| SummaryComponent {
                            label: format!("{} {}", c.id, c.name),
                            stage: stage(c.stage),
                            validated_stage: stage(c.validated),
                        })
                        .collect(),
                })
                .collect(),
        ),
    };
    let mut notes = vec![format!(
        "Pillar stage: {} (rule: {}).",
        rule_description(profile.rule),
        profile.rule.as_str()
    )];
    for pillar in &profile.pillars {
        notes.push(format!(
            "Pillar {}: {}.",
            pillar.number,
            pillar_note(pillar, profile.rule)
        ));
    }
    if !profile.submitted {
        notes.push("The self-assessment is not submitted: its stages may still change.".into());
    }
    SummarySheetInput {
        title,
        columns,
        organisation: organisation_name.to_owned(),
        round: round_title.to_owned(),
        pillars,
        notes,
    }
}

/// One row per senior manager × answered question of each outcome area of `profile`,
/// with the components annex III links to the area ("1.3 Accountability framework:
/// stage 2", or "not answered"). A manager is shown by name when `people` has one.
pub fn outcome_answer_rows(
    profile: &Profile,
    organisation_name: &str,
    people: &BTreeMap<PersonId, String>,
) -> Vec<OutcomeAnswerRow> {
    let mut rows = Vec::new();
    for area in &profile.outcomes {
        let linked: Vec<String> = area
            .components
            .iter()
            .map(|c| match c.stage {
                Some(stage) => format!("{} {}: stage {}", c.id, c.name, stage.get()),
                None => format!("{} {}: not answered", c.id, c.name),
            })
            .collect();
        for manager in &area.managers {
            for answer in &manager.answers {
                rows.push(OutcomeAnswerRow {
                    round_id: profile.round.to_string(),
                    organisation_id: profile.organisation.to_string(),
                    organisation_name: organisation_name.to_owned(),
                    outcome_area: area.area.clone(),
                    outcome_area_name: area.name.clone(),
                    respondent: person_name(people, &manager.person).to_owned(),
                    question_id: answer.question.clone(),
                    question: match &answer.label {
                        Some(label) => format!("{} — {label}", answer.text),
                        None => answer.text.clone(),
                    },
                    answer: answer.answer.clone(),
                    linked_components: linked.clone(),
                });
            }
        }
    }
    rows
}

/// One row per flag of `profile`, in the profile's order. The "component" column holds
/// the component id, `Pillar <n>` for a pillar flag, and nothing for a flag on the whole
/// profile; the prompt is "<concern title>, point <n>: <text>" (annex IX part 3).
pub fn flag_rows(profile: &Profile, organisation_name: &str) -> Vec<FlagRow> {
    profile
        .flags
        .iter()
        .map(|flag| FlagRow {
            round_id: profile.round.to_string(),
            organisation_id: profile.organisation.to_string(),
            organisation_name: organisation_name.to_owned(),
            code: flag.code.as_str().to_owned(),
            component: flag
                .component
                .clone()
                .or_else(|| flag.pillar.map(|n| format!("Pillar {n}"))),
            trigger: flag.trigger.clone(),
            interview_prompt: flag
                .prompt
                .as_ref()
                .map(|p| format!("{}, point {}: {}", p.concern_title, p.point, p.text))
                .unwrap_or_default(),
        })
        .collect()
}

// --- charts --------------------------------------------------------------------------

/// The configuration chart of `profile`: its pillars in order, each noted with its stage
/// by the profile's rule and its range ([`pillar_note`]), its components with the
/// self-assessed and validated stages.
pub fn configuration_chart_input(
    profile: &Profile,
    organisation_name: &str,
    round_title: &str,
) -> ConfigurationChartInput {
    ConfigurationChartInput {
        title: CONFIGURATION_TITLE.to_owned(),
        organisation: organisation_name.to_owned(),
        round: round_title.to_owned(),
        pillars: profile
            .pillars
            .iter()
            .map(|pillar| ChartPillar {
                id: pillar.number.to_string(),
                name: pillar.name.clone(),
                note: Some(pillar_note(pillar, profile.rule)),
                components: profile
                    .components
                    .iter()
                    .filter(|c| c.pillar == pillar.number)
                    .map(|c| ChartComponent {
                        id: c.id.clone(),
                        name: c.name.clone(),
                        self_assessed: stage(c.stage),
                        validated: stage(c.validated),
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// The heatmap of `matrix`: a column per component grouped by pillar, a row per
/// organisation in the round's order, named by `organisations` (the id when absent).
pub fn heatmap_input(
    matrix: &RoundMatrix,
    organisations: &BTreeMap<OrganisationId, String>,
    round_title: &str,
) -> HeatmapInput {
    HeatmapInput {
        title: HEATMAP_TITLE.to_owned(),
        round: round_title.to_owned(),
        pillars: matrix
            .pillars
            .iter()
            .map(|pillar| HeatmapPillar {
                id: pillar.number.to_string(),
                name: pillar.name.clone(),
                components: matrix
                    .components
                    .iter()
                    .filter(|c| c.pillar == pillar.number)
                    .map(|c| HeatmapColumn {
                        id: c.id.clone(),
                        name: c.name.clone(),
                    })
                    .collect(),
            })
            .collect(),
        rows: matrix
            .rows
            .iter()
            .map(|row| {
                // The heatmap's columns are the pillars' components flattened; pick each
                // column's stage by its index in the matrix rather than assume the two
                // orders agree.
                let stages = matrix
                    .pillars
                    .iter()
                    .flat_map(|p| {
                        matrix
                            .components
                            .iter()
                            .enumerate()
                            .filter(move |(_, c)| c.pillar == p.number)
                    })
                    .map(|(index, _)| row.stages.get(index).copied().flatten().map(Stage::get))
                    .collect();
                HeatmapRow {
                    organisation: org_name(organisations, &row.organisation).to_owned(),
                    stages,
                }
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests;
