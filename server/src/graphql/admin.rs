//! Administration: organisations, people, rounds, assignments, progress.

use async_graphql::Object;

/// The administration part of `Query`.
#[derive(Debug, Default)]
pub struct AdminQuery;

#[Object]
impl AdminQuery {
    /// Placeholder until the administration area lands.
    async fn admin_placeholder(&self) -> bool {
        false
    }
}

/// The administration part of `Mutation`.
#[derive(Debug, Default)]
pub struct AdminMutation;

#[Object]
impl AdminMutation {
    /// Placeholder until the administration area lands.
    async fn admin_mutation_placeholder(&self) -> bool {
        false
    }
}
