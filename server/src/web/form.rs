//! The form's content: what the templates show for one response (groups of questions
//! with their labels, help, current answers and progress), and the reading of a posted
//! form back into answers. No IO, no HTTP: `web` calls these with what it loaded.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Value, json};

use crate::catalogue::model::{Body, Component, StageQuestionnaire};
use crate::catalogue::text::Text;
use crate::catalogue::{AnswerType, Instrument, Question};
use crate::domain::learning::ADDED_QUESTIONS_HEADING;
use crate::domain::{
    AnswerValue, EvidenceKind, IdempotencyKey, QuestionId, Response, ResponseStatus,
};
use crate::service::answers::{Questions, RawAnswer, RawEvidence, RawValue};

/// The form field of a question's value; evidence has two (`…:documents`, `…:persons`).
pub fn field_name(question: &str) -> String {
    format!("q:{question}")
}

/// A posted form, field name to value (the last one wins).
pub type Posted = HashMap<String, String>;

/// What a question's current answer shows in its form fields, field name to text.
fn shown(question: &Question, value: &AnswerValue) -> Vec<(String, String)> {
    let name = field_name(&question.id);
    match value {
        AnswerValue::Stage(stage) => vec![(name, stage.get().to_string())],
        AnswerValue::Rating(rating) => vec![(name, rating.get().to_string())],
        AnswerValue::Text(text) => vec![(name, text.clone())],
        AnswerValue::Date(date) => vec![(name, date.as_str().to_owned())],
        AnswerValue::TextList(lines) => vec![(name, lines.join("\n"))],
        AnswerValue::Evidence(items) => {
            let lines = |kind: EvidenceKind| {
                items
                    .iter()
                    .filter(|item| item.kind == kind)
                    .map(|item| item.text.as_str())
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            vec![
                (format!("{name}:documents"), lines(EvidenceKind::Document)),
                (format!("{name}:persons"), lines(EvidenceKind::Person)),
            ]
        }
        AnswerValue::OtherActivities(rows) => vec![(
            name,
            rows.iter()
                .map(|row| format!("{} = {}", row.name, row.rating.get()))
                .collect::<Vec<_>>()
                .join("\n"),
        )],
    }
}

fn current<'a>(response: Option<&'a Response>, question: &Question) -> Option<&'a AnswerValue> {
    let id = QuestionId::parse(&question.id).ok()?;
    response?.answers.get(&id).map(|answer| &answer.value)
}

/// Why a posted form is refused before anything is saved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostRefusal {
    /// The body is not `application/x-www-form-urlencoded` text.
    Unreadable,
    /// The CSRF token is missing or not the session's.
    Csrf,
    /// Fields that cannot be read into answers, each with what to correct.
    Problems(Vec<String>),
}

/// What a readable post asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostPlan {
    /// The answers that changed (maybe none).
    pub changes: Vec<RawAnswer>,
    /// Whether the person pressed Submit.
    pub submit: bool,
    /// The idempotency key of the save.
    pub save_key: IdempotencyKey,
    /// The idempotency key of the submission.
    pub submit_key: IdempotencyKey,
}

/// Reads a posted body and checks its CSRF token against the session's (in constant
/// time). Nothing here touches the store.
///
/// # Errors
/// [`PostRefusal::Unreadable`] or [`PostRefusal::Csrf`].
pub fn read_post(body: &[u8], session_csrf: &str) -> Result<Posted, PostRefusal> {
    let pairs = serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .map_err(|_| PostRefusal::Unreadable)?;
    let posted: Posted = pairs.into_iter().collect();
    if posted
        .get("csrf")
        .is_some_and(|csrf| same_text(csrf, session_csrf))
    {
        Ok(posted)
    } else {
        Err(PostRefusal::Csrf)
    }
}

/// Constant-time comparison of two texts of the same length.
pub fn same_text(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Plans what a read post does to `response`: the changed answers, whether to submit,
/// and the idempotency keys (from the form's `request` id, so a resent form records
/// once).
///
/// # Errors
/// [`PostRefusal::Problems`] when a field cannot be read into an answer.
pub fn plan_post(
    questions: &Questions<'_>,
    response: Option<&Response>,
    posted: &Posted,
) -> Result<PostPlan, PostRefusal> {
    let changes = changes(questions, response, posted).map_err(PostRefusal::Problems)?;
    let request_id = posted
        .get("request")
        .filter(|id| id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric()))
        .map_or("", String::as_str);
    let key = |what: &str| {
        // `web-` and at most 64 alphanumerics and a suffix always make a valid key.
        IdempotencyKey::parse(&format!("web-{request_id}-{what}"))
            .or_else(|_| IdempotencyKey::parse(&format!("web-{what}")))
    };
    let (Ok(save_key), Ok(submit_key)) = (key("save"), key("submit")) else {
        return Err(PostRefusal::Problems(vec![
            "the form could not be read; open your link again".to_owned(),
        ]));
    };
    Ok(PostPlan {
        changes,
        submit: posted.get("action").map(String::as_str) == Some("submit"),
        save_key,
        submit_key,
    })
}

/// Lines of a text area, trimmed, blank ones dropped.
fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Reads the posted form into the answers that changed: a new or different value is
/// set, an emptied text field clears, an untouched or unchanged field is left out. A
/// choice (stage, rating) left unselected changes nothing: a radio group cannot be
/// unselected in a browser.
///
/// # Errors
/// The texts of lines that cannot be read (an activity without ` = rating`).
pub fn changes(
    questions: &Questions<'_>,
    response: Option<&Response>,
    posted: &Posted,
) -> Result<Vec<RawAnswer>, Vec<String>> {
    let mut answers = Vec::new();
    let mut problems = Vec::new();
    for question in questions.all() {
        let name = field_name(&question.id);
        let before: BTreeMap<String, String> = current(response, question)
            .map(|value| shown(question, value).into_iter().collect())
            .unwrap_or_default();
        let value = match question.answer {
            AnswerType::Evidence => {
                let documents = posted.get(&format!("{name}:documents"));
                let persons = posted.get(&format!("{name}:persons"));
                if documents.is_none() && persons.is_none() {
                    continue;
                }
                let mut items = Vec::new();
                for (text, person) in [(documents, false), (persons, true)] {
                    for line in lines(text.map_or("", String::as_str)) {
                        items.push(RawEvidence {
                            person,
                            text: line,
                            file: None,
                        });
                    }
                }
                let unchanged = [("documents", documents), ("persons", persons)].iter().all(
                    |(suffix, posted)| {
                        lines(posted.map_or("", String::as_str))
                            == lines(
                                before
                                    .get(&format!("{name}:{suffix}"))
                                    .map_or("", String::as_str),
                            )
                    },
                );
                if unchanged {
                    continue;
                }
                (!items.is_empty()).then_some(RawValue::Evidence(items))
            }
            _ => {
                let Some(text) = posted.get(&name) else {
                    continue;
                };
                let text = text.trim();
                let old = before.get(&name).map_or("", String::as_str);
                let is_list = matches!(
                    question.answer,
                    AnswerType::TextList | AnswerType::OtherActivities { .. }
                );
                if (is_list && lines(text) == lines(old)) || (!is_list && text == old.trim()) {
                    continue;
                }
                if text.is_empty() {
                    None
                } else {
                    match question.answer {
                        AnswerType::Stage | AnswerType::Rating { .. } => match text.parse() {
                            Ok(number) => Some(RawValue::Number(number)),
                            Err(_) => {
                                problems
                                    .push(format!("{}: choose one of the options", question.id));
                                continue;
                            }
                        },
                        AnswerType::TextList => Some(RawValue::Lines(lines(text))),
                        AnswerType::OtherActivities { .. } => {
                            let mut rows = Vec::new();
                            for line in lines(text) {
                                match line.rsplit_once('=').map(|(name, rating)| {
                                    (name.trim().to_owned(), rating.trim().parse::<i64>())
                                }) {
                                    Some((name, Ok(rating))) if !name.is_empty() => {
                                        rows.push((name, rating));
                                    }
                                    _ => problems.push(format!(
                                        "{}: write each activity as `name = rating` (\"{line}\")",
                                        question.id
                                    )),
                                }
                            }
                            Some(RawValue::Named(rows))
                        }
                        _ => Some(RawValue::Text(text.to_owned())),
                    }
                }
            }
        };
        if value.is_none() && before.is_empty() {
            continue;
        }
        answers.push(RawAnswer {
            question: question.id.clone(),
            value,
        });
    }
    if problems.is_empty() {
        Ok(answers)
    } else {
        Err(problems)
    }
}

fn text(text: &Text) -> &str {
    text.as_str()
}

/// One question as the template shows it.
fn question_view(
    question: &Question,
    label: String,
    number: Option<&str>,
    choices: Vec<(u8, String)>,
    help: Option<String>,
    response: Option<&Response>,
    posted: Option<&Posted>,
) -> Value {
    let name = field_name(&question.id);
    let mut values: BTreeMap<String, String> = current(response, question)
        .map(|value| shown(question, value).into_iter().collect())
        .unwrap_or_default();
    if let Some(posted) = posted {
        for key in [
            name.clone(),
            format!("{name}:documents"),
            format!("{name}:persons"),
        ] {
            if let Some(value) = posted.get(&key) {
                values.insert(key, value.clone());
            }
        }
    }
    let value = values.get(&name).cloned().unwrap_or_default();
    let answer = current(response, question);
    let channel = response
        .and_then(|r| r.answers.get(&QuestionId::parse(&question.id).ok()?))
        .map(|answer| answer.channel.as_str());
    let dom_id = format!(
        "f-{}",
        question
            .id
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect::<String>()
    );
    let options: Vec<Value> = choices
        .into_iter()
        .map(|(choice, label)| {
            json!({
                "value": choice,
                "label": label,
                "id": format!("{dom_id}-{choice}"),
                "checked": value == choice.to_string(),
            })
        })
        .collect();
    let kind = match question.answer {
        AnswerType::Stage | AnswerType::Rating { .. } => "choice",
        AnswerType::ShortText => "short",
        AnswerType::Date => "date",
        AnswerType::Evidence => "evidence",
        AnswerType::LongText | AnswerType::TextList | AnswerType::OtherActivities { .. } => "long",
    };
    let hint = match question.answer {
        AnswerType::TextList => Some("One per line."),
        AnswerType::OtherActivities { .. } => {
            Some("One activity per line, as `name = rating`, e.g. `Annual review = 2`.")
        }
        AnswerType::Date => Some("A date, YYYY-MM-DD."),
        _ => None,
    };
    json!({
        "id": question.id,
        "dom_id": dom_id,
        "name": name,
        "label": label,
        "number": number,
        "required": question.required,
        "answered": answer.is_some(),
        "channel": channel,
        "is_choice": kind == "choice",
        "is_short": kind == "short",
        "is_date": kind == "date",
        "is_long": kind == "long",
        "is_evidence": kind == "evidence",
        "options": options,
        "value": value,
        "documents": values.get(&format!("{name}:documents")).cloned().unwrap_or_default(),
        "persons": values.get(&format!("{name}:persons")).cloned().unwrap_or_default(),
        "hint": hint,
        "help": help,
    })
}

fn component_help(component: &Component) -> Value {
    json!({
        "description": text(&component.description),
        "indicators_intro": component.indicators_intro.as_ref().map(text),
        "indicators": component.indicators.iter().map(|i| text(&i.text)).collect::<Vec<_>>(),
        "stages": component.stages.iter().map(|s| json!({
            "stage": s.stage, "title": text(&s.title), "text": text(&s.text),
        })).collect::<Vec<_>>(),
    })
}

fn stage_groups(
    body: &StageQuestionnaire,
    questions: &[Question],
    response: Option<&Response>,
    posted: Option<&Posted>,
) -> Vec<Value> {
    let scale: Vec<(u8, String)> = body
        .activity_question
        .scale
        .iter()
        .map(|point| {
            (
                point.value,
                format!("{} – {}", point.value, text(&point.label)),
            )
        })
        .collect();
    body.components()
        .map(|component| {
            let prefix = format!("{}/", component.id);
            let stages: Vec<(u8, String)> = component
                .stages
                .iter()
                .map(|s| (s.stage, format!("{} – {}", s.stage, text(&s.title))))
                .collect();
            let items: Vec<Value> = questions
                .iter()
                .filter_map(|question| {
                    let rest = question.id.strip_prefix(&prefix)?;
                    let (label, number, choices) = if rest == "other" {
                        (
                            text(&body.activity_question.other_heading).to_owned(),
                            None,
                            Vec::new(),
                        )
                    } else if let Some(n) = rest.strip_prefix("activity/") {
                        let index = n.parse::<usize>().ok()?.checked_sub(1)?;
                        let activity = component.activities.get(index)?;
                        (
                            text(&activity.text).to_owned(),
                            Some(n.to_owned()),
                            scale.clone(),
                        )
                    } else {
                        let item = body
                            .stage_question
                            .items
                            .iter()
                            .find(|item| item.id.as_str() == rest)?;
                        let choices = if matches!(question.answer, AnswerType::Stage) {
                            stages.clone()
                        } else {
                            Vec::new()
                        };
                        (
                            text(&item.text).to_owned(),
                            Some(item.number.clone()),
                            choices,
                        )
                    };
                    Some(question_view(
                        question,
                        label,
                        number.as_deref(),
                        choices,
                        None,
                        response,
                        posted,
                    ))
                })
                .collect();
            json!({
                "heading": format!("{} {}", component.id, text(&component.name)),
                "component_help": component_help(component),
                "questions": items,
            })
        })
        .collect()
}

fn questionnaire_groups(
    instrument: &Instrument,
    response: Option<&Response>,
    posted: Option<&Posted>,
    round_values: &BTreeMap<String, String>,
) -> Vec<Value> {
    let Some(body) = instrument.as_questionnaire() else {
        return Vec::new();
    };
    let values: BTreeMap<String, String> = body
        .parameters
        .iter()
        .map(|p| {
            let value = round_values
                .get(&p.id)
                .map_or_else(|| text(&p.default).to_owned(), Clone::clone);
            (p.id.clone(), value)
        })
        .collect();
    let render = |t: &Text| Text::new(text(t)).render(&values);
    body.sections
        .iter()
        .map(|section| {
            let prefix = format!("{}/", section.id);
            let items: Vec<Value> = instrument
                .questions()
                .iter()
                .filter_map(|question| {
                    let rest = question.id.strip_prefix(&prefix)?;
                    let mut parts = rest.split('/');
                    let item_id = parts.next()?;
                    let field_id = parts.next();
                    let item = section.items.iter().find(|item| item.id == item_id)?;
                    let mut label = render(&item.text);
                    if let Some(field_id) = field_id {
                        let field = item.fields.iter().find(|f| f.id == field_id)?;
                        label = format!("{label} — {}", text(&field.label));
                    }
                    Some(question_view(
                        question,
                        label,
                        item.number.as_deref(),
                        Vec::new(),
                        item.help.as_ref().map(render),
                        response,
                        posted,
                    ))
                })
                .collect();
            json!({
                "heading": text(&section.title),
                "intro": section.text.as_ref().map(text),
                "questions": items,
            })
        })
        .filter(|group| group["questions"].as_array().is_some_and(|q| !q.is_empty()))
        .collect()
}

/// The groups of questions (components or sections) with labels, help and values: the
/// response's stored answers, overlaid by `posted` when a form is shown again after a
/// refusal. Placeholders in questionnaire texts take `round_values` (the round's
/// parameter values, e.g. a learning activity's period) over the defaults. A learning
/// activity's added questions come last, in a group of their own, as text areas.
pub fn groups(
    questions: &Questions<'_>,
    response: Option<&Response>,
    posted: Option<&Posted>,
    round_values: &BTreeMap<String, String>,
) -> Vec<Value> {
    let instrument = questions.instrument();
    let mut groups = match instrument.body() {
        Body::StageQuestionnaire(body) => {
            stage_groups(body, instrument.questions(), response, posted)
        }
        _ => questionnaire_groups(instrument, response, posted, round_values),
    };
    let added: Vec<Value> = questions
        .added()
        .iter()
        .filter_map(|added| {
            let question = questions.get(added.id.as_str())?;
            Some(question_view(
                question,
                added.text.clone(),
                None,
                Vec::new(),
                None,
                response,
                posted,
            ))
        })
        .collect();
    if !added.is_empty() {
        groups.push(json!({
            "heading": ADDED_QUESTIONS_HEADING,
            "intro": "The facilitator of this activity added these questions; answering them is optional.",
            "questions": added,
        }));
    }
    groups
}

/// Progress: questions answered of all, and required ones answered of all required.
pub fn progress(questions: &Questions<'_>, response: Option<&Response>) -> Value {
    let questions = questions.all();
    let answered = |q: &&Question| current(response, q).is_some();
    let required: Vec<&Question> = questions.iter().filter(|q| q.required).collect();
    json!({
        "answered": questions.iter().filter(answered).count(),
        "total": questions.len(),
        "required_answered": required.iter().filter(|q| current(response, q).is_some()).count(),
        "required_total": required.len(),
        "submitted": response.is_some_and(|r| r.meta.status == ResponseStatus::Submitted),
    })
}

/// The answers given, as the form shows them: each answered question's label and its
/// value as text (evidence: documents, then people), in form order, placeholders
/// rendered with `round_values` as in [`groups`]. For the receipt.
pub fn answered(
    questions: &Questions<'_>,
    response: Option<&Response>,
    round_values: &BTreeMap<String, String>,
) -> Vec<(String, String)> {
    let mut lines = Vec::new();
    for group in groups(questions, response, None, round_values) {
        let heading = group["heading"].as_str().unwrap_or_default().to_owned();
        for question in group["questions"].as_array().into_iter().flatten() {
            if question["answered"] != true {
                continue;
            }
            let label = question["label"].as_str().unwrap_or_default();
            let value = if question["is_evidence"] == true {
                [&question["documents"], &question["persons"]]
                    .iter()
                    .filter_map(|v| v.as_str())
                    .filter(|v| !v.is_empty())
                    .collect::<Vec<_>>()
                    .join("\n")
            } else if question["is_choice"] == true {
                question["options"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|option| option["checked"] == true)
                    .and_then(|option| option["label"].as_str())
                    .unwrap_or_default()
                    .to_owned()
            } else {
                question["value"].as_str().unwrap_or_default().to_owned()
            };
            lines.push((format!("{heading} · {label}"), value));
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::catalogue::Catalogue;
    use crate::domain::{Activity, ActivityKind, Timestamp};

    /// The added question is the last group, a text area under the facilitator's
    /// heading; a posted answer to it is read like any other, and progress counts it.
    #[test]
    fn added_questions_are_a_group_of_text_areas_read_back_from_a_post() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../questionnaires");
        let catalogue = Catalogue::load(&dir).unwrap_or_else(|e| panic!("catalogue: {e}"));
        let instrument = catalogue
            .latest("iom-rtl-after-action-review")
            .expect("instrument");
        let mut activity = Activity::for_tests(ActivityKind::AfterActionReview);
        activity
            .add_question("Did the <hotline> work?", Timestamp::from_millis(1))
            .expect("added");
        let questions = Questions::of(instrument, Some(&activity));
        let groups = groups(&questions, None, None, &BTreeMap::new());
        let last = groups.last().expect("groups");
        assert_eq!(last["heading"], ADDED_QUESTIONS_HEADING);
        let shown = &last["questions"][0];
        assert_eq!(shown["id"], "added/1");
        assert_eq!(shown["name"], "q:added/1");
        assert_eq!(shown["label"], "Did the <hotline> work?");
        assert_eq!(shown["is_long"], true);
        assert_eq!(shown["required"], false);
        let before = progress(&questions, None);
        assert_eq!(before["total"], instrument.questions().len() + 1);

        let posted: Posted = [("q:added/1".to_owned(), "  It did.  ".to_owned())].into();
        let changes = changes(&questions, None, &posted).expect("read");
        assert_eq!(
            changes,
            vec![RawAnswer {
                question: "added/1".to_owned(),
                value: Some(RawValue::Text("It did.".to_owned())),
            }]
        );
        // Without the activity, the field is not a question of the form.
        let plain = Questions::of(instrument, None);
        assert_eq!(super::changes(&plain, None, &posted), Ok(Vec::new()));
        assert_ne!(
            super::groups(&plain, None, None, &BTreeMap::new())
                .last()
                .map(|g| g["heading"].clone()),
            Some(Value::from(ADDED_QUESTIONS_HEADING))
        );
    }
}
