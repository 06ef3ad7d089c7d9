//! Invitations by email: each person assigned in a round gets, per response they
//! answer, a new personal link (`service::links`) in an email with the instrument, the
//! organisation, the round and its deadline. A failed send is counted and the rest go on;
//! the links of failed sends are revoked so nothing unsent stays usable. After a
//! submission, `send_receipt` emails the person a copy of their answers.

use serde_json::json;

use crate::catalogue::model::{InstrumentKind, ResponseMode};
use crate::catalogue::{Catalogue, Instrument};
use crate::domain::{
    Assignment, LinkBinding, OrganisationId, Respondent, ResponseKey, Role, Round, RoundId,
    Timestamp,
};
use crate::email::{Email, MailError, Mailer};
use crate::service::admin::role_answers;
use crate::service::links::{self, LinkError};
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
/// personal link per response they answer.
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
    let mut report = InviteReport::default();
    for assignment in store.assignments(&round.id).await? {
        if organisation.is_some_and(|o| *o != assignment.organisation) {
            continue;
        }
        let Some(person) = store.person(&assignment.person).await? else {
            continue;
        };
        let organisation_name = store
            .organisation(&assignment.organisation)
            .await?
            .map_or_else(|| assignment.organisation.to_string(), |o| o.name);
        for response in responses_for(catalogue, &round, &assignment) {
            let Some(instrument) =
                catalogue.get(&response.instrument.id, response.instrument.version)
            else {
                continue;
            };
            let link = links::create(
                store,
                &round,
                LinkBinding {
                    response: response.clone(),
                    person: person.id.clone(),
                },
                now,
            )
            .await?;
            let title = instrument.header().title.as_str();
            let sent = Sent {
                assignment: assignment.clone(),
                response: response.clone(),
            };
            let rendered = mailer.templates().render(
                "invitation",
                &json!({
                    "name": person.name,
                    "instrument": title,
                    "organisation": organisation_name,
                    "round": round.title,
                    "deadline": round.deadline.map(|d| d.to_rfc3339()),
                    "link": links::url(public_base_url, &link.secret),
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
                    report.sent.push(sent);
                }
                Err(error) => {
                    log_failure(&error, &response);
                    store.revoke_link_token(&link.token.hash).await?;
                    report.failed.push(sent);
                }
            }
        }
    }
    Ok(report)
}

fn log_failure(error: &MailError, response: &ResponseKey) {
    tracing::warn!(%error, response = %response.id(), "an invitation could not be sent");
}

/// A receipt to send after a submission.
#[derive(Debug, Clone)]
pub struct Receipt {
    /// The person who submitted.
    pub person: crate::domain::PersonId,
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
