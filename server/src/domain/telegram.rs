//! Telegram linking codes: the one-time secret that links a Telegram chat to a person.
//!
//! Only the hash of a code is kept. A code works once (taking it removes it), for one
//! person, until it expires; whoever holds it and talks to the bot becomes that person in
//! the bot, so codes travel only to that person (an administrator hands it over, or the
//! invitation email carries it as a deep link).

use super::id::PersonId;
use super::time::Timestamp;
use super::token::TokenHash;

/// The most characters a code may have: Telegram passes at most 64 characters of
/// `[A-Za-z0-9_-]` through a `t.me/<bot>?start=<code>` deep link.
pub const MAX_CODE_CHARS: usize = 64;

/// A one-time code that links a Telegram chat to a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelegramLinkCode {
    /// Hash of the code.
    pub hash: TokenHash,
    /// The person the chat will act for.
    pub person: PersonId,
    /// When it was made.
    pub created_at: Timestamp,
    /// When it stops working.
    pub expires_at: Timestamp,
}

impl TelegramLinkCode {
    /// Whether the code works at `now`.
    pub fn is_usable(&self, now: Timestamp) -> bool {
        now < self.expires_at
    }
}

/// Whether `text` has the shape of a code (what a deep link can carry); anything else is
/// refused before it is hashed or looked up.
pub fn is_code_shaped(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= MAX_CODE_CHARS
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_code_expires() {
        let code = TelegramLinkCode {
            hash: TokenHash::of("c"),
            person: PersonId::parse("p-ana").expect("id"),
            created_at: Timestamp::from_millis(0),
            expires_at: Timestamp::from_millis(10),
        };
        assert!(code.is_usable(Timestamp::from_millis(9)));
        assert!(!code.is_usable(Timestamp::from_millis(10)));
    }

    #[test]
    fn code_shapes() {
        assert!(is_code_shaped("a1B2_c-3"));
        for bad in ["", "a b", "ä", "a/b", &"x".repeat(65)] {
            assert!(!is_code_shaped(bad), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn shaped_codes_fit_a_deep_link(text in "\\PC{0,70}") {
            if is_code_shaped(&text) {
                prop_assert!(text.len() <= MAX_CODE_CHARS);
                prop_assert!(text.is_ascii());
            }
        }
    }
}
