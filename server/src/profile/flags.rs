//! Consistency flags: where a self-assessment looks weak, each with a stable code, what
//! triggered it, and the interview prompt of annex IX part 3 it calls for.
//!
//! The rules read a computed profile (components, pillars, rater agreement) and the
//! round's per-component medians; they never read answers themselves, so a flag always
//! agrees with what the profile shows. Thresholds are constants here and in
//! ARCHITECTURE.md ("Profiles and flags"); change both together.

use std::collections::BTreeMap;

use super::stats::PairAgreement;
use super::{ComponentProfile, EvidenceStrength, PillarProfile};
use crate::catalogue::model::ValidationGuide;

/// Self-assessed stages from this one on need documented evidence.
pub const EVIDENCE_FROM_STAGE: u8 = 3;
/// Words (matched case-insensitively inside a document's title or reference) that show a
/// stage 5 claim cites evaluative work: evaluation in English, French and Spanish, and
/// the review, audit and lessons-learned exercises that serve the same purpose.
pub const EVALUATIVE_TERMS: [&str; 8] = [
    "evaluat",
    "évaluat",
    "evaluac",
    "review",
    "audit",
    "lessons learn",
    "lessons-learn",
    "after-action",
];
/// Activity ratings are compared with the stage only when at least this many are given
/// (listed and own activities together): one or two ratings say little.
pub const MIN_RATED_ACTIVITIES: usize = 3;
/// A stage this high or higher ...
pub const HIGH_STAGE: u8 = 4;
/// ... disagrees with activities whose mean rating is below this (mostly "no" or
/// "little" contribution).
pub const HIGH_STAGE_MEAN_BELOW: f64 = 2.0;
/// A stage this low or lower ...
pub const LOW_STAGE: u8 = 2;
/// ... disagrees with activities whose mean rating is this or higher (mostly
/// "significant" contribution).
pub const LOW_STAGE_MEAN_FROM: f64 = 2.5;
/// Components of one pillar this many stages apart make the pillar uneven.
pub const PILLAR_SPREAD: u8 = 3;
/// Ratings of one component this many stages apart disagree.
pub const RATER_RANGE: u8 = 2;
/// Krippendorff's alpha below this means the raters disagree overall: 0.667 is
/// Krippendorff's lowest bound for drawing even tentative conclusions.
pub const ALPHA_BELOW: f64 = 0.667;
/// A stage this far (in stages) from the round's median for its component is an
/// outlier ...
pub const PEER_DISTANCE: f64 = 2.0;
/// ... when at least this many organisations (this one included) answered the component.
pub const PEER_MIN_ORGANISATIONS: usize = 5;

/// What a flag is about. The codes (`as_str`) are stable: clients and exports key on
/// them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FlagCode {
    /// A stage of 3 or higher without a documented source (names of people alone are
    /// weak evidence and count as missing).
    EvidenceMissing,
    /// Stage 5 without any evidence citing evaluation.
    Stage5WithoutEvaluation,
    /// The stage and the mean activity rating point in different directions.
    ActivitiesDisagreeWithStage,
    /// Components of one pillar three or more stages apart.
    PillarUneven,
    /// Independent raters (and the self-assessment) disagree.
    RatersDisagree,
    /// Two or more stages from the round's median for the component.
    PeerOutlier,
    /// Required items unanswered.
    Incomplete,
}

impl FlagCode {
    /// Every code.
    pub const ALL: [Self; 7] = [
        Self::EvidenceMissing,
        Self::Stage5WithoutEvaluation,
        Self::ActivitiesDisagreeWithStage,
        Self::PillarUneven,
        Self::RatersDisagree,
        Self::PeerOutlier,
        Self::Incomplete,
    ];

    /// The stable code.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EvidenceMissing => "EVIDENCE_MISSING",
            Self::Stage5WithoutEvaluation => "STAGE5_WITHOUT_EVALUATION",
            Self::ActivitiesDisagreeWithStage => "ACTIVITIES_DISAGREE_WITH_STAGE",
            Self::PillarUneven => "PILLAR_UNEVEN",
            Self::RatersDisagree => "RATERS_DISAGREE",
            Self::PeerOutlier => "PEER_OUTLIER",
            Self::Incomplete => "INCOMPLETE",
        }
    }

    /// The point of annex IX part 3 the flag calls for: the concern's id in the
    /// validation guide and the point's number in it, from 1.
    ///
    /// - Evidence, stage 5, activities and raters: internal validity, point 1
    ///   ("Understand the evidence used when making judgments and ensure consistency in
    ///   ratings with the evidence used") — each questions whether the rating is borne
    ///   out by what supports it.
    /// - Uneven pillar: internal validity, point 2 (the overall configuration of the
    ///   pillars and whether the pattern is truly reflective).
    /// - Incomplete: internal validity, point 3 (whether a component's status reflects
    ///   that it is not a priority, or that mainstreaming has only recently started) —
    ///   an unanswered component raises exactly that question.
    /// - Peer outlier: external validity, point 1 (consistency of the ratings across
    ///   the organisations and the need for adjustments).
    pub fn prompt_source(self) -> (&'static str, usize) {
        match self {
            Self::EvidenceMissing
            | Self::Stage5WithoutEvaluation
            | Self::ActivitiesDisagreeWithStage
            | Self::RatersDisagree => ("internal-validity", 1),
            Self::PillarUneven => ("internal-validity", 2),
            Self::Incomplete => ("internal-validity", 3),
            Self::PeerOutlier => ("external-validity", 1),
        }
    }
}

/// The interview prompt a flag calls for, word for word from the validation guide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagPrompt {
    /// The concern's id, e.g. `internal-validity`.
    pub concern: String,
    /// The concern's number as printed.
    pub concern_number: u8,
    /// The concern's title, e.g. `Internal validity in rating`.
    pub concern_title: String,
    /// The point's number within the concern, from 1.
    pub point: u8,
    /// The point's text.
    pub text: String,
}

impl FlagPrompt {
    /// The prompt `code` calls for in `guide`; `None` when the guide lacks that point.
    pub fn of(code: FlagCode, guide: &ValidationGuide) -> Option<Self> {
        let (concern_id, point) = code.prompt_source();
        let concern = guide.concerns.iter().find(|c| c.id == concern_id)?;
        let text = concern.points.get(point.checked_sub(1)?)?;
        Some(Self {
            concern: concern.id.clone(),
            concern_number: concern.number,
            concern_title: concern.title.as_str().to_owned(),
            point: u8::try_from(point).ok()?,
            text: text.text.as_str().to_owned(),
        })
    }
}

/// One consistency flag.
#[derive(Debug, Clone, PartialEq)]
pub struct Flag {
    /// What it is about.
    pub code: FlagCode,
    /// The component concerned; `None` for a pillar or the whole profile.
    pub component: Option<String>,
    /// The pillar concerned (a component's own pillar for a component flag); `None` for
    /// the whole profile.
    pub pillar: Option<u8>,
    /// What triggered it, in words, e.g. `stage 4 with only names of people as evidence`.
    pub trigger: String,
    /// The items it concerns: the unanswered question ids for `INCOMPLETE`, the
    /// components at the extremes for `PILLAR_UNEVEN`; empty otherwise.
    pub items: Vec<String>,
    /// The interview prompt it calls for; `None` when the round's catalogue has no
    /// validation guide with that point.
    pub prompt: Option<FlagPrompt>,
}

/// The round's view of one component: how many organisations answered it and their
/// median stage (type 7, so possibly a half stage).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PeerStat {
    /// Organisations with a stage for the component.
    pub n: usize,
    /// Their median stage.
    pub median: f64,
}

/// A number as people write it, with at most `decimals` decimals: `3`, `3.5`, `1.67`.
pub(super) fn number(value: f64, decimals: usize) -> String {
    let text = format!("{value:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    }
}

/// Raises every flag of a profile, component by component in instrument order (in the
/// order of [`FlagCode::ALL`] within a component), then per pillar, then for the
/// profile as a whole.
pub(super) fn raise(
    components: &[ComponentProfile],
    pillars: &[PillarProfile],
    overall_alpha: Option<f64>,
    peers: &BTreeMap<&str, PeerStat>,
    guide: Option<&ValidationGuide>,
) -> Vec<Flag> {
    let mut flags = Vec::new();
    let mut push = |code: FlagCode,
                    component: Option<&ComponentProfile>,
                    pillar: Option<u8>,
                    trigger: String,
                    items: Vec<String>| {
        flags.push(Flag {
            code,
            component: component.map(|c| c.id.clone()),
            pillar: component.map(|c| c.pillar).or(pillar),
            trigger,
            items,
            prompt: guide.and_then(|guide| FlagPrompt::of(code, guide)),
        });
    };
    for component in components {
        if let Some(trigger) = evidence_missing(component) {
            push(
                FlagCode::EvidenceMissing,
                Some(component),
                None,
                trigger,
                Vec::new(),
            );
        }
        if let Some(trigger) = stage5_without_evaluation(component) {
            push(
                FlagCode::Stage5WithoutEvaluation,
                Some(component),
                None,
                trigger,
                Vec::new(),
            );
        }
        if let Some(trigger) = activities_disagree(component) {
            push(
                FlagCode::ActivitiesDisagreeWithStage,
                Some(component),
                None,
                trigger,
                Vec::new(),
            );
        }
        if let Some(trigger) = component.agreement.as_ref().and_then(raters_disagree) {
            push(
                FlagCode::RatersDisagree,
                Some(component),
                None,
                trigger,
                Vec::new(),
            );
        }
        if let Some(trigger) = peer_outlier(component, peers.get(component.id.as_str())) {
            push(
                FlagCode::PeerOutlier,
                Some(component),
                None,
                trigger,
                Vec::new(),
            );
        }
        if !component.completeness.missing.is_empty() {
            let missing = &component.completeness.missing;
            push(
                FlagCode::Incomplete,
                Some(component),
                None,
                format!(
                    "{} of {} required item(s) unanswered: {}",
                    missing.len(),
                    component.completeness.required,
                    missing.join(", ")
                ),
                missing.clone(),
            );
        }
    }
    for pillar in pillars {
        if let Some((trigger, items)) = pillar_uneven(pillar, components) {
            push(
                FlagCode::PillarUneven,
                None,
                Some(pillar.number),
                trigger,
                items,
            );
        }
    }
    if let Some(alpha) = overall_alpha
        && alpha < ALPHA_BELOW
    {
        push(
            FlagCode::RatersDisagree,
            None,
            None,
            format!(
                "Krippendorff's alpha (ordinal) across components is {}, below {}",
                number(alpha, 3),
                number(ALPHA_BELOW, 3)
            ),
            Vec::new(),
        );
    }
    flags
}

fn evidence_missing(component: &ComponentProfile) -> Option<String> {
    let stage = component.stage?.get();
    if stage < EVIDENCE_FROM_STAGE {
        return None;
    }
    match component.evidence.strength {
        EvidenceStrength::Documented => None,
        EvidenceStrength::Weak => Some(format!(
            "stage {stage} with only names of people as evidence ({} named, no document)",
            component.evidence.persons
        )),
        EvidenceStrength::None => Some(format!("stage {stage} with no documented evidence")),
    }
}

fn stage5_without_evaluation(component: &ComponentProfile) -> Option<String> {
    if component.stage?.get() != 5 {
        return None;
    }
    if component.evidence.cites_evaluation {
        return None;
    }
    Some(format!(
        "stage 5 with no evidence citing an evaluation, review or audit ({} document(s) cited)",
        component.evidence.documents
    ))
}

fn activities_disagree(component: &ComponentProfile) -> Option<String> {
    let stage = component.stage?.get();
    let activities = &component.activities;
    let mean = activities.mean?;
    if activities.rated < MIN_RATED_ACTIVITIES {
        return None;
    }
    if stage >= HIGH_STAGE && mean < HIGH_STAGE_MEAN_BELOW {
        return Some(format!(
            "stage {stage} while its {} rated activities average {} (below {})",
            activities.rated,
            number(mean, 2),
            number(HIGH_STAGE_MEAN_BELOW, 2)
        ));
    }
    if stage <= LOW_STAGE && mean >= LOW_STAGE_MEAN_FROM {
        return Some(format!(
            "stage {stage} while its {} rated activities average {} ({} or more)",
            activities.rated,
            number(mean, 2),
            number(LOW_STAGE_MEAN_FROM, 2)
        ));
    }
    None
}

fn raters_disagree(agreement: &PairAgreement) -> Option<String> {
    (agreement.range >= RATER_RANGE).then(|| {
        format!(
            "the {} ratings (self-assessment and independent raters) span {} stages; {} of {} \
             pairs are within one stage",
            agreement.ratings, agreement.range, agreement.within_one, agreement.pairs
        )
    })
}

fn peer_outlier(component: &ComponentProfile, peer: Option<&PeerStat>) -> Option<String> {
    let stage = component.stage?.get();
    let peer = peer?;
    if peer.n < PEER_MIN_ORGANISATIONS {
        return None;
    }
    let distance = (f64::from(stage) - peer.median).abs();
    (distance >= PEER_DISTANCE).then(|| {
        format!(
            "stage {stage} is {} stages from the round's median of {} ({} organisations answered)",
            number(distance, 2),
            number(peer.median, 2),
            peer.n
        )
    })
}

fn pillar_uneven(
    pillar: &PillarProfile,
    components: &[ComponentProfile],
) -> Option<(String, Vec<String>)> {
    let (low, high) = (pillar.min?, pillar.max?);
    if high.get() - low.get() < PILLAR_SPREAD {
        return None;
    }
    let at = |stage| {
        components
            .iter()
            .filter(|c| c.pillar == pillar.number && c.stage == Some(stage))
            .map(|c| c.id.clone())
            .collect::<Vec<_>>()
    };
    let (lowest, highest) = (at(low), at(high));
    let trigger = format!(
        "components {} at stage {} and {} at stage {} are {} stages apart",
        lowest.join(", "),
        low.get(),
        highest.join(", "),
        high.get(),
        high.get() - low.get()
    );
    Some((trigger, lowest.into_iter().chain(highest).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable_and_distinct() {
        let codes: Vec<&str> = FlagCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(
            codes,
            vec![
                "EVIDENCE_MISSING",
                "STAGE5_WITHOUT_EVALUATION",
                "ACTIVITIES_DISAGREE_WITH_STAGE",
                "PILLAR_UNEVEN",
                "RATERS_DISAGREE",
                "PEER_OUTLIER",
                "INCOMPLETE",
            ]
        );
    }

    #[test]
    fn numbers_drop_needless_decimals() {
        assert_eq!(number(3.0, 2), "3");
        assert_eq!(number(3.5, 2), "3.5");
        assert_eq!(number(5.0 / 3.0, 2), "1.67");
        assert_eq!(number(0.667, 3), "0.667");
        assert_eq!(number(10.0, 0), "10");
    }
}
