//! The validator's workflow over GraphQL: reading an organisation's validation, recording
//! a component's validated stage, and moving the organisation's validation status (the
//! sign-off).
//!
//! Transport only: the rules are `service::validation`'s. Access: administrators, and
//! validators with the round in scope (FORBIDDEN otherwise, UNAUTHENTICATED without a
//! token). Refusals change nothing: BAD_USER_INPUT lists every problem in
//! `extensions.details`, CONFLICT when the round is not in validation, the organisation
//! is signed off, or (at sign-off) components lack a validated stage (listed in
//! `extensions.details`).

use async_graphql::{Context, Enum, InputObject, Object, SimpleObject};

use super::admin::actor_text;
use super::error::{Code, GqlError};
use super::request;
use crate::domain::{self, Timestamp, ValidationSubject};
use crate::profile::{ComponentValidation as PureComponentValidation, ValidationState};
use crate::service::validation::{self as service, Judgement, StatusChange, ValidationError};

impl From<ValidationError> for GqlError {
    fn from(error: ValidationError) -> Self {
        match error {
            ValidationError::Invalid(problems) => {
                let message = match problems.as_slice() {
                    [one] => format!("{one}; nothing was recorded"),
                    _ => format!(
                        "{} problems with the validation; nothing was recorded",
                        problems.len()
                    ),
                };
                Self::bad_input(message).with_details(problems)
            }
            ValidationError::NotFound(message) => Self::not_found(message),
            ValidationError::Conflict { message, details } => {
                Self::new(Code::Conflict, message).with_details(details)
            }
            ValidationError::Access(access) => access.into(),
            ValidationError::Store(store) => store.into(),
        }
    }
}

/// How far an organisation's validation has got.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValidationStatus {
    /// Nothing recorded yet.
    NotStarted,
    /// Validators are recording judgements (or a sign-off was withdrawn).
    InValidation,
    /// A validator signed the organisation's validation off.
    Validated,
}

impl From<domain::ValidationStatus> for ValidationStatus {
    fn from(status: domain::ValidationStatus) -> Self {
        match status {
            domain::ValidationStatus::NotStarted => Self::NotStarted,
            domain::ValidationStatus::InValidation => Self::InValidation,
            domain::ValidationStatus::Validated => Self::Validated,
        }
    }
}

impl From<ValidationStatus> for domain::ValidationStatus {
    fn from(status: ValidationStatus) -> Self {
        match status {
            ValidationStatus::NotStarted => Self::NotStarted,
            ValidationStatus::InValidation => Self::InValidation,
            ValidationStatus::Validated => Self::Validated,
        }
    }
}

/// Who recorded a validation.
#[derive(SimpleObject, Debug, Clone)]
pub struct ValidatorRef {
    /// The actor: `token:<token id>` for a validator's or administrator's API token.
    pub actor: String,
    /// The token's label, e.g. `JIU inspection team`.
    pub label: String,
}

impl From<&domain::Validator> for ValidatorRef {
    fn from(validator: &domain::Validator) -> Self {
        Self {
            actor: actor_text(&validator.actor),
            label: validator.label.clone(),
        }
    }
}

/// A validator's judgement of one component.
#[derive(SimpleObject, Debug, Clone)]
pub struct ComponentValidation {
    /// The component, e.g. `2.3`.
    pub component_id: String,
    /// The validated stage, 1 to 5.
    pub stage: i32,
    /// The validator's note.
    pub note: String,
    /// The evidence the validator reviewed.
    pub evidence_reviewed: Vec<String>,
    /// Who recorded it.
    pub validator: ValidatorRef,
    /// When (RFC 3339, UTC).
    pub at: String,
}

impl From<&PureComponentValidation> for ComponentValidation {
    fn from(c: &PureComponentValidation) -> Self {
        Self {
            component_id: c.component.clone(),
            stage: i32::from(c.stage.get()),
            note: c.note.clone(),
            evidence_reviewed: c.evidence_reviewed.clone(),
            validator: (&c.validator).into(),
            at: c.at.to_rfc3339(),
        }
    }
}

/// The sign-off of an organisation's validation.
#[derive(SimpleObject, Debug, Clone)]
pub struct ValidationSignOff {
    /// Who signed off.
    pub validator: ValidatorRef,
    /// The note given with it.
    pub note: String,
    /// When (RFC 3339, UTC).
    pub at: String,
}

/// One validation record as kept (records are never replaced): a component judgement
/// or a status change.
#[derive(SimpleObject, Debug, Clone)]
pub struct ValidationRecordEntry {
    /// The component judged; null for a status change.
    pub component_id: Option<String>,
    /// The validated stage; null for a status change.
    pub stage: Option<i32>,
    /// The status moved to; null for a component judgement.
    pub status: Option<ValidationStatus>,
    /// The evidence reviewed (component judgements).
    pub evidence_reviewed: Vec<String>,
    /// The validator's note.
    pub note: String,
    /// Who recorded it.
    pub validator: ValidatorRef,
    /// When (RFC 3339, UTC).
    pub at: String,
}

impl From<&domain::ValidationRecord> for ValidationRecordEntry {
    fn from(record: &domain::ValidationRecord) -> Self {
        let (component_id, stage, status, evidence_reviewed) = match &record.subject {
            ValidationSubject::Component {
                component,
                stage,
                evidence_reviewed,
            } => (
                Some(component.clone()),
                Some(i32::from(stage.get())),
                None,
                evidence_reviewed.clone(),
            ),
            ValidationSubject::Status(status) => (None, None, Some((*status).into()), Vec::new()),
        };
        Self {
            component_id,
            stage,
            status,
            evidence_reviewed,
            note: record.note.clone(),
            validator: (&record.validator).into(),
            at: record.at.to_rfc3339(),
        }
    }
}

/// An organisation's validation in a round.
#[derive(SimpleObject, Debug, Clone)]
pub struct OrganisationValidation {
    /// The round.
    pub round_id: String,
    /// The organisation.
    pub organisation_id: String,
    /// How far it has got.
    pub status: ValidationStatus,
    /// The sign-off in force; null unless `status` is VALIDATED.
    pub sign_off: Option<ValidationSignOff>,
    /// The latest judgement per component, by component id.
    pub components: Vec<ComponentValidation>,
    /// Every record, oldest first (the audit trail).
    pub records: Vec<ValidationRecordEntry>,
}

impl OrganisationValidation {
    fn new(
        round: &str,
        organisation: &str,
        state: &ValidationState,
        records: &[domain::ValidationRecord],
    ) -> Self {
        Self {
            round_id: round.to_owned(),
            organisation_id: organisation.to_owned(),
            status: state.status.into(),
            sign_off: state.sign_off.as_ref().map(|s| ValidationSignOff {
                validator: (&s.validator).into(),
                note: s.note.clone(),
                at: s.at.to_rfc3339(),
            }),
            components: state
                .components
                .values()
                .map(ComponentValidation::from)
                .collect(),
            records: records.iter().map(ValidationRecordEntry::from).collect(),
        }
    }
}

/// A validator's judgement of one component.
#[derive(InputObject, Debug, Clone)]
pub struct RecordValidationInput {
    /// The round's slug; the round must be in validation.
    pub round_id: String,
    /// The organisation's slug.
    pub organisation_id: String,
    /// The component, e.g. `2.3`.
    pub component_id: String,
    /// The validated stage, 1 to 5.
    pub stage: i32,
    /// The validator's note: why this stage (at most 10,000 characters; may be empty).
    #[graphql(default)]
    pub note: String,
    /// The evidence reviewed: documents read, people interviewed (at most 50 items of at most 500 characters).
    #[graphql(default)]
    pub evidence_reviewed: Vec<String>,
}

/// The judgement recorded.
#[derive(SimpleObject, Debug, Clone)]
pub struct RecordValidationPayload {
    /// The judgement as recorded.
    pub validation: ComponentValidation,
}

/// A change of an organisation's validation status.
#[derive(InputObject, Debug, Clone)]
pub struct SetValidationStatusInput {
    /// The round's slug; the round must be in validation.
    pub round_id: String,
    /// The organisation's slug.
    pub organisation_id: String,
    /// VALIDATED signs off (every component needs a validated stage); IN_VALIDATION starts the validation or withdraws a sign-off. NOT_STARTED is refused.
    pub status: ValidationStatus,
    /// The validator's note (at most 10,000 characters; may be empty).
    #[graphql(default)]
    pub note: String,
}

/// The status change recorded.
#[derive(SimpleObject, Debug, Clone)]
pub struct SetValidationStatusPayload {
    /// The status now.
    pub status: ValidationStatus,
    /// The status before.
    pub previous_status: ValidationStatus,
    /// Who recorded it.
    pub validator: ValidatorRef,
    /// When (RFC 3339, UTC).
    pub at: String,
}

/// The validation part of `Query`.
#[derive(Debug, Default)]
pub struct ValidationQuery;

#[Object]
impl ValidationQuery {
    /// An organisation's validation in a round: status, sign-off, the latest judgement per component and every record. Administrators, and validators with the round in scope; NOT_FOUND for an unknown round or an organisation not in it.
    async fn validation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The round's slug.")] round_id: String,
        #[graphql(desc = "The organisation's slug.")] organisation_id: String,
    ) -> async_graphql::Result<OrganisationValidation> {
        let request = request(ctx)?;
        let (state, records) = service::validation(
            request.state.store.as_ref(),
            &request.identity,
            &round_id,
            &organisation_id,
        )
        .await
        .map_err(GqlError::from)?;
        Ok(OrganisationValidation::new(
            round_id.trim(),
            organisation_id.trim(),
            &state,
            &records,
        ))
    }
}

/// The validation part of `Mutation`.
#[derive(Debug, Default)]
pub struct ValidationMutation;

#[Object]
impl ValidationMutation {
    /// Records a validator's judgement of one component (validated stage, note, evidence reviewed) and appends it to the round's audit log. The latest judgement of a component counts; earlier ones stay in the record. Administrators, and validators with the round in scope; BAD_USER_INPUT (unknown component, stage outside 1 to 5, texts too long; all listed), NOT_FOUND, or CONFLICT (round not in validation, organisation signed off) record nothing.
    async fn record_validation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The judgement.")] input: RecordValidationInput,
    ) -> async_graphql::Result<RecordValidationPayload> {
        let request = request(ctx)?;
        let state = &request.state;
        let record = service::record_component(
            state.store.as_ref(),
            &state.catalogue,
            &request.identity,
            Timestamp::now(),
            &input.round_id,
            &input.organisation_id,
            &Judgement {
                component: input.component_id,
                stage: i64::from(input.stage),
                note: input.note,
                evidence_reviewed: input.evidence_reviewed,
            },
        )
        .await
        .map_err(GqlError::from)?;
        let ValidationSubject::Component {
            component,
            stage,
            evidence_reviewed,
        } = &record.subject
        else {
            return Err(GqlError::new(Code::Internal, "internal error").into());
        };
        Ok(RecordValidationPayload {
            validation: ComponentValidation {
                component_id: component.clone(),
                stage: i32::from(stage.get()),
                note: record.note.clone(),
                evidence_reviewed: evidence_reviewed.clone(),
                validator: (&record.validator).into(),
                at: record.at.to_rfc3339(),
            },
        })
    }

    /// Moves an organisation's validation status and appends it to the round's audit log: VALIDATED is the sign-off (CONFLICT listing the components without a validated stage, if any); IN_VALIDATION starts the validation or withdraws a sign-off. A round becomes VALIDATED only once every organisation is signed off. Same access and refusals as `recordValidation`.
    async fn set_validation_status(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The organisation and the status to move to.")]
        input: SetValidationStatusInput,
    ) -> async_graphql::Result<SetValidationStatusPayload> {
        let request = request(ctx)?;
        let state = &request.state;
        let (record, previous) = service::set_status(
            state.store.as_ref(),
            &state.catalogue,
            &request.identity,
            Timestamp::now(),
            &input.round_id,
            &input.organisation_id,
            &StatusChange {
                status: input.status.into(),
                note: input.note,
            },
        )
        .await
        .map_err(GqlError::from)?;
        Ok(SetValidationStatusPayload {
            status: input.status,
            previous_status: previous.into(),
            validator: (&record.validator).into(),
            at: record.at.to_rfc3339(),
        })
    }
}
