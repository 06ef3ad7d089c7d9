//! Telegram: linking a chat to a person with a one-time code, unlinking it, remembering
//! the updates the bot has handled, and listing what a linked person answers.
//!
//! A code is 128 random bits in hex, shown once; only its hash is stored, with the person
//! and an expiry. Linking takes the code (the store removes it atomically, so it works
//! once) and then stores the person with the chat, which unlinks that chat from anyone
//! else. A crash between the two leaves the code used and the chat unlinked: the person
//! asks for a new code, and nothing else is wrong. Access is checked by the caller
//! through [`crate::service::access`]; this module never decides who may call it.

use crate::catalogue::Catalogue;
use crate::config::TelegramSettings;
use crate::domain::telegram::is_code_shaped;
use crate::domain::{
    IdError, Person, PersonId, RoundStatus, TelegramChatId, TelegramLinkCode, Timestamp, TokenHash,
};
use crate::service::progress::{self, ResponseProgress};
use crate::store::{Store, StoreError};

/// Random bytes in a linking code: 128 bits, as emailed links.
const CODE_BYTES: usize = 16;

/// Why a Telegram request was refused.
#[derive(Debug, thiserror::Error)]
pub enum TelegramError {
    /// The person does not exist.
    #[error("no person `{0}`")]
    UnknownPerson(String),
    /// A malformed person id.
    #[error(transparent)]
    Id(#[from] IdError),
    /// The code is unknown, used or expired (one answer for all three, so a guesser
    /// learns nothing).
    #[error("this linking code is unknown, used or expired")]
    InvalidCode,
    /// The operating system had no randomness for a code.
    #[error("no randomness for a linking code")]
    Randomness(#[source] getrandom::Error),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A code just made: the secret (shown once) and what it links to.
#[derive(Debug, Clone)]
pub struct IssuedCode {
    /// The code itself; never stored, never logged.
    pub code: String,
    /// The stored form.
    pub stored: TelegramLinkCode,
}

/// Makes a one-time code that links a chat to `person_id`, working for `ttl_millis`.
///
/// # Errors
/// [`TelegramError::UnknownPerson`] or [`TelegramError::Id`] for a person that does not
/// exist; randomness or store failures.
pub async fn issue_link_code(
    store: &dyn Store,
    person_id: &str,
    now: Timestamp,
    ttl_millis: i64,
) -> Result<IssuedCode, TelegramError> {
    let person_id = PersonId::parse(person_id.trim())?;
    if store.person(&person_id).await?.is_none() {
        return Err(TelegramError::UnknownPerson(person_id.to_string()));
    }
    let mut bytes = [0u8; CODE_BYTES];
    getrandom::fill(&mut bytes).map_err(TelegramError::Randomness)?;
    let code = crate::domain::lower_hex(&bytes);
    let stored = TelegramLinkCode {
        hash: TokenHash::of(&code),
        person: person_id,
        created_at: now,
        expires_at: now.plus_millis(ttl_millis),
    };
    store.put_telegram_code(&stored).await?;
    Ok(IssuedCode { code, stored })
}

/// The bot's username from `[telegram] bot_username` (without `@`), when a bot is set
/// up; deep links are made only then.
pub fn bot_username(settings: &TelegramSettings) -> Option<&str> {
    let username = settings.bot_username.trim().trim_start_matches('@');
    (!username.is_empty()).then_some(username)
}

/// `https://t.me/<bot>?start=<code>`: opening it starts the bot with `/start <code>`.
pub fn deep_link(bot_username: &str, code: &str) -> String {
    format!("https://t.me/{bot_username}?start={code}")
}

/// How long a linking code works, from `[telegram] link_code_ttl_secs`.
pub fn code_ttl_millis(settings: &TelegramSettings) -> i64 {
    i64::try_from(settings.link_code_ttl_secs.saturating_mul(1000)).unwrap_or(i64::MAX)
}

/// A deep link with a fresh one-time code for `person`, for an email (invitation,
/// reminder): `None` when no bot is configured or the person's chat is linked already
/// (a code is a credential: none is mailed where it is not needed).
///
/// # Errors
/// As [`issue_link_code`].
pub async fn deep_link_for(
    store: &dyn Store,
    settings: &TelegramSettings,
    person: &Person,
    now: Timestamp,
) -> Result<Option<String>, TelegramError> {
    let Some(username) = bot_username(settings) else {
        return Ok(None);
    };
    if person.telegram_chat.is_some() {
        return Ok(None);
    }
    let issued = issue_link_code(store, person.id.as_str(), now, code_ttl_millis(settings)).await?;
    Ok(Some(deep_link(username, &issued.code)))
}

/// Links `chat` to the person a usable `code` was made for, using the code up. The chat
/// is unlinked from whoever had it, and the person's previous chat from them.
///
/// # Errors
/// [`TelegramError::InvalidCode`] for a code that is malformed, unknown, used or expired,
/// or whose person is gone; store failures.
pub async fn link_chat(
    store: &dyn Store,
    code: &str,
    chat: TelegramChatId,
    now: Timestamp,
) -> Result<Person, TelegramError> {
    let code = code.trim();
    if !is_code_shaped(code) {
        return Err(TelegramError::InvalidCode);
    }
    let taken = store
        .take_telegram_code(&TokenHash::of(code), now)
        .await?
        .ok_or(TelegramError::InvalidCode)?;
    let mut person = store
        .person(&taken.person)
        .await?
        .ok_or(TelegramError::InvalidCode)?;
    person.telegram_chat = Some(chat);
    store.put_person(&person).await?;
    tracing::info!(person_id = %person.id, "telegram chat linked");
    Ok(person)
}

/// Unlinks the person's chat; the bot then no longer acts for them.
///
/// # Errors
/// Store failures.
pub async fn unlink_chat(store: &dyn Store, person: &Person) -> Result<Person, TelegramError> {
    let mut person = person.clone();
    person.telegram_chat = None;
    store.put_person(&person).await?;
    tracing::info!(person_id = %person.id, "telegram chat unlinked");
    Ok(person)
}

/// Remembers a Telegram update id; `true` the first time, `false` for a redelivery.
///
/// # Errors
/// Store failures.
pub async fn mark_update(
    store: &dyn Store,
    update_id: i64,
    now: Timestamp,
) -> Result<bool, TelegramError> {
    Ok(store.mark_update_seen(update_id, now).await?)
}

/// One response a linked person answers or edits, with its round.
#[derive(Debug, Clone)]
pub struct PersonResponse {
    /// The round's title.
    pub round_title: String,
    /// When answering is due.
    pub deadline: Option<Timestamp>,
    /// How far it is.
    pub progress: ResponseProgress,
}

/// The responses `person` answers (or, as a focal point, edits) in the rounds that are
/// open, by round id then in the order of their assignments.
///
/// # Errors
/// Store failures.
pub async fn responses_of(
    store: &dyn Store,
    catalogue: &Catalogue,
    person: &Person,
) -> Result<Vec<PersonResponse>, TelegramError> {
    let mut out = Vec::new();
    for round in store.rounds().await? {
        if round.status != RoundStatus::Open {
            continue;
        }
        let assignments = store.assignments(&round.id).await?;
        if !assignments.iter().any(|a| a.person == person.id) {
            continue;
        }
        // Only the person's own responses are read (not the whole round's): first which
        // they are, from the assignments alone, then their progress from those reads.
        let expected = progress::compute(catalogue, &round, &assignments, &[]);
        let keys: Vec<_> = expected
            .people
            .into_iter()
            .find(|p| p.person == person.id)
            .map(|p| p.responses.into_iter().map(|r| r.key).collect())
            .unwrap_or_default();
        let reads = keys.iter().map(|key| store.response(key));
        let responses: Vec<_> = futures_util::future::try_join_all(reads)
            .await?
            .into_iter()
            .flatten()
            .collect();
        let mine = progress::compute(catalogue, &round, &assignments, &responses)
            .people
            .into_iter()
            .find(|p| p.person == person.id)
            .map(|p| p.responses)
            .unwrap_or_default();
        out.extend(mine.into_iter().map(|progress| PersonResponse {
            round_title: round.title.clone(),
            deadline: round.deadline,
            progress,
        }));
    }
    Ok(out)
}
