//! Administration over GraphQL: organisations, people, rounds and their lifecycle,
//! assignments, progress, the audit log, and reopening submitted responses.
//!
//! Transport only: each resolver checks access, converts input, calls
//! `service::admin` or `service::progress`, and converts the result. Access: an
//! administrator may do everything; a validator may read organisations, the rounds in
//! its scope (with their progress and audit log) and nothing else; people (whose email
//! addresses are personal data) are for administrators only. The bot and anonymous
//! callers get FORBIDDEN and UNAUTHENTICATED.
//!
//! The round lifecycle is one mutation, `setRoundStatus`, rather than one per
//! transition: the allowed moves are the service's rule, and a refused move is a
//! CONFLICT that changes nothing.

use async_graphql::{Context, Enum, InputObject, MaybeUndefined, Object, SimpleObject};

use super::error::{Code, GqlError};
use super::request;
use super::validation::ValidationStatus;
use crate::domain::{self, Actor, RoundId, Timestamp};
use crate::service::admin::{self as service, AdminError, RoleName};
use crate::service::progress;
use crate::store::{AuditAction as StoredAction, AuditEntry as StoredEntry};

impl From<AdminError> for GqlError {
    fn from(error: AdminError) -> Self {
        if let AdminError::Randomness(_) = &error {
            return Self::internal(&error);
        }
        match error {
            AdminError::Invalid(message) => Self::bad_input(message),
            AdminError::NotFound(message) => Self::not_found(message),
            AdminError::Conflict(message) => Self::new(Code::Conflict, message),
            AdminError::Access(access) => access.into(),
            AdminError::Store(store) => store.into(),
            AdminError::Randomness(_) => Self::new(Code::Internal, "internal error"),
        }
    }
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

pub(crate) fn actor_text(actor: &Actor) -> String {
    match actor {
        Actor::Person(person) => format!("person:{person}"),
        Actor::Token(token) => format!("token:{token}"),
        Actor::System => "system".to_owned(),
    }
}

// --- enums ---------------------------------------------------------------------------

/// Where a round is in its lifecycle: draft → open → closed → in validation →
/// validated; a closed round may be opened again.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoundStatus {
    /// Being prepared; nobody answers yet.
    Draft,
    /// Respondents answer.
    Open,
    /// Answering has ended.
    Closed,
    /// Validators are at work.
    InValidation,
    /// Validation is complete.
    Validated,
}

impl From<domain::RoundStatus> for RoundStatus {
    fn from(status: domain::RoundStatus) -> Self {
        match status {
            domain::RoundStatus::Draft => Self::Draft,
            domain::RoundStatus::Open => Self::Open,
            domain::RoundStatus::Closed => Self::Closed,
            domain::RoundStatus::InValidation => Self::InValidation,
            domain::RoundStatus::Validated => Self::Validated,
        }
    }
}

impl From<RoundStatus> for domain::RoundStatus {
    fn from(status: RoundStatus) -> Self {
        match status {
            RoundStatus::Draft => Self::Draft,
            RoundStatus::Open => Self::Open,
            RoundStatus::Closed => Self::Closed,
            RoundStatus::InValidation => Self::InValidation,
            RoundStatus::Validated => Self::Validated,
        }
    }
}

/// A person's role in a round for an organisation.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssignmentRole {
    /// Leads the organisation's self-assessment and edits its consolidated stage questionnaire.
    FocalPoint,
    /// Answers the outcome protocol for the outcome areas assigned to them.
    SeniorManager,
    /// Gives blind stage ratings.
    IndependentRater,
    /// Answers the learning questions of a real-time learning activity.
    LearningParticipant,
}

impl From<AssignmentRole> for RoleName {
    fn from(role: AssignmentRole) -> Self {
        match role {
            AssignmentRole::FocalPoint => Self::FocalPoint,
            AssignmentRole::SeniorManager => Self::SeniorManager,
            AssignmentRole::IndependentRater => Self::IndependentRater,
            AssignmentRole::LearningParticipant => Self::LearningParticipant,
        }
    }
}

impl From<&domain::Role> for AssignmentRole {
    fn from(role: &domain::Role) -> Self {
        match role {
            domain::Role::FocalPoint => Self::FocalPoint,
            domain::Role::SeniorManager { .. } => Self::SeniorManager,
            domain::Role::IndependentRater => Self::IndependentRater,
            domain::Role::LearningParticipant => Self::LearningParticipant,
        }
    }
}

fn outcome_areas_of(role: &domain::Role) -> Vec<String> {
    match role {
        domain::Role::SeniorManager { outcome_areas } => outcome_areas.clone(),
        _ => Vec::new(),
    }
}

/// How far a response (or an organisation's responses together) has got.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressStatus {
    /// Nothing has been recorded yet.
    NotStarted,
    /// Answers are recorded but not submitted (or the response was reopened).
    InProgress,
    /// Submitted.
    Submitted,
}

impl From<progress::ProgressStatus> for ProgressStatus {
    fn from(status: progress::ProgressStatus) -> Self {
        match status {
            progress::ProgressStatus::NotStarted => Self::NotStarted,
            progress::ProgressStatus::InProgress => Self::InProgress,
            progress::ProgressStatus::Submitted => Self::Submitted,
        }
    }
}

/// The kind of an administrative act in a round's audit log.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditAction {
    /// The round was created, in draft.
    RoundCreated,
    /// The round's status changed (see `fromStatus` and `toStatus`).
    StatusChanged,
    /// A submitted response was reopened (see `responseId` and `reason`).
    ResponseReopened,
    /// A person was assigned, or their assignment changed (see `organisationId`, `personId`, `role`, `outcomeAreas`).
    AssignmentAdded,
    /// An assignment was removed.
    AssignmentRemoved,
    /// An organisation was added to the round after its creation.
    OrganisationAdded,
    /// A validator recorded a component's validated stage (see `organisationId`, `componentId`, `stage`).
    ComponentValidated,
    /// An organisation's validation status changed: signed off, or back in validation (see `organisationId`, `fromValidationStatus`, `toValidationStatus`).
    ValidationStatusChanged,
    /// The personal links of one person's response were revoked (see `responseId`, `personId`, `count`).
    LinksRevoked,
}

// --- objects -------------------------------------------------------------------------

/// An organisation taking part in rounds.
#[derive(Debug, Clone)]
pub struct Organisation(pub domain::Organisation);

/// An organisation taking part in rounds.
#[Object]
impl Organisation {
    /// The organisation's slug, e.g. `ocr`.
    async fn id(&self) -> &str {
        self.0.id.as_str()
    }

    /// The full name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// The acronym, if it has one.
    async fn acronym(&self) -> Option<&str> {
        self.0.acronym.as_deref()
    }
}

/// A person: focal point, senior manager, rater or learning participant.
#[derive(Debug, Clone)]
pub struct Person(pub domain::Person);

/// A person: focal point, senior manager, rater or learning participant.
#[Object]
impl Person {
    /// The person's id, generated by the server (`p-<hex>`).
    async fn id(&self) -> &str {
        self.0.id.as_str()
    }

    /// The person's name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// The email address. Personal data: administrators only; anyone else gets a FORBIDDEN error for this field and null.
    async fn email(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<String>> {
        request(ctx)?
            .identity
            .require_admin()
            .map_err(GqlError::from)?;
        Ok(Some(self.0.email.to_string()))
    }

    /// Whether a Telegram chat is linked to this person.
    async fn telegram_linked(&self) -> bool {
        self.0.telegram_chat.is_some()
    }
}

/// A person assigned to a round for an organisation, with a role.
#[derive(Debug, Clone)]
pub struct Assignment(pub domain::Assignment);

/// A person assigned to a round for an organisation, with a role.
#[Object]
impl Assignment {
    /// The round's id.
    async fn round_id(&self) -> &str {
        self.0.round.as_str()
    }

    /// The organisation's id.
    async fn organisation_id(&self) -> &str {
        self.0.organisation.as_str()
    }

    /// The person's id.
    async fn person_id(&self) -> &str {
        self.0.person.as_str()
    }

    /// The role.
    async fn role(&self) -> AssignmentRole {
        (&self.0.role).into()
    }

    /// The outcome areas of a senior manager (ids of the outcome protocol, e.g. `qcpr-1`); empty for other roles.
    async fn outcome_areas(&self) -> Vec<String> {
        outcome_areas_of(&self.0.role)
    }

    /// The person, or null when their record is gone.
    async fn person(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Person>> {
        let state = &request(ctx)?.state;
        let person = state
            .store
            .person(&self.0.person)
            .await
            .map_err(GqlError::from)?;
        Ok(person.map(Person))
    }
}

/// An assessment cycle with its instruments, organisations, lifecycle and deadline.
#[derive(Debug, Clone)]
pub struct Round(pub domain::Round);

/// An assessment cycle with its instruments, organisations, lifecycle and deadline.
#[Object]
impl Round {
    /// The round's slug, e.g. `demo-2026`.
    async fn id(&self) -> &str {
        self.0.id.as_str()
    }

    /// The title.
    async fn title(&self) -> &str {
        &self.0.title
    }

    /// Where the round is in its lifecycle.
    async fn status(&self) -> RoundStatus {
        self.0.status.into()
    }

    /// When answering is due (RFC 3339, UTC), if a deadline is set.
    async fn deadline(&self) -> Option<String> {
        self.0.deadline.map(Timestamp::to_rfc3339)
    }

    /// The instrument versions the round uses, as `id@version`.
    async fn instruments(&self) -> Vec<String> {
        self.0.instruments.iter().map(ToString::to_string).collect()
    }

    /// The organisations taking part, in the order they were added.
    async fn organisations(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Organisation>> {
        let state = &request(ctx)?.state;
        let all = service::organisations(state.store.as_ref())
            .await
            .map_err(GqlError::from)?;
        Ok(self
            .0
            .organisations
            .iter()
            .filter_map(|id| all.iter().find(|o| &o.id == id).cloned())
            .map(Organisation)
            .collect())
    }

    /// The people assigned to the round, by organisation, person and role.
    async fn assignments(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Assignment>> {
        let state = &request(ctx)?.state;
        let assignments = state
            .store
            .assignments(&self.0.id)
            .await
            .map_err(GqlError::from)?;
        Ok(assignments.into_iter().map(Assignment).collect())
    }

    /// How far each organisation and each assigned person has got.
    async fn progress(&self, ctx: &Context<'_>) -> async_graphql::Result<RoundProgress> {
        let state = &request(ctx)?.state;
        let computed = progress::load(state.store.as_ref(), &state.catalogue, &self.0)
            .await
            .map_err(GqlError::from)?;
        Ok(computed.into())
    }

    /// The round's administrative acts, oldest first.
    async fn audit(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<AuditEntry>> {
        let state = &request(ctx)?.state;
        let entries = service::audit(state.store.as_ref(), &self.0.id)
            .await
            .map_err(GqlError::from)?;
        Ok(entries.iter().map(AuditEntry::from).collect())
    }
}

/// One administrative act of a round: who did what, when. Fields that do not apply to
/// the act are null (or empty).
#[derive(SimpleObject, Debug, Clone)]
pub struct AuditEntry {
    /// When (RFC 3339, UTC).
    pub at: String,
    /// Who: `token:<token id>` (an API token), `person:<person id>` or `system` (e.g. the demo loader).
    pub actor: String,
    /// What kind of act.
    pub action: AuditAction,
    /// The act in one line, e.g. `status changed from draft to open`.
    pub summary: String,
    /// The status before, for a status change.
    pub from_status: Option<RoundStatus>,
    /// The status after, for a status change.
    pub to_status: Option<RoundStatus>,
    /// The organisation concerned, for assignments, reopened responses and added organisations.
    pub organisation_id: Option<String>,
    /// The person concerned, for assignments and reopened per-person responses.
    pub person_id: Option<String>,
    /// The role, for assignments.
    pub role: Option<AssignmentRole>,
    /// The outcome areas of a senior manager's assignment.
    pub outcome_areas: Vec<String>,
    /// The response, for a reopened response.
    pub response_id: Option<String>,
    /// The reason given, for a reopened response.
    pub reason: Option<String>,
    /// The component, for a recorded validation, e.g. `2.3`.
    pub component_id: Option<String>,
    /// The validated stage, 1 to 5, for a recorded validation.
    pub stage: Option<i32>,
    /// The organisation's validation status before, for a validation status change.
    pub from_validation_status: Option<ValidationStatus>,
    /// The organisation's validation status after, for a validation status change.
    pub to_validation_status: Option<ValidationStatus>,
    /// How many links were revoked, for revoked links.
    pub count: Option<i32>,
}

impl From<&StoredEntry> for AuditEntry {
    fn from(entry: &StoredEntry) -> Self {
        let mut out = Self {
            at: entry.at.to_rfc3339(),
            actor: actor_text(&entry.actor),
            action: AuditAction::RoundCreated,
            summary: service::describe(&entry.action),
            from_status: None,
            to_status: None,
            organisation_id: None,
            person_id: None,
            role: None,
            outcome_areas: Vec::new(),
            response_id: None,
            reason: None,
            component_id: None,
            stage: None,
            from_validation_status: None,
            to_validation_status: None,
            count: None,
        };
        match &entry.action {
            StoredAction::RoundCreated => {}
            StoredAction::StatusChanged { from, to } => {
                out.action = AuditAction::StatusChanged;
                out.from_status = Some((*from).into());
                out.to_status = Some((*to).into());
            }
            StoredAction::ResponseReopened { response, reason } => {
                out.action = AuditAction::ResponseReopened;
                out.organisation_id = Some(response.organisation.to_string());
                if let domain::Respondent::Person(person) = &response.respondent {
                    out.person_id = Some(person.to_string());
                }
                out.response_id = Some(response.id().to_string());
                out.reason = Some(reason.clone());
            }
            StoredAction::AssignmentAdded {
                organisation,
                person,
                role,
            }
            | StoredAction::AssignmentRemoved {
                organisation,
                person,
                role,
            } => {
                out.action = if matches!(entry.action, StoredAction::AssignmentAdded { .. }) {
                    AuditAction::AssignmentAdded
                } else {
                    AuditAction::AssignmentRemoved
                };
                out.organisation_id = Some(organisation.to_string());
                out.person_id = Some(person.to_string());
                out.role = Some(role.into());
                out.outcome_areas = outcome_areas_of(role);
            }
            StoredAction::OrganisationAdded { organisation } => {
                out.action = AuditAction::OrganisationAdded;
                out.organisation_id = Some(organisation.to_string());
            }
            StoredAction::ComponentValidated {
                organisation,
                component,
                stage,
            } => {
                out.action = AuditAction::ComponentValidated;
                out.organisation_id = Some(organisation.to_string());
                out.component_id = Some(component.clone());
                out.stage = Some(i32::from(stage.get()));
            }
            StoredAction::ValidationStatusChanged {
                organisation,
                from,
                to,
            } => {
                out.action = AuditAction::ValidationStatusChanged;
                out.organisation_id = Some(organisation.to_string());
                out.from_validation_status = Some((*from).into());
                out.to_validation_status = Some((*to).into());
            }
            StoredAction::LinksRevoked {
                response,
                person,
                count,
            } => {
                out.action = AuditAction::LinksRevoked;
                out.organisation_id = Some(response.organisation.to_string());
                out.person_id = Some(person.to_string());
                out.response_id = Some(response.id().to_string());
                out.count = Some(i32::try_from(*count).unwrap_or(i32::MAX));
            }
        }
        out
    }
}

/// Progress of a round.
#[derive(SimpleObject, Debug, Clone)]
pub struct RoundProgress {
    /// Per organisation, in the round's order.
    pub organisations: Vec<OrganisationProgress>,
    /// Per assigned person, by id: the responses they answer or edit.
    pub people: Vec<PersonProgress>,
}

impl From<progress::RoundProgress> for RoundProgress {
    fn from(p: progress::RoundProgress) -> Self {
        Self {
            organisations: p
                .organisations
                .into_iter()
                .map(|o| OrganisationProgress {
                    organisation_id: o.organisation.to_string(),
                    status: o.status.into(),
                    answered: count(o.responses.iter().map(|r| r.answered).sum()),
                    total: count(o.responses.iter().map(|r| r.total).sum()),
                    responses: o.responses.into_iter().map(Into::into).collect(),
                    ratings: o.ratings.into_iter().map(Into::into).collect(),
                })
                .collect(),
            people: p
                .people
                .into_iter()
                .map(|person| PersonProgress {
                    person_id: person.person.to_string(),
                    responses: person.responses.into_iter().map(Into::into).collect(),
                })
                .collect(),
        }
    }
}

/// Progress of one organisation in a round.
#[derive(SimpleObject, Debug, Clone)]
pub struct OrganisationProgress {
    /// The organisation's id.
    pub organisation_id: String,
    /// NOT_STARTED when none of its responses is started, SUBMITTED when all are submitted, IN_PROGRESS otherwise. Independent raters' ratings do not count.
    pub status: ProgressStatus,
    /// Required questions answered, over all its responses (not the ratings).
    pub answered: i32,
    /// Required questions, over all its responses (not the ratings).
    pub total: i32,
    /// Its responses: the consolidated stage questionnaire, then one per senior manager (outcome protocol) or learning participant (learning sets).
    pub responses: Vec<RoundResponseProgress>,
    /// Independent raters' blind ratings of its stage questionnaire, one per rater (`personId` set); kept apart from `responses`.
    pub ratings: Vec<RoundResponseProgress>,
}

/// Progress of one person's assigned responses.
#[derive(SimpleObject, Debug, Clone)]
pub struct PersonProgress {
    /// The person's id.
    pub person_id: String,
    /// The responses they answer (as an independent rater: their own rating) or, as a focal point, edit, in the order of their assignments (by organisation id).
    pub responses: Vec<RoundResponseProgress>,
}

/// Progress of one response of a round, for administrators and validators.
#[derive(SimpleObject, Debug, Clone)]
pub struct RoundResponseProgress {
    /// The response's id: `<round>/<organisation>/<instrument>@<version>[/~<person>]`.
    pub response_id: String,
    /// The instrument version, `id@version`.
    pub instrument: String,
    /// The organisation's id.
    pub organisation_id: String,
    /// The respondent's id for a per-person response; null for an organisation's consolidated response.
    pub person_id: Option<String>,
    /// How far it is.
    pub status: ProgressStatus,
    /// Required questions answered (for a senior manager: of part 1 and their outcome areas).
    pub answered: i32,
    /// Required questions.
    pub total: i32,
    /// For the stage questionnaire, required questions per pillar; empty otherwise.
    pub pillars: Vec<PillarProgress>,
    /// When it last changed (RFC 3339, UTC); null when not started.
    pub last_activity_at: Option<String>,
}

impl From<progress::ResponseProgress> for RoundResponseProgress {
    fn from(r: progress::ResponseProgress) -> Self {
        Self {
            response_id: r.key.id().to_string(),
            instrument: r.key.instrument.to_string(),
            organisation_id: r.key.organisation.to_string(),
            person_id: match &r.key.respondent {
                domain::Respondent::Person(person) => Some(person.to_string()),
                domain::Respondent::Organisation => None,
            },
            status: r.status.into(),
            answered: count(r.answered),
            total: count(r.total),
            pillars: r
                .pillars
                .into_iter()
                .map(|p| PillarProgress {
                    number: i32::from(p.number),
                    name: p.name,
                    answered: count(p.answered),
                    total: count(p.total),
                })
                .collect(),
            last_activity_at: r.last_activity.map(Timestamp::to_rfc3339),
        }
    }
}

/// Required questions of one pillar of the stage questionnaire.
#[derive(SimpleObject, Debug, Clone)]
pub struct PillarProgress {
    /// The pillar's number, from 1.
    pub number: i32,
    /// The pillar's name.
    pub name: String,
    /// Required questions answered.
    pub answered: i32,
    /// Required questions (stage, rationale and evidence of each component).
    pub total: i32,
}

// --- queries -------------------------------------------------------------------------

/// The administration part of `Query`.
#[derive(Debug, Default)]
pub struct AdminQuery;

#[Object]
impl AdminQuery {
    /// Every organisation, by id. Administrators and validators.
    async fn organisations(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Organisation>> {
        let request = request(ctx)?;
        service::require_directory_reader(&request.identity).map_err(GqlError::from)?;
        let organisations = service::organisations(request.state.store.as_ref())
            .await
            .map_err(GqlError::from)?;
        Ok(organisations.into_iter().map(Organisation).collect())
    }

    /// One organisation, or null when there is none with this id. Administrators and validators.
    async fn organisation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The organisation's slug, e.g. `ocr`.")] id: String,
    ) -> async_graphql::Result<Option<Organisation>> {
        let request = request(ctx)?;
        service::require_directory_reader(&request.identity).map_err(GqlError::from)?;
        let organisation = service::organisation(request.state.store.as_ref(), &id)
            .await
            .map_err(GqlError::from)?;
        Ok(organisation.map(Organisation))
    }

    /// Every person, by id. Administrators only (email addresses are personal data).
    async fn people(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Person>> {
        let request = request(ctx)?;
        request.identity.require_admin().map_err(GqlError::from)?;
        let people = service::persons(request.state.store.as_ref())
            .await
            .map_err(GqlError::from)?;
        Ok(people.into_iter().map(Person).collect())
    }

    /// One person, or null when there is none with this id. Administrators only.
    async fn person(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The person's id, e.g. `p-3f9a2c1b0d4e`.")] id: String,
    ) -> async_graphql::Result<Option<Person>> {
        let request = request(ctx)?;
        request.identity.require_admin().map_err(GqlError::from)?;
        let person = service::person(request.state.store.as_ref(), &id)
            .await
            .map_err(GqlError::from)?;
        Ok(person.map(Person))
    }

    /// The rounds the caller may read, by id: every round for an administrator, the rounds in scope for a validator.
    async fn rounds(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Round>> {
        let request = request(ctx)?;
        let rounds = service::visible_rounds(request.state.store.as_ref(), &request.identity)
            .await
            .map_err(GqlError::from)?;
        Ok(rounds.into_iter().map(Round).collect())
    }

    /// One round, or null when there is none with this id. Administrators, and validators with the round in scope (FORBIDDEN otherwise).
    async fn round(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The round's slug, e.g. `demo-2026`.")] id: String,
    ) -> async_graphql::Result<Option<Round>> {
        let request = request(ctx)?;
        request.identity.require_any().map_err(GqlError::from)?;
        let id = RoundId::parse(id.trim()).map_err(GqlError::from)?;
        request
            .identity
            .require_round_reader(&id)
            .map_err(GqlError::from)?;
        let round = service::round(request.state.store.as_ref(), &id)
            .await
            .map_err(GqlError::from)?;
        Ok(round.map(Round))
    }
}

// --- mutations -----------------------------------------------------------------------

/// A new organisation.
#[derive(InputObject, Debug)]
pub struct CreateOrganisationInput {
    /// A slug of lowercase letters, digits and single inner hyphens, e.g. `ocr`; it cannot change later.
    pub id: String,
    /// The full name (at most 200 characters).
    pub name: String,
    /// The acronym (at most 20 characters).
    pub acronym: Option<String>,
}

/// The organisation created.
#[derive(SimpleObject, Debug)]
pub struct CreateOrganisationPayload {
    /// The organisation.
    pub organisation: Organisation,
}

/// Changes to an organisation; omitted fields keep their value.
#[derive(InputObject, Debug)]
pub struct UpdateOrganisationInput {
    /// The organisation's slug.
    pub id: String,
    /// A new full name.
    pub name: Option<String>,
    /// A new acronym; null removes it.
    pub acronym: MaybeUndefined<String>,
}

/// The organisation as changed.
#[derive(SimpleObject, Debug)]
pub struct UpdateOrganisationPayload {
    /// The organisation.
    pub organisation: Organisation,
}

/// A new person; the server generates the id.
#[derive(InputObject, Debug)]
pub struct CreatePersonInput {
    /// The person's name (at most 200 characters).
    pub name: String,
    /// The email address; no two people share one.
    pub email: String,
}

/// The person created.
#[derive(SimpleObject, Debug)]
pub struct CreatePersonPayload {
    /// The person, with their new id.
    pub person: Person,
}

/// Changes to a person; omitted fields keep their value.
#[derive(InputObject, Debug)]
pub struct UpdatePersonInput {
    /// The person's id.
    pub id: String,
    /// A new name.
    pub name: Option<String>,
    /// A new email address.
    pub email: Option<String>,
}

/// The person as changed.
#[derive(SimpleObject, Debug)]
pub struct UpdatePersonPayload {
    /// The person.
    pub person: Person,
}

/// A new round; it starts in draft.
#[derive(InputObject, Debug)]
pub struct CreateRoundInput {
    /// A slug, e.g. `jiu-rbm-2026`; it cannot change later.
    pub id: String,
    /// The title, e.g. `JIU RBM 2026`.
    pub title: String,
    /// The instrument versions, as `id@version` (e.g. `jiu-rbm-stages@1`); each must be in the catalogue, one version per instrument.
    pub instruments: Vec<String>,
    /// The ids of the organisations taking part; each must exist.
    pub organisation_ids: Vec<String>,
    /// When answering is due, RFC 3339 (e.g. `2026-03-31T23:59:00Z`).
    pub deadline: Option<String>,
}

/// The round created.
#[derive(SimpleObject, Debug)]
pub struct CreateRoundPayload {
    /// The round, in draft.
    pub round: Round,
}

/// A move of a round in its lifecycle.
#[derive(InputObject, Debug)]
pub struct SetRoundStatusInput {
    /// The round's id.
    pub round_id: String,
    /// The status to move to: OPEN (from draft, or again from closed), CLOSED (from open), IN_VALIDATION (from closed) or VALIDATED (from in validation). Any other move is a CONFLICT and changes nothing.
    pub status: RoundStatus,
}

/// The round after the move.
#[derive(SimpleObject, Debug)]
pub struct SetRoundStatusPayload {
    /// The round.
    pub round: Round,
    /// The status it had before.
    pub previous_status: RoundStatus,
}

/// An organisation joining a round in draft or open.
#[derive(InputObject, Debug)]
pub struct AddRoundOrganisationInput {
    /// The round's id.
    pub round_id: String,
    /// The organisation's id.
    pub organisation_id: String,
}

/// The round with the organisation added.
#[derive(SimpleObject, Debug)]
pub struct AddRoundOrganisationPayload {
    /// The round.
    pub round: Round,
}

/// A person's assignment to a round for an organisation.
#[derive(InputObject, Debug)]
pub struct AssignInput {
    /// The round's id.
    pub round_id: String,
    /// The organisation's id; it must take part in the round.
    pub organisation_id: String,
    /// The person's id.
    pub person_id: String,
    /// The role.
    pub role: AssignmentRole,
    /// For a senior manager: at least one outcome area of the round's outcome protocol (e.g. `qcpr-1`). Other roles take none.
    #[graphql(default)]
    pub outcome_areas: Vec<String>,
}

/// The assignment as stored.
#[derive(SimpleObject, Debug)]
pub struct AssignPayload {
    /// The assignment.
    pub assignment: Assignment,
    /// False when the same assignment existed already (nothing changed, nothing was logged).
    pub changed: bool,
}

/// An assignment to remove.
#[derive(InputObject, Debug)]
pub struct UnassignInput {
    /// The round's id.
    pub round_id: String,
    /// The organisation's id.
    pub organisation_id: String,
    /// The person's id.
    pub person_id: String,
    /// The role to remove.
    pub role: AssignmentRole,
}

/// The assignment removed.
#[derive(SimpleObject, Debug)]
pub struct UnassignPayload {
    /// The assignment as it was.
    pub assignment: Assignment,
}

/// A submitted response to reopen.
#[derive(InputObject, Debug)]
pub struct ReopenResponseInput {
    /// The round's id.
    pub round_id: String,
    /// The organisation's id.
    pub organisation_id: String,
    /// The instrument version, `id@version`, e.g. `jiu-rbm-stages@1`.
    pub instrument: String,
    /// The respondent, for a per-person instrument (e.g. the outcome protocol); omit for an organisation's consolidated response.
    pub person_id: Option<String>,
    /// Why it is reopened (at most 500 characters); kept in the response's history and the round's audit log.
    pub reason: String,
    /// A key that makes retries safe: the same key and request reopen once. Generated when omitted.
    pub idempotency_key: Option<String>,
}

/// The reopened response.
#[derive(SimpleObject, Debug)]
pub struct ReopenResponsePayload {
    /// The response's id.
    pub response_id: String,
    /// The seq of the reopened event in the response's history.
    pub seq: i32,
    /// True when this idempotency key had reopened it before, so nothing new happened.
    pub replayed: bool,
}

/// The administration part of `Mutation`. Administrators only.
#[derive(Debug, Default)]
pub struct AdminMutation;

fn admin_actor(ctx: &Context<'_>) -> async_graphql::Result<Actor> {
    let token = request(ctx)?
        .identity
        .require_admin()
        .map_err(GqlError::from)?;
    Ok(Actor::Token(token))
}

#[Object]
impl AdminMutation {
    /// Creates an organisation. CONFLICT when the id is taken.
    async fn create_organisation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The organisation.")] input: CreateOrganisationInput,
    ) -> async_graphql::Result<CreateOrganisationPayload> {
        admin_actor(ctx)?;
        let state = &request(ctx)?.state;
        let organisation = service::create_organisation(
            state.store.as_ref(),
            &input.id,
            &input.name,
            input.acronym.as_deref(),
        )
        .await
        .map_err(GqlError::from)?;
        Ok(CreateOrganisationPayload {
            organisation: Organisation(organisation),
        })
    }

    /// Changes an organisation's name or acronym. NOT_FOUND for an unknown id.
    async fn update_organisation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The changes.")] input: UpdateOrganisationInput,
    ) -> async_graphql::Result<UpdateOrganisationPayload> {
        admin_actor(ctx)?;
        let state = &request(ctx)?.state;
        let acronym = match &input.acronym {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Value(acronym) => Some(Some(acronym.as_str())),
        };
        let organisation = service::update_organisation(
            state.store.as_ref(),
            &input.id,
            input.name.as_deref(),
            acronym,
        )
        .await
        .map_err(GqlError::from)?;
        Ok(UpdateOrganisationPayload {
            organisation: Organisation(organisation),
        })
    }

    /// Creates a person with a generated id. CONFLICT when another person has the email address.
    async fn create_person(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The person.")] input: CreatePersonInput,
    ) -> async_graphql::Result<CreatePersonPayload> {
        admin_actor(ctx)?;
        let state = &request(ctx)?.state;
        let person = service::create_person(state.store.as_ref(), &input.name, &input.email)
            .await
            .map_err(GqlError::from)?;
        Ok(CreatePersonPayload {
            person: Person(person),
        })
    }

    /// Changes a person's name or email address. NOT_FOUND for an unknown id.
    async fn update_person(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The changes.")] input: UpdatePersonInput,
    ) -> async_graphql::Result<UpdatePersonPayload> {
        admin_actor(ctx)?;
        let state = &request(ctx)?.state;
        let person = service::update_person(
            state.store.as_ref(),
            &input.id,
            input.name.as_deref(),
            input.email.as_deref(),
        )
        .await
        .map_err(GqlError::from)?;
        Ok(UpdatePersonPayload {
            person: Person(person),
        })
    }

    /// Creates a round in draft and logs it. BAD_USER_INPUT lists every problem (unknown instruments or organisations included) and creates nothing; CONFLICT when the id is taken.
    async fn create_round(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The round.")] input: CreateRoundInput,
    ) -> async_graphql::Result<CreateRoundPayload> {
        let actor = admin_actor(ctx)?;
        let state = &request(ctx)?.state;
        let round = service::create_round(
            state.store.as_ref(),
            &state.catalogue,
            &actor,
            Timestamp::now(),
            service::NewRound {
                id: input.id,
                title: input.title,
                instruments: input.instruments,
                organisations: input.organisation_ids,
                deadline: input.deadline,
            },
        )
        .await
        .map_err(GqlError::from)?;
        Ok(CreateRoundPayload {
            round: Round(round),
        })
    }

    /// Moves a round in its lifecycle (open, close, open again after closing, start validation, validated), logs the move and publishes it to `roundEvents` subscribers. CONFLICT for a move the lifecycle does not allow; nothing changes.
    async fn set_round_status(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The round and the status to move to.")] input: SetRoundStatusInput,
    ) -> async_graphql::Result<SetRoundStatusPayload> {
        let actor = admin_actor(ctx)?;
        let state = &request(ctx)?.state;
        let (round, previous) = service::set_round_status(
            state.store.as_ref(),
            state.events.as_ref(),
            &actor,
            Timestamp::now(),
            &input.round_id,
            input.status.into(),
        )
        .await
        .map_err(GqlError::from)?;
        Ok(SetRoundStatusPayload {
            round: Round(round),
            previous_status: previous.into(),
        })
    }

    /// Adds an organisation to a round in draft or open, and logs it.
    async fn add_round_organisation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The round and the organisation.")] input: AddRoundOrganisationInput,
    ) -> async_graphql::Result<AddRoundOrganisationPayload> {
        let actor = admin_actor(ctx)?;
        let state = &request(ctx)?.state;
        let round = service::add_round_organisation(
            state.store.as_ref(),
            &actor,
            Timestamp::now(),
            &input.round_id,
            &input.organisation_id,
        )
        .await
        .map_err(GqlError::from)?;
        Ok(AddRoundOrganisationPayload {
            round: Round(round),
        })
    }

    /// Assigns a person to a round for an organisation with a role, and logs it. Assigning the same role again replaces a senior manager's outcome areas.
    async fn assign(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The assignment.")] input: AssignInput,
    ) -> async_graphql::Result<AssignPayload> {
        let actor = admin_actor(ctx)?;
        let state = &request(ctx)?.state;
        let (assignment, changed) = service::assign(
            state.store.as_ref(),
            &state.catalogue,
            &actor,
            Timestamp::now(),
            service::NewAssignment {
                round: input.round_id,
                organisation: input.organisation_id,
                person: input.person_id,
                role: input.role.into(),
                outcome_areas: input.outcome_areas,
            },
        )
        .await
        .map_err(GqlError::from)?;
        Ok(AssignPayload {
            assignment: Assignment(assignment),
            changed,
        })
    }

    /// Removes an assignment and logs it. NOT_FOUND when there is no such assignment.
    async fn unassign(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The assignment.")] input: UnassignInput,
    ) -> async_graphql::Result<UnassignPayload> {
        let actor = admin_actor(ctx)?;
        let state = &request(ctx)?.state;
        let assignment = service::unassign(
            state.store.as_ref(),
            &actor,
            Timestamp::now(),
            &input.round_id,
            &input.organisation_id,
            &input.person_id,
            input.role.into(),
        )
        .await
        .map_err(GqlError::from)?;
        Ok(UnassignPayload {
            assignment: Assignment(assignment),
        })
    }

    /// Reopens a submitted response so that it takes answers again; the reason goes into the response's history and the round's audit log, and `roundEvents` subscribers are told. NOT_FOUND for a response nobody started; CONFLICT when it is not submitted.
    async fn reopen_response(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The response and the reason.")] input: ReopenResponseInput,
    ) -> async_graphql::Result<ReopenResponsePayload> {
        let actor = admin_actor(ctx)?;
        let state = &request(ctx)?.state;
        let (key, receipt) = service::reopen_response(
            state.store.as_ref(),
            &state.catalogue,
            state.events.as_ref(),
            &actor,
            Timestamp::now(),
            service::ReopenRequest {
                round: input.round_id,
                organisation: input.organisation_id,
                instrument: input.instrument,
                person: input.person_id,
                reason: input.reason,
                idempotency_key: input.idempotency_key,
            },
        )
        .await
        .map_err(GqlError::from)?;
        let seq = receipt.events.last().map_or(0, |event| event.seq);
        Ok(ReopenResponsePayload {
            response_id: key.id().to_string(),
            seq: i32::try_from(seq).unwrap_or(i32::MAX),
            replayed: receipt.replayed,
        })
    }
}
