//! The validation interview pack of an organisation in a round (`crate::pack`): this
//! module loads what the pack shows and fills its model; rendering is `crate::pack`'s.
//!
//! What is read: the round, the organisation, the profile and the round matrix (through
//! the cached views, pillar stages by the median rule), the round's assignments, the
//! organisation's consolidated stage response (the focal points' texts, which the
//! profile does not keep), its senior managers' outcome-protocol responses, and the
//! names of the people shown. [`build`] is a pure function of those, tested without a
//! store. Access is checked by the caller (administrators and validators with the round
//! in scope); nothing here writes.

use std::collections::{BTreeMap, BTreeSet};

use futures_util::future::try_join_all;

use crate::app::AppState;
use crate::catalogue::Catalogue;
use crate::catalogue::model::{Questionnaire, StageQuestionnaire, ValidationGuide};
use crate::domain::{
    AnswerValue, Assignment, EvidenceItem, EvidenceKind, Organisation, OrganisationId, PersonId,
    Respondent, Response, ResponseKey, ResponseStatus, Role, Round, RoundId, Stage, Timestamp,
};
use crate::pack::{
    Chart, ChartRow, Completion, Concern, Cover, Dates, ExternalValidity, FocalPointGuide, Guides,
    LinkedComponent, ManagerAnswers, ManagerStatus, OrganisationInfo, OutcomeAreaAnswers,
    OutcomeSection, Outcomes, PackActivity, PackAnswer, PackComponent, PackEvidence, PackFlag,
    PackPerson, PackSignOff, PackValidated, PeerRow, RaterStage, RoundInfo, SENIOR_MANAGER_TARGET,
    SENIOR_MANAGER_TARGET_SOURCE, SeniorManagerGuide, SummarySheet, SystemWide,
    SystemWideComponent, TitledText, ValidationInfo, ValidationPack, Worksheet, WorksheetRow,
};
use crate::pack::{PackFormat, RenderPackError};
use crate::profile::{
    Distribution, Flag, Instruments, PillarRule, Profile, ProfileError, RoundMatrix,
    ValidationState, answer_text,
};
use crate::service::profile::LoadError;
use crate::service::report;
use crate::service::views::Views;
use crate::store::Store;

/// The pack's title on its cover.
pub const PACK_TITLE: &str = "Validation interview pack";

/// The pillar whose components make the system-wide dimension (annex IX part 3,
/// concern 3: "pillar 5 on collective accountability").
pub const SYSTEM_WIDE_PILLAR: u8 = 5;

/// The stage whose claims the system-wide dimension looks at.
pub const SYSTEM_WIDE_STAGE: u8 = 5;

/// Everything the pack is made of, loaded.
#[derive(Debug, Clone, Copy)]
pub struct PackSources<'a> {
    /// The catalogue.
    pub catalogue: &'a Catalogue,
    /// The round.
    pub round: &'a Round,
    /// The organisation.
    pub organisation: &'a Organisation,
    /// Its profile in the round.
    pub profile: &'a Profile,
    /// The round matrix (same rule as the profile).
    pub matrix: &'a RoundMatrix,
    /// Its consolidated stage response, if it answered.
    pub response: Option<&'a Response>,
    /// Its senior managers' outcome-protocol responses.
    pub manager_responses: &'a [Response],
    /// The round's assignments.
    pub assignments: &'a [Assignment],
    /// Names of the people shown (the id when absent).
    pub people: &'a BTreeMap<PersonId, String>,
    /// When the pack is prepared.
    pub prepared_at: Timestamp,
}

/// Loads the sources of the pack of `organisation` in `round` and builds it, prepared at
/// `prepared_at`.
///
/// # Errors
/// [`LoadError::UnknownRound`]; [`LoadError::Profile`] when the round has no stage
/// questionnaire or the organisation does not take part; a store failure.
pub async fn validation_pack(
    store: &dyn Store,
    catalogue: &Catalogue,
    views: &Views,
    round: &RoundId,
    organisation: &OrganisationId,
    prepared_at: Timestamp,
) -> Result<ValidationPack, LoadError> {
    let round = store
        .round(round)
        .await?
        .ok_or_else(|| LoadError::UnknownRound(round.clone()))?;
    let instruments = Instruments::resolve(catalogue, &round)?;
    if !round.organisations.contains(organisation) {
        return Err(ProfileError::NotInRound {
            organisation: organisation.clone(),
            round: round.id.clone(),
        }
        .into());
    }
    let rule = PillarRule::default();
    let (profile, matrix) = futures_util::future::try_join(
        views.profile(store, catalogue, &round.id, organisation, rule),
        views.round_matrix(store, catalogue, &round.id, rule),
    )
    .await?;
    let stages = instruments.stages.reference();
    let outcomes = instruments.outcomes.map(|i| i.reference());
    let (assignments, keys, stored_organisation) = futures_util::future::try_join3(
        store.assignments(&round.id),
        store.responses(&round.id),
        store.organisation(organisation),
    )
    .await?;
    let consolidated = ResponseKey {
        round: round.id.clone(),
        organisation: organisation.clone(),
        instrument: stages,
        respondent: Respondent::Organisation,
    };
    let manager_keys: Vec<ResponseKey> = keys
        .into_iter()
        .filter(|key| {
            &key.organisation == organisation
                && Some(&key.instrument) == outcomes.as_ref()
                && matches!(key.respondent, Respondent::Person(_))
        })
        .collect();
    let (response, manager_responses) = futures_util::future::try_join(
        store.response(&consolidated),
        try_join_all(manager_keys.iter().map(|key| store.response(key))),
    )
    .await?;
    let manager_responses: Vec<Response> = manager_responses.into_iter().flatten().collect();

    let mut persons: BTreeSet<PersonId> = assignments
        .iter()
        .filter(|a| &a.organisation == organisation)
        .map(|a| a.person.clone())
        .collect();
    persons.extend(profile.raters.iter().map(|r| r.person.clone()));
    persons.extend(
        manager_responses
            .iter()
            .filter_map(|r| match &r.key.respondent {
                Respondent::Person(person) => Some(person.clone()),
                Respondent::Organisation => None,
            }),
    );
    let persons: Vec<PersonId> = persons.into_iter().collect();
    let found = try_join_all(persons.iter().map(|id| store.person(id))).await?;
    let people: BTreeMap<PersonId, String> = persons
        .into_iter()
        .zip(found)
        .filter_map(|(id, person)| person.map(|p| (id, p.name)))
        .collect();
    let organisation = stored_organisation.unwrap_or_else(|| Organisation {
        id: organisation.clone(),
        name: organisation.to_string(),
        acronym: None,
    });
    Ok(build(&PackSources {
        catalogue,
        round: &round,
        organisation: &organisation,
        profile: &profile,
        matrix: &matrix,
        response: response.as_ref(),
        manager_responses: &manager_responses,
        assignments: &assignments,
        people: &people,
        prepared_at,
    })?)
}

/// The file name of a pack: `{round}-{organisation}-validation-pack.{extension}` (slugs
/// only, so it is always a valid header value).
pub fn file_name(round: &RoundId, organisation: &OrganisationId, format: PackFormat) -> String {
    format!(
        "{round}-{organisation}-validation-pack.{}",
        format.extension()
    )
}

/// Why a pack could not be given.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    /// Its sources could not be loaded (unknown round, organisation not in it, store).
    #[error(transparent)]
    Load(#[from] LoadError),
    /// A template failed (a bug).
    #[error(transparent)]
    Render(#[from] RenderPackError),
}

/// The pack of `organisation` in `round`, prepared now and rendered in `format`, for
/// the transports (access is the caller's to check).
///
/// # Errors
/// [`PackError::Load`] as [`validation_pack`]; [`PackError::Render`] for a template
/// failure.
pub async fn render(
    state: &AppState,
    round: &RoundId,
    organisation: &OrganisationId,
    format: PackFormat,
) -> Result<String, PackError> {
    let pack = validation_pack(
        state.store.as_ref(),
        &state.catalogue,
        &state.views,
        round,
        organisation,
        Timestamp::now(),
    )
    .await?;
    Ok(pack.render(format)?)
}

// --- building ----------------------------------------------------------------------------

fn stage(stage: Option<Stage>) -> Option<u8> {
    stage.map(Stage::get)
}

/// A number with at most two decimals, as people write it: `3`, `3.5`, `2.67`.
fn decimal(value: f64) -> String {
    let text = format!("{value:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

fn name_of<'a>(people: &'a BTreeMap<PersonId, String>, id: &'a PersonId) -> &'a str {
    people.get(id).map_or(id.as_str(), String::as_str)
}

fn role_words(role: &Role) -> &'static str {
    match role {
        Role::FocalPoint => "focal point",
        Role::SeniorManager { .. } => "senior manager",
        Role::IndependentRater => "independent rater",
        Role::LearningParticipant => "learning participant",
    }
}

fn role_order(role: &Role) -> u8 {
    match role {
        Role::FocalPoint => 0,
        Role::SeniorManager { .. } => 1,
        Role::IndependentRater => 2,
        Role::LearningParticipant => 3,
    }
}

/// The concern `id` of the validation guide, word for word.
fn concern(guide: Option<&ValidationGuide>, id: &str) -> Option<Concern> {
    let concern = guide?.concerns.iter().find(|c| c.id == id)?;
    Some(Concern {
        number: concern.number,
        title: concern.title.as_str().to_owned(),
        text: concern.text.as_ref().map(|t| t.as_str().to_owned()),
        points: concern
            .points
            .iter()
            .map(|p| p.text.as_str().to_owned())
            .collect(),
    })
}

fn pack_flag(flag: &Flag) -> PackFlag {
    PackFlag {
        code: flag.code.as_str(),
        about: match (&flag.component, flag.pillar) {
            (Some(component), _) => component.clone(),
            (None, Some(pillar)) => format!("Pillar {pillar}"),
            (None, None) => "Whole profile".to_owned(),
        },
        trigger: flag.trigger.clone(),
        items: flag.items.clone(),
        prompt_source: flag
            .prompt
            .as_ref()
            .map(|p| format!("{}, point {}", p.concern_title, p.point)),
        prompt: flag.prompt.as_ref().map(|p| p.text.clone()),
    }
}

fn evidence(items: &[EvidenceItem]) -> Vec<PackEvidence> {
    items
        .iter()
        .map(|item| PackEvidence {
            kind: match item.kind {
                EvidenceKind::Document => "document",
                EvidenceKind::Person => "person",
            },
            text: item.text.clone(),
            file: item.file.as_ref().map(|f| f.name.clone()),
        })
        .collect()
}

/// The stage questionnaire's answers of one component.
struct Answers<'a> {
    response: Option<&'a Response>,
    component: &'a str,
}

impl<'a> Answers<'a> {
    fn value(&self, item: &str) -> Option<&'a AnswerValue> {
        let response = self.response?;
        response
            .answers
            .iter()
            .find(|(id, _)| {
                id.as_str()
                    .strip_prefix(self.component)
                    .and_then(|rest| rest.strip_prefix('/'))
                    == Some(item)
            })
            .map(|(_, answer)| &answer.value)
    }

    fn text(&self, item: &str) -> Option<String> {
        self.value(item).map(answer_text)
    }

    fn evidence(&self) -> &'a [EvidenceItem] {
        match self.value("evidence") {
            Some(AnswerValue::Evidence(items)) => items,
            _ => &[],
        }
    }
}

fn rating_label(questionnaire: &StageQuestionnaire, rating: u8) -> Option<String> {
    questionnaire
        .activity_question
        .scale
        .iter()
        .find(|p| p.value == rating)
        .map(|p| p.label.as_str().to_owned())
}

fn stage_descriptor(
    questionnaire: &StageQuestionnaire,
    component: &str,
    stage: Option<Stage>,
) -> (Option<String>, Option<String>) {
    let found = stage.and_then(|stage| {
        questionnaire
            .component(component)?
            .stages
            .iter()
            .find(|s| s.stage == stage.get())
    });
    (
        found.map(|s| s.title.as_str().to_owned()),
        found.map(|s| s.text.as_str().to_owned()),
    )
}

/// The wording of an outcome-protocol question id `<section>/<item>[/<field>]`: its
/// number and text, and the field's label when the item has named fields.
fn question_wording(questionnaire: &Questionnaire, question: &str) -> Option<String> {
    let mut parts = question.split('/');
    let section = parts.next()?;
    let item = parts.next()?;
    let field = parts.next();
    let item = questionnaire
        .sections
        .iter()
        .find(|s| s.id == section)?
        .items
        .iter()
        .find(|i| i.id == item)?;
    let mut text = match &item.number {
        Some(number) => format!("{number}. {}", item.text.as_str()),
        None => item.text.as_str().to_owned(),
    };
    if let Some(label) = field
        .and_then(|field| item.fields.iter().find(|f| f.id == field))
        .map(|f| f.label.as_str())
    {
        text.push_str(" — ");
        text.push_str(label);
    }
    Some(text)
}

fn sign_off(state: &ValidationState) -> ValidationInfo {
    ValidationInfo {
        status: state.status.as_str(),
        validated_components: state.components.len(),
        sign_off: state.sign_off.as_ref().map(|s| PackSignOff {
            validator: s.validator.label.clone(),
            at: s.at.to_rfc3339(),
            note: s.note.clone(),
        }),
    }
}

fn peer_row(id: String, name: String, own: Option<Stage>, distribution: &Distribution) -> PeerRow {
    let summary = distribution.summary.as_ref();
    PeerRow {
        id,
        name,
        stage: stage(own),
        n: distribution.n,
        withheld: summary.is_none(),
        withheld_reason: distribution.withheld.clone(),
        median: summary.map(|s| decimal(s.median)),
        q1: summary.map(|s| decimal(s.q1)),
        q3: summary.map(|s| decimal(s.q3)),
        counts: summary.map(|s| s.counts),
    }
}

/// The pack of `sources`.
///
/// # Errors
/// [`ProfileError::NoStageQuestionnaire`] when the round uses none.
pub fn build(sources: &PackSources<'_>) -> Result<ValidationPack, ProfileError> {
    let PackSources {
        catalogue,
        round,
        organisation,
        profile,
        matrix,
        response,
        manager_responses,
        assignments,
        people,
        prepared_at,
    } = *sources;
    let instruments = Instruments::resolve(catalogue, round)?;
    let questionnaire = instruments.questionnaire;
    let outcome_questionnaire = instruments.outcomes.and_then(|i| i.as_questionnaire());
    let area_name = |id: &str| {
        outcome_questionnaire
            .and_then(|q| q.outcome_area(id))
            .map_or_else(|| id.to_owned(), |a| a.name.as_str().to_owned())
    };

    // People of the organisation, by role then id.
    let mut mine: Vec<&Assignment> = assignments
        .iter()
        .filter(|a| a.round == round.id && a.organisation == organisation.id)
        .collect();
    mine.sort_by(|a, b| (role_order(&a.role), &a.person).cmp(&(role_order(&b.role), &b.person)));
    let cover_people: Vec<PackPerson> = mine
        .iter()
        .map(|a| PackPerson {
            id: a.person.to_string(),
            name: name_of(people, &a.person).to_owned(),
            role: role_words(&a.role),
            outcome_areas: match &a.role {
                Role::SeniorManager { outcome_areas } => {
                    outcome_areas.iter().map(|id| area_name(id)).collect()
                }
                _ => Vec::new(),
            },
        })
        .collect();

    let submitted = response.is_some_and(|r| r.meta.status == ResponseStatus::Submitted);
    let validation = sign_off(&profile.validation);
    let cover = Cover {
        title: PACK_TITLE.to_owned(),
        organisation: OrganisationInfo {
            id: organisation.id.to_string(),
            name: organisation.name.clone(),
            acronym: organisation.acronym.clone(),
        },
        round: RoundInfo {
            id: round.id.to_string(),
            title: round.title.clone(),
            status: round.status.as_str(),
        },
        instrument: profile.instrument.to_string(),
        people: cover_people,
        dates: Dates {
            deadline: round.deadline.map(Timestamp::to_rfc3339),
            // A submitted response takes no answers, so its last event is the submission.
            submitted_at: response
                .filter(|_| submitted)
                .and_then(|r| r.updated_at)
                .map(Timestamp::to_rfc3339),
            last_answer_at: response
                .and_then(|r| r.answers.values().map(|a| a.at).max())
                .map(Timestamp::to_rfc3339),
            prepared_at: prepared_at.to_rfc3339(),
        },
        completion: Completion {
            submitted: profile.submitted,
            components_answered: profile.pattern.answered,
            components: profile.pattern.components,
            required_answered: profile
                .components
                .iter()
                .map(|c| c.completeness.answered)
                .sum(),
            required: profile
                .components
                .iter()
                .map(|c| c.completeness.required)
                .sum(),
        },
        validation: validation.clone(),
    };

    // Annex IX part 2 and the chart.
    let sheet = report::summary_sheet_input(
        instruments.guide.map(|g| &g.summary_sheet),
        profile,
        &organisation.name,
        &round.title,
    );
    let summary_sheet = SummarySheet {
        title: sheet.title,
        columns: sheet.columns,
        has_validated: profile.components.iter().any(|c| c.validated.is_some()),
        pillars: sheet.pillars,
        pattern: profile.pattern.pillars.clone(),
        notes: sheet.notes,
    };
    let chart_input = report::configuration_chart_input(profile, &organisation.name, &round.title);
    let chart = Chart {
        title: chart_input.title.clone(),
        svg: crate::charts::configuration_chart(&chart_input),
        rows: profile
            .components
            .iter()
            .map(|c| ChartRow {
                pillar: c.pillar,
                component: c.id.clone(),
                name: c.name.clone(),
                stage: stage(c.stage),
                validated_stage: stage(c.validated),
            })
            .collect(),
    };

    // Components.
    let rater_names: Vec<String> = profile
        .raters
        .iter()
        .map(|r| name_of(people, &r.person).to_owned())
        .collect();
    let linked_areas = |component: &str| -> Vec<String> {
        profile
            .outcomes
            .iter()
            .filter(|area| area.components.iter().any(|c| c.id == component))
            .map(|area| area.name.clone())
            .collect()
    };
    let mut components = Vec::with_capacity(profile.components.len());
    for component in &profile.components {
        let answers = Answers {
            response,
            component: &component.id,
        };
        let (stage_title, stage_descriptor) =
            stage_descriptor(questionnaire, &component.id, component.stage);
        let listed = questionnaire
            .component(&component.id)
            .map_or(&[][..], |c| c.activities.as_slice());
        let activities = listed
            .iter()
            .enumerate()
            .map(|(index, activity)| {
                let rating = match answers.value(&format!("activity/{}", index + 1)) {
                    Some(AnswerValue::Rating(rating)) => Some(rating.get()),
                    _ => None,
                };
                PackActivity {
                    text: activity.text.as_str().to_owned(),
                    rating,
                    rating_label: rating.and_then(|r| rating_label(questionnaire, r)),
                }
            })
            .collect();
        let other_activities = match answers.value("other") {
            Some(AnswerValue::OtherActivities(items)) => items
                .iter()
                .map(|item| PackActivity {
                    text: item.name.clone(),
                    rating: Some(item.rating.get()),
                    rating_label: rating_label(questionnaire, item.rating.get()),
                })
                .collect(),
            _ => Vec::new(),
        };
        let recorded = profile.validation.components.get(&component.id);
        components.push(PackComponent {
            id: component.id.clone(),
            name: component.name.clone(),
            pillar: component.pillar,
            pillar_name: profile
                .pillars
                .iter()
                .find(|p| p.number == component.pillar)
                .map(|p| p.name.clone())
                .unwrap_or_default(),
            stage: stage(component.stage),
            stage_title,
            stage_descriptor,
            validated: recorded.map(|v| PackValidated {
                stage: v.stage.get(),
                note: v.note.clone(),
                evidence_reviewed: v.evidence_reviewed.clone(),
                validator: v.validator.label.clone(),
                at: v.at.to_rfc3339(),
            }),
            rationale: answers.text("rationale"),
            evidence: evidence(answers.evidence()),
            comments: answers.text("comments"),
            plans: answers.text("plans"),
            activities,
            other_activities,
            activity_mean: component.activities.mean.map(|m| format!("{m:.2}")),
            missing: component.completeness.missing.clone(),
            rater_stages: rater_names
                .iter()
                .zip(&component.rater_stages)
                .map(|(rater, given)| RaterStage {
                    rater: rater.clone(),
                    stage: stage(*given),
                })
                .collect(),
            previous_stage: stage(component.change.previous),
            flags: profile
                .flags
                .iter()
                .filter(|f| f.component.as_deref() == Some(component.id.as_str()))
                .map(pack_flag)
                .collect(),
            outcome_areas: linked_areas(&component.id),
        });
    }

    // External validity.
    let external_validity = ExternalValidity {
        concern: concern(instruments.guide, "external-validity"),
        organisations: round.organisations.len(),
        min_group_size: matrix.min_group_size,
        components: matrix
            .components
            .iter()
            .map(|c| {
                let own = profile
                    .components
                    .iter()
                    .find(|p| p.id == c.id)
                    .and_then(|p| p.stage);
                peer_row(c.id.clone(), c.name.clone(), own, &c.distribution)
            })
            .collect(),
        pillars: matrix
            .pillars
            .iter()
            .map(|p| {
                let own = profile
                    .pillars
                    .iter()
                    .find(|q| q.number == p.number)
                    .and_then(|q| q.stage);
                peer_row(
                    format!("Pillar {}", p.number),
                    p.name.clone(),
                    own,
                    &p.distribution,
                )
            })
            .collect(),
    };

    // The system-wide dimension.
    let system_component = |c: &PackComponent| {
        let summary = profile.components.iter().find(|p| p.id == c.id);
        SystemWideComponent {
            id: c.id.clone(),
            name: c.name.clone(),
            stage: c.stage,
            validated_stage: c.validated.as_ref().map(|v| v.stage),
            stage_descriptor: c.stage_descriptor.clone(),
            evidence: c.evidence.clone(),
            cites_evaluation: summary.is_some_and(|s| s.evidence.cites_evaluation),
        }
    };
    let system_pillar = profile
        .pillars
        .iter()
        .find(|p| p.number == SYSTEM_WIDE_PILLAR);
    let system_wide = SystemWide {
        concern: concern(instruments.guide, "system-wide-dimension"),
        pillar: system_pillar.map(|p| format!("Pillar {}: {}", p.number, p.name)),
        pillar_stage: system_pillar.and_then(|p| stage(p.stage)),
        components: components
            .iter()
            .filter(|c| c.pillar == SYSTEM_WIDE_PILLAR)
            .map(system_component)
            .collect(),
        stage5_claims: components
            .iter()
            .filter(|c| c.stage == Some(SYSTEM_WIDE_STAGE))
            .map(system_component)
            .collect(),
    };

    // Outcomes.
    let responses_by_person: BTreeMap<&PersonId, &Response> = manager_responses
        .iter()
        .filter(|r| r.key.round == round.id && r.key.organisation == organisation.id)
        .filter_map(|r| match &r.key.respondent {
            Respondent::Person(person) => Some((person, r)),
            Respondent::Organisation => None,
        })
        .collect();
    let wording = |question: &str, fallback: &str| {
        outcome_questionnaire
            .and_then(|q| question_wording(q, question))
            .unwrap_or_else(|| fallback.to_owned())
    };
    let areas = profile
        .outcomes
        .iter()
        .map(|area| OutcomeAreaAnswers {
            id: area.area.clone(),
            number: area.number,
            name: area.name.clone(),
            components: area
                .components
                .iter()
                .map(|c| LinkedComponent {
                    id: c.id.clone(),
                    name: c.name.clone(),
                    stage: stage(c.stage),
                    validated_stage: stage(c.validated),
                })
                .collect(),
            managers: area
                .managers
                .iter()
                .map(|m| ManagerAnswers {
                    name: name_of(people, &m.person).to_owned(),
                    assigned: m.assigned,
                    submitted: m.submitted,
                    answers: m
                        .answers
                        .iter()
                        .map(|a| PackAnswer {
                            question_id: a.question.clone(),
                            question: wording(&a.question, &a.text),
                            answer: a.answer.clone(),
                        })
                        .collect(),
                })
                .collect(),
        })
        .collect();
    let other_sections = match (outcome_questionnaire, instruments.outcomes) {
        (Some(questionnaire), Some(instrument)) => questionnaire
            .sections
            .iter()
            .filter(|s| s.outcome_area.is_none())
            .filter_map(|section| {
                let managers: Vec<ManagerAnswers> = responses_by_person
                    .iter()
                    .filter_map(|(person, response)| {
                        let answers: Vec<PackAnswer> = instrument
                            .questions()
                            .iter()
                            .filter(|q| {
                                q.id.split_once('/').map(|(s, _)| s) == Some(section.id.as_str())
                            })
                            .filter_map(|q| {
                                let (_, answer) = response
                                    .answers
                                    .iter()
                                    .find(|(id, _)| id.as_str() == q.id)?;
                                Some(PackAnswer {
                                    question_id: q.id.clone(),
                                    question: wording(&q.id, &q.id),
                                    answer: answer_text(&answer.value),
                                })
                            })
                            .collect();
                        (!answers.is_empty()).then(|| ManagerAnswers {
                            name: name_of(people, person).to_owned(),
                            assigned: mine.iter().any(|a| {
                                &a.person == *person && matches!(a.role, Role::SeniorManager { .. })
                            }),
                            submitted: response.meta.status == ResponseStatus::Submitted,
                            answers,
                        })
                    })
                    .collect();
                (!managers.is_empty()).then(|| OutcomeSection {
                    id: section.id.clone(),
                    title: section.title.as_str().to_owned(),
                    managers,
                })
            })
            .collect(),
        _ => Vec::new(),
    };
    let outcomes = Outcomes {
        instrument: instruments.outcomes.map(|i| i.reference().to_string()),
        areas,
        other_sections,
    };

    // Guides.
    let guide = instruments.guide;
    let focal_points = FocalPointGuide {
        title: instruments
            .guide_instrument
            .map(|i| i.header().title.as_str().to_owned()),
        sections: guide
            .map(|g| {
                g.introduction
                    .iter()
                    .map(|text| TitledText {
                        title: String::new(),
                        text: text.as_str().to_owned(),
                    })
                    .chain(g.sections.iter().map(|s| TitledText {
                        title: s.title.as_str().to_owned(),
                        text: s.text.as_str().to_owned(),
                    }))
                    .collect()
            })
            .unwrap_or_default(),
        concerns: guide
            .map(|g| {
                g.concerns
                    .iter()
                    .filter_map(|c| concern(Some(g), &c.id))
                    .collect()
            })
            .unwrap_or_default(),
    };
    let managers: BTreeSet<&PersonId> = mine
        .iter()
        .filter(|a| matches!(a.role, Role::SeniorManager { .. }))
        .map(|a| &a.person)
        .collect();
    let assigned = managers.len();
    let mut everyone = managers;
    everyone.extend(responses_by_person.keys().copied());
    let statuses: Vec<ManagerStatus> = everyone
        .iter()
        .map(|person| {
            let response = responses_by_person.get(person);
            ManagerStatus {
                name: name_of(people, person).to_owned(),
                answered: response.is_some_and(|r| !r.answers.is_empty()),
                submitted: response.is_some_and(|r| r.meta.status == ResponseStatus::Submitted),
            }
        })
        .collect();
    let senior_managers = SeniorManagerGuide {
        guide: outcome_questionnaire.and_then(|q| {
            q.guidance
                .iter()
                .find(|b| b.id == "interview")
                .or_else(|| q.guidance.first())
                .map(|b| TitledText {
                    title: b.title.as_str().to_owned(),
                    text: b.text.as_str().to_owned(),
                })
        }),
        target: SENIOR_MANAGER_TARGET,
        target_source: SENIOR_MANAGER_TARGET_SOURCE.to_owned(),
        assigned,
        answered: statuses.iter().filter(|s| s.answered).count(),
        submitted: statuses.iter().filter(|s| s.submitted).count(),
        managers: statuses,
    };

    let worksheet = Worksheet {
        rows: components
            .iter()
            .map(|c| WorksheetRow {
                component: c.id.clone(),
                name: c.name.clone(),
                stage: c.stage,
                flags: c.flags.iter().map(|f| f.code).collect(),
                validated_stage: c.validated.as_ref().map(|v| v.stage),
                evidence_reviewed: c
                    .validated
                    .as_ref()
                    .map(|v| v.evidence_reviewed.clone())
                    .unwrap_or_default(),
                note: c.validated.as_ref().map(|v| v.note.clone()),
            })
            .collect(),
        validation,
    };

    Ok(ValidationPack {
        format: crate::pack::FORMAT,
        version: crate::pack::VERSION,
        cover,
        summary_sheet,
        chart,
        flags: profile.flags.iter().map(pack_flag).collect(),
        components,
        external_validity,
        system_wide,
        outcomes,
        guides: Guides {
            focal_points,
            senior_managers,
        },
        worksheet,
    })
}
