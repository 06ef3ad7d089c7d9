//! The web form in a real browser: headless Chromium driven over WebDriver (Debian's
//! `chromedriver`), from the invitation email to the receipt.
//!
//! A senior manager opens the emailed link, types part of the outcome protocol (the
//! page's script saves it as they type; Save draft keeps the rest) and closes the
//! browser; later, in a fresh browser, the same link shows the draft, they complete every
//! question and submit; the receipt arrives over SMTP and GraphQL shows every answer with
//! channel `WEB`.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::fixtures::{self, ROUND, outcomes};
use crate::support::{Backend, TestServer, data};
use crate::web::{INVITE, RESPONSE, link_in};

/// Debian's ChromeDriver, from the `chromium-driver` package.
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// Debian's Chromium.
const CHROMIUM: &str = "/usr/bin/chromium";
/// The W3C WebDriver key of an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A ChromeDriver process on a free loopback port, killed on drop.
struct Driver {
    process: Child,
    base: String,
    http: reqwest::Client,
}

impl Driver {
    fn start() -> Self {
        for tool in [CHROMEDRIVER, CHROMIUM] {
            assert!(
                std::path::Path::new(tool).exists(),
                "{tool} is missing: install it with `apt-get install -y chromium chromium-driver` \
                 (.ci/run does)"
            );
        }
        let port = tests::free_port();
        let process = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        tests::wait_until("chromedriver listens", Duration::from_secs(20), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        Self {
            process,
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
        }
    }

    /// A new browser with its own empty profile: no cookies from an earlier visit.
    async fn browser(&self, profile: &std::path::Path) -> Browser<'_> {
        let capabilities = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--no-first-run",
                    "--window-size=420,900",
                    format!("--user-data-dir={}", profile.display()),
                ],
            },
        } } });
        let reply = call(
            &self.http,
            "POST",
            &format!("{}/session", self.base),
            capabilities,
        )
        .await;
        let id = reply["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("a WebDriver session: {reply}"))
            .to_owned();
        Browser {
            driver: self,
            url: format!("{}/session/{id}", self.base),
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// One WebDriver command; panics with the driver's message on an error.
async fn call(http: &reqwest::Client, method: &str, url: &str, body: Value) -> Value {
    let request = match method {
        "GET" => http.get(url),
        "DELETE" => http.delete(url),
        _ => http.post(url).json(&body),
    };
    let reply = request.send().await.expect("chromedriver answers");
    let status = reply.status();
    let value: Value = reply.json().await.expect("a JSON answer");
    assert!(status.is_success(), "{method} {url}: {status} {value}");
    value["value"].clone()
}

/// One open browser window.
struct Browser<'a> {
    driver: &'a Driver,
    url: String,
}

impl Browser<'_> {
    async fn command(&self, method: &str, path: &str, body: Value) -> Value {
        call(
            &self.driver.http,
            method,
            &format!("{}{path}", self.url),
            body,
        )
        .await
    }

    async fn go(&self, url: &str) {
        self.command("POST", "/url", json!({ "url": url })).await;
    }

    async fn current_url(&self) -> String {
        let url = self.command("GET", "/url", Value::Null).await;
        url.as_str().expect("a URL").to_owned()
    }

    async fn source(&self) -> String {
        let html = self.command("GET", "/source", Value::Null).await;
        html.as_str().expect("the page").to_owned()
    }

    async fn find_all(&self, css: &str) -> Vec<String> {
        let found = self
            .command(
                "POST",
                "/elements",
                json!({ "using": "css selector", "value": css }),
            )
            .await;
        found
            .as_array()
            .expect("a list")
            .iter()
            .map(|element| {
                element[ELEMENT]
                    .as_str()
                    .unwrap_or_else(|| panic!("an element: {element}"))
                    .to_owned()
            })
            .collect()
    }

    async fn find(&self, css: &str) -> String {
        let all = self.find_all(css).await;
        all.into_iter()
            .next()
            .unwrap_or_else(|| panic!("no element {css}"))
    }

    /// The element's live `value` (what is typed), not the attribute in the HTML.
    async fn value(&self, element: &str) -> String {
        let value = self
            .command(
                "GET",
                &format!("/element/{element}/property/value"),
                Value::Null,
            )
            .await;
        value.as_str().unwrap_or_default().to_owned()
    }

    async fn text(&self, element: &str) -> String {
        let text = self
            .command("GET", &format!("/element/{element}/text"), Value::Null)
            .await;
        text.as_str().unwrap_or_default().to_owned()
    }

    async fn attribute(&self, element: &str, name: &str) -> Option<String> {
        let value = self
            .command(
                "GET",
                &format!("/element/{element}/attribute/{name}"),
                Value::Null,
            )
            .await;
        value.as_str().map(str::to_owned)
    }

    async fn type_text(&self, element: &str, text: &str) {
        self.command(
            "POST",
            &format!("/element/{element}/value"),
            json!({ "text": text }),
        )
        .await;
    }

    /// Clicks an element after scrolling it to the middle of the window, clear of the
    /// sticky bar of buttons at the bottom.
    async fn click(&self, element: &str) {
        self.command(
            "POST",
            "/execute/sync",
            json!({
                "script": "arguments[0].scrollIntoView({block: 'center'});",
                "args": [{ ELEMENT: element }],
            }),
        )
        .await;
        self.command("POST", &format!("/element/{element}/click"), json!({}))
            .await;
    }

    /// Polls until `ready` holds for the page, for at most 15 seconds.
    async fn wait_for(&self, what: &str, ready: impl Fn(&str, &str) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let (url, html) = (self.current_url().await, self.source().await);
            if ready(&url, &html) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "waited 15 s for {what}; at {url}:\n{html}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Closes the window and ends the browser: its session cookie goes with it.
    async fn quit(self) {
        self.command("DELETE", "", Value::Null).await;
    }
}

#[tokio::test]
async fn a_senior_manager_fills_in_the_emailed_form_in_a_browser_over_two_sittings() {
    let driver = Driver::start();
    let sink = tests::smtp::SmtpSink::start();
    let port = tests::free_port();
    let base = format!("http://127.0.0.1:{port}");
    let server = TestServer::spawn_with(Backend::Redb, None, "e2e", |settings| {
        settings.server.bind = format!("127.0.0.1:{port}");
        settings.server.public_base_url = base.clone();
        settings.email.smtp_host = "127.0.0.1".to_owned();
        settings.email.smtp_port = sink.port();
        settings.email.tls = server::config::SmtpTls::None;
        settings.email.from = "Stagewise <survey@example.org>".to_owned();
    })
    .await;
    fixtures::arrange(&server).await;
    server
        .admin(
            INVITE,
            json!({ "input": { "roundId": ROUND, "organisationId": "unicef" } }),
        )
        .await;
    let messages = sink.arrived(2, Duration::from_secs(10)).await;
    let invitation = messages
        .iter()
        .find(|m| m.to == ["p-ben@example.org"])
        .expect("Ben's invitation");
    let raw = tests::smtp::decode_quoted_printable(&invitation.data);
    assert!(raw.contains("multipart/alternative"), "{raw}");
    let link = link_in(&raw, &base);
    let secret = link.rsplit('/').next().expect("secret").to_owned();
    let read_answers = || async {
        let reply = server
            .admin(RESPONSE, json!({ "response": outcomes("unicef", "p-ben") }))
            .await;
        data(&reply)["response"].clone()
    };

    // First sitting: the link opens the form at a URL without the secret.
    let first_profile = tempfile::tempdir().expect("a browser profile");
    let browser = driver.browser(first_profile.path()).await;
    browser.go(&link).await;
    assert_eq!(browser.current_url().await, format!("{base}/form"));
    assert!(!browser.source().await.contains(&secret));
    let areas = browser.find_all("textarea").await;
    assert!(areas.len() >= 2, "the outcome protocol has text questions");
    // Typing is saved by the page's script, without pressing a button.
    browser
        .type_text(&areas[0], "Drafted in the browser.")
        .await;
    let status = browser.find("#autosave").await;
    let deadline = Instant::now() + Duration::from_secs(15);
    while !browser.text(&status).await.starts_with("Saved") {
        assert!(
            Instant::now() < deadline,
            "the script did not save: {:?}",
            browser.text(&status).await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let response = read_answers().await;
    assert_eq!(response["status"], "DRAFT", "{response}");
    assert_eq!(
        response["answers"],
        json!([{ "questionId": response["answers"][0]["questionId"],
                 "value": { "text": "Drafted in the browser." }, "channel": "WEB" }]),
        "saved as typed, channel WEB"
    );
    // The second answer with the Save draft button, as without JavaScript.
    browser.type_text(&areas[1], "Kept with Save draft.").await;
    let save = browser.find("button[value=save]").await;
    browser.click(&save).await;
    browser
        .wait_for("the saved notice", |url, html| {
            url.ends_with("/form?saved") && html.contains("Your draft is saved")
        })
        .await;
    browser.quit().await;
    let response = read_answers().await;
    assert_eq!(response["answers"].as_array().map(Vec::len), Some(2));

    // Second sitting, a week later in a fresh browser: the draft is there.
    let second_profile = tempfile::tempdir().expect("a browser profile");
    let browser = driver.browser(second_profile.path()).await;
    browser.go(&link).await;
    assert_eq!(browser.current_url().await, format!("{base}/form"));
    let areas = browser.find_all("textarea").await;
    assert_eq!(browser.value(&areas[0]).await, "Drafted in the browser.");
    assert_eq!(browser.value(&areas[1]).await, "Kept with Save draft.");
    // Complete every question: empty text fields, each radio group, dates.
    for field in browser.find_all("textarea, input[type=text]").await {
        if browser.value(&field).await.trim().is_empty() {
            browser.type_text(&field, "Completed in the browser.").await;
        }
    }
    for date in browser.find_all("input[type=date]").await {
        browser
            .command(
                "POST",
                "/execute/sync",
                json!({ "script": "arguments[0].value = '2026-12-15';", "args": [{ ELEMENT: date }] }),
            )
            .await;
    }
    let mut groups = Vec::new();
    for radio in browser.find_all("input[type=radio]").await {
        let name = browser.attribute(&radio, "name").await.expect("a name");
        if !groups.contains(&name) {
            browser.click(&radio).await;
            groups.push(name);
        }
    }
    let submit = browser.find("button[value=submit]").await;
    browser.click(&submit).await;
    browser
        .wait_for("the confirmation", |url, html| {
            url.ends_with("/form/submitted") && html.contains("your answers are submitted")
        })
        .await;
    // From then on the link shows a read-only copy.
    browser.go(&link).await;
    let html = browser.source().await;
    assert!(
        html.contains("read-only copy") && !html.contains("value=\"save\""),
        "{html}"
    );
    browser.quit().await;

    let receipt = sink.arrived(3, Duration::from_secs(10)).await;
    let receipt = tests::smtp::decode_quoted_printable(&receipt[2].data);
    assert!(
        receipt.contains("Drafted in the browser.")
            && receipt.contains("Kept with Save draft.")
            && receipt.contains("Completed in the browser."),
        "the receipt copies the answers: {receipt}"
    );
    let response = read_answers().await;
    assert_eq!(response["status"], "SUBMITTED", "{response}");
    let answers = response["answers"].as_array().expect("answers");
    assert!(answers.len() > 2, "{response}");
    assert!(
        answers.iter().all(|answer| answer["channel"] == "WEB"),
        "every answer through the web: {response}"
    );
    server.stop().await;
}
