//! Files behind the API token: a round's exports and its charts.
//!
//! - `GET /exports/{round}/profiles.csv`, `profiles.xlsx`, `profiles.json`: every
//!   organisation's profile (`service::report`), downloaded as an attachment;
//! - `GET /charts/{round}/{organisation}/configuration.svg`: one organisation's
//!   configuration chart;
//! - `GET /charts/{round}/matrix.svg`: the heatmap of the round matrix;
//! - `GET /packs/{round}/{organisation}.html`, `.md`, `.json`: an organisation's
//!   validation interview pack (`service::pack`), the HTML inline, the others as
//!   attachments;
//! - `GET /reports/{round}/findings.html`, `findings.md`: the findings report (annex 2)
//!   of a real-time learning activity (`service::learning`), the HTML inline, the
//!   Markdown as an attachment.
//!
//! The exports and the configuration chart take `?rule=median|minimum|mode` (any case;
//! default `median`), the pillar rule of their pillar stages; the heatmap shows component
//! stages only and ignores it.
//!
//! Access is that of GraphQL's `profile` and `roundMatrix`: a bearer API token of an
//! administrator, or of a validator with the round in scope. No token (or an unknown or
//! revoked one) is 401, another token 403, an unknown round or an organisation outside
//! it 404, a bad rule 400; the body is then GraphQL-shaped JSON with the API's
//! `extensions.code`. Nothing is cached (`Cache-Control: no-store`): the files hold
//! answers. The URL builders here are what GraphQL hands out, from the configured
//! `server.public_base_url`, never from a request's Host header.

use std::sync::Arc;

use poem::http::{HeaderValue, StatusCode, header};
use poem::web::{Data, Path};
use poem::{Request, Response, handler};
use serde::Deserialize;

use crate::app::AppState;
use crate::domain::{OrganisationId, RoundId};
use crate::graphql::error::{Code, GqlError};
use crate::pack::PackFormat;
use crate::profile::PillarRule;
use crate::service::access;
use crate::service::pack as service_pack;
use crate::service::report;

/// The formats of a round's export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// The long-format CSV.
    Csv,
    /// The XLSX workbook.
    Xlsx,
    /// The JSON document.
    Json,
}

impl ExportFormat {
    /// The file's name in the URL.
    pub fn file_name(self) -> &'static str {
        match self {
            Self::Csv => "profiles.csv",
            Self::Xlsx => "profiles.xlsx",
            Self::Json => "profiles.json",
        }
    }

    /// Its media type.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Csv => "text/csv; charset=utf-8; header=present",
            Self::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            Self::Json => "application/json",
        }
    }
}

/// The media type of the charts.
pub const SVG_CONTENT_TYPE: &str = "image/svg+xml";

/// The base URL without a trailing slash.
fn base(public_base_url: &str) -> &str {
    public_base_url.trim_end_matches('/')
}

/// The URL of round `round`'s export in `format` with pillar stages by `rule`.
pub fn export_url(
    public_base_url: &str,
    round: &str,
    format: ExportFormat,
    rule: PillarRule,
) -> String {
    format!(
        "{}/exports/{round}/{}?rule={}",
        base(public_base_url),
        format.file_name(),
        rule.as_str()
    )
}

/// The URL of `organisation`'s configuration chart in round `round`, pillar notes by
/// `rule`.
pub fn configuration_chart_url(
    public_base_url: &str,
    round: &str,
    organisation: &str,
    rule: PillarRule,
) -> String {
    format!(
        "{}/charts/{round}/{organisation}/configuration.svg?rule={}",
        base(public_base_url),
        rule.as_str()
    )
}

/// The URL of `organisation`'s validation pack in round `round`, in `format`.
pub fn pack_url(
    public_base_url: &str,
    round: &str,
    organisation: &str,
    format: PackFormat,
) -> String {
    format!(
        "{}/packs/{round}/{organisation}.{}",
        base(public_base_url),
        format.extension()
    )
}

/// The URL of round `round`'s heatmap.
pub fn matrix_chart_url(public_base_url: &str, round: &str) -> String {
    format!("{}/charts/{round}/matrix.svg", base(public_base_url))
}

/// Every route of this module, to be mounted at the root.
pub(super) fn routes(route: poem::Route) -> poem::Route {
    route
        .at("/exports/:round/profiles.csv", poem::get(profiles_csv))
        .at("/exports/:round/profiles.xlsx", poem::get(profiles_xlsx))
        .at("/exports/:round/profiles.json", poem::get(profiles_json))
        .at(
            "/charts/:round/:organisation/configuration.svg",
            poem::get(configuration_svg),
        )
        .at("/charts/:round/matrix.svg", poem::get(matrix_svg))
        .at("/packs/:round/:file", poem::get(pack))
        .at("/reports/:round/:file", poem::get(findings_report))
}

// --- handlers ------------------------------------------------------------------------

#[handler]
async fn profiles_csv(
    request: &Request,
    Path(round): Path<String>,
    Data(state): Data<&Arc<AppState>>,
) -> Response {
    export(request, &round, state, ExportFormat::Csv).await
}

#[handler]
async fn profiles_xlsx(
    request: &Request,
    Path(round): Path<String>,
    Data(state): Data<&Arc<AppState>>,
) -> Response {
    export(request, &round, state, ExportFormat::Xlsx).await
}

#[handler]
async fn profiles_json(
    request: &Request,
    Path(round): Path<String>,
    Data(state): Data<&Arc<AppState>>,
) -> Response {
    export(request, &round, state, ExportFormat::Json).await
}

#[handler]
async fn configuration_svg(
    request: &Request,
    Path((round, organisation)): Path<(String, String)>,
    Data(state): Data<&Arc<AppState>>,
) -> Response {
    let made = async {
        let round = round_reader(state, request, &round).await?;
        let rule = rule(request)?;
        let organisation = OrganisationId::parse(&organisation)
            .map_err(|_| GqlError::not_found("there is no such organisation in this round"))?;
        let svg = report::configuration_chart(
            state.store.as_ref(),
            &state.catalogue,
            &round,
            &organisation,
            rule,
        )
        .await
        .map_err(GqlError::from)?;
        Ok(file(
            svg.into_bytes(),
            SVG_CONTENT_TYPE,
            &format!("inline; filename=\"{round}-{organisation}-configuration.svg\""),
        ))
    };
    made.await.unwrap_or_else(|error| failure(state, error))
}

#[handler]
async fn matrix_svg(
    request: &Request,
    Path(round): Path<String>,
    Data(state): Data<&Arc<AppState>>,
) -> Response {
    let made = async {
        let round = round_reader(state, request, &round).await?;
        let svg = report::matrix_chart(state.store.as_ref(), &state.catalogue, &round)
            .await
            .map_err(GqlError::from)?;
        Ok(file(
            svg.into_bytes(),
            SVG_CONTENT_TYPE,
            &format!("inline; filename=\"{round}-matrix.svg\""),
        ))
    };
    made.await.unwrap_or_else(|error| failure(state, error))
}

#[handler]
async fn pack(
    request: &Request,
    Path((round, file_name)): Path<(String, String)>,
    Data(state): Data<&Arc<AppState>>,
) -> Response {
    let made = async {
        let round = round_reader(state, request, &round).await?;
        let not_found = || GqlError::not_found("there is no such pack");
        let (organisation, extension) = file_name.rsplit_once('.').ok_or_else(not_found)?;
        let format = PackFormat::from_extension(extension).ok_or_else(not_found)?;
        let organisation = OrganisationId::parse(organisation)
            .map_err(|_| GqlError::not_found("there is no such organisation in this round"))?;
        let text = service_pack::render(state, &round, &organisation, format)
            .await
            .map_err(GqlError::from)?;
        let disposition = match format {
            PackFormat::Html => "inline",
            PackFormat::Markdown | PackFormat::Json => "attachment",
        };
        Ok(file(
            text.into_bytes(),
            format.content_type(),
            &format!(
                "{disposition}; filename=\"{}\"",
                crate::service::pack::file_name(&round, &organisation, format)
            ),
        ))
    };
    made.await.unwrap_or_else(|error| failure(state, error))
}

#[handler]
async fn findings_report(
    request: &Request,
    Path((round, file_name)): Path<(String, String)>,
    Data(state): Data<&Arc<AppState>>,
) -> Response {
    let made = async {
        let round = round_reader(state, request, &round).await?;
        let (format, content_type, disposition) = match file_name.as_str() {
            "findings.html" => (
                crate::service::learning::ReportFormat::Html,
                PackFormat::Html.content_type(),
                "inline",
            ),
            "findings.md" => (
                crate::service::learning::ReportFormat::Markdown,
                PackFormat::Markdown.content_type(),
                "attachment",
            ),
            _ => return Err(GqlError::not_found("there is no such report")),
        };
        let report = crate::service::learning::report(
            state.store.as_ref(),
            &state.catalogue,
            round.as_str(),
        )
        .await
        .map_err(GqlError::from)?;
        let text = report.render(format).map_err(GqlError::from)?;
        Ok(file(
            text.into_bytes(),
            content_type,
            &format!("{disposition}; filename=\"{round}-{file_name}\""),
        ))
    };
    made.await.unwrap_or_else(|error| failure(state, error))
}

async fn export(
    request: &Request,
    round: &str,
    state: &Arc<AppState>,
    format: ExportFormat,
) -> Response {
    let made = async {
        let round = round_reader(state, request, round).await?;
        let rule = rule(request)?;
        let report = report::round_report(state.store.as_ref(), &state.catalogue, &round, rule)
            .await
            .map_err(GqlError::from)?;
        let body = match format {
            ExportFormat::Csv => report.csv().into_bytes(),
            ExportFormat::Xlsx => report.xlsx().map_err(|e| GqlError::internal(&e))?,
            ExportFormat::Json => report.json().map_err(|e| GqlError::internal(&e))?,
        };
        Ok(file(
            body,
            format.content_type(),
            &format!("attachment; filename=\"{round}-{}\"", format.file_name()),
        ))
    };
    made.await.unwrap_or_else(|error| failure(state, error))
}

// --- access, input, responses --------------------------------------------------------

/// The caller must be an administrator or a validator with the round in scope. Checked
/// before the round is looked up, so a validator cannot probe which rounds exist.
async fn round_reader(
    state: &AppState,
    request: &Request,
    round: &str,
) -> Result<RoundId, GqlError> {
    let identity = access::identify(state.store.as_ref(), super::bearer(request), None)
        .await
        .map_err(|error| {
            tracing::warn!(%error, "cannot resolve the token of a download");
            GqlError::new(
                Code::Unavailable,
                "the service is briefly unavailable; retry",
            )
        })?;
    identity.require_any()?;
    let round = RoundId::parse(round).map_err(|_| GqlError::not_found("there is no such round"))?;
    identity.require_round_reader(&round)?;
    Ok(round)
}

/// The query string of the exports and the configuration chart.
#[derive(Debug, Deserialize)]
struct RuleQuery {
    rule: Option<String>,
}

/// The `rule` parameter; [`PillarRule::Median`] when absent.
fn rule(request: &Request) -> Result<PillarRule, GqlError> {
    let allowed = || {
        PillarRule::ALL
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let query: RuleQuery = request.params().map_err(|_| {
        GqlError::bad_input(format!(
            "the query string cannot be read; `rule` is one of {}",
            allowed()
        ))
    })?;
    match query.rule {
        None => Ok(PillarRule::default()),
        Some(text) => PillarRule::parse(&text.trim().to_ascii_lowercase()).ok_or_else(|| {
            GqlError::bad_input(format!(
                "unknown pillar rule; `rule` is one of {}",
                allowed()
            ))
        }),
    }
}

/// Headers every answer of this module carries: nothing is stored by caches, and the
/// browser takes the declared type as given.
fn no_store(response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
}

/// A file response.
fn file(body: Vec<u8>, content_type: &str, disposition: &str) -> Response {
    let mut response = Response::builder().content_type(content_type).body(body);
    no_store(&mut response);
    let headers = response.headers_mut();
    // The disposition holds slugs only, so it is always a valid header value.
    if let Ok(value) = HeaderValue::from_str(disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    if content_type == PackFormat::Html.content_type() {
        // The pack's HTML has inline styles and an inline SVG, and needs nothing else.
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
        );
    }
    if content_type == SVG_CONTENT_TYPE {
        // An SVG opened on its own is a document of this origin: it may not run scripts
        // or load anything (the charts need neither).
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
        );
    }
    response
}

/// The HTTP status of an error code.
fn status(code: Code) -> StatusCode {
    match code {
        Code::BadUserInput => StatusCode::BAD_REQUEST,
        Code::NotFound => StatusCode::NOT_FOUND,
        Code::Conflict => StatusCode::CONFLICT,
        Code::Unauthenticated => StatusCode::UNAUTHORIZED,
        Code::Forbidden => StatusCode::FORBIDDEN,
        Code::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Code::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The error's JSON answer, counted in the metrics.
fn failure(state: &AppState, error: GqlError) -> Response {
    let code = error.code();
    state.metrics.error(code.as_str());
    let mut response = super::error_response(status(code), code, error.message());
    no_store(&mut response);
    if code == Code::Unauthenticated {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_built_from_the_base_without_doubling_slashes() {
        for base in [
            "https://stagewise.example.org",
            "https://stagewise.example.org/",
        ] {
            assert_eq!(
                export_url(base, "r-2026", ExportFormat::Xlsx, PillarRule::Mode),
                "https://stagewise.example.org/exports/r-2026/profiles.xlsx?rule=mode"
            );
            assert_eq!(
                configuration_chart_url(base, "r-2026", "unicef", PillarRule::Median),
                "https://stagewise.example.org/charts/r-2026/unicef/configuration.svg?rule=median"
            );
            assert_eq!(
                matrix_chart_url(base, "r-2026"),
                "https://stagewise.example.org/charts/r-2026/matrix.svg"
            );
        }
    }

    #[test]
    fn pack_urls_name_the_format_by_extension() {
        assert_eq!(
            pack_url(
                "https://s.example.org/",
                "r-2026",
                "unicef",
                PackFormat::Markdown
            ),
            "https://s.example.org/packs/r-2026/unicef.md"
        );
        assert_eq!(
            pack_url(
                "https://s.example.org",
                "r-2026",
                "unicef",
                PackFormat::Html
            ),
            "https://s.example.org/packs/r-2026/unicef.html"
        );
    }

    #[test]
    fn every_code_has_its_status() {
        assert_eq!(status(Code::Unauthenticated), StatusCode::UNAUTHORIZED);
        assert_eq!(status(Code::Forbidden), StatusCode::FORBIDDEN);
        assert_eq!(status(Code::NotFound), StatusCode::NOT_FOUND);
        assert_eq!(status(Code::BadUserInput), StatusCode::BAD_REQUEST);
        assert_eq!(status(Code::Unavailable), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(status(Code::Internal), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
