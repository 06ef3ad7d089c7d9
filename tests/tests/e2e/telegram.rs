//! Linking Telegram chats over GraphQL: one-time codes made by administrators, used by the
//! bot for the chat it names; unlinking; update de-duplication; what a linked person sees.

use serde_json::{Value, json};
use server::domain::TokenRole;

use crate::fixtures::{self, ANA_CHAT, ROUND};
use crate::support::{Backend, TestServer, data, error_code};

const CREATE: &str = "mutation($input: CreateTelegramLinkCodeInput!) { \
    createTelegramLinkCode(input: $input) { code expiresAt deepLink person { id telegramLinked } } }";
const LINK: &str = "mutation($input: LinkTelegramChatInput!) { \
    linkTelegramChat(input: $input) { personId name linked } }";
const ME: &str = "{ telegramMe { personId name responses { roundId roundTitle instrumentTitle \
    progress { instrument organisationId personId status answered total } } } }";
const MARK: &str = "mutation($id: Int!) { markTelegramUpdate(updateId: $id) }";

async fn code_for(server: &TestServer, person: &str) -> Value {
    let created = server
        .admin(CREATE, json!({ "input": { "personId": person } }))
        .await;
    data(&created)["createTelegramLinkCode"].clone()
}

async fn links_once_and_unlinks(backend: Backend) {
    let redis =
        (backend == Backend::Redis).then(|| std::sync::Arc::new(tests::RedisServer::start()));
    let server = TestServer::spawn_with(backend, redis, "tg", |settings| {
        settings.telegram.bot_username = "stagewise_test_bot".to_owned();
    })
    .await;
    fixtures::arrange(&server).await;
    let bot = server.token(TokenRole::Bot).await;
    let new_chat = 2001;

    // Ben is linked to chat 1002 in the fixtures; a code moves him to a new chat.
    let issued = code_for(&server, "p-ben").await;
    let code = issued["code"].as_str().expect("a code").to_owned();
    assert_eq!(code.len(), 32, "128 bits in hex");
    assert!(code.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(
        issued["deepLink"],
        format!("https://t.me/stagewise_test_bot?start={code}")
    );
    assert_eq!(issued["person"]["id"], "p-ben");

    // The chat is not linked yet: the bot may not act for it.
    let before = server
        .graphql_as(Some(&bot), Some(new_chat), ME, json!({}))
        .await;
    assert_eq!(error_code(&before), Some("FORBIDDEN"));

    let linked = server
        .graphql_as(
            Some(&bot),
            Some(new_chat),
            LINK,
            json!({ "input": { "code": code } }),
        )
        .await;
    assert_eq!(
        data(&linked)["linkTelegramChat"],
        json!({ "personId": "p-ben", "name": "p-ben", "linked": true })
    );

    // Once only, whatever chat tries again.
    let again = server
        .graphql_as(
            Some(&bot),
            Some(ANA_CHAT),
            LINK,
            json!({ "input": { "code": code } }),
        )
        .await;
    assert_eq!(error_code(&again), Some("NOT_FOUND"));
    let ana = server
        .graphql_as(Some(&bot), Some(ANA_CHAT), ME, json!({}))
        .await;
    assert_eq!(data(&ana)["telegramMe"]["personId"], "p-ana");

    // The new chat acts for Ben, the old one no longer does.
    let me = server
        .graphql_as(Some(&bot), Some(new_chat), ME, json!({}))
        .await;
    let me = &data(&me)["telegramMe"];
    assert_eq!(me["personId"], "p-ben");
    assert_eq!(
        me["responses"],
        json!([{
            "roundId": ROUND,
            "roundTitle": "JIU RBM 2026",
            "instrumentTitle": me["responses"][0]["instrumentTitle"],
            "progress": {
                "instrument": "jiu-rbm-outcomes@1",
                "organisationId": "unicef",
                "personId": "p-ben",
                "status": "NOT_STARTED",
                "answered": 0,
                "total": me["responses"][0]["progress"]["total"],
            }
        }])
    );
    assert!(me["responses"][0]["progress"]["total"].as_i64() > Some(0));
    let old = server
        .graphql_as(Some(&bot), Some(1002), ME, json!({}))
        .await;
    assert_eq!(error_code(&old), Some("FORBIDDEN"));

    // Unlinking ends it.
    let unlinked = server
        .graphql_as(
            Some(&bot),
            Some(new_chat),
            "mutation { unlinkTelegramChat { personId linked } }",
            json!({}),
        )
        .await;
    assert_eq!(
        data(&unlinked)["unlinkTelegramChat"],
        json!({ "personId": "p-ben", "linked": false })
    );
    let after = server
        .graphql_as(Some(&bot), Some(new_chat), ME, json!({}))
        .await;
    assert_eq!(error_code(&after), Some("FORBIDDEN"));
    let person = server
        .admin(r#"{ person(id: "p-ben") { telegramLinked } }"#, json!({}))
        .await;
    assert_eq!(data(&person)["person"]["telegramLinked"], false);

    // Redelivered updates are recognised.
    for (id, first) in [(7, true), (7, false), (8, true)] {
        let marked = server
            .graphql_as(Some(&bot), None, MARK, json!({ "id": id }))
            .await;
        assert_eq!(data(&marked)["markTelegramUpdate"], first, "update {id}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_links_a_chat_once_on_redb() {
    links_once_and_unlinks(Backend::Redb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_links_a_chat_once_on_redis() {
    links_once_and_unlinks(Backend::Redis).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_codes_and_unknown_people_are_refused() {
    let server = TestServer::spawn(Backend::Redb).await;
    fixtures::arrange(&server).await;
    let bot = server.token(TokenRole::Bot).await;
    let unknown = server
        .admin(CREATE, json!({ "input": { "personId": "p-nobody" } }))
        .await;
    assert_eq!(error_code(&unknown), Some("NOT_FOUND"));
    for code in [
        "",
        "not a code",
        "ab/cd",
        &"a".repeat(65),
        "0123456789abcdef",
    ] {
        let refused = server
            .graphql_as(
                Some(&bot),
                Some(2002),
                LINK,
                json!({ "input": { "code": code } }),
            )
            .await;
        assert_eq!(error_code(&refused), Some("NOT_FOUND"), "{code:?}");
    }
    // Without a deep-link username, no deep link.
    let issued = code_for(&server, "p-ana").await;
    assert_eq!(issued["deepLink"], Value::Null);
    // The bot must name the chat it links.
    let no_chat = server
        .graphql_as(
            Some(&bot),
            None,
            LINK,
            json!({ "input": { "code": issued["code"] } }),
        )
        .await;
    assert_eq!(error_code(&no_chat), Some("FORBIDDEN"));
    server.stop().await;
}
