//! The Redis backend, for deployments with several server instances.
//!
//! It persists and indexes records under the layout of [`super::keys`] (every key comes
//! from [`KeyLayout`]) in the record formats of [`super::record`]. It makes no product
//! decisions: which events a request records is decided in Rust by
//! [`plan_events`](record::plan_events), that is by [`ResponseMeta::decide`], never in
//! Lua, so both backends share one rule.
//!
//! Writes to a response are optimistic. [`RedisStore::execute`] reads the response's
//! meta and idempotency field atomically, plans the events in Rust, then runs one small
//! Lua script that applies the planned write only if the meta is still what the plan
//! assumed and the idempotency key is still unused; otherwise it starts again from the
//! read. The script compares and writes, nothing more, so the rules cannot drift apart
//! between backends, while the check and the write stay one atomic step in Redis.
//!
//! It runs on one Redis server or on a Redis Cluster (`[store.redis] cluster = true`, see
//! [`Connection`]). Keys used together by one transaction or script share a hash tag (one
//! cluster slot), and no pipeline mixes slots. Operations that span several slots (a
//! record and its id set, a person and the chat index) are sequences of idempotent steps
//! instead, ordered so that a retry converges.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::{
    Cmd, ErrorKind, FromRedisValue, Pipeline, RedisError, RedisFuture, Script, ServerErrorKind,
    Value,
};
use serde::de::DeserializeOwned;

use super::AuditEntry;
use super::cache::{Changes, Generation, RoundCache};
use super::keys::{self, KeyLayout, ResponseKeys};
use super::record::AuditRecord;
use super::record::{
    self, AnswerRecord, ApiTokenRecord, AssignmentRecord, EventRecord, IdempotencyRecord,
    LinkTokenRecord, MetaRecord, OrganisationRecord, PersonRecord, ReminderMarkRecord, RoundRecord,
    TelegramCodeRecord, TelegramNoticeRecord, ValidationRecordRecord, decode, encode,
};
use super::record::{ActionRecord, ActionReminderMarkRecord, ActivityRecord};
use super::{Backend, Receipt, ResponseRequest, Store, StoreError, UPDATE_MEMORY_MILLIS};
use crate::domain::{
    Action, ActionId, ActionReminderKind, ActionReminderMark, ActionWrite, Activity, ApiToken,
    Assignment, CurrentAnswer, EventKind, LinkBinding, LinkToken, NoticeId, Organisation,
    OrganisationId, Person, PersonId, QuestionId, ReminderClaim, ReminderMark, Response,
    ResponseEvent, ResponseId, ResponseKey, ResponseMeta, ResponseStatus, Role, Round, RoundId,
    TelegramChatId, TelegramLinkCode, TelegramNotice, Timestamp, TokenHash, TokenId,
    ValidationRecord,
};

/// How often [`RedisStore::execute`] re-reads and re-plans when other writers keep
/// changing the response between its read and its write. Every lost race means another
/// request succeeded, so this only bounds the wait of one request under heavy contention.
const MAX_ATTEMPTS: usize = 100;

/// How long a connection to Redis may wait (`[store.redis]` `connect_timeout_ms` and
/// `response_timeout_ms`). A command that times out fails with the retryable
/// [`StoreError::Unavailable`], so a stalled Redis never holds a request up for longer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// One connection attempt.
    pub connect: Duration,
    /// One command's reply.
    pub response: Duration,
}

impl Default for Timeouts {
    /// 2 s to connect, 5 s per reply. The library's default reply timeout (500 ms) is
    /// short for a server that fsyncs every write.
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(2),
            response: Duration::from_secs(5),
        }
    }
}

/// How many times a lost connection is retried (with exponential back-off from 100 ms)
/// before a request fails; the next request tries again.
const CONNECTION_RETRIES: usize = 4;

/// [`CONNECTION_RETRIES`] for the cluster client, which also retries a command that
/// met a moved slot or a failover.
const CLUSTER_RETRIES: u32 = 4;

/// The write half of [`RedisStore::execute`]. It holds no product rule: it applies a write
/// planned in Rust if, and only if, the state the plan was made from is unchanged.
///
/// KEYS: meta, answers, events, idem ([`ResponseKeys::all`]).
/// ARGV: idempotency key, idempotency record, assumed `last_seq`, assumed `submitted`,
/// then the counts of meta field pairs (m), events (e), answers set (s) and answers
/// cleared (d), then e event records, s question/answer pairs, d questions and m meta
/// field/value pairs, in the order the script applies them. Replies `replay` (the key
/// was used meanwhile), `retry` (the meta changed meanwhile) or `ok`. Each kind of value
/// goes in as few commands as it takes (one `RPUSH`, `HSET` or `HDEL` per 240 values),
/// which keeps Redis's work and its log short and no command's arguments beyond Lua's
/// stack. The checks come before the first write: Redis does not roll a script back if it
/// fails part-way.
const WRITE_SCRIPT: &str = r"
if redis.call('HEXISTS', KEYS[4], ARGV[1]) == 1 then
  return 'replay'
end
local stored = redis.call('HMGET', KEYS[1], 'last_seq', 'submitted')
if (stored[1] or '0') ~= ARGV[3] or (stored[2] or '0') ~= ARGV[4] then
  return 'retry'
end
local function apply(command, key, from, values)
  local last = from + values - 1
  while from <= last do
    local upto = math.min(from + 239, last)
    redis.call(command, key, unpack(ARGV, from, upto))
    from = upto + 1
  end
  return last + 1
end
local m, e, s, d = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local i = 9
i = apply('RPUSH', KEYS[3], i, e)
i = apply('HSET', KEYS[2], i, 2 * s)
i = apply('HDEL', KEYS[2], i, d)
apply('HSET', KEYS[1], i, 2 * m)
redis.call('HSET', KEYS[4], ARGV[1], ARGV[2])
return 'ok'
";

/// Extends a lease only when the caller holds it. KEYS: the lease. ARGV: the holder,
/// the time to live (ms). Replies 1 when extended.
const EXTEND_LEASE_SCRIPT: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
";

/// Gives a lease up only when the caller holds it (compare and delete in one step).
/// KEYS: the lease. ARGV: the holder. Replies 1 when it was released.
const RELEASE_LEASE_SCRIPT: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";

/// Writes an action with the priority limit in one step. KEYS: the round's actions,
/// the organisation's priority set. ARGV: the action id, the record, `1` when it is a
/// priority action, the limit. Replies `written` or `limit`. The script counts ids; the
/// rule (which actions count) is `priority_allows`, which the set mirrors.
const PUT_ACTION_SCRIPT: &str = r"
if ARGV[3] == '1' then
  if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 0
     and redis.call('SCARD', KEYS[2]) >= tonumber(ARGV[4]) then
    return 'limit'
  end
  redis.call('SADD', KEYS[2], ARGV[1])
else
  redis.call('SREM', KEYS[2], ARGV[1])
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 'written'
";

/// Claims a reminder: no mark of the day yet and fewer marks than the limit, then the
/// mark, in one step. KEYS: the person's marks in the round. ARGV: the day, the mark
/// record, the limit. Replies `claimed`, `claimed-before` or `limit`.
const CLAIM_REMINDER_SCRIPT: &str = r"
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
  return 'claimed-before'
end
if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[3]) then
  return 'limit'
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 'claimed'
";

/// Queues a notice unless its id is queued. KEYS: notices, due. ARGV: id, record,
/// visible-at (ms). Replies 1 when queued.
const PUT_NOTICE_SCRIPT: &str = r"
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then
  return 0
end
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
return 1
";

/// Claims notices: the first `limit` claimable at `now`, each hidden until `until`.
/// KEYS: notices, due. ARGV: now (ms), until (ms), limit. Replies the records; an id
/// without a record (left by a crash between two steps elsewhere) is dropped.
const CLAIM_NOTICES_SCRIPT: &str = r"
local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for _, id in ipairs(ids) do
  local record = redis.call('HGET', KEYS[1], id)
  if record then
    redis.call('ZADD', KEYS[2], ARGV[2], id)
    table.insert(out, record)
  else
    redis.call('ZREM', KEYS[2], id)
  end
end
return out
";

/// A [`Store`] on a Redis server, shared by every server instance that uses it.
pub struct RedisStore {
    connection: Connection,
    keys: KeyLayout,
    write: Script,
    closed: AtomicBool,
    /// Rounds read recently (see [`ROUND_TTL`]).
    rounds: RoundCache,
    /// Per response, the meta hash this instance wrote last: the guess that lets a write
    /// take one round trip (see `execute`). Never trusted without the script's check.
    metas: Mutex<HashMap<String, StoredMeta>>,
    /// Changes this instance made or heard of (see [`Store::generation`]); views are
    /// trusted for at most [`ROUND_TTL`], since not every change made elsewhere is
    /// announced.
    changes: Changes,
}

/// Most responses whose meta an instance remembers.
const REMEMBERED_METAS: usize = 16_384;

/// How long this instance trusts a round it read: other instances may change it, and
/// only status changes reach it at once (through the event bus).
pub const ROUND_TTL: Duration = Duration::from_secs(1);

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the URL: it may hold a password.
        f.debug_struct("RedisStore")
            .field("prefix", &self.keys.prefix())
            .field("closed", &self.closed.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// Why an operation gave up although Redis answered.
#[derive(Debug, thiserror::Error)]
enum Contention {
    /// Other writers kept changing the response.
    #[error("response {0} kept changing during {MAX_ATTEMPTS} attempts to write it")]
    Response(ResponseId),
}

/// The prefix was refused.
#[derive(Debug, thiserror::Error)]
#[error("invalid redis key prefix {0:?}: use 1 to 32 characters of a-z, 0-9, '-', '_', ':'")]
struct InvalidPrefix(String);

/// Opens a store on the Redis server at `url`, with every key under `prefix`, with the
/// default [`Timeouts`].
///
/// # Errors
/// As [`connect_with`].
pub async fn connect(url: &str, prefix: &str) -> Result<RedisStore, StoreError> {
    connect_with(url, prefix, Timeouts::default()).await
}

/// Opens a store on the Redis server at `url`, with every key under `prefix`.
///
/// The connection reconnects by itself after a failure; the request that saw the
/// failure (or waited longer than `timeouts.response`) fails with
/// [`StoreError::Unavailable`].
///
/// # Errors
/// [`StoreError::Unavailable`] when the prefix is invalid or the server cannot be reached.
pub async fn connect_with(
    url: &str,
    prefix: &str,
    timeouts: Timeouts,
) -> Result<RedisStore, StoreError> {
    check_prefix(prefix)?;
    // The client's errors name what is wrong with the URL, never the URL itself.
    let client = redis::Client::open(url).map_err(unavailable)?;
    let config = ConnectionManagerConfig::new()
        .set_response_timeout(Some(timeouts.response))
        .set_connection_timeout(Some(timeouts.connect))
        .set_number_of_retries(CONNECTION_RETRIES);
    let connection = client
        .get_connection_manager_with_config(config)
        .await
        .map_err(unavailable)?;
    ready(Connection::Single(connection), prefix).await
}

/// Opens a store on the Redis Cluster that the nodes at `urls` belong to (any of its
/// nodes will do: the client learns the others, and which node holds which slot, from
/// them), with every key under `prefix`.
///
/// Commands go to the node holding their key's slot and follow the cluster when slots
/// move or a replica takes over; a request that fails meanwhile fails with
/// [`StoreError::Unavailable`], as on one server.
///
/// # Errors
/// [`StoreError::Unavailable`] when the prefix is invalid, no URL is given or no node can
/// be reached.
pub async fn connect_cluster(
    urls: &[&str],
    prefix: &str,
    timeouts: Timeouts,
) -> Result<RedisStore, StoreError> {
    check_prefix(prefix)?;
    let client = ClusterClientBuilder::new(urls.iter().copied())
        .connection_timeout(timeouts.connect)
        .response_timeout(timeouts.response)
        .retries(CLUSTER_RETRIES)
        .build()
        .map_err(unavailable)?;
    let connection = client.get_async_connection().await.map_err(unavailable)?;
    ready(Connection::Cluster(connection), prefix).await
}

fn check_prefix(prefix: &str) -> Result<(), StoreError> {
    if keys::is_valid_prefix(prefix) {
        Ok(())
    } else {
        Err(StoreError::unavailable(InvalidPrefix(prefix.to_owned())))
    }
}

/// Checks that Redis answers, then builds the store on `connection`.
async fn ready(mut connection: Connection, prefix: &str) -> Result<RedisStore, StoreError> {
    redis::cmd("PING")
        .query_async::<String>(&mut connection)
        .await
        .map_err(unavailable)?;
    Ok(RedisStore {
        connection,
        keys: KeyLayout::new(prefix),
        write: Script::new(WRITE_SCRIPT),
        closed: AtomicBool::new(false),
        rounds: RoundCache::new(Some(ROUND_TTL)),
        metas: Mutex::default(),
        changes: Changes::new(Some(ROUND_TTL)),
    })
}

/// The store's connection: one Redis server, or a Redis Cluster.
///
/// Both are cheap handles onto multiplexed connections that reconnect by themselves.
/// On a cluster, every command, script and transaction is routed by its key's slot, so
/// a pipeline must never mix slots: [`query_each`] sends commands of several slots.
#[derive(Clone)]
pub(crate) enum Connection {
    /// One server (or a primary with replicas behind one address).
    Single(ConnectionManager),
    /// A Redis Cluster.
    Cluster(ClusterConnection),
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(connection) => connection.req_packed_command(cmd),
            Self::Cluster(connection) => connection.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(connection) => connection.req_packed_commands(pipeline, offset, count),
            Self::Cluster(connection) => connection.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(connection) => connection.get_db(),
            Self::Cluster(connection) => connection.get_db(),
        }
    }
}

/// Runs commands that may touch keys of different slots, and returns their replies in
/// order. On one server they go in one pipeline (one round trip, not a transaction); on
/// a cluster each is routed on its own, all at once.
async fn query_each<T: FromRedisValue + Send>(
    con: &mut Connection,
    commands: Vec<Cmd>,
) -> Result<Vec<T>, StoreError> {
    match con {
        Connection::Single(_) => {
            if commands.is_empty() {
                return Ok(Vec::new());
            }
            let mut pipe = redis::pipe();
            for command in commands {
                pipe.add_command(command);
            }
            pipe.query_async(con).await.map_err(unavailable)
        }
        Connection::Cluster(cluster) => {
            futures_util::future::try_join_all(commands.into_iter().map(|command| {
                let mut cluster = cluster.clone();
                async move { command.query_async::<T>(&mut cluster).await }
            }))
            .await
            .map_err(unavailable)
        }
    }
}

fn unavailable(error: RedisError) -> StoreError {
    StoreError::unavailable(error)
}

fn corrupt(what: &str, detail: impl fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {detail}"))
}

/// Decodes a stored record and converts it to its domain type.
fn from_json<R, T>(what: &str, bytes: &[u8]) -> Result<T, StoreError>
where
    R: DeserializeOwned,
    T: TryFrom<R, Error = StoreError>,
{
    T::try_from(decode::<R>(what, bytes)?)
}

/// A response's meta as stored: the record, and the raw `last_seq` and `submitted`
/// values that the write script compares against.
#[derive(Clone)]
struct StoredMeta {
    record: Option<MetaRecord>,
    last_seq: String,
    submitted: String,
}

impl StoredMeta {
    /// Reads the meta hash; an empty hash is a response without events.
    fn parse(fields: &HashMap<String, String>) -> Result<Self, StoreError> {
        const WHAT: &str = "response meta";
        if fields.is_empty() {
            return Ok(Self {
                record: None,
                last_seq: "0".to_owned(),
                submitted: "0".to_owned(),
            });
        }
        let field = |name: &str| {
            fields
                .get(name)
                .ok_or_else(|| corrupt(WHAT, format!("no field {name}")))
        };
        let version: u16 = field("v")?.parse().map_err(|e| corrupt(WHAT, e))?;
        if version != record::VERSION {
            return Err(corrupt(WHAT, format!("unknown record version {version}")));
        }
        let submitted = match field("submitted")?.as_str() {
            "0" => false,
            "1" => true,
            other => return Err(corrupt(WHAT, format!("submitted is {other:?}"))),
        };
        let last_seq: u64 = field("last_seq")?.parse().map_err(|e| corrupt(WHAT, e))?;
        let updated_at = match fields.get("updated_at") {
            Some(text) => Some(Timestamp::from_millis(
                text.parse().map_err(|e| corrupt(WHAT, e))?,
            )),
            None => None,
        };
        let meta = ResponseMeta {
            status: if submitted {
                ResponseStatus::Submitted
            } else {
                ResponseStatus::Draft
            },
            last_seq,
        };
        Ok(Self {
            record: Some(MetaRecord::new(&meta, updated_at)),
            last_seq: field("last_seq")?.clone(),
            submitted: field("submitted")?.clone(),
        })
    }

    /// The meta hash a write of `record` leaves (see [`meta_fields`]).
    fn written(record: MetaRecord) -> Self {
        Self {
            record: Some(record),
            last_seq: record.last_seq.to_string(),
            submitted: submitted_field(record.submitted).to_owned(),
        }
    }

    fn meta(&self) -> ResponseMeta {
        self.record.map(|r| r.meta()).unwrap_or_default()
    }

    fn updated_at(&self) -> Option<Timestamp> {
        self.record
            .and_then(|r| r.updated_at)
            .map(Timestamp::from_millis)
    }
}

/// The `submitted` field of a meta hash.
fn submitted_field(submitted: bool) -> &'static str {
    if submitted { "1" } else { "0" }
}

/// The hash fields of a meta record.
fn meta_fields(record: &MetaRecord) -> Vec<(&'static str, String)> {
    let mut fields = vec![
        ("v", record::VERSION.to_string()),
        ("submitted", submitted_field(record.submitted).to_owned()),
        ("last_seq", record.last_seq.to_string()),
    ];
    if let Some(at) = record.updated_at {
        fields.push(("updated_at", at.to_string()));
    }
    fields
}

/// Everything one successful request writes to its response.
struct PlannedWrite {
    idempotency: Vec<u8>,
    /// The meta record written (every field of the hash), `None` when the request
    /// records no event.
    meta: Option<MetaRecord>,
    events: Vec<Vec<u8>>,
    answers_set: Vec<(String, Vec<u8>)>,
    answers_cleared: Vec<String>,
}

impl PlannedWrite {
    /// The write of `events`, planned on `stored`, for a request of `fingerprint`.
    fn new(fingerprint: &str, stored: &StoredMeta, events: &[ResponseEvent]) -> Self {
        let mut meta = stored.meta();
        let mut updated_at = stored.updated_at();
        // The last change per question wins, so that one request setting then clearing
        // the same question ends cleared whatever order the script applies sets and
        // deletes in.
        let mut answers: BTreeMap<String, Option<AnswerRecord>> = BTreeMap::new();
        for event in events {
            meta.apply(event);
            updated_at = Some(event.at);
            if let EventKind::Answer { question, .. } = &event.kind {
                answers.insert(question.to_string(), AnswerRecord::from_event(event));
            }
        }
        let mut answers_set = Vec::new();
        let mut answers_cleared = Vec::new();
        for (question, answer) in answers {
            match answer {
                Some(record) => answers_set.push((question, encode(&record))),
                None => answers_cleared.push(question),
            }
        }
        let first_seq = events.first().map_or(0, |e| e.seq);
        // A request without events leaves the meta alone, so that a response with no
        // events keeps having no meta.
        let meta = (!events.is_empty()).then(|| MetaRecord::new(&meta, updated_at));
        Self {
            idempotency: encode(&IdempotencyRecord::with_fingerprint(
                fingerprint.to_owned(),
                first_seq,
                events.len() as u64,
            )),
            meta,
            events: events
                .iter()
                .map(|e| encode(&EventRecord::from(e)))
                .collect(),
            answers_set,
            answers_cleared,
        }
    }
}

impl RedisStore {
    /// The connection, unless the store was closed. The manager is a cheap handle onto
    /// one multiplexed connection.
    fn connection(&self) -> Result<Connection, StoreError> {
        if self.closed.load(Ordering::Acquire) {
            Err(StoreError::Closed)
        } else {
            Ok(self.connection.clone())
        }
    }

    /// One record by key.
    async fn get_record<R, T>(
        con: &mut Connection,
        what: &str,
        key: &str,
    ) -> Result<Option<T>, StoreError>
    where
        R: DeserializeOwned,
        T: TryFrom<R, Error = StoreError>,
    {
        let bytes: Option<Vec<u8>> = redis::cmd("GET")
            .arg(key)
            .query_async(con)
            .await
            .map_err(unavailable)?;
        bytes.map(|b| from_json::<R, T>(what, &b)).transpose()
    }

    /// Several records by key, skipping missing ones. One GET per key, not MGET: the keys
    /// live in different slots (see [`query_each`]).
    async fn get_records<R, T>(
        con: &mut Connection,
        what: &str,
        keys: &[String],
    ) -> Result<Vec<T>, StoreError>
    where
        R: DeserializeOwned,
        T: TryFrom<R, Error = StoreError>,
    {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let gets = keys.iter().map(|key| redis::cmd("GET").arg(key).clone());
        let values: Vec<Option<Vec<u8>>> = query_each(con, gets.collect()).await?;
        values
            .into_iter()
            .flatten()
            .map(|bytes| from_json::<R, T>(what, &bytes))
            .collect()
    }

    /// Every record whose id is in the index set `index`, sorted by `order`: the
    /// listing shared by organisations, people and rounds. Ids are parsed before they
    /// become keys, so a corrupt index entry never reaches a key name.
    async fn list_indexed<R, T, K: Ord>(
        con: &mut Connection,
        what: &str,
        index: &str,
        key_of: impl Fn(&str) -> Result<String, StoreError>,
        order: impl Fn(&T) -> K,
    ) -> Result<Vec<T>, StoreError>
    where
        R: DeserializeOwned,
        T: TryFrom<R, Error = StoreError>,
    {
        let ids = Self::members(con, index).await?;
        let keys = ids
            .iter()
            .map(|id| key_of(id))
            .collect::<Result<Vec<_>, _>>()?;
        let mut records: Vec<T> = Self::get_records::<R, T>(con, what, &keys).await?;
        records.sort_by_key(|record| order(record));
        Ok(records)
    }

    /// The members of a set.
    async fn members(con: &mut Connection, key: &str) -> Result<Vec<String>, StoreError> {
        redis::cmd("SMEMBERS")
            .arg(key)
            .query_async(con)
            .await
            .map_err(unavailable)
    }

    /// Writes a record and adds its id to an id set. Two slots, so two commands in order:
    /// the record first, so that a listed id always has a record; a retry converges.
    async fn put_indexed(
        con: &mut Connection,
        key: &str,
        record: Vec<u8>,
        set: &str,
        id: &str,
    ) -> Result<(), StoreError> {
        redis::cmd("SET")
            .arg(key)
            .arg(record)
            .exec_async(&mut *con)
            .await
            .map_err(unavailable)?;
        redis::cmd("SADD")
            .arg(set)
            .arg(id)
            .exec_async(con)
            .await
            .map_err(unavailable)
    }

    /// The events an idempotency record points at.
    async fn recorded_events(
        con: &mut Connection,
        keys: &ResponseKeys,
        id: &ResponseId,
        record: &IdempotencyRecord,
    ) -> Result<Vec<ResponseEvent>, StoreError> {
        if record.count == 0 {
            return Ok(Vec::new());
        }
        if record.first_seq == 0 {
            return Err(corrupt("idempotency record", "events start at seq 0"));
        }
        // Events are never changed once written, so this read needs no transaction.
        let start = record.first_seq - 1;
        let stop = start + record.count - 1;
        let values: Vec<Vec<u8>> = redis::cmd("LRANGE")
            .arg(&keys.events)
            .arg(start)
            .arg(stop)
            .query_async(con)
            .await
            .map_err(unavailable)?;
        if values.len() as u64 != record.count {
            return Err(corrupt(
                "idempotency record",
                format!("{} events recorded, {} found", record.count, values.len()),
            ));
        }
        Self::decode_events(id, &values, record.first_seq)
    }

    /// Decodes event records, checking that they are numbered from `first_seq` on.
    fn decode_events(
        id: &ResponseId,
        values: &[Vec<u8>],
        first_seq: u64,
    ) -> Result<Vec<ResponseEvent>, StoreError> {
        values
            .iter()
            .zip(first_seq..)
            .map(|(bytes, seq)| {
                let event = decode::<EventRecord>("event", bytes)?.into_event(id)?;
                if event.seq == seq {
                    Ok(event)
                } else {
                    Err(corrupt(
                        "event log",
                        format!("event {} found at position {seq}", event.seq),
                    ))
                }
            })
            .collect()
    }

    /// Runs a write a view may depend on, then notes the change, whether or not the write
    /// reported success (it may have landed): views computed before may be stale now.
    async fn noted<T>(
        &self,
        write: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let outcome = write.await;
        self.changes.note();
        outcome
    }

    /// The meta hash this instance last wrote for a response, if it remembers one.
    fn remembered_meta(&self, response: &str) -> Option<StoredMeta> {
        self.metas
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(response)
            .cloned()
    }

    /// Remembers the meta hash a successful write left (the write sets every field of
    /// it). Bounded: when full, it starts over.
    fn remember_meta(&self, response: &str, write: &PlannedWrite) {
        let Some(record) = write.meta else {
            return;
        };
        let written = StoredMeta::written(record);
        let mut metas = self.metas.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(remembered) = metas.get_mut(response) {
            *remembered = written;
            return;
        }
        if metas.len() >= REMEMBERED_METAS {
            metas.clear();
        }
        metas.insert(response.to_owned(), written);
    }

    /// Runs the write script once.
    async fn run_write(
        &self,
        con: &mut Connection,
        keys: &ResponseKeys,
        request: &ResponseRequest,
        stored: &StoredMeta,
        write: &PlannedWrite,
    ) -> Result<String, StoreError> {
        // EVALSHA built directly (the script's own invocation copies every argument
        // once more).
        let all = keys.all();
        let meta = write.meta.as_ref().map(meta_fields).unwrap_or_default();
        let mut invocation = redis::cmd("EVALSHA");
        invocation.arg(self.write.get_hash()).arg(all.len());
        for key in all {
            invocation.arg(key);
        }
        invocation
            .arg(request.idempotency_key.as_str())
            .arg(write.idempotency.as_slice())
            .arg(stored.last_seq.as_str())
            .arg(stored.submitted.as_str())
            .arg(meta.len())
            .arg(write.events.len())
            .arg(write.answers_set.len())
            .arg(write.answers_cleared.len());
        for event in &write.events {
            invocation.arg(event.as_slice());
        }
        for (question, answer) in &write.answers_set {
            invocation.arg(question.as_str()).arg(answer.as_slice());
        }
        for question in &write.answers_cleared {
            invocation.arg(question.as_str());
        }
        for (field, value) in &meta {
            invocation.arg(*field).arg(value.as_str());
        }
        match invocation.query_async(con).await {
            // Redis does not know the script (e.g. after a restart): load it, then again.
            Err(error) if error.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
                self.write.load_async(con).await.map_err(unavailable)?;
                invocation.query_async(con).await.map_err(unavailable)
            }
            outcome => outcome.map_err(unavailable),
        }
    }
}

#[async_trait]
impl Store for RedisStore {
    fn backend(&self) -> Backend {
        Backend::Redis
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let mut con = self.connection()?;
        redis::cmd("PING")
            .query_async::<String>(&mut con)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn put_organisation(&self, organisation: &Organisation) -> Result<(), StoreError> {
        self.noted(async {
            let mut con = self.connection()?;
            Self::put_indexed(
                &mut con,
                &self.keys.organisation(&organisation.id),
                encode(&OrganisationRecord::from(organisation)),
                &self.keys.organisations(),
                organisation.id.as_str(),
            )
            .await
        })
        .await
    }

    async fn organisation(&self, id: &OrganisationId) -> Result<Option<Organisation>, StoreError> {
        let mut con = self.connection()?;
        Self::get_record::<OrganisationRecord, _>(
            &mut con,
            "organisation",
            &self.keys.organisation(id),
        )
        .await
    }

    async fn organisations(&self) -> Result<Vec<Organisation>, StoreError> {
        let mut con = self.connection()?;
        Self::list_indexed::<OrganisationRecord, Organisation, _>(
            &mut con,
            "organisation",
            &self.keys.organisations(),
            |id| {
                OrganisationId::parse(id)
                    .map(|id| self.keys.organisation(&id))
                    .map_err(|e| corrupt("organisation id", e))
            },
            |record| record.id.clone(),
        )
        .await
    }

    async fn put_person(&self, person: &Person) -> Result<(), StoreError> {
        self.noted(async {
            // Not atomic: the person, the other person holding the chat and the chat index
            // live in different slots. Each step is idempotent and the record is written
            // last but one, so a failed call is repaired by calling again; `person_by_chat`
            // checks the person's record, so a stale index entry is never believed.
            let mut con = self.connection()?;
            let chats = self.keys.chats();
            let key = self.keys.person(&person.id);
            let previous: Option<Person> =
                Self::get_record::<PersonRecord, _>(&mut con, "person", &key).await?;

            // Release the chat this person leaves, if the index still gives it to them.
            if let Some(old) = previous.and_then(|p| p.telegram_chat)
                && Some(old) != person.telegram_chat
            {
                let holder: Option<String> = redis::cmd("HGET")
                    .arg(&chats)
                    .arg(old.0)
                    .query_async(&mut con)
                    .await
                    .map_err(unavailable)?;
                if holder.as_deref() == Some(person.id.as_str()) {
                    redis::cmd("HDEL")
                        .arg(&chats)
                        .arg(old.0)
                        .exec_async(&mut con)
                        .await
                        .map_err(unavailable)?;
                }
            }

            // Take the chat away from whoever else had it.
            if let Some(chat) = person.telegram_chat {
                let holder: Option<String> = redis::cmd("HGET")
                    .arg(&chats)
                    .arg(chat.0)
                    .query_async(&mut con)
                    .await
                    .map_err(unavailable)?;
                if let Some(holder) = holder
                    && holder != person.id.as_str()
                {
                    let other_id =
                        PersonId::parse(&holder).map_err(|e| corrupt("chat index", e))?;
                    let other_key = self.keys.person(&other_id);
                    let other: Option<Person> =
                        Self::get_record::<PersonRecord, _>(&mut con, "person", &other_key).await?;
                    if let Some(mut other) = other
                        && other.telegram_chat == Some(chat)
                    {
                        other.telegram_chat = None;
                        redis::cmd("SET")
                            .arg(&other_key)
                            .arg(encode(&PersonRecord::from(&other)))
                            .exec_async(&mut con)
                            .await
                            .map_err(unavailable)?;
                    }
                }
            }

            Self::put_indexed(
                &mut con,
                &key,
                encode(&PersonRecord::from(person)),
                &self.keys.persons(),
                person.id.as_str(),
            )
            .await?;
            if let Some(chat) = person.telegram_chat {
                redis::cmd("HSET")
                    .arg(&chats)
                    .arg(chat.0)
                    .arg(person.id.as_str())
                    .exec_async(&mut con)
                    .await
                    .map_err(unavailable)?;
            }
            Ok(())
        })
        .await
    }

    async fn person(&self, id: &PersonId) -> Result<Option<Person>, StoreError> {
        let mut con = self.connection()?;
        Self::get_record::<PersonRecord, _>(&mut con, "person", &self.keys.person(id)).await
    }

    async fn person_by_chat(&self, chat: TelegramChatId) -> Result<Option<Person>, StoreError> {
        let mut con = self.connection()?;
        let holder: Option<String> = redis::cmd("HGET")
            .arg(self.keys.chats())
            .arg(chat.0)
            .query_async(&mut con)
            .await
            .map_err(unavailable)?;
        let Some(holder) = holder else {
            return Ok(None);
        };
        let id = PersonId::parse(&holder).map_err(|e| corrupt("chat index", e))?;
        let person: Option<Person> =
            Self::get_record::<PersonRecord, _>(&mut con, "person", &self.keys.person(&id)).await?;
        // The index is only a hint (see `put_person`): the person's record decides.
        Ok(person.filter(|p| p.telegram_chat == Some(chat)))
    }

    async fn persons(&self) -> Result<Vec<Person>, StoreError> {
        let mut con = self.connection()?;
        Self::list_indexed::<PersonRecord, Person, _>(
            &mut con,
            "person",
            &self.keys.persons(),
            |id| {
                PersonId::parse(id)
                    .map(|id| self.keys.person(&id))
                    .map_err(|e| corrupt("person id", e))
            },
            |record| record.id.clone(),
        )
        .await
    }

    async fn put_round(&self, round: &Round) -> Result<(), StoreError> {
        self.noted(async {
            let mut con = self.connection()?;
            let written = Self::put_indexed(
                &mut con,
                &self.keys.round(&round.id).round,
                encode(&RoundRecord::from(round)),
                &self.keys.rounds(),
                round.id.as_str(),
            )
            .await;
            // Also after a failed write: it may have landed.
            self.rounds.forget(&round.id);
            written
        })
        .await
    }

    async fn round(&self, id: &RoundId) -> Result<Option<Round>, StoreError> {
        Ok(self.round_shared(id).await?.map(|round| (*round).clone()))
    }

    async fn round_shared(&self, id: &RoundId) -> Result<Option<Arc<Round>>, StoreError> {
        let miss = match self.rounds.get(id) {
            Ok(round) => return Ok(Some(round)),
            Err(miss) => miss,
        };
        let mut con = self.connection()?;
        let round =
            Self::get_record::<RoundRecord, _>(&mut con, "round", &self.keys.round(id).round)
                .await?
                .map(Arc::new);
        if let Some(round) = &round {
            self.rounds.keep(miss, round);
        }
        Ok(round)
    }

    fn changed_elsewhere(&self, round: &RoundId, status_changed: bool) {
        if status_changed {
            self.rounds.forget(round);
        }
        self.changes.note();
    }

    fn generation(&self) -> Option<Generation> {
        Some(self.changes.generation())
    }

    async fn rounds(&self) -> Result<Vec<Round>, StoreError> {
        let mut con = self.connection()?;
        Self::list_indexed::<RoundRecord, Round, _>(
            &mut con,
            "round",
            &self.keys.rounds(),
            |id| {
                RoundId::parse(id)
                    .map(|id| self.keys.round(&id).round)
                    .map_err(|e| corrupt("round id", e))
            },
            |record| record.id.clone(),
        )
        .await
    }

    async fn put_assignment(&self, assignment: &Assignment) -> Result<(), StoreError> {
        self.noted(async {
            let mut con = self.connection()?;
            redis::cmd("HSET")
                .arg(self.keys.round(&assignment.round).assignments)
                .arg(record::assignment_field(assignment))
                .arg(encode(&AssignmentRecord::from(assignment)))
                .exec_async(&mut con)
                .await
                .map_err(unavailable)
        })
        .await
    }

    async fn remove_assignment(&self, assignment: &Assignment) -> Result<bool, StoreError> {
        self.noted(async {
            let mut con = self.connection()?;
            let removed: u64 = redis::cmd("HDEL")
                .arg(self.keys.round(&assignment.round).assignments)
                .arg(record::assignment_field(assignment))
                .query_async(&mut con)
                .await
                .map_err(unavailable)?;
            Ok(removed > 0)
        })
        .await
    }

    async fn assignments(&self, round: &RoundId) -> Result<Vec<Assignment>, StoreError> {
        let mut con = self.connection()?;
        let fields: HashMap<String, Vec<u8>> = redis::cmd("HGETALL")
            .arg(self.keys.round(round).assignments)
            .query_async(&mut con)
            .await
            .map_err(unavailable)?;
        let mut assignments = fields
            .values()
            .map(|bytes| from_json::<AssignmentRecord, Assignment>("assignment", bytes))
            .collect::<Result<Vec<_>, _>>()?;
        // By organisation, person, role, as the trait says; the field text would sort
        // `a-b/…` before `a/…`.
        assignments.sort_by(|a, b| {
            (&a.organisation, &a.person, a.role.as_str()).cmp(&(
                &b.organisation,
                &b.person,
                b.role.as_str(),
            ))
        });
        Ok(assignments)
    }

    async fn assignments_of(
        &self,
        round: &RoundId,
        organisation: &OrganisationId,
        person: &PersonId,
    ) -> Result<Vec<Assignment>, StoreError> {
        let mut con = self.connection()?;
        // The person's fields are known: one per role name.
        let mut command = redis::cmd("HMGET");
        command.arg(self.keys.round(round).assignments);
        for role in Role::NAMES {
            command.arg(format!("{organisation}/{person}/{role}"));
        }
        let values: Vec<Option<Vec<u8>>> =
            command.query_async(&mut con).await.map_err(unavailable)?;
        let mut assignments = values
            .iter()
            .flatten()
            .map(|bytes| from_json::<AssignmentRecord, Assignment>("assignment", bytes))
            .collect::<Result<Vec<_>, _>>()?;
        assignments.sort_by(|a, b| a.role.as_str().cmp(b.role.as_str()));
        Ok(assignments)
    }

    async fn execute(&self, request: &ResponseRequest) -> Result<Receipt, StoreError> {
        self.noted(async {
            let mut con = self.connection()?;
            let id = request.key.id();
            let keys = self.keys.response(&id);
            let fingerprint = record::fingerprint(request);

            // 0. The common case in one round trip: plan from the meta this instance wrote
            //    last. The script checks that guess (and the idempotency key) before writing,
            //    so a stale guess, a used key or a refusal planned from the guess falls
            //    through to the verified path below, which decides from what Redis holds.
            if let Some(stored) = self.remembered_meta(id.as_str())
                && stored.meta().last_seq > 0
                && let Ok(events) = record::plan_events(&stored.meta(), request)
            {
                let write = PlannedWrite::new(&fingerprint, &stored, &events);
                if self
                    .run_write(&mut con, &keys, request, &stored, &write)
                    .await?
                    == "ok"
                {
                    self.remember_meta(id.as_str(), &write);
                    return Ok(Receipt {
                        events,
                        replayed: false,
                    });
                }
            }

            let mut listed = false;
            for _ in 0..MAX_ATTEMPTS {
                // 1. The state the plan starts from, read in one transaction (one slot).
                let (idempotency, meta): (Option<Vec<u8>>, HashMap<String, String>) = redis::pipe()
                    .atomic()
                    .cmd("HGET")
                    .arg(&keys.idem)
                    .arg(request.idempotency_key.as_str())
                    .cmd("HGETALL")
                    .arg(&keys.meta)
                    .query_async(&mut con)
                    .await
                    .map_err(unavailable)?;

                // 2. A used key: the first receipt again, or a conflict.
                if let Some(bytes) = idempotency {
                    let recorded: IdempotencyRecord = decode("idempotency record", &bytes)?;
                    if recorded.fingerprint != fingerprint {
                        return Err(StoreError::IdempotencyConflict);
                    }
                    let events = Self::recorded_events(&mut con, &keys, &id, &recorded).await?;
                    return Ok(Receipt {
                        events,
                        replayed: true,
                    });
                }

                // 3. The product rule, in Rust; a refusal writes nothing.
                let stored = StoredMeta::parse(&meta)?;
                let events = record::plan_events(&stored.meta(), request)?;
                let write = PlannedWrite::new(&fingerprint, &stored, &events);

                // 4. List the response in its round. Another slot, so before the script and
                //    outside it; an entry whose write then fails is harmless, since
                //    `responses` keeps only responses with a meta. A response that has a meta
                //    was listed before its first write, so later writes skip the round trip.
                if !listed && !events.is_empty() && stored.meta().last_seq == 0 {
                    redis::cmd("SADD")
                        .arg(self.keys.round(&request.key.round).responses)
                        .arg(id.as_str())
                        .exec_async(&mut con)
                        .await
                        .map_err(unavailable)?;
                    listed = true;
                }

                // 5. Write, if nothing changed since step 1.
                let outcome = self
                    .run_write(&mut con, &keys, request, &stored, &write)
                    .await?;
                match outcome.as_str() {
                    "ok" => {
                        self.remember_meta(id.as_str(), &write);
                        return Ok(Receipt {
                            events,
                            replayed: false,
                        });
                    }
                    // Another request won the race; step 1 sees what it wrote.
                    "replay" | "retry" => {}
                    other => return Err(corrupt("write script", format!("replied {other:?}"))),
                }
            }
            Err(StoreError::unavailable(Contention::Response(id)))
        })
        .await
    }

    async fn response(&self, key: &ResponseKey) -> Result<Option<Response>, StoreError> {
        let mut con = self.connection()?;
        let keys = self.keys.response(&key.id());
        let (meta, answers): (HashMap<String, String>, HashMap<String, Vec<u8>>) = redis::pipe()
            .atomic()
            .cmd("HGETALL")
            .arg(&keys.meta)
            .cmd("HGETALL")
            .arg(&keys.answers)
            .query_async(&mut con)
            .await
            .map_err(unavailable)?;
        let stored = StoredMeta::parse(&meta)?;
        if stored.record.is_none() {
            return Ok(None);
        }
        let answers = answers
            .into_iter()
            .map(|(question, bytes)| {
                let question =
                    QuestionId::parse(&question).map_err(|e| corrupt("question id", e))?;
                let answer = from_json::<AnswerRecord, CurrentAnswer>("answer", &bytes)?;
                Ok((question, answer))
            })
            .collect::<Result<BTreeMap<_, _>, StoreError>>()?;
        Ok(Some(Response {
            key: key.clone(),
            meta: stored.meta(),
            answers,
            updated_at: stored.updated_at(),
        }))
    }

    async fn history(&self, key: &ResponseKey) -> Result<Vec<ResponseEvent>, StoreError> {
        let mut con = self.connection()?;
        let id = key.id();
        let values: Vec<Vec<u8>> = redis::cmd("LRANGE")
            .arg(self.keys.response(&id).events)
            .arg(0)
            .arg(-1)
            .query_async(&mut con)
            .await
            .map_err(unavailable)?;
        Self::decode_events(&id, &values, 1)
    }

    async fn responses(&self, round: &RoundId) -> Result<Vec<ResponseKey>, StoreError> {
        let mut con = self.connection()?;
        let ids = Self::members(&mut con, &self.keys.round(round).responses).await?;
        let mut keys = ids
            .iter()
            .map(|id| ResponseKey::parse(id).ok_or_else(|| corrupt("response id", id)))
            .collect::<Result<Vec<_>, _>>()?;
        if keys.is_empty() {
            return Ok(keys);
        }
        // Each meta lives in its response's slot: one EXISTS per key (see `query_each`).
        let checks = keys.iter().map(|key| {
            redis::cmd("EXISTS")
                .arg(self.keys.response(&key.id()).meta)
                .clone()
        });
        let exists: Vec<bool> = query_each(&mut con, checks.collect()).await?;
        let mut exists = exists.into_iter();
        keys.retain(|_| exists.next().unwrap_or(false));
        keys.sort_by_cached_key(|key| key.id().as_str().to_owned());
        Ok(keys)
    }

    async fn add_validation(&self, record: &ValidationRecord) -> Result<(), StoreError> {
        self.noted(async {
            let mut con = self.connection()?;
            redis::cmd("RPUSH")
                .arg(self.keys.validations(&record.round, &record.organisation))
                .arg(encode(&ValidationRecordRecord::from(record)))
                .exec_async(&mut con)
                .await
                .map_err(unavailable)
        })
        .await
    }

    async fn validations(
        &self,
        round: &RoundId,
        organisation: &OrganisationId,
    ) -> Result<Vec<ValidationRecord>, StoreError> {
        let mut con = self.connection()?;
        let values: Vec<Vec<u8>> = redis::cmd("LRANGE")
            .arg(self.keys.validations(round, organisation))
            .arg(0)
            .arg(-1)
            .query_async(&mut con)
            .await
            .map_err(unavailable)?;
        values
            .iter()
            .map(|bytes| from_json::<ValidationRecordRecord, ValidationRecord>("validation", bytes))
            .collect()
    }

    async fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        let mut con = self.connection()?;
        redis::cmd("RPUSH")
            .arg(self.keys.audit(&entry.round))
            .arg(encode(&AuditRecord::from(entry)))
            .exec_async(&mut con)
            .await
            .map_err(unavailable)
    }

    async fn audit(&self, round: &RoundId) -> Result<Vec<AuditEntry>, StoreError> {
        let mut con = self.connection()?;
        let values: Vec<Vec<u8>> = redis::cmd("LRANGE")
            .arg(self.keys.audit(round))
            .arg(0)
            .arg(-1)
            .query_async(&mut con)
            .await
            .map_err(unavailable)?;
        values
            .iter()
            .map(|bytes| from_json::<AuditRecord, AuditEntry>("audit entry", bytes))
            .collect()
    }

    async fn put_api_token(&self, token: &ApiToken) -> Result<(), StoreError> {
        let mut con = self.connection()?;
        let index = self.keys.api_tokens();
        let hash = token.hash.to_hex();
        let previous: Option<String> = redis::cmd("HGET")
            .arg(&index)
            .arg(token.id.as_str())
            .query_async(&mut con)
            .await
            .map_err(unavailable)?;
        // Record, then index, then the replaced record (three slots, three commands): each
        // step idempotent, in an order where a failure leaves the old secret working rather
        // than no secret.
        redis::cmd("SET")
            .arg(self.keys.api_token(&token.hash))
            .arg(encode(&ApiTokenRecord::from(token)))
            .exec_async(&mut con)
            .await
            .map_err(unavailable)?;
        redis::cmd("HSET")
            .arg(&index)
            .arg(token.id.as_str())
            .arg(&hash)
            .exec_async(&mut con)
            .await
            .map_err(unavailable)?;
        if let Some(previous) = previous
            && previous != hash
        {
            // A replaced token's old secret must stop working.
            let old = TokenHash::from_hex(&previous)
                .ok_or_else(|| corrupt("api token index", "hash is not hex"))?;
            redis::cmd("DEL")
                .arg(self.keys.api_token(&old))
                .exec_async(&mut con)
                .await
                .map_err(unavailable)?;
        }
        Ok(())
    }

    async fn api_token(&self, hash: &TokenHash) -> Result<Option<ApiToken>, StoreError> {
        let mut con = self.connection()?;
        Self::get_record::<ApiTokenRecord, _>(&mut con, "api token", &self.keys.api_token(hash))
            .await
    }

    async fn api_tokens(&self) -> Result<Vec<ApiToken>, StoreError> {
        let mut con = self.connection()?;
        let index: HashMap<String, String> = redis::cmd("HGETALL")
            .arg(self.keys.api_tokens())
            .query_async(&mut con)
            .await
            .map_err(unavailable)?;
        let keys = index
            .values()
            .map(|hex| {
                TokenHash::from_hex(hex)
                    .map(|hash| self.keys.api_token(&hash))
                    .ok_or_else(|| corrupt("api token index", "hash is not hex"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut tokens: Vec<ApiToken> =
            Self::get_records::<ApiTokenRecord, _>(&mut con, "api token", &keys).await?;
        tokens.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(tokens)
    }

    async fn revoke_api_token(&self, id: &TokenId) -> Result<bool, StoreError> {
        // Read, modify, write: a concurrent `put_api_token` of the same token may win,
        // as it would had it come just after.
        let mut con = self.connection()?;
        let hex: Option<String> = redis::cmd("HGET")
            .arg(self.keys.api_tokens())
            .arg(id.as_str())
            .query_async(&mut con)
            .await
            .map_err(unavailable)?;
        let Some(hex) = hex else {
            return Ok(false);
        };
        let hash = TokenHash::from_hex(&hex)
            .ok_or_else(|| corrupt("api token index", "hash is not hex"))?;
        let key = self.keys.api_token(&hash);
        let bytes: Option<Vec<u8>> = redis::cmd("GET")
            .arg(&key)
            .query_async(&mut con)
            .await
            .map_err(unavailable)?;
        let Some(bytes) = bytes else {
            return Ok(false);
        };
        let mut record: ApiTokenRecord = decode("api token", &bytes)?;
        // Refuse to rewrite a record this version cannot read.
        ApiToken::try_from(record.clone())?;
        record.revoke();
        redis::cmd("SET")
            .arg(&key)
            .arg(encode(&record))
            .exec_async(&mut con)
            .await
            .map_err(unavailable)?;
        Ok(true)
    }

    async fn put_link_token(&self, token: &LinkToken) -> Result<(), StoreError> {
        let mut con = self.connection()?;
        // The record first, then the index: a link the index misses cannot be revoked by
        // binding, so a failure in between is reported and the link is not sent.
        redis::cmd("SET")
            .arg(self.keys.link_token(&token.hash))
            .arg(encode(&LinkTokenRecord::from(token)))
            .exec_async(&mut con)
            .await
            .map_err(unavailable)?;
        redis::cmd("SADD")
            .arg(self.keys.links_of(&token.binding))
            .arg(token.hash.to_hex())
            .exec_async(&mut con)
            .await
            .map_err(unavailable)
    }

    async fn link_token(&self, hash: &TokenHash) -> Result<Option<LinkToken>, StoreError> {
        let mut con = self.connection()?;
        Self::get_record::<LinkTokenRecord, _>(&mut con, "link token", &self.keys.link_token(hash))
            .await
    }

    async fn revoke_link_token(&self, hash: &TokenHash) -> Result<bool, StoreError> {
        let mut con = self.connection()?;
        let key = self.keys.link_token(hash);
        let bytes: Option<Vec<u8>> = redis::cmd("GET")
            .arg(&key)
            .query_async(&mut con)
            .await
            .map_err(unavailable)?;
        let Some(bytes) = bytes else {
            return Ok(false);
        };
        let mut record: LinkTokenRecord = decode("link token", &bytes)?;
        LinkToken::try_from(record.clone())?;
        record.revoke();
        redis::cmd("SET")
            .arg(&key)
            .arg(encode(&record))
            .exec_async(&mut con)
            .await
            .map_err(unavailable)?;
        Ok(true)
    }

    async fn revoke_links_of(&self, binding: &LinkBinding) -> Result<usize, StoreError> {
        let mut con = self.connection()?;
        let hashes: Vec<String> = redis::cmd("SMEMBERS")
            .arg(self.keys.links_of(binding))
            .query_async(&mut con)
            .await
            .map_err(unavailable)?;
        let mut revoked = 0;
        for hex in hashes {
            let Some(hash) = TokenHash::from_hex(&hex) else {
                return Err(StoreError::Corrupt(format!("a link index holds {hex:?}")));
            };
            // Revoking is idempotent: a retry after a failure part-way is harmless.
            if self
                .link_token(&hash)
                .await?
                .is_some_and(|token| !token.revoked && token.binding == *binding)
                && self.revoke_link_token(&hash).await?
            {
                revoked += 1;
            }
        }
        Ok(revoked)
    }

    async fn put_telegram_code(&self, code: &TelegramLinkCode) -> Result<(), StoreError> {
        let mut con = self.connection()?;
        // Redis forgets an expired code by itself; `take_telegram_code` checks the time
        // again, so a clock difference never extends a code.
        let ttl = code
            .expires_at
            .millis()
            .saturating_sub(Timestamp::now().millis());
        redis::cmd("SET")
            .arg(self.keys.telegram_code(&code.hash))
            .arg(encode(&TelegramCodeRecord::from(code)))
            .arg("PX")
            .arg(ttl.max(1))
            .exec_async(&mut con)
            .await
            .map_err(unavailable)
    }

    async fn take_telegram_code(
        &self,
        hash: &TokenHash,
        now: Timestamp,
    ) -> Result<Option<TelegramLinkCode>, StoreError> {
        let mut con = self.connection()?;
        // GETDEL is atomic: of two concurrent takers, one gets the record, the other nil.
        let bytes: Option<Vec<u8>> = redis::cmd("GETDEL")
            .arg(self.keys.telegram_code(hash))
            .query_async(&mut con)
            .await
            .map_err(unavailable)?;
        let Some(bytes) = bytes else {
            return Ok(None);
        };
        let record: TelegramCodeRecord = decode("telegram code", &bytes)?;
        let code = TelegramLinkCode::try_from(record)?;
        Ok(code.is_usable(now).then_some(code))
    }

    async fn mark_update_seen(&self, update_id: i64, now: Timestamp) -> Result<bool, StoreError> {
        let mut con = self.connection()?;
        // Redis forgets the id by itself; the expiry runs on the server's clock, which is
        // the one `now` comes from in production.
        let set: Option<String> = redis::cmd("SET")
            .arg(self.keys.telegram_update(update_id))
            .arg(now.millis())
            .arg("NX")
            .arg("PX")
            .arg(UPDATE_MEMORY_MILLIS)
            .query_async(&mut con)
            .await
            .map_err(unavailable)?;
        Ok(set.is_some())
    }

    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        _now: Timestamp,
        ttl_millis: i64,
    ) -> Result<bool, StoreError> {
        let mut con = self.connection()?;
        let key = self.keys.lease(name);
        // SET NX PX: of several instances asking at once, one gets it; Redis ends it by
        // itself after the time to live, so a holder that died frees it.
        let set: Option<String> = redis::cmd("SET")
            .arg(&key)
            .arg(holder)
            .arg("NX")
            .arg("PX")
            .arg(ttl_millis.max(1))
            .query_async(&mut con)
            .await
            .map_err(unavailable)?;
        if set.is_some() {
            return Ok(true);
        }
        // Held already: extended when the holder is the caller, compared and extended
        // in one step so a lease that passed to someone meanwhile is left alone.
        let extended: i64 = Script::new(EXTEND_LEASE_SCRIPT)
            .key(&key)
            .arg(holder)
            .arg(ttl_millis.max(1))
            .invoke_async(&mut con)
            .await
            .map_err(unavailable)?;
        Ok(extended == 1)
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<bool, StoreError> {
        let mut con = self.connection()?;
        let released: i64 = Script::new(RELEASE_LEASE_SCRIPT)
            .key(self.keys.lease(name))
            .arg(holder)
            .invoke_async(&mut con)
            .await
            .map_err(unavailable)?;
        Ok(released == 1)
    }

    async fn claim_reminder(
        &self,
        mark: &ReminderMark,
        max_per_person: u32,
    ) -> Result<ReminderClaim, StoreError> {
        let mut con = self.connection()?;
        let reply: String = Script::new(CLAIM_REMINDER_SCRIPT)
            .key(self.keys.reminders(&mark.round, &mark.person))
            .arg(mark.day)
            .arg(encode(&ReminderMarkRecord::from(mark)))
            .arg(max_per_person)
            .invoke_async(&mut con)
            .await
            .map_err(unavailable)?;
        match reply.as_str() {
            "claimed" => Ok(ReminderClaim::Claimed),
            "claimed-before" => Ok(ReminderClaim::AlreadyClaimed),
            "limit" => Ok(ReminderClaim::LimitReached),
            other => Err(corrupt(
                "reminder claim",
                format!("unexpected reply {other:?}"),
            )),
        }
    }

    async fn put_activity(&self, activity: &Activity) -> Result<(), StoreError> {
        let mut con = self.connection()?;
        Self::put_indexed(
            &mut con,
            &self.keys.activity(&activity.round),
            encode(&ActivityRecord::from(activity)),
            &self.keys.activities(),
            activity.round.as_str(),
        )
        .await
    }

    async fn activity(&self, round: &RoundId) -> Result<Option<Activity>, StoreError> {
        let mut con = self.connection()?;
        Self::get_record::<ActivityRecord, _>(&mut con, "activity", &self.keys.activity(round))
            .await
    }

    async fn activities(&self) -> Result<Vec<Activity>, StoreError> {
        let mut con = self.connection()?;
        Self::list_indexed::<ActivityRecord, Activity, _>(
            &mut con,
            "activity",
            &self.keys.activities(),
            |id| {
                RoundId::parse(id)
                    .map(|id| self.keys.activity(&id))
                    .map_err(|e| corrupt("round id", e))
            },
            |activity| activity.round.clone(),
        )
        .await
    }

    async fn put_action(
        &self,
        action: &Action,
        max_priority: u32,
    ) -> Result<ActionWrite, StoreError> {
        let mut con = self.connection()?;
        let reply: String = Script::new(PUT_ACTION_SCRIPT)
            .key(self.keys.actions(&action.round))
            .key(
                self.keys
                    .priority_actions(&action.round, &action.organisation),
            )
            .arg(action.id.as_str())
            .arg(encode(&ActionRecord::from(action)))
            .arg(if action.priority { "1" } else { "0" })
            .arg(max_priority)
            .invoke_async(&mut con)
            .await
            .map_err(unavailable)?;
        match reply.as_str() {
            "written" => Ok(ActionWrite::Written),
            "limit" => Ok(ActionWrite::PriorityLimitReached),
            other => Err(corrupt(
                "action write",
                format!("unexpected reply {other:?}"),
            )),
        }
    }

    async fn actions(&self, round: &RoundId) -> Result<Vec<Action>, StoreError> {
        let mut con = self.connection()?;
        let fields: HashMap<String, Vec<u8>> = redis::cmd("HGETALL")
            .arg(self.keys.actions(round))
            .query_async(&mut con)
            .await
            .map_err(unavailable)?;
        let mut actions = fields
            .values()
            .map(|bytes| from_json::<ActionRecord, Action>("action", bytes))
            .collect::<Result<Vec<_>, _>>()?;
        actions.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(actions)
    }

    async fn claim_action_reminder(&self, mark: &ActionReminderMark) -> Result<bool, StoreError> {
        let mut con = self.connection()?;
        let set: i64 = redis::cmd("HSETNX")
            .arg(self.keys.action_reminders(&mark.round, &mark.action))
            .arg(mark.kind.as_str())
            .arg(encode(&ActionReminderMarkRecord::from(mark)))
            .query_async(&mut con)
            .await
            .map_err(unavailable)?;
        Ok(set == 1)
    }

    async fn release_action_reminder(
        &self,
        round: &RoundId,
        action: &ActionId,
        kind: ActionReminderKind,
    ) -> Result<bool, StoreError> {
        let mut con = self.connection()?;
        let removed: i64 = redis::cmd("HDEL")
            .arg(self.keys.action_reminders(round, action))
            .arg(kind.as_str())
            .query_async(&mut con)
            .await
            .map_err(unavailable)?;
        Ok(removed == 1)
    }

    async fn action_reminder_marks(
        &self,
        round: &RoundId,
        action: &ActionId,
    ) -> Result<Vec<ActionReminderMark>, StoreError> {
        let mut con = self.connection()?;
        let fields: BTreeMap<String, Vec<u8>> = redis::cmd("HGETALL")
            .arg(self.keys.action_reminders(round, action))
            .query_async(&mut con)
            .await
            .map_err(unavailable)?;
        let mut marks = fields
            .values()
            .map(|bytes| {
                from_json::<ActionReminderMarkRecord, ActionReminderMark>(
                    "action reminder mark",
                    bytes,
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        marks.sort_by_key(|m| m.kind);
        Ok(marks)
    }

    async fn release_reminder(
        &self,
        round: &RoundId,
        person: &PersonId,
        day: u32,
    ) -> Result<bool, StoreError> {
        let mut con = self.connection()?;
        let removed: i64 = redis::cmd("HDEL")
            .arg(self.keys.reminders(round, person))
            .arg(day)
            .query_async(&mut con)
            .await
            .map_err(unavailable)?;
        Ok(removed == 1)
    }

    async fn reminder_marks(
        &self,
        round: &RoundId,
        person: &PersonId,
    ) -> Result<Vec<ReminderMark>, StoreError> {
        let mut con = self.connection()?;
        let fields: HashMap<String, Vec<u8>> = redis::cmd("HGETALL")
            .arg(self.keys.reminders(round, person))
            .query_async(&mut con)
            .await
            .map_err(unavailable)?;
        let mut marks = fields
            .values()
            .map(|bytes| from_json::<ReminderMarkRecord, ReminderMark>("reminder mark", bytes))
            .collect::<Result<Vec<_>, _>>()?;
        marks.sort_by_key(|mark| mark.day);
        Ok(marks)
    }

    async fn put_telegram_notice(&self, notice: &TelegramNotice) -> Result<bool, StoreError> {
        let mut con = self.connection()?;
        let keys = self.keys.notices();
        let queued: i64 = Script::new(PUT_NOTICE_SCRIPT)
            .key(&keys.notices)
            .key(&keys.due)
            .arg(notice.id.as_str())
            .arg(encode(&TelegramNoticeRecord::new(
                notice,
                notice.created_at,
            )))
            .arg(notice.created_at.millis())
            .invoke_async(&mut con)
            .await
            .map_err(unavailable)?;
        Ok(queued == 1)
    }

    async fn claim_telegram_notices(
        &self,
        now: Timestamp,
        limit: usize,
        hold_millis: i64,
    ) -> Result<Vec<TelegramNotice>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut con = self.connection()?;
        let keys = self.keys.notices();
        let records: Vec<Vec<u8>> = Script::new(CLAIM_NOTICES_SCRIPT)
            .key(&keys.notices)
            .key(&keys.due)
            .arg(now.millis())
            .arg(now.plus_millis(hold_millis).millis())
            .arg(limit)
            .invoke_async(&mut con)
            .await
            .map_err(unavailable)?;
        let mut claimed = Vec::with_capacity(records.len());
        for bytes in records {
            let notice: TelegramNotice =
                from_json::<TelegramNoticeRecord, _>("telegram notice", &bytes)?;
            if notice.is_live(now) {
                claimed.push(notice);
            } else {
                self.ack_telegram_notice(&notice.id).await?;
            }
        }
        Ok(claimed)
    }

    async fn ack_telegram_notice(&self, id: &NoticeId) -> Result<bool, StoreError> {
        let mut con = self.connection()?;
        let keys = self.keys.notices();
        // One slot: both in one transaction.
        let (removed, _): (i64, i64) = redis::pipe()
            .atomic()
            .cmd("HDEL")
            .arg(&keys.notices)
            .arg(id.as_str())
            .cmd("ZREM")
            .arg(&keys.due)
            .arg(id.as_str())
            .query_async(&mut con)
            .await
            .map_err(unavailable)?;
        Ok(removed == 1)
    }

    async fn close(&self) -> Result<(), StoreError> {
        // Every write was acknowledged by the server before its call returned, so there
        // is nothing to flush; the connection closes when the last handle drops.
        if self.closed.swap(true, Ordering::AcqRel) {
            return Err(StoreError::Closed);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::AtomicU64;

    use ::tests::RedisServer;

    use super::*;
    use crate::catalogue::InstrumentRef;
    use crate::domain::{
        Actor, AnswerChange, AnswerValue, Channel, Command, CommandError, EmailAddress,
        IdempotencyKey, LinkBinding, Respondent, Role, RoundStatus, Stage, TokenRole,
        ValidationSubject, Validator,
    };

    const AT: i64 = 1_760_000_000_000;

    /// A prefix no other test uses.
    fn prefix() -> String {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        format!(
            "t{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        )
    }

    async fn store(redis: &RedisServer) -> RedisStore {
        connect(&redis.url(), &prefix()).await.expect("connects")
    }

    /// Two instances sharing one key prefix, as two servers of one deployment.
    async fn two_instances(redis: &RedisServer) -> (RedisStore, RedisStore) {
        let prefix = prefix();
        (
            connect(&redis.url(), &prefix).await.expect("connects"),
            connect(&redis.url(), &prefix).await.expect("connects"),
        )
    }

    fn response_key(organisation: &str, person: Option<&str>) -> ResponseKey {
        ResponseKey {
            round: RoundId::parse("jiu-rbm-2026").expect("id"),
            organisation: OrganisationId::parse(organisation).expect("id"),
            instrument: InstrumentRef::parse("jiu-rbm-stages@1").expect("ref"),
            respondent: match person {
                Some(p) => Respondent::Person(PersonId::parse(p).expect("id")),
                None => Respondent::Organisation,
            },
        }
    }

    fn set(question: &str, stage: i64) -> (QuestionId, AnswerChange) {
        (
            QuestionId::parse(question).expect("question"),
            AnswerChange::Set(AnswerValue::Stage(Stage::parse(stage).expect("stage"))),
        )
    }

    fn clear(question: &str) -> (QuestionId, AnswerChange) {
        (
            QuestionId::parse(question).expect("question"),
            AnswerChange::Clear,
        )
    }

    fn request(key: &ResponseKey, idempotency_key: &str, command: Command) -> ResponseRequest {
        ResponseRequest {
            key: key.clone(),
            idempotency_key: IdempotencyKey::parse(idempotency_key).expect("key"),
            command,
            expected_seq: None,
            actor: Actor::Person(PersonId::parse("ana").expect("id")),
            channel: Channel::Graphql,
            at: Timestamp::from_millis(AT),
        }
    }

    fn person(id: &str, chat: Option<i64>) -> Person {
        let mut person = Person::new(
            PersonId::parse(id).expect("id"),
            &format!("Person {id}"),
            EmailAddress::parse(&format!("{id}@example.org")).expect("email"),
        )
        .expect("person");
        person.telegram_chat = chat.map(TelegramChatId);
        person
    }

    fn dbsize(redis: &RedisServer) -> String {
        redis.command(&["DBSIZE"])
    }

    async fn assert_fold_matches(store: &RedisStore, key: &ResponseKey) {
        let history = store.history(key).await.expect("history");
        let response = store.response(key).await.expect("response");
        assert_eq!(response, Some(Response::replay(key.clone(), &history)));
    }

    #[tokio::test]
    async fn execute_records_replays_conflicts_and_refuses() {
        let redis = RedisServer::start();
        let store = store(&redis).await;
        let key = response_key("unicef", None);
        assert_eq!(store.response(&key).await.expect("read"), None);
        assert!(store.history(&key).await.expect("read").is_empty());

        let first = request(
            &key,
            "k1",
            Command::Answers(vec![set("1.1/stage", 2), set("1.2/stage", 3)]),
        );
        let receipt = store.execute(&first).await.expect("recorded");
        assert!(!receipt.replayed);
        assert_eq!(
            receipt.events.iter().map(|e| e.seq).collect::<Vec<_>>(),
            [1, 2]
        );

        // The same request later: the first receipt, nothing new.
        let retry = ResponseRequest {
            at: Timestamp::from_millis(AT + 5_000),
            ..first.clone()
        };
        let replayed = store.execute(&retry).await.expect("replayed");
        assert!(replayed.replayed);
        assert_eq!(replayed.events, receipt.events);
        assert_eq!(store.history(&key).await.expect("read").len(), 2);

        // The same key for something else.
        let other = request(&key, "k1", Command::Submit);
        assert!(matches!(
            store.execute(&other).await,
            Err(StoreError::IdempotencyConflict)
        ));

        // Set then clear in one request ends cleared; a stale expectation is refused.
        let change = ResponseRequest {
            expected_seq: Some(2),
            ..request(
                &key,
                "k2",
                Command::Answers(vec![
                    set("1.3/stage", 4),
                    clear("1.3/stage"),
                    clear("1.1/stage"),
                ]),
            )
        };
        store.execute(&change).await.expect("recorded");
        let stale = ResponseRequest {
            expected_seq: Some(2),
            ..request(&key, "k3", Command::Submit)
        };
        assert!(matches!(
            store.execute(&stale).await,
            Err(StoreError::Refused(CommandError::Stale {
                expected: 2,
                actual: 5
            }))
        ));
        let response = store.response(&key).await.expect("read").expect("exists");
        assert_eq!(
            response
                .answers
                .keys()
                .map(QuestionId::as_str)
                .collect::<Vec<_>>(),
            ["1.2/stage"]
        );

        store
            .execute(&request(&key, "k4", Command::Submit))
            .await
            .expect("submitted");
        let size = dbsize(&redis);
        let refused = request(&key, "k5", Command::Answers(vec![set("1.1/stage", 5)]));
        assert!(matches!(
            store.execute(&refused).await,
            Err(StoreError::Refused(CommandError::Submitted))
        ));
        assert_eq!(dbsize(&redis), size, "a refusal writes nothing");
        assert_eq!(store.history(&key).await.expect("read").len(), 6);

        // A refused request did not use its key.
        store
            .execute(&request(
                &key,
                "k5",
                Command::Reopen {
                    reason: "typo".into(),
                },
            ))
            .await
            .expect("reopened");
        assert_fold_matches(&store, &key).await;

        // A first request that is refused creates nothing, not even a listing.
        let fresh = key_with_person("p-1");
        store
            .execute(&request(&fresh, "k1", Command::Submit))
            .await
            .expect("submitted");
        let size = dbsize(&redis);
        let refused = request(
            &response_key("who", None),
            "k1",
            Command::Reopen { reason: "x".into() },
        );
        assert!(matches!(
            store.execute(&refused).await,
            Err(StoreError::Refused(CommandError::NotSubmitted))
        ));
        assert_eq!(dbsize(&redis), size);
        assert_eq!(
            store
                .responses(&key.round)
                .await
                .expect("listed")
                .iter()
                .map(|k| k.id().to_string())
                .collect::<Vec<_>>(),
            [key.id().to_string(), fresh.id().to_string()]
        );
        assert_eq!(
            store
                .response(&response_key("who", None))
                .await
                .expect("read"),
            None
        );
    }

    fn key_with_person(person: &str) -> ResponseKey {
        response_key("unicef", Some(person))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writers_to_one_response_leave_a_gap_free_log() {
        let redis = RedisServer::start();
        let store = Arc::new(store(&redis).await);
        let key = response_key("undp", None);
        let tasks: Vec<_> = (0..64)
            .map(|i| {
                let store = Arc::clone(&store);
                let request = request(
                    &key,
                    &format!("k-{i}"),
                    Command::Answers(vec![set(&format!("{}.1/stage", i % 7 + 1), i % 5 + 1)]),
                );
                tokio::spawn(async move { store.execute(&request).await })
            })
            .collect();
        for task in tasks {
            let receipt = task.await.expect("task").expect("recorded");
            assert!(!receipt.replayed);
            assert_eq!(receipt.events.len(), 1);
        }
        let history = store.history(&key).await.expect("read");
        assert_eq!(
            history.iter().map(|e| e.seq).collect::<Vec<_>>(),
            (1..=64).collect::<Vec<_>>()
        );
        let mut keys: Vec<_> = history
            .iter()
            .map(|e| e.idempotency_key.to_string())
            .collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), 64, "every request recorded exactly once");
        assert_fold_matches(&store, &key).await;
        let stats: String = redis::cmd("INFO")
            .arg("commandstats")
            .query_async(&mut store.connection().expect("open"))
            .await
            .expect("info");
        let scripts: u64 = stats
            .lines()
            .find_map(|l| l.strip_prefix("cmdstat_evalsha:calls="))
            .and_then(|rest| rest.split(',').next())
            .and_then(|n| n.parse().ok())
            .expect("evalsha count");
        // More than 64 runs means some writers lost a race and planned again.
        eprintln!("64 writers ran the write script {scripts} times");
        assert!(scripts >= 64);
    }

    #[tokio::test]
    async fn the_write_script_refuses_a_stale_plan_and_a_used_key() {
        let redis = RedisServer::start();
        let store = store(&redis).await;
        let key = response_key("ilo", None);
        let keys = store.keys.response(&key.id());
        let mut con = store.connection().expect("open");
        let before = StoredMeta::parse(&HashMap::new()).expect("empty meta");
        let first = request(&key, "k1", Command::Answers(vec![set("1.1/stage", 1)]));
        store.execute(&first).await.expect("recorded");

        // Planned on the state before `first`: the meta moved on.
        let late = request(&key, "k2", Command::Answers(vec![set("1.1/stage", 2)]));
        let events = record::plan_events(&before.meta(), &late).expect("planned");
        let write = PlannedWrite::new(&record::fingerprint(&late), &before, &events);
        let outcome = store
            .run_write(&mut con, &keys, &late, &before, &write)
            .await
            .expect("ran");
        assert_eq!(outcome, "retry");

        // The key was used meanwhile.
        let events = record::plan_events(&before.meta(), &first).expect("planned");
        let write = PlannedWrite::new(&record::fingerprint(&first), &before, &events);
        let outcome = store
            .run_write(&mut con, &keys, &first, &before, &write)
            .await
            .expect("ran");
        assert_eq!(outcome, "replay");

        assert_eq!(store.history(&key).await.expect("read").len(), 1);
        assert_fold_matches(&store, &key).await;
        // The full path re-reads and succeeds.
        assert_eq!(
            store.execute(&late).await.expect("recorded").events[0].seq,
            2
        );
    }

    #[tokio::test]
    async fn a_remembered_meta_that_another_instance_outdated_is_never_trusted() {
        let redis = RedisServer::start();
        let (here, there) = two_instances(&redis).await;
        let key = response_key("unfpa", None);
        let answers =
            |k: &str, stage: i64| request(&key, k, Command::Answers(vec![set("1.1/stage", stage)]));
        here.execute(&answers("k1", 1)).await.expect("recorded");
        // `here` remembers last_seq 1; `there` moves the response on.
        there.execute(&answers("k2", 2)).await.expect("recorded");
        let third = here.execute(&answers("k3", 3)).await.expect("recorded");
        assert_eq!(
            third.events[0].seq, 3,
            "planned from Redis, not the stale guess"
        );
        // A key used through the other instance replays here.
        assert!(
            here.execute(&answers("k2", 2))
                .await
                .expect("replayed")
                .replayed
        );
        // Submitted elsewhere: the guess says draft, but nothing is written.
        there
            .execute(&request(&key, "k4", Command::Submit))
            .await
            .expect("submitted");
        let refused = here.execute(&answers("k5", 4)).await;
        assert!(
            matches!(refused, Err(StoreError::Refused(_))),
            "a submitted response refuses answers: {refused:?}"
        );
        let history = here.history(&key).await.expect("read");
        assert_eq!(
            history.iter().map(|e| e.seq).collect::<Vec<_>>(),
            [1, 2, 3, 4]
        );
        assert_fold_matches(&here, &key).await;

        // One instance writing to one response in a row: the second write is one round
        // trip (the script), with no read before it.
        let other = response_key("unops", None);
        let write = |k: &str, stage: i64| {
            request(&other, k, Command::Answers(vec![set("1.2/stage", stage)]))
        };
        here.execute(&write("w1", 1)).await.expect("recorded");
        let reads = command_calls(&here, "hgetall").await;
        let scripts = command_calls(&here, "evalsha").await;
        let second = here.execute(&write("w2", 2)).await.expect("recorded");
        assert_eq!(second.events[0].seq, 2);
        assert_eq!(command_calls(&here, "hgetall").await, reads);
        assert_eq!(command_calls(&here, "evalsha").await, scripts + 1);
    }

    /// How many times Redis ran a command, from `INFO commandstats`.
    async fn command_calls(store: &RedisStore, command: &str) -> u64 {
        let stats: String = redis::cmd("INFO")
            .arg("commandstats")
            .query_async(&mut store.connection().expect("open"))
            .await
            .expect("info");
        stats
            .lines()
            .find_map(|l| l.strip_prefix(&format!("cmdstat_{command}:calls=")))
            .and_then(|rest| rest.split(',').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    }

    #[tokio::test]
    async fn rounds_are_cached_until_changed_here_or_forgotten() {
        let redis = RedisServer::start();
        let (here, there) = two_instances(&redis).await;
        let mut round = Round {
            id: RoundId::parse("jiu-rbm-2026").expect("id"),
            title: "JIU RBM 2026".to_owned(),
            instruments: Vec::new(),
            organisations: Vec::new(),
            deadline: None,
            status: RoundStatus::Open,
        };
        here.put_round(&round).await.expect("stored");
        let seen = here
            .round_shared(&round.id)
            .await
            .expect("read")
            .expect("some");
        assert_eq!(seen.status, RoundStatus::Open);

        // Another instance closes it: this one keeps its copy until told, or until the
        // time to live passes.
        round.status = RoundStatus::Closed;
        there.put_round(&round).await.expect("stored");
        let cached = here
            .round_shared(&round.id)
            .await
            .expect("read")
            .expect("some");
        assert_eq!(cached.status, RoundStatus::Open, "served from the cache");
        here.changed_elsewhere(&round.id, true);
        let fresh = here
            .round_shared(&round.id)
            .await
            .expect("read")
            .expect("some");
        assert_eq!(fresh.status, RoundStatus::Closed);

        // A change made here is seen at once.
        round.status = RoundStatus::Open;
        here.put_round(&round).await.expect("stored");
        assert_eq!(
            here.round(&round.id)
                .await
                .expect("read")
                .expect("some")
                .status,
            RoundStatus::Open
        );

        // Without a message, the time to live bounds how long a copy is trusted.
        round.status = RoundStatus::Closed;
        there.put_round(&round).await.expect("stored");
        tokio::time::sleep(ROUND_TTL + Duration::from_millis(50)).await;
        assert_eq!(
            here.round(&round.id)
                .await
                .expect("read")
                .expect("some")
                .status,
            RoundStatus::Closed
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_key_sent_concurrently_records_once() {
        let redis = RedisServer::start();
        let store = Arc::new(store(&redis).await);
        let key = response_key("unhcr", None);
        let request = request(
            &key,
            "same",
            Command::Answers(vec![set("1.1/stage", 1), set("1.2/stage", 2)]),
        );
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let store = Arc::clone(&store);
                let request = request.clone();
                tokio::spawn(async move { store.execute(&request).await })
            })
            .collect();
        let mut receipts = Vec::new();
        for task in tasks {
            receipts.push(task.await.expect("task").expect("recorded or replayed"));
        }
        assert_eq!(receipts.iter().filter(|r| !r.replayed).count(), 1);
        assert!(receipts.iter().all(|r| r.events == receipts[0].events));
        assert_eq!(store.history(&key).await.expect("read"), receipts[0].events);
    }

    #[tokio::test]
    async fn data_survives_a_restart() {
        let mut redis = RedisServer::start();
        let store = store(&redis).await;
        let key = response_key("wfp", None);
        store
            .execute(&request(
                &key,
                "k1",
                Command::Answers(vec![set("1.1/stage", 3)]),
            ))
            .await
            .expect("recorded");
        let organisation = Organisation::new(
            OrganisationId::parse("wfp").expect("id"),
            "World Food Programme",
            Some("WFP"),
        )
        .expect("organisation");
        store.put_organisation(&organisation).await.expect("stored");

        redis.restart();
        // The connection manager reconnects by itself; the first calls may still fail.
        let mut ready = false;
        for _ in 0..100 {
            match store.ping().await {
                Ok(()) => {
                    ready = true;
                    break;
                }
                Err(e) => {
                    assert!(e.is_retryable(), "{e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
        assert!(ready, "reconnected after the restart");

        assert_eq!(store.history(&key).await.expect("read").len(), 1);
        assert_fold_matches(&store, &key).await;
        assert_eq!(store.organisations().await.expect("read"), [organisation]);
        // The restarted server forgot the script: it is loaded again.
        store
            .execute(&request(&key, "k2", Command::Submit))
            .await
            .expect("recorded");
        assert_eq!(store.history(&key).await.expect("read").len(), 2);
    }

    #[tokio::test]
    async fn a_chat_links_to_one_person() {
        let redis = RedisServer::start();
        let store = store(&redis).await;
        let chat = TelegramChatId(7);
        store
            .put_person(&person("ana", Some(7)))
            .await
            .expect("put");
        assert_eq!(
            store.person_by_chat(chat).await.expect("read"),
            Some(person("ana", Some(7)))
        );

        // Bob takes the chat: Ana loses it.
        store
            .put_person(&person("bob", Some(7)))
            .await
            .expect("put");
        assert_eq!(
            store.person_by_chat(chat).await.expect("read"),
            Some(person("bob", Some(7)))
        );
        assert_eq!(
            store
                .person(&PersonId::parse("ana").expect("id"))
                .await
                .expect("read"),
            Some(person("ana", None))
        );

        // Bob moves to another chat: the old one links to nobody.
        store
            .put_person(&person("bob", Some(8)))
            .await
            .expect("put");
        assert_eq!(store.person_by_chat(chat).await.expect("read"), None);
        assert_eq!(
            store.person_by_chat(TelegramChatId(8)).await.expect("read"),
            Some(person("bob", Some(8)))
        );

        // Ana unlinks a chat she does not hold: Bob keeps his.
        store.put_person(&person("ana", None)).await.expect("put");
        assert_eq!(
            store
                .person_by_chat(TelegramChatId(8))
                .await
                .expect("read")
                .map(|p| p.id.to_string()),
            Some("bob".to_owned())
        );
        assert_eq!(
            store
                .persons()
                .await
                .expect("read")
                .iter()
                .map(|p| p.id.to_string())
                .collect::<Vec<_>>(),
            ["ana", "bob"]
        );
    }

    #[tokio::test]
    async fn update_ids_are_seen_once() {
        let redis = RedisServer::start();
        let store = store(&redis).await;
        let now = Timestamp::from_millis(AT);
        assert!(store.mark_update_seen(42, now).await.expect("marked"));
        assert!(!store.mark_update_seen(42, now).await.expect("marked"));
        assert!(store.mark_update_seen(43, now).await.expect("marked"));
        let ttl: i64 = redis
            .command(&["PTTL", &store.keys.telegram_update(42)])
            .trim_start_matches(':')
            .parse()
            .expect("ttl");
        assert!(ttl > UPDATE_MEMORY_MILLIS - 60_000 && ttl <= UPDATE_MEMORY_MILLIS);
    }

    #[tokio::test]
    async fn records_round_trip_and_list_in_order() {
        let redis = RedisServer::start();
        let store = store(&redis).await;
        let round_id = RoundId::parse("r-2026").expect("id");
        let (a, ab) = (
            OrganisationId::parse("a").expect("id"),
            OrganisationId::parse("a-b").expect("id"),
        );
        for id in [&ab, &a] {
            let organisation = Organisation::new(id.clone(), "Org", None).expect("org");
            store.put_organisation(&organisation).await.expect("put");
        }
        assert_eq!(
            store
                .organisations()
                .await
                .expect("read")
                .iter()
                .map(|o| o.id.to_string())
                .collect::<Vec<_>>(),
            ["a", "a-b"]
        );
        assert_eq!(
            store.organisation(&a).await.expect("read").map(|o| o.id),
            Some(a.clone())
        );

        let round = Round {
            id: round_id.clone(),
            title: "Round".into(),
            instruments: vec![InstrumentRef::parse("jiu-rbm-stages@1").expect("ref")],
            organisations: vec![a.clone(), ab.clone()],
            deadline: Some(Timestamp::from_millis(AT)),
            status: RoundStatus::Open,
        };
        store.put_round(&round).await.expect("put");
        assert_eq!(
            store.round(&round_id).await.expect("read"),
            Some(round.clone())
        );
        assert_eq!(store.rounds().await.expect("read"), [round]);

        let assignment = |organisation: &OrganisationId, role: Role| Assignment {
            round: round_id.clone(),
            organisation: organisation.clone(),
            person: PersonId::parse("ana").expect("id"),
            role,
        };
        let senior = |areas: &[&str]| Role::SeniorManager {
            outcome_areas: areas.iter().map(|s| (*s).to_owned()).collect(),
        };
        store
            .put_assignment(&assignment(&ab, Role::FocalPoint))
            .await
            .expect("put");
        store
            .put_assignment(&assignment(&a, senior(&["x"])))
            .await
            .expect("put");
        store
            .put_assignment(&assignment(&a, senior(&["y"])))
            .await
            .expect("put");
        store
            .put_assignment(&assignment(&a, Role::FocalPoint))
            .await
            .expect("put");
        assert_eq!(
            store.assignments(&round_id).await.expect("read"),
            [
                assignment(&a, Role::FocalPoint),
                assignment(&a, senior(&["y"])),
                assignment(&ab, Role::FocalPoint)
            ]
        );
        assert!(
            store
                .remove_assignment(&assignment(&a, Role::FocalPoint))
                .await
                .expect("removed")
        );
        assert!(
            !store
                .remove_assignment(&assignment(&a, Role::FocalPoint))
                .await
                .expect("removed")
        );

        let validation = |note: &str| ValidationRecord {
            round: round_id.clone(),
            organisation: a.clone(),
            subject: ValidationSubject::Component {
                component: "2.3".into(),
                stage: Stage::parse(3).expect("stage"),
                evidence_reviewed: Vec::new(),
            },
            note: note.into(),
            validator: Validator {
                actor: Actor::Token(TokenId::parse("val").expect("id")),
                label: "val".into(),
            },
            at: Timestamp::from_millis(AT),
        };
        store
            .add_validation(&validation("second"))
            .await
            .expect("added");
        store
            .add_validation(&validation("first"))
            .await
            .expect("added");
        assert_eq!(
            store.validations(&round_id, &a).await.expect("read"),
            [validation("second"), validation("first")]
        );
        assert!(
            store
                .validations(&round_id, &ab)
                .await
                .expect("read")
                .is_empty()
        );

        let token = |id: &str, secret: &str| ApiToken {
            id: TokenId::parse(id).expect("id"),
            hash: TokenHash::of(secret),
            role: TokenRole::Validator {
                rounds: vec![round_id.clone()],
            },
            label: format!("token {id}"),
            created_at: Timestamp::from_millis(AT),
            revoked: false,
        };
        store.put_api_token(&token("zed", "s1")).await.expect("put");
        store.put_api_token(&token("amy", "s2")).await.expect("put");
        // Replacing a token with a new secret retires the old secret.
        store.put_api_token(&token("amy", "s3")).await.expect("put");
        assert_eq!(
            store.api_token(&TokenHash::of("s2")).await.expect("read"),
            None
        );
        assert_eq!(
            store.api_tokens().await.expect("read"),
            [token("amy", "s3"), token("zed", "s1")]
        );
        assert!(
            store
                .revoke_api_token(&TokenId::parse("zed").expect("id"))
                .await
                .expect("revoked")
        );
        assert!(
            !store
                .revoke_api_token(&TokenId::parse("nobody").expect("id"))
                .await
                .expect("revoked")
        );
        assert_eq!(
            store
                .api_token(&TokenHash::of("s1"))
                .await
                .expect("read")
                .map(|t| t.revoked),
            Some(true)
        );

        let link = LinkToken {
            hash: TokenHash::of("link"),
            binding: LinkBinding {
                response: response_key("a", Some("ana")),
                person: PersonId::parse("ana").expect("id"),
            },
            expires_at: Timestamp::from_millis(AT + 1_000),
            revoked: false,
            created_at: Timestamp::from_millis(AT),
        };
        store.put_link_token(&link).await.expect("put");
        assert_eq!(
            store.link_token(&link.hash).await.expect("read"),
            Some(link.clone())
        );
        assert!(store.revoke_link_token(&link.hash).await.expect("revoked"));
        assert!(
            !store
                .revoke_link_token(&TokenHash::of("other"))
                .await
                .expect("revoked")
        );
        assert_eq!(
            store
                .link_token(&link.hash)
                .await
                .expect("read")
                .map(|t| t.revoked),
            Some(true)
        );
    }

    #[tokio::test]
    async fn connecting_checks_and_hides_secrets_and_closing_closes() {
        let redis = RedisServer::start();
        assert!(matches!(
            connect(&redis.url(), "{bad}").await,
            Err(StoreError::Unavailable(_))
        ));
        // The server has no password, so this URL fails, and must not echo its password.
        let url = format!("redis://:hunter2@127.0.0.1:{}/", redis.port());
        let error = connect(&url, "sw").await.expect_err("wrong password");
        assert!(error.is_retryable());
        let mut chain = format!("{error} {error:?}");
        let mut source = std::error::Error::source(&error);
        while let Some(e) = source {
            chain.push_str(&format!(" {e} {e:?}"));
            source = e.source();
        }
        assert!(!chain.contains("hunter2"), "{chain}");
        let nobody = format!("redis://127.0.0.1:{}/", ::tests::free_port());
        assert!(matches!(
            connect(&nobody, "sw").await,
            Err(StoreError::Unavailable(_))
        ));

        let store = store(&redis).await;
        assert_eq!(store.backend(), Backend::Redis);
        store.ping().await.expect("answers");
        let shown = format!("{store:?}");
        assert!(
            !shown.contains("redis://") && !shown.contains("127.0.0.1"),
            "{shown}"
        );
        store.close().await.expect("closed");
        assert!(matches!(store.ping().await, Err(StoreError::Closed)));
        assert!(matches!(
            store.organisations().await,
            Err(StoreError::Closed)
        ));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn passes_the_store_contract() {
        let redis = RedisServer::start();
        for (name, check) in crate::store::contract::CHECKS {
            let store: crate::store::SharedStore = Arc::new(store(&redis).await);
            tokio::spawn(check(store))
                .await
                .unwrap_or_else(|e| panic!("contract check {name:?} failed: {e}"));
        }
    }

    /// The whole contract on a three-primary Redis Cluster: every multi-key script and
    /// transaction stays in one slot, and no pipeline mixes slots (the cluster client
    /// refuses one that does, and a node answers CROSSSLOT or MOVED).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn passes_the_store_contract_on_a_cluster() {
        let cluster = ::tests::RedisCluster::start();
        for (name, check) in crate::store::contract::CHECKS {
            // Each check's instance starts from another node.
            let seed = cluster.url(name.len() % 3);
            let store = connect_cluster(&[seed.as_str()], &prefix(), Timeouts::default())
                .await
                .expect("connects to the cluster");
            let store: crate::store::SharedStore = Arc::new(store);
            tokio::spawn(check(store))
                .await
                .unwrap_or_else(|e| panic!("contract check {name:?} failed on the cluster: {e}"));
        }
        // The keys really are spread: every node holds some.
        for node in cluster.nodes() {
            let keys = node.command(&["DBSIZE"]);
            assert_ne!(keys, ":0", "a node of the cluster holds no key");
        }
    }

    #[test]
    fn the_audit_log_lives_in_its_round_slot() {
        let layout = KeyLayout::new("sw");
        let round = RoundId::parse("demo-2026").expect("id");
        assert_eq!(layout.audit(&round), "sw:{g:demo-2026}:audit");
        assert_eq!(
            keys::cluster_slot(&layout.audit(&round)),
            keys::cluster_slot(&layout.round(&round).round)
        );
    }

    #[test]
    fn keys_used_together_share_a_slot() {
        let layout = KeyLayout::new("sw");
        for key in [
            response_key("unicef", None),
            response_key("a-b", Some("p-1")),
        ] {
            // The write script and the transactions of execute and response.
            let keys = layout.response(&key.id());
            let slot = keys::cluster_slot(&keys.meta);
            assert!(keys.all().iter().all(|k| keys::cluster_slot(k) == slot));
            assert_eq!(
                keys.all(),
                [&keys.meta, &keys.answers, &keys.events, &keys.idem].map(String::as_str)
            );
            // A round's records, for single-key commands on them.
            let round = layout.round(&key.round);
            let round_slot = keys::cluster_slot(&round.round);
            assert_eq!(keys::cluster_slot(&round.assignments), round_slot);
            assert_eq!(keys::cluster_slot(&round.responses), round_slot);
            assert_eq!(
                keys::cluster_slot(&layout.validations(&key.round, &key.organisation)),
                round_slot
            );
        }
    }
}
