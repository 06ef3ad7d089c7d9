//! A load of concurrent `saveAnswers` over HTTP for the crash and fault tests, and the
//! check that follows: every acknowledged answer is in the response's history exactly
//! once.
//!
//! Each write sets the text question [`QUESTION`] of one response to a value that is the
//! write's idempotency key, so the history names every write that was recorded, and a
//! write recorded twice shows up as a key seen twice.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The text question every write answers (stage questionnaire, component 1.1).
pub const QUESTION: &str = "1.1/rationale";

const SAVE: &str = "mutation($input: SaveAnswersInput!) {
  saveAnswers(input: $input) { replayed events { seq } }
}";

const HISTORY: &str = "query($response: ResponseRefInput!) {
  responseHistory(response: $response) {
    edges { node { seq kind questionId value { text } } }
  }
}";

const RESPONSE: &str = "query($response: ResponseRefInput!, $question: String!) {
  response(response: $response) { lastSeq answer(questionId: $question) { seq value { text } } }
}";

/// Where the load goes: a server's base URL, a token allowed to write the responses,
/// and the responses (GraphQL `ResponseRefInput` values) the writes are spread over.
#[derive(Debug, Clone)]
pub struct Target {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    /// Bearer token (an administrator's).
    pub token: String,
    /// The responses written to; write `i` goes to `responses[i % len]`.
    pub responses: Vec<Value>,
}

/// One write: its idempotency key and the response it goes to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Write {
    /// The idempotency key, also the text written.
    pub key: String,
    /// Index into [`Target::responses`].
    pub response: usize,
}

/// What one attempt of a write came back with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Acknowledged: the seq of the write's event, and whether the key had been used.
    Acked {
        /// The event's seq.
        seq: u64,
        /// The key had been used before (nothing new was recorded).
        replayed: bool,
    },
    /// A GraphQL error with this `extensions.code` (and whether it said `retryable`).
    Coded {
        /// The code.
        code: String,
        /// `extensions.retryable`.
        retryable: bool,
    },
    /// No answer: the connection failed or was refused (e.g. the server was killed).
    Transport(String),
}

/// A client for the load.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        // Far above any timeout of the server: a request that takes this long hung.
        .timeout(Duration::from_secs(60))
        .build()
        .expect("an HTTP client")
}

/// Sends one attempt of `write`; returns its outcome and how long it took.
pub async fn save(client: &reqwest::Client, target: &Target, write: &Write) -> (Outcome, Duration) {
    let started = Instant::now();
    let variables = json!({ "input": {
        "response": target.responses[write.response],
        "idempotencyKey": write.key,
        "answers": [{ "questionId": QUESTION, "value": { "text": write.key } }],
    }});
    let sent = client
        .post(format!("{}/graphql", target.url))
        .bearer_auth(&target.token)
        .json(&json!({ "query": SAVE, "variables": variables }))
        .send()
        .await;
    let body: Result<Value, String> = match sent {
        Ok(response) => response.json().await.map_err(|e| e.to_string()),
        Err(error) => Err(error.to_string()),
    };
    let outcome = match body {
        Err(error) => Outcome::Transport(error),
        Ok(body) => match body["errors"].get(0) {
            Some(error) => Outcome::Coded {
                code: error["extensions"]["code"]
                    .as_str()
                    .unwrap_or("(no code)")
                    .to_owned(),
                retryable: error["extensions"]["retryable"] == true,
            },
            None => {
                let payload = &body["data"]["saveAnswers"];
                let seq = payload["events"][0]["seq"]
                    .as_u64()
                    .unwrap_or_else(|| panic!("an acknowledged write has its event: {body}"));
                Outcome::Acked {
                    seq,
                    replayed: payload["replayed"] == true,
                }
            }
        },
    };
    (outcome, started.elapsed())
}

/// What a client saw while retrying its writes.
#[derive(Debug, Default, Clone)]
pub struct Report {
    /// Acknowledged writes: key → (response, seq).
    pub acked: BTreeMap<String, (usize, u64)>,
    /// How often each error code was seen (`transport` for failed connections).
    pub errors: BTreeMap<String, usize>,
    /// Codes seen without `extensions.retryable`.
    pub not_retryable: BTreeSet<String>,
    /// The longest single attempt.
    pub slowest: Duration,
}

impl Report {
    /// Adds another client's report.
    pub fn merge(&mut self, other: Report) {
        self.acked.extend(other.acked);
        for (code, count) in other.errors {
            *self.errors.entry(code).or_default() += count;
        }
        self.not_retryable.extend(other.not_retryable);
        self.slowest = self.slowest.max(other.slowest);
    }

    /// Records one attempt; returns the ack, if it was one.
    pub fn record(&mut self, write: &Write, outcome: &Outcome, took: Duration) -> Option<u64> {
        self.slowest = self.slowest.max(took);
        match outcome {
            Outcome::Acked { seq, .. } => {
                self.acked.insert(write.key.clone(), (write.response, *seq));
                Some(*seq)
            }
            Outcome::Coded { code, retryable } => {
                *self.errors.entry(code.clone()).or_default() += 1;
                if !retryable {
                    self.not_retryable.insert(code.clone());
                }
                None
            }
            Outcome::Transport(_) => {
                *self.errors.entry("transport".to_owned()).or_default() += 1;
                None
            }
        }
    }
}

/// Sends `write` until it is acknowledged, retrying with the same key after a retryable
/// error or a failed connection, for at most `limit`.
///
/// # Panics
/// On an error that is not retryable (a client must not retry it), or when `limit` passes.
pub async fn save_until_acked(
    client: &reqwest::Client,
    target: &Target,
    write: &Write,
    report: &mut Report,
    limit: Duration,
) -> Outcome {
    let started = Instant::now();
    let mut pause = Duration::from_millis(20);
    loop {
        let (outcome, took) = save(client, target, write).await;
        report.record(write, &outcome, took);
        match &outcome {
            Outcome::Acked { .. } => return outcome,
            Outcome::Coded { code, retryable } => {
                assert!(
                    *retryable && code == "UNAVAILABLE",
                    "write {} failed with {code} (retryable: {retryable})",
                    write.key
                );
            }
            Outcome::Transport(_) => {}
        }
        assert!(
            started.elapsed() < limit,
            "write {} not acknowledged after {limit:?}: last {outcome:?}",
            write.key
        );
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(500));
    }
}

/// One response's history as the API returns it: (seq, question, text) per event.
pub async fn history(client: &reqwest::Client, target: &Target, response: usize) -> Vec<Value> {
    let body = graphql(
        client,
        target,
        HISTORY,
        json!({ "response": target.responses[response] }),
    )
    .await;
    body["data"]["responseHistory"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("a history: {body}"))
        .iter()
        .map(|edge| edge["node"].clone())
        .collect()
}

async fn graphql(
    client: &reqwest::Client,
    target: &Target,
    query: &str,
    variables: Value,
) -> Value {
    let body: Value = client
        .post(format!("{}/graphql", target.url))
        .bearer_auth(&target.token)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .expect("the server answers")
        .json()
        .await
        .expect("a JSON body");
    assert!(body.get("errors").is_none(), "unexpected errors: {body}");
    body
}

/// Sends every `every`-th acknowledged write again with its key, as a client that never
/// saw the acknowledgement would: each must come back as a replay of the event first
/// acknowledged.
///
/// # Panics
/// When one is not.
pub async fn resend_acked(
    client: &reqwest::Client,
    target: &Target,
    acked: &BTreeMap<String, (usize, u64)>,
    every: usize,
) {
    for (key, (response, seq)) in acked.iter().step_by(every.max(1)) {
        let write = Write {
            key: key.clone(),
            response: *response,
        };
        let (outcome, _) = save(client, target, &write).await;
        assert_eq!(
            outcome,
            Outcome::Acked {
                seq: *seq,
                replayed: true
            },
            "acknowledged write {key} sent again"
        );
    }
}

/// Checks, through `response` and `responseHistory`, that every write in `acked` is in
/// its response's history exactly once at the seq it was acknowledged with, that no
/// write is there twice, that histories have no gaps, and that each response's current
/// answer and `lastSeq` agree with its history. With `complete`, the histories hold
/// exactly the acknowledged writes (nothing recorded that no client was told about).
///
/// # Panics
/// When any of this does not hold.
pub async fn verify(
    client: &reqwest::Client,
    target: &Target,
    acked: &BTreeMap<String, (usize, u64)>,
    complete: bool,
) {
    let mut recorded: BTreeMap<String, (usize, u64)> = BTreeMap::new();
    for response in 0..target.responses.len() {
        let events = history(client, target, response).await;
        let mut last_text = None;
        for (index, event) in events.iter().enumerate() {
            let seq = event["seq"].as_u64().expect("seq");
            assert_eq!(seq, index as u64 + 1, "response {response}: no gaps");
            assert_eq!(event["kind"], "ANSWER_SET", "response {response} seq {seq}");
            assert_eq!(event["questionId"], QUESTION);
            let text = event["value"]["text"].as_str().expect("a text answer");
            let before = recorded.insert(text.to_owned(), (response, seq));
            assert!(
                before.is_none(),
                "write {text} recorded twice: {before:?} and {:?}",
                (response, seq)
            );
            last_text = Some(text.to_owned());
        }
        let body = graphql(
            client,
            target,
            RESPONSE,
            json!({ "response": target.responses[response], "question": QUESTION }),
        )
        .await;
        let current = &body["data"]["response"];
        assert_eq!(
            current["lastSeq"].as_u64(),
            Some(events.len() as u64),
            "response {response}: lastSeq is the history's length"
        );
        assert_eq!(
            current["answer"]["value"]["text"].as_str(),
            last_text.as_deref(),
            "response {response}: the current answer is the last one recorded"
        );
    }
    for (key, at) in acked {
        assert_eq!(
            recorded.get(key),
            Some(at),
            "acknowledged write {key} is in the history where it was acknowledged"
        );
    }
    if complete {
        let unacknowledged: Vec<&String> = recorded
            .keys()
            .filter(|key| !acked.contains_key(*key))
            .collect();
        assert!(
            unacknowledged.is_empty(),
            "recorded but never acknowledged: {unacknowledged:?}"
        );
    }
}
