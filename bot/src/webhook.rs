//! Webhook mode: Telegram posts each update to an HTTPS endpoint instead of the bot
//! polling for it. The endpoint runs the same [`crate::handler_tree`] as long polling,
//! one update per request, and answers only when the tree has run to the end for it.
//!
//! Per request, in this order:
//! 1. the `X-Telegram-Bot-Api-Secret-Token` header is compared with the configured secret
//!    in constant time ([`secret_matches`]): missing → 401, wrong → 403, and the body is
//!    not even read;
//! 2. the body is read up to the limit (413 past it) and parsed as an `Update` (400 when
//!    it is not one);
//! 3. updates of one chat are handled one at a time (a lock per chat stripe), like the
//!    long-polling dispatcher does;
//! 4. the tree runs. Its first node asks the server to record the update id; when the
//!    server cannot be reached for that, nothing else runs and the answer is 503, so
//!    Telegram delivers the update again later (the person sees nothing meanwhile). When
//!    the server recorded it (or had seen it before: a duplicate is dropped), the
//!    handlers run to the end and the answer is 200. A server that fails *during* the
//!    handlers is reported to the person ("try again"), as in long polling: the update
//!    is recorded, so Telegram delivering it again would be dropped as a duplicate.
//!
//! The secret is never logged, nor are update bodies.

use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use async_trait::async_trait;
use poem::http::StatusCode;
use poem::listener::{Acceptor, Listener, TcpAcceptor, TcpListener};
use poem::web::Data;
use poem::{Body, EndpointExt, Request, Route, handler, post};
use secrecy::{ExposeSecret, SecretString};
use teloxide::Bot;
use teloxide::dispatching::UpdateHandler;
use teloxide::dptree::{self, di::DependencyMap};
use teloxide::types::{Me, Update};

use crate::Storage;
use crate::api::{
    AnswerInput, ApiError, ApiResult, Backend, Me as Person, Next, Notice, QuestionView,
    ResponseView, Saved, Target,
};
use crate::handlers::HandlerError;
use crate::outbox::Outbox;

/// The header in which Telegram sends the webhook's secret token.
pub const SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";

/// Updates of chats in the same stripe are handled one after another.
const CHAT_STRIPES: usize = 64;

/// Compares a received secret with the expected one in time that depends only on the
/// lengths, never on where they differ: every byte is looked at, there is no early exit.
pub fn secret_matches(expected: &[u8], given: &[u8]) -> bool {
    let mut difference = expected.len() ^ given.len();
    for (index, byte) in expected.iter().enumerate() {
        // A shorter `given` is compared against zeros; the length difference above
        // already makes the result false.
        let other = given.get(index).copied().unwrap_or(0);
        difference |= usize::from(byte ^ other);
    }
    std::hint::black_box(difference) == 0
}

/// What the endpoint answered for one request, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// No secret header: 401.
    MissingSecret,
    /// A secret that is not ours: 403.
    WrongSecret,
    /// The body is over the limit: 413.
    TooLarge,
    /// The body is not an update: 400.
    NotAnUpdate,
    /// The server could not record the update; Telegram should retry: 503.
    ServerUnreachable,
    /// The update had been handled before: 200.
    Duplicate,
    /// The handlers ran to the end: 200.
    Handled,
}

impl Outcome {
    /// The HTTP status of the answer.
    pub fn status(self) -> StatusCode {
        match self {
            Self::MissingSecret => StatusCode::UNAUTHORIZED,
            Self::WrongSecret => StatusCode::FORBIDDEN,
            Self::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::NotAnUpdate => StatusCode::BAD_REQUEST,
            Self::ServerUnreachable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Duplicate | Self::Handled => StatusCode::OK,
        }
    }
}

/// The webhook endpoint: the handler tree, its dependencies and the secret.
#[derive(Clone)]
pub struct Webhook {
    inner: Arc<Inner>,
}

struct Inner {
    handler: UpdateHandler<HandlerError>,
    dependencies: DependencyMap,
    backend: Arc<dyn Backend>,
    secret: SecretString,
    max_body_bytes: usize,
    chats: Vec<tokio::sync::Mutex<()>>,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("max_body_bytes", &self.inner.max_body_bytes)
            .finish_non_exhaustive()
    }
}

/// What the handler tree needs besides the update and the backend.
pub struct Parts {
    /// The bot the handlers reply through (the dispatcher's bot in long polling).
    pub bot: Bot,
    /// The bot's own user (`getMe`), for commands addressed as `/start@bot`.
    pub me: Me,
    /// Throttled in production, direct in tests.
    pub outbox: Outbox,
    /// The dialogue storage.
    pub storage: Arc<Storage>,
}

impl Webhook {
    /// An endpoint running `handler` (normally [`crate::handler_tree`]) with `backend`
    /// and `parts`, accepting requests that carry `secret`, with bodies of at most
    /// `max_body_bytes`.
    ///
    /// # Panics
    /// When `handler` needs a dependency that is not given (checked once, here).
    pub fn new(
        handler: UpdateHandler<HandlerError>,
        backend: Arc<dyn Backend>,
        parts: Parts,
        secret: SecretString,
        max_body_bytes: usize,
    ) -> Self {
        let dependencies = dptree::deps![parts.bot, parts.me, parts.outbox, parts.storage];
        dptree::type_check(
            handler.sig(),
            &dependencies,
            &[
                dptree::Type::of::<Update>(),
                dptree::Type::of::<Arc<dyn Backend>>(),
            ],
        );
        Self {
            inner: Arc::new(Inner {
                handler,
                dependencies,
                backend,
                secret,
                max_body_bytes,
                chats: (0..CHAT_STRIPES)
                    .map(|_| tokio::sync::Mutex::new(()))
                    .collect(),
            }),
        }
    }

    /// The poem endpoint: `POST <path>`.
    pub fn routes(&self, path: &str) -> impl poem::Endpoint + use<> {
        Route::new().at(path, post(receive)).data(self.clone())
    }

    /// Handles one request: its secret header and its body.
    pub async fn handle(&self, secret: Option<&[u8]>, body: Body) -> Outcome {
        let Some(secret) = secret else {
            return Outcome::MissingSecret;
        };
        if !secret_matches(self.inner.secret.expose_secret().as_bytes(), secret) {
            return Outcome::WrongSecret;
        }
        let bytes = match body.into_bytes_limit(self.inner.max_body_bytes).await {
            Ok(bytes) => bytes,
            Err(poem::error::ReadBodyError::PayloadTooLarge) => return Outcome::TooLarge,
            Err(_) => return Outcome::NotAnUpdate,
        };
        let Ok(update) = serde_json::from_slice::<Update>(&bytes) else {
            return Outcome::NotAnUpdate;
        };
        self.dispatch(update).await
    }

    /// Runs the handler tree for one update, one at a time per chat.
    pub async fn dispatch(&self, update: Update) -> Outcome {
        let stripe = update
            .chat()
            .map(|chat| chat.id.0)
            .or_else(|| update.from().map(|user| user.id.0 as i64))
            .map_or(0, |id| (id.unsigned_abs() % CHAT_STRIPES as u64) as usize);
        let _chat = self.inner.chats[stripe].lock().await;
        let update_id = update.id.0;
        let delivery = Arc::new(Delivery {
            inner: Arc::clone(&self.inner.backend),
            mark: AtomicU8::new(MARK_NOT_ASKED),
        });
        let backend: Arc<dyn Backend> = delivery.clone();
        let mut dependencies = self.inner.dependencies.clone();
        dependencies.insert(backend);
        dependencies.insert(update);
        if let ControlFlow::Break(Err(error)) = self.inner.handler.dispatch(dependencies).await {
            // Telegram refused a reply; the update's effect is recorded on the server.
            tracing::warn!(update_id, %error, "a handler failed");
        }
        match delivery.mark.load(Ordering::Acquire) {
            MARK_UNREACHABLE => {
                tracing::warn!(
                    update_id,
                    "the server cannot record the update; Telegram will retry"
                );
                Outcome::ServerUnreachable
            }
            MARK_SEEN => Outcome::Duplicate,
            _ => Outcome::Handled,
        }
    }
}

#[handler]
async fn receive(request: &Request, body: Body, Data(webhook): Data<&Webhook>) -> StatusCode {
    let secret = request
        .headers()
        .get(SECRET_HEADER)
        .map(poem::http::HeaderValue::as_bytes);
    webhook.handle(secret, body).await.status()
}

/// A webhook endpoint bound to its address, not yet serving.
pub struct Listening {
    acceptor: TcpAcceptor,
    port: u16,
    webhook: Webhook,
    path: String,
}

impl std::fmt::Debug for Listening {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listening")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl Webhook {
    /// Binds `listen` (port 0 picks a free port) for `POST <path>`.
    ///
    /// # Errors
    /// When the address cannot be bound.
    pub async fn bind(&self, listen: &str, path: &str) -> std::io::Result<Listening> {
        let acceptor = TcpListener::bind(listen.to_owned()).into_acceptor().await?;
        let port = acceptor
            .local_addr()
            .first()
            .and_then(|addr| addr.as_socket_addr().map(std::net::SocketAddr::port))
            .unwrap_or_default();
        Ok(Listening {
            acceptor,
            port,
            webhook: self.clone(),
            path: path.to_owned(),
        })
    }
}

impl Listening {
    /// The bound port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until `stop` completes; requests in flight get 10 seconds to finish.
    ///
    /// # Errors
    /// When serving fails.
    pub async fn run_until(self, stop: impl Future<Output = ()> + Send) -> std::io::Result<()> {
        poem::Server::new_with_acceptor(self.acceptor)
            .run_with_graceful_shutdown(
                self.webhook.routes(&self.path),
                stop,
                Some(std::time::Duration::from_secs(10)),
            )
            .await
    }
}

/// Serves `webhook` on `listen` at `path` until Ctrl-C.
///
/// # Errors
/// When the address cannot be bound.
pub async fn serve(webhook: Webhook, listen: &str, path: &str) -> std::io::Result<()> {
    webhook
        .bind(listen, path)
        .await?
        .run_until(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
}

const MARK_NOT_ASKED: u8 = 0;
const MARK_FIRST: u8 = 1;
const MARK_SEEN: u8 = 2;
const MARK_UNREACHABLE: u8 = 3;

/// The backend for one webhook update: the real one, except that an update the server
/// cannot record is reported as not to be handled (and remembered, so the endpoint
/// answers 503 and Telegram retries) instead of being handled without the server.
struct Delivery {
    inner: Arc<dyn Backend>,
    mark: AtomicU8,
}

#[async_trait]
impl Backend for Delivery {
    async fn mark_update(&self, update_id: i64) -> ApiResult<bool> {
        match self.inner.mark_update(update_id).await {
            Ok(first) => {
                let mark = if first { MARK_FIRST } else { MARK_SEEN };
                self.mark.store(mark, Ordering::Release);
                Ok(first)
            }
            Err(ApiError::Unavailable) => {
                self.mark.store(MARK_UNREACHABLE, Ordering::Release);
                Ok(false)
            }
            Err(error) => Err(error),
        }
    }

    async fn link(&self, chat: i64, code: &str) -> ApiResult<String> {
        self.inner.link(chat, code).await
    }

    async fn unlink(&self, chat: i64) -> ApiResult<()> {
        self.inner.unlink(chat).await
    }

    async fn me(&self, chat: i64) -> ApiResult<Person> {
        self.inner.me(chat).await
    }

    async fn next_question(
        &self,
        chat: i64,
        target: &Target,
        after: Option<&str>,
    ) -> ApiResult<Option<Next>> {
        self.inner.next_question(chat, target, after).await
    }

    async fn question(
        &self,
        chat: i64,
        target: &Target,
        question_id: &str,
    ) -> ApiResult<Arc<QuestionView>> {
        self.inner.question(chat, target, question_id).await
    }

    async fn response(
        &self,
        chat: i64,
        target: &Target,
        question_id: Option<&str>,
    ) -> ApiResult<ResponseView> {
        self.inner.response(chat, target, question_id).await
    }

    async fn save(
        &self,
        chat: i64,
        target: &Target,
        idempotency_key: &str,
        answers: Vec<AnswerInput>,
        expected_seq: Option<u64>,
    ) -> ApiResult<Saved> {
        self.inner
            .save(chat, target, idempotency_key, answers, expected_seq)
            .await
    }

    async fn submit(&self, chat: i64, target: &Target, idempotency_key: &str) -> ApiResult<()> {
        self.inner.submit(chat, target, idempotency_key).await
    }

    async fn claim_notices(&self, limit: u32) -> ApiResult<Vec<Notice>> {
        self.inner.claim_notices(limit).await
    }

    async fn ack_notice(&self, id: &str) -> ApiResult<bool> {
        self.inner.ack_notice(id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn only_the_same_secret_matches() {
        assert!(secret_matches(b"s3cret", b"s3cret"));
        assert!(!secret_matches(b"s3cret", b"s3creT"));
        assert!(!secret_matches(b"s3cret", b"s3cre"));
        assert!(!secret_matches(b"s3cret", b"s3crett"));
        assert!(!secret_matches(b"s3cret", b""));
        assert!(!secret_matches(b"s3cret\0", b"s3cret"));
        assert!(secret_matches(b"", b""));
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 10_000, ..ProptestConfig::default() })]
        #[test]
        fn secret_matches_is_equality(a in proptest::collection::vec(any::<u8>(), 0..40), b in proptest::collection::vec(any::<u8>(), 0..40)) {
            prop_assert_eq!(secret_matches(&a, &b), a == b);
            prop_assert!(secret_matches(&a, &a));
        }
    }

    #[test]
    fn outcomes_answer_with_the_documented_statuses() {
        assert_eq!(Outcome::MissingSecret.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(Outcome::WrongSecret.status(), StatusCode::FORBIDDEN);
        assert_eq!(Outcome::TooLarge.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(
            Outcome::ServerUnreachable.status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(Outcome::Handled.status(), StatusCode::OK);
    }
}
