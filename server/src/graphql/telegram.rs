//! Telegram over GraphQL: administrators issue one-time linking codes; the bot links and
//! unlinks the chat it names (header `X-Stagewise-Telegram-Chat`), records the updates it
//! has handled so that a redelivered update is handled once, and reads what the linked
//! person answers.
//!
//! Transport only: the `telegram` service does the work, `service::access` decides who
//! may call. A code is returned once, here, and is never logged.

use async_graphql::{Context, InputObject, Object, SimpleObject};

use crate::domain::{Person as DomainPerson, Timestamp};
use crate::graphql::admin::{Person, RoundResponseProgress};
use crate::graphql::error::{Code, GqlError};
use crate::graphql::request;
use crate::service::telegram::{self, PersonResponse, TelegramError};

impl From<TelegramError> for GqlError {
    fn from(error: TelegramError) -> Self {
        match error {
            TelegramError::UnknownPerson(_) => Self::not_found(error.to_string()),
            TelegramError::Id(id) => id.into(),
            TelegramError::InvalidCode => Self::not_found(error.to_string()),
            TelegramError::Randomness(_) => Self::internal(&error),
            TelegramError::Store(store) => store.into(),
        }
    }
}

/// A person to make a Telegram linking code for.
#[derive(Debug, Clone, InputObject)]
pub struct CreateTelegramLinkCodeInput {
    /// The person's id, e.g. `p-3f9a2c1b0d4e`.
    pub person_id: String,
}

/// A one-time Telegram linking code, shown only in this answer.
#[derive(Debug, Clone, SimpleObject)]
pub struct CreateTelegramLinkCodePayload {
    /// The code (32 hex characters). The person sends `/start <code>` to the bot, or opens
    /// `deepLink`; it works once, until `expiresAt`. Only its hash is stored.
    pub code: String,
    /// When the code stops working (RFC 3339, UTC).
    pub expires_at: String,
    /// `https://t.me/<bot>?start=<code>`, or null when the server has no
    /// `telegram.bot_username` configured.
    pub deep_link: Option<String>,
    /// The person the code links a chat to.
    pub person: Person,
}

/// A code to link the chat named in the request with.
#[derive(Debug, Clone, InputObject)]
pub struct LinkTelegramChatInput {
    /// The code the person sent to the bot.
    pub code: String,
}

/// The chat's link after a change.
#[derive(Debug, Clone, SimpleObject)]
pub struct TelegramLinkPayload {
    /// The person's id.
    pub person_id: String,
    /// The person's name.
    pub name: String,
    /// Whether the chat is linked to the person now.
    pub linked: bool,
}

impl TelegramLinkPayload {
    fn of(person: &DomainPerson) -> Self {
        Self {
            person_id: person.id.to_string(),
            name: person.name.clone(),
            linked: person.telegram_chat.is_some(),
        }
    }
}

/// A response the linked person answers or edits, in an open round.
#[derive(Debug, Clone, SimpleObject)]
pub struct TelegramResponse {
    /// The round's id; with `progress.organisationId`, `progress.instrument` and
    /// `progress.personId` it makes the `ResponseRefInput` of the response.
    pub round_id: String,
    /// The round's title.
    pub round_title: String,
    /// When answering is due (RFC 3339, UTC), if a deadline is set.
    pub deadline: Option<String>,
    /// The instrument's title.
    pub instrument_title: String,
    /// How far the response is, by pillar for the stage questionnaire.
    pub progress: RoundResponseProgress,
}

/// The person a Telegram chat is linked to, as the bot sees them.
#[derive(Debug, Clone, SimpleObject)]
pub struct TelegramMe {
    /// The person's id.
    pub person_id: String,
    /// The person's name.
    pub name: String,
    /// What they answer or edit in open rounds, by round id then assignment.
    pub responses: Vec<TelegramResponse>,
}

/// The Telegram part of `Query`.
#[derive(Debug, Default)]
pub struct TelegramQuery;

#[Object]
impl TelegramQuery {
    /// The person the chat named in the request is linked to, with the responses they
    /// answer in open rounds. The bot only; FORBIDDEN when the chat is not linked.
    async fn telegram_me(&self, ctx: &Context<'_>) -> async_graphql::Result<TelegramMe> {
        let request = request(ctx)?;
        let person = request
            .identity
            .require_bot_person()
            .map_err(GqlError::from)?;
        let catalogue = &request.state.catalogue;
        let responses = telegram::responses_of(request.state.store.as_ref(), catalogue, person)
            .await
            .map_err(GqlError::from)?;
        Ok(TelegramMe {
            person_id: person.id.to_string(),
            name: person.name.clone(),
            responses: responses
                .into_iter()
                .map(|r: PersonResponse| {
                    let reference = &r.progress.key.instrument;
                    let instrument_title = catalogue
                        .get(&reference.id, reference.version)
                        .map(|i| i.header().title.as_str().to_owned())
                        .unwrap_or_else(|| reference.to_string());
                    TelegramResponse {
                        round_id: r.progress.key.round.to_string(),
                        round_title: r.round_title,
                        deadline: r.deadline.map(Timestamp::to_rfc3339),
                        instrument_title,
                        progress: r.progress.into(),
                    }
                })
                .collect(),
        })
    }
}

/// The Telegram part of `Mutation`.
#[derive(Debug, Default)]
pub struct TelegramMutation;

#[Object]
impl TelegramMutation {
    /// Makes a one-time code that links a Telegram chat to a person (administrators).
    /// The code is shown only here; it works once, until it expires
    /// (`telegram.link_code_ttl_secs`). NOT_FOUND for an unknown person.
    async fn create_telegram_link_code(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The person.")] input: CreateTelegramLinkCodeInput,
    ) -> async_graphql::Result<CreateTelegramLinkCodePayload> {
        let request = request(ctx)?;
        request.identity.require_admin().map_err(GqlError::from)?;
        let settings = &request.state.settings.settings.telegram;
        let ttl_millis = telegram::code_ttl_millis(settings);
        let store = request.state.store.as_ref();
        let issued =
            telegram::issue_link_code(store, &input.person_id, Timestamp::now(), ttl_millis)
                .await
                .map_err(GqlError::from)?;
        let person = store
            .person(&issued.stored.person)
            .await
            .map_err(GqlError::from)?
            .ok_or_else(|| GqlError::not_found("the person is gone"))?;
        Ok(CreateTelegramLinkCodePayload {
            deep_link: telegram::bot_username(settings)
                .map(|username| telegram::deep_link(username, &issued.code)),
            code: issued.code,
            expires_at: issued.stored.expires_at.to_rfc3339(),
            person: Person(person),
        })
    }

    /// Links the chat named in the request to the person a linking code was made for,
    /// using the code up; the chat is unlinked from anyone it was linked to before. The
    /// bot only. NOT_FOUND for a code that is unknown, used or expired (one answer for
    /// all three).
    async fn link_telegram_chat(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The code.")] input: LinkTelegramChatInput,
    ) -> async_graphql::Result<TelegramLinkPayload> {
        let request = request(ctx)?;
        let chat = request
            .identity
            .require_bot_chat()
            .map_err(GqlError::from)?;
        let person = telegram::link_chat(
            request.state.store.as_ref(),
            &input.code,
            chat,
            Timestamp::now(),
        )
        .await
        .map_err(GqlError::from)?;
        Ok(TelegramLinkPayload::of(&person))
    }

    /// Unlinks the chat named in the request from its person; the bot no longer acts for
    /// them until they link again with a new code. The bot only; FORBIDDEN when the
    /// chat is not linked.
    async fn unlink_telegram_chat(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<TelegramLinkPayload> {
        let request = request(ctx)?;
        let person = request
            .identity
            .require_bot_person()
            .map_err(GqlError::from)?;
        let person = telegram::unlink_chat(request.state.store.as_ref(), person)
            .await
            .map_err(GqlError::from)?;
        Ok(TelegramLinkPayload::of(&person))
    }

    /// Records that the bot is handling a Telegram update: true the first time this
    /// update id is seen, false when Telegram delivers it again (within 48 hours), in
    /// which case the bot drops it. The bot only.
    async fn mark_telegram_update(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Telegram's `update_id`.")] update_id: i64,
    ) -> async_graphql::Result<bool> {
        let request = request(ctx)?;
        request.identity.require_bot().map_err(GqlError::from)?;
        if update_id < 0 {
            return Err(GqlError::new(Code::BadUserInput, "an update id is not negative").into());
        }
        Ok(
            telegram::mark_update(request.state.store.as_ref(), update_id, Timestamp::now())
                .await
                .map_err(GqlError::from)?,
        )
    }
}
