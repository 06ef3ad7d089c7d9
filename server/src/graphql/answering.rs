//! Answering: saving, clearing and submitting answers; reading responses and history.

use async_graphql::Object;

/// The answering part of `Query`.
#[derive(Debug, Default)]
pub struct AnsweringQuery;

#[Object]
impl AnsweringQuery {
    /// Placeholder until the answering area lands.
    async fn answering_placeholder(&self) -> bool {
        false
    }
}

/// The answering part of `Mutation`.
#[derive(Debug, Default)]
pub struct AnsweringMutation;

#[Object]
impl AnsweringMutation {
    /// Placeholder until the answering area lands.
    async fn answering_mutation_placeholder(&self) -> bool {
        false
    }
}
