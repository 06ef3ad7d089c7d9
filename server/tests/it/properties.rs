//! Property tests on what the outside world sends the server: catalogue files (mutated and
//! arbitrary TOML), GraphQL variables of the main operations, and web-form bodies. Each
//! runs 10,000 cases (`STAGEWISE_PROPTEST_CASES` changes it); the cases that once found a
//! bug are kept as plain tests below the properties.

use std::sync::{Arc, OnceLock};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};
use server::app::{App, AppState};
use server::catalogue::{Catalogue, CatalogueError, InstrumentRef};
use server::config::{LoadedSettings, Settings};
use server::domain::{
    ApiToken, Assignment, EmailAddress, Organisation, OrganisationId, Person, PersonId, Role,
    Round, RoundId, RoundStatus, TelegramChatId, Timestamp, TokenHash, TokenId, TokenRole,
};
use server::service::access::{self, Identity};
use server::service::answers;
use server::web::form;

use crate::support::{questionnaires_dir, repository_root};

/// Cases per property: 10,000 unless `STAGEWISE_PROPTEST_CASES` says otherwise.
fn cases() -> u32 {
    std::env::var("STAGEWISE_PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10_000)
}

fn runner() -> TestRunner {
    TestRunner::new(Config {
        cases: cases(),
        // The regressions found are kept as named tests in this file instead.
        failure_persistence: None,
        ..Config::default()
    })
}

// --- the catalogue loader ----------------------------------------------------------------

/// The shipped instrument files as `(<id>/v<n>.toml, text)`.
fn shipped_sources() -> &'static Vec<(String, String)> {
    static SOURCES: OnceLock<Vec<(String, String)>> = OnceLock::new();
    SOURCES.get_or_init(|| {
        let mut sources = Vec::new();
        let dir = questionnaires_dir();
        let mut folders: Vec<_> = std::fs::read_dir(&dir)
            .expect("questionnaires")
            .map(|entry| entry.expect("entry").path())
            .filter(|path| path.is_dir())
            .collect();
        folders.sort();
        for folder in folders {
            let name = folder
                .file_name()
                .expect("a name")
                .to_string_lossy()
                .into_owned();
            for entry in std::fs::read_dir(&folder).expect("folder") {
                let path = entry.expect("entry").path();
                let file = path
                    .file_name()
                    .expect("a name")
                    .to_string_lossy()
                    .into_owned();
                if file.ends_with(".toml") {
                    sources.push((
                        format!("{name}/{file}"),
                        std::fs::read_to_string(&path).expect("readable"),
                    ));
                }
            }
        }
        sources
    })
}

/// Pieces that make TOML and this format's structure interesting when spliced in.
const TOML_PIECES: &[&str] = &[
    "[",
    "]",
    "[[",
    "]]",
    "\"",
    "'''",
    "\"\"\"",
    "=",
    "\n",
    ",",
    "{",
    "}",
    "#",
    "\\",
    "\0",
    "\u{feff}",
    "é",
    "1",
    "-1",
    "0",
    "6",
    "99999999999999999999",
    "1e400",
    "nan",
    "true",
    "[[pillars]]\n",
    "[[pillars.components]]\n",
    "[[pillars.components.stages]]\n",
    "stage = 9\n",
    "stage = 0\n",
    "stage = -3\n",
    "id = \"1.1\"\n",
    "id = \"\"\n",
    "kind = \"essay\"\n",
    "kind = \"drivers\"\n",
    "version = 0\n",
    "version = 2\n",
    "number = 1\n",
    "type = \"rating\"\n",
    "scale = []\n",
    "[instrument]\n",
    "[[notes]]\n",
    "[[sections]]\n",
    "[[sections.items]]\n",
    "text = \"\"\n",
    "text.fr = \"x\"\n",
    "components = [\"9.9\"]\n",
    "activities = []\n",
    "jiu2004 = true\n",
    "language = \"xx\"\n",
    "\"{period}\"",
    "[{period}]",
];

#[derive(Debug, Clone)]
enum Mutation {
    Delete {
        at: f64,
        len: usize,
    },
    Duplicate {
        at: f64,
        len: usize,
    },
    Insert {
        at: f64,
        piece: String,
    },
    Truncate {
        at: f64,
    },
    SwapLines {
        a: f64,
        b: f64,
    },
    ReplaceToken {
        token: &'static str,
        nth: usize,
        piece: String,
    },
}

fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(TOML_PIECES).prop_map(str::to_owned),
        1 => "\\PC{0,12}",
        1 => proptest::collection::vec(any::<char>(), 0..6).prop_map(|c| c.into_iter().collect()),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let at = 0.0..1.0f64;
    prop_oneof![
        (at.clone(), 1usize..400).prop_map(|(at, len)| Mutation::Delete { at, len }),
        (at.clone(), 1usize..400).prop_map(|(at, len)| Mutation::Duplicate { at, len }),
        (at.clone(), piece()).prop_map(|(at, piece)| Mutation::Insert { at, piece }),
        at.clone().prop_map(|at| Mutation::Truncate { at }),
        (at.clone(), at).prop_map(|(a, b)| Mutation::SwapLines { a, b }),
        (
            proptest::sample::select(
                &[
                    "= ", "\"", "1", "stage", "id", "text", "[[", "true", "@1", ".", "kind",
                    "version"
                ][..]
            ),
            0usize..200,
            piece()
        )
            .prop_map(|(token, nth, piece)| Mutation::ReplaceToken { token, nth, piece }),
    ]
}

/// The byte offset at fraction `at` of `text`, moved back to a character boundary.
fn offset(text: &str, at: f64) -> usize {
    let mut index = ((text.len() as f64) * at) as usize;
    index = index.min(text.len());
    while !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

fn end(text: &str, start: usize, len: usize) -> usize {
    let mut index = (start + len).min(text.len());
    while !text.is_char_boundary(index) {
        index -= 1;
    }
    index.max(start)
}

fn apply(text: &mut String, mutation: &Mutation) {
    match mutation {
        Mutation::Delete { at, len } => {
            let start = offset(text, *at);
            let stop = end(text, start, *len);
            text.replace_range(start..stop, "");
        }
        Mutation::Duplicate { at, len } => {
            let start = offset(text, *at);
            let stop = end(text, start, *len);
            let copy = text[start..stop].to_owned();
            text.insert_str(stop, &copy);
        }
        Mutation::Insert { at, piece } => {
            let at = offset(text, *at);
            text.insert_str(at, piece);
        }
        Mutation::Truncate { at } => {
            let at = offset(text, *at);
            text.truncate(at);
        }
        Mutation::SwapLines { a, b } => {
            let mut lines: Vec<&str> = text.split('\n').collect();
            let count = lines.len();
            let (a, b) = (
                ((count as f64) * a) as usize % count.max(1),
                ((count as f64) * b) as usize % count.max(1),
            );
            if count > 0 {
                lines.swap(a, b);
            }
            *text = lines.join("\n");
        }
        Mutation::ReplaceToken { token, nth, piece } => {
            let found: Vec<usize> = text.match_indices(token).map(|(i, _)| i).collect();
            if let Some(at) = found.get(nth % found.len().max(1)).copied() {
                text.replace_range(at..at + token.len(), piece);
            }
        }
    }
}

/// Checks the loader's answer: a catalogue, or problems that each name a file and say
/// something.
fn check_loaded(outcome: Result<Catalogue, CatalogueError>) -> Result<(), TestCaseError> {
    match outcome {
        Ok(catalogue) => {
            // A catalogue that loads is usable: every instrument derives its questions.
            for instrument in catalogue.instruments() {
                for question in instrument.questions() {
                    prop_assert!(!question.id.is_empty());
                }
            }
        }
        Err(CatalogueError::Invalid { problems }) => {
            prop_assert!(!problems.is_empty());
            for problem in &problems {
                prop_assert!(problem.file.starts_with("questionnaires"), "{problem}");
                prop_assert!(!problem.message.trim().is_empty(), "{problem}");
            }
        }
        Err(other) => return Err(TestCaseError::fail(format!("unexpected error: {other}"))),
    }
    Ok(())
}

/// Every shipped file, mutated a few times, loaded alone or with the rest of the catalogue:
/// the loader never panics and answers with a catalogue or with problems.
#[test]
fn mutated_catalogue_files_never_panic_the_loader() {
    let sources = shipped_sources();
    let strategy = (
        0..sources.len(),
        proptest::collection::vec(mutation(), 1..5),
        proptest::bool::weighted(0.03),
    );
    runner()
        .run(&strategy, |(index, mutations, with_the_rest)| {
            let (path, text) = &sources[index];
            let mut text = text.clone();
            for mutation in &mutations {
                apply(&mut text, mutation);
            }
            let outcome = if with_the_rest {
                let mut all = sources.clone();
                all[index].1 = text;
                Catalogue::from_sources(&all)
            } else {
                Catalogue::from_sources(&[(path.clone(), text)])
            };
            check_loaded(outcome)
        })
        .unwrap_or_else(|failure| panic!("{failure}"));
}

/// Arbitrary TOML documents shaped like instruments (keys of the format, values of every
/// type, nested tables and arrays) under arbitrary file names.
fn toml_value(depth: u32) -> BoxedStrategy<toml::Value> {
    let key = prop_oneof![
        4 => proptest::sample::select(&[
            "instrument", "id", "version", "kind", "title", "audience", "response_mode",
            "language", "references", "source", "notes", "pillars", "components", "stages",
            "stage", "text", "name", "description", "output_quality", "indicators",
            "activities", "sections", "items", "fields", "type", "scale", "number", "drivers",
            "required", "jiu2004", "key_question", "questions", "outcome_areas", "label",
        ][..]).prop_map(str::to_owned),
        1 => "[a-z_]{1,10}",
    ];
    let leaf = prop_oneof![
        any::<i64>().prop_map(toml::Value::Integer),
        (-10i64..10).prop_map(toml::Value::Integer),
        any::<bool>().prop_map(toml::Value::Boolean),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(toml::Value::Float),
        "\\PC{0,20}".prop_map(toml::Value::String),
        proptest::sample::select(
            &[
                "stage-questionnaire",
                "drivers",
                "questionnaire",
                "validation-guide",
                "outcome-map",
                "1.1",
                "jiu-rbm-stages",
                "focal-point",
                "rating",
                "long-text",
                "short-text",
                "text-list",
                "date",
                "en",
                "per-respondent",
                "per-organisation",
            ][..]
        )
        .prop_map(|s| toml::Value::String(s.to_owned())),
    ];
    if depth == 0 {
        return leaf.boxed();
    }
    prop_oneof![
        3 => leaf,
        1 => proptest::collection::vec(toml_value(depth - 1), 0..4).prop_map(toml::Value::Array),
        2 => proptest::collection::btree_map(key, toml_value(depth - 1), 0..6)
            .prop_map(|map| toml::Value::Table(map.into_iter().collect())),
    ]
    .boxed()
}

#[test]
fn arbitrary_toml_never_panics_the_loader() {
    let name = prop_oneof![
        Just("jiu-rbm-stages/v1.toml".to_owned()),
        Just("jiu-rbm-drivers/v1.toml".to_owned()),
        Just("x/v1.toml".to_owned()),
        Just("x/v0.toml".to_owned()),
        Just("loose.toml".to_owned()),
        "[a-z-]{1,12}/v[0-9]{1,3}\\.toml",
    ];
    let document = proptest::collection::btree_map(
        proptest::sample::select(
            &[
                "instrument",
                "pillars",
                "notes",
                "sections",
                "drivers",
                "areas",
                "x",
            ][..],
        ),
        toml_value(3),
        0..5,
    );
    runner()
        .run(&(name, document), |(name, document)| {
            let table: toml::Table = document
                .into_iter()
                .map(|(key, value)| (key.to_owned(), value))
                .collect();
            let text = toml::to_string(&table).unwrap_or_default();
            check_loaded(Catalogue::from_sources(&[(name, text)]))
        })
        .unwrap_or_else(|failure| panic!("{failure}"));
}

// --- GraphQL inputs ------------------------------------------------------------------------

const ROUND: &str = "r-fuzz";
const PLAY_ROUND: &str = "r-play";
const ANA_CHAT: i64 = 4001;

struct Server {
    runtime: tokio::runtime::Runtime,
    state: Arc<AppState>,
    admin: String,
    bot: String,
    validator: String,
    _data: tempfile::TempDir,
}

fn temp_dir() -> tempfile::TempDir {
    // A memory-backed folder where there is one: the property is about inputs, not disk
    // flushes, and 10,000 durable commits on a slow disk would dominate the run.
    let shm = std::path::Path::new("/dev/shm");
    if shm.is_dir()
        && let Ok(dir) = tempfile::tempdir_in(shm)
    {
        return dir;
    }
    tempfile::tempdir().expect("temp dir")
}

async fn token(state: &AppState, role: TokenRole, name: &str) -> String {
    let secret = access::new_secret().expect("randomness");
    state
        .store
        .put_api_token(&ApiToken {
            id: TokenId::parse(name).expect("id"),
            hash: TokenHash::of(&secret),
            role,
            label: name.to_owned(),
            created_at: Timestamp::now(),
            revoked: false,
        })
        .await
        .expect("token stored");
    secret
}

fn server() -> Server {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let data = temp_dir();
    let mut settings = Settings::default();
    settings.catalogue.dir = questionnaires_dir();
    settings.server.bind = "127.0.0.1:0".to_owned();
    settings.store.redb.data_dir = data.path().to_path_buf();
    settings.email.outbox_dir = data.path().join("outbox");
    settings.log.filter = "off".to_owned();
    let (state, admin, bot, validator) = runtime.block_on(async {
        let app = App::build(LoadedSettings {
            settings,
            config_dir: repository_root().join("config"),
        })
        .await
        .expect("the server builds");
        let state = app.state();
        let store = &state.store;
        for (id, name) in [("unicef", "UNICEF"), ("fao", "FAO")] {
            store
                .put_organisation(
                    &Organisation::new(OrganisationId::parse(id).expect("id"), name, None)
                        .expect("organisation"),
                )
                .await
                .expect("stored");
        }
        for (id, chat) in [("p-ana", Some(ANA_CHAT)), ("p-ben", None)] {
            store
                .put_person(&Person {
                    id: PersonId::parse(id).expect("id"),
                    name: id.to_owned(),
                    email: EmailAddress::parse(&format!("{id}@example.org")).expect("email"),
                    telegram_chat: chat.map(TelegramChatId),
                })
                .await
                .expect("stored");
        }
        for round in [ROUND, PLAY_ROUND] {
            store
                .put_round(&Round {
                    id: RoundId::parse(round).expect("id"),
                    title: format!("Round {round}"),
                    instruments: vec![
                        InstrumentRef::parse("jiu-rbm-stages@1").expect("ref"),
                        InstrumentRef::parse("jiu-rbm-outcomes@1").expect("ref"),
                    ],
                    organisations: vec![
                        OrganisationId::parse("unicef").expect("id"),
                        OrganisationId::parse("fao").expect("id"),
                    ],
                    deadline: None,
                    status: RoundStatus::Open,
                })
                .await
                .expect("stored");
            for (person, role) in [
                ("p-ana", Role::FocalPoint),
                (
                    "p-ben",
                    Role::SeniorManager {
                        outcome_areas: vec!["qcpr-1".to_owned()],
                    },
                ),
            ] {
                store
                    .put_assignment(&Assignment {
                        round: RoundId::parse(round).expect("id"),
                        organisation: OrganisationId::parse("unicef").expect("id"),
                        person: PersonId::parse(person).expect("id"),
                        role,
                    })
                    .await
                    .expect("stored");
            }
        }
        let admin = token(&state, TokenRole::Admin, "t-fuzz-admin").await;
        let bot = token(&state, TokenRole::Bot, "t-fuzz-bot").await;
        let validator = token(
            &state,
            TokenRole::Validator {
                rounds: vec![RoundId::parse(ROUND).expect("id")],
            },
            "t-fuzz-validator",
        )
        .await;
        (state, admin, bot, validator)
    });
    Server {
        runtime,
        state,
        admin,
        bot,
        validator,
        _data: data,
    }
}

/// The main operations with valid variables; the property replaces parts of them.
fn operations() -> Vec<(&'static str, Value)> {
    let stages =
        json!({ "roundId": ROUND, "organisationId": "unicef", "instrument": "jiu-rbm-stages@1" });
    vec![
        (
            "mutation($input: SaveAnswersInput!) { saveAnswers(input: $input) { replayed events { seq } response { lastSeq missingRequired } } }",
            json!({ "input": { "response": stages, "idempotencyKey": "k-1", "expectedSeq": null, "answers": [
                { "questionId": "1.1/stage", "value": { "stage": 3 } },
                { "questionId": "1.1/rationale", "value": { "text": "Because." } },
                { "questionId": "1.1/evidence", "value": { "evidence": [{ "kind": "DOCUMENT", "text": "Plan", "file": { "name": "plan.pdf", "size": 10, "telegramFileId": "f1" } }] } },
                { "questionId": "1.1/activity/1", "value": { "rating": 2 } },
                { "questionId": "1.1/other", "value": { "activities": [{ "name": "Peer review", "rating": 3 }] } },
            ] } }),
        ),
        (
            "mutation($input: SaveAnswersInput!) { saveAnswers(input: $input) { replayed } }",
            json!({ "input": { "response": { "roundId": ROUND, "organisationId": "unicef", "instrument": "jiu-rbm-outcomes@1", "personId": "p-ben" }, "idempotencyKey": "k-2", "answers": [
                { "questionId": "part1/1", "value": { "text": "Outcomes." } },
                { "questionId": "qcpr-1/date", "value": { "date": "2026-02-28" } },
                { "questionId": "qcpr-1/lines", "value": { "lines": ["a", "b"] } },
            ] } }),
        ),
        (
            "mutation($input: ClearAnswerInput!) { clearAnswer(input: $input) { replayed } }",
            json!({ "input": { "response": stages, "idempotencyKey": "k-3", "questionId": "1.1/stage" } }),
        ),
        (
            "mutation($input: SubmitResponseInput!) { submitResponse(input: $input) { replayed } }",
            json!({ "input": { "response": stages, "idempotencyKey": "k-4" } }),
        ),
        (
            "query($r: ResponseRefInput!, $q: String!) { response(response: $r) { status lastSeq missingRequired answer(questionId: $q) { seq channel value { stage text } } answers { questionId } } }",
            json!({ "r": stages, "q": "1.1/stage" }),
        ),
        (
            "query($r: ResponseRefInput!, $first: Int, $after: String) { responseHistory(response: $r, first: $first, after: $after) { edges { cursor node { seq } } pageInfo { hasNextPage } } }",
            json!({ "r": stages, "first": 5, "after": null }),
        ),
        (
            "query($r: ResponseRefInput!, $after: String) { nextQuestion(response: $r, after: $after) { questionId position total } }",
            json!({ "r": stages, "after": "1.1/stage" }),
        ),
        (
            "query($i: String!, $v: Int!, $q: String!, $l: String) { question(instrumentId: $i, version: $v, questionId: $q, language: $l) { id type prompt { text } } }",
            json!({ "i": "jiu-rbm-stages", "v": 1, "q": "2.3/stage", "l": "en" }),
        ),
        (
            "query($id: String!, $v: Int, $l: String) { instrument(id: $id, version: $v, language: $l) { id version } }",
            json!({ "id": "iom-pmr", "v": 1, "l": "fr" }),
        ),
        (
            "query($round: String!, $org: String!, $rule: PillarRule!) { profile(roundId: $round, organisationId: $org, rule: $rule) { organisationId } }",
            json!({ "round": ROUND, "org": "unicef", "rule": "MEDIAN" }),
        ),
        (
            "query($round: String!, $org: String!) { flags(roundId: $round, organisationId: $org) { code } }",
            json!({ "round": ROUND, "org": "unicef" }),
        ),
        (
            "query($round: String!, $rule: PillarRule!) { roundMatrix(roundId: $round, rule: $rule) { roundId } }",
            json!({ "round": ROUND, "rule": "MINIMUM" }),
        ),
        (
            "query($round: String!, $org: String!, $format: PackFormat!) { validationPack(roundId: $round, organisationId: $org, format: $format) { fileName } }",
            json!({ "round": ROUND, "org": "unicef", "format": "MARKDOWN" }),
        ),
        (
            "mutation($input: CreateOrganisationInput!) { createOrganisation(input: $input) { organisation { id } } }",
            json!({ "input": { "id": "who", "name": "WHO", "acronym": "WHO" } }),
        ),
        (
            "mutation($input: CreatePersonInput!) { createPerson(input: $input) { person { id } } }",
            json!({ "input": { "name": "Dee", "email": "dee@example.org" } }),
        ),
        (
            "mutation($input: CreateRoundInput!) { createRound(input: $input) { round { id } } }",
            json!({ "input": { "id": "r-new", "title": "New", "instruments": ["jiu-rbm-stages@1"], "organisationIds": ["unicef"], "deadline": "2026-12-31" } }),
        ),
        (
            "mutation($input: SetRoundStatusInput!) { setRoundStatus(input: $input) { round { status } } }",
            json!({ "input": { "roundId": PLAY_ROUND, "status": "CLOSED" } }),
        ),
        (
            "mutation($input: AssignInput!) { assign(input: $input) { assignment { personId } } }",
            json!({ "input": { "roundId": PLAY_ROUND, "organisationId": "fao", "personId": "p-ben", "role": "SENIOR_MANAGER", "outcomeAreas": ["qcpr-2"] } }),
        ),
        (
            "mutation($input: ReopenResponseInput!) { reopenResponse(input: $input) { replayed } }",
            json!({ "input": { "roundId": PLAY_ROUND, "organisationId": "unicef", "instrument": "jiu-rbm-stages@1", "reason": "typo", "idempotencyKey": "k-5" } }),
        ),
        (
            "mutation($input: RecordValidationInput!) { recordValidation(input: $input) { validation { stage } } }",
            json!({ "input": { "roundId": PLAY_ROUND, "organisationId": "unicef", "componentId": "2.3", "stage": 2, "note": "n", "evidenceReviewed": ["x"] } }),
        ),
        (
            "mutation($input: SetValidationStatusInput!) { setValidationStatus(input: $input) { status } }",
            json!({ "input": { "roundId": PLAY_ROUND, "organisationId": "unicef", "status": "VALIDATED", "note": "" } }),
        ),
        (
            "mutation($input: CreateTelegramLinkCodeInput!) { createTelegramLinkCode(input: $input) { expiresAt } }",
            json!({ "input": { "personId": "p-ben" } }),
        ),
        (
            "mutation($input: LinkTelegramChatInput!) { linkTelegramChat(input: $input) { linked } }",
            json!({ "input": { "code": "00112233445566778899aabbccddeeff" } }),
        ),
        (
            "mutation($id: Int!) { markTelegramUpdate(updateId: $id) }",
            json!({ "id": 7 }),
        ),
        (
            "query { telegramMe { personId responses { roundId } } }",
            json!({}),
        ),
        (
            "mutation($input: InviteByEmailInput!) { inviteByEmail(input: $input) { sent } }",
            json!({ "input": { "roundId": PLAY_ROUND, "organisationId": "fao" } }),
        ),
    ]
}

/// JSON values a client could send anywhere.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        prop_oneof![
            Just(0i64),
            Just(-1),
            Just(1),
            Just(2),
            Just(3),
            Just(5),
            Just(6),
            Just(i64::from(i32::MAX)),
            Just(i64::from(i32::MAX) + 1),
            Just(i64::MIN),
            Just(i64::MAX),
            any::<i64>(),
        ]
        .prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        "\\PC{0,16}".prop_map(Value::String),
        proptest::sample::select(
            &[
                "",
                " ",
                "r-fuzz",
                "r-play",
                "unicef",
                "fao",
                "p-ana",
                "p-ben",
                "jiu-rbm-stages@1",
                "jiu-rbm-stages@0",
                "jiu-rbm-stages@4294967296",
                "jiu-rbm-outcomes@1",
                "iom-pmr@1",
                "jiu-rbm-drivers@1",
                "1.1/stage",
                "1.1/other",
                "1.1/evidence",
                "5.3/stage",
                "2026-02-30",
                "0000-01-01",
                "9999-12-31",
                "../../etc",
                "a|b",
                "\u{0}",
                "é\u{301}",
                "DOCUMENT",
                "PERSON",
                "MEDIAN",
                "FOCAL_POINT",
                "IN_VALIDATION",
                "OPEN",
                "VALIDATED",
                "k-1",
                "YXJyYXljb25uZWN0aW9uOjA=",
                "-1",
                "1e400",
            ][..]
        )
        .prop_map(|s| Value::String(s.to_owned())),
        (0usize..3, 1usize..20_000).prop_map(|(c, n)| Value::String(["x", "é", "\n"][c].repeat(n))),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map("[a-zA-Z]{1,12}", inner, 0..5)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// Every place (object member or array element) in a JSON value, as a path.
fn places(value: &Value, path: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                path.push(Step::Key(key.clone()));
                out.push(path.clone());
                places(inner, path, out);
                path.pop();
            }
        }
        Value::Array(items) => {
            for (index, inner) in items.iter().enumerate() {
                path.push(Step::Index(index));
                out.push(path.clone());
                places(inner, path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

#[derive(Debug, Clone)]
enum Step {
    Key(String),
    Index(usize),
}

fn at_mut<'a>(value: &'a mut Value, path: &[Step]) -> Option<&'a mut Value> {
    let mut current = value;
    for step in path {
        current = match step {
            Step::Key(key) => current.get_mut(key.as_str())?,
            Step::Index(index) => current.get_mut(*index)?,
        };
    }
    Some(current)
}

#[derive(Debug, Clone)]
enum Edit {
    /// Put a value at a place (chosen by fraction of the places).
    Replace(f64, Value),
    /// Remove a member or element.
    Remove(f64),
    /// Add a member to the object at a place.
    Add(f64, String, Value),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        4 => (0.0..1.0f64, json_value()).prop_map(|(at, v)| Edit::Replace(at, v)),
        1 => (0.0..1.0f64).prop_map(Edit::Remove),
        1 => (0.0..1.0f64, "[a-zA-Z]{1,12}", json_value()).prop_map(|(at, k, v)| Edit::Add(at, k, v)),
    ]
}

fn apply_edit(variables: &mut Value, edit: &Edit) {
    let mut all = Vec::new();
    places(variables, &mut Vec::new(), &mut all);
    if all.is_empty() {
        if let (Edit::Add(_, key, value), Value::Object(map)) = (edit, &mut *variables) {
            map.insert(key.clone(), value.clone());
        }
        return;
    }
    let pick = |at: f64| all[((all.len() as f64) * at) as usize % all.len()].clone();
    match edit {
        Edit::Replace(at, value) => {
            if let Some(place) = at_mut(variables, &pick(*at)) {
                *place = value.clone();
            }
        }
        Edit::Remove(at) => {
            let path = pick(*at);
            if let Some((last, parent)) = path.split_last() {
                match (at_mut(variables, parent), last) {
                    (Some(Value::Object(map)), Step::Key(key)) => {
                        map.remove(key);
                    }
                    (Some(Value::Array(items)), Step::Index(index)) if *index < items.len() => {
                        items.remove(*index);
                    }
                    _ => {}
                }
            }
        }
        Edit::Add(at, key, value) => {
            if let Some(Value::Object(map)) = at_mut(variables, &pick(*at)) {
                map.insert(key.clone(), value.clone());
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Caller {
    Admin,
    BotForAna,
    BotWithoutChat,
    Validator,
    Anonymous,
}

/// Arbitrary variables for the main operations, executed against the schema in-process
/// as the HTTP handler does: no panic, and every error carries a code other than
/// `INTERNAL_SERVER_ERROR`.
#[test]
fn arbitrary_graphql_variables_get_coded_errors_only() {
    let server = server();
    let operations = operations();
    let caller = prop_oneof![
        3 => Just(Caller::Admin),
        3 => Just(Caller::BotForAna),
        1 => Just(Caller::BotWithoutChat),
        1 => Just(Caller::Validator),
        1 => Just(Caller::Anonymous),
    ];
    let variables = prop_oneof![
        8 => proptest::collection::vec(edit(), 0..4).prop_map(Some),
        1 => Just(None),
    ];
    let whole = json_value();
    let strategy = (0..operations.len(), caller, variables, whole);
    let mut identities = std::collections::HashMap::new();
    for (name, caller, secret, chat) in [
        ("admin", Caller::Admin, Some(&server.admin), None),
        ("bot", Caller::BotForAna, Some(&server.bot), Some(ANA_CHAT)),
        ("bot0", Caller::BotWithoutChat, Some(&server.bot), None),
        (
            "validator",
            Caller::Validator,
            Some(&server.validator),
            None,
        ),
        ("anonymous", Caller::Anonymous, None, None),
    ] {
        let identity = server
            .runtime
            .block_on(access::identify(
                server.state.store.as_ref(),
                secret.map(String::as_str),
                chat.map(TelegramChatId),
            ))
            .expect("identified");
        let _ = caller;
        identities.insert(name, identity);
    }
    let identity_of = |caller: Caller| -> Identity {
        let name = match caller {
            Caller::Admin => "admin",
            Caller::BotForAna => "bot",
            Caller::BotWithoutChat => "bot0",
            Caller::Validator => "validator",
            Caller::Anonymous => "anonymous",
        };
        identities[name].clone()
    };
    let seen_ok = std::sync::atomic::AtomicUsize::new(0);
    runner()
        .run(&strategy, |(index, caller, edits, whole)| {
            let (query, template) = &operations[index];
            let variables = match edits {
                Some(edits) => {
                    let mut variables = template.clone();
                    for edit in &edits {
                        apply_edit(&mut variables, edit);
                    }
                    variables
                }
                None => whole,
            };
            let request = async_graphql::Request::new(*query)
                .variables(async_graphql::Variables::from_json(variables.clone()));
            let response = server.runtime.block_on(server::http::execute(
                &server.state,
                identity_of(caller),
                request,
            ));
            if response.errors.is_empty() {
                seen_ok.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            for error in &response.errors {
                let code = error
                    .extensions
                    .as_ref()
                    .and_then(|e| e.get("code"))
                    .map(ToString::to_string)
                    .unwrap_or_default();
                prop_assert!(
                    !code.is_empty() && !code.contains("INTERNAL_SERVER_ERROR"),
                    "{query} with {variables} as {caller:?}: {} {code}",
                    error.message
                );
            }
            Ok(())
        })
        .unwrap_or_else(|failure| panic!("{failure}"));
    // The generator reaches the resolvers, not only the validation of variables.
    assert!(
        seen_ok.load(std::sync::atomic::Ordering::Relaxed) > 0,
        "no request succeeded"
    );
}

// --- web form posts ------------------------------------------------------------------------

const CSRF: &str = "0123456789abcdef0123456789abcdef";

/// Arbitrary urlencoded bodies (fields of the instrument with arbitrary text, arbitrary
/// fields, raw bytes) read, planned and validated as `POST /form` does before it saves:
/// no panic; a body is unreadable, refused for its CSRF token, refused with problems
/// that say what to correct, or planned into answers that the save accepts or refuses
/// with problems.
#[test]
fn arbitrary_form_posts_get_clear_refusals_only() {
    let catalogue = Catalogue::load(&questionnaires_dir()).expect("the shipped catalogue");
    let instruments: Vec<_> = ["jiu-rbm-stages", "jiu-rbm-outcomes", "iom-pmr"]
        .iter()
        .map(|id| catalogue.get(id, 1).expect("instrument"))
        .collect();
    let field_names: Vec<Vec<String>> = instruments
        .iter()
        .map(|instrument| {
            instrument
                .questions()
                .iter()
                .flat_map(|q| {
                    let name = form::field_name(&q.id);
                    [
                        name.clone(),
                        format!("{name}:documents"),
                        format!("{name}:persons"),
                    ]
                })
                .collect()
        })
        .collect();
    let value = prop_oneof![
        "\\PC{0,40}",
        proptest::sample::select(
            &[
                "",
                "1",
                "3",
                "5",
                "6",
                "0",
                "-1",
                "99999999999999999999",
                "a = 2",
                "= 3",
                "x = 9",
                "peer review = 3\nbad line",
                "2026-02-30",
                "2026-02-28",
                " \n \n",
            ][..]
        )
        .prop_map(str::to_owned),
        (1usize..600).prop_map(|n| "line\n".repeat(n)),
    ];
    let field = (0.0..1.0f64, any::<bool>(), "[a-z:/.0-9]{0,12}", value);
    let strategy = (
        0..instruments.len(),
        proptest::collection::vec(field, 0..12),
        prop_oneof![
            Just(Some(CSRF.to_owned())),
            Just(None),
            "[0-9a-f]{0,33}".prop_map(Some)
        ],
        prop_oneof![Just("save"), Just("submit"), Just("other")],
        proptest::option::of("\\PC{0,70}"),
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..64)),
    );
    runner()
        .run(&strategy, |(which, fields, csrf, action, request, raw)| {
            let instrument = instruments[which];
            let names = &field_names[which];
            let mut pairs: Vec<(String, String)> = fields
                .into_iter()
                .map(|(at, known, other, value)| {
                    let name = if known {
                        names[((names.len() as f64) * at) as usize % names.len()].clone()
                    } else {
                        other
                    };
                    (name, value)
                })
                .collect();
            if let Some(csrf) = csrf {
                pairs.push(("csrf".to_owned(), csrf));
            }
            pairs.push(("action".to_owned(), action.to_owned()));
            if let Some(request) = request {
                pairs.push(("request".to_owned(), request));
            }
            let mut body = serde_urlencoded::to_string(&pairs)
                .expect("encodes")
                .into_bytes();
            if let Some(raw) = raw {
                body.extend_from_slice(b"&");
                body.extend_from_slice(&raw);
            }
            let posted = match form::read_post(&body, CSRF) {
                Ok(posted) => posted,
                Err(form::PostRefusal::Unreadable | form::PostRefusal::Csrf) => return Ok(()),
                Err(other) => {
                    return Err(TestCaseError::fail(format!("unexpected refusal {other:?}")));
                }
            };
            let plan =
                match form::plan_post(&answers::Questions::of(instrument, None), None, &posted) {
                    Ok(plan) => plan,
                    Err(form::PostRefusal::Problems(problems)) => {
                        prop_assert!(!problems.is_empty());
                        prop_assert!(problems.iter().all(|p| !p.trim().is_empty()));
                        return Ok(());
                    }
                    Err(other) => {
                        return Err(TestCaseError::fail(format!("unexpected refusal {other:?}")));
                    }
                };
            prop_assert!(plan.save_key.as_str().starts_with("web-"));
            if plan.changes.is_empty() {
                return Ok(());
            }
            match answers::validate(&answers::Questions::of(instrument, None), &plan.changes) {
                Ok(_) => {}
                Err(answers::SaveError::Invalid(problems)) => {
                    prop_assert!(!problems.is_empty());
                    prop_assert!(problems.iter().all(|p| !p.to_string().trim().is_empty()));
                }
                Err(answers::SaveError::TooManyAnswers(n)) => {
                    prop_assert!(n > answers::MAX_ANSWERS_PER_REQUEST);
                }
                Err(other) => {
                    return Err(TestCaseError::fail(format!("unexpected refusal {other}")));
                }
            }
            Ok(())
        })
        .unwrap_or_else(|failure| panic!("{failure}"));
}
