//! The state of an organisation's validation, folded from its validation records: the
//! latest judgement per component (a later record of a component replaces an earlier
//! one in the state, never in the store) and the validation status with its sign-off.
//!
//! Pure: the records come from the store through `service::profile`; the rules on who
//! may record what, and when, are `service::validation`'s.

use std::collections::BTreeMap;

use crate::domain::{
    OrganisationId, RoundId, Stage, Timestamp, ValidationRecord, ValidationStatus,
    ValidationSubject, Validator,
};

/// The latest validator's judgement of one component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentValidation {
    /// The component, e.g. `2.3`.
    pub component: String,
    /// The validated stage.
    pub stage: Stage,
    /// The validator's note.
    pub note: String,
    /// The evidence reviewed.
    pub evidence_reviewed: Vec<String>,
    /// Who recorded it.
    pub validator: Validator,
    /// When.
    pub at: Timestamp,
}

/// The sign-off of an organisation's validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignOff {
    /// Who signed off.
    pub validator: Validator,
    /// The note given with the sign-off.
    pub note: String,
    /// When.
    pub at: Timestamp,
}

/// An organisation's validation in a round, as its records stand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationState {
    /// Not started (no record), in validation, or validated (signed off and not put back
    /// in validation since).
    pub status: ValidationStatus,
    /// The latest judgement per component, by component id.
    pub components: BTreeMap<String, ComponentValidation>,
    /// The sign-off in force; `None` unless the status is validated.
    pub sign_off: Option<SignOff>,
    /// The last record's time; `None` without records.
    pub updated_at: Option<Timestamp>,
    /// How many records there are (the audit trail's length).
    pub records: usize,
}

impl ValidationState {
    /// The state of no validation at all.
    pub fn empty() -> Self {
        Self {
            status: ValidationStatus::NotStarted,
            components: BTreeMap::new(),
            sign_off: None,
            updated_at: None,
            records: 0,
        }
    }

    /// Folds the records of `organisation` in `round` among `records` (oldest first, as
    /// the store returns them); records of other organisations or rounds are ignored.
    pub fn fold(
        records: &[ValidationRecord],
        round: &RoundId,
        organisation: &OrganisationId,
    ) -> Self {
        let mut state = Self::empty();
        for record in records
            .iter()
            .filter(|r| &r.round == round && &r.organisation == organisation)
        {
            state.records += 1;
            state.updated_at = Some(record.at);
            match &record.subject {
                ValidationSubject::Component {
                    component,
                    stage,
                    evidence_reviewed,
                } => {
                    if state.status == ValidationStatus::NotStarted {
                        state.status = ValidationStatus::InValidation;
                    }
                    state.components.insert(
                        component.clone(),
                        ComponentValidation {
                            component: component.clone(),
                            stage: *stage,
                            note: record.note.clone(),
                            evidence_reviewed: evidence_reviewed.clone(),
                            validator: record.validator.clone(),
                            at: record.at,
                        },
                    );
                }
                ValidationSubject::Status(status) => {
                    state.status = *status;
                    state.sign_off = (*status == ValidationStatus::Validated).then(|| SignOff {
                        validator: record.validator.clone(),
                        note: record.note.clone(),
                        at: record.at,
                    });
                }
            }
        }
        state
    }

    /// The validated stage of `component`, if one is recorded.
    pub fn stage_of(&self, component: &str) -> Option<Stage> {
        self.components.get(component).map(|c| c.stage)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Actor, TokenId};

    fn validator(label: &str) -> Validator {
        Validator {
            actor: Actor::Token(TokenId::parse("t-jiu").expect("id")),
            label: label.to_owned(),
        }
    }

    fn record(organisation: &str, subject: ValidationSubject, at: i64) -> ValidationRecord {
        ValidationRecord {
            round: RoundId::parse("r-2026").expect("id"),
            organisation: OrganisationId::parse(organisation).expect("id"),
            subject,
            note: format!("note {at}"),
            validator: validator("JIU"),
            at: Timestamp::from_millis(at),
        }
    }

    fn component(id: &str, stage: i64) -> ValidationSubject {
        ValidationSubject::Component {
            component: id.to_owned(),
            stage: Stage::parse(stage).expect("stage"),
            evidence_reviewed: vec![format!("file {id}")],
        }
    }

    #[test]
    fn the_latest_judgement_per_component_counts_and_sign_off_follows_the_last_status() {
        let round = RoundId::parse("r-2026").expect("id");
        let unicef = OrganisationId::parse("unicef").expect("id");
        let records = vec![
            record("unicef", component("2.3", 4), 1),
            record("fao", component("2.3", 1), 2),
            record("unicef", component("1.1", 2), 3),
            record("unicef", component("2.3", 3), 4),
        ];
        let state = ValidationState::fold(&records, &round, &unicef);
        assert_eq!(state.status, ValidationStatus::InValidation);
        assert_eq!(state.records, 3, "fao's record is not unicef's");
        assert_eq!(state.stage_of("2.3"), Stage::parse(3).ok());
        assert_eq!(state.stage_of("1.1"), Stage::parse(2).ok());
        assert_eq!(state.stage_of("5.1"), None);
        assert_eq!(state.components["2.3"].note, "note 4");
        assert_eq!(state.sign_off, None);
        assert_eq!(state.updated_at, Some(Timestamp::from_millis(4)));

        let mut signed = records.clone();
        signed.push(record(
            "unicef",
            ValidationSubject::Status(ValidationStatus::Validated),
            5,
        ));
        let state = ValidationState::fold(&signed, &round, &unicef);
        assert_eq!(state.status, ValidationStatus::Validated);
        let sign_off = state.sign_off.expect("signed off");
        assert_eq!(sign_off.at, Timestamp::from_millis(5));
        assert_eq!(sign_off.validator.label, "JIU");

        signed.push(record(
            "unicef",
            ValidationSubject::Status(ValidationStatus::InValidation),
            6,
        ));
        let state = ValidationState::fold(&signed, &round, &unicef);
        assert_eq!(state.status, ValidationStatus::InValidation);
        assert_eq!(
            state.sign_off, None,
            "putting it back withdraws the sign-off"
        );

        let none = ValidationState::fold(&[], &round, &unicef);
        assert_eq!(none, ValidationState::empty());
        assert_eq!(none.status, ValidationStatus::NotStarted);
    }
}
