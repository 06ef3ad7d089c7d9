//! Catalogue queries: everything a channel needs to render a question.

use async_graphql::Object;

/// The catalogue part of `Query`.
#[derive(Debug, Default)]
pub struct CatalogueQuery;

#[Object]
impl CatalogueQuery {
    /// Ids of the instruments in the catalogue (to be replaced by full types).
    async fn instrument_ids(
        &self,
        ctx: &async_graphql::Context<'_>,
    ) -> async_graphql::Result<Vec<String>> {
        let request = super::request(ctx)?;
        request
            .identity
            .require_any()
            .map_err(super::error::GqlError::from)?;
        Ok(request
            .state
            .catalogue
            .instruments()
            .map(|i| i.reference().to_string())
            .collect())
    }
}
