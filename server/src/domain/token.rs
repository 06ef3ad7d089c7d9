//! API tokens and emailed link tokens. Only hashes of secrets are ever kept.

use std::fmt;

use sha2::{Digest, Sha256};

use super::id::{PersonId, RoundId, TokenId};
use super::response::ResponseKey;
use super::time::Timestamp;

/// SHA-256 of a token secret. The secret itself is shown once and never stored.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    /// Hashes a secret.
    pub fn of(secret: &str) -> Self {
        Self(Sha256::digest(secret.as_bytes()).into())
    }

    /// From stored bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The hash bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lowercase hex, 64 characters.
    pub fn to_hex(&self) -> String {
        super::lower_hex(&self.0)
    }

    /// Parses 64 hex characters.
    pub fn from_hex(text: &str) -> Option<Self> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text, &mut bytes).ok()?;
        Some(Self(bytes))
    }
}

impl fmt::Debug for TokenHash {
    /// Shows a prefix only: enough to tell hashes apart in a test failure.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenHash({}…)", &self.to_hex()[..8])
    }
}

/// What an API token may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenRole {
    /// Everything.
    Admin,
    /// Read results and record validations in the listed rounds.
    Validator {
        /// The rounds in scope.
        rounds: Vec<RoundId>,
    },
    /// The Telegram bot's service token: acts for a linked Telegram user only.
    Bot,
}

/// A bearer token for the GraphQL API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    /// Public id, shown in lists and logs.
    pub id: TokenId,
    /// Hash of the secret.
    pub hash: TokenHash,
    /// What it may do.
    pub role: TokenRole,
    /// Who or what it is for.
    pub label: String,
    /// When it was made.
    pub created_at: Timestamp,
    /// Whether it was revoked.
    pub revoked: bool,
}

/// What an emailed link opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkBinding {
    /// The response the link edits.
    pub response: ResponseKey,
    /// The person the link was sent to.
    pub person: PersonId,
}

/// A personal link's token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkToken {
    /// Hash of the secret in the link.
    pub hash: TokenHash,
    /// What it opens.
    pub binding: LinkBinding,
    /// When it stops working (the round's close).
    pub expires_at: Timestamp,
    /// Whether it was revoked.
    pub revoked: bool,
    /// When it was made.
    pub created_at: Timestamp,
}

impl LinkToken {
    /// Whether the link works at `now`.
    pub fn is_usable(&self, now: Timestamp) -> bool {
        !self.revoked && now < self.expires_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_round_trips_through_hex_and_hides_in_debug() {
        let hash = TokenHash::of("secret");
        assert_eq!(TokenHash::from_hex(&hash.to_hex()), Some(hash));
        assert_eq!(hash.to_hex().len(), 64);
        assert!(!format!("{hash:?}").contains(&hash.to_hex()));
        assert_ne!(TokenHash::of("secret"), TokenHash::of("secret2"));
        assert_eq!(TokenHash::from_hex("zz"), None);
    }
}
