//! Rounds (assessment cycles), assignments of people to them, and validation records.

use super::answer::Stage;
use super::id::{OrganisationId, PersonId, RoundId};
use super::response::Actor;
use super::time::Timestamp;
use crate::catalogue::InstrumentRef;

/// The lifecycle of a round: draft → open → closed → in validation → validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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

impl RoundStatus {
    /// Every status in lifecycle order.
    pub const ALL: [Self; 5] = [
        Self::Draft,
        Self::Open,
        Self::Closed,
        Self::InValidation,
        Self::Validated,
    ];

    /// The status's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Open => "open",
            Self::Closed => "closed",
            Self::InValidation => "in-validation",
            Self::Validated => "validated",
        }
    }

    /// Parses a status name.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Whether a round may move from `self` to `next`: one step forward, or back from
    /// closed to open (a deadline extension, logged by the caller).
    pub fn can_become(self, next: Self) -> bool {
        matches!(
            (self, next),
            (Self::Draft, Self::Open)
                | (Self::Open, Self::Closed)
                | (Self::Closed, Self::Open)
                | (Self::Closed, Self::InValidation)
                | (Self::InValidation, Self::Validated)
        )
    }
}

/// An assessment cycle, e.g. "JIU RBM 2026".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Round {
    /// Slug.
    pub id: RoundId,
    /// Title.
    pub title: String,
    /// The instrument versions the round uses.
    pub instruments: Vec<InstrumentRef>,
    /// The organisations taking part.
    pub organisations: Vec<OrganisationId>,
    /// When answering is due.
    pub deadline: Option<Timestamp>,
    /// Where the round is in its lifecycle.
    pub status: RoundStatus,
}

/// A person's role in a round for an organisation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Role {
    /// Leads the organisation's self-assessment.
    FocalPoint,
    /// Answers the outcome protocol for the listed outcome areas.
    SeniorManager {
        /// Outcome-area ids of the outcome protocol, e.g. `qcpr-1`.
        outcome_areas: Vec<String>,
    },
    /// Gives blind stage ratings.
    IndependentRater,
    /// Answers learning questions.
    LearningParticipant,
}

impl Role {
    /// The names of every role, as [`Role::as_str`] gives them.
    pub const NAMES: [&'static str; 4] = [
        "focal-point",
        "senior-manager",
        "independent-rater",
        "learning-participant",
    ];

    /// The role's name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::FocalPoint => "focal-point",
            Self::SeniorManager { .. } => "senior-manager",
            Self::IndependentRater => "independent-rater",
            Self::LearningParticipant => "learning-participant",
        }
    }
}

/// A person assigned to a round for an organisation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Assignment {
    /// The round.
    pub round: RoundId,
    /// The organisation.
    pub organisation: OrganisationId,
    /// The person.
    pub person: PersonId,
    /// Their role.
    pub role: Role,
}

/// How far an organisation's validation in a round has got: not started (nothing
/// recorded), in validation (component judgements are being recorded), validated (a
/// validator signed off). A sign-off is withdrawn by putting the organisation back in
/// validation, an explicit, recorded act.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValidationStatus {
    /// No validation record yet.
    NotStarted,
    /// Validators are at work on the organisation.
    InValidation,
    /// A validator signed the organisation's validation off.
    Validated,
}

impl ValidationStatus {
    /// Every status in lifecycle order.
    pub const ALL: [Self; 3] = [Self::NotStarted, Self::InValidation, Self::Validated];

    /// The status's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotStarted => "not-started",
            Self::InValidation => "in-validation",
            Self::Validated => "validated",
        }
    }

    /// Parses a status name.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// Who recorded a validation: the actor (for validators and administrators, their API
/// token) and the label the token was issued with, kept with the record so the record
/// still names its author after the token is revoked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validator {
    /// The actor, e.g. `Actor::Token(t-jiu-1)`.
    pub actor: Actor,
    /// The token's label (e.g. `JIU inspection team`), or the person's id for records
    /// written before labels were kept.
    pub label: String,
}

/// What a validation record is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValidationSubject {
    /// A judgement on one component.
    Component {
        /// The component, e.g. `2.3`.
        component: String,
        /// The validated stage.
        stage: Stage,
        /// The evidence the validator reviewed, one item per entry (documents, people
        /// interviewed); may be empty.
        evidence_reviewed: Vec<String>,
    },
    /// A change of the organisation's validation status: back in validation, or the
    /// sign-off (validated).
    Status(ValidationStatus),
}

/// A validator's record on one organisation in a round: a component judgement or a
/// status change. Records are never replaced; the latest per component counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationRecord {
    /// The round.
    pub round: RoundId,
    /// The organisation.
    pub organisation: OrganisationId,
    /// What it records.
    pub subject: ValidationSubject,
    /// The validator's note.
    pub note: String,
    /// Who validated.
    pub validator: Validator,
    /// When.
    pub at: Timestamp,
}

impl ValidationRecord {
    /// The component judged and its validated stage, for a component record.
    pub fn component(&self) -> Option<(&str, Stage)> {
        match &self.subject {
            ValidationSubject::Component {
                component, stage, ..
            } => Some((component, *stage)),
            ValidationSubject::Status(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifecycle_moves_one_step_and_may_reopen_after_closing() {
        use RoundStatus::*;
        assert!(Draft.can_become(Open));
        assert!(Closed.can_become(Open));
        assert!(!Draft.can_become(Closed));
        assert!(!Validated.can_become(Open));
        assert!(!Open.can_become(Open));
        for status in RoundStatus::ALL {
            assert_eq!(RoundStatus::parse(status.as_str()), Some(status));
        }
    }
}
