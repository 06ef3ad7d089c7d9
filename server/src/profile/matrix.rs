//! The system-wide view of a round: organisations × components, with the distribution
//! of stages per component and per pillar, withheld below the minimum group size.

use super::stats::{Distribution, MIN_GROUP_SIZE, PillarRule, distribution};
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
            MatrixRow {
                organisation: organisation.clone(),
                submitted: response.is_some_and(|r| r.meta.status == ResponseStatus::Submitted),
                stages: columns
                    .iter()
                    .map(|(id, _)| stages.get(id).copied())
                    .collect(),
                pillars: pillars.iter().map(|p| p.stage).collect(),
            }
        })
        .collect();

    let components = questionnaire
        .components()
        .zip(&columns)
        .enumerate()
        .map(|(index, (component, (_, pillar)))| {
            let stages: Vec<Stage> = rows.iter().filter_map(|r| r.stages[index]).collect();
            MatrixComponent {
                id: component.id.clone(),
                name: component.name.as_str().to_owned(),
                pillar: *pillar,
                distribution: distribution(&stages, MIN_GROUP_SIZE),
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
