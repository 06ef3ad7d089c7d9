//! Outcome linkage (annex III): for each outcome area of the quadrennial comprehensive
//! policy review, the components the outcome map links to it with this organisation's
//! stages, beside what its senior managers answered for that area in the outcome
//! protocol.

use std::collections::BTreeMap;

use super::{ComponentProfile, Instruments, RoundData};
use crate::catalogue::model::Questionnaire;
use crate::domain::{
    AnswerValue, OrganisationId, PersonId, Respondent, Response, ResponseStatus, Role, Stage,
};

/// A component linked to an outcome area, with the organisation's stages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkedComponent {
    /// The component id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The self-assessed stage.
    pub stage: Option<Stage>,
    /// The validated stage, once a validator recorded one.
    pub validated: Option<Stage>,
}

/// One answer of a senior manager.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagerAnswer {
    /// The question id, e.g. `outcome-1/q3`.
    pub question: String,
    /// The question as worded in the protocol.
    pub text: String,
    /// The answer field's label, when the question has named fields.
    pub label: Option<String>,
    /// The answer as text (list items one per line).
    pub answer: String,
}

/// A senior manager's answers for one outcome area.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagerAnswers {
    /// The person.
    pub person: PersonId,
    /// Whether they are assigned to judge this area (a senior manager without listed
    /// areas is assigned to all).
    pub assigned: bool,
    /// Whether their outcome-protocol response is submitted.
    pub submitted: bool,
    /// Their answers to the area's questions, in protocol order.
    pub answers: Vec<ManagerAnswer>,
}

/// One outcome area with its linked components and the senior managers' answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutcomeLinkage {
    /// The area's id in the outcome protocol, e.g. `qcpr-1`.
    pub area: String,
    /// Its number as printed.
    pub number: u8,
    /// Its name.
    pub name: String,
    /// The components annex III links to it, in instrument order.
    pub components: Vec<LinkedComponent>,
    /// The senior managers assigned to it or who answered for it, by person id.
    pub managers: Vec<ManagerAnswers>,
}

/// The text of an answer for reading beside the stages: lists one item per line, other
/// activities as `name (rating)`.
pub fn render(value: &AnswerValue) -> String {
    match value {
        AnswerValue::Stage(stage) => stage.get().to_string(),
        AnswerValue::Rating(rating) => rating.get().to_string(),
        AnswerValue::Text(text) => text.clone(),
        AnswerValue::TextList(lines) => lines.join("\n"),
        AnswerValue::Date(date) => date.as_str().to_owned(),
        AnswerValue::Evidence(items) => items
            .iter()
            .map(|i| i.text.as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        AnswerValue::OtherActivities(items) => items
            .iter()
            .map(|n| format!("{} ({})", n.name, n.rating.get()))
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

/// The wording of a questionnaire question id `<section>/<item>[/<field>]`.
fn wording(questionnaire: &Questionnaire, question: &str) -> Option<(String, Option<String>)> {
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
    let label = field.and_then(|field| {
        item.fields
            .iter()
            .find(|f| f.id == field)
            .map(|f| f.label.as_str().to_owned())
    });
    Some((item.text.as_str().to_owned(), label))
}

pub(super) fn link(
    instruments: &Instruments<'_>,
    components: &[ComponentProfile],
    data: &RoundData<'_>,
    organisation: &OrganisationId,
) -> Vec<OutcomeLinkage> {
    let Some(outcomes) = instruments.outcomes else {
        return Vec::new();
    };
    let Some(questionnaire) = outcomes.as_questionnaire() else {
        return Vec::new();
    };
    let reference = outcomes.reference();
    let responses: BTreeMap<&PersonId, &Response> = data
        .responses
        .iter()
        .filter(|r| {
            r.key.round == data.round.id
                && &r.key.organisation == organisation
                && r.key.instrument == reference
        })
        .filter_map(|r| match &r.key.respondent {
            Respondent::Person(person) => Some((person, r)),
            Respondent::Organisation => None,
        })
        .collect();
    let managers: Vec<(&PersonId, &[String])> = data
        .assignments
        .iter()
        .filter(|a| a.round == data.round.id && &a.organisation == organisation)
        .filter_map(|a| match &a.role {
            Role::SeniorManager { outcome_areas } => Some((&a.person, outcome_areas.as_slice())),
            _ => None,
        })
        .collect();

    questionnaire
        .outcome_areas
        .iter()
        .map(|area| {
            let linked = components
                .iter()
                .filter(|c| {
                    instruments
                        .outcome_map
                        .and_then(|map| map.component(&c.id))
                        .is_some_and(|m| m.outcome_areas.contains(&area.id))
                })
                .map(|c| LinkedComponent {
                    id: c.id.clone(),
                    name: c.name.clone(),
                    stage: c.stage,
                    validated: c.validated,
                })
                .collect();
            let sections: Vec<&str> = questionnaire
                .sections
                .iter()
                .filter(|s| s.outcome_area.as_deref() == Some(area.id.as_str()))
                .map(|s| s.id.as_str())
                .collect();
            let in_area = |question: &str| {
                question
                    .split_once('/')
                    .is_some_and(|(section, _)| sections.contains(&section))
            };
            let mut people: BTreeMap<&PersonId, ManagerAnswers> = BTreeMap::new();
            for (person, areas) in &managers {
                if areas.is_empty() || areas.contains(&area.id) {
                    people.insert(
                        person,
                        ManagerAnswers {
                            person: (*person).clone(),
                            assigned: true,
                            submitted: false,
                            answers: Vec::new(),
                        },
                    );
                }
            }
            for (person, response) in &responses {
                let answers: Vec<ManagerAnswer> = outcomes
                    .questions()
                    .iter()
                    .filter(|q| in_area(&q.id))
                    .filter_map(|q| {
                        let answer = response
                            .answers
                            .iter()
                            .find(|(id, _)| id.as_str() == q.id)?;
                        let (text, label) = wording(questionnaire, &q.id)?;
                        Some(ManagerAnswer {
                            question: q.id.clone(),
                            text,
                            label,
                            answer: render(&answer.1.value),
                        })
                    })
                    .collect();
                if answers.is_empty() && !people.contains_key(person) {
                    continue;
                }
                let entry = people.entry(person).or_insert_with(|| ManagerAnswers {
                    person: (*person).clone(),
                    assigned: false,
                    submitted: false,
                    answers: Vec::new(),
                });
                entry.submitted = response.meta.status == ResponseStatus::Submitted;
                entry.answers = answers;
            }
            OutcomeLinkage {
                area: area.id.clone(),
                number: area.number,
                name: area.name.as_str().to_owned(),
                components: linked,
                managers: people.into_values().collect(),
            }
        })
        .collect()
}
