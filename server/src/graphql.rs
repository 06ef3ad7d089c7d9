//! The GraphQL API: transport only. Resolvers take the request context, convert input,
//! call a service, and convert the output; rules live in `service/`. One file per area,
//! merged into `Query`, `Mutation` and `Subscription`.
//!
//! [`sdl`] builds the schema without data, so a plain test keeps `server/schema.graphql`
//! current (`STAGEWISE_UPDATE_SCHEMA=1` rewrites it).

pub mod admin;
pub mod answering;
pub mod cache;
pub mod catalogue;
pub mod error;
pub mod invitations;
pub mod learning;
pub mod pack;
pub mod ping;
pub mod profile;
pub mod reminders;
pub mod subscription;
pub mod telegram;
pub mod validation;

use std::sync::Arc;

use async_graphql::{
    Context, MergedObject, MergedSubscription, Schema, SchemaBuilder, ValidationMode,
};

use crate::app::AppState;
use crate::config::GraphqlSettings;
use crate::service::access::Identity;
use error::{Code, GqlError, GqlResult};

/// All queries.
#[derive(MergedObject, Default)]
pub struct Query(
    ping::PingQuery,
    catalogue::CatalogueQuery,
    admin::AdminQuery,
    answering::AnsweringQuery,
    profile::ProfileQuery,
    telegram::TelegramQuery,
    validation::ValidationQuery,
    pack::PackQuery,
    learning::LearningQuery,
);

/// All mutations.
#[derive(MergedObject, Default)]
pub struct Mutation(
    admin::AdminMutation,
    answering::AnsweringMutation,
    telegram::TelegramMutation,
    validation::ValidationMutation,
    invitations::InvitationsMutation,
    reminders::RemindersMutation,
    learning::LearningMutation,
);

/// All subscriptions.
#[derive(MergedSubscription, Default)]
pub struct Subscription(subscription::EventsSubscription);

/// The schema type.
pub type AppSchema = Schema<Query, Mutation, Subscription>;

/// The schema's roots, without data or limits.
pub fn schema_builder() -> SchemaBuilder<Query, Mutation, Subscription> {
    Schema::build(
        Query::default(),
        Mutation::default(),
        Subscription::default(),
    )
}

/// The schema with the configured limits, validating in `mode`; request data is attached
/// per request. The server builds it twice: strict for every document the first time,
/// fast for documents that passed (see [`cache`]).
pub fn build(settings: &GraphqlSettings, mode: ValidationMode) -> AppSchema {
    let mut builder = schema_builder()
        .validation_mode(mode)
        .limit_depth(settings.max_depth)
        .limit_complexity(settings.max_complexity);
    if !settings.introspection {
        builder = builder.disable_introspection();
    }
    if !settings.suggestions {
        builder = builder.disable_suggestions();
    }
    builder.finish()
}

/// The schema in SDL, as committed in `server/schema.graphql`.
pub fn sdl() -> String {
    schema_builder().finish().sdl()
}

/// What every request carries: the server's state and who is asking.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// Shared state.
    pub state: Arc<AppState>,
    /// Who is asking.
    pub identity: Identity,
}

/// The request context of a resolver.
///
/// # Errors
/// Internal, when the handler did not attach one (a bug).
pub fn request<'a>(ctx: &Context<'a>) -> GqlResult<&'a RequestContext> {
    ctx.data::<RequestContext>()
        .map_err(|_| GqlError::new(Code::Internal, "internal error"))
}
