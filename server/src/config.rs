//! Configuration: built-in defaults, then `config/server.toml`, then an optional profile
//! file `config/server.<profile>.toml` (profile from `STAGEWISE_PROFILE`), then the
//! environment (`STAGEWISE__SECTION__KEY`, e.g. `STAGEWISE__CATALOGUE__DIR`).
//!
//! The shipped `config/server.toml` states every key with its default; a test keeps the
//! two equal. This module only reads configuration; it starts nothing.

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// The configuration folder of the repository this binary was built from, so that
/// `cargo run -p server` works from a fresh clone without flags.
pub const DEFAULT_CONFIG_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../config");

/// Every setting of the server.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Where the instruments are.
    pub catalogue: CatalogueSettings,
    /// What the server logs.
    pub log: LogSettings,
    /// Where answers are kept.
    pub store: StoreSettings,
    /// The HTTP server.
    pub server: ServerSettings,
    /// The GraphQL endpoint.
    pub graphql: GraphqlSettings,
    /// Outgoing email.
    pub email: EmailSettings,
    /// Linking Telegram chats to people.
    pub telegram: TelegramSettings,
    /// Reminders before a round's deadline.
    pub reminders: RemindersSettings,
}

/// `[reminders]`
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RemindersSettings {
    /// Run the reminder scheduler.
    pub enabled: bool,
    /// Days before a round's deadline on which people whose response is not submitted
    /// are reminded; each at least 1.
    pub days_before: Vec<u32>,
    /// Most reminders one person gets per round.
    pub max_per_person: u32,
    /// Seconds between two checks for due reminders.
    pub check_interval_secs: u64,
    /// Days before a follow-up action's due date on which its owner is reminded (once);
    /// an owner whose action is overdue is reminded once more.
    pub action_days_before: u32,
}

impl Default for RemindersSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            days_before: vec![7, 2, 1],
            max_per_person: 3,
            check_interval_secs: 300,
            action_days_before: 3,
        }
    }
}

impl RemindersSettings {
    /// Checks the values that types do not: at least one day, each from 1 to 365, and a
    /// check interval of at least one second.
    ///
    /// # Errors
    /// A message naming the key that is wrong.
    pub fn check(&self) -> Result<(), String> {
        if self.days_before.is_empty() {
            return Err("reminders.days_before needs at least one day".to_owned());
        }
        if let Some(day) = self.days_before.iter().find(|d| !(1..=365).contains(*d)) {
            return Err(format!(
                "reminders.days_before: {day} is not a number of days from 1 to 365"
            ));
        }
        if self.check_interval_secs == 0 {
            return Err("reminders.check_interval_secs must be at least 1".to_owned());
        }
        if !(1..=365).contains(&self.action_days_before) {
            return Err(format!(
                "reminders.action_days_before: {} is not a number of days from 1 to 365",
                self.action_days_before
            ));
        }
        Ok(())
    }
}

/// `[telegram]`
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelegramSettings {
    /// The bot's username without `@`, for deep links `https://t.me/<username>?start=<code>`;
    /// empty when no bot is set up (linking codes are then typed as `/start <code>`).
    pub bot_username: String,
    /// Seconds a linking code works after it is made.
    pub link_code_ttl_secs: u64,
}

impl Default for TelegramSettings {
    fn default() -> Self {
        Self {
            bot_username: String::new(),
            link_code_ttl_secs: 7 * 24 * 60 * 60,
        }
    }
}

/// How `[email]` connects to the SMTP server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain text (only for a server on loopback, as in the tests).
    None,
    /// Plain connection upgraded with STARTTLS, required.
    Starttls,
    /// TLS from the first byte (SMTPS, port 465).
    Tls,
}

/// `[email]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmailSettings {
    /// SMTP server host; empty writes every message to `outbox_dir` instead.
    pub smtp_host: String,
    /// SMTP port.
    pub smtp_port: u16,
    /// Transport security.
    pub tls: SmtpTls,
    /// SMTP user; empty sends without authentication.
    pub smtp_username: String,
    /// SMTP password. Secret: never printed.
    #[serde(serialize_with = "expose")]
    pub smtp_password: SecretString,
    /// Seconds to wait for the SMTP server on each command.
    pub timeout_secs: u64,
    /// Most pooled SMTP connections.
    pub pool_max_size: u32,
    /// The sender, e.g. `Stagewise <survey@example.org>`.
    pub from: String,
    /// Where replies go; empty for none.
    pub reply_to: String,
    /// Folder of messages written when no SMTP host is set; relative to the parent of the
    /// configuration folder.
    pub outbox_dir: PathBuf,
}

impl Default for EmailSettings {
    fn default() -> Self {
        Self {
            smtp_host: String::new(),
            smtp_port: 587,
            tls: SmtpTls::Starttls,
            smtp_username: String::new(),
            smtp_password: SecretString::from(""),
            timeout_secs: 10,
            pool_max_size: 16,
            from: "Stagewise <stagewise@localhost>".to_owned(),
            reply_to: String::new(),
            outbox_dir: PathBuf::from("outbox"),
        }
    }
}

impl PartialEq for EmailSettings {
    fn eq(&self, other: &Self) -> bool {
        self.smtp_host == other.smtp_host
            && self.smtp_port == other.smtp_port
            && self.tls == other.tls
            && self.smtp_username == other.smtp_username
            && self.smtp_password.expose_secret() == other.smtp_password.expose_secret()
            && self.timeout_secs == other.timeout_secs
            && self.pool_max_size == other.pool_max_size
            && self.from == other.from
            && self.reply_to == other.reply_to
            && self.outbox_dir == other.outbox_dir
    }
}

impl Eq for EmailSettings {}

/// `[server]`
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    /// Address and port to listen on; port 0 picks a free port.
    pub bind: String,
    /// The address people reach the server at; links in emails and download URLs are built
    /// from it, never from a request's Host header.
    pub public_base_url: String,
    /// Seconds given to requests in flight when the server is asked to stop.
    pub shutdown_grace_secs: u64,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8080".to_owned(),
            public_base_url: "http://127.0.0.1:8080".to_owned(),
            shutdown_grace_secs: 10,
        }
    }
}

/// `[graphql]`
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct GraphqlSettings {
    /// Answer introspection queries (`__schema`, `__type`).
    pub introspection: bool,
    /// Serve the GraphiQL explorer on `GET /graphql`.
    pub graphiql: bool,
    /// Suggest field names in validation errors ("did you mean …").
    pub suggestions: bool,
    /// Deepest nesting of selections a query may have.
    pub max_depth: usize,
    /// Most complexity points a query may cost (one per field, lists multiply).
    pub max_complexity: usize,
    /// Largest request body, in bytes, checked on the bytes received.
    pub max_body_bytes: usize,
}

impl Default for GraphqlSettings {
    fn default() -> Self {
        Self {
            introspection: true,
            graphiql: true,
            suggestions: true,
            max_depth: 16,
            max_complexity: 500,
            max_body_bytes: 256 * 1024,
        }
    }
}

/// `[store]`
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreSettings {
    /// `redb` (an embedded file; the default) or `redis`.
    pub backend: BackendKind,
    /// `[store.redb]`
    pub redb: RedbSettings,
    /// `[store.redis]`
    pub redis: RedisSettings,
}

impl Default for StoreSettings {
    fn default() -> Self {
        Self {
            backend: BackendKind::Redb,
            redb: RedbSettings::default(),
            redis: RedisSettings::default(),
        }
    }
}

/// The storage backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// Embedded redb file.
    Redb,
    /// Redis.
    Redis,
}

/// `[store.redb]`
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedbSettings {
    /// The data folder holding `stagewise.redb`; a relative path is taken from the parent
    /// of the configuration folder.
    pub data_dir: PathBuf,
}

/// The database file's name inside the data folder.
pub const REDB_FILE: &str = "stagewise.redb";

impl Default for RedbSettings {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("data"),
        }
    }
}

/// `[store.redis]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedisSettings {
    /// Connection URL, e.g. `redis://127.0.0.1:6379/` or `rediss://:password@host/`.
    /// Secret: it may hold a password, so it is never printed. On a cluster, the URL of
    /// any one of its nodes.
    #[serde(serialize_with = "expose")]
    pub url: SecretString,
    /// Whether `url` is a node of a Redis Cluster (cluster mode enabled): the store then
    /// learns the other nodes from it and sends each command to the node of its slot.
    pub cluster: bool,
    /// Prefix of every key: 1–32 characters of `[a-z0-9-_:]`.
    pub key_prefix: String,
    /// Milliseconds one connection attempt to Redis may take.
    pub connect_timeout_ms: u64,
    /// Milliseconds one Redis command may wait for its reply; a request whose command
    /// times out fails with the retryable code `UNAVAILABLE` instead of hanging.
    pub response_timeout_ms: u64,
}

impl RedisSettings {
    /// Checks the values that types do not: both timeouts at least 1 ms.
    ///
    /// # Errors
    /// A message naming the key that is wrong.
    pub fn check(&self) -> Result<(), String> {
        if self.connect_timeout_ms == 0 {
            return Err("store.redis.connect_timeout_ms must be at least 1".to_owned());
        }
        if self.response_timeout_ms == 0 {
            return Err("store.redis.response_timeout_ms must be at least 1".to_owned());
        }
        Ok(())
    }

    /// The connection's timeouts.
    pub fn timeouts(&self) -> crate::store::redis::Timeouts {
        crate::store::redis::Timeouts {
            connect: std::time::Duration::from_millis(self.connect_timeout_ms),
            response: std::time::Duration::from_millis(self.response_timeout_ms),
        }
    }
}

fn expose<S: serde::Serializer>(secret: &SecretString, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(secret.expose_secret())
}

impl Default for RedisSettings {
    fn default() -> Self {
        Self {
            url: SecretString::from("redis://127.0.0.1:6379/"),
            cluster: false,
            key_prefix: "stagewise".to_owned(),
            connect_timeout_ms: 2000,
            response_timeout_ms: 5000,
        }
    }
}

impl PartialEq for RedisSettings {
    fn eq(&self, other: &Self) -> bool {
        self.url.expose_secret() == other.url.expose_secret()
            && self.cluster == other.cluster
            && self.key_prefix == other.key_prefix
            && self.connect_timeout_ms == other.connect_timeout_ms
            && self.response_timeout_ms == other.response_timeout_ms
    }
}

impl Eq for RedisSettings {}

/// `[catalogue]`
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CatalogueSettings {
    /// Folder of instrument files; a relative path is taken from the parent of the
    /// configuration folder (the repository root for the shipped configuration).
    pub dir: PathBuf,
}

impl Default for CatalogueSettings {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("questionnaires"),
        }
    }
}

/// `[log]`
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    /// A `tracing` filter such as `info` or `server=debug,info`; `RUST_LOG` wins when set.
    pub filter: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            filter: "info".to_owned(),
        }
    }
}

/// Loaded settings and the folder they were read from.
#[derive(Debug, Clone)]
pub struct LoadedSettings {
    /// The settings.
    pub settings: Settings,
    /// The configuration folder.
    pub config_dir: PathBuf,
}

impl LoadedSettings {
    /// The catalogue folder, resolved against the parent of the configuration folder.
    pub fn catalogue_dir(&self) -> PathBuf {
        resolve(&self.config_dir, &self.settings.catalogue.dir)
    }

    /// The outbox folder, resolved against the parent of the configuration folder.
    pub fn outbox_dir(&self) -> PathBuf {
        resolve(&self.config_dir, &self.settings.email.outbox_dir)
    }

    /// The redb file, in the data folder resolved against the parent of the
    /// configuration folder.
    pub fn redb_path(&self) -> PathBuf {
        resolve(&self.config_dir, &self.settings.store.redb.data_dir).join(REDB_FILE)
    }
}

fn resolve(config_dir: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        config_dir.parent().unwrap_or(config_dir).join(path)
    }
}

/// Loads the settings from `config_dir` and the environment.
///
/// # Errors
/// Fails when a file is not valid TOML, holds an unknown key, or a value has the wrong
/// type; the message names the key and where it came from.
pub fn load(config_dir: &Path) -> Result<LoadedSettings, Box<figment::Error>> {
    let profile = std::env::var("STAGEWISE_PROFILE").ok();
    load_profile(config_dir, profile.as_deref())
}

/// Loads the settings from `config_dir`, the file of `profile` when given, and the
/// environment.
///
/// # Errors
/// As [`load`].
pub fn load_profile(
    config_dir: &Path,
    profile: Option<&str>,
) -> Result<LoadedSettings, Box<figment::Error>> {
    let mut figment = Figment::from(Serialized::defaults(Settings::default()))
        .merge(Toml::file(config_dir.join("server.toml")));
    if let Some(profile) = profile.filter(|p| !p.is_empty()) {
        figment = figment.merge(Toml::file(
            config_dir.join(format!("server.{profile}.toml")),
        ));
    }
    let settings: Settings = figment
        .merge(Env::prefixed("STAGEWISE__").split("__"))
        .extract()
        .map_err(Box::new)?;
    Ok(LoadedSettings {
        settings,
        config_dir: config_dir.to_path_buf(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_defaults_file_matches_the_built_in_defaults() {
        let shipped = std::fs::read_to_string(Path::new(DEFAULT_CONFIG_DIR).join("server.toml"))
            .expect("config/server.toml is shipped");
        let parsed: Settings = toml::from_str(&shipped).expect("config/server.toml parses");
        assert_eq!(parsed, Settings::default());
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("server.toml"), "[catalogue]\ndri = \"x\"\n")
            .expect("write");
        let error = load(dir.path()).expect_err("typo rejected");
        assert!(error.to_string().contains("dri"), "{error}");
    }

    #[test]
    fn the_production_profile_turns_off_schema_browsing() {
        let production = load_profile(Path::new(DEFAULT_CONFIG_DIR), Some("production"))
            .expect("the production profile loads");
        let graphql = &production.settings.graphql;
        assert!(!graphql.introspection && !graphql.graphiql && !graphql.suggestions);
        let development =
            load_profile(Path::new(DEFAULT_CONFIG_DIR), None).expect("the defaults load");
        assert!(development.settings.graphql.introspection);
    }

    #[test]
    fn reminder_settings_are_checked() {
        assert_eq!(RemindersSettings::default().check(), Ok(()));
        for (days, interval, key) in [
            (vec![], 60, "days_before"),
            (vec![7, 0], 60, "days_before: 0"),
            (vec![400], 60, "days_before: 400"),
            (vec![1], 0, "check_interval_secs"),
        ] {
            let settings = RemindersSettings {
                days_before: days,
                check_interval_secs: interval,
                ..RemindersSettings::default()
            };
            let error = settings.check().expect_err("refused");
            assert!(error.contains(key), "{error}");
        }
    }

    #[test]
    fn redis_timeouts_are_checked() {
        assert_eq!(RedisSettings::default().check(), Ok(()));
        for (connect, response, key) in [
            (0, 5000, "connect_timeout_ms"),
            (2000, 0, "response_timeout_ms"),
        ] {
            let settings = RedisSettings {
                connect_timeout_ms: connect,
                response_timeout_ms: response,
                ..RedisSettings::default()
            };
            let error = settings.check().expect_err("refused");
            assert!(error.contains(key), "{error}");
        }
    }

    #[test]
    fn a_redis_cluster_is_chosen_in_the_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(
            dir.path().join("server.toml"),
            "[store]\nbackend = \"redis\"\n[store.redis]\nurl = \"redis://10.0.0.2:7000/\"\ncluster = true\n",
        )
        .expect("write");
        let loaded = load_profile(dir.path(), None).expect("loads");
        assert!(loaded.settings.store.redis.cluster);
        assert!(!RedisSettings::default().cluster, "one server by default");
        assert_ne!(loaded.settings.store.redis, RedisSettings::default());
    }

    #[test]
    fn the_redis_url_is_not_printed() {
        let settings = Settings::default();
        assert!(!format!("{settings:?}").contains("6379"));
    }

    #[test]
    fn relative_catalogue_dir_is_taken_from_the_config_parent() {
        let loaded = LoadedSettings {
            settings: Settings::default(),
            config_dir: PathBuf::from("/srv/stagewise/config"),
        };
        assert_eq!(
            loaded.catalogue_dir(),
            PathBuf::from("/srv/stagewise/questionnaires")
        );
    }
}
