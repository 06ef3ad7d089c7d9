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

const INVITE: &str = "mutation($input: InviteByEmailInput!) { \
    inviteByEmail(input: $input) { sent { personId } failed { personId } } }";

/// The deep link in a received message, if any: `https://t.me/<bot>?start=<code>`.
fn deep_link_in(message: &str) -> Option<String> {
    let prefix = "https://t.me/stagewise_test_bot?start=";
    let start = message.find(prefix)? + prefix.len();
    Some(
        message[start..]
            .chars()
            .take_while(char::is_ascii_hexdigit)
            .collect(),
    )
}

/// With a bot configured, the invitation of a person whose chat is not linked carries a
/// deep link with a one-time code, and that code links a chat through the bot's GraphQL
/// path; a person already linked gets no code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invitation_carries_a_deep_link_that_links_the_chat() {
    let sink = tests::smtp::SmtpSink::start();
    let server = TestServer::spawn_with(Backend::Redb, None, "tg", |settings| {
        settings.telegram.bot_username = "@stagewise_test_bot".to_owned();
        settings.email.smtp_host = "127.0.0.1".to_owned();
        settings.email.smtp_port = sink.port();
        settings.email.tls = server::config::SmtpTls::None;
    })
    .await;
    fixtures::arrange(&server).await;
    // Ben has not linked a chat yet; Ana has (chat 1001).
    let store = &server.state.store;
    let ben_id = server::domain::PersonId::parse("p-ben").expect("id");
    let mut ben = store.person(&ben_id).await.expect("read").expect("Ben");
    ben.telegram_chat = None;
    store.put_person(&ben).await.expect("unlinked");

    let invited = server
        .admin(
            INVITE,
            json!({ "input": { "roundId": ROUND, "organisationId": "unicef" } }),
        )
        .await;
    assert_eq!(
        data(&invited)["inviteByEmail"]["sent"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    let messages = sink.arrived(2, std::time::Duration::from_secs(10)).await;
    let text_of = |to: &str| {
        let message = messages
            .iter()
            .find(|m| m.to == [to])
            .unwrap_or_else(|| panic!("a message to {to}"));
        tests::smtp::decode_quoted_printable(&message.data)
    };
    let ana = text_of("p-ana@example.org");
    assert_eq!(deep_link_in(&ana), None, "Ana is linked: no code for her");
    let ben_message = text_of("p-ben@example.org");
    let code = deep_link_in(&ben_message).expect("a deep link for Ben");
    assert_eq!(code.len(), 32, "128 bits in hex: {ben_message}");

    // The code links a new chat to Ben through the bot's path, once.
    let bot = server.token(TokenRole::Bot).await;
    let linked = server
        .graphql_as(
            Some(&bot),
            Some(3003),
            LINK,
            json!({ "input": { "code": code } }),
        )
        .await;
    assert_eq!(
        data(&linked)["linkTelegramChat"],
        json!({ "personId": "p-ben", "name": "p-ben", "linked": true })
    );
    let me = server
        .graphql_as(Some(&bot), Some(3003), ME, json!({}))
        .await;
    assert_eq!(data(&me)["telegramMe"]["personId"], "p-ben");
    let again = server
        .graphql_as(
            Some(&bot),
            Some(3004),
            LINK,
            json!({ "input": { "code": code } }),
        )
        .await;
    assert_eq!(error_code(&again), Some("NOT_FOUND"), "a code works once");
    server.stop().await;
}
