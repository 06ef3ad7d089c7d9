//! The demo round behind `stagewise-server demo`: three fictional organisations, their
//! focal points and two senior managers, round `demo-2026` open with the JIU stage
//! questionnaire and outcome protocol, partly answered stage questionnaires, and one
//! organisation's questionnaire complete and submitted.
//!
//! Everything goes through the same services as real use (administration, answer
//! validation, `Store::execute`) with fixed ids and idempotency keys, so loading twice
//! changes nothing and the report says so. The organisations, people and answers are
//! invented; none is a real body or person, and every address is at example.org.
//! This module must not touch a round other than `demo-2026`, nor overwrite records it
//! finds already there.

use crate::catalogue::Catalogue;
use crate::domain::{
    Actor, Channel, Command, EmailAddress, IdempotencyKey, OrganisationId, Person, PersonId,
    Respondent, ResponseKey, RoundId, RoundStatus, Timestamp,
};
use crate::events::EventBus;
use crate::service::admin::{self, AdminError, NewAssignment, NewRound, RoleName};
use crate::service::answers::{self, RawAnswer, RawEvidence, RawValue, SaveAnswers, SaveError};
use crate::store::{ResponseRequest, Store, StoreError};

/// The demo round's id.
pub const ROUND: &str = "demo-2026";
/// The demo round's title.
pub const TITLE: &str = "JIU RBM 2026 (demo)";
/// The instruments of the demo round.
pub const INSTRUMENTS: [&str; 2] = ["jiu-rbm-stages@1", "jiu-rbm-outcomes@1"];
const STAGES: &str = "jiu-rbm-stages@1";
const OUTCOMES: &str = "jiu-rbm-outcomes@1";
const DEADLINE: &str = "2027-03-31T23:59:00Z";

/// The fictional organisations: id, name, acronym.
pub const ORGANISATIONS: [(&str, &str, &str); 3] = [
    ("ocr", "Organisation for Coastal Resilience", "OCR"),
    ("arl", "Agency for Rural Learning", "ARL"),
    ("fuw", "Fund for Urban Water", "FUW"),
];

/// A fictional person of the demo and their role.
struct DemoPerson {
    id: &'static str,
    name: &'static str,
    email: &'static str,
    organisation: &'static str,
    role: RoleName,
    outcome_areas: &'static [&'static str],
}

const PEOPLE: [DemoPerson; 5] = [
    DemoPerson {
        id: "p-demo-ocr-focal",
        name: "Amina Okafor",
        email: "amina.okafor@example.org",
        organisation: "ocr",
        role: RoleName::FocalPoint,
        outcome_areas: &[],
    },
    DemoPerson {
        id: "p-demo-arl-focal",
        name: "Bruno Lindqvist",
        email: "bruno.lindqvist@example.org",
        organisation: "arl",
        role: RoleName::FocalPoint,
        outcome_areas: &[],
    },
    DemoPerson {
        id: "p-demo-fuw-focal",
        name: "Carmen Ibáñez",
        email: "carmen.ibanez@example.org",
        organisation: "fuw",
        role: RoleName::FocalPoint,
        outcome_areas: &[],
    },
    DemoPerson {
        id: "p-demo-ocr-manager-1",
        name: "Daniel Mensah",
        email: "daniel.mensah@example.org",
        organisation: "ocr",
        role: RoleName::SeniorManager,
        outcome_areas: &["qcpr-1", "qcpr-2"],
    },
    DemoPerson {
        id: "p-demo-ocr-manager-2",
        name: "Elena Sokolova",
        email: "elena.sokolova@example.org",
        organisation: "ocr",
        role: RoleName::SeniorManager,
        outcome_areas: &["qcpr-3", "qcpr-4", "qcpr-5"],
    },
];

/// What each component's demo answers say: component id, rationale, a document cited
/// as evidence, and a future plan. Written for any of the fictional organisations
/// (`{org}` is replaced by its acronym).
const COMPONENTS: [(&str, &str, &str, &str); 17] = [
    (
        "1.1",
        "{org} adopted a results-based management strategy in 2024 after consultations with the executive board. It is referred to in the strategic plan, but country offices apply it unevenly and it has not yet been reviewed against experience.",
        "{org} results-based management strategy 2024-2027",
        "Review the strategy in 2026 with the findings of the mid-term review of the strategic plan.",
    ),
    (
        "1.2",
        "A change management plan accompanies the strategy; change champions were named in headquarters divisions. Success criteria exist on paper, but nobody monitors them systematically yet.",
        "Change management plan for results-based management (internal memo)",
        "Appoint change champions in the regional offices and report on the success criteria twice a year.",
    ),
    (
        "1.3",
        "The accountability framework was approved by the board and delegations of authority refer to results. Reporting on its implementation is annual and still mostly about compliance.",
        "{org} accountability framework, board decision 2023/7",
        "Add results-based criteria to the annual report on the accountability framework.",
    ),
    (
        "2.1",
        "The strategic plan has a corporate results framework with outcome and output indicators, baselines and targets. Indicators were reduced from 112 to 48 in the last revision.",
        "{org} strategic plan 2026-2029, annex 1: integrated results and resources framework",
        "Align the outcome indicators with the common chapter indicators shared with sister agencies.",
    ),
    (
        "2.2",
        "New projects must present a logical framework linked to the corporate results framework. Older projects were not retrofitted, so about a third of the portfolio still lacks linkages.",
        "Project appraisal guidelines, section 4 (results frameworks)",
        "Retrofit the results frameworks of all projects that run beyond 2027.",
    ),
    (
        "2.3",
        "A data quality policy exists, but measurement responsibilities are unclear in country offices and baselines are missing for many indicators.",
        "Data quality policy and standard operating procedures",
        "Assign a monitoring officer per regional office and complete baselines before the next reporting cycle.",
    ),
    (
        "2.4",
        "The budget is presented by outcome, but expenditure is still tracked by cost centre, so the link between resources and results is estimated rather than measured.",
        "Programme budget 2026-2027, results-based presentation",
        "Introduce outcome codes in the financial system from 2027.",
    ),
    (
        "2.5",
        "Performance appraisals include one results objective per staff member; recruitment and promotion criteria do not refer to results-based management competencies yet.",
        "Staff performance appraisal guidelines 2025",
        "Add results-based management competencies to the competency framework.",
    ),
    (
        "3.1",
        "Programmes report against indicators each quarter through the monitoring platform. Targets are sometimes set on easy-to-measure outputs rather than on expected outcomes.",
        "Quarterly monitoring reports, programme dashboard",
        "Revise the monitoring guidance to favour outcome-level indicators.",
    ),
    (
        "3.2",
        "The annual results report to the board aggregates results by outcome and discloses underperformance. Reports to donors still follow separate templates.",
        "Annual results report 2025 to the executive board",
        "Harmonise donor reporting with the annual results report templates.",
    ),
    (
        "3.3",
        "An independent evaluation office reports to the board and publishes all evaluations with management responses. Self-evaluation is not yet systematic in programmes.",
        "Evaluation policy 2022 and evaluation plan 2026-2027",
        "Pilot a self-evaluation tool in three programmes.",
    ),
    (
        "3.4",
        "One management information system holds programme, budget and indicator data, but staff find it cumbersome and many still keep data in spreadsheets.",
        "Management information system user survey 2025",
        "Simplify the indicator entry screens and train country office staff.",
    ),
    (
        "4.1",
        "A results-based management unit supports divisions and runs an e-learning course. Training reached headquarters staff mostly; field coverage is low.",
        "Results-based management e-learning completion statistics",
        "Extend the course to field staff and add a practitioners' network.",
    ),
    (
        "4.2",
        "The executive head speaks regularly about results, and senior managers review the dashboard quarterly. Managers' own appraisals do not yet refer to the results of their units.",
        "Minutes of the senior management team results reviews",
        "Include unit results in the appraisals of senior managers.",
    ),
    (
        "4.3",
        "Evaluation findings informed the last strategic plan, but mid-course corrections based on monitoring data are rare and not documented.",
        "Management response tracking sheet for evaluation recommendations",
        "Hold a yearly review where programmes adjust plans on the basis of monitoring data.",
    ),
    (
        "5.1",
        "{org} contributes to the results groups of the cooperation frameworks in the countries where it works and reports on joint outcomes through the common system.",
        "Results group terms of reference (sample of three countries)",
        "Report on joint outcomes in the annual results report.",
    ),
    (
        "5.2",
        "Partnership agreements mention shared results, but joint monitoring with governments and other partners happens only in a few programmes.",
        "Partnership agreement template 2024",
        "Agree joint indicators with the two largest implementing partners.",
    ),
];

/// Self-assessed stages per component (in the order of [`COMPONENTS`]) of each
/// organisation.
const STAGES_OCR: [i64; 17] = [3, 2, 3, 4, 3, 2, 2, 2, 3, 3, 4, 2, 3, 3, 2, 2, 2];
const STAGES_ARL: [i64; 17] = [2, 2, 2, 3, 3, 2, 1, 2, 2, 2, 3, 2, 2, 2, 1, 2, 1];
const STAGES_FUW: [i64; 17] = [2, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2, 1, 1, 2, 1, 1, 1];

/// How far each organisation got: ocr answered every component and submitted; arl
/// answered pillars 1 and 2; fuw started with pillar 1 and left evidence of 1.3 out.
fn components_answered(organisation: &str) -> usize {
    match organisation {
        "ocr" => 17,
        "arl" => 8,
        _ => 3,
    }
}

/// Why the demo could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// An administrative step was refused.
    #[error("failed to {step}: {source}")]
    Admin {
        /// What was being done.
        step: String,
        /// Why it failed.
        #[source]
        source: AdminError,
    },
    /// Saving answers was refused.
    #[error("failed to save the answers of {response}: {source}")]
    Answers {
        /// The response.
        response: String,
        /// Why it failed.
        #[source]
        source: SaveError,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The shipped catalogue lacks what the demo needs, or a fixture is malformed (a bug).
    #[error("{0}")]
    Catalogue(String),
}

/// What loading the demo did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DemoReport {
    /// What was created or changed, one line each.
    pub created: Vec<String>,
    /// What was there already, one line each.
    pub unchanged: Vec<String>,
}

impl DemoReport {
    /// Whether anything was created or changed.
    pub fn changed(&self) -> bool {
        !self.created.is_empty()
    }

    fn record(&mut self, created: bool, line: String) {
        if created {
            self.created.push(line);
        } else {
            self.unchanged.push(line);
        }
    }
}

fn fixture<T, E: std::fmt::Display>(result: Result<T, E>) -> Result<T, DemoError> {
    result.map_err(|e| DemoError::Catalogue(format!("demo fixture: {e}")))
}

fn admin_step(step: &str) -> impl FnOnce(AdminError) -> DemoError + '_ {
    move |source| DemoError::Admin {
        step: step.to_owned(),
        source,
    }
}

/// Loads the demo round into `store`, idempotently.
///
/// # Errors
/// A [`DemoError`] naming the step that failed; what was loaded before it stays.
pub async fn load(
    store: &dyn Store,
    catalogue: &Catalogue,
    events: &dyn EventBus,
    at: Timestamp,
) -> Result<DemoReport, DemoError> {
    let mut report = DemoReport::default();
    let actor = Actor::System;

    for (id, name, acronym) in ORGANISATIONS {
        let organisation_id = fixture(OrganisationId::parse(id))?;
        let exists = store.organisation(&organisation_id).await?.is_some();
        if !exists {
            admin::create_organisation(store, id, name, Some(acronym))
                .await
                .map_err(admin_step("create an organisation"))?;
        }
        report.record(!exists, format!("organisation {id}: {name} ({acronym})"));
    }

    for demo in &PEOPLE {
        let person_id = fixture(PersonId::parse(demo.id))?;
        let exists = store.person(&person_id).await?.is_some();
        if !exists {
            let email = fixture(EmailAddress::parse(demo.email))?;
            let person = fixture(Person::new(person_id, demo.name, email))?;
            store.put_person(&person).await?;
        }
        report.record(
            !exists,
            format!("person {}: {} <{}>", demo.id, demo.name, demo.email),
        );
    }

    let round_id = fixture(RoundId::parse(ROUND))?;
    let round = match store.round(&round_id).await? {
        Some(round) => {
            report.record(false, format!("round {ROUND}: {}", round.title));
            round
        }
        None => {
            let round = admin::create_round(
                store,
                catalogue,
                &actor,
                at,
                NewRound {
                    id: ROUND.to_owned(),
                    title: TITLE.to_owned(),
                    instruments: INSTRUMENTS.iter().map(|i| (*i).to_owned()).collect(),
                    organisations: ORGANISATIONS
                        .iter()
                        .map(|(id, _, _)| (*id).to_owned())
                        .collect(),
                    deadline: Some(DEADLINE.to_owned()),
                },
            )
            .await
            .map_err(admin_step("create the demo round"))?;
            report.record(
                true,
                format!(
                    "round {ROUND}: {TITLE}, with {}, deadline {DEADLINE}",
                    INSTRUMENTS.join(" and ")
                ),
            );
            round
        }
    };
    let open = matches!(round.status, RoundStatus::Draft | RoundStatus::Open);
    if round.status == RoundStatus::Draft {
        admin::set_round_status(store, events, &actor, at, ROUND, RoundStatus::Open)
            .await
            .map_err(admin_step("open the demo round"))?;
        report.record(true, format!("round {ROUND} opened"));
    } else {
        report.record(false, format!("round {ROUND} is {}", round.status.as_str()));
    }

    for demo in &PEOPLE {
        let (_, changed) = admin::assign(
            store,
            catalogue,
            &actor,
            at,
            NewAssignment {
                round: ROUND.to_owned(),
                organisation: demo.organisation.to_owned(),
                person: demo.id.to_owned(),
                role: demo.role,
                outcome_areas: demo.outcome_areas.iter().map(|a| (*a).to_owned()).collect(),
            },
        )
        .await
        .map_err(admin_step("assign a person"))?;
        let areas = if demo.outcome_areas.is_empty() {
            String::new()
        } else {
            format!(" ({})", demo.outcome_areas.join(", "))
        };
        let role = match demo.role {
            RoleName::FocalPoint => "focal point",
            RoleName::SeniorManager => "senior manager",
            RoleName::IndependentRater => "independent rater",
            RoleName::LearningParticipant => "learning participant",
        };
        report.record(
            changed,
            format!(
                "{} assigned as {role} for {}{areas}",
                demo.id, demo.organisation
            ),
        );
    }

    // Answers are taken only while the round is open; an administrator may have moved
    // the demo round on since it was loaded, and then its answers stay as they are.
    if open {
        for (organisation, _, acronym) in ORGANISATIONS {
            stage_answers(store, catalogue, at, organisation, acronym, &mut report).await?;
        }
        submit_ocr(store, catalogue, at, &mut report).await?;
        outcome_answers(store, catalogue, at, &mut report).await?;
    } else {
        report.record(
            false,
            format!("answers of round {ROUND} left as they are (the round is not open)"),
        );
    }
    Ok(report)
}

fn stages_of(organisation: &str) -> [i64; 17] {
    match organisation {
        "ocr" => STAGES_OCR,
        "arl" => STAGES_ARL,
        _ => STAGES_FUW,
    }
}

fn focal_point(organisation: &str) -> &'static str {
    PEOPLE
        .iter()
        .find(|p| p.organisation == organisation && p.role == RoleName::FocalPoint)
        .map_or("p-demo-ocr-focal", |p| p.id)
}

fn stage_key(organisation: &str) -> Result<ResponseKey, DemoError> {
    Ok(ResponseKey {
        round: fixture(RoundId::parse(ROUND))?,
        organisation: fixture(OrganisationId::parse(organisation))?,
        instrument: fixture(crate::catalogue::InstrumentRef::parse(STAGES))?,
        respondent: Respondent::Organisation,
    })
}

fn text(value: &str, acronym: &str) -> Option<RawValue> {
    Some(RawValue::Text(value.replace("{org}", acronym)))
}

/// One request per component: stage, rationale, evidence, plans, and ratings of the
/// component's activities (varied, from the stage, so they tell a plausible story).
async fn stage_answers(
    store: &dyn Store,
    catalogue: &Catalogue,
    at: Timestamp,
    organisation: &str,
    acronym: &str,
    report: &mut DemoReport,
) -> Result<(), DemoError> {
    let key = stage_key(organisation)?;
    let body = catalogue
        .get("jiu-rbm-stages", 1)
        .and_then(|i| i.as_stage_questionnaire())
        .ok_or_else(|| DemoError::Catalogue("the catalogue has no jiu-rbm-stages@1".into()))?;
    let stages = stages_of(organisation);
    let actor = Actor::Person(fixture(PersonId::parse(focal_point(organisation)))?);
    let count = components_answered(organisation);
    let (mut saved, mut present) = (0, 0);
    for (index, (component, rationale, document, plan)) in COMPONENTS.iter().enumerate().take(count)
    {
        let stage = stages.get(index).copied().unwrap_or(2);
        let mut answers = vec![
            RawAnswer {
                question: format!("{component}/stage"),
                value: Some(RawValue::Number(stage)),
            },
            RawAnswer {
                question: format!("{component}/rationale"),
                value: text(rationale, acronym),
            },
        ];
        // fuw has not found its evidence for 1.3 yet: its questionnaire stays partial.
        if !(organisation == "fuw" && *component == "1.3") {
            let mut evidence = vec![RawEvidence {
                person: false,
                text: document.replace("{org}", acronym),
                file: None,
            }];
            if stage >= 3 {
                evidence.push(RawEvidence {
                    person: true,
                    text: format!("Head of the results-based management unit, {acronym}"),
                    file: None,
                });
            }
            answers.push(RawAnswer {
                question: format!("{component}/evidence"),
                value: Some(RawValue::Evidence(evidence)),
            });
        }
        answers.push(RawAnswer {
            question: format!("{component}/plans"),
            value: text(plan, acronym),
        });
        let activities = body.component(component).map_or(0, |c| c.activities.len());
        for number in 1..=activities {
            // Higher stages come with more contributing activities; vary by position.
            let offset = i64::try_from(number % 3).unwrap_or(0);
            let rating = (stage - 1 + offset).clamp(1, 3);
            answers.push(RawAnswer {
                question: format!("{component}/activity/{number}"),
                value: Some(RawValue::Number(rating)),
            });
        }
        let idempotency_key = fixture(IdempotencyKey::parse(&format!(
            "demo-{organisation}-{component}"
        )))?;
        let receipt = answers::save(
            store,
            catalogue,
            SaveAnswers {
                key: key.clone(),
                idempotency_key,
                answers,
                expected_seq: None,
                actor: actor.clone(),
                channel: Channel::Import,
                at,
            },
        )
        .await
        .map_err(|source| DemoError::Answers {
            response: key.id().to_string(),
            source,
        })?;
        if receipt.replayed {
            present += 1;
        } else {
            saved += 1;
        }
    }
    if saved > 0 {
        report.record(
            true,
            format!(
                "stage questionnaire of {organisation}: answers to {saved} of 17 components saved"
            ),
        );
    }
    if present > 0 {
        report.record(
            false,
            format!("stage questionnaire of {organisation}: answers to {present} of 17 components"),
        );
    }
    Ok(())
}

/// Submits ocr's stage questionnaire, every required question of which is answered
/// (checked first, so the demo never submits an incomplete response).
async fn submit_ocr(
    store: &dyn Store,
    catalogue: &Catalogue,
    at: Timestamp,
    report: &mut DemoReport,
) -> Result<(), DemoError> {
    let key = stage_key("ocr")?;
    let response = store.response(&key).await?;
    let submitted = response
        .as_ref()
        .is_some_and(|r| r.meta.status == crate::domain::ResponseStatus::Submitted);
    if !submitted {
        let instrument =
            answers::instrument_for(catalogue, &key).map_err(|source| DemoError::Answers {
                response: key.id().to_string(),
                source,
            })?;
        let missing = answers::missing_required(instrument, response.as_ref());
        if !missing.is_empty() {
            return Err(DemoError::Catalogue(format!(
                "the demo leaves {} required question(s) of ocr unanswered: {}",
                missing.len(),
                missing.join(", ")
            )));
        }
    }
    let receipt = store
        .execute(&ResponseRequest {
            key: key.clone(),
            idempotency_key: fixture(IdempotencyKey::parse("demo-ocr-submit"))?,
            command: Command::Submit,
            expected_seq: None,
            actor: Actor::Person(fixture(PersonId::parse(focal_point("ocr")))?),
            channel: Channel::Import,
            at,
        })
        .await?;
    report.record(
        !receipt.replayed,
        format!("stage questionnaire of ocr submitted ({})", key.id()),
    );
    Ok(())
}

/// The first senior manager of ocr has started the outcome protocol (part 1).
async fn outcome_answers(
    store: &dyn Store,
    catalogue: &Catalogue,
    at: Timestamp,
    report: &mut DemoReport,
) -> Result<(), DemoError> {
    let manager = "p-demo-ocr-manager-1";
    let person = fixture(PersonId::parse(manager))?;
    let key = ResponseKey {
        respondent: Respondent::Person(person.clone()),
        instrument: fixture(crate::catalogue::InstrumentRef::parse(OUTCOMES))?,
        ..stage_key("ocr")?
    };
    let answers = vec![
        RawAnswer {
            question: "part-1/q1".to_owned(),
            value: Some(RawValue::Text(
                "Coastal communities in the twelve programme countries have early warning systems that reach at least 80 per cent of households, and national plans include coastal adaptation measures.".to_owned(),
            )),
        },
        RawAnswer {
            question: "part-1/q2".to_owned(),
            value: Some(RawValue::Text(
                "Through the corporate results framework and the annual results report; country offices report quarterly on the outcome indicators.".to_owned(),
            )),
        },
    ];
    let receipt = answers::save(
        store,
        catalogue,
        SaveAnswers {
            key: key.clone(),
            idempotency_key: fixture(IdempotencyKey::parse("demo-ocr-manager-1-part-1"))?,
            answers,
            expected_seq: None,
            actor: Actor::Person(person),
            channel: Channel::Import,
            at,
        },
    )
    .await
    .map_err(|source| DemoError::Answers {
        response: key.id().to_string(),
        source,
    })?;
    report.record(
        !receipt.replayed,
        format!("outcome protocol of {manager}: two answers of part 1"),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_is_fictional() {
        for (_, name, _) in ORGANISATIONS {
            assert!(!name.contains("United Nations"), "{name}");
        }
        for person in &PEOPLE {
            assert!(person.email.ends_with("@example.org"), "{}", person.email);
        }
        assert_eq!(COMPONENTS.len(), STAGES_OCR.len());
    }
}
