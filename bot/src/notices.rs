//! Delivering the notices the server queues for linked chats (today: reminders before a
//! round's deadline, from the server's reminder scheduler, the one place reminders come
//! from). Every `notice_poll_secs` the bot claims what is due over GraphQL, sends each
//! through the same throttled messenger as its answers, and acknowledges it.
//!
//! The bot decides nothing here: whom to remind and when is the server's; the bot only
//! words the message (`texts::reminder`) and reports delivery. A notice is acknowledged
//! after Telegram took the message, or when Telegram refuses the chat for good (blocked,
//! deleted); on a network failure it is left unacknowledged and the server hands it out
//! again after its hold (at least once: a crash between send and acknowledgement may
//! repeat one message).

use std::sync::Arc;
use std::time::Duration;

use teloxide::RequestError;
use teloxide::types::ChatId;

use crate::api::{ApiResult, Backend};
use crate::outbox::Messenger;
use crate::texts;

/// How many notices one poll claims.
pub const CLAIM_LIMIT: u32 = 20;

/// What one poll did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Delivered {
    /// Sent and acknowledged.
    pub sent: usize,
    /// Refused by Telegram for good, acknowledged without a message.
    pub dropped: usize,
    /// Left for a later poll (a network failure, or the acknowledgement failed).
    pub retried: usize,
}

/// Claims the notices due now and delivers them.
///
/// # Errors
/// The server could not be asked for notices; nothing was sent.
pub async fn deliver_once(
    backend: &dyn Backend,
    messenger: &dyn Messenger,
) -> ApiResult<Delivered> {
    let mut delivered = Delivered::default();
    for notice in backend.claim_notices(CLAIM_LIMIT).await? {
        let sent = messenger
            .send(ChatId(notice.chat_id), &texts::reminder(&notice), None)
            .await;
        let settled = match sent {
            Ok(()) => {
                delivered.sent += 1;
                true
            }
            // Telegram answered and refused this chat: sending again cannot help.
            Err(RequestError::Api(error)) => {
                tracing::warn!(%error, "Telegram refused a reminder; it is dropped");
                delivered.dropped += 1;
                true
            }
            Err(error) => {
                tracing::warn!(%error, "a reminder could not be sent; the server offers it again later");
                delivered.retried += 1;
                false
            }
        };
        if settled && let Err(error) = backend.ack_notice(&notice.id).await {
            // The server hands it out again: the message may arrive twice.
            tracing::warn!(%error, "a sent reminder could not be acknowledged");
        }
    }
    Ok(delivered)
}

/// Polls for notices every `every` until the task is dropped.
pub async fn run(backend: Arc<dyn Backend>, messenger: Arc<dyn Messenger>, every: Duration) {
    let mut interval = tokio::time::interval(every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        match deliver_once(backend.as_ref(), messenger.as_ref()).await {
            Ok(delivered) if delivered != Delivered::default() => {
                tracing::info!(
                    sent = delivered.sent,
                    dropped = delivered.dropped,
                    retried = delivered.retried,
                    "reminders delivered"
                );
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "could not ask the server for reminders"),
        }
    }
}
