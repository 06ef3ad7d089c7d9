//! `ping`: the cheapest query, for liveness checks and as the benchmarks' yardstick.

use async_graphql::Object;

/// The `ping` part of `Query`.
#[derive(Debug, Default)]
pub struct PingQuery;

#[Object]
impl PingQuery {
    /// Always `true`: the GraphQL endpoint is up. Needs no token.
    async fn ping(&self) -> bool {
        true
    }
}
