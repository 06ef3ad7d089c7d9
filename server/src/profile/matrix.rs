//! The system-wide view of a round: organisations × components, with the distribution
//! of stages per component and per pillar, withheld below the minimum group size, and
//! per component how far validators moved the self-assessed stages.

use super::stats::{Distribution, MIN_GROUP_SIZE, PillarRule, distribution};
use super::validation::ValidationState;
use super::{Instruments, ProfileError, RoundData, consolidated, pillar_profiles, stages_of};
use crate::catalogue::{Catalogue, InstrumentRef};
use crate::domain::{OrganisationId, ResponseStatus, RoundId, Stage};

/// A component column of the matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct MatrixComponent {
    /// The component id, e.g. `2.3`.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its pillar's number.
    pub pillar: u8,
    /// The organisations' self-assessed stages for it.
    pub distribution: Distribution,
    /// Self-assessed against validated stages over the organisations that have both.
    pub validation: StageDifference,
}

/// How far self-assessed stages differ from validated ones over the organisations of a
/// round with both for one component. Not withheld below the minimum group size: the
/// matrix rows beside it show each organisation's stages to the same readers anyway.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StageDifference {
    /// Organisations with a self-assessed and a validated stage.
    pub organisations: usize,
    /// The mean of self-assessed minus validated stage (positive: the self-assessments
    /// were higher); `None` without such an organisation.
    pub mean: Option<f64>,
}

impl StageDifference {
    /// The difference over pairs of (self-assessed, validated) stages.
    pub fn of(pairs: &[(Stage, Stage)]) -> Self {
        let total: i32 = pairs
            .iter()
            .map(|(own, validated)| i32::from(own.get()) - i32::from(validated.get()))
            .sum();
        Self {
            organisations: pairs.len(),
            mean: (!pairs.is_empty()).then(|| f64::from(total) / pairs.len() as f64),
        }
    }
}

/// A pillar of the matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct MatrixPillar {
    /// Pillar number.
    pub number: u8,
    /// Its name.
    pub name: String,
    /// The organisations' pillar stages (by the matrix's rule), one per organisation
    /// with at least one answered component in the pillar.
    pub distribution: Distribution,
}

/// One organisation's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatrixRow {
    /// The organisation.
    pub organisation: OrganisationId,
    /// Whether its consolidated response is submitted.
    pub submitted: bool,
    /// Its self-assessed stage per component, in the order of
    /// [`RoundMatrix::components`]; `None` when unanswered.
    pub stages: Vec<Option<Stage>>,
    /// Its pillar stages by the matrix's rule, in the order of [`RoundMatrix::pillars`].
    pub pillars: Vec<Option<Stage>>,
    /// Its validated stage per component, in the order of [`RoundMatrix::components`];
    /// `None` until a validator records one.
    pub validated: Vec<Option<Stage>>,
}

/// Organisations × components of a round.
#[derive(Debug, Clone, PartialEq)]
pub struct RoundMatrix {
    /// The round.
    pub round: RoundId,
    /// The stage questionnaire.
    pub instrument: InstrumentRef,
    /// The pillar rule applied.
    pub rule: PillarRule,
    /// Distributions of fewer organisations than this are withheld.
    pub min_group_size: usize,
    /// The columns, in instrument order.
    pub components: Vec<MatrixComponent>,
    /// The pillars, in order.
    pub pillars: Vec<MatrixPillar>,
    /// One row per organisation, in the round's order.
    pub rows: Vec<MatrixRow>,
}

/// The matrix of `data.round`, pillar stages by `rule`, distributions withheld below
/// [`MIN_GROUP_SIZE`]. Drafts count: the matrix shows the answers as they stand.
///
/// # Errors
/// [`ProfileError::NoStageQuestionnaire`] when the round uses none.
pub fn round_matrix(
    catalogue: &Catalogue,
    data: &RoundData<'_>,
    rule: PillarRule,
) -> Result<RoundMatrix, ProfileError> {
    let instruments = Instruments::resolve(catalogue, data.round)?;
    let questionnaire = instruments.questionnaire;
    let instrument = instruments.stages.reference();
    let responses = consolidated(data, &instrument);
    let columns: Vec<(&str, u8)> = questionnaire
        .pillars
        .iter()
        .flat_map(|p| p.components.iter().map(move |c| (c.id.as_str(), p.number)))
        .collect();

    let rows: Vec<MatrixRow> = data
        .round
        .organisations
        .iter()
        .map(|organisation| {
            let response = responses.get(organisation).copied();
            let stages = response.map(stages_of).unwrap_or_default();
            let pillars = pillar_profiles(questionnaire, |id| stages.get(id).copied(), rule);
            let validation = ValidationState::fold(data.validations, &data.round.id, organisation);
            MatrixRow {
                organisation: organisation.clone(),
                submitted: response.is_some_and(|r| r.meta.status == ResponseStatus::Submitted),
                stages: columns
                    .iter()
                    .map(|(id, _)| stages.get(id).copied())
                    .collect(),
                pillars: pillars.iter().map(|p| p.stage).collect(),
                validated: columns
                    .iter()
                    .map(|(id, _)| validation.stage_of(id))
                    .collect(),
            }
        })
        .collect();

    let components = questionnaire
        .components()
        .zip(&columns)
        .enumerate()
        .map(|(index, (component, (_, pillar)))| {
            let stages: Vec<Stage> = rows.iter().filter_map(|r| r.stages[index]).collect();
            let pairs: Vec<(Stage, Stage)> = rows
                .iter()
                .filter_map(|r| r.stages[index].zip(r.validated[index]))
                .collect();
            MatrixComponent {
                id: component.id.clone(),
                name: component.name.as_str().to_owned(),
                pillar: *pillar,
                distribution: distribution(&stages, MIN_GROUP_SIZE),
                validation: StageDifference::of(&pairs),
            }
        })
        .collect();
    let pillars = questionnaire
        .pillars
        .iter()
        .enumerate()
        .map(|(index, pillar)| {
            let stages: Vec<Stage> = rows.iter().filter_map(|r| r.pillars[index]).collect();
            MatrixPillar {
                number: pillar.number,
                name: pillar.name.as_str().to_owned(),
                distribution: distribution(&stages, MIN_GROUP_SIZE),
            }
        })
        .collect();
    Ok(RoundMatrix {
        round: data.round.id.clone(),
        instrument,
        rule,
        min_group_size: MIN_GROUP_SIZE,
        components,
        pillars,
        rows,
    })
}
