//! Answering over HTTP on both backends: save and read back with provenance, submit only
//! when complete, history complete and in order, and where to continue.

use serde_json::{Value, json};
use server::domain::TokenRole;

use crate::fixtures::{self, ANA_CHAT, BEN_CHAT, outcomes, stages};
use crate::support::{Backend, TestServer, data, error_code};

pub const SAVE: &str = "mutation($input: SaveAnswersInput!) {
  saveAnswers(input: $input) {
    replayed
    events { seq kind questionId }
    response { status lastSeq missingRequired
      answers { questionId value { stage rating text evidence { kind text } } seq actor { kind id } channel at } }
  }
}";

const RESPONSE: &str = "query($response: ResponseRefInput!) {
  response(response: $response) {
    id status lastSeq
    progress { answered total requiredAnswered required }
    answer(questionId: \"1.1/stage\") { value { stage } actor { kind id } channel }
  }
}";

const HISTORY: &str = "query($response: ResponseRefInput!, $first: Int, $after: String) {
  responseHistory(response: $response, first: $first, after: $after) {
    pageInfo { hasNextPage endCursor }
    edges { node { seq kind questionId channel actor { id } } }
  }
}";

const SUBMIT: &str = "mutation($input: SubmitResponseInput!) {
  submitResponse(input: $input) { replayed response { status } }
}";

const NEXT: &str = "query($response: ResponseRefInput!, $after: String) {
  nextQuestion(response: $response, after: $after) { questionId required position total requiredRemaining }
}";

fn save_input(key: &str, answers: Value) -> Value {
    json!({ "input": { "response": stages("unicef"), "idempotencyKey": key, "answers": answers } })
}

async fn answering(backend: Backend) {
    let server = TestServer::spawn(backend).await;
    fixtures::arrange(&server).await;
    let bot = server.token(TokenRole::Bot).await;

    // Ana answers through the bot: provenance is her, through Telegram.
    let saved = server
        .graphql_as(
            Some(&bot),
            Some(ANA_CHAT),
            SAVE,
            save_input(
                "ana-1",
                json!([
                    { "questionId": "1.1/stage", "value": { "stage": 3 } },
                    { "questionId": "1.1/rationale", "value": { "text": "A strategy exists." } },
                    { "questionId": "1.1/evidence", "value": { "evidence": [
                        { "kind": "DOCUMENT", "text": "RBM strategy 2024" } ] } },
                    { "questionId": "1.1/activity/1", "value": { "rating": 2 } }
                ]),
            ),
        )
        .await;
    let payload = &data(&saved)["saveAnswers"];
    assert_eq!(payload["replayed"], false);
    assert_eq!(payload["events"].as_array().map(Vec::len), Some(4));
    let answers = payload["response"]["answers"].as_array().expect("answers");
    let stage = answers
        .iter()
        .find(|a| a["questionId"] == "1.1/stage")
        .expect("stage answer");
    assert_eq!(stage["value"]["stage"], 3);
    assert_eq!(stage["actor"], json!({ "kind": "PERSON", "id": "p-ana" }));
    assert_eq!(stage["channel"], "TELEGRAM");
    assert!(stage["at"].as_str().is_some_and(|at| at.ends_with('Z')));

    // The same request again: the same events, nothing new.
    let again = server
        .graphql_as(
            Some(&bot),
            Some(ANA_CHAT),
            SAVE,
            save_input(
                "ana-1",
                json!([
                    { "questionId": "1.1/stage", "value": { "stage": 3 } },
                    { "questionId": "1.1/rationale", "value": { "text": "A strategy exists." } },
                    { "questionId": "1.1/evidence", "value": { "evidence": [
                        { "kind": "DOCUMENT", "text": "RBM strategy 2024" } ] } },
                    { "questionId": "1.1/activity/1", "value": { "rating": 2 } }
                ]),
            ),
        )
        .await;
    assert_eq!(data(&again)["saveAnswers"]["replayed"], true);
    assert_eq!(data(&again)["saveAnswers"]["response"]["lastSeq"], 4);

    // An administrator corrects the stage: provenance changes with it.
    server
        .admin(
            SAVE,
            save_input(
                "admin-1",
                json!([{ "questionId": "1.1/stage", "value": { "stage": 4 } }]),
            ),
        )
        .await;
    let read = server
        .admin(RESPONSE, json!({ "response": stages("unicef") }))
        .await;
    let response = &data(&read)["response"];
    assert_eq!(response["answer"]["value"]["stage"], 4);
    assert_eq!(response["answer"]["actor"]["kind"], "TOKEN");
    assert_eq!(response["answer"]["channel"], "GRAPHQL");
    assert_eq!(response["progress"]["required"], 51);
    assert_eq!(response["progress"]["requiredAnswered"], 3);

    // Where to continue: the first unanswered required question; after a skipped
    // optional one, the next question.
    let next = server
        .admin(NEXT, json!({ "response": stages("unicef") }))
        .await;
    assert_eq!(data(&next)["nextQuestion"]["questionId"], "1.2/stage");
    let after = server
        .admin(
            NEXT,
            json!({ "response": stages("unicef"), "after": "1.1/comments" }),
        )
        .await;
    assert_eq!(data(&after)["nextQuestion"]["questionId"], "1.1/plans");
    // The same from a save's payload, in one request (a replayed save: nothing new is
    // recorded, the response is read as it is now).
    let saved = server
        .admin(
            "mutation($input: SaveAnswersInput!) { saveAnswers(input: $input) \
             { response { first: nextQuestion { questionId } \
             afterComments: nextQuestion(after: \"1.1/comments\") { questionId position } } } }",
            save_input(
                "admin-1",
                json!([{ "questionId": "1.1/stage", "value": { "stage": 4 } }]),
            ),
        )
        .await;
    let payload = &data(&saved)["saveAnswers"]["response"];
    assert_eq!(payload["first"]["questionId"], "1.2/stage");
    assert_eq!(payload["afterComments"]["questionId"], "1.1/plans");
    assert_eq!(payload["afterComments"]["position"], 5);

    // Submitting an incomplete response is refused, listing what is missing.
    let refused = server
        .admin(
            SUBMIT,
            json!({ "input": { "response": stages("unicef"), "idempotencyKey": "s-1" } }),
        )
        .await;
    assert_eq!(error_code(&refused), Some("CONFLICT"));
    let missing = refused["errors"][0]["extensions"]["details"]
        .as_array()
        .expect("missing questions listed");
    assert_eq!(missing.len(), 48);
    assert_eq!(missing[0], "1.2/stage");

    // Answer everything required, then submit.
    let mut rest = Vec::new();
    for id in missing.iter().filter_map(Value::as_str) {
        let value = match id.rsplit('/').next() {
            Some("stage") => json!({ "stage": 2 }),
            Some("evidence") => {
                json!({ "evidence": [{ "kind": "PERSON", "text": "Head of planning" }] })
            }
            _ => json!({ "text": "Explained in the annual report." }),
        };
        rest.push(json!({ "questionId": id, "value": value }));
    }
    let completed = server.admin(SAVE, save_input("admin-2", json!(rest))).await;
    assert_eq!(
        data(&completed)["saveAnswers"]["response"]["missingRequired"],
        json!([])
    );
    let submitted = server
        .admin(
            SUBMIT,
            json!({ "input": { "response": stages("unicef"), "idempotencyKey": "s-2" } }),
        )
        .await;
    assert_eq!(
        data(&submitted)["submitResponse"]["response"]["status"],
        "SUBMITTED"
    );
    let late = server
        .admin(
            SAVE,
            save_input(
                "admin-3",
                json!([{ "questionId": "1.1/stage", "value": { "stage": 5 } }]),
            ),
        )
        .await;
    assert_eq!(error_code(&late), Some("CONFLICT"));

    // The history: every event, in order, pageable.
    let first_page = server
        .admin(HISTORY, json!({ "response": stages("unicef"), "first": 3 }))
        .await;
    let page = &data(&first_page)["responseHistory"];
    let seqs: Vec<u64> = page["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .filter_map(|e| e["node"]["seq"].as_u64())
        .collect();
    assert_eq!(seqs, vec![1, 2, 3]);
    assert_eq!(page["pageInfo"]["hasNextPage"], true);
    let rest_page = server
        .admin(
            HISTORY,
            json!({ "response": stages("unicef"), "after": page["pageInfo"]["endCursor"] }),
        )
        .await;
    let nodes = data(&rest_page)["responseHistory"]["edges"]
        .as_array()
        .expect("edges")
        .clone();
    let all: Vec<u64> = seqs
        .into_iter()
        .chain(nodes.iter().filter_map(|e| e["node"]["seq"].as_u64()))
        .collect();
    let expected: Vec<u64> = (1..=all.len() as u64).collect();
    assert_eq!(all, expected, "complete and in order");
    assert_eq!(all.len(), 4 + 1 + 48 + 1);
    assert_eq!(nodes.last().expect("last")["node"]["kind"], "SUBMITTED");

    // A senior manager answers their own outcome-protocol response; nobody else may.
    let own = json!({ "input": {
        "response": outcomes("unicef", "p-ben"),
        "idempotencyKey": "ben-1",
        "answers": [{ "questionId": "part-1/q1", "value": { "text": "Decisions now cite results." } }]
    } });
    let saved = server
        .graphql_as(Some(&bot), Some(BEN_CHAT), SAVE, own.clone())
        .await;
    assert_eq!(
        data(&saved)["saveAnswers"]["events"][0]["questionId"],
        "part-1/q1"
    );
    let forbidden = server
        .graphql_as(Some(&bot), Some(ANA_CHAT), SAVE, own)
        .await;
    assert_eq!(error_code(&forbidden), Some("FORBIDDEN"));

    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answering_on_redb() {
    answering(Backend::Redb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answering_on_redis() {
    answering(Backend::Redis).await;
}

/// Two instances on one Redis: a round closed through one stops answers on the other
/// through the status-change message, well before the other's cached copy of the round
/// would expire by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_redis_a_round_closed_on_one_instance_refuses_answers_on_the_other() {
    let redis = std::sync::Arc::new(tests::RedisServer::start());
    let a = TestServer::spawn_on(Backend::Redis, Some(redis.clone()), "close").await;
    let b = TestServer::spawn_on(Backend::Redis, Some(redis.clone()), "close").await;
    fixtures::arrange(&a).await;
    let save = |key: String| {
        json!({ "input": {
            "response": stages("unicef"),
            "idempotencyKey": key,
            "answers": [{ "questionId": "1.1/stage", "value": { "stage": 2 } }]
        } })
    };
    // B reads (and keeps) the open round while saving, just before the close, so that
    // its copy would live on for about the whole time to live.
    let saved = b.admin(SAVE, save("b-1".to_owned())).await;
    let b_read_at = std::time::Instant::now();
    assert_eq!(data(&saved)["saveAnswers"]["replayed"], false, "{saved}");

    let closed = a
        .admin(
            "mutation($input: SetRoundStatusInput!) { setRoundStatus(input: $input) { round { status } } }",
            json!({ "input": { "roundId": fixtures::ROUND, "status": "CLOSED" } }),
        )
        .await;
    assert_eq!(data(&closed)["setRoundStatus"]["round"]["status"], "CLOSED");
    // Half the time to live: a refusal later than that could be the copy expiring.
    let within = server::store::redis::ROUND_TTL / 2;
    let started = std::time::Instant::now();
    assert!(
        b_read_at.elapsed() < within / 2,
        "closing took too long to tell the paths apart"
    );
    let mut attempt = 0;
    let refused = loop {
        attempt += 1;
        let response = b.admin(SAVE, save(format!("b-after-{attempt}"))).await;
        if error_code(&response).is_some() {
            break response;
        }
        assert!(
            started.elapsed() < within,
            "B still accepted answers {:?} after the round closed",
            started.elapsed()
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    };
    assert_eq!(error_code(&refused), Some("CONFLICT"), "{refused}");
    a.stop().await;
    b.stop().await;
}
