//! The command line of `stagewise-server`.
//!
//! Parsing and dispatch only: each command calls the library and prints its result. Plain
//! `stagewise-server` serves; it stops at start with a message naming the file and the
//! field when the catalogue is malformed.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::catalogue::{self, Body, Catalogue};
use crate::config;

/// Stagewise: maturity self-assessment survey server.
#[derive(Debug, Parser)]
#[command(name = "stagewise-server", version, about)]
pub struct Cli {
    /// Configuration folder holding server.toml [env: STAGEWISE_CONFIG_DIR]
    /// [default: the repository's config/]
    #[arg(long, global = true, value_name = "DIR")]
    pub config_dir: Option<PathBuf>,

    /// What to do; without a command the server serves.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the GraphQL API (the default).
    Serve {
        /// Address to listen on, e.g. 127.0.0.1:8080 (port 0 picks a free port).
        #[arg(long, value_name = "ADDR")]
        bind: Option<String>,
        /// Folder of the embedded database (redb backend).
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
    },
    /// Create, list and revoke API tokens.
    Token {
        /// What to do.
        #[command(subcommand)]
        action: TokenAction,
    },
    /// Work with the instrument catalogue.
    Catalogue {
        /// What to do with it.
        #[command(subcommand)]
        action: CatalogueAction,
    },
    /// Work with the configured store.
    Store {
        /// What to do with it.
        #[command(subcommand)]
        action: StoreAction,
    },
    /// Load the demo round `demo-2026` (fictional organisations, people and answers)
    /// into the configured store; running it again changes nothing.
    Demo,
}

/// The roles a token can have.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum RoleArg {
    /// Everything.
    Admin,
    /// Read results and record validations in the rounds given with --round.
    Validator,
    /// The Telegram bot's service token.
    Bot,
}

/// Token commands.
#[derive(Debug, Subcommand)]
pub enum TokenAction {
    /// Create a token; its secret is printed once, on standard output.
    Create {
        /// What it may do.
        #[arg(long, value_enum)]
        role: RoleArg,
        /// Who or what it is for, e.g. "Secretariat" or "JIU validation team".
        #[arg(long)]
        name: String,
        /// A round a validator token may read (repeat for several).
        #[arg(long = "round", value_name = "ROUND")]
        rounds: Vec<String>,
    },
    /// List tokens (ids, roles, names; never secrets).
    List,
    /// Revoke a token by id; it stops working on the next request.
    Revoke {
        /// The token id, e.g. t-3f9a2c1b.
        id: String,
    },
}

/// Store commands.
#[derive(Debug, Subcommand)]
pub enum StoreAction {
    /// Check that the configured store opens and answers.
    Check,
    /// Write synthetic answers from concurrent writers into round `load-test` and print
    /// each acknowledged write (`ack <response> <idempotency key> <first seq>`); used by
    /// the crash tests. Running it again resends the same requests with the same keys.
    LoadTest {
        /// Concurrent writers (one synthetic organisation each).
        #[arg(long, default_value_t = 64)]
        writers: usize,
        /// Requests per writer.
        #[arg(long, default_value_t = 100)]
        requests: usize,
        /// Print only the summary.
        #[arg(long)]
        quiet: bool,
    },
}

/// Catalogue commands.
#[derive(Debug, Subcommand)]
pub enum CatalogueAction {
    /// Load and validate a questionnaire folder; exits non-zero listing every problem.
    Check {
        /// Folder to check [default: the configured catalogue folder]
        dir: Option<PathBuf>,
    },
    /// Print the catalogue as JSON (the public export format).
    Export {
        /// Only this instrument (all its versions).
        #[arg(long, value_name = "ID")]
        instrument: Option<String>,
        /// Folder to export [default: the configured catalogue folder]
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

/// Runs the parsed command line.
///
/// # Errors
/// Any failure, with its context chain, for `main` to print; the exit status is then 1.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    let config_dir = cli
        .config_dir
        .or_else(|| std::env::var_os("STAGEWISE_CONFIG_DIR").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(config::DEFAULT_CONFIG_DIR));
    // Show `/repo/config`, not `/repo/server/../config`, in messages.
    let config_dir = std::fs::canonicalize(&config_dir).unwrap_or(config_dir);
    let loaded = config::load(&config_dir).with_context(|| {
        format!(
            "failed to load the configuration from {}",
            config_dir.display()
        )
    })?;
    let catalogue_dir = loaded.catalogue_dir();
    match cli.command {
        None => serve(loaded, None, None),
        Some(Command::Serve { bind, data_dir }) => serve(loaded, bind, data_dir),
        Some(Command::Token { action }) => {
            init_tracing(&loaded.settings.log.filter);
            with_store(&loaded, |store| Box::pin(run_token(store, action)))
        }
        Some(Command::Store { action }) => {
            init_tracing(&loaded.settings.log.filter);
            run_store(&loaded, action)
        }
        Some(Command::Demo) => {
            init_tracing(&loaded.settings.log.filter);
            run_demo(&loaded)
        }
        Some(Command::Catalogue { action }) => match action {
            CatalogueAction::Check { dir } => {
                let dir = dir.unwrap_or(catalogue_dir);
                let catalogue = load_catalogue(&dir)?;
                print_summary(&catalogue, &dir)
            }
            CatalogueAction::Export { instrument, dir } => {
                let dir = dir.unwrap_or(catalogue_dir);
                let catalogue = load_catalogue(&dir)?;
                let json =
                    catalogue::export(&catalogue, instrument.as_deref()).with_context(|| {
                        format!(
                            "the catalogue has no instrument `{}`",
                            instrument.unwrap_or_default()
                        )
                    })?;
                let mut out = std::io::stdout().lock();
                serde_json::to_writer_pretty(&mut out, &json)
                    .context("failed to write the export")?;
                writeln!(out).context("failed to write the export")?;
                Ok(())
            }
        },
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("failed to start the async runtime")
}

fn serve(
    mut loaded: config::LoadedSettings,
    bind: Option<String>,
    data_dir: Option<PathBuf>,
) -> anyhow::Result<()> {
    init_tracing(&loaded.settings.log.filter);
    if let Some(bind) = bind {
        loaded.settings.server.bind = bind;
    }
    if let Some(data_dir) = data_dir {
        loaded.settings.store.redb.data_dir = data_dir;
    }
    runtime()?.block_on(async {
        let app = crate::app::App::build(loaded).await?;
        println!(
            "stagewise-server listening on http://127.0.0.1:{}",
            app.port()
        );
        app.run_until_stopped().await
    })
}

type StoreTask<'a> = std::pin::Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send + 'a>>;

fn with_store(
    loaded: &config::LoadedSettings,
    task: impl for<'a> FnOnce(&'a dyn crate::store::Store) -> StoreTask<'a>,
) -> anyhow::Result<()> {
    runtime()?.block_on(async {
        let store = crate::store::open(loaded)
            .await
            .context("failed to open the store")?;
        let outcome = task(store.as_ref()).await;
        store.close().await.context("failed to close the store")?;
        outcome
    })
}

async fn run_token(store: &dyn crate::store::Store, action: TokenAction) -> anyhow::Result<()> {
    use crate::domain::{ApiToken, RoundId, Timestamp, TokenHash, TokenId, TokenRole};
    match action {
        TokenAction::Create { role, name, rounds } => {
            let name = name.trim();
            anyhow::ensure!(!name.is_empty(), "give the token a --name");
            let role = match role {
                RoleArg::Admin => TokenRole::Admin,
                RoleArg::Bot => TokenRole::Bot,
                RoleArg::Validator => {
                    anyhow::ensure!(
                        !rounds.is_empty(),
                        "a validator token needs at least one --round"
                    );
                    TokenRole::Validator {
                        rounds: rounds
                            .iter()
                            .map(|r| RoundId::parse(r))
                            .collect::<Result<_, _>>()
                            .context("invalid --round")?,
                    }
                }
            };
            let secret = crate::service::access::new_secret().context("no randomness")?;
            let id = TokenId::parse(&format!("t-{}", &TokenHash::of(&secret).to_hex()[..8]))
                .context("token id")?;
            let role_name = match &role {
                TokenRole::Admin => "admin",
                TokenRole::Validator { .. } => "validator",
                TokenRole::Bot => "bot",
            };
            store
                .put_api_token(&ApiToken {
                    id: id.clone(),
                    hash: TokenHash::of(&secret),
                    role,
                    label: name.to_owned(),
                    created_at: Timestamp::now(),
                    revoked: false,
                })
                .await
                .context("failed to store the token")?;
            eprintln!(
                "created {role_name} token {id} ({name}). The secret below is shown once; it is stored only as a hash:"
            );
            println!("{secret}");
            Ok(())
        }
        TokenAction::List => {
            for token in store.api_tokens().await.context("failed to list tokens")? {
                let role = match &token.role {
                    TokenRole::Admin => "admin".to_owned(),
                    TokenRole::Bot => "bot".to_owned(),
                    TokenRole::Validator { rounds } => format!(
                        "validator of {}",
                        rounds
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                };
                println!(
                    "{}\t{role}\t{}\t{}",
                    token.id,
                    token.label,
                    if token.revoked { "revoked" } else { "active" }
                );
            }
            Ok(())
        }
        TokenAction::Revoke { id } => {
            let id = TokenId::parse(&id).context("invalid token id")?;
            if store
                .revoke_api_token(&id)
                .await
                .context("failed to revoke")?
            {
                eprintln!("revoked {id}");
                Ok(())
            } else {
                anyhow::bail!("no token {id}")
            }
        }
    }
}

fn run_demo(loaded: &config::LoadedSettings) -> anyhow::Result<()> {
    let catalogue = load_catalogue(&loaded.catalogue_dir())?;
    with_store(loaded, move |store| {
        Box::pin(async move {
            // No server runs in this process, so nobody subscribes to its events.
            let events = crate::events::InProcessBus::default();
            let report = crate::service::demo::load(
                store,
                &catalogue,
                &events,
                crate::domain::Timestamp::now(),
            )
            .await
            .context("failed to load the demo")?;
            let mut out = std::io::stdout().lock();
            if report.changed() {
                writeln!(
                    out,
                    "demo round {} loaded into the {} store:",
                    crate::service::demo::ROUND,
                    store.backend()
                )?;
                for line in &report.created {
                    writeln!(out, "  created  {line}")?;
                }
                for line in &report.unchanged {
                    writeln!(out, "  kept     {line}")?;
                }
            } else {
                writeln!(
                    out,
                    "demo round {} is already loaded in the {} store; nothing changed:",
                    crate::service::demo::ROUND,
                    store.backend()
                )?;
                for line in &report.unchanged {
                    writeln!(out, "  present  {line}")?;
                }
            }
            Ok(())
        })
    })
}

fn run_store(loaded: &config::LoadedSettings, action: StoreAction) -> anyhow::Result<()> {
    runtime()?.block_on(async {
        let store = crate::store::open(loaded)
            .await
            .context("failed to open the store")?;
        let outcome = match action {
            StoreAction::Check => store
                .ping()
                .await
                .map(|()| println!("store ({}) answers", store.backend()))
                .context("the store does not answer"),
            StoreAction::LoadTest {
                writers,
                requests,
                quiet,
            } => {
                let load = crate::store::load::LoadTest {
                    writers,
                    requests,
                    print_acks: !quiet,
                };
                let report = crate::store::load::run(std::sync::Arc::clone(&store), load)
                    .await
                    .context("the load test failed")?;
                eprintln!(
                    "load-test ({}): {} writes acknowledged ({} replayed) in {:.2} s, {:.0}/s",
                    store.backend(),
                    report.acknowledged,
                    report.replayed,
                    report.seconds,
                    report.acknowledged as f64 / report.seconds.max(f64::EPSILON)
                );
                Ok(())
            }
        };
        store.close().await.context("failed to close the store")?;
        outcome
    })
}

fn init_tracing(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter));
    // A second initialisation (only possible in tests) is harmless.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

fn load_catalogue(dir: &std::path::Path) -> anyhow::Result<Catalogue> {
    Catalogue::load(dir)
        .with_context(|| format!("failed to load the catalogue from {}", dir.display()))
}

fn print_summary(catalogue: &Catalogue, dir: &std::path::Path) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "catalogue {}: {} instrument versions, all valid",
        dir.display(),
        catalogue.len()
    )?;
    for instrument in catalogue.instruments() {
        writeln!(
            out,
            "  {:<40} {:<20} {}",
            instrument.reference().to_string(),
            instrument.header().kind.as_str(),
            describe(instrument)
        )?;
    }
    Ok(())
}

/// One line on what an instrument holds.
pub fn describe(instrument: &catalogue::Instrument) -> String {
    let questions = instrument.questions().len();
    match instrument.body() {
        Body::StageQuestionnaire(body) => {
            let components: Vec<_> = body.components().collect();
            let indicators: usize = components.iter().map(|c| c.indicators.len()).sum();
            let activities: usize = components.iter().map(|c| c.activities.len()).sum();
            format!(
                "{} pillars, {} components, {indicators} indicators, {activities} activities, {questions} questions",
                body.pillars.len(),
                components.len()
            )
        }
        Body::Drivers(body) => format!(
            "{} drivers x {} stages",
            body.drivers.len(),
            body.stages.len()
        ),
        Body::Questionnaire(body) => {
            format!("{} sections, {questions} questions", body.sections.len())
        }
        Body::ValidationGuide(body) => format!(
            "{} concerns, summary sheet of {} rows",
            body.concerns.len(),
            body.summary_sheet.rows.len()
        ),
        Body::OutcomeMap(body) => format!(
            "{} QCPR outcomes, {} pillars, {} components mapped",
            body.qcpr_outcomes.len(),
            body.pillars.len(),
            body.components.len()
        ),
    }
}
