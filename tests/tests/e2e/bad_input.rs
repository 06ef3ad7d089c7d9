//! Bad input gets a coded error, changes nothing, and never shows internal text: stages 0
//! and 6, a rating of 4, an unknown component, a text over the limit, a wrong instrument
//! version, malformed JSON, a query over the depth limit, 1,000 aliases, a body over the
//! limit, and a batch.

use serde_json::{Value, json};

use crate::answering::SAVE;
use crate::fixtures::{self, stages};
use crate::support::{Backend, TestServer, error_code};

/// Words that would betray internals in a client-facing message.
const INTERNAL: [&str; 8] = [
    "redb",
    "redis",
    "panicked",
    "/work",
    "/tmp",
    "os error",
    "backtrace",
    "src/",
];

fn assert_clean(response: &str) {
    let lower = response.to_lowercase();
    for word in INTERNAL {
        assert!(
            !lower.contains(word),
            "internal text {word:?} in {response}"
        );
    }
}

async fn history_len(server: &TestServer) -> usize {
    let response = server
        .admin(
            "query($r: ResponseRefInput!) { responseHistory(response: $r) { edges { cursor } } }",
            json!({ "r": stages("unicef") }),
        )
        .await;
    response["data"]["responseHistory"]["edges"]
        .as_array()
        .map_or(0, Vec::len)
}

fn save(instrument: &str, question: &str, value: Value) -> Value {
    let mut response = stages("unicef");
    response["instrument"] = json!(instrument);
    json!({ "input": {
        "response": response,
        "idempotencyKey": format!("bad-{question}-{value}"),
        "answers": [{ "questionId": question, "value": value }]
    } })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_answers_are_refused_with_a_code_and_change_nothing() {
    let server = TestServer::spawn(Backend::Redb).await;
    fixtures::arrange(&server).await;
    let long = "x".repeat(10_001);
    let cases = [
        (
            "stage 0",
            save("jiu-rbm-stages@1", "1.1/stage", json!({ "stage": 0 })),
        ),
        (
            "stage 6",
            save("jiu-rbm-stages@1", "1.1/stage", json!({ "stage": 6 })),
        ),
        (
            "rating 4",
            save("jiu-rbm-stages@1", "1.1/activity/1", json!({ "rating": 4 })),
        ),
        (
            "unknown component",
            save("jiu-rbm-stages@1", "9.9/stage", json!({ "stage": 2 })),
        ),
        (
            "text over the limit",
            save("jiu-rbm-stages@1", "1.1/rationale", json!({ "text": long })),
        ),
        (
            "wrong instrument version",
            save("jiu-rbm-stages@7", "1.1/stage", json!({ "stage": 2 })),
        ),
        (
            "wrong type",
            save("jiu-rbm-stages@1", "1.1/stage", json!({ "text": "three" })),
        ),
        (
            "a string for a stage",
            save("jiu-rbm-stages@1", "1.1/stage", json!({ "stage": "three" })),
        ),
        (
            "a stage that is not a whole number",
            save("jiu-rbm-stages@1", "1.1/stage", json!({ "stage": 2.5 })),
        ),
        (
            "no answers",
            json!({ "input": {
                "response": stages("unicef"),
                "idempotencyKey": "bad-none",
            } }),
        ),
        (
            "two values",
            save(
                "jiu-rbm-stages@1",
                "1.1/stage",
                json!({ "stage": 2, "rating": 2 }),
            ),
        ),
    ];
    // Each case refused with the code, no internal text; the messages, by case.
    let refused = |what: &str, response: &Value| {
        assert_eq!(
            error_code(response),
            Some("BAD_USER_INPUT"),
            "{what}: {response}"
        );
        assert_clean(&response.to_string());
        response["errors"][0]["message"].to_string()
    };
    let mut strict = Vec::new();
    for (what, variables) in &cases {
        strict.push(refused(what, &server.admin(SAVE, variables.clone()).await));
    }
    assert_eq!(history_len(&server).await, 0, "nothing was written");

    // Once the same mutation text has passed validation (here for another organisation),
    // its variables are checked by the argument's own parsing instead (the fast path of
    // the document cache): the same refusals, and still nothing written.
    let mut good = save("jiu-rbm-stages@1", "1.1/stage", json!({ "stage": 2 }));
    good["input"]["response"]["organisationId"] = json!("fao");
    let response = server.admin(SAVE, good).await;
    assert_eq!(response["errors"], Value::Null, "{response}");
    let mut fast = Vec::new();
    for (what, variables) in &cases {
        fast.push(refused(what, &server.admin(SAVE, variables.clone()).await));
    }
    assert_eq!(history_len(&server).await, 0, "nothing was written");
    // The fast path was taken: a type error is now reported by the argument's parsing,
    // not by validation (the domain's own refusals read the same both times).
    let string_stage = cases
        .iter()
        .position(|(what, _)| *what == "a string for a stage")
        .expect("case");
    assert_ne!(
        strict[string_stage], fast[string_stage],
        "the second refusal came from the same path as the first"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_oversized_requests_are_refused() {
    let server = TestServer::spawn(Backend::Redb).await;
    fixtures::arrange(&server).await;

    let (status, body) = server.post_raw(b"{\"query\": \"{ ping }\"".to_vec()).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("BAD_USER_INPUT"), "{body}");
    assert_clean(&body);

    let (status, body) = server
        .post_raw(br#"[{"query":"{ ping }"},{"query":"{ ping }"}]"#.to_vec())
        .await;
    assert_eq!(status, 400, "batches are refused: {body}");
    assert!(body.contains("BAD_USER_INPUT"));

    // Over the body limit (256 KiB by default), counted on the bytes.
    let huge = format!(
        "{{\"query\": \"{{ ping }}\", \"variables\": {{\"x\": \"{}\"}}}}",
        "y".repeat(300_000)
    );
    let (status, body) = server.post_raw(huge.into_bytes()).await;
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("BAD_USER_INPUT"));

    // Nested deeper than the depth limit (16 by default), with fields that exist.
    let mut nested = String::from("name");
    for _ in 0..20 {
        nested = format!("ofType {{ {nested} }}");
    }
    let response = server
        .admin(
            &format!("{{ __type(name: \"Query\") {{ {nested} }} }}"),
            json!({}),
        )
        .await;
    assert_eq!(error_code(&response), Some("BAD_USER_INPUT"), "{response}");
    assert!(
        response.to_string().contains("deep"),
        "refused for its depth: {response}"
    );

    // A thousand aliases.
    let aliases: String = (0..1000).map(|i| format!("a{i}: ping ")).collect();
    let response = server.admin(&format!("{{ {aliases} }}"), json!({})).await;
    assert_eq!(
        error_code(&response),
        Some("BAD_USER_INPUT"),
        "1,000 aliases"
    );
    assert!(
        response.get("data").is_none_or(Value::is_null),
        "{response}"
    );

    assert_eq!(history_len(&server).await, 0, "nothing was written");
    let (_, metrics) = server.get("/metrics").await;
    assert!(
        !metrics.contains("stagewise_errors_total{code=\"BAD_USER_INPUT\"} 0"),
        "{metrics}"
    );
    server.stop().await;
}
