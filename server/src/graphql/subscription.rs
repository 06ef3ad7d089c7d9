//! Live events of a round over graphql-ws (`GET /graphql/ws`): `roundEvents`.
//!
//! Transport only: the resolver checks access when the subscription starts, then maps
//! the event bus's stream to GraphQL objects. Events are notifications, not the record:
//! a client that reconnects re-reads what it shows through queries. Nothing here reads
//! the store or decides what is published.

use async_graphql::{Context, Enum, SimpleObject, Subscription};
use futures_util::{Stream, StreamExt};

use crate::domain::RoundId;
use crate::events::RoundEvent;
use crate::graphql::admin::RoundStatus;
use crate::graphql::answering::ChannelValue;
use crate::graphql::error::GqlError;
use crate::graphql::request;

/// The events part of `Subscription`.
#[derive(Debug, Default)]
pub struct EventsSubscription;

#[Subscription]
impl EventsSubscription {
    /// What happens in a round from now on: answers saved, responses submitted or
    /// reopened, the round's status changed. For an administrator, or a validator with
    /// the round in scope; others get `UNAUTHENTICATED` or `FORBIDDEN` and the stream
    /// ends. Events are notifications: one missed while disconnected is not replayed, so
    /// a client that reconnects re-reads the round through queries. Access is checked
    /// when the subscription starts. A round that does not exist is `NOT_FOUND`.
    async fn round_events(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The round's id, e.g. `jiu-rbm-2026`.")] round_id: String,
    ) -> async_graphql::Result<impl Stream<Item = RoundEventObject>> {
        let request = request(ctx)?;
        // Who asks comes first: an anonymous caller learns nothing about ids.
        request.identity.require_any().map_err(GqlError::from)?;
        let round = RoundId::parse(&round_id).map_err(GqlError::from)?;
        request
            .identity
            .require_round_reader(&round)
            .map_err(GqlError::from)?;
        if crate::service::admin::round(request.state.store.as_ref(), &round)
            .await
            .map_err(GqlError::from)?
            .is_none()
        {
            return Err(GqlError::not_found(format!("there is no round `{round}`")).into());
        }
        let events = request.state.events.subscribe(&round);
        Ok(events.map(move |event| RoundEventObject::new(&round, event)))
    }
}

/// What kind of thing happened in a round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum RoundEventKind {
    /// Answers were saved or cleared in a response.
    AnswersSaved,
    /// A response was submitted.
    ResponseSubmitted,
    /// A submitted response was reopened for changes.
    ResponseReopened,
    /// The round moved to another status.
    RoundStatusChanged,
}

/// Something that happened in a round, announced live to `roundEvents` subscribers.
/// Which fields are set depends on `kind`; the others are null.
#[derive(Debug, Clone, SimpleObject)]
#[graphql(name = "RoundEvent")]
pub struct RoundEventObject {
    /// What happened.
    pub kind: RoundEventKind,
    /// The round it happened in.
    pub round_id: String,
    /// The response concerned, as
    /// `<round>/<organisation>/<instrument>@<version>[/~<person>]`; set for
    /// `ANSWERS_SAVED`, `RESPONSE_SUBMITTED` and `RESPONSE_REOPENED`.
    pub response_id: Option<String>,
    /// The questions whose answers were set or cleared; set for `ANSWERS_SAVED`.
    pub question_ids: Option<Vec<String>>,
    /// The position in the response's history of the last event the save recorded; set
    /// for `ANSWERS_SAVED`. A client that has seen a higher seq of the same response can
    /// ignore the event.
    pub seq: Option<u64>,
    /// Through which channel the answers came; set for `ANSWERS_SAVED`.
    pub channel: Option<ChannelValue>,
    /// The round's new status; set for `ROUND_STATUS_CHANGED`.
    pub status: Option<RoundStatus>,
    /// When it happened, RFC 3339 in UTC.
    pub at: String,
}

impl RoundEventObject {
    fn new(round: &RoundId, event: RoundEvent) -> Self {
        let mut object = Self {
            kind: RoundEventKind::AnswersSaved,
            round_id: round.to_string(),
            response_id: None,
            question_ids: None,
            seq: None,
            channel: None,
            status: None,
            at: String::new(),
        };
        match event {
            RoundEvent::AnswersSaved {
                response,
                questions,
                seq,
                channel,
                at,
            } => {
                object.response_id = Some(response.to_string());
                object.question_ids = Some(questions);
                object.seq = Some(seq);
                object.channel = Some(channel.into());
                object.at = at.to_rfc3339();
            }
            RoundEvent::ResponseSubmitted { response, at } => {
                object.kind = RoundEventKind::ResponseSubmitted;
                object.response_id = Some(response.to_string());
                object.at = at.to_rfc3339();
            }
            RoundEvent::ResponseReopened { response, at } => {
                object.kind = RoundEventKind::ResponseReopened;
                object.response_id = Some(response.to_string());
                object.at = at.to_rfc3339();
            }
            RoundEvent::RoundStatusChanged { status, at } => {
                object.kind = RoundEventKind::RoundStatusChanged;
                object.status = Some(status.into());
                object.at = at.to_rfc3339();
            }
        }
        object
    }
}
