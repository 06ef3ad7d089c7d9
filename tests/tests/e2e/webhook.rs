//! The bot's webhook mode end to end: Telegram's POSTs to the endpoint (with and without
//! the right secret token, duplicated, oversized, while the server is down) against a
//! server spawned on a free port; the replies go to teloxide_tests' fake Bot API.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bot::api::graphql::GraphqlBackend;
use bot::api::{Backend, Target};
use bot::keyboards::{Action, Callback};
use bot::outbox::Outbox;
use bot::webhook::{Parts, SECRET_HEADER, Webhook};
use bot::{Storage, handler_tree};
use secrecy::SecretString;
use serde_json::json;
use server::domain::TokenRole;
use teloxide::prelude::*;
use teloxide::types::{Update, UpdateId};
use teloxide_tests::{MockCallbackQuery, MockMessageText, MockPrivateChat, MockUser};

use crate::fixtures::{self, ANA_CHAT};
use crate::support::{Backend as StoreBackend, TestServer, data};

const SECRET: &str = "webhook_Secret-42";
const MAX_BODY: usize = 64 * 1024;

type HandlerError = bot::handlers::HandlerError;

/// Telegram's Bot API played by teloxide_tests, kept up for the whole test: a `MockBot`
/// dispatches one update whose handler hands its bot (pointed at the fake API) to the test
/// and waits until the test is done. What the webhook sent is read at the end.
struct FakeTelegram {
    bot: Bot,
    done: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<teloxide_tests::server::Responses>>,
}

impl FakeTelegram {
    fn start() -> Self {
        let (bot_sender, bot_receiver) = std::sync::mpsc::channel::<Bot>();
        let (done, done_receiver) = tokio::sync::oneshot::channel::<()>();
        let bot_sender = Arc::new(Mutex::new(Some(bot_sender)));
        let done_receiver = Arc::new(Mutex::new(Some(done_receiver)));
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .expect("a runtime for the fake Bot API");
            runtime.block_on(async move {
                let hold = dptree::endpoint(move |bot: Bot| {
                    let bot_sender = Arc::clone(&bot_sender);
                    let done_receiver = Arc::clone(&done_receiver);
                    async move {
                        if let Some(sender) = bot_sender.lock().expect("lock").take() {
                            let _ = sender.send(bot);
                        }
                        let receiver = done_receiver.lock().expect("lock").take();
                        if let Some(receiver) = receiver {
                            let _ = receiver.await;
                        }
                        Ok::<(), HandlerError>(())
                    }
                });
                let mut mock = teloxide_tests::MockBot::new(
                    MockMessageText::new().text("hold the fake API open"),
                    hold,
                );
                mock.dispatch().await;
                mock.get_responses()
            })
        });
        let bot = bot_receiver
            .recv_timeout(Duration::from_secs(60))
            .expect("the fake Bot API started");
        Self {
            bot,
            done: Some(done),
            thread: Some(thread),
        }
    }

    /// Stops the fake API and returns every request it received.
    fn finish(mut self) -> teloxide_tests::server::Responses {
        if let Some(done) = self.done.take() {
            let _ = done.send(());
        }
        self.thread
            .take()
            .expect("running")
            .join()
            .expect("the fake Bot API stopped")
    }
}

fn ana_chat() -> teloxide::types::Chat {
    MockPrivateChat::new().id(ANA_CHAT).build()
}

fn ana() -> teloxide::types::User {
    MockUser::new().id(ANA_CHAT as u64).build()
}

fn with_id(update: impl teloxide_tests::IntoUpdate, id: u32) -> Vec<u8> {
    let mut updates = update.into_update(&std::sync::atomic::AtomicI32::new(0));
    let mut update: Update = updates.remove(0);
    update.id = UpdateId(id);
    serde_json::to_vec(&update).expect("an update serialises")
}

fn text_update(id: u32, text: &str) -> Vec<u8> {
    with_id(
        MockMessageText::new()
            .text(text)
            .chat(ana_chat())
            .from(ana()),
        id,
    )
}

fn press_update(id: u32, data: String) -> Vec<u8> {
    with_id(
        MockCallbackQuery::new()
            .data(data)
            .from(ana())
            .message(MockMessageText::new().chat(ana_chat()).build()),
        id,
    )
}

/// POSTs `body` to the webhook with `secret` in Telegram's header (none when `None`).
async fn post(url: &str, secret: Option<&str>, body: Vec<u8>) -> u16 {
    let mut request = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .body(body);
    if let Some(secret) = secret {
        request = request.header(SECRET_HEADER, secret);
    }
    request
        .send()
        .await
        .expect("the webhook answers")
        .status()
        .as_u16()
}

/// The stage questionnaire answer to `question` on the server, as the admin reads it.
async fn answer(server: &TestServer, question: &str) -> serde_json::Value {
    let read = server
        .admin(
            "query($r: ResponseRefInput!, $q: String!) { response(response: $r) \
             { answer(questionId: $q) { channel value { stage text } } } }",
            json!({ "r": fixtures::stages("unicef"), "q": question }),
        )
        .await;
    data(&read)["response"]["answer"].clone()
}

fn unicef_stages() -> Target {
    Target {
        round_id: fixtures::ROUND.to_owned(),
        organisation_id: "unicef".to_owned(),
        instrument: "jiu-rbm-stages@1".to_owned(),
        person_id: None,
    }
}

struct Running {
    url: String,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

async fn run(webhook: &Webhook) -> Running {
    let listening = webhook
        .bind("127.0.0.1:0", "/telegram/hook")
        .await
        .expect("the webhook binds");
    let url = format!("http://127.0.0.1:{}/telegram/hook", listening.port());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(listening.run_until(async {
        let _ = stopped.await;
    }));
    Running { url, stop, task }
}

impl Running {
    async fn stop(self) {
        let _ = self.stop.send(());
        self.task
            .await
            .expect("webhook task")
            .expect("the webhook stops cleanly");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_webhook_checks_its_secret_and_answers_after_the_update_is_stored() {
    let server = TestServer::spawn(StoreBackend::Redb).await;
    fixtures::arrange(&server).await;
    let telegram = FakeTelegram::start();
    let bot_token = server.token(TokenRole::Bot).await;
    let backend: Arc<dyn Backend> = Arc::new(
        GraphqlBackend::new(
            &server.url,
            bot_token.clone().into(),
            Duration::from_secs(10),
        )
        .expect("client"),
    );
    let parts = || async {
        Parts {
            bot: telegram.bot.clone(),
            me: telegram.bot.get_me().await.expect("getMe on the fake API"),
            outbox: Outbox::direct(),
            storage: Storage::new(),
        }
    };
    let webhook = Webhook::new(
        handler_tree(),
        Arc::clone(&backend),
        parts().await,
        SecretString::from(SECRET),
        MAX_BODY,
    );
    let hook = run(&webhook).await;

    // No secret, or a wrong one: refused, nothing handled (the update id stays unseen, so
    // the same update is handled when it comes with the right secret).
    assert_eq!(
        post(&hook.url, None, text_update(5001, "/continue")).await,
        401
    );
    assert_eq!(
        post(
            &hook.url,
            Some("webhook_Secret-43"),
            text_update(5001, "/continue")
        )
        .await,
        403
    );
    assert_eq!(
        post(
            &hook.url,
            Some(&SECRET[..5]),
            text_update(5001, "/continue")
        )
        .await,
        403
    );
    assert_eq!(
        post(&hook.url, Some(SECRET), text_update(5001, "/continue")).await,
        200
    );

    // A stage press: with a wrong secret nothing is saved; with the right one the answer
    // is on the server by the time the POST returns.
    let before = backend
        .response(ANA_CHAT, &unicef_stages(), None)
        .await
        .expect("readable");
    let stage_press = |id| {
        press_update(
            id,
            Callback {
                action: Action::Answer(3),
                question: "1.1/stage".to_owned(),
                prompt_tag: bot::dialogue::tag_of(before.last_seq),
            }
            .encode()
            .expect("fits"),
        )
    };
    assert_eq!(post(&hook.url, Some("nope"), stage_press(5002)).await, 403);
    assert_eq!(answer(&server, "1.1/stage").await, json!(null));
    assert_eq!(post(&hook.url, Some(SECRET), stage_press(5002)).await, 200);
    assert_eq!(
        answer(&server, "1.1/stage").await,
        json!({ "channel": "TELEGRAM", "value": { "stage": 3, "text": null } })
    );

    // Telegram delivering the same update again: answered 200, handled once.
    let after_press = backend
        .response(ANA_CHAT, &unicef_stages(), None)
        .await
        .expect("readable");
    assert_eq!(post(&hook.url, Some(SECRET), stage_press(5002)).await, 200);
    let rationale = "Our RBM policy of 2024 sets the targets.";
    assert_eq!(
        post(&hook.url, Some(SECRET), text_update(5003, rationale)).await,
        200
    );
    assert_eq!(
        answer(&server, "1.1/rationale").await,
        json!({ "channel": "TELEGRAM", "value": { "stage": null, "text": rationale } })
    );
    assert_eq!(
        post(&hook.url, Some(SECRET), text_update(5003, rationale)).await,
        200
    );
    let after_all = backend
        .response(ANA_CHAT, &unicef_stages(), None)
        .await
        .expect("readable");
    assert_eq!(
        after_all.last_seq,
        after_press.last_seq + 1,
        "one event for the rationale, none for the duplicates"
    );

    // A body over the limit, and one that is not an update.
    let mut huge = text_update(5004, "x");
    huge.resize(MAX_BODY + 1, b' ');
    assert_eq!(post(&hook.url, Some(SECRET), huge).await, 413);
    assert_eq!(
        post(&hook.url, Some(SECRET), b"{\"not\":\"an update\"}".to_vec()).await,
        400
    );

    // The server unreachable: 503, so Telegram retries; the person is not answered.
    let nowhere: Arc<dyn Backend> = Arc::new(
        GraphqlBackend::new(
            &format!("http://127.0.0.1:{}", tests::free_port()),
            bot_token.into(),
            Duration::from_secs(2),
        )
        .expect("client"),
    );
    let cut_off = Webhook::new(
        handler_tree(),
        nowhere,
        parts().await,
        SecretString::from(SECRET),
        MAX_BODY,
    );
    let cut_off_hook = run(&cut_off).await;
    assert_eq!(
        post(
            &cut_off_hook.url,
            Some(SECRET),
            text_update(5005, "/progress")
        )
        .await,
        503
    );
    // Once the server is back (the same update, on the endpoint that reaches it), it is
    // handled.
    assert_eq!(
        post(&hook.url, Some(SECRET), text_update(5005, "/progress")).await,
        200
    );
    cut_off_hook.stop().await;
    hook.stop().await;

    // What reached Telegram: the first question, the question after the stage, the one
    // after the rationale, and the progress — nothing for the refused, duplicate or
    // unreachable deliveries; one press answered.
    let responses = telegram.finish();
    let sent: Vec<String> = responses
        .sent_messages
        .iter()
        .map(|m| m.text().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(sent.len(), 4, "{sent:#?}");
    assert!(sent[0].contains("Component 1.1"), "{}", sent[0]);
    assert!(sent[1].contains("ationale"), "{}", sent[1]);
    assert!(sent[2].to_lowercase().contains("evidence"), "{}", sent[2]);
    assert!(sent[3].contains("JIU RBM 2026"), "{}", sent[3]);
    assert_eq!(responses.answered_callback_queries.len(), 1);
    server.stop().await;
}
