//! Answer values and their limits: a stage 1–5, a rating 1–3, texts, lists, evidence and
//! the organisation's own named activities.

use std::fmt;

/// Most characters in one text answer (a long text; short texts have a tighter limit).
pub const MAX_TEXT_CHARS: usize = 10_000;
/// Most characters in a short-text answer or a list item.
pub const MAX_SHORT_TEXT_CHARS: usize = 500;
/// Most items in a list answer (evidence, text list, other activities).
pub const MAX_LIST_ITEMS: usize = 50;

/// Why a value was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// A stage outside 1–5.
    #[error("a stage is 1 to 5, not {0}")]
    Stage(i64),
    /// A rating outside its scale.
    #[error("a rating is {min} to {max}, not {value}")]
    Rating {
        /// The value given.
        value: i64,
        /// Lowest allowed.
        min: u8,
        /// Highest allowed.
        max: u8,
    },
    /// A text over its limit.
    #[error("the text is {chars} characters long; at most {max} are accepted")]
    TooLong {
        /// Its length.
        chars: usize,
        /// The limit.
        max: usize,
    },
    /// An empty text where one is needed.
    #[error("the text is empty")]
    Empty,
    /// Too many list items.
    #[error("{items} items given; at most {max} are accepted")]
    TooMany {
        /// How many.
        items: usize,
        /// The limit.
        max: usize,
    },
    /// A malformed date.
    #[error("`{0}` is not a date of the form YYYY-MM-DD")]
    Date(String),
}

/// A stage of development, 1 to 5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Stage(u8);

impl Stage {
    /// Parses a stage.
    ///
    /// # Errors
    /// [`ValueError::Stage`] outside 1–5.
    pub fn parse(value: i64) -> Result<Self, ValueError> {
        match u8::try_from(value) {
            Ok(stage @ 1..=5) => Ok(Self(stage)),
            _ => Err(ValueError::Stage(value)),
        }
    }

    /// The stage number.
    pub fn get(self) -> u8 {
        self.0
    }
}

/// A rating on a scale (Q.2: 1 = no contribution, 2 = little, 3 = significant).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Rating(u8);

impl Rating {
    /// Parses a rating within `min..=max`.
    ///
    /// # Errors
    /// [`ValueError::Rating`] outside the scale.
    pub fn parse(value: i64, min: u8, max: u8) -> Result<Self, ValueError> {
        match u8::try_from(value) {
            Ok(rating) if (min..=max).contains(&rating) => Ok(Self(rating)),
            _ => Err(ValueError::Rating { value, min, max }),
        }
    }

    /// The rating.
    pub fn get(self) -> u8 {
        self.0
    }
}

/// A calendar date, kept as `YYYY-MM-DD`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DateValue(String);

impl DateValue {
    /// Parses `YYYY-MM-DD`.
    ///
    /// # Errors
    /// [`ValueError::Date`] for anything else, including impossible dates.
    pub fn parse(text: &str) -> Result<Self, ValueError> {
        let format = time::macros::format_description!("[year]-[month]-[day]");
        time::Date::parse(text, &format)
            .map(|_| Self(text.to_owned()))
            .map_err(|_| ValueError::Date(text.chars().take(40).collect()))
    }

    /// The date as `YYYY-MM-DD`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Checks a text against a limit; surrounding whitespace is removed.
///
/// # Errors
/// [`ValueError::Empty`] or [`ValueError::TooLong`].
pub fn parse_text(text: &str, max: usize) -> Result<String, ValueError> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(ValueError::Empty);
    }
    let chars = trimmed.chars().count();
    if chars > max {
        return Err(ValueError::TooLong { chars, max });
    }
    Ok(trimmed.to_owned())
}

/// Checks a list's length.
///
/// # Errors
/// [`ValueError::TooMany`] over [`MAX_LIST_ITEMS`].
pub fn check_list_len(items: usize) -> Result<(), ValueError> {
    if items > MAX_LIST_ITEMS {
        Err(ValueError::TooMany {
            items,
            max: MAX_LIST_ITEMS,
        })
    } else {
        Ok(())
    }
}

/// What a piece of evidence is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EvidenceKind {
    /// A document (named, linked or uploaded).
    Document,
    /// The name of a person involved, where nothing is documented (weak evidence).
    Person,
}

/// A file uploaded as evidence through Telegram.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FileRef {
    /// File name as sent.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// Telegram's file id.
    pub telegram_file_id: String,
}

/// One line of evidence.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EvidenceItem {
    /// Document or person.
    pub kind: EvidenceKind,
    /// The title, reference or name.
    pub text: String,
    /// The uploaded file, if any.
    pub file: Option<FileRef>,
}

/// An activity the organisation names and rates itself.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NamedRating {
    /// The activity.
    pub name: String,
    /// Its rating.
    pub rating: Rating,
}

/// A validated answer value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AnswerValue {
    /// A stage of development.
    Stage(Stage),
    /// A rating.
    Rating(Rating),
    /// A text.
    Text(String),
    /// A list of lines.
    TextList(Vec<String>),
    /// A date.
    Date(DateValue),
    /// Evidence lines.
    Evidence(Vec<EvidenceItem>),
    /// Named and rated activities.
    OtherActivities(Vec<NamedRating>),
}

/// A change to one question's answer.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AnswerChange {
    /// Set (or replace) the answer.
    Set(AnswerValue),
    /// Remove the answer.
    Clear,
}

/// Where an answer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    /// The Telegram bot.
    Telegram,
    /// The web form behind an emailed link.
    Web,
    /// The GraphQL API directly.
    Graphql,
    /// A bulk import.
    Import,
}

impl Channel {
    /// The channel's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Telegram => "telegram",
            Self::Web => "web",
            Self::Graphql => "graphql",
            Self::Import => "import",
        }
    }

    /// Parses a channel name.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Telegram, Self::Web, Self::Graphql, Self::Import]
            .into_iter()
            .find(|c| c.as_str() == text)
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn stage_accepts_exactly_one_to_five(value in any::<i64>()) {
            prop_assert_eq!(Stage::parse(value).is_ok(), (1..=5).contains(&value));
        }

        #[test]
        fn rating_accepts_exactly_its_scale(value in -5i64..10) {
            prop_assert_eq!(Rating::parse(value, 1, 3).is_ok(), (1..=3).contains(&value));
        }

        #[test]
        fn text_limits_count_characters(text in "\\PC{0,30}") {
            match parse_text(&text, 10) {
                Ok(kept) => prop_assert!(kept.chars().count() <= 10 && !kept.is_empty()),
                Err(_) => prop_assert!(text.trim().is_empty() || text.trim().chars().count() > 10),
            }
        }
    }

    #[test]
    fn dates_must_exist() {
        assert!(DateValue::parse("2026-02-28").is_ok());
        assert!(DateValue::parse("2026-02-30").is_err());
        assert!(DateValue::parse("28/02/2026").is_err());
    }

    #[test]
    fn channels_round_trip() {
        for channel in [
            Channel::Telegram,
            Channel::Web,
            Channel::Graphql,
            Channel::Import,
        ] {
            assert_eq!(Channel::parse(channel.as_str()), Some(channel));
        }
        assert_eq!(Channel::parse("fax"), None);
    }
}
