//! The web form behind personal links, over HTTP: the link swaps its secret for a
//! session cookie and a redirect, the form saves answers with channel WEB through a POST
//! carrying the CSRF token, and forged, revoked or CSRF-less requests change nothing;
//! invitations reach a real SMTP server on loopback, and Submit sends a receipt.

use serde_json::json;
use server::domain::{
    LinkBinding, OrganisationId, PersonId, Respondent, ResponseKey, RoundId, Timestamp,
};
use server::service::links;

use crate::fixtures::{self, ROUND, outcomes};
use crate::support::{Backend, TestServer, data};

/// A client that does not follow redirects and keeps no cookies: each test sees them.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// Ben's outcome-protocol response.
pub fn ben_outcomes() -> ResponseKey {
    ResponseKey {
        round: RoundId::parse(ROUND).expect("id"),
        organisation: OrganisationId::parse("unicef").expect("id"),
        instrument: server::catalogue::InstrumentRef::parse("jiu-rbm-outcomes@1").expect("ref"),
        respondent: Respondent::Person(PersonId::parse("p-ben").expect("id")),
    }
}

/// A link for Ben to his outcome protocol, made through the service.
async fn ben_link(server: &TestServer) -> String {
    let round = server
        .state
        .store
        .round(&RoundId::parse(ROUND).expect("id"))
        .await
        .expect("read")
        .expect("round");
    let link = links::create(
        server.state.store.as_ref(),
        &round,
        LinkBinding {
            response: ben_outcomes(),
            person: PersonId::parse("p-ben").expect("id"),
        },
        Timestamp::now(),
    )
    .await
    .expect("link made");
    links::url(&server.url, &link.secret)
}

/// Opens a link: returns the status, the `Location` and the session cookie
/// (`name=value`), checking the cookie's attributes.
pub async fn open(client: &reqwest::Client, url: &str) -> (u16, Option<String>, Option<String>) {
    let response = client.get(url).send().await.expect("answer");
    let status = response.status().as_u16();
    assert_eq!(
        response.headers()["referrer-policy"],
        "no-referrer",
        "every page sends no referrer"
    );
    assert_eq!(response.headers()["cache-control"], "no-store");
    let location = response
        .headers()
        .get("location")
        .map(|v| v.to_str().expect("ascii").to_owned());
    let cookie = response.headers().get("set-cookie").map(|v| {
        let text = v.to_str().expect("ascii");
        assert!(text.contains("HttpOnly"), "{text}");
        assert!(text.contains("SameSite=Lax"), "{text}");
        assert!(
            !text.contains("Secure"),
            "no Secure over plain http: {text}"
        );
        text.split(';').next().expect("pair").to_owned()
    });
    (status, location, cookie)
}

/// The value of the hidden input `name` in a page.
pub fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).expect("hidden input") + marker.len();
    html[start..].split('"').next().expect("value").to_owned()
}

/// The first text area's field name in a page.
pub fn first_textarea(html: &str) -> String {
    let start = html.find("<textarea").expect("a text area");
    let name = html[start..].find("name=\"").expect("name") + start + 6;
    html[name..].split('"').next().expect("name").to_owned()
}

/// GET `path` with the cookie: status and body.
pub async fn get(client: &reqwest::Client, base: &str, path: &str, cookie: &str) -> (u16, String) {
    let response = client
        .get(format!("{base}{path}"))
        .header("cookie", cookie)
        .send()
        .await
        .expect("answer");
    let status = response.status().as_u16();
    (status, response.text().await.expect("body"))
}

/// POST a form to `/form` with the cookie: status, location and body.
pub async fn post(
    client: &reqwest::Client,
    base: &str,
    cookie: &str,
    fields: &[(&str, &str)],
) -> (u16, Option<String>, String) {
    let body = serde_urlencoded::to_string(fields).expect("encoded");
    let response = client
        .post(format!("{base}/form"))
        .header("cookie", cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .expect("answer");
    let status = response.status().as_u16();
    let location = response
        .headers()
        .get("location")
        .map(|v| v.to_str().expect("ascii").to_owned());
    (status, location, response.text().await.expect("body"))
}

/// Every answer field of a form filled with something valid: text areas and text inputs
/// get `text` (kept where they already hold something), dates a date, each radio group
/// its first option.
pub fn fill_all(html: &str, text: &str) -> Vec<(String, String)> {
    let mut fields: Vec<(String, String)> = Vec::new();
    let attribute = |tag: &str, name: &str| {
        let marker = format!("{name}=\"");
        tag.find(&marker).map(|start| {
            tag[start + marker.len()..]
                .split('"')
                .next()
                .unwrap_or_default()
                .to_owned()
        })
    };
    for tag in html.split('<').skip(1) {
        let Some(name) = attribute(tag, "name").filter(|n| n.starts_with("q:")) else {
            continue;
        };
        if fields.iter().any(|(n, _)| *n == name) {
            continue;
        }
        let value = if tag.starts_with("textarea") {
            let current = tag.split_once('>').map_or("", |(_, rest)| rest);
            if current.trim().is_empty() {
                text.to_owned()
            } else {
                current.to_owned()
            }
        } else {
            match attribute(tag, "type").as_deref() {
                Some("radio") => attribute(tag, "value").unwrap_or_default(),
                Some("date") => "2026-01-15".to_owned(),
                _ => attribute(tag, "value")
                    .filter(|v| !v.is_empty())
                    .unwrap_or_else(|| text.to_owned()),
            }
        };
        fields.push((name, value));
    }
    fields
}

pub const RESPONSE: &str = "query($response: ResponseRefInput!) {
  response(response: $response) { status lastSeq answers { questionId value { text } channel } }
}";

#[tokio::test]
async fn a_link_opens_a_session_and_the_form_saves_answers_with_channel_web() {
    for backend in [Backend::Redb, Backend::Redis] {
        let server = TestServer::spawn(backend).await;
        fixtures::arrange(&server).await;
        let url = ben_link(&server).await;
        let client = client();

        // Opening the link twice (a scanner, then the person) changes nothing.
        for _ in 0..2 {
            let head = client.head(&url).send().await.expect("answer");
            assert_eq!(head.status().as_u16(), 303);
            let (status, location, cookie) = open(&client, &url).await;
            assert_eq!(status, 303);
            assert_eq!(location.as_deref(), Some("/form"));
            assert!(cookie.is_some());
        }
        let before = server
            .admin(RESPONSE, json!({ "response": outcomes("unicef", "p-ben") }))
            .await;
        assert_eq!(data(&before)["response"]["lastSeq"], 0);

        let (_, _, cookie) = open(&client, &url).await;
        let cookie = cookie.expect("cookie");
        let (status, html) = get(&client, &server.url, "/form", &cookie).await;
        assert_eq!(status, 200, "{html}");
        assert!(html.contains("width=device-width"));
        assert!(html.contains("Save draft") && html.contains("Submit"));
        let secret = url.rsplit('/').next().expect("secret");
        assert!(!html.contains(secret), "the page never shows the secret");
        let csrf = hidden(&html, "csrf");
        let field = first_textarea(&html);
        let question = field.strip_prefix("q:").expect("question field").to_owned();
        assert!(html.contains("for=\"f-"), "inputs have labels");

        // Without the CSRF token, or with a wrong one, nothing is saved.
        for fields in [
            vec![("action", "save"), (field.as_str(), "forged")],
            vec![
                ("csrf", "0000"),
                ("action", "save"),
                (field.as_str(), "forged"),
            ],
        ] {
            let (status, _, _) = post(&client, &server.url, &cookie, &fields).await;
            assert_eq!(status, 403);
        }
        // Without the session cookie, nothing is saved either.
        let (status, _, _) = post(
            &client,
            &server.url,
            "stagewise_session=forged",
            &[("csrf", &csrf), ("action", "save"), (&field, "forged")],
        )
        .await;
        assert_eq!(status, 401);
        let unchanged = server
            .admin(RESPONSE, json!({ "response": outcomes("unicef", "p-ben") }))
            .await;
        assert_eq!(data(&unchanged)["response"]["lastSeq"], 0);

        let (status, location, _) = post(
            &client,
            &server.url,
            &cookie,
            &[
                ("csrf", &csrf),
                ("request", "r1"),
                ("action", "save"),
                (&field, "Results are reviewed yearly."),
            ],
        )
        .await;
        assert_eq!(status, 303);
        assert_eq!(location.as_deref(), Some("/form?saved"));
        let saved = server
            .admin(RESPONSE, json!({ "response": outcomes("unicef", "p-ben") }))
            .await;
        let response = &data(&saved)["response"];
        assert_eq!(response["status"], "DRAFT");
        assert_eq!(
            response["answers"],
            json!([{ "questionId": question, "value": { "text": "Results are reviewed yearly." }, "channel": "WEB" }])
        );
        // The draft is shown again, with the channel it came through.
        let (_, html) = get(&client, &server.url, "/form?saved", &cookie).await;
        assert!(html.contains("Results are reviewed yearly."));
        assert!(html.contains("Your draft is saved"));
        assert!(html.contains("Answered through web"));

        // Submitting an incomplete response is refused with the missing questions; the
        // answer stays.
        let (status, _, html) = post(
            &client,
            &server.url,
            &cookie,
            &[("csrf", &csrf), ("request", "r2"), ("action", "submit")],
        )
        .await;
        assert_eq!(status, 422, "{html}");
        assert!(html.contains("Please answer the required questions"));

        // An administrator revokes Ben's links (not knowing the secret): that ends its
        // sessions and the link itself, and the audit log says so.
        let revoke = |response: serde_json::Value| json!({ "input": { "response": response } });
        let refused = server
            .admin(REVOKE, revoke(fixtures::stages("unicef")))
            .await;
        assert_eq!(
            crate::support::error_code(&refused),
            Some("BAD_USER_INPUT"),
            "a consolidated response needs the person: {refused}"
        );
        let revoked = server
            .admin(REVOKE, revoke(outcomes("unicef", "p-ben")))
            .await;
        assert_eq!(data(&revoked)["revokeLinks"]["revoked"], 1, "{revoked}");
        let (status, _) = get(&client, &server.url, "/form", &cookie).await;
        assert_eq!(status, 404);
        let (status, _, cookie) = open(&client, &url).await;
        assert_eq!((status, cookie), (404, None));
        let again = server
            .admin(REVOKE, revoke(outcomes("unicef", "p-ben")))
            .await;
        assert_eq!(data(&again)["revokeLinks"]["revoked"], 0, "{again}");
        let audit = server
            .admin(
                "query($id: String!) { round(id: $id) { audit { action personId responseId count } } }",
                json!({ "id": ROUND }),
            )
            .await;
        let entries = data(&audit)["round"]["audit"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let logged: Vec<_> = entries
            .iter()
            .filter(|entry| entry["action"] == "LINKS_REVOKED")
            .collect();
        assert_eq!(
            logged,
            [&json!({ "action": "LINKS_REVOKED", "personId": "p-ben",
                      "responseId": "r-2026/unicef/jiu-rbm-outcomes@1/~p-ben", "count": 1 })],
            "{audit}"
        );
        server.stop().await;
    }
}

#[tokio::test]
async fn forged_links_are_refused_and_repeated_failures_are_rate_limited() {
    let server = TestServer::spawn(Backend::Redb).await;
    fixtures::arrange(&server).await;
    let client = client();
    let forged = format!("{}/l/{}", server.url, "ab".repeat(32));
    for attempt in 0..server::web::MAX_FAILURES {
        let (status, _, cookie) = open(&client, &forged).await;
        assert_eq!((status, cookie), (404, None), "attempt {attempt}");
    }
    let (status, _, _) = open(&client, &forged).await;
    assert_eq!(status, 429, "the next attempt is refused");
    // Even a good link waits until the window ends.
    let url = ben_link(&server).await;
    let (status, _, cookie) = open(&client, &url).await;
    assert_eq!((status, cookie), (429, None));
    // A malformed secret never reaches the store and is refused the same way.
    let (status, _) = server.get("/l/not-hex").await;
    assert_eq!(status, 429);
    server.stop().await;
}

/// Log lines written while a test runs on the current thread's runtime.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log").extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("log")).into_owned()
    }
}

const REVOKE: &str =
    "mutation($input: RevokeLinksInput!) { revokeLinks(input: $input) { revoked } }";

pub const INVITE: &str = "mutation($input: InviteByEmailInput!) {
  inviteByEmail(input: $input) { sent { personId organisationId responseId } failed { personId } }
}";

/// The personal link in a received message: `<base>/l/<64 hex>`.
pub fn link_in(message: &str, base: &str) -> String {
    let prefix = format!("{base}/l/");
    let start = message.find(&prefix).expect("a link to the base URL");
    let secret: String = message[start + prefix.len()..]
        .chars()
        .take_while(char::is_ascii_hexdigit)
        .collect();
    assert_eq!(secret.len(), 64, "256 bits in hex");
    format!("{prefix}{secret}")
}

#[tokio::test]
async fn an_invitation_over_smtp_leads_to_a_draft_with_channel_web_a_submission_and_a_receipt() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter("trace")
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _logs = tracing::subscriber::set_default(subscriber);
    // Other tests on other threads may have registered the server's log call sites while
    // no subscriber of theirs wanted them; recompute which call sites are enabled so this
    // thread's subscriber sees every event.
    tracing::callsite::rebuild_interest_cache();

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
        settings.email.reply_to = "Survey team <team@example.org>".to_owned();
    })
    .await;
    fixtures::arrange(&server).await;
    // Once more, now that seconds have passed: a call site another thread was registering
    // while this subscriber was set (preempted on a busy machine) may have cached the
    // interest computed without it after the first recomputation. The invitation's log
    // line is the one the checks below need.
    tracing::callsite::rebuild_interest_cache();

    // Only admins invite.
    let refused = server
        .graphql_as(
            None,
            None,
            INVITE,
            json!({ "input": { "roundId": ROUND, "organisationId": "unicef" } }),
        )
        .await;
    assert_eq!(
        crate::support::error_code(&refused),
        Some("UNAUTHENTICATED")
    );
    let invited = server
        .admin(
            INVITE,
            json!({ "input": { "roundId": ROUND, "organisationId": "unicef" } }),
        )
        .await;
    let payload = &data(&invited)["inviteByEmail"];
    assert_eq!(payload["failed"], json!([]));
    assert_eq!(
        payload["sent"],
        json!([
            { "personId": "p-ana", "organisationId": "unicef", "responseId": "r-2026/unicef/jiu-rbm-stages@1" },
            { "personId": "p-ben", "organisationId": "unicef", "responseId": "r-2026/unicef/jiu-rbm-outcomes@1/~p-ben" },
        ])
    );
    let messages = sink.arrived(2, std::time::Duration::from_secs(10)).await;
    assert_eq!(messages.len(), 2);
    let ben = messages
        .iter()
        .find(|m| m.to == ["p-ben@example.org"])
        .expect("Ben's message");
    assert_eq!(ben.from, "survey@example.org");
    let raw = tests::smtp::decode_quoted_printable(&ben.data);
    assert!(raw.contains("multipart/alternative"), "{raw}");
    assert!(
        raw.contains("text/plain") && raw.contains("text/html"),
        "{raw}"
    );
    assert!(
        raw.contains("Reply-To: \"Survey team\" <team@example.org>")
            || raw.contains("Reply-To: Survey team <team@example.org>"),
        "{raw}"
    );
    assert!(raw.contains("Subject: "), "{raw}");
    let url = link_in(&raw, &base);
    assert!(
        url.starts_with("http://127.0.0.1:"),
        "links point at loopback"
    );
    let secret = url.rsplit('/').next().expect("secret").to_owned();

    let client = client();
    let (status, location, cookie) = open(&client, &url).await;
    assert_eq!((status, location.as_deref()), (303, Some("/form")));
    let cookie = cookie.expect("cookie");
    let (status, html) = get(&client, &base, "/form", &cookie).await;
    assert_eq!(status, 200);
    let csrf = hidden(&html, "csrf");
    let field = first_textarea(&html);
    let (status, _, _) = post(
        &client,
        &base,
        &cookie,
        &[
            ("csrf", &csrf),
            ("request", "r1"),
            ("action", "save"),
            (&field, "From the email."),
        ],
    )
    .await;
    assert_eq!(status, 303);
    let saved = server
        .admin(RESPONSE, json!({ "response": outcomes("unicef", "p-ben") }))
        .await;
    assert_eq!(
        data(&saved)["response"]["answers"][0]["channel"],
        "WEB",
        "{saved}"
    );

    // Later: the draft is there; complete every question and submit.
    let (_, html) = get(&client, &base, "/form", &cookie).await;
    assert!(html.contains("From the email."), "the draft is found again");
    let mut fields = fill_all(&html, "Answered on the web.");
    assert!(fields.len() > 1, "{fields:?}");
    fields.push(("csrf".to_owned(), csrf.clone()));
    fields.push(("request".to_owned(), "r2".to_owned()));
    fields.push(("action".to_owned(), "submit".to_owned()));
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let (status, location, body) = post(&client, &base, &cookie, &pairs).await;
    assert_eq!(
        (status, location.as_deref()),
        (303, Some("/form/submitted")),
        "{body}"
    );
    let (status, html) = get(&client, &base, "/form/submitted", &cookie).await;
    assert_eq!(status, 200);
    assert!(html.contains("your answers are submitted"), "{html}");
    let (_, html) = get(&client, &base, "/form", &cookie).await;
    assert!(html.contains("read-only copy") && html.contains("To ask for a change"));
    assert!(!html.contains("Save draft"), "no more saving");
    let submitted = server
        .admin(RESPONSE, json!({ "response": outcomes("unicef", "p-ben") }))
        .await;
    assert_eq!(data(&submitted)["response"]["status"], "SUBMITTED");
    let messages = sink.arrived(3, std::time::Duration::from_secs(10)).await;
    let receipt = tests::smtp::decode_quoted_printable(&messages[2].data);
    assert_eq!(messages[2].to, ["p-ben@example.org"]);
    assert!(receipt.contains("your answers are submitted"), "{receipt}");
    assert!(
        receipt.contains("From the email.") && receipt.contains("Answered on the web."),
        "{receipt}"
    );
    // The link still opens, read-only.
    let (status, location, _) = open(&client, &url).await;
    assert_eq!((status, location.as_deref()), (303, Some("/form")));

    // The secret is in neither the logs nor the store's file.
    let logs = captured.text();
    assert!(logs.contains("invitation sent"), "the logs were captured");
    assert!(!logs.contains(&secret), "a secret was logged");
    // Read while the server runs: its data folder goes when it stops. redb has committed
    // every acknowledged write to the file.
    let stored = std::fs::read(server.state.settings.redb_path()).expect("the store's file");
    assert!(
        !stored
            .windows(secret.len())
            .any(|window| window == secret.as_bytes()),
        "a secret was stored"
    );
    let hash = server::domain::TokenHash::of(&secret);
    assert!(
        stored.windows(32).any(|w| w == hash.as_bytes())
            || stored.windows(64).any(|w| w == hash.to_hex().as_bytes()),
        "the hash is what the store keeps"
    );
    server.stop().await;
}

/// The headless Chromium the tests drive.
const CHROMIUM: &str = "/usr/bin/chromium";

#[tokio::test]
async fn a_headless_browser_visit_like_a_scanner_changes_nothing_and_leaves_the_link_valid() {
    assert!(
        std::path::Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: install it with `apt-get install -y chromium` (.ci/run does)"
    );
    let server = TestServer::spawn(Backend::Redb).await;
    fixtures::arrange(&server).await;
    let url = ben_link(&server).await;
    let profile = tempfile::tempdir().expect("browser profile");
    let browse = url.clone();
    let profile_dir = profile.path().to_path_buf();
    // Chromium follows the redirect with the cookie, runs the page and prints its DOM.
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(CHROMIUM)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-dev-shm-usage",
                &format!("--user-data-dir={}", profile_dir.display()),
                "--dump-dom",
                &browse,
            ])
            .output()
    })
    .await
    .expect("joined")
    .expect("chromium runs");
    let dom = String::from_utf8_lossy(&output.stdout);
    assert!(
        dom.contains("Save draft") && dom.contains("name=\"csrf\""),
        "the browser reached the form: {dom}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let secret = url.rsplit('/').next().expect("secret");
    assert!(!dom.contains(secret), "the page never holds the secret");
    let after = server
        .admin(RESPONSE, json!({ "response": outcomes("unicef", "p-ben") }))
        .await;
    assert_eq!(data(&after)["response"]["lastSeq"], 0, "nothing changed");
    let (status, location, _) = open(&client(), &url).await;
    assert_eq!(
        (status, location.as_deref()),
        (303, Some("/form")),
        "the link still works"
    );
    server.stop().await;
}

#[tokio::test]
async fn expired_links_and_links_of_a_closed_round_are_refused() {
    let server = TestServer::spawn(Backend::Redb).await;
    fixtures::arrange(&server).await;
    let client = client();
    let store = server.state.store.as_ref();

    // Expired: the same binding with an `expires_at` in the past.
    let secret = server::service::access::new_secret().expect("randomness");
    store
        .put_link_token(&server::domain::LinkToken {
            hash: server::domain::TokenHash::of(&secret),
            binding: LinkBinding {
                response: ben_outcomes(),
                person: PersonId::parse("p-ben").expect("id"),
            },
            expires_at: Timestamp::now().plus_millis(-1000),
            revoked: false,
            created_at: Timestamp::now().plus_millis(-2000),
        })
        .await
        .expect("stored");
    let (status, _, cookie) = open(&client, &links::url(&server.url, &secret)).await;
    assert_eq!((status, cookie), (404, None));

    // Closing the round ends a working link and its session.
    let url = ben_link(&server).await;
    let (_, _, cookie) = open(&client, &url).await;
    let cookie = cookie.expect("cookie");
    let (status, _) = get(&client, &server.url, "/form", &cookie).await;
    assert_eq!(status, 200);
    let closed = server
        .admin(
            "mutation($input: SetRoundStatusInput!) { setRoundStatus(input: $input) { round { status } } }",
            json!({ "input": { "roundId": ROUND, "status": "CLOSED" } }),
        )
        .await;
    assert_eq!(data(&closed)["setRoundStatus"]["round"]["status"], "CLOSED");
    let (status, _) = get(&client, &server.url, "/form", &cookie).await;
    assert_eq!(status, 404);
    let (status, _, cookie) = open(&client, &url).await;
    assert_eq!((status, cookie), (404, None));
    server.stop().await;
}

#[tokio::test]
async fn without_an_smtp_host_invitations_are_written_to_the_outbox() {
    let outbox = tempfile::tempdir().expect("outbox");
    let dir = outbox.path().to_path_buf();
    let server = TestServer::spawn_with(Backend::Redb, None, "e2e", |settings| {
        settings.email.smtp_host = String::new();
        settings.email.outbox_dir = dir.clone();
    })
    .await;
    fixtures::arrange(&server).await;
    let invited = server
        .admin(INVITE, json!({ "input": { "roundId": ROUND } }))
        .await;
    assert_eq!(
        data(&invited)["inviteByEmail"]["sent"]
            .as_array()
            .map(Vec::len),
        Some(3),
        "Ana, Ben and Cy"
    );
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("outbox written")
        .map(|entry| entry.expect("entry").path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 3);
    assert!(
        files
            .iter()
            .all(|f| f.extension().is_some_and(|e| e == "eml"))
    );
    let message =
        tests::smtp::decode_quoted_printable(&std::fs::read_to_string(&files[0]).expect("message"));
    // The default public base URL of the settings, never the test's Host header.
    let url = link_in(&message, "http://127.0.0.1:8080");
    let local = url.replace("http://127.0.0.1:8080", &server.url);
    let (status, location, _) = open(&client(), &local).await;
    assert_eq!((status, location.as_deref()), (303, Some("/form")));
    server.stop().await;
}

/// The page script's saves (`action=autosave`): a JSON answer with what was saved and the
/// progress; only what changed is written; bad input, a missing CSRF token and a
/// submitted response are refused in JSON (or, for CSRF, as every post is) and change
/// nothing.
#[tokio::test]
async fn autosave_answers_in_json_and_refuses_bad_input_without_changing_anything() {
    let server = TestServer::spawn(Backend::Redb).await;
    fixtures::arrange(&server).await;
    let url = ben_link(&server).await;
    let client = client();
    let (_, _, cookie) = open(&client, &url).await;
    let cookie = cookie.expect("cookie");
    let (_, html) = get(&client, &server.url, "/form", &cookie).await;
    assert!(
        html.contains("id=\"autosave\""),
        "the page has its status line"
    );
    let csrf = hidden(&html, "csrf");
    let field = first_textarea(&html);
    let last_seq = || async {
        let reply = server
            .admin(RESPONSE, json!({ "response": outcomes("unicef", "p-ben") }))
            .await;
        data(&reply)["response"]["lastSeq"].clone()
    };
    let autosave = |request: &'static str, text: String, csrf: String| {
        let (client, base, cookie, field) = (
            client.clone(),
            server.url.clone(),
            cookie.clone(),
            field.clone(),
        );
        async move {
            let (status, location, body) = post(
                &client,
                &base,
                &cookie,
                &[
                    ("csrf", &csrf),
                    ("request", request),
                    ("action", "autosave"),
                    (&field, &text),
                ],
            )
            .await;
            assert_eq!(location, None, "the script gets no redirect");
            (status, body)
        }
    };

    let (status, body) = autosave("a1", "Typed.".to_owned(), csrf.clone()).await;
    assert_eq!(status, 200, "{body}");
    let reply: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(reply["saved"], 1, "{reply}");
    assert_eq!(reply["progress"]["answered"], 1, "{reply}");
    assert_eq!(last_seq().await, 1);

    // The same text again writes nothing.
    let (status, body) = autosave("a2", "Typed.".to_owned(), csrf.clone()).await;
    assert_eq!(status, 200, "{body}");
    let reply: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(reply["saved"], 0, "{reply}");
    assert_eq!(last_seq().await, 1);

    // Too long: a reason in JSON, nothing written.
    let long = "x".repeat(server::domain::MAX_TEXT_CHARS + 1);
    let (status, body) = autosave("a3", long, csrf.clone()).await;
    assert_eq!(status, 422, "{body}");
    let reply: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert!(
        reply["errors"].as_array().is_some_and(|e| !e.is_empty()),
        "{reply}"
    );
    assert_eq!(last_seq().await, 1);

    // Without the session's CSRF token: refused, nothing written.
    let (status, _) = autosave("a4", "Forged.".to_owned(), "0".repeat(64)).await;
    assert_eq!(status, 403);
    assert_eq!(last_seq().await, 1);

    // After submission the script is told, and nothing changes.
    let (_, html) = get(&client, &server.url, "/form", &cookie).await;
    let mut fields = fill_all(&html, "Answered.");
    fields.push(("csrf".to_owned(), csrf.clone()));
    fields.push(("request".to_owned(), "s1".to_owned()));
    fields.push(("action".to_owned(), "submit".to_owned()));
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let (status, location, body) = post(&client, &server.url, &cookie, &pairs).await;
    assert_eq!(
        (status, location.as_deref()),
        (303, Some("/form/submitted")),
        "{body}"
    );
    let submitted = last_seq().await;
    let (status, body) = autosave("a5", "Late.".to_owned(), csrf.clone()).await;
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("already submitted"), "{body}");
    assert_eq!(last_seq().await, submitted);
    server.stop().await;
}
