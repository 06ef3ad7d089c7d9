//! HTTP endpoints: `POST /graphql`, GraphiQL on `GET /graphql` when enabled, GraphQL
//! subscriptions over a websocket on `GET /graphql/ws`, `GET /healthz`, `GET /readyz`,
//! `GET /metrics`, and the downloads behind the API token (`downloads`: a round's
//! exports under `/exports/`, its charts under `/charts/`).
//!
//! The GraphQL handler reads the body itself, so the size limit is checked on the bytes
//! received (a lying or missing Content-Length cannot pass), refuses batches, resolves
//! the caller's identity from the bearer token, and gives every error a code. The
//! websocket speaks graphql-transport-ws and the legacy graphql-ws protocol; its caller
//! is identified once, from the `connection_init` payload, since browsers cannot set
//! headers on a websocket.

pub mod downloads;

use std::sync::Arc;

use async_graphql::ErrorExtensionValues;
use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql_poem::{GraphQLProtocol, GraphQLWebSocket};
use poem::http::{StatusCode, header};
use poem::web::websocket::{WebSocket, WebSocketConfig};
use poem::web::{Data, Html};
use poem::{Body, EndpointExt, IntoResponse, Request, Response, Route, get, handler};

use crate::app::AppState;
use crate::domain::TelegramChatId;
use crate::graphql::RequestContext;
use crate::graphql::error::Code;
use crate::service::access;

/// The header in which the bot names the Telegram chat it acts for.
pub const CHAT_HEADER: &str = "x-stagewise-telegram-chat";

/// Every route.
pub fn routes(state: Arc<AppState>) -> impl poem::Endpoint {
    crate::web::routes(downloads::routes(Route::new()))
        .at("/graphql", get(graphiql).post(graphql))
        .at("/graphql/ws", get(graphql_ws))
        .at("/healthz", get(healthz))
        .at("/readyz", get(readyz))
        .at("/metrics", get(metrics))
        .data(state)
}

/// A GraphQL-shaped error response outside the executor (body too large, not JSON).
/// A GraphQL-shaped error answered before the request reaches GraphQL. `UNAVAILABLE`
/// carries `extensions.retryable` and a `Retry-After` header, as the same code does from
/// a resolver.
fn error_response(status: StatusCode, code: Code, message: &str) -> Response {
    let mut extensions = serde_json::json!({ "code": code.as_str() });
    let retryable = code == Code::Unavailable;
    if retryable {
        extensions["retryable"] = serde_json::Value::Bool(true);
    }
    let body = serde_json::json!({
        "errors": [{ "message": message, "extensions": extensions }]
    });
    let mut response = Response::builder()
        .status(status)
        .content_type("application/json");
    if retryable {
        response = response.header(header::RETRY_AFTER, "1");
    }
    response.body(body.to_string())
}

fn bearer(request: &Request) -> Option<&str> {
    request
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
        .filter(|secret| !secret.is_empty())
}

fn chat(request: &Request) -> Option<TelegramChatId> {
    request
        .headers()
        .get(CHAT_HEADER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
        .map(TelegramChatId)
}

#[handler]
async fn graphql(request: &Request, body: Body, Data(state): Data<&Arc<AppState>>) -> Response {
    state.metrics.graphql_request();
    let limit = state.settings.settings.graphql.max_body_bytes;
    let fail = |status, code: Code, message: &str| {
        state.metrics.error(code.as_str());
        error_response(status, code, message)
    };
    let bytes = match body.into_bytes_limit(limit).await {
        Ok(bytes) => bytes,
        Err(poem::error::ReadBodyError::PayloadTooLarge) => {
            return fail(
                StatusCode::PAYLOAD_TOO_LARGE,
                Code::BadUserInput,
                &format!("the request body is over {limit} bytes"),
            );
        }
        Err(_) => {
            return fail(
                StatusCode::BAD_REQUEST,
                Code::BadUserInput,
                "the request body could not be read",
            );
        }
    };
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        return fail(
            StatusCode::BAD_REQUEST,
            Code::BadUserInput,
            "batched requests are not supported; send one operation per request",
        );
    }
    let Ok(graphql_request) = serde_json::from_slice::<async_graphql::Request>(&bytes) else {
        return fail(
            StatusCode::BAD_REQUEST,
            Code::BadUserInput,
            "the body is not a GraphQL request in JSON ({\"query\": …, \"variables\": …})",
        );
    };
    let identity =
        match access::identify(state.store.as_ref(), bearer(request), chat(request)).await {
            Ok(identity) => identity,
            Err(error) => {
                tracing::warn!(%error, "cannot resolve the token");
                return fail(
                    StatusCode::SERVICE_UNAVAILABLE,
                    Code::Unavailable,
                    "the service is briefly unavailable; retry",
                );
            }
        };
    let response = execute(state, identity, graphql_request).await;
    match serde_json::to_vec(&response) {
        Ok(json) => Response::builder()
            .content_type("application/json")
            .body(json),
        Err(error) => {
            crate::graphql::error::GqlError::internal(&error);
            fail(
                StatusCode::INTERNAL_SERVER_ERROR,
                Code::Internal,
                "internal error",
            )
        }
    }
}

/// Executes one GraphQL request for `identity`, as `POST /graphql` does once the body
/// is read and the caller identified: every error leaves with an `extensions.code`
/// (parse and validation errors, which async-graphql leaves uncoded, get
/// `BAD_USER_INPUT`) and is counted in the metrics. The property tests call this too.
pub async fn execute(
    state: &Arc<AppState>,
    identity: access::Identity,
    request: async_graphql::Request,
) -> async_graphql::Response {
    let context = RequestContext {
        state: Arc::clone(state),
        identity,
    };
    let mut response = crate::graphql::cache::execute(
        &state.documents,
        &state.schema,
        &state.fast_schema,
        request.data(context),
    )
    .await;
    for error in &mut response.errors {
        // Parse and validation errors (depth, complexity, unknown fields) carry no code.
        let extensions = error
            .extensions
            .get_or_insert_with(ErrorExtensionValues::default);
        let code = match extensions.get("code") {
            Some(async_graphql::Value::String(code)) => code.clone(),
            _ => {
                extensions.set("code", Code::BadUserInput.as_str());
                Code::BadUserInput.as_str().to_owned()
            }
        };
        state.metrics.error(&code);
    }
    response
}

/// The bearer secret of a websocket's `connection_init` payload:
/// `{"authorization": "Bearer <secret>"}` (or `Authorization`). Anything else is no
/// secret, and the connection is anonymous.
fn payload_bearer(payload: &serde_json::Value) -> Option<&str> {
    payload
        .get("authorization")
        .or_else(|| payload.get("Authorization"))?
        .as_str()?
        .strip_prefix("Bearer ")
        .map(str::trim)
        .filter(|secret| !secret.is_empty())
}

/// Identifies a websocket's caller from its `connection_init` payload and gives the
/// connection the same [`RequestContext`] a request over HTTP gets. Only an unreadable
/// store refuses the connection; a missing or unknown token makes it anonymous or
/// rejected, and subscribing then fails with `UNAUTHENTICATED`.
async fn connection_init(
    state: Arc<AppState>,
    payload: serde_json::Value,
) -> async_graphql::Result<async_graphql::Data> {
    let identity =
        match access::identify(state.store.as_ref(), payload_bearer(&payload), None).await {
            Ok(identity) => identity,
            Err(error) => {
                tracing::warn!(%error, "cannot resolve the token of a websocket");
                state.metrics.error(Code::Unavailable.as_str());
                return Err(crate::graphql::error::GqlError::new(
                    Code::Unavailable,
                    "the service is briefly unavailable; retry",
                )
                .into());
            }
        };
    let mut data = async_graphql::Data::default();
    data.insert(RequestContext { state, identity });
    Ok(data)
}

#[handler]
fn graphql_ws(
    Data(state): Data<&Arc<AppState>>,
    protocol: GraphQLProtocol,
    websocket: WebSocket,
) -> impl IntoResponse {
    // A message is a GraphQL request: the same size limit as a POST body.
    let limit = state.settings.settings.graphql.max_body_bytes;
    let config = WebSocketConfig::default()
        .max_message_size(Some(limit))
        .max_frame_size(Some(limit));
    let state = Arc::clone(state);
    let schema = state.schema.clone();
    websocket
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .config(config)
        .on_upgrade(move |stream| {
            GraphQLWebSocket::new(stream, schema, protocol)
                .on_connection_init(move |payload| connection_init(state, payload))
                .serve()
        })
}

#[handler]
async fn graphiql(Data(state): Data<&Arc<AppState>>) -> Response {
    if !state.settings.settings.graphql.graphiql {
        return StatusCode::NOT_FOUND.into_response();
    }
    Html(
        async_graphql::http::GraphiQLSource::build()
            .endpoint("/graphql")
            .subscription_endpoint("/graphql/ws")
            .title("Stagewise GraphQL")
            .finish(),
    )
    .into_response()
}

#[handler]
fn healthz() -> &'static str {
    "ok"
}

#[handler]
async fn readyz(Data(state): Data<&Arc<AppState>>) -> Response {
    match state.store.ping().await {
        Ok(()) => "ready".into_response(),
        Err(error) => {
            tracing::warn!(%error, "not ready");
            (StatusCode::SERVICE_UNAVAILABLE, "store unavailable").into_response()
        }
    }
}

#[handler]
fn metrics(Data(state): Data<&Arc<AppState>>) -> Response {
    Response::builder()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn unavailable_before_graphql_says_retryable_and_when() {
        let response = error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            Code::Unavailable,
            "the service is briefly unavailable; retry",
        );
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            response
                .headers()
                .get(header::RETRY_AFTER)
                .map(|v| v.as_bytes()),
            Some(&b"1"[..])
        );
        let body: serde_json::Value =
            serde_json::from_str(&response.into_body().into_string().await.expect("body"))
                .expect("json");
        assert_eq!(
            body["errors"][0]["extensions"],
            serde_json::json!({ "code": "UNAVAILABLE", "retryable": true })
        );
        let refused = error_response(StatusCode::BAD_REQUEST, Code::BadUserInput, "no");
        assert!(refused.headers().get(header::RETRY_AFTER).is_none());
        let body: serde_json::Value =
            serde_json::from_str(&refused.into_body().into_string().await.expect("body"))
                .expect("json");
        assert_eq!(
            body["errors"][0]["extensions"],
            serde_json::json!({ "code": "BAD_USER_INPUT" })
        );
    }

    #[test]
    fn the_websocket_secret_comes_from_the_init_payload_only_as_a_bearer() {
        let secret = |payload: serde_json::Value| payload_bearer(&payload).map(str::to_owned);
        assert_eq!(
            secret(serde_json::json!({ "authorization": "Bearer s3cret" })).as_deref(),
            Some("s3cret")
        );
        assert_eq!(
            secret(serde_json::json!({ "Authorization": "Bearer  s3cret " })).as_deref(),
            Some("s3cret")
        );
        for payload in [
            serde_json::json!(null),
            serde_json::json!("Bearer s3cret"),
            serde_json::json!({}),
            serde_json::json!({ "authorization": "s3cret" }),
            serde_json::json!({ "authorization": "Bearer " }),
            serde_json::json!({ "authorization": 42 }),
        ] {
            assert_eq!(secret(payload.clone()), None, "{payload}");
        }
    }
}
