//! Validation interview packs over GraphQL: `validationPack` renders an organisation's
//! pack in one format and hands out the authenticated download URL of the same document.
//!
//! Transport only: the model and its rendering are `crate::pack`'s, the loading
//! `service::pack`'s. Access: administrators, and validators with the round in scope
//! (FORBIDDEN otherwise, UNAUTHENTICATED without a token).

use async_graphql::{Context, Enum, Object, SimpleObject};

use super::error::GqlError;
use super::request;
use crate::domain::{OrganisationId, RoundId};
use crate::http::downloads;
use crate::pack::PackFormat;
use crate::service::pack::{self as service, PackError};

impl From<PackError> for GqlError {
    fn from(error: PackError) -> Self {
        match error {
            PackError::Load(load) => load.into(),
            PackError::Render(render) => Self::internal(&render),
        }
    }
}

/// The formats of a validation pack.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[graphql(name = "PackFormat")]
pub enum PackFormatValue {
    /// HTML for the browser, laid out to print on A4 (a page per component).
    #[default]
    Html,
    /// Markdown (CommonMark with pipe tables).
    Markdown,
    /// The pack's model as JSON (`stagewise.validation-pack`, version 1).
    Json,
}

impl From<PackFormatValue> for PackFormat {
    fn from(format: PackFormatValue) -> Self {
        match format {
            PackFormatValue::Html => Self::Html,
            PackFormatValue::Markdown => Self::Markdown,
            PackFormatValue::Json => Self::Json,
        }
    }
}

/// An organisation's validation interview pack in one format.
#[derive(SimpleObject, Debug, Clone)]
pub struct ValidationPackDocument {
    /// The round.
    pub round_id: String,
    /// The organisation.
    pub organisation_id: String,
    /// The format.
    pub format: PackFormatValue,
    /// Its media type, e.g. `text/html; charset=utf-8`.
    pub content_type: String,
    /// A file name for it, e.g. `jiu-rbm-2026-unicef-validation-pack.html`.
    pub file_name: String,
    /// The document: cover, summary sheet, configuration chart, flags, components, external validity, system-wide dimension, outcome answers, interview guides and the validator worksheet.
    pub text: String,
    /// Where to download the same pack: `GET` it with the same bearer token. Built from the server's configured public base URL.
    pub download_url: String,
}

/// The pack part of `Query`.
#[derive(Debug, Default)]
pub struct PackQuery;

#[Object]
impl PackQuery {
    /// The validation interview pack of an organisation in a round (annex IX part 3, annex X section 2), prepared now. Administrators, and validators with the round in scope; NOT_FOUND for an unknown round or an organisation not in it.
    async fn validation_pack(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The round's slug.")] round_id: String,
        #[graphql(desc = "The organisation's slug.")] organisation_id: String,
        #[graphql(default, desc = "The format (default: HTML).")] format: PackFormatValue,
    ) -> async_graphql::Result<ValidationPackDocument> {
        let request = request(ctx)?;
        request.identity.require_any().map_err(GqlError::from)?;
        let round = RoundId::parse(round_id.trim()).map_err(GqlError::from)?;
        request
            .identity
            .require_round_reader(&round)
            .map_err(GqlError::from)?;
        let organisation = OrganisationId::parse(organisation_id.trim()).map_err(GqlError::from)?;
        let pack_format = PackFormat::from(format);
        let text = service::render(&request.state, &round, &organisation, pack_format)
            .await
            .map_err(GqlError::from)?;
        Ok(ValidationPackDocument {
            round_id: round.to_string(),
            organisation_id: organisation.to_string(),
            format,
            content_type: pack_format.content_type().to_owned(),
            file_name: service::file_name(&round, &organisation, pack_format),
            text,
            download_url: downloads::pack_url(
                &request.state.settings.settings.server.public_base_url,
                round.as_str(),
                organisation.as_str(),
                pack_format,
            ),
        })
    }
}
