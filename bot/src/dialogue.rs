//! The state of a conversation: which question the chat was last shown, so that a text
//! message can be taken as its answer and a button press checked against it. It is no
//! record of answers: every answer is saved on the server at once, and where to continue
//! comes from the server's `nextQuestion`. Losing the state (a restart) loses nothing:
//! `/continue` asks the server again.

use crate::api::{QuestionKind, Target};

/// The conversation's state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum State {
    /// No question shown (new chat, after a restart, or everything answered).
    #[default]
    Idle,
    /// A question is shown and its answer awaited.
    Asking(Prompt),
    /// `/submit` asked for confirmation.
    ConfirmSubmit {
        /// The response to submit.
        target: Target,
        /// The tag of the confirmation buttons.
        tag: u16,
    },
}

/// The question on screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    /// The response it belongs to.
    pub target: Target,
    /// The question id.
    pub question_id: String,
    /// What answer it takes.
    pub kind: QuestionKind,
    /// The response's last seq (low 16 bits) when the prompt was shown: the tag of its
    /// buttons, and the point after which a change of its answer elsewhere makes the
    /// prompt stale.
    pub tag: u16,
    /// For the organisation's own activities: the name just sent, awaiting its rating.
    pub pending_activity: Option<String>,
}

impl State {
    /// The response the conversation is about, if it knows one.
    pub fn target(&self) -> Option<&Target> {
        match self {
            Self::Idle => None,
            Self::Asking(prompt) => Some(&prompt.target),
            Self::ConfirmSubmit { target, .. } => Some(target),
        }
    }
}

/// The tag of a prompt shown when the response's last event was `seq`.
pub fn tag_of(seq: u64) -> u16 {
    // The low 16 bits: a prompt is stale long before 65,536 later events wrap it.
    u16::try_from(seq & 0xffff).unwrap_or(0)
}

/// Whether an answer recorded at `answer_seq` came after a prompt tagged `tag`.
pub fn changed_since(answer_seq: u64, tag: u16) -> bool {
    let delta = tag_of(answer_seq).wrapping_sub(tag);
    delta != 0 && delta < 0x8000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_after_the_prompt_make_it_stale() {
        assert!(!changed_since(7, tag_of(7)), "the answer the prompt showed");
        assert!(!changed_since(3, tag_of(7)), "an older answer");
        assert!(changed_since(8, tag_of(7)));
        assert!(changed_since(65_536 + 2, tag_of(65_535)), "across the wrap");
    }
}
