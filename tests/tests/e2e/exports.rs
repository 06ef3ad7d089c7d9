//! Downloads over HTTP on both backends, after the six-organisation round of `profile`
//! is answered through the API: the CSV and the XLSX read back with reader crates cell by
//! cell, the JSON against GraphQL's `profile`, the SVG charts parsed and rendered to PNG,
//! the URLs GraphQL hands out, and who may download what.

use std::sync::Arc;

use calamine::{Data, Range, Reader, Xlsx, open_workbook_from_rs};
use serde_json::{Value, json};
use tests::RedisServer;

use crate::profile::{self, ALPHA, COMPONENTS, ORGANISATIONS, PROFILE, ROUND};
use crate::support::{Backend, TestServer, data};

/// The public base URL the server is configured with; GraphQL's URLs must start with it
/// whatever Host the request came to.
const PUBLIC_BASE: &str = "https://stagewise.example.org/";

/// A downloaded file.
struct Download {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl Download {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("no {name} header in {:?}", self.headers))
    }

    fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("UTF-8")
    }

    /// The error body's `extensions.code`.
    fn code(&self) -> String {
        let body: Value = serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("a JSON error body ({e}): {}", self.text()));
        body["errors"][0]["extensions"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("no code in {body}"))
            .to_owned()
    }
}

async fn get(server: &TestServer, token: Option<&str>, path: &str) -> Download {
    let mut request = reqwest::Client::new().get(format!("{}{path}", server.url));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("the server answers");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.bytes().await.expect("a body").to_vec();
    Download {
        status,
        headers,
        body,
    }
}

/// A download that must succeed, with the headers every download carries.
async fn fetch(server: &TestServer, token: &str, path: &str, content_type: &str) -> Download {
    let download = get(server, Some(token), path).await;
    assert_eq!(download.status, 200, "{path}: {}", download.text());
    assert_eq!(download.header("content-type"), content_type, "{path}");
    assert_eq!(download.header("cache-control"), "no-store", "{path}");
    assert_eq!(download.header("x-content-type-options"), "nosniff");
    download
}

const PATHS: [&str; 5] = [
    "/exports/r-2026/profiles.csv",
    "/exports/r-2026/profiles.xlsx",
    "/exports/r-2026/profiles.json",
    "/charts/r-2026/alpha/configuration.svg",
    "/charts/r-2026/matrix.svg",
];

async fn access(server: &TestServer) {
    let outside = server.validator(&["r-other"]).await;
    let inside = server.validator(&[ROUND]).await;
    let bot = server.token(server::domain::TokenRole::Bot).await;
    for path in PATHS {
        let anonymous = get(server, None, path).await;
        assert_eq!(anonymous.status, 401, "{path}");
        assert_eq!(anonymous.code(), "UNAUTHENTICATED", "{path}");
        assert_eq!(anonymous.header("www-authenticate"), "Bearer");
        assert_eq!(anonymous.header("cache-control"), "no-store");
        let rejected = get(server, Some("not-a-token"), path).await;
        assert_eq!(rejected.status, 401, "{path}");
        for token in [&outside, &bot] {
            let refused = get(server, Some(token), path).await;
            assert_eq!(refused.status, 403, "{path}");
            assert_eq!(refused.code(), "FORBIDDEN", "{path}");
        }
        let allowed = get(server, Some(&inside), path).await;
        assert_eq!(allowed.status, 200, "{path}: {}", allowed.text());
        assert!(!allowed.body.is_empty());
    }

    // A bad rule names the allowed values; any case of a good one is accepted.
    for path in [
        "/exports/r-2026/profiles.csv?rule=average",
        "/charts/r-2026/alpha/configuration.svg?rule=",
    ] {
        let bad = get(server, Some(&inside), path).await;
        assert_eq!(bad.status, 400, "{path}");
        assert_eq!(bad.code(), "BAD_USER_INPUT");
        assert!(
            bad.text().contains("median, minimum, mode"),
            "{}",
            bad.text()
        );
    }
    let upper = get(
        server,
        Some(&inside),
        "/exports/r-2026/profiles.json?rule=MODE",
    )
    .await;
    assert_eq!(upper.status, 200);

    // Unknown rounds and organisations are 404 for whoever may ask; a validator out of
    // scope learns nothing about which rounds exist.
    for path in [
        "/exports/r-1999/profiles.csv",
        "/exports/Not_A_Round/profiles.xlsx",
        "/charts/r-1999/matrix.svg",
        "/charts/r-2026/zulu/configuration.svg",
        "/charts/r-2026/Not_An_Org/configuration.svg",
    ] {
        let missing = get(server, Some(&server.admin), path).await;
        assert_eq!(missing.status, 404, "{path}: {}", missing.text());
        assert_eq!(missing.code(), "NOT_FOUND", "{path}");
    }
    let probe = get(server, Some(&outside), "/exports/r-1999/profiles.csv").await;
    assert_eq!(probe.status, 403);
}

/// The record of `organisation` × `component` in the CSV.
fn record<'r>(
    records: &'r [csv::StringRecord],
    organisation: &str,
    component: &str,
) -> &'r csv::StringRecord {
    records
        .iter()
        .find(|r| &r[1] == organisation && &r[4] == component)
        .unwrap_or_else(|| panic!("no CSV row for {organisation} {component}"))
}

async fn check_csv(server: &TestServer) {
    let download = fetch(
        server,
        &server.admin,
        "/exports/r-2026/profiles.csv",
        "text/csv; charset=utf-8; header=present",
    )
    .await;
    assert_eq!(
        download.header("content-disposition"),
        "attachment; filename=\"r-2026-profiles.csv\""
    );
    let mut reader = csv::Reader::from_reader(download.body.as_slice());
    let header: Vec<String> = reader
        .headers()
        .expect("a header")
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(header, server::export::CSV_COLUMNS);
    let records: Vec<csv::StringRecord> =
        reader.records().collect::<Result<_, _>>().expect("records");
    assert_eq!(records.len(), ORGANISATIONS.len() * COMPONENTS.len());
    // Organisations in the round's order, components in instrument order.
    let order: Vec<(&str, &str)> = records.iter().map(|r| (&r[1], &r[4])).collect();
    assert_eq!(order[0], ("alpha", "1.1"));
    assert_eq!(order[17], ("bravo", "1.1"));
    assert_eq!(order[101], ("foxtrot", "5.2"));
    // Alpha's stages, in order.
    let stages: Vec<&str> = records[..17].iter().map(|r| &r[6]).collect();
    let expected: Vec<String> = ALPHA.iter().map(ToString::to_string).collect();
    assert_eq!(stages, expected);

    let row = |organisation, component| {
        let r = record(&records, organisation, component);
        r.iter().map(str::to_owned).collect::<Vec<_>>()
    };
    // 2.2: a person only as evidence.
    assert_eq!(
        row("alpha", "2.2"),
        [
            "r-2026",
            "alpha",
            "alpha",
            "2",
            "2.2",
            "Results frameworks for programmes and projects",
            "4",
            "",
            "0",
            "1",
            "0",
            "",
            "3",
            "3",
            "EVIDENCE_MISSING"
        ]
    );
    // 1.3: three ratings averaging 2.67 at stage 2.
    let activities = row("alpha", "1.3");
    assert_eq!(
        &activities[6..],
        [
            "2",
            "",
            "1",
            "0",
            "3",
            "2.67",
            "3",
            "3",
            "ACTIVITIES_DISAGREE_WITH_STAGE"
        ]
    );
    // 3.4: no rationale.
    let incomplete = row("alpha", "3.4");
    assert_eq!(&incomplete[12..], ["2", "3", "INCOMPLETE"]);
    assert_eq!(row("alpha", "1.1")[14], "RATERS_DISAGREE");
    assert_eq!(row("alpha", "2.1")[14], "PEER_OUTLIER");
    assert_eq!(row("alpha", "2.5")[14], "STAGE5_WITHOUT_EVALUATION");
    // Echo did not answer pillar 5.
    let unanswered = row("echo", "5.1");
    assert_eq!(&unanswered[6..8], ["", ""]);
    assert_eq!(
        &unanswered[8..],
        ["0", "0", "0", "", "0", "3", "INCOMPLETE"]
    );
    // Bravo raised nothing.
    assert!(records[17..34].iter().all(|r| r[14].is_empty()));
    assert!(records[17..34].iter().all(|r| &r[8] == "1" && &r[9] == "0"));
}

fn string(range: &Range<Data>, row: u32, col: u32) -> String {
    match range.get_value((row, col)) {
        Some(Data::String(text)) => text.clone(),
        other => panic!("expected a string at ({row}, {col}), found {other:?}"),
    }
}

fn number(range: &Range<Data>, row: u32, col: u32) -> f64 {
    match range.get_value((row, col)) {
        Some(Data::Float(n)) => *n,
        Some(Data::Int(n)) => *n as f64,
        other => panic!("expected a number at ({row}, {col}), found {other:?}"),
    }
}

fn is_empty(range: &Range<Data>, row: u32, col: u32) -> bool {
    matches!(range.get_value((row, col)), None | Some(Data::Empty))
}

async fn check_xlsx(server: &TestServer) {
    let download = fetch(
        server,
        &server.admin,
        "/exports/r-2026/profiles.xlsx?rule=mode",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    .await;
    assert_eq!(
        download.header("content-disposition"),
        "attachment; filename=\"r-2026-profiles.xlsx\""
    );
    let mut workbook: Xlsx<_> =
        open_workbook_from_rs(std::io::Cursor::new(download.body)).expect("an XLSX file");
    assert_eq!(
        workbook.sheet_names(),
        ["Summary", "Answers", "Outcome answers", "Flags"]
    );

    // Summary: annex IX part 2 for alpha, pillar stages by the mode (3-4-3-2-3).
    let summary = workbook.worksheet_range("Summary").expect("Summary");
    assert_eq!(
        string(&summary, 0, 0),
        "PART 2: SUMMARY SHEET FOR ORGANIZATIONAL PROFILE FOR STAGES OF DEVELOPMENT"
    );
    assert_eq!(string(&summary, 1, 1), "alpha");
    assert_eq!(string(&summary, 2, 1), ROUND);
    let headings: Vec<String> = (0..4).map(|col| string(&summary, 4, col)).collect();
    assert_eq!(
        headings,
        [
            "Pillars",
            "Components",
            "Stages- Component",
            "Stages - Pillars"
        ]
    );
    assert!(is_empty(&summary, 4, 4), "no validated stage, no column");
    assert_eq!(
        string(&summary, 5, 0),
        "Pillar 1 - RBM Conceptual Foundation"
    );
    assert_eq!(number(&summary, 5, 3), 3.0);
    // The sheet prints accountability (1.3, stage 2) as "1.2" and change management
    // (1.2, stage 3) as "1.3": the stages follow the meaning.
    let pillar_one: Vec<(String, f64)> = (5..8)
        .map(|row| (string(&summary, row, 1), number(&summary, row, 2)))
        .collect();
    assert_eq!(
        pillar_one,
        [
            ("1.1 Conceptual Foundation".to_owned(), 3.0),
            ("1.2 Accountability Framework".to_owned(), 2.0),
            ("1.3 Change Management Framework".to_owned(), 3.0),
        ]
    );
    assert_eq!(
        string(&summary, 8, 0),
        "Pillar 2 - Planning, Programming and Budgeting"
    );
    assert_eq!(number(&summary, 8, 3), 4.0);
    assert_eq!(string(&summary, 12, 1), "2.5 Human resources management");
    assert_eq!(number(&summary, 12, 2), 5.0);
    assert_eq!(number(&summary, 17, 3), 2.0, "pillar 4 by the mode");
    assert_eq!(
        string(&summary, 22, 0),
        "Pillar stage: most frequent stage among the pillar's answered components, ties to the lower (rule: mode)."
    );
    assert_eq!(
        string(&summary, 24, 0),
        "Pillar 2: Pillar stage 4 (most frequent stage among the pillar's answered components, ties to the lower); lowest 1, highest 5."
    );
    assert_eq!(
        string(&summary, 28, 0),
        "The self-assessment is not submitted: its stages may still change."
    );
    // Bravo's block follows after one blank row.
    assert!(is_empty(&summary, 29, 0));
    assert_eq!(string(&summary, 31, 1), "bravo");
    assert_eq!(number(&summary, 35, 3), 3.0);

    // Answers: the CSV's table with numbers as numbers.
    let answers = workbook.worksheet_range("Answers").expect("Answers");
    assert_eq!(string(&answers, 0, 14), "flags");
    assert_eq!(string(&answers, 3, 4), "1.3");
    assert_eq!(number(&answers, 3, 6), 2.0);
    assert!((number(&answers, 3, 11) - 8.0 / 3.0).abs() < 1e-9);
    assert_eq!(string(&answers, 3, 14), "ACTIVITIES_DISAGREE_WITH_STAGE");
    assert_eq!(number(&answers, 5, 9), 1.0, "2.2 names one person");

    // Outcome answers: Ben's answer with the components annex III links to it.
    let outcomes = workbook
        .worksheet_range("Outcome answers")
        .expect("Outcome answers");
    assert_eq!(string(&outcomes, 1, 1), "alpha");
    assert_eq!(string(&outcomes, 1, 3), "qcpr-1");
    assert_eq!(string(&outcomes, 1, 4), "Accountability");
    assert_eq!(string(&outcomes, 1, 5), "p-ben");
    assert_eq!(string(&outcomes, 1, 6), "outcome-1/q1");
    assert_eq!(
        string(&outcomes, 1, 8),
        "Managers answer for results, not spending."
    );
    assert_eq!(
        string(&outcomes, 1, 9),
        "1.3 Accountability framework: stage 2; 2.5 Human resources management: stage 5; \
         5.1 United Nations coherence for outcome achievement: stage 3; \
         5.2 Alignment between United Nations and other partners for outcome achievement: stage 4"
    );
    assert!(is_empty(&outcomes, 2, 0), "one answer, one row");

    // Flags: alpha's eight in the profile's order, then the others'.
    let flags = workbook.worksheet_range("Flags").expect("Flags");
    let alpha: Vec<(String, String)> = (1..9)
        .map(|row| {
            let component = match flags.get_value((row, 4)) {
                Some(Data::String(text)) => text.clone(),
                _ => String::new(),
            };
            (string(&flags, row, 3), component)
        })
        .collect();
    let expected: Vec<(String, String)> = [
        ("RATERS_DISAGREE", "1.1"),
        ("ACTIVITIES_DISAGREE_WITH_STAGE", "1.3"),
        ("PEER_OUTLIER", "2.1"),
        ("EVIDENCE_MISSING", "2.2"),
        ("STAGE5_WITHOUT_EVALUATION", "2.5"),
        ("INCOMPLETE", "3.4"),
        ("ACTIVITIES_DISAGREE_WITH_STAGE", "4.3"),
        ("PILLAR_UNEVEN", "Pillar 2"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_owned(), b.to_owned()))
    .collect();
    assert_eq!(alpha, expected);
    assert_eq!(
        string(&flags, 4, 5),
        "stage 4 with only names of people as evidence (1 named, no document)"
    );
    assert_eq!(
        string(&flags, 4, 6),
        "Internal validity in rating, point 1: Understand the evidence used when making \
         judgments and ensure consistency in ratings with the evidence used"
    );
    assert!(string(&flags, 3, 6).starts_with("External validity"));
    let echo: Vec<String> = (1..flags.height() as u32)
        .filter(|row| string(&flags, *row, 1) == "echo")
        .map(|row| format!("{} {}", string(&flags, row, 3), string(&flags, row, 4)))
        .collect();
    assert_eq!(echo, ["INCOMPLETE 5.1", "INCOMPLETE 5.2"]);
}

/// The parts of a GraphQL profile the JSON export must repeat.
fn graphql_view(profile: &Value) -> Value {
    let list = |value: &Value| value.as_array().cloned().unwrap_or_default();
    json!({
        "stages": list(&profile["components"]).iter().map(|c| c["stage"].clone()).collect::<Vec<_>>(),
        "pillars": list(&profile["pillars"]).iter().map(|p| p["stage"].clone()).collect::<Vec<_>>(),
        "pattern": profile["pattern"]["pillars"],
        "flags": list(&profile["flags"]).iter().map(|f| json!([
            f["code"], f["componentId"], f["pillar"], f["trigger"], f["items"], f["prompt"]["text"]
        ])).collect::<Vec<_>>(),
    })
}

/// The same parts of an organisation of the JSON export.
fn export_view(organisation: &Value) -> Value {
    let list = |value: &Value| value.as_array().cloned().unwrap_or_default();
    json!({
        "stages": list(&organisation["components"]).iter().map(|c| c["stage"].clone()).collect::<Vec<_>>(),
        "pillars": list(&organisation["pillars"]).iter().map(|p| p["stage"].clone()).collect::<Vec<_>>(),
        "pattern": organisation["pattern"]["pillars"],
        "flags": list(&organisation["flags"]).iter().map(|f| json!([
            f["code"], f["component"], f["pillar"], f["trigger"], f["items"], f["prompt"]["text"]
        ])).collect::<Vec<_>>(),
    })
}

async fn check_json(server: &TestServer) {
    for (rule, graphql_rule) in [("median", "MEDIAN"), ("minimum", "MINIMUM")] {
        let download = fetch(
            server,
            &server.admin,
            &format!("/exports/r-2026/profiles.json?rule={rule}"),
            "application/json",
        )
        .await;
        assert_eq!(
            download.header("content-disposition"),
            "attachment; filename=\"r-2026-profiles.json\""
        );
        let export: Value = serde_json::from_slice(&download.body).expect("JSON");
        assert_eq!(export["format"], "stagewise.round-profiles");
        assert_eq!(export["version"], 1);
        assert_eq!(export["round"]["id"], ROUND);
        assert_eq!(export["instrument"], "jiu-rbm-stages@1");
        assert_eq!(export["rule"], rule);
        let organisations = export["organisations"].as_array().expect("organisations");
        let ids: Vec<&str> = organisations
            .iter()
            .filter_map(|o| o["id"].as_str())
            .collect();
        assert_eq!(ids, ORGANISATIONS);
        for organisation in organisations {
            let id = organisation["id"].as_str().unwrap_or_default();
            let response = server
                .admin(PROFILE, json!({ "org": id, "rule": graphql_rule }))
                .await;
            let profile = &data(&response)["profile"];
            assert_eq!(
                export_view(organisation),
                graphql_view(profile),
                "{id} under {rule}"
            );
        }
        let alpha = &organisations[0];
        assert_eq!(alpha["previous_round"], profile::PREVIOUS);
        assert_eq!(
            alpha["components"][4]["evidence"],
            json!({ "documents": 0, "persons": 1, "strength": "weak", "cites_evaluation": false })
        );
        assert_eq!(alpha["raters"].as_array().map(Vec::len), Some(2));
        assert_eq!(
            alpha["outcomes"][0]["managers"][0]["answers"][0]["answer"],
            "Managers answer for results, not spending."
        );
        // The matrix: six rows, 5.1 withheld with four organisations.
        let matrix = &export["matrix"];
        assert_eq!(matrix["rows"].as_array().map(Vec::len), Some(6));
        assert_eq!(
            matrix["rows"][0]["stages"],
            json!(ALPHA.iter().map(|n| json!(n)).collect::<Vec<_>>())
        );
        assert_eq!(matrix["components"][15]["id"], "5.1");
        assert_eq!(matrix["components"][15]["distribution"]["withheld"], true);
        assert!(matrix["components"][15]["distribution"]["counts"].is_null());
        assert_eq!(
            matrix["components"][3]["distribution"]["counts"],
            json!([1, 1, 2, 2, 0])
        );
    }
    let minimum = get(
        server,
        Some(&server.admin),
        "/exports/r-2026/profiles.json?rule=minimum",
    )
    .await;
    let minimum: Value = serde_json::from_slice(&minimum.body).expect("JSON");
    assert_eq!(
        minimum["organisations"][0]["pattern"]["pillars"],
        "2-1-2-2-3"
    );
    assert_eq!(
        minimum["matrix"]["rows"][0]["pillar_stages"],
        json!([2, 1, 2, 2, 3])
    );
}

/// Renders an SVG to PNG with the system fonts; fails with how to install DejaVu Sans
/// when it is missing.
fn render_png(svg: &str) -> Vec<u8> {
    let mut options = resvg::usvg::Options::default();
    options.fontdb_mut().load_system_fonts();
    let has_dejavu = options
        .fontdb
        .faces()
        .any(|face| face.families.iter().any(|(name, _)| name == "DejaVu Sans"));
    assert!(
        has_dejavu,
        "no DejaVu Sans among {} system fonts: the chart render test needs it; \
         install it with `apt-get install fonts-dejavu-core`",
        options.fontdb.len()
    );
    let tree = resvg::usvg::Tree::from_str(svg, &options)
        .unwrap_or_else(|e| panic!("resvg cannot read the chart: {e}"));
    let size = tree.size().to_int_size();
    let mut pixmap = resvg::tiny_skia::Pixmap::new(size.width(), size.height())
        .expect("a pixmap of the chart's size");
    resvg::render(
        &tree,
        resvg::tiny_skia::Transform::default(),
        &mut pixmap.as_mut(),
    );
    let dark = pixmap
        .pixels()
        .iter()
        .filter(|p| p.alpha() > 0 && p.red() < 128 && p.green() < 128 && p.blue() < 128)
        .count();
    assert!(dark > 2_000, "too little drawn ({dark} dark pixels)");
    let png = pixmap.encode_png().expect("PNG encoding");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    png
}

async fn check_charts(server: &TestServer) {
    let validator = server.validator(&[ROUND]).await;

    let configuration = fetch(
        server,
        &validator,
        "/charts/r-2026/alpha/configuration.svg?rule=minimum",
        "image/svg+xml",
    )
    .await;
    assert_eq!(
        configuration.header("content-disposition"),
        "inline; filename=\"r-2026-alpha-configuration.svg\""
    );
    assert!(
        configuration
            .header("content-security-policy")
            .starts_with("default-src 'none'")
    );
    let svg = configuration.text();
    let document = roxmltree::Document::parse(&svg).expect("well-formed SVG");
    let root = document.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    let drawn: Vec<&str> = document
        .descendants()
        .filter_map(|n| n.attribute("data-component"))
        .collect();
    assert_eq!(drawn, COMPONENTS);
    let text: String = document
        .descendants()
        .filter(|n| n.is_text())
        .filter_map(|n| n.text())
        .collect::<Vec<_>>()
        .join("|");
    assert!(text.contains("alpha"), "{text}");
    // Pillar 2 under the minimum rule: stage 1, range 1–5.
    assert!(
        text.contains(
            "Pillar stage 1 (lowest of the pillar's answered components); lowest 1, highest 5"
        ),
        "{text}"
    );
    render_png(&svg);

    let matrix = fetch(
        server,
        &validator,
        "/charts/r-2026/matrix.svg",
        "image/svg+xml",
    )
    .await;
    assert_eq!(
        matrix.header("content-disposition"),
        "inline; filename=\"r-2026-matrix.svg\""
    );
    let svg = matrix.text();
    let document = roxmltree::Document::parse(&svg).expect("well-formed SVG");
    let headings: Vec<&str> = document
        .descendants()
        .filter(|n| n.attribute("class") == Some("component-heading"))
        .filter_map(|n| n.text())
        .collect();
    assert_eq!(headings, COMPONENTS);
    let rows: Vec<&str> = document
        .descendants()
        .filter(|n| n.attribute("class") == Some("organisation"))
        .filter_map(|n| n.children().filter(|c| c.is_text()).find_map(|c| c.text()))
        .collect();
    assert_eq!(rows, ORGANISATIONS);
    let cells = document
        .descendants()
        .filter(|n| {
            n.attribute("class")
                .is_some_and(|class| class.split(' ').next() == Some("cell"))
        })
        .count();
    assert_eq!(cells, ORGANISATIONS.len() * COMPONENTS.len());
    render_png(&svg);
}

/// GraphQL hands out the download URLs from the configured base URL (not the Host the
/// request came to), and they work with the same token.
async fn check_urls(server: &TestServer) {
    let validator = server.validator(&[ROUND]).await;
    let response = server
        .graphql_as(
            Some(&validator),
            None,
            "{ roundMatrix(roundId: \"r-2026\", rule: MODE) {
                 downloads { profilesCsvUrl profilesXlsxUrl profilesJsonUrl heatmapUrl } }
               profile(roundId: \"r-2026\", organisationId: \"bravo\") { configurationChartUrl } }",
            json!({}),
        )
        .await;
    let answer = data(&response);
    assert_eq!(
        answer["roundMatrix"]["downloads"],
        json!({
            "profilesCsvUrl": "https://stagewise.example.org/exports/r-2026/profiles.csv?rule=mode",
            "profilesXlsxUrl": "https://stagewise.example.org/exports/r-2026/profiles.xlsx?rule=mode",
            "profilesJsonUrl": "https://stagewise.example.org/exports/r-2026/profiles.json?rule=mode",
            "heatmapUrl": "https://stagewise.example.org/charts/r-2026/matrix.svg",
        })
    );
    let chart = answer["profile"]["configurationChartUrl"]
        .as_str()
        .expect("a URL");
    assert_eq!(
        chart,
        "https://stagewise.example.org/charts/r-2026/bravo/configuration.svg?rule=median"
    );
    let path = chart
        .strip_prefix(PUBLIC_BASE.trim_end_matches('/'))
        .expect("the configured base");
    let served = fetch(server, &validator, path, "image/svg+xml").await;
    assert!(served.text().contains("data-component=\"5.2\""));
}

async fn exports(backend: Backend) {
    let redis = (backend == Backend::Redis).then(|| Arc::new(RedisServer::start()));
    let server = TestServer::spawn_with(backend, redis, "e2e", |settings| {
        settings.server.public_base_url = PUBLIC_BASE.to_owned();
    })
    .await;
    profile::arrange(&server).await;
    profile::answer(&server).await;
    access(&server).await;
    check_csv(&server).await;
    check_xlsx(&server).await;
    check_json(&server).await;
    check_charts(&server).await;
    check_urls(&server).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_on_redb() {
    exports(Backend::Redb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_on_redis() {
    exports(Backend::Redis).await;
}
