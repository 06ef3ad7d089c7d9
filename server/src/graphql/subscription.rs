//! Live events of a round over graphql-ws.

use async_graphql::Subscription;
use futures_util::Stream;

/// The events part of `Subscription`.
#[derive(Debug, Default)]
pub struct EventsSubscription;

#[Subscription]
impl EventsSubscription {
    /// Placeholder until the events area lands.
    async fn placeholder_events(&self) -> impl Stream<Item = bool> {
        futures_util::stream::empty()
    }
}
