//! `stagewise-bot`: load the configuration, build the GraphQL client and the throttled
//! Telegram bot, and take updates until stopped (Ctrl-C): by long polling (the default),
//! or, with `mode = "webhook"`, on an HTTP endpoint registered with Telegram.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use bot::api::Backend;
use bot::api::graphql::GraphqlBackend;
use bot::config::Mode;
use bot::outbox::Outbox;
use bot::{Storage, config, handler_tree, webhook};
use secrecy::ExposeSecret;
use teloxide::prelude::*;
use teloxide::types::BotCommand;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config_dir = std::env::var("STAGEWISE_CONFIG_DIR")
        .unwrap_or_else(|_| config::DEFAULT_CONFIG_DIR.to_owned());
    let settings = config::load(std::path::Path::new(&config_dir))
        .map_err(|e| anyhow::anyhow!("{e}"))
        .context("failed to load the bot's configuration")?;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(settings.log_filter.clone()));
    tracing_subscriber::fmt().with_env_filter(filter).init();
    let secrets = config::secrets().context("failed to read the bot's secrets")?;

    let backend: Arc<dyn Backend> = Arc::new(
        GraphqlBackend::new(
            &settings.server_url,
            secrets.api_token,
            Duration::from_secs(settings.request_timeout_secs),
        )
        .context("failed to build the GraphQL client")?,
    );
    let api_url = settings
        .telegram_api_url
        .parse()
        .context("failed to parse telegram_api_url")?;
    let bot = Bot::new(secrets.telegram_token.expose_secret()).set_api_url(api_url);
    let commands: Vec<BotCommand> = bot::texts::command_menu()
        .into_iter()
        .map(|(command, description)| BotCommand::new(command, description))
        .collect();
    if let Err(error) = bot.set_my_commands(commands).await {
        tracing::warn!(%error, "could not set the command menu");
    }
    if settings.mode == Mode::Webhook {
        return run_webhook(&settings, bot, backend).await;
    }
    tracing::info!(server = %settings.server_url, "polling Telegram for updates");
    Dispatcher::builder(bot.clone(), handler_tree())
        .dependencies(dptree::deps![
            backend,
            Outbox::throttled(bot),
            Storage::new()
        ])
        .enable_ctrlc_handler()
        .build()
        .dispatch()
        .await;
    Ok(())
}

/// Webhook mode: register the public URL and the secret with Telegram, then serve the
/// endpoint until stopped.
async fn run_webhook(
    settings: &config::Settings,
    bot: Bot,
    backend: Arc<dyn Backend>,
) -> anyhow::Result<()> {
    let secret = config::webhook_secret()?;
    let path = settings.webhook.path()?;
    let url = settings
        .webhook
        .public_url
        .parse()
        .context("failed to parse webhook.public_url")?;
    let me = bot
        .get_me()
        .await
        .context("failed to ask Telegram for the bot's own user (getMe)")?;
    bot.set_webhook(url)
        .secret_token(secret.expose_secret().to_owned())
        .max_connections(settings.webhook.max_connections)
        .allowed_updates(vec![
            teloxide::types::AllowedUpdate::Message,
            teloxide::types::AllowedUpdate::CallbackQuery,
        ])
        .await
        .context("failed to register the webhook with Telegram (setWebhook)")?;
    let endpoint = webhook::Webhook::new(
        handler_tree(),
        backend,
        webhook::Parts {
            outbox: Outbox::throttled(bot.clone()),
            bot,
            me,
            storage: Storage::new(),
        },
        secret,
        settings.webhook.max_body_bytes,
    );
    tracing::info!(
        server = %settings.server_url,
        listen = %settings.webhook.listen,
        "receiving Telegram updates on the webhook"
    );
    webhook::serve(endpoint, &settings.webhook.listen, &path)
        .await
        .with_context(|| format!("failed to serve the webhook on {}", settings.webhook.listen))
}
