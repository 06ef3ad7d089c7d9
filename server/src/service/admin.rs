//! Administration: organisations, people, rounds and their lifecycle, assignments of
//! people to rounds, and reopening submitted responses. Every administrative act on a
//! round is appended to the round's audit log after the change it records is stored, and
//! the acts channels care about (a status change, a reopened response) are published as
//! round events.
//!
//! Input is untrusted: ids are parsed, texts bounded, instruments checked against the
//! catalogue, references checked against the store, and nothing is written until all of
//! that passed. Transports map [`AdminError`] to their codes and hold no rules; this
//! module never formats store errors for clients.
//!
//! Round changes are read-modify-write sequences, not transactions: two administrators
//! changing one round at the same instant may both succeed, and the audit log then shows
//! both acts. Rounds are changed rarely and by few people, so this is accepted.

use std::collections::BTreeSet;

use crate::catalogue::model::{Audience, ResponseMode};
use crate::catalogue::{Catalogue, Instrument, InstrumentRef};
use crate::domain::answer::parse_text;
use crate::domain::{
    Actor, Assignment, Command, EmailAddress, EmailError, IdError, IdempotencyKey,
    MAX_SHORT_TEXT_CHARS, Organisation, OrganisationId, Person, PersonId, Respondent, ResponseKey,
    Role, Round, RoundId, RoundStatus, Timestamp, ValueError,
};
use crate::events::{EventBus, RoundEvent};
use crate::service::access::{AccessError, Identity};
use crate::service::answers::{SaveError, check_rater, instrument_for};
use crate::store::{AuditAction, AuditEntry, Receipt, ResponseRequest, Store, StoreError};

/// Most characters in a round title.
pub const MAX_TITLE_CHARS: usize = 200;

/// Why an administrative request was refused.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The input is invalid (malformed, or naming something that does not exist);
    /// nothing was written.
    #[error("{0}")]
    Invalid(String),
    /// What the request is about does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with the current state; nothing was written.
    #[error("{0}")]
    Conflict(String),
    /// The caller may not do this.
    #[error(transparent)]
    Access(#[from] AccessError),
    /// The operating system had no randomness for a new id.
    #[error("no randomness for a new id")]
    Randomness(#[source] getrandom::Error),
    /// The store refused or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<IdError> for AdminError {
    fn from(error: IdError) -> Self {
        Self::Invalid(error.to_string())
    }
}

impl From<EmailError> for AdminError {
    fn from(error: EmailError) -> Self {
        Self::Invalid(error.to_string())
    }
}

fn invalid_value(what: &str, error: &ValueError) -> AdminError {
    AdminError::Invalid(format!("{what}: {error}"))
}

/// Result of an administrative use-case.
pub type AdminResult<T> = Result<T, AdminError>;

// --- access --------------------------------------------------------------------------

/// Who may read the list of organisations: administrators and validators.
///
/// # Errors
/// Unauthenticated or forbidden.
pub fn require_directory_reader(identity: &Identity) -> Result<(), AccessError> {
    identity.require_any()?;
    match identity {
        Identity::Admin { .. } | Identity::Validator { .. } => Ok(()),
        _ => Err(AccessError::Forbidden),
    }
}

/// The rounds `identity` may read: every round for an administrator, the rounds in
/// scope for a validator.
///
/// # Errors
/// Unauthenticated or forbidden for anyone else; a store failure.
pub async fn visible_rounds(store: &dyn Store, identity: &Identity) -> AdminResult<Vec<Round>> {
    identity.require_any()?;
    let rounds = match identity {
        Identity::Admin { .. } => store.rounds().await?,
        Identity::Validator { rounds, .. } => store
            .rounds()
            .await?
            .into_iter()
            .filter(|round| rounds.contains(&round.id))
            .collect(),
        _ => return Err(AccessError::Forbidden.into()),
    };
    Ok(rounds)
}

// --- organisations -------------------------------------------------------------------

/// Creates an organisation with a new slug.
///
/// # Errors
/// Invalid id, name or acronym; a conflict when the id is taken.
pub async fn create_organisation(
    store: &dyn Store,
    id: &str,
    name: &str,
    acronym: Option<&str>,
) -> AdminResult<Organisation> {
    let id = OrganisationId::parse(id.trim())?;
    let organisation = Organisation::new(id, name, acronym.filter(|a| !a.trim().is_empty()))
        .map_err(|e| invalid_value("organisation", &e))?;
    if store.organisation(&organisation.id).await?.is_some() {
        return Err(AdminError::Conflict(format!(
            "organisation `{}` exists already",
            organisation.id
        )));
    }
    store.put_organisation(&organisation).await?;
    tracing::info!(organisation = %organisation.id, "organisation created");
    Ok(organisation)
}

/// Changes an organisation's name and/or acronym: `None` keeps a value; an acronym of
/// `Some(None)` removes it.
///
/// # Errors
/// Not found; invalid name or acronym.
pub async fn update_organisation(
    store: &dyn Store,
    id: &str,
    name: Option<&str>,
    acronym: Option<Option<&str>>,
) -> AdminResult<Organisation> {
    let id = OrganisationId::parse(id.trim())?;
    let current = store
        .organisation(&id)
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("no organisation `{id}`")))?;
    let name = name.unwrap_or(&current.name);
    let acronym = match acronym {
        None => current.acronym.as_deref(),
        Some(acronym) => acronym.filter(|a| !a.trim().is_empty()),
    };
    let organisation =
        Organisation::new(id, name, acronym).map_err(|e| invalid_value("organisation", &e))?;
    if organisation != current {
        store.put_organisation(&organisation).await?;
    }
    Ok(organisation)
}

/// Every organisation, by id.
///
/// # Errors
/// A store failure.
pub async fn organisations(store: &dyn Store) -> AdminResult<Vec<Organisation>> {
    Ok(store.organisations().await?)
}

/// One organisation; `None` when the id is unknown or malformed.
///
/// # Errors
/// A store failure.
pub async fn organisation(store: &dyn Store, id: &str) -> AdminResult<Option<Organisation>> {
    match OrganisationId::parse(id.trim()) {
        Ok(id) => Ok(store.organisation(&id).await?),
        Err(_) => Ok(None),
    }
}

// --- people --------------------------------------------------------------------------

/// Hex characters of a generated person id after `p-` (48 random bits: ids are not
/// secrets, only unique).
const PERSON_ID_HEX: usize = 12;

fn new_person_id() -> AdminResult<PersonId> {
    let secret = crate::service::access::new_secret().map_err(AdminError::Randomness)?;
    let hex = secret.get(..PERSON_ID_HEX).unwrap_or(&secret);
    Ok(PersonId::parse(&format!("p-{hex}"))?)
}

/// Refuses an email address another person has (compared without case).
async fn check_email_free(
    store: &dyn Store,
    email: &EmailAddress,
    except: Option<&PersonId>,
) -> AdminResult<()> {
    let wanted = email.as_str().to_lowercase();
    let taken = store
        .persons()
        .await?
        .into_iter()
        .find(|p| Some(&p.id) != except && p.email.as_str().to_lowercase() == wanted);
    match taken {
        Some(other) => Err(AdminError::Conflict(format!(
            "person `{}` has this email address already",
            other.id
        ))),
        None => Ok(()),
    }
}

/// Creates a person with a generated id `p-<hex>`.
///
/// # Errors
/// Invalid name or email; a conflict when another person has the email.
pub async fn create_person(store: &dyn Store, name: &str, email: &str) -> AdminResult<Person> {
    let email = EmailAddress::parse(email)?;
    check_email_free(store, &email, None).await?;
    // A clash of 48 random bits is unlikely; checking keeps it from overwriting anyone.
    let mut id = new_person_id()?;
    while store.person(&id).await?.is_some() {
        id = new_person_id()?;
    }
    let person = Person::new(id, name, email).map_err(|e| invalid_value("name", &e))?;
    store.put_person(&person).await?;
    tracing::info!(person = %person.id, email = %person.email.redacted(), "person created");
    Ok(person)
}

/// Changes a person's name and/or email address (`None` keeps it); a linked Telegram
/// chat stays linked.
///
/// # Errors
/// Not found; invalid name or email; a conflict when another person has the email.
pub async fn update_person(
    store: &dyn Store,
    id: &str,
    name: Option<&str>,
    email: Option<&str>,
) -> AdminResult<Person> {
    let id = PersonId::parse(id.trim())?;
    let current = store
        .person(&id)
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("no person `{id}`")))?;
    let email = match email {
        Some(email) => EmailAddress::parse(email)?,
        None => current.email.clone(),
    };
    if email != current.email {
        check_email_free(store, &email, Some(&id)).await?;
    }
    let mut person = Person::new(id, name.unwrap_or(&current.name), email)
        .map_err(|e| invalid_value("name", &e))?;
    person.telegram_chat = current.telegram_chat;
    if person != current {
        store.put_person(&person).await?;
    }
    Ok(person)
}

/// Every person, by id.
///
/// # Errors
/// A store failure.
pub async fn persons(store: &dyn Store) -> AdminResult<Vec<Person>> {
    Ok(store.persons().await?)
}

/// One person; `None` when the id is unknown or malformed.
///
/// # Errors
/// A store failure.
pub async fn person(store: &dyn Store, id: &str) -> AdminResult<Option<Person>> {
    match PersonId::parse(id.trim()) {
        Ok(id) => Ok(store.person(&id).await?),
        Err(_) => Ok(None),
    }
}

// --- rounds --------------------------------------------------------------------------

/// A round to create, as received.
#[derive(Debug, Clone, Default)]
pub struct NewRound {
    /// Slug.
    pub id: String,
    /// Title.
    pub title: String,
    /// Instrument versions as `id@version`.
    pub instruments: Vec<String>,
    /// Organisation ids.
    pub organisations: Vec<String>,
    /// Deadline, RFC 3339.
    pub deadline: Option<String>,
}

/// Parses an RFC 3339 date-time, e.g. `2026-03-31T23:59:00Z`.
///
/// # Errors
/// Invalid, naming the expected form.
pub fn parse_deadline(text: &str) -> AdminResult<Timestamp> {
    let parsed =
        time::OffsetDateTime::parse(text.trim(), &time::format_description::well_known::Rfc3339)
            .map_err(|_| {
                AdminError::Invalid(format!(
                    "deadline `{}` is not an RFC 3339 date-time such as 2026-03-31T23:59:00Z",
                    text.chars().take(40).collect::<String>()
                ))
            })?;
    let millis = parsed.unix_timestamp_nanos() / 1_000_000;
    i64::try_from(millis)
        .map(Timestamp::from_millis)
        .map_err(|_| AdminError::Invalid("the deadline is out of range".to_owned()))
}

/// The instrument versions of a round, checked against the catalogue: each exists, and
/// no instrument comes in two versions. Problems are added to `problems`.
fn round_instruments(
    catalogue: &Catalogue,
    texts: &[String],
    problems: &mut Vec<String>,
) -> Vec<InstrumentRef> {
    let mut seen = BTreeSet::new();
    let mut instruments = Vec::new();
    if texts.is_empty() {
        problems.push("a round needs at least one instrument".to_owned());
    }
    for text in texts {
        let shown: String = text.trim().chars().take(80).collect();
        let reference = match InstrumentRef::parse(text.trim()) {
            Ok(reference) => reference,
            Err(problem) => {
                problems.push(format!("instrument {problem}"));
                continue;
            }
        };
        // Every kind is welcome: answerable instruments are answered, reference ones
        // (drivers, validation guide, outcome map) are guidance the round points to.
        if catalogue.get(&reference.id, reference.version).is_none() {
            problems.push(format!("the catalogue has no instrument `{shown}`"));
            continue;
        }
        if !seen.insert(reference.id.clone()) {
            problems.push(format!(
                "instrument `{}` is listed twice; a round uses one version of each",
                reference.id
            ));
            continue;
        }
        instruments.push(reference);
    }
    instruments
}

/// Creates a round in draft and logs it.
///
/// # Errors
/// Invalid input (every problem listed in one message; unknown instruments and
/// organisations included); a conflict when the id is taken.
pub async fn create_round(
    store: &dyn Store,
    catalogue: &Catalogue,
    actor: &Actor,
    at: Timestamp,
    new: NewRound,
) -> AdminResult<Round> {
    let mut problems = Vec::new();
    let id = RoundId::parse(new.id.trim()).map_err(|e| problems.push(e.to_string()));
    let title =
        parse_text(&new.title, MAX_TITLE_CHARS).map_err(|e| problems.push(format!("title: {e}")));
    let instruments = round_instruments(catalogue, &new.instruments, &mut problems);
    let mut organisations: Vec<OrganisationId> = Vec::new();
    for text in &new.organisations {
        match OrganisationId::parse(text.trim()) {
            Ok(organisation) if organisations.contains(&organisation) => {
                problems.push(format!("organisation `{organisation}` is listed twice"));
            }
            Ok(organisation) => {
                if store.organisation(&organisation).await?.is_none() {
                    problems.push(format!("no organisation `{organisation}`"));
                }
                organisations.push(organisation);
            }
            Err(e) => problems.push(e.to_string()),
        }
    }
    let deadline = match new.deadline.as_deref().filter(|d| !d.trim().is_empty()) {
        Some(text) => match parse_deadline(text) {
            Ok(deadline) => Some(deadline),
            Err(e) => {
                problems.push(e.to_string());
                None
            }
        },
        None => None,
    };
    let (Ok(id), Ok(title), true) = (id, title, problems.is_empty()) else {
        return Err(AdminError::Invalid(problems.join("; ")));
    };
    if store.round(&id).await?.is_some() {
        return Err(AdminError::Conflict(format!("round `{id}` exists already")));
    }
    let round = Round {
        id,
        title,
        instruments,
        organisations,
        deadline,
        status: RoundStatus::Draft,
    };
    store.put_round(&round).await?;
    log(store, &round.id, actor, at, AuditAction::RoundCreated).await?;
    tracing::info!(round = %round.id, "round created");
    Ok(round)
}

/// Every round, by id.
///
/// # Errors
/// A store failure.
pub async fn rounds(store: &dyn Store) -> AdminResult<Vec<Round>> {
    Ok(store.rounds().await?)
}

/// One round; `None` when there is none with this id.
///
/// # Errors
/// A store failure.
pub async fn round(store: &dyn Store, id: &RoundId) -> AdminResult<Option<Round>> {
    Ok(store.round(id).await?)
}

async fn existing_round(store: &dyn Store, id: &str) -> AdminResult<Round> {
    let id = RoundId::parse(id.trim())?;
    store
        .round(&id)
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("no round `{id}`")))
}

async fn log(
    store: &dyn Store,
    round: &RoundId,
    actor: &Actor,
    at: Timestamp,
    action: AuditAction,
) -> AdminResult<()> {
    store
        .append_audit(&AuditEntry {
            round: round.clone(),
            at,
            actor: actor.clone(),
            action,
        })
        .await?;
    Ok(())
}

/// Moves a round to `status` when its lifecycle allows it
/// ([`RoundStatus::can_become`]: open, close, reopen after closing, start validation,
/// validated — the last only once every organisation's validation is signed off), logs
/// the change and publishes it. Returns the round and the status it
/// had.
///
/// # Errors
/// Not found; a conflict when the lifecycle does not allow the move (nothing changes).
pub async fn set_round_status(
    store: &dyn Store,
    events: &dyn EventBus,
    actor: &Actor,
    at: Timestamp,
    round_id: &str,
    status: RoundStatus,
) -> AdminResult<(Round, RoundStatus)> {
    let mut round = existing_round(store, round_id).await?;
    let from = round.status;
    if from == status {
        return Err(AdminError::Conflict(format!(
            "round `{}` is already {}",
            round.id,
            status.as_str()
        )));
    }
    if !from.can_become(status) {
        return Err(AdminError::Conflict(format!(
            "round `{}` cannot go from {} to {}",
            round.id,
            from.as_str(),
            status.as_str()
        )));
    }
    if status == RoundStatus::Validated {
        let pending = crate::service::validation::not_signed_off(store, &round).await?;
        if !pending.is_empty() {
            let names: Vec<String> = pending.iter().map(ToString::to_string).collect();
            return Err(AdminError::Conflict(format!(
                "round `{}` cannot be validated while the validation of {} is not signed off",
                round.id,
                names.join(", ")
            )));
        }
    }
    round.status = status;
    store.put_round(&round).await?;
    log(
        store,
        &round.id,
        actor,
        at,
        AuditAction::StatusChanged { from, to: status },
    )
    .await?;
    events
        .publish(&round.id, RoundEvent::RoundStatusChanged { status, at })
        .await;
    tracing::info!(round = %round.id, from = from.as_str(), to = status.as_str(), "round status changed");
    Ok((round, from))
}

/// Adds an organisation to a round in draft or open, and logs it.
///
/// # Errors
/// Not found (round); invalid (unknown organisation); a conflict when the organisation
/// takes part already or the round is past answering.
pub async fn add_round_organisation(
    store: &dyn Store,
    actor: &Actor,
    at: Timestamp,
    round_id: &str,
    organisation: &str,
) -> AdminResult<Round> {
    let mut round = existing_round(store, round_id).await?;
    let organisation = OrganisationId::parse(organisation.trim())?;
    if store.organisation(&organisation).await?.is_none() {
        return Err(AdminError::Invalid(format!(
            "no organisation `{organisation}`"
        )));
    }
    if round.organisations.contains(&organisation) {
        return Err(AdminError::Conflict(format!(
            "organisation `{organisation}` takes part in round `{}` already",
            round.id
        )));
    }
    if !matches!(round.status, RoundStatus::Draft | RoundStatus::Open) {
        return Err(AdminError::Conflict(format!(
            "round `{}` is {}; organisations join a round in draft or open",
            round.id,
            round.status.as_str()
        )));
    }
    round.organisations.push(organisation.clone());
    store.put_round(&round).await?;
    log(
        store,
        &round.id,
        actor,
        at,
        AuditAction::OrganisationAdded { organisation },
    )
    .await?;
    Ok(round)
}

// --- assignments ---------------------------------------------------------------------

/// The names of the roles, as [`Role::as_str`] gives them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleName {
    /// Leads the organisation's self-assessment.
    FocalPoint,
    /// Answers the outcome protocol for some outcome areas.
    SeniorManager,
    /// Gives blind stage ratings.
    IndependentRater,
    /// Answers learning questions.
    LearningParticipant,
}

impl RoleName {
    /// Whether `role` has this name.
    pub fn matches(self, role: &Role) -> bool {
        matches!(
            (self, role),
            (Self::FocalPoint, Role::FocalPoint)
                | (Self::SeniorManager, Role::SeniorManager { .. })
                | (Self::IndependentRater, Role::IndependentRater)
                | (Self::LearningParticipant, Role::LearningParticipant)
        )
    }
}

/// The round's outcome-protocol instrument: the per-respondent questionnaire that
/// defines outcome areas (the JIU outcome protocol).
pub fn outcome_protocol<'a>(catalogue: &'a Catalogue, round: &Round) -> Option<&'a Instrument> {
    round
        .instruments
        .iter()
        .filter_map(|r| catalogue.get(&r.id, r.version))
        .find(|instrument| {
            instrument.header().response_mode == ResponseMode::PerRespondent
                && instrument
                    .as_questionnaire()
                    .is_some_and(|q| !q.outcome_areas.is_empty())
        })
}

/// Whether a person in `role` answers a per-respondent `instrument`.
pub fn role_answers(role: &Role, instrument: &Instrument) -> bool {
    let header = instrument.header();
    header.response_mode == ResponseMode::PerRespondent
        && match role {
            Role::SeniorManager { .. } => header.audience.contains(&Audience::SeniorManager),
            Role::LearningParticipant => header.audience.contains(&Audience::LearningParticipant),
            Role::FocalPoint | Role::IndependentRater => false,
        }
}

/// An assignment as received.
#[derive(Debug, Clone)]
pub struct NewAssignment {
    /// Round id.
    pub round: String,
    /// Organisation id.
    pub organisation: String,
    /// Person id.
    pub person: String,
    /// Role.
    pub role: RoleName,
    /// Outcome areas, for a senior manager only.
    pub outcome_areas: Vec<String>,
}

/// Assigns a person to a round for an organisation with a role. Assigning again with
/// the same role replaces the outcome areas; an identical assignment changes nothing
/// and is not logged. Returns the assignment and whether anything changed.
///
/// # Errors
/// Not found (round); invalid (an organisation not in the round, an unknown person,
/// outcome areas that the round's outcome protocol does not define, outcome areas for a
/// role that takes none).
pub async fn assign(
    store: &dyn Store,
    catalogue: &Catalogue,
    actor: &Actor,
    at: Timestamp,
    new: NewAssignment,
) -> AdminResult<(Assignment, bool)> {
    let round = existing_round(store, &new.round).await?;
    let organisation = OrganisationId::parse(new.organisation.trim())?;
    let person = PersonId::parse(new.person.trim())?;
    if !round.organisations.contains(&organisation) {
        return Err(AdminError::Invalid(format!(
            "organisation `{organisation}` does not take part in round `{}`",
            round.id
        )));
    }
    if store.person(&person).await?.is_none() {
        return Err(AdminError::Invalid(format!("no person `{person}`")));
    }
    if new.role != RoleName::SeniorManager && !new.outcome_areas.is_empty() {
        return Err(AdminError::Invalid(
            "only a senior manager is assigned outcome areas".to_owned(),
        ));
    }
    let role = match new.role {
        RoleName::SeniorManager => Role::SeniorManager {
            outcome_areas: outcome_areas(catalogue, &round, &new.outcome_areas)?,
        },
        RoleName::FocalPoint => Role::FocalPoint,
        RoleName::IndependentRater => Role::IndependentRater,
        RoleName::LearningParticipant => Role::LearningParticipant,
    };
    let assignment = Assignment {
        round: round.id.clone(),
        organisation,
        person,
        role,
    };
    let existing = store.assignments(&round.id).await?;
    if existing.contains(&assignment) {
        return Ok((assignment, false));
    }
    store.put_assignment(&assignment).await?;
    log(
        store,
        &round.id,
        actor,
        at,
        AuditAction::AssignmentAdded {
            organisation: assignment.organisation.clone(),
            person: assignment.person.clone(),
            role: assignment.role.clone(),
        },
    )
    .await?;
    Ok((assignment, true))
}

/// Checks a senior manager's outcome areas against the round's outcome protocol: at
/// least one, each defined there, none twice.
fn outcome_areas(
    catalogue: &Catalogue,
    round: &Round,
    areas: &[String],
) -> AdminResult<Vec<String>> {
    let Some(protocol) = outcome_protocol(catalogue, round).and_then(|i| {
        i.as_questionnaire()
            .map(|q| (i.reference(), &q.outcome_areas))
    }) else {
        return Err(AdminError::Invalid(format!(
            "round `{}` has no outcome-protocol instrument, so it has no senior managers",
            round.id
        )));
    };
    let (reference, defined) = protocol;
    if areas.is_empty() {
        return Err(AdminError::Invalid(format!(
            "a senior manager needs at least one outcome area of {reference} ({})",
            defined
                .iter()
                .map(|a| a.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let mut kept: Vec<String> = Vec::new();
    let mut problems = Vec::new();
    for area in areas {
        let area = area.trim();
        if !defined.iter().any(|d| d.id == area) {
            problems.push(format!(
                "`{}` is not an outcome area of {reference}",
                area.chars().take(40).collect::<String>()
            ));
        } else if kept.iter().any(|k| k == area) {
            problems.push(format!("outcome area `{area}` is listed twice"));
        } else {
            kept.push(area.to_owned());
        }
    }
    if problems.is_empty() {
        Ok(kept)
    } else {
        Err(AdminError::Invalid(problems.join("; ")))
    }
}

/// Removes a person's assignment with a role, and logs it. Returns the assignment as it
/// was.
///
/// # Errors
/// Not found (round, or no such assignment).
pub async fn unassign(
    store: &dyn Store,
    actor: &Actor,
    at: Timestamp,
    round: &str,
    organisation: &str,
    person: &str,
    role: RoleName,
) -> AdminResult<Assignment> {
    let round = existing_round(store, round).await?;
    let organisation = OrganisationId::parse(organisation.trim())?;
    let person = PersonId::parse(person.trim())?;
    let existing = store
        .assignments(&round.id)
        .await?
        .into_iter()
        .find(|a| a.organisation == organisation && a.person == person && role.matches(&a.role))
        .ok_or_else(|| {
            AdminError::NotFound(format!(
                "person `{person}` has no such role for `{organisation}` in round `{}`",
                round.id
            ))
        })?;
    if store.remove_assignment(&existing).await? {
        log(
            store,
            &round.id,
            actor,
            at,
            AuditAction::AssignmentRemoved {
                organisation: existing.organisation.clone(),
                person: existing.person.clone(),
                role: existing.role.clone(),
            },
        )
        .await?;
    }
    Ok(existing)
}

// --- reopening -----------------------------------------------------------------------

/// A request to reopen a submitted response, as received.
#[derive(Debug, Clone)]
pub struct ReopenRequest {
    /// Round id.
    pub round: String,
    /// Organisation id.
    pub organisation: String,
    /// Instrument version, `id@version`.
    pub instrument: String,
    /// The respondent, for a per-respondent instrument.
    pub person: Option<String>,
    /// Why, for the response's log and the round's audit.
    pub reason: String,
    /// The client's idempotency key; one is generated when absent.
    pub idempotency_key: Option<String>,
}

/// Reopens one organisation's (or one person's) submitted response: the response
/// records a reopened event with the reason, the round's audit log records the act, and
/// a round event is published. A retry with the same idempotency key changes nothing
/// more.
///
/// # Errors
/// Not found (round, or a response nobody started); invalid (instrument not in the
/// round, organisation not in the round, a person missing or given where the
/// instrument's response mode says otherwise, an empty reason); a conflict when the
/// response is not submitted.
pub async fn reopen_response(
    store: &dyn Store,
    catalogue: &Catalogue,
    events: &dyn EventBus,
    actor: &Actor,
    at: Timestamp,
    request: ReopenRequest,
) -> AdminResult<(ResponseKey, Receipt)> {
    let round = existing_round(store, &request.round).await?;
    let organisation = OrganisationId::parse(request.organisation.trim())?;
    let instrument = InstrumentRef::parse(request.instrument.trim())
        .map_err(|problem| AdminError::Invalid(format!("instrument {problem}")))?;
    if !round.instruments.contains(&instrument) {
        return Err(AdminError::Invalid(format!(
            "round `{}` does not use instrument `{instrument}`",
            round.id
        )));
    }
    if !round.organisations.contains(&organisation) {
        return Err(AdminError::Invalid(format!(
            "organisation `{organisation}` does not take part in round `{}`",
            round.id
        )));
    }
    let respondent = match request.person.as_deref().map(str::trim) {
        Some(person) if !person.is_empty() => Respondent::Person(PersonId::parse(person)?),
        _ => Respondent::Organisation,
    };
    let reason = parse_text(&request.reason, MAX_SHORT_TEXT_CHARS)
        .map_err(|e| invalid_value("reason", &e))?;
    let idempotency_key = match request.idempotency_key.as_deref() {
        Some(key) => IdempotencyKey::parse(key)?,
        None => {
            let secret = crate::service::access::new_secret().map_err(AdminError::Randomness)?;
            IdempotencyKey::parse(&format!("reopen-{}", secret.get(..32).unwrap_or(&secret)))?
        }
    };
    let key = ResponseKey {
        round: round.id.clone(),
        organisation,
        instrument,
        respondent,
    };
    let refused = |error| match error {
        SaveError::Store(store) => AdminError::Store(store),
        other => AdminError::Invalid(other.to_string()),
    };
    let instrument = instrument_for(catalogue, &key).map_err(refused)?;
    // A person's stage questionnaire exists only as an independent rater's rating.
    check_rater(store, instrument, &key)
        .await
        .map_err(refused)?;
    if store.response(&key).await?.is_none() {
        return Err(AdminError::NotFound(format!(
            "response {} has not been started",
            key.id()
        )));
    }
    let receipt = store
        .execute(&ResponseRequest {
            key: key.clone(),
            idempotency_key,
            command: Command::Reopen {
                reason: reason.clone(),
            },
            expected_seq: None,
            actor: actor.clone(),
            channel: crate::domain::Channel::Graphql,
            at,
        })
        .await?;
    if !receipt.replayed {
        log(
            store,
            &round.id,
            actor,
            at,
            AuditAction::ResponseReopened {
                response: key.clone(),
                reason,
            },
        )
        .await?;
        events
            .publish(
                &round.id,
                RoundEvent::ResponseReopened {
                    response: key.id(),
                    at,
                },
            )
            .await;
        tracing::info!(response = %key.id(), "response reopened");
    }
    Ok((key, receipt))
}

/// A round's audit log, oldest first.
///
/// # Errors
/// A store failure.
pub async fn audit(store: &dyn Store, round: &RoundId) -> AdminResult<Vec<AuditEntry>> {
    Ok(store.audit(round).await?)
}

/// One line describing an audit entry, e.g. `status changed from draft to open`.
pub fn describe(action: &AuditAction) -> String {
    match action {
        AuditAction::RoundCreated => "round created".to_owned(),
        AuditAction::StatusChanged { from, to } => {
            format!("status changed from {} to {}", from.as_str(), to.as_str())
        }
        AuditAction::ResponseReopened { response, reason } => {
            format!("response {} reopened: {reason}", response.id())
        }
        AuditAction::AssignmentAdded {
            organisation,
            person,
            role,
        } => format!(
            "{person} assigned as {} for {organisation}{}",
            role.as_str(),
            areas_suffix(role)
        ),
        AuditAction::AssignmentRemoved {
            organisation,
            person,
            role,
        } => format!("{person} no longer {} for {organisation}", role.as_str()),
        AuditAction::OrganisationAdded { organisation } => {
            format!("organisation {organisation} added to the round")
        }
        AuditAction::ComponentValidated {
            organisation,
            component,
            stage,
        } => format!(
            "component {component} of {organisation} validated at stage {}",
            stage.get()
        ),
        AuditAction::ValidationStatusChanged {
            organisation,
            from,
            to,
        } => format!(
            "validation of {organisation} changed from {} to {}",
            from.as_str(),
            to.as_str()
        ),
        AuditAction::LinksRevoked {
            response,
            person,
            count,
        } => format!(
            "{count} personal link(s) of {person} to response {} revoked",
            response.id()
        ),
    }
}

fn areas_suffix(role: &Role) -> String {
    match role {
        Role::SeniorManager { outcome_areas } if !outcome_areas.is_empty() => {
            format!(" ({})", outcome_areas.join(", "))
        }
        _ => String::new(),
    }
}
