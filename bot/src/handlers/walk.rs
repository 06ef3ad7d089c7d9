//! The walk-through: button presses, text answers and uploaded documents for the question
//! on screen. A press is checked twice before anything is saved: against the question
//! the conversation shows (its tag), and against the server (the response is still a
//! draft, and the question's answer has not changed since the prompt was shown). When the
//! conversation was forgotten (a restart), the server's check alone decides. A stale
//! press gets a notice and changes nothing.

use std::sync::Arc;

use teloxide::types::{CallbackQuery, Message, Update};

use super::{Conversation, Ctx, HandlerResult};
use crate::api::{
    AnswerInput, ApiError, Backend, Evidence, EvidenceKind, FileRef, NamedActivity, QuestionKind,
    Target, Value,
};
use crate::dialogue::{Prompt, State, changed_since, tag_of};
use crate::keyboards::{self, Action, Callback};
use crate::outbox::Messenger;
use crate::texts;

/// The idempotency key of what an update changes: a retry of the same update is
/// recorded once.
fn key_of(update: &Update) -> String {
    format!("tg-{}", update.id.0)
}

/// Why a press or a message for the prompt cannot be taken.
enum Refusal {
    Stale,
    Submitted,
}

/// Checks a prompt against the server: still a draft, and the question's answer not
/// changed since the prompt was shown. Returns the response's last seq and the current
/// value.
async fn check_fresh(
    ctx: &Ctx,
    target: &Target,
    question_id: &str,
    tag: u16,
) -> Result<Result<(u64, Option<Value>), Refusal>, ApiError> {
    let response = ctx
        .backend
        .response(ctx.chat.0, target, Some(question_id))
        .await?;
    if response.submitted {
        return Ok(Err(Refusal::Submitted));
    }
    let current = response.answers.into_iter().next();
    if current
        .as_ref()
        .is_some_and(|answer| changed_since(answer.seq, tag))
    {
        return Ok(Err(Refusal::Stale));
    }
    Ok(Ok((response.last_seq, current.map(|a| a.value))))
}

fn refusal_text(refusal: &Refusal) -> String {
    match refusal {
        Refusal::Stale => texts::stale_button(),
        Refusal::Submitted => texts::already_submitted(),
    }
}

/// A button press.
///
/// # Errors
/// Telegram failures.
pub async fn on_callback(
    backend: Arc<dyn Backend>,
    out: Arc<dyn Messenger>,
    dialogue: Conversation,
    update: Update,
    query: CallbackQuery,
) -> HandlerResult {
    let Some(chat) = query.message.as_ref().map(|m| m.chat().id) else {
        out.answer_callback(query.id, Some(&texts::stale_button()))
            .await?;
        return Ok(());
    };
    let ctx = Ctx {
        backend,
        out,
        chat,
        dialogue,
    };
    let Some(callback) = query
        .data
        .as_deref()
        .and_then(|data| Callback::decode(data).ok())
    else {
        ctx.out
            .answer_callback(query.id, Some(&texts::stale_button()))
            .await?;
        return Ok(());
    };
    let state = ctx.state().await;
    match callback.action {
        Action::Help | Action::Info => {
            ctx.out.answer_callback(query.id, None).await?;
            show_help(&ctx, &state, &callback).await
        }
        Action::Confirm | Action::Cancel => {
            let State::ConfirmSubmit { target, tag } = state else {
                ctx.out
                    .answer_callback(query.id, Some(&texts::stale_button()))
                    .await?;
                return Ok(());
            };
            if tag != callback.prompt_tag || callback.question != keyboards::SUBMIT {
                ctx.out
                    .answer_callback(query.id, Some(&texts::stale_button()))
                    .await?;
                return Ok(());
            }
            ctx.out.answer_callback(query.id, None).await?;
            confirm(&ctx, &target, callback.action == Action::Confirm, &update).await
        }
        Action::Answer(_) | Action::Skip => {
            let prompt = match state {
                State::Asking(prompt)
                    if prompt.question_id == callback.question
                        && prompt.tag == callback.prompt_tag =>
                {
                    Some(prompt)
                }
                // The conversation was forgotten (a restart): the press is judged by the
                // server alone, below.
                State::Idle => prompt_from_press(&ctx, &callback).await,
                _ => None,
            };
            let prompt = match prompt {
                Some(prompt) => prompt,
                None => {
                    ctx.out
                        .answer_callback(query.id, Some(&texts::stale_button()))
                        .await?;
                    return Ok(());
                }
            };
            let fresh =
                match check_fresh(&ctx, &prompt.target, &prompt.question_id, prompt.tag).await {
                    Ok(fresh) => fresh,
                    Err(error) => {
                        ctx.out
                            .answer_callback(query.id, Some(&Ctx::explain(&error)))
                            .await?;
                        return Ok(());
                    }
                };
            let (seq, current) = match fresh {
                Ok(fresh) => fresh,
                Err(refusal) => {
                    ctx.out
                        .answer_callback(query.id, Some(&refusal_text(&refusal)))
                        .await?;
                    return Ok(());
                }
            };
            ctx.out.answer_callback(query.id, None).await?;
            match callback.action {
                Action::Answer(value) => {
                    answer_button(&ctx, &update, prompt, value, seq, current).await
                }
                _ => {
                    let outcome = ctx
                        .continue_after(&prompt.target, Some(&prompt.question_id), Some(seq))
                        .await;
                    ctx.settle(outcome).await
                }
            }
        }
    }
}

/// The prompt a press belongs to, rebuilt from the press and the server when the
/// conversation has no state; `None` when the question is not one of the person's.
async fn prompt_from_press(ctx: &Ctx, callback: &Callback) -> Option<Prompt> {
    let target = ctx.target().await.ok()??;
    let view = ctx
        .backend
        .question(ctx.chat.0, &target, &callback.question)
        .await
        .ok()?;
    Some(Prompt {
        target,
        question_id: view.id.clone(),
        kind: view.kind,
        tag: callback.prompt_tag,
        pending_activity: None,
    })
}

async fn show_help(ctx: &Ctx, state: &State, callback: &Callback) -> HandlerResult {
    let target = match state.target() {
        Some(target) => target.clone(),
        None => match ctx.target().await {
            Ok(Some(target)) => target,
            Ok(None) => return ctx.say(&texts::nothing_assigned()).await,
            Err(error) => return ctx.fail(&error).await,
        },
    };
    match ctx
        .backend
        .question(ctx.chat.0, &target, &callback.question)
        .await
    {
        Ok(view) => match &view.component {
            Some(component) if callback.action == Action::Help => {
                ctx.say(&texts::stage_descriptors(component)).await
            }
            Some(component) => ctx.say(&texts::about_component(component)).await,
            None => ctx.say(&texts::stale_button()).await,
        },
        Err(error) => ctx.fail(&error).await,
    }
}

async fn confirm(ctx: &Ctx, target: &Target, confirmed: bool, update: &Update) -> HandlerResult {
    ctx.set(State::Idle).await;
    if !confirmed {
        return ctx.say(&texts::submit_cancelled()).await;
    }
    match ctx
        .backend
        .submit(ctx.chat.0, target, &key_of(update))
        .await
    {
        Ok(()) => ctx.say(&texts::submitted()).await,
        Err(ApiError::Conflict { details, .. }) if !details.is_empty() => {
            ctx.say(&texts::submit_missing(&details)).await
        }
        Err(ApiError::Conflict { .. }) => ctx.say(&texts::already_submitted()).await,
        Err(error) => ctx.fail(&error).await,
    }
}

/// A value button: a stage, an activity's rating, or the rating of an activity the
/// organisation just named.
async fn answer_button(
    ctx: &Ctx,
    update: &Update,
    prompt: Prompt,
    value: u8,
    seq: u64,
    current: Option<Value>,
) -> HandlerResult {
    let key = key_of(update);
    let (value, expected) = match prompt.kind {
        QuestionKind::Stage => (Value::Stage(value), None),
        QuestionKind::Rating => (Value::Rating(value), None),
        QuestionKind::OtherActivities => {
            let Some(name) = prompt.pending_activity.clone() else {
                return ctx.say(&texts::name_activity_first()).await;
            };
            let mut activities = match current {
                Some(Value::Activities(activities)) => activities,
                _ => Vec::new(),
            };
            activities.push(NamedActivity {
                name: name.clone(),
                rating: value,
            });
            // Appending: only onto the list as read.
            (Value::Activities(activities), Some(seq))
        }
        _ => return ctx.say(&texts::stale_button()).await,
    };
    let saved = ctx
        .backend
        .save(
            ctx.chat.0,
            &prompt.target,
            &key,
            vec![AnswerInput {
                question_id: prompt.question_id.clone(),
                value,
            }],
            expected,
        )
        .await;
    let saved = match saved {
        Ok(saved) => saved,
        Err(error) => return ctx.fail(&error).await,
    };
    let new_seq = saved.seq;
    if prompt.kind == QuestionKind::OtherActivities {
        let name = prompt.pending_activity.clone().unwrap_or_default();
        let tag = tag_of(new_seq);
        let question_id = prompt.question_id.clone();
        ctx.set(State::Asking(Prompt {
            tag,
            pending_activity: None,
            ..prompt
        }))
        .await;
        ctx.out
            .send(
                ctx.chat,
                &texts::activity_recorded(&name),
                Some(keyboards::done(&question_id, tag)),
            )
            .await?;
        return Ok(());
    }
    let outcome = ctx
        .show_next(&prompt.target, saved.next, Some(new_seq))
        .await;
    ctx.settle(outcome).await
}

/// Evidence lines from a message: one per line; `person:` marks a person's name.
fn evidence_lines(text: &str) -> Vec<Evidence> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(|line| {
            let lower = line.to_lowercase();
            match lower.strip_prefix("person:") {
                Some(_) => Evidence {
                    kind: EvidenceKind::Person,
                    text: line
                        .get("person:".len()..)
                        .unwrap_or_default()
                        .trim()
                        .to_owned(),
                    file: None,
                },
                None => Evidence {
                    kind: EvidenceKind::Document,
                    text: line.to_owned(),
                    file: None,
                },
            }
        })
        .filter(|item| !item.text.is_empty())
        .collect()
}

/// A text message: the answer to the question on screen.
///
/// # Errors
/// Telegram failures.
pub async fn on_text(
    backend: Arc<dyn Backend>,
    out: Arc<dyn Messenger>,
    dialogue: Conversation,
    update: Update,
    message: Message,
) -> HandlerResult {
    let ctx = Ctx {
        backend,
        out,
        chat: message.chat.id,
        dialogue,
    };
    let text = message.text().unwrap_or_default().trim().to_owned();
    if text.starts_with('/') {
        return ctx.say(&texts::unknown_command()).await;
    }
    let prompt = match ctx.state().await {
        State::Asking(prompt) => prompt,
        State::ConfirmSubmit { .. } => return ctx.say(&texts::use_buttons()).await,
        State::Idle => return ctx.say(&texts::nothing_asked()).await,
    };
    match prompt.kind {
        QuestionKind::Stage | QuestionKind::Rating => {
            // Nothing is saved; the question is shown again with its buttons.
            ctx.say(&texts::use_buttons()).await?;
            let outcome = ctx
                .ask(&prompt.target, &prompt.question_id, None, None)
                .await;
            return ctx.settle(outcome).await;
        }
        QuestionKind::OtherActivities => {
            let name: String = text.lines().next().unwrap_or_default().trim().to_owned();
            let view = match ctx
                .backend
                .question(ctx.chat.0, &prompt.target, &prompt.question_id)
                .await
            {
                Ok(view) => view,
                Err(error) => return ctx.fail(&error).await,
            };
            let tag = prompt.tag;
            ctx.set(State::Asking(Prompt {
                pending_activity: Some(name.clone()),
                ..prompt
            }))
            .await;
            ctx.out
                .send(
                    ctx.chat,
                    &texts::rate_activity(&name, &view.scale),
                    Some(keyboards::for_named_activity(&view, tag)),
                )
                .await?;
            return Ok(());
        }
        _ => {}
    }
    let fresh = match check_fresh(&ctx, &prompt.target, &prompt.question_id, prompt.tag).await {
        Ok(fresh) => fresh,
        Err(error) => return ctx.fail(&error).await,
    };
    let (seq, current) = match fresh {
        Ok(fresh) => fresh,
        Err(Refusal::Submitted) => return ctx.say(&texts::already_submitted()).await,
        Err(Refusal::Stale) => {
            ctx.say(&texts::stale_button()).await?;
            let outcome = ctx
                .ask(&prompt.target, &prompt.question_id, None, None)
                .await;
            return ctx.settle(outcome).await;
        }
    };
    let (value, expected) = match prompt.kind {
        QuestionKind::Evidence => {
            let mut items = match current {
                Some(Value::Evidence(items)) => items,
                _ => Vec::new(),
            };
            items.extend(evidence_lines(&text));
            (Value::Evidence(items), Some(seq))
        }
        QuestionKind::TextList => (
            Value::Lines(
                text.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(str::to_owned)
                    .collect(),
            ),
            None,
        ),
        QuestionKind::Date => (Value::Date(text.clone()), None),
        _ => (Value::Text(text.clone()), None),
    };
    save_and_go_on(&ctx, &update, prompt, value, expected).await
}

/// Saves the answer to the prompt; lists stay on their question, others go on.
async fn save_and_go_on(
    ctx: &Ctx,
    update: &Update,
    prompt: Prompt,
    value: Value,
    expected: Option<u64>,
) -> HandlerResult {
    let count = match &value {
        Value::Evidence(items) => items.len(),
        _ => 0,
    };
    let saved = ctx
        .backend
        .save(
            ctx.chat.0,
            &prompt.target,
            &key_of(update),
            vec![AnswerInput {
                question_id: prompt.question_id.clone(),
                value,
            }],
            expected,
        )
        .await;
    let saved = match saved {
        Ok(saved) => saved,
        Err(error) => return ctx.fail(&error).await,
    };
    let seq = saved.seq;
    if prompt.kind == QuestionKind::Evidence {
        let tag = tag_of(seq);
        let question_id = prompt.question_id.clone();
        ctx.set(State::Asking(Prompt { tag, ..prompt })).await;
        ctx.out
            .send(
                ctx.chat,
                &texts::evidence_recorded(count),
                Some(keyboards::done(&question_id, tag)),
            )
            .await?;
        return Ok(());
    }
    let outcome = ctx.show_next(&prompt.target, saved.next, Some(seq)).await;
    ctx.settle(outcome).await
}

/// An uploaded document: an evidence reference (file name, size, Telegram file id).
///
/// # Errors
/// Telegram failures.
pub async fn on_document(
    backend: Arc<dyn Backend>,
    out: Arc<dyn Messenger>,
    dialogue: Conversation,
    update: Update,
    message: Message,
) -> HandlerResult {
    let ctx = Ctx {
        backend,
        out,
        chat: message.chat.id,
        dialogue,
    };
    let Some(document) = message.document() else {
        return ctx.say(&texts::unsupported_message()).await;
    };
    let prompt = match ctx.state().await {
        State::Asking(prompt) if prompt.kind == QuestionKind::Evidence => prompt,
        _ => return ctx.say(&texts::documents_only_as_evidence()).await,
    };
    let fresh = match check_fresh(&ctx, &prompt.target, &prompt.question_id, prompt.tag).await {
        Ok(fresh) => fresh,
        Err(error) => return ctx.fail(&error).await,
    };
    let (seq, current) = match fresh {
        Ok(fresh) => fresh,
        Err(refusal) => return ctx.say(&refusal_text(&refusal)).await,
    };
    let name = document
        .file_name
        .clone()
        .unwrap_or_else(|| "document".to_owned());
    let mut items = match current {
        Some(Value::Evidence(items)) => items,
        _ => Vec::new(),
    };
    items.push(Evidence {
        kind: EvidenceKind::Document,
        text: message
            .caption()
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .unwrap_or(&name)
            .to_owned(),
        file: Some(FileRef {
            name,
            size: u64::from(document.file.size),
            telegram_file_id: document.file.id.to_string(),
        }),
    });
    save_and_go_on(&ctx, &update, prompt, Value::Evidence(items), Some(seq)).await
}

/// Anything else (stickers, photos, …).
///
/// # Errors
/// Telegram failures.
pub async fn on_other(out: Arc<dyn Messenger>, message: Message) -> HandlerResult {
    out.send(message.chat.id, &texts::unsupported_message(), None)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidence_lines_are_documents_unless_marked_as_people() {
        assert_eq!(
            evidence_lines("RBM policy 2024\n\n person: Ana Ruiz \nPERSON:  "),
            vec![
                Evidence {
                    kind: EvidenceKind::Document,
                    text: "RBM policy 2024".to_owned(),
                    file: None
                },
                Evidence {
                    kind: EvidenceKind::Person,
                    text: "Ana Ruiz".to_owned(),
                    file: None
                },
            ]
        );
    }
}
