//! The validator's workflow: per component a validated stage with a note and the evidence
//! reviewed, and per organisation a validation status (in validation → validated, the
//! sign-off). Validators with the round in scope and administrators record; every record
//! is kept (the store never replaces one) and appended to the round's audit log with who
//! and when.
//!
//! Order of checks, so that nothing is written on a refusal and nobody learns more than
//! they may: who asks (a validator out of scope is refused before the round is looked
//! up), the round and organisation, the input (every problem at once), then the state
//! (the round must be in validation; a signed-off organisation takes no judgement until
//! it is put back in validation). Like the administrative acts, a record and its audit
//! entry are two writes: a crash between them loses the entry, never the record.

use crate::catalogue::Catalogue;
use crate::catalogue::model::StageQuestionnaire;
use crate::domain::answer::parse_text;
use crate::domain::{
    MAX_LIST_ITEMS, MAX_SHORT_TEXT_CHARS, MAX_TEXT_CHARS, OrganisationId, Round, RoundId,
    RoundStatus, Stage, Timestamp, ValidationRecord, ValidationStatus, ValidationSubject,
    ValueError,
};
use crate::profile::{Instruments, ValidationState};
use crate::service::access::{AccessError, Identity};
use crate::store::{AuditAction, AuditEntry, Store, StoreError};

/// Why a validation request was refused. Nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum ValidationError {
    /// The input is invalid; every problem is listed.
    #[error("the validation is invalid; nothing was recorded")]
    Invalid(Vec<String>),
    /// The round does not exist, or the organisation does not take part in it.
    #[error("{0}")]
    NotFound(String),
    /// The round or the organisation's validation is not in a state that takes this.
    #[error("{message}")]
    Conflict {
        /// Why.
        message: String,
        /// What is missing, when something is (e.g. components without a validated
        /// stage at sign-off).
        details: Vec<String>,
    },
    /// The caller may not do this.
    #[error(transparent)]
    Access(#[from] AccessError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ValidationError {
    fn conflict(message: impl Into<String>) -> Self {
        Self::Conflict {
            message: message.into(),
            details: Vec::new(),
        }
    }
}

/// A validator's judgement of one component, as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judgement {
    /// The component id, e.g. `2.3`.
    pub component: String,
    /// The validated stage, 1 to 5.
    pub stage: i64,
    /// The validator's note (may be empty; at most 10,000 characters).
    pub note: String,
    /// The evidence reviewed, one item each (at most 50 of at most 500 characters).
    pub evidence_reviewed: Vec<String>,
}

/// A change of an organisation's validation status, as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusChange {
    /// The status to move to: in validation, or validated (the sign-off).
    pub status: ValidationStatus,
    /// The validator's note (may be empty; at most 10,000 characters).
    pub note: String,
}

/// What every validation request names, parsed and checked.
struct Target {
    round: Round,
    organisation: OrganisationId,
}

/// Checks who asks, then the round and the organisation.
async fn target(
    store: &dyn Store,
    identity: &Identity,
    round: &str,
    organisation: &str,
) -> Result<(Target, crate::domain::Validator), ValidationError> {
    identity.require_any()?;
    let round_id =
        RoundId::parse(round.trim()).map_err(|e| ValidationError::Invalid(vec![e.to_string()]))?;
    let validator = identity.require_validator_of(&round_id)?;
    let organisation = OrganisationId::parse(organisation.trim())
        .map_err(|e| ValidationError::Invalid(vec![e.to_string()]))?;
    let round = store
        .round(&round_id)
        .await?
        .ok_or_else(|| ValidationError::NotFound(format!("there is no round `{round_id}`")))?;
    if !round.organisations.contains(&organisation) {
        return Err(ValidationError::NotFound(format!(
            "organisation `{organisation}` does not take part in round `{round_id}`"
        )));
    }
    Ok((
        Target {
            round,
            organisation,
        },
        validator,
    ))
}

/// The stage questionnaire of the round.
fn questionnaire<'c>(
    catalogue: &'c Catalogue,
    round: &Round,
) -> Result<&'c StageQuestionnaire, ValidationError> {
    Instruments::resolve(catalogue, round)
        .map(|i| i.questionnaire)
        .map_err(|e| ValidationError::NotFound(e.to_string()))
}

/// Validations are recorded while the round is in validation only: before, answers may
/// still change; after, the round's validation is complete.
fn require_in_validation(round: &Round) -> Result<(), ValidationError> {
    if round.status == RoundStatus::InValidation {
        Ok(())
    } else {
        Err(ValidationError::conflict(format!(
            "round `{}` is {}: validations are recorded while it is in validation",
            round.id,
            round.status.as_str()
        )))
    }
}

fn value_problem(what: &str, error: &ValueError) -> String {
    format!("{what}: {error}")
}

/// Parses a judgement against the questionnaire; every problem at once.
fn parse_judgement(
    questionnaire: &StageQuestionnaire,
    judgement: &Judgement,
) -> Result<(String, Stage, String, Vec<String>), ValidationError> {
    let mut problems = Vec::new();
    let component = judgement.component.trim().to_owned();
    if questionnaire.component(&component).is_none() {
        problems.push(format!(
            "componentId: `{component}` is not a component of the stage questionnaire"
        ));
    }
    let stage = Stage::parse(judgement.stage)
        .map_err(|e| problems.push(value_problem("stage", &e)))
        .ok();
    let note = judgement.note.trim().to_owned();
    let chars = note.chars().count();
    if chars > MAX_TEXT_CHARS {
        problems.push(format!(
            "note: {}",
            ValueError::TooLong {
                chars,
                max: MAX_TEXT_CHARS
            }
        ));
    }
    if judgement.evidence_reviewed.len() > MAX_LIST_ITEMS {
        problems.push(format!(
            "evidenceReviewed: at most {MAX_LIST_ITEMS} items, not {}",
            judgement.evidence_reviewed.len()
        ));
    }
    let mut evidence = Vec::new();
    for (index, item) in judgement.evidence_reviewed.iter().enumerate() {
        match parse_text(item, MAX_SHORT_TEXT_CHARS) {
            Ok(item) => evidence.push(item),
            Err(e) => problems.push(value_problem(&format!("evidenceReviewed[{index}]"), &e)),
        }
    }
    match stage {
        Some(stage) if problems.is_empty() => Ok((component, stage, note, evidence)),
        _ => Err(ValidationError::Invalid(problems)),
    }
}

async fn audit(
    store: &dyn Store,
    record: &ValidationRecord,
    action: AuditAction,
) -> Result<(), StoreError> {
    store
        .append_audit(&AuditEntry {
            round: record.round.clone(),
            at: record.at,
            actor: record.validator.actor.clone(),
            action,
        })
        .await
}

/// Records a validator's judgement of one component of `organisation` in `round`, and
/// audits it.
///
/// # Errors
/// Unauthenticated or forbidden (a validator without the round in scope, the bot);
/// invalid input (an unknown component, a stage outside 1–5, texts too long) with every
/// problem; not found (round, organisation); a conflict when the round is not in
/// validation or the organisation's validation is signed off.
pub async fn record_component(
    store: &dyn Store,
    catalogue: &Catalogue,
    identity: &Identity,
    at: Timestamp,
    round: &str,
    organisation: &str,
    judgement: &Judgement,
) -> Result<ValidationRecord, ValidationError> {
    let (target, validator) = target(store, identity, round, organisation).await?;
    let questionnaire = questionnaire(catalogue, &target.round)?;
    let (component, stage, note, evidence_reviewed) = parse_judgement(questionnaire, judgement)?;
    require_in_validation(&target.round)?;
    let records = store
        .validations(&target.round.id, &target.organisation)
        .await?;
    let state = ValidationState::fold(&records, &target.round.id, &target.organisation);
    if state.status == ValidationStatus::Validated {
        return Err(ValidationError::conflict(format!(
            "the validation of `{}` is signed off; put it back in validation to change it",
            target.organisation
        )));
    }
    let record = ValidationRecord {
        round: target.round.id.clone(),
        organisation: target.organisation.clone(),
        subject: ValidationSubject::Component {
            component: component.clone(),
            stage,
            evidence_reviewed,
        },
        note,
        validator,
        at,
    };
    store.add_validation(&record).await?;
    audit(
        store,
        &record,
        AuditAction::ComponentValidated {
            organisation: target.organisation.clone(),
            component: component.clone(),
            stage,
        },
    )
    .await?;
    tracing::info!(round = %record.round, organisation = %record.organisation, %component, stage = stage.get(), "component validated");
    Ok(record)
}

/// Moves the validation of `organisation` in `round` to `status` and audits it:
/// `Validated` is the sign-off, allowed from in validation once every component of the
/// stage questionnaire has a validated stage; `InValidation` starts the validation
/// explicitly or withdraws a sign-off. Returns the record and the status before.
///
/// # Errors
/// As [`record_component`]; invalid for `NotStarted`; a conflict for a move the rules
/// do not allow (with the components still missing a validated stage, at sign-off).
pub async fn set_status(
    store: &dyn Store,
    catalogue: &Catalogue,
    identity: &Identity,
    at: Timestamp,
    round: &str,
    organisation: &str,
    change: &StatusChange,
) -> Result<(ValidationRecord, ValidationStatus), ValidationError> {
    let status = change.status;
    let (target, validator) = target(store, identity, round, organisation).await?;
    let questionnaire = questionnaire(catalogue, &target.round)?;
    let mut problems = Vec::new();
    if status == ValidationStatus::NotStarted {
        problems.push(
            "status: a validation moves to IN_VALIDATION or VALIDATED, never back to NOT_STARTED"
                .to_owned(),
        );
    }
    let note = change.note.trim().to_owned();
    let chars = note.chars().count();
    if chars > MAX_TEXT_CHARS {
        problems.push(format!(
            "note: {}",
            ValueError::TooLong {
                chars,
                max: MAX_TEXT_CHARS
            }
        ));
    }
    if !problems.is_empty() {
        return Err(ValidationError::Invalid(problems));
    }
    require_in_validation(&target.round)?;
    let records = store
        .validations(&target.round.id, &target.organisation)
        .await?;
    let state = ValidationState::fold(&records, &target.round.id, &target.organisation);
    let from = state.status;
    if from == status {
        return Err(ValidationError::conflict(format!(
            "the validation of `{}` is already {}",
            target.organisation,
            status.as_str()
        )));
    }
    if status == ValidationStatus::Validated {
        let missing: Vec<String> = questionnaire
            .components()
            .filter(|c| state.stage_of(&c.id).is_none())
            .map(|c| c.id.clone())
            .collect();
        if !missing.is_empty() {
            return Err(ValidationError::Conflict {
                message: format!(
                    "{} component(s) of `{}` have no validated stage yet; sign-off needs all of them",
                    missing.len(),
                    target.organisation
                ),
                details: missing,
            });
        }
    }
    let record = ValidationRecord {
        round: target.round.id.clone(),
        organisation: target.organisation.clone(),
        subject: ValidationSubject::Status(status),
        note,
        validator,
        at,
    };
    store.add_validation(&record).await?;
    audit(
        store,
        &record,
        AuditAction::ValidationStatusChanged {
            organisation: target.organisation.clone(),
            from,
            to: status,
        },
    )
    .await?;
    tracing::info!(round = %record.round, organisation = %record.organisation, from = from.as_str(), to = status.as_str(), "validation status changed");
    Ok((record, from))
}

/// The validation of `organisation` in `round` as its records stand, with the records
/// (oldest first). Administrators and validators with the round in scope.
///
/// # Errors
/// As [`record_component`], without the state conflicts.
pub async fn validation(
    store: &dyn Store,
    identity: &Identity,
    round: &str,
    organisation: &str,
) -> Result<(ValidationState, Vec<ValidationRecord>), ValidationError> {
    let (target, _) = target(store, identity, round, organisation).await?;
    let records = store
        .validations(&target.round.id, &target.organisation)
        .await?;
    let state = ValidationState::fold(&records, &target.round.id, &target.organisation);
    Ok((state, records))
}

/// The organisations of `round` whose validation is not signed off, in the round's
/// order (a round becomes validated only when this is empty).
///
/// # Errors
/// A store failure.
pub async fn not_signed_off(
    store: &dyn Store,
    round: &Round,
) -> Result<Vec<OrganisationId>, StoreError> {
    let reads = round
        .organisations
        .iter()
        .map(|organisation| store.validations(&round.id, organisation));
    let records = futures_util::future::try_join_all(reads).await?;
    Ok(round
        .organisations
        .iter()
        .zip(records)
        .filter(|(organisation, records)| {
            ValidationState::fold(records, &round.id, organisation).status
                != ValidationStatus::Validated
        })
        .map(|(organisation, _)| organisation.clone())
        .collect())
}
