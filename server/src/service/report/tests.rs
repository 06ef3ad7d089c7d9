//! The conversions of profiles and the matrix into export rows, the summary sheet, chart
//! inputs and the JSON export, over the shipped catalogue and a small round.

use std::path::Path;

use super::*;
use crate::catalogue::InstrumentRef;
use crate::domain::{
    Actor, AnswerChange, AnswerValue, Assignment, Channel, EventKind, EvidenceItem, EvidenceKind,
    IdempotencyKey, QuestionId, Respondent, Response, ResponseEvent, ResponseKey, Role,
    RoundStatus, Timestamp,
};
use crate::profile::RoundData;

fn catalogue() -> Catalogue {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../questionnaires");
    Catalogue::load(&dir).unwrap_or_else(|e| panic!("catalogue: {e}"))
}

fn id<T, E: std::fmt::Display>(result: Result<T, E>) -> T {
    result.unwrap_or_else(|e| panic!("fixture: {e}"))
}

const COMPONENTS: [&str; 17] = [
    "1.1", "1.2", "1.3", "2.1", "2.2", "2.3", "2.4", "2.5", "3.1", "3.2", "3.3", "3.4", "4.1",
    "4.2", "4.3", "5.1", "5.2",
];

fn round() -> Round {
    Round {
        id: id(RoundId::parse("r-2026")),
        title: "JIU RBM 2026".to_owned(),
        instruments: vec![
            id(InstrumentRef::parse("jiu-rbm-stages@1")),
            id(InstrumentRef::parse("jiu-rbm-outcomes@1")),
        ],
        organisations: vec![
            id(OrganisationId::parse("alpha")),
            id(OrganisationId::parse("bravo")),
        ],
        deadline: None,
        status: RoundStatus::Open,
    }
}

fn key(organisation: &str, instrument: &str, person: Option<&str>) -> ResponseKey {
    ResponseKey {
        round: id(RoundId::parse("r-2026")),
        organisation: id(OrganisationId::parse(organisation)),
        instrument: id(InstrumentRef::parse(instrument)),
        respondent: person.map_or(Respondent::Organisation, |p| {
            Respondent::Person(id(PersonId::parse(p)))
        }),
    }
}

fn response(key: ResponseKey, answers: Vec<(String, AnswerValue)>, submitted: bool) -> Response {
    let mut events: Vec<ResponseEvent> = answers
        .into_iter()
        .zip(1..)
        .map(|((question, value), seq)| ResponseEvent {
            response: key.id(),
            seq,
            kind: EventKind::Answer {
                question: id(QuestionId::parse(&question)),
                change: AnswerChange::Set(value),
            },
            actor: Actor::System,
            channel: Channel::Import,
            at: Timestamp::from_millis(seq as i64),
            idempotency_key: id(IdempotencyKey::parse("k")),
        })
        .collect();
    if submitted {
        events.push(ResponseEvent {
            response: key.id(),
            seq: events.len() as u64 + 1,
            kind: EventKind::Submitted,
            actor: Actor::System,
            channel: Channel::Import,
            at: Timestamp::from_millis(99),
            idempotency_key: id(IdempotencyKey::parse("s")),
        });
    }
    Response::replay(key, &events)
}

fn evidence(kind: EvidenceKind, texts: &[&str]) -> AnswerValue {
    AnswerValue::Evidence(
        texts
            .iter()
            .map(|t| EvidenceItem {
                kind,
                text: (*t).to_owned(),
                file: None,
            })
            .collect(),
    )
}

/// Stage, rationale and one document for every component with a stage (0 skips it).
fn answers(stages: [u8; 17]) -> Vec<(String, AnswerValue)> {
    COMPONENTS
        .iter()
        .zip(stages)
        .filter(|(_, n)| *n > 0)
        .flat_map(|(c, n)| {
            [
                (
                    format!("{c}/stage"),
                    AnswerValue::Stage(id(Stage::parse(i64::from(n)))),
                ),
                (
                    format!("{c}/rationale"),
                    AnswerValue::Text("Because.".to_owned()),
                ),
                (
                    format!("{c}/evidence"),
                    evidence(EvidenceKind::Document, &[&format!("Policy on {c}")]),
                ),
            ]
        })
        .collect()
}

/// Alpha: 1.3 (printed as "1.2" on the summary sheet) at 2, 2.1 at 1 and 2.5 at 5 (an
/// uneven pillar; 2.5 cites no evaluation), 2.2 at 4 with a person only as evidence,
/// 5.2 unanswered. Bravo submitted, all at 3. Ben, alpha's senior manager for
/// accountability, answered one question.
fn responses() -> Vec<Response> {
    let mut alpha = answers([3, 3, 2, 1, 4, 3, 3, 5, 3, 3, 3, 3, 3, 3, 3, 3, 0]);
    alpha.retain(|(q, _)| q != "2.2/evidence");
    alpha.push((
        "2.2/evidence".to_owned(),
        evidence(EvidenceKind::Person, &["Ms Rao", "Mr Diallo"]),
    ));
    vec![
        response(key("alpha", "jiu-rbm-stages@1", None), alpha, false),
        response(
            key("bravo", "jiu-rbm-stages@1", None),
            answers([3; 17]),
            true,
        ),
        response(
            key("alpha", "jiu-rbm-outcomes@1", Some("p-ben")),
            vec![(
                "outcome-1/q1".to_owned(),
                AnswerValue::Text("Managers answer for results.".to_owned()),
            )],
            false,
        ),
    ]
}

fn assignments() -> Vec<Assignment> {
    vec![Assignment {
        round: id(RoundId::parse("r-2026")),
        organisation: id(OrganisationId::parse("alpha")),
        person: id(PersonId::parse("p-ben")),
        role: Role::SeniorManager {
            outcome_areas: vec!["qcpr-1".to_owned()],
        },
    }]
}

/// The report of the round as `round_report` would load it.
fn report(rule: PillarRule) -> RoundReport {
    let catalogue = catalogue();
    let round = round();
    let responses = responses();
    let assignments = assignments();
    let data = RoundData {
        round: &round,
        assignments: &assignments,
        responses: &responses,
        validations: &[],
    };
    let profiles = round
        .organisations
        .iter()
        .map(|o| id(crate::profile::profile(&catalogue, &data, o, None, rule)))
        .collect();
    let matrix = id(crate::profile::round_matrix(&catalogue, &data, rule));
    let summary_sheet = id(Instruments::resolve(&catalogue, &round))
        .guide
        .map(|g| g.summary_sheet.clone());
    RoundReport {
        organisations: [
            (id(OrganisationId::parse("alpha")), "Alpha Fund".to_owned()),
            (id(OrganisationId::parse("bravo")), "Bravo, Inc.".to_owned()),
        ]
        .into_iter()
        .collect(),
        people: [(id(PersonId::parse("p-ben")), "Ben Okafor".to_owned())]
            .into_iter()
            .collect(),
        round,
        rule,
        profiles,
        matrix,
        summary_sheet,
    }
}

#[test]
fn answer_rows_carry_stages_evidence_completeness_and_flags() {
    let report = report(PillarRule::Median);
    let rows = report.answer_rows();
    assert_eq!(rows.len(), 2 * 17);
    let row = |organisation: &str, component: &str| {
        rows.iter()
            .find(|r| r.organisation_id == organisation && r.component == component)
            .unwrap_or_else(|| panic!("row {organisation} {component}"))
    };
    // Organisations in the round's order, components in instrument order.
    assert_eq!(rows[0].organisation_id, "alpha");
    assert_eq!(rows[0].component, "1.1");
    assert_eq!(rows[17].organisation_id, "bravo");
    assert_eq!(rows[33].component, "5.2");

    let weak = row("alpha", "2.2");
    assert_eq!(weak.round_id, "r-2026");
    assert_eq!(weak.organisation_name, "Alpha Fund");
    assert_eq!(weak.pillar, 2);
    assert_eq!(
        weak.component_name,
        "Results frameworks for programmes and projects"
    );
    assert_eq!(weak.self_assessed_stage, Some(4));
    assert_eq!(weak.validated_stage, None);
    assert_eq!((weak.evidence_documents, weak.evidence_persons), (0, 2));
    assert_eq!((weak.answered, weak.required), (3, 3));
    assert_eq!(weak.flags, ["EVIDENCE_MISSING"]);

    let top = row("alpha", "2.5");
    assert_eq!(top.self_assessed_stage, Some(5));
    assert_eq!((top.evidence_documents, top.evidence_persons), (1, 0));
    assert_eq!(top.flags, ["STAGE5_WITHOUT_EVALUATION"]);

    let missing = row("alpha", "5.2");
    assert_eq!(missing.self_assessed_stage, None);
    assert_eq!((missing.answered, missing.required), (0, 3));
    assert_eq!(missing.flags, ["INCOMPLETE"]);
    assert_eq!(missing.activities_rated, 0);
    assert_eq!(missing.activity_mean, None);

    // The pillar flag has no component, so no row carries it.
    assert!(
        rows.iter()
            .all(|r| !r.flags.iter().any(|f| f == "PILLAR_UNEVEN"))
    );
    let plain = row("bravo", "3.1");
    assert_eq!(plain.organisation_name, "Bravo, Inc.");
    assert_eq!(plain.self_assessed_stage, Some(3));
    assert!(plain.flags.is_empty());

    // And the CSV has them as text.
    let csv = report.csv();
    assert!(csv.contains(
        "r-2026,alpha,Alpha Fund,2,2.2,Results frameworks for programmes and projects,4,,0,2,0,,3,3,EVIDENCE_MISSING\r\n"
    ));
    assert!(csv.contains("r-2026,bravo,\"Bravo, Inc.\",5,5.2,"));
}

#[test]
fn summary_sheet_follows_annex_ix_part_2_keyed_by_component() {
    let report = report(PillarRule::Median);
    let alpha = &report.profiles[0];
    let sheet = summary_sheet_input(
        report.summary_sheet.as_ref(),
        alpha,
        "Alpha Fund",
        "JIU RBM 2026",
    );
    assert_eq!(
        sheet.title,
        "PART 2: SUMMARY SHEET FOR ORGANIZATIONAL PROFILE FOR STAGES OF DEVELOPMENT"
    );
    assert_eq!(
        sheet.columns,
        [
            "Pillars",
            "Components",
            "Stages- Component",
            "Stages - Pillars"
        ]
    );
    assert_eq!(sheet.organisation, "Alpha Fund");
    assert_eq!(sheet.round, "JIU RBM 2026");
    assert_eq!(sheet.pillars.len(), 5);
    let first = &sheet.pillars[0];
    assert_eq!(first.label, "Pillar 1 - RBM Conceptual Foundation");
    // 1.1 at 3, 1.2 at 3, 1.3 at 2: median 3.
    assert_eq!(first.stage, Some(3));
    let rows: Vec<(&str, Option<u8>)> = first
        .components
        .iter()
        .map(|c| (c.label.as_str(), c.stage))
        .collect();
    // The sheet prints 1.3 (Accountability) as "1.2": the stage follows the meaning.
    assert_eq!(
        rows,
        [
            ("1.1 Conceptual Foundation", Some(3)),
            ("1.2 Accountability Framework", Some(2)),
            ("1.3 Change Management Framework", Some(3)),
        ]
    );
    // Pillar 2: 1 3 3 4 5, median 3; pillar 5: only 5.1 answered.
    assert_eq!(sheet.pillars[1].stage, Some(3));
    assert_eq!(sheet.pillars[4].components[1].stage, None);
    assert_eq!(sheet.pillars[4].stage, Some(3));
    assert_eq!(
        sheet.notes,
        [
            "Pillar stage: median of the pillar's answered components, rounded down (rule: median).",
            "Pillar 1: Pillar stage 3 (median of the pillar's answered components, rounded down); lowest 2, highest 3.",
            "Pillar 2: Pillar stage 3 (median of the pillar's answered components, rounded down); lowest 1, highest 5.",
            "Pillar 3: Pillar stage 3 (median of the pillar's answered components, rounded down); lowest 3, highest 3.",
            "Pillar 4: Pillar stage 3 (median of the pillar's answered components, rounded down); lowest 3, highest 3.",
            "Pillar 5: Pillar stage 3 (median of the pillar's answered components, rounded down); lowest 3, highest 3; 1 of 2 components answered.",
            "The self-assessment is not submitted: its stages may still change.",
        ]
    );

    // Bravo is submitted: no draft note.
    let bravo = summary_sheet_input(
        report.summary_sheet.as_ref(),
        &report.profiles[1],
        "Bravo",
        "JIU RBM 2026",
    );
    assert_eq!(bravo.notes.len(), 6);
}

#[test]
fn summary_sheet_without_a_validation_guide_uses_the_questionnaire() {
    let report = report(PillarRule::Minimum);
    let sheet = summary_sheet_input(None, &report.profiles[0], "Alpha Fund", "JIU RBM 2026");
    assert_eq!(sheet.title, "Summary sheet: stages of development");
    assert_eq!(sheet.columns[3], "Stages - Pillars");
    assert_eq!(
        sheet.pillars[0].label,
        "Pillar 1 - Results-based management conceptual foundation"
    );
    assert_eq!(
        sheet.pillars[0].components[2].label,
        "1.3 Accountability framework"
    );
    assert_eq!(sheet.pillars[0].components[2].stage, Some(2));
    // Minimum rule: pillar 2's lowest is 1.
    assert_eq!(sheet.pillars[1].stage, Some(1));
    assert_eq!(
        sheet.notes[0],
        "Pillar stage: lowest of the pillar's answered components (rule: minimum)."
    );
    assert_eq!(
        sheet
            .pillars
            .iter()
            .map(|p| p.components.len())
            .sum::<usize>(),
        17
    );
}

#[test]
fn outcome_rows_name_the_manager_and_the_linked_components() {
    let report = report(PillarRule::Median);
    let rows = report.workbook_input().outcome_answers;
    assert_eq!(rows.len(), 1, "{rows:?}");
    let row = &rows[0];
    assert_eq!(row.organisation_id, "alpha");
    assert_eq!(row.outcome_area, "qcpr-1");
    assert_eq!(row.outcome_area_name, "Accountability");
    assert_eq!(row.respondent, "Ben Okafor");
    assert_eq!(row.question_id, "outcome-1/q1");
    assert_eq!(
        row.question,
        "In what ways has the accountability system changed as a result of results-based management mainstreaming?"
    );
    assert_eq!(row.answer, "Managers answer for results.");
    assert_eq!(
        row.linked_components,
        [
            "1.3 Accountability framework: stage 2",
            "2.5 Human resources management: stage 5",
            "5.1 United Nations coherence for outcome achievement: stage 3",
            "5.2 Alignment between United Nations and other partners for outcome achievement: not answered",
        ]
    );

    // Without a stored name, the person id.
    let unnamed = outcome_answer_rows(&report.profiles[0], "Alpha Fund", &BTreeMap::new());
    assert_eq!(unnamed[0].respondent, "p-ben");
}

#[test]
fn flag_rows_name_the_component_or_pillar_and_the_prompt() {
    let report = report(PillarRule::Median);
    let rows = flag_rows(&report.profiles[0], "Alpha Fund");
    let summary: Vec<(&str, Option<&str>)> = rows
        .iter()
        .map(|r| (r.code.as_str(), r.component.as_deref()))
        .collect();
    assert_eq!(
        summary,
        [
            ("EVIDENCE_MISSING", Some("2.2")),
            ("STAGE5_WITHOUT_EVALUATION", Some("2.5")),
            ("INCOMPLETE", Some("5.2")),
            ("PILLAR_UNEVEN", Some("Pillar 2")),
        ]
    );
    let evidence = &rows[0];
    assert_eq!(evidence.organisation_name, "Alpha Fund");
    assert_eq!(
        evidence.trigger,
        "stage 4 with only names of people as evidence (2 named, no document)"
    );
    assert_eq!(
        evidence.interview_prompt,
        "Internal validity in rating, point 1: Understand the evidence used when making judgments and ensure consistency in ratings with the evidence used"
    );
    assert!(rows[3].interview_prompt.contains(", point 2: "));
    assert!(flag_rows(&report.profiles[1], "Bravo").is_empty());
}

#[test]
fn pillar_notes_give_the_rule_and_the_range() {
    let full = PillarProfile {
        number: 2,
        name: "Planning".into(),
        stage: Some(id(Stage::parse(3))),
        min: Some(id(Stage::parse(1))),
        max: Some(id(Stage::parse(5))),
        answered: 5,
        components: 5,
    };
    assert_eq!(
        pillar_note(&full, PillarRule::Mode),
        "Pillar stage 3 (most frequent stage among the pillar's answered components, ties to the lower); lowest 1, highest 5"
    );
    let partial = PillarProfile {
        answered: 2,
        ..full.clone()
    };
    assert!(pillar_note(&partial, PillarRule::Minimum).ends_with("; 2 of 5 components answered"));
    let none = PillarProfile {
        stage: None,
        min: None,
        max: None,
        answered: 0,
        ..full
    };
    assert_eq!(
        pillar_note(&none, PillarRule::Median),
        "No pillar stage: none of its 5 components is answered"
    );
}

#[test]
fn configuration_chart_input_groups_components_with_notes() {
    let report = report(PillarRule::Median);
    let input = configuration_chart_input(&report.profiles[0], "Alpha Fund", "JIU RBM 2026");
    assert_eq!(input.title, "Configuration profile");
    assert_eq!(input.organisation, "Alpha Fund");
    assert_eq!(input.round, "JIU RBM 2026");
    let ids: Vec<Vec<&str>> = input
        .pillars
        .iter()
        .map(|p| p.components.iter().map(|c| c.id.as_str()).collect())
        .collect();
    assert_eq!(
        ids,
        [
            vec!["1.1", "1.2", "1.3"],
            vec!["2.1", "2.2", "2.3", "2.4", "2.5"],
            vec!["3.1", "3.2", "3.3", "3.4"],
            vec!["4.1", "4.2", "4.3"],
            vec!["5.1", "5.2"],
        ]
    );
    assert_eq!(input.pillars[1].id, "2");
    assert_eq!(
        input.pillars[1].name,
        "Planning, programming, budgeting and human resources management"
    );
    assert_eq!(
        input.pillars[1].note.as_deref(),
        Some(
            "Pillar stage 3 (median of the pillar's answered components, rounded down); lowest 1, highest 5"
        )
    );
    let first = &input.pillars[1].components[0];
    assert_eq!((first.self_assessed, first.validated), (Some(1), None));
    assert_eq!(input.pillars[4].components[1].self_assessed, None);
    // The chart draws it: every component is in the document.
    let svg = crate::charts::configuration_chart(&input);
    for component in COMPONENTS {
        assert!(
            svg.contains(&format!("data-component=\"{component}\"")),
            "{component}"
        );
    }
}

#[test]
fn heatmap_input_has_a_row_per_organisation_by_name() {
    let report = report(PillarRule::Median);
    let input = heatmap_input(&report.matrix, &report.organisations, "JIU RBM 2026");
    assert_eq!(input.title, "Stages of development by organisation");
    assert_eq!(input.round, "JIU RBM 2026");
    assert_eq!(input.pillars.len(), 5);
    let columns: Vec<&str> = input
        .pillars
        .iter()
        .flat_map(|p| p.components.iter().map(|c| c.id.as_str()))
        .collect();
    assert_eq!(columns, COMPONENTS);
    assert_eq!(
        input.pillars[0].components[2].name,
        "Accountability framework"
    );
    let names: Vec<&str> = input.rows.iter().map(|r| r.organisation.as_str()).collect();
    assert_eq!(names, ["Alpha Fund", "Bravo, Inc."]);
    assert_eq!(
        input.rows[0].stages,
        [3, 3, 2, 1, 4, 3, 3, 5, 3, 3, 3, 3, 3, 3, 3, 3, 0].map(|n| (n > 0).then_some(n))
    );
    assert_eq!(input.rows[1].stages, [Some(3); 17]);

    // An organisation without a stored name shows its id.
    let unnamed = heatmap_input(&report.matrix, &BTreeMap::new(), "JIU RBM 2026");
    assert_eq!(unnamed.rows[1].organisation, "bravo");
}

#[test]
fn json_export_has_stable_names_and_explicit_nulls() {
    let report = report(PillarRule::Median);
    let bytes = id(report.json());
    let json: serde_json::Value = id(serde_json::from_slice(&bytes));
    assert_eq!(json["format"], "stagewise.round-profiles");
    assert_eq!(json["version"], 1);
    assert_eq!(
        json["round"],
        serde_json::json!({ "id": "r-2026", "title": "JIU RBM 2026" })
    );
    assert_eq!(json["instrument"], "jiu-rbm-stages@1");
    assert_eq!(json["rule"], "median");
    assert_eq!(json["min_group_size"], 5);

    let alpha = &json["organisations"][0];
    assert_eq!(alpha["id"], "alpha");
    assert_eq!(alpha["name"], "Alpha Fund");
    assert_eq!(alpha["submitted"], false);
    assert!(alpha["previous_round"].is_null());
    assert_eq!(alpha["pattern"]["pillars"], "3-3-3-3-3");
    assert_eq!(
        alpha["pillars"][1],
        serde_json::json!({ "number": 2,
            "name": "Planning, programming, budgeting and human resources management",
            "stage": 3, "min": 1, "max": 5, "answered": 5, "components": 5 })
    );
    let weak = &alpha["components"][4];
    assert_eq!(weak["id"], "2.2");
    assert_eq!(weak["stage"], 4);
    assert!(weak["validated_stage"].is_null());
    assert_eq!(
        weak["evidence"],
        serde_json::json!({ "documents": 0, "persons": 2, "strength": "weak",
                            "cites_evaluation": false })
    );
    assert_eq!(weak["flags"], serde_json::json!(["EVIDENCE_MISSING"]));
    assert_eq!(
        weak["change"],
        serde_json::json!({ "previous_stage": null, "delta": null })
    );
    let unanswered = &alpha["components"][16];
    assert!(unanswered["stage"].is_null());
    assert_eq!(
        unanswered["completeness"]["missing"],
        serde_json::json!(["5.2/stage", "5.2/rationale", "5.2/evidence"])
    );
    assert!(unanswered["activities"]["mean"].is_null());
    assert_eq!(alpha["agreement"]["alpha_metric"], "ordinal");
    assert!(alpha["agreement"]["alpha"].is_null());

    let codes: Vec<&str> = alpha["flags"]
        .as_array()
        .map(|list| list.iter().filter_map(|f| f["code"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        codes,
        [
            "EVIDENCE_MISSING",
            "STAGE5_WITHOUT_EVALUATION",
            "INCOMPLETE",
            "PILLAR_UNEVEN"
        ]
    );
    let pillar_flag = &alpha["flags"][3];
    assert!(pillar_flag["component"].is_null());
    assert_eq!(pillar_flag["pillar"], 2);
    assert_eq!(pillar_flag["items"], serde_json::json!(["2.1", "2.5"]));
    assert_eq!(pillar_flag["prompt"]["concern"], "internal-validity");
    assert_eq!(pillar_flag["prompt"]["point"], 2);

    let manager = &alpha["outcomes"][0]["managers"][0];
    assert_eq!(manager["person"], "p-ben");
    assert_eq!(manager["name"], "Ben Okafor");
    assert_eq!(
        manager["answers"][0]["answer"],
        "Managers answer for results."
    );

    // Two organisations: every distribution is withheld, with nulls, not gaps.
    let matrix = &json["matrix"];
    let first = &matrix["components"][0]["distribution"];
    assert_eq!(first["n"], 2);
    assert_eq!(first["withheld"], true);
    assert!(first["median"].is_null() && first["counts"].is_null());
    assert!(first["withheld_reason"].is_string());
    assert_eq!(
        matrix["rows"][0]["stages"][16],
        serde_json::Value::Null,
        "alpha's 5.2"
    );
    assert_eq!(matrix["rows"][1]["organisation"], "bravo");
    assert_eq!(matrix["rows"][1]["submitted"], true);
    assert_eq!(
        matrix["rows"][0]["pillar_stages"],
        serde_json::json!([3, 3, 3, 3, 3])
    );
}

#[test]
fn the_workbook_reads_back_with_the_summary_and_flags() {
    use calamine::{Data, Reader, Xlsx, open_workbook_from_rs};

    let report = report(PillarRule::Median);
    let bytes = id(report.xlsx());
    let mut workbook: Xlsx<_> = id(open_workbook_from_rs(std::io::Cursor::new(bytes)));
    let summary = id(workbook.worksheet_range("Summary"));
    let text = |row: u32, col: u32| match summary.get_value((row, col)) {
        Some(Data::String(text)) => text.clone(),
        other => format!("{other:?}"),
    };
    assert_eq!(text(1, 1), "Alpha Fund");
    assert_eq!(text(5, 0), "Pillar 1 - RBM Conceptual Foundation");
    assert_eq!(text(6, 1), "1.2 Accountability Framework");
    assert_eq!(summary.get_value((6, 2)), Some(&Data::Float(2.0)));
    let flags = id(workbook.worksheet_range("Flags"));
    assert_eq!(
        flags.get_value((4, 4)),
        Some(&Data::String("Pillar 2".to_owned()))
    );
}
