//! Reminders before a round's deadline, from one place: this scheduler.
//!
//! Every `[reminders] check_interval_secs` each server instance runs [`Reminders::tick`].
//! A tick takes the store's lease [`LEASE`] (so one instance at a time does the work),
//! and for every open round with a deadline whose reminder day is due
//! ([`crate::domain::reminders::due_day`]) it reminds each assigned person who has a
//! response that is not submitted: one email listing those responses, each with a fresh
//! personal link, and for a person whose Telegram chat is linked also a notice queued
//! for the bot ([`claim_notices`], [`ack_notice`]).
//!
//! Each (round, person, day) is sent at most once, whichever instance sends it: the
//! instance first claims the day's mark in the store ([`Store::claim_reminder`], atomic
//! with the per-person limit), then sends; when the mail fails it revokes the links it
//! made and releases the mark, so a later tick tries again. A crash between the claim
//! and the send loses that day's reminder rather than ever sending it twice (see
//! ARCHITECTURE.md, "Reminders"). The lease only saves work: the marks alone keep two
//! instances that tick at once from sending twice.

use std::collections::HashMap;

use serde_json::json;

use crate::app::AppState;
use crate::catalogue::Catalogue;
use crate::config::{RemindersSettings, TelegramSettings};
use crate::domain::reminders::due_day;
use crate::domain::{
    LinkBinding, NoticeId, Person, PersonId, ReminderClaim, ReminderMark, ResponseKey, Round,
    RoundId, RoundStatus, TelegramChatId, TelegramNotice, Timestamp, TokenHash,
};
use crate::email::{Email, MailError, Mailer};
use crate::service::links::{self, LinkError};
use crate::service::progress::{self, ProgressStatus, ResponseProgress};
use crate::service::telegram::{self, TelegramError};
use crate::store::{Store, StoreError};

/// The lease a tick holds while it works.
pub const LEASE: &str = "reminders";

/// How long a claimed Telegram notice stays hidden from other claims: the bot
/// acknowledges it after sending; one it never acknowledges is delivered again after
/// this.
pub const NOTICE_HOLD_MILLIS: i64 = 5 * 60 * 1000;

/// The most notices the bot may claim at once.
pub const MAX_NOTICE_CLAIM: usize = 100;

/// Why a tick or a notice request failed.
#[derive(Debug, thiserror::Error)]
pub enum ReminderError {
    /// A personal link could not be made.
    #[error(transparent)]
    Link(#[from] LinkError),
    /// A Telegram linking code could not be made.
    #[error(transparent)]
    Telegram(#[from] TelegramError),
    /// A malformed notice id or claim size.
    #[error("{0}")]
    BadInput(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One reminder a tick dealt with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reminded {
    /// The round.
    pub round: RoundId,
    /// The person.
    pub person: PersonId,
    /// Days before the deadline.
    pub day: u32,
    /// The open responses it named.
    pub responses: Vec<ResponseKey>,
}

/// What one tick did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TickReport {
    /// Whether this instance held the lease (else it did nothing).
    pub leased: bool,
    /// Reminders emailed.
    pub sent: Vec<Reminded>,
    /// Reminders whose email failed (their marks released, to be tried again).
    pub failed: Vec<Reminded>,
    /// Telegram notices queued for the bot.
    pub notices: usize,
    /// Reminders of follow-up actions emailed to their owners.
    pub actions: Vec<crate::service::learning::ActionReminded>,
    /// Action reminders whose email failed (their marks released).
    pub actions_failed: Vec<crate::service::learning::ActionReminded>,
}

/// What a tick needs; [`Reminders::of`] takes it from the server's state, tests may
/// put their own parts in.
#[derive(Clone, Copy)]
pub struct Reminders<'a> {
    /// Where rounds, people, marks and notices are.
    pub store: &'a dyn Store,
    /// The instruments (titles, required questions).
    pub catalogue: &'a Catalogue,
    /// Outgoing email.
    pub mailer: &'a Mailer,
    /// `[reminders]`.
    pub settings: &'a RemindersSettings,
    /// `[telegram]` (deep links for people whose chat is not linked).
    pub telegram: &'a TelegramSettings,
    /// Links are built from it.
    pub public_base_url: &'a str,
    /// This server instance, as the lease and the marks name it.
    pub holder: &'a str,
}

impl std::fmt::Debug for Reminders<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reminders")
            .field("holder", &self.holder)
            .finish_non_exhaustive()
    }
}

impl<'a> Reminders<'a> {
    /// The parts of the running server.
    pub fn of(state: &'a AppState) -> Self {
        let settings = &state.settings.settings;
        Self {
            store: state.store.as_ref(),
            catalogue: &state.catalogue,
            mailer: &state.mailer,
            settings: &settings.reminders,
            telegram: &settings.telegram,
            public_base_url: &settings.server.public_base_url,
            holder: &state.instance,
        }
    }

    /// Sends the reminders due at `now`, if this instance gets the lease.
    ///
    /// # Errors
    /// The store's failure, or a link that cannot be made; the lease is given up either
    /// way. A failed email is not an error: it is in [`TickReport::failed`].
    pub async fn tick(&self, now: Timestamp) -> Result<TickReport, ReminderError> {
        // A tick normally ends long before; if it does not, another instance may start
        // one, and the marks still keep each reminder single.
        let ttl = i64::try_from(self.settings.check_interval_secs.max(60))
            .unwrap_or(i64::MAX)
            .saturating_mul(1000);
        if !self
            .store
            .acquire_lease(LEASE, self.holder, now, ttl)
            .await?
        {
            return Ok(TickReport::default());
        }
        let outcome = self.remind_all(now).await;
        if let Err(error) = self.store.release_lease(LEASE, self.holder).await {
            tracing::warn!(%error, "the reminder lease could not be released; it runs out by itself");
        }
        let mut report = outcome?;
        report.leased = true;
        Ok(report)
    }

    async fn remind_all(&self, now: Timestamp) -> Result<TickReport, ReminderError> {
        let mut report = TickReport::default();
        for round in self.store.rounds().await? {
            let Some(deadline) = round.deadline else {
                continue;
            };
            if round.status != RoundStatus::Open {
                continue;
            }
            let Some(day) = due_day(deadline, now, &self.settings.days_before) else {
                continue;
            };
            self.remind_round(&round, deadline, day, now, &mut report)
                .await?;
        }
        let (sent, failed) = crate::service::learning::remind_actions(
            self.store,
            self.mailer,
            self.holder,
            self.settings.action_days_before,
            now,
        )
        .await?;
        report.actions = sent;
        report.actions_failed = failed;
        Ok(report)
    }

    async fn remind_round(
        &self,
        round: &Round,
        deadline: Timestamp,
        day: u32,
        now: Timestamp,
        report: &mut TickReport,
    ) -> Result<(), ReminderError> {
        let progress = progress::load(self.store, self.catalogue, round).await?;
        let mut organisation_names = HashMap::new();
        for person_progress in progress.people {
            let open: Vec<ResponseProgress> = person_progress
                .responses
                .into_iter()
                .filter(|r| r.status != ProgressStatus::Submitted)
                .collect();
            if open.is_empty() {
                continue;
            }
            let Some(person) = self.store.person(&person_progress.person).await? else {
                continue;
            };
            let mark = ReminderMark {
                round: round.id.clone(),
                person: person.id.clone(),
                day,
                claimed_at: now,
                holder: self.holder.to_owned(),
            };
            match self
                .store
                .claim_reminder(&mark, self.settings.max_per_person)
                .await?
            {
                ReminderClaim::Claimed => {}
                ReminderClaim::AlreadyClaimed | ReminderClaim::LimitReached => continue,
            }
            for response in &open {
                let organisation = &response.key.organisation;
                if !organisation_names.contains_key(organisation) {
                    let name = self
                        .store
                        .organisation(organisation)
                        .await?
                        .map_or_else(|| organisation.to_string(), |o| o.name);
                    organisation_names.insert(organisation.clone(), name);
                }
            }
            let reminded = Reminded {
                round: round.id.clone(),
                person: person.id.clone(),
                day,
                responses: open.iter().map(|r| r.key.clone()).collect(),
            };
            let sent = self
                .send(round, deadline, &person, &open, &organisation_names, now)
                .await;
            match sent {
                Ok(()) => {
                    tracing::info!(round = %round.id, person = %person.id, day, "reminder sent");
                    if person.telegram_chat.is_some() {
                        let notice = TelegramNotice {
                            id: NoticeId::reminder(&round.id, &person.id, day),
                            person: person.id.clone(),
                            round: round.id.clone(),
                            day,
                            responses: reminded.responses.clone(),
                            created_at: now,
                            expires_at: deadline,
                        };
                        // The email went: a failure here costs the Telegram copy only.
                        match self.store.put_telegram_notice(&notice).await {
                            Ok(queued) => report.notices += usize::from(queued),
                            Err(error) => tracing::warn!(
                                %error, round = %round.id, person = %person.id,
                                "a Telegram reminder could not be queued"
                            ),
                        }
                    }
                    report.sent.push(reminded);
                }
                Err(failure) => {
                    tracing::warn!(
                        error = %failure.error, round = %round.id, person = %person.id, day,
                        "a reminder could not be sent; it is tried again at the next check"
                    );
                    for hash in &failure.links {
                        self.store.revoke_link_token(hash).await?;
                    }
                    self.store
                        .release_reminder(&round.id, &person.id, day)
                        .await?;
                    report.failed.push(reminded);
                }
            }
        }
        Ok(())
    }

    /// Makes the links and sends one reminder; on failure returns the links made, to be
    /// revoked.
    async fn send(
        &self,
        round: &Round,
        deadline: Timestamp,
        person: &Person,
        open: &[ResponseProgress],
        organisation_names: &HashMap<crate::domain::OrganisationId, String>,
        now: Timestamp,
    ) -> Result<(), SendFailure> {
        let mut made = Vec::new();
        let fail = |made: Vec<TokenHash>, error: String| SendFailure { links: made, error };
        let mut responses = Vec::new();
        for response in open {
            // A fresh link per reminder: secrets are never stored, so an earlier link
            // cannot be sent again, and every earlier link keeps working.
            let link = links::create(
                self.store,
                round,
                LinkBinding {
                    response: response.key.clone(),
                    person: person.id.clone(),
                },
                now,
            )
            .await
            .map_err(|error| fail(made.clone(), error.to_string()))?;
            made.push(link.token.hash);
            let reference = &response.key.instrument;
            let instrument = self
                .catalogue
                .get(&reference.id, reference.version)
                .map_or_else(
                    || reference.to_string(),
                    |i| i.header().title.as_str().to_owned(),
                );
            responses.push(json!({
                "instrument": instrument,
                "organisation": organisation_names
                    .get(&response.key.organisation)
                    .cloned()
                    .unwrap_or_else(|| response.key.organisation.to_string()),
                "answered": response.answered,
                "total": response.total,
                "link": links::url(self.public_base_url, &link.secret),
            }));
        }
        let telegram_link = telegram::deep_link_for(self.store, self.telegram, person, now)
            .await
            .map_err(|error| fail(made.clone(), error.to_string()))?;
        let rendered = self.mailer.templates().render(
            "reminder",
            &json!({
                "name": person.name,
                "round": round.title,
                "deadline": deadline.to_rfc3339(),
                "several": responses.len() > 1,
                "responses": responses,
                "telegram_linked": person.telegram_chat.is_some(),
                "telegram_link": telegram_link,
            }),
        );
        let result = match rendered {
            Ok((text, html)) => {
                self.mailer
                    .send(Email {
                        to_name: person.name.clone(),
                        to_address: person.email.as_str().to_owned(),
                        subject: format!(
                            "Reminder: {} is due by {}",
                            round.title,
                            deadline.to_rfc3339().get(..10).unwrap_or_default()
                        ),
                        text,
                        html,
                    })
                    .await
            }
            Err(error) => Err(error),
        };
        result.map_err(|error: MailError| fail(made, error.to_string()))
    }
}

struct SendFailure {
    links: Vec<TokenHash>,
    error: String,
}

/// One response a Telegram notice reminds of, as it stands when the bot claims it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeResponse {
    /// The instrument's title.
    pub instrument_title: String,
    /// The organisation's name.
    pub organisation_name: String,
    /// Required questions answered.
    pub answered: usize,
    /// Required questions.
    pub total: usize,
}

/// A Telegram notice ready to deliver: where, and what to say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueNotice {
    /// Acknowledge with this id once sent.
    pub id: NoticeId,
    /// The person's linked chat, as it is now.
    pub chat: TelegramChatId,
    /// The person's name.
    pub person_name: String,
    /// The round's title.
    pub round_title: String,
    /// The round's deadline.
    pub deadline: Option<Timestamp>,
    /// Days before the deadline the reminder is for.
    pub day: u32,
    /// The responses still open, in the order queued.
    pub responses: Vec<NoticeResponse>,
}

/// Claims up to `limit` (1 to [`MAX_NOTICE_CLAIM`]) due Telegram notices for the bot.
/// Notices that no longer need delivering — the person is gone or unlinked, the round is
/// no longer open, or every response it names was submitted meanwhile — are dropped
/// (acknowledged) here, so fewer than `limit` may come back although more are queued.
///
/// # Errors
/// [`ReminderError::BadInput`] for a limit outside 1 to [`MAX_NOTICE_CLAIM`]; the
/// store's failure.
pub async fn claim_notices(
    store: &dyn Store,
    catalogue: &Catalogue,
    now: Timestamp,
    limit: i32,
) -> Result<Vec<DueNotice>, ReminderError> {
    let limit = usize::try_from(limit)
        .ok()
        .filter(|n| (1..=MAX_NOTICE_CLAIM).contains(n))
        .ok_or_else(|| {
            ReminderError::BadInput(format!(
                "limit must be from 1 to {MAX_NOTICE_CLAIM}, not {limit}"
            ))
        })?;
    let claimed = store
        .claim_telegram_notices(now, limit, NOTICE_HOLD_MILLIS)
        .await?;
    let mut due = Vec::with_capacity(claimed.len());
    for notice in claimed {
        match prepare(store, catalogue, &notice).await? {
            Some(ready) => due.push(ready),
            None => {
                store.ack_telegram_notice(&notice.id).await?;
            }
        }
    }
    Ok(due)
}

async fn prepare(
    store: &dyn Store,
    catalogue: &Catalogue,
    notice: &TelegramNotice,
) -> Result<Option<DueNotice>, ReminderError> {
    let Some(person) = store.person(&notice.person).await? else {
        return Ok(None);
    };
    let Some(chat) = person.telegram_chat else {
        return Ok(None);
    };
    let Some(round) = store.round(&notice.round).await? else {
        return Ok(None);
    };
    if round.status != RoundStatus::Open {
        return Ok(None);
    }
    let assignments = store.assignments(&round.id).await?;
    let reads = notice.responses.iter().map(|key| store.response(key));
    let responses: Vec<_> = futures_util::future::try_join_all(reads)
        .await?
        .into_iter()
        .flatten()
        .collect();
    let progress = progress::compute(catalogue, &round, &assignments, &responses);
    let mut open = Vec::new();
    for key in &notice.responses {
        let Some(found) = progress
            .people
            .iter()
            .find(|p| p.person == person.id)
            .and_then(|p| p.responses.iter().find(|r| &r.key == key))
        else {
            // No longer assigned: nothing to remind of.
            continue;
        };
        if found.status == ProgressStatus::Submitted {
            continue;
        }
        let organisation_name = store
            .organisation(&key.organisation)
            .await?
            .map_or_else(|| key.organisation.to_string(), |o| o.name);
        open.push(NoticeResponse {
            instrument_title: catalogue
                .get(&key.instrument.id, key.instrument.version)
                .map_or_else(
                    || key.instrument.to_string(),
                    |i| i.header().title.as_str().to_owned(),
                ),
            organisation_name,
            answered: found.answered,
            total: found.total,
        });
    }
    if open.is_empty() {
        return Ok(None);
    }
    Ok(Some(DueNotice {
        id: notice.id.clone(),
        chat,
        person_name: person.name,
        round_title: round.title,
        deadline: round.deadline,
        day: notice.day,
        responses: open,
    }))
}

/// Acknowledges a notice the bot delivered (or gave up on); returns whether it was
/// queued.
///
/// # Errors
/// [`ReminderError::BadInput`] for a malformed id; the store's failure.
pub async fn ack_notice(store: &dyn Store, id: &str) -> Result<bool, ReminderError> {
    let id = NoticeId::parse(id)
        .map_err(|_| ReminderError::BadInput("this is not a notice id".to_owned()))?;
    Ok(store.ack_telegram_notice(&id).await?)
}
