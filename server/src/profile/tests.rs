//! Profiles, flags and the matrix over the shipped catalogue, with responses built from
//! answer lists: each flag raised and not raised, pillar rules in a profile, raters'
//! agreement, change since the previous round, drivers, outcome linkage, withholding.

use std::path::Path;

use super::*;
use crate::domain::{
    Actor, AnswerChange, Channel, DateValue, EventKind, IdempotencyKey, QuestionId, Rating,
    ResponseEvent, ResponseKey, RoundStatus, Timestamp,
};

fn catalogue() -> Catalogue {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../questionnaires");
    Catalogue::load(&dir).unwrap_or_else(|e| panic!("catalogue: {e}"))
}

fn id<T, E: std::fmt::Display>(result: Result<T, E>) -> T {
    result.unwrap_or_else(|e| panic!("fixture: {e}"))
}

const ORGS: [&str; 6] = ["o1", "o2", "o3", "o4", "o5", "o6"];
const COMPONENTS: [&str; 17] = [
    "1.1", "1.2", "1.3", "2.1", "2.2", "2.3", "2.4", "2.5", "3.1", "3.2", "3.3", "3.4", "4.1",
    "4.2", "4.3", "5.1", "5.2",
];

fn round_with(round_id: &str, deadline: Option<i64>, organisations: &[&str]) -> Round {
    Round {
        id: id(RoundId::parse(round_id)),
        title: "Round".to_owned(),
        instruments: vec![
            id(InstrumentRef::parse("jiu-rbm-stages@1")),
            id(InstrumentRef::parse("jiu-rbm-outcomes@1")),
        ],
        organisations: organisations
            .iter()
            .map(|o| id(OrganisationId::parse(o)))
            .collect(),
        deadline: deadline.map(Timestamp::from_millis),
        status: RoundStatus::Open,
    }
}

fn round() -> Round {
    round_with("r-2026", Some(2_000), &ORGS)
}

fn org(name: &str) -> OrganisationId {
    id(OrganisationId::parse(name))
}

fn person(name: &str) -> PersonId {
    id(PersonId::parse(name))
}

fn key(round: &str, organisation: &str, instrument: &str, who: Option<&str>) -> ResponseKey {
    ResponseKey {
        round: id(RoundId::parse(round)),
        organisation: org(organisation),
        instrument: id(InstrumentRef::parse(instrument)),
        respondent: who.map_or(Respondent::Organisation, |p| Respondent::Person(person(p))),
    }
}

type Answers = Vec<(String, AnswerValue)>;

fn response(key: ResponseKey, answers: Answers, submitted: bool) -> Response {
    let mut events: Vec<ResponseEvent> = answers
        .into_iter()
        .zip(1..)
        .map(|((question, value), seq)| ResponseEvent {
            response: key.id(),
            seq,
            kind: EventKind::Answer {
                question: id(QuestionId::parse(&question)),
                change: AnswerChange::Set(value),
            },
            actor: Actor::System,
            channel: Channel::Import,
            at: Timestamp::from_millis(seq as i64),
            idempotency_key: id(IdempotencyKey::parse("k")),
        })
        .collect();
    if submitted {
        events.push(ResponseEvent {
            response: key.id(),
            seq: events.len() as u64 + 1,
            kind: EventKind::Submitted,
            actor: Actor::System,
            channel: Channel::Import,
            at: Timestamp::from_millis(99),
            idempotency_key: id(IdempotencyKey::parse("s")),
        });
    }
    Response::replay(key, &events)
}

fn stage(n: u8) -> AnswerValue {
    AnswerValue::Stage(id(Stage::parse(i64::from(n))))
}

fn documents(titles: &[&str]) -> AnswerValue {
    AnswerValue::Evidence(
        titles
            .iter()
            .map(|t| EvidenceItem {
                kind: EvidenceKind::Document,
                text: (*t).to_owned(),
                file: None,
            })
            .collect(),
    )
}

fn persons(names: &[&str]) -> AnswerValue {
    AnswerValue::Evidence(
        names
            .iter()
            .map(|t| EvidenceItem {
                kind: EvidenceKind::Person,
                text: (*t).to_owned(),
                file: None,
            })
            .collect(),
    )
}

fn rating(n: u8) -> AnswerValue {
    AnswerValue::Rating(id(Rating::parse(i64::from(n), 1, 3)))
}

/// Stage, rationale and a document for `component`.
fn complete(component: &str, n: u8) -> Answers {
    vec![
        (format!("{component}/stage"), stage(n)),
        (
            format!("{component}/rationale"),
            AnswerValue::Text("Because.".to_owned()),
        ),
        (
            format!("{component}/evidence"),
            documents(&["Policy document"]),
        ),
    ]
}

/// Every component complete at the given stages (in `COMPONENTS` order; 0 skips one).
fn all(stages: [u8; 17]) -> Answers {
    COMPONENTS
        .iter()
        .zip(stages)
        .filter(|(_, n)| *n > 0)
        .flat_map(|(c, n)| complete(c, n))
        .collect()
}

/// Replaces (or adds) answers.
fn with(mut answers: Answers, changes: Answers) -> Answers {
    for (question, value) in changes {
        answers.retain(|(q, _)| q != &question);
        answers.push((question, value));
    }
    answers
}

fn without(mut answers: Answers, questions: &[&str]) -> Answers {
    answers.retain(|(q, _)| !questions.contains(&q.as_str()));
    answers
}

fn stages_response(organisation: &str, answers: Answers) -> Response {
    response(
        key("r-2026", organisation, "jiu-rbm-stages@1", None),
        answers,
        false,
    )
}

fn compute(responses: &[Response], assignments: &[Assignment], organisation: &str) -> Profile {
    let catalogue = catalogue();
    let round = round();
    let data = RoundData {
        round: &round,
        assignments,
        responses,
        validations: &[],
    };
    id(profile(
        &catalogue,
        &data,
        &org(organisation),
        None,
        PillarRule::Median,
    ))
}

fn flags_of(profile: &Profile, code: FlagCode) -> Vec<(Option<&str>, &str)> {
    profile
        .flags
        .iter()
        .filter(|f| f.code == code)
        .map(|f| (f.component.as_deref(), f.trigger.as_str()))
        .collect()
}

fn component<'p>(profile: &'p Profile, id: &str) -> &'p ComponentProfile {
    profile
        .components
        .iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("component {id}"))
}

const FLAT: [u8; 17] = [3; 17];

#[test]
fn a_component_summarises_evidence_activities_completeness_and_drivers() {
    let answers = with(
        all(FLAT),
        vec![
            (
                "1.1/evidence".to_owned(),
                AnswerValue::Evidence(vec![
                    EvidenceItem {
                        kind: EvidenceKind::Document,
                        text: "RBM policy".to_owned(),
                        file: None,
                    },
                    EvidenceItem {
                        kind: EvidenceKind::Person,
                        text: "The RBM adviser".to_owned(),
                        file: None,
                    },
                ]),
            ),
            ("1.1/activity/1".to_owned(), rating(3)),
            ("1.1/activity/2".to_owned(), rating(2)),
            (
                "1.1/other".to_owned(),
                AnswerValue::OtherActivities(vec![NamedRating {
                    name: "Own workshop".to_owned(),
                    rating: id(Rating::parse(1, 1, 3)),
                }]),
            ),
        ],
    );
    let profile = compute(&[stages_response("o1", answers)], &[], "o1");
    let first = component(&profile, "1.1");
    assert_eq!(first.stage.map(Stage::get), Some(3));
    assert_eq!(first.validated, None);
    assert_eq!(
        first.evidence,
        EvidenceSummary {
            documents: 1,
            persons: 1,
            strength: EvidenceStrength::Documented,
            cites_evaluation: false,
        }
    );
    assert_eq!(
        first.activities,
        ActivitySummary {
            listed: 7,
            listed_rated: 2,
            other: 1,
            rated: 3,
            mean: Some(2.0),
            counts: vec![(1, 1), (2, 1), (3, 1)],
        }
    );
    assert_eq!(
        first.completeness,
        Completeness {
            answered: 3,
            required: 3,
            missing: vec![],
        }
    );
    // Drivers 1, 2 and 5 show in component 1.1 (box 4), described at stage 3.
    let drivers: Vec<(u8, &str)> = first
        .drivers
        .iter()
        .map(|d| (d.number, d.text.as_str()))
        .collect();
    assert_eq!(drivers.len(), 3);
    assert_eq!(
        drivers[0],
        (
            1,
            "Conducted several or many of the actions outlined in the description of the component"
        )
    );
    assert_eq!(drivers[1].0, 2);
    assert_eq!(drivers[2].0, 5);
    assert!(first.drivers.iter().all(|d| d.stage.get() == 3));
    assert!(profile.flags.is_empty(), "{:?}", profile.flags);
    assert!(!profile.submitted);
}

#[test]
fn pillar_stages_follow_the_rule_with_min_and_max() {
    // Pillar 1: 2 3 3; pillar 2: 1 4 4 2 5; pillar 3: 2 3 3 4; pillar 4: 2 3 4; pillar 5: 3 4.
    let stages = [2, 3, 3, 1, 4, 4, 2, 5, 2, 3, 3, 4, 2, 3, 4, 3, 4];
    let responses = [stages_response("o1", all(stages))];
    let catalogue = catalogue();
    let round = round();
    let data = RoundData {
        round: &round,
        assignments: &[],
        responses: &responses,
        validations: &[],
    };
    let by_rule = |rule| {
        let profile = id(profile(&catalogue, &data, &org("o1"), None, rule));
        let stages: Vec<Option<u8>> = profile
            .pillars
            .iter()
            .map(|p| p.stage.map(Stage::get))
            .collect();
        (stages, profile.pattern.pillars.clone())
    };
    let some = |v: [u8; 5]| v.map(Some).to_vec();
    assert_eq!(
        by_rule(PillarRule::Median),
        (some([3, 4, 3, 3, 3]), "3-4-3-3-3".to_owned())
    );
    assert_eq!(
        by_rule(PillarRule::Minimum),
        (some([2, 1, 2, 2, 3]), "2-1-2-2-3".to_owned())
    );
    assert_eq!(
        by_rule(PillarRule::Mode),
        (some([3, 4, 3, 2, 3]), "3-4-3-2-3".to_owned())
    );
    let profile = id(profile(
        &catalogue,
        &data,
        &org("o1"),
        None,
        PillarRule::Median,
    ));
    let spread: Vec<(Option<u8>, Option<u8>, usize, usize)> = profile
        .pillars
        .iter()
        .map(|p| {
            (
                p.min.map(Stage::get),
                p.max.map(Stage::get),
                p.answered,
                p.components,
            )
        })
        .collect();
    assert_eq!(
        spread,
        vec![
            (Some(2), Some(3), 3, 3),
            (Some(1), Some(5), 5, 5),
            (Some(2), Some(4), 4, 4),
            (Some(2), Some(4), 3, 3),
            (Some(3), Some(4), 2, 2),
        ]
    );
    // Overall: 17 stages, sorted the ninth is 3.
    assert_eq!(profile.pattern.median.map(Stage::get), Some(3));
    assert_eq!(profile.pattern.min.map(Stage::get), Some(1));
    assert_eq!(profile.pattern.max.map(Stage::get), Some(5));
    assert_eq!(
        (profile.pattern.answered, profile.pattern.components),
        (17, 17)
    );
}

#[test]
fn an_unanswered_pillar_has_no_stage() {
    let stages = [3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 0, 0];
    let profile = compute(&[stages_response("o1", all(stages))], &[], "o1");
    assert_eq!(profile.pillars[4].stage, None);
    assert_eq!(profile.pillars[4].answered, 0);
    assert_eq!(profile.pattern.pillars, "3-3-3-3-?");
}

#[test]
fn evidence_missing_is_raised_for_high_stages_without_documents() {
    let answers = with(
        all(FLAT),
        vec![
            ("1.1/evidence".to_owned(), persons(&["Ms A", "Mr B"])),
            ("2.1/stage".to_owned(), stage(4)),
            ("2.1/evidence".to_owned(), persons(&["Ms C"])),
            // A low stage with only names is not flagged.
            ("3.1/stage".to_owned(), stage(2)),
            ("3.1/evidence".to_owned(), persons(&["Mr D"])),
        ],
    );
    let answers = without(answers, &["1.2/evidence", "3.2/evidence", "3.2/stage"]);
    let profile = compute(&[stages_response("o1", answers)], &[], "o1");
    assert_eq!(
        flags_of(&profile, FlagCode::EvidenceMissing),
        vec![
            (
                Some("1.1"),
                "stage 3 with only names of people as evidence (2 named, no document)"
            ),
            (Some("1.2"), "stage 3 with no documented evidence"),
            (
                Some("2.1"),
                "stage 4 with only names of people as evidence (1 named, no document)"
            ),
        ]
    );
    assert_eq!(
        component(&profile, "1.1").evidence.strength,
        EvidenceStrength::Weak
    );
    assert_eq!(
        component(&profile, "1.2").evidence.strength,
        EvidenceStrength::None
    );
    // The flag carries its pillar and the prompt of internal validity, point 1, word for
    // word from the validation guide.
    let flag = &profile.flags[0];
    assert_eq!(flag.pillar, Some(1));
    let prompt = flag.prompt.as_ref().expect("prompt");
    assert_eq!(
        (prompt.concern.as_str(), prompt.concern_number, prompt.point),
        ("internal-validity", 1, 1)
    );
    assert_eq!(prompt.concern_title, "Internal validity in rating");
    assert_eq!(
        prompt.text,
        "Understand the evidence used when making judgments and ensure consistency in \
         ratings with the evidence used"
    );
}

#[test]
fn stage5_needs_evidence_citing_evaluation() {
    let answers = with(
        all(FLAT),
        vec![
            ("1.1/stage".to_owned(), stage(5)),
            (
                "1.1/evidence".to_owned(),
                documents(&["Annual report 2025"]),
            ),
            ("1.2/stage".to_owned(), stage(5)),
            (
                "1.2/evidence".to_owned(),
                documents(&["Annual report", "Independent EVALUATION of RBM, 2024"]),
            ),
            ("2.1/stage".to_owned(), stage(5)),
            (
                "2.1/evidence".to_owned(),
                documents(&["Mid-term review of the strategic plan"]),
            ),
            // A person whose name reads like a review is not a citation.
            ("2.2/stage".to_owned(), stage(5)),
            (
                "2.2/evidence".to_owned(),
                AnswerValue::Evidence(vec![
                    EvidenceItem {
                        kind: EvidenceKind::Person,
                        text: "Head of evaluation".to_owned(),
                        file: None,
                    },
                    EvidenceItem {
                        kind: EvidenceKind::Document,
                        text: "Dashboard".to_owned(),
                        file: None,
                    },
                ]),
            ),
        ],
    );
    let profile = compute(&[stages_response("o1", answers)], &[], "o1");
    assert_eq!(
        flags_of(&profile, FlagCode::Stage5WithoutEvaluation),
        vec![
            (
                Some("1.1"),
                "stage 5 with no evidence citing an evaluation, review or audit (1 document(s) cited)"
            ),
            (
                Some("2.2"),
                "stage 5 with no evidence citing an evaluation, review or audit (1 document(s) cited)"
            ),
        ]
    );
    assert!(component(&profile, "1.2").evidence.cites_evaluation);
    // Stage 4 without evaluation is not flagged.
    assert!(!component(&profile, "1.3").evidence.cites_evaluation);
}

#[test]
fn activities_disagreeing_with_the_stage_are_flagged_past_the_thresholds() {
    let ratings = |component: &str, values: &[u8]| -> Answers {
        values
            .iter()
            .enumerate()
            .map(|(i, v)| (format!("{component}/activity/{}", i + 1), rating(*v)))
            .collect()
    };
    let mut changes = vec![
        ("1.1/stage".to_owned(), stage(4)),
        ("1.2/stage".to_owned(), stage(4)),
        ("2.1/stage".to_owned(), stage(5)),
        ("2.2/stage".to_owned(), stage(2)),
        ("2.3/stage".to_owned(), stage(2)),
        ("2.4/stage".to_owned(), stage(1)),
        ("3.1/stage".to_owned(), stage(3)),
    ];
    // Raised: stage 4 with mean 1.67; stage 2 with mean 2.67 (own activity included).
    changes.extend(ratings("1.1", &[1, 2, 2]));
    changes.extend(ratings("2.2", &[3, 3]));
    changes.push((
        "2.2/other".to_owned(),
        AnswerValue::OtherActivities(vec![NamedRating {
            name: "Own".to_owned(),
            rating: id(Rating::parse(2, 1, 3)),
        }]),
    ));
    // Not raised: mean exactly 2.0 at stage 4; only two ratings at stage 5; mean 2.33
    // at stage 2; stage 3 is never compared; stage 1 with mean 2.5 is.
    changes.extend(ratings("1.2", &[2, 2, 2]));
    changes.extend(ratings("2.1", &[1, 1]));
    changes.extend(ratings("2.3", &[3, 2, 2]));
    changes.extend(ratings("3.1", &[1, 1, 1, 1]));
    changes.extend(ratings("2.4", &[3, 2, 3, 2]));
    let profile = compute(
        &[stages_response("o1", with(all(FLAT), changes))],
        &[],
        "o1",
    );
    assert_eq!(
        flags_of(&profile, FlagCode::ActivitiesDisagreeWithStage),
        vec![
            (
                Some("1.1"),
                "stage 4 while its 3 rated activities average 1.67 (below 2)"
            ),
            (
                Some("2.2"),
                "stage 2 while its 3 rated activities average 2.67 (2.5 or more)"
            ),
            (
                Some("2.4"),
                "stage 1 while its 4 rated activities average 2.5 (2.5 or more)"
            ),
        ]
    );
}

#[test]
fn uneven_pillars_are_three_stages_apart() {
    // Pillar 1: 1, 4, 4 (raised); pillar 2: 2..4 (not); pillar 3: 2 and 5 (raised).
    let stages = [1, 4, 4, 2, 3, 4, 3, 3, 2, 5, 3, 3, 3, 3, 3, 3, 3];
    let profile = compute(&[stages_response("o1", all(stages))], &[], "o1");
    let uneven: Vec<(Option<u8>, &str, Vec<&str>)> = profile
        .flags
        .iter()
        .filter(|f| f.code == FlagCode::PillarUneven)
        .map(|f| {
            (
                f.pillar,
                f.trigger.as_str(),
                f.items.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(
        uneven,
        vec![
            (
                Some(1),
                "components 1.1 at stage 1 and 1.2, 1.3 at stage 4 are 3 stages apart",
                vec!["1.1", "1.2", "1.3"]
            ),
            (
                Some(3),
                "components 3.1 at stage 2 and 3.2 at stage 5 are 3 stages apart",
                vec!["3.1", "3.2"]
            ),
        ]
    );
    let flag = profile
        .flags
        .iter()
        .find(|f| f.code == FlagCode::PillarUneven)
        .expect("flag");
    assert_eq!(flag.component, None);
    assert_eq!(
        flag.prompt.as_ref().map(|p| (p.concern.as_str(), p.point)),
        Some(("internal-validity", 2))
    );
}

fn rater_assignment(organisation: &str, who: &str) -> Assignment {
    Assignment {
        round: id(RoundId::parse("r-2026")),
        organisation: org(organisation),
        person: person(who),
        role: Role::IndependentRater,
    }
}

fn rating_response(organisation: &str, who: &str, stages: &[(&str, u8)]) -> Response {
    response(
        key("r-2026", organisation, "jiu-rbm-stages@1", Some(who)),
        stages
            .iter()
            .map(|(c, n)| (format!("{c}/stage"), stage(*n)))
            .collect(),
        true,
    )
}

#[test]
fn raters_are_compared_with_the_self_assessment() {
    let own = stages_response(
        "o1",
        all([3, 3, 2, 4, 4, 4, 4, 4, 2, 2, 2, 2, 5, 5, 5, 1, 1]),
    );
    // Rater A agrees everywhere but 1.1 (5 vs 3); rater B skips 1.2 and sees 2.1 at 3.
    let mut a: Vec<(&str, u8)> = COMPONENTS
        .iter()
        .zip([3, 3, 2, 4, 4, 4, 4, 4, 2, 2, 2, 2, 5, 5, 5, 1, 1])
        .map(|(c, s)| (*c, s))
        .collect();
    a[0].1 = 5;
    let mut b = a.clone();
    b[0].1 = 3;
    b.remove(1);
    b[2].1 = 3;
    let responses = [
        own,
        rating_response("o1", "p-rater-a", &a),
        rating_response("o1", "p-rater-b", &b),
    ];
    let assignments = [
        rater_assignment("o1", "p-rater-a"),
        rater_assignment("o1", "p-rater-b"),
        // Assigned but has not rated.
        rater_assignment("o1", "p-rater-c"),
    ];
    let profile = compute(&responses, &assignments, "o1");
    let raters: Vec<(&str, bool, bool, usize)> = profile
        .raters
        .iter()
        .map(|r| (r.person.as_str(), r.assigned, r.submitted, r.rated))
        .collect();
    assert_eq!(
        raters,
        vec![
            ("p-rater-a", true, true, 17),
            ("p-rater-b", true, true, 16),
            ("p-rater-c", true, false, 0),
        ]
    );
    let first = component(&profile, "1.1");
    assert_eq!(
        first
            .rater_stages
            .iter()
            .map(|s| s.map(Stage::get))
            .collect::<Vec<_>>(),
        vec![Some(5), Some(3), None]
    );
    assert_eq!(
        first.agreement,
        Some(PairAgreement {
            ratings: 3,
            pairs: 3,
            within_one: 1,
            range: 2
        })
    );
    let second = component(&profile, "1.2");
    assert_eq!(second.agreement.map(|a| (a.ratings, a.range)), Some((2, 0)));
    let disagreements = flags_of(&profile, FlagCode::RatersDisagree);
    assert_eq!(
        disagreements,
        vec![(
            Some("1.1"),
            "the 3 ratings (self-assessment and independent raters) span 2 stages; 1 of 3 \
             pairs are within one stage"
        )]
    );
    // Pairs: 1.1 gives 3 (1 within one), 1.2 gives 1, 2.1 (4, 4, 3) gives 3, the other
    // 14 components 3 each: 3 + 1 + 3 + 42 = 49 pairs, 47 within one.
    assert_eq!(
        (profile.agreement.raters, profile.agreement.components),
        (3, 17)
    );
    assert_eq!(
        (profile.agreement.pairs, profile.agreement.within_one),
        (49, 47)
    );
    assert_eq!(profile.agreement.max_range, Some(2));
    let units: Vec<Vec<u8>> = profile
        .components
        .iter()
        .map(|c| {
            c.stage
                .iter()
                .chain(c.rater_stages.iter().flatten())
                .map(|s| s.get())
                .collect()
        })
        .collect();
    let alpha = profile.agreement.alpha.expect("alpha");
    assert_eq!(
        Some(alpha),
        krippendorff_alpha(&units, AlphaMetric::Ordinal)
    );
    // Raters who agree on 15 of 17 widely spread components: alpha is high, no overall
    // flag.
    assert!(alpha > ALPHA_BELOW, "{alpha}");
    assert!(profile.flags.iter().all(|f| f.component.is_some()));
}

#[test]
fn raters_disagreeing_overall_raise_a_profile_flag() {
    // Self-assessment 1..5 cycling; the rater reverses it: within one on some, but the
    // ordering is opposed, so alpha is far below the threshold.
    let own_stages = [1, 2, 3, 4, 5, 1, 2, 3, 4, 5, 1, 2, 3, 4, 5, 1, 2];
    let rater: Vec<(&str, u8)> = COMPONENTS
        .iter()
        .zip(own_stages)
        .map(|(c, s)| (*c, 6 - s))
        .collect();
    let responses = [
        stages_response("o1", all(own_stages)),
        rating_response("o1", "p-rater-a", &rater),
    ];
    let profile = compute(&responses, &[rater_assignment("o1", "p-rater-a")], "o1");
    let alpha = profile.agreement.alpha.expect("alpha");
    assert!(alpha < ALPHA_BELOW, "{alpha}");
    let overall: Vec<&Flag> = profile
        .flags
        .iter()
        .filter(|f| f.code == FlagCode::RatersDisagree && f.component.is_none())
        .collect();
    assert_eq!(overall.len(), 1);
    assert!(
        overall[0]
            .trigger
            .starts_with("Krippendorff's alpha (ordinal) across components is "),
        "{}",
        overall[0].trigger
    );
    assert_eq!(overall[0].pillar, None);
}

#[test]
fn without_raters_there_is_no_agreement() {
    let profile = compute(&[stages_response("o1", all(FLAT))], &[], "o1");
    assert!(profile.raters.is_empty());
    assert!(profile.components.iter().all(|c| c.agreement.is_none()));
    assert_eq!(profile.agreement.alpha, None);
    assert_eq!(profile.agreement.share_within_one, None);
    assert!(flags_of(&profile, FlagCode::RatersDisagree).is_empty());
}

#[test]
fn peer_outliers_need_five_organisations_and_two_stages() {
    // 1.1: o1 at 5, peers 3 3 3 3 (n = 5, median 3) → raised.
    // 1.2: o1 at 4, peers 3 3 3 3 → 1 stage away, not raised.
    // 1.3: o1 at 5, only three peers answered (n = 4) → not raised.
    let peer = |name: &str| {
        stages_response(
            name,
            all([3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3]),
        )
    };
    let mut responses = vec![
        stages_response(
            "o1",
            with(
                all(FLAT),
                vec![
                    ("1.1/stage".to_owned(), stage(5)),
                    ("1.1/evidence".to_owned(), documents(&["Evaluation 2025"])),
                    ("1.2/stage".to_owned(), stage(4)),
                    ("1.3/stage".to_owned(), stage(5)),
                    ("1.3/evidence".to_owned(), documents(&["Audit 2025"])),
                ],
            ),
        ),
        peer("o2"),
        peer("o3"),
        peer("o4"),
        stages_response("o5", without(all(FLAT), &["1.3/stage"])),
    ];
    let profile = compute(&responses, &[], "o1");
    assert_eq!(
        flags_of(&profile, FlagCode::PeerOutlier),
        vec![(
            Some("1.1"),
            "stage 5 is 2 stages from the round's median of 3 (5 organisations answered)"
        )]
    );
    let flag = profile
        .flags
        .iter()
        .find(|f| f.code == FlagCode::PeerOutlier)
        .expect("flag");
    assert_eq!(
        flag.prompt.as_ref().map(|p| (p.concern.as_str(), p.point)),
        Some(("external-validity", 1))
    );
    // With four organisations in all, nothing is an outlier.
    responses.pop();
    let fewer = compute(&responses, &[], "o1");
    assert!(flags_of(&fewer, FlagCode::PeerOutlier).is_empty());
}

#[test]
fn incomplete_components_list_their_unanswered_items() {
    let answers = without(
        all([3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 0]),
        &["1.2/rationale", "1.2/evidence"],
    );
    let profile = compute(&[stages_response("o1", answers)], &[], "o1");
    let incomplete: Vec<(Option<&str>, Vec<&str>)> = profile
        .flags
        .iter()
        .filter(|f| f.code == FlagCode::Incomplete)
        .map(|f| {
            (
                f.component.as_deref(),
                f.items.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(
        incomplete,
        vec![
            (Some("1.2"), vec!["1.2/rationale", "1.2/evidence"]),
            (
                Some("5.2"),
                vec!["5.2/stage", "5.2/rationale", "5.2/evidence"]
            ),
        ]
    );
    let second = component(&profile, "1.2");
    assert_eq!(
        (second.completeness.answered, second.completeness.required),
        (1, 3)
    );
    let flag = profile
        .flags
        .iter()
        .find(|f| f.code == FlagCode::Incomplete)
        .expect("flag");
    assert_eq!(
        flag.trigger,
        "2 of 3 required item(s) unanswered: 1.2/rationale, 1.2/evidence"
    );
    assert_eq!(
        flag.prompt.as_ref().map(|p| (p.concern.as_str(), p.point)),
        Some(("internal-validity", 3))
    );
    // 1.2 at stage 3 without evidence is also a missing-evidence case.
    assert_eq!(
        flags_of(&profile, FlagCode::EvidenceMissing),
        vec![(Some("1.2"), "stage 3 with no documented evidence")]
    );
}

#[test]
fn every_flag_prompt_comes_word_for_word_from_the_guide() {
    let catalogue = catalogue();
    let guide = catalogue
        .get("jiu-rbm-validation", 1)
        .and_then(Instrument::as_validation_guide)
        .expect("guide");
    for code in FlagCode::ALL {
        let prompt = FlagPrompt::of(code, guide).expect("every code maps to a point");
        let (concern, point) = code.prompt_source();
        let expected = guide
            .concerns
            .iter()
            .find(|c| c.id == concern)
            .and_then(|c| c.points.get(point - 1))
            .expect("point");
        assert_eq!(prompt.text, expected.text.as_str(), "{}", code.as_str());
    }
}

#[test]
fn change_is_measured_against_the_previous_round() {
    let earlier = round_with("r-2024", Some(500), &["o1"]);
    let previous = round_with("r-2025", Some(1_000), &["o1", "o2"]);
    let other_org = round_with("r-2025-b", Some(1_500), &["o2"]);
    let later = round_with("r-2027", Some(3_000), &["o1"]);
    let undated = round_with("r-undated", None, &["o1"]);
    let current = round();
    let rounds = vec![
        earlier,
        previous.clone(),
        other_org,
        later,
        undated,
        current.clone(),
    ];
    let found = previous_round(&rounds, &current, &org("o1"), "jiu-rbm-stages");
    assert_eq!(found.map(|r| r.id.as_str()), Some("r-2025"));
    assert_eq!(
        previous_round(&rounds, &rounds[0], &org("o1"), "jiu-rbm-stages"),
        None
    );
    // A round without a deadline comes after every dated one.
    assert_eq!(
        previous_round(&rounds, &rounds[4], &org("o1"), "jiu-rbm-stages").map(|r| r.id.as_str()),
        Some("r-2027")
    );
    assert_eq!(
        previous_round(&rounds, &current, &org("o1"), "iom-pmr"),
        None
    );

    let before = response(
        key("r-2025", "o1", "jiu-rbm-stages@1", None),
        vec![
            ("1.1/stage".to_owned(), stage(2)),
            ("1.2/stage".to_owned(), stage(4)),
        ],
        true,
    );
    let responses = [stages_response(
        "o1",
        without(all(FLAT), &["1.2/stage", "1.3/stage"]),
    )];
    let catalogue = catalogue();
    let data = RoundData {
        round: &current,
        assignments: &[],
        responses: &responses,
        validations: &[],
    };
    let profile = id(profile(
        &catalogue,
        &data,
        &org("o1"),
        Some(&PreviousRound {
            round: &previous,
            response: Some(&before),
        }),
        PillarRule::Median,
    ));
    assert_eq!(
        profile.previous_round.as_ref().map(RoundId::as_str),
        Some("r-2025")
    );
    let change = |c: &str| {
        let change = component(&profile, c).change;
        (change.previous.map(Stage::get), change.delta)
    };
    assert_eq!(change("1.1"), (Some(2), Some(1)));
    assert_eq!(change("1.2"), (Some(4), None));
    assert_eq!(change("1.3"), (None, None));
}

#[test]
fn outcome_areas_link_components_and_senior_managers_answers() {
    let manager = Assignment {
        round: id(RoundId::parse("r-2026")),
        organisation: org("o1"),
        person: person("p-ben"),
        role: Role::SeniorManager {
            outcome_areas: vec!["qcpr-1".to_owned()],
        },
    };
    let responses = [
        stages_response(
            "o1",
            with(
                all(FLAT),
                vec![
                    ("1.3/stage".to_owned(), stage(2)),
                    ("5.1/stage".to_owned(), stage(4)),
                ],
            ),
        ),
        response(
            key("r-2026", "o1", "jiu-rbm-outcomes@1", Some("p-ben")),
            vec![
                (
                    "outcome-1/q1".to_owned(),
                    AnswerValue::Text("Staff are assessed on results.".to_owned()),
                ),
                (
                    "outcome-1/q9/answer".to_owned(),
                    AnswerValue::Text("The deputy director".to_owned()),
                ),
                (
                    "outcome-2/q1".to_owned(),
                    AnswerValue::Text("Dashboards.".to_owned()),
                ),
                (
                    "part-1/q1".to_owned(),
                    AnswerValue::Date(id(DateValue::parse("2026-01-01"))),
                ),
            ],
            true,
        ),
    ];
    let profile = compute(&responses, &[manager], "o1");
    let areas: Vec<&str> = profile.outcomes.iter().map(|o| o.area.as_str()).collect();
    assert_eq!(
        areas,
        vec!["qcpr-1", "qcpr-2", "qcpr-3", "qcpr-4", "qcpr-5"]
    );
    let accountability = &profile.outcomes[0];
    assert_eq!(accountability.name, "Accountability");
    let linked: Vec<(&str, Option<u8>)> = accountability
        .components
        .iter()
        .map(|c| (c.id.as_str(), c.stage.map(Stage::get)))
        .collect();
    assert_eq!(
        linked,
        vec![
            ("1.3", Some(2)),
            ("2.5", Some(3)),
            ("5.1", Some(4)),
            ("5.2", Some(3))
        ]
    );
    assert_eq!(accountability.managers.len(), 1);
    let ben = &accountability.managers[0];
    assert_eq!(
        (ben.person.as_str(), ben.assigned, ben.submitted),
        ("p-ben", true, true)
    );
    let answers: Vec<(&str, Option<&str>, &str)> = ben
        .answers
        .iter()
        .map(|a| (a.question.as_str(), a.label.as_deref(), a.answer.as_str()))
        .collect();
    assert_eq!(
        answers,
        vec![
            ("outcome-1/q1", None, "Staff are assessed on results."),
            (
                "outcome-1/q9/answer",
                Some("Senior manager(s):"),
                "The deputy director"
            ),
        ]
    );
    assert_eq!(
        ben.answers[0].text,
        "In what ways has the accountability system changed as a result of results-based \
         management mainstreaming?"
    );
    // Ben answered one question of area 2 without being assigned to it: shown, not
    // assigned. Area 3 has nobody.
    let tracking = &profile.outcomes[1];
    assert_eq!(
        tracking
            .managers
            .iter()
            .map(|m| (m.person.as_str(), m.assigned, m.answers.len()))
            .collect::<Vec<_>>(),
        vec![("p-ben", false, 1)]
    );
    assert!(profile.outcomes[2].managers.is_empty());
}

#[test]
fn the_matrix_shows_stages_and_withholds_small_groups() {
    // o1..o5 answer every component but 5.2, which only o1..o4 answer; o6 answers none.
    let mut responses = Vec::new();
    for (index, name) in ORGS.iter().take(5).enumerate() {
        let n = index as u8 + 1;
        let mut stages = [n; 17];
        if index == 4 {
            stages[16] = 0;
        }
        responses.push(stages_response(name, all(stages)));
    }
    let catalogue = catalogue();
    let round = round();
    let data = RoundData {
        round: &round,
        assignments: &[],
        responses: &responses,
        validations: &[],
    };
    let matrix = id(round_matrix(&catalogue, &data, PillarRule::Minimum));
    assert_eq!(matrix.components.len(), 17);
    assert_eq!(matrix.rows.len(), 6);
    assert_eq!(matrix.min_group_size, 5);
    let row = |i: usize| -> Vec<Option<u8>> {
        matrix.rows[i]
            .stages
            .iter()
            .map(|s| s.map(Stage::get))
            .collect()
    };
    assert_eq!(row(1), vec![Some(2); 17]);
    assert_eq!(row(4)[16], None);
    assert_eq!(row(5), vec![None; 17]);
    assert_eq!(matrix.rows[5].pillars, vec![None; 5]);
    assert_eq!(
        matrix.rows[2]
            .pillars
            .iter()
            .map(|s| s.map(Stage::get))
            .collect::<Vec<_>>(),
        vec![Some(3); 5]
    );

    let first = &matrix.components[0];
    assert_eq!((first.id.as_str(), first.pillar), ("1.1", 1));
    assert_eq!(first.distribution.n, 5);
    assert_eq!(
        first.distribution.summary,
        Some(DistributionSummary {
            median: 3.0,
            q1: 2.0,
            q3: 4.0,
            counts: [1, 1, 1, 1, 1]
        })
    );
    let last = &matrix.components[16];
    assert_eq!(last.distribution.n, 4);
    assert_eq!(last.distribution.summary, None);
    assert!(last.distribution.withheld.is_some());
    // Pillar 5 under the minimum rule: o5 has 5.1 only, so it still has a pillar stage.
    assert_eq!(matrix.pillars[4].distribution.n, 5);
    assert_eq!(
        matrix.pillars[4]
            .distribution
            .summary
            .as_ref()
            .map(|s| s.counts),
        Some([1, 1, 1, 1, 1])
    );
}

#[test]
fn a_round_without_the_organisation_or_a_stage_questionnaire_has_no_profile() {
    let catalogue = catalogue();
    let round = round();
    let data = RoundData {
        round: &round,
        assignments: &[],
        responses: &[],
        validations: &[],
    };
    assert_eq!(
        profile(
            &catalogue,
            &data,
            &org("stranger"),
            None,
            PillarRule::Median
        ),
        Err(ProfileError::NotInRound {
            organisation: org("stranger"),
            round: round.id.clone()
        })
    );
    let learning = Round {
        instruments: vec![id(InstrumentRef::parse("iom-pmr@1"))],
        ..round.clone()
    };
    let data = RoundData {
        round: &learning,
        ..data
    };
    assert_eq!(
        round_matrix(&catalogue, &data, PillarRule::Median),
        Err(ProfileError::NoStageQuestionnaire(round.id.clone()))
    );
    // A fresh organisation: every component incomplete, nothing else.
    let data = RoundData {
        round: &round,
        assignments: &[],
        responses: &[],
        validations: &[],
    };
    let empty = id(profile(
        &catalogue,
        &data,
        &org("o1"),
        None,
        PillarRule::Median,
    ));
    assert_eq!(empty.flags.len(), 17);
    assert!(empty.flags.iter().all(|f| f.code == FlagCode::Incomplete));
    assert_eq!(empty.pattern.pillars, "?-?-?-?-?");
}

#[test]
fn instruments_resolve_their_companions() {
    let catalogue = catalogue();
    let instruments = id(Instruments::resolve(&catalogue, &round()));
    assert_eq!(instruments.stages.id(), "jiu-rbm-stages");
    assert!(instruments.drivers.is_some());
    assert!(instruments.guide.is_some());
    assert!(instruments.outcome_map.is_some());
    assert_eq!(
        instruments.outcomes.map(Instrument::id),
        Some("jiu-rbm-outcomes")
    );
    // Without the outcome protocol in the round, the one the outcome map names is used.
    let stages_only = Round {
        instruments: vec![id(InstrumentRef::parse("jiu-rbm-stages@1"))],
        ..round()
    };
    let instruments = id(Instruments::resolve(&catalogue, &stages_only));
    assert_eq!(
        instruments.outcomes.map(Instrument::id),
        Some("jiu-rbm-outcomes")
    );
}

#[test]
fn validated_stages_come_from_the_latest_records_and_the_matrix_averages_the_difference() {
    use crate::domain::{
        TokenId, ValidationRecord, ValidationStatus, ValidationSubject, Validator,
    };
    // o1 at 4 everywhere, o2 at 2 everywhere, o3 at 3 everywhere.
    let responses: Vec<Response> = [("o1", 4), ("o2", 2), ("o3", 3)]
        .iter()
        .map(|(name, n)| stages_response(name, all([*n; 17])))
        .collect();
    let validator = Validator {
        actor: Actor::Token(id(TokenId::parse("t-jiu"))),
        label: "JIU".to_owned(),
    };
    let record = |organisation: &str, component: &str, stage: u8, at: i64| ValidationRecord {
        round: id(RoundId::parse("r-2026")),
        organisation: org(organisation),
        subject: ValidationSubject::Component {
            component: component.to_owned(),
            stage: id(Stage::parse(i64::from(stage))),
            evidence_reviewed: Vec::new(),
        },
        note: String::new(),
        validator: validator.clone(),
        at: Timestamp::from_millis(at),
    };
    let validations = vec![
        // o1's 2.3 validated at 3, then revised to 2: the latest counts (difference 2).
        record("o1", "2.3", 3, 1),
        record("o1", "2.3", 2, 2),
        // o2's 2.3 validated at 3 (difference -1).
        record("o2", "2.3", 3, 3),
        // o1's 1.1 confirmed (difference 0); a status record for o3 changes no stage.
        record("o1", "1.1", 4, 4),
        ValidationRecord {
            subject: ValidationSubject::Status(ValidationStatus::InValidation),
            ..record("o3", "1.1", 1, 5)
        },
        // A record of another round is ignored.
        ValidationRecord {
            round: id(RoundId::parse("r-2025")),
            ..record("o3", "2.3", 1, 6)
        },
    ];
    let catalogue = catalogue();
    let round = round();
    let data = RoundData {
        round: &round,
        assignments: &[],
        responses: &responses,
        validations: &validations,
    };
    let profile = id(profile(
        &catalogue,
        &data,
        &org("o1"),
        None,
        PillarRule::Median,
    ));
    let validated = |id: &str| {
        profile
            .components
            .iter()
            .find(|c| c.id == id)
            .and_then(|c| c.validated)
            .map(Stage::get)
    };
    assert_eq!(validated("2.3"), Some(2));
    assert_eq!(validated("1.1"), Some(4));
    assert_eq!(validated("5.2"), None);
    assert_eq!(profile.validation.status, ValidationStatus::InValidation);
    assert_eq!(profile.validation.components.len(), 2);
    let linked: Vec<(&str, Option<u8>)> = profile
        .outcomes
        .iter()
        .flat_map(|area| &area.components)
        .filter(|c| c.id == "2.3")
        .map(|c| (c.id.as_str(), c.validated.map(Stage::get)))
        .collect();
    assert!(!linked.is_empty() && linked.iter().all(|(_, v)| *v == Some(2)));

    let matrix = id(round_matrix(&catalogue, &data, PillarRule::Median));
    let column = |id: &str| {
        matrix
            .components
            .iter()
            .position(|c| c.id == id)
            .expect("column")
    };
    let difference = matrix.components[column("2.3")].validation;
    assert_eq!(difference.organisations, 2);
    assert_eq!(
        difference.mean,
        Some(0.5),
        "(4 - 2) and (2 - 3) average 0.5"
    );
    assert_eq!(
        matrix.components[column("1.1")].validation,
        StageDifference {
            organisations: 1,
            mean: Some(0.0)
        }
    );
    assert_eq!(
        matrix.components[column("5.2")].validation,
        StageDifference {
            organisations: 0,
            mean: None
        }
    );
    let o3 = matrix
        .rows
        .iter()
        .find(|r| r.organisation.as_str() == "o3")
        .expect("o3");
    assert!(
        o3.validated.iter().all(Option::is_none),
        "o3 has no judgement here"
    );
    let o1 = &matrix.rows[0];
    assert_eq!(o1.validated[column("2.3")].map(Stage::get), Some(2));
}
