//! Stagewise Telegram bot: a GraphQL client of the server for focal points and
//! respondents.
//!
//! The bot holds no business rules and no answers. It links a chat to a person with a
//! one-time code, walks them through the questions the server says come next, saves each
//! answer at once, and shows progress, review and submission. [`handler_tree`] is the
//! whole wiring, the same in production, in the handler tests (teloxide_tests) and in the
//! end-to-end tests; its dependencies are an `Arc<dyn Backend>`, an [`outbox::Outbox`]
//! and the dialogue storage.

pub mod api;
pub mod config;
pub mod dialogue;
pub mod handlers;
pub mod keyboards;
pub mod notices;
pub mod outbox;
pub mod texts;
pub mod webhook;

use std::sync::Arc;

use teloxide::dispatching::dialogue::InMemStorage;
use teloxide::dispatching::{DpHandlerDescription, HandlerExt, UpdateFilterExt, UpdateHandler};
use teloxide::dptree;
use teloxide::prelude::*;
use teloxide::types::Update;

use crate::api::Backend;
use crate::dialogue::State;
use crate::handlers::{HandlerError, commands, walk};
use crate::outbox::Outbox;

/// The dialogue storage the tree expects (one state per chat).
pub type Storage = InMemStorage<State>;

/// Whether this update is new: the server remembers update ids, so one Telegram delivers
/// twice is handled once. When the server cannot be asked, the update is handled and
/// whatever it needs from the server reports that the person should try again.
async fn first_delivery(update: Update, backend: Arc<dyn Backend>) -> bool {
    match backend.mark_update(i64::from(update.id.0)).await {
        Ok(first) => {
            if !first {
                tracing::info!(update_id = update.id.0, "duplicate update dropped");
            }
            first
        }
        Err(_) => true,
    }
}

/// The bot's handlers: de-duplication, then the dialogue, then commands, documents,
/// text and button presses.
pub fn handler_tree() -> UpdateHandler<HandlerError> {
    let messages = Update::filter_message()
        .branch(
            dptree::entry()
                .filter_command::<commands::Command>()
                .endpoint(commands::handle),
        )
        .branch(dptree::filter(|m: Message| m.document().is_some()).endpoint(walk::on_document))
        .branch(dptree::filter(|m: Message| m.text().is_some()).endpoint(walk::on_text))
        .endpoint(walk::on_other);
    let presses = Update::filter_callback_query().endpoint(walk::on_callback);
    let tree: Handler<'static, Result<(), HandlerError>, DpHandlerDescription> = dptree::entry()
        .map(|bot: Bot, outbox: Outbox| outbox.messenger(bot))
        .filter_async(first_delivery)
        .enter_dialogue::<Update, Storage, State>()
        .branch(messages)
        .branch(presses);
    tree
}
