//! Configuration profiles, consistency flags and the round matrix: what comes back to an
//! organisation and its validators once the stage questionnaire is answered.
//!
//! Everything here is a pure function of the catalogue and a round's stored data
//! ([`RoundData`]): no store, no IO, no clock, so every rule is tested without a server.
//! `service::profile` reads the store and calls these; transports convert the results.
//!
//! What a profile holds, per organisation and round:
//! - per component: the self-assessed stage (the consolidated response's `<c>/stage`,
//!   whether the response is submitted or still a draft), the validated stage (the
//!   latest a validator recorded, see [`ValidationState`]), evidence and activity-rating summaries, completeness, the independent raters'
//!   stages and their agreement, the change since the previous round, and the annex V
//!   driver descriptions at the self-assessed stage;
//! - per pillar: the stage by a [`PillarRule`], with min and max;
//! - the overall [`Pattern`]; the raters' overall [`Agreement`]; the outcome linkage of
//!   annex III; and the consistency [`Flag`]s.
//!
//! Rounds are ordered by deadline (a round without one after every round with one),
//! then by id; the previous round of an organisation is the latest round before this one
//! in that order that includes the organisation and uses a stage questionnaire with the
//! same instrument id (any version: components are matched by id).
//!
//! Independent raters answer the same stage questionnaire as their own per-person
//! response (`<round>/<org>/jiu-rbm-stages@1/~<person>`). The focal points' consolidated
//! stage counts as one rater in the agreement: what validation needs to know is whether
//! independent eyes see the same stage as the self-assessment, and with one independent
//! rater there would otherwise be nothing to compare.

mod flags;
mod matrix;
mod outcomes;
mod stats;
mod validation;

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::catalogue::model::{
    Drivers, InstrumentKind, OutcomeMap, StageQuestionnaire, ValidationGuide,
};
use crate::catalogue::{Catalogue, Instrument, InstrumentRef};
use crate::domain::{
    AnswerValue, Assignment, EvidenceItem, EvidenceKind, NamedRating, OrganisationId, PersonId,
    Respondent, Response, ResponseStatus, Role, Round, RoundId, Stage, ValidationRecord,
};

pub use flags::{
    ALPHA_BELOW, EVALUATIVE_TERMS, EVIDENCE_FROM_STAGE, Flag, FlagCode, FlagPrompt, HIGH_STAGE,
    HIGH_STAGE_MEAN_BELOW, LOW_STAGE, LOW_STAGE_MEAN_FROM, MIN_RATED_ACTIVITIES, PEER_DISTANCE,
    PEER_MIN_ORGANISATIONS, PILLAR_SPREAD, PeerStat, RATER_RANGE,
};
pub use matrix::{
    MatrixComponent, MatrixPillar, MatrixRow, RoundMatrix, StageDifference, round_matrix,
};
pub use outcomes::{
    LinkedComponent, ManagerAnswer, ManagerAnswers, OutcomeLinkage, render as answer_text,
};
pub use stats::{
    AlphaMetric, Distribution, DistributionSummary, MIN_GROUP_SIZE, PairAgreement, PillarRule,
    distribution, krippendorff_alpha, median_rounded_down, mode_lower, pair_agreement, quantile,
};
pub use validation::{ComponentValidation, SignOff, ValidationState};

/// Why a profile or matrix cannot be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProfileError {
    /// The round uses no stage questionnaire (e.g. a learning round).
    #[error("round `{0}` uses no stage questionnaire, so it has no profiles")]
    NoStageQuestionnaire(RoundId),
    /// The organisation does not take part in the round.
    #[error("organisation `{organisation}` does not take part in round `{round}`")]
    NotInRound {
        /// The organisation.
        organisation: OrganisationId,
        /// The round.
        round: RoundId,
    },
}

/// What the computations read: one round, its assignments and its stored responses
/// (responses of other rounds are ignored).
#[derive(Debug, Clone, Copy)]
pub struct RoundData<'a> {
    /// The round.
    pub round: &'a Round,
    /// Its assignments.
    pub assignments: &'a [Assignment],
    /// Its responses: at least the consolidated stage responses of its organisations,
    /// and for a profile the organisation's rater and senior-manager responses.
    pub responses: &'a [Response],
    /// Its validation records, oldest first: at least the organisation's for a profile,
    /// every organisation's for the matrix (records of other rounds are ignored).
    pub validations: &'a [ValidationRecord],
}

/// The organisation's previous round and its consolidated stage response there.
#[derive(Debug, Clone, Copy)]
pub struct PreviousRound<'a> {
    /// The round (see [`previous_round`]).
    pub round: &'a Round,
    /// The organisation's consolidated stage response in it, if it answered.
    pub response: Option<&'a Response>,
}

/// The instruments a profile reads, resolved for a round.
#[derive(Debug, Clone, Copy)]
pub struct Instruments<'c> {
    /// The stage questionnaire the round uses (the first one, in the round's order).
    pub stages: &'c Instrument,
    /// Its body.
    pub questionnaire: &'c StageQuestionnaire,
    /// Annex V, the drivers linked to it.
    pub drivers: Option<&'c Drivers>,
    /// Annex IX part 3, the validation guide linked to it.
    pub guide: Option<&'c ValidationGuide>,
    /// The instrument whose body is [`Self::guide`] (for its title).
    pub guide_instrument: Option<&'c Instrument>,
    /// Annex III, the outcome map linked to it.
    pub outcome_map: Option<&'c OutcomeMap>,
    /// The outcome protocol senior managers answer (the one the round uses, else the one
    /// the outcome map refers to).
    pub outcomes: Option<&'c Instrument>,
}

impl<'c> Instruments<'c> {
    /// Resolves the stage questionnaire of `round` and its companions. A companion of a
    /// kind is the instrument of that kind the round uses that is linked to the stage
    /// questionnaire (one refers to the other in `references`), else the latest such
    /// version in the catalogue.
    ///
    /// # Errors
    /// [`ProfileError::NoStageQuestionnaire`] when the round uses none.
    pub fn resolve(catalogue: &'c Catalogue, round: &Round) -> Result<Self, ProfileError> {
        let in_round = || {
            round
                .instruments
                .iter()
                .filter_map(|r| catalogue.get(&r.id, r.version))
        };
        let (stages, questionnaire) = in_round()
            .find_map(|i| i.as_stage_questionnaire().map(|body| (i, body)))
            .ok_or_else(|| ProfileError::NoStageQuestionnaire(round.id.clone()))?;
        let stages_ref = stages.reference().to_string();
        let linked = |kind: InstrumentKind| {
            let fits = |i: &Instrument| {
                i.header().kind == kind
                    && (i.header().references.contains(&stages_ref)
                        || stages
                            .header()
                            .references
                            .contains(&i.reference().to_string()))
            };
            in_round()
                .find(|i| fits(i))
                .or_else(|| catalogue.instruments().filter(|i| fits(i)).last())
        };
        let outcome_map_instrument = linked(InstrumentKind::OutcomeMap);
        let guide_instrument =
            linked(InstrumentKind::ValidationGuide).filter(|i| i.as_validation_guide().is_some());
        let has_areas = |i: &Instrument| {
            i.as_questionnaire()
                .is_some_and(|q| !q.outcome_areas.is_empty())
        };
        let outcomes = in_round().find(|i| has_areas(i)).or_else(|| {
            outcome_map_instrument.and_then(|map| {
                map.header()
                    .references
                    .iter()
                    .filter_map(|r| InstrumentRef::parse(r).ok())
                    .filter_map(|r| catalogue.get(&r.id, r.version))
                    .rfind(|i| has_areas(i))
            })
        });
        Ok(Self {
            stages,
            questionnaire,
            drivers: linked(InstrumentKind::Drivers).and_then(Instrument::as_drivers),
            guide: guide_instrument.and_then(Instrument::as_validation_guide),
            guide_instrument,
            outcome_map: outcome_map_instrument.and_then(Instrument::as_outcome_map),
            outcomes,
        })
    }
}

/// How well a component's stage is evidenced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EvidenceStrength {
    /// No evidence given.
    None,
    /// Only names of people: weak evidence.
    Weak,
    /// At least one document.
    Documented,
}

/// The evidence given for a component (Q.1.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceSummary {
    /// Documents cited.
    pub documents: usize,
    /// Names of people given where nothing is documented.
    pub persons: usize,
    /// Documented, weak (persons only) or none.
    pub strength: EvidenceStrength,
    /// Whether a document's title or reference contains one of the
    /// [`EVALUATIVE_TERMS`].
    pub cites_evaluation: bool,
}

/// The activity ratings of a component (Q.2): the listed activities and the
/// organisation's own, together.
#[derive(Debug, Clone, PartialEq)]
pub struct ActivitySummary {
    /// Activities the instrument lists for the component.
    pub listed: usize,
    /// Listed activities rated.
    pub listed_rated: usize,
    /// Activities the organisation named and rated itself.
    pub other: usize,
    /// All ratings: listed and own.
    pub rated: usize,
    /// Their mean; `None` without ratings.
    pub mean: Option<f64>,
    /// How many ratings have each value of the scale, lowest first: `(value, count)`.
    pub counts: Vec<(u8, usize)>,
}

/// How far a component's required items are answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completeness {
    /// Required items answered.
    pub answered: usize,
    /// Required items (stage, rationale and evidence in the JIU questionnaire).
    pub required: usize,
    /// The unanswered required question ids, in instrument order.
    pub missing: Vec<String>,
}

/// A component's stage in the previous round and the change since.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StageChange {
    /// The self-assessed stage in the previous round.
    pub previous: Option<Stage>,
    /// This round's stage minus the previous one; `None` unless both are known.
    pub delta: Option<i8>,
}

/// An annex V driver described at a component's self-assessed stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriverDescription {
    /// Box 4 numbering.
    pub number: u8,
    /// The driver's name.
    pub name: String,
    /// Its key question.
    pub key_question: String,
    /// The stage described.
    pub stage: Stage,
    /// The driver at that stage.
    pub text: String,
}

/// One component in a profile.
#[derive(Debug, Clone, PartialEq)]
pub struct ComponentProfile {
    /// The component id, e.g. `2.3`.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its pillar's number.
    pub pillar: u8,
    /// The self-assessed stage; `None` when unanswered.
    pub stage: Option<Stage>,
    /// The validated stage: the latest one a validator recorded; `None` before any.
    pub validated: Option<Stage>,
    /// Evidence.
    pub evidence: EvidenceSummary,
    /// Activity ratings.
    pub activities: ActivitySummary,
    /// Required items.
    pub completeness: Completeness,
    /// Each independent rater's stage, in the order of [`Profile::raters`].
    pub rater_stages: Vec<Option<Stage>>,
    /// Agreement of the self-assessed stage and the raters' stages; `None` with fewer
    /// than two stages.
    pub agreement: Option<PairAgreement>,
    /// The change since the previous round.
    pub change: StageChange,
    /// The drivers showing in this component, described at its self-assessed stage;
    /// empty when unanswered.
    pub drivers: Vec<DriverDescription>,
}

/// One pillar in a profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PillarProfile {
    /// Pillar number, from 1.
    pub number: u8,
    /// Its name.
    pub name: String,
    /// The stage by the profile's rule; `None` when no component is answered.
    pub stage: Option<Stage>,
    /// The lowest answered component stage.
    pub min: Option<Stage>,
    /// The highest answered component stage.
    pub max: Option<Stage>,
    /// Components with a stage.
    pub answered: usize,
    /// Components in the pillar.
    pub components: usize,
}

/// The overall pattern of a profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    /// The pillar stages in pillar order, joined by `-`, `?` for a pillar without an
    /// answered component: e.g. `3-4-3-3-3`.
    pub pillars: String,
    /// The median of every answered component stage, rounded down (the pillar median
    /// rule over the whole questionnaire).
    pub median: Option<Stage>,
    /// The lowest answered component stage.
    pub min: Option<Stage>,
    /// The highest answered component stage.
    pub max: Option<Stage>,
    /// Components with a stage.
    pub answered: usize,
    /// Components in the questionnaire.
    pub components: usize,
}

/// An independent rater of the organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rater {
    /// The person.
    pub person: PersonId,
    /// Whether they are assigned as independent rater (a rating whose assignment was
    /// later removed is still shown).
    pub assigned: bool,
    /// Whether their rating is submitted.
    pub submitted: bool,
    /// Components they gave a stage.
    pub rated: usize,
}

/// The agreement of the self-assessment and the independent raters over all components.
#[derive(Debug, Clone, PartialEq)]
pub struct Agreement {
    /// Independent raters (the self-assessment is one more rater).
    pub raters: usize,
    /// Components with at least two stages.
    pub components: usize,
    /// Pairs of stages given to the same component, over all components.
    pub pairs: usize,
    /// Of those, pairs at most one stage apart.
    pub within_one: usize,
    /// `within_one / pairs`; `None` without pairs.
    pub share_within_one: Option<f64>,
    /// The largest range on one component; `None` without pairs.
    pub max_range: Option<u8>,
    /// Krippendorff's alpha, ordinal metric, over the components (see
    /// [`krippendorff_alpha`]); `None` without raters, without pairs or without
    /// variation.
    pub alpha: Option<f64>,
}

/// The configuration profile of one organisation in one round.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    /// The round.
    pub round: RoundId,
    /// The organisation.
    pub organisation: OrganisationId,
    /// The stage questionnaire answered.
    pub instrument: InstrumentRef,
    /// The pillar rule applied.
    pub rule: PillarRule,
    /// Whether the consolidated response is submitted.
    pub submitted: bool,
    /// The components in instrument order.
    pub components: Vec<ComponentProfile>,
    /// The pillars in order.
    pub pillars: Vec<PillarProfile>,
    /// The overall pattern.
    pub pattern: Pattern,
    /// The independent raters, by person id.
    pub raters: Vec<Rater>,
    /// Their agreement with each other and the self-assessment.
    pub agreement: Agreement,
    /// The previous round compared with, if any.
    pub previous_round: Option<RoundId>,
    /// The outcome areas with their linked components and the senior managers' answers.
    pub outcomes: Vec<OutcomeLinkage>,
    /// The consistency flags.
    pub flags: Vec<Flag>,
    /// The organisation's validation as its records stand.
    pub validation: ValidationState,
}

/// The order rounds follow: by deadline, rounds without a deadline after every round with
/// one, then by id.
pub fn round_order(round: &Round) -> (bool, i64, &str) {
    (
        round.deadline.is_none(),
        round.deadline.map_or(i64::MAX, |d| d.millis()),
        round.id.as_str(),
    )
}

/// The organisation's previous round: the latest of `rounds` before `current` in
/// [`round_order`] that includes `organisation` and uses a stage questionnaire with the
/// instrument id `instrument`.
pub fn previous_round<'r>(
    rounds: &'r [Round],
    current: &Round,
    organisation: &OrganisationId,
    instrument: &str,
) -> Option<&'r Round> {
    rounds
        .iter()
        .filter(|r| r.id != current.id && round_order(r) < round_order(current))
        .filter(|r| r.organisations.contains(organisation))
        .filter(|r| r.instruments.iter().any(|i| i.id == instrument))
        .max_by(|a, b| round_order(a).cmp(&round_order(b)))
}

/// The stage answers of one component of one response.
#[derive(Debug, Default)]
struct ComponentAnswers<'a> {
    stage: Option<Stage>,
    evidence: &'a [EvidenceItem],
    ratings: Vec<u8>,
    other: &'a [NamedRating],
    answered: HashSet<&'a str>,
}

/// The answers of a stage response, grouped by component (the part of a question id
/// before the first `/`).
fn by_component(response: Option<&Response>) -> HashMap<&str, ComponentAnswers<'_>> {
    let mut grouped: HashMap<&str, ComponentAnswers<'_>> = HashMap::new();
    let Some(response) = response else {
        return grouped;
    };
    for (question, answer) in &response.answers {
        let id = question.as_str();
        let Some((component, item)) = id.split_once('/') else {
            continue;
        };
        let entry = grouped.entry(component).or_default();
        entry.answered.insert(id);
        match (item, &answer.value) {
            ("stage", AnswerValue::Stage(stage)) => entry.stage = Some(*stage),
            ("evidence", AnswerValue::Evidence(items)) => entry.evidence = items,
            ("other", AnswerValue::OtherActivities(items)) => entry.other = items,
            (item, AnswerValue::Rating(rating)) if item.starts_with("activity/") => {
                entry.ratings.push(rating.get());
            }
            _ => {}
        }
    }
    grouped
}

/// The self-assessed stage per component of a stage response.
fn stages_of(response: &Response) -> HashMap<&str, Stage> {
    response
        .answers
        .iter()
        .filter_map(|(question, answer)| {
            let component = question.as_str().strip_suffix("/stage")?;
            match answer.value {
                AnswerValue::Stage(stage) => Some((component, stage)),
                _ => None,
            }
        })
        .collect()
}

/// The consolidated stage responses of the round's organisations, by organisation.
fn consolidated<'a>(
    data: &RoundData<'a>,
    instrument: &InstrumentRef,
) -> HashMap<&'a OrganisationId, &'a Response> {
    data.responses
        .iter()
        .filter(|r| {
            r.key.round == data.round.id
                && &r.key.instrument == instrument
                && r.key.respondent == Respondent::Organisation
                && data.round.organisations.contains(&r.key.organisation)
        })
        .map(|r| (&r.key.organisation, r))
        .collect()
}

/// Per component: how many of the round's organisations answered it and their median.
fn peer_stats<'a>(
    questionnaire: &'a StageQuestionnaire,
    responses: &HashMap<&OrganisationId, &Response>,
) -> BTreeMap<&'a str, PeerStat> {
    let stages: Vec<HashMap<&str, Stage>> = responses.values().map(|r| stages_of(r)).collect();
    questionnaire
        .components()
        .filter_map(|component| {
            let mut values: Vec<u8> = stages
                .iter()
                .filter_map(|s| s.get(component.id.as_str()).map(|s| s.get()))
                .collect();
            values.sort_unstable();
            let median = quantile(&values, 0.5)?;
            Some((
                component.id.as_str(),
                PeerStat {
                    n: values.len(),
                    median,
                },
            ))
        })
        .collect()
}

fn evidence_summary(items: &[EvidenceItem]) -> EvidenceSummary {
    let documents: Vec<&EvidenceItem> = items
        .iter()
        .filter(|i| i.kind == EvidenceKind::Document)
        .collect();
    let persons = items.len() - documents.len();
    let cites_evaluation = documents.iter().any(|document| {
        let text = document.text.to_lowercase();
        let file = document
            .file
            .as_ref()
            .map(|f| f.name.to_lowercase())
            .unwrap_or_default();
        EVALUATIVE_TERMS
            .iter()
            .any(|term| text.contains(term) || file.contains(term))
    });
    EvidenceSummary {
        documents: documents.len(),
        persons,
        strength: if !documents.is_empty() {
            EvidenceStrength::Documented
        } else if persons > 0 {
            EvidenceStrength::Weak
        } else {
            EvidenceStrength::None
        },
        cites_evaluation,
    }
}

fn activity_summary(
    questionnaire: &StageQuestionnaire,
    listed: usize,
    answers: Option<&ComponentAnswers<'_>>,
) -> ActivitySummary {
    let own: &[NamedRating] = answers.map_or(&[], |a| a.other);
    let listed_ratings: &[u8] = answers.map_or(&[], |a| a.ratings.as_slice());
    let all: Vec<u8> = listed_ratings
        .iter()
        .copied()
        .chain(own.iter().map(|n| n.rating.get()))
        .collect();
    let mut scale: Vec<u8> = questionnaire
        .activity_question
        .scale
        .iter()
        .map(|p| p.value)
        .collect();
    scale.sort_unstable();
    ActivitySummary {
        listed,
        listed_rated: listed_ratings.len(),
        other: own.len(),
        rated: all.len(),
        mean: (!all.is_empty())
            .then(|| all.iter().map(|r| f64::from(*r)).sum::<f64>() / all.len() as f64),
        counts: scale
            .iter()
            .map(|value| (*value, all.iter().filter(|r| *r == value).count()))
            .collect(),
    }
}

fn driver_descriptions(
    drivers: Option<&Drivers>,
    component: &str,
    stage: Option<Stage>,
) -> Vec<DriverDescription> {
    let (Some(drivers), Some(stage)) = (drivers, stage) else {
        return Vec::new();
    };
    drivers
        .drivers
        .iter()
        .filter(|d| d.components.iter().any(|c| c == component))
        .filter_map(|driver| {
            let at = driver.stages.iter().find(|s| s.stage == stage.get())?;
            Some(DriverDescription {
                number: driver.number,
                name: driver.name.as_str().to_owned(),
                key_question: driver.key_question.as_str().to_owned(),
                stage,
                text: at.text.as_str().to_owned(),
            })
        })
        .collect()
}

/// The pillar profiles of component stages under `rule`.
fn pillar_profiles(
    questionnaire: &StageQuestionnaire,
    stage_of: impl Fn(&str) -> Option<Stage>,
    rule: PillarRule,
) -> Vec<PillarProfile> {
    questionnaire
        .pillars
        .iter()
        .map(|pillar| {
            let stages: Vec<Stage> = pillar
                .components
                .iter()
                .filter_map(|c| stage_of(&c.id))
                .collect();
            PillarProfile {
                number: pillar.number,
                name: pillar.name.as_str().to_owned(),
                stage: rule.apply(&stages),
                min: stages.iter().copied().min(),
                max: stages.iter().copied().max(),
                answered: stages.len(),
                components: pillar.components.len(),
            }
        })
        .collect()
}

/// The configuration profile of `organisation` in `data.round`, with pillar stages by
/// `rule` and changes against `previous` (see [`previous_round`]).
///
/// # Errors
/// [`ProfileError`] when the round uses no stage questionnaire or the organisation is
/// not in it.
pub fn profile(
    catalogue: &Catalogue,
    data: &RoundData<'_>,
    organisation: &OrganisationId,
    previous: Option<&PreviousRound<'_>>,
    rule: PillarRule,
) -> Result<Profile, ProfileError> {
    let instruments = Instruments::resolve(catalogue, data.round)?;
    if !data.round.organisations.contains(organisation) {
        return Err(ProfileError::NotInRound {
            organisation: organisation.clone(),
            round: data.round.id.clone(),
        });
    }
    let questionnaire = instruments.questionnaire;
    let stage_ref = instruments.stages.reference();
    let responses = consolidated(data, &stage_ref);
    let own = responses.get(organisation).copied();
    let answers = by_component(own);
    let peers = peer_stats(questionnaire, &responses);

    // Raters: assigned ones and anyone with a rating of this organisation, by person.
    let mut raters: BTreeMap<&PersonId, (bool, Option<&Response>)> = BTreeMap::new();
    for assignment in data.assignments.iter().filter(|a| {
        a.round == data.round.id
            && &a.organisation == organisation
            && a.role == Role::IndependentRater
    }) {
        raters.entry(&assignment.person).or_default().0 = true;
    }
    for response in data.responses.iter().filter(|r| {
        r.key.round == data.round.id
            && &r.key.organisation == organisation
            && r.key.instrument == stage_ref
    }) {
        if let Respondent::Person(person) = &response.key.respondent {
            raters.entry(person).or_default().1 = Some(response);
        }
    }
    let rater_stages: Vec<HashMap<&str, Stage>> = raters
        .values()
        .map(|(_, response)| response.map(stages_of).unwrap_or_default())
        .collect();
    let previous_stages = previous
        .and_then(|p| p.response)
        .map(stages_of)
        .unwrap_or_default();
    let validation = ValidationState::fold(data.validations, &data.round.id, organisation);

    let mut required: HashMap<&str, Vec<&str>> = HashMap::new();
    for question in instruments.stages.questions().iter().filter(|q| q.required) {
        let component = question.id.split('/').next().unwrap_or_default();
        required.entry(component).or_default().push(&question.id);
    }

    let mut components = Vec::new();
    for pillar in &questionnaire.pillars {
        for component in &pillar.components {
            let mine = answers.get(component.id.as_str());
            let stage = mine.and_then(|a| a.stage);
            let stages_given: Vec<Option<Stage>> = rater_stages
                .iter()
                .map(|s| s.get(component.id.as_str()).copied())
                .collect();
            let mut ratings: Vec<Stage> = stage.into_iter().collect();
            ratings.extend(stages_given.iter().flatten());
            let required_here = required.get(component.id.as_str());
            let missing: Vec<String> = required_here
                .into_iter()
                .flatten()
                .filter(|q| !mine.is_some_and(|a| a.answered.contains(*q)))
                .map(|q| (*q).to_owned())
                .collect();
            let required_count = required_here.map_or(0, Vec::len);
            let previous_stage = previous_stages.get(component.id.as_str()).copied();
            components.push(ComponentProfile {
                id: component.id.clone(),
                name: component.name.as_str().to_owned(),
                pillar: pillar.number,
                stage,
                validated: validation.stage_of(&component.id),
                evidence: evidence_summary(mine.map_or(&[], |a| a.evidence)),
                activities: activity_summary(questionnaire, component.activities.len(), mine),
                completeness: Completeness {
                    answered: required_count - missing.len(),
                    required: required_count,
                    missing,
                },
                rater_stages: stages_given,
                agreement: if raters.is_empty() {
                    None
                } else {
                    pair_agreement(&ratings)
                },
                change: StageChange {
                    previous: previous_stage,
                    delta: stage
                        .zip(previous_stage)
                        .map(|(now, before)| now.get() as i8 - before.get() as i8),
                },
                drivers: driver_descriptions(instruments.drivers, &component.id, stage),
            });
        }
    }

    let stage_of = |id: &str| answers.get(id).and_then(|a| a.stage);
    let pillars = pillar_profiles(questionnaire, stage_of, rule);
    let all_stages: Vec<Stage> = components.iter().filter_map(|c| c.stage).collect();
    let pattern = Pattern {
        pillars: pillars
            .iter()
            .map(|p| p.stage.map_or("?".to_owned(), |s| s.get().to_string()))
            .collect::<Vec<_>>()
            .join("-"),
        median: median_rounded_down(&all_stages),
        min: all_stages.iter().copied().min(),
        max: all_stages.iter().copied().max(),
        answered: all_stages.len(),
        components: components.len(),
    };

    let agreements: Vec<&PairAgreement> = components
        .iter()
        .filter_map(|c| c.agreement.as_ref())
        .collect();
    let pairs: usize = agreements.iter().map(|a| a.pairs).sum();
    let within_one: usize = agreements.iter().map(|a| a.within_one).sum();
    let units: Vec<Vec<u8>> = components
        .iter()
        .map(|c| {
            c.stage
                .iter()
                .chain(c.rater_stages.iter().flatten())
                .map(|s| s.get())
                .collect()
        })
        .collect();
    let agreement = Agreement {
        raters: raters.len(),
        components: agreements.len(),
        pairs,
        within_one,
        share_within_one: (pairs > 0).then(|| within_one as f64 / pairs as f64),
        max_range: agreements.iter().map(|a| a.range).max(),
        alpha: if raters.is_empty() {
            None
        } else {
            krippendorff_alpha(&units, AlphaMetric::Ordinal)
        },
    };

    let outcomes = outcomes::link(&instruments, &components, data, organisation);
    let flags = flags::raise(
        &components,
        &pillars,
        agreement.alpha,
        &peers,
        instruments.guide,
    );
    Ok(Profile {
        round: data.round.id.clone(),
        organisation: organisation.clone(),
        instrument: stage_ref,
        rule,
        submitted: own.is_some_and(|r| r.meta.status == ResponseStatus::Submitted),
        components,
        pillars,
        pattern,
        raters: raters
            .into_iter()
            .zip(&rater_stages)
            .map(|((person, (assigned, response)), stages)| Rater {
                person: person.clone(),
                assigned,
                submitted: response.is_some_and(|r| r.meta.status == ResponseStatus::Submitted),
                rated: stages.len(),
            })
            .collect(),
        agreement,
        previous_round: previous.map(|p| p.round.id.clone()),
        outcomes,
        flags,
        validation,
    })
}

#[cfg(test)]
mod tests;
