//! Building and running the server: load the catalogue, open the store, bind the
//! listener first (so tests can ask for port 0 and read the port), then serve until a
//! stop signal, then close the store cleanly.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use poem::listener::{Acceptor, Listener, TcpAcceptor, TcpListener};

use crate::catalogue::Catalogue;
use crate::clock::Clock;
use crate::config::{BackendKind, LoadedSettings};
use crate::events::{EventBus, InProcessBus, RedisBus};
use crate::graphql::{self, AppSchema};
use crate::metrics::Metrics;
use crate::store::{self, SharedStore};
use async_graphql::ValidationMode;

/// What every request shares.
pub struct AppState {
    /// The instruments.
    pub catalogue: Arc<Catalogue>,
    /// Where answers are kept.
    pub store: SharedStore,
    /// Live events.
    pub events: Arc<dyn EventBus>,
    /// Counters.
    pub metrics: Metrics,
    /// The settings the server started with.
    pub settings: LoadedSettings,
    /// The GraphQL schema with its limits.
    pub schema: AppSchema,
    /// The same schema in async-graphql's fast validation mode, for documents that have
    /// passed full validation before (see [`graphql::cache`]).
    pub fast_schema: AppSchema,
    /// Profiles and matrices computed so far.
    pub views: crate::service::views::Views,
    /// The same, converted for GraphQL.
    pub converted: graphql::profile::Converted,
    /// Web form sessions, failed link attempts and page templates.
    pub web: crate::web::WebState,
    /// Outgoing email.
    pub mailer: crate::email::Mailer,
    /// Parsed GraphQL documents by query text.
    pub documents: graphql::cache::DocumentCache,
    /// The time scheduled work runs on (the system clock, or a manual one in tests).
    pub clock: Clock,
    /// This instance's random id: the holder of leases and reminder marks.
    pub instance: String,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("store", &self.store)
            .field("events", &self.events)
            .finish_non_exhaustive()
    }
}

/// A built server, bound and ready to run.
pub struct App {
    acceptor: TcpAcceptor,
    port: u16,
    state: Arc<AppState>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl App {
    /// Loads the catalogue, opens the store and binds the listener.
    ///
    /// # Errors
    /// When the catalogue is malformed, the store cannot be opened, or the address
    /// cannot be bound; each with its context.
    pub async fn build(settings: LoadedSettings) -> anyhow::Result<Self> {
        Self::build_with_clock(settings, Clock::System).await
    }

    /// As [`App::build`], with scheduled work (reminders, the Telegram notice queue) on
    /// `clock`.
    ///
    /// # Errors
    /// As [`App::build`], and for invalid `[reminders]` or `[store.redis]` settings.
    pub async fn build_with_clock(settings: LoadedSettings, clock: Clock) -> anyhow::Result<Self> {
        let started = Instant::now();
        settings
            .settings
            .reminders
            .check()
            .and_then(|()| settings.settings.store.redis.check())
            .map_err(|problem| anyhow::anyhow!("invalid configuration: {problem}"))?;
        let catalogue_dir = settings.catalogue_dir();
        let catalogue = Catalogue::load(&catalogue_dir).with_context(|| {
            format!(
                "failed to load the catalogue from {}",
                catalogue_dir.display()
            )
        })?;
        let store = store::open(&settings)
            .await
            .context("failed to open the store")?;
        // On Redis several instances may serve one deployment, so events travel through
        // Redis pub/sub; the bus's listener task ends in `run_until` (or when dropped).
        let events: Arc<dyn EventBus> = match settings.settings.store.backend {
            BackendKind::Redb => Arc::new(InProcessBus::default()),
            BackendKind::Redis => {
                use secrecy::ExposeSecret;
                let redis = &settings.settings.store.redis;
                let rounds = Arc::clone(&store);
                let round_changed: crate::events::RoundChanged =
                    Arc::new(move |round, status| rounds.changed_elsewhere(round, status));
                Arc::new(
                    RedisBus::start(redis.url.expose_secret(), &redis.key_prefix, round_changed)
                        .await
                        .context("failed to subscribe to round events on redis")?,
                )
            }
        };
        let mailer = crate::email::Mailer::build(&settings).context("failed to set up email")?;
        let schema = graphql::build(&settings.settings.graphql, ValidationMode::Strict);
        let fast_schema = graphql::build(&settings.settings.graphql, ValidationMode::Fast);
        let bind = settings.settings.server.bind.clone();
        let acceptor = TcpListener::bind(bind.clone())
            .into_acceptor()
            .await
            .with_context(|| format!("failed to listen on {bind}"))?;
        let port = acceptor
            .local_addr()
            .first()
            .and_then(|addr| addr.as_socket_addr().map(std::net::SocketAddr::port))
            .context("the listener has no socket address")?;
        tracing::info!(
            port,
            backend = ?settings.settings.store.backend,
            instruments = catalogue.len(),
            ready_ms = started.elapsed().as_millis(),
            "ready"
        );
        Ok(Self {
            acceptor,
            port,
            state: Arc::new(AppState {
                catalogue: Arc::new(catalogue),
                store,
                events,
                metrics: Metrics::default(),
                settings,
                schema,
                fast_schema,
                views: crate::service::views::Views::default(),
                converted: graphql::profile::Converted::default(),
                web: crate::web::WebState::default(),
                mailer,
                documents: graphql::cache::DocumentCache::default(),
                clock,
                instance: crate::service::access::new_secret()
                    .map(|secret| secret[..16].to_owned())
                    .context("failed to make an instance id")?,
            }),
        })
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The shared state (for in-process tests and tools).
    pub fn state(&self) -> Arc<AppState> {
        Arc::clone(&self.state)
    }

    /// Serves until Ctrl-C or SIGTERM, gives requests in flight the configured grace,
    /// then closes the store.
    ///
    /// # Errors
    /// When serving fails or the store does not close cleanly.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        // The handlers are installed before the first request is served: a stop signal
        // that arrives the moment `/readyz` first answers still stops the server cleanly
        // (installed lazily, it would meet the default action and kill the process).
        let stop = shutdown_signal().context("cannot listen for stop signals")?;
        self.run_until(stop).await
    }

    /// Serves until `stop` completes; then as [`App::run_until_stopped`]. The event bus
    /// is closed before the store: subscriptions end and no background task is left.
    ///
    /// # Errors
    /// When serving fails or the store does not close cleanly.
    pub async fn run_until(self, stop: impl Future<Output = ()> + Send) -> anyhow::Result<()> {
        let grace = Duration::from_secs(self.state.settings.settings.server.shutdown_grace_secs);
        let routes = crate::http::routes(Arc::clone(&self.state));
        let scheduler = Scheduler::start(Arc::clone(&self.state));
        let served = poem::Server::new_with_acceptor(self.acceptor)
            .run_with_graceful_shutdown(routes, stop, Some(grace))
            .await;
        // Even when serving failed: no background task may outlive the server, and the
        // store they write to closes only after them.
        if let Some(scheduler) = scheduler {
            scheduler.stop(grace).await;
        }
        self.state.events.close().await;
        served.context("the server failed")?;
        self.state
            .store
            .close()
            .await
            .context("failed to close the store")?;
        tracing::info!("stopped");
        Ok(())
    }
}

/// The reminder scheduler's task: a check every `[reminders] check_interval_secs`
/// (the first at start), until stopped.
struct Scheduler {
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Scheduler {
    /// Starts the task when `[reminders] enabled`.
    fn start(state: Arc<AppState>) -> Option<Self> {
        let settings = &state.settings.settings.reminders;
        if !settings.enabled {
            return None;
        }
        let every = Duration::from_secs(settings.check_interval_secs.max(1));
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(async move {
            let mut interval = tokio::time::interval(every);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = interval.tick() => {}
                    _ = stopped.changed() => break,
                }
                let reminders = crate::service::reminders::Reminders::of(&state);
                match reminders.tick(state.clock.now()).await {
                    Ok(report) if !report.sent.is_empty() || !report.failed.is_empty() => {
                        tracing::info!(
                            sent = report.sent.len(),
                            failed = report.failed.len(),
                            telegram = report.notices,
                            "reminders checked"
                        );
                    }
                    Ok(_) => {}
                    Err(error) => {
                        tracing::warn!(%error, "the reminder check failed; it runs again later");
                    }
                }
            }
        });
        Some(Self { stop, task })
    }

    /// Lets a check in progress finish (within `grace`), then ends the task.
    async fn stop(self, grace: Duration) {
        let _ = self.stop.send(true);
        let abort = self.task.abort_handle();
        if tokio::time::timeout(grace, self.task).await.is_err() {
            tracing::warn!("the reminder check did not finish in time and was stopped");
            abort.abort();
        }
    }
}

/// Installs the handlers for Ctrl-C (SIGINT) and SIGTERM now, and returns the future
/// that completes on the first of them.
#[cfg(unix)]
fn shutdown_signal() -> std::io::Result<impl Future<Output = ()> + Send> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {},
            _ = terminate.recv() => {},
        }
    })
}

/// Ctrl-C, where there is no SIGTERM.
#[cfg(not(unix))]
fn shutdown_signal() -> std::io::Result<impl Future<Output = ()> + Send> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    /// The handlers are installed when the stop future is made, not when it is first
    /// polled: a SIGTERM in between is caught and completes it. (Installed lazily, the
    /// signal would meet its default action and end this test process.)
    #[tokio::test]
    async fn a_sigterm_before_the_stop_future_is_polled_is_caught_and_stops() {
        let stop = shutdown_signal().expect("the handlers install");
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &std::process::id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success());
        tokio::time::timeout(Duration::from_secs(10), stop)
            .await
            .expect("the stop future completes on the signal sent before it was polled");
    }
}
