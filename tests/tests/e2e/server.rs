//! The server's HTTP surface: health, readiness, metrics, GraphiQL, and `{ ping }`.

use serde_json::json;

use crate::support::{Backend, TestServer, data};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_metrics_and_ping() {
    let server = TestServer::spawn(Backend::Redb).await;
    assert_eq!(server.get("/healthz").await, (200, "ok".to_owned()));
    assert_eq!(server.get("/readyz").await, (200, "ready".to_owned()));
    let response = server.graphql_as(None, None, "{ ping }", json!({})).await;
    assert_eq!(data(&response)["ping"], true);
    let (status, metrics) = server.get("/metrics").await;
    assert_eq!(status, 200);
    assert!(
        metrics.contains("stagewise_graphql_requests_total 1"),
        "{metrics}"
    );
    let (status, page) = server.get("/graphql").await;
    assert_eq!(status, 200);
    assert!(
        page.contains("graphiql"),
        "GraphiQL is served in development"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphiql_and_introspection_can_be_turned_off() {
    let server = TestServer::spawn_with(Backend::Redb, None, "e2e", |settings| {
        settings.graphql.graphiql = false;
        settings.graphql.introspection = false;
    })
    .await;
    assert_eq!(server.get("/graphql").await.0, 404);
    let response = server
        .graphql_as(None, None, "{ __schema { queryType { name } } }", json!({}))
        .await;
    assert!(response["data"]["__schema"].is_null(), "{response}");
    server.stop().await;
}
