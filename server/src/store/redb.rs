//! The embedded backend: one redb file under the data directory (the default).
//!
//! It persists and indexes what the [`Store`] trait asks for, in the versioned JSON
//! records of [`super::record`], and applies no product rule of its own beyond
//! [`ResponseMeta::decide`](crate::domain::ResponseMeta::decide) (through [`plan_events`]), atomically with the write. It must
//! not hold a write transaction anywhere but on its writer thread, must not acknowledge a
//! write before its transaction is durably committed, and must not write anything for a
//! request it refuses.
//!
//! # Tables
//!
//! Values are record bytes (JSON, see [`super::record`]) unless said otherwise. Keys are
//! validated ids (slugs, response ids built from slugs, hex hashes, integers) or, as the
//! second part of a composite key, client strings that are not ids (question ids,
//! idempotency keys): composite keys are redb tuples, compared part by part, so no
//! separator can be forged.
//!
//! | table | key | value |
//! |---|---|---|
//! | `organisations` | organisation id (`&str`) | organisation record |
//! | `persons` | person id (`&str`) | person record |
//! | `chats` | Telegram chat id (`i64`) | person id (`&str`) |
//! | `rounds` | round id (`&str`) | round record |
//! | `assignments` | (round id, `<org>/<person>/<role>`) (`(&str, &str)`) | assignment record |
//! | `response_meta` | response id (`&str`) | meta record |
//! | `answers` | (response id, question id) (`(&str, &str)`) | current answer record |
//! | `events` | (response id, seq) (`(&str, u64)`) | event record |
//! | `idempotency` | (response id, idempotency key) (`(&str, &str)`) | idempotency record |
//! | `round_responses` (multimap) | round id (`&str`) | response ids with events (`&str`) |
//! | `validations` | (round id, organisation id, n) (`(&str, &str, u64)`) | validation record |
//! | `audit` | (round id, n) (`(&str, u64)`) | audit record, n from 0 in order of appending |
//! | `api_tokens` | token hash, hex (`&str`) | API token record |
//! | `api_token_ids` | token id (`&str`) | token hash, hex (`&str`) |
//! | `link_tokens` | token hash, hex (`&str`) | link token record |
//! | `telegram_codes` | code hash, hex (`&str`) | Telegram linking code record |
//! | `telegram_updates` | update id (`i64`) | when it was seen, ms since the epoch (`i64`) |
//! | `leases` | lease name (`&str`) | lease record (holder, until) |
//! | `reminder_marks` | (round id, person id, days before) (`(&str, &str, u32)`) | reminder mark record |
//! | `telegram_notices` | notice id (`&str`) | notice record, with when it may be claimed |
//! | `activities` | round id (`&str`) | learning activity record |
//! | `actions` | (round id, action id) (`(&str, &str)`) | action record |
//! | `action_reminders` | (round id, action id, kind) (`(&str, &str, &str)`) | action reminder mark record |
//! | `journal` | `"applied"` (`&str`) | number of the last journal entry applied (`u64`) |
//!
//! # Writes: group commit and the journal
//!
//! One writer thread owns every write transaction. A write is sent to it as an operation
//! with a reply channel; the writer waits for one, takes whatever else is queued (up to
//! [`MAX_BATCH`]), runs them in order in one transaction, commits once and only then
//! replies to each. An operation checks before it writes, so one it refuses has written
//! nothing; when the transaction fails, every operation of the batch fails with
//! [`StoreError::Unavailable`], and nothing of the batch is kept. Reads are short read
//! transactions on the caller's side, begun after the write they follow was acknowledged,
//! so they see it.
//!
//! A batch made only of [`Store::execute`] requests (answers, submissions, reopenings: the
//! bulk of all writes) is made durable by the [journal](super::journal) rather than by
//! redb: the transaction also records the batch's entry number in `journal`, commits
//! without syncing, and the requests it applied are appended to the journal; a second
//! thread, the syncer, syncs the journal and only then answers them, while the writer
//! goes on with the next batch. The syncer answers batches in the order they were
//! written, each after a sync that began once it was written, so a batch that wrote
//! nothing (its requests replayed or refused, perhaps on the strength of a batch still
//! being synced) waits for the syncs before it too. After a failed sync, nothing more is
//! answered from the journal: the waiting batches fail (they are kept, so a retry under
//! the same idempotency key replays them), and the writer commits durably from then on.
//! Every other batch commits durably, which makes every earlier commit durable too, and
//! is answered by the writer at once. At most [`CHECKPOINT_EVERY`] after the first batch
//! left to the journal (or once the journal passes [`CHECKPOINT_BYTES`], or at close) the
//! writer commits durably and empties the journal. At open, the entries numbered after
//! the one `journal` holds are applied again in order, each request exactly as it was
//! first applied, since it meets the same state. Readers may see a journaled batch a moment
//! before its entry is synced: a crash of the machine in that moment loses such a batch,
//! which was never acknowledged and is retried under its idempotency key.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, PoisonError, RwLock};
use std::thread;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use redb::{
    Database, Durability, MultimapTableDefinition, ReadTransaction, ReadableDatabase,
    ReadableTable, TableDefinition, WriteTransaction,
};
use tokio::sync::oneshot;

use super::AuditEntry;
use super::cache::{Changes, Generation, RoundCache};
use super::journal::{Entry, Journal};
use super::record::AuditRecord;
use super::record::{ActionRecord, ActionReminderMarkRecord, ActivityRecord};
use super::record::{
    AnswerRecord, ApiTokenRecord, AssignmentRecord, EventRecord, IdempotencyRecord, LeaseRecord,
    LinkTokenRecord, MetaRecord, OrganisationRecord, PersonRecord, ReminderMarkRecord,
    RequestRecord, RoundRecord, TelegramCodeRecord, TelegramNoticeRecord, ValidationRecordRecord,
    assignment_field, decode, encode, fingerprint, plan_events,
};
use super::{Backend, Receipt, ResponseRequest, Store, StoreError, UPDATE_MEMORY_MILLIS};
use crate::domain::learning::priority_allows;
use crate::domain::{
    Action, ActionId, ActionReminderKind, ActionReminderMark, ActionWrite, Activity, AnswerChange,
    ApiToken, Assignment, CurrentAnswer, EventKind, LinkBinding, LinkToken, NoticeId, Organisation,
    OrganisationId, Person, PersonId, QuestionId, ReminderClaim, ReminderMark, Response,
    ResponseEvent, ResponseId, ResponseKey, Round, RoundId, TelegramChatId, TelegramLinkCode,
    TelegramNotice, Timestamp, TokenHash, TokenId, ValidationRecord,
};

/// The most operations one write transaction takes: enough to amortise a commit's sync
/// under load, few enough that one transaction stays short.
pub const MAX_BATCH: usize = 512;

/// The longest a batch left to the journal waits for redb's next durable commit (a
/// checkpoint): it bounds the journal, what a restart replays and the pages redb keeps
/// until a durable commit lets it reuse them.
pub const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// The journal size past which the writer checkpoints without waiting for
/// [`CHECKPOINT_EVERY`].
pub const CHECKPOINT_BYTES: u64 = 8 << 20;

/// Every how many [`Store::mark_update_seen`] calls the forgotten updates are pruned: the
/// table then holds at most the updates of the memory window plus this many.
const PRUNE_UPDATES_EVERY: u64 = 1024;

const ORGANISATIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("organisations");
const PERSONS: TableDefinition<&str, &[u8]> = TableDefinition::new("persons");
const CHATS: TableDefinition<i64, &str> = TableDefinition::new("chats");
const ROUNDS: TableDefinition<&str, &[u8]> = TableDefinition::new("rounds");
const ASSIGNMENTS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("assignments");
const RESPONSE_META: TableDefinition<&str, &[u8]> = TableDefinition::new("response_meta");
const ANSWERS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("answers");
const EVENTS: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("events");
const IDEMPOTENCY: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("idempotency");
const ROUND_RESPONSES: MultimapTableDefinition<&str, &str> =
    MultimapTableDefinition::new("round_responses");
const VALIDATIONS: TableDefinition<(&str, &str, u64), &[u8]> = TableDefinition::new("validations");
const AUDIT: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("audit");
const API_TOKENS: TableDefinition<&str, &[u8]> = TableDefinition::new("api_tokens");
const API_TOKEN_IDS: TableDefinition<&str, &str> = TableDefinition::new("api_token_ids");
const LINK_TOKENS: TableDefinition<&str, &[u8]> = TableDefinition::new("link_tokens");
const TELEGRAM_CODES: TableDefinition<&str, &[u8]> = TableDefinition::new("telegram_codes");
const TELEGRAM_UPDATES: TableDefinition<i64, i64> = TableDefinition::new("telegram_updates");
const LEASES: TableDefinition<&str, &[u8]> = TableDefinition::new("leases");
const REMINDER_MARKS: TableDefinition<(&str, &str, u32), &[u8]> =
    TableDefinition::new("reminder_marks");
const TELEGRAM_NOTICES: TableDefinition<&str, &[u8]> = TableDefinition::new("telegram_notices");
const ACTIVITIES: TableDefinition<&str, &[u8]> = TableDefinition::new("activities");
const ACTIONS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("actions");
const ACTION_REMINDERS: TableDefinition<(&str, &str, &str), &[u8]> =
    TableDefinition::new("action_reminders");
const JOURNAL: TableDefinition<&str, u64> = TableDefinition::new("journal");
/// The one key of [`JOURNAL`].
const APPLIED: &str = "applied";

/// Wraps a redb error as [`StoreError::Unavailable`]. Inside the writer, this variant
/// also marks the transaction as no longer trustworthy (see [`Operation::run`]).
fn db_err(error: impl Into<redb::Error>) -> StoreError {
    StoreError::unavailable(error.into())
}

/// Why a batch of writes was not committed (shared by every operation of the batch).
#[derive(Debug, Clone, thiserror::Error)]
#[error("the write batch was not committed: {0}")]
struct BatchFailed(Arc<str>);

impl BatchFailed {
    fn of(error: impl fmt::Display) -> Self {
        Self(error.to_string().into())
    }
}

/// The writer thread is gone (it stopped or panicked) before answering.
#[derive(Debug, thiserror::Error)]
#[error("the redb writer thread has stopped")]
struct WriterGone;

/// One queued write, run by the writer inside a batch's transaction.
trait Operation: Send {
    /// Runs the write in the batch's transaction; returns `false` when the backend
    /// failed, after which the transaction may hold part of this write and must not be
    /// committed.
    fn run(&mut self, batch: &mut BatchTxn<'_>) -> bool;
    /// Whether the journal can make this write durable (see the module documentation);
    /// when not, its batch commits durably.
    fn journaled(&self) -> bool {
        false
    }
    /// After [`run`](Self::run), for a journaled write: its journal record (JSON) when it
    /// wrote something, `None` when it was refused or replayed.
    fn record(&self) -> Option<&[u8]> {
        None
    }
    /// Replies to the caller: the operation's own result when the batch committed, else
    /// the batch's failure.
    fn reply(self: Box<Self>, failure: Option<&BatchFailed>);
}

/// What a caller is answered: the operation's outcome when its batch committed, else the
/// batch's failure.
fn settle<T>(
    outcome: Option<Result<T, StoreError>>,
    failure: Option<&BatchFailed>,
) -> Result<T, StoreError> {
    match (failure, outcome) {
        // The operation that broke the batch reports its own cause.
        (Some(_), Some(Err(own @ StoreError::Unavailable(_)))) => Err(own),
        (Some(failure), _) => Err(StoreError::unavailable(failure.clone())),
        (None, Some(outcome)) => outcome,
        (None, None) => Err(StoreError::unavailable(BatchFailed(
            "the operation was not run".into(),
        ))),
    }
}

/// Only redb failures produce `Unavailable` inside the writer; every other error is
/// returned before the operation writes anything.
fn sound<T>(outcome: &Result<T, StoreError>) -> bool {
    !matches!(outcome, Err(StoreError::Unavailable(_)))
}

/// An [`Operation`] made of a closure and the channel its result goes back on.
struct Op<T, F> {
    work: Option<F>,
    outcome: Option<Result<T, StoreError>>,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<T, F> Operation for Op<T, F>
where
    T: Send,
    F: FnOnce(&WriteTransaction) -> Result<T, StoreError> + Send,
{
    fn run(&mut self, batch: &mut BatchTxn<'_>) -> bool {
        let Some(work) = self.work.take() else {
            return true;
        };
        let outcome = work(batch.txn());
        let sound = sound(&outcome);
        self.outcome = Some(outcome);
        sound
    }

    fn reply(self: Box<Self>, failure: Option<&BatchFailed>) {
        // The caller may have stopped waiting (its future was dropped); the write stands
        // either way, as with any store.
        let _ = self.reply.send(settle(self.outcome, failure));
    }
}

/// A [`Store::execute`] request: the one write the journal carries.
struct Execute {
    request: ResponseRequest,
    /// Computed on the caller's task, like `record`, so the single writer does not.
    fingerprint: String,
    /// The request's journal record, JSON.
    record: Vec<u8>,
    outcome: Option<Result<Receipt, StoreError>>,
    reply: oneshot::Sender<Result<Receipt, StoreError>>,
}

impl Operation for Execute {
    fn run(&mut self, batch: &mut BatchTxn<'_>) -> bool {
        if self.outcome.is_some() {
            return true;
        }
        let outcome = batch
            .responses()
            .and_then(|(txn, tables)| execute_in(txn, tables, &self.request, &self.fingerprint));
        let sound = sound(&outcome);
        self.outcome = Some(outcome);
        sound
    }

    fn journaled(&self) -> bool {
        true
    }

    fn record(&self) -> Option<&[u8]> {
        match &self.outcome {
            Some(Ok(receipt)) if !receipt.replayed => Some(&self.record),
            _ => None,
        }
    }

    fn reply(self: Box<Self>, failure: Option<&BatchFailed>) {
        let _ = self.reply.send(settle(self.outcome, failure));
    }
}

type Job = Box<dyn Operation>;

/// The tables a response write reads and writes.
struct ResponseTables<'txn> {
    idempotency: redb::Table<'txn, (&'static str, &'static str), &'static [u8]>,
    events: redb::Table<'txn, (&'static str, u64), &'static [u8]>,
    meta: redb::Table<'txn, &'static str, &'static [u8]>,
    answers: redb::Table<'txn, (&'static str, &'static str), &'static [u8]>,
}

impl<'txn> ResponseTables<'txn> {
    fn open(txn: &'txn WriteTransaction) -> Result<Self, StoreError> {
        Ok(Self {
            idempotency: txn.open_table(IDEMPOTENCY).map_err(db_err)?,
            events: txn.open_table(EVENTS).map_err(db_err)?,
            meta: txn.open_table(RESPONSE_META).map_err(db_err)?,
            answers: txn.open_table(ANSWERS).map_err(db_err)?,
        })
    }
}

/// A batch's transaction as its operations see it. The tables of response writes stay
/// open from one [`Execute`] to the next, since opening a table (a look-up and a check of
/// its definition) and closing it (its root staged for the commit) cost more than a small
/// write; any other operation closes them first, since redb refuses a table opened twice.
struct BatchTxn<'txn> {
    txn: &'txn WriteTransaction,
    responses: Option<ResponseTables<'txn>>,
}

impl<'txn> BatchTxn<'txn> {
    fn new(txn: &'txn WriteTransaction) -> Self {
        Self {
            txn,
            responses: None,
        }
    }

    /// The transaction, with no table of this batch open.
    fn txn(&mut self) -> &'txn WriteTransaction {
        self.responses = None;
        self.txn
    }

    /// The transaction and the response tables, opened at the first call.
    fn responses(
        &mut self,
    ) -> Result<(&'txn WriteTransaction, &mut ResponseTables<'txn>), StoreError> {
        let tables = match &mut self.responses {
            Some(tables) => tables,
            empty => empty.insert(ResponseTables::open(self.txn)?),
        };
        Ok((self.txn, tables))
    }
}

/// The writer thread's state.
struct Writer {
    db: Arc<Database>,
    /// `None` once the journal is not to be trusted (it could not be emptied, a write and
    /// then the checkpoint failed, a sync failed, the syncer stopped): every batch then
    /// commits durably, and the file is dealt with at the next open.
    journal: Option<Journal>,
    /// The number the next journal entry takes.
    next_entry: u64,
    /// Whether redb holds commits that are not durable yet (their entries are journaled).
    pending: bool,
    /// When redb last committed durably.
    last_durable: Instant,
    checkpoint_every: Duration,
    /// The thread that syncs the journal and then answers; `None` once stopped.
    syncer: Option<SyncerHandle>,
}

/// How a batch is answered.
enum Settled {
    /// By the writer, now: the batch failed, or committed durably (which made every
    /// earlier commit durable too).
    Now(Option<BatchFailed>),
    /// By the syncer, after a sync that started once this batch was written: it went to
    /// the journal, or its outcome (a replay, a refusal) may rest on an earlier batch
    /// that is still waiting for its sync.
    AfterSync {
        /// Whether the batch appended a journal entry.
        appended: bool,
    },
}

impl Writer {
    /// One batch per transaction until every sender is dropped and the queue is empty;
    /// then a last checkpoint.
    fn run(mut self, jobs: &mpsc::Receiver<Job>) {
        loop {
            let first = if self.pending {
                let wait = self
                    .checkpoint_every
                    .saturating_sub(self.last_durable.elapsed());
                match jobs.recv_timeout(wait) {
                    Ok(job) => job,
                    Err(RecvTimeoutError::Timeout) => {
                        self.checkpoint_logged();
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            } else {
                match jobs.recv() {
                    Ok(job) => job,
                    Err(_) => break,
                }
            };
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match jobs.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            self.heal();
            match self.run_batch(&mut batch) {
                Settled::Now(failure) => {
                    if let Some(failure) = &failure {
                        tracing::error!(
                            operations = batch.len(),
                            "redb write batch failed: {failure}"
                        );
                    }
                    for job in batch {
                        job.reply(failure.as_ref());
                    }
                }
                Settled::AfterSync { appended } => self.after_sync(batch, appended),
            }
            let journal_full = self
                .journal
                .as_ref()
                .is_some_and(|journal| journal.len() >= CHECKPOINT_BYTES);
            if self.pending
                && (journal_full || self.last_durable.elapsed() >= self.checkpoint_every)
            {
                self.checkpoint_logged();
            }
        }
        if self.pending {
            self.checkpoint_logged();
        }
        // The syncer answers what it holds, then stops.
        if let Some(syncer) = self.syncer.take() {
            syncer.stop();
        }
    }

    /// Hands a batch to the syncer; if it has stopped (it panicked), commits durably
    /// and answers here.
    fn after_sync(&mut self, batch: Vec<Job>, appended: bool) {
        let Some(syncer) = &self.syncer else {
            let failure = self.checkpoint().err();
            for job in batch {
                job.reply(failure.as_ref());
            }
            return;
        };
        if let Err(mpsc::SendError(group)) = syncer.groups.send(Group {
            jobs: batch,
            appended,
        }) {
            tracing::error!("the redb journal syncer has stopped; committing durably");
            self.syncer = None;
            self.journal = None;
            let failure = self.checkpoint().err();
            for job in group.jobs {
                job.reply(failure.as_ref());
            }
        }
    }

    /// After a failed sync of the journal: commits durably, which makes every batch
    /// committed so far durable without the journal, and from then on commits every
    /// batch durably. The batches that were waiting for a sync are answered with the
    /// failure (they are kept, so a retry under the same idempotency key replays them).
    fn heal(&mut self) {
        let broken = self
            .syncer
            .as_ref()
            .is_some_and(|syncer| syncer.broken.load(Ordering::Acquire));
        if broken && self.journal.is_some() {
            // The checkpoint empties the journal; nothing is written to it again.
            self.checkpoint_logged();
            self.journal = None;
        }
    }

    /// Runs a batch in one transaction and commits it (see the module documentation).
    fn run_batch(&mut self, batch: &mut [Job]) -> Settled {
        let journaled = self.journal.is_some() && batch.iter().all(|job| job.journaled());
        let mut txn = match self.db.begin_write() {
            Ok(txn) => txn,
            Err(e) => return Settled::Now(Some(BatchFailed::of(e))),
        };
        if journaled && let Err(e) = txn.set_durability(Durability::None) {
            return Settled::Now(Some(BatchFailed::of(e)));
        }
        let failed = {
            let mut batch_txn = BatchTxn::new(&txn);
            batch.iter_mut().any(|job| !job.run(&mut batch_txn))
        };
        if failed {
            // Nothing of the batch may be kept; an error from the abort itself would add
            // nothing to the failure already reported.
            let _ = txn.abort();
            return Settled::Now(Some(BatchFailed(
                "an operation failed in the storage layer".into(),
            )));
        }
        if !journaled {
            return Settled::Now(match txn.commit() {
                Ok(()) => {
                    self.durable();
                    None
                }
                Err(e) => Some(BatchFailed::of(e)),
            });
        }
        let records: Vec<&[u8]> = batch.iter().filter_map(|job| job.record()).collect();
        if records.is_empty() {
            // Every request was refused or replayed: nothing was written.
            let _ = txn.abort();
            return Settled::AfterSync { appended: false };
        }
        let number = self.next_entry;
        if let Err(e) = mark_applied(&txn, number) {
            let _ = txn.abort();
            return Settled::Now(Some(BatchFailed::of(e)));
        }
        if let Err(e) = txn.commit() {
            return Settled::Now(Some(BatchFailed::of(e)));
        }
        self.next_entry += 1;
        self.pending = true;
        let written = self
            .journal
            .as_mut()
            .map(|journal| journal.write(number, &json_array(&records)));
        match written {
            Some(Ok(())) => Settled::AfterSync { appended: true },
            Some(Err(e)) => {
                tracing::error!("appending to the redb journal failed ({e}); committing durably");
                // A durable commit makes the batch durable without the journal and empties
                // it, torn entry and all. If that fails, the journal may end in a torn entry
                // that would hide later ones, so no later batch of this process uses it.
                let failure = self.checkpoint().err();
                if failure.is_some() {
                    self.journal = None;
                }
                Settled::Now(failure)
            }
            None => Settled::Now(Some(BatchFailed("the journal is closed".into()))),
        }
    }

    /// Commits durably what redb holds, then empties the journal.
    fn checkpoint(&mut self) -> Result<(), BatchFailed> {
        let txn = self.db.begin_write().map_err(BatchFailed::of)?;
        txn.commit().map_err(BatchFailed::of)?;
        self.durable();
        Ok(())
    }

    /// A checkpoint whose failure is logged: the journal still holds what it needs.
    fn checkpoint_logged(&mut self) {
        if let Err(failure) = self.checkpoint() {
            tracing::error!("redb checkpoint failed: {failure}");
        }
    }

    /// Notes a durable commit: what the journal holds is no longer needed.
    fn durable(&mut self) {
        self.pending = false;
        self.last_durable = Instant::now();
        let cleared = match &mut self.journal {
            Some(journal) if !journal.is_empty() => journal.clear(),
            _ => Ok(()),
        };
        if let Err(e) = cleared {
            tracing::error!(
                "emptying the redb journal failed ({e}); from now on every write commits durably"
            );
            self.journal = None;
        }
    }
}

/// A journaled batch waiting for the sync after which it is answered.
struct Group {
    jobs: Vec<Job>,
    /// Whether the batch appended a journal entry (one that did not still waits for the
    /// syncs of the batches before it).
    appended: bool,
}

/// Syncs the journal's file to the disk.
type SyncFn = Box<dyn FnMut() -> std::io::Result<()> + Send>;

/// The journal's syncer: a thread of its own, so that the writer runs the next batch
/// while the disk syncs the entries before it. It waits for a batch, takes every other
/// one already waiting, syncs once when any of them appended an entry, and answers them
/// all in the order they were written. A sync covers every write made before it began,
/// so no batch is answered before its entry, and every entry before it, is durable.
struct Syncer {
    sync: SyncFn,
    /// Set for good once a sync failed (see [`Writer::heal`]).
    broken: Arc<AtomicBool>,
}

/// The writer's side of the syncer.
struct SyncerHandle {
    groups: mpsc::Sender<Group>,
    broken: Arc<AtomicBool>,
    thread: thread::JoinHandle<()>,
}

impl SyncerHandle {
    /// Starts the syncer thread.
    fn start(sync: SyncFn) -> std::io::Result<Self> {
        let broken = Arc::new(AtomicBool::new(false));
        let (groups, queue) = mpsc::channel();
        let syncer = Syncer {
            sync,
            broken: Arc::clone(&broken),
        };
        let thread = thread::Builder::new()
            .name("redb-journal-sync".to_owned())
            .spawn(move || syncer.run(&queue))?;
        Ok(Self {
            groups,
            broken,
            thread,
        })
    }

    /// Lets the syncer answer what it holds and waits for it.
    fn stop(self) {
        drop(self.groups);
        if self.thread.join().is_err() {
            tracing::error!("the redb journal syncer panicked");
        }
    }
}

impl Syncer {
    fn run(mut self, queue: &mpsc::Receiver<Group>) {
        while let Ok(first) = queue.recv() {
            let mut waiting = vec![first];
            waiting.extend(queue.try_iter());
            let failure = self.sync_for(&waiting);
            for job in waiting.into_iter().flat_map(|group| group.jobs) {
                job.reply(failure.as_ref());
            }
        }
    }

    /// Makes the waiting batches durable: `Some` when that failed, now or before.
    fn sync_for(&mut self, waiting: &[Group]) -> Option<BatchFailed> {
        if self.broken.load(Ordering::Acquire) {
            // A later sync can succeed while an earlier write was lost, so nothing
            // after a failure is answered from the journal.
            return Some(BatchFailed("an earlier sync of the journal failed".into()));
        }
        if !waiting.iter().any(|group| group.appended) {
            // Every earlier entry was synced before these batches were taken.
            return None;
        }
        match (self.sync)() {
            Ok(()) => None,
            Err(e) => {
                self.broken.store(true, Ordering::Release);
                tracing::error!(
                    "syncing the redb journal failed ({e}); the writer commits durably from now on"
                );
                Some(BatchFailed::of(e))
            }
        }
    }
}

/// Records in `txn` that journal entries up to `number` are applied.
fn mark_applied(txn: &WriteTransaction, number: u64) -> Result<(), redb::Error> {
    txn.open_table(JOURNAL)?.insert(APPLIED, number)?;
    Ok(())
}

/// Journal records joined into one JSON array.
fn json_array(records: &[&[u8]]) -> Vec<u8> {
    let size = records.iter().map(|record| record.len() + 1).sum::<usize>() + 1;
    let mut payload = Vec::with_capacity(size);
    payload.push(b'[');
    for (index, record) in records.iter().enumerate() {
        if index > 0 {
            payload.push(b',');
        }
        payload.extend_from_slice(record);
    }
    payload.push(b']');
    payload
}

/// Applies, in one durable transaction, the journal's entries that follow the last one
/// redb holds, then empties the journal; returns the number the next entry takes.
///
/// # Errors
/// [`StoreError::Corrupt`] when an entry does not decode or the entries do not continue
/// from the one redb holds (the files are then left as they are, for inspection);
/// [`StoreError::Unavailable`] when redb or the file fails.
fn replay(db: &Database, journal: &mut Journal, entries: &[Entry]) -> Result<u64, StoreError> {
    let txn = db.begin_write().map_err(db_err)?;
    let applied = txn
        .open_table(JOURNAL)
        .map_err(db_err)?
        .get(APPLIED)
        .map_err(db_err)?
        .map_or(0, |number| number.value());
    let mut last = applied;
    let mut requests = 0_usize;
    for entry in entries.iter().filter(|entry| entry.number > applied) {
        if Some(entry.number) != last.checked_add(1) {
            return Err(StoreError::Corrupt(format!(
                "the journal {} continues with entry {} but the database holds entries up to {last}",
                journal.path().display(),
                entry.number
            )));
        }
        let records: Vec<RequestRecord> = decode("journal entry", &entry.payload)?;
        let mut tables = ResponseTables::open(&txn)?;
        for record in records {
            let request = ResponseRequest::try_from(record)?;
            match execute_in(&txn, &mut tables, &request, &fingerprint(&request)) {
                Ok(_) => requests += 1,
                Err(e @ StoreError::Unavailable(_)) => return Err(e),
                // The same request met the same state when first applied, so this is not
                // reached; the others are applied all the same.
                Err(e) => tracing::error!("a journaled request was refused when replayed: {e}"),
            }
        }
        last = entry.number;
    }
    if last > applied {
        mark_applied(&txn, last).map_err(db_err)?;
        txn.commit().map_err(db_err)?;
        tracing::info!(
            entries = last - applied,
            requests,
            "replayed the redb journal after an unclean stop"
        );
    } else {
        txn.abort().map_err(db_err)?;
    }
    if !journal.is_empty() {
        journal.clear().map_err(StoreError::unavailable)?;
    }
    Ok(last + 1)
}

/// The journal of the database at `path`: the same name with `.journal` added.
pub fn journal_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".journal");
    PathBuf::from(name)
}

/// The open state: the database, the writer's queue and the writer itself.
struct Open {
    db: Arc<Database>,
    jobs: mpsc::Sender<Job>,
    writer: thread::JoinHandle<()>,
}

impl Open {
    /// Lets the writer finish what is queued, waits for it, and closes the file.
    fn shut_down(self) -> Result<(), StoreError> {
        let Self { db, jobs, writer } = self;
        // The only sender: once dropped, the writer drains the queue and returns.
        drop(jobs);
        if writer.join().is_err() {
            return Err(StoreError::unavailable(WriterGone));
        }
        match Arc::try_unwrap(db) {
            Ok(db) => db.close().map_err(db_err),
            // Readers borrow the database under the state lock and never clone it, and the
            // writer has returned, so this is not reached; dropping closes it anyway.
            Err(db) => {
                drop(db);
                Ok(())
            }
        }
    }
}

/// The embedded store: one redb file, one writer thread, reads on the caller's side.
pub struct RedbStore {
    path: PathBuf,
    /// `None` once closed. Readers hold the read lock for their whole (short, synchronous)
    /// read, so closing waits for them and then owns the database alone.
    state: RwLock<Option<Open>>,
    /// Calls to `mark_update_seen`, to prune forgotten updates every so often.
    update_marks: AtomicU64,
    /// Rounds read recently. Only this process writes the file, so entries are trusted
    /// until `put_round` forgets them.
    rounds: RoundCache,
    /// Every write of this process (the only one that writes the file).
    changes: Changes,
}

impl fmt::Debug for RedbStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let open = self
            .state
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some();
        f.debug_struct("RedbStore")
            .field("path", &self.path)
            .field("open", &open)
            .finish()
    }
}

/// Opens (or creates) the database at `path`, creating its folder and every table,
/// replays its journal ([`journal_path`]) when the last stop was unclean, and starts its
/// writer thread.
///
/// # Errors
/// [`StoreError::Unavailable`] when the folder or a file cannot be created or opened (for
/// example when another process has the database open); [`StoreError::Corrupt`] when the
/// journal cannot be replayed.
pub fn open(path: &Path) -> Result<RedbStore, StoreError> {
    open_with(path, CHECKPOINT_EVERY)
}

/// [`open`] with a checkpoint interval of its own (tests stretch it, to look at the files
/// between checkpoints).
fn open_with(path: &Path, checkpoint_every: Duration) -> Result<RedbStore, StoreError> {
    open_syncing_with(path, checkpoint_every, |file| {
        Box::new(move || file.sync_data())
    })
}

/// [`open_with`] with the journal synced by what `sync` makes of the journal's file
/// (tests make syncs fail or wait).
fn open_syncing_with(
    path: &Path,
    checkpoint_every: Duration,
    sync: impl FnOnce(std::fs::File) -> SyncFn,
) -> Result<RedbStore, StoreError> {
    if let Some(parent) = path.parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent).map_err(StoreError::unavailable)?;
    }
    // redb locks the file, so a second process stops here, before the journal.
    let db = Database::create(path).map_err(db_err)?;
    create_tables(&db)?;
    let (mut journal, entries) =
        Journal::open(&journal_path(path)).map_err(StoreError::unavailable)?;
    let next_entry = replay(&db, &mut journal, &entries)?;
    let syncer = journal
        .sync_handle()
        .and_then(|file| SyncerHandle::start(sync(file)))
        .map_err(StoreError::unavailable)?;
    let db = Arc::new(db);
    let (jobs, queue) = mpsc::channel();
    let writer_state = Writer {
        db: Arc::clone(&db),
        journal: Some(journal),
        next_entry,
        pending: false,
        last_durable: Instant::now(),
        checkpoint_every,
        syncer: Some(syncer),
    };
    let writer = thread::Builder::new()
        .name("redb-writer".to_owned())
        .spawn(move || writer_state.run(&queue))
        .map_err(StoreError::unavailable)?;
    Ok(RedbStore {
        path: path.to_owned(),
        state: RwLock::new(Some(Open { db, jobs, writer })),
        update_marks: AtomicU64::new(0),
        rounds: RoundCache::new(None),
        changes: Changes::new(None),
    })
}

/// Creates every table, so that readers never meet a missing one.
fn create_tables(db: &Database) -> Result<(), StoreError> {
    let txn = db.begin_write().map_err(db_err)?;
    txn.open_table(ORGANISATIONS).map_err(db_err)?;
    txn.open_table(PERSONS).map_err(db_err)?;
    txn.open_table(CHATS).map_err(db_err)?;
    txn.open_table(ROUNDS).map_err(db_err)?;
    txn.open_table(ASSIGNMENTS).map_err(db_err)?;
    txn.open_table(RESPONSE_META).map_err(db_err)?;
    txn.open_table(ANSWERS).map_err(db_err)?;
    txn.open_table(EVENTS).map_err(db_err)?;
    txn.open_table(IDEMPOTENCY).map_err(db_err)?;
    txn.open_multimap_table(ROUND_RESPONSES).map_err(db_err)?;
    txn.open_table(VALIDATIONS).map_err(db_err)?;
    txn.open_table(AUDIT).map_err(db_err)?;
    txn.open_table(API_TOKENS).map_err(db_err)?;
    txn.open_table(API_TOKEN_IDS).map_err(db_err)?;
    txn.open_table(LINK_TOKENS).map_err(db_err)?;
    txn.open_table(TELEGRAM_CODES).map_err(db_err)?;
    txn.open_table(TELEGRAM_UPDATES).map_err(db_err)?;
    txn.open_table(LEASES).map_err(db_err)?;
    txn.open_table(REMINDER_MARKS).map_err(db_err)?;
    txn.open_table(TELEGRAM_NOTICES).map_err(db_err)?;
    txn.open_table(ACTIVITIES).map_err(db_err)?;
    txn.open_table(ACTIONS).map_err(db_err)?;
    txn.open_table(ACTION_REMINDERS).map_err(db_err)?;
    txn.open_table(JOURNAL).map_err(db_err)?;
    txn.commit().map_err(db_err)
}

impl RedbStore {
    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs a read in a fresh read transaction.
    fn read<T>(
        &self,
        work: impl FnOnce(&ReadTransaction) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
        let open = state.as_ref().ok_or(StoreError::Closed)?;
        let txn = open.db.begin_read().map_err(db_err)?;
        work(&txn)
    }

    /// Queues a write that views may depend on (see [`Store::generation`]) and waits
    /// until its batch is committed; then notes the change.
    async fn write<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&WriteTransaction) -> Result<T, StoreError> + Send + 'static,
    {
        let outcome = self.write_quiet(work).await;
        // Committed (or not): either way, views computed before may be stale now.
        self.changes.note();
        outcome
    }

    /// Queues a write no view depends on (tokens, codes, update ids, the audit log) and
    /// waits until its batch is committed, leaving cached views alone.
    async fn write_quiet<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&WriteTransaction) -> Result<T, StoreError> + Send + 'static,
    {
        self.queue(|reply| {
            Box::new(Op {
                work: Some(work),
                outcome: None,
                reply,
            })
        })
        .await
    }

    /// Queues the job `job` makes around its reply channel and waits for the reply.
    async fn queue<T>(
        &self,
        job: impl FnOnce(oneshot::Sender<Result<T, StoreError>>) -> Job,
    ) -> Result<T, StoreError> {
        let (reply, answer) = oneshot::channel();
        {
            let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
            let open = state.as_ref().ok_or(StoreError::Closed)?;
            open.jobs
                .send(job(reply))
                .map_err(|_| StoreError::unavailable(WriterGone))?;
        }
        answer
            .await
            .map_err(|_| StoreError::unavailable(WriterGone))?
    }
}

impl Drop for RedbStore {
    /// Closes cleanly when [`Store::close`] was not called: waits for the writer's last
    /// commit (briefly blocking the dropping thread) and closes the file.
    fn drop(&mut self) {
        let open = self
            .state
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(open) = open
            && let Err(e) = open.shut_down()
        {
            tracing::warn!("closing the redb store on drop failed: {e}");
        }
    }
}

// --- reading helpers ---------------------------------------------------------------------

/// Reads and converts one record of a `&str → bytes` table.
fn get_record<R, T>(
    txn: &ReadTransaction,
    table: TableDefinition<&str, &[u8]>,
    what: &str,
    key: &str,
) -> Result<Option<T>, StoreError>
where
    R: for<'de> serde::Deserialize<'de>,
    T: TryFrom<R, Error = StoreError>,
{
    let table = txn.open_table(table).map_err(db_err)?;
    let Some(bytes) = table.get(key).map_err(db_err)? else {
        return Ok(None);
    };
    let record: R = decode(what, bytes.value())?;
    T::try_from(record).map(Some)
}

/// Reads and converts every record of a `&str → bytes` table, in key order.
fn all_records<R, T>(
    txn: &ReadTransaction,
    table: TableDefinition<&str, &[u8]>,
    what: &str,
) -> Result<Vec<T>, StoreError>
where
    R: for<'de> serde::Deserialize<'de>,
    T: TryFrom<R, Error = StoreError>,
{
    let table = txn.open_table(table).map_err(db_err)?;
    let mut out = Vec::new();
    for entry in table.iter().map_err(db_err)? {
        let (_, bytes) = entry.map_err(db_err)?;
        let record: R = decode(what, bytes.value())?;
        out.push(T::try_from(record)?);
    }
    Ok(out)
}

/// Events `from..from + count` of a response, in order; every one must exist.
fn read_events(
    table: &impl ReadableTable<(&'static str, u64), &'static [u8]>,
    response: &ResponseId,
    from: u64,
    count: u64,
) -> Result<Vec<ResponseEvent>, StoreError> {
    let mut events = Vec::new();
    for seq in from..from.saturating_add(count) {
        let bytes = table
            .get((response.as_str(), seq))
            .map_err(db_err)?
            .ok_or_else(|| StoreError::Corrupt(format!("event {seq} of {response} is missing")))?;
        let record: EventRecord = decode("event", bytes.value())?;
        events.push(record.into_event(response)?);
    }
    Ok(events)
}

/// A response's meta, or the meta of a response without events.
fn read_meta(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
    response: &ResponseId,
) -> Result<Option<MetaRecord>, StoreError> {
    match table.get(response.as_str()).map_err(db_err)? {
        Some(bytes) => decode("response meta", bytes.value()).map(Some),
        None => Ok(None),
    }
}

// --- write operations --------------------------------------------------------------------

/// Applies a request inside the writer's transaction (see [`Store::execute`]).
///
/// `request_fingerprint` is computed by the caller, so the hashing runs on the caller's
/// task in parallel rather than on the single writer thread.
fn execute_in(
    txn: &WriteTransaction,
    tables: &mut ResponseTables<'_>,
    request: &ResponseRequest,
    request_fingerprint: &str,
) -> Result<Receipt, StoreError> {
    let response = request.key.id();
    let id = response.as_str();
    let idem_key = request.idempotency_key.as_str();
    let ResponseTables {
        idempotency,
        events: events_table,
        meta: meta_table,
        answers,
    } = tables;

    // Checks first: nothing below writes before every refusal has been decided.
    let previous: Option<IdempotencyRecord> = match idempotency.get((id, idem_key)) {
        Ok(Some(bytes)) => Some(decode("idempotency record", bytes.value())?),
        Ok(None) => None,
        Err(e) => return Err(db_err(e)),
    };
    if let Some(previous) = previous {
        if previous.fingerprint != request_fingerprint {
            return Err(StoreError::IdempotencyConflict);
        }
        let events = read_events(events_table, &response, previous.first_seq, previous.count)?;
        return Ok(Receipt {
            events,
            replayed: true,
        });
    }
    let stored_meta = read_meta(meta_table, &response)?;
    let first_event = stored_meta.is_none();
    let mut meta = stored_meta.map(|record| record.meta()).unwrap_or_default();
    let events = plan_events(&meta, request)?;

    // Writes.
    for event in &events {
        events_table
            .insert(
                (id, event.seq),
                encode(&EventRecord::from(event)).as_slice(),
            )
            .map_err(db_err)?;
        if let EventKind::Answer { question, change } = &event.kind {
            match (change, AnswerRecord::from_event(event)) {
                (AnswerChange::Set(_), Some(answer)) => {
                    answers
                        .insert((id, question.as_str()), encode(&answer).as_slice())
                        .map_err(db_err)?;
                }
                _ => {
                    answers.remove((id, question.as_str())).map_err(db_err)?;
                }
            }
        }
        meta.apply(event);
    }
    meta_table
        .insert(
            id,
            encode(&MetaRecord::new(&meta, Some(request.at))).as_slice(),
        )
        .map_err(db_err)?;
    let first_seq = events.first().map_or(0, |event| event.seq);
    let count = u64::try_from(events.len()).unwrap_or(u64::MAX);
    idempotency
        .insert(
            (id, idem_key),
            encode(&IdempotencyRecord::with_fingerprint(
                request_fingerprint.to_owned(),
                first_seq,
                count,
            ))
            .as_slice(),
        )
        .map_err(db_err)?;
    // A response with a meta is already indexed under its round.
    if first_event {
        txn.open_multimap_table(ROUND_RESPONSES)
            .map_err(db_err)?
            .insert(request.key.round.as_str(), id)
            .map_err(db_err)?;
    }
    Ok(Receipt {
        events,
        replayed: false,
    })
}

/// Stores a person and keeps the chat index one chat → one person (see
/// [`Store::put_person`]).
fn put_person_in(txn: &WriteTransaction, person: &Person) -> Result<(), StoreError> {
    let id = person.id.as_str();
    let new_chat = person.telegram_chat.map(|chat| chat.0);
    let mut persons = txn.open_table(PERSONS).map_err(db_err)?;
    let mut chats = txn.open_table(CHATS).map_err(db_err)?;

    // Reads first, so that a corrupt record refuses the write before anything is written.
    let old_chat = match persons.get(id).map_err(db_err)? {
        Some(bytes) => {
            let record: PersonRecord = decode("person", bytes.value())?;
            Person::try_from(record)?.telegram_chat.map(|chat| chat.0)
        }
        None => None,
    };
    // The old chat is unmapped only while it still points at this person.
    let unmap_old = match old_chat {
        Some(old) if Some(old) != new_chat => {
            chats.get(old).map_err(db_err)?.map(|p| p.value() == id) == Some(true)
        }
        _ => false,
    };
    let mut displaced: Option<Person> = None;
    if let Some(chat) = new_chat {
        let holder = chats
            .get(chat)
            .map_err(db_err)?
            .map(|p| p.value().to_owned());
        if let Some(holder) = holder.filter(|holder| holder != id)
            && let Some(bytes) = persons.get(holder.as_str()).map_err(db_err)?
        {
            let record: PersonRecord = decode("person", bytes.value())?;
            let other = Person::try_from(record)?;
            if other.telegram_chat == person.telegram_chat {
                displaced = Some(other);
            }
        }
    }

    if let Some(old) = old_chat
        && unmap_old
    {
        chats.remove(old).map_err(db_err)?;
    }
    if let Some(mut other) = displaced {
        other.telegram_chat = None;
        persons
            .insert(
                other.id.as_str(),
                encode(&PersonRecord::from(&other)).as_slice(),
            )
            .map_err(db_err)?;
    }
    if let Some(chat) = new_chat {
        chats.insert(chat, id).map_err(db_err)?;
    }
    persons
        .insert(id, encode(&PersonRecord::from(person)).as_slice())
        .map_err(db_err)?;
    Ok(())
}

/// Stores an API token under its hash and its id; a new hash for an id replaces the old.
fn put_api_token_in(
    txn: &WriteTransaction,
    id: &str,
    hash: &str,
    record: &[u8],
) -> Result<(), StoreError> {
    let mut ids = txn.open_table(API_TOKEN_IDS).map_err(db_err)?;
    let mut tokens = txn.open_table(API_TOKENS).map_err(db_err)?;
    let old_hash = ids.get(id).map_err(db_err)?.map(|h| h.value().to_owned());
    if let Some(old_hash) = old_hash
        && old_hash != hash
    {
        tokens.remove(old_hash.as_str()).map_err(db_err)?;
    }
    tokens.insert(hash, record).map_err(db_err)?;
    ids.insert(id, hash).map_err(db_err)?;
    Ok(())
}

/// Marks an API token revoked; `false` when there is none with this id.
fn revoke_api_token_in(txn: &WriteTransaction, id: &str) -> Result<bool, StoreError> {
    let ids = txn.open_table(API_TOKEN_IDS).map_err(db_err)?;
    let mut tokens = txn.open_table(API_TOKENS).map_err(db_err)?;
    let Some(hash) = ids.get(id).map_err(db_err)?.map(|h| h.value().to_owned()) else {
        return Ok(false);
    };
    let record = match tokens.get(hash.as_str()).map_err(db_err)? {
        Some(bytes) => {
            let mut record: ApiTokenRecord = decode("api token", bytes.value())?;
            record.revoke();
            encode(&record)
        }
        None => return Ok(false),
    };
    tokens
        .insert(hash.as_str(), record.as_slice())
        .map_err(db_err)?;
    Ok(true)
}

/// Marks a link token revoked; `false` when there is none with this hash.
fn revoke_link_token_in(txn: &WriteTransaction, hash: &str) -> Result<bool, StoreError> {
    let mut tokens = txn.open_table(LINK_TOKENS).map_err(db_err)?;
    let record = match tokens.get(hash).map_err(db_err)? {
        Some(bytes) => {
            let mut record: LinkTokenRecord = decode("link token", bytes.value())?;
            record.revoke();
            encode(&record)
        }
        None => return Ok(false),
    };
    tokens.insert(hash, record.as_slice()).map_err(db_err)?;
    Ok(true)
}

/// Revokes every usable link bound to `binding`; returns how many. Links are few (one
/// per invitation), so a scan of the table is fine.
fn revoke_links_of_in(txn: &WriteTransaction, binding: &LinkBinding) -> Result<usize, StoreError> {
    let mut tokens = txn.open_table(LINK_TOKENS).map_err(db_err)?;
    let mut revoke = Vec::new();
    for entry in tokens.iter().map_err(db_err)? {
        let (hash, bytes) = entry.map_err(db_err)?;
        let record: LinkTokenRecord = decode("link token", bytes.value())?;
        let token = LinkToken::try_from(record.clone())?;
        if token.binding == *binding && !token.revoked {
            let mut record = record;
            record.revoke();
            revoke.push((hash.value().to_owned(), encode(&record)));
        }
    }
    for (hash, record) in &revoke {
        tokens
            .insert(hash.as_str(), record.as_slice())
            .map_err(db_err)?;
    }
    Ok(revoke.len())
}

/// Appends a validation after the last one of its round and organisation.
fn add_validation_in(
    txn: &WriteTransaction,
    round: &str,
    organisation: &str,
    record: &[u8],
) -> Result<(), StoreError> {
    let mut table = txn.open_table(VALIDATIONS).map_err(db_err)?;
    let last = table
        .range((round, organisation, 0)..=(round, organisation, u64::MAX))
        .map_err(db_err)?
        .next_back()
        .transpose()
        .map_err(db_err)?
        .map(|(key, _)| key.value().2);
    let next = last.map_or(0, |n| n.saturating_add(1));
    table
        .insert((round, organisation, next), record)
        .map_err(db_err)?;
    Ok(())
}

/// Appends an audit record after the last one of its round.
fn append_audit_in(txn: &WriteTransaction, round: &str, record: &[u8]) -> Result<(), StoreError> {
    let mut table = txn.open_table(AUDIT).map_err(db_err)?;
    let last = table
        .range((round, 0)..=(round, u64::MAX))
        .map_err(db_err)?
        .next_back()
        .transpose()
        .map_err(db_err)?
        .map(|(key, _)| key.value().1);
    let next = last.map_or(0, |n| n.saturating_add(1));
    table.insert((round, next), record).map_err(db_err)?;
    Ok(())
}

/// Removes a linking code and returns it when usable at `now` (see
/// [`Store::take_telegram_code`]). A corrupt record refuses before anything is removed.
fn take_telegram_code_in(
    txn: &WriteTransaction,
    hash: &str,
    now: Timestamp,
) -> Result<Option<TelegramLinkCode>, StoreError> {
    let mut codes = txn.open_table(TELEGRAM_CODES).map_err(db_err)?;
    let code = match codes.get(hash).map_err(db_err)? {
        Some(bytes) => {
            let record: TelegramCodeRecord = decode("telegram code", bytes.value())?;
            TelegramLinkCode::try_from(record)?
        }
        None => return Ok(None),
    };
    codes.remove(hash).map_err(db_err)?;
    Ok(code.is_usable(now).then_some(code))
}

/// Remembers an update id (see [`Store::mark_update_seen`]); with `prune`, also forgets
/// every update seen longer ago than the memory.
fn mark_update_seen_in(
    txn: &WriteTransaction,
    update_id: i64,
    now: i64,
    prune: bool,
) -> Result<bool, StoreError> {
    let mut table = txn.open_table(TELEGRAM_UPDATES).map_err(db_err)?;
    let seen = table.get(update_id).map_err(db_err)?.map(|at| at.value());
    let fresh = seen.is_none_or(|at| now.saturating_sub(at) > UPDATE_MEMORY_MILLIS);
    if fresh {
        table.insert(update_id, now).map_err(db_err)?;
    }
    if prune {
        table
            .retain(|_, at| now.saturating_sub(at) <= UPDATE_MEMORY_MILLIS)
            .map_err(db_err)?;
    }
    Ok(fresh)
}

/// Takes or extends a lease (see [`Store::acquire_lease`]).
fn acquire_lease_in(
    txn: &WriteTransaction,
    name: &str,
    holder: &str,
    now: Timestamp,
    ttl_millis: i64,
) -> Result<bool, StoreError> {
    let mut leases = txn.open_table(LEASES).map_err(db_err)?;
    let current = match leases.get(name).map_err(db_err)? {
        Some(bytes) => Some(decode::<LeaseRecord>("lease", bytes.value())?.checked()?),
        None => None,
    };
    let free = current.is_none_or(|lease| lease.holder == holder || now.millis() >= lease.until);
    if free {
        let record = encode(&LeaseRecord::new(holder, now.plus_millis(ttl_millis)));
        leases.insert(name, record.as_slice()).map_err(db_err)?;
    }
    Ok(free)
}

/// Gives a lease up when `holder` has it.
fn release_lease_in(txn: &WriteTransaction, name: &str, holder: &str) -> Result<bool, StoreError> {
    let mut leases = txn.open_table(LEASES).map_err(db_err)?;
    let held = match leases.get(name).map_err(db_err)? {
        Some(bytes) => {
            decode::<LeaseRecord>("lease", bytes.value())?
                .checked()?
                .holder
                == holder
        }
        None => false,
    };
    if held {
        leases.remove(name).map_err(db_err)?;
    }
    Ok(held)
}

/// The actions of a round in key order (by id), in any transaction.
fn actions_in(
    table: &impl ReadableTable<(&'static str, &'static str), &'static [u8]>,
    round: &str,
) -> Result<Vec<Action>, StoreError> {
    let mut out = Vec::new();
    for entry in table.range((round, "")..).map_err(db_err)? {
        let (key, bytes) = entry.map_err(db_err)?;
        if key.value().0 != round {
            break;
        }
        let record: ActionRecord = decode("action", bytes.value())?;
        out.push(Action::try_from(record)?);
    }
    Ok(out)
}

/// Writes an action (see [`Store::put_action`]): the limit check and the write in one
/// transaction of the writer.
fn put_action_in(
    txn: &WriteTransaction,
    action: &Action,
    max_priority: u32,
) -> Result<ActionWrite, StoreError> {
    let mut table = txn.open_table(ACTIONS).map_err(db_err)?;
    let round = action.round.as_str();
    if action.priority {
        let existing = actions_in(&table, round)?;
        if !priority_allows(action, &existing, max_priority) {
            return Ok(ActionWrite::PriorityLimitReached);
        }
    }
    let record = encode(&ActionRecord::from(action));
    table
        .insert((round, action.id.as_str()), record.as_slice())
        .map_err(db_err)?;
    Ok(ActionWrite::Written)
}

/// Claims a reminder (see [`Store::claim_reminder`]): the check and the write in one
/// transaction of the writer, so no other claim comes between them.
fn claim_reminder_in(
    txn: &WriteTransaction,
    mark: &ReminderMark,
    max_per_person: u32,
) -> Result<ReminderClaim, StoreError> {
    let mut marks = txn.open_table(REMINDER_MARKS).map_err(db_err)?;
    let round = mark.round.as_str();
    let person = mark.person.as_str();
    if marks
        .get((round, person, mark.day))
        .map_err(db_err)?
        .is_some()
    {
        return Ok(ReminderClaim::AlreadyClaimed);
    }
    let mut count: u64 = 0;
    for entry in marks
        .range((round, person, 0)..=(round, person, u32::MAX))
        .map_err(db_err)?
    {
        entry.map_err(db_err)?;
        count += 1;
    }
    if count >= u64::from(max_per_person) {
        return Ok(ReminderClaim::LimitReached);
    }
    let record = encode(&ReminderMarkRecord::from(mark));
    marks
        .insert((round, person, mark.day), record.as_slice())
        .map_err(db_err)?;
    Ok(ReminderClaim::Claimed)
}

/// Claims notices (see [`Store::claim_telegram_notices`]). The queue holds only
/// notices not yet delivered, so reading it whole stays small.
fn claim_telegram_notices_in(
    txn: &WriteTransaction,
    now: Timestamp,
    limit: usize,
    hold_millis: i64,
) -> Result<Vec<TelegramNotice>, StoreError> {
    let mut table = txn.open_table(TELEGRAM_NOTICES).map_err(db_err)?;
    let mut expired = Vec::new();
    let mut due = Vec::new();
    for entry in table.iter().map_err(db_err)? {
        let (id, bytes) = entry.map_err(db_err)?;
        let record: TelegramNoticeRecord = decode("telegram notice", bytes.value())?;
        let notice = TelegramNotice::try_from(record.clone())?;
        if !notice.is_live(now) {
            expired.push(id.value().to_owned());
        } else if record.visible_at() <= now {
            due.push((record.visible_at(), notice, record));
        }
    }
    for id in expired {
        table.remove(id.as_str()).map_err(db_err)?;
    }
    due.sort_by(|a, b| (a.0, &a.1.id).cmp(&(b.0, &b.1.id)));
    due.truncate(limit);
    let mut claimed = Vec::with_capacity(due.len());
    for (_, notice, mut record) in due {
        record.hide_until(now.plus_millis(hold_millis));
        let bytes = encode(&record);
        table
            .insert(notice.id.as_str(), bytes.as_slice())
            .map_err(db_err)?;
        claimed.push(notice);
    }
    Ok(claimed)
}

#[async_trait]
impl Store for RedbStore {
    fn backend(&self) -> Backend {
        Backend::Redb
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.read(|_| Ok(()))
    }

    async fn put_organisation(&self, organisation: &Organisation) -> Result<(), StoreError> {
        let id = organisation.id.to_string();
        let record = encode(&OrganisationRecord::from(organisation));
        self.write(move |txn| {
            txn.open_table(ORGANISATIONS)
                .map_err(db_err)?
                .insert(id.as_str(), record.as_slice())
                .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn organisation(&self, id: &OrganisationId) -> Result<Option<Organisation>, StoreError> {
        self.read(|txn| {
            get_record::<OrganisationRecord, _>(txn, ORGANISATIONS, "organisation", id.as_str())
        })
    }

    async fn organisations(&self) -> Result<Vec<Organisation>, StoreError> {
        self.read(|txn| all_records::<OrganisationRecord, _>(txn, ORGANISATIONS, "organisation"))
    }

    async fn put_person(&self, person: &Person) -> Result<(), StoreError> {
        let person = person.clone();
        self.write(move |txn| put_person_in(txn, &person)).await
    }

    async fn person(&self, id: &PersonId) -> Result<Option<Person>, StoreError> {
        self.read(|txn| get_record::<PersonRecord, _>(txn, PERSONS, "person", id.as_str()))
    }

    async fn person_by_chat(&self, chat: TelegramChatId) -> Result<Option<Person>, StoreError> {
        self.read(|txn| {
            let person = txn
                .open_table(CHATS)
                .map_err(db_err)?
                .get(chat.0)
                .map_err(db_err)?
                .map(|id| id.value().to_owned());
            match person {
                Some(id) => get_record::<PersonRecord, _>(txn, PERSONS, "person", &id),
                None => Ok(None),
            }
        })
    }

    async fn persons(&self) -> Result<Vec<Person>, StoreError> {
        self.read(|txn| all_records::<PersonRecord, _>(txn, PERSONS, "person"))
    }

    async fn put_round(&self, round: &Round) -> Result<(), StoreError> {
        let id = round.id.to_string();
        let record = encode(&RoundRecord::from(round));
        let written = self
            .write(move |txn| {
                txn.open_table(ROUNDS)
                    .map_err(db_err)?
                    .insert(id.as_str(), record.as_slice())
                    .map_err(db_err)?;
                Ok(())
            })
            .await;
        // Also after a failed write: forgetting is always safe.
        self.rounds.forget(&round.id);
        written
    }

    async fn round(&self, id: &RoundId) -> Result<Option<Round>, StoreError> {
        Ok(self.round_shared(id).await?.map(|round| (*round).clone()))
    }

    async fn round_shared(&self, id: &RoundId) -> Result<Option<Arc<Round>>, StoreError> {
        let miss = match self.rounds.get(id) {
            Ok(round) => return Ok(Some(round)),
            Err(miss) => miss,
        };
        let round = self
            .read(|txn| get_record::<RoundRecord, _>(txn, ROUNDS, "round", id.as_str()))?
            .map(Arc::new);
        if let Some(round) = &round {
            self.rounds.keep(miss, round);
        }
        Ok(round)
    }

    fn generation(&self) -> Option<Generation> {
        Some(self.changes.generation())
    }

    async fn rounds(&self) -> Result<Vec<Round>, StoreError> {
        self.read(|txn| all_records::<RoundRecord, _>(txn, ROUNDS, "round"))
    }

    async fn put_assignment(&self, assignment: &Assignment) -> Result<(), StoreError> {
        let round = assignment.round.to_string();
        let field = assignment_field(assignment);
        let record = encode(&AssignmentRecord::from(assignment));
        self.write(move |txn| {
            txn.open_table(ASSIGNMENTS)
                .map_err(db_err)?
                .insert((round.as_str(), field.as_str()), record.as_slice())
                .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn remove_assignment(&self, assignment: &Assignment) -> Result<bool, StoreError> {
        let round = assignment.round.to_string();
        let field = assignment_field(assignment);
        self.write(move |txn| {
            let removed = txn
                .open_table(ASSIGNMENTS)
                .map_err(db_err)?
                .remove((round.as_str(), field.as_str()))
                .map_err(db_err)?
                .is_some();
            Ok(removed)
        })
        .await
    }

    async fn assignments(&self, round: &RoundId) -> Result<Vec<Assignment>, StoreError> {
        let mut assignments = self.read(|txn| {
            let table = txn.open_table(ASSIGNMENTS).map_err(db_err)?;
            let mut out = Vec::new();
            for entry in table.range((round.as_str(), "")..).map_err(db_err)? {
                let (key, bytes) = entry.map_err(db_err)?;
                if key.value().0 != round.as_str() {
                    break;
                }
                let record: AssignmentRecord = decode("assignment", bytes.value())?;
                out.push(Assignment::try_from(record)?);
            }
            Ok(out)
        })?;
        // The stored field joins the parts with `/`, which sorts after `-` inside slugs,
        // so key order is not quite part order: sort by the parts.
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
        // The fields `<org>/<person>/<role>` of one person sort together: a short range
        // from the prefix to the same text with `0`, the character after `/`.
        let prefix = format!("{organisation}/{person}/");
        let end = format!("{organisation}/{person}0");
        let mut assignments = self.read(|txn| {
            let table = txn.open_table(ASSIGNMENTS).map_err(db_err)?;
            let mut out = Vec::new();
            for entry in table
                .range((round.as_str(), prefix.as_str())..(round.as_str(), end.as_str()))
                .map_err(db_err)?
            {
                let (key, bytes) = entry.map_err(db_err)?;
                if !key.value().1.starts_with(&prefix) {
                    continue;
                }
                let record: AssignmentRecord = decode("assignment", bytes.value())?;
                out.push(Assignment::try_from(record)?);
            }
            Ok(out)
        })?;
        assignments.sort_by(|a, b| a.role.as_str().cmp(b.role.as_str()));
        Ok(assignments)
    }

    async fn execute(&self, request: &ResponseRequest) -> Result<Receipt, StoreError> {
        let request = request.clone();
        let fingerprint = fingerprint(&request);
        let record = encode(&RequestRecord::from(&request));
        let outcome = self
            .queue(|reply| {
                Box::new(Execute {
                    request,
                    fingerprint,
                    record,
                    outcome: None,
                    reply,
                })
            })
            .await;
        // Committed (or not): either way, views computed before may be stale now.
        self.changes.note();
        outcome
    }

    async fn response(&self, key: &ResponseKey) -> Result<Option<Response>, StoreError> {
        let response = key.id();
        self.read(|txn| {
            let meta_table = txn.open_table(RESPONSE_META).map_err(db_err)?;
            let Some(meta) = read_meta(&meta_table, &response)? else {
                return Ok(None);
            };
            let table = txn.open_table(ANSWERS).map_err(db_err)?;
            let mut answers = BTreeMap::new();
            for entry in table.range((response.as_str(), "")..).map_err(db_err)? {
                let (entry_key, bytes) = entry.map_err(db_err)?;
                let (owner, question) = entry_key.value();
                if owner != response.as_str() {
                    break;
                }
                let question = QuestionId::parse(question)
                    .map_err(|e| StoreError::Corrupt(format!("question id: {e}")))?;
                let record: AnswerRecord = decode("answer", bytes.value())?;
                answers.insert(question, CurrentAnswer::try_from(record)?);
            }
            Ok(Some(Response {
                key: key.clone(),
                meta: meta.meta(),
                answers,
                updated_at: meta.updated_at.map(Timestamp::from_millis),
            }))
        })
    }

    async fn history(&self, key: &ResponseKey) -> Result<Vec<ResponseEvent>, StoreError> {
        let response = key.id();
        self.read(|txn| {
            let table = txn.open_table(EVENTS).map_err(db_err)?;
            let mut events = Vec::new();
            for entry in table
                .range((response.as_str(), 0)..=(response.as_str(), u64::MAX))
                .map_err(db_err)?
            {
                let (_, bytes) = entry.map_err(db_err)?;
                let record: EventRecord = decode("event", bytes.value())?;
                events.push(record.into_event(&response)?);
            }
            Ok(events)
        })
    }

    async fn responses(&self, round: &RoundId) -> Result<Vec<ResponseKey>, StoreError> {
        self.read(|txn| {
            let table = txn.open_multimap_table(ROUND_RESPONSES).map_err(db_err)?;
            let mut keys = Vec::new();
            for id in table.get(round.as_str()).map_err(db_err)? {
                let id = id.map_err(db_err)?;
                let id = id.value();
                keys.push(
                    ResponseKey::parse(id)
                        .ok_or_else(|| StoreError::Corrupt(format!("response id: {id}")))?,
                );
            }
            // Multimap values come in id order already; sorting keeps the promise explicit.
            keys.sort_by_cached_key(|key| key.id().as_str().to_owned());
            Ok(keys)
        })
    }

    async fn add_validation(&self, record: &ValidationRecord) -> Result<(), StoreError> {
        let round = record.round.to_string();
        let organisation = record.organisation.to_string();
        let bytes = encode(&ValidationRecordRecord::from(record));
        self.write(move |txn| add_validation_in(txn, &round, &organisation, &bytes))
            .await
    }

    async fn validations(
        &self,
        round: &RoundId,
        organisation: &OrganisationId,
    ) -> Result<Vec<ValidationRecord>, StoreError> {
        let (round, organisation) = (round.as_str(), organisation.as_str());
        self.read(|txn| {
            let table = txn.open_table(VALIDATIONS).map_err(db_err)?;
            let mut out = Vec::new();
            for entry in table
                .range((round, organisation, 0)..=(round, organisation, u64::MAX))
                .map_err(db_err)?
            {
                let (_, bytes) = entry.map_err(db_err)?;
                let record: ValidationRecordRecord = decode("validation", bytes.value())?;
                out.push(ValidationRecord::try_from(record)?);
            }
            Ok(out)
        })
    }

    async fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        let round = entry.round.to_string();
        let bytes = encode(&AuditRecord::from(entry));
        self.write_quiet(move |txn| append_audit_in(txn, &round, &bytes))
            .await
    }

    async fn audit(&self, round: &RoundId) -> Result<Vec<AuditEntry>, StoreError> {
        let round = round.as_str();
        self.read(|txn| {
            let table = txn.open_table(AUDIT).map_err(db_err)?;
            let mut out = Vec::new();
            for entry in table
                .range((round, 0)..=(round, u64::MAX))
                .map_err(db_err)?
            {
                let (_, bytes) = entry.map_err(db_err)?;
                let record: AuditRecord = decode("audit entry", bytes.value())?;
                out.push(AuditEntry::try_from(record)?);
            }
            Ok(out)
        })
    }

    async fn put_api_token(&self, token: &ApiToken) -> Result<(), StoreError> {
        let id = token.id.to_string();
        let hash = token.hash.to_hex();
        let record = encode(&ApiTokenRecord::from(token));
        self.write_quiet(move |txn| put_api_token_in(txn, &id, &hash, &record))
            .await
    }

    async fn api_token(&self, hash: &TokenHash) -> Result<Option<ApiToken>, StoreError> {
        let hash = hash.to_hex();
        self.read(|txn| get_record::<ApiTokenRecord, _>(txn, API_TOKENS, "api token", &hash))
    }

    async fn api_tokens(&self) -> Result<Vec<ApiToken>, StoreError> {
        self.read(|txn| {
            let ids = txn.open_table(API_TOKEN_IDS).map_err(db_err)?;
            let tokens = txn.open_table(API_TOKENS).map_err(db_err)?;
            let mut out = Vec::new();
            for entry in ids.iter().map_err(db_err)? {
                let (id, hash) = entry.map_err(db_err)?;
                let bytes = tokens.get(hash.value()).map_err(db_err)?.ok_or_else(|| {
                    StoreError::Corrupt(format!("api token {} has no record", id.value()))
                })?;
                let record: ApiTokenRecord = decode("api token", bytes.value())?;
                out.push(ApiToken::try_from(record)?);
            }
            Ok(out)
        })
    }

    async fn revoke_api_token(&self, id: &TokenId) -> Result<bool, StoreError> {
        let id = id.to_string();
        self.write_quiet(move |txn| revoke_api_token_in(txn, &id))
            .await
    }

    async fn put_link_token(&self, token: &LinkToken) -> Result<(), StoreError> {
        let hash = token.hash.to_hex();
        let record = encode(&LinkTokenRecord::from(token));
        self.write_quiet(move |txn| {
            txn.open_table(LINK_TOKENS)
                .map_err(db_err)?
                .insert(hash.as_str(), record.as_slice())
                .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn link_token(&self, hash: &TokenHash) -> Result<Option<LinkToken>, StoreError> {
        let hash = hash.to_hex();
        self.read(|txn| get_record::<LinkTokenRecord, _>(txn, LINK_TOKENS, "link token", &hash))
    }

    async fn revoke_link_token(&self, hash: &TokenHash) -> Result<bool, StoreError> {
        let hash = hash.to_hex();
        self.write_quiet(move |txn| revoke_link_token_in(txn, &hash))
            .await
    }

    async fn revoke_links_of(&self, binding: &LinkBinding) -> Result<usize, StoreError> {
        let binding = binding.clone();
        self.write_quiet(move |txn| revoke_links_of_in(txn, &binding))
            .await
    }

    async fn put_telegram_code(&self, code: &TelegramLinkCode) -> Result<(), StoreError> {
        let hash = code.hash.to_hex();
        let record = encode(&TelegramCodeRecord::from(code));
        self.write_quiet(move |txn| {
            txn.open_table(TELEGRAM_CODES)
                .map_err(db_err)?
                .insert(hash.as_str(), record.as_slice())
                .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn take_telegram_code(
        &self,
        hash: &TokenHash,
        now: Timestamp,
    ) -> Result<Option<TelegramLinkCode>, StoreError> {
        let hash = hash.to_hex();
        self.write_quiet(move |txn| take_telegram_code_in(txn, &hash, now))
            .await
    }

    async fn mark_update_seen(&self, update_id: i64, now: Timestamp) -> Result<bool, StoreError> {
        let marks = self.update_marks.fetch_add(1, Ordering::Relaxed);
        let prune = marks % PRUNE_UPDATES_EVERY == PRUNE_UPDATES_EVERY - 1;
        let now = now.millis();
        self.write_quiet(move |txn| mark_update_seen_in(txn, update_id, now, prune))
            .await
    }

    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: Timestamp,
        ttl_millis: i64,
    ) -> Result<bool, StoreError> {
        let (name, holder) = (name.to_owned(), holder.to_owned());
        self.write_quiet(move |txn| acquire_lease_in(txn, &name, &holder, now, ttl_millis))
            .await
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<bool, StoreError> {
        let (name, holder) = (name.to_owned(), holder.to_owned());
        self.write_quiet(move |txn| release_lease_in(txn, &name, &holder))
            .await
    }

    async fn claim_reminder(
        &self,
        mark: &ReminderMark,
        max_per_person: u32,
    ) -> Result<ReminderClaim, StoreError> {
        let mark = mark.clone();
        self.write_quiet(move |txn| claim_reminder_in(txn, &mark, max_per_person))
            .await
    }

    async fn release_reminder(
        &self,
        round: &RoundId,
        person: &PersonId,
        day: u32,
    ) -> Result<bool, StoreError> {
        let (round, person) = (round.to_string(), person.to_string());
        self.write_quiet(move |txn| {
            let mut marks = txn.open_table(REMINDER_MARKS).map_err(db_err)?;
            let removed = marks
                .remove((round.as_str(), person.as_str(), day))
                .map_err(db_err)?
                .is_some();
            Ok(removed)
        })
        .await
    }

    async fn reminder_marks(
        &self,
        round: &RoundId,
        person: &PersonId,
    ) -> Result<Vec<ReminderMark>, StoreError> {
        let (round, person) = (round.as_str(), person.as_str());
        self.read(|txn| {
            let marks = txn.open_table(REMINDER_MARKS).map_err(db_err)?;
            let mut out = Vec::new();
            for entry in marks
                .range((round, person, 0)..=(round, person, u32::MAX))
                .map_err(db_err)?
            {
                let (_, bytes) = entry.map_err(db_err)?;
                let record: ReminderMarkRecord = decode("reminder mark", bytes.value())?;
                out.push(ReminderMark::try_from(record)?);
            }
            Ok(out)
        })
    }

    async fn put_activity(&self, activity: &Activity) -> Result<(), StoreError> {
        let round = activity.round.to_string();
        let record = encode(&ActivityRecord::from(activity));
        self.write_quiet(move |txn| {
            txn.open_table(ACTIVITIES)
                .map_err(db_err)?
                .insert(round.as_str(), record.as_slice())
                .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn activity(&self, round: &RoundId) -> Result<Option<Activity>, StoreError> {
        self.read(|txn| {
            get_record::<ActivityRecord, _>(txn, ACTIVITIES, "activity", round.as_str())
        })
    }

    async fn activities(&self) -> Result<Vec<Activity>, StoreError> {
        self.read(|txn| all_records::<ActivityRecord, _>(txn, ACTIVITIES, "activity"))
    }

    async fn put_action(
        &self,
        action: &Action,
        max_priority: u32,
    ) -> Result<ActionWrite, StoreError> {
        let action = action.clone();
        self.write_quiet(move |txn| put_action_in(txn, &action, max_priority))
            .await
    }

    async fn actions(&self, round: &RoundId) -> Result<Vec<Action>, StoreError> {
        self.read(|txn| {
            let table = txn.open_table(ACTIONS).map_err(db_err)?;
            actions_in(&table, round.as_str())
        })
    }

    async fn claim_action_reminder(&self, mark: &ActionReminderMark) -> Result<bool, StoreError> {
        let (round, action, kind) = (
            mark.round.to_string(),
            mark.action.to_string(),
            mark.kind.as_str(),
        );
        let record = encode(&ActionReminderMarkRecord::from(mark));
        self.write_quiet(move |txn| {
            let mut marks = txn.open_table(ACTION_REMINDERS).map_err(db_err)?;
            let key = (round.as_str(), action.as_str(), kind);
            if marks.get(key).map_err(db_err)?.is_some() {
                return Ok(false);
            }
            marks.insert(key, record.as_slice()).map_err(db_err)?;
            Ok(true)
        })
        .await
    }

    async fn release_action_reminder(
        &self,
        round: &RoundId,
        action: &ActionId,
        kind: ActionReminderKind,
    ) -> Result<bool, StoreError> {
        let (round, action) = (round.to_string(), action.to_string());
        self.write_quiet(move |txn| {
            let mut marks = txn.open_table(ACTION_REMINDERS).map_err(db_err)?;
            let removed = marks
                .remove((round.as_str(), action.as_str(), kind.as_str()))
                .map_err(db_err)?
                .is_some();
            Ok(removed)
        })
        .await
    }

    async fn action_reminder_marks(
        &self,
        round: &RoundId,
        action: &ActionId,
    ) -> Result<Vec<ActionReminderMark>, StoreError> {
        let (round, action) = (round.as_str(), action.as_str());
        self.read(|txn| {
            let marks = txn.open_table(ACTION_REMINDERS).map_err(db_err)?;
            let mut out = Vec::new();
            for entry in marks.range((round, action, "")..).map_err(db_err)? {
                let (key, bytes) = entry.map_err(db_err)?;
                let (r, a, _) = key.value();
                if r != round || a != action {
                    break;
                }
                let record: ActionReminderMarkRecord =
                    decode("action reminder mark", bytes.value())?;
                out.push(ActionReminderMark::try_from(record)?);
            }
            Ok(out)
        })
    }

    async fn put_telegram_notice(&self, notice: &TelegramNotice) -> Result<bool, StoreError> {
        let id = notice.id.to_string();
        let record = encode(&TelegramNoticeRecord::new(notice, notice.created_at));
        self.write_quiet(move |txn| {
            let mut table = txn.open_table(TELEGRAM_NOTICES).map_err(db_err)?;
            if table.get(id.as_str()).map_err(db_err)?.is_some() {
                return Ok(false);
            }
            table
                .insert(id.as_str(), record.as_slice())
                .map_err(db_err)?;
            Ok(true)
        })
        .await
    }

    async fn claim_telegram_notices(
        &self,
        now: Timestamp,
        limit: usize,
        hold_millis: i64,
    ) -> Result<Vec<TelegramNotice>, StoreError> {
        self.write_quiet(move |txn| claim_telegram_notices_in(txn, now, limit, hold_millis))
            .await
    }

    async fn ack_telegram_notice(&self, id: &NoticeId) -> Result<bool, StoreError> {
        let id = id.to_string();
        self.write_quiet(move |txn| {
            let mut table = txn.open_table(TELEGRAM_NOTICES).map_err(db_err)?;
            let removed = table.remove(id.as_str()).map_err(db_err)?.is_some();
            Ok(removed)
        })
        .await
    }

    async fn close(&self) -> Result<(), StoreError> {
        let open = self
            .state
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .ok_or(StoreError::Closed)?;
        // Joining the writer waits for its last commit: off the async workers.
        tokio::task::spawn_blocking(move || open.shut_down())
            .await
            .map_err(StoreError::unavailable)?
    }
}

#[cfg(test)]
mod tests {
    use redb::ReadableTableMetadata;

    use super::*;
    use crate::catalogue::InstrumentRef;
    use crate::domain::{
        Actor, AnswerValue, Channel, Command, CommandError, EmailAddress, IdempotencyKey,
        LinkBinding, Respondent, ResponseStatus, Role, RoundStatus, Stage, TokenRole,
        ValidationSubject, Validator,
    };

    fn key(organisation: &str) -> ResponseKey {
        ResponseKey {
            round: RoundId::parse("jiu-rbm-2026").expect("id"),
            organisation: OrganisationId::parse(organisation).expect("id"),
            instrument: InstrumentRef::parse("jiu-rbm-stages@1").expect("ref"),
            respondent: Respondent::Organisation,
        }
    }

    fn question(n: u32) -> QuestionId {
        QuestionId::parse(&format!("1.{n}/stage")).expect("question id")
    }

    fn stage(value: i64) -> AnswerChange {
        AnswerChange::Set(AnswerValue::Stage(Stage::parse(value).expect("stage")))
    }

    fn request(key: &ResponseKey, idem: &str, command: Command, at: i64) -> ResponseRequest {
        ResponseRequest {
            key: key.clone(),
            idempotency_key: IdempotencyKey::parse(idem).expect("key"),
            command,
            expected_seq: None,
            actor: Actor::System,
            channel: Channel::Graphql,
            at: Timestamp::from_millis(at),
        }
    }

    fn answer(key: &ResponseKey, idem: &str, n: u32, value: i64, at: i64) -> ResponseRequest {
        request(
            key,
            idem,
            Command::Answers(vec![(question(n), stage(value))]),
            at,
        )
    }

    fn person(id: &str, chat: Option<i64>) -> Person {
        let mut person = Person::new(
            PersonId::parse(id).expect("id"),
            "Ana Ruiz",
            EmailAddress::parse("ana@example.org").expect("email"),
        )
        .expect("person");
        person.telegram_chat = chat.map(TelegramChatId);
        person
    }

    fn temp_store() -> (tempfile::TempDir, RedbStore) {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = open(&dir.path().join("data/stagewise.redb")).expect("opens");
        (dir, store)
    }

    #[tokio::test]
    async fn only_writes_that_views_read_move_the_generation() {
        let (_dir, store) = temp_store();
        let count = || store.generation().expect("tracked").count;
        let start = count();
        // An update id, as the bot marks every update: views stay.
        assert!(
            store
                .mark_update_seen(7, Timestamp::from_millis(1_700_000_000_000))
                .await
                .expect("marked")
        );
        assert_eq!(count(), start);
        // An organisation: views that show it are stale.
        store
            .put_organisation(
                &Organisation::new(OrganisationId::parse("ilo").expect("id"), "ILO", None)
                    .expect("organisation"),
            )
            .await
            .expect("stored");
        assert_eq!(count(), start + 1);
    }

    #[test]
    fn a_batch_keeps_the_response_tables_open_between_writes_and_closes_them_for_others() {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = Database::create(dir.path().join("batch.redb")).expect("created");
        create_tables(&db).expect("tables");
        let key = key("unicef");
        let (first, second) = (answer(&key, "k1", 1, 3, 10), answer(&key, "k2", 2, 4, 20));
        let txn = db.begin_write().expect("transaction");
        {
            let mut batch = BatchTxn::new(&txn);
            let (txn, tables) = batch.responses().expect("opened");
            execute_in(txn, tables, &first, &fingerprint(&first)).expect("recorded");
            // Another operation may open a table the writes use (redb refuses a table
            // opened twice), and sees what the writes before it wrote.
            let events = batch.txn().open_table(EVENTS).expect("opened once only");
            assert_eq!(events.len().expect("counted"), 1);
            drop(events);
            let (txn, tables) = batch.responses().expect("opened again");
            let receipt =
                execute_in(txn, tables, &second, &fingerprint(&second)).expect("recorded");
            assert_eq!(receipt.events[0].seq, 2, "planned on the first write");
        }
        txn.commit().expect("committed");
        let read = db.begin_read().expect("read");
        let events = read.open_table(EVENTS).expect("events");
        assert_eq!(events.len().expect("counted"), 2);
        let answers = read.open_table(ANSWERS).expect("answers");
        assert_eq!(answers.len().expect("counted"), 2);
    }

    #[tokio::test]
    async fn execute_replays_refuses_and_conflicts() {
        let (_dir, store) = temp_store();
        let key = key("unicef");
        let first = store
            .execute(&answer(&key, "k1", 1, 3, 10))
            .await
            .expect("executes");
        assert!(!first.replayed);
        assert_eq!(first.events.len(), 1);
        assert_eq!(first.events[0].seq, 1);

        // The same request later (another time) replays the first receipt.
        let again = store
            .execute(&answer(&key, "k1", 1, 3, 99))
            .await
            .expect("replays");
        assert!(again.replayed);
        assert_eq!(again.events, first.events);

        // The same key for another request conflicts and writes nothing.
        let conflict = store.execute(&answer(&key, "k1", 1, 4, 11)).await;
        assert!(matches!(conflict, Err(StoreError::IdempotencyConflict)));
        assert_eq!(store.history(&key).await.expect("history").len(), 1);

        let submitted = store
            .execute(&request(&key, "k2", Command::Submit, 12))
            .await
            .expect("submits");
        assert_eq!(submitted.events[0].seq, 2);

        // A refused command writes nothing, not even its idempotency key.
        let refused = store.execute(&answer(&key, "k3", 2, 5, 13)).await;
        assert!(matches!(
            refused,
            Err(StoreError::Refused(CommandError::Submitted))
        ));
        let response = store.response(&key).await.expect("reads").expect("exists");
        assert_eq!(response.meta.last_seq, 2);
        assert_eq!(response.meta.status, ResponseStatus::Submitted);
        assert_eq!(response.updated_at, Some(Timestamp::from_millis(12)));
        store
            .execute(&request(
                &key,
                "k4",
                Command::Reopen {
                    reason: "typo".into(),
                },
                14,
            ))
            .await
            .expect("reopens");
        let retried = store
            .execute(&answer(&key, "k3", 2, 5, 15))
            .await
            .expect("the refused key was not recorded");
        assert!(!retried.replayed);
        assert_eq!(retried.events[0].seq, 4);

        // A stale expected seq is refused.
        let mut stale = answer(&key, "k5", 1, 1, 16);
        stale.expected_seq = Some(1);
        assert!(matches!(
            store.execute(&stale).await,
            Err(StoreError::Refused(CommandError::Stale {
                expected: 1,
                actual: 4
            }))
        ));
        assert_eq!(store.history(&key).await.expect("history").len(), 4);
        assert_eq!(
            store.response(&self::key("unhcr")).await.expect("reads"),
            None
        );
    }

    #[tokio::test]
    async fn history_folds_to_the_stored_response() {
        let (_dir, store) = temp_store();
        let key = key("unicef");
        let requests = [
            request(
                &key,
                "a",
                Command::Answers(vec![
                    (question(1), stage(2)),
                    (question(2), stage(3)),
                    (question(3), stage(4)),
                ]),
                1,
            ),
            request(
                &key,
                "b",
                Command::Answers(vec![
                    (question(2), AnswerChange::Clear),
                    (question(1), stage(5)),
                ]),
                2,
            ),
            request(&key, "c", Command::Submit, 3),
            request(
                &key,
                "d",
                Command::Reopen {
                    reason: "more evidence".into(),
                },
                4,
            ),
            request(
                &key,
                "e",
                Command::Answers(vec![(question(3), AnswerChange::Clear)]),
                5,
            ),
        ];
        for request in &requests {
            store.execute(request).await.expect("executes");
        }
        let history = store.history(&key).await.expect("history");
        assert_eq!(
            history.iter().map(|e| e.seq).collect::<Vec<_>>(),
            (1..=8).collect::<Vec<_>>()
        );
        let stored = store.response(&key).await.expect("reads").expect("exists");
        assert_eq!(Response::replay(key.clone(), &history), stored);
        assert_eq!(stored.answers.len(), 1);
        assert_eq!(stored.meta.status, ResponseStatus::Draft);
        assert_eq!(store.responses(&key.round).await.expect("lists"), vec![key]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_requests_are_all_recorded_without_gaps() {
        let (_dir, store) = temp_store();
        let store = Arc::new(store);
        let key = key("unicef");
        let other = self::key("unhcr");
        let mut tasks = Vec::new();
        for n in 0..64u32 {
            let store = Arc::clone(&store);
            let key = if n % 4 == 0 {
                other.clone()
            } else {
                key.clone()
            };
            tasks.push(tokio::spawn(async move {
                store
                    .execute(&answer(&key, &format!("k{n}"), n, 1 + i64::from(n % 5), 1))
                    .await
            }));
        }
        for task in tasks {
            let receipt = task.await.expect("joins").expect("executes");
            assert!(!receipt.replayed);
        }
        for (key, count) in [(&key, 48u64), (&other, 16)] {
            let history = store.history(key).await.expect("history");
            assert_eq!(
                history.iter().map(|e| e.seq).collect::<Vec<_>>(),
                (1..=count).collect::<Vec<_>>()
            );
            let stored = store.response(key).await.expect("reads").expect("exists");
            assert_eq!(Response::replay(key.clone(), &history), stored);
        }
        // Ordered by id: "unhcr" before "unicef".
        assert_eq!(
            store.responses(&key.round).await.expect("lists"),
            vec![other, key]
        );
    }

    /// Copies the database (and, when `with_journal`, its journal) as they are on disk
    /// now, into `to`: what a crash of the process at this moment would leave.
    fn crash_copy(path: &Path, to: &Path, with_journal: bool) -> PathBuf {
        std::fs::create_dir_all(to).expect("creates the copy's folder");
        let copy = to.join("stagewise.redb");
        std::fs::copy(path, &copy).expect("copies the database");
        if with_journal {
            std::fs::copy(journal_path(path), journal_path(&copy)).expect("copies the journal");
        }
        copy
    }

    /// Bytes of the entries the journal file holds (the file may be longer: emptying it
    /// leaves the old entries to be written over).
    fn journal_len(path: &Path) -> u64 {
        let path = journal_path(path);
        assert!(path.exists(), "the journal exists");
        Journal::open(&path).expect("reads the journal").0.len()
    }

    #[tokio::test]
    async fn journaled_writes_survive_a_crash_and_are_applied_once() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("live/stagewise.redb");
        // No checkpoint while the test runs: redb alone holds only the durable commits.
        let store = open_with(&path, Duration::from_secs(3600)).expect("opens");
        let organisation =
            Organisation::new(key("unicef").organisation, "UNICEF", None).expect("organisation");
        // A durable batch (not an `execute`) before the journaled ones.
        store
            .put_organisation(&organisation)
            .await
            .expect("puts organisation");
        let keys = [key("unicef"), key("unfpa")];
        for n in 1..=6 {
            for key in &keys {
                store
                    .execute(&answer(key, &format!("k{n}"), n, i64::from(n % 5 + 1), 10))
                    .await
                    .expect("executes");
            }
        }
        // Several requests in one batch, a replay and a refusal among them.
        let concurrent = (7..=12).map(|n| {
            let store = &store;
            let key = keys[0].clone();
            async move {
                store
                    .execute(&answer(&key, &format!("k{n}"), n, 2, 20))
                    .await
            }
        });
        for outcome in futures_util::future::join_all(concurrent).await {
            outcome.expect("executes");
        }
        assert!(
            store
                .execute(&answer(&keys[0], "k1", 1, 2, 30))
                .await
                .expect("replays")
                .replayed
        );
        store
            .execute(&request(&keys[1], "submit", Command::Submit, 40))
            .await
            .expect("submits");
        assert!(matches!(
            store
                .execute(&request(&keys[1], "again", Command::Submit, 41))
                .await,
            Err(StoreError::Refused(CommandError::AlreadySubmitted))
        ));
        let histories = [
            store.history(&keys[0]).await.expect("history"),
            store.history(&keys[1]).await.expect("history"),
        ];
        assert_eq!(histories[0].len(), 12);
        assert_eq!(histories[1].len(), 7);
        assert!(journal_len(&path) > 0, "the answers are in the journal");

        let bare = crash_copy(&path, &dir.path().join("bare"), false);
        let crashed = crash_copy(&path, &dir.path().join("crashed"), true);
        drop(store);

        // Without the journal, redb holds only its durable commits: the journal, not a
        // durable commit, is what brings the answers back below.
        {
            let store = open(&bare).expect("opens the bare copy");
            assert_eq!(
                store.organisations().await.expect("lists"),
                vec![organisation.clone()]
            );
            assert!(store.history(&keys[0]).await.expect("history").is_empty());
            store.close().await.expect("closes");
        }
        let store = open(&crashed).expect("opens after the crash");
        assert_eq!(journal_len(&crashed), 0, "replayed and emptied");
        for (key, history) in keys.iter().zip(&histories) {
            assert_eq!(&store.history(key).await.expect("history"), history);
        }
        let submitted = store.response(&keys[1]).await.expect("reads");
        assert_eq!(
            submitted.expect("exists").meta.status,
            ResponseStatus::Submitted
        );
        // Acknowledged requests are known by their keys; new ones go on after them.
        let again = store
            .execute(&answer(&keys[0], "k12", 12, 2, 20))
            .await
            .expect("replays");
        assert!(again.replayed);
        let next = store
            .execute(&answer(&keys[0], "after", 1, 5, 50))
            .await
            .expect("executes after the replay");
        assert_eq!(next.events[0].seq, 13);
        store.close().await.expect("closes");

        // Opening again applies nothing twice.
        let store = open(&crashed).expect("reopens");
        let mut grown = histories[0].clone();
        grown.extend(next.events);
        assert_eq!(store.history(&keys[0]).await.expect("history"), grown);
        assert_eq!(
            store.history(&keys[1]).await.expect("history"),
            histories[1]
        );
    }

    #[tokio::test]
    async fn a_checkpoint_leaves_redb_alone_holding_journaled_writes() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("stagewise.redb");
        let store = open_with(&path, Duration::from_millis(50)).expect("opens");
        let key = key("unicef");
        for n in 1..=3 {
            store
                .execute(&answer(&key, &format!("k{n}"), n, 3, 5))
                .await
                .expect("executes");
        }
        // The idle writer checkpoints within the interval and empties the journal.
        let deadline = Instant::now() + Duration::from_secs(10);
        while journal_len(&path) > 0 {
            assert!(Instant::now() < deadline, "no checkpoint within 10 s");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let bare = crash_copy(&path, &dir.path().join("bare"), false);
        let copy = open(&bare).expect("opens the copy");
        assert_eq!(copy.history(&key).await.expect("history").len(), 3);
        copy.close().await.expect("closes");

        // Closing checkpoints too.
        store
            .execute(&answer(&key, "k4", 4, 3, 5))
            .await
            .expect("executes");
        store.close().await.expect("closes");
        assert_eq!(journal_len(&path), 0);
        let bare = crash_copy(&path, &dir.path().join("closed"), false);
        let copy = open(&bare).expect("opens the copy");
        assert_eq!(copy.history(&key).await.expect("history").len(), 4);
    }

    #[tokio::test]
    async fn a_journal_that_skips_entries_is_refused_and_left_for_inspection() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("stagewise.redb");
        open(&path).expect("creates").close().await.expect("closes");
        let (mut journal, _) = Journal::open(&journal_path(&path)).expect("opens the journal");
        // The database has applied no entry, so the journal must start at 1.
        journal.append(3, b"[]").expect("appends");
        drop(journal);
        let before = journal_len(&path);
        match open(&path) {
            Err(StoreError::Corrupt(message)) => {
                assert!(message.contains("entry 3"), "{message}");
            }
            other => panic!("expected a corrupt journal, got {other:?}"),
        }
        assert_eq!(journal_len(&path), before, "the journal is left as it was");
    }

    /// A batch of one operation that only reports how it was answered.
    struct Probe {
        id: u32,
        answers: mpsc::Sender<(u32, bool)>,
    }

    impl Operation for Probe {
        fn run(&mut self, _batch: &mut BatchTxn<'_>) -> bool {
            true
        }

        fn reply(self: Box<Self>, failure: Option<&BatchFailed>) {
            let _ = self.answers.send((self.id, failure.is_none()));
        }
    }

    fn group(id: u32, appended: bool, answers: &mpsc::Sender<(u32, bool)>) -> Group {
        Group {
            jobs: vec![Box::new(Probe {
                id,
                answers: answers.clone(),
            })],
            appended,
        }
    }

    #[test]
    fn the_syncer_answers_in_order_only_after_a_sync_that_covers_each_batch() {
        let (started, syncs) = mpsc::channel();
        let (release, gate) = mpsc::channel::<()>();
        let syncer = SyncerHandle::start(Box::new(move || {
            let _ = started.send(());
            gate.recv().map_err(std::io::Error::other)
        }))
        .expect("starts");
        let (answers, answered) = mpsc::channel();
        // Long enough to see an early answer; what must come may take longer.
        let wait = Duration::from_millis(200);
        let arrive = Duration::from_secs(5);
        syncer.groups.send(group(1, true, &answers)).expect("sent");
        syncs.recv_timeout(arrive).expect("syncs");
        // While the disk syncs batch 1, the writer goes on: batch 2 wrote nothing but
        // may rest on batch 1, batch 3 appended an entry.
        syncer.groups.send(group(2, false, &answers)).expect("sent");
        syncer.groups.send(group(3, true, &answers)).expect("sent");
        assert!(
            answered.recv_timeout(wait).is_err(),
            "answered before the sync"
        );
        release.send(()).expect("released");
        assert_eq!(answered.recv_timeout(arrive), Ok((1, true)));
        // One sync for batches 2 and 3, started after both were written.
        syncs.recv_timeout(arrive).expect("syncs again");
        assert!(
            answered.recv_timeout(wait).is_err(),
            "answered before the sync"
        );
        release.send(()).expect("released");
        assert_eq!(answered.recv_timeout(arrive), Ok((2, true)));
        assert_eq!(answered.recv_timeout(arrive), Ok((3, true)));
        // A batch that wrote nothing, with nothing before it waiting, needs no sync.
        syncer.groups.send(group(4, false, &answers)).expect("sent");
        assert_eq!(answered.recv_timeout(arrive), Ok((4, true)));
        assert!(syncs.try_recv().is_err(), "synced with nothing to sync");
        syncer.stop();
    }

    #[test]
    fn after_a_failed_sync_the_syncer_answers_nothing_as_durable() {
        let mut calls = 0;
        let syncer = SyncerHandle::start(Box::new(move || {
            calls += 1;
            if calls == 1 {
                Err(std::io::Error::other("the disk failed"))
            } else {
                Ok(())
            }
        }))
        .expect("starts");
        let (answers, answered) = mpsc::channel();
        let wait = Duration::from_secs(5);
        syncer.groups.send(group(1, true, &answers)).expect("sent");
        assert_eq!(answered.recv_timeout(wait), Ok((1, false)));
        assert!(syncer.broken.load(Ordering::Acquire));
        // A later sync would succeed, but the entry before it may be lost.
        syncer.groups.send(group(2, true, &answers)).expect("sent");
        syncer.groups.send(group(3, false, &answers)).expect("sent");
        assert_eq!(answered.recv_timeout(wait), Ok((2, false)));
        assert_eq!(answered.recv_timeout(wait), Ok((3, false)));
        syncer.stop();
    }

    #[tokio::test]
    async fn a_replay_is_answered_only_once_the_write_it_replays_is_synced() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("stagewise.redb");
        let (started, syncs) = mpsc::channel();
        let (release, gate) = mpsc::channel::<()>();
        let store = open_syncing_with(&path, Duration::from_secs(3600), move |file| {
            Box::new(move || {
                let _ = started.send(());
                gate.recv().map_err(std::io::Error::other)?;
                file.sync_data()
            })
        })
        .expect("opens");
        let store = Arc::new(store);
        let request = answer(&key("unicef"), "k1", 1, 3, 5);
        let execute = |store: &Arc<RedbStore>| {
            let (store, request) = (Arc::clone(store), request.clone());
            tokio::spawn(async move { store.execute(&request).await })
        };
        let write = execute(&store);
        tokio::task::spawn_blocking(move || syncs.recv_timeout(Duration::from_secs(5)))
            .await
            .expect("waits")
            .expect("the write's entry is being synced");
        // The same request again: the writer finds it applied, in a batch that writes
        // nothing, while the disk still syncs the entry that holds it.
        let replay = execute(&store);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(
            !write.is_finished(),
            "the write was answered before its sync"
        );
        assert!(
            !replay.is_finished(),
            "the replay was answered before the sync"
        );
        release.send(()).expect("released");
        let written = write.await.expect("joins").expect("executes");
        let replayed = replay.await.expect("joins").expect("replays");
        assert!(!written.replayed);
        assert!(replayed.replayed);
        assert_eq!(replayed.events, written.events);
        store.close().await.expect("closes");
    }

    #[tokio::test]
    async fn after_a_failed_sync_writes_commit_durably_and_the_failed_one_is_kept() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("stagewise.redb");
        let store = open_syncing_with(&path, Duration::from_secs(3600), |file| {
            let mut calls = 0;
            Box::new(move || {
                calls += 1;
                if calls == 1 {
                    Err(std::io::Error::other("the disk failed"))
                } else {
                    file.sync_data()
                }
            })
        })
        .expect("opens");
        let key = key("unicef");
        let first = answer(&key, "k1", 1, 3, 5);
        assert!(matches!(
            store.execute(&first).await,
            Err(StoreError::Unavailable(_))
        ));
        // The writer now commits durably, without the journal.
        let second = store
            .execute(&answer(&key, "k2", 2, 4, 6))
            .await
            .expect("executes after the failed sync");
        assert_eq!(second.events[0].seq, 2, "the first request was kept");
        assert_eq!(journal_len(&path), 0);
        // Its retry under the same key replays what was kept.
        assert!(store.execute(&first).await.expect("replays").replayed);
        // Both are in redb's durable commits: the journal is not needed to bring them back.
        let bare = crash_copy(&path, &dir.path().join("bare"), false);
        let copy = open(&bare).expect("opens the copy");
        assert_eq!(copy.history(&key).await.expect("history").len(), 2);
        copy.close().await.expect("closes");
        store.close().await.expect("closes");
    }

    #[tokio::test]
    async fn data_survives_close_and_reopen() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("nested/folder/stagewise.redb");
        let key = key("unicef");
        let organisation =
            Organisation::new(key.organisation.clone(), "UNICEF", None).expect("organisation");
        {
            let store = open(&path).expect("opens");
            store
                .put_organisation(&organisation)
                .await
                .expect("puts organisation");
            store
                .execute(&answer(&key, "k1", 1, 3, 5))
                .await
                .expect("executes");
            store.close().await.expect("closes");
            assert!(matches!(store.ping().await, Err(StoreError::Closed)));
            assert!(matches!(
                store.organisations().await,
                Err(StoreError::Closed)
            ));
            assert!(matches!(
                store.execute(&answer(&key, "k2", 1, 4, 6)).await,
                Err(StoreError::Closed)
            ));
            assert!(matches!(store.close().await, Err(StoreError::Closed)));
        }
        let store = open(&path).expect("reopens");
        store.ping().await.expect("answers");
        assert_eq!(
            store.organisations().await.expect("lists"),
            vec![organisation]
        );
        assert_eq!(store.history(&key).await.expect("history").len(), 1);
        let replay = store
            .execute(&answer(&key, "k1", 1, 3, 7))
            .await
            .expect("replays after reopening");
        assert!(replay.replayed);
        // Dropped without `close`: the drop closes it, so it opens again.
        drop(store);
        open(&path).expect("reopens after a drop");
    }

    #[tokio::test]
    async fn a_chat_belongs_to_one_person() {
        let (_dir, store) = temp_store();
        store
            .put_person(&person("ana", Some(7)))
            .await
            .expect("puts");
        store
            .put_person(&person("ben", Some(7)))
            .await
            .expect("puts");
        let ana = PersonId::parse("ana").expect("id");
        let ben = PersonId::parse("ben").expect("id");
        assert_eq!(
            store
                .person(&ana)
                .await
                .expect("reads")
                .map(|p| p.telegram_chat),
            Some(None)
        );
        assert_eq!(
            store
                .person_by_chat(TelegramChatId(7))
                .await
                .expect("reads")
                .map(|p| p.id),
            Some(ben.clone())
        );

        // Moving to another chat frees the old one.
        store
            .put_person(&person("ben", Some(8)))
            .await
            .expect("puts");
        assert_eq!(
            store
                .person_by_chat(TelegramChatId(7))
                .await
                .expect("reads"),
            None
        );
        assert_eq!(
            store
                .person_by_chat(TelegramChatId(8))
                .await
                .expect("reads")
                .map(|p| p.id),
            Some(ben.clone())
        );
        // Unlinking frees it too; re-putting a person keeps its own chat.
        store
            .put_person(&person("ana", Some(9)))
            .await
            .expect("puts");
        store
            .put_person(&person("ana", Some(9)))
            .await
            .expect("puts");
        store.put_person(&person("ben", None)).await.expect("puts");
        assert_eq!(
            store
                .person_by_chat(TelegramChatId(8))
                .await
                .expect("reads"),
            None
        );
        assert_eq!(
            store
                .person_by_chat(TelegramChatId(9))
                .await
                .expect("reads")
                .map(|p| p.id),
            Some(ana)
        );
        assert_eq!(
            store
                .persons()
                .await
                .expect("lists")
                .into_iter()
                .map(|p| p.id.to_string())
                .collect::<Vec<_>>(),
            ["ana", "ben"]
        );
    }

    #[tokio::test]
    async fn updates_are_remembered_for_the_memory_window() {
        let (_dir, store) = temp_store();
        let t0 = Timestamp::from_millis(1_000);
        assert!(store.mark_update_seen(1, t0).await.expect("marks"));
        assert!(!store.mark_update_seen(1, t0).await.expect("marks"));
        let within = t0.plus_millis(UPDATE_MEMORY_MILLIS);
        assert!(!store.mark_update_seen(1, within).await.expect("marks"));
        let after = t0.plus_millis(UPDATE_MEMORY_MILLIS + 1);
        assert!(store.mark_update_seen(1, after).await.expect("marks"));
        assert!(!store.mark_update_seen(1, after).await.expect("marks"));

        // Old entries are pruned every `PRUNE_UPDATES_EVERY` calls.
        let count = |store: &RedbStore| {
            store
                .read(|txn| {
                    txn.open_table(TELEGRAM_UPDATES)
                        .map_err(db_err)?
                        .len()
                        .map_err(db_err)
                })
                .expect("counts")
        };
        for id in 100..120 {
            assert!(store.mark_update_seen(id, t0).await.expect("marks"));
        }
        assert_eq!(count(&store), 21);
        // The next call is the one that prunes.
        store
            .update_marks
            .store(PRUNE_UPDATES_EVERY - 1, Ordering::Relaxed);
        assert!(store.mark_update_seen(500, after).await.expect("marks"));
        // Kept: update 1 (seen at `after`) and 500; the twenty seen at `t0` are forgotten.
        assert_eq!(count(&store), 2);
        assert!(!store.mark_update_seen(1, after).await.expect("marks"));
    }

    #[tokio::test]
    async fn catalogue_tables_round_trip() {
        let (_dir, store) = temp_store();
        let round_id = RoundId::parse("jiu-rbm-2026").expect("id");
        let org = OrganisationId::parse("unicef").expect("id");
        let round = Round {
            id: round_id.clone(),
            title: "JIU RBM 2026".into(),
            instruments: vec![InstrumentRef::parse("jiu-rbm-stages@1").expect("ref")],
            organisations: vec![org.clone()],
            deadline: Some(Timestamp::from_millis(5)),
            status: RoundStatus::Open,
        };
        store.put_round(&round).await.expect("puts");
        assert_eq!(
            store.round(&round_id).await.expect("reads"),
            Some(round.clone())
        );
        assert_eq!(store.rounds().await.expect("lists"), vec![round]);

        let assignment = |org: &str, person: &str, role: Role| Assignment {
            round: round_id.clone(),
            organisation: OrganisationId::parse(org).expect("id"),
            person: PersonId::parse(person).expect("id"),
            role,
        };
        let senior = |areas: &[&str]| Role::SeniorManager {
            outcome_areas: areas.iter().map(|a| (*a).to_owned()).collect(),
        };
        store
            .put_assignment(&assignment("unicef", "ana", senior(&["a"])))
            .await
            .expect("puts");
        store
            .put_assignment(&assignment("unicef", "ana", senior(&["a", "b"])))
            .await
            .expect("replaces");
        store
            .put_assignment(&assignment("un", "ben", Role::FocalPoint))
            .await
            .expect("puts");
        store
            .put_assignment(&assignment("un-women", "ben", Role::FocalPoint))
            .await
            .expect("puts");
        let listed = store.assignments(&round_id).await.expect("lists");
        assert_eq!(
            listed,
            vec![
                assignment("un", "ben", Role::FocalPoint),
                assignment("un-women", "ben", Role::FocalPoint),
                assignment("unicef", "ana", senior(&["a", "b"])),
            ]
        );
        assert!(
            store
                .remove_assignment(&assignment("un", "ben", Role::FocalPoint))
                .await
                .expect("removes")
        );
        assert!(
            !store
                .remove_assignment(&assignment("un", "ben", Role::FocalPoint))
                .await
                .expect("removes")
        );
        let other_round = RoundId::parse("jiu-rbm-2027").expect("id");
        assert!(
            store
                .assignments(&other_round)
                .await
                .expect("lists")
                .is_empty()
        );

        let validation = |note: &str, at: i64| ValidationRecord {
            round: round_id.clone(),
            organisation: org.clone(),
            subject: ValidationSubject::Component {
                component: "1.1".into(),
                stage: Stage::parse(3).expect("stage"),
                evidence_reviewed: Vec::new(),
            },
            note: note.into(),
            validator: Validator {
                actor: Actor::Token(TokenId::parse("val").expect("id")),
                label: "val".into(),
            },
            at: Timestamp::from_millis(at),
        };
        for (n, note) in ["first", "second", "third"].iter().enumerate() {
            store
                .add_validation(&validation(note, 10 - i64::try_from(n).expect("small")))
                .await
                .expect("adds");
        }
        assert_eq!(
            store
                .validations(&round_id, &org)
                .await
                .expect("lists")
                .iter()
                .map(|v| v.note.as_str())
                .collect::<Vec<_>>(),
            ["first", "second", "third"]
        );
        assert!(
            store
                .validations(&round_id, &OrganisationId::parse("unhcr").expect("id"))
                .await
                .expect("lists")
                .is_empty()
        );
    }

    #[tokio::test]
    async fn tokens_are_found_by_hash_and_revoked() {
        let (_dir, store) = temp_store();
        let token = |id: &str, secret: &str| ApiToken {
            id: TokenId::parse(id).expect("id"),
            hash: TokenHash::of(secret),
            role: TokenRole::Admin,
            label: "ops".into(),
            created_at: Timestamp::from_millis(1),
            revoked: false,
        };
        store.put_api_token(&token("b", "s1")).await.expect("puts");
        store.put_api_token(&token("a", "s2")).await.expect("puts");
        assert_eq!(
            store.api_token(&TokenHash::of("s1")).await.expect("reads"),
            Some(token("b", "s1"))
        );
        // A new secret for an id replaces the old one.
        store.put_api_token(&token("b", "s3")).await.expect("puts");
        assert_eq!(
            store.api_token(&TokenHash::of("s1")).await.expect("reads"),
            None
        );
        assert_eq!(
            store.api_tokens().await.expect("lists"),
            vec![token("a", "s2"), token("b", "s3")]
        );
        let b = TokenId::parse("b").expect("id");
        assert!(store.revoke_api_token(&b).await.expect("revokes"));
        assert!(
            !store
                .revoke_api_token(&TokenId::parse("zz").expect("id"))
                .await
                .expect("revokes")
        );
        let revoked = store
            .api_token(&TokenHash::of("s3"))
            .await
            .expect("reads")
            .expect("kept");
        assert!(revoked.revoked);

        let link = LinkToken {
            hash: TokenHash::of("link"),
            binding: LinkBinding {
                response: key("unicef"),
                person: PersonId::parse("ana").expect("id"),
            },
            expires_at: Timestamp::from_millis(100),
            revoked: false,
            created_at: Timestamp::from_millis(1),
        };
        store.put_link_token(&link).await.expect("puts");
        assert_eq!(
            store.link_token(&link.hash).await.expect("reads"),
            Some(link.clone())
        );
        assert!(store.revoke_link_token(&link.hash).await.expect("revokes"));
        assert!(
            !store
                .revoke_link_token(&TokenHash::of("other"))
                .await
                .expect("revokes")
        );
        assert!(
            store
                .link_token(&link.hash)
                .await
                .expect("reads")
                .expect("kept")
                .revoked
        );
    }
}
