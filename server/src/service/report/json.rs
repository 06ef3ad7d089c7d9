//! The JSON export of a round: every organisation's configuration profile and the round
//! matrix, as one document (`GET /exports/{round}/profiles.json`).
//!
//! These structs are the published format, separate from the domain types so that the
//! domain can change without changing the export. Field names are snake_case and
//! stable; new fields may be added, none is renamed, moved or removed without raising
//! [`VERSION`]. Every field is always present: a value that does not exist is `null`,
//! never left out. Stages are integers 1–5; shares, means, medians and quartiles are
//! numbers; ids are the slugs of the API. ARCHITECTURE.md ("Exports and charts") shows
//! the shape.

use serde::Serialize;

use super::RoundReport;
use crate::domain::Stage;
use crate::profile::{
    ComponentProfile, Distribution, EvidenceStrength, Flag, OutcomeLinkage, Profile, RoundMatrix,
};

/// The value of [`RoundExport::format`].
pub const FORMAT: &str = "stagewise.round-profiles";
/// The value of [`RoundExport::version`]: raised when a field changes meaning, is renamed
/// or removed.
pub const VERSION: u32 = 1;

fn stage(stage: Option<Stage>) -> Option<u8> {
    stage.map(Stage::get)
}

/// The whole export.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoundExport {
    /// Always [`FORMAT`].
    pub format: &'static str,
    /// Always [`VERSION`].
    pub version: u32,
    /// The round.
    pub round: RoundInfo,
    /// The stage questionnaire answered, `id@version`.
    pub instrument: String,
    /// The pillar rule of every pillar stage in the export: `median`, `minimum` or `mode`.
    pub rule: &'static str,
    /// The rule in words.
    pub rule_description: &'static str,
    /// Distributions of fewer organisations than this are withheld.
    pub min_group_size: usize,
    /// One profile per organisation, in the round's order.
    pub organisations: Vec<OrganisationExport>,
    /// Organisations × components with the distributions.
    pub matrix: MatrixExport,
}

/// The round's identity.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoundInfo {
    /// Its id.
    pub id: String,
    /// Its title.
    pub title: String,
}

/// One organisation's configuration profile.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrganisationExport {
    /// The organisation's id.
    pub id: String,
    /// Its display name.
    pub name: String,
    /// Whether its consolidated response is submitted (a draft's answers count too).
    pub submitted: bool,
    /// How far its validation has got: `not-started`, `in-validation` or `validated`.
    pub validation_status: &'static str,
    /// The previous round compared with, if any.
    pub previous_round: Option<String>,
    /// The overall pattern.
    pub pattern: PatternExport,
    /// The pillars in order.
    pub pillars: Vec<PillarExport>,
    /// The components in instrument order.
    pub components: Vec<ComponentExport>,
    /// The independent raters, by person id.
    pub raters: Vec<RaterExport>,
    /// Agreement of the self-assessment and the raters over all components.
    pub agreement: AgreementExport,
    /// The outcome areas with the components annex III links to them and the senior
    /// managers' answers.
    pub outcomes: Vec<OutcomeExport>,
    /// The consistency flags, components first (in instrument order), then pillars, then
    /// the whole profile.
    pub flags: Vec<FlagExport>,
}

/// The overall pattern of a profile.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PatternExport {
    /// The pillar stages joined by `-`, `?` for a pillar without an answered component.
    pub pillars: String,
    /// The median of all answered component stages, rounded down.
    pub median: Option<u8>,
    /// The lowest answered component stage.
    pub min: Option<u8>,
    /// The highest answered component stage.
    pub max: Option<u8>,
    /// Components with a stage.
    pub answered: usize,
    /// Components in the questionnaire.
    pub components: usize,
}

/// A pillar of a profile.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PillarExport {
    /// Its number.
    pub number: u8,
    /// Its name.
    pub name: String,
    /// The stage by the export's rule.
    pub stage: Option<u8>,
    /// The lowest answered component stage.
    pub min: Option<u8>,
    /// The highest answered component stage.
    pub max: Option<u8>,
    /// Components with a stage.
    pub answered: usize,
    /// Components in the pillar.
    pub components: usize,
}

/// A component of a profile.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComponentExport {
    /// Its id, e.g. `2.3`.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its pillar's number.
    pub pillar: u8,
    /// The self-assessed stage.
    pub stage: Option<u8>,
    /// The validated stage, once one is recorded.
    pub validated_stage: Option<u8>,
    /// The evidence (Q.1.3).
    pub evidence: EvidenceExport,
    /// The activity ratings (Q.2), listed and own activities together.
    pub activities: ActivitiesExport,
    /// Required items.
    pub completeness: CompletenessExport,
    /// Each independent rater's stage, in the order of the profile's raters.
    pub rater_stages: Vec<RaterStageExport>,
    /// Agreement of the self-assessment and the raters; `null` with fewer than two
    /// stages.
    pub agreement: Option<ComponentAgreementExport>,
    /// The change since the previous round.
    pub change: ChangeExport,
    /// The annex V drivers described at the self-assessed stage.
    pub drivers: Vec<DriverExport>,
    /// The codes of the flags raised on this component.
    pub flags: Vec<&'static str>,
}

/// Evidence of a component.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvidenceExport {
    /// Documents cited.
    pub documents: usize,
    /// People named (weak evidence).
    pub persons: usize,
    /// `documented`, `weak` (names of people only) or `none`.
    pub strength: &'static str,
    /// Whether a document mentions an evaluation, review, audit or lessons learned.
    pub cites_evaluation: bool,
}

/// Activity ratings of a component.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActivitiesExport {
    /// Activities the instrument lists.
    pub listed: usize,
    /// Listed activities rated.
    pub listed_rated: usize,
    /// Activities the organisation named and rated itself.
    pub other: usize,
    /// All ratings.
    pub rated: usize,
    /// Their mean (1 = no, 2 = little, 3 = significant contribution).
    pub mean: Option<f64>,
    /// How many ratings have each value, lowest first.
    pub counts: Vec<RatingCountExport>,
}

/// How many ratings have one value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RatingCountExport {
    /// The rating.
    pub rating: u8,
    /// How many.
    pub count: usize,
}

/// Required items of a component.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CompletenessExport {
    /// Answered.
    pub answered: usize,
    /// Required.
    pub required: usize,
    /// The unanswered required question ids.
    pub missing: Vec<String>,
}

/// One rater's stage for a component.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RaterStageExport {
    /// The rater's person id.
    pub person: String,
    /// Their stage; `null` when they did not rate the component.
    pub stage: Option<u8>,
}

/// Agreement on one component.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComponentAgreementExport {
    /// Stages given (the self-assessment is one).
    pub ratings: usize,
    /// Pairs of them.
    pub pairs: usize,
    /// Pairs at most one stage apart.
    pub within_one: usize,
    /// `within_one / pairs`.
    pub share_within_one: f64,
    /// Highest minus lowest stage.
    pub range: u8,
}

/// The change of a component since the previous round.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChangeExport {
    /// The stage in the previous round.
    pub previous_stage: Option<u8>,
    /// This stage minus that one.
    pub delta: Option<i8>,
}

/// An annex V driver at a component's stage.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DriverExport {
    /// Box 4 numbering.
    pub number: u8,
    /// The driver's name.
    pub name: String,
    /// The stage described.
    pub stage: u8,
    /// The driver at that stage.
    pub text: String,
}

/// An independent rater.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RaterExport {
    /// The person id.
    pub person: String,
    /// Whether they are assigned as independent rater.
    pub assigned: bool,
    /// Whether their rating is submitted.
    pub submitted: bool,
    /// Components they gave a stage.
    pub rated: usize,
}

/// Agreement over all components.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgreementExport {
    /// Independent raters.
    pub raters: usize,
    /// Always true: the self-assessed stage counts as one rater.
    pub includes_self_assessment: bool,
    /// Components with at least two stages.
    pub components: usize,
    /// Pairs of stages on the same component.
    pub pairs: usize,
    /// Pairs at most one stage apart.
    pub within_one: usize,
    /// `within_one / pairs`.
    pub share_within_one: Option<f64>,
    /// The largest range on one component.
    pub max_range: Option<u8>,
    /// Krippendorff's alpha.
    pub alpha: Option<f64>,
    /// The alpha's metric: always `ordinal`.
    pub alpha_metric: &'static str,
}

/// An outcome area with its linked components and the senior managers' answers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutcomeExport {
    /// The area's id, e.g. `qcpr-1`.
    pub area: String,
    /// Its number.
    pub number: u8,
    /// Its name.
    pub name: String,
    /// The components annex III links to it.
    pub components: Vec<LinkedComponentExport>,
    /// The senior managers assigned to it or who answered for it.
    pub managers: Vec<ManagerExport>,
}

/// A component linked to an outcome area.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LinkedComponentExport {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The self-assessed stage.
    pub stage: Option<u8>,
    /// The validated stage.
    pub validated_stage: Option<u8>,
}

/// A senior manager's answers for one outcome area.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ManagerExport {
    /// The person id.
    pub person: String,
    /// Their display name; `null` when the person is not stored.
    pub name: Option<String>,
    /// Whether they are assigned to the area.
    pub assigned: bool,
    /// Whether their outcome-protocol response is submitted.
    pub submitted: bool,
    /// Their answers, in protocol order.
    pub answers: Vec<ManagerAnswerExport>,
}

/// One answer of a senior manager.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ManagerAnswerExport {
    /// The question id.
    pub question: String,
    /// The question's wording.
    pub text: String,
    /// The answer field's label, when the question has named fields.
    pub label: Option<String>,
    /// The answer as text.
    pub answer: String,
}

/// A consistency flag.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlagExport {
    /// The stable code, e.g. `EVIDENCE_MISSING`.
    pub code: &'static str,
    /// The component concerned; `null` for a pillar or the whole profile.
    pub component: Option<String>,
    /// The pillar concerned; `null` for the whole profile.
    pub pillar: Option<u8>,
    /// What triggered it.
    pub trigger: String,
    /// The items concerned (unanswered question ids, or the components at a pillar's
    /// extremes).
    pub items: Vec<String>,
    /// The interview prompt of annex IX part 3.
    pub prompt: Option<PromptExport>,
}

/// The interview prompt a flag calls for.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PromptExport {
    /// The concern's id, e.g. `internal-validity`.
    pub concern: String,
    /// The concern's number.
    pub concern_number: u8,
    /// The concern's title.
    pub concern_title: String,
    /// The point's number within the concern.
    pub point: u8,
    /// The point's text.
    pub text: String,
}

/// The round matrix.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MatrixExport {
    /// The component columns in instrument order.
    pub components: Vec<MatrixComponentExport>,
    /// The pillars in order.
    pub pillars: Vec<MatrixPillarExport>,
    /// One row per organisation, in the round's order.
    pub rows: Vec<MatrixRowExport>,
}

/// A component column of the matrix.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MatrixComponentExport {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its pillar's number.
    pub pillar: u8,
    /// The organisations' stages for it.
    pub distribution: DistributionExport,
    /// Self-assessed against validated stages over the organisations with both.
    pub validation: StageDifferenceExport,
}

/// How far self-assessed stages differ from validated ones for one component.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StageDifferenceExport {
    /// Organisations with a self-assessed and a validated stage.
    pub organisations: usize,
    /// Mean of self-assessed minus validated stage; `null` without such organisations.
    pub mean_difference: Option<f64>,
}

/// A pillar of the matrix.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MatrixPillarExport {
    /// Its number.
    pub number: u8,
    /// Its name.
    pub name: String,
    /// The organisations' pillar stages by the export's rule.
    pub distribution: DistributionExport,
}

/// The stages of a group of organisations.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DistributionExport {
    /// Organisations with a stage.
    pub n: usize,
    /// Whether the summary is withheld (fewer than `min_group_size` organisations).
    pub withheld: bool,
    /// Why; `null` when shown.
    pub withheld_reason: Option<String>,
    /// The median (type 7); `null` when withheld.
    pub median: Option<f64>,
    /// The first quartile; `null` when withheld.
    pub q1: Option<f64>,
    /// The third quartile; `null` when withheld.
    pub q3: Option<f64>,
    /// Organisations at stages 1 to 5; `null` when withheld.
    pub counts: Option<[usize; 5]>,
}

/// One organisation's row of the matrix.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MatrixRowExport {
    /// The organisation's id.
    pub organisation: String,
    /// Whether its consolidated response is submitted.
    pub submitted: bool,
    /// Its stage per component, in the order of `matrix.components`.
    pub stages: Vec<Option<u8>>,
    /// Its pillar stages, in the order of `matrix.pillars`.
    pub pillar_stages: Vec<Option<u8>>,
    /// Its validated stage per component, in the order of `matrix.components`.
    pub validated_stages: Vec<Option<u8>>,
}

impl RoundExport {
    /// The export of `report`.
    pub fn new(report: &RoundReport) -> Self {
        Self {
            format: FORMAT,
            version: VERSION,
            round: RoundInfo {
                id: report.round.id.to_string(),
                title: report.round.title.clone(),
            },
            instrument: report.matrix.instrument.to_string(),
            rule: report.rule.as_str(),
            rule_description: super::rule_description(report.rule),
            min_group_size: report.matrix.min_group_size,
            organisations: report
                .profiles
                .iter()
                .map(|p| organisation(p, report))
                .collect(),
            matrix: matrix(&report.matrix),
        }
    }
}

fn organisation(profile: &Profile, report: &RoundReport) -> OrganisationExport {
    OrganisationExport {
        id: profile.organisation.to_string(),
        name: report.organisation_name(&profile.organisation).to_owned(),
        submitted: profile.submitted,
        validation_status: profile.validation.status.as_str(),
        previous_round: profile.previous_round.as_ref().map(ToString::to_string),
        pattern: PatternExport {
            pillars: profile.pattern.pillars.clone(),
            median: stage(profile.pattern.median),
            min: stage(profile.pattern.min),
            max: stage(profile.pattern.max),
            answered: profile.pattern.answered,
            components: profile.pattern.components,
        },
        pillars: profile
            .pillars
            .iter()
            .map(|p| PillarExport {
                number: p.number,
                name: p.name.clone(),
                stage: stage(p.stage),
                min: stage(p.min),
                max: stage(p.max),
                answered: p.answered,
                components: p.components,
            })
            .collect(),
        components: profile
            .components
            .iter()
            .map(|c| component(c, profile))
            .collect(),
        raters: profile
            .raters
            .iter()
            .map(|r| RaterExport {
                person: r.person.to_string(),
                assigned: r.assigned,
                submitted: r.submitted,
                rated: r.rated,
            })
            .collect(),
        agreement: AgreementExport {
            raters: profile.agreement.raters,
            includes_self_assessment: true,
            components: profile.agreement.components,
            pairs: profile.agreement.pairs,
            within_one: profile.agreement.within_one,
            share_within_one: profile.agreement.share_within_one,
            max_range: profile.agreement.max_range,
            alpha: profile.agreement.alpha,
            alpha_metric: "ordinal",
        },
        outcomes: profile
            .outcomes
            .iter()
            .map(|o| outcome(o, report))
            .collect(),
        flags: profile.flags.iter().map(flag).collect(),
    }
}

fn strength(strength: EvidenceStrength) -> &'static str {
    match strength {
        EvidenceStrength::None => "none",
        EvidenceStrength::Weak => "weak",
        EvidenceStrength::Documented => "documented",
    }
}

fn component(component: &ComponentProfile, profile: &Profile) -> ComponentExport {
    ComponentExport {
        id: component.id.clone(),
        name: component.name.clone(),
        pillar: component.pillar,
        stage: stage(component.stage),
        validated_stage: stage(component.validated),
        evidence: EvidenceExport {
            documents: component.evidence.documents,
            persons: component.evidence.persons,
            strength: strength(component.evidence.strength),
            cites_evaluation: component.evidence.cites_evaluation,
        },
        activities: ActivitiesExport {
            listed: component.activities.listed,
            listed_rated: component.activities.listed_rated,
            other: component.activities.other,
            rated: component.activities.rated,
            mean: component.activities.mean,
            counts: component
                .activities
                .counts
                .iter()
                .map(|(rating, count)| RatingCountExport {
                    rating: *rating,
                    count: *count,
                })
                .collect(),
        },
        completeness: CompletenessExport {
            answered: component.completeness.answered,
            required: component.completeness.required,
            missing: component.completeness.missing.clone(),
        },
        rater_stages: profile
            .raters
            .iter()
            .zip(&component.rater_stages)
            .map(|(rater, given)| RaterStageExport {
                person: rater.person.to_string(),
                stage: stage(*given),
            })
            .collect(),
        agreement: component
            .agreement
            .as_ref()
            .map(|a| ComponentAgreementExport {
                ratings: a.ratings,
                pairs: a.pairs,
                within_one: a.within_one,
                share_within_one: a.share_within_one(),
                range: a.range,
            }),
        change: ChangeExport {
            previous_stage: stage(component.change.previous),
            delta: component.change.delta,
        },
        drivers: component
            .drivers
            .iter()
            .map(|d| DriverExport {
                number: d.number,
                name: d.name.clone(),
                stage: d.stage.get(),
                text: d.text.clone(),
            })
            .collect(),
        flags: profile
            .flags
            .iter()
            .filter(|f| f.component.as_deref() == Some(component.id.as_str()))
            .map(|f| f.code.as_str())
            .collect(),
    }
}

fn outcome(area: &OutcomeLinkage, report: &RoundReport) -> OutcomeExport {
    OutcomeExport {
        area: area.area.clone(),
        number: area.number,
        name: area.name.clone(),
        components: area
            .components
            .iter()
            .map(|c| LinkedComponentExport {
                id: c.id.clone(),
                name: c.name.clone(),
                stage: stage(c.stage),
                validated_stage: stage(c.validated),
            })
            .collect(),
        managers: area
            .managers
            .iter()
            .map(|m| ManagerExport {
                person: m.person.to_string(),
                name: report.people.get(&m.person).cloned(),
                assigned: m.assigned,
                submitted: m.submitted,
                answers: m
                    .answers
                    .iter()
                    .map(|a| ManagerAnswerExport {
                        question: a.question.clone(),
                        text: a.text.clone(),
                        label: a.label.clone(),
                        answer: a.answer.clone(),
                    })
                    .collect(),
            })
            .collect(),
    }
}

fn flag(flag: &Flag) -> FlagExport {
    FlagExport {
        code: flag.code.as_str(),
        component: flag.component.clone(),
        pillar: flag.pillar,
        trigger: flag.trigger.clone(),
        items: flag.items.clone(),
        prompt: flag.prompt.as_ref().map(|p| PromptExport {
            concern: p.concern.clone(),
            concern_number: p.concern_number,
            concern_title: p.concern_title.clone(),
            point: p.point,
            text: p.text.clone(),
        }),
    }
}

fn distribution(distribution: &Distribution) -> DistributionExport {
    let summary = distribution.summary.as_ref();
    DistributionExport {
        n: distribution.n,
        withheld: summary.is_none(),
        withheld_reason: distribution.withheld.clone(),
        median: summary.map(|s| s.median),
        q1: summary.map(|s| s.q1),
        q3: summary.map(|s| s.q3),
        counts: summary.map(|s| s.counts),
    }
}

fn matrix(matrix: &RoundMatrix) -> MatrixExport {
    MatrixExport {
        components: matrix
            .components
            .iter()
            .map(|c| MatrixComponentExport {
                id: c.id.clone(),
                name: c.name.clone(),
                pillar: c.pillar,
                distribution: distribution(&c.distribution),
                validation: StageDifferenceExport {
                    organisations: c.validation.organisations,
                    mean_difference: c.validation.mean,
                },
            })
            .collect(),
        pillars: matrix
            .pillars
            .iter()
            .map(|p| MatrixPillarExport {
                number: p.number,
                name: p.name.clone(),
                distribution: distribution(&p.distribution),
            })
            .collect(),
        rows: matrix
            .rows
            .iter()
            .map(|r| MatrixRowExport {
                organisation: r.organisation.to_string(),
                submitted: r.submitted,
                stages: r.stages.iter().map(|s| stage(*s)).collect(),
                pillar_stages: r.pillars.iter().map(|s| stage(*s)).collect(),
                validated_stages: r.validated.iter().map(|s| stage(*s)).collect(),
            })
            .collect(),
    }
}
