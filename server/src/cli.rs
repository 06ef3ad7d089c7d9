//! The command line of `stagewise-server`.
//!
//! Parsing and dispatch only: each command calls the library and prints its result. Plain
//! `stagewise-server` loads the configuration and the catalogue, and stops with a message
//! naming the file and the field when the catalogue is malformed.

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

    /// What to do; without a command the server loads its configuration and catalogue
    /// and reports what it loaded.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Commands.
#[derive(Debug, Subcommand)]
pub enum Command {
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
        None => start(&loaded, &catalogue_dir),
        Some(Command::Store { action }) => {
            init_tracing(&loaded.settings.log.filter);
            run_store(&loaded, action)
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

fn run_store(loaded: &config::LoadedSettings, action: StoreAction) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("failed to start the async runtime")?;
    runtime.block_on(async {
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

fn start(loaded: &config::LoadedSettings, catalogue_dir: &std::path::Path) -> anyhow::Result<()> {
    init_tracing(&loaded.settings.log.filter);
    let catalogue = load_catalogue(catalogue_dir)?;
    tracing::info!(
        instruments = catalogue.len(),
        dir = %catalogue_dir.display(),
        "catalogue loaded"
    );
    print_summary(&catalogue, catalogue_dir)
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
