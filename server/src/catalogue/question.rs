//! The flat list of answerable questions derived from an instrument's structure.
//!
//! Channels (the bot, the web form) and the answering service iterate over this list;
//! its ids are the keys answers are stored under, so the derivation must stay stable for
//! a published version. See "Question ids" in `questionnaires/README.md`.

use serde::Serialize;

use super::model::{Body, FieldType, Questionnaire, StageItemId, StageQuestionnaire};

/// How many organisation-named activities a component accepts in Q.2. The printed form
/// offers three to eight blank rows; ten leaves room without inviting lists.
pub const MAX_OTHER_ACTIVITIES: u8 = 10;

/// What kind of answer a question takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum AnswerType {
    /// A stage of development, 1 to 5.
    Stage,
    /// A rating on the Q.2 scale.
    Rating {
        /// Lowest value.
        min: u8,
        /// Highest value.
        max: u8,
    },
    /// One line of text.
    ShortText,
    /// Paragraphs of text.
    LongText,
    /// A calendar date.
    Date,
    /// A list of lines.
    TextList,
    /// Evidence: documents, or names of people when nothing is documented.
    Evidence,
    /// Activities the organisation names and rates.
    OtherActivities {
        /// Most rows accepted.
        max_rows: u8,
        /// Lowest rating.
        min: u8,
        /// Highest rating.
        max: u8,
    },
}

/// An answerable question.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Question {
    /// Key the answer is stored under, e.g. `1.1/stage` or `part-1/q3`.
    pub id: String,
    /// What kind of answer it takes.
    #[serde(flatten)]
    pub answer: AnswerType,
    /// Whether an answer is needed to submit.
    pub required: bool,
}

pub(super) fn derive(body: &Body) -> Vec<Question> {
    match body {
        Body::StageQuestionnaire(stages) => stage_questions(stages),
        Body::Questionnaire(questionnaire) => questionnaire_questions(questionnaire),
        Body::Drivers(_) | Body::ValidationGuide(_) | Body::OutcomeMap(_) => Vec::new(),
    }
}

fn stage_questions(stages: &StageQuestionnaire) -> Vec<Question> {
    let scale = &stages.activity_question.scale;
    let min = scale.iter().map(|p| p.value).min().unwrap_or(1);
    let max = scale.iter().map(|p| p.value).max().unwrap_or(3);
    let mut questions = Vec::new();
    for component in stages.components() {
        for item in &stages.stage_question.items {
            let answer = match item.id {
                StageItemId::Stage => AnswerType::Stage,
                StageItemId::Evidence => AnswerType::Evidence,
                StageItemId::Rationale | StageItemId::Comments | StageItemId::Plans => {
                    AnswerType::LongText
                }
            };
            questions.push(Question {
                id: format!("{}/{}", component.id, item.id.as_str()),
                answer,
                required: item.required,
            });
        }
        for number in 1..=component.activities.len() {
            questions.push(Question {
                id: format!("{}/activity/{number}", component.id),
                answer: AnswerType::Rating { min, max },
                required: false,
            });
        }
        questions.push(Question {
            id: format!("{}/other", component.id),
            answer: AnswerType::OtherActivities {
                max_rows: MAX_OTHER_ACTIVITIES,
                min,
                max,
            },
            required: false,
        });
    }
    questions
}

fn questionnaire_questions(questionnaire: &Questionnaire) -> Vec<Question> {
    let mut questions = Vec::new();
    for section in &questionnaire.sections {
        for item in &section.items {
            if item.fields.is_empty() {
                questions.push(Question {
                    id: format!("{}/{}", section.id, item.id),
                    answer: AnswerType::LongText,
                    required: true,
                });
            }
            for field in &item.fields {
                let answer = match field.field_type {
                    FieldType::ShortText => AnswerType::ShortText,
                    FieldType::LongText => AnswerType::LongText,
                    FieldType::Date => AnswerType::Date,
                    FieldType::TextList => AnswerType::TextList,
                };
                questions.push(Question {
                    id: format!("{}/{}/{}", section.id, item.id, field.id),
                    answer,
                    required: field.required,
                });
            }
        }
    }
    questions
}
