//! The authorisation matrix: every root field of the schema (queries, mutations and the
//! subscription) called by every kind of caller, each cell checked against the rule the
//! API intends. The matrix is data: one row per root field with an operation that is
//! valid input, and one expected outcome per caller. A guard keeps the rows in step with
//! the schema, so a new root field without a row fails. Every cell runs; the mismatches
//! are collected and reported in one table.
//!
//! It checks who may call what, not what the calls return (other tests own the results).
//! An allowed cell must succeed, except for the business errors its row names (they come
//! after the access check): an unexpected error would leave open whether access was
//! granted. A refused cell must carry exactly the intended code. Never relax a cell to
//! match the server: a cell that disagrees with the intended rule is an access bug.
//!
//! Cells must not interfere, because a cell that fails for a business reason would hide
//! whether access was granted. Every caller acts on its own data where a mutation changes
//! state: creations use ids unique per cell, and each column has its own round
//! `mx-c<column>` (in draft, with UNICEF, Ben as independent rater, and a submitted
//! UNICEF stage questionnaire) for the lifecycle, membership, assignment and reopening
//! rows. Answers go to UNICEF's stage questionnaire in round `r-2026`, with unique
//! idempotency keys; saving and clearing are harmless to repeat, and submitting is the
//! last row to touch it (it fails with CONFLICT while questions are unanswered, which
//! proves access was granted: the access check comes first).

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use server::domain::{
    Actor, ApiToken, Assignment, Channel, Command, IdempotencyKey, Organisation, OrganisationId,
    Person, PersonId, ResponseKey, Role, Round, RoundId, RoundStatus, Timestamp, TokenHash,
    TokenId, TokenRole,
};
use server::events::RoundEvent;
use server::store::ResponseRequest;
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

use crate::fixtures::{self, ANA_CHAT, CY_CHAT, ROUND};
use crate::support::{Backend, TestServer, data};

// --- the callers -----------------------------------------------------------------------

/// Who calls: the columns of the matrix, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    /// No token at all.
    NoToken,
    /// An admin token that was revoked.
    Revoked,
    /// A valid admin token.
    Admin,
    /// A validator with round `r-2026` in scope.
    ValidatorIn,
    /// A validator for round `r-other` only.
    ValidatorOut,
    /// The bot for Ana (chat 1001), UNICEF's focal point: UNICEF's stage questionnaire
    /// is hers.
    BotOwn,
    /// The bot for Cy (chat 1003), FAO's focal point: UNICEF's stage questionnaire is
    /// someone else's.
    BotOther,
}

const CALLERS: [Caller; 7] = [
    Caller::NoToken,
    Caller::Revoked,
    Caller::Admin,
    Caller::ValidatorIn,
    Caller::ValidatorOut,
    Caller::BotOwn,
    Caller::BotOther,
];

impl Caller {
    fn name(self) -> &'static str {
        match self {
            Self::NoToken => "no token",
            Self::Revoked => "revoked",
            Self::Admin => "admin",
            Self::ValidatorIn => "validator in scope",
            Self::ValidatorOut => "validator out of scope",
            Self::BotOwn => "bot, own response",
            Self::BotOther => "bot, someone else's",
        }
    }

    /// The Telegram chat the bot names over HTTP (a websocket names none).
    fn chat(self) -> Option<i64> {
        match self {
            Self::BotOwn => Some(ANA_CHAT),
            Self::BotOther => Some(CY_CHAT),
            _ => None,
        }
    }
}

/// The secrets of the callers.
struct Tokens {
    admin: String,
    revoked: String,
    validator_in: String,
    validator_out: String,
    bot: String,
}

impl Tokens {
    fn of(&self, caller: Caller) -> Option<&str> {
        match caller {
            Caller::NoToken => None,
            Caller::Revoked => Some(&self.revoked),
            Caller::Admin => Some(&self.admin),
            Caller::ValidatorIn => Some(&self.validator_in),
            Caller::ValidatorOut => Some(&self.validator_out),
            // One bot token: which person it acts for is the chat it names.
            Caller::BotOwn | Caller::BotOther => Some(&self.bot),
        }
    }
}

// --- the matrix ------------------------------------------------------------------------

/// What a cell should do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Access is granted (for `rounds`: the list shows round `r-2026`).
    Allow,
    /// Access is granted, but the list leaves out round `r-2026` (not in scope).
    AllowFiltered,
    /// `UNAUTHENTICATED`.
    Unauthenticated,
    /// `FORBIDDEN`.
    Forbidden,
}

use Expect::{Allow, AllowFiltered, Forbidden, Unauthenticated};

impl Expect {
    fn name(self) -> &'static str {
        match self {
            Allow => "ALLOW",
            AllowFiltered => "ALLOW_FILTERED",
            Unauthenticated => "UNAUTHENTICATED",
            Forbidden => "FORBIDDEN",
        }
    }
}

// The intended rules, one per kind of field, in the column order of `CALLERS`:
// no token, revoked, admin, validator in scope, validator out of scope, bot for its own
// response, bot for someone else's. For a field that is not about a response, both bot
// columns are simply "the bot with a linked chat".

/// `ping`: everyone.
const EVERYONE: [Expect; 7] = [Allow; 7];
/// The catalogue: any valid token.
const ANY_TOKEN: [Expect; 7] = [
    Unauthenticated,
    Unauthenticated,
    Allow,
    Allow,
    Allow,
    Allow,
    Allow,
];
/// Organisations: administrators and every validator.
const DIRECTORY: [Expect; 7] = [
    Unauthenticated,
    Unauthenticated,
    Allow,
    Allow,
    Allow,
    Forbidden,
    Forbidden,
];
/// People and every administration mutation: administrators only.
const ADMIN_ONLY: [Expect; 7] = [
    Unauthenticated,
    Unauthenticated,
    Allow,
    Forbidden,
    Forbidden,
    Forbidden,
    Forbidden,
];
/// `rounds`: administrators all, validators those in scope.
const ROUND_LIST: [Expect; 7] = [
    Unauthenticated,
    Unauthenticated,
    Allow,
    Allow,
    AllowFiltered,
    Forbidden,
    Forbidden,
];
/// `round(id)`, `roundEvents`, `profile`, `flags`, `roundMatrix`, `validation`,
/// `validationPack`, and recording validations: administrators and validators with the
/// round in scope.
const ROUND_READER: [Expect; 7] = [
    Unauthenticated,
    Unauthenticated,
    Allow,
    Allow,
    Forbidden,
    Forbidden,
    Forbidden,
];
/// Changing a response: administrators and the bot for the person who owns it.
const ANSWERER: [Expect; 7] = [
    Unauthenticated,
    Unauthenticated,
    Allow,
    Forbidden,
    Forbidden,
    Allow,
    Forbidden,
];
/// Reading a response: whoever may change it, and validators of its round.
const RESPONSE_READER: [Expect; 7] = [
    Unauthenticated,
    Unauthenticated,
    Allow,
    Allow,
    Forbidden,
    Allow,
    Forbidden,
];

/// The Telegram fields: the bot only, for the chat it names (linked, except to link it).
const BOT_ONLY: [Expect; 7] = [
    Unauthenticated,
    Unauthenticated,
    Forbidden,
    Forbidden,
    Forbidden,
    Allow,
    Allow,
];

/// Which root type a field belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Root {
    Query,
    Mutation,
    Subscription,
}

impl Root {
    fn name(self) -> &'static str {
        match self {
            Self::Query => "Query",
            Self::Mutation => "Mutation",
            Self::Subscription => "Subscription",
        }
    }
}

/// What a cell knows to make its variables unique.
#[derive(Debug, Clone, Copy)]
struct Cell {
    /// A number unique to the cell, over the whole matrix.
    n: usize,
    /// The caller's column, 0 to 6: picks the column's own round `mx-c<column>`.
    column: usize,
}

/// One root field.
struct Row {
    root: Root,
    field: &'static str,
    /// The operation, valid input for the field.
    operation: &'static str,
    variables: fn(Cell) -> Value,
    expect: [Expect; 7],
    /// Business error codes an allowed cell may get (access was granted before them).
    tolerated: &'static [&'static str],
    /// For a list of rounds: whether the data shows round `r-2026`.
    shows_round: Option<fn(&Value) -> bool>,
}

fn row(
    root: Root,
    field: &'static str,
    expect: [Expect; 7],
    operation: &'static str,
    variables: fn(Cell) -> Value,
) -> Row {
    Row {
        root,
        field,
        operation,
        variables,
        expect,
        tolerated: &[],
        shows_round: None,
    }
}

fn no_variables(_: Cell) -> Value {
    json!({})
}

/// The UNICEF stage questionnaire of round `r-2026`, as `$r`.
fn unicef_stages(_: Cell) -> Value {
    json!({ "r": fixtures::stages("unicef") })
}

/// The column's own round.
fn own_round(cell: Cell) -> String {
    format!("mx-c{}", cell.column)
}

fn shows_round_2026(data: &Value) -> bool {
    data["rounds"]
        .as_array()
        .is_some_and(|rounds| rounds.iter().any(|round| round["id"] == ROUND))
}

/// Every root field with its operation and intended outcomes, in schema order.
fn matrix() -> Vec<Row> {
    use Root::{Mutation, Query, Subscription};
    vec![
        // --- queries ---
        row(Query, "ping", EVERYONE, "{ ping }", no_variables),
        row(
            Query,
            "instruments",
            ANY_TOKEN,
            "{ instruments { reference } }",
            no_variables,
        ),
        row(
            Query,
            "instrument",
            ANY_TOKEN,
            r#"{ instrument(id: "jiu-rbm-stages", version: 1) { reference } }"#,
            no_variables,
        ),
        row(
            Query,
            "question",
            ANY_TOKEN,
            r#"{ question(instrumentId: "jiu-rbm-stages", version: 1, questionId: "1.1/stage") { id } }"#,
            no_variables,
        ),
        row(
            Query,
            "organisations",
            DIRECTORY,
            "{ organisations { id } }",
            no_variables,
        ),
        row(
            Query,
            "organisation",
            DIRECTORY,
            r#"{ organisation(id: "unicef") { id } }"#,
            no_variables,
        ),
        row(
            Query,
            "people",
            ADMIN_ONLY,
            "{ people { id } }",
            no_variables,
        ),
        row(
            Query,
            "person",
            ADMIN_ONLY,
            r#"{ person(id: "p-ana") { id } }"#,
            no_variables,
        ),
        Row {
            shows_round: Some(shows_round_2026),
            ..row(
                Query,
                "rounds",
                ROUND_LIST,
                "{ rounds { id } }",
                no_variables,
            )
        },
        row(
            Query,
            "round",
            ROUND_READER,
            r#"{ round(id: "r-2026") { id } }"#,
            no_variables,
        ),
        row(
            Query,
            "response",
            RESPONSE_READER,
            "query($r: ResponseRefInput!) { response(response: $r) { id } }",
            unicef_stages,
        ),
        row(
            Query,
            "responseHistory",
            RESPONSE_READER,
            "query($r: ResponseRefInput!) { responseHistory(response: $r, first: 5) \
             { edges { cursor } } }",
            unicef_stages,
        ),
        row(
            Query,
            "nextQuestion",
            RESPONSE_READER,
            "query($r: ResponseRefInput!) { nextQuestion(response: $r) { questionId } }",
            unicef_stages,
        ),
        row(
            Query,
            "profile",
            ROUND_READER,
            r#"{ profile(roundId: "r-2026", organisationId: "unicef") { pattern { pillars } } }"#,
            no_variables,
        ),
        row(
            Query,
            "flags",
            ROUND_READER,
            r#"{ flags(roundId: "r-2026", organisationId: "unicef") { code } }"#,
            no_variables,
        ),
        row(
            Query,
            "roundMatrix",
            ROUND_READER,
            r#"{ roundMatrix(roundId: "r-2026") { rows { organisationId } } }"#,
            no_variables,
        ),
        row(
            Query,
            "telegramMe",
            BOT_ONLY,
            "{ telegramMe { personId responses { roundId } } }",
            no_variables,
        ),
        row(
            Query,
            "validation",
            ROUND_READER,
            r#"{ validation(roundId: "r-2026", organisationId: "unicef") { status } }"#,
            no_variables,
        ),
        row(
            Query,
            "validationPack",
            ROUND_READER,
            r#"{ validationPack(roundId: "r-2026", organisationId: "unicef", format: JSON) { fileName } }"#,
            no_variables,
        ),
        // Round r-2026 is no learning activity: the activity's reads are NOT_FOUND after
        // the access check passed.
        Row {
            tolerated: &["NOT_FOUND"],
            ..row(
                Query,
                "activity",
                ROUND_READER,
                r#"{ activity(roundId: "r-2026") { roundId } }"#,
                no_variables,
            )
        },
        row(
            Query,
            "activities",
            ADMIN_ONLY,
            "{ activities { roundId } }",
            no_variables,
        ),
        Row {
            tolerated: &["NOT_FOUND"],
            ..row(
                Query,
                "activityFindings",
                ROUND_READER,
                r#"{ activityFindings(roundId: "r-2026") { participants } }"#,
                no_variables,
            )
        },
        Row {
            tolerated: &["NOT_FOUND"],
            ..row(
                Query,
                "activityCycles",
                ROUND_READER,
                r#"{ activityCycles(roundId: "r-2026") { cycle } }"#,
                no_variables,
            )
        },
        Row {
            tolerated: &["NOT_FOUND"],
            ..row(
                Query,
                "findingsReport",
                ROUND_READER,
                r#"{ findingsReport(roundId: "r-2026") { title } }"#,
                no_variables,
            )
        },
        row(
            Query,
            "actions",
            ROUND_READER,
            r#"{ actions(roundId: "r-2026") { id } }"#,
            no_variables,
        ),
        row(
            Query,
            "overdueActions",
            ROUND_READER,
            r#"{ overdueActions(roundId: "r-2026") { id } }"#,
            no_variables,
        ),
        // --- mutations ---
        row(
            Mutation,
            "createOrganisation",
            ADMIN_ONLY,
            "mutation($input: CreateOrganisationInput!) { createOrganisation(input: $input) \
             { organisation { id } } }",
            |cell| json!({ "input": { "id": format!("mx-org-{}", cell.n), "name": "Matrix" } }),
        ),
        row(
            Mutation,
            "updateOrganisation",
            ADMIN_ONLY,
            "mutation($input: UpdateOrganisationInput!) { updateOrganisation(input: $input) \
             { organisation { id } } }",
            |cell| json!({ "input": { "id": "mx-target", "name": format!("Target {}", cell.n) } }),
        ),
        row(
            Mutation,
            "createPerson",
            ADMIN_ONLY,
            "mutation($input: CreatePersonInput!) { createPerson(input: $input) \
             { person { id } } }",
            |cell| {
                json!({ "input": {
                    "name": format!("Person {}", cell.n),
                    "email": format!("mx-person-{}@example.org", cell.n),
                } })
            },
        ),
        row(
            Mutation,
            "updatePerson",
            ADMIN_ONLY,
            "mutation($input: UpdatePersonInput!) { updatePerson(input: $input) \
             { person { id } } }",
            |cell| json!({ "input": { "id": "p-mx-target", "name": format!("Target {}", cell.n) } }),
        ),
        row(
            Mutation,
            "createRound",
            ADMIN_ONLY,
            "mutation($input: CreateRoundInput!) { createRound(input: $input) \
             { round { id } } }",
            |cell| {
                json!({ "input": {
                    "id": format!("mx-new-{}", cell.n),
                    "title": "Matrix",
                    "instruments": ["jiu-rbm-stages@1"],
                    "organisationIds": ["unicef"],
                } })
            },
        ),
        row(
            Mutation,
            "setRoundStatus",
            ADMIN_ONLY,
            "mutation($input: SetRoundStatusInput!) { setRoundStatus(input: $input) \
             { previousStatus } }",
            // Draft to open, on the column's own round.
            |cell| json!({ "input": { "roundId": own_round(cell), "status": "OPEN" } }),
        ),
        row(
            Mutation,
            "addRoundOrganisation",
            ADMIN_ONLY,
            "mutation($input: AddRoundOrganisationInput!) { addRoundOrganisation(input: $input) \
             { round { id } } }",
            // FAO joins the column's own round (in draft or open, both take members).
            |cell| json!({ "input": { "roundId": own_round(cell), "organisationId": "fao" } }),
        ),
        row(
            Mutation,
            "assign",
            ADMIN_ONLY,
            "mutation($input: AssignInput!) { assign(input: $input) { changed } }",
            |cell| {
                json!({ "input": {
                    "roundId": own_round(cell),
                    "organisationId": "unicef",
                    "personId": "p-ana",
                    "role": "FOCAL_POINT",
                } })
            },
        ),
        row(
            Mutation,
            "unassign",
            ADMIN_ONLY,
            "mutation($input: UnassignInput!) { unassign(input: $input) \
             { assignment { personId } } }",
            // Ben's assignment as independent rater, arranged in each column's round.
            |cell| {
                json!({ "input": {
                    "roundId": own_round(cell),
                    "organisationId": "unicef",
                    "personId": "p-ben",
                    "role": "INDEPENDENT_RATER",
                } })
            },
        ),
        row(
            Mutation,
            "reopenResponse",
            ADMIN_ONLY,
            "mutation($input: ReopenResponseInput!) { reopenResponse(input: $input) \
             { responseId } }",
            // The UNICEF stage questionnaire submitted in each column's round.
            |cell| {
                json!({ "input": {
                    "roundId": own_round(cell),
                    "organisationId": "unicef",
                    "instrument": "jiu-rbm-stages@1",
                    "reason": "the matrix reopens it",
                    "idempotencyKey": format!("mx-reopen-{}", cell.n),
                } })
            },
        ),
        Row {
            // A round already closed in a column is a CONFLICT after access was granted.
            tolerated: &["CONFLICT"],
            ..row(
                Mutation,
                "inviteByEmail",
                ADMIN_ONLY,
                "mutation($input: InviteByEmailInput!) { inviteByEmail(input: $input) \
                 { sent { personId } failed { personId } } }",
                |cell| json!({ "input": { "roundId": own_round(cell), "organisationId": "unicef" } }),
            )
        },
        row(
            Mutation,
            "revokeLinks",
            ADMIN_ONLY,
            "mutation($input: RevokeLinksInput!) { revokeLinks(input: $input) { revoked } }",
            |cell| {
                json!({ "input": {
                    "response": { "roundId": own_round(cell), "organisationId": "unicef",
                                  "instrument": "jiu-rbm-outcomes@1", "personId": "p-ben" },
                } })
            },
        ),
        row(
            Mutation,
            "saveAnswers",
            ANSWERER,
            "mutation($input: SaveAnswersInput!) { saveAnswers(input: $input) { replayed } }",
            |cell| {
                json!({ "input": {
                    "response": fixtures::stages("unicef"),
                    "idempotencyKey": format!("mx-save-{}", cell.n),
                    "answers": [{ "questionId": "1.1/stage", "value": { "stage": 3 } }],
                } })
            },
        ),
        row(
            Mutation,
            "clearAnswer",
            ANSWERER,
            "mutation($input: ClearAnswerInput!) { clearAnswer(input: $input) { replayed } }",
            |cell| {
                json!({ "input": {
                    "response": fixtures::stages("unicef"),
                    "idempotencyKey": format!("mx-clear-{}", cell.n),
                    "questionId": "1.2/stage",
                } })
            },
        ),
        Row {
            // The questionnaire is far from complete: an allowed submit is refused with
            // CONFLICT, after the access check it passed.
            tolerated: &["CONFLICT"],
            ..row(
                Mutation,
                "submitResponse",
                ANSWERER,
                "mutation($input: SubmitResponseInput!) { submitResponse(input: $input) \
                 { replayed } }",
                |cell| {
                    json!({ "input": {
                        "response": fixtures::stages("unicef"),
                        "idempotencyKey": format!("mx-submit-{}", cell.n),
                    } })
                },
            )
        },
        row(
            Mutation,
            "createTelegramLinkCode",
            ADMIN_ONLY,
            "mutation($input: CreateTelegramLinkCodeInput!) { createTelegramLinkCode(input: $input) \
             { expiresAt } }",
            |_| json!({ "input": { "personId": "p-ben" } }),
        ),
        Row {
            // No code is valid here: an allowed link is refused with NOT_FOUND, after the
            // access check it passed.
            tolerated: &["NOT_FOUND"],
            ..row(
                Mutation,
                "linkTelegramChat",
                BOT_ONLY,
                "mutation($input: LinkTelegramChatInput!) { linkTelegramChat(input: $input) \
                 { linked } }",
                |cell| json!({ "input": { "code": format!("mx-code-{}", cell.n) } }),
            )
        },
        row(
            Mutation,
            "markTelegramUpdate",
            BOT_ONLY,
            "mutation($id: Int!) { markTelegramUpdate(updateId: $id) }",
            |cell| json!({ "id": cell.n }),
        ),
        // The round has no deadline: no reminder is queued, the claim finds none.
        row(
            Mutation,
            "claimTelegramNotices",
            BOT_ONLY,
            "mutation { claimTelegramNotices(limit: 5) { id chatId } }",
            no_variables,
        ),
        row(
            Mutation,
            "acknowledgeTelegramNotice",
            BOT_ONLY,
            "mutation($id: String!) { acknowledgeTelegramNotice(id: $id) }",
            |_| json!({ "id": "r-2026/p-ana/7" }),
        ),
        // Unlinks Ana's and Cy's chats: the last row that names a chat.
        row(
            Mutation,
            "unlinkTelegramChat",
            BOT_ONLY,
            "mutation { unlinkTelegramChat { linked } }",
            no_variables,
        ),
        Row {
            // Round r-2026 is open, not in validation: an allowed judgement is refused
            // with CONFLICT, after the access check it passed.
            tolerated: &["CONFLICT"],
            ..row(
                Mutation,
                "recordValidation",
                ROUND_READER,
                "mutation($input: RecordValidationInput!) { recordValidation(input: $input) \
                 { validation { stage } } }",
                |_| {
                    json!({ "input": {
                        "roundId": ROUND,
                        "organisationId": "unicef",
                        "componentId": "2.3",
                        "stage": 2,
                    } })
                },
            )
        },
        Row {
            tolerated: &["CONFLICT"],
            ..row(
                Mutation,
                "setValidationStatus",
                ROUND_READER,
                "mutation($input: SetValidationStatusInput!) { setValidationStatus(input: $input) \
                 { status } }",
                |_| {
                    json!({ "input": {
                        "roundId": ROUND,
                        "organisationId": "unicef",
                        "status": "VALIDATED",
                    } })
                },
            )
        },
        // The learning mutations: administrators only. Round r-2026 asks no learning set
        // and is no activity, so most are refused after the access check passed.
        Row {
            tolerated: &["BAD_USER_INPUT"],
            ..row(
                Mutation,
                "createActivity",
                ADMIN_ONLY,
                "mutation($input: CreateActivityInput!) { createActivity(input: $input) { roundId } }",
                |_| {
                    json!({ "input": {
                        "roundId": ROUND,
                        "kind": "AFTER_ACTION_REVIEW",
                        "intervention": "Matrix",
                        "facilitatorId": "p-ana",
                        "period": "2026",
                    } })
                },
            )
        },
        Row {
            tolerated: &["NOT_FOUND"],
            ..row(
                Mutation,
                "tagAnswer",
                ADMIN_ONLY,
                "mutation { tagAnswer(roundId: \"r-2026\", responseId: \"r-2026/unicef/jiu-rbm-stages@1\", \
                 questionId: \"1.1/stage\", themes: [\"x\"]) { participants } }",
                no_variables,
            )
        },
        Row {
            tolerated: &["NOT_FOUND"],
            ..row(
                Mutation,
                "addActivityQuestion",
                ADMIN_ONLY,
                "mutation { addActivityQuestion(roundId: \"r-2026\", text: \"Matrix question?\") \
                 { roundId } }",
                no_variables,
            )
        },
        Row {
            tolerated: &["NOT_FOUND"],
            ..row(
                Mutation,
                "editFindingsReport",
                ADMIN_ONLY,
                "mutation { editFindingsReport(roundId: \"r-2026\", sectionId: \"findings/findings\", \
                 text: \"x\") { title } }",
                no_variables,
            )
        },
        row(
            Mutation,
            "createAction",
            ADMIN_ONLY,
            "mutation($input: CreateActionInput!) { createAction(input: $input) { id } }",
            |cell| {
                json!({ "input": {
                    "id": format!("mx-action-{}", cell.n),
                    "roundId": ROUND,
                    "organisationId": "unicef",
                    "link": "COMPONENT",
                    "target": "1.1",
                    "text": "Matrix action",
                    "ownerId": "p-ana",
                    "due": "2030-01-01T00:00:00Z",
                } })
            },
        ),
        Row {
            tolerated: &["NOT_FOUND"],
            ..row(
                Mutation,
                "updateAction",
                ADMIN_ONLY,
                "mutation($input: UpdateActionInput!) { updateAction(input: $input) { id } }",
                |cell| {
                    json!({ "input": {
                        "roundId": ROUND,
                        "id": format!("mx-missing-{}", cell.n),
                        "status": "DONE",
                    } })
                },
            )
        },
        Row {
            tolerated: &["NOT_FOUND"],
            ..row(
                Mutation,
                "createNextCycle",
                ADMIN_ONLY,
                "mutation($input: CreateNextCycleInput!) { createNextCycle(input: $input) { roundId } }",
                |cell| {
                    json!({ "input": {
                        "roundId": ROUND,
                        "id": format!("mx-cycle-{}", cell.n),
                        "title": "Next",
                        "period": "2027",
                    } })
                },
            )
        },
        // --- subscriptions (over the websocket) ---
        row(
            Subscription,
            "roundEvents",
            ROUND_READER,
            "subscription($roundId: String!) { roundEvents(roundId: $roundId) { kind status } }",
            |_| json!({ "roundId": ROUND }),
        ),
    ]
}

// --- the guard ---------------------------------------------------------------------------

/// The field names of `type <name>` in `sdl`, skipping descriptions and arguments.
fn root_fields(sdl: &str, name: &str) -> Vec<String> {
    let header = format!("type {name} {{");
    let mut lines = sdl.lines().skip_while(|line| line.trim_end() != header);
    assert!(lines.next().is_some(), "the SDL has `{header}`");
    let mut fields = Vec::new();
    let mut in_description = false;
    for line in lines {
        if line.trim_end() == "}" {
            break;
        }
        let trimmed = line.trim();
        if let Some(rest) = trimmed.strip_prefix("\"\"\"") {
            // A one-line description opens and closes on the same line.
            if rest.is_empty() || !rest.ends_with("\"\"\"") {
                in_description = !in_description;
            }
            continue;
        }
        // Fields are indented once; arguments deeper.
        if in_description || !line.starts_with('\t') || line.starts_with("\t\t") {
            continue;
        }
        let field: String = trimmed
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !field.is_empty() {
            fields.push(field);
        }
    }
    fields
}

#[test]
fn the_matrix_has_a_row_for_every_root_field_and_no_other() {
    let sdl = server::graphql::sdl();
    let rows = matrix();
    let mut problems = Vec::new();
    for root in [Root::Query, Root::Mutation, Root::Subscription] {
        let mut in_schema = root_fields(&sdl, root.name());
        assert!(!in_schema.is_empty(), "type {} has fields", root.name());
        in_schema.sort();
        let mut in_matrix: Vec<String> = rows
            .iter()
            .filter(|row| row.root == root)
            .map(|row| row.field.to_owned())
            .collect();
        in_matrix.sort();
        for field in &in_schema {
            if !in_matrix.contains(field) {
                problems.push(format!("{}.{field} has no row", root.name()));
            }
        }
        for field in &in_matrix {
            if !in_schema.contains(field) {
                problems.push(format!("{}.{field} is not in the schema", root.name()));
            }
        }
        let mut unique = in_matrix.clone();
        unique.dedup();
        if unique.len() != in_matrix.len() {
            problems.push(format!("{} has a field twice in the matrix", root.name()));
        }
    }
    assert!(
        problems.is_empty(),
        "the authorisation matrix is out of step with the schema:\n{}",
        problems.join("\n")
    );
}

// --- running a cell ----------------------------------------------------------------------

/// The access codes; any other outcome means access was granted.
const ACCESS_CODES: [&str; 2] = ["UNAUTHENTICATED", "FORBIDDEN"];

/// What a cell did.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Actual {
    /// Past the access checks, possibly failing afterwards with `code`.
    Allowed {
        code: Option<String>,
        message: Option<String>,
        shows_round: Option<bool>,
    },
    /// Refused with an access code.
    Refused(String),
    /// Nothing a GraphQL client could read.
    Broken(String),
}

impl Actual {
    fn describe(&self) -> String {
        match self {
            Self::Allowed {
                code,
                message,
                shows_round,
            } => {
                let mut text = "ALLOW".to_owned();
                if let Some(code) = code {
                    text.push_str(&format!(" but {code}"));
                    if let Some(message) = message {
                        text.push_str(&format!(" ({message})"));
                    }
                }
                match shows_round {
                    Some(true) => text.push_str(", lists r-2026"),
                    Some(false) => text.push_str(", without r-2026"),
                    None => {}
                }
                text
            }
            Self::Refused(code) => code.clone(),
            Self::Broken(why) => format!("BROKEN: {why}"),
        }
    }
}

/// Reads a GraphQL result (over HTTP, or a subscription's first message).
fn classify(result: &Value, shows_round: Option<fn(&Value) -> bool>) -> Actual {
    let errors = result["errors"].as_array().cloned().unwrap_or_default();
    let code = |error: &Value| {
        error["extensions"]["code"]
            .as_str()
            .unwrap_or("no code")
            .to_owned()
    };
    if let Some(refusal) = errors
        .iter()
        .map(code)
        .find(|c| ACCESS_CODES.contains(&c.as_str()))
    {
        return Actual::Refused(refusal);
    }
    Actual::Allowed {
        code: errors.first().map(code),
        message: errors.first().map(|error| {
            error["message"]
                .as_str()
                .unwrap_or_default()
                .chars()
                .take(80)
                .collect()
        }),
        shows_round: shows_round.map(|shows| shows(&result["data"])),
    }
}

/// Whether `actual` is what `expect` intends.
fn meets(expect: Expect, actual: &Actual, tolerated: &[&str]) -> bool {
    match (expect, actual) {
        (
            Allow | AllowFiltered,
            Actual::Allowed {
                code, shows_round, ..
            },
        ) => {
            let clean = code.as_deref().is_none_or(|code| tolerated.contains(&code));
            let listed = match expect {
                AllowFiltered => *shows_round == Some(false),
                _ => *shows_round != Some(false),
            };
            clean && listed
        }
        (Unauthenticated, Actual::Refused(code)) => code == "UNAUTHENTICATED",
        (Forbidden, Actual::Refused(code)) => code == "FORBIDDEN",
        _ => false,
    }
}

// --- the websocket client (as in events.rs) ----------------------------------------------

/// The longest any single wait may take, so a failure cannot hang CI.
const WAIT: Duration = Duration::from_secs(10);

/// How long to wait for a probe before publishing the next one.
const PROBE_WAIT: Duration = Duration::from_millis(100);

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

async fn send(socket: &mut Socket, message: Value) -> Result<(), String> {
    timeout(WAIT, socket.send(Message::text(message.to_string())))
        .await
        .map_err(|_| "sending timed out".to_owned())?
        .map_err(|e| format!("sending failed: {e}"))
}

/// The next JSON message, `Ok(None)` when nothing arrives within `wait`.
async fn receive_within(socket: &mut Socket, wait: Duration) -> Result<Option<Value>, String> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let Ok(message) = tokio::time::timeout_at(deadline, socket.next()).await else {
            return Ok(None);
        };
        match message {
            Some(Ok(Message::Text(text))) => {
                return serde_json::from_str(&text)
                    .map(Some)
                    .map_err(|e| format!("not JSON: {e}"));
            }
            Some(Ok(Message::Close(frame))) => {
                return Err(format!("the server closed the websocket: {frame:?}"));
            }
            // Pings are answered by tungstenite itself.
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(format!("the websocket failed: {e}")),
            None => return Err("the websocket ended".to_owned()),
        }
    }
}

/// A graphql-transport-ws connection, initialised with `token` (if any) and
/// acknowledged.
async fn connect(server: &TestServer, token: Option<&str>) -> Result<Socket, String> {
    let url = format!("{}/graphql/ws", server.url.replacen("http://", "ws://", 1));
    let mut request = url
        .into_client_request()
        .map_err(|e| format!("no websocket request: {e}"))?;
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_static("graphql-transport-ws"),
    );
    let (mut socket, _) = timeout(WAIT, connect_async(request))
        .await
        .map_err(|_| "the websocket did not open in time".to_owned())?
        .map_err(|e| format!("the websocket did not open: {e}"))?;
    let payload = match token {
        Some(token) => json!({ "authorization": format!("Bearer {token}") }),
        None => json!({}),
    };
    send(
        &mut socket,
        json!({ "type": "connection_init", "payload": payload }),
    )
    .await?;
    match receive_within(&mut socket, WAIT).await? {
        Some(ack) if ack["type"] == "connection_ack" => Ok(socket),
        other => Err(format!("no connection_ack: {other:?}")),
    }
}

/// Subscribes as `token` and reports the subscription's first result: its refusal, or,
/// once a probe event published to the round arrives, that it is live.
async fn subscribe_as(server: &TestServer, token: Option<&str>, row: &Row, cell: Cell) -> Actual {
    let outcome = async {
        let mut socket = connect(server, token).await?;
        send(
            &mut socket,
            json!({
                "id": "1",
                "type": "subscribe",
                "payload": { "query": row.operation, "variables": (row.variables)(cell) },
            }),
        )
        .await?;
        let round = RoundId::parse(ROUND).map_err(|e| e.to_string())?;
        let mut sent = 0;
        let message = loop {
            if sent * PROBE_WAIT >= WAIT {
                return Err(format!("no result within {WAIT:?}"));
            }
            // Subscriptions have no "ready" message: probe until one arrives.
            server
                .state
                .events
                .publish(
                    &round,
                    RoundEvent::RoundStatusChanged {
                        status: RoundStatus::Draft,
                        at: Timestamp::from_millis(i64::from(sent)),
                    },
                )
                .await;
            sent += 1;
            if let Some(message) = receive_within(&mut socket, PROBE_WAIT).await? {
                break message;
            }
        };
        match message["type"].as_str() {
            Some("next") => Ok(classify(&message["payload"], None)),
            // A graphql-transport-ws `error` carries the errors as its payload.
            Some("error") => Ok(classify(&json!({ "errors": message["payload"] }), None)),
            _ => Err(format!("unexpected message {message}")),
        }
    };
    outcome.await.unwrap_or_else(Actual::Broken)
}

async fn run_cell(
    server: &TestServer,
    tokens: &Tokens,
    row: &Row,
    caller: Caller,
    cell: Cell,
) -> Actual {
    let token = tokens.of(caller);
    match row.root {
        Root::Subscription => subscribe_as(server, token, row, cell).await,
        Root::Query | Root::Mutation => {
            let result = server
                .graphql_as(token, caller.chat(), row.operation, (row.variables)(cell))
                .await;
            classify(&result, row.shows_round)
        }
    }
}

// --- arranging -----------------------------------------------------------------------------

/// An admin token that worked once and was then revoked; returns its secret.
async fn revoked_admin(server: &TestServer) -> String {
    let secret = server::service::access::new_secret().expect("randomness");
    let hash = TokenHash::of(&secret);
    let id = TokenId::parse(&format!("t-revoked-{}", &hash.to_hex()[..10])).expect("id");
    server
        .state
        .store
        .put_api_token(&ApiToken {
            id: id.clone(),
            hash,
            role: TokenRole::Admin,
            label: "matrix, revoked".to_owned(),
            created_at: Timestamp::now(),
            revoked: false,
        })
        .await
        .expect("token stored");
    // It works before the revocation, so the column tests the revocation itself.
    let before = server
        .graphql_as(Some(&secret), None, "{ people { id } }", json!({}))
        .await;
    data(&before);
    assert!(
        server
            .state
            .store
            .revoke_api_token(&id)
            .await
            .expect("revoked")
    );
    secret
}

/// The fixtures, plus what the mutation rows act on: an organisation and a person to
/// update, and per column a round of its own with an assignment to remove and a
/// submitted response to reopen; and a started UNICEF stage questionnaire in `r-2026`
/// for the reading rows.
async fn arrange(server: &TestServer) {
    fixtures::arrange(server).await;
    let store = &server.state.store;
    let unicef = OrganisationId::parse("unicef").expect("id");
    store
        .put_organisation(
            &Organisation::new(
                OrganisationId::parse("mx-target").expect("id"),
                "Target",
                None,
            )
            .expect("organisation"),
        )
        .await
        .expect("organisation stored");
    store
        .put_person(&Person {
            id: PersonId::parse("p-mx-target").expect("id"),
            name: "Target".to_owned(),
            email: server::domain::EmailAddress::parse("mx-target@example.org").expect("email"),
            telegram_chat: None,
        })
        .await
        .expect("person stored");
    for column in 0..CALLERS.len() {
        let round = RoundId::parse(&format!("mx-c{column}")).expect("id");
        store
            .put_round(&Round {
                id: round.clone(),
                title: format!("Matrix column {column}"),
                instruments: vec![
                    server::catalogue::InstrumentRef::parse("jiu-rbm-stages@1").expect("ref"),
                ],
                organisations: vec![unicef.clone()],
                deadline: None,
                status: RoundStatus::Draft,
            })
            .await
            .expect("round stored");
        store
            .put_assignment(&Assignment {
                round: round.clone(),
                organisation: unicef.clone(),
                person: PersonId::parse("p-ben").expect("id"),
                role: Role::IndependentRater,
            })
            .await
            .expect("assignment stored");
        let key = ResponseKey::parse(&format!("{round}/unicef/jiu-rbm-stages@1")).expect("key");
        store
            .execute(&ResponseRequest {
                key,
                idempotency_key: IdempotencyKey::parse(&format!("mx-arrange-{column}"))
                    .expect("key"),
                command: Command::Submit,
                expected_seq: None,
                actor: Actor::System,
                channel: Channel::Graphql,
                at: Timestamp::now(),
            })
            .await
            .expect("response submitted");
    }
    let saved = server
        .admin(
            "mutation($input: SaveAnswersInput!) { saveAnswers(input: $input) { replayed } }",
            json!({ "input": {
                "response": fixtures::stages("unicef"),
                "idempotencyKey": "mx-arrange",
                "answers": [
                    { "questionId": "1.1/stage", "value": { "stage": 2 } },
                    { "questionId": "1.2/stage", "value": { "stage": 2 } },
                ],
            } }),
        )
        .await;
    data(&saved);
}

// --- the test --------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_root_field_is_allowed_exactly_where_intended() {
    let server = TestServer::spawn(Backend::Redb).await;
    arrange(&server).await;
    let tokens = Tokens {
        admin: server.admin.clone(),
        revoked: revoked_admin(&server).await,
        validator_in: server.validator(&[ROUND]).await,
        validator_out: server.validator(&["r-other"]).await,
        bot: server.token(TokenRole::Bot).await,
    };

    let rows = matrix();
    let mut mismatches = Vec::new();
    let mut cells = 0;
    for row in &rows {
        for (column, (&caller, &expect)) in CALLERS.iter().zip(&row.expect).enumerate() {
            let cell = Cell { n: cells, column };
            cells += 1;
            let actual = run_cell(&server, &tokens, row, caller, cell).await;
            if !meets(expect, &actual, row.tolerated) {
                mismatches.push(format!(
                    "{:<34} {:<24} {:<16} {}",
                    format!("{}.{}", row.root.name(), row.field),
                    caller.name(),
                    expect.name(),
                    actual.describe()
                ));
            }
        }
    }
    server.stop().await;
    assert_eq!(cells, rows.len() * CALLERS.len());
    assert!(
        mismatches.is_empty(),
        "{} of {cells} cells of the authorisation matrix differ from the intended rule:\n\
         {:<34} {:<24} {:<16} {}\n{}",
        mismatches.len(),
        "field",
        "caller",
        "intended",
        "actual",
        mismatches.join("\n")
    );
}
