//! Reminders over GraphQL: the queue of Telegram notices the reminder scheduler fills
//! and the bot empties. The bot claims what is due (`claimTelegramNotices`), sends it
//! through Telegram, and acknowledges each notice it sent
//! (`acknowledgeTelegramNotice`); a notice not acknowledged is claimed again after five
//! minutes. The server never holds the Telegram bot token.
//!
//! Transport only: `service::reminders` does the work, `service::access` decides that
//! only the bot may call.

use async_graphql::{Context, Object, SimpleObject};

use super::error::GqlError;
use super::request;
use crate::domain::Timestamp;
use crate::service::reminders::{self, DueNotice, ReminderError};

impl From<ReminderError> for GqlError {
    fn from(error: ReminderError) -> Self {
        match error {
            ReminderError::BadInput(message) => Self::bad_input(message),
            ReminderError::Store(store) => store.into(),
            ReminderError::Link(_) | ReminderError::Telegram(_) => Self::internal(&error),
        }
    }
}

/// One response a Telegram reminder names, as it stands now.
#[derive(Debug, Clone, SimpleObject)]
pub struct TelegramNoticeResponse {
    /// The instrument's title.
    pub instrument_title: String,
    /// The organisation's name.
    pub organisation_name: String,
    /// Required questions answered.
    pub answered: i32,
    /// Required questions.
    pub total: i32,
}

/// A message the bot is to send to a linked chat: for now always a reminder that
/// responses are due. The bot words it; the server says what it is about.
#[derive(Debug, Clone, SimpleObject)]
pub struct TelegramNotice {
    /// Acknowledge the notice with this id once it is sent.
    pub id: String,
    /// The Telegram chat to send it to (the person's linked chat now).
    pub chat_id: i64,
    /// The person's name.
    pub person_name: String,
    /// The round's title.
    pub round_title: String,
    /// When answering is due (RFC 3339, UTC), if a deadline is set.
    pub deadline: Option<String>,
    /// How many days before the deadline this reminder is.
    pub days_before: i32,
    /// The responses still open (at least one), in the order the reminder lists them.
    pub responses: Vec<TelegramNoticeResponse>,
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

impl From<DueNotice> for TelegramNotice {
    fn from(notice: DueNotice) -> Self {
        Self {
            id: notice.id.to_string(),
            chat_id: notice.chat.0,
            person_name: notice.person_name,
            round_title: notice.round_title,
            deadline: notice.deadline.map(Timestamp::to_rfc3339),
            days_before: i32::try_from(notice.day).unwrap_or(i32::MAX),
            responses: notice
                .responses
                .into_iter()
                .map(|r| TelegramNoticeResponse {
                    instrument_title: r.instrument_title,
                    organisation_name: r.organisation_name,
                    answered: count(r.answered),
                    total: count(r.total),
                })
                .collect(),
        }
    }
}

/// The reminders part of `Mutation`.
#[derive(Debug, Default)]
pub struct RemindersMutation;

#[Object]
impl RemindersMutation {
    /// Claims up to `limit` (1–100) Telegram notices that are due, for the bot to send.
    /// Each is hidden from other claims for five minutes: acknowledge it with
    /// `acknowledgeTelegramNotice` once sent, or it is claimed again (delivered at least
    /// once). Notices that need no delivery any more (the chat was unlinked, the round
    /// closed, the responses were submitted) are dropped instead of returned. The bot
    /// only; BAD_USER_INPUT for a limit outside 1–100.
    async fn claim_telegram_notices(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The most notices to claim, 1–100.", default = 20)] limit: i32,
    ) -> async_graphql::Result<Vec<TelegramNotice>> {
        let request = request(ctx)?;
        request.identity.require_bot().map_err(GqlError::from)?;
        let state = &request.state;
        let due = reminders::claim_notices(
            state.store.as_ref(),
            &state.catalogue,
            state.clock.now(),
            limit,
        )
        .await
        .map_err(GqlError::from)?;
        Ok(due.into_iter().map(TelegramNotice::from).collect())
    }

    /// Acknowledges a Telegram notice the bot sent (or gave up on): it is removed from
    /// the queue. True when it was queued, false when it was acknowledged before. The bot
    /// only; BAD_USER_INPUT for a malformed id.
    async fn acknowledge_telegram_notice(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The notice's `id`.")] id: String,
    ) -> async_graphql::Result<bool> {
        let request = request(ctx)?;
        request.identity.require_bot().map_err(GqlError::from)?;
        Ok(reminders::ack_notice(request.state.store.as_ref(), &id)
            .await
            .map_err(GqlError::from)?)
    }
}
