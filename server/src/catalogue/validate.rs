//! Rules the file format cannot express by types alone: numbering, uniqueness, the five
//! stages, blank texts, placeholders, and references between instruments.
//!
//! Every rule reports a [`Problem`] naming the file and the field path, and checking goes
//! on, so an author sees all problems at once. Nothing here reads files.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::model::{
    Body, Drivers, InstrumentRef, OutcomeMap, Questionnaire, StageItemId, StageQuestionnaire,
    ValidationGuide, is_kebab_id,
};
use super::text::{Text, placeholders};
use super::{Instrument, Problem};

/// The stages of development, 1 to 5, in every instrument that describes them.
const STAGES: [u8; 5] = [1, 2, 3, 4, 5];
/// The Q.2 rating scale.
const RATING_SCALE: [u8; 3] = [1, 2, 3];

struct Checker<'a> {
    file: &'a Path,
    problems: Vec<Problem>,
}

impl Checker<'_> {
    fn report(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem {
            file: self.file.to_path_buf(),
            path: path.into(),
            message: message.into(),
        });
    }

    fn text(&mut self, path: impl Into<String>, text: &Text) {
        if text.is_blank() {
            self.report(path, "text is empty");
        }
    }

    fn id(&mut self, path: String, id: &str, seen: &mut BTreeSet<String>) {
        if !is_kebab_id(id) {
            self.report(
                path.clone(),
                format!("`{id}` is not an id (lowercase kebab-case)"),
            );
        }
        if !seen.insert(id.to_owned()) {
            self.report(path, format!("duplicate id `{id}`"));
        }
    }

    fn numbered<T>(&mut self, path: &str, items: &[T], number: impl Fn(&T) -> u8, what: &str) {
        let found: Vec<u8> = items.iter().map(&number).collect();
        let expected: Vec<u8> = (1..=u8::try_from(items.len()).unwrap_or(u8::MAX)).collect();
        if found != expected {
            self.report(
                path,
                format!("{what} must be numbered {expected:?} in order, found {found:?}"),
            );
        }
    }

    fn stages<T>(&mut self, path: &str, items: &[T], stage: impl Fn(&T) -> u8) {
        let found: Vec<u8> = items.iter().map(stage).collect();
        if found != STAGES {
            let missing: Vec<u8> = STAGES
                .iter()
                .copied()
                .filter(|s| !found.contains(s))
                .collect();
            let detail = if missing.is_empty() {
                String::new()
            } else {
                format!(" (missing stage {missing:?})")
            };
            self.report(
                path,
                format!("expected the five stages 1 to 5 in order, found {found:?}{detail}"),
            );
        }
    }
}

pub(super) fn validate(
    instruments: &[(PathBuf, Instrument)],
    unparsed: &BTreeSet<InstrumentRef>,
) -> Vec<Problem> {
    let by_ref: BTreeMap<InstrumentRef, &Instrument> = instruments
        .iter()
        .map(|(_, instrument)| (instrument.reference(), instrument))
        .collect();
    let mut problems = Vec::new();
    for (file, instrument) in instruments {
        let mut check = Checker {
            file,
            problems: Vec::new(),
        };
        let depends_on_broken = instrument
            .header()
            .references
            .iter()
            .filter_map(|r| InstrumentRef::parse(r).ok())
            .any(|r| unparsed.contains(&r));
        let references = header(&mut check, instrument, &by_ref);
        if depends_on_broken {
            // Its reference checks would only echo the broken file's own problem.
            check
                .problems
                .retain(|p| !p.path.starts_with("instrument.references"));
        }
        let stages = references
            .iter()
            .find_map(|r| by_ref.get(r).and_then(|i| i.as_stage_questionnaire()));
        let outcomes = references
            .iter()
            .find_map(|r| by_ref.get(r).and_then(|i| i.as_questionnaire()));
        match instrument.body() {
            Body::StageQuestionnaire(body) => stage_questionnaire(&mut check, body),
            Body::Drivers(body) => drivers(&mut check, body, stages),
            Body::Questionnaire(body) => questionnaire(&mut check, body),
            Body::ValidationGuide(body) => validation_guide(&mut check, body, stages),
            Body::OutcomeMap(body) => outcome_map(&mut check, body, stages, outcomes),
        }
        problems.extend(check.problems);
    }
    let mut seen = BTreeSet::new();
    for (file, instrument) in instruments {
        if !seen.insert(instrument.reference()) {
            problems.push(Problem {
                file: file.clone(),
                path: "instrument".to_owned(),
                message: format!("duplicate instrument {}", instrument.reference()),
            });
        }
    }
    problems
}

fn header(
    check: &mut Checker<'_>,
    instrument: &Instrument,
    by_ref: &BTreeMap<InstrumentRef, &Instrument>,
) -> Vec<InstrumentRef> {
    let header = instrument.header();
    if !is_kebab_id(&header.id) {
        check.report(
            "instrument.id",
            format!("`{}` is not an id (lowercase kebab-case)", header.id),
        );
    }
    check.text("instrument.title", &header.title);
    if header.audience.is_empty() {
        check.report("instrument.audience", "name at least one audience");
    }
    for (field, value) in [
        ("document", &header.source.document),
        ("part", &header.source.part),
        ("pages", &header.source.pages),
        ("seed", &header.source.seed),
        ("seed_lines", &header.source.seed_lines),
    ] {
        if value.trim().is_empty() {
            check.report(format!("instrument.source.{field}"), "text is empty");
        }
    }
    for (index, note) in instrument.notes().iter().enumerate() {
        if note.text.trim().is_empty() {
            check.report(format!("notes[{index}].text"), "text is empty");
        }
    }
    let mut references = Vec::new();
    for (index, reference) in header.references.iter().enumerate() {
        let path = format!("instrument.references[{index}]");
        match InstrumentRef::parse(reference) {
            Ok(parsed) if by_ref.contains_key(&parsed) => references.push(parsed),
            Ok(parsed) => check.report(
                path,
                format!("refers to instrument {parsed}, which the catalogue does not have"),
            ),
            Err(message) => check.report(path, message),
        }
    }
    let needs = |kind: &str| format!("a {kind} needs a reference to it in instrument.references");
    let has_stages = references.iter().any(|r| {
        by_ref
            .get(r)
            .is_some_and(|i| i.as_stage_questionnaire().is_some())
    });
    let has_questionnaire = references.iter().any(|r| {
        by_ref
            .get(r)
            .is_some_and(|i| i.as_questionnaire().is_some())
    });
    match instrument.body() {
        Body::Drivers(_) | Body::ValidationGuide(_) if !has_stages => {
            check.report("instrument.references", needs("stage questionnaire"));
        }
        Body::OutcomeMap(_) if !has_stages || !has_questionnaire => {
            check.report(
                "instrument.references",
                "an outcome map needs references to a stage questionnaire and to the outcome questionnaire",
            );
        }
        _ => {}
    }
    references
}

fn stage_questionnaire(check: &mut Checker<'_>, body: &StageQuestionnaire) {
    if let Some(introduction) = &body.introduction {
        check.text("introduction", introduction);
    }
    let q1 = &body.stage_question;
    check.text("stage_question.heading", &q1.heading);
    check.text("stage_question.instructions", &q1.instructions);
    check.text("stage_question.warning", &q1.warning);
    check.text("stage_question.drivers_pointer", &q1.drivers_pointer);
    let ids: Vec<StageItemId> = q1.items.iter().map(|item| item.id).collect();
    if ids != StageItemId::ALL {
        check.report(
            "stage_question.items",
            "Q.1 must have the items stage, rationale, evidence, comments, plans in this order",
        );
    }
    for (index, item) in q1.items.iter().enumerate() {
        check.text(format!("stage_question.items[{index}].text"), &item.text);
    }
    if let Some(stage) = q1.items.iter().find(|item| item.id == StageItemId::Stage)
        && !stage.required
    {
        check.report("stage_question.items[0].required", "the stage is required");
    }

    let q2 = &body.activity_question;
    check.text("activity_question.heading", &q2.heading);
    check.text("activity_question.instructions", &q2.instructions);
    check.text("activity_question.other_heading", &q2.other_heading);
    if q2.other_rows > super::MAX_OTHER_ACTIVITIES {
        check.report(
            "activity_question.other_rows",
            format!("at most {} rows", super::MAX_OTHER_ACTIVITIES),
        );
    }
    let values: Vec<u8> = q2.scale.iter().map(|p| p.value).collect();
    if values != RATING_SCALE {
        check.report(
            "activity_question.scale",
            format!("the scale must be 1, 2, 3 in order, found {values:?}"),
        );
    }
    for (index, point) in q2.scale.iter().enumerate() {
        check.text(
            format!("activity_question.scale[{index}].label"),
            &point.label,
        );
    }

    if body.pillars.is_empty() {
        check.report("pillars", "at least one pillar");
    }
    check.numbered("pillars", &body.pillars, |p| p.number, "pillars");
    let mut seen = BTreeSet::new();
    for (p, pillar) in body.pillars.iter().enumerate() {
        let path = format!("pillars[{p}]");
        check.text(format!("{path}.name"), &pillar.name);
        check.text(
            format!("{path}.management_function"),
            &pillar.management_function,
        );
        if pillar.components.is_empty() {
            check.report(format!("{path}.components"), "at least one component");
        }
        for (c, component) in pillar.components.iter().enumerate() {
            let path = format!("{path}.components[{c}]");
            let expected = format!("{}.{}", pillar.number, c + 1);
            if component.id != expected {
                check.report(
                    format!("{path}.id"),
                    format!(
                        "component `{}` should be `{expected}` (pillar number, then its position)",
                        component.id
                    ),
                );
            }
            if !seen.insert(component.id.clone()) {
                check.report(
                    format!("{path}.id"),
                    format!("duplicate id `{}`", component.id),
                );
            }
            check.text(format!("{path}.name"), &component.name);
            check.text(format!("{path}.description"), &component.description);
            check.text(format!("{path}.output_quality"), &component.output_quality);
            if let Some(intro) = &component.indicators_intro {
                check.text(format!("{path}.indicators_intro"), intro);
            }
            if component.indicators.is_empty() {
                check.report(format!("{path}.indicators"), "at least one indicator");
            }
            for (i, indicator) in component.indicators.iter().enumerate() {
                check.text(format!("{path}.indicators[{i}].text"), &indicator.text);
                if let Some(intro) = &indicator.intro {
                    check.text(format!("{path}.indicators[{i}].intro"), intro);
                }
                if indicator.text.as_str().trim_end().ends_with('*') {
                    check.report(
                        format!("{path}.indicators[{i}].text"),
                        "write the 2004 marker as `jiu2004 = true`, not as a trailing `*`",
                    );
                }
            }
            check.stages(&format!("{path}.stages"), &component.stages, |s| s.stage);
            for (s, stage) in component.stages.iter().enumerate() {
                check.text(format!("{path}.stages[{s}].title"), &stage.title);
                check.text(format!("{path}.stages[{s}].text"), &stage.text);
            }
            if let Some(instructions) = &component.activity_instructions {
                check.text(format!("{path}.activity_instructions"), instructions);
            }
            for (a, activity) in component.activities.iter().enumerate() {
                check.text(format!("{path}.activities[{a}].text"), &activity.text);
            }
        }
    }
}

fn component_ids(stages: Option<&StageQuestionnaire>) -> Option<BTreeSet<&str>> {
    stages.map(|s| s.components().map(|c| c.id.as_str()).collect())
}

fn drivers(check: &mut Checker<'_>, body: &Drivers, stages: Option<&StageQuestionnaire>) {
    if let Some(introduction) = &body.introduction {
        check.text("introduction", introduction);
    }
    check.stages("stages", &body.stages, |s| s.stage);
    for (s, stage) in body.stages.iter().enumerate() {
        check.text(format!("stages[{s}].name"), &stage.name);
    }
    if body.drivers.is_empty() {
        check.report("drivers", "at least one driver");
    }
    check.numbered("drivers", &body.drivers, |d| d.number, "drivers");
    let known = component_ids(stages);
    for (d, driver) in body.drivers.iter().enumerate() {
        let path = format!("drivers[{d}]");
        check.text(format!("{path}.name"), &driver.name);
        check.text(format!("{path}.focus"), &driver.focus);
        check.text(format!("{path}.key_question"), &driver.key_question);
        check.text(format!("{path}.column"), &driver.column);
        check.stages(&format!("{path}.stages"), &driver.stages, |s| s.stage);
        for (s, stage) in driver.stages.iter().enumerate() {
            check.text(format!("{path}.stages[{s}].text"), &stage.text);
        }
        component_refs(
            check,
            &format!("{path}.components"),
            &driver.components,
            known.as_ref(),
        );
    }
}

fn component_refs(
    check: &mut Checker<'_>,
    path: &str,
    components: &[String],
    known: Option<&BTreeSet<&str>>,
) {
    let Some(known) = known else { return };
    let mut seen = BTreeSet::new();
    for (index, component) in components.iter().enumerate() {
        if !known.contains(component.as_str()) {
            check.report(
                format!("{path}[{index}]"),
                format!("unknown component `{component}`"),
            );
        }
        if !seen.insert(component) {
            check.report(
                format!("{path}[{index}]"),
                format!("component `{component}` listed twice"),
            );
        }
    }
}

fn questionnaire(check: &mut Checker<'_>, body: &Questionnaire) {
    if let Some(text) = &body.introduction {
        check.text("introduction", text);
    }
    if let Some(text) = &body.instructions {
        check.text("instructions", text);
    }
    let mut parameter_ids = BTreeSet::new();
    for (index, parameter) in body.parameters.iter().enumerate() {
        let path = format!("parameters[{index}]");
        check.id(format!("{path}.id"), &parameter.id, &mut parameter_ids);
        check.text(format!("{path}.label"), &parameter.label);
        check.text(format!("{path}.default"), &parameter.default);
    }
    let placeholder_check = |check: &mut Checker<'_>, path: String, text: &Text| {
        for name in placeholders(text.as_str()) {
            if !parameter_ids.contains(name) {
                check.report(
                    path.clone(),
                    format!("placeholder `{{{name}}}` names no parameter"),
                );
            }
        }
    };

    let mut area_ids = BTreeSet::new();
    for (index, area) in body.outcome_areas.iter().enumerate() {
        let path = format!("outcome_areas[{index}]");
        check.id(format!("{path}.id"), &area.id, &mut area_ids);
        check.text(format!("{path}.name"), &area.name);
        check.text(format!("{path}.quote"), &area.quote);
        check.text(format!("{path}.reference"), &area.reference);
        if let Some(definition) = &area.definition {
            check.text(format!("{path}.definition"), definition);
        }
    }
    check.numbered(
        "outcome_areas",
        &body.outcome_areas,
        |a| a.number,
        "outcome areas",
    );

    if body.sections.is_empty() {
        check.report("sections", "at least one section");
    }
    let mut section_ids = BTreeSet::new();
    let mut areas_with_questions = BTreeSet::new();
    for (s, section) in body.sections.iter().enumerate() {
        let path = format!("sections[{s}]");
        check.id(format!("{path}.id"), &section.id, &mut section_ids);
        check.text(format!("{path}.title"), &section.title);
        for (field, text) in [("question", &section.question), ("text", &section.text)] {
            if let Some(text) = text {
                check.text(format!("{path}.{field}"), text);
                placeholder_check(check, format!("{path}.{field}"), text);
            }
        }
        if let Some(area) = &section.outcome_area {
            if area_ids.contains(area) {
                if !section.items.is_empty() {
                    areas_with_questions.insert(area.clone());
                }
            } else {
                check.report(
                    format!("{path}.outcome_area"),
                    format!("unknown outcome area `{area}`"),
                );
            }
        }
        if section.items.is_empty() {
            check.report(format!("{path}.items"), "at least one item");
        }
        let mut item_ids = BTreeSet::new();
        for (i, item) in section.items.iter().enumerate() {
            let path = format!("{path}.items[{i}]");
            check.id(format!("{path}.id"), &item.id, &mut item_ids);
            check.text(format!("{path}.text"), &item.text);
            placeholder_check(check, format!("{path}.text"), &item.text);
            if let Some(help) = &item.help {
                check.text(format!("{path}.help"), help);
            }
            for (q, sub) in item.sub_questions.iter().enumerate() {
                check.text(format!("{path}.sub_questions[{q}].text"), &sub.text);
                placeholder_check(check, format!("{path}.sub_questions[{q}].text"), &sub.text);
            }
            let mut field_ids = BTreeSet::new();
            for (f, field) in item.fields.iter().enumerate() {
                check.id(format!("{path}.fields[{f}].id"), &field.id, &mut field_ids);
                check.text(format!("{path}.fields[{f}].label"), &field.label);
            }
        }
    }
    for (index, area) in body.outcome_areas.iter().enumerate() {
        if !areas_with_questions.contains(&area.id) {
            check.report(
                format!("outcome_areas[{index}]"),
                format!("outcome area `{}` has no section with questions", area.id),
            );
        }
    }
    let mut guidance_ids = BTreeSet::new();
    for (index, block) in body.guidance.iter().enumerate() {
        check.id(
            format!("guidance[{index}].id"),
            &block.id,
            &mut guidance_ids,
        );
        check.text(format!("guidance[{index}].title"), &block.title);
        check.text(format!("guidance[{index}].text"), &block.text);
    }
}

fn validation_guide(
    check: &mut Checker<'_>,
    body: &ValidationGuide,
    stages: Option<&StageQuestionnaire>,
) {
    let mut block_ids = BTreeSet::new();
    for (index, block) in body.sections.iter().enumerate() {
        check.id(format!("sections[{index}].id"), &block.id, &mut block_ids);
        check.text(format!("sections[{index}].title"), &block.title);
        check.text(format!("sections[{index}].text"), &block.text);
    }
    if body.concerns.is_empty() {
        check.report("concerns", "at least one concern");
    }
    check.numbered("concerns", &body.concerns, |c| c.number, "concerns");
    let mut concern_ids = BTreeSet::new();
    for (c, concern) in body.concerns.iter().enumerate() {
        let path = format!("concerns[{c}]");
        check.id(format!("{path}.id"), &concern.id, &mut concern_ids);
        check.text(format!("{path}.title"), &concern.title);
        if concern.text.is_none() && concern.points.is_empty() {
            check.report(path.clone(), "a concern needs a text or points");
        }
        for (p, point) in concern.points.iter().enumerate() {
            check.text(format!("{path}.points[{p}].text"), &point.text);
        }
    }
    let sheet = &body.summary_sheet;
    check.text("summary_sheet.title", &sheet.title);
    if sheet.columns.is_empty() {
        check.report("summary_sheet.columns", "at least one column");
    }
    for (index, column) in sheet.columns.iter().enumerate() {
        check.text(format!("summary_sheet.columns[{index}]"), column);
    }
    let rows: Vec<String> = sheet.rows.iter().map(|r| r.component.clone()).collect();
    component_refs(
        check,
        "summary_sheet.rows[].component",
        &rows,
        component_ids(stages).as_ref(),
    );
    if let Some(stages) = stages {
        for component in stages.components() {
            if !rows.contains(&component.id) {
                check.report(
                    "summary_sheet.rows",
                    format!(
                        "component `{}` has no row in the summary sheet",
                        component.id
                    ),
                );
            }
        }
        for (index, row) in sheet.rows.iter().enumerate() {
            let pillar_of_component = row.component.split('.').next().unwrap_or_default();
            if pillar_of_component != row.pillar.to_string() {
                check.report(
                    format!("summary_sheet.rows[{index}].pillar"),
                    format!(
                        "component `{}` is not in pillar {}",
                        row.component, row.pillar
                    ),
                );
            }
        }
    }
}

fn outcome_map(
    check: &mut Checker<'_>,
    body: &OutcomeMap,
    stages: Option<&StageQuestionnaire>,
    outcomes: Option<&Questionnaire>,
) {
    let mut qcpr_ids = BTreeSet::new();
    let area_known = |area: &str| outcomes.is_none_or(|q| q.outcome_area(area).is_some());
    for (index, qcpr) in body.qcpr_outcomes.iter().enumerate() {
        let path = format!("qcpr_outcomes[{index}]");
        check.id(format!("{path}.id"), &qcpr.id, &mut qcpr_ids);
        check.text(format!("{path}.text"), &qcpr.text);
        check.text(format!("{path}.reference"), &qcpr.reference);
        if let Some(area) = &qcpr.outcome_area
            && !area_known(area)
        {
            check.report(
                format!("{path}.outcome_area"),
                format!("unknown outcome area `{area}`"),
            );
        }
    }
    let qcpr_refs = |check: &mut Checker<'_>, path: &str, refs: &[String]| {
        for (index, id) in refs.iter().enumerate() {
            if !qcpr_ids.contains(id) {
                check.report(
                    format!("{path}[{index}]"),
                    format!("unknown QCPR outcome `{id}`"),
                );
            }
        }
    };
    let pillar_numbers: BTreeSet<u8> = stages
        .map(|s| s.pillars.iter().map(|p| p.number).collect())
        .unwrap_or_default();
    for (index, pillar) in body.pillars.iter().enumerate() {
        let path = format!("pillars[{index}]");
        if stages.is_some() && !pillar_numbers.contains(&pillar.pillar) {
            check.report(
                format!("{path}.pillar"),
                format!("unknown pillar {}", pillar.pillar),
            );
        }
        for (o, outcome) in pillar.expected_outcomes.iter().enumerate() {
            check.text(format!("{path}.expected_outcomes[{o}]"), outcome);
        }
        qcpr_refs(
            check,
            &format!("{path}.qcpr_outcomes"),
            &pillar.qcpr_outcomes,
        );
    }
    let mapped: Vec<String> = body
        .components
        .iter()
        .map(|c| c.component.clone())
        .collect();
    component_refs(
        check,
        "components[].component",
        &mapped,
        component_ids(stages).as_ref(),
    );
    if let Some(stages) = stages {
        for component in stages.components() {
            if !mapped.contains(&component.id) {
                check.report(
                    "components",
                    format!("component `{}` is not mapped", component.id),
                );
            }
        }
    }
    for (index, component) in body.components.iter().enumerate() {
        let path = format!("components[{index}]");
        for (o, outcome) in component.indicative_outcomes.iter().enumerate() {
            check.text(format!("{path}.indicative_outcomes[{o}]"), outcome);
        }
        qcpr_refs(
            check,
            &format!("{path}.qcpr_outcomes"),
            &component.qcpr_outcomes,
        );
        for (a, area) in component.outcome_areas.iter().enumerate() {
            if !area_known(area) {
                check.report(
                    format!("{path}.outcome_areas[{a}]"),
                    format!("unknown outcome area `{area}`"),
                );
            }
        }
    }
}
