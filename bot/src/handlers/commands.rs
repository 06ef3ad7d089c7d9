//! The commands: `/start [code]`, `/help`, `/continue`, `/progress`, `/component 2.3`,
//! `/review`, `/submit`, `/unlink`.

use std::sync::Arc;

use teloxide::macros::BotCommands;
use teloxide::types::Message;

use super::{Conversation, Ctx, HandlerResult};
use crate::api::{ApiError, Backend};
use crate::dialogue::{State, tag_of};
use crate::outbox::Messenger;
use crate::{keyboards, texts};

/// The commands the bot understands (their help is `texts::help`).
#[derive(BotCommands, Clone, Debug, PartialEq, Eq)]
#[command(rename_rule = "lowercase")]
pub enum Command {
    /// `/start [code]`.
    Start(String),
    /// `/help`.
    Help,
    /// `/continue`.
    Continue,
    /// `/progress`.
    Progress,
    /// `/component <id>`.
    Component(String),
    /// `/review`.
    Review,
    /// `/submit`.
    Submit,
    /// `/unlink`.
    Unlink,
}

/// Handles a command.
///
/// # Errors
/// Telegram failures.
pub async fn handle(
    backend: Arc<dyn Backend>,
    out: Arc<dyn Messenger>,
    dialogue: Conversation,
    message: Message,
    command: Command,
) -> HandlerResult {
    let ctx = Ctx {
        backend,
        out,
        chat: message.chat.id,
        dialogue,
    };
    match command {
        Command::Start(code) => start(&ctx, code.trim()).await,
        Command::Help => ctx.say(&texts::help()).await,
        Command::Continue => resume(&ctx).await,
        Command::Progress => progress(&ctx).await,
        Command::Component(id) => component(&ctx, id.trim()).await,
        Command::Review => review(&ctx).await,
        Command::Submit => submit(&ctx).await,
        Command::Unlink => unlink(&ctx).await,
    }
}

async fn start(ctx: &Ctx, code: &str) -> HandlerResult {
    if code.is_empty() {
        return match ctx.backend.me(ctx.chat.0).await {
            Ok(me) => {
                ctx.say(&texts::welcome_back(&me.name)).await?;
                resume(ctx).await
            }
            Err(ApiError::NotLinked) => ctx.say(&texts::start_without_code()).await,
            Err(error) => ctx.fail(&error).await,
        };
    }
    match ctx.backend.link(ctx.chat.0, code).await {
        Ok(name) => {
            ctx.set(State::Idle).await;
            ctx.say(&texts::linked(&name)).await?;
            resume(ctx).await
        }
        Err(ApiError::NotFound(_)) => ctx.say(&texts::bad_code()).await,
        Err(error) => ctx.fail(&error).await,
    }
}

/// Goes on where the server says the person left off.
async fn resume(ctx: &Ctx) -> HandlerResult {
    // `/continue` starts from the server's state, not from what was on screen.
    ctx.set(State::Idle).await;
    let target = match ctx.target().await {
        Ok(Some(target)) => target,
        Ok(None) => return ctx.say(&texts::nothing_assigned()).await,
        Err(error) => return ctx.fail(&error).await,
    };
    let outcome = ctx.continue_after(&target, None, None).await;
    ctx.settle(outcome).await
}

async fn progress(ctx: &Ctx) -> HandlerResult {
    match ctx.backend.me(ctx.chat.0).await {
        Ok(me) => ctx.say(&texts::progress(&me.name, &me.responses)).await,
        Err(error) => ctx.fail(&error).await,
    }
}

async fn component(ctx: &Ctx, id: &str) -> HandlerResult {
    if id.is_empty() {
        return ctx.say(&texts::component_usage()).await;
    }
    let target = match ctx.target().await {
        Ok(Some(target)) => target,
        Ok(None) => return ctx.say(&texts::nothing_assigned()).await,
        Err(error) => return ctx.fail(&error).await,
    };
    if !target.is_stage_questionnaire() {
        return ctx.say(&texts::no_components()).await;
    }
    let shaped = !id.contains('/') && id.len() <= 8;
    if !shaped {
        return ctx.say(&texts::no_such_component(id)).await;
    }
    match ctx.ask(&target, &format!("{id}/stage"), None, None).await {
        Err(super::AskError::Api(ApiError::NotFound(_))) => {
            ctx.say(&texts::no_such_component(id)).await
        }
        outcome => ctx.settle(outcome).await,
    }
}

async fn review(ctx: &Ctx) -> HandlerResult {
    let me = match ctx.backend.me(ctx.chat.0).await {
        Ok(me) => me,
        Err(error) => return ctx.fail(&error).await,
    };
    let target = match ctx.target().await {
        Ok(Some(target)) => target,
        Ok(None) => return ctx.say(&texts::nothing_assigned()).await,
        Err(error) => return ctx.fail(&error).await,
    };
    let title = me
        .responses
        .iter()
        .find(|r| r.target == target)
        .map_or_else(|| target.instrument.clone(), |r| r.instrument_title.clone());
    match ctx.backend.response(ctx.chat.0, &target, None).await {
        Ok(response) => {
            ctx.say(&texts::review(
                &title,
                &response.answers,
                response.missing_required.len(),
            ))
            .await
        }
        Err(error) => ctx.fail(&error).await,
    }
}

async fn submit(ctx: &Ctx) -> HandlerResult {
    let me = match ctx.backend.me(ctx.chat.0).await {
        Ok(me) => me,
        Err(error) => return ctx.fail(&error).await,
    };
    let target = match ctx.target().await {
        Ok(Some(target)) => target,
        Ok(None) => return ctx.say(&texts::nothing_assigned()).await,
        Err(error) => return ctx.fail(&error).await,
    };
    let response = match ctx.backend.response(ctx.chat.0, &target, None).await {
        Ok(response) => response,
        Err(error) => return ctx.fail(&error).await,
    };
    if response.submitted {
        return ctx.say(&texts::already_submitted()).await;
    }
    if !response.missing_required.is_empty() {
        return ctx
            .say(&texts::submit_missing(&response.missing_required))
            .await;
    }
    let title = me
        .responses
        .iter()
        .find(|r| r.target == target)
        .map_or_else(|| target.instrument.clone(), |r| r.instrument_title.clone());
    let tag = tag_of(response.last_seq);
    ctx.set(State::ConfirmSubmit {
        target: target.clone(),
        tag,
    })
    .await;
    ctx.out
        .send(
            ctx.chat,
            &texts::confirm_submit(&title),
            Some(keyboards::confirm_submit(tag)),
        )
        .await?;
    Ok(())
}

async fn unlink(ctx: &Ctx) -> HandlerResult {
    match ctx.backend.unlink(ctx.chat.0).await {
        Ok(()) => {
            ctx.set(State::Idle).await;
            ctx.say(&texts::unlinked()).await
        }
        Err(error) => ctx.fail(&error).await,
    }
}
