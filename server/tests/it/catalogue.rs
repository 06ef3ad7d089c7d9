use server::catalogue::model::{Audience, Criterion, InstrumentKind, ResponseMode};
use server::catalogue::{AnswerType, Catalogue, Instrument};

use crate::support::shipped;

const INSTRUMENTS: [&str; 12] = [
    "jiu-rbm-stages",
    "jiu-rbm-drivers",
    "jiu-rbm-outcomes",
    "jiu-rbm-validation",
    "jiu-rbm-outcome-map",
    "iom-rtl-lessons-learned",
    "iom-rtl-after-action-review",
    "iom-rtl-adaptive-management-review",
    "iom-rtl-real-time-review",
    "iom-pmr",
    "iom-rtl-concept-note",
    "iom-rtl-findings-report",
];

fn get<'a>(catalogue: &'a Catalogue, id: &str) -> &'a Instrument {
    catalogue
        .get(id, 1)
        .unwrap_or_else(|| panic!("{id}@1 is in the catalogue"))
}

#[test]
fn shipped_catalogue_holds_every_instrument_with_its_header() {
    let catalogue = shipped();
    assert_eq!(catalogue.len(), INSTRUMENTS.len());
    for id in INSTRUMENTS {
        let header = get(&catalogue, id).header();
        assert!(!header.title.is_blank(), "{id} has a title");
        assert!(!header.audience.is_empty(), "{id} has an audience");
        assert!(header.source.document.contains(if id.starts_with("jiu") {
            "JIU/NOTE/2017/1"
        } else {
            "Manual on Real-Time Learning"
        }));
        assert!(!header.source.pages.is_empty(), "{id} has a page range");
        assert_eq!(header.language.as_str(), "en");
    }
    assert_eq!(
        get(&catalogue, "jiu-rbm-stages").header().response_mode,
        ResponseMode::PerOrganisation
    );
    assert_eq!(
        get(&catalogue, "jiu-rbm-outcomes").header().response_mode,
        ResponseMode::PerRespondent
    );
    assert_eq!(
        get(&catalogue, "jiu-rbm-outcomes").header().audience,
        vec![Audience::SeniorManager]
    );
    assert_eq!(
        get(&catalogue, "jiu-rbm-drivers").header().response_mode,
        ResponseMode::Reference
    );
    assert_eq!(
        catalogue.latest("jiu-rbm-stages").map(Instrument::version),
        Some(1)
    );
    assert!(catalogue.latest("no-such-instrument").is_none());
}

#[test]
fn stage_questionnaire_has_17_components_in_5_pillars_each_with_five_stages() {
    let catalogue = shipped();
    let stages = get(&catalogue, "jiu-rbm-stages")
        .as_stage_questionnaire()
        .expect("a stage questionnaire");
    let per_pillar: Vec<usize> = stages.pillars.iter().map(|p| p.components.len()).collect();
    assert_eq!(per_pillar, vec![3, 5, 4, 3, 2]);
    let ids: Vec<&str> = stages.components().map(|c| c.id.as_str()).collect();
    assert_eq!(
        ids,
        vec![
            "1.1", "1.2", "1.3", "2.1", "2.2", "2.3", "2.4", "2.5", "3.1", "3.2", "3.3", "3.4",
            "4.1", "4.2", "4.3", "5.1", "5.2"
        ]
    );
    for component in stages.components() {
        let numbers: Vec<u8> = component.stages.iter().map(|s| s.stage).collect();
        assert_eq!(numbers, vec![1, 2, 3, 4, 5], "{}", component.id);
        assert!(
            component
                .stages
                .iter()
                .all(|s| !s.title.is_blank() && !s.text.is_blank()),
            "{}",
            component.id
        );
        assert!(!component.indicators.is_empty(), "{}", component.id);
    }
    // Counts per component, as transcribed (indicators, of which 2004, activities).
    let counts: Vec<(usize, usize, usize)> = stages
        .components()
        .map(|c| {
            (
                c.indicators.len(),
                c.indicators.iter().filter(|i| i.jiu2004).count(),
                c.activities.len(),
            )
        })
        .collect();
    assert_eq!(
        counts,
        vec![
            (12, 5, 7),
            (8, 0, 6),
            (7, 5, 2),
            (7, 3, 6),
            (8, 1, 5),
            (8, 0, 5),
            (9, 3, 6),
            (12, 6, 4),
            (8, 4, 7),
            (14, 0, 6),
            (15, 1, 6),
            (8, 0, 4),
            (9, 5, 8),
            (14, 0, 3),
            (5, 0, 5),
            (11, 0, 0),
            (12, 0, 0),
        ]
    );
    // Every scale point is labelled.
    let scale: Vec<(u8, &str)> = stages
        .activity_question
        .scale
        .iter()
        .map(|p| (p.value, p.label.as_str()))
        .collect();
    assert_eq!(
        scale,
        vec![
            (1, "No contribution"),
            (2, "Little contribution"),
            (3, "Significant contribution")
        ]
    );
}

#[test]
fn stage_questionnaire_wording_matches_annex_ix() {
    let catalogue = shipped();
    let stages = get(&catalogue, "jiu-rbm-stages")
        .as_stage_questionnaire()
        .expect("a stage questionnaire");
    let q1 = &stages.stage_question;
    assert_eq!(
        q1.warning.as_str(),
        "It is important to note that, in making the judgment, you should avoid averaging out across the various indicators identified for that component, since in reality some will be absolutely vital and some may be desirable, but not vital, and some may even be irrelevant to your organization."
    );
    assert_eq!(
        q1.drivers_pointer.as_str(),
        "The stages are characterized by the drivers described in annex V of the note of the Joint Inspection Unit; please review them to help guide your assessment and judgment."
    );
    let items: Vec<(&str, &str)> = q1
        .items
        .iter()
        .map(|i| (i.number.as_str(), i.text.as_str()))
        .collect();
    assert_eq!(
        items,
        vec![
            ("1.1", "Select the stage of development:"),
            (
                "1.2",
                "Provide the rationale or justification for your selection:"
            ),
            (
                "1.3",
                "Provide evidence supporting the stage of development selected: list the documented evidence available that supports your judgment. If no documented evidence is available, please provide the names of experts/staff/managers involved in the selection of the stage of development."
            ),
            (
                "1.4",
                "Provide any comments on the stage selected and/or on the component (successes, opportunities, challenges, constraints):"
            ),
            (
                "1.5",
                "Are there future plans for the further development of the component?"
            ),
        ]
    );
    assert_eq!(
        stages.activity_question.heading.as_str(),
        "Q.2: Identification of activities and output strategies for mainstreaming results-based management in the component"
    );

    let strategy = stages.component("1.1").expect("1.1");
    assert_eq!(strategy.name.as_str(), "Results-based management strategy");
    assert_eq!(
        strategy.output_quality.as_str(),
        "A comprehensive and holistic conceptual strategy for results-based management is in place and there is commitment for it."
    );
    let indicator = &strategy.indicators[3];
    assert_eq!(
        indicator.text.as_str(),
        "Specify the key principles of the results framework and in managing for results"
    );
    assert!(indicator.jiu2004, "marked * in the source");
    assert!(!strategy.indicators[0].jiu2004);
    assert_eq!(
        strategy.stages[0].title.as_str(),
        "Not started and no strategy for results-based management"
    );
    assert_eq!(
        strategy.stages[0].text.as_str(),
        "The organization does not have a results-based management strategy and does not recognize the need to have one."
    );
    assert_eq!(
        strategy.activities[0].text.as_str(),
        "Invests in promoting a common understanding of results-based management within the organization, with the governing body and with significant external stakeholders"
    );

    // The seed prints the activity tables of 1.2 and 1.3 under each other's heading.
    let change = stages.component("1.2").expect("1.2");
    assert!(change.activities.iter().any(|a| a.text.as_str()
        == "Establishes a change management team or task force (or unit) to manage the change process"));
    let accountability = stages.component("1.3").expect("1.3");
    assert!(accountability.activities.iter().any(|a| a.text.as_str()
        == "Establishes formal mechanisms to report on the implementation of the accountability framework"));

    let framework = stages.component("2.1").expect("2.1");
    assert_eq!(
        framework.stages[2].title.as_str(),
        "In the process of mainstreaming"
    );
    assert_eq!(
        framework.stages[2].text.as_str(),
        "The organization is setting up its corporate strategic results framework, which contains long-term objectives and indicators. Some of the actions listed to the left are included, and some/few key decision makers use it to take informed corporate-level prioritization/planning decisions."
    );
    let reporting = stages.component("3.2").expect("3.2");
    assert_eq!(
        reporting.indicators[5].intro.as_ref().map(|t| t.as_str()),
        Some(
            "A credible results report should be clear and well substantiated and do the following:"
        )
    );
    let coherence = stages.component("5.1").expect("5.1");
    assert_eq!(
        coherence.activity_instructions.as_ref().map(|t| t.as_str()),
        Some("Add main activities from your organization and rate them.")
    );
}

#[test]
fn stage_questionnaire_derives_its_questions() {
    let catalogue = shipped();
    let instrument = get(&catalogue, "jiu-rbm-stages");
    let question = |id: &str| {
        instrument
            .question(id)
            .unwrap_or_else(|| panic!("question {id}"))
    };
    assert_eq!(question("1.1/stage").answer, AnswerType::Stage);
    assert!(question("1.1/stage").required);
    assert_eq!(question("1.1/evidence").answer, AnswerType::Evidence);
    assert!(!question("1.1/plans").required);
    assert_eq!(
        question("1.1/activity/7").answer,
        AnswerType::Rating { min: 1, max: 3 }
    );
    assert!(instrument.question("1.1/activity/8").is_none());
    assert!(matches!(
        question("5.2/other").answer,
        AnswerType::OtherActivities { max_rows: 10, .. }
    ));
    // 17 components × (5 Q.1 items + other activities) + 80 listed activities.
    assert_eq!(instrument.questions().len(), 17 * 6 + 80);
}

#[test]
fn drivers_are_five_by_five_with_key_questions() {
    let catalogue = shipped();
    let drivers = get(&catalogue, "jiu-rbm-drivers")
        .as_drivers()
        .expect("drivers");
    assert_eq!(drivers.drivers.len(), 5);
    for driver in &drivers.drivers {
        let numbers: Vec<u8> = driver.stages.iter().map(|s| s.stage).collect();
        assert_eq!(numbers, vec![1, 2, 3, 4, 5]);
        assert!(driver.stages.iter().all(|s| !s.text.is_blank()));
        assert!(!driver.components.is_empty());
    }
    let first = &drivers.drivers[0];
    assert_eq!(
        first.name.as_str(),
        "Comprehensiveness in the scope of coverage of identified indicators for the components"
    );
    assert_eq!(
        first.key_question.as_str(),
        "what is the extent to which indicators of the components that describe the mainstreaming of results-based management are covered?"
    );
    assert_eq!(first.column.as_str(), "How comprehensive is the coverage?");
    let alignment = &drivers.drivers[3];
    assert_eq!(
        alignment.stages[3].text.as_str(),
        "The organization continued mainstreaming due changes in the wider external context and what is done by partners"
    );
    let names: Vec<&str> = drivers.stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "Not started",
            "Exploration for mainstreaming",
            "Transition to mainstreaming",
            "Fully mainstreamed",
            "Continuous learning for renewal"
        ]
    );
}

#[test]
fn outcome_protocol_has_part_1_and_every_outcome_area_with_questions() {
    let catalogue = shipped();
    let outcomes = get(&catalogue, "jiu-rbm-outcomes")
        .as_questionnaire()
        .expect("a questionnaire");
    let sections: Vec<(&str, usize)> = outcomes
        .sections
        .iter()
        .map(|s| (s.id.as_str(), s.items.len()))
        .collect();
    assert_eq!(
        sections,
        vec![
            ("part-1", 6),
            ("outcome-1", 9),
            ("outcome-2", 10),
            ("outcome-3", 8),
            ("outcome-4-development-results", 8),
            ("outcome-4-organizational-effectiveness", 7),
            ("outcome-5", 8),
        ]
    );
    let areas: Vec<&str> = outcomes
        .outcome_areas
        .iter()
        .map(|a| a.name.as_str())
        .collect();
    assert_eq!(
        areas,
        vec![
            "Accountability",
            "Results tracking and reporting systems",
            "Streamlining and harmonization for system-wide results",
            "Influence in development results and organizational effectiveness",
            "Mutual accountability"
        ]
    );
    for area in &outcomes.outcome_areas {
        assert!(
            outcomes
                .sections
                .iter()
                .any(|s| s.outcome_area.as_deref() == Some(area.id.as_str()) && !s.items.is_empty()),
            "{} has questions",
            area.id
        );
    }
    let part_1 = &outcomes.sections[0];
    assert_eq!(
        part_1.items[2].text.as_str(),
        "Are there any challenges and constraints with regard to achieving the outcomes and impact identified from mainstreaming results-based management that you would like to highlight?"
    );
    let accountability = &outcomes.sections[1];
    assert_eq!(
        accountability.items[1].text.as_str(),
        "In the area of human resources performance assessment, what do you hold staff and managers accountable for (disbursement of funds, corporate performance indicators, etc.)?"
    );
    assert_eq!(
        accountability.items[8].text.as_str(),
        "Please answer: who is (are) the senior manager(s) making a judgment on this area in your organization?"
    );
    let mutual = outcomes.outcome_area("qcpr-5").expect("qcpr-5");
    assert_eq!(
        mutual.quote.as_str(),
        "Ensure increased mutual accountability for results-based management and reporting at the country level"
    );
    assert_eq!(mutual.reference.as_str(), "para. 171");
    assert!(
        outcomes.guidance.iter().any(|g| g.id == "interview"
            && g.text
                .as_str()
                .contains("focused, non-structured interview")),
        "section 2 interview guidance"
    );
}

#[test]
fn validation_guide_has_three_concerns_and_the_summary_sheet() {
    let catalogue = shipped();
    let guide = get(&catalogue, "jiu-rbm-validation")
        .as_validation_guide()
        .expect("validation guide");
    let titles: Vec<&str> = guide.concerns.iter().map(|c| c.title.as_str()).collect();
    assert_eq!(
        titles,
        vec![
            "Internal validity in rating",
            "External validity in rating",
            "System-wide dimension of results-based management"
        ]
    );
    assert_eq!(
        guide.concerns[0].points[0].text.as_str(),
        "Understand the evidence used when making judgments and ensure consistency in ratings with the evidence used"
    );
    assert_eq!(guide.summary_sheet.rows.len(), 17);
    // The sheet prints "1.2 Accountability Framework": it is component 1.3 by meaning.
    let row = guide
        .summary_sheet
        .rows
        .iter()
        .find(|r| r.component == "1.3")
        .expect("row of 1.3");
    assert_eq!(row.component_label.as_str(), "1.2 Accountability Framework");
}

#[test]
fn outcome_map_links_every_component_to_outcome_areas() {
    let catalogue = shipped();
    let map = get(&catalogue, "jiu-rbm-outcome-map")
        .as_outcome_map()
        .expect("outcome map");
    assert_eq!(map.components.len(), 17);
    assert!(
        map.components
            .iter()
            .all(|c| !c.indicative_outcomes.is_empty())
    );
    assert!(map.components.iter().all(|c| !c.outcome_areas.is_empty()));
    let strategy = map.component("1.1").expect("1.1");
    assert_eq!(
        strategy.indicative_outcomes[0].as_str(),
        "Enhanced common understanding of results-based management, its rationale and implications throughout the organization"
    );
}

#[test]
fn iom_learning_sets_are_complete() {
    let catalogue = shipped();
    let questions = |id: &str| -> Vec<String> {
        get(&catalogue, id)
            .as_questionnaire()
            .expect("a questionnaire")
            .sections
            .iter()
            .flat_map(|s| s.items.iter().map(|i| i.text.as_str().to_owned()))
            .collect()
    };
    let lessons = get(&catalogue, "iom-rtl-lessons-learned")
        .as_questionnaire()
        .expect("questionnaire");
    let defaults = lessons
        .parameters
        .iter()
        .map(|p| (p.id.clone(), p.default.as_str().to_owned()))
        .collect();
    let rendered: Vec<String> = lessons.sections[0]
        .items
        .iter()
        .map(|i| i.text.render(&defaults))
        .collect();
    assert_eq!(
        rendered,
        vec![
            "What were the key successes in the last period?",
            "What were the biggest challenges in the last period?",
            "What are the top three learnings from the last period?",
            "What actions and changes (if any) are needed as a result of these discussions?"
        ]
    );
    assert_eq!(
        questions("iom-rtl-after-action-review"),
        vec![
            "What was expected to happen?",
            "What occurred?",
            "What went well and what could have gone better, and why?",
            "What can be improved and how?"
        ]
    );

    let adaptive = get(&catalogue, "iom-rtl-adaptive-management-review")
        .as_questionnaire()
        .expect("questionnaire");
    let swot = &adaptive.sections[0];
    assert_eq!(
        swot.question.as_ref().map(|q| q.as_str()),
        Some(
            "How can current management approaches be adapted and better respond to the needs deriving from the emerging context?"
        )
    );
    let numbers: Vec<&str> = swot
        .items
        .iter()
        .filter_map(|i| i.number.as_deref())
        .collect();
    assert_eq!(numbers, vec!["S", "W", "O", "T"]);
    assert!(swot.items.iter().all(|i| {
        i.fields.iter().map(|f| f.id.as_str()).collect::<Vec<_>>() == ["findings", "next-steps"]
    }));
    assert_eq!(
        swot.items[0].text.as_str(),
        "What are the strengths of the current management approaches that can be kept to respond to the emerging context? What does this mean in terms of adaptation for the current management?"
    );

    let review = get(&catalogue, "iom-rtl-real-time-review")
        .as_questionnaire()
        .expect("questionnaire");
    let criteria: Vec<Criterion> = review.sections[0]
        .items
        .iter()
        .flat_map(|i| i.criteria.iter().copied())
        .collect();
    for criterion in [
        Criterion::Relevance,
        Criterion::Coherence,
        Criterion::Effectiveness,
        Criterion::Efficiency,
        Criterion::Sustainability,
    ] {
        assert!(criteria.contains(&criterion), "{criterion:?}");
    }
    assert!(
        questions("iom-rtl-real-time-review").contains(
            &"Would the target beneficiaries be satisfied with the adjusted services provided?"
                .to_owned()
        )
    );

    let pmr = get(&catalogue, "iom-pmr")
        .as_questionnaire()
        .expect("questionnaire");
    let sections: Vec<&str> = pmr.sections.iter().map(|s| s.id.as_str()).collect();
    for expected in [
        "context",
        "effectiveness",
        "efficiency",
        "cross-cutting",
        "conclusions",
        "recommendations",
        "good-practices",
        "lessons-learned",
        "sources",
    ] {
        assert!(sections.contains(&expected), "PMR section {expected}");
    }
    let effectiveness = pmr
        .sections
        .iter()
        .find(|s| s.id == "effectiveness")
        .expect("effectiveness");
    assert_eq!(effectiveness.criterion, Some(Criterion::Effectiveness));
    assert_eq!(
        effectiveness.items[0].text.as_str(),
        "How is the intervention structured and is it effective in facilitating results-based management?"
    );
    let tagged = effectiveness.items[0]
        .sub_questions
        .iter()
        .find(|q| q.criteria.contains(&Criterion::Coherence))
        .expect("a sub-question tagged *coherence");
    assert!(
        tagged
            .text
            .as_str()
            .starts_with("How does the intervention coordinate with other similar interventions")
    );
    assert!(
        effectiveness
            .items
            .iter()
            .all(|i| i.fields[0].label.as_str() == "Findings/comments")
    );

    let concept = questions("iom-rtl-concept-note");
    for heading in [
        "Intervention context",
        "Purpose of the real-time learning activity (intended use and users)",
        "Learning questions",
        "Audience and information needs",
        "Roles and responsibilities",
        "Principles, ethics, norms, or anticipated challenges",
        "Budget and resources",
        "Timeline",
        "Learning, communication, and dissemination",
    ] {
        assert!(
            concept.contains(&heading.to_owned()),
            "concept note: {heading}"
        );
    }
    let report = questions("iom-rtl-findings-report");
    for heading in [
        "Intervention context",
        "Objectives of the RTL activity",
        "Methodology and process",
        "Findings",
        "Conclusions",
        "Recommendations",
        "Action plan",
        "For more information",
    ] {
        assert!(
            report.contains(&heading.to_owned()),
            "findings report: {heading}"
        );
    }
}

#[test]
fn every_instrument_kind_is_represented() {
    let catalogue = shipped();
    let kinds: Vec<InstrumentKind> = catalogue.instruments().map(|i| i.header().kind).collect();
    for kind in [
        InstrumentKind::StageQuestionnaire,
        InstrumentKind::Drivers,
        InstrumentKind::Questionnaire,
        InstrumentKind::ValidationGuide,
        InstrumentKind::OutcomeMap,
    ] {
        assert!(kinds.contains(&kind), "{kind:?}");
    }
}
