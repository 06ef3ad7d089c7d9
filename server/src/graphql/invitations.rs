//! Invitations by email over GraphQL: `inviteByEmail`, for administrators.
//!
//! Transport only: checks access, parses ids, calls `service::invitations::invite`, and
//! reports who was invited to which response. The links themselves are never returned:
//! they exist only in the emails.

use async_graphql::{Context, InputObject, Object, SimpleObject};

use super::answering::ResponseRefInput;
use super::error::{Code, GqlError};
use super::request;
use crate::domain::{Actor, LinkBinding, OrganisationId, PersonId, Respondent, RoundId, Timestamp};
use crate::service::invitations::{self, InviteError, Sent};
use crate::service::links;

impl From<InviteError> for GqlError {
    fn from(error: InviteError) -> Self {
        match error {
            InviteError::UnknownRound(_) => Self::not_found(error.to_string()),
            InviteError::NotInRound(_) => Self::bad_input(error.to_string()),
            InviteError::Closed(_) => Self::new(Code::Conflict, error.to_string()),
            InviteError::Store(store) => store.into(),
            InviteError::Link(_) | InviteError::Telegram(_) => Self::internal(&error),
        }
    }
}

/// The invitations mutation.
#[derive(Default)]
pub struct InvitationsMutation;

/// Whom to invite.
#[derive(InputObject, Debug)]
pub struct InviteByEmailInput {
    /// The round; it must be draft or open.
    pub round_id: String,
    /// Only the people assigned for this organisation; every organisation of the round
    /// when absent.
    pub organisation_id: Option<String>,
}

/// One invitation.
#[derive(SimpleObject, Debug)]
pub struct Invitation {
    /// The person invited.
    pub person_id: String,
    /// The organisation they answer for.
    pub organisation_id: String,
    /// The id of the response their personal link opens.
    pub response_id: String,
}

/// What `inviteByEmail` did.
#[derive(SimpleObject, Debug)]
pub struct InviteByEmailPayload {
    /// The invitations sent, each with a new personal link.
    pub sent: Vec<Invitation>,
    /// The invitations that could not be sent (their links were revoked); the server log
    /// says why.
    pub failed: Vec<Invitation>,
}

fn invitation(sent: Sent) -> Invitation {
    Invitation {
        person_id: sent.assignment.person.to_string(),
        organisation_id: sent.assignment.organisation.to_string(),
        response_id: sent.response.id().to_string(),
    }
}

/// Whose links to revoke.
#[derive(InputObject, Debug)]
pub struct RevokeLinksInput {
    /// The response the links open.
    pub response: ResponseRefInput,
    /// The person the links were sent to; for a per-respondent response (the outcome
    /// protocol, learning sets) it defaults to the respondent, and must be given for an
    /// organisation's consolidated response (the stage questionnaire).
    pub person_id: Option<String>,
}

/// What `revokeLinks` did.
#[derive(SimpleObject, Debug)]
pub struct RevokeLinksPayload {
    /// How many links were still usable and are now revoked (0 when none was).
    pub revoked: i32,
}

#[Object]
impl InvitationsMutation {
    /// Revokes every personal link sent to one person for one response — for a forwarded or lost email. Pages opened with those links stop working at their next request; answers already saved stay. Recorded in the round's audit log. Send a new link with `inviteByEmail`. Administrators only. NOT_FOUND for an unknown round, BAD_USER_INPUT for malformed ids or a consolidated response without `personId`.
    async fn revoke_links(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Whose links to revoke.")] input: RevokeLinksInput,
    ) -> async_graphql::Result<RevokeLinksPayload> {
        let context = request(ctx)?;
        let admin = context.identity.require_admin().map_err(GqlError::from)?;
        let response = input.response.key()?;
        let person = match (&input.person_id, &response.respondent) {
            (Some(person), _) => {
                PersonId::parse(person).map_err(|error| GqlError::bad_input(error.to_string()))?
            }
            (None, Respondent::Person(person)) => person.clone(),
            (None, Respondent::Organisation) => {
                return Err(GqlError::bad_input(
                    "personId is needed for an organisation's consolidated response",
                )
                .into());
            }
        };
        let state = &context.state;
        if state
            .store
            .round(&response.round)
            .await
            .map_err(GqlError::from)?
            .is_none()
        {
            return Err(GqlError::not_found(format!("no round {}", response.round)).into());
        }
        let binding = LinkBinding { response, person };
        let revoked = links::revoke_all(
            state.store.as_ref(),
            &binding,
            &Actor::Token(admin),
            Timestamp::now(),
        )
        .await
        .map_err(|error| match error {
            links::LinkError::Store(store) => GqlError::from(store),
            other => GqlError::internal(&other),
        })?;
        tracing::info!(
            response = %binding.response.id(),
            person = %binding.person,
            revoked,
            "personal links revoked"
        );
        Ok(RevokeLinksPayload {
            revoked: i32::try_from(revoked).unwrap_or(i32::MAX),
        })
    }

    /// Emails each person assigned in the round (or in one of its organisations) a new personal link per response they answer: a text and an HTML part, the instrument in the subject, the round's deadline, from the configured sender with the configured reply-to; when `telegram.bot_username` is set, people whose chat is not linked also get a Telegram deep link with a one-time linking code. Administrators only. NOT_FOUND for an unknown round, BAD_USER_INPUT for an organisation outside it, CONFLICT when the round is closed. Sending again sends new links; earlier ones keep working.
    async fn invite_by_email(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Whom to invite.")] input: InviteByEmailInput,
    ) -> async_graphql::Result<InviteByEmailPayload> {
        let context = request(ctx)?;
        context.identity.require_admin().map_err(GqlError::from)?;
        let round = RoundId::parse(&input.round_id)
            .map_err(|error| GqlError::bad_input(error.to_string()))?;
        let organisation = input
            .organisation_id
            .as_deref()
            .map(OrganisationId::parse)
            .transpose()
            .map_err(|error| GqlError::bad_input(error.to_string()))?;
        let state = &context.state;
        let report = invitations::invite(
            state.store.as_ref(),
            &state.catalogue,
            &state.mailer,
            &state.settings.settings.server.public_base_url,
            &state.settings.settings.telegram,
            &round,
            organisation.as_ref(),
            Timestamp::now(),
        )
        .await
        .map_err(GqlError::from)?;
        Ok(InviteByEmailPayload {
            sent: report.sent.into_iter().map(invitation).collect(),
            failed: report.failed.into_iter().map(invitation).collect(),
        })
    }
}
