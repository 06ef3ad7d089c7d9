//! A cache of parsed GraphQL documents, keyed by the query text.
//!
//! Channels send the same few query texts over and over (the bot's and the web form's
//! operations, with different variables), and parsing is a noticeable share of a small
//! request. The HTTP handler hands each request's text to [`DocumentCache::prepare`],
//! which attaches the cached document (or parses and caches it) before the schema
//! executes; the schema then skips parsing. Only successfully parsed documents are
//! cached; a text that does not parse is left to the schema, which reports the error as
//! always. Validation (depth, complexity, fields) still runs on every request. Bounded: at
//! most [`CAPACITY`] documents of at most [`MAX_QUERY_BYTES`] each; when full it starts
//! over, so a client sending endless distinct queries cannot grow it.
//!
//! This is deliberately not a schema extension: with any extension registered,
//! async-graphql builds a `ResolveInfo` (two registry look-ups) for every field it
//! resolves, which costs more on a profile of a few hundred fields than parsing saves.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_graphql::parser::types::ExecutableDocument;

/// Most documents kept.
pub const CAPACITY: usize = 512;
/// Longest query text cached.
pub const MAX_QUERY_BYTES: usize = 16 * 1024;

/// Parsed documents by query text, shared by every request of the server.
#[derive(Debug, Default, Clone)]
pub struct DocumentCache {
    documents: Arc<Mutex<HashMap<String, Arc<ExecutableDocument>>>>,
}

impl DocumentCache {
    /// Attaches the parsed document of `request`'s query text, from the cache or freshly
    /// parsed (and then cached); leaves a text that does not parse, or a long one, to the
    /// schema.
    pub fn prepare(&self, request: &mut async_graphql::Request) {
        if request.query.len() > MAX_QUERY_BYTES {
            return;
        }
        // A poisoned lock only means another request panicked while holding it; the map
        // is still a valid cache.
        let cached = self
            .documents
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&request.query)
            .cloned();
        let document = match cached {
            Some(document) => document,
            None => {
                let Ok(document) = async_graphql::parser::parse_query(&request.query) else {
                    return;
                };
                let document = Arc::new(document);
                let mut documents = self
                    .documents
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if documents.len() >= CAPACITY {
                    documents.clear();
                }
                documents.insert(request.query.clone(), Arc::clone(&document));
                document
            }
        };
        request.set_parsed_query((*document).clone());
    }

    /// Documents kept.
    pub fn len(&self) -> usize {
        self.documents
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }

    /// Whether no document is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    #[cfg(test)]
    fn contains(&self, query: &str) -> bool {
        self.documents
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains_key(query)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::{EmptyMutation, EmptySubscription, Object, Schema, Variables};

    struct Query;

    #[Object]
    impl Query {
        async fn echo(&self, text: String) -> String {
            text
        }
    }

    async fn run(
        schema: &Schema<Query, EmptyMutation, EmptySubscription>,
        cache: &DocumentCache,
        mut request: async_graphql::Request,
    ) -> async_graphql::Response {
        cache.prepare(&mut request);
        schema.execute(request).await
    }

    #[tokio::test]
    async fn cached_documents_still_take_their_variables_and_the_cache_stays_bounded() {
        let cache = DocumentCache::default();
        let schema = Schema::build(Query, EmptyMutation, EmptySubscription).finish();
        let query = "query($t: String!) { echo(text: $t) }";
        for text in ["first", "second"] {
            let request = async_graphql::Request::new(query)
                .variables(Variables::from_json(serde_json::json!({ "t": text })));
            let response = run(&schema, &cache, request).await;
            assert_eq!(
                response.data.into_json().expect("json"),
                serde_json::json!({ "echo": text })
            );
        }
        assert!(cache.contains(query));
        for index in 0..(CAPACITY + 10) {
            let request = async_graphql::Request::new(format!("{{ a{index}: echo(text: \"x\") }}"));
            let response = run(&schema, &cache, request).await;
            assert!(response.errors.is_empty());
        }
        assert!(cache.len() <= CAPACITY, "{} documents kept", cache.len());
        // Invalid queries are not cached, and the schema still reports them.
        let broken = run(
            &schema,
            &cache,
            async_graphql::Request::new("{ echo(text: "),
        )
        .await;
        assert!(!broken.errors.is_empty());
        assert!(!cache.contains("{ echo(text: "));
    }

    #[tokio::test]
    async fn a_cached_document_is_still_validated_against_the_schema() {
        let cache = DocumentCache::default();
        let schema = Schema::build(Query, EmptyMutation, EmptySubscription).finish();
        // Parses, so it is cached, but names a field the schema does not have.
        for _ in 0..2 {
            let response = run(&schema, &cache, async_graphql::Request::new("{ nothing }")).await;
            assert_eq!(response.errors.len(), 1, "{:?}", response.errors);
        }
        assert!(cache.contains("{ nothing }"));
    }
}
