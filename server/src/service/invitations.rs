//! Invitations by email: each person assigned in a round gets, per response they
//! answer, a new personal link (`service::links`) in an email with the instrument, the
//! organisation, the round and its deadline, and, when a Telegram bot is configured and
//! the person's chat is not linked yet, a deep link with a fresh one-time linking code
//! (one per person and call). A failed send is counted and the rest go on;
//! the links of failed sends are revoked so nothing unsent stays usable. After a
//! submission, `send_receipt` emails the person a copy of their answers.

use std::collections::HashMap;

use futures_util::StreamExt;
use serde_json::json;

use crate::catalogue::model::{InstrumentKind, ResponseMode};
use crate::catalogue::{Catalogue, Instrument};
use crate::config::TelegramSettings;
use crate::domain::{
    Assignment, LinkBinding, OrganisationId, Person, PersonId, Respondent, ResponseKey, Role,
    Round, RoundId, Timestamp,
};
use crate::email::{Email, MailError, Mailer};
use crate::service::admin::role_answers;
use crate::service::links::{self, LinkError, NewLink};
use crate::service::telegram::{self, TelegramError};
use crate::store::{Store, StoreError};

/// Why invitations could not be sent at all.
#[derive(Debug, thiserror::Error)]
pub enum InviteError {
    /// No such round.
    #[error("there is no round `{0}`")]
    UnknownRound(String),
    /// The organisation does not take part in the round.
    #[error("organisation `{0}` does not take part in this round")]
    NotInRound(String),
    /// The round no longer takes answers.
    #[error("round `{0}` is closed; links would not work")]
    Closed(String),
    /// A link could not be made.
    #[error(transparent)]
    Link(#[from] LinkError),
    /// A Telegram linking code could not be made.
    #[error(transparent)]
    Telegram(#[from] TelegramError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One invitation sent.
#[derive(Debug, Clone)]
pub struct Sent {
    /// The assignment it was for.
    pub assignment: Assignment,
    /// The response the link opens.
    pub response: ResponseKey,
}

/// What `invite` did.
#[derive(Debug, Clone, Default)]
pub struct InviteReport {
    /// Invitations sent.
    pub sent: Vec<Sent>,
    /// Invitations that could not be sent (their links revoked).
    pub failed: Vec<Sent>,
}

/// The responses a person answers in `round` in their `role`: a focal point the
/// organisation's per-organisation questionnaires; an independent rater their own stage
/// questionnaire; a senior manager or learning participant the per-respondent
/// instruments for their audience.
pub fn responses_for(
    catalogue: &Catalogue,
    round: &Round,
    assignment: &Assignment,
) -> Vec<ResponseKey> {
    let instruments = round
        .instruments
        .iter()
        .filter_map(|r| catalogue.get(&r.id, r.version));
    let key = |instrument: &Instrument, respondent| ResponseKey {
        round: round.id.clone(),
        organisation: assignment.organisation.clone(),
        instrument: instrument.reference(),
        respondent,
    };
    instruments
        .filter_map(|instrument| {
            let header = instrument.header();
            let answerable = !instrument.questions().is_empty();
            match &assignment.role {
                Role::FocalPoint => (answerable
                    && header.response_mode == ResponseMode::PerOrganisation)
                    .then(|| key(instrument, Respondent::Organisation)),
                Role::IndependentRater => (header.kind == InstrumentKind::StageQuestionnaire)
                    .then(|| key(instrument, Respondent::Person(assignment.person.clone()))),
                role => (answerable && role_answers(role, instrument))
                    .then(|| key(instrument, Respondent::Person(assignment.person.clone()))),
            }
        })
        .collect()
}

/// Sends every person assigned in `round` (only those of `organisation` when given) a
/// personal link per response they answer; with a Telegram deep link when `telegram`
/// names a bot and the person's chat is not linked.
///
/// # Errors
/// An unknown round, an organisation outside it, a closed round, or the store's failure.
/// A failed send is not an error: it is reported in [`InviteReport::failed`].
#[allow(clippy::too_many_arguments)]
pub async fn invite(
    store: &dyn Store,
    catalogue: &Catalogue,
    mailer: &Mailer,
    public_base_url: &str,
    telegram: &TelegramSettings,
    round: &RoundId,
    organisation: Option<&OrganisationId>,
    now: Timestamp,
) -> Result<InviteReport, InviteError> {
    let round = store
        .round(round)
        .await?
        .ok_or_else(|| InviteError::UnknownRound(round.to_string()))?;
    if let Some(organisation) = organisation
        && !round.organisations.contains(organisation)
    {
        return Err(InviteError::NotInRound(organisation.to_string()));
    }
    if !links::round_lets_links_work(round.status) {
        return Err(InviteError::Closed(round.id.to_string()));
    }
    // First what to send, in the order of the assignments (reads, and linking codes);
    // then the sends, several at once (as many as the mailer's connection pool holds),
    // reported in that order.
    let mut jobs = Vec::new();
    let mut telegram_links: HashMap<PersonId, Option<String>> = HashMap::new();
    for assignment in store.assignments(&round.id).await? {
        if organisation.is_some_and(|o| *o != assignment.organisation) {
            continue;
        }
        let Some(person) = store.person(&assignment.person).await? else {
            continue;
        };
        let responses = responses_for(catalogue, &round, &assignment);
        if responses.is_empty() {
            continue;
        }
        let organisation_name = store
            .organisation(&assignment.organisation)
            .await?
            .map_or_else(|| assignment.organisation.to_string(), |o| o.name);
        // One code per person and call, made only when an email goes to them; it works
        // once, from whichever of their emails it is used.
        let telegram_link = match telegram_links.get(&person.id) {
            Some(link) => link.clone(),
            None => {
                let link = telegram::deep_link_for(store, telegram, &person, now).await?;
                telegram_links.insert(person.id.clone(), link.clone());
                link
            }
        };
        for response in responses {
            let Some(instrument) =
                catalogue.get(&response.instrument.id, response.instrument.version)
            else {
                continue;
            };
            jobs.push(Invitation {
                sent: Sent {
                    assignment: assignment.clone(),
                    response,
                },
                person: person.clone(),
                organisation_name: organisation_name.clone(),
                title: instrument.header().title.as_str().to_owned(),
                telegram_link: telegram_link.clone(),
            });
        }
    }
    let round = &round;
    // Links first, many at a time: the store commits concurrent writes together, so a
    // durable commit is shared by many links instead of waited for by each send. Then
    // the emails, as many at a time as the SMTP pool has connections.
    let linked: Vec<Result<(Invitation, NewLink), InviteError>> = futures_util::stream::iter(jobs)
        .map(|job| async move {
            let link = links::create(
                store,
                round,
                LinkBinding {
                    response: job.sent.response.clone(),
                    person: job.person.id.clone(),
                },
                now,
            )
            .await?;
            Ok((job, link))
        })
        .buffered(LINKS_AT_ONCE)
        .collect()
        .await;
    let linked = linked.into_iter().collect::<Result<Vec<_>, _>>()?;
    let outcomes: Vec<Result<(Sent, bool), InviteError>> = futures_util::stream::iter(linked)
        .map(|(job, link)| send_one(store, mailer, public_base_url, round, job, link))
        .buffered(mailer.parallel_sends())
        .collect()
        .await;
    let mut report = InviteReport::default();
    for outcome in outcomes {
        let (sent, ok) = outcome?;
        if ok {
            report.sent.push(sent);
        } else {
            report.failed.push(sent);
        }
    }
    Ok(report)
}

/// One invitation to make and send.
struct Invitation {
    sent: Sent,
    person: Person,
    organisation_name: String,
    title: String,
    telegram_link: Option<String>,
}

/// How many links are made at once before their emails go out.
const LINKS_AT_ONCE: usize = 64;

/// Sends one invitation with its new link; `false` when the mail failed (the link is
/// revoked then).
async fn send_one(
    store: &dyn Store,
    mailer: &Mailer,
    public_base_url: &str,
    round: &Round,
    job: Invitation,
    link: NewLink,
) -> Result<(Sent, bool), InviteError> {
    let Invitation {
        sent,
        person,
        organisation_name,
        title,
        telegram_link,
    } = job;
    let response = &sent.response;
    let rendered = mailer.templates().render(
        "invitation",
        &json!({
            "name": person.name,
            "instrument": title,
            "organisation": organisation_name,
            "round": round.title,
            "deadline": round.deadline.map(|d| d.to_rfc3339()),
            "link": links::url(public_base_url, &link.secret),
            "telegram_link": telegram_link,
        }),
    );
    let result = match rendered {
        Ok((text, html)) => {
            mailer
                .send(Email {
                    to_name: person.name.clone(),
                    to_address: person.email.as_str().to_owned(),
                    subject: format!("{title}: your personal link ({})", round.title),
                    text,
                    html,
                })
                .await
        }
        Err(error) => Err(error),
    };
    match result {
        Ok(()) => {
            tracing::info!(response = %response.id(), person = %person.id, "invitation sent");
            Ok((sent, true))
        }
        Err(error) => {
            log_failure(&error, response);
            store.revoke_link_token(&link.token.hash).await?;
            Ok((sent, false))
        }
    }
}

fn log_failure(error: &MailError, response: &ResponseKey) {
    tracing::warn!(%error, response = %response.id(), "an invitation could not be sent");
}

/// A receipt to send after a submission.
#[derive(Debug, Clone)]
pub struct Receipt {
    /// The person who submitted.
    pub person: PersonId,
    /// The instrument's title.
    pub instrument: String,
    /// The organisation's name.
    pub organisation: String,
    /// The round's title.
    pub round: String,
    /// The answers as shown: label, then the answer's text.
    pub answers: Vec<(String, String)>,
}

/// Emails the person a receipt with a copy of their answers.
///
/// # Errors
/// The store's failure, an unknown person, or the mail's failure (as text: a receipt is
/// best-effort, the submission stands).
pub async fn send_receipt(
    store: &dyn Store,
    mailer: &Mailer,
    receipt: Receipt,
) -> Result<(), String> {
    let person = store
        .person(&receipt.person)
        .await
        .map_err(|error| error.to_string())?
        .ok_or("the person is gone")?;
    let answers: Vec<_> = receipt
        .answers
        .iter()
        .map(|(label, value)| json!({ "label": label, "value": value }))
        .collect();
    let (text, html) = mailer
        .templates()
        .render(
            "receipt",
            &json!({
                "name": person.name,
                "instrument": receipt.instrument,
                "organisation": receipt.organisation,
                "round": receipt.round,
                "answers": answers,
            }),
        )
        .map_err(|error| error.to_string())?;
    mailer
        .send(Email {
            to_name: person.name.clone(),
            to_address: person.email.as_str().to_owned(),
            subject: format!(
                "{}: your answers are submitted ({})",
                receipt.instrument, receipt.round
            ),
            text,
            html,
        })
        .await
        .map_err(|error| error.to_string())
}
