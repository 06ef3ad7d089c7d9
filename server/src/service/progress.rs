//! Progress of a round: per organisation and per person, which responses are expected,
//! how far each is (not started, in progress, submitted), how many of its required
//! questions are answered, by pillar for the stage questionnaire, and when it last
//! changed.
//!
//! [`compute`] is a pure function of the catalogue, the round, its assignments and the
//! stored responses, so it is tested without a store; [`load`] only reads what it needs.
//! Nothing here writes.
//!
//! Which responses a round expects:
//! - per-organisation instruments (the stage questionnaire): one consolidated response
//!   per organisation of the round, owned by its focal points;
//! - per-respondent instruments: one response per person assigned to the organisation
//!   in a role the instrument is for (senior managers answer the outcome protocol,
//!   learning participants the learning sets);
//! - independent raters' ratings: one per person assigned as independent rater of the
//!   organisation, their own response to its stage questionnaire
//!   (`<round>/<org>/<stages>/~<person>`);
//! - any other response of the round that exists in the store (e.g. of a person whose
//!   assignment was removed), so that nothing answered is hidden.
//!
//! Ratings are kept apart from the organisation's responses: a rating is a blind second
//! opinion for validation, not part of what the organisation answers, so it changes
//! neither the organisation's status nor its answered and required counts. A rater's
//! progress shows in [`OrganisationProgress::ratings`] and under the rater in
//! [`RoundProgress::people`].
//!
//! A senior manager's outcome-protocol response counts the required questions of the
//! sections without an outcome area and of the sections of their assigned outcome areas
//! (all sections when none is assigned).

use std::collections::{BTreeMap, BTreeSet, HashSet};

use crate::catalogue::model::ResponseMode;
use crate::catalogue::{Catalogue, Instrument, Question};
use crate::domain::{
    Assignment, OrganisationId, PersonId, Respondent, Response, ResponseKey, ResponseStatus, Role,
    Round, Timestamp,
};
use crate::service::admin::role_answers;
use crate::store::{Store, StoreError};

/// How far a response is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProgressStatus {
    /// Nothing recorded yet.
    NotStarted,
    /// Answers recorded, not submitted (or reopened).
    InProgress,
    /// Submitted.
    Submitted,
}

/// Required questions of one pillar of the stage questionnaire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PillarProgress {
    /// Pillar number, from 1.
    pub number: u8,
    /// Pillar name.
    pub name: String,
    /// Required questions answered.
    pub answered: usize,
    /// Required questions.
    pub total: usize,
}

/// Progress of one response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseProgress {
    /// Which response.
    pub key: ResponseKey,
    /// How far it is.
    pub status: ProgressStatus,
    /// Required questions answered.
    pub answered: usize,
    /// Required questions.
    pub total: usize,
    /// Per pillar, for the stage questionnaire; empty otherwise.
    pub pillars: Vec<PillarProgress>,
    /// When it last changed.
    pub last_activity: Option<Timestamp>,
}

/// Progress of one organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrganisationProgress {
    /// The organisation.
    pub organisation: OrganisationId,
    /// Not started when no response is started, submitted when every response is,
    /// in progress otherwise; ratings do not count.
    pub status: ProgressStatus,
    /// Its responses: consolidated ones first, then per person.
    pub responses: Vec<ResponseProgress>,
    /// Independent raters' ratings of its stage questionnaire, by rater (assigned raters
    /// and any stored rating).
    pub ratings: Vec<ResponseProgress>,
}

/// Progress of one person's assigned responses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonProgress {
    /// The person.
    pub person: PersonId,
    /// The responses they answer or edit (a focal point edits the organisation's
    /// consolidated responses, an independent rater answers their own rating), in the
    /// order of their assignments.
    pub responses: Vec<ResponseProgress>,
}

/// Progress of a round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoundProgress {
    /// Per organisation, in the round's order.
    pub organisations: Vec<OrganisationProgress>,
    /// Per assigned person, by id.
    pub people: Vec<PersonProgress>,
}

/// The progress of `round` from its assignments and the responses stored for it.
/// Responses of other rounds are ignored.
pub fn compute(
    catalogue: &Catalogue,
    round: &Round,
    assignments: &[Assignment],
    responses: &[Response],
) -> RoundProgress {
    let stored: BTreeMap<&ResponseKey, &Response> = responses
        .iter()
        .filter(|r| r.key.round == round.id)
        .map(|r| (&r.key, r))
        .collect();
    let instruments: Vec<&Instrument> = round
        .instruments
        .iter()
        .filter_map(|r| catalogue.get(&r.id, r.version))
        .collect();
    let assignments: Vec<&Assignment> =
        assignments.iter().filter(|a| a.round == round.id).collect();

    let mut by_key: BTreeMap<ResponseKey, ResponseProgress> = BTreeMap::new();
    let mut organisations = Vec::new();
    for organisation in &round.organisations {
        let mut keys: Vec<(ResponseKey, Option<&Role>)> = Vec::new();
        let key = |instrument: &Instrument, respondent: Respondent| ResponseKey {
            round: round.id.clone(),
            organisation: organisation.clone(),
            instrument: instrument.reference(),
            respondent,
        };
        for instrument in &instruments {
            match instrument.header().response_mode {
                ResponseMode::PerOrganisation => {
                    keys.push((key(instrument, Respondent::Organisation), None));
                    if instrument.as_stage_questionnaire().is_some() {
                        for assignment in assignments.iter().filter(|a| {
                            &a.organisation == organisation && a.role == Role::IndependentRater
                        }) {
                            keys.push((
                                key(instrument, Respondent::Person(assignment.person.clone())),
                                Some(&assignment.role),
                            ));
                        }
                    }
                }
                ResponseMode::PerRespondent => {
                    for assignment in assignments.iter().filter(|a| {
                        &a.organisation == organisation && role_answers(&a.role, instrument)
                    }) {
                        keys.push((
                            key(instrument, Respondent::Person(assignment.person.clone())),
                            Some(&assignment.role),
                        ));
                    }
                }
                ResponseMode::Reference => {}
            }
        }
        for stored_key in stored.keys() {
            if &stored_key.organisation == organisation {
                keys.push(((*stored_key).clone(), None));
            }
        }
        let mut seen = BTreeSet::new();
        let mut list = Vec::new();
        let mut ratings = Vec::new();
        for (key, role) in keys {
            if !seen.insert(key.clone()) {
                continue;
            }
            let Some(instrument) = catalogue.get(&key.instrument.id, key.instrument.version) else {
                continue;
            };
            // A person's response to a per-organisation instrument is a rater's rating.
            let rating = instrument.header().response_mode == ResponseMode::PerOrganisation
                && matches!(key.respondent, Respondent::Person(_));
            let progress = response_progress(instrument, key, role, &stored);
            by_key.insert(progress.key.clone(), progress.clone());
            if rating {
                ratings.push(progress);
            } else {
                list.push(progress);
            }
        }
        organisations.push(OrganisationProgress {
            organisation: organisation.clone(),
            status: overall(&list),
            responses: list,
            ratings,
        });
    }

    let mut people: BTreeMap<PersonId, Vec<ResponseProgress>> = BTreeMap::new();
    for assignment in &assignments {
        let mine = people.entry(assignment.person.clone()).or_default();
        let owned = by_key.values().filter(|p| {
            p.key.organisation == assignment.organisation
                && match (&assignment.role, &p.key.respondent) {
                    (Role::FocalPoint, Respondent::Organisation) => true,
                    (
                        Role::SeniorManager { .. }
                        | Role::LearningParticipant
                        | Role::IndependentRater,
                        Respondent::Person(id),
                    ) => id == &assignment.person,
                    _ => false,
                }
        });
        for progress in owned {
            if !mine.iter().any(|m| m.key == progress.key) {
                mine.push(progress.clone());
            }
        }
    }
    RoundProgress {
        organisations,
        people: people
            .into_iter()
            .map(|(person, responses)| PersonProgress { person, responses })
            .collect(),
    }
}

fn overall(responses: &[ResponseProgress]) -> ProgressStatus {
    if responses
        .iter()
        .all(|r| r.status == ProgressStatus::NotStarted)
    {
        ProgressStatus::NotStarted
    } else if responses
        .iter()
        .all(|r| r.status == ProgressStatus::Submitted)
    {
        ProgressStatus::Submitted
    } else {
        ProgressStatus::InProgress
    }
}

/// The section a questionnaire question belongs to, or the component a stage question
/// belongs to: the part of its id before the first `/`.
fn head(question: &Question) -> &str {
    question.id.split('/').next().unwrap_or(&question.id)
}

fn response_progress(
    instrument: &Instrument,
    key: ResponseKey,
    role: Option<&Role>,
    stored: &BTreeMap<&ResponseKey, &Response>,
) -> ResponseProgress {
    let response = stored.get(&key).copied();
    let answered_ids: HashSet<&str> = response
        .map(|r| r.answers.keys().map(|q| q.as_str()).collect())
        .unwrap_or_default();
    let in_scope = scope(instrument, role);
    let required: Vec<&Question> = instrument
        .questions()
        .iter()
        .filter(|q| q.required && in_scope(head(q)))
        .collect();
    let is_answered = |q: &Question| answered_ids.contains(q.id.as_str());
    let pillars = instrument
        .as_stage_questionnaire()
        .map(|body| {
            body.pillars
                .iter()
                .map(|pillar| {
                    let components: HashSet<&str> =
                        pillar.components.iter().map(|c| c.id.as_str()).collect();
                    let mine: Vec<&Question> = required
                        .iter()
                        .copied()
                        .filter(|q| components.contains(head(q)))
                        .collect();
                    PillarProgress {
                        number: pillar.number,
                        name: pillar.name.as_str().to_owned(),
                        answered: mine.iter().filter(|q| is_answered(q)).count(),
                        total: mine.len(),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let status = match response {
        None => ProgressStatus::NotStarted,
        Some(r) if r.meta.last_seq == 0 => ProgressStatus::NotStarted,
        Some(r) if r.meta.status == ResponseStatus::Submitted => ProgressStatus::Submitted,
        Some(_) => ProgressStatus::InProgress,
    };
    ResponseProgress {
        status,
        answered: required.iter().filter(|q| is_answered(q)).count(),
        total: required.len(),
        pillars,
        last_activity: response.and_then(|r| r.updated_at),
        key,
    }
}

/// Which sections (by id) count for a respondent: for a senior manager with outcome
/// areas, the sections without an area and those of their areas; otherwise all.
fn scope<'a>(instrument: &'a Instrument, role: Option<&'a Role>) -> impl Fn(&str) -> bool + 'a {
    let areas: Option<&'a [String]> = match role {
        Some(Role::SeniorManager { outcome_areas }) if !outcome_areas.is_empty() => {
            Some(outcome_areas)
        }
        _ => None,
    };
    let questionnaire = instrument.as_questionnaire();
    move |section: &str| {
        let (Some(areas), Some(questionnaire)) = (areas, questionnaire) else {
            return true;
        };
        questionnaire
            .sections
            .iter()
            .find(|s| s.id == section)
            .and_then(|s| s.outcome_area.as_ref())
            .is_none_or(|area| areas.contains(area))
    }
}

/// Reads the assignments and responses of `round` and computes its progress.
///
/// # Errors
/// A store failure.
pub async fn load(
    store: &dyn Store,
    catalogue: &Catalogue,
    round: &Round,
) -> Result<RoundProgress, StoreError> {
    let assignments = store.assignments(&round.id).await?;
    let keys = store.responses(&round.id).await?;
    let reads = keys.iter().map(|key| store.response(key));
    let responses: Vec<Response> = futures_util::future::try_join_all(reads)
        .await?
        .into_iter()
        .flatten()
        .collect();
    Ok(compute(catalogue, round, &assignments, &responses))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::catalogue::InstrumentRef;
    use crate::domain::{
        Actor, AnswerChange, AnswerValue, Channel, EventKind, IdempotencyKey, QuestionId,
        ResponseEvent, RoundId, RoundStatus, Stage,
    };

    fn catalogue() -> Catalogue {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../questionnaires");
        Catalogue::load(&dir).unwrap_or_else(|e| panic!("catalogue: {e}"))
    }

    fn id<T, E: std::fmt::Display>(result: Result<T, E>) -> T {
        result.unwrap_or_else(|e| panic!("fixture: {e}"))
    }

    fn round() -> Round {
        Round {
            id: id(RoundId::parse("r-2026")),
            title: "Round".to_owned(),
            instruments: vec![
                id(InstrumentRef::parse("jiu-rbm-stages@1")),
                id(InstrumentRef::parse("jiu-rbm-outcomes@1")),
                id(InstrumentRef::parse("jiu-rbm-drivers@1")),
            ],
            organisations: vec![
                id(OrganisationId::parse("ocr")),
                id(OrganisationId::parse("arl")),
            ],
            deadline: None,
            status: RoundStatus::Open,
        }
    }

    fn assignment(organisation: &str, person: &str, role: Role) -> Assignment {
        Assignment {
            round: id(RoundId::parse("r-2026")),
            organisation: id(OrganisationId::parse(organisation)),
            person: id(PersonId::parse(person)),
            role,
        }
    }

    fn key(organisation: &str, instrument: &str, person: Option<&str>) -> ResponseKey {
        ResponseKey {
            round: id(RoundId::parse("r-2026")),
            organisation: id(OrganisationId::parse(organisation)),
            instrument: id(InstrumentRef::parse(instrument)),
            respondent: person.map_or(Respondent::Organisation, |p| {
                Respondent::Person(id(PersonId::parse(p)))
            }),
        }
    }

    /// A response with these answers (stage 3 or a text, by question kind), submitted
    /// when asked.
    fn response(key: ResponseKey, questions: &[&str], submitted: bool, at: i64) -> Response {
        let mut events: Vec<ResponseEvent> = questions
            .iter()
            .zip(1..)
            .map(|(question, seq)| ResponseEvent {
                response: key.id(),
                seq,
                kind: EventKind::Answer {
                    question: id(QuestionId::parse(question)),
                    change: AnswerChange::Set(if question.ends_with("/stage") {
                        AnswerValue::Stage(id(Stage::parse(3)))
                    } else {
                        AnswerValue::Text("An answer".to_owned())
                    }),
                },
                actor: Actor::System,
                channel: Channel::Import,
                at: Timestamp::from_millis(at),
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
                at: Timestamp::from_millis(at + 1),
                idempotency_key: id(IdempotencyKey::parse("s")),
            });
        }
        Response::replay(key, &events)
    }

    #[test]
    fn a_fresh_round_is_not_started_with_totals() {
        let catalogue = catalogue();
        let progress = compute(&catalogue, &round(), &[], &[]);
        assert_eq!(progress.organisations.len(), 2);
        for organisation in &progress.organisations {
            assert_eq!(organisation.status, ProgressStatus::NotStarted);
            // Only the stage questionnaire: no senior manager is assigned yet, and the
            // drivers are guidance.
            assert_eq!(organisation.responses.len(), 1);
            let stages = &organisation.responses[0];
            assert_eq!(stages.status, ProgressStatus::NotStarted);
            // 17 components × (stage, rationale, evidence).
            assert_eq!((stages.answered, stages.total), (0, 51));
            assert_eq!(
                stages
                    .pillars
                    .iter()
                    .map(|p| (p.number, p.total))
                    .collect::<Vec<_>>(),
                vec![(1, 9), (2, 15), (3, 12), (4, 9), (5, 6)]
            );
            assert_eq!(stages.last_activity, None);
        }
        assert!(progress.people.is_empty());
    }

    #[test]
    fn counts_required_answers_by_pillar_and_person() {
        let catalogue = catalogue();
        let round = round();
        let assignments = vec![
            assignment("ocr", "p-focal", Role::FocalPoint),
            assignment(
                "ocr",
                "p-manager",
                Role::SeniorManager {
                    outcome_areas: vec!["qcpr-1".to_owned()],
                },
            ),
            assignment("arl", "p-rater", Role::IndependentRater),
            // Another round's assignment is ignored.
            Assignment {
                round: id(RoundId::parse("r-other")),
                ..assignment("arl", "p-stray", Role::FocalPoint)
            },
        ];
        let responses = vec![
            // Optional questions (comments, activity ratings) do not count.
            response(
                key("ocr", "jiu-rbm-stages@1", None),
                &[
                    "1.1/stage",
                    "1.1/rationale",
                    "1.1/comments",
                    "1.1/activity/1",
                    "2.1/stage",
                ],
                false,
                1_000,
            ),
            response(
                key("ocr", "jiu-rbm-outcomes@1", Some("p-manager")),
                &["part-1/q1", "outcome-1/q9/answer"],
                true,
                2_000,
            ),
        ];
        let progress = compute(&catalogue, &round, &assignments, &responses);
        let ocr = &progress.organisations[0];
        assert_eq!(ocr.organisation.as_str(), "ocr");
        assert_eq!(ocr.status, ProgressStatus::InProgress);
        assert_eq!(ocr.responses.len(), 2);
        let stages = &ocr.responses[0];
        assert_eq!(stages.status, ProgressStatus::InProgress);
        assert_eq!((stages.answered, stages.total), (3, 51));
        assert_eq!(
            stages
                .pillars
                .iter()
                .map(|p| (p.answered, p.total))
                .collect::<Vec<_>>(),
            vec![(2, 9), (1, 15), (0, 12), (0, 9), (0, 6)]
        );
        assert_eq!(stages.last_activity, Some(Timestamp::from_millis(1_000)));

        // The senior manager's total covers part 1 and their one outcome area.
        let outcomes = &ocr.responses[1];
        let instrument = catalogue.get("jiu-rbm-outcomes", 1).expect("outcomes");
        let expected_total = instrument
            .questions()
            .iter()
            .filter(|q| {
                q.required && (q.id.starts_with("part-1/") || q.id.starts_with("outcome-1/"))
            })
            .count();
        assert!(expected_total < instrument.questions().iter().filter(|q| q.required).count());
        assert_eq!(outcomes.status, ProgressStatus::Submitted);
        assert_eq!((outcomes.answered, outcomes.total), (2, expected_total));
        assert!(outcomes.pillars.is_empty());

        // arl has only its untouched stage questionnaire, and its rater's rating apart.
        let arl = &progress.organisations[1];
        assert_eq!(arl.status, ProgressStatus::NotStarted);
        assert_eq!(arl.responses.len(), 1);
        assert_eq!(arl.ratings.len(), 1);
        assert_eq!(
            arl.ratings[0].key.id().to_string(),
            "r-2026/arl/jiu-rbm-stages@1/~p-rater"
        );
        assert_eq!(arl.ratings[0].status, ProgressStatus::NotStarted);
        assert_eq!((arl.ratings[0].answered, arl.ratings[0].total), (0, 51));
        assert!(ocr.ratings.is_empty());

        let people: Vec<(&str, Vec<String>)> = progress
            .people
            .iter()
            .map(|p| {
                (
                    p.person.as_str(),
                    p.responses.iter().map(|r| r.key.id().to_string()).collect(),
                )
            })
            .collect();
        assert_eq!(
            people,
            vec![
                ("p-focal", vec!["r-2026/ocr/jiu-rbm-stages@1".to_owned()]),
                (
                    "p-manager",
                    vec!["r-2026/ocr/jiu-rbm-outcomes@1/~p-manager".to_owned()]
                ),
                (
                    "p-rater",
                    vec!["r-2026/arl/jiu-rbm-stages@1/~p-rater".to_owned()]
                ),
            ]
        );
    }

    #[test]
    fn raters_ratings_leave_the_organisation_status_and_counts_alone() {
        let catalogue = catalogue();
        let round = round();
        let assignments = vec![
            assignment("ocr", "p-rita", Role::IndependentRater),
            assignment("ocr", "p-raul", Role::IndependentRater),
            assignment("arl", "p-focal", Role::FocalPoint),
            assignment("arl", "p-rita", Role::IndependentRater),
        ];
        let stages = |organisation: &str, person: Option<&str>| {
            key(organisation, "jiu-rbm-stages@1", person)
        };
        let responses = vec![
            // ocr: nothing of its own, Rita's rating in progress, Raul's submitted.
            response(
                stages("ocr", Some("p-rita")),
                &["1.1/stage", "1.1/rationale"],
                false,
                10,
            ),
            response(
                stages("ocr", Some("p-raul")),
                &["1.1/stage", "1.1/rationale", "1.1/evidence"],
                true,
                20,
            ),
            // arl: submitted, while Rita's rating of it is still in progress.
            response(stages("arl", None), &["1.1/stage"], true, 30),
            response(stages("arl", Some("p-rita")), &["2.1/stage"], false, 40),
        ];
        let progress = compute(&catalogue, &round, &assignments, &responses);

        let ocr = &progress.organisations[0];
        assert_eq!(ocr.status, ProgressStatus::NotStarted);
        assert_eq!(ocr.responses.len(), 1);
        assert_eq!((ocr.responses[0].answered, ocr.responses[0].total), (0, 51));
        let ratings: Vec<(String, ProgressStatus, usize, usize)> = ocr
            .ratings
            .iter()
            .map(|r| (r.key.id().to_string(), r.status, r.answered, r.total))
            .collect();
        assert_eq!(
            ratings,
            vec![
                (
                    "r-2026/ocr/jiu-rbm-stages@1/~p-rita".to_owned(),
                    ProgressStatus::InProgress,
                    2,
                    51
                ),
                (
                    "r-2026/ocr/jiu-rbm-stages@1/~p-raul".to_owned(),
                    ProgressStatus::Submitted,
                    3,
                    51
                ),
            ]
        );
        assert_eq!(ocr.ratings[0].pillars[0].answered, 2);

        let arl = &progress.organisations[1];
        assert_eq!(arl.status, ProgressStatus::Submitted);
        assert_eq!(arl.responses.len(), 1);
        assert_eq!(arl.responses[0].answered, 1);
        assert_eq!(arl.ratings.len(), 1);
        assert_eq!(arl.ratings[0].status, ProgressStatus::InProgress);

        // Each rater sees their own ratings only; the focal point the consolidated one.
        let people: Vec<(&str, Vec<String>)> = progress
            .people
            .iter()
            .map(|p| {
                (
                    p.person.as_str(),
                    p.responses.iter().map(|r| r.key.id().to_string()).collect(),
                )
            })
            .collect();
        assert_eq!(
            people,
            vec![
                ("p-focal", vec!["r-2026/arl/jiu-rbm-stages@1".to_owned()]),
                (
                    "p-raul",
                    vec!["r-2026/ocr/jiu-rbm-stages@1/~p-raul".to_owned()]
                ),
                (
                    "p-rita",
                    vec![
                        "r-2026/ocr/jiu-rbm-stages@1/~p-rita".to_owned(),
                        "r-2026/arl/jiu-rbm-stages@1/~p-rita".to_owned(),
                    ]
                ),
            ]
        );
    }

    #[test]
    fn a_rating_without_assignment_is_still_kept_apart() {
        let catalogue = catalogue();
        let stray = response(
            key("arl", "jiu-rbm-stages@1", Some("p-former")),
            &["1.1/stage"],
            false,
            5,
        );
        let progress = compute(&catalogue, &round(), &[], &[stray]);
        let arl = &progress.organisations[1];
        assert_eq!(arl.status, ProgressStatus::NotStarted);
        assert_eq!(arl.responses.len(), 1);
        assert_eq!(arl.ratings.len(), 1);
        assert_eq!(arl.ratings[0].status, ProgressStatus::InProgress);
    }

    #[test]
    fn a_response_without_assignment_is_still_shown() {
        let catalogue = catalogue();
        let stray = response(
            key("arl", "jiu-rbm-outcomes@1", Some("p-former")),
            &["part-1/q1"],
            false,
            5,
        );
        let progress = compute(&catalogue, &round(), &[], &[stray]);
        let arl = &progress.organisations[1];
        assert_eq!(arl.responses.len(), 2);
        assert_eq!(arl.responses[1].status, ProgressStatus::InProgress);
        assert_eq!(arl.status, ProgressStatus::InProgress);
        // Without an assignment the whole protocol counts.
        let instrument = catalogue.get("jiu-rbm-outcomes", 1).expect("outcomes");
        assert_eq!(
            arl.responses[1].total,
            instrument.questions().iter().filter(|q| q.required).count()
        );
    }
}
