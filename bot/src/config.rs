//! The bot's configuration: built-in defaults, then `config/bot.toml`, then the
//! environment (`STAGEWISE_BOT__KEY`, e.g. `STAGEWISE_BOT__SERVER_URL`). The two secrets
//! come from the environment only and are never printed: `TELOXIDE_TOKEN` (Telegram's bot
//! token) and `STAGEWISE_BOT_API_TOKEN` (the server's API token with the bot role).

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
    /// Seconds between two requests for the reminders the server queued for linked
    /// chats; 0 delivers none.
    pub notice_poll_secs: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            server_url: "http://127.0.0.1:8080".to_owned(),
            request_timeout_secs: 10,
            telegram_api_url: "https://api.telegram.org".to_owned(),
            log_filter: "info".to_owned(),
            notice_poll_secs: 30,
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
    fn secrets_are_not_printed() {
        let secrets = Secrets {
            telegram_token: SecretString::from("123:abc"),
            api_token: SecretString::from("s3cret"),
        };
        let shown = format!("{secrets:?}");
        assert!(!shown.contains("abc") && !shown.contains("s3cret"));
    }
}
