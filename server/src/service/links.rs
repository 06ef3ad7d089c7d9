//! Personal links: the secret in an emailed link, and what it opens.
//!
//! A link's secret is 32 random bytes from the operating system (256 bits), written as
//! 64 hex characters; the store keeps only its SHA-256 (`LinkToken::hash`), bound to one
//! person and one response. A link works while it is not revoked, before its
//! `expires_at`, and while its round is draft or open (so it stops when the round
//! closes). After the response is submitted it still opens, read-only. This module never
//! logs a secret or a link, and builds links only from the configured public base URL.

use crate::domain::{
    Actor, LinkBinding, LinkToken, ResponseKey, Round, RoundStatus, Timestamp, TokenHash,
};
use crate::service::access;
use crate::store::{AuditAction, AuditEntry, Store, StoreError};

/// How long a link lives at most when its round has no deadline, or after the deadline
/// (the round's close ends it earlier): one year.
pub const MAX_LIFETIME_MILLIS: i64 = 365 * 24 * 60 * 60 * 1000;

/// Path prefix of a personal link: `<public base URL>/l/<secret>`.
pub const LINK_PATH: &str = "/l/";

/// Why a link could not be made or used.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// Unknown, revoked or expired, or its round is closed. One error for all, so a
    /// guesser learns nothing.
    #[error("this link is not valid (unknown, revoked, expired, or its round has closed)")]
    Invalid,
    /// No randomness.
    #[error("no randomness available: {0}")]
    Random(getrandom::Error),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A link just made: the secret, shown once (put in the email), and the stored token.
#[derive(Clone)]
pub struct NewLink {
    /// The secret for the URL. Never logged, never stored.
    pub secret: String,
    /// The stored token (hash only).
    pub token: LinkToken,
}

impl std::fmt::Debug for NewLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewLink")
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

/// The URL of a link: the configured public base URL (trailing `/` dropped), `/l/`,
/// the secret.
pub fn url(public_base_url: &str, secret: &str) -> String {
    format!(
        "{}{LINK_PATH}{secret}",
        public_base_url.trim_end_matches('/')
    )
}

/// Makes and stores a link for `person` to `response` in `round`.
///
/// # Errors
/// No randomness, or the store fails.
pub async fn create(
    store: &dyn Store,
    round: &Round,
    binding: LinkBinding,
    now: Timestamp,
) -> Result<NewLink, LinkError> {
    let secret = access::new_secret().map_err(LinkError::Random)?;
    let ceiling = round
        .deadline
        .map_or(now, |deadline| deadline.max(now))
        .plus_millis(MAX_LIFETIME_MILLIS);
    let token = LinkToken {
        hash: TokenHash::of(&secret),
        binding,
        expires_at: ceiling,
        revoked: false,
        created_at: now,
    };
    store.put_link_token(&token).await?;
    Ok(NewLink { secret, token })
}

/// Whether a round lets its links work.
pub fn round_lets_links_work(status: RoundStatus) -> bool {
    matches!(status, RoundStatus::Draft | RoundStatus::Open)
}

/// Checks a stored link by hash: known, not revoked, not expired, round not closed.
///
/// # Errors
/// [`LinkError::Invalid`] for any of those; the store's failure.
pub async fn check(
    store: &dyn Store,
    hash: &TokenHash,
    now: Timestamp,
) -> Result<LinkToken, LinkError> {
    let token = store.link_token(hash).await?.ok_or(LinkError::Invalid)?;
    if !token.is_usable(now) {
        return Err(LinkError::Invalid);
    }
    let round = store
        .round(&token.binding.response.round)
        .await?
        .ok_or(LinkError::Invalid)?;
    if !round_lets_links_work(round.status) {
        return Err(LinkError::Invalid);
    }
    Ok(token)
}

/// Checks a link's secret as it came in a URL. Anything that is not 64 hex characters
/// is refused before the store is asked.
///
/// # Errors
/// As [`check`].
pub async fn redeem(
    store: &dyn Store,
    secret: &str,
    now: Timestamp,
) -> Result<LinkToken, LinkError> {
    if secret.len() != 64 || !secret.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(LinkError::Invalid);
    }
    check(store, &TokenHash::of(&secret.to_ascii_lowercase()), now).await
}

/// Revokes the link with this secret; returns whether it existed.
///
/// # Errors
/// The store's failure.
pub async fn revoke(store: &dyn Store, secret: &str) -> Result<bool, LinkError> {
    Ok(store.revoke_link_token(&TokenHash::of(secret)).await?)
}

/// Revokes every personal link of `binding` (one person's response), for an
/// administrator who cannot know the secrets; the round's audit log records it when any
/// link was still usable. Returns how many were. Sessions opened with those links end
/// at their next request, since every request checks the link again.
///
/// # Errors
/// The store's failure.
pub async fn revoke_all(
    store: &dyn Store,
    binding: &LinkBinding,
    actor: &Actor,
    at: Timestamp,
) -> Result<usize, LinkError> {
    let count = store.revoke_links_of(binding).await?;
    if count > 0 {
        store
            .append_audit(&AuditEntry {
                round: binding.response.round.clone(),
                at,
                actor: actor.clone(),
                action: AuditAction::LinksRevoked {
                    response: binding.response.clone(),
                    person: binding.person.clone(),
                    count: u32::try_from(count).unwrap_or(u32::MAX),
                },
            })
            .await?;
    }
    Ok(count)
}

/// The response a link is for, by its binding.
pub fn response_of(token: &LinkToken) -> &ResponseKey {
    &token.binding.response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_come_from_the_base_without_a_double_slash() {
        assert_eq!(url("https://x.org/", "ab"), "https://x.org/l/ab");
        assert_eq!(
            url("http://127.0.0.1:8080", "ab"),
            "http://127.0.0.1:8080/l/ab"
        );
    }

    #[test]
    fn only_draft_and_open_rounds_let_links_work() {
        assert!(round_lets_links_work(RoundStatus::Open));
        assert!(round_lets_links_work(RoundStatus::Draft));
        assert!(!round_lets_links_work(RoundStatus::Closed));
        assert!(!round_lets_links_work(RoundStatus::Validated));
    }
}
