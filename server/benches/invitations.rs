//! Invitations per second: `service::invitations::invite` (what `inviteByEmail` runs)
//! for a round of senior managers, each getting a new personal link (stored in redb, in a
//! temporary folder) in an email with a text and an HTML part, sent through lettre's
//! pooled SMTP transport to the SMTP sink of the `tests` crate on loopback. The run
//! checks that every invitation was reported sent and arrived at the sink.
//!
//! `cargo bench -p server --bench invitations`: `STAGEWISE_BENCH_INVITATIONS`
//! invitations (default 2,000) with `STAGEWISE_BENCH_POOL` pooled connections (default
//! 16, `email.pool_max_size`'s default). Target: at least 200 invitations per second.
//! Under `cargo test` (no `--bench` argument) it runs as a quick check of 40 invitations.

use std::time::{Duration, Instant};

use server::app::App;
use server::catalogue::InstrumentRef;
use server::config::{LoadedSettings, Settings, SmtpTls};
use server::domain::{
    Assignment, EmailAddress, Organisation, OrganisationId, Person, PersonId, Role, Round, RoundId,
    RoundStatus, Timestamp,
};
use server::service::invitations;
use tests::smtp::SmtpSink;

// The same allocator as the `stagewise-server` binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const TARGET_PER_SECOND: f64 = 200.0;

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|n| n.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(default)
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test` does not: then a quick check.
    let benchmark = std::env::args().any(|arg| arg == "--bench");
    let count = if benchmark {
        env_number("STAGEWISE_BENCH_INVITATIONS", 2_000)
    } else {
        40
    };
    let pool = env_number("STAGEWISE_BENCH_POOL", 16);
    let runtime = tests::bench_runtime();
    runtime.block_on(run(count, pool, benchmark));
}

async fn run(count: usize, pool: usize, benchmark: bool) {
    let sink = SmtpSink::start();
    let data = tempfile::tempdir().expect("temp dir");
    let mut settings = Settings::default();
    settings.catalogue.dir = tests::questionnaires_dir();
    settings.server.bind = "127.0.0.1:0".to_owned();
    settings.store.redb.data_dir = data.path().to_path_buf();
    settings.log.filter = "warn".to_owned();
    settings.email.smtp_host = "127.0.0.1".to_owned();
    settings.email.smtp_port = sink.port();
    settings.email.tls = SmtpTls::None;
    settings.email.pool_max_size = u32::try_from(pool).unwrap_or(16);
    settings.reminders.enabled = false;
    let state = App::build(LoadedSettings {
        settings,
        config_dir: tests::workspace_root().join("config"),
    })
    .await
    .expect("the server builds")
    .state();
    let round = arrange(&state, count).await;

    let started = Instant::now();
    let report = invitations::invite(
        state.store.as_ref(),
        &state.catalogue,
        &state.mailer,
        &state.settings.settings.server.public_base_url,
        &state.settings.settings.telegram,
        &round,
        None,
        Timestamp::now(),
    )
    .await
    .expect("invited");
    let elapsed = started.elapsed();

    assert_eq!(report.failed.len(), 0, "no invitation failed");
    assert_eq!(report.sent.len(), count, "every person invited");
    let received = sink.wait_for(count, Duration::from_secs(60));
    assert_eq!(received.len(), count, "every invitation arrived");
    assert!(
        received
            .iter()
            .all(|m| m.data.contains("multipart/alternative") && m.data.contains("/l/")),
        "each a multipart message with a personal link"
    );
    let rate = count as f64 / elapsed.as_secs_f64();
    println!(
        "invitations: {count} sent in {:.2} s = {rate:.0} invitations/s \
         (target {TARGET_PER_SECOND:.0}/s: {:.2}x); pooled SMTP with {pool} connections \
         to a loopback sink; links in redb{}",
        elapsed.as_secs_f64(),
        rate / TARGET_PER_SECOND,
        if benchmark { "" } else { " (quick check)" }
    );
}

/// One open round of the outcome protocol with `count` senior managers of one
/// organisation: one invitation each.
async fn arrange(state: &server::app::AppState, count: usize) -> RoundId {
    let store = &state.store;
    let organisation = OrganisationId::parse("bench-org").expect("id");
    store
        .put_organisation(
            &Organisation::new(organisation.clone(), "Bench organisation", None)
                .expect("organisation"),
        )
        .await
        .expect("stored");
    let round = RoundId::parse("bench-2026").expect("id");
    store
        .put_round(&Round {
            id: round.clone(),
            title: "Bench round".to_owned(),
            instruments: vec![InstrumentRef::parse("jiu-rbm-outcomes@1").expect("ref")],
            organisations: vec![organisation.clone()],
            deadline: None,
            status: RoundStatus::Open,
        })
        .await
        .expect("stored");
    for n in 0..count {
        let person = PersonId::parse(&format!("p-bench-{n}")).expect("id");
        store
            .put_person(&Person {
                id: person.clone(),
                name: format!("Manager {n}"),
                email: EmailAddress::parse(&format!("manager-{n}@example.org")).expect("email"),
                telegram_chat: None,
            })
            .await
            .expect("stored");
        store
            .put_assignment(&Assignment {
                round: round.clone(),
                organisation: organisation.clone(),
                person,
                role: Role::SeniorManager {
                    outcome_areas: vec!["qcpr-1".to_owned()],
                },
            })
            .await
            .expect("stored");
    }
    round
}
