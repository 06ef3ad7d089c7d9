//! The web form behind emailed links.
//!
//! - `GET /l/{secret}` (and `HEAD`): checks the link and, when it works, starts a
//!   session and answers `303 See Other` to `/form`, a URL without the secret. Opening a
//!   link changes no answer and does not use the link up (mail scanners open links).
//! - `GET /form`: the response's form (or, once submitted, a read-only view).
//! - `POST /form`: Save draft (`action=save`) or Submit (`action=submit`); the body
//!   carries the session's CSRF token.
//! - `GET /form/submitted`: the confirmation after Submit.
//!
//! Sessions are random 256-bit ids kept in this process's memory (`Sessions`), sent as
//! the `stagewise_session` cookie (`HttpOnly`, `SameSite=Lax`, `Path=/`, `Secure` when
//! the public base URL is https), each with its own CSRF token, for
//! [`SESSION_LIFETIME_MILLIS`]. Every request checks the link again in the store, so a
//! revoked link or a closed round ends its sessions at once. Failed link attempts are
//! counted per client IP (the TCP peer address) in memory: [`MAX_FAILURES`] within
//! [`FAILURE_WINDOW_MILLIS`] and further attempts get `429` until the window ends.
//! Every answer carries `Referrer-Policy: no-referrer` and `Cache-Control: no-store`.
//! No secret, session id or link is ever logged.

pub mod form;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use handlebars::Handlebars;
use poem::http::{StatusCode, header};
use poem::web::{Data, Path};
use poem::{Body, Request, Response, Route, get, handler};
use serde_json::json;

use crate::app::AppState;
use crate::domain::{Actor, Channel, LinkToken, ResponseStatus, Timestamp, TokenHash};
use crate::service::answers::{self, SaveAnswers, SaveError};
use crate::service::{access, learning, links};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "stagewise_session";
/// How long a session lasts after the link was opened: 12 hours.
pub const SESSION_LIFETIME_MILLIS: i64 = 12 * 60 * 60 * 1000;
/// Most sessions kept; the oldest are dropped first.
pub const MAX_SESSIONS: usize = 100_000;
/// Failed attempts per client IP within the window before refusing with 429.
pub const MAX_FAILURES: u32 = 10;
/// The window of failed attempts: 10 minutes.
pub const FAILURE_WINDOW_MILLIS: i64 = 10 * 60 * 1000;
/// Largest form body accepted, in bytes.
pub const MAX_FORM_BYTES: usize = 1024 * 1024;

/// A signed-in form session.
#[derive(Clone)]
struct Session {
    link: TokenHash,
    csrf: String,
    expires_at: Timestamp,
}

/// The form sessions and failed attempts of this process.
#[derive(Default)]
pub struct WebState {
    sessions: Mutex<HashMap<TokenHash, Session>>,
    failures: Mutex<HashMap<IpAddr, (Timestamp, u32)>>,
    templates: Templates,
}

impl std::fmt::Debug for WebState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebState").finish_non_exhaustive()
    }
}

/// The compiled page templates (`server/templates/*.html.hbs`).
pub struct Templates(Handlebars<'static>);

impl Default for Templates {
    fn default() -> Self {
        let mut registry = Handlebars::new();
        registry.set_strict_mode(false);
        for (name, source) in [
            ("form", include_str!("../templates/form.html.hbs")),
            ("message", include_str!("../templates/message.html.hbs")),
        ] {
            // The templates are part of the binary; a unit test renders each, so a
            // broken one fails the tests rather than a request.
            if let Err(error) = registry.register_template_string(name, source) {
                tracing::error!(%error, name, "a page template does not compile");
            }
        }
        Self(registry)
    }
}

impl Templates {
    /// Renders page `name` with `data`.
    pub fn render(&self, name: &str, data: &serde_json::Value) -> Result<String, String> {
        self.0.render(name, data).map_err(|error| error.to_string())
    }
}

impl WebState {
    /// Whether `ip` has failed too often lately.
    fn limited(&self, ip: Option<IpAddr>, now: Timestamp) -> bool {
        let Some(ip) = ip else { return false };
        let failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        failures.get(&ip).is_some_and(|(since, count)| {
            *count >= MAX_FAILURES && now < since.plus_millis(FAILURE_WINDOW_MILLIS)
        })
    }

    fn failed(&self, ip: Option<IpAddr>, now: Timestamp) {
        let Some(ip) = ip else { return };
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if failures.len() > MAX_SESSIONS {
            failures.retain(|_, (since, _)| now < since.plus_millis(FAILURE_WINDOW_MILLIS));
        }
        let entry = failures.entry(ip).or_insert((now, 0));
        if now >= entry.0.plus_millis(FAILURE_WINDOW_MILLIS) {
            *entry = (now, 0);
        }
        entry.1 += 1;
    }

    fn start(&self, link: TokenHash, now: Timestamp) -> Result<String, getrandom::Error> {
        let id = access::new_secret()?;
        let csrf = access::new_secret()?;
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        if sessions.len() >= MAX_SESSIONS {
            sessions.retain(|_, session| now < session.expires_at);
            if sessions.len() >= MAX_SESSIONS
                && let Some(oldest) = sessions
                    .iter()
                    .min_by_key(|(_, session)| session.expires_at)
                    .map(|(key, _)| *key)
            {
                sessions.remove(&oldest);
            }
        }
        sessions.insert(
            TokenHash::of(&id),
            Session {
                link,
                csrf,
                expires_at: now.plus_millis(SESSION_LIFETIME_MILLIS),
            },
        );
        Ok(id)
    }

    fn session(&self, id: &str, now: Timestamp) -> Option<Session> {
        let sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        sessions
            .get(&TokenHash::of(id))
            .filter(|session| now < session.expires_at)
            .cloned()
    }
}

/// The web form's routes, added to `route`.
pub fn routes(route: Route) -> Route {
    route
        .at("/l/:secret", get(open_link).head(open_link))
        .at("/form", get(show_form).post(post_form))
        .at("/form/submitted", get(submitted_page))
}

/// Headers every page carries.
fn page(status: StatusCode, html: String) -> Response {
    Response::builder()
        .status(status)
        .content_type("text/html; charset=utf-8")
        .header("Referrer-Policy", "no-referrer")
        .header(header::CACHE_CONTROL, "no-store")
        .header("X-Content-Type-Options", "nosniff")
        .header("X-Frame-Options", "DENY")
        .body(html)
}

fn redirect(location: &str) -> poem::ResponseBuilder {
    Response::builder()
        .status(StatusCode::SEE_OTHER)
        .header(header::LOCATION, location)
        .header("Referrer-Policy", "no-referrer")
        .header(header::CACHE_CONTROL, "no-store")
}

fn message(state: &AppState, status: StatusCode, title: &str, text: &str) -> Response {
    let html = state
        .web
        .templates
        .render("message", &json!({ "title": title, "text": text }))
        .unwrap_or_else(|_| title.to_owned());
    page(status, html)
}

fn client_ip(request: &Request) -> Option<IpAddr> {
    request
        .remote_addr()
        .as_socket_addr()
        .map(std::net::SocketAddr::ip)
}

fn cookie(request: &Request) -> Option<&str> {
    request
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(SESSION_COOKIE)?.strip_prefix('='))
}

fn invalid_link(state: &AppState) -> Response {
    message(
        state,
        StatusCode::NOT_FOUND,
        "This link does not work",
        "The link is unknown, was withdrawn, or its round has closed. Ask the person who \
         sent it for a new one.",
    )
}

fn unavailable(state: &AppState) -> Response {
    message(
        state,
        StatusCode::SERVICE_UNAVAILABLE,
        "Please try again",
        "The service is briefly unavailable. Please try again in a moment.",
    )
}

fn too_many(state: &AppState) -> Response {
    message(
        state,
        StatusCode::TOO_MANY_REQUESTS,
        "Too many attempts",
        "Too many links that do not work were opened from your network. Please wait a few \
         minutes and open the link from your email again.",
    )
}

#[handler]
async fn open_link(
    request: &Request,
    Path(secret): Path<String>,
    Data(state): Data<&Arc<AppState>>,
) -> Response {
    let now = Timestamp::now();
    let ip = client_ip(request);
    if state.web.limited(ip, now) {
        return too_many(state);
    }
    let token = match links::redeem(state.store.as_ref(), &secret, now).await {
        Ok(token) => token,
        Err(links::LinkError::Invalid) => {
            state.web.failed(ip, now);
            tracing::info!("a link that does not work was opened");
            return invalid_link(state);
        }
        Err(error) => {
            tracing::warn!(%error, "cannot check a link");
            return unavailable(state);
        }
    };
    let Ok(session) = state.web.start(token.hash, now) else {
        return unavailable(state);
    };
    let cookie = session_cookie(
        &session,
        state
            .settings
            .settings
            .server
            .public_base_url
            .starts_with("https://"),
    );
    tracing::info!(response = %token.binding.response.id(), "a link was opened");
    redirect("/form")
        .header(header::SET_COOKIE, cookie)
        .finish()
}

/// The `Set-Cookie` value of a new session; `Secure` when the public base URL is https.
fn session_cookie(session: &str, secure: bool) -> String {
    format!(
        "{SESSION_COOKIE}={session}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{}",
        SESSION_LIFETIME_MILLIS / 1000,
        if secure { "; Secure" } else { "" }
    )
}

/// The session and its link, checked again against the store.
async fn signed_in(
    request: &Request,
    state: &AppState,
    now: Timestamp,
) -> Result<(Session, LinkToken), Response> {
    let Some(session) = cookie(request).and_then(|id| state.web.session(id, now)) else {
        return Err(message(
            state,
            StatusCode::UNAUTHORIZED,
            "Please open your link again",
            "Your session has ended or was never started. Open the personal link from your \
             email again.",
        ));
    };
    match links::check(state.store.as_ref(), &session.link, now).await {
        Ok(token) => Ok((session, token)),
        Err(links::LinkError::Invalid) => Err(invalid_link(state)),
        Err(error) => {
            tracing::warn!(%error, "cannot check a link");
            Err(unavailable(state))
        }
    }
}

/// Renders the form (or the read-only view) with optional notices.
async fn render_form(
    state: &AppState,
    session: &Session,
    token: &LinkToken,
    posted: Option<&form::Posted>,
    errors: &[String],
    notice: Option<&str>,
) -> Response {
    let key = &token.binding.response;
    let Ok(instrument) = answers::instrument_for(&state.catalogue, key) else {
        return invalid_link(state);
    };
    let (response, round, organisation, person, activity) = match tokio::try_join!(
        state.store.response(key),
        state.store.round(&key.round),
        state.store.organisation(&key.organisation),
        state.store.person(&token.binding.person),
        state.store.activity(&key.round),
    ) {
        Ok(loaded) => loaded,
        Err(error) => {
            tracing::warn!(%error, "cannot load a form");
            return unavailable(state);
        }
    };
    // A learning activity's period fills the placeholders; its added questions follow
    // the instrument's.
    let values = activity
        .as_ref()
        .map(learning::parameter_values)
        .unwrap_or_default();
    let questions = answers::Questions::of(instrument, activity.as_ref());
    let submitted = response
        .as_ref()
        .is_some_and(|r| r.meta.status == ResponseStatus::Submitted);
    let Ok(request_id) = access::new_secret() else {
        return unavailable(state);
    };
    let data = json!({
        "title": instrument.header().title.as_str(),
        "round": round.as_ref().map(|r| r.title.clone()),
        "deadline": round.as_ref().and_then(|r| r.deadline).map(|d| d.to_rfc3339()),
        "organisation": organisation.as_ref().map(|o| o.name.clone()),
        "person": person.as_ref().map(|p| p.name.clone()),
        "csrf": session.csrf,
        "request": &request_id[..32],
        "submitted": submitted,
        "errors": errors,
        "notice": notice,
        "progress": form::progress(&questions, response.as_ref()),
        "groups": form::groups(&questions, response.as_ref(), posted, &values),
    });
    match state.web.templates.render("form", &data) {
        Ok(html) => page(
            if errors.is_empty() {
                StatusCode::OK
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            },
            html,
        ),
        Err(error) => {
            tracing::error!(%error, "the form does not render");
            message(
                state,
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "The form cannot be shown. Please try again later.",
            )
        }
    }
}

#[handler]
async fn show_form(request: &Request, Data(state): Data<&Arc<AppState>>) -> Response {
    let now = Timestamp::now();
    match signed_in(request, state, now).await {
        Ok((session, token)) => {
            let notice = match request.uri().query() {
                Some("saved") => {
                    Some("Your draft is saved. You can come back to it with your link.")
                }
                _ => None,
            };
            render_form(state, &session, &token, None, &[], notice).await
        }
        Err(response) => response,
    }
}

#[handler]
async fn post_form(request: &Request, body: Body, Data(state): Data<&Arc<AppState>>) -> Response {
    let now = Timestamp::now();
    let (session, token) = match signed_in(request, state, now).await {
        Ok(signed_in) => signed_in,
        Err(response) => return response,
    };
    let Ok(bytes) = body.into_bytes_limit(MAX_FORM_BYTES).await else {
        return message(
            state,
            StatusCode::PAYLOAD_TOO_LARGE,
            "Too much text",
            "The form was too large to save. Please shorten some answers.",
        );
    };
    let posted = match form::read_post(&bytes, &session.csrf) {
        Ok(posted) => posted,
        Err(form::PostRefusal::Csrf) => {
            state.web.failed(client_ip(request), now);
            return message(
                state,
                StatusCode::FORBIDDEN,
                "The form has expired",
                "This form was not sent from your current session. Open your personal link \
                 again and retry; nothing was saved.",
            );
        }
        Err(_) => {
            return message(
                state,
                StatusCode::BAD_REQUEST,
                "The form could not be read",
                "Please open your link again and retry.",
            );
        }
    };
    let key = token.binding.response.clone();
    let Ok(instrument) = answers::instrument_for(&state.catalogue, &key) else {
        return invalid_link(state);
    };
    let (response, questions) = match tokio::try_join!(
        state.store.response(&key),
        answers::questions_for(state.store.as_ref(), instrument, &key.round),
    ) {
        Ok(loaded) => loaded,
        Err(_) => return unavailable(state),
    };
    let autosave = posted.get("action").map(String::as_str) == Some("autosave");
    if response
        .as_ref()
        .is_some_and(|r| r.meta.status == ResponseStatus::Submitted)
    {
        if autosave {
            return json_reply(
                StatusCode::CONFLICT,
                &json!({ "errors": ["Your response is already submitted; nothing was changed."] }),
            );
        }
        return redirect("/form").finish();
    }
    if autosave {
        return autosave_post(state, &token, &questions, response.as_ref(), &posted, now).await;
    }
    let plan = match form::plan_post(&questions, response.as_ref(), &posted) {
        Ok(plan) => plan,
        Err(form::PostRefusal::Problems(problems)) => {
            return render_form(state, &session, &token, Some(&posted), &problems, None).await;
        }
        Err(_) => return unavailable(state),
    };
    let actor = Actor::Person(token.binding.person.clone());
    if !plan.changes.is_empty() {
        let saved = answers::save(
            state.store.as_ref(),
            &state.catalogue,
            SaveAnswers {
                key: key.clone(),
                idempotency_key: plan.save_key,
                answers: plan.changes,
                expected_seq: None,
                actor: actor.clone(),
                channel: Channel::Web,
                at: now,
            },
        )
        .await;
        match saved {
            Ok(receipt) => crate::graphql::answering::announce(state, &key, &receipt).await,
            Err(error) => return refused(state, &session, &token, &posted, &error).await,
        }
    }
    if plan.submit {
        match answers::submit(
            state.store.as_ref(),
            &state.catalogue,
            &key,
            plan.submit_key,
            actor,
            Channel::Web,
            now,
        )
        .await
        {
            Ok(receipt) => {
                crate::graphql::answering::announce(state, &key, &receipt).await;
                tracing::info!(response = %key.id(), "a response was submitted on the web");
                spawn_receipt(Arc::clone(state), token);
                redirect("/form/submitted").finish()
            }
            Err(error) => refused(state, &session, &token, &posted, &error).await,
        }
    } else {
        redirect("/form?saved").finish()
    }
}

/// A JSON answer to the page's script, with the headers every page carries.
fn json_reply(status: StatusCode, body: &serde_json::Value) -> Response {
    Response::builder()
        .status(status)
        .content_type("application/json")
        .header("Referrer-Policy", "no-referrer")
        .header(header::CACHE_CONTROL, "no-store")
        .header("X-Content-Type-Options", "nosniff")
        .body(body.to_string())
}

/// `action=autosave`: the page's script saves what changed as the person types. The
/// same checks and idempotency as Save draft (the script sends a new `request` id with
/// each save), but the answer is JSON for the script — `{"saved": n, "progress": …}` or
/// `{"errors": […]}` — instead of a page, and it never submits.
async fn autosave_post(
    state: &AppState,
    token: &LinkToken,
    questions: &answers::Questions<'_>,
    response: Option<&crate::domain::Response>,
    posted: &form::Posted,
    now: Timestamp,
) -> Response {
    let plan = match form::plan_post(questions, response, posted) {
        Ok(plan) => plan,
        Err(form::PostRefusal::Problems(problems)) => {
            return json_reply(
                StatusCode::UNPROCESSABLE_ENTITY,
                &json!({ "errors": problems }),
            );
        }
        Err(_) => {
            return json_reply(
                StatusCode::BAD_REQUEST,
                &json!({ "errors": ["The form could not be read."] }),
            );
        }
    };
    let saved = plan.changes.len();
    if saved > 0 {
        let key = token.binding.response.clone();
        let result = answers::save(
            state.store.as_ref(),
            &state.catalogue,
            SaveAnswers {
                key,
                idempotency_key: plan.save_key,
                answers: plan.changes,
                expected_seq: None,
                actor: Actor::Person(token.binding.person.clone()),
                channel: Channel::Web,
                at: now,
            },
        )
        .await;
        match result {
            Ok(_) => {}
            Err(SaveError::Invalid(problems)) => {
                let errors: Vec<String> = problems.iter().map(ToString::to_string).collect();
                return json_reply(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    &json!({ "errors": errors }),
                );
            }
            Err(SaveError::Store(error)) => {
                tracing::warn!(%error, "cannot autosave web answers");
                return json_reply(
                    StatusCode::SERVICE_UNAVAILABLE,
                    &json!({ "errors": ["Not saved just now; please try again."] }),
                );
            }
            Err(other) => {
                return json_reply(
                    StatusCode::CONFLICT,
                    &json!({ "errors": [other.to_string()] }),
                );
            }
        }
    }
    let response = match state.store.response(&token.binding.response).await {
        Ok(response) => response,
        Err(error) => {
            tracing::warn!(%error, "cannot read a response after autosave");
            return json_reply(StatusCode::OK, &json!({ "saved": saved }));
        }
    };
    json_reply(
        StatusCode::OK,
        &json!({ "saved": saved, "progress": form::progress(questions, response.as_ref()) }),
    )
}

/// Emails the receipt in the background: the submission stands whether or not it goes.
fn spawn_receipt(state: Arc<AppState>, token: LinkToken) {
    tokio::spawn(async move {
        let key = &token.binding.response;
        let Ok(instrument) = answers::instrument_for(&state.catalogue, key) else {
            return;
        };
        let loaded = tokio::try_join!(
            state.store.response(key),
            state.store.round(&key.round),
            state.store.organisation(&key.organisation),
            state.store.activity(&key.round),
        );
        let (response, round, organisation, activity) = match loaded {
            Ok(loaded) => loaded,
            Err(error) => {
                tracing::warn!(%error, "cannot load a receipt");
                return;
            }
        };
        let values = activity
            .as_ref()
            .map(learning::parameter_values)
            .unwrap_or_default();
        let questions = answers::Questions::of(instrument, activity.as_ref());
        let receipt = crate::service::invitations::Receipt {
            person: token.binding.person.clone(),
            instrument: instrument.header().title.as_str().to_owned(),
            organisation: organisation.map_or_else(|| key.organisation.to_string(), |o| o.name),
            round: round.map_or_else(|| key.round.to_string(), |r| r.title),
            answers: form::answered(&questions, response.as_ref(), &values),
        };
        match crate::service::invitations::send_receipt(
            state.store.as_ref(),
            &state.mailer,
            receipt,
        )
        .await
        {
            Ok(()) => tracing::info!(response = %key.id(), "receipt sent"),
            Err(error) => {
                tracing::warn!(%error, response = %key.id(), "a receipt could not be sent")
            }
        }
    });
}

async fn refused(
    state: &AppState,
    session: &Session,
    token: &LinkToken,
    posted: &form::Posted,
    error: &SaveError,
) -> Response {
    let errors = match error {
        SaveError::Invalid(problems) => problems.iter().map(ToString::to_string).collect(),
        SaveError::Incomplete(missing) => vec![format!(
            "Please answer the required questions before submitting: {}. Your answers are saved.",
            missing.join(", ")
        )],
        SaveError::Store(store) => {
            tracing::warn!(error = %store, "cannot save web answers");
            vec!["Your answers could not be saved just now. Please try again.".to_owned()]
        }
        other => vec![other.to_string()],
    };
    render_form(state, session, token, Some(posted), &errors, None).await
}

#[handler]
async fn submitted_page(request: &Request, Data(state): Data<&Arc<AppState>>) -> Response {
    let now = Timestamp::now();
    if let Err(response) = signed_in(request, state, now).await {
        return response;
    }
    message(
        state,
        StatusCode::OK,
        "Thank you: your answers are submitted",
        "Your response is submitted and can no longer be changed here. Your link now shows \
         a read-only copy. To ask for a change, reply to the invitation email: an \
         administrator can reopen your response.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_compiles_and_renders() {
        let templates = Templates::default();
        for name in ["form", "message"] {
            let html = templates
                .render(name, &json!({ "title": "T<b>", "text": "x", "groups": [] }))
                .unwrap_or_else(|error| panic!("{name}: {error}"));
            assert!(html.contains("T&lt;b&gt;"), "{name} escapes: {html}");
            assert!(html.contains("width=device-width"), "{name} has a viewport");
        }
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let request = Request::builder()
            .header(header::COOKIE, "a=1; stagewise_session=abc; b=2")
            .finish();
        assert_eq!(cookie(&request), Some("abc"));
        let request = Request::builder().header(header::COOKIE, "a=1").finish();
        assert_eq!(cookie(&request), None);
    }

    #[test]
    fn failures_are_limited_per_ip_within_the_window() {
        let web = WebState::default();
        let ip: Option<IpAddr> = "127.0.0.9".parse().ok();
        let start = Timestamp::from_millis(1_000_000);
        for _ in 0..MAX_FAILURES {
            assert!(!web.limited(ip, start));
            web.failed(ip, start);
        }
        assert!(web.limited(ip, start));
        assert!(!web.limited("127.0.0.8".parse().ok(), start));
        assert!(!web.limited(ip, start.plus_millis(FAILURE_WINDOW_MILLIS)));
    }

    #[test]
    fn the_session_cookie_is_secure_behind_https_only() {
        let cookie = session_cookie("abc", true);
        assert_eq!(
            cookie,
            "stagewise_session=abc; Path=/; HttpOnly; SameSite=Lax; Max-Age=43200; Secure"
        );
        assert!(!session_cookie("abc", false).contains("Secure"));
    }

    #[test]
    fn csrf_comparison_needs_the_same_text() {
        assert!(form::same_text("abc", "abc"));
        assert!(!form::same_text("abc", "abd"));
        assert!(!form::same_text("abc", "abcd"));
    }
}
