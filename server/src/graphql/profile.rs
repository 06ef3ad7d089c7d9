//! Profiles over GraphQL: an organisation's configuration profile, its consistency flags,
//! and the round matrix of organisations × components.
//!
//! Transport only: each resolver checks access (administrators, and validators with the
//! round in scope; anyone else FORBIDDEN, no token UNAUTHENTICATED), calls
//! `service::profile`, and converts the pure types of `crate::profile` into the objects
//! below. The rules, thresholds and statistics are documented in `crate::profile` and in
//! ARCHITECTURE.md ("Profiles and flags").

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_graphql::{ComplexObject, Context, Enum, Object, SimpleObject};

use super::error::GqlError;
use super::request;
use super::validation::ValidationStatus;
use crate::domain::{OrganisationId, RoundId, Stage};
use crate::http::downloads::{self, ExportFormat};
use crate::profile as pure;
use crate::service::profile::LoadError;

impl From<LoadError> for GqlError {
    fn from(error: LoadError) -> Self {
        match error {
            LoadError::UnknownRound(_) | LoadError::Profile(_) => {
                Self::not_found(error.to_string())
            }
            LoadError::Store(store) => store.into(),
        }
    }
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn stage(stage: Option<Stage>) -> Option<i32> {
    stage.map(|s| i32::from(s.get()))
}

// --- enums ---------------------------------------------------------------------------

/// How a pillar's stage is derived from the stages of its answered components.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[graphql(name = "PillarRule")]
pub enum PillarRuleValue {
    /// The median of the answered components, rounded down to a whole stage (the default).
    #[default]
    Median,
    /// The lowest answered component.
    Minimum,
    /// The stage most components are at; a tie goes to the lower stage.
    Mode,
}

impl From<PillarRuleValue> for pure::PillarRule {
    fn from(rule: PillarRuleValue) -> Self {
        match rule {
            PillarRuleValue::Median => Self::Median,
            PillarRuleValue::Minimum => Self::Minimum,
            PillarRuleValue::Mode => Self::Mode,
        }
    }
}

impl From<pure::PillarRule> for PillarRuleValue {
    fn from(rule: pure::PillarRule) -> Self {
        match rule {
            pure::PillarRule::Median => Self::Median,
            pure::PillarRule::Minimum => Self::Minimum,
            pure::PillarRule::Mode => Self::Mode,
        }
    }
}

/// How well a component's stage is evidenced.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvidenceStrength {
    /// No evidence given.
    None,
    /// Only names of people: weak evidence.
    Weak,
    /// At least one document.
    Documented,
}

impl From<pure::EvidenceStrength> for EvidenceStrength {
    fn from(strength: pure::EvidenceStrength) -> Self {
        match strength {
            pure::EvidenceStrength::None => Self::None,
            pure::EvidenceStrength::Weak => Self::Weak,
            pure::EvidenceStrength::Documented => Self::Documented,
        }
    }
}

/// What a consistency flag is about. The codes are stable.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagCode {
    /// Stage 3 or higher with no documented evidence (names of people alone are weak
    /// evidence and count as missing).
    #[graphql(name = "EVIDENCE_MISSING")]
    EvidenceMissing,
    /// Stage 5 with no document citing an evaluation, review or audit.
    #[graphql(name = "STAGE5_WITHOUT_EVALUATION")]
    Stage5WithoutEvaluation,
    /// Stage 4 or 5 with activities rated below 2.0 on average, or stage 1 or 2 with 2.5
    /// or more (at least three ratings).
    #[graphql(name = "ACTIVITIES_DISAGREE_WITH_STAGE")]
    ActivitiesDisagreeWithStage,
    /// Components of one pillar three or more stages apart.
    #[graphql(name = "PILLAR_UNEVEN")]
    PillarUneven,
    /// The self-assessment and independent raters two or more stages apart on a
    /// component, or Krippendorff's alpha below 0.667 over the profile.
    #[graphql(name = "RATERS_DISAGREE")]
    RatersDisagree,
    /// Two or more stages from the round's median for the component, with at least five
    /// organisations answering it.
    #[graphql(name = "PEER_OUTLIER")]
    PeerOutlier,
    /// Required items unanswered (listed in `items`).
    #[graphql(name = "INCOMPLETE")]
    Incomplete,
}

impl From<pure::FlagCode> for FlagCode {
    fn from(code: pure::FlagCode) -> Self {
        match code {
            pure::FlagCode::EvidenceMissing => Self::EvidenceMissing,
            pure::FlagCode::Stage5WithoutEvaluation => Self::Stage5WithoutEvaluation,
            pure::FlagCode::ActivitiesDisagreeWithStage => Self::ActivitiesDisagreeWithStage,
            pure::FlagCode::PillarUneven => Self::PillarUneven,
            pure::FlagCode::RatersDisagree => Self::RatersDisagree,
            pure::FlagCode::PeerOutlier => Self::PeerOutlier,
            pure::FlagCode::Incomplete => Self::Incomplete,
        }
    }
}

// --- flags ---------------------------------------------------------------------------

/// The validation interview prompt a flag calls for, word for word from annex IX part 3.
#[derive(SimpleObject, Debug, Clone)]
pub struct FlagPrompt {
    /// The concern's id in the validation guide, e.g. `internal-validity`.
    pub concern_id: String,
    /// The concern's number as printed.
    pub concern_number: i32,
    /// The concern's title, e.g. `Internal validity in rating`.
    pub concern_title: String,
    /// The point's number within the concern, from 1.
    pub point: i32,
    /// The point's text.
    pub text: String,
}

/// A consistency flag: where a self-assessment looks weak, and what to ask about it.
#[derive(SimpleObject, Debug, Clone)]
pub struct Flag {
    /// What it is about.
    pub code: FlagCode,
    /// The component concerned, e.g. `2.3`; null for a pillar or the whole profile.
    pub component_id: Option<String>,
    /// The pillar concerned (a component's own pillar for a component flag); null for
    /// the whole profile.
    pub pillar: Option<i32>,
    /// What triggered it, in words, e.g. `stage 4 with no documented evidence`.
    pub trigger: String,
    /// The unanswered question ids for `INCOMPLETE`, the components at the extremes for
    /// `PILLAR_UNEVEN`; empty otherwise.
    pub items: Vec<String>,
    /// The interview prompt it calls for; null when the catalogue has no validation
    /// guide with that point.
    pub prompt: Option<FlagPrompt>,
}

impl From<&pure::Flag> for Flag {
    fn from(flag: &pure::Flag) -> Self {
        Self {
            code: flag.code.into(),
            component_id: flag.component.clone(),
            pillar: flag.pillar.map(i32::from),
            trigger: flag.trigger.clone(),
            items: flag.items.clone(),
            prompt: flag.prompt.as_ref().map(|p| FlagPrompt {
                concern_id: p.concern.clone(),
                concern_number: i32::from(p.concern_number),
                concern_title: p.concern_title.clone(),
                point: i32::from(p.point),
                text: p.text.clone(),
            }),
        }
    }
}

// --- profile -------------------------------------------------------------------------

/// The evidence given for a component (Q.1.3).
#[derive(SimpleObject, Debug, Clone)]
pub struct ProfileEvidence {
    /// Documents cited.
    pub documents: i32,
    /// Names of people given where nothing is documented.
    pub persons: i32,
    /// Documented, weak (names of people only) or none.
    pub strength: EvidenceStrength,
    /// Whether a document's title or reference mentions an evaluation, review, audit or
    /// lessons learned.
    pub cites_evaluation: bool,
}

/// How many ratings have one value of the Q.2 scale.
#[derive(SimpleObject, Debug, Clone)]
pub struct RatingCount {
    /// The rating: 1 = no contribution, 2 = little, 3 = significant.
    pub rating: i32,
    /// How many activities have it.
    pub count: i32,
}

/// The activity ratings of a component (Q.2), listed activities and the organisation's
/// own together.
#[derive(SimpleObject, Debug, Clone)]
pub struct ProfileActivities {
    /// Activities the instrument lists for the component.
    pub listed: i32,
    /// Listed activities rated.
    pub listed_rated: i32,
    /// Activities the organisation named and rated itself.
    pub other: i32,
    /// All ratings, listed and own.
    pub rated: i32,
    /// Their mean; null without ratings.
    pub mean: Option<f64>,
    /// How many ratings have each value of the scale, lowest first.
    pub counts: Vec<RatingCount>,
}

/// How far a component's required items are answered.
#[derive(SimpleObject, Debug, Clone)]
pub struct ProfileCompleteness {
    /// Required items answered.
    pub answered: i32,
    /// Required items (stage, rationale and evidence).
    pub required: i32,
    /// The unanswered required question ids, in instrument order.
    pub missing: Vec<String>,
}

/// One independent rater's stage for a component.
#[derive(SimpleObject, Debug, Clone)]
pub struct RaterStage {
    /// The rater.
    pub person_id: String,
    /// Their stage, 1 to 5; null when they did not rate the component.
    pub stage: Option<i32>,
}

/// How closely the self-assessed stage and the raters' stages of one component agree.
#[derive(SimpleObject, Debug, Clone)]
pub struct ComponentAgreement {
    /// Stages given (the self-assessment counts as one).
    pub ratings: i32,
    /// Pairs of them.
    pub pairs: i32,
    /// Pairs at most one stage apart.
    pub within_one: i32,
    /// `withinOne / pairs`, 0 to 1.
    pub share_within_one: f64,
    /// Highest minus lowest stage.
    pub range: i32,
}

impl From<&pure::PairAgreement> for ComponentAgreement {
    fn from(agreement: &pure::PairAgreement) -> Self {
        Self {
            ratings: count(agreement.ratings),
            pairs: count(agreement.pairs),
            within_one: count(agreement.within_one),
            share_within_one: agreement.share_within_one(),
            range: i32::from(agreement.range),
        }
    }
}

/// A component's stage in the organisation's previous round and the change since.
#[derive(SimpleObject, Debug, Clone)]
pub struct StageChange {
    /// The self-assessed stage in the previous round; null when none.
    pub previous_stage: Option<i32>,
    /// This round's stage minus the previous one; null unless both are known.
    pub delta: Option<i32>,
}

/// An annex V driver described at a component's self-assessed stage.
#[derive(SimpleObject, Debug, Clone)]
pub struct ProfileDriver {
    /// Box 4 numbering.
    pub number: i32,
    /// The driver's name.
    pub name: String,
    /// Its key question.
    pub key_question: String,
    /// The stage described.
    pub stage: i32,
    /// The driver at that stage.
    pub text: String,
}

/// One component of a configuration profile.
#[derive(SimpleObject, Debug, Clone)]
pub struct ProfileComponent {
    /// The component id, e.g. `2.3`.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its pillar's number.
    pub pillar: i32,
    /// The self-assessed stage (draft or submitted), 1 to 5; null when unanswered.
    pub stage: Option<i32>,
    /// The validated stage: the latest a validator recorded (`recordValidation`); null
    /// before any.
    pub validated_stage: Option<i32>,
    /// Evidence.
    pub evidence: ProfileEvidence,
    /// Activity ratings.
    pub activities: ProfileActivities,
    /// Required items.
    pub completeness: ProfileCompleteness,
    /// Each independent rater's stage, in the order of `Profile.raters`.
    pub rater_stages: Vec<RaterStage>,
    /// Agreement of the self-assessment and the raters; null with fewer than two stages
    /// or no raters.
    pub agreement: Option<ComponentAgreement>,
    /// The change since the previous round.
    pub change: StageChange,
    /// The annex V drivers showing in this component, described at its self-assessed
    /// stage; empty when unanswered.
    pub drivers: Vec<ProfileDriver>,
}

/// One pillar of a configuration profile.
#[derive(SimpleObject, Debug, Clone)]
pub struct ProfilePillar {
    /// Pillar number, from 1.
    pub number: i32,
    /// Its name.
    pub name: String,
    /// The pillar's stage by the profile's rule; null when no component is answered.
    pub stage: Option<i32>,
    /// The lowest answered component stage.
    pub min: Option<i32>,
    /// The highest answered component stage.
    pub max: Option<i32>,
    /// Components with a stage.
    pub answered: i32,
    /// Components in the pillar.
    pub components: i32,
}

/// The overall pattern of a profile.
#[derive(SimpleObject, Debug, Clone)]
pub struct ProfilePattern {
    /// The pillar stages in pillar order joined by `-`, `?` for a pillar without an
    /// answered component, e.g. `3-4-3-3-3`.
    pub pillars: String,
    /// The median of all answered component stages, rounded down.
    pub median: Option<i32>,
    /// The lowest answered component stage.
    pub min: Option<i32>,
    /// The highest answered component stage.
    pub max: Option<i32>,
    /// Components with a stage.
    pub answered: i32,
    /// Components in the questionnaire.
    pub components: i32,
}

/// An independent rater of the organisation.
#[derive(SimpleObject, Debug, Clone)]
pub struct ProfileRater {
    /// The person.
    pub person_id: String,
    /// Whether they are assigned as independent rater in the round.
    pub assigned: bool,
    /// Whether their rating is submitted.
    pub submitted: bool,
    /// Components they gave a stage.
    pub rated: i32,
}

/// The agreement of the self-assessment and the independent raters over all components.
#[derive(SimpleObject, Debug, Clone)]
pub struct ProfileAgreement {
    /// Independent raters.
    pub raters: i32,
    /// Always true: the focal points' self-assessed stage counts as one rater.
    pub includes_self_assessment: bool,
    /// Components with at least two stages.
    pub components: i32,
    /// Pairs of stages given to the same component, over all components.
    pub pairs: i32,
    /// Pairs at most one stage apart.
    pub within_one: i32,
    /// `withinOne / pairs`; null without pairs.
    pub share_within_one: Option<f64>,
    /// The largest range on one component; null without pairs.
    pub max_range: Option<i32>,
    /// Krippendorff's alpha with the ordinal metric over the components (chance-corrected,
    /// any number of raters, missing ratings allowed); null without raters, pairs or
    /// variation. Below 0.667 raises `RATERS_DISAGREE`.
    pub alpha: Option<f64>,
}

/// A component linked to an outcome area by annex III.
#[derive(SimpleObject, Debug, Clone)]
pub struct ProfileLinkedComponent {
    /// The component id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The self-assessed stage.
    pub stage: Option<i32>,
    /// The validated stage, once a validator recorded one.
    pub validated_stage: Option<i32>,
}

/// One answer of a senior manager in the outcome protocol.
#[derive(SimpleObject, Debug, Clone)]
pub struct ProfileManagerAnswer {
    /// The question id, e.g. `outcome-1/q3`.
    pub question_id: String,
    /// The question as worded in the protocol.
    pub text: String,
    /// The answer field's label, when the question has named fields.
    pub label: Option<String>,
    /// The answer as text (list items one per line).
    pub answer: String,
}

/// A senior manager's answers for one outcome area.
#[derive(SimpleObject, Debug, Clone)]
pub struct ProfileManagerAnswers {
    /// The person.
    pub person_id: String,
    /// Whether they are assigned to judge this area.
    pub assigned: bool,
    /// Whether their outcome-protocol response is submitted.
    pub submitted: bool,
    /// Their answers to the area's questions, in protocol order.
    pub answers: Vec<ProfileManagerAnswer>,
}

/// An outcome area of the quadrennial comprehensive policy review with the components
/// linked to it and the senior managers' answers for it.
#[derive(SimpleObject, Debug, Clone)]
pub struct ProfileOutcomeArea {
    /// The area's id in the outcome protocol, e.g. `qcpr-1`.
    pub id: String,
    /// Its number as printed.
    pub number: i32,
    /// Its name.
    pub name: String,
    /// The components linked to it, with this organisation's stages.
    pub components: Vec<ProfileLinkedComponent>,
    /// The senior managers assigned to it or who answered for it.
    pub managers: Vec<ProfileManagerAnswers>,
}

/// The configuration profile of one organisation in one round.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(complex)]
pub struct Profile {
    /// The round.
    pub round_id: String,
    /// The organisation.
    pub organisation_id: String,
    /// The stage questionnaire answered, as `id@version`.
    pub instrument: String,
    /// The pillar rule applied.
    pub rule: PillarRuleValue,
    /// Whether the consolidated response is submitted (a draft's answers count too).
    pub submitted: bool,
    /// The 17 components in instrument order.
    pub components: Vec<ProfileComponent>,
    /// The pillars in order.
    pub pillars: Vec<ProfilePillar>,
    /// The overall pattern.
    pub pattern: ProfilePattern,
    /// The independent raters, by person id.
    pub raters: Vec<ProfileRater>,
    /// The agreement of the self-assessment and the raters.
    pub agreement: ProfileAgreement,
    /// The previous round compared with (by deadline, then id), if any.
    pub previous_round_id: Option<String>,
    /// The outcome areas with their linked components and the senior managers' answers.
    pub outcomes: Vec<ProfileOutcomeArea>,
    /// The consistency flags.
    pub flags: Vec<Flag>,
    /// How far the organisation's validation has got (details: `validation`).
    pub validation_status: ValidationStatus,
    /// Components with a validated stage.
    pub validated_components: i32,
}

/// Most converted views kept; when full, the cache starts over.
const CONVERTED_CAPACITY: usize = 1024;

/// Profiles and matrices converted for GraphQL, reused while the cached view they were
/// converted from is still the one `Views` serves (the same `Arc`): converting copies
/// every text a profile holds, which costs more than resolving the fields a client asks
/// for. Keyed by view, so a newer view replaces the older conversion.
#[derive(Debug, Default)]
pub struct Converted {
    profiles: Mutex<ConvertedMap<pure::Profile, Profile>>,
    matrices: Mutex<ConvertedMap<pure::RoundMatrix, RoundMatrix>>,
}

type ConvertedMap<P, G> = HashMap<(String, String, PillarRuleValue), (Arc<P>, Arc<G>)>;

fn convert<P, G>(
    map: &Mutex<ConvertedMap<P, G>>,
    key: (String, String, PillarRuleValue),
    view: &Arc<P>,
    conversion: impl FnOnce(&P) -> G,
) -> Arc<G> {
    let mut map = map
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((from, converted)) = map.get(&key)
        && Arc::ptr_eq(from, view)
    {
        return Arc::clone(converted);
    }
    let converted = Arc::new(conversion(view));
    if map.len() >= CONVERTED_CAPACITY {
        map.clear();
    }
    map.insert(key, (Arc::clone(view), Arc::clone(&converted)));
    converted
}

impl Converted {
    /// The GraphQL object of a profile view.
    pub fn profile(&self, view: &Arc<pure::Profile>) -> Arc<Profile> {
        let key = (
            view.round.to_string(),
            view.organisation.to_string(),
            view.rule.into(),
        );
        convert(&self.profiles, key, view, |view: &pure::Profile| {
            view.into()
        })
    }

    /// The GraphQL object of a matrix view.
    pub fn matrix(&self, view: &Arc<pure::RoundMatrix>) -> Arc<RoundMatrix> {
        let key = (view.round.to_string(), String::new(), view.rule.into());
        convert(&self.matrices, key, view, |view: &pure::RoundMatrix| {
            view.into()
        })
    }
}

impl From<&pure::Profile> for Profile {
    fn from(profile: &pure::Profile) -> Self {
        Self {
            round_id: profile.round.to_string(),
            organisation_id: profile.organisation.to_string(),
            instrument: profile.instrument.to_string(),
            rule: profile.rule.into(),
            submitted: profile.submitted,
            components: profile
                .components
                .iter()
                .map(|c| component(c, &profile.raters))
                .collect(),
            pillars: profile
                .pillars
                .iter()
                .map(|p| ProfilePillar {
                    number: i32::from(p.number),
                    name: p.name.clone(),
                    stage: stage(p.stage),
                    min: stage(p.min),
                    max: stage(p.max),
                    answered: count(p.answered),
                    components: count(p.components),
                })
                .collect(),
            pattern: ProfilePattern {
                pillars: profile.pattern.pillars.clone(),
                median: stage(profile.pattern.median),
                min: stage(profile.pattern.min),
                max: stage(profile.pattern.max),
                answered: count(profile.pattern.answered),
                components: count(profile.pattern.components),
            },
            raters: profile
                .raters
                .iter()
                .map(|r| ProfileRater {
                    person_id: r.person.to_string(),
                    assigned: r.assigned,
                    submitted: r.submitted,
                    rated: count(r.rated),
                })
                .collect(),
            agreement: ProfileAgreement {
                raters: count(profile.agreement.raters),
                includes_self_assessment: true,
                components: count(profile.agreement.components),
                pairs: count(profile.agreement.pairs),
                within_one: count(profile.agreement.within_one),
                share_within_one: profile.agreement.share_within_one,
                max_range: profile.agreement.max_range.map(i32::from),
                alpha: profile.agreement.alpha,
            },
            previous_round_id: profile.previous_round.as_ref().map(ToString::to_string),
            outcomes: profile.outcomes.iter().map(outcome_area).collect(),
            flags: profile.flags.iter().map(Flag::from).collect(),
            validation_status: profile.validation.status.into(),
            validated_components: count(profile.validation.components.len()),
        }
    }
}

/// The configured public base URL, which download links start with (never the request's
/// Host header).
fn public_base_url<'a>(ctx: &Context<'a>) -> Result<&'a str, GqlError> {
    Ok(&request(ctx)?.state.settings.settings.server.public_base_url)
}

#[ComplexObject]
impl Profile {
    /// Where to download this profile's configuration chart (SVG, pillar notes by this
    /// profile's rule): `GET` it with the same bearer token. Built from the server's
    /// configured public base URL.
    async fn configuration_chart_url(&self, ctx: &Context<'_>) -> async_graphql::Result<String> {
        Ok(downloads::configuration_chart_url(
            public_base_url(ctx)?,
            &self.round_id,
            &self.organisation_id,
            self.rule.into(),
        ))
    }
}

fn component(component: &pure::ComponentProfile, raters: &[pure::Rater]) -> ProfileComponent {
    ProfileComponent {
        id: component.id.clone(),
        name: component.name.clone(),
        pillar: i32::from(component.pillar),
        stage: stage(component.stage),
        validated_stage: stage(component.validated),
        evidence: ProfileEvidence {
            documents: count(component.evidence.documents),
            persons: count(component.evidence.persons),
            strength: component.evidence.strength.into(),
            cites_evaluation: component.evidence.cites_evaluation,
        },
        activities: ProfileActivities {
            listed: count(component.activities.listed),
            listed_rated: count(component.activities.listed_rated),
            other: count(component.activities.other),
            rated: count(component.activities.rated),
            mean: component.activities.mean,
            counts: component
                .activities
                .counts
                .iter()
                .map(|(rating, n)| RatingCount {
                    rating: i32::from(*rating),
                    count: count(*n),
                })
                .collect(),
        },
        completeness: ProfileCompleteness {
            answered: count(component.completeness.answered),
            required: count(component.completeness.required),
            missing: component.completeness.missing.clone(),
        },
        rater_stages: raters
            .iter()
            .zip(&component.rater_stages)
            .map(|(rater, given)| RaterStage {
                person_id: rater.person.to_string(),
                stage: stage(*given),
            })
            .collect(),
        agreement: component.agreement.as_ref().map(ComponentAgreement::from),
        change: StageChange {
            previous_stage: stage(component.change.previous),
            delta: component.change.delta.map(i32::from),
        },
        drivers: component
            .drivers
            .iter()
            .map(|d| ProfileDriver {
                number: i32::from(d.number),
                name: d.name.clone(),
                key_question: d.key_question.clone(),
                stage: i32::from(d.stage.get()),
                text: d.text.clone(),
            })
            .collect(),
    }
}

fn outcome_area(area: &pure::OutcomeLinkage) -> ProfileOutcomeArea {
    ProfileOutcomeArea {
        id: area.area.clone(),
        number: i32::from(area.number),
        name: area.name.clone(),
        components: area
            .components
            .iter()
            .map(|c| ProfileLinkedComponent {
                id: c.id.clone(),
                name: c.name.clone(),
                stage: stage(c.stage),
                validated_stage: stage(c.validated),
            })
            .collect(),
        managers: area
            .managers
            .iter()
            .map(|m| ProfileManagerAnswers {
                person_id: m.person.to_string(),
                assigned: m.assigned,
                submitted: m.submitted,
                answers: m
                    .answers
                    .iter()
                    .map(|a| ProfileManagerAnswer {
                        question_id: a.question.clone(),
                        text: a.text.clone(),
                        label: a.label.clone(),
                        answer: a.answer.clone(),
                    })
                    .collect(),
            })
            .collect(),
    }
}

// --- matrix --------------------------------------------------------------------------

/// The stages of a group of organisations (one component or one pillar): quartiles by
/// linear interpolation between ranks (type 7), withheld below the minimum group size.
#[derive(SimpleObject, Debug, Clone)]
pub struct StageDistribution {
    /// How many organisations have a stage.
    pub n: i32,
    /// Whether the summary is withheld (fewer organisations than `RoundMatrix.minGroupSize`).
    pub withheld: bool,
    /// Why it is withheld; null when shown.
    pub withheld_reason: Option<String>,
    /// The median (may be a half stage); null when withheld.
    pub median: Option<f64>,
    /// The first quartile; null when withheld.
    pub q1: Option<f64>,
    /// The third quartile; null when withheld.
    pub q3: Option<f64>,
    /// How many organisations are at stage 1, 2, 3, 4 and 5 (five numbers); empty when
    /// withheld.
    pub counts: Vec<i32>,
}

impl From<&pure::Distribution> for StageDistribution {
    fn from(distribution: &pure::Distribution) -> Self {
        let summary = distribution.summary.as_ref();
        Self {
            n: count(distribution.n),
            withheld: summary.is_none(),
            withheld_reason: distribution.withheld.clone(),
            median: summary.map(|s| s.median),
            q1: summary.map(|s| s.q1),
            q3: summary.map(|s| s.q3),
            counts: summary
                .map(|s| s.counts.iter().map(|c| count(*c)).collect())
                .unwrap_or_default(),
        }
    }
}

/// A component column of the round matrix.
#[derive(SimpleObject, Debug, Clone)]
pub struct MatrixComponent {
    /// The component id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its pillar's number.
    pub pillar: i32,
    /// The organisations' self-assessed stages for it.
    pub distribution: StageDistribution,
    /// Self-assessed against validated stages, over the organisations with both.
    pub validation: StageDifference,
}

/// How far self-assessed stages differ from validated ones for one component, over the
/// organisations of the round that have both.
#[derive(SimpleObject, Debug, Clone)]
pub struct StageDifference {
    /// Organisations with a self-assessed and a validated stage.
    pub organisations: i32,
    /// The mean of self-assessed minus validated stage (positive: self-assessments were
    /// higher than validated); null without such an organisation.
    pub mean_difference: Option<f64>,
}

/// A pillar of the round matrix.
#[derive(SimpleObject, Debug, Clone)]
pub struct MatrixPillar {
    /// Pillar number.
    pub number: i32,
    /// Its name.
    pub name: String,
    /// The organisations' pillar stages by the matrix's rule.
    pub distribution: StageDistribution,
}

/// One organisation's row of the round matrix.
#[derive(SimpleObject, Debug, Clone)]
pub struct MatrixRow {
    /// The organisation.
    pub organisation_id: String,
    /// Whether its consolidated response is submitted.
    pub submitted: bool,
    /// Its self-assessed stage per component, in the order of `RoundMatrix.components`;
    /// null when unanswered.
    pub stages: Vec<Option<i32>>,
    /// Its pillar stages by the matrix's rule, in the order of `RoundMatrix.pillars`.
    pub pillar_stages: Vec<Option<i32>>,
    /// Its validated stage per component, in the order of `RoundMatrix.components`;
    /// null until a validator records one.
    pub validated_stages: Vec<Option<i32>>,
}

/// Where to download a round's exports and heatmap: `GET` each URL with the same bearer
/// token (administrators, and validators with the round in scope). The URLs start with
/// the server's configured public base URL.
#[derive(SimpleObject, Debug, Clone)]
pub struct RoundDownloads {
    /// The long-format CSV, one row per organisation × component (columns documented in
    /// ARCHITECTURE.md), pillar rule as the matrix's.
    pub profiles_csv_url: String,
    /// The XLSX workbook: the summary sheet of annex IX part 2 per organisation, the
    /// answers, the outcome answers and the flags.
    pub profiles_xlsx_url: String,
    /// Every organisation's profile and the round matrix as one JSON document.
    pub profiles_json_url: String,
    /// The heatmap of the round matrix (SVG).
    pub heatmap_url: String,
}

/// Organisations × components of a round, with distributions per component and pillar.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(complex)]
pub struct RoundMatrix {
    /// The round.
    pub round_id: String,
    /// The stage questionnaire, as `id@version`.
    pub instrument: String,
    /// The pillar rule applied.
    pub rule: PillarRuleValue,
    /// Distributions of fewer organisations than this are withheld.
    pub min_group_size: i32,
    /// The component columns in instrument order.
    pub components: Vec<MatrixComponent>,
    /// The pillars in order.
    pub pillars: Vec<MatrixPillar>,
    /// One row per organisation, in the round's order.
    pub rows: Vec<MatrixRow>,
}

impl From<&pure::RoundMatrix> for RoundMatrix {
    fn from(matrix: &pure::RoundMatrix) -> Self {
        Self {
            round_id: matrix.round.to_string(),
            instrument: matrix.instrument.to_string(),
            rule: matrix.rule.into(),
            min_group_size: count(matrix.min_group_size),
            components: matrix
                .components
                .iter()
                .map(|c| MatrixComponent {
                    id: c.id.clone(),
                    name: c.name.clone(),
                    pillar: i32::from(c.pillar),
                    distribution: (&c.distribution).into(),
                    validation: StageDifference {
                        organisations: count(c.validation.organisations),
                        mean_difference: c.validation.mean,
                    },
                })
                .collect(),
            pillars: matrix
                .pillars
                .iter()
                .map(|p| MatrixPillar {
                    number: i32::from(p.number),
                    name: p.name.clone(),
                    distribution: (&p.distribution).into(),
                })
                .collect(),
            rows: matrix
                .rows
                .iter()
                .map(|r| MatrixRow {
                    organisation_id: r.organisation.to_string(),
                    submitted: r.submitted,
                    stages: r.stages.iter().map(|s| stage(*s)).collect(),
                    pillar_stages: r.pillars.iter().map(|s| stage(*s)).collect(),
                    validated_stages: r.validated.iter().map(|s| stage(*s)).collect(),
                })
                .collect(),
        }
    }
}

#[ComplexObject]
impl RoundMatrix {
    /// Where to download the round's exports (pillar stages by this matrix's rule) and
    /// its heatmap.
    async fn downloads(&self, ctx: &Context<'_>) -> async_graphql::Result<RoundDownloads> {
        let base = public_base_url(ctx)?;
        let round = self.round_id.as_str();
        let export = |format| downloads::export_url(base, round, format, self.rule.into());
        Ok(RoundDownloads {
            profiles_csv_url: export(ExportFormat::Csv),
            profiles_xlsx_url: export(ExportFormat::Xlsx),
            profiles_json_url: export(ExportFormat::Json),
            heatmap_url: downloads::matrix_chart_url(base, round),
        })
    }
}

// --- queries -------------------------------------------------------------------------

/// Checks who asks and parses the round id: administrators, and validators with the
/// round in scope.
fn round_reader(ctx: &Context<'_>, round_id: &str) -> Result<RoundId, GqlError> {
    let request = request(ctx)?;
    request.identity.require_any()?;
    let round = RoundId::parse(round_id.trim())?;
    request.identity.require_round_reader(&round)?;
    Ok(round)
}

/// The profile part of `Query`.
#[derive(Debug, Default)]
pub struct ProfileQuery;

#[Object]
impl ProfileQuery {
    /// The configuration profile of an organisation in a round: stages per component and
    /// pillar, evidence, activities, completeness, raters' agreement, change since the
    /// previous round, drivers, outcome linkage and flags. Administrators, and validators
    /// with the round in scope; NOT_FOUND for an unknown round or an organisation not in
    /// it.
    async fn profile(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The round's slug, e.g. `jiu-rbm-2026`.")] round_id: String,
        #[graphql(desc = "The organisation's slug, e.g. `unicef`.")] organisation_id: String,
        #[graphql(
            default,
            desc = "How pillar stages are derived from component stages (default: the median rounded down)."
        )]
        rule: PillarRuleValue,
    ) -> async_graphql::Result<Arc<Profile>> {
        let round = round_reader(ctx, &round_id)?;
        let organisation = OrganisationId::parse(organisation_id.trim()).map_err(GqlError::from)?;
        let state = &request(ctx)?.state;
        let profile = state
            .views
            .profile(
                state.store.as_ref(),
                &state.catalogue,
                &round,
                &organisation,
                rule.into(),
            )
            .await
            .map_err(GqlError::from)?;
        Ok(state.converted.profile(&profile))
    }

    /// The consistency flags of an organisation in a round, each with its trigger and the
    /// interview prompt of annex IX part 3. Same access as `profile`.
    async fn flags(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The round's slug.")] round_id: String,
        #[graphql(desc = "The organisation's slug.")] organisation_id: String,
    ) -> async_graphql::Result<Vec<Flag>> {
        let round = round_reader(ctx, &round_id)?;
        let organisation = OrganisationId::parse(organisation_id.trim()).map_err(GqlError::from)?;
        let state = &request(ctx)?.state;
        // Flags do not depend on the pillar rule; the default rule's profile carries them.
        let profile = state
            .views
            .profile(
                state.store.as_ref(),
                &state.catalogue,
                &round,
                &organisation,
                pure::PillarRule::default(),
            )
            .await
            .map_err(GqlError::from)?;
        Ok(profile.flags.iter().map(Flag::from).collect())
    }

    /// The round matrix: organisations × components with self-assessed stages, pillar
    /// stages, and distributions per component and pillar (withheld below the minimum
    /// group size). Administrators, and validators with the round in scope.
    async fn round_matrix(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The round's slug.")] round_id: String,
        #[graphql(
            default,
            desc = "How pillar stages are derived from component stages (default: the median rounded down)."
        )]
        rule: PillarRuleValue,
    ) -> async_graphql::Result<Arc<RoundMatrix>> {
        let round = round_reader(ctx, &round_id)?;
        let state = &request(ctx)?.state;
        let matrix = state
            .views
            .round_matrix(state.store.as_ref(), &state.catalogue, &round, rule.into())
            .await
            .map_err(GqlError::from)?;
        Ok(state.converted.matrix(&matrix))
    }
}
