//! One async function per step of a conversation, and the helpers they share: asking a
//! question, continuing where the server says, telling the person what went wrong.
//!
//! Handlers hold no answers and no rules: every answer goes to the server at once, the
//! server's `nextQuestion` says where to continue, and the server refuses what is not
//! allowed. The dialogue state only remembers which question is on screen.

pub mod commands;
pub mod walk;

use std::sync::Arc;

use teloxide::dispatching::dialogue::{Dialogue, InMemStorage};
use teloxide::types::ChatId;

use crate::api::{AnswerView, ApiError, Backend, Next, Target};
use crate::dialogue::{Prompt, State, tag_of};
use crate::outbox::Messenger;
use crate::{keyboards, texts};

/// The error handlers return: a Telegram request that failed (logged by the dispatcher).
pub type HandlerError = Box<dyn std::error::Error + Send + Sync>;
/// What handlers return.
pub type HandlerResult = Result<(), HandlerError>;
/// The conversation of one chat.
pub type Conversation = Dialogue<State, InMemStorage<State>>;

/// What every handler works with.
pub struct Ctx {
    /// The server.
    pub backend: Arc<dyn Backend>,
    /// Telegram.
    pub out: Arc<dyn Messenger>,
    /// The chat.
    pub chat: ChatId,
    /// Its conversation.
    pub dialogue: Conversation,
}

impl Ctx {
    /// Sends a text without buttons.
    pub async fn say(&self, text: &str) -> HandlerResult {
        self.out.send(self.chat, text, None).await?;
        Ok(())
    }

    /// The conversation's state (idle when the storage has none).
    pub async fn state(&self) -> State {
        self.dialogue.get().await.ok().flatten().unwrap_or_default()
    }

    /// Replaces the conversation's state.
    pub async fn set(&self, state: State) {
        // The in-memory storage cannot fail.
        let _ = self.dialogue.update(state).await;
    }

    /// The text that tells the person about `error`.
    pub fn explain(error: &ApiError) -> String {
        match error {
            ApiError::Unavailable => texts::try_again(),
            ApiError::NotLinked => texts::not_linked(),
            ApiError::BadInput { details, message } => {
                texts::answer_refused(if details.is_empty() {
                    std::slice::from_ref(message)
                } else {
                    details
                })
            }
            ApiError::Conflict { .. } => texts::changed_meanwhile(),
            ApiError::NotFound(_) | ApiError::Unexpected(_) => {
                tracing::warn!(%error, "the server refused a request");
                texts::something_wrong()
            }
        }
    }

    /// Tells the person about `error`.
    pub async fn fail(&self, error: &ApiError) -> HandlerResult {
        self.say(&Self::explain(error)).await
    }

    /// The response the conversation is about: the one on screen, else the first one the
    /// person has not submitted, else their first one. `None` when they have none.
    ///
    /// # Errors
    /// Whatever the server answered.
    pub async fn target(&self) -> Result<Option<Target>, ApiError> {
        if let Some(target) = self.state().await.target() {
            return Ok(Some(target.clone()));
        }
        let me = self.backend.me(self.chat.0).await?;
        Ok(me
            .responses
            .iter()
            .find(|r| !r.submitted)
            .or_else(|| me.responses.first())
            .map(|r| r.target.clone()))
    }

    /// Shows question `question_id` of `target` and remembers it. `seq` is the response's
    /// last event when known (after a save); otherwise it is read, with the current answer.
    ///
    /// # Errors
    /// Whatever the server answered.
    pub async fn ask(
        &self,
        target: &Target,
        question_id: &str,
        next: Option<&Next>,
        seq: Option<u64>,
    ) -> Result<(), AskError> {
        let view = self
            .backend
            .question(self.chat.0, target, question_id)
            .await?;
        let (seq, current): (u64, Option<AnswerView>) = match seq {
            Some(seq) => (seq, None),
            None => {
                let response = self
                    .backend
                    .response(self.chat.0, target, Some(question_id))
                    .await?;
                (response.last_seq, response.answers.into_iter().next())
            }
        };
        let tag = tag_of(seq);
        self.set(State::Asking(Prompt {
            target: target.clone(),
            question_id: view.id.clone(),
            kind: view.kind,
            tag,
            pending_activity: None,
        }))
        .await;
        self.out
            .send(
                self.chat,
                &texts::question(&view, next, current.as_ref()),
                keyboards::for_question(&view, tag),
            )
            .await?;
        Ok(())
    }

    /// Asks the question the server says comes next (after `after`, or where the person
    /// left off), or says that everything is answered.
    ///
    /// # Errors
    /// Whatever the server answered.
    pub async fn continue_after(
        &self,
        target: &Target,
        after: Option<&str>,
        seq: Option<u64>,
    ) -> Result<(), AskError> {
        let next = self
            .backend
            .next_question(self.chat.0, target, after)
            .await?;
        self.show_next(target, next, seq).await
    }

    /// Asks `next`, or says that everything is answered when there is none.
    ///
    /// # Errors
    /// Whatever the server answered.
    pub async fn show_next(
        &self,
        target: &Target,
        next: Option<Next>,
        seq: Option<u64>,
    ) -> Result<(), AskError> {
        match next {
            Some(next) => {
                self.ask(target, &next.question_id.clone(), Some(&next), seq)
                    .await
            }
            None => {
                self.set(State::Idle).await;
                self.say(&texts::all_answered()).await?;
                Ok(())
            }
        }
    }
}

/// Why a question could not be shown.
#[derive(Debug, thiserror::Error)]
pub enum AskError {
    /// The server.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// Telegram.
    #[error(transparent)]
    Telegram(#[from] HandlerError),
}

impl From<teloxide::RequestError> for AskError {
    fn from(error: teloxide::RequestError) -> Self {
        Self::Telegram(Box::new(error))
    }
}

impl Ctx {
    /// Reports a failed [`Ctx::ask`]: server errors to the person, Telegram errors up.
    pub async fn settle(&self, outcome: Result<(), AskError>) -> HandlerResult {
        match outcome {
            Ok(()) => Ok(()),
            Err(AskError::Api(error)) => self.fail(&error).await,
            Err(AskError::Telegram(error)) => Err(error),
        }
    }
}
