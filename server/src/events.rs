//! Live round events (answer saved, response submitted or reopened, round status
//! changed), published after the store has acknowledged the change and delivered to
//! `roundEvents` subscribers. In-process on redb ([`InProcessBus`]); on Redis,
//! [`RedisBus`] carries them between server instances over Redis pub/sub.
//!
//! Events are notifications, not the record: a subscriber that misses one (slow, or
//! reconnecting) re-reads the store. Publishing never fails a request. This module holds
//! no rule and reads no store; it must never carry answer values or secrets.

use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::Stream;
use redis::aio::{ConnectionManager, ConnectionManagerConfig, PubSub};
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc, watch};
use tokio::task::JoinHandle;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::BroadcastStream;

use crate::domain::{Channel, ResponseId, ResponseKey, RoundId, RoundStatus, Timestamp};

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
    /// Stops the bus when the server stops: every subscription stream ends and any
    /// background task is awaited, so none outlives the server. Later publishes are
    /// delivered to nobody.
    async fn close(&self) {}
}

/// Capacity of the in-process channel; a subscriber lagging further loses the oldest
/// events (and can re-read the store).
const CAPACITY: usize = 1024;

/// Delivery within one server process.
#[derive(Debug, Clone)]
pub struct InProcessBus {
    sender: broadcast::Sender<(RoundId, RoundEvent)>,
    /// Set once by [`EventBus::close`]; ends every subscription stream.
    closed: Arc<watch::Sender<bool>>,
}

impl Default for InProcessBus {
    fn default() -> Self {
        let (sender, _) = broadcast::channel(CAPACITY);
        let (closed, _) = watch::channel(false);
        Self {
            sender,
            closed: Arc::new(closed),
        }
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
        let mut closed = self.closed.subscribe();
        let events =
            BroadcastStream::new(self.sender.subscribe()).filter_map(move |item| match item {
                Ok((event_round, event)) if event_round == round => Some(event),
                _ => None,
            });
        Box::pin(futures_util::StreamExt::take_until(events, async move {
            // Ends on close, and also if the bus itself is gone.
            let _ = closed.wait_for(|closed| *closed).await;
        }))
    }

    async fn close(&self) {
        self.closed.send_replace(true);
    }
}

/// How long one pipeline of `PUBLISH`es may take before it is given up (and logged).
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(2);

/// Events waiting to be published to Redis; when the queue is full (Redis stalled for a
/// while under load), further events are delivered locally only, and a warning says so.
const PUBLISH_QUEUE: usize = 4096;

/// Most events taken from the queue for one pipeline; the events of one round among
/// them go out as one message.
const PUBLISH_BATCH: usize = 256;

/// First pause before reconnecting the pub/sub connection; doubled after every failed
/// attempt up to [`MAX_BACKOFF`], and reset once a connection is subscribed.
const MIN_BACKOFF: Duration = Duration::from_millis(100);

/// Longest pause between two attempts to reconnect the pub/sub connection.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// How often the listener pings its pub/sub connection to notice a silent failure.
const CHECK_INTERVAL: Duration = Duration::from_secs(30);

/// How long connecting and subscribing, or one ping, may take before the pub/sub
/// connection is given up and made again.
const REDIS_TIMEOUT: Duration = Duration::from_secs(5);

/// Version of the [`WireMessage`]s sent: 2, events in a list. Version 1 (one `event`,
/// sent by instances before 2026-11-23) is still understood, so that instances hear each
/// other while they are upgraded one by one; any other version is dropped, never guessed.
const WIRE_VERSION: u32 = 2;

/// Round events as sent on Redis pub/sub: ids, names and numbers only — never an answer
/// value, a token or anything secret. The round is the channel's suffix.
#[derive(Debug, Serialize, Deserialize)]
struct WireMessage {
    /// [`WIRE_VERSION`] (or 1).
    v: u32,
    /// The publishing instance, which skips its own messages (it delivered them locally
    /// already).
    from: String,
    /// Version 1: the one event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    event: Option<WireEvent>,
    /// Version 2: the events, in the order they happened.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    events: Vec<WireEvent>,
}

impl WireMessage {
    /// The events of a message of a version this instance understands.
    fn into_events(self) -> Option<Vec<WireEvent>> {
        match self.v {
            1 => self.event.map(|event| vec![event]),
            WIRE_VERSION => Some(self.events),
            _ => None,
        }
    }
}

/// The messages for a batch of queued events: one per round, holding that round's events
/// in the order they were queued; rounds in the order of their first event.
fn messages(instance: &str, batch: Vec<(String, WireEvent)>) -> Vec<(String, WireMessage)> {
    let mut messages: Vec<(String, WireMessage)> = Vec::new();
    for (channel, event) in batch {
        match messages.iter_mut().find(|(name, _)| *name == channel) {
            Some((_, message)) => message.events.push(event),
            None => messages.push((
                channel,
                WireMessage {
                    v: WIRE_VERSION,
                    from: instance.to_owned(),
                    event: None,
                    events: vec![event],
                },
            )),
        }
    }
    messages
}

/// The event of a [`WireMessage`]; times in milliseconds since the epoch.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
enum WireEvent {
    AnswersSaved {
        response: String,
        questions: Vec<String>,
        seq: u64,
        channel: String,
        at: i64,
    },
    ResponseSubmitted {
        response: String,
        at: i64,
    },
    ResponseReopened {
        response: String,
        at: i64,
    },
    RoundStatusChanged {
        status: String,
        at: i64,
    },
}

impl From<&RoundEvent> for WireEvent {
    fn from(event: &RoundEvent) -> Self {
        match event {
            RoundEvent::AnswersSaved {
                response,
                questions,
                seq,
                channel,
                at,
            } => Self::AnswersSaved {
                response: response.to_string(),
                questions: questions.clone(),
                seq: *seq,
                channel: channel.as_str().to_owned(),
                at: at.millis(),
            },
            RoundEvent::ResponseSubmitted { response, at } => Self::ResponseSubmitted {
                response: response.to_string(),
                at: at.millis(),
            },
            RoundEvent::ResponseReopened { response, at } => Self::ResponseReopened {
                response: response.to_string(),
                at: at.millis(),
            },
            RoundEvent::RoundStatusChanged { status, at } => Self::RoundStatusChanged {
                status: status.as_str().to_owned(),
                at: at.millis(),
            },
        }
    }
}

impl WireEvent {
    /// The domain event, if every id and name in the message is valid for `round`.
    fn into_event(self, round: &RoundId) -> Option<RoundEvent> {
        // A response of another round on this round's channel is dropped as malformed.
        let response = |id: &str| {
            ResponseKey::parse(id)
                .filter(|key| &key.round == round)
                .map(|key| key.id())
        };
        Some(match self {
            Self::AnswersSaved {
                response: id,
                questions,
                seq,
                channel,
                at,
            } => RoundEvent::AnswersSaved {
                response: response(&id)?,
                questions,
                seq,
                channel: Channel::parse(&channel)?,
                at: Timestamp::from_millis(at),
            },
            Self::ResponseSubmitted { response: id, at } => RoundEvent::ResponseSubmitted {
                response: response(&id)?,
                at: Timestamp::from_millis(at),
            },
            Self::ResponseReopened { response: id, at } => RoundEvent::ResponseReopened {
                response: response(&id)?,
                at: Timestamp::from_millis(at),
            },
            Self::RoundStatusChanged { status, at } => RoundEvent::RoundStatusChanged {
                status: RoundStatus::parse(&status)?,
                at: Timestamp::from_millis(at),
            },
        })
    }
}

/// Channel names of one key prefix: `<prefix>:events:<round id>`.
#[derive(Debug, Clone)]
struct Channels {
    /// `<prefix>:events:`.
    stem: String,
}

impl Channels {
    fn new(prefix: &str) -> Self {
        Self {
            stem: format!("{prefix}:events:"),
        }
    }

    /// The channel of `round`.
    fn of(&self, round: &RoundId) -> String {
        format!("{}{round}", self.stem)
    }

    /// The pattern matching every round's channel. The prefix holds no glob character
    /// (`[a-z0-9-_:]` only), so it matches itself literally.
    fn pattern(&self) -> String {
        format!("{}*", self.stem)
    }

    /// The round a channel belongs to.
    fn round(&self, channel: &str) -> Option<RoundId> {
        RoundId::parse(channel.strip_prefix(&self.stem)?).ok()
    }
}

/// Why the Redis bus could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The key prefix is not one the store accepts.
    #[error("invalid redis key prefix {0:?}")]
    InvalidPrefix(String),
    /// The operating system gave no randomness for the instance id.
    #[error("no randomness for the instance id")]
    Random(#[source] getrandom::Error),
    /// Redis could not be reached or refused the subscription. The client's errors name
    /// what is wrong, never the URL.
    #[error("cannot reach redis for events")]
    Redis(#[source] redis::RedisError),
}

/// Delivery across server instances through Redis pub/sub.
///
/// [`EventBus::publish`] delivers to this instance's subscribers at once and queues the
/// event for Redis. A publisher task takes what is queued (up to [`PUBLISH_BATCH`]
/// events) and `PUBLISH`es the events of each round as one small JSON message on
/// `<prefix>:events:<round>`, tagged with this instance's random id, pipelined on one
/// connection; under load one message carries many events, which spares Redis and every
/// instance a message per saved answer. A request never waits for Redis to hear of its
/// change (it is already stored); [`EventBus::close`] sends what is still queued before
/// it returns. One background task per instance holds a dedicated pub/sub
/// connection, `PSUBSCRIBE`d to `<prefix>:events:*`, and forwards every message from
/// *another* instance into the local [`InProcessBus`] that subscribers read; its own
/// messages it skips, so each event reaches each subscriber once.
///
/// On a Redis Cluster it works unchanged on the node of the configured URL: a cluster
/// forwards every `PUBLISH` (classic pub/sub, not sharded) to all its nodes, so
/// instances connected to different nodes hear each other.
///
/// Redis pub/sub is fire-and-forget: a message published while the listener is
/// disconnected (or reconnecting) is lost for that instance. That is acceptable because
/// events are notifications, not the record: a subscriber that was disconnected re-reads
/// the store.
pub struct RedisBus {
    local: InProcessBus,
    channels: Channels,
    /// This instance's random id, in every message it publishes.
    instance: String,
    /// The queue of the publisher task (channel, event); `None` once closed.
    outbox: Mutex<Option<mpsc::Sender<(String, WireEvent)>>>,
    /// The publisher task, until [`EventBus::close`] awaits it (or drop aborts it).
    publisher: Mutex<Option<JoinHandle<()>>>,
    /// Tells the listener to stop.
    stop: watch::Sender<bool>,
    /// The listener task, until [`EventBus::close`] awaits it (or drop aborts it).
    listener: Mutex<Option<JoinHandle<()>>>,
}

impl fmt::Debug for RedisBus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the URL: it may hold a password.
        f.debug_struct("RedisBus")
            .field("channels", &self.channels.pattern())
            .field("instance", &self.instance)
            .finish_non_exhaustive()
    }
}

impl RedisBus {
    /// Connects to Redis at `url`, subscribes to the events of every round under
    /// `prefix`, and starts the listener task. Returns once the subscription is active,
    /// so every event published after this call reaches this instance.
    ///
    /// # Errors
    /// [`StartError`] when the prefix is invalid or Redis cannot be reached.
    pub async fn start(
        url: &str,
        prefix: &str,
        round_changed: RoundChanged,
    ) -> Result<Self, StartError> {
        if !crate::store::keys::is_valid_prefix(prefix) {
            return Err(StartError::InvalidPrefix(prefix.to_owned()));
        }
        let mut id = [0u8; 16];
        getrandom::fill(&mut id).map_err(StartError::Random)?;
        let instance = crate::domain::lower_hex(&id);
        let channels = Channels::new(prefix);
        let client = redis::Client::open(url).map_err(StartError::Redis)?;
        let config = ConnectionManagerConfig::new()
            .set_response_timeout(Some(Duration::from_secs(1)))
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_number_of_retries(1);
        let publisher = client
            .get_connection_manager_with_config(config)
            .await
            .map_err(StartError::Redis)?;
        let pubsub = subscribe(&client, &channels)
            .await
            .map_err(StartError::Redis)?;
        let local = InProcessBus::default();
        let (stop, stopped) = watch::channel(false);
        let listener = Listener {
            client,
            channels: channels.clone(),
            own: own_prefix(&instance),
            instance: instance.clone(),
            local: local.clone(),
            round_changed,
        };
        let listener = tokio::spawn(listen(listener, stopped, pubsub));
        let (outbox, queue) = mpsc::channel(PUBLISH_QUEUE);
        let publisher = tokio::spawn(publish_queued(publisher, instance.clone(), queue));
        tracing::info!(pattern = %channels.pattern(), "listening for round events on redis");
        Ok(Self {
            local,
            channels,
            instance,
            outbox: Mutex::new(Some(outbox)),
            publisher: Mutex::new(Some(publisher)),
            stop,
            listener: Mutex::new(Some(listener)),
        })
    }

    fn outbox(&self) -> Option<mpsc::Sender<(String, WireEvent)>> {
        match self.outbox.lock() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn take_outbox(&self) -> Option<mpsc::Sender<(String, WireEvent)>> {
        match self.outbox.lock() {
            Ok(mut guard) => guard.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        }
    }

    fn take_publisher(&self) -> Option<JoinHandle<()>> {
        match self.publisher.lock() {
            Ok(mut guard) => guard.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        }
    }

    fn take_listener(&self) -> Option<JoinHandle<()>> {
        match self.listener.lock() {
            Ok(mut guard) => guard.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        }
    }
}

impl Drop for RedisBus {
    fn drop(&mut self) {
        // A bus dropped without close (e.g. an app built but never run) leaves no task.
        if let Some(listener) = self.take_listener() {
            listener.abort();
        }
        if let Some(publisher) = self.take_publisher() {
            publisher.abort();
        }
    }
}

#[async_trait::async_trait]
impl EventBus for RedisBus {
    async fn publish(&self, round: &RoundId, event: RoundEvent) {
        let wire = WireEvent::from(&event);
        // Local subscribers first: they must not wait for (or depend on) Redis.
        self.local.deliver(round, event);
        let Some(outbox) = self.outbox() else {
            return;
        };
        // The change is stored; a lost notification only delays other instances'
        // subscribers until they re-read the store.
        if let Err(mpsc::error::TrySendError::Full(_)) =
            outbox.try_send((self.channels.of(round), wire))
        {
            tracing::warn!(%round, "the queue of round events for redis is full; one was not published");
        }
    }

    fn subscribe(&self, round: &RoundId) -> EventStream {
        self.local.subscribe(round)
    }

    async fn close(&self) {
        self.stop.send_replace(true);
        if let Some(listener) = self.take_listener()
            && let Err(error) = listener.await
            && !error.is_cancelled()
        {
            tracing::warn!(%error, "the round event listener failed");
        }
        // Without its sender the publisher task sends what is queued and ends; a Redis
        // that does not answer holds it up for at most one timeout per pipeline.
        drop(self.take_outbox());
        if let Some(publisher) = self.take_publisher() {
            let abort = publisher.abort_handle();
            match tokio::time::timeout(2 * PUBLISH_TIMEOUT, publisher).await {
                Ok(Err(error)) if !error.is_cancelled() => {
                    tracing::warn!(%error, "the round event publisher failed");
                }
                Ok(_) => {}
                Err(_) => {
                    tracing::warn!("queued round events were not all published before stopping");
                    abort.abort();
                }
            }
        }
        self.local.close().await;
    }
}

/// Called for every event another instance published, with its round and whether the
/// round's status changed, so that this instance drops what it caches of the round (see
/// [`Store::changed_elsewhere`](crate::store::Store::changed_elsewhere)).
pub type RoundChanged = Arc<dyn Fn(&RoundId, bool) + Send + Sync>;

/// The publisher task: sends the queued events in order, up to [`PUBLISH_BATCH`] per
/// pipeline and one message per round (see [`messages`]), until the queue's sender is
/// dropped and the queue is empty. A failed or timed-out pipeline is logged and its
/// events are not retried (see [`RedisBus`]).
async fn publish_queued(
    mut publisher: ConnectionManager,
    instance: String,
    mut queue: mpsc::Receiver<(String, WireEvent)>,
) {
    let mut batch = Vec::with_capacity(PUBLISH_BATCH);
    while queue.recv_many(&mut batch, PUBLISH_BATCH).await > 0 {
        let events = batch.len();
        let mut pipe = redis::pipe();
        for (channel, message) in messages(&instance, std::mem::take(&mut batch)) {
            match serde_json::to_string(&message) {
                Ok(payload) => {
                    pipe.publish(channel, payload).ignore();
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot encode round events; not published");
                }
            }
        }
        match tokio::time::timeout(PUBLISH_TIMEOUT, pipe.query_async::<()>(&mut publisher)).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                tracing::warn!(%error, events, "cannot publish round events to redis");
            }
            Err(_) => {
                tracing::warn!(events, "publishing round events to redis timed out");
            }
        }
    }
}

/// How every message `instance` publishes begins (serde writes the fields in
/// declaration order): what the listener skips without decoding.
fn own_prefix(instance: &str) -> String {
    format!(r#"{{"v":{WIRE_VERSION},"from":"{instance}","#)
}

/// What the listener task owns.
struct Listener {
    client: redis::Client,
    channels: Channels,
    instance: String,
    /// [`own_prefix`] of `instance`.
    own: String,
    local: InProcessBus,
    round_changed: RoundChanged,
}

/// A pub/sub connection subscribed to every round's channel, within
/// [`REDIS_TIMEOUT`].
async fn subscribe(client: &redis::Client, channels: &Channels) -> redis::RedisResult<PubSub> {
    let connect = async {
        let mut pubsub = client.get_async_pubsub().await?;
        pubsub.psubscribe(channels.pattern()).await?;
        Ok(pubsub)
    };
    tokio::time::timeout(REDIS_TIMEOUT, connect)
        .await
        .unwrap_or_else(|_| {
            Err(redis::RedisError::from(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "timed out connecting or subscribing",
            )))
        })
}

/// What woke the listener up.
enum Wake {
    /// The bus is closing.
    Stop,
    /// A message arrived.
    Message(redis::Msg),
    /// The connection is gone.
    Lost,
    /// Time to check that the connection still answers.
    Check,
}

/// The listener task: forwards messages of other instances into the local bus until
/// told to stop; reconnects with back-off whenever the connection drops or stops
/// answering pings (a half-open TCP connection would otherwise stay silent forever).
async fn listen(listener: Listener, mut stop: watch::Receiver<bool>, first: PubSub) {
    let mut connection = Some(first);
    let mut backoff = MIN_BACKOFF;
    loop {
        if let Some(pubsub) = connection.take() {
            backoff = MIN_BACKOFF;
            let (mut sink, mut messages) = pubsub.split();
            let mut check = tokio::time::interval_at(
                tokio::time::Instant::now() + CHECK_INTERVAL,
                CHECK_INTERVAL,
            );
            loop {
                let wake = tokio::select! {
                    () = stopped(&mut stop) => Wake::Stop,
                    message = messages.next() => message.map_or(Wake::Lost, Wake::Message),
                    _ = check.tick() => Wake::Check,
                };
                match wake {
                    Wake::Stop => return,
                    Wake::Message(message) => listener.forward(&message),
                    Wake::Lost => break,
                    Wake::Check => {
                        let ping = tokio::time::timeout(REDIS_TIMEOUT, sink.ping::<redis::Value>());
                        let answered = tokio::select! {
                            () = stopped(&mut stop) => return,
                            ping = ping => matches!(ping, Ok(Ok(_))),
                        };
                        if !answered {
                            break;
                        }
                    }
                }
            }
            tracing::warn!("lost the redis connection for round events; reconnecting");
        }
        tokio::select! {
            () = stopped(&mut stop) => return,
            () = tokio::time::sleep(backoff) => {}
        }
        let subscribed = tokio::select! {
            () = stopped(&mut stop) => return,
            subscribed = subscribe(&listener.client, &listener.channels) => subscribed,
        };
        match subscribed {
            Ok(pubsub) => {
                tracing::info!("resubscribed to round events on redis");
                connection = Some(pubsub);
            }
            Err(error) => {
                backoff = (backoff * 2).min(MAX_BACKOFF);
                tracing::warn!(
                    %error,
                    retry_in_ms = backoff.as_millis(),
                    "cannot resubscribe to round events on redis"
                );
            }
        }
    }
}

/// Completes once the bus asks the listener to stop (or the bus is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

impl Listener {
    /// Delivers one pub/sub message locally, unless it is this instance's own or
    /// malformed (logged and dropped: one bad message must not stop the others).
    fn forward(&self, message: &redis::Msg) {
        // This instance's own messages (every one it publishes comes back) are skipped
        // before anything is decoded; the full check below still catches any other form.
        if message.get_payload_bytes().starts_with(self.own.as_bytes()) {
            return;
        }
        let Some(round) = self.channels.round(message.get_channel_name()) else {
            tracing::warn!("dropped a round event on an unexpected channel");
            return;
        };
        let wire = match serde_json::from_slice::<WireMessage>(message.get_payload_bytes()) {
            Ok(wire) => wire,
            Err(error) => {
                tracing::warn!(%error, %round, "dropped a malformed round event");
                return;
            }
        };
        if wire.from == self.instance {
            return;
        }
        let version = wire.v;
        let Some(events) = wire.into_events() else {
            tracing::warn!(version, %round, "dropped round events of an unknown version");
            return;
        };
        for event in events {
            match event.into_event(&round) {
                Some(event) => {
                    let status_changed = matches!(event, RoundEvent::RoundStatusChanged { .. });
                    (self.round_changed)(&round, status_changed);
                    self.local.deliver(&round, event);
                }
                None => tracing::warn!(%round, "dropped a round event with invalid ids or names"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(id: &str) -> RoundId {
        RoundId::parse(id).expect("id")
    }

    fn response(id: &str) -> ResponseId {
        ResponseKey::parse(id).expect("response id").id()
    }

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

    #[tokio::test]
    async fn closing_ends_every_subscription() {
        let bus = InProcessBus::default();
        let mut stream = bus.subscribe(&round("r-1"));
        bus.close().await;
        assert_eq!(stream.next().await, None);
        assert_eq!(bus.subscribe(&round("r-1")).next().await, None);
    }

    #[test]
    fn every_event_survives_the_wire() {
        let round = round("r-1");
        let events = [
            RoundEvent::AnswersSaved {
                response: response("r-1/unicef/jiu-rbm-stages@1"),
                questions: vec!["1.1/stage".to_owned(), "1.2/stage".to_owned()],
                seq: 7,
                channel: Channel::Telegram,
                at: Timestamp::from_millis(1_700_000_000_123),
            },
            RoundEvent::ResponseSubmitted {
                response: response("r-1/unicef/jiu-rbm-outcomes@1/~p-1"),
                at: Timestamp::from_millis(2),
            },
            RoundEvent::ResponseReopened {
                response: response("r-1/unicef/jiu-rbm-stages@1"),
                at: Timestamp::from_millis(3),
            },
            RoundEvent::RoundStatusChanged {
                status: RoundStatus::InValidation,
                at: Timestamp::from_millis(4),
            },
        ];
        // One message holds them all, in order (version 2).
        let queued = events
            .iter()
            .map(|event| ("c".to_owned(), WireEvent::from(event)))
            .collect();
        let [(channel, message)]: [(String, WireMessage); 1] = messages("a", queued)
            .try_into()
            .expect("one message for one channel");
        assert_eq!(channel, "c");
        let json = serde_json::to_string(&message).expect("encodes");
        let wire: WireMessage = serde_json::from_str(&json).expect("decodes");
        let decoded: Vec<RoundEvent> = wire
            .into_events()
            .expect("a known version")
            .into_iter()
            .map(|event| event.into_event(&round).expect("valid"))
            .collect();
        assert_eq!(decoded, events, "{json}");
    }

    #[test]
    fn a_message_of_version_1_is_understood_and_an_unknown_version_is_not() {
        let old = r#"{"v":1,"from":"b","event":{"kind":"response-submitted","response":"r-1/unicef/jiu-rbm-stages@1","at":2}}"#;
        let wire: WireMessage = serde_json::from_str(old).expect("decodes");
        let events = wire.into_events().expect("version 1 is known");
        assert_eq!(
            events
                .into_iter()
                .map(|event| event.into_event(&round("r-1")))
                .collect::<Vec<_>>(),
            vec![Some(RoundEvent::ResponseSubmitted {
                response: response("r-1/unicef/jiu-rbm-stages@1"),
                at: Timestamp::from_millis(2),
            })]
        );
        let future = r#"{"v":3,"from":"b","events":[{"kind":"response-submitted","response":"r-1/unicef/jiu-rbm-stages@1","at":2}]}"#;
        let wire: WireMessage = serde_json::from_str(future).expect("decodes");
        assert!(wire.into_events().is_none());
    }

    #[test]
    fn queued_events_go_out_as_one_message_per_round_in_order() {
        let submitted = |organisation: &str, at: i64| WireEvent::ResponseSubmitted {
            response: format!("r-1/{organisation}/jiu-rbm-stages@1"),
            at,
        };
        let queued = vec![
            ("r-1".to_owned(), submitted("unicef", 1)),
            ("r-2".to_owned(), submitted("unfpa", 2)),
            ("r-1".to_owned(), submitted("unhcr", 3)),
            ("r-1".to_owned(), submitted("wfp", 4)),
        ];
        let sent: Vec<(String, Vec<i64>)> = messages("me", queued)
            .into_iter()
            .map(|(channel, message)| {
                assert_eq!((message.v, message.from.as_str()), (WIRE_VERSION, "me"));
                let times = message
                    .events
                    .iter()
                    .map(|event| match event {
                        WireEvent::ResponseSubmitted { at, .. } => *at,
                        other => panic!("unexpected {other:?}"),
                    })
                    .collect();
                (channel, times)
            })
            .collect();
        assert_eq!(
            sent,
            vec![
                ("r-1".to_owned(), vec![1, 3, 4]),
                ("r-2".to_owned(), vec![2]),
            ]
        );
    }

    #[test]
    fn an_instance_recognises_its_own_messages_by_their_start() {
        let queued = vec![(
            "c".to_owned(),
            WireEvent::ResponseSubmitted {
                response: "r-1/unicef/jiu-rbm-stages@1".to_owned(),
                at: 1,
            },
        )];
        let [(_, message)]: [(String, WireMessage); 1] =
            messages("0a1b", queued).try_into().expect("one message");
        let encoded = serde_json::to_string(&message).expect("encodes");
        assert!(encoded.starts_with(&own_prefix("0a1b")), "{encoded}");
        // Another instance's, even one whose id extends this one's, is not skipped.
        assert!(!encoded.starts_with(&own_prefix("0a")), "{encoded}");
        assert!(!encoded.starts_with(&own_prefix("0a1b2c")), "{encoded}");
    }

    #[test]
    fn a_response_of_another_round_or_a_bad_name_is_dropped() {
        let wire = WireEvent::ResponseSubmitted {
            response: "r-2/unicef/jiu-rbm-stages@1".to_owned(),
            at: 1,
        };
        assert_eq!(wire.into_event(&round("r-1")), None);
        let wire = WireEvent::RoundStatusChanged {
            status: "nearly-done".to_owned(),
            at: 1,
        };
        assert_eq!(wire.into_event(&round("r-1")), None);
    }

    #[test]
    fn channels_carry_the_prefix_and_the_round() {
        let channels = Channels::new("sw:test");
        assert_eq!(channels.of(&round("r-1")), "sw:test:events:r-1");
        assert_eq!(channels.pattern(), "sw:test:events:*");
        assert_eq!(channels.round("sw:test:events:r-1"), Some(round("r-1")));
        assert_eq!(channels.round("sw:test:events:R 1"), None);
        assert_eq!(channels.round("other:events:r-1"), None);
    }
}
