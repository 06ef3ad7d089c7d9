//! Sending to Telegram: the few calls handlers make, behind [`Messenger`], so that the
//! same handlers run on teloxide's throttled bot in production (Telegram's rate limits:
//! `Throttle`) and on the plain bot that tests point at a fake Bot API. Texts over 4096
//! characters are split here at paragraph boundaries, with the keyboard on the last part.

use std::sync::Arc;

use async_trait::async_trait;
use teloxide::adaptors::Throttle;
use teloxide::adaptors::throttle::Limits;
use teloxide::payloads::{AnswerCallbackQuerySetters, SendMessageSetters};
use teloxide::prelude::*;
use teloxide::types::{CallbackQueryId, InlineKeyboardMarkup};
use teloxide::{Bot, RequestError};

use crate::texts::{MAX_MESSAGE_CHARS, split_message};

/// What handlers send.
#[async_trait]
pub trait Messenger: Send + Sync {
    /// Sends `text` to `chat` (in several messages when it is too long), with `keyboard`
    /// under the last one.
    async fn send(
        &self,
        chat: ChatId,
        text: &str,
        keyboard: Option<InlineKeyboardMarkup>,
    ) -> Result<(), RequestError>;

    /// Answers a button press, with a short notice shown to the person when given.
    async fn answer_callback(
        &self,
        id: CallbackQueryId,
        notice: Option<&str>,
    ) -> Result<(), RequestError>;
}

macro_rules! messenger_for {
    ($requester:ty) => {
        #[async_trait]
        impl Messenger for $requester {
            async fn send(
                &self,
                chat: ChatId,
                text: &str,
                keyboard: Option<InlineKeyboardMarkup>,
            ) -> Result<(), RequestError> {
                let parts = split_message(text, MAX_MESSAGE_CHARS);
                let last = parts.len().saturating_sub(1);
                for (index, part) in parts.into_iter().enumerate() {
                    let request = self.send_message(chat, part);
                    match (&keyboard, index == last) {
                        (Some(keyboard), true) => {
                            request.reply_markup(keyboard.clone()).await?;
                        }
                        _ => {
                            request.await?;
                        }
                    }
                }
                Ok(())
            }

            async fn answer_callback(
                &self,
                id: CallbackQueryId,
                notice: Option<&str>,
            ) -> Result<(), RequestError> {
                let request = self.answer_callback_query(id);
                match notice {
                    Some(notice) => request.text(notice).show_alert(true).await?,
                    None => request.await?,
                };
                Ok(())
            }
        }
    };
}

messenger_for!(Bot);
messenger_for!(Throttle<Bot>);

/// Chooses the messenger handlers get: the throttled bot made once at start, or the bot
/// the dispatcher runs (tests, benchmarks against a local fake Bot API).
#[derive(Clone, Default)]
pub struct Outbox {
    throttled: Option<Arc<dyn Messenger>>,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox")
            .field("throttled", &self.throttled.is_some())
            .finish()
    }
}

impl Outbox {
    /// Sends through the dispatcher's own bot, unthrottled.
    pub fn direct() -> Self {
        Self::default()
    }

    /// Sends through `bot` wrapped in teloxide's `Throttle` with Telegram's limits; spawns
    /// the throttle's worker, so call it inside the runtime, once.
    pub fn throttled(bot: Bot) -> Self {
        Self {
            throttled: Some(Arc::new(Throttle::new_spawn(bot, Limits::default()))),
        }
    }

    /// The messenger for an update handled by `bot`.
    pub fn messenger(&self, bot: Bot) -> Arc<dyn Messenger> {
        match &self.throttled {
            Some(throttled) => Arc::clone(throttled),
            None => Arc::new(bot),
        }
    }
}
