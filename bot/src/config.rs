//! The bot's configuration: built-in defaults, then `config/bot.toml`, then the
//! environment (`STAGEWISE_BOT__KEY`, e.g. `STAGEWISE_BOT__SERVER_URL`, and
//! `STAGEWISE_BOT__WEBHOOK__LISTEN` for a key of `[webhook]`). The secrets come from the
//! environment only and are never printed: `TELOXIDE_TOKEN` (Telegram's bot token),
//! `STAGEWISE_BOT_API_TOKEN` (the server's API token with the bot role) and, in webhook
//! mode, `STAGEWISE_BOT_WEBHOOK_SECRET` (the secret token Telegram sends with each update).

use std::path::Path;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

/// The configuration folder of the repository this binary was built from.
pub const DEFAULT_CONFIG_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../config");

/// Every setting of the bot except the secrets.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// The Stagewise server, e.g. `http://127.0.0.1:8080`.
    pub server_url: String,
    /// Seconds a request to the server may take before the person is told to try again.
    pub request_timeout_secs: u64,
    /// Telegram's Bot API, e.g. `https://api.telegram.org` (a local Bot API server may
    /// be used instead).
    pub telegram_api_url: String,
    /// A `tracing` filter; `RUST_LOG` wins when set.
    pub log_filter: String,
    /// How updates arrive: long polling (the default) or a webhook.
    pub mode: Mode,
    /// The webhook endpoint, used in [`Mode::Webhook`].
    pub webhook: WebhookSettings,
}

/// How the bot receives updates from Telegram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// The bot asks Telegram for updates (`getUpdates`); nothing listens.
    #[default]
    Polling,
    /// Telegram posts each update to the bot's HTTPS endpoint (`setWebhook`).
    Webhook,
}

/// The webhook endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookSettings {
    /// The address the endpoint listens on, e.g. `127.0.0.1:8443` behind a TLS proxy.
    pub listen: String,
    /// The public HTTPS URL Telegram posts to, registered with `setWebhook` at start; its
    /// path is the endpoint's path. Required in webhook mode.
    pub public_url: String,
    /// The largest update body accepted, in bytes; a larger one is refused with 413.
    pub max_body_bytes: usize,
    /// How many connections Telegram may open at once (1 to 100).
    pub max_connections: u8,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8443".to_owned(),
            public_url: String::new(),
            max_body_bytes: 1024 * 1024,
            max_connections: 40,
        }
    }
}

impl WebhookSettings {
    /// The endpoint's path: the path of [`WebhookSettings::public_url`].
    ///
    /// # Errors
    /// When the URL is empty, not https, or has no path beyond `/`.
    pub fn path(&self) -> anyhow::Result<String> {
        let url: reqwest::Url = self
            .public_url
            .parse()
            .map_err(|e| anyhow::anyhow!("webhook.public_url is not a URL: {e}"))?;
        if url.scheme() != "https" {
            anyhow::bail!("webhook.public_url must be an https URL (Telegram posts only to https)");
        }
        if url.path().len() < 2 {
            anyhow::bail!(
                "webhook.public_url needs a path, e.g. https://bot.example.org/telegram/<random>"
            );
        }
        Ok(url.path().to_owned())
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            server_url: "http://127.0.0.1:8080".to_owned(),
            request_timeout_secs: 10,
            telegram_api_url: "https://api.telegram.org".to_owned(),
            log_filter: "info".to_owned(),
            mode: Mode::Polling,
            webhook: WebhookSettings::default(),
        }
    }
}

/// The secrets, from the environment.
pub struct Secrets {
    /// Telegram's bot token.
    pub telegram_token: SecretString,
    /// The server's API token with the bot role.
    pub api_token: SecretString,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets { .. }")
    }
}

/// Loads the settings from `config_dir/bot.toml` and the environment.
///
/// # Errors
/// A file that is not valid TOML, an unknown key, or a value of the wrong type.
pub fn load(config_dir: &Path) -> Result<Settings, Box<figment::Error>> {
    Figment::from(Serialized::defaults(Settings::default()))
        .merge(Toml::file(config_dir.join("bot.toml")))
        .merge(Env::prefixed("STAGEWISE_BOT__").split("__"))
        .extract()
        .map_err(Box::new)
}

/// The name of the environment variable holding the webhook's secret token.
pub const WEBHOOK_SECRET_VAR: &str = "STAGEWISE_BOT_WEBHOOK_SECRET";

/// Reads the webhook's secret token from the environment: 1 to 256 characters `A-Z`,
/// `a-z`, `0-9`, `_` and `-` (what Telegram accepts). Make one with
/// `openssl rand -hex 32`.
///
/// # Errors
/// Names the variable when it is missing, empty or malformed (never its value).
pub fn webhook_secret() -> anyhow::Result<SecretString> {
    let value = std::env::var(WEBHOOK_SECRET_VAR)
        .map_err(|_| anyhow::anyhow!("{WEBHOOK_SECRET_VAR} is not set (webhook mode needs it)"))?;
    parse_webhook_secret(value)
}

/// Checks a webhook secret token against Telegram's rules.
///
/// # Errors
/// When it is empty, longer than 256 characters, or has other characters than `A-Z`,
/// `a-z`, `0-9`, `_` and `-`; the message never repeats the value.
pub fn parse_webhook_secret(value: String) -> anyhow::Result<SecretString> {
    let fits = (1..=256).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !fits {
        anyhow::bail!("{WEBHOOK_SECRET_VAR} must be 1 to 256 characters of A-Z, a-z, 0-9, _ and -");
    }
    Ok(SecretString::from(value))
}

/// Reads the secrets from the environment.
///
/// # Errors
/// Names the variable that is missing or empty (never its value).
pub fn secrets() -> anyhow::Result<Secrets> {
    let read = |name: &str| -> anyhow::Result<SecretString> {
        match std::env::var(name) {
            Ok(value) if !value.trim().is_empty() => Ok(SecretString::from(value)),
            _ => anyhow::bail!("{name} is not set"),
        }
    };
    Ok(Secrets {
        telegram_token: read("TELOXIDE_TOKEN")?,
        api_token: read("STAGEWISE_BOT_API_TOKEN")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_defaults_file_matches_the_built_in_defaults() {
        let shipped = std::fs::read_to_string(Path::new(DEFAULT_CONFIG_DIR).join("bot.toml"))
            .expect("config/bot.toml is shipped");
        let parsed: Settings = toml_from(&shipped);
        assert_eq!(parsed, Settings::default());
    }

    fn toml_from(text: &str) -> Settings {
        Figment::from(Toml::string(text))
            .extract()
            .expect("config/bot.toml parses")
    }

    #[test]
    fn webhook_secrets_follow_telegrams_rules() {
        assert!(parse_webhook_secret("abc_DEF-123".to_owned()).is_ok());
        assert!(parse_webhook_secret("x".repeat(256)).is_ok());
        for bad in ["", "has space", "semi;colon", "é"] {
            let error = parse_webhook_secret(bad.to_owned())
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(error.contains(WEBHOOK_SECRET_VAR), "{bad:?}: {error}");
            assert!(
                bad.is_empty() || !error.contains(bad),
                "the value is not repeated"
            );
        }
        assert!(parse_webhook_secret("x".repeat(257)).is_err());
    }

    #[test]
    fn the_webhook_path_comes_from_the_public_https_url() {
        let mut webhook = WebhookSettings {
            public_url: "https://bot.example.org/telegram/abc".to_owned(),
            ..WebhookSettings::default()
        };
        assert_eq!(webhook.path().expect("a path"), "/telegram/abc");
        webhook.public_url = "http://bot.example.org/telegram/abc".to_owned();
        assert!(webhook.path().is_err());
        webhook.public_url = "https://bot.example.org/".to_owned();
        assert!(webhook.path().is_err());
        webhook.public_url = String::new();
        assert!(webhook.path().is_err());
    }

    #[test]
    fn secrets_are_not_printed() {
        let secrets = Secrets {
            telegram_token: SecretString::from("123:abc"),
            api_token: SecretString::from("s3cret"),
        };
        let shown = format!("{secrets:?}");
        assert!(!shown.contains("abc") && !shown.contains("s3cret"));
    }
}
