//! Administration over GraphQL on both backends: organisations, people, rounds and their
//! lifecycle, assignments, progress, the audit log, reopening, access; and the demo
//! loader's idempotence.

use serde_json::{Value, json};
use server::domain::{
    Actor, Channel, Command, IdempotencyKey, OrganisationId, PersonId, Respondent, ResponseKey,
    ResponseStatus, RoundId, Timestamp, TokenRole,
};
use server::service::answers::{RawAnswer, RawEvidence, RawValue, SaveAnswers};
use server::store::ResponseRequest;

use crate::support::{Backend, TestServer, data, error_code};

const CREATE_ORGANISATION: &str = "mutation($input: CreateOrganisationInput!) {
    createOrganisation(input: $input) { organisation { id name acronym } } }";
const CREATE_PERSON: &str = "mutation($input: CreatePersonInput!) {
    createPerson(input: $input) { person { id name email } } }";
const CREATE_ROUND: &str = "mutation($input: CreateRoundInput!) {
    createRound(input: $input) { round { id title status deadline instruments organisations { id } } } }";
const SET_STATUS: &str = "mutation($input: SetRoundStatusInput!) {
    setRoundStatus(input: $input) { round { id status } previousStatus } }";
const ASSIGN: &str = "mutation($input: AssignInput!) {
    assign(input: $input) { assignment { organisationId personId role outcomeAreas } changed } }";
const UNASSIGN: &str = "mutation($input: UnassignInput!) {
    unassign(input: $input) { assignment { personId role } } }";
const REOPEN: &str = "mutation($input: ReopenResponseInput!) {
    reopenResponse(input: $input) { responseId seq replayed } }";
const ROUND: &str = "query($id: String!) { round(id: $id) {
    id status
    assignments { organisationId personId role outcomeAreas }
    progress {
        organisations { organisationId status answered total
            responses { responseId personId status answered total lastActivityAt
                pillars { number answered total } } }
        people { personId responses { responseId status } }
    }
    audit { actor action summary fromStatus toStatus organisationId personId role responseId reason }
} }";

async fn create_organisation(server: &TestServer, id: &str, name: &str) {
    let response = server
        .admin(
            CREATE_ORGANISATION,
            json!({ "input": { "id": id, "name": name, "acronym": id.to_uppercase() } }),
        )
        .await;
    assert_eq!(
        data(&response)["createOrganisation"]["organisation"]["id"],
        id
    );
}

async fn create_person(server: &TestServer, name: &str, email: &str) -> String {
    let response = server
        .admin(
            CREATE_PERSON,
            json!({ "input": { "name": name, "email": email } }),
        )
        .await;
    let person = &data(&response)["createPerson"]["person"];
    assert_eq!(person["email"], email);
    let id = person["id"].as_str().expect("an id").to_owned();
    assert!(id.starts_with("p-") && id.len() > 8, "{id}");
    id
}

async fn create_round(server: &TestServer, id: &str, organisations: &[&str]) -> Value {
    let response = server
        .admin(
            CREATE_ROUND,
            json!({ "input": {
                "id": id,
                "title": format!("Round {id}"),
                "instruments": ["jiu-rbm-stages@1", "jiu-rbm-outcomes@1"],
                "organisationIds": organisations,
                "deadline": "2027-03-31T23:59:00Z",
            } }),
        )
        .await;
    data(&response)["createRound"]["round"].clone()
}

async fn set_status(server: &TestServer, round: &str, status: &str) -> Value {
    server
        .admin(
            SET_STATUS,
            json!({ "input": { "roundId": round, "status": status } }),
        )
        .await
}

async fn read_round(server: &TestServer, token: &str, round: &str) -> Value {
    server
        .graphql_as(Some(token), None, ROUND, json!({ "id": round }))
        .await
}

/// Two organisations, a focal point and a senior manager, a round with both
/// organisations; returns the two person ids.
async fn arrange(server: &TestServer, round: &str) -> (String, String) {
    create_organisation(server, "ocr", "Organisation for Coastal Resilience").await;
    create_organisation(server, "arl", "Agency for Rural Learning").await;
    let focal = create_person(server, "Amina Okafor", "amina@example.org").await;
    let manager = create_person(server, "Daniel Mensah", "daniel@example.org").await;
    create_round(server, round, &["ocr", "arl"]).await;
    (focal, manager)
}

// --- an administrator builds a round ---------------------------------------------------

async fn admin_builds_and_runs_a_round(backend: Backend) {
    let server = TestServer::spawn(backend).await;
    let (focal, manager) = arrange(&server, "r-2026").await;

    // The lists.
    let response = server
        .admin("{ organisations { id name acronym } people { id name email } rounds { id status deadline instruments } }", json!({}))
        .await;
    let lists = data(&response);
    assert_eq!(
        lists["organisations"],
        json!([
            { "id": "arl", "name": "Agency for Rural Learning", "acronym": "ARL" },
            { "id": "ocr", "name": "Organisation for Coastal Resilience", "acronym": "OCR" },
        ])
    );
    assert_eq!(lists["people"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        lists["rounds"],
        json!([{
            "id": "r-2026",
            "status": "DRAFT",
            "deadline": "2027-03-31T23:59:00Z",
            "instruments": ["jiu-rbm-stages@1", "jiu-rbm-outcomes@1"],
        }])
    );

    // Updates keep what is not given; a null acronym removes it.
    let response = server
        .admin(
            "mutation { updateOrganisation(input: { id: \"arl\", acronym: null }) { organisation { id name acronym } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        data(&response)["updateOrganisation"]["organisation"],
        json!({ "id": "arl", "name": "Agency for Rural Learning", "acronym": null })
    );
    let response = server
        .admin(
            "mutation($input: UpdatePersonInput!) { updatePerson(input: $input) { person { id name email } } }",
            json!({ "input": { "id": focal, "name": "Amina N. Okafor" } }),
        )
        .await;
    assert_eq!(
        data(&response)["updatePerson"]["person"],
        json!({ "id": focal, "name": "Amina N. Okafor", "email": "amina@example.org" })
    );
    // Another person's email, an existing id, an unknown organisation to update.
    let response = server
        .admin(
            CREATE_PERSON,
            json!({ "input": { "name": "Twin", "email": "AMINA@example.org" } }),
        )
        .await;
    assert_eq!(error_code(&response), Some("CONFLICT"), "{response}");
    let response = server
        .admin(
            CREATE_ORGANISATION,
            json!({ "input": { "id": "ocr", "name": "Again" } }),
        )
        .await;
    assert_eq!(error_code(&response), Some("CONFLICT"), "{response}");
    let response = server
        .admin(
            "mutation { updateOrganisation(input: { id: \"nope\", name: \"X\" }) { organisation { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&response), Some("NOT_FOUND"), "{response}");

    // Assignments, with outcome areas checked against the outcome protocol.
    let response = server
        .admin(
            ASSIGN,
            json!({ "input": { "roundId": "r-2026", "organisationId": "ocr", "personId": focal, "role": "FOCAL_POINT" } }),
        )
        .await;
    assert_eq!(data(&response)["assign"]["changed"], true);
    let response = server
        .admin(
            ASSIGN,
            json!({ "input": { "roundId": "r-2026", "organisationId": "ocr", "personId": manager,
                "role": "SENIOR_MANAGER", "outcomeAreas": ["qcpr-9"] } }),
        )
        .await;
    assert_eq!(error_code(&response), Some("BAD_USER_INPUT"), "{response}");
    let response = server
        .admin(
            ASSIGN,
            json!({ "input": { "roundId": "r-2026", "organisationId": "fuw", "personId": manager,
                "role": "FOCAL_POINT" } }),
        )
        .await;
    assert_eq!(error_code(&response), Some("BAD_USER_INPUT"), "{response}");
    let manager_input = json!({ "input": { "roundId": "r-2026", "organisationId": "ocr",
        "personId": manager, "role": "SENIOR_MANAGER", "outcomeAreas": ["qcpr-1", "qcpr-3"] } });
    let response = server.admin(ASSIGN, manager_input.clone()).await;
    assert_eq!(
        data(&response)["assign"],
        json!({ "assignment": { "organisationId": "ocr", "personId": manager,
            "role": "SENIOR_MANAGER", "outcomeAreas": ["qcpr-1", "qcpr-3"] }, "changed": true })
    );
    // The same assignment again changes nothing and is not logged.
    let response = server.admin(ASSIGN, manager_input).await;
    assert_eq!(data(&response)["assign"]["changed"], false);
    // A learning participant, removed again.
    let participant = json!({ "roundId": "r-2026", "organisationId": "arl", "personId": manager,
        "role": "LEARNING_PARTICIPANT" });
    let response = server
        .admin(ASSIGN, json!({ "input": participant.clone() }))
        .await;
    assert_eq!(data(&response)["assign"]["changed"], true);
    let response = server
        .admin(UNASSIGN, json!({ "input": participant.clone() }))
        .await;
    assert_eq!(
        data(&response)["unassign"]["assignment"],
        json!({ "personId": manager, "role": "LEARNING_PARTICIPANT" })
    );
    let response = server
        .admin(UNASSIGN, json!({ "input": participant }))
        .await;
    assert_eq!(error_code(&response), Some("NOT_FOUND"), "{response}");

    // Open, then close.
    let response = set_status(&server, "r-2026", "OPEN").await;
    assert_eq!(
        data(&response)["setRoundStatus"],
        json!({ "round": { "id": "r-2026", "status": "OPEN" }, "previousStatus": "DRAFT" })
    );
    let response = set_status(&server, "r-2026", "CLOSED").await;
    assert_eq!(
        data(&response)["setRoundStatus"]["round"]["status"],
        "CLOSED"
    );

    // A move the lifecycle does not allow is a conflict and changes nothing.
    let before = read_round(&server, &server.admin, "r-2026").await;
    let response = set_status(&server, "r-2026", "VALIDATED").await;
    assert_eq!(error_code(&response), Some("CONFLICT"), "{response}");
    assert!(response["data"].is_null(), "{response}");
    let response = set_status(&server, "r-2026", "CLOSED").await;
    assert_eq!(error_code(&response), Some("CONFLICT"), "{response}");
    let response = set_status(&server, "r-missing", "OPEN").await;
    assert_eq!(error_code(&response), Some("NOT_FOUND"), "{response}");
    let after = read_round(&server, &server.admin, "r-2026").await;
    assert_eq!(
        before, after,
        "a refused move changes neither status nor audit"
    );

    // The audit log, in order.
    let round = &data(&after)["round"];
    assert_eq!(round["status"], "CLOSED");
    let audit = round["audit"].as_array().expect("audit");
    let summaries: Vec<&str> = audit.iter().filter_map(|e| e["summary"].as_str()).collect();
    assert_eq!(
        summaries,
        vec![
            "round created".to_owned(),
            format!("{focal} assigned as focal-point for ocr"),
            format!("{manager} assigned as senior-manager for ocr (qcpr-1, qcpr-3)"),
            format!("{manager} assigned as learning-participant for arl"),
            format!("{manager} no longer learning-participant for arl"),
            "status changed from draft to open".to_owned(),
            "status changed from open to closed".to_owned(),
        ]
    );
    let opened = &audit[5];
    assert_eq!(opened["action"], "STATUS_CHANGED");
    assert_eq!(opened["fromStatus"], "DRAFT");
    assert_eq!(opened["toStatus"], "OPEN");
    assert!(
        opened["actor"]
            .as_str()
            .is_some_and(|a| a.starts_with("token:t-")),
        "{opened}"
    );
    assert_eq!(audit[2]["role"], "SENIOR_MANAGER");
    assert_eq!(audit[2]["personId"], manager.as_str());

    // Reopening the round after closing is allowed and logged.
    let response = set_status(&server, "r-2026", "OPEN").await;
    assert_eq!(
        data(&response)["setRoundStatus"]["previousStatus"],
        "CLOSED"
    );

    // An organisation joins the open round; joining twice is a conflict.
    create_organisation(&server, "fuw", "Fund for Urban Water").await;
    let add = "mutation($input: AddRoundOrganisationInput!) {
        addRoundOrganisation(input: $input) { round { organisations { id } } } }";
    let input = json!({ "input": { "roundId": "r-2026", "organisationId": "fuw" } });
    let response = server.admin(add, input.clone()).await;
    assert_eq!(
        data(&response)["addRoundOrganisation"]["round"]["organisations"],
        json!([{ "id": "ocr" }, { "id": "arl" }, { "id": "fuw" }])
    );
    let response = server.admin(add, input).await;
    assert_eq!(error_code(&response), Some("CONFLICT"), "{response}");
    let response = read_round(&server, &server.admin, "r-2026").await;
    let audit = data(&response)["round"]["audit"]
        .as_array()
        .expect("audit")
        .clone();
    assert_eq!(audit.len(), 9);
    assert_eq!(audit[7]["summary"], "status changed from closed to open");
    assert_eq!(audit[8]["action"], "ORGANISATION_ADDED");
    assert_eq!(audit[8]["organisationId"], "fuw");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_builds_and_runs_a_round_on_redb() {
    admin_builds_and_runs_a_round(Backend::Redb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_builds_and_runs_a_round_on_redis() {
    admin_builds_and_runs_a_round(Backend::Redis).await;
}

// --- bad references create nothing --------------------------------------------------------

async fn create_round_checks_references(backend: Backend) {
    let server = TestServer::spawn(backend).await;
    create_organisation(&server, "ocr", "Organisation for Coastal Resilience").await;
    for (instruments, organisations, expected) in [
        (
            json!(["jiu-rbm-nothing@1"]),
            json!(["ocr"]),
            "jiu-rbm-nothing@1",
        ),
        (
            json!(["jiu-rbm-stages@9"]),
            json!(["ocr"]),
            "jiu-rbm-stages@9",
        ),
        (
            json!(["jiu-rbm-stages@1"]),
            json!(["ocr", "nowhere"]),
            "nowhere",
        ),
        (
            json!(["not an instrument"]),
            json!(["ocr"]),
            "not an instrument",
        ),
        (json!([]), json!(["ocr"]), "at least one instrument"),
    ] {
        let response = server
            .admin(
                CREATE_ROUND,
                json!({ "input": { "id": "r-bad", "title": "Bad", "instruments": instruments,
                    "organisationIds": organisations } }),
            )
            .await;
        assert_eq!(error_code(&response), Some("BAD_USER_INPUT"), "{response}");
        let message = response["errors"][0]["message"].as_str().unwrap_or("");
        assert!(message.contains(expected), "{message}");
    }
    let response = server
        .admin(
            CREATE_ROUND,
            json!({ "input": { "id": "r-bad", "title": "Bad", "instruments": ["jiu-rbm-stages@1"],
                "organisationIds": ["ocr"], "deadline": "next tuesday" } }),
        )
        .await;
    assert_eq!(error_code(&response), Some("BAD_USER_INPUT"), "{response}");
    let response = server
        .admin("{ rounds { id } round(id: \"r-bad\") { id } }", json!({}))
        .await;
    assert_eq!(
        data(&response),
        &json!({ "rounds": [], "round": null }),
        "no round was created"
    );
    assert!(
        server
            .state
            .store
            .audit(&RoundId::parse("r-bad").expect("id"))
            .await
            .expect("audit")
            .is_empty(),
        "nothing was logged"
    );
    // The same id with valid input then works; a second creation conflicts.
    create_round(&server, "r-bad", &["ocr"]).await;
    let response = server
        .admin(
            CREATE_ROUND,
            json!({ "input": { "id": "r-bad", "title": "Again", "instruments": ["jiu-rbm-stages@1"],
                "organisationIds": [] } }),
        )
        .await;
    assert_eq!(error_code(&response), Some("CONFLICT"), "{response}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_round_checks_references_on_redb() {
    create_round_checks_references(Backend::Redb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_round_checks_references_on_redis() {
    create_round_checks_references(Backend::Redis).await;
}

// --- progress of a fresh round ------------------------------------------------------------

async fn fresh_round_progress(backend: Backend) {
    let server = TestServer::spawn(backend).await;
    let (focal, _) = arrange(&server, "r-2026").await;
    for organisation in ["ocr", "arl"] {
        let response = server
            .admin(
                ASSIGN,
                json!({ "input": { "roundId": "r-2026", "organisationId": organisation,
                    "personId": focal, "role": "FOCAL_POINT" } }),
            )
            .await;
        data(&response);
    }
    let response = read_round(&server, &server.admin, "r-2026").await;
    let progress = &data(&response)["round"]["progress"];
    let organisations = progress["organisations"].as_array().expect("list");
    assert_eq!(
        organisations
            .iter()
            .map(|o| o["organisationId"].as_str().unwrap_or(""))
            .collect::<Vec<_>>(),
        vec!["ocr", "arl"],
        "every organisation of the round, in its order"
    );
    for organisation in organisations {
        assert_eq!(organisation["status"], "NOT_STARTED", "{organisation}");
        assert_eq!(organisation["answered"], 0);
        assert_eq!(organisation["total"], 51);
        let stages = &organisation["responses"][0];
        assert_eq!(stages["status"], "NOT_STARTED");
        assert_eq!(
            (stages["answered"].clone(), stages["total"].clone()),
            (json!(0), json!(51))
        );
        assert_eq!(stages["lastActivityAt"], Value::Null);
        assert_eq!(
            stages["pillars"],
            json!([
                { "number": 1, "answered": 0, "total": 9 },
                { "number": 2, "answered": 0, "total": 15 },
                { "number": 3, "answered": 0, "total": 12 },
                { "number": 4, "answered": 0, "total": 9 },
                { "number": 5, "answered": 0, "total": 6 },
            ])
        );
    }
    assert_eq!(
        progress["people"],
        json!([{ "personId": focal, "responses": [
            { "responseId": "r-2026/arl/jiu-rbm-stages@1", "status": "NOT_STARTED" },
            { "responseId": "r-2026/ocr/jiu-rbm-stages@1", "status": "NOT_STARTED" },
        ] }])
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fresh_round_progress_on_redb() {
    fresh_round_progress(Backend::Redb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fresh_round_progress_on_redis() {
    fresh_round_progress(Backend::Redis).await;
}

// --- access ------------------------------------------------------------------------------

async fn access_is_scoped(backend: Backend) {
    let server = TestServer::spawn(backend).await;
    let (focal, _) = arrange(&server, "r-2026").await;
    create_round(&server, "r-other", &["ocr"]).await;
    let response = server
        .admin(
            ASSIGN,
            json!({ "input": { "roundId": "r-2026", "organisationId": "ocr", "personId": focal, "role": "FOCAL_POINT" } }),
        )
        .await;
    data(&response);
    let validator = server.validator(&["r-2026"]).await;

    // A validator reads its round with progress and audit, and only its rounds.
    let response = read_round(&server, &validator, "r-2026").await;
    let round = &data(&response)["round"];
    assert_eq!(round["id"], "r-2026");
    assert_eq!(
        round["progress"]["organisations"].as_array().map(Vec::len),
        Some(2)
    );
    assert_eq!(round["audit"][0]["summary"], "round created");
    let response = server
        .graphql_as(
            Some(&validator),
            None,
            "{ rounds { id } organisations { id } }",
            json!({}),
        )
        .await;
    assert_eq!(
        data(&response),
        &json!({ "rounds": [{ "id": "r-2026" }], "organisations": [{ "id": "arl" }, { "id": "ocr" }] })
    );
    let response = read_round(&server, &validator, "r-other").await;
    assert_eq!(error_code(&response), Some("FORBIDDEN"), "{response}");
    assert!(response["data"]["round"].is_null());
    // People's names are visible through assignments, their email addresses are not.
    let response = server
        .graphql_as(
            Some(&validator),
            None,
            "{ round(id: \"r-2026\") { assignments { person { name email } } } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&response), Some("FORBIDDEN"), "{response}");
    let person = &response["data"]["round"]["assignments"][0]["person"];
    assert_eq!(person["name"], "Amina Okafor");
    assert!(person["email"].is_null(), "{person}");
    for query in ["{ people { id } }", "{ person(id: \"p-1\") { id } }"] {
        let response = server
            .graphql_as(Some(&validator), None, query, json!({}))
            .await;
        assert_eq!(
            error_code(&response),
            Some("FORBIDDEN"),
            "{query}: {response}"
        );
    }

    // A validator cannot change anything, even in its own round.
    let before = read_round(&server, &server.admin, "r-2026").await;
    let mutations = [
        (
            SET_STATUS,
            json!({ "input": { "roundId": "r-2026", "status": "OPEN" } }),
        ),
        (
            CREATE_ORGANISATION,
            json!({ "input": { "id": "fuw", "name": "Fund for Urban Water" } }),
        ),
        (
            CREATE_PERSON,
            json!({ "input": { "name": "Someone", "email": "someone@example.org" } }),
        ),
        (
            CREATE_ROUND,
            json!({ "input": { "id": "r-mine", "title": "Mine", "instruments": ["jiu-rbm-stages@1"], "organisationIds": [] } }),
        ),
        (
            ASSIGN,
            json!({ "input": { "roundId": "r-2026", "organisationId": "ocr", "personId": focal, "role": "INDEPENDENT_RATER" } }),
        ),
        (
            REOPEN,
            json!({ "input": { "roundId": "r-2026", "organisationId": "ocr", "instrument": "jiu-rbm-stages@1", "reason": "x" } }),
        ),
    ];
    for (mutation, variables) in &mutations {
        let response = server
            .graphql_as(Some(&validator), None, mutation, variables.clone())
            .await;
        assert_eq!(
            error_code(&response),
            Some("FORBIDDEN"),
            "{mutation}: {response}"
        );
    }
    assert_eq!(
        read_round(&server, &server.admin, "r-2026").await,
        before,
        "nothing changed"
    );
    let response = server
        .admin("{ organisations { id } rounds { id } }", json!({}))
        .await;
    assert_eq!(
        data(&response),
        &json!({ "organisations": [{ "id": "arl" }, { "id": "ocr" }], "rounds": [{ "id": "r-2026" }, { "id": "r-other" }] })
    );

    // The bot and anonymous callers.
    let bot = server.token(TokenRole::Bot).await;
    for query in [
        "{ organisations { id } }",
        "{ rounds { id } }",
        "{ round(id: \"r-2026\") { id } }",
        "{ people { id } }",
    ] {
        let response = server.graphql_as(Some(&bot), None, query, json!({})).await;
        assert_eq!(
            error_code(&response),
            Some("FORBIDDEN"),
            "{query}: {response}"
        );
        let response = server.graphql_as(None, None, query, json!({})).await;
        assert_eq!(
            error_code(&response),
            Some("UNAUTHENTICATED"),
            "{query}: {response}"
        );
    }
    for (mutation, variables) in &mutations {
        let response = server
            .graphql_as(Some(&bot), None, mutation, variables.clone())
            .await;
        assert_eq!(error_code(&response), Some("FORBIDDEN"), "{response}");
        let response = server
            .graphql_as(None, None, mutation, variables.clone())
            .await;
        assert_eq!(error_code(&response), Some("UNAUTHENTICATED"), "{response}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_is_scoped_on_redb() {
    access_is_scoped(Backend::Redb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_is_scoped_on_redis() {
    access_is_scoped(Backend::Redis).await;
}

// --- reopening ---------------------------------------------------------------------------

fn stage_key() -> ResponseKey {
    ResponseKey {
        round: RoundId::parse("r-2026").expect("id"),
        organisation: OrganisationId::parse("ocr").expect("id"),
        instrument: server::catalogue::InstrumentRef::parse("jiu-rbm-stages@1").expect("ref"),
        respondent: Respondent::Organisation,
    }
}

/// Answers one component and submits, as the focal point would.
async fn answer_and_submit(server: &TestServer, focal: &str) {
    let actor = Actor::Person(PersonId::parse(focal).expect("id"));
    let answers = vec![
        RawAnswer {
            question: "1.1/stage".to_owned(),
            value: Some(RawValue::Number(3)),
        },
        RawAnswer {
            question: "1.1/rationale".to_owned(),
            value: Some(RawValue::Text("A strategy exists since 2024.".to_owned())),
        },
        RawAnswer {
            question: "1.1/evidence".to_owned(),
            value: Some(RawValue::Evidence(vec![RawEvidence {
                person: false,
                text: "RBM strategy 2024".to_owned(),
                file: None,
            }])),
        },
    ];
    server::service::answers::save(
        server.state.store.as_ref(),
        &server.state.catalogue,
        SaveAnswers {
            key: stage_key(),
            idempotency_key: IdempotencyKey::parse("e2e-answers").expect("key"),
            answers,
            expected_seq: None,
            actor: actor.clone(),
            channel: Channel::Telegram,
            at: Timestamp::now(),
        },
    )
    .await
    .expect("answers saved");
    server
        .state
        .store
        .execute(&ResponseRequest {
            key: stage_key(),
            idempotency_key: IdempotencyKey::parse("e2e-submit").expect("key"),
            command: Command::Submit,
            expected_seq: None,
            actor,
            channel: Channel::Telegram,
            at: Timestamp::now(),
        })
        .await
        .expect("submitted");
}

async fn reopen_a_submitted_response(backend: Backend) {
    let server = TestServer::spawn(backend).await;
    let (focal, manager) = arrange(&server, "r-2026").await;
    let reopen = |person: Option<&str>, key: &str| {
        json!({ "input": { "roundId": "r-2026", "organisationId": "ocr", "instrument": "jiu-rbm-stages@1",
            "personId": person, "reason": "The evidence for 1.1 is the wrong document.",
            "idempotencyKey": key } })
    };

    // Nothing to reopen yet.
    let response = server.admin(REOPEN, reopen(None, "k-0")).await;
    assert_eq!(error_code(&response), Some("NOT_FOUND"), "{response}");

    data(&set_status(&server, "r-2026", "OPEN").await);
    answer_and_submit(&server, &focal).await;
    let response = read_round(&server, &server.admin, "r-2026").await;
    assert_eq!(
        data(&response)["round"]["progress"]["organisations"][0]["responses"][0]["status"],
        "SUBMITTED"
    );

    // Wrong shapes of request.
    let response = server.admin(REOPEN, reopen(Some(&manager), "k-1")).await;
    assert_eq!(error_code(&response), Some("BAD_USER_INPUT"), "{response}");
    let response = server
        .admin(
            REOPEN,
            json!({ "input": { "roundId": "r-2026", "organisationId": "ocr", "instrument": "iom-pmr@1", "reason": "x" } }),
        )
        .await;
    assert_eq!(error_code(&response), Some("BAD_USER_INPUT"), "{response}");
    let response = server
        .admin(
            REOPEN,
            json!({ "input": { "roundId": "r-2026", "organisationId": "ocr", "instrument": "jiu-rbm-stages@1", "reason": "  " } }),
        )
        .await;
    assert_eq!(error_code(&response), Some("BAD_USER_INPUT"), "{response}");

    // Reopen: the response is a draft again, with the reason in its history and audit.
    let response = server.admin(REOPEN, reopen(None, "k-2")).await;
    assert_eq!(
        data(&response)["reopenResponse"],
        json!({ "responseId": "r-2026/ocr/jiu-rbm-stages@1", "seq": 5, "replayed": false })
    );
    let stored = server
        .state
        .store
        .response(&stage_key())
        .await
        .expect("read")
        .expect("response");
    assert_eq!(stored.meta.status, ResponseStatus::Draft);
    assert_eq!(stored.answers.len(), 3, "answers are kept");
    let history = server
        .state
        .store
        .history(&stage_key())
        .await
        .expect("history");
    assert!(matches!(
        &history.last().expect("events").kind,
        server::domain::EventKind::Reopened { reason } if reason == "The evidence for 1.1 is the wrong document."
    ));

    // A retry with the same key changes nothing more; reopening a draft is a conflict.
    let response = server.admin(REOPEN, reopen(None, "k-2")).await;
    assert_eq!(data(&response)["reopenResponse"]["replayed"], true);
    let response = server.admin(REOPEN, reopen(None, "k-3")).await;
    assert_eq!(error_code(&response), Some("CONFLICT"), "{response}");

    let response = read_round(&server, &server.admin, "r-2026").await;
    let round = &data(&response)["round"];
    let stages = &round["progress"]["organisations"][0]["responses"][0];
    assert_eq!(stages["status"], "IN_PROGRESS");
    assert_eq!(stages["answered"], 3);
    let reopened: Vec<&Value> = round["audit"]
        .as_array()
        .expect("audit")
        .iter()
        .filter(|e| e["action"] == "RESPONSE_REOPENED")
        .collect();
    assert_eq!(reopened.len(), 1, "logged once: {reopened:?}");
    assert_eq!(reopened[0]["responseId"], "r-2026/ocr/jiu-rbm-stages@1");
    assert_eq!(reopened[0]["organisationId"], "ocr");
    assert_eq!(
        reopened[0]["reason"],
        "The evidence for 1.1 is the wrong document."
    );
    assert_eq!(history.len(), 5, "three answers, submitted, reopened");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopen_a_submitted_response_on_redb() {
    reopen_a_submitted_response(Backend::Redb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopen_a_submitted_response_on_redis() {
    reopen_a_submitted_response(Backend::Redis).await;
}

// --- the demo ----------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_loads_once_and_then_changes_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = server::store::redb::open(&dir.path().join("demo.redb")).expect("store");
    let catalogue =
        server::catalogue::Catalogue::load(&tests::questionnaires_dir()).expect("catalogue");
    let events = server::events::InProcessBus::default();
    let round_id = RoundId::parse(server::service::demo::ROUND).expect("id");
    use server::store::Store as _;

    let first = server::service::demo::load(&store, &catalogue, &events, Timestamp::now())
        .await
        .expect("the demo loads");
    assert!(first.changed());
    assert!(first.unchanged.is_empty(), "{:?}", first.unchanged);
    let round = store.round(&round_id).await.expect("read").expect("round");
    assert_eq!(round.title, "JIU RBM 2026 (demo)");
    assert_eq!(round.status, server::domain::RoundStatus::Open);
    let audit = store.audit(&round_id).await.expect("audit");
    let responses = store.responses(&round_id).await.expect("responses");
    let progress = server::service::progress::load(&store, &catalogue, &round)
        .await
        .expect("progress");
    let stages: Vec<(
        String,
        server::service::progress::ProgressStatus,
        usize,
        usize,
    )> = progress
        .organisations
        .iter()
        .map(|o| {
            let r = &o.responses[0];
            (o.organisation.to_string(), r.status, r.answered, r.total)
        })
        .collect();
    use server::service::progress::ProgressStatus::{InProgress, Submitted};
    assert_eq!(
        stages,
        vec![
            ("ocr".to_owned(), Submitted, 51, 51),
            ("arl".to_owned(), InProgress, 24, 51),
            ("fuw".to_owned(), InProgress, 8, 51),
        ]
    );

    let second = server::service::demo::load(&store, &catalogue, &events, Timestamp::now())
        .await
        .expect("the demo loads again");
    assert!(!second.changed(), "{:?}", second.created);
    assert_eq!(second.unchanged.len(), first.created.len());
    assert_eq!(store.audit(&round_id).await.expect("audit"), audit);
    assert_eq!(
        store.responses(&round_id).await.expect("responses"),
        responses
    );
    for key in &responses {
        let history = store.history(key).await.expect("history");
        assert_eq!(
            history.iter().map(|e| e.seq).max(),
            Some(history.len() as u64),
            "no new events in {}",
            key.id()
        );
    }
    let again = server::service::progress::load(&store, &catalogue, &round)
        .await
        .expect("progress");
    assert_eq!(again, progress);
    assert!(
        store
            .persons()
            .await
            .expect("people")
            .iter()
            .all(|p| p.email.as_str().ends_with("@example.org"))
    );
    store.close().await.expect("closes");
}
