//! Validation packs and the validator's workflow over HTTP, after the six-organisation
//! round of `profile` is answered through the API.
//!
//! - The pack of alpha in HTML, Markdown and JSON (GraphQL and the download): every
//!   component, flag and answer is in it, the three formats carry the same content, and
//!   headless Chromium prints the HTML to a PDF of A4 pages (on redb).
//! - The workflow on both backends: refusals record nothing (round not in validation,
//!   stage 7, unknown component, out-of-scope validator, unknown organisation); validated
//!   stages reach the profile, the matrix, the CSV, the XLSX, the chart and the pack; the
//!   sign-off needs every component; every record is audited with who and when.
//! - A validator out of scope can neither read a pack nor record a validation.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use calamine::{Data, Reader, Xlsx, open_workbook_from_rs};
use serde_json::{Value, json};
use tests::RedisServer;

use crate::profile::{self, ALPHA, COMPONENTS, ROUND};
use crate::support::{Backend, TestServer, data, error_code};

/// The public base URL the server is configured with.
const PUBLIC_BASE: &str = "https://stagewise.example.org";

const PACK: &str = "query($org: String!, $format: PackFormat!) {
  validationPack(roundId: \"r-2026\", organisationId: $org, format: $format) {
    roundId organisationId format contentType fileName text downloadUrl
  }
}";

const RECORD: &str = "mutation($input: RecordValidationInput!) {
  recordValidation(input: $input) {
    validation { componentId stage note evidenceReviewed validator { actor label } at }
  }
}";

const STATUS: &str = "mutation($input: SetValidationStatusInput!) {
  setValidationStatus(input: $input) { status previousStatus validator { actor label } at }
}";

const VALIDATION: &str = "query($org: String!) {
  validation(roundId: \"r-2026\", organisationId: $org) {
    status signOff { validator { label } note at }
    components { componentId stage note evidenceReviewed }
    records { componentId stage status }
  }
}";

const AUDIT: &str = "{ round(id: \"r-2026\") { audit {
  actor action at organisationId componentId stage fromValidationStatus toValidationStatus summary } } }";

/// A GET with an optional bearer token: status, headers and body.
async fn get(
    server: &TestServer,
    token: Option<&str>,
    path: &str,
) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let mut request = reqwest::Client::new().get(format!("{}{path}", server.url));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("the server answers");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.bytes().await.expect("a body").to_vec();
    (status, headers, body)
}

fn header<'h>(headers: &'h reqwest::header::HeaderMap, name: &str) -> &'h str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("no {name} header in {headers:?}"))
}

/// The HTML with handlebars' escapes undone, to search for texts as typed.
fn html_text(html: &str) -> String {
    html.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#x60;", "`")
        .replace("&#x3D;", "=")
        .replace("&amp;", "&")
}

/// The Markdown with its escapes undone: backslashes before punctuation, hard breaks and
/// line breaks in table cells.
fn markdown_text(markdown: &str) -> String {
    let mut out = String::with_capacity(markdown.len());
    let mut chars = markdown.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' && chars.peek().is_some_and(char::is_ascii_punctuation) {
            if let Some(next) = chars.next() {
                out.push(next);
            }
        } else {
            out.push(c);
        }
    }
    out.replace("  \n", "\n").replace("<br>", "\n")
}

/// Every text of the pack model that a reader must find in the HTML and the Markdown.
fn texts_of(pack: &Value) -> Vec<String> {
    let mut texts: Vec<String> = Vec::new();
    let mut push = |value: &Value| {
        if let Some(text) = value.as_str().filter(|t| !t.is_empty()) {
            texts.push(text.to_owned());
        }
    };
    push(&pack["cover"]["organisation"]["name"]);
    push(&pack["cover"]["round"]["title"]);
    for person in pack["cover"]["people"].as_array().expect("people") {
        push(&person["name"]);
    }
    push(&pack["summary_sheet"]["title"]);
    for pillar in pack["summary_sheet"]["pillars"]
        .as_array()
        .expect("pillars")
    {
        push(&pillar["label"]);
        for row in pillar["components"].as_array().expect("rows") {
            push(&row["label"]);
        }
    }
    for flag in pack["flags"].as_array().expect("flags") {
        push(&flag["code"]);
        push(&flag["trigger"]);
        push(&flag["prompt"]);
    }
    for component in pack["components"].as_array().expect("components") {
        for key in [
            "id",
            "name",
            "stage_descriptor",
            "rationale",
            "comments",
            "plans",
        ] {
            push(&component[key]);
        }
        for list in ["evidence", "activities", "other_activities"] {
            for item in component[list].as_array().expect("list") {
                push(&item["text"]);
            }
        }
        if !component["validated"].is_null() {
            push(&component["validated"]["note"]);
            for item in component["validated"]["evidence_reviewed"]
                .as_array()
                .expect("evidence reviewed")
            {
                push(item);
            }
        }
    }
    for area in pack["outcomes"]["areas"].as_array().expect("areas") {
        push(&area["name"]);
        for manager in area["managers"].as_array().expect("managers") {
            push(&manager["name"]);
            for answer in manager["answers"].as_array().expect("answers") {
                push(&answer["question"]);
                push(&answer["answer"]);
            }
        }
    }
    let guides = &pack["guides"];
    for section in guides["focal_points"]["sections"]
        .as_array()
        .expect("sections")
    {
        push(&section["text"]);
    }
    for concern in guides["focal_points"]["concerns"]
        .as_array()
        .expect("concerns")
    {
        push(&concern["title"]);
        push(&concern["text"]);
        for point in concern["points"].as_array().expect("points") {
            push(point);
        }
    }
    push(&guides["senior_managers"]["guide"]["text"]);
    push(&guides["senior_managers"]["target_source"]);
    texts
}

/// The three formats of alpha's pack through GraphQL, checked against the download.
async fn packs_of(server: &TestServer, token: &str) -> (String, String, Value) {
    let mut documents = Vec::new();
    for (format, extension, content_type) in [
        ("HTML", "html", "text/html; charset=utf-8"),
        ("MARKDOWN", "md", "text/markdown; charset=utf-8"),
        ("JSON", "json", "application/json"),
    ] {
        let response = server
            .graphql_as(
                Some(token),
                None,
                PACK,
                json!({ "org": "alpha", "format": format }),
            )
            .await;
        let pack = &data(&response)["validationPack"];
        assert_eq!(pack["format"], format);
        assert_eq!(pack["contentType"], content_type);
        assert_eq!(
            pack["fileName"],
            format!("r-2026-alpha-validation-pack.{extension}")
        );
        let url = format!("{PUBLIC_BASE}/packs/r-2026/alpha.{extension}");
        assert_eq!(pack["downloadUrl"], url.as_str());
        let text = pack["text"].as_str().expect("text").to_owned();

        // The download is the same document (prepared at its own time).
        let path = url.strip_prefix(PUBLIC_BASE).expect("the base");
        let (status, headers, body) = get(server, Some(token), path).await;
        assert_eq!(status, 200, "{path}");
        assert_eq!(header(&headers, "content-type"), content_type);
        assert_eq!(header(&headers, "cache-control"), "no-store");
        assert_eq!(header(&headers, "x-content-type-options"), "nosniff");
        let disposition = if extension == "html" {
            "inline"
        } else {
            "attachment"
        };
        assert_eq!(
            header(&headers, "content-disposition"),
            format!("{disposition}; filename=\"r-2026-alpha-validation-pack.{extension}\"")
        );
        if extension == "html" {
            assert_eq!(
                header(&headers, "content-security-policy"),
                "default-src 'none'; style-src 'unsafe-inline'"
            );
        }
        let downloaded = String::from_utf8(body).expect("UTF-8");
        let without_time = |text: &str| {
            text.lines()
                .filter(|line| !line.contains("prepared"))
                .collect::<Vec<_>>()
                .join("\n")
        };
        assert_eq!(
            without_time(&downloaded),
            without_time(&text),
            "{extension}: the download and GraphQL give the same pack"
        );
        documents.push(text);
    }
    let json: Value = serde_json::from_str(&documents[2]).expect("the JSON pack parses");
    (documents[0].clone(), documents[1].clone(), json)
}

/// Every component, flag and answer is in the pack, and the three formats agree.
async fn check_content(server: &TestServer, token: &str) -> String {
    let (html, markdown, pack) = packs_of(server, token).await;
    assert_eq!(pack["format"], "stagewise.validation-pack");
    assert_eq!(pack["version"], 1);
    let html_plain = html_text(&html);
    let markdown_plain = markdown_text(&markdown);

    // Components: all 17, in order, with the self-assessed stages.
    let components = pack["components"].as_array().expect("components");
    let ids: Vec<&str> = components
        .iter()
        .map(|c| c["id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids, COMPONENTS);
    let stages: Vec<u64> = components
        .iter()
        .map(|c| c["stage"].as_u64().expect("stage"))
        .collect();
    assert_eq!(stages, ALPHA.map(u64::from));

    // Flags: exactly the profile's flags, each with its trigger and prompt.
    let flags = server
        .graphql_as(
            Some(token),
            None,
            "{ flags(roundId: \"r-2026\", organisationId: \"alpha\") { code componentId trigger prompt { text } } }",
            json!({}),
        )
        .await;
    let flags = data(&flags)["flags"].as_array().expect("flags").clone();
    assert!(flags.len() >= 5, "alpha raises flags: {flags:?}");
    let packed = pack["flags"].as_array().expect("flags");
    assert_eq!(packed.len(), flags.len());
    for (flag, in_pack) in flags.iter().zip(packed) {
        assert_eq!(flag["code"], in_pack["code"]);
        assert_eq!(flag["trigger"], in_pack["trigger"]);
        assert_eq!(flag["prompt"]["text"], in_pack["prompt"]);
        for document in [&html_plain, &markdown_plain] {
            for text in [&flag["code"], &flag["trigger"], &flag["prompt"]["text"]] {
                let text = text.as_str().expect("text");
                assert!(document.contains(text), "the pack shows {text:?}");
            }
        }
    }

    // Answers as given through the API.
    let mut answers: Vec<String> = COMPONENTS
        .iter()
        .zip(ALPHA)
        .filter(|(c, _)| **c != "3.4")
        .map(|(c, n)| format!("Why {c} is at {n}."))
        .collect();
    answers.extend(
        COMPONENTS
            .iter()
            .filter(|c| !matches!(**c, "2.2" | "2.5"))
            .map(|c| format!("Policy on {c}")),
    );
    answers.extend(
        [
            "Ms Rao, RBM adviser",
            "Annual report 2025",
            "Staff town halls",
            "Managers answer for results, not spending.",
        ]
        .map(str::to_owned),
    );
    let model = serde_json::to_string(&pack).expect("JSON");
    for answer in &answers {
        assert!(html_plain.contains(answer.as_str()), "HTML: {answer:?}");
        assert!(
            markdown_plain.contains(answer.as_str()),
            "Markdown: {answer:?}"
        );
        assert!(model.contains(answer.as_str()), "JSON: {answer:?}");
    }
    assert!(
        !html_plain.contains("Why 3.4 is at"),
        "3.4 has no rationale"
    );

    // The same content in the three formats: every text of the model in both documents.
    let texts = texts_of(&pack);
    assert!(
        texts.len() > 150,
        "the model holds the texts: {}",
        texts.len()
    );
    for text in &texts {
        assert!(html_plain.contains(text.as_str()), "HTML lacks {text:?}");
        assert!(
            markdown_plain.contains(text.as_str()),
            "Markdown lacks {text:?}"
        );
    }

    // External validity: six organisations answered most components, so distributions
    // are shown; the system-wide dimension lists pillar 5 and the stage-5 claim (2.5).
    let peers = pack["external_validity"]["components"]
        .as_array()
        .expect("peers");
    assert_eq!(peers[0]["n"], 6);
    assert_eq!(peers[0]["withheld"], false);
    let claims: Vec<&str> = pack["system_wide"]["stage5_claims"]
        .as_array()
        .expect("claims")
        .iter()
        .map(|c| c["id"].as_str().expect("id"))
        .collect();
    assert_eq!(claims, ["2.5"]);
    let system: Vec<&str> = pack["system_wide"]["components"]
        .as_array()
        .expect("pillar 5")
        .iter()
        .map(|c| c["id"].as_str().expect("id"))
        .collect();
    assert_eq!(system, ["5.1", "5.2"]);
    // Ben answered; one senior manager of the at least five.
    let managers = &pack["guides"]["senior_managers"];
    assert_eq!(managers["target"], 5);
    assert_eq!(managers["assigned"], 1);
    assert_eq!(managers["answered"], 1);
    assert!(html_plain.contains("1 of the at least 5 senior managers"));
    // Page breaks between components, A4 pages.
    assert_eq!(html.matches("<section class=\"component\"").count(), 17);
    assert!(html.contains("@page { size: A4;"));
    // The configuration chart is inline.
    assert!(html.contains("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    html
}

/// Headless Chromium prints the HTML pack to a PDF with a page per component at least.
async fn print_to_pdf(html: &str) {
    let chromium = std::path::Path::new("/usr/bin/chromium");
    assert!(
        chromium.exists(),
        "headless Chromium is missing at /usr/bin/chromium: install it with `apt-get install chromium`"
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let page = dir.path().join("pack.html");
    let pdf = dir.path().join("pack.pdf");
    std::fs::write(&page, html).expect("the HTML is written");
    let profile = dir.path().join("profile");
    let run = tokio::process::Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-pdf-header-footer",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--print-to-pdf={}", pdf.display()))
        .arg(format!("file://{}", page.display()))
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("Chromium prints within two minutes")
        .expect("Chromium starts");
    assert!(
        output.status.success(),
        "Chromium failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let bytes = std::fs::read(&pdf).expect("Chromium wrote the PDF");
    assert!(bytes.starts_with(b"%PDF"), "a PDF");
    let text = String::from_utf8_lossy(&bytes);
    let pages = text.matches("/Type /Page").count() - text.matches("/Type /Pages").count();
    assert!(
        pages >= COMPONENTS.len() + 5,
        "a page per component and the other sections: {pages} pages"
    );
    let a4 = text.contains("/MediaBox [0 0 594.96 841.92]")
        || text.contains("/MediaBox [0 0 595 842]")
        || text.contains("/MediaBox [0 0 594.95996 841.91998]");
    assert!(a4, "A4 pages");
}

async fn record(server: &TestServer, token: &str, component: &str, stage: i64) -> Value {
    server
        .graphql_as(
            Some(token),
            None,
            RECORD,
            json!({ "input": {
                "roundId": ROUND,
                "organisationId": "alpha",
                "componentId": component,
                "stage": stage,
                "note": format!("Checked {component} against the files."),
                "evidenceReviewed": [format!("File on {component}"), "Interview with Ana"],
            } }),
        )
        .await
}

async fn state(server: &TestServer, token: &str) -> (Value, Value) {
    let validation = server
        .graphql_as(Some(token), None, VALIDATION, json!({ "org": "alpha" }))
        .await;
    let audit = server.admin(AUDIT, json!({})).await;
    (
        data(&validation)["validation"].clone(),
        data(&audit)["round"]["audit"].clone(),
    )
}

async fn set_round(server: &TestServer, status: &str) -> Value {
    server
        .admin(
            "mutation($input: SetRoundStatusInput!) { setRoundStatus(input: $input) { previousStatus } }",
            json!({ "input": { "roundId": ROUND, "status": status } }),
        )
        .await
}

/// The workflow: refusals, recording, the stages everywhere, sign-off, audit.
async fn workflow(server: &TestServer) {
    let validator = server.validator(&[ROUND]).await;
    let outside = server.validator(&["r-other"]).await;
    let (empty, audit_before) = state(server, &validator).await;
    assert_eq!(empty["status"], "NOT_STARTED");
    assert_eq!(empty["records"], json!([]));

    // While the round is open, nothing is recorded.
    let open = record(server, &validator, "2.5", 4).await;
    assert_eq!(error_code(&open), Some("CONFLICT"), "{open}");
    data(&set_round(server, "CLOSED").await);
    data(&set_round(server, "IN_VALIDATION").await);
    let audit_open = state(server, &validator).await.1;

    // Bad input and callers without access: coded errors, nothing written.
    let stage7 = record(server, &validator, "2.5", 7).await;
    assert_eq!(error_code(&stage7), Some("BAD_USER_INPUT"), "{stage7}");
    assert!(
        stage7["errors"][0]["extensions"]["details"][0]
            .as_str()
            .is_some_and(|d| d.contains("stage")),
        "{stage7}"
    );
    let unknown = record(server, &validator, "9.9", 3).await;
    assert_eq!(error_code(&unknown), Some("BAD_USER_INPUT"), "{unknown}");
    let refused = record(server, &outside, "2.5", 4).await;
    assert_eq!(error_code(&refused), Some("FORBIDDEN"), "{refused}");
    let anonymous = server
        .graphql_as(
            None,
            None,
            RECORD,
            json!({ "input": { "roundId": ROUND, "organisationId": "alpha", "componentId": "2.5", "stage": 4 } }),
        )
        .await;
    assert_eq!(error_code(&anonymous), Some("UNAUTHENTICATED"));
    let stranger = server
        .graphql_as(
            Some(&validator),
            None,
            RECORD,
            json!({ "input": { "roundId": ROUND, "organisationId": "zulu", "componentId": "2.5", "stage": 4 } }),
        )
        .await;
    assert_eq!(error_code(&stranger), Some("NOT_FOUND"), "{stranger}");
    let status_refused = server
        .graphql_as(
            Some(&outside),
            None,
            STATUS,
            json!({ "input": { "roundId": ROUND, "organisationId": "alpha", "status": "IN_VALIDATION" } }),
        )
        .await;
    assert_eq!(error_code(&status_refused), Some("FORBIDDEN"));
    let (unchanged, audit_after) = state(server, &validator).await;
    assert_eq!(unchanged, empty, "refusals record nothing");
    assert_eq!(
        audit_after, audit_open,
        "refusals add nothing to the audit log"
    );
    assert!(
        audit_open.as_array().expect("audit").len()
            == audit_before.as_array().expect("audit").len() + 2,
        "only the two status changes of the round"
    );

    // 2.5 (self-assessed 5, no evaluation cited) validated at 4.
    let recorded = record(server, &validator, "2.5", 4).await;
    let judgement = &data(&recorded)["recordValidation"]["validation"];
    assert_eq!(judgement["componentId"], "2.5");
    assert_eq!(judgement["stage"], 4);
    assert_eq!(
        judgement["evidenceReviewed"],
        json!(["File on 2.5", "Interview with Ana"])
    );
    assert_eq!(judgement["validator"]["label"], "test");
    let actor = judgement["validator"]["actor"]
        .as_str()
        .expect("actor")
        .to_owned();
    assert!(actor.starts_with("token:t-"), "{actor}");

    // The validated stage reaches the profile and the matrix.
    let profile = server
        .graphql_as(
            Some(&validator),
            None,
            "{ profile(roundId: \"r-2026\", organisationId: \"alpha\") {
                 validationStatus validatedComponents components { id stage validatedStage } }
               roundMatrix(roundId: \"r-2026\") {
                 components { id validation { organisations meanDifference } }
                 rows { organisationId validatedStages } } }",
            json!({}),
        )
        .await;
    let answer = data(&profile);
    assert_eq!(answer["profile"]["validationStatus"], "IN_VALIDATION");
    assert_eq!(answer["profile"]["validatedComponents"], 1);
    let component = &answer["profile"]["components"][7];
    assert_eq!(
        (
            component["id"].clone(),
            component["stage"].clone(),
            component["validatedStage"].clone()
        ),
        (json!("2.5"), json!(5), json!(4))
    );
    let column = &answer["roundMatrix"]["components"][7];
    assert_eq!(column["id"], "2.5");
    assert_eq!(
        column["validation"],
        json!({ "organisations": 1, "meanDifference": 1.0 })
    );
    assert_eq!(
        answer["roundMatrix"]["components"][0]["validation"],
        json!({ "organisations": 0, "meanDifference": null })
    );
    assert_eq!(answer["roundMatrix"]["rows"][0]["organisationId"], "alpha");
    assert_eq!(answer["roundMatrix"]["rows"][0]["validatedStages"][7], 4);

    // The exports: the CSV's validated_stage, the workbook's "Validated stage" column,
    // and the chart's validated marker.
    let (status, _, csv) = get(server, Some(&validator), "/exports/r-2026/profiles.csv").await;
    assert_eq!(status, 200);
    let mut reader = csv::Reader::from_reader(csv.as_slice());
    let headers = reader.headers().expect("headers").clone();
    let column = headers
        .iter()
        .position(|h| h == "validated_stage")
        .expect("a validated_stage column");
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
    let cell = |organisation: &str, component: &str| {
        rows.iter()
            .find(|r| &r[1] == organisation && &r[4] == component)
            .map(|r| r[column].to_owned())
            .expect("a row")
    };
    assert_eq!(cell("alpha", "2.5"), "4");
    assert_eq!(cell("alpha", "2.4"), "");
    assert_eq!(cell("bravo", "2.5"), "");
    let (status, _, xlsx) = get(server, Some(&validator), "/exports/r-2026/profiles.xlsx").await;
    assert_eq!(status, 200);
    let mut workbook: Xlsx<_> =
        open_workbook_from_rs(std::io::Cursor::new(xlsx)).expect("a workbook");
    let summary = workbook
        .worksheet_range("Summary")
        .expect("the summary sheet");
    let cells: Vec<String> = summary
        .rows()
        .flat_map(|row| row.iter().map(Data::to_string))
        .collect();
    assert!(cells.iter().any(|c| c == "Validated stage"), "{cells:?}");
    let (status, _, svg) = get(
        server,
        Some(&validator),
        "/charts/r-2026/alpha/configuration.svg",
    )
    .await;
    assert_eq!(status, 200);
    let svg = String::from_utf8(svg).expect("UTF-8");
    let document = roxmltree::Document::parse(&svg).expect("the chart parses");
    let markers: Vec<String> = document
        .descendants()
        .filter(|n| n.attribute("class") == Some("validated-value"))
        .filter_map(|n| n.text().map(str::to_owned))
        .collect();
    assert!(markers.iter().any(|m| m == "4"), "{markers:?}");

    // Sign-off needs every component: the 16 others are listed.
    let early = server
        .graphql_as(
            Some(&validator),
            None,
            STATUS,
            json!({ "input": { "roundId": ROUND, "organisationId": "alpha", "status": "VALIDATED" } }),
        )
        .await;
    assert_eq!(error_code(&early), Some("CONFLICT"), "{early}");
    let missing = early["errors"][0]["extensions"]["details"]
        .as_array()
        .expect("details");
    assert_eq!(missing.len(), 16);
    assert!(!missing.contains(&json!("2.5")));

    // The others confirmed (2.2 one lower: only a person as evidence), then signed off.
    for (component, stage) in COMPONENTS.iter().zip(ALPHA) {
        let stage = match *component {
            "2.5" => continue,
            "2.2" => i64::from(stage) - 1,
            _ => i64::from(stage),
        };
        data(&record(server, &validator, component, stage).await);
    }
    let signed = server
        .graphql_as(
            Some(&validator),
            None,
            STATUS,
            json!({ "input": { "roundId": ROUND, "organisationId": "alpha", "status": "VALIDATED",
                               "note": "Signed off after the interviews." } }),
        )
        .await;
    let signed = &data(&signed)["setValidationStatus"];
    assert_eq!(signed["status"], "VALIDATED");
    assert_eq!(signed["previousStatus"], "IN_VALIDATION");
    assert_eq!(signed["validator"]["actor"], actor.as_str());

    // Signed off: no more judgements until it is put back in validation.
    let late = record(server, &validator, "1.1", 2).await;
    assert_eq!(error_code(&late), Some("CONFLICT"), "{late}");
    // The round cannot be validated while the five others are not.
    let round = set_round(server, "VALIDATED").await;
    assert_eq!(error_code(&round), Some("CONFLICT"), "{round}");
    assert!(
        round["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("bravo")),
        "{round}"
    );

    // The record and the audit log: every act, who and when.
    let (validation, audit) = state(server, &validator).await;
    assert_eq!(validation["status"], "VALIDATED");
    assert_eq!(
        validation["signOff"]["note"],
        "Signed off after the interviews."
    );
    assert_eq!(validation["components"].as_array().map(Vec::len), Some(17));
    assert_eq!(validation["records"].as_array().map(Vec::len), Some(18));
    let acts: Vec<&Value> = audit
        .as_array()
        .expect("audit")
        .iter()
        .filter(|e| {
            matches!(
                e["action"].as_str(),
                Some("COMPONENT_VALIDATED" | "VALIDATION_STATUS_CHANGED")
            )
        })
        .collect();
    assert_eq!(acts.len(), 18);
    for act in &acts {
        assert_eq!(act["actor"], actor.as_str());
        assert_eq!(act["organisationId"], "alpha");
        assert!(act["at"].as_str().is_some_and(|at| at.ends_with('Z')));
    }
    assert_eq!(acts[0]["componentId"], "2.5");
    assert_eq!(acts[0]["stage"], 4);
    assert_eq!(
        acts[0]["summary"],
        "component 2.5 of alpha validated at stage 4"
    );
    let last = acts.last().expect("sign-off");
    assert_eq!(last["fromValidationStatus"], "IN_VALIDATION");
    assert_eq!(last["toValidationStatus"], "VALIDATED");

    // The pack shows the validation.
    let response = server
        .graphql_as(
            Some(&validator),
            None,
            PACK,
            json!({ "org": "alpha", "format": "JSON" }),
        )
        .await;
    let pack: Value = serde_json::from_str(
        data(&response)["validationPack"]["text"]
            .as_str()
            .expect("text"),
    )
    .expect("JSON");
    assert_eq!(pack["cover"]["validation"]["status"], "validated");
    assert_eq!(
        pack["cover"]["validation"]["sign_off"]["note"],
        "Signed off after the interviews."
    );
    let worksheet: Vec<(String, Value)> = pack["worksheet"]["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            (
                r["component"].as_str().expect("id").to_owned(),
                r["validated_stage"].clone(),
            )
        })
        .collect();
    assert_eq!(worksheet[4], ("2.2".to_owned(), json!(3)));
    assert_eq!(worksheet[7], ("2.5".to_owned(), json!(4)));
    assert_eq!(pack["summary_sheet"]["has_validated"], true);
    assert_eq!(
        pack["components"][7]["validated"]["evidence_reviewed"],
        json!(["File on 2.5", "Interview with Ana"])
    );
}

/// A validator out of scope reads no pack, over GraphQL or HTTP; unknown organisations
/// and formats are 404 for those who may ask.
async fn access(server: &TestServer) {
    let outside = server.validator(&["r-other"]).await;
    let inside = server.validator(&[ROUND]).await;
    let bot = server.token(server::domain::TokenRole::Bot).await;
    for token in [&outside, &bot] {
        let refused = server
            .graphql_as(
                Some(token),
                None,
                PACK,
                json!({ "org": "alpha", "format": "HTML" }),
            )
            .await;
        assert_eq!(error_code(&refused), Some("FORBIDDEN"), "{refused}");
        assert!(refused["data"].is_null());
    }
    let anonymous = server
        .graphql_as(
            None,
            None,
            PACK,
            json!({ "org": "alpha", "format": "HTML" }),
        )
        .await;
    assert_eq!(error_code(&anonymous), Some("UNAUTHENTICATED"));
    for extension in ["html", "md", "json"] {
        let path = format!("/packs/r-2026/alpha.{extension}");
        let (status, headers, _) = get(server, None, &path).await;
        assert_eq!(status, 401, "{path}");
        assert_eq!(header(&headers, "www-authenticate"), "Bearer");
        for token in [&outside, &bot] {
            let (status, _, body) = get(server, Some(token), &path).await;
            assert_eq!(status, 403, "{path}");
            let body: Value = serde_json::from_slice(&body).expect("a JSON error");
            assert_eq!(body["errors"][0]["extensions"]["code"], "FORBIDDEN");
        }
        // Out of scope, the round is not even looked up.
        let (status, _, _) = get(
            server,
            Some(&outside),
            &format!("/packs/r-1999/alpha.{extension}"),
        )
        .await;
        assert_eq!(status, 403);
    }
    for path in [
        "/packs/r-2026/zulu.html",
        "/packs/r-2026/alpha.pdf",
        "/packs/r-2026/alpha",
        "/packs/r-1999/alpha.md",
    ] {
        let token = if path.contains("r-1999") {
            &server.admin
        } else {
            &inside
        };
        let (status, _, body) = get(server, Some(token), path).await;
        assert_eq!(status, 404, "{path}: {}", String::from_utf8_lossy(&body));
    }
    let unknown = server
        .graphql_as(
            Some(&inside),
            None,
            PACK,
            json!({ "org": "zulu", "format": "JSON" }),
        )
        .await;
    assert_eq!(error_code(&unknown), Some("NOT_FOUND"), "{unknown}");
}

async fn spawn(backend: Backend) -> TestServer {
    let redis = (backend == Backend::Redis).then(|| Arc::new(RedisServer::start()));
    let server = TestServer::spawn_with(backend, redis, "e2e", |settings| {
        settings.server.public_base_url = format!("{PUBLIC_BASE}/");
    })
    .await;
    profile::arrange(&server).await;
    profile::answer(&server).await;
    server
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packs_on_redb_print_to_pdf() {
    let server = spawn(Backend::Redb).await;
    let validator = server.validator(&[ROUND]).await;
    let html = check_content(&server, &validator).await;
    print_to_pdf(&html).await;
    access(&server).await;
    workflow(&server).await;
    // After the workflow the pack still carries every component, flag and answer.
    check_content(&server, &validator).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packs_on_redis() {
    let server = spawn(Backend::Redis).await;
    let validator = server.validator(&[ROUND]).await;
    check_content(&server, &validator).await;
    access(&server).await;
    workflow(&server).await;
    server.stop().await;
}

/// The demo round (`stagewise-server demo`), end to end: each organisation's HTML pack
/// shows every component, flag and answer text of the pack model, the Markdown carries
/// the same texts, and headless Chromium prints the HTML to PDF.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_rounds_packs_carry_everything_and_print_to_pdf() {
    let server = TestServer::spawn(Backend::Redb).await;
    let state = &server.state;
    server::service::demo::load(
        state.store.as_ref(),
        &state.catalogue,
        state.events.as_ref(),
        server::domain::Timestamp::now(),
    )
    .await
    .expect("the demo loads");
    let demo = server::service::demo::ROUND;
    for (organisation, _, _) in server::service::demo::ORGANISATIONS {
        let mut documents = Vec::new();
        for extension in ["html", "md", "json"] {
            let path = format!("/packs/{demo}/{organisation}.{extension}");
            let (status, _, body) = get(&server, Some(&server.admin), &path).await;
            assert_eq!(status, 200, "{path}");
            documents.push(String::from_utf8(body).expect("UTF-8"));
        }
        let pack: Value = serde_json::from_str(&documents[2]).expect("the JSON pack parses");
        let components = pack["components"].as_array().expect("components");
        assert_eq!(components.len(), 17, "{organisation}");
        assert_eq!(
            documents[0].matches("<section class=\"component\"").count(),
            17,
            "{organisation}: a section per component"
        );
        let html = html_text(&documents[0]);
        let markdown = markdown_text(&documents[1]);
        let texts = texts_of(&pack);
        for flag in pack["flags"].as_array().expect("flags") {
            let code = flag["code"].as_str().expect("code");
            assert!(
                html.contains(code) && markdown.contains(code),
                "{organisation}: {code}"
            );
        }
        for text in &texts {
            assert!(
                html.contains(text.as_str()),
                "{organisation}: the HTML shows {text:?}"
            );
            assert!(
                markdown.contains(text.as_str()),
                "{organisation}: the Markdown shows {text:?}"
            );
        }
        if organisation == "ocr" {
            print_to_pdf(&documents[0]).await;
        }
    }
    server.stop().await;
}

#[test]
fn markdown_unescaping_undoes_the_pack_escapes() {
    assert_eq!(
        markdown_text("a \\*b\\* 1\\. c\\|d  \ne<br>f"),
        "a *b* 1. c|d\ne\nf"
    );
    assert_eq!(html_text("&lt;b&gt; &amp;amp; &#x27;"), "<b> &amp; '");
    let unique: BTreeSet<&str> = COMPONENTS.iter().copied().collect();
    assert_eq!(unique.len(), 17);
}
