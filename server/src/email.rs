//! Outgoing email: the [`Mailer`] (SMTP with a connection pool, or an outbox folder when
//! no SMTP host is configured) and the messages' templates (`server/templates/*.hbs`,
//! text and HTML parts). Only `service` sends; nothing here reads the store. A message's
//! body may hold a personal link, so bodies and recipients' addresses are never logged.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use handlebars::Handlebars;
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;

use crate::config::{EmailSettings, LoadedSettings, SmtpTls};
use crate::domain::Timestamp;

/// Why a message could not be built or sent.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// An address or header is malformed (the configured sender, a recipient).
    #[error("the message cannot be built: {0}")]
    Build(String),
    /// A template failed to render.
    #[error("a template failed: {0}")]
    Template(String),
    /// The SMTP server refused or could not be reached.
    #[error("the SMTP server did not take the message: {0}")]
    Smtp(#[source] lettre::transport::smtp::Error),
    /// The outbox folder could not be written.
    #[error("the outbox cannot be written: {0}")]
    Outbox(#[source] std::io::Error),
}

enum Transport {
    /// The pooled transport and the most connections its pool holds.
    Smtp(AsyncSmtpTransport<Tokio1Executor>, usize),
    Outbox(PathBuf),
}

/// Sends messages through SMTP or writes them to the outbox folder.
pub struct Mailer {
    transport: Transport,
    from: Mailbox,
    reply_to: Option<Mailbox>,
    templates: EmailTemplates,
    written: AtomicU64,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let transport = match &self.transport {
            Transport::Smtp(..) => "smtp",
            Transport::Outbox(_) => "outbox",
        };
        f.debug_struct("Mailer")
            .field("transport", &transport)
            .finish_non_exhaustive()
    }
}

/// A message to send: one recipient, a subject, a text and an HTML part.
#[derive(Clone)]
pub struct Email {
    /// Recipient's name.
    pub to_name: String,
    /// Recipient's address.
    pub to_address: String,
    /// Subject.
    pub subject: String,
    /// The text part.
    pub text: String,
    /// The HTML part.
    pub html: String,
}

fn smtp(settings: &EmailSettings) -> Result<AsyncSmtpTransport<Tokio1Executor>, MailError> {
    let host = settings.smtp_host.as_str();
    let builder = match settings.tls {
        SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
        SmtpTls::Starttls => {
            AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host).map_err(MailError::Smtp)?
        }
        SmtpTls::Tls => {
            AsyncSmtpTransport::<Tokio1Executor>::relay(host).map_err(MailError::Smtp)?
        }
    };
    let mut builder = builder
        .port(settings.smtp_port)
        .timeout(Some(Duration::from_secs(settings.timeout_secs)))
        .pool_config(PoolConfig::new().max_size(settings.pool_max_size.max(1)));
    if !settings.smtp_username.is_empty() {
        builder = builder.credentials(Credentials::new(
            settings.smtp_username.clone(),
            settings.smtp_password.expose_secret().to_owned(),
        ));
    }
    Ok(builder.build())
}

impl Mailer {
    /// The mailer the settings describe: SMTP when `email.smtp_host` is set, else the
    /// outbox folder.
    ///
    /// # Errors
    /// A malformed sender or reply-to address, or an SMTP host that cannot be used.
    pub fn build(loaded: &LoadedSettings) -> Result<Self, MailError> {
        let settings = &loaded.settings.email;
        let parse = |text: &str| {
            text.parse::<Mailbox>()
                .map_err(|error| MailError::Build(format!("`{text}`: {error}")))
        };
        let transport = if settings.smtp_host.is_empty() {
            Transport::Outbox(loaded.outbox_dir())
        } else {
            Transport::Smtp(
                smtp(settings)?,
                usize::try_from(settings.pool_max_size.max(1)).unwrap_or(1),
            )
        };
        Ok(Self {
            transport,
            from: parse(&settings.from)?,
            reply_to: if settings.reply_to.is_empty() {
                None
            } else {
                Some(parse(&settings.reply_to)?)
            },
            templates: EmailTemplates::default(),
            written: AtomicU64::new(0),
        })
    }

    /// How many messages are worth sending at once: one per pooled SMTP connection
    /// (`email.pool_max_size`); the outbox takes four.
    pub fn parallel_sends(&self) -> usize {
        match &self.transport {
            Transport::Smtp(_, pool) => *pool,
            Transport::Outbox(_) => 4,
        }
    }

    /// The templates of the messages.
    pub fn templates(&self) -> &EmailTemplates {
        &self.templates
    }

    /// Sends one message (or writes it to the outbox).
    ///
    /// # Errors
    /// A malformed recipient, an SMTP refusal or failure, or an unwritable outbox.
    pub async fn send(&self, email: Email) -> Result<(), MailError> {
        let to = Mailbox::new(
            Some(email.to_name),
            email
                .to_address
                .parse()
                .map_err(|_| MailError::Build("a recipient's address is malformed".to_owned()))?,
        );
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(email.subject);
        if let Some(reply_to) = &self.reply_to {
            builder = builder.reply_to(reply_to.clone());
        }
        let message = builder
            .multipart(
                MultiPart::alternative()
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_PLAIN)
                            .body(email.text),
                    )
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_HTML)
                            .body(email.html),
                    ),
            )
            .map_err(|error| MailError::Build(error.to_string()))?;
        match &self.transport {
            Transport::Smtp(transport, _) => {
                transport.send(message).await.map_err(MailError::Smtp)?;
            }
            Transport::Outbox(dir) => {
                let n = self.written.fetch_add(1, Ordering::Relaxed);
                let path = dir.join(format!("{}-{n:06}.eml", Timestamp::now().millis()));
                let dir = dir.clone();
                let bytes = message.formatted();
                tokio::task::spawn_blocking(move || {
                    std::fs::create_dir_all(&dir)?;
                    std::fs::write(&path, bytes)
                })
                .await
                .map_err(|error| MailError::Outbox(std::io::Error::other(error)))?
                .map_err(MailError::Outbox)?;
            }
        }
        Ok(())
    }
}

/// The templates of every message: `<name>.txt.hbs` (not escaped) and `<name>.html.hbs`
/// (HTML-escaped).
pub struct EmailTemplates {
    text: Handlebars<'static>,
    html: Handlebars<'static>,
}

impl Default for EmailTemplates {
    fn default() -> Self {
        let mut text = Handlebars::new();
        text.register_escape_fn(handlebars::no_escape);
        let mut html = Handlebars::new();
        for (escaped, name, source) in [
            (
                false,
                "invitation",
                include_str!("../templates/invitation.txt.hbs"),
            ),
            (
                true,
                "invitation",
                include_str!("../templates/invitation.html.hbs"),
            ),
            (
                false,
                "receipt",
                include_str!("../templates/receipt.txt.hbs"),
            ),
            (
                true,
                "receipt",
                include_str!("../templates/receipt.html.hbs"),
            ),
            (
                false,
                "reminder",
                include_str!("../templates/reminder.txt.hbs"),
            ),
            (
                true,
                "reminder",
                include_str!("../templates/reminder.html.hbs"),
            ),
            (
                false,
                "action-reminder",
                include_str!("../templates/action-reminder.txt.hbs"),
            ),
            (
                true,
                "action-reminder",
                include_str!("../templates/action-reminder.html.hbs"),
            ),
        ] {
            let registry = if escaped { &mut html } else { &mut text };
            // Part of the binary; a unit test renders each, so a broken one fails a test.
            if let Err(error) = registry.register_template_string(name, source) {
                tracing::error!(%error, name, "an email template does not compile");
            }
        }
        Self { text, html }
    }
}

impl EmailTemplates {
    /// The text and HTML parts of message `name` with `data`.
    ///
    /// # Errors
    /// [`MailError::Template`] when a template fails.
    pub fn render(
        &self,
        name: &str,
        data: &serde_json::Value,
    ) -> Result<(String, String), MailError> {
        let fail = |error: handlebars::RenderError| MailError::Template(error.to_string());
        Ok((
            self.text.render(name, data).map_err(fail)?,
            self.html.render(name, data).map_err(fail)?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invitation_parts_render_and_only_html_is_escaped() {
        let templates = EmailTemplates::default();
        let (text, html) = templates
            .render(
                "invitation",
                &serde_json::json!({
                    "name": "Ana <A&B>", "instrument": "Outcome protocol", "round": "R",
                    "organisation": "UNICEF", "link": "http://127.0.0.1/l/x", "deadline": "2026-12-01",
                }),
            )
            .expect("renders");
        assert!(text.contains("Ana <A&B>") && text.contains("http://127.0.0.1/l/x"));
        assert!(
            html.contains("Ana &lt;A&amp;B&gt;") && html.contains("href=\"http://127.0.0.1/l/x\"")
        );
        assert!(text.contains("2026-12-01") && html.contains("2026-12-01"));
        assert!(
            !text.contains("Telegram") && !html.contains("Telegram"),
            "no deep link without a bot"
        );
        let (text, html) = templates
            .render(
                "invitation",
                &serde_json::json!({
                    "name": "Ana", "instrument": "I", "round": "R", "organisation": "O",
                    "link": "http://127.0.0.1/l/x", "deadline": null,
                    "telegram_link": "https://t.me/bot?start=abc",
                }),
            )
            .expect("renders");
        assert!(text.contains("Telegram") && text.contains("https://t.me/bot?start=abc"));
        // handlebars escapes `=` too; browsers decode the entity in the attribute.
        assert!(
            html.contains("href=\"https://t.me/bot?start&#x3D;abc\""),
            "{html}"
        );
        let (text, html) = templates
            .render(
                "receipt",
                &serde_json::json!({
                    "name": "Ana", "instrument": "Outcome protocol", "round": "R",
                    "organisation": "UNICEF",
                    "answers": [{ "label": "Q <1>", "value": "Yes & no" }],
                }),
            )
            .expect("renders");
        assert!(text.contains("Q <1>\nYes & no"), "{text}");
        assert!(
            html.contains("Q &lt;1&gt;") && html.contains("Yes &amp; no"),
            "{html}"
        );
    }

    #[test]
    fn reminder_parts_list_each_open_response_with_its_link() {
        let templates = EmailTemplates::default();
        let data = serde_json::json!({
            "name": "Ana <A&B>", "round": "R", "deadline": "2026-12-01T00:00:00Z",
            "several": true, "telegram_linked": true, "telegram_link": null,
            "responses": [
                { "instrument": "Stages", "organisation": "UNICEF", "answered": 3,
                  "total": 51, "link": "http://127.0.0.1/l/a" },
                { "instrument": "Outcomes", "organisation": "UNICEF", "answered": 0,
                  "total": 9, "link": "http://127.0.0.1/l/b" },
            ],
        });
        let (text, html) = templates.render("reminder", &data).expect("renders");
        for part in [&text, &html] {
            assert!(part.contains("2026-12-01T00:00:00Z"), "{part}");
            assert!(part.contains("http://127.0.0.1/l/a") && part.contains("http://127.0.0.1/l/b"));
            assert!(
                part.contains("3 of 51") && part.contains("these are"),
                "{part}"
            );
            assert!(part.contains("/continue"), "{part}");
            assert!(!part.contains("t.me"), "{part}");
        }
        assert!(text.contains("Ana <A&B>") && html.contains("Ana &lt;A&amp;B&gt;"));
    }
}
