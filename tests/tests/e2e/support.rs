//! A server spawned in-process on a free loopback port, on either backend, with helpers
//! to make tokens and send GraphQL over HTTP as a client would.

// Not every test module uses every helper.
#![allow(dead_code)]

use std::sync::Arc;

use secrecy::ExposeSecret;
use serde_json::{Value, json};
use server::app::{App, AppState};
use server::clock::Clock;
use server::config::{BackendKind, LoadedSettings, Settings};
use server::domain::{ApiToken, RoundId, Timestamp, TokenHash, TokenId, TokenRole};
use tests::{RedisCluster, RedisServer};

/// Which store a test server uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A redb file in a temporary folder.
    Redb,
    /// A private redis-server.
    Redis,
}

/// A running server.
pub struct TestServer {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    /// The server's state, for arranging data directly.
    pub state: Arc<AppState>,
    /// A valid admin token.
    pub admin: String,
    client: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow_like::Result>>,
    _data: tempfile::TempDir,
    _redis: Option<Arc<RedisServer>>,
    _cluster: Option<Arc<RedisCluster>>,
}

/// The task's outcome without pulling anyhow into the tests.
mod anyhow_like {
    pub type Result = std::result::Result<(), String>;
}

/// Settings for a test server: the shipped catalogue, port 0, the given backend.
pub fn settings(
    backend: Backend,
    data: &tempfile::TempDir,
    redis: Option<&RedisServer>,
    prefix: &str,
) -> LoadedSettings {
    let mut settings = Settings::default();
    settings.catalogue.dir = tests::questionnaires_dir();
    settings.server.bind = "127.0.0.1:0".to_owned();
    settings.server.shutdown_grace_secs = 1;
    settings.store.redb.data_dir = data.path().to_path_buf();
    // Invitations a test sends without an SMTP server stay in its temporary folder.
    settings.email.outbox_dir = data.path().join("outbox");
    // No reminder goes out unless a test asks for it (the reminder tests do).
    settings.reminders.enabled = false;
    if let (Backend::Redis, Some(redis)) = (backend, redis) {
        settings.store.backend = BackendKind::Redis;
        settings.store.redis.url = redis.url().into();
        settings.store.redis.key_prefix = prefix.to_owned();
    }
    LoadedSettings {
        settings,
        config_dir: tests::workspace_root().join("config"),
    }
}

/// The environment variable that moves every Redis-backed test server onto one shared
/// local Redis Cluster: `STAGEWISE_E2E_REDIS=cluster` (`.ci/run` runs the suite once more
/// with it). Servers that shared a private `redis-server` share a key prefix on the
/// cluster (derived from that server's port), so instances of one test still see each
/// other's data and no test sees another's. A test that points a server at a Redis of its
/// own choosing (the fault tests' proxy) keeps it.
pub const CLUSTER_VARIABLE: &str = "STAGEWISE_E2E_REDIS";

/// Whether this run puts Redis-backed test servers on the shared cluster.
pub fn on_shared_cluster() -> bool {
    match std::env::var(CLUSTER_VARIABLE).as_deref() {
        Ok("cluster") => true,
        Ok("") | Err(_) => false,
        Ok(other) => panic!("{CLUSTER_VARIABLE}={other:?}: only \"cluster\" is known"),
    }
}

/// The shared cluster when [`CLUSTER_VARIABLE`] asks for one. The servers on it hold it;
/// when the last is dropped the cluster's nodes are killed (a `static` is never dropped,
/// so a cluster kept in one would outlive the test process), and the next server starts
/// a new one.
fn shared_cluster() -> Option<Arc<RedisCluster>> {
    static CLUSTER: std::sync::Mutex<std::sync::Weak<RedisCluster>> =
        std::sync::Mutex::new(std::sync::Weak::new());
    if !on_shared_cluster() {
        return None;
    }
    let mut shared = CLUSTER.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(cluster) = shared.upgrade() {
        return Some(cluster);
    }
    let cluster = Arc::new(RedisCluster::start());
    *shared = Arc::downgrade(&cluster);
    Some(cluster)
}

/// Moves `settings` from the private `redis` onto the shared cluster when asked to and
/// when the test left the private server's URL in place; returns the cluster the server
/// must hold.
fn maybe_on_cluster(
    settings: &mut Settings,
    redis: Option<&RedisServer>,
) -> Option<Arc<RedisCluster>> {
    let redis = redis?;
    if settings.store.backend != BackendKind::Redis
        || settings.store.redis.cluster
        || settings.store.redis.url.expose_secret() != redis.url()
    {
        return None;
    }
    let cluster = shared_cluster()?;
    let prefix = format!("{}-{}", settings.store.redis.key_prefix, redis.port());
    // Spread the instances over the nodes: each subscribes to events on its own.
    let node = usize::from(redis.port() % 3);
    on_cluster(settings, &cluster, node, &prefix);
    Some(cluster)
}

/// Puts a server's store on `cluster`, reached first through node `node` (its event bus
/// subscribes on that node), with every key under `prefix`.
pub fn on_cluster(settings: &mut Settings, cluster: &RedisCluster, node: usize, prefix: &str) {
    settings.store.backend = BackendKind::Redis;
    settings.store.redis.url = cluster.url(node).into();
    settings.store.redis.cluster = true;
    settings.store.redis.key_prefix = prefix.to_owned();
}

impl TestServer {
    /// Spawns a server on `backend` (starting a private Redis when needed).
    pub async fn spawn(backend: Backend) -> Self {
        let redis = match backend {
            Backend::Redis => Some(Arc::new(RedisServer::start())),
            Backend::Redb => None,
        };
        Self::spawn_on(backend, redis, "e2e").await
    }

    /// Spawns a server on `backend`, sharing `redis` (so several instances can share one).
    pub async fn spawn_on(backend: Backend, redis: Option<Arc<RedisServer>>, prefix: &str) -> Self {
        Self::spawn_with(backend, redis, prefix, |_| {}).await
    }

    /// Spawns a server after `adjust` has changed its settings.
    pub async fn spawn_with(
        backend: Backend,
        redis: Option<Arc<RedisServer>>,
        prefix: &str,
        adjust: impl FnOnce(&mut Settings),
    ) -> Self {
        Self::spawn_with_clock(backend, redis, prefix, Clock::System, adjust).await
    }

    /// Spawns a server whose scheduled work (reminders) runs on `clock`, after `adjust`
    /// has changed its settings.
    pub async fn spawn_with_clock(
        backend: Backend,
        redis: Option<Arc<RedisServer>>,
        prefix: &str,
        clock: Clock,
        adjust: impl FnOnce(&mut Settings),
    ) -> Self {
        let data = tempfile::tempdir().expect("temp dir");
        let mut loaded = settings(backend, &data, redis.as_deref(), prefix);
        adjust(&mut loaded.settings);
        let cluster = maybe_on_cluster(&mut loaded.settings, redis.as_deref());
        let app = App::build_with_clock(loaded, clock)
            .await
            .expect("the server builds");
        let url = format!("http://127.0.0.1:{}", app.port());
        let state = app.state();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            app.run_until(async {
                let _ = stopped.await;
            })
            .await
            .map_err(|e| format!("{e:#}"))
        });
        let mut server = Self {
            url,
            state,
            admin: String::new(),
            client: reqwest::Client::new(),
            stop: Some(stop),
            task: Some(task),
            _data: data,
            _redis: redis,
            _cluster: cluster,
        };
        server.admin = server.token(TokenRole::Admin).await;
        server
    }

    /// Creates a token with `role` directly in the store; returns its secret.
    pub async fn token(&self, role: TokenRole) -> String {
        let secret = server::service::access::new_secret().expect("randomness");
        let token = ApiToken {
            id: TokenId::parse(&format!("t-{}", &TokenHash::of(&secret).to_hex()[..10]))
                .expect("id"),
            hash: TokenHash::of(&secret),
            role,
            label: "test".to_owned(),
            created_at: Timestamp::now(),
            revoked: false,
        };
        self.state
            .store
            .put_api_token(&token)
            .await
            .expect("token stored");
        secret
    }

    /// A validator token for `rounds`.
    pub async fn validator(&self, rounds: &[&str]) -> String {
        self.token(TokenRole::Validator {
            rounds: rounds
                .iter()
                .map(|r| RoundId::parse(r).expect("round"))
                .collect(),
        })
        .await
    }

    /// Sends a GraphQL request with an optional bearer token and optional Telegram chat
    /// header; returns the JSON body (errors included).
    pub async fn graphql_as(
        &self,
        token: Option<&str>,
        chat: Option<i64>,
        query: &str,
        variables: Value,
    ) -> Value {
        let mut request = self
            .client
            .post(format!("{}/graphql", self.url))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(chat) = chat {
            request = request.header(server::http::CHAT_HEADER, chat.to_string());
        }
        let response = request.send().await.expect("the server answers");
        response.json().await.expect("a JSON body")
    }

    /// As the admin.
    pub async fn admin(&self, query: &str, variables: Value) -> Value {
        self.graphql_as(Some(&self.admin), None, query, variables)
            .await
    }

    /// A raw POST to /graphql with any body; returns status and body text.
    pub async fn post_raw(&self, body: Vec<u8>) -> (u16, String) {
        let response = self
            .client
            .post(format!("{}/graphql", self.url))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("the server answers");
        let status = response.status().as_u16();
        (status, response.text().await.unwrap_or_default())
    }

    /// A GET on a path; returns status and body text.
    pub async fn get(&self, path: &str) -> (u16, String) {
        let response = self
            .client
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .expect("the server answers");
        let status = response.status().as_u16();
        (status, response.text().await.unwrap_or_default())
    }

    /// Stops the server and waits for it to close its store.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await
                .expect("server task")
                .expect("the server stops cleanly");
        }
    }
}

/// The data of a successful response, or a panic showing the errors.
pub fn data(response: &Value) -> &Value {
    assert!(
        response.get("errors").is_none(),
        "unexpected errors: {}",
        serde_json::to_string_pretty(response).unwrap_or_default()
    );
    &response["data"]
}

/// The `extensions.code` of the first error, if any.
pub fn error_code(response: &Value) -> Option<&str> {
    response["errors"][0]["extensions"]["code"].as_str()
}
