//! Live round events (answer saved, response submitted or reopened, round status
//! changed), published after the store has acknowledged the change and delivered to
//! `roundEvents` subscribers. In-process on redb; the Redis bus carries them between
//! server instances.
//!
//! Events are notifications, not the record: a subscriber that misses one (slow, or
//! reconnecting) re-reads the store. Publishing never fails a request.

use std::fmt;
use std::pin::Pin;

use futures_util::Stream;
use tokio::sync::broadcast;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::BroadcastStream;

use crate::domain::{Channel, ResponseId, RoundId, RoundStatus, Timestamp};

/// What happened in a round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoundEvent {
    /// Answers were saved (or cleared) in a response.
    AnswersSaved {
        /// The response.
        response: ResponseId,
        /// The questions changed.
        questions: Vec<String>,
        /// Seq of the last event recorded.
        seq: u64,
        /// Through which channel.
        channel: Channel,
        /// When.
        at: Timestamp,
    },
    /// A response was submitted.
    ResponseSubmitted {
        /// The response.
        response: ResponseId,
        /// When.
        at: Timestamp,
    },
    /// A submitted response was reopened.
    ResponseReopened {
        /// The response.
        response: ResponseId,
        /// When.
        at: Timestamp,
    },
    /// The round's status changed.
    RoundStatusChanged {
        /// The new status.
        status: RoundStatus,
        /// When.
        at: Timestamp,
    },
}

/// A stream of events of one round.
pub type EventStream = Pin<Box<dyn Stream<Item = RoundEvent> + Send>>;

/// Publishes and subscribes to round events.
#[async_trait::async_trait]
pub trait EventBus: Send + Sync + fmt::Debug {
    /// Publishes an event of `round` to every subscriber of every instance. Failures are
    /// logged, never returned: the change is already stored.
    async fn publish(&self, round: &RoundId, event: RoundEvent);
    /// The events of `round` from now on.
    fn subscribe(&self, round: &RoundId) -> EventStream;
}

/// Capacity of the in-process channel; a subscriber lagging further loses the oldest
/// events (and can re-read the store).
const CAPACITY: usize = 1024;

/// Delivery within one server process.
#[derive(Debug, Clone)]
pub struct InProcessBus {
    sender: broadcast::Sender<(RoundId, RoundEvent)>,
}

impl Default for InProcessBus {
    fn default() -> Self {
        let (sender, _) = broadcast::channel(CAPACITY);
        Self { sender }
    }
}

impl InProcessBus {
    /// Delivers an event to this process's subscribers.
    pub fn deliver(&self, round: &RoundId, event: RoundEvent) {
        // No subscriber is not an error.
        let _ = self.sender.send((round.clone(), event));
    }
}

#[async_trait::async_trait]
impl EventBus for InProcessBus {
    async fn publish(&self, round: &RoundId, event: RoundEvent) {
        self.deliver(round, event);
    }

    fn subscribe(&self, round: &RoundId) -> EventStream {
        let round = round.clone();
        Box::pin(
            BroadcastStream::new(self.sender.subscribe()).filter_map(move |item| match item {
                Ok((event_round, event)) if event_round == round => Some(event),
                _ => None,
            }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn subscribers_get_their_round_only() {
        let bus = InProcessBus::default();
        let round = RoundId::parse("r-1").expect("id");
        let other = RoundId::parse("r-2").expect("id");
        let mut stream = bus.subscribe(&round);
        let event = RoundEvent::RoundStatusChanged {
            status: RoundStatus::Open,
            at: Timestamp::from_millis(1),
        };
        bus.publish(&other, event.clone()).await;
        bus.publish(&round, event.clone()).await;
        assert_eq!(stream.next().await, Some(event));
    }
}
