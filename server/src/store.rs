//! Storage: one [`Store`] trait, two backends (an embedded redb file, the default; and
//! Redis, for several server instances), and the contract every backend must pass.
//!
//! Backends persist and index; they make no product decisions. The only rule they apply
//! is [`ResponseMeta::decide`](crate::domain::ResponseMeta::decide), atomically with the
//! write, so that a submitted response cannot change between a check and a write. Values
//! are validated against the catalogue before a request reaches the store.

pub mod cache;
pub mod contract;
pub mod journal;
pub mod keys;
pub mod load;
pub mod record;
pub mod redb;
pub mod redis;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;

use crate::domain::{
    Action, ActionId, ActionReminderKind, ActionReminderMark, ActionWrite, Activity, Actor,
    ApiToken, Assignment, Channel, Command, CommandError, IdempotencyKey, LinkBinding, LinkToken,
    NoticeId, Organisation, OrganisationId, Person, PersonId, ReminderClaim, ReminderMark,
    Response, ResponseEvent, ResponseKey, Role, Round, RoundId, RoundStatus, Stage, TelegramChatId,
    TelegramLinkCode, TelegramNotice, Timestamp, TokenHash, TokenId, ValidationRecord,
    ValidationStatus,
};

/// How long a Telegram update id is remembered for de-duplication. Telegram redelivers
/// unconfirmed updates for up to 24 hours; 48 hours leaves a margin.
pub const UPDATE_MEMORY_MILLIS: i64 = 48 * 60 * 60 * 1000;

/// A change requested of a response, with its provenance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseRequest {
    /// The response (created by its first event).
    pub key: ResponseKey,
    /// The client's idempotency key.
    pub idempotency_key: IdempotencyKey,
    /// What to do.
    pub command: Command,
    /// When given, the request applies only if the response's last event is this one.
    pub expected_seq: Option<u64>,
    /// Who asks.
    pub actor: Actor,
    /// Through which channel.
    pub channel: Channel,
    /// When (recorded in the events).
    pub at: Timestamp,
}

/// What a store recorded for a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The events recorded, in order (the same events when the request is replayed).
    pub events: Vec<ResponseEvent>,
    /// Whether this request's idempotency key had already been used, so nothing new was
    /// recorded.
    pub replayed: bool,
}

/// An administrative act on a round, as its audit log records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditAction {
    /// The round was created (in draft).
    RoundCreated,
    /// The round's status changed.
    StatusChanged {
        /// The status before.
        from: RoundStatus,
        /// The status after.
        to: RoundStatus,
    },
    /// A submitted response was reopened.
    ResponseReopened {
        /// The response.
        response: ResponseKey,
        /// Why, as given by the administrator.
        reason: String,
    },
    /// A person was assigned to the round for an organisation, or their assignment
    /// changed (e.g. new outcome areas).
    AssignmentAdded {
        /// The organisation.
        organisation: OrganisationId,
        /// The person.
        person: PersonId,
        /// Their role.
        role: Role,
    },
    /// An assignment was removed.
    AssignmentRemoved {
        /// The organisation.
        organisation: OrganisationId,
        /// The person.
        person: PersonId,
        /// The role they had.
        role: Role,
    },
    /// An organisation was added to the round after its creation.
    OrganisationAdded {
        /// The organisation.
        organisation: OrganisationId,
    },
    /// A validator recorded a component's validated stage.
    ComponentValidated {
        /// The organisation.
        organisation: OrganisationId,
        /// The component, e.g. `2.3`.
        component: String,
        /// The validated stage.
        stage: Stage,
    },
    /// An organisation's validation status changed: signed off (validated), or put back
    /// in validation.
    ValidationStatusChanged {
        /// The organisation.
        organisation: OrganisationId,
        /// The status before.
        from: ValidationStatus,
        /// The status after.
        to: ValidationStatus,
    },
    /// The personal links of one person's response were revoked.
    LinksRevoked {
        /// The response the links opened.
        response: ResponseKey,
        /// The person they were sent to.
        person: PersonId,
        /// How many links were still usable and are now revoked.
        count: u32,
    },
}

/// One entry of a round's audit log: who did what, when. Entries are appended, never
/// changed or removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// The round.
    pub round: RoundId,
    /// When.
    pub at: Timestamp,
    /// Who.
    pub actor: Actor,
    /// What.
    pub action: AuditAction,
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The response refused the command; nothing was written.
    #[error(transparent)]
    Refused(#[from] CommandError),
    /// The idempotency key was used before for a different request on this response.
    #[error("this idempotency key was already used for a different request")]
    IdempotencyConflict,
    /// The backend could not be reached or failed; the operation may be retried.
    #[error("the store is unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Stored data could not be read back.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The store was closed.
    #[error("the store is closed")]
    Closed,
}

impl StoreError {
    /// Wraps a backend error as [`StoreError::Unavailable`].
    pub fn unavailable(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Unavailable(Box::new(error))
    }

    /// Whether retrying the same request (with the same idempotency key) may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

/// Which backend a store is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded redb file.
    Redb,
    /// Redis.
    Redis,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Redb => "redb",
            Self::Redis => "redis",
        })
    }
}

/// Everything Stagewise keeps. Every method is atomic on its own; none spans several.
/// Lists are returned in a stable order (by id unless said otherwise).
#[async_trait]
pub trait Store: Send + Sync + fmt::Debug {
    /// Which backend this is.
    fn backend(&self) -> Backend;

    /// Succeeds when the store answers (readiness).
    async fn ping(&self) -> Result<(), StoreError>;

    /// Creates or replaces an organisation.
    async fn put_organisation(&self, organisation: &Organisation) -> Result<(), StoreError>;
    /// One organisation.
    async fn organisation(&self, id: &OrganisationId) -> Result<Option<Organisation>, StoreError>;
    /// Every organisation, by id.
    async fn organisations(&self) -> Result<Vec<Organisation>, StoreError>;

    /// Creates or replaces a person. A chat linked to this person is unlinked from any
    /// other person.
    async fn put_person(&self, person: &Person) -> Result<(), StoreError>;
    /// One person.
    async fn person(&self, id: &PersonId) -> Result<Option<Person>, StoreError>;
    /// The person a Telegram chat is linked to.
    async fn person_by_chat(&self, chat: TelegramChatId) -> Result<Option<Person>, StoreError>;
    /// Every person, by id.
    async fn persons(&self) -> Result<Vec<Person>, StoreError>;

    /// Creates or replaces a round.
    async fn put_round(&self, round: &Round) -> Result<(), StoreError>;
    /// One round.
    async fn round(&self, id: &RoundId) -> Result<Option<Round>, StoreError>;
    /// One round, shared: the answer path reads the round on every save, and backends
    /// serve it from a [`cache::RoundCache`] without copying.
    async fn round_shared(&self, id: &RoundId) -> Result<Option<Arc<Round>>, StoreError> {
        Ok(self.round(id).await?.map(Arc::new))
    }
    /// Another server instance changed something in a round (`status_changed`: its
    /// status): drop what is cached of it.
    fn changed_elsewhere(&self, _round: &RoundId, _status_changed: bool) {}
    /// The generation that views derived from this store (profiles, the matrix) are
    /// cached against; `None` when the backend does not track changes, so nothing may be
    /// cached.
    fn generation(&self) -> Option<cache::Generation> {
        None
    }
    /// Every round, by id.
    async fn rounds(&self) -> Result<Vec<Round>, StoreError>;

    /// Adds an assignment (a second identical one changes nothing). An assignment is
    /// identified by round, organisation, person and role name; putting one with the same
    /// identity replaces it (e.g. new outcome areas).
    async fn put_assignment(&self, assignment: &Assignment) -> Result<(), StoreError>;
    /// Removes an assignment; returns whether there was one.
    async fn remove_assignment(&self, assignment: &Assignment) -> Result<bool, StoreError>;
    /// The assignments of a round, by organisation, person, role.
    async fn assignments(&self, round: &RoundId) -> Result<Vec<Assignment>, StoreError>;
    /// The assignments of one person for one organisation in a round, by role: what an
    /// access check needs, without reading the whole round's.
    async fn assignments_of(
        &self,
        round: &RoundId,
        organisation: &OrganisationId,
        person: &PersonId,
    ) -> Result<Vec<Assignment>, StoreError>;

    /// Applies a request to a response atomically with its events, idempotently on the
    /// request's key: the same key with the same request returns the first receipt
    /// (`replayed`), with a different request fails with
    /// [`StoreError::IdempotencyConflict`]. A refused command writes nothing.
    async fn execute(&self, request: &ResponseRequest) -> Result<Receipt, StoreError>;
    /// A response's current state; `None` before its first event.
    async fn response(&self, key: &ResponseKey) -> Result<Option<Response>, StoreError>;
    /// A response's events in order.
    async fn history(&self, key: &ResponseKey) -> Result<Vec<ResponseEvent>, StoreError>;
    /// The responses of a round that have events, by id.
    async fn responses(&self, round: &RoundId) -> Result<Vec<ResponseKey>, StoreError>;

    /// Records a validation (an audit trail: records are never replaced).
    async fn add_validation(&self, record: &ValidationRecord) -> Result<(), StoreError>;
    /// The validations of one organisation in a round, oldest first.
    async fn validations(
        &self,
        round: &RoundId,
        organisation: &OrganisationId,
    ) -> Result<Vec<ValidationRecord>, StoreError>;

    /// Appends an entry to its round's audit log (an audit trail: entries are never
    /// replaced or removed).
    async fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError>;
    /// The audit log of a round, oldest first.
    async fn audit(&self, round: &RoundId) -> Result<Vec<AuditEntry>, StoreError>;

    /// Creates or replaces an API token.
    async fn put_api_token(&self, token: &ApiToken) -> Result<(), StoreError>;
    /// The API token with this hash.
    async fn api_token(&self, hash: &TokenHash) -> Result<Option<ApiToken>, StoreError>;
    /// Every API token, by id.
    async fn api_tokens(&self) -> Result<Vec<ApiToken>, StoreError>;
    /// Revokes an API token; returns whether it existed.
    async fn revoke_api_token(&self, id: &TokenId) -> Result<bool, StoreError>;

    /// Creates or replaces a link token.
    async fn put_link_token(&self, token: &LinkToken) -> Result<(), StoreError>;
    /// The link token with this hash.
    async fn link_token(&self, hash: &TokenHash) -> Result<Option<LinkToken>, StoreError>;
    /// Revokes a link token; returns whether it existed.
    async fn revoke_link_token(&self, hash: &TokenHash) -> Result<bool, StoreError>;
    /// Revokes every link bound to `binding` (one person's response); returns how many
    /// were not revoked before.
    async fn revoke_links_of(&self, binding: &LinkBinding) -> Result<usize, StoreError>;

    /// Stores a Telegram linking code under its hash.
    async fn put_telegram_code(&self, code: &TelegramLinkCode) -> Result<(), StoreError>;
    /// Takes the linking code with this hash: atomically removes it and returns it when
    /// it is still usable at `now`. A code is therefore taken at most once; an expired
    /// one is removed too and `None` returned.
    async fn take_telegram_code(
        &self,
        hash: &TokenHash,
        now: Timestamp,
    ) -> Result<Option<TelegramLinkCode>, StoreError>;

    /// Remembers a Telegram update id; returns `true` the first time it is seen within
    /// [`UPDATE_MEMORY_MILLIS`] of `now`.
    async fn mark_update_seen(&self, update_id: i64, now: Timestamp) -> Result<bool, StoreError>;

    /// Takes the lease `name` for `holder` until `now + ttl_millis` when nobody else
    /// holds it (or their lease has run out); returns whether `holder` holds it now. The
    /// holder that has it may take it again, which extends it. Names are the server's own
    /// constants, never client input.
    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: Timestamp,
        ttl_millis: i64,
    ) -> Result<bool, StoreError>;
    /// Gives the lease `name` up if `holder` holds it; returns whether it did.
    async fn release_lease(&self, name: &str, holder: &str) -> Result<bool, StoreError>;

    /// Claims the reminder of `mark.person` in `mark.round` for `mark.day`, atomically:
    /// [`ReminderClaim::Claimed`] (and the mark stored) when no mark of that day exists
    /// and the person has fewer than `max_per_person` marks in the round; otherwise
    /// nothing is written. Of concurrent claims of one day, exactly one succeeds.
    async fn claim_reminder(
        &self,
        mark: &ReminderMark,
        max_per_person: u32,
    ) -> Result<ReminderClaim, StoreError>;
    /// Removes the mark of a reminder that could not be sent, so a later check claims
    /// it again; returns whether there was one.
    async fn release_reminder(
        &self,
        round: &RoundId,
        person: &PersonId,
        day: u32,
    ) -> Result<bool, StoreError>;
    /// The reminder marks of a person in a round, by day.
    async fn reminder_marks(
        &self,
        round: &RoundId,
        person: &PersonId,
    ) -> Result<Vec<ReminderMark>, StoreError>;

    /// Creates or replaces the activity of a round (real-time learning).
    async fn put_activity(&self, activity: &Activity) -> Result<(), StoreError>;
    /// The activity of a round; `None` when the round is not an activity.
    async fn activity(&self, round: &RoundId) -> Result<Option<Activity>, StoreError>;
    /// Every activity, by round id.
    async fn activities(&self) -> Result<Vec<Activity>, StoreError>;

    /// Creates or replaces an action (identified by round and id), atomically with the
    /// priority limit: a priority action is written only when the other priority
    /// actions of its organisation in its round number fewer than `max_priority`
    /// ([`crate::domain::learning::priority_allows`]); otherwise nothing is written and
    /// [`ActionWrite::PriorityLimitReached`] returned. An action's round and
    /// organisation never change (callers keep them).
    async fn put_action(
        &self,
        action: &Action,
        max_priority: u32,
    ) -> Result<ActionWrite, StoreError>;
    /// The actions of a round, by id.
    async fn actions(&self, round: &RoundId) -> Result<Vec<Action>, StoreError>;

    /// Claims the reminder of one kind of an action, atomically: `true` (and the mark
    /// stored) when no mark of that (round, action, kind) exists; else `false`, nothing
    /// written. Of concurrent claims exactly one succeeds.
    async fn claim_action_reminder(&self, mark: &ActionReminderMark) -> Result<bool, StoreError>;
    /// Removes the mark of an action reminder that could not be sent; returns whether
    /// there was one.
    async fn release_action_reminder(
        &self,
        round: &RoundId,
        action: &ActionId,
        kind: ActionReminderKind,
    ) -> Result<bool, StoreError>;
    /// The reminder marks of an action, by kind.
    async fn action_reminder_marks(
        &self,
        round: &RoundId,
        action: &ActionId,
    ) -> Result<Vec<ActionReminderMark>, StoreError>;

    /// Queues a Telegram notice, claimable at once; returns `false` (and changes
    /// nothing) when a notice with its id is queued already.
    async fn put_telegram_notice(&self, notice: &TelegramNotice) -> Result<bool, StoreError>;
    /// Claims up to `limit` notices claimable at `now`, oldest claimable first, and hides
    /// each from other claims until `now + hold_millis`: a notice that is not
    /// acknowledged by then is claimed again (delivery at least once). Notices no longer
    /// live at `now` are dropped instead of returned.
    async fn claim_telegram_notices(
        &self,
        now: Timestamp,
        limit: usize,
        hold_millis: i64,
    ) -> Result<Vec<TelegramNotice>, StoreError>;
    /// Removes a delivered (or undeliverable) notice; returns whether it was queued.
    async fn ack_telegram_notice(&self, id: &NoticeId) -> Result<bool, StoreError>;

    /// Flushes and closes the store; later calls fail with [`StoreError::Closed`].
    async fn close(&self) -> Result<(), StoreError>;
}

/// A shared store.
pub type SharedStore = Arc<dyn Store>;

/// Opens the configured backend.
///
/// # Errors
/// [`StoreError::Unavailable`] when the file cannot be opened or Redis cannot be reached.
pub async fn open(settings: &crate::config::LoadedSettings) -> Result<SharedStore, StoreError> {
    use secrecy::ExposeSecret;
    let store = &settings.settings.store;
    Ok(match store.backend {
        crate::config::BackendKind::Redb => Arc::new(redb::open(&settings.redb_path())?),
        crate::config::BackendKind::Redis if store.redis.cluster => Arc::new(
            redis::connect_cluster(
                &[store.redis.url.expose_secret()],
                &store.redis.key_prefix,
                store.redis.timeouts(),
            )
            .await?,
        ),
        crate::config::BackendKind::Redis => Arc::new(
            redis::connect_with(
                store.redis.url.expose_secret(),
                &store.redis.key_prefix,
                store.redis.timeouts(),
            )
            .await?,
        ),
    })
}
