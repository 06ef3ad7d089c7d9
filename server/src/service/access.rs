//! Who may do what. Identities come from API tokens (looked up by hash on every request,
//! so a revocation takes effect on the next one); a bot token acts for a person only
//! when the request names a Telegram chat linked to that person, and then only on that
//! person's responses.

use crate::domain::{
    Actor, ApiToken, OrganisationId, Person, Respondent, ResponseKey, Role, RoundId,
    TelegramChatId, TokenHash, TokenId, TokenRole, Validator,
};
use crate::store::{Store, StoreError};

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// No token.
    Anonymous,
    /// A token that is unknown or revoked.
    Rejected,
    /// An administrator.
    Admin {
        /// The token.
        token: TokenId,
        /// The token's label (who or what it is for).
        label: String,
    },
    /// A validator, for the listed rounds.
    Validator {
        /// The token.
        token: TokenId,
        /// The token's label (who or what it is for), e.g. `JIU inspection team`.
        label: String,
        /// The rounds in scope.
        rounds: Vec<RoundId>,
    },
    /// The Telegram bot, acting for the person linked to the named chat, if any.
    Bot {
        /// The token.
        token: TokenId,
        /// The chat named by the request.
        chat: Option<TelegramChatId>,
        /// The person that chat is linked to.
        person: Option<Person>,
    },
}

/// Why access was refused.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// No valid token.
    #[error("a valid API token is required")]
    Unauthenticated,
    /// The token may not do this.
    #[error("this token may not do that")]
    Forbidden,
    /// The store failed while checking.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Resolves a bearer secret (and, for the bot, a Telegram chat) to an identity.
///
/// # Errors
/// [`StoreError`] when the store cannot be read; an unknown or revoked token is
/// [`Identity::Rejected`], not an error.
pub async fn identify(
    store: &dyn Store,
    bearer: Option<&str>,
    chat: Option<TelegramChatId>,
) -> Result<Identity, StoreError> {
    let Some(secret) = bearer else {
        return Ok(Identity::Anonymous);
    };
    let token = match store.api_token(&TokenHash::of(secret)).await? {
        Some(token) if !token.revoked => token,
        _ => return Ok(Identity::Rejected),
    };
    let ApiToken {
        id, role, label, ..
    } = token;
    Ok(match role {
        TokenRole::Admin => Identity::Admin { token: id, label },
        TokenRole::Validator { rounds } => Identity::Validator {
            token: id,
            label,
            rounds,
        },
        TokenRole::Bot => {
            let person = match chat {
                Some(chat) => store.person_by_chat(chat).await?,
                None => None,
            };
            Identity::Bot {
                token: id,
                chat,
                person,
            }
        }
    })
}

impl Identity {
    /// Any valid token.
    ///
    /// # Errors
    /// [`AccessError::Unauthenticated`] without one.
    pub fn require_any(&self) -> Result<(), AccessError> {
        match self {
            Self::Anonymous | Self::Rejected => Err(AccessError::Unauthenticated),
            _ => Ok(()),
        }
    }

    /// An administrator.
    ///
    /// # Errors
    /// Unauthenticated or forbidden.
    pub fn require_admin(&self) -> Result<TokenId, AccessError> {
        self.require_any()?;
        match self {
            Self::Admin { token, .. } => Ok(token.clone()),
            _ => Err(AccessError::Forbidden),
        }
    }

    /// An administrator, or a validator with `round` in scope.
    ///
    /// # Errors
    /// Unauthenticated or forbidden.
    pub fn require_round_reader(&self, round: &RoundId) -> Result<(), AccessError> {
        self.require_any()?;
        match self {
            Self::Admin { .. } => Ok(()),
            Self::Validator { rounds, .. } if rounds.contains(round) => Ok(()),
            _ => Err(AccessError::Forbidden),
        }
    }

    /// The bot, whatever chat the request names.
    ///
    /// # Errors
    /// Unauthenticated, or forbidden for any other token.
    pub fn require_bot(&self) -> Result<(), AccessError> {
        self.require_any()?;
        match self {
            Self::Bot { .. } => Ok(()),
            _ => Err(AccessError::Forbidden),
        }
    }

    /// The chat the bot names in the request, linked or not (to link it).
    ///
    /// # Errors
    /// Unauthenticated; forbidden for any other token or when no chat is named.
    pub fn require_bot_chat(&self) -> Result<TelegramChatId, AccessError> {
        self.require_any()?;
        match self {
            Self::Bot {
                chat: Some(chat), ..
            } => Ok(*chat),
            _ => Err(AccessError::Forbidden),
        }
    }

    /// Who may record validations in `round`: an administrator, or a validator with the
    /// round in scope. Returns them as the validator the records name (their token and
    /// its label).
    ///
    /// # Errors
    /// Unauthenticated or forbidden.
    pub fn require_validator_of(&self, round: &RoundId) -> Result<Validator, AccessError> {
        self.require_round_reader(round)?;
        match self {
            Self::Admin { token, label } | Self::Validator { token, label, .. } => Ok(Validator {
                actor: Actor::Token(token.clone()),
                label: label.clone(),
            }),
            _ => Err(AccessError::Forbidden),
        }
    }

    /// The person the bot acts for.
    ///
    /// # Errors
    /// Unauthenticated, or forbidden when this is not the bot acting for a linked chat.
    pub fn require_bot_person(&self) -> Result<&Person, AccessError> {
        self.require_any()?;
        match self {
            Self::Bot {
                person: Some(person),
                ..
            } => Ok(person),
            _ => Err(AccessError::Forbidden),
        }
    }

    /// Who may change a response, as the actor recorded in its events: an administrator
    /// (as their token), or the bot for the person who owns the response (the
    /// respondent of a per-person response; a focal point of the organisation for its
    /// consolidated response).
    ///
    /// # Errors
    /// Unauthenticated or forbidden; a store error while checking assignments.
    pub async fn require_answerer(
        &self,
        store: &dyn Store,
        key: &ResponseKey,
    ) -> Result<Actor, AccessError> {
        self.require_any()?;
        match self {
            Self::Admin { token, .. } => Ok(Actor::Token(token.clone())),
            Self::Bot {
                person: Some(person),
                ..
            } => {
                if owns(store, person, key).await? {
                    Ok(Actor::Person(person.id.clone()))
                } else {
                    Err(AccessError::Forbidden)
                }
            }
            _ => Err(AccessError::Forbidden),
        }
    }

    /// Who may read a response: whoever may change it, and validators of its round.
    ///
    /// # Errors
    /// Unauthenticated or forbidden.
    pub async fn require_response_reader(
        &self,
        store: &dyn Store,
        key: &ResponseKey,
    ) -> Result<(), AccessError> {
        if let Self::Validator { rounds, .. } = self
            && rounds.contains(&key.round)
        {
            return Ok(());
        }
        self.require_answerer(store, key).await.map(|_| ())
    }
}

/// Whether `person` owns the response `key`: it is their own response and they are
/// assigned to the organisation in the round, or it is the organisation's consolidated
/// response and they are one of its focal points in the round.
///
/// # Errors
/// A store error while reading assignments.
pub async fn owns(
    store: &dyn Store,
    person: &Person,
    key: &ResponseKey,
) -> Result<bool, StoreError> {
    if let Respondent::Person(id) = &key.respondent
        && id != &person.id
    {
        return Ok(false);
    }
    let organisation: &OrganisationId = &key.organisation;
    let mine = store
        .assignments_of(&key.round, organisation, &person.id)
        .await?;
    Ok(match &key.respondent {
        Respondent::Person(_) => !mine.is_empty(),
        Respondent::Organisation => mine.iter().any(|a| a.role == Role::FocalPoint),
    })
}

/// A new random token secret: 32 bytes (256 bits) from the operating system, hex.
///
/// # Errors
/// When the operating system has no randomness to give.
pub fn new_secret() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(crate::domain::lower_hex(&bytes))
}
