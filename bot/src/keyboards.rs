//! Callback data of the bot's inline buttons, encoded in one place.
//!
//! Telegram limits callback data to 64 bytes and keeps old buttons clickable forever, so
//! every button carries the question it answers and a short round-trip tag of the prompt
//! it was sent with; the handler compares both with the server's current question and
//! rejects a stale press. Encoding is strict both ways: `decode(encode(x)) == x`, and
//! anything else a client sends is an error, never a guess. The keyboards themselves are
//! built here too, from a question's kind.

use std::fmt;

use teloxide::types::{InlineKeyboardButton, InlineKeyboardMarkup};

use crate::api::{QuestionKind, QuestionView, ScalePoint};
use crate::texts;

/// Telegram's limit on callback data, in bytes.
pub const MAX_CALLBACK_BYTES: usize = 64;

const SEPARATOR: char = '|';

/// What a button does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Answer the question with a value (a stage 1–5 or a rating 1–3).
    Answer(u8),
    /// Skip an optional question.
    Skip,
    /// Show the help of the question: the stage descriptors of its component.
    Help,
    /// Show the component's description, performance indicators and drivers.
    Info,
    /// Confirm the action the button was sent with (submitting).
    Confirm,
    /// Cancel it.
    Cancel,
}

/// The data behind one inline button.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Callback {
    /// What the button does.
    pub action: Action,
    /// The question id the button belongs to, e.g. `2.3/stage`.
    pub question: String,
    /// Tag of the prompt the button was sent with; a press whose tag differs from the
    /// current prompt's is stale.
    pub prompt_tag: u16,
}

/// Why callback data could not be encoded or decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallbackError {
    /// Encoded data would exceed Telegram's limit.
    #[error(
        "callback data for question `{question}` would take {bytes} bytes, more than {MAX_CALLBACK_BYTES}"
    )]
    TooLong {
        /// The question.
        question: String,
        /// The encoded length.
        bytes: usize,
    },
    /// The question id contains the separator or is empty.
    #[error("question id `{0}` cannot be put in callback data")]
    BadQuestion(String),
    /// An answer value that does not fit one digit (stages go to 5, ratings to 3).
    #[error("answer value {0} cannot be put in callback data (0 to 9)")]
    BadAnswer(u8),
    /// Data that this bot did not produce.
    #[error("callback data is not from this bot")]
    Malformed,
}

impl Callback {
    /// Encodes the callback as `<action>|<question>|<tag>` (tag in lowercase hex).
    ///
    /// # Errors
    /// [`CallbackError::TooLong`] past 64 bytes; [`CallbackError::BadQuestion`] for an
    /// empty question id or one containing `|`; [`CallbackError::BadAnswer`] for an
    /// answer value over 9 (decoding takes one digit, so it could never come back).
    pub fn encode(&self) -> Result<String, CallbackError> {
        if self.question.is_empty() || self.question.contains(SEPARATOR) {
            return Err(CallbackError::BadQuestion(self.question.clone()));
        }
        if let Action::Answer(value) = self.action
            && value > 9
        {
            return Err(CallbackError::BadAnswer(value));
        }
        let encoded = format!(
            "{}{SEPARATOR}{}{SEPARATOR}{:x}",
            ActionCode(self.action),
            self.question,
            self.prompt_tag
        );
        if encoded.len() > MAX_CALLBACK_BYTES {
            return Err(CallbackError::TooLong {
                question: self.question.clone(),
                bytes: encoded.len(),
            });
        }
        Ok(encoded)
    }

    /// Decodes data produced by [`Callback::encode`].
    ///
    /// # Errors
    /// [`CallbackError::Malformed`] for anything else.
    pub fn decode(data: &str) -> Result<Self, CallbackError> {
        if data.len() > MAX_CALLBACK_BYTES {
            return Err(CallbackError::Malformed);
        }
        let mut parts = data.split(SEPARATOR);
        let (Some(action), Some(question), Some(tag), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(CallbackError::Malformed);
        };
        let action = parse_action(action).ok_or(CallbackError::Malformed)?;
        if question.is_empty() {
            return Err(CallbackError::Malformed);
        }
        // Only the canonical form is accepted, so that each button has one encoding.
        let prompt_tag = u16::from_str_radix(tag, 16).map_err(|_| CallbackError::Malformed)?;
        if format!("{prompt_tag:x}") != tag {
            return Err(CallbackError::Malformed);
        }
        Ok(Self {
            action,
            question: question.to_owned(),
            prompt_tag,
        })
    }
}

/// The pseudo-question of the submit confirmation buttons.
pub const SUBMIT: &str = "submit";

fn button(label: String, action: Action, question: &str, tag: u16) -> InlineKeyboardButton {
    let data = Callback {
        action,
        question: question.to_owned(),
        prompt_tag: tag,
    }
    .encode()
    // Question ids come from the catalogue, checked to fit (tests/e2e buttons.rs); one
    // that did not would get an inert button rather than a crash.
    .unwrap_or_default();
    InlineKeyboardButton::callback(label, data)
}

fn scale_row(question: &str, tag: u16, scale: &[ScalePoint]) -> Vec<InlineKeyboardButton> {
    scale
        .iter()
        .map(|point| {
            button(
                point.value.to_string(),
                Action::Answer(point.value),
                question,
                tag,
            )
        })
        .collect()
}

/// The buttons of a question: stages 1–5 with the descriptors and the component's
/// description; a scale with skip; Done for lists; Skip for other optional questions.
pub fn for_question(view: &QuestionView, tag: u16) -> Option<InlineKeyboardMarkup> {
    let id = view.id.as_str();
    let mut rows = Vec::new();
    match view.kind {
        QuestionKind::Stage => {
            rows.push(
                (1..=5)
                    .map(|stage| button(stage.to_string(), Action::Answer(stage), id, tag))
                    .collect(),
            );
            let mut help = vec![button(texts::descriptors_label(), Action::Help, id, tag)];
            if view.component.is_some() {
                help.push(button(texts::about_label(), Action::Info, id, tag));
            }
            rows.push(help);
        }
        QuestionKind::Rating => rows.push(scale_row(id, tag, &view.scale)),
        QuestionKind::Evidence | QuestionKind::OtherActivities => {
            rows.push(vec![button(texts::done_label(), Action::Skip, id, tag)]);
        }
        _ => {}
    }
    if !view.required
        && !matches!(
            view.kind,
            QuestionKind::Evidence | QuestionKind::OtherActivities
        )
    {
        rows.push(vec![button(texts::skip_label(), Action::Skip, id, tag)]);
    }
    (!rows.is_empty()).then(|| InlineKeyboardMarkup::new(rows))
}

/// The rating buttons of an activity the organisation just named.
pub fn for_named_activity(view: &QuestionView, tag: u16) -> InlineKeyboardMarkup {
    InlineKeyboardMarkup::new(vec![scale_row(&view.id, tag, &view.scale)])
}

/// Done, to end a list (evidence, own activities).
pub fn done(question: &str, tag: u16) -> InlineKeyboardMarkup {
    InlineKeyboardMarkup::new(vec![vec![button(
        texts::done_label(),
        Action::Skip,
        question,
        tag,
    )]])
}

/// Submit now / not yet.
pub fn confirm_submit(tag: u16) -> InlineKeyboardMarkup {
    InlineKeyboardMarkup::new(vec![vec![
        button(texts::confirm_submit_label(), Action::Confirm, SUBMIT, tag),
        button(texts::cancel_label(), Action::Cancel, SUBMIT, tag),
    ]])
}

struct ActionCode(Action);

impl fmt::Display for ActionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Action::Answer(value) => write!(f, "a{value}"),
            Action::Skip => f.write_str("s"),
            Action::Help => f.write_str("h"),
            Action::Info => f.write_str("i"),
            Action::Confirm => f.write_str("c"),
            Action::Cancel => f.write_str("n"),
        }
    }
}

fn parse_action(code: &str) -> Option<Action> {
    match code {
        "s" => Some(Action::Skip),
        "h" => Some(Action::Help),
        "i" => Some(Action::Info),
        "c" => Some(Action::Confirm),
        "n" => Some(Action::Cancel),
        _ => {
            let digit = code.strip_prefix('a')?;
            // One digit only: stages go to 5 and ratings to 3.
            if digit.len() != 1 {
                return None;
            }
            digit.parse::<u8>().ok().map(Action::Answer)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn encodes_compactly() {
        let callback = Callback {
            action: Action::Answer(3),
            question: "2.3/stage".to_owned(),
            prompt_tag: 0x1f,
        };
        assert_eq!(callback.encode().expect("fits"), "a3|2.3/stage|1f");
    }

    #[test]
    fn rejects_data_it_did_not_produce() {
        for bad in [
            "",
            "a3",
            "a3|2.3/stage",
            "a3|2.3/stage|1f|x",
            "a|2.3/stage|1f",
            "a12|2.3/stage|1f",
            "x|2.3/stage|1f",
            "a3||1f",
            "a3|2.3/stage|01f",
            "a3|2.3/stage|10000",
            "a3|2.3/stage|-1",
        ] {
            assert_eq!(
                Callback::decode(bad),
                Err(CallbackError::Malformed),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn refuses_to_exceed_telegrams_limit() {
        let callback = Callback {
            action: Action::Skip,
            question: "x".repeat(60),
            prompt_tag: u16::MAX,
        };
        assert!(matches!(
            callback.encode(),
            Err(CallbackError::TooLong { bytes: 67, .. })
        ));
    }

    fn action() -> impl Strategy<Value = Action> {
        prop_oneof![
            (0u8..=9).prop_map(Action::Answer),
            Just(Action::Skip),
            Just(Action::Help),
            Just(Action::Info),
            Just(Action::Confirm),
            Just(Action::Cancel),
        ]
    }

    /// Every action, with any answer value.
    fn any_action() -> impl Strategy<Value = Action> {
        prop_oneof![any::<u8>().prop_map(Action::Answer), action()]
    }

    /// Found by `encoding_fits_or_is_refused`: `Answer(12)` encoded as `a12|…`, which
    /// decoding (one digit) refuses, so the button would never work.
    #[test]
    fn answers_over_nine_are_refused_not_encoded() {
        let callback = Callback {
            action: Action::Answer(12),
            question: "1.1/activity/1".to_owned(),
            prompt_tag: 7,
        };
        assert_eq!(callback.encode(), Err(CallbackError::BadAnswer(12)));
    }

    /// Cases per property: 10,000 unless `STAGEWISE_PROPTEST_CASES` says otherwise.
    fn config() -> ProptestConfig {
        ProptestConfig {
            cases: std::env::var("STAGEWISE_PROPTEST_CASES")
                .ok()
                .and_then(|n| n.parse().ok())
                .unwrap_or(10_000),
            failure_persistence: None,
            ..ProptestConfig::default()
        }
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn round_trips(action in action(), question in "[a-z0-9./-]{1,40}", prompt_tag in any::<u16>()) {
            let callback = Callback { action, question, prompt_tag };
            let encoded = callback.encode().expect("fits");
            prop_assert!(encoded.len() <= MAX_CALLBACK_BYTES);
            prop_assert_eq!(Callback::decode(&encoded), Ok(callback));
        }

        /// Any question text: encoding either fits in 64 bytes and round-trips, or is
        /// refused with the reason.
        #[test]
        fn encoding_fits_or_is_refused(action in any_action(), question in "\\PC{0,70}", prompt_tag in any::<u16>()) {
            let callback = Callback { action, question: question.clone(), prompt_tag };
            match callback.encode() {
                Ok(encoded) => {
                    prop_assert!(encoded.len() <= MAX_CALLBACK_BYTES);
                    prop_assert_eq!(Callback::decode(&encoded), Ok(callback));
                }
                Err(CallbackError::BadQuestion(_)) => {
                    prop_assert!(question.is_empty() || question.contains(SEPARATOR));
                }
                Err(CallbackError::TooLong { bytes, .. }) => {
                    prop_assert!(bytes > MAX_CALLBACK_BYTES);
                }
                Err(CallbackError::BadAnswer(value)) => {
                    prop_assert!(value > 9);
                }
                Err(CallbackError::Malformed) => prop_assert!(false, "encode never says malformed"),
            }
        }

        #[test]
        fn decoding_arbitrary_data_never_panics(data in "\\PC{0,80}") {
            if let Ok(callback) = Callback::decode(&data) {
                prop_assert_eq!(callback.encode(), Ok(data));
            }
        }

        /// Arbitrary bytes as Telegram could deliver them (callback data is a string, so
        /// read lossily as UTF-8): decoding never panics, and whatever it accepts is the
        /// one canonical encoding of a callback.
        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..100)) {
            let data = String::from_utf8_lossy(&bytes);
            if let Ok(callback) = Callback::decode(&data) {
                prop_assert_eq!(callback.encode(), Ok(data.into_owned()));
            }
        }

        /// Data that looks almost right: separators and actions in every arrangement.
        #[test]
        fn decoding_near_misses_never_panics(parts in proptest::collection::vec(prop_oneof![
            Just("|".to_owned()), Just("a".to_owned()), Just("a3".to_owned()), Just("s".to_owned()),
            Just("1.1/stage".to_owned()), Just("ffff".to_owned()), Just("0".to_owned()),
            Just("10000".to_owned()), Just("-1".to_owned()), Just("+1".to_owned()), Just("é".to_owned()),
            "[0-9a-f]{0,6}",
        ], 0..8)) {
            let data: String = parts.concat();
            if let Ok(callback) = Callback::decode(&data) {
                prop_assert_eq!(callback.encode(), Ok(data));
            }
        }
    }
}
