//! Profiles, flags and the round matrix over HTTP on both backends: six organisations
//! answer through `saveAnswers`, two independent raters rate one of them blind, a senior
//! manager answers the outcome protocol, and the organisation answered a previous round.
//! The profile (pillar stages under each rule, raters' agreement, change, drivers,
//! outcome linkage), the flags raised and not raised, and the matrix with its
//! distributions are checked value by value, with who may read them.

use serde_json::{Value, json};
use server::catalogue::InstrumentRef;
use server::domain::{
    Assignment, EmailAddress, Organisation, OrganisationId, Person, PersonId, Role, Round, RoundId,
    RoundStatus, TelegramChatId, Timestamp, TokenRole,
};

use server::profile::PillarRule;
use server::service::profile as profile_service;

use crate::support::{Backend, TestServer, data, error_code};

pub(crate) const ROUND: &str = "r-2026";
pub(crate) const PREVIOUS: &str = "r-2025";
pub(crate) const ORGANISATIONS: [&str; 6] =
    ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot"];
pub(crate) const COMPONENTS: [&str; 17] = [
    "1.1", "1.2", "1.3", "2.1", "2.2", "2.3", "2.4", "2.5", "3.1", "3.2", "3.3", "3.4", "4.1",
    "4.2", "4.3", "5.1", "5.2",
];
/// Alpha's self-assessed stages, in `COMPONENTS` order.
pub(crate) const ALPHA: [u8; 17] = [3, 3, 2, 1, 4, 4, 2, 5, 2, 3, 3, 4, 2, 3, 4, 3, 4];
/// Ana: alpha's focal point.
const ANA_CHAT: i64 = 2001;
/// Rita: an independent rater of alpha, through the bot.
const RITA_CHAT: i64 = 2002;

const SAVE: &str =
    "mutation($input: SaveAnswersInput!) { saveAnswers(input: $input) { replayed } }";

pub(crate) const PROFILE: &str = "query($org: String!, $rule: PillarRule! = MEDIAN) {
  profile(roundId: \"r-2026\", organisationId: $org, rule: $rule) {
    roundId organisationId instrument rule submitted previousRoundId
    pillars { number stage min max answered components }
    pattern { pillars median min max answered components }
    raters { personId assigned submitted rated }
    agreement { raters includesSelfAssessment components pairs withinOne shareWithinOne maxRange alpha }
    components {
      id pillar stage validatedStage
      evidence { documents persons strength citesEvaluation }
      activities { listed listedRated other rated mean counts { rating count } }
      completeness { answered required missing }
      raterStages { personId stage }
      agreement { ratings pairs withinOne range }
      change { previousStage delta }
      drivers { number stage text }
    }
    outcomes { id name components { id stage } managers { personId assigned answers { questionId answer } } }
    flags { code componentId pillar trigger items prompt { concernId point text } }
  }
}";

const FLAGS: &str = "query($org: String!) {
  flags(roundId: \"r-2026\", organisationId: $org) { code componentId pillar items }
}";

const MATRIX: &str = "query($rule: PillarRule! = MEDIAN) {
  roundMatrix(roundId: \"r-2026\", rule: $rule) {
    roundId instrument rule minGroupSize
    components { id pillar distribution { n withheld withheldReason median q1 q3 counts } }
    pillars { number distribution { n withheld median q1 q3 counts } }
    rows { organisationId submitted stages pillarStages }
  }
}";

fn person(id: &str, chat: Option<i64>) -> Person {
    Person {
        id: PersonId::parse(id).expect("id"),
        name: id.to_owned(),
        email: EmailAddress::parse(&format!("{id}@example.org")).expect("email"),
        telegram_chat: chat.map(TelegramChatId),
    }
}

fn round(id: &str, deadline_millis: i64, organisations: &[&str]) -> Round {
    Round {
        id: RoundId::parse(id).expect("id"),
        title: id.to_owned(),
        instruments: vec![
            InstrumentRef::parse("jiu-rbm-stages@1").expect("ref"),
            InstrumentRef::parse("jiu-rbm-outcomes@1").expect("ref"),
        ],
        organisations: organisations
            .iter()
            .map(|o| OrganisationId::parse(o).expect("id"))
            .collect(),
        // Deadlines order the rounds: the previous round is the latest one before.
        deadline: Some(Timestamp::from_millis(deadline_millis)),
        status: RoundStatus::Open,
    }
}

/// The organisations, people, both rounds and the assignments, straight into the store.
pub(crate) async fn arrange(server: &TestServer) {
    let store = &server.state.store;
    for id in ORGANISATIONS {
        store
            .put_organisation(
                &Organisation::new(OrganisationId::parse(id).expect("id"), id, None)
                    .expect("organisation"),
            )
            .await
            .expect("organisation stored");
    }
    for (id, chat) in [
        ("p-ana", Some(ANA_CHAT)),
        ("p-rita", Some(RITA_CHAT)),
        ("p-raul", None),
        ("p-ben", None),
    ] {
        store
            .put_person(&person(id, chat))
            .await
            .expect("person stored");
    }
    store
        .put_round(&round(ROUND, 1_782_777_600_000, &ORGANISATIONS))
        .await
        .expect("round stored");
    store
        .put_round(&round(PREVIOUS, 1_751_241_600_000, &["alpha"]))
        .await
        .expect("round stored");
    for (person, role) in [
        ("p-ana", Role::FocalPoint),
        ("p-rita", Role::IndependentRater),
        ("p-raul", Role::IndependentRater),
        (
            "p-ben",
            Role::SeniorManager {
                outcome_areas: vec!["qcpr-1".to_owned()],
            },
        ),
    ] {
        store
            .put_assignment(&Assignment {
                round: RoundId::parse(ROUND).expect("id"),
                organisation: OrganisationId::parse("alpha").expect("id"),
                person: PersonId::parse(person).expect("id"),
                role,
            })
            .await
            .expect("assignment stored");
    }
}

fn stages_ref(round: &str, organisation: &str, person: Option<&str>) -> Value {
    let mut reference = json!({
        "roundId": round,
        "organisationId": organisation,
        "instrument": "jiu-rbm-stages@1",
    });
    if let Some(person) = person {
        reference["personId"] = json!(person);
    }
    reference
}

fn save_input(reference: Value, key: &str, answers: Vec<Value>) -> Value {
    json!({ "input": { "response": reference, "idempotencyKey": key, "answers": answers } })
}

fn stage(component: &str, n: u8) -> Value {
    json!({ "questionId": format!("{component}/stage"), "value": { "stage": n } })
}

fn text(question: &str, value: &str) -> Value {
    json!({ "questionId": question, "value": { "text": value } })
}

fn documents(component: &str, titles: &[&str]) -> Value {
    let items: Vec<Value> = titles
        .iter()
        .map(|t| json!({ "kind": "DOCUMENT", "text": t }))
        .collect();
    json!({ "questionId": format!("{component}/evidence"), "value": { "evidence": items } })
}

fn rating(question: &str, n: u8) -> Value {
    json!({ "questionId": question, "value": { "rating": n } })
}

/// Stage, rationale and a document for every component with a stage (0 skips one).
fn complete(stages: &[u8; 17]) -> Vec<Value> {
    COMPONENTS
        .iter()
        .zip(stages)
        .filter(|(_, n)| **n > 0)
        .flat_map(|(c, n)| {
            [
                stage(c, *n),
                text(&format!("{c}/rationale"), &format!("Why {c} is at {n}.")),
                documents(c, &[&format!("Policy on {c}")]),
            ]
        })
        .collect()
}

async fn save(server: &TestServer, token: Option<&str>, chat: Option<i64>, input: Value) {
    let response = server.graphql_as(token, chat, SAVE, input).await;
    data(&response);
}

/// Every answer through the API.
pub(crate) async fn answer(server: &TestServer) {
    let admin = Some(server.admin.as_str());
    // Alpha: 2.2 has only a person as evidence, 2.5 (stage 5) cites an annual report,
    // 3.4 has no rationale, 1.3 and 4.3 have activity ratings that disagree with their
    // stages, 3.3 has ratings that agree.
    let mut alpha: Vec<Value> = complete(&ALPHA)
        .into_iter()
        .filter(|a| {
            !matches!(
                a["questionId"].as_str(),
                Some("2.2/evidence" | "2.5/evidence" | "3.4/rationale")
            )
        })
        .collect();
    alpha.extend([
        json!({ "questionId": "2.2/evidence", "value": { "evidence": [
            { "kind": "PERSON", "text": "Ms Rao, RBM adviser" } ] } }),
        documents("2.5", &["Annual report 2025"]),
        rating("1.3/activity/1", 3),
        rating("1.3/activity/2", 3),
        json!({ "questionId": "1.3/other", "value": { "activities": [
            { "name": "Staff town halls", "rating": 2 } ] } }),
        rating("4.3/activity/1", 1),
        rating("4.3/activity/2", 1),
        rating("4.3/activity/3", 2),
        rating("3.3/activity/1", 2),
        rating("3.3/activity/2", 2),
        rating("3.3/activity/3", 2),
    ]);
    save(
        server,
        admin,
        None,
        save_input(stages_ref(ROUND, "alpha", None), "alpha", alpha),
    )
    .await;

    let peers: [(&str, [u8; 17]); 5] = [
        ("bravo", [3; 17]),
        ("charlie", [3; 17]),
        ("delta", [4; 17]),
        ("echo", [2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 0, 0]),
        (
            "foxtrot",
            [4, 4, 4, 4, 4, 4, 4, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        ),
    ];
    for (organisation, stages) in peers {
        save(
            server,
            admin,
            None,
            save_input(
                stages_ref(ROUND, organisation, None),
                organisation,
                complete(&stages),
            ),
        )
        .await;
    }
    let submitted = server
        .admin(
            "mutation($input: SubmitResponseInput!) { submitResponse(input: $input) { replayed } }",
            json!({ "input": { "response": stages_ref(ROUND, "bravo", None), "idempotencyKey": "bravo-submit" } }),
        )
        .await;
    data(&submitted);

    // Rita rates through the bot, as herself: 1.1 at 5 where alpha says 3.
    let bot = server.token(TokenRole::Bot).await;
    let mut rita: Vec<Value> = COMPONENTS
        .iter()
        .zip(ALPHA)
        .map(|(c, n)| stage(c, n))
        .collect();
    rita[0] = stage("1.1", 5);
    save(
        server,
        Some(&bot),
        Some(RITA_CHAT),
        save_input(stages_ref(ROUND, "alpha", Some("p-rita")), "rita", rita),
    )
    .await;
    // Raul's rating is entered by an administrator: 2.2 at 3, 5.2 left out.
    let mut raul: Vec<Value> = COMPONENTS
        .iter()
        .zip(ALPHA)
        .map(|(c, n)| stage(c, n))
        .collect();
    raul[4] = stage("2.2", 3);
    raul.pop();
    save(
        server,
        admin,
        None,
        save_input(stages_ref(ROUND, "alpha", Some("p-raul")), "raul", raul),
    )
    .await;

    // Ben, senior manager for accountability.
    save(
        server,
        admin,
        None,
        json!({ "input": {
            "response": { "roundId": ROUND, "organisationId": "alpha",
                          "instrument": "jiu-rbm-outcomes@1", "personId": "p-ben" },
            "idempotencyKey": "ben",
            "answers": [ text("outcome-1/q1", "Managers answer for results, not spending.") ],
        } }),
    )
    .await;

    // Last year's round: 1.1 at 2, 2.1 at 3.
    save(
        server,
        admin,
        None,
        save_input(
            stages_ref(PREVIOUS, "alpha", None),
            "alpha-2025",
            vec![stage("1.1", 2), stage("2.1", 3)],
        ),
    )
    .await;
}

/// Checks access to the three fields: validators out of scope, the bot and anonymous
/// callers are refused; unknown rounds and organisations are NOT_FOUND. Ratings are
/// blind: a rater reads their own rating, not the consolidated response.
async fn access(server: &TestServer) {
    let outside = server.validator(&["r-other"]).await;
    let bot = server.token(TokenRole::Bot).await;
    let queries = [
        (PROFILE, json!({ "org": "alpha" })),
        (FLAGS, json!({ "org": "alpha" })),
        (MATRIX, json!({})),
    ];
    for (query, variables) in &queries {
        let refused = server
            .graphql_as(Some(&outside), None, query, variables.clone())
            .await;
        assert_eq!(error_code(&refused), Some("FORBIDDEN"), "{refused}");
        let bot_refused = server
            .graphql_as(Some(&bot), Some(ANA_CHAT), query, variables.clone())
            .await;
        assert_eq!(error_code(&bot_refused), Some("FORBIDDEN"), "{bot_refused}");
        let anonymous = server
            .graphql_as(None, None, query, variables.clone())
            .await;
        assert_eq!(
            error_code(&anonymous),
            Some("UNAUTHENTICATED"),
            "{anonymous}"
        );
    }
    let unknown = server
        .admin(
            "{ roundMatrix(roundId: \"r-1999\") { roundId } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&unknown), Some("NOT_FOUND"), "{unknown}");
    let stranger = server
        .admin(
            "{ profile(roundId: \"r-2026\", organisationId: \"zulu\") { roundId } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&stranger), Some("NOT_FOUND"), "{stranger}");

    // Blind ratings: Rita reads her own rating but not alpha's consolidated response;
    // Ana, the focal point, neither reads Rita's rating nor rates in person.
    let read = "query($r: ResponseRefInput!) { response(response: $r) { id answer(questionId: \"1.1/stage\") { value { stage } } } }";
    let own = server
        .graphql_as(
            Some(&bot),
            Some(RITA_CHAT),
            read,
            json!({ "r": stages_ref(ROUND, "alpha", Some("p-rita")) }),
        )
        .await;
    assert_eq!(
        data(&own)["response"]["answer"]["value"]["stage"],
        5,
        "{own}"
    );
    let consolidated = server
        .graphql_as(
            Some(&bot),
            Some(RITA_CHAT),
            read,
            json!({ "r": stages_ref(ROUND, "alpha", None) }),
        )
        .await;
    assert_eq!(
        error_code(&consolidated),
        Some("FORBIDDEN"),
        "{consolidated}"
    );
    let peek = server
        .graphql_as(
            Some(&bot),
            Some(ANA_CHAT),
            read,
            json!({ "r": stages_ref(ROUND, "alpha", Some("p-rita")) }),
        )
        .await;
    assert_eq!(error_code(&peek), Some("FORBIDDEN"), "{peek}");
    let focal_rating = server
        .graphql_as(
            Some(&bot),
            Some(ANA_CHAT),
            SAVE,
            save_input(
                stages_ref(ROUND, "alpha", Some("p-ana")),
                "ana-in-person",
                vec![stage("1.1", 4)],
            ),
        )
        .await;
    assert_eq!(
        error_code(&focal_rating),
        Some("BAD_USER_INPUT"),
        "{focal_rating}"
    );
    // Nor can an administrator enter a rating for someone who is not a rater.
    let not_rater = server
        .admin(
            SAVE,
            save_input(
                stages_ref(ROUND, "bravo", Some("p-rita")),
                "rita-bravo",
                vec![stage("1.1", 4)],
            ),
        )
        .await;
    assert_eq!(
        error_code(&not_rater),
        Some("BAD_USER_INPUT"),
        "{not_rater}"
    );
}

fn stages_of(list: &Value) -> Vec<Value> {
    list.as_array()
        .expect("a list")
        .iter()
        .map(|item| item["stage"].clone())
        .collect()
}

fn component<'v>(profile: &'v Value, id: &str) -> &'v Value {
    profile["components"]
        .as_array()
        .and_then(|list| list.iter().find(|c| c["id"] == id))
        .unwrap_or_else(|| panic!("component {id}"))
}

async fn check_profile(server: &TestServer) {
    let validator = server.validator(&[ROUND]).await;
    let read = |rule: Option<&'static str>| {
        let validator = validator.clone();
        async move {
            let mut variables = json!({ "org": "alpha" });
            if let Some(rule) = rule {
                variables["rule"] = json!(rule);
            }
            let response = server
                .graphql_as(Some(&validator), None, PROFILE, variables)
                .await;
            data(&response)["profile"].clone()
        }
    };
    let profile = read(None).await;
    assert_eq!(profile["rule"], "MEDIAN");
    assert_eq!(profile["instrument"], "jiu-rbm-stages@1");
    assert_eq!(profile["submitted"], false);
    assert_eq!(profile["previousRoundId"], PREVIOUS);
    assert_eq!(
        stages_of(&profile["pillars"]),
        vec![json!(3), json!(4), json!(3), json!(3), json!(3)]
    );
    assert_eq!(
        profile["pillars"][1],
        json!({ "number": 2, "stage": 4, "min": 1, "max": 5, "answered": 5, "components": 5 })
    );
    assert_eq!(
        profile["pattern"],
        json!({ "pillars": "3-4-3-3-3", "median": 3, "min": 1, "max": 5, "answered": 17, "components": 17 })
    );
    let minimum = read(Some("MINIMUM")).await;
    assert_eq!(minimum["pattern"]["pillars"], "2-1-2-2-3");
    assert_eq!(minimum["rule"], "MINIMUM");
    let mode = read(Some("MODE")).await;
    assert_eq!(mode["pattern"]["pillars"], "3-4-3-2-3");

    // Components: stages, evidence, activities, completeness, change, drivers.
    let stages: Vec<Value> = stages_of(&profile["components"]);
    assert_eq!(stages, ALPHA.iter().map(|n| json!(n)).collect::<Vec<_>>());
    assert!(
        profile["components"]
            .as_array()
            .expect("components")
            .iter()
            .all(|c| c["validatedStage"].is_null())
    );
    assert_eq!(
        component(&profile, "2.2")["evidence"],
        json!({ "documents": 0, "persons": 1, "strength": "WEAK", "citesEvaluation": false })
    );
    assert_eq!(
        component(&profile, "1.3")["activities"],
        json!({ "listed": 2, "listedRated": 2, "other": 1, "rated": 3, "mean": 8.0 / 3.0,
                "counts": [ { "rating": 1, "count": 0 }, { "rating": 2, "count": 1 },
                            { "rating": 3, "count": 2 } ] })
    );
    assert_eq!(
        component(&profile, "3.4")["completeness"],
        json!({ "answered": 2, "required": 3, "missing": ["3.4/rationale"] })
    );
    assert_eq!(
        component(&profile, "1.1")["change"],
        json!({ "previousStage": 2, "delta": 1 })
    );
    assert_eq!(
        component(&profile, "2.1")["change"],
        json!({ "previousStage": 3, "delta": -2 })
    );
    assert_eq!(
        component(&profile, "1.2")["change"],
        json!({ "previousStage": null, "delta": null })
    );
    let drivers = component(&profile, "1.1")["drivers"]
        .as_array()
        .expect("drivers");
    assert_eq!(drivers.len(), 3);
    assert_eq!(
        drivers[0],
        json!({ "number": 1, "stage": 3,
                "text": "Conducted several or many of the actions outlined in the description of the component" })
    );

    // Raters: both listed, 1.1 disagrees, alpha over the 17 components.
    assert_eq!(
        profile["raters"],
        json!([
            { "personId": "p-raul", "assigned": true, "submitted": false, "rated": 16 },
            { "personId": "p-rita", "assigned": true, "submitted": false, "rated": 17 },
        ])
    );
    assert_eq!(
        component(&profile, "1.1")["raterStages"],
        json!([ { "personId": "p-raul", "stage": 3 }, { "personId": "p-rita", "stage": 5 } ])
    );
    assert_eq!(
        component(&profile, "1.1")["agreement"],
        json!({ "ratings": 3, "pairs": 3, "withinOne": 1, "range": 2 })
    );
    assert_eq!(
        component(&profile, "5.2")["agreement"],
        json!({ "ratings": 2, "pairs": 1, "withinOne": 1, "range": 0 })
    );
    let agreement = &profile["agreement"];
    assert_eq!(agreement["raters"], 2);
    assert_eq!(agreement["includesSelfAssessment"], true);
    assert_eq!(agreement["components"], 17);
    assert_eq!(agreement["pairs"], 49);
    assert_eq!(agreement["withinOne"], 47);
    assert_eq!(agreement["maxRange"], 2);
    // Computed independently (Krippendorff's coincidence method, ordinal metric).
    let alpha = agreement["alpha"].as_f64().expect("alpha");
    assert!((alpha - 0.916_639_745_7).abs() < 1e-6, "{alpha}");

    // Outcome linkage: accountability links 1.3, 2.5, 5.1 and 5.2; Ben's answer beside.
    let accountability = &profile["outcomes"][0];
    assert_eq!(accountability["id"], "qcpr-1");
    assert_eq!(
        accountability["components"],
        json!([ { "id": "1.3", "stage": 2 }, { "id": "2.5", "stage": 5 },
                { "id": "5.1", "stage": 3 }, { "id": "5.2", "stage": 4 } ])
    );
    assert_eq!(
        accountability["managers"],
        json!([ { "personId": "p-ben", "assigned": true, "answers": [
            { "questionId": "outcome-1/q1", "answer": "Managers answer for results, not spending." } ] } ])
    );
    assert_eq!(profile["outcomes"].as_array().map(Vec::len), Some(5));

    // Flags, in component order, then pillars.
    let flags: Vec<(String, Value)> = profile["flags"]
        .as_array()
        .expect("flags")
        .iter()
        .map(|f| {
            (
                f["code"].as_str().unwrap_or("").to_owned(),
                f["componentId"].clone(),
            )
        })
        .collect();
    let expected: Vec<(String, Value)> = [
        ("RATERS_DISAGREE", json!("1.1")),
        ("ACTIVITIES_DISAGREE_WITH_STAGE", json!("1.3")),
        ("PEER_OUTLIER", json!("2.1")),
        ("EVIDENCE_MISSING", json!("2.2")),
        ("STAGE5_WITHOUT_EVALUATION", json!("2.5")),
        ("INCOMPLETE", json!("3.4")),
        ("ACTIVITIES_DISAGREE_WITH_STAGE", json!("4.3")),
        ("PILLAR_UNEVEN", Value::Null),
    ]
    .into_iter()
    .map(|(code, component)| (code.to_owned(), component))
    .collect();
    assert_eq!(flags, expected);
    let flag = |index: usize| &profile["flags"][index];
    assert_eq!(
        flag(3)["trigger"],
        "stage 4 with only names of people as evidence (1 named, no document)"
    );
    assert_eq!(
        flag(3)["prompt"],
        json!({ "concernId": "internal-validity", "point": 1,
                "text": "Understand the evidence used when making judgments and ensure consistency in ratings with the evidence used" })
    );
    assert_eq!(
        flag(2)["trigger"],
        "stage 1 is 2 stages from the round's median of 3 (6 organisations answered)"
    );
    assert_eq!(flag(2)["prompt"]["concernId"], "external-validity");
    assert_eq!(flag(5)["items"], json!(["3.4/rationale"]));
    assert_eq!(flag(7)["pillar"], 2);
    assert_eq!(flag(7)["items"], json!(["2.1", "2.5"]));
    assert_eq!(
        flag(7)["trigger"],
        "components 2.1 at stage 1 and 2.5 at stage 5 are 4 stages apart"
    );
    assert_eq!(
        flag(1)["trigger"],
        "stage 2 while its 3 rated activities average 2.67 (2.5 or more)"
    );

    // The flags query gives the same flags; organisations with nothing odd give few.
    let alone = server.admin(FLAGS, json!({ "org": "alpha" })).await;
    assert_eq!(data(&alone)["flags"].as_array().map(Vec::len), Some(8));
    let bravo = server.admin(FLAGS, json!({ "org": "bravo" })).await;
    assert_eq!(data(&bravo)["flags"], json!([]));
    let echo = server.admin(FLAGS, json!({ "org": "echo" })).await;
    assert_eq!(
        data(&echo)["flags"],
        json!([
            { "code": "INCOMPLETE", "componentId": "5.1", "pillar": 5,
              "items": ["5.1/stage", "5.1/rationale", "5.1/evidence"] },
            { "code": "INCOMPLETE", "componentId": "5.2", "pillar": 5,
              "items": ["5.2/stage", "5.2/rationale", "5.2/evidence"] },
        ])
    );
}

async fn check_matrix(server: &TestServer) {
    let response = server.admin(MATRIX, json!({})).await;
    let matrix = &data(&response)["roundMatrix"];
    assert_eq!(matrix["rule"], "MEDIAN");
    assert_eq!(matrix["minGroupSize"], 5);
    let rows = matrix["rows"].as_array().expect("rows");
    let order: Vec<&str> = rows
        .iter()
        .filter_map(|r| r["organisationId"].as_str())
        .collect();
    assert_eq!(order, ORGANISATIONS.to_vec());
    assert_eq!(
        rows[0]["stages"],
        json!(ALPHA.iter().map(|n| json!(n)).collect::<Vec<_>>())
    );
    assert_eq!(rows[0]["pillarStages"], json!([3, 4, 3, 3, 3]));
    assert_eq!(rows[1]["submitted"], true);
    assert_eq!(rows[0]["submitted"], false);
    assert_eq!(rows[4]["pillarStages"], json!([2, 2, 2, 2, null]));
    assert_eq!(
        rows[5]["stages"],
        json!([
            4, 4, 4, 4, 4, 4, 4, 4, null, null, null, null, null, null, null, null, null
        ])
    );

    let distribution = |id: &str| {
        matrix["components"]
            .as_array()
            .and_then(|list| list.iter().find(|c| c["id"] == id))
            .map(|c| c["distribution"].clone())
            .unwrap_or_else(|| panic!("component {id}"))
    };
    // 2.1: 1 2 3 3 4 4.
    assert_eq!(
        distribution("2.1"),
        json!({ "n": 6, "withheld": false, "withheldReason": null, "median": 3.0,
                "q1": 2.25, "q3": 3.75, "counts": [1, 1, 2, 2, 0] })
    );
    // 3.1: alpha 2, bravo 3, charlie 3, delta 4, echo 2.
    assert_eq!(
        distribution("3.1"),
        json!({ "n": 5, "withheld": false, "withheldReason": null, "median": 3.0,
                "q1": 2.0, "q3": 3.0, "counts": [0, 2, 2, 1, 0] })
    );
    // 5.1: four organisations only.
    let withheld = distribution("5.1");
    assert_eq!(withheld["n"], 4);
    assert_eq!(withheld["withheld"], true);
    assert_eq!(withheld["median"], Value::Null);
    assert_eq!(withheld["counts"], json!([]));
    assert!(
        withheld["withheldReason"]
            .as_str()
            .is_some_and(|r| r.contains("only 4 organisation(s)")),
        "{withheld}"
    );
    // Pillar 1 stages: 3 3 3 4 2 4; pillar 5: four organisations, withheld.
    assert_eq!(
        matrix["pillars"][0]["distribution"],
        json!({ "n": 6, "withheld": false, "median": 3.0, "q1": 3.0, "q3": 3.75,
                "counts": [0, 1, 3, 2, 0] })
    );
    assert_eq!(matrix["pillars"][4]["distribution"]["withheld"], true);

    // Another rule changes the pillar stages, not the component stages.
    let minimum = server.admin(MATRIX, json!({ "rule": "MINIMUM" })).await;
    let minimum = &data(&minimum)["roundMatrix"];
    assert_eq!(minimum["rows"][0]["pillarStages"], json!([2, 1, 2, 2, 3]));
    assert_eq!(minimum["rows"][0]["stages"], rows[0]["stages"]);
}

/// A whole round's profiles, read once, equal each organisation's own profile.
async fn check_round_profiles(server: &TestServer) {
    let store = server.state.store.as_ref();
    let catalogue = &server.state.catalogue;
    let round = RoundId::parse(ROUND).expect("id");
    let all = profile_service::round_profiles(store, catalogue, &round, PillarRule::Mode)
        .await
        .expect("round profiles");
    assert_eq!(all.len(), ORGANISATIONS.len());
    for (organisation, whole) in ORGANISATIONS.iter().zip(&all) {
        let one = profile_service::profile(
            store,
            catalogue,
            &round,
            &OrganisationId::parse(organisation).expect("id"),
            PillarRule::Mode,
        )
        .await
        .expect("profile");
        assert_eq!(&one, whole, "{organisation}");
    }
    assert_eq!(all[0].pattern.pillars, "3-4-3-2-3");
    assert_eq!(
        all[0].previous_round.as_ref().map(RoundId::as_str),
        Some(PREVIOUS)
    );
}

async fn profiles(backend: Backend) {
    let server = TestServer::spawn(backend).await;
    arrange(&server).await;
    answer(&server).await;
    access(&server).await;
    check_profile(&server).await;
    check_matrix(&server).await;
    check_round_profiles(&server).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profiles_on_redb() {
    profiles(Backend::Redb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profiles_on_redis() {
    profiles(Backend::Redis).await;
}
