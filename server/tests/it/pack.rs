//! Snapshot tests of the validation interview pack: the demo round loaded at a fixed time
//! into a redb store, taken into validation, one organisation validated and signed off
//! by a validator token, then each pack rendered in HTML, Markdown and JSON and compared
//! byte for byte with the files under `server/tests/it/snapshots/`.
//!
//! Any difference fails, with the first differing line. After an intended change,
//! regenerate with `STAGEWISE_UPDATE_SNAPSHOTS=1 cargo test -p server --test it pack`
//! and read the diff before committing it.

use std::path::PathBuf;
use std::sync::Arc;

use server::catalogue::Catalogue;
use server::domain::{Actor, RoundId, RoundStatus, Timestamp, TokenId, ValidationStatus};
use server::events::InProcessBus;
use server::pack::{PackFormat, ValidationPack};
use server::service::access::Identity;
use server::service::validation::{self, Judgement, StatusChange};
use server::service::views::Views;
use server::service::{admin, demo, pack};
use server::store::SharedStore;

use crate::support::shipped;

/// 2026-01-15T09:00:00Z: when the demo is loaded.
const LOADED: i64 = 1_768_467_600_000;
/// An hour later: validation starts; each record a minute after the previous one.
const VALIDATING: i64 = LOADED + 3_600_000;
/// When the packs are prepared.
const PREPARED: i64 = LOADED + 2 * 86_400_000;

/// The validated stages recorded for ocr, in component order: most confirm the
/// self-assessment, 2.1 and 3.3 are one lower, 1.2 one higher.
const OCR_VALIDATED: [(&str, i64); 17] = [
    ("1.1", 3),
    ("1.2", 3),
    ("1.3", 3),
    ("2.1", 3),
    ("2.2", 3),
    ("2.3", 2),
    ("2.4", 2),
    ("2.5", 2),
    ("3.1", 3),
    ("3.2", 3),
    ("3.3", 3),
    ("3.4", 2),
    ("4.1", 3),
    ("4.2", 3),
    ("4.3", 2),
    ("5.1", 2),
    ("5.2", 2),
];

fn snapshots_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/it/snapshots")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Compares `actual` with the snapshot `name`, or rewrites it when asked to.
fn check_snapshot(name: &str, actual: &str) {
    let path = snapshots_dir().join(name);
    if std::env::var_os("STAGEWISE_UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(snapshots_dir()).expect("snapshot folder");
        std::fs::write(&path, actual).expect("snapshot written");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read snapshot {}: {e}; create it with STAGEWISE_UPDATE_SNAPSHOTS=1",
            path.display()
        )
    });
    if expected != actual {
        let line = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| expected.lines().count().min(actual.lines().count()));
        panic!(
            "the pack differs from snapshot {name} at line {}:\n expected: {:?}\n   actual: {:?}\n\
             (lengths {} and {}); regenerate with STAGEWISE_UPDATE_SNAPSHOTS=1 after checking the change",
            line + 1,
            expected.lines().nth(line).unwrap_or("<end>"),
            actual.lines().nth(line).unwrap_or("<end>"),
            expected.len(),
            actual.len()
        );
    }
}

async fn arrange(store: &SharedStore, catalogue: &Catalogue) {
    let events = InProcessBus::default();
    demo::load(
        store.as_ref(),
        catalogue,
        &events,
        Timestamp::from_millis(LOADED),
    )
    .await
    .expect("the demo loads");
    for status in [RoundStatus::Closed, RoundStatus::InValidation] {
        admin::set_round_status(
            store.as_ref(),
            &events,
            &Actor::System,
            Timestamp::from_millis(VALIDATING),
            demo::ROUND,
            status,
        )
        .await
        .expect("the round moves on");
    }
    let validator = Identity::Validator {
        token: TokenId::parse("t-jiu-team").expect("id"),
        label: "JIU validation team".to_owned(),
        rounds: vec![RoundId::parse(demo::ROUND).expect("id")],
    };
    let mut at = VALIDATING;
    for (component, stage) in OCR_VALIDATED {
        at += 60_000;
        let evidence_reviewed = if component == "2.3" {
            vec![
                "Data quality policy and standard operating procedures".to_owned(),
                "Interview with the head of monitoring".to_owned(),
            ]
        } else {
            Vec::new()
        };
        validation::record_component(
            store.as_ref(),
            catalogue,
            &validator,
            Timestamp::from_millis(at),
            demo::ROUND,
            "ocr",
            &Judgement {
                component: component.to_owned(),
                stage,
                note: if component == "2.3" {
                    "Baselines are missing for most indicators: <b>stage 2</b> & no more."
                        .to_owned()
                } else {
                    String::new()
                },
                evidence_reviewed,
            },
        )
        .await
        .expect("recorded");
    }
    validation::set_status(
        store.as_ref(),
        catalogue,
        &validator,
        Timestamp::from_millis(at + 60_000),
        demo::ROUND,
        "ocr",
        &StatusChange {
            status: ValidationStatus::Validated,
            note: "Validated after the interviews of 20 January.".to_owned(),
        },
    )
    .await
    .expect("signed off");
}

async fn pack_of(store: &SharedStore, catalogue: &Catalogue, organisation: &str) -> ValidationPack {
    pack::validation_pack(
        store.as_ref(),
        catalogue,
        &Views::default(),
        &RoundId::parse(demo::ROUND).expect("id"),
        &server::domain::OrganisationId::parse(organisation).expect("id"),
        Timestamp::from_millis(PREPARED),
    )
    .await
    .expect("the pack is built")
}

#[test]
fn packs_match_their_snapshots() {
    let dir = tempfile::tempdir().expect("temp dir");
    let catalogue = shipped();
    runtime().block_on(async {
        let store: SharedStore = Arc::new(
            server::store::redb::open(&dir.path().join("packs.redb")).expect("redb opens"),
        );
        arrange(&store, &catalogue).await;
        for organisation in ["ocr", "fuw"] {
            let pack = pack_of(&store, &catalogue, organisation).await;
            for format in PackFormat::ALL {
                let text = pack.render(format).expect("the pack renders");
                check_snapshot(
                    &format!("pack-{organisation}.{}", format.extension()),
                    &text,
                );
            }
            // The same data gives the same document.
            let again = pack_of(&store, &catalogue, organisation).await;
            assert_eq!(again, pack, "building twice gives the same pack");
        }
        store.close().await.expect("closes");
    });
}

#[test]
fn the_validated_organisation_carries_its_validation_everywhere() {
    let dir = tempfile::tempdir().expect("temp dir");
    let catalogue = shipped();
    runtime().block_on(async {
        let store: SharedStore = Arc::new(
            server::store::redb::open(&dir.path().join("validated.redb")).expect("redb opens"),
        );
        arrange(&store, &catalogue).await;
        let pack = pack_of(&store, &catalogue, "ocr").await;
        assert_eq!(pack.cover.validation.status, "validated");
        assert_eq!(pack.cover.validation.validated_components, 17);
        let sign_off = pack.cover.validation.sign_off.as_ref().expect("signed off");
        assert_eq!(sign_off.validator, "JIU validation team");
        assert!(pack.summary_sheet.has_validated);
        let validated: Vec<(String, Option<u8>)> = pack
            .worksheet
            .rows
            .iter()
            .map(|r| (r.component.clone(), r.validated_stage))
            .collect();
        let expected: Vec<(String, Option<u8>)> = OCR_VALIDATED
            .iter()
            .map(|(c, s)| ((*c).to_owned(), u8::try_from(*s).ok()))
            .collect();
        assert_eq!(validated, expected);
        let component = pack.components.iter().find(|c| c.id == "2.3").expect("2.3");
        let recorded = component.validated.as_ref().expect("validated");
        assert_eq!(recorded.evidence_reviewed.len(), 2);
        assert_eq!(recorded.validator, "JIU validation team");
        // The note is escaped in HTML and Markdown, never taken as markup.
        let html = pack.render(PackFormat::Html).expect("html");
        assert!(
            html.contains("&lt;b&gt;stage 2&lt;/b&gt; &amp; no more."),
            "escaped in HTML"
        );
        assert!(!html.contains("<b>stage 2</b>"));
        let markdown = pack.render(PackFormat::Markdown).expect("markdown");
        assert!(
            markdown.contains(r"\<b\>stage 2\</b\> \& no more."),
            "escaped in Markdown"
        );
        // The chart draws the validated stages.
        assert!(pack.chart.svg.contains("validated-value"));

        // fuw answered pillar 1 only and has no validation.
        let fuw = pack_of(&store, &catalogue, "fuw").await;
        assert_eq!(fuw.cover.validation.status, "not-started");
        assert!(!fuw.cover.completion.submitted);
        assert_eq!(fuw.cover.completion.components_answered, 3);
        assert!(fuw.components.iter().all(|c| c.validated.is_none()));
        assert!(
            fuw.flags.iter().any(|f| f.code == "INCOMPLETE"),
            "unanswered components are flagged"
        );
        store.close().await.expect("closes");
    });
}
