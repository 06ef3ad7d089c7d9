//! A cache of parsed GraphQL documents, keyed by the query text.
//!
//! Channels send the same few query texts over and over (the bot's and the web form's
//! operations, with different variables), and parsing is a noticeable share of a small
//! request. Only successfully parsed documents are cached; validation (depth,
//! complexity, fields) still runs on every request. Bounded: at most [`CAPACITY`]
//! documents of at most [`MAX_QUERY_BYTES`] each; when full it starts over, so a client
//! sending endless distinct queries cannot grow it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery};
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{ServerResult, Variables};

/// Most documents kept.
pub const CAPACITY: usize = 512;
/// Longest query text cached.
pub const MAX_QUERY_BYTES: usize = 16 * 1024;

type Documents = Arc<Mutex<HashMap<String, Arc<ExecutableDocument>>>>;

/// The schema extension that caches parsed documents.
#[derive(Debug, Default, Clone)]
pub struct DocumentCache {
    documents: Documents,
}

impl ExtensionFactory for DocumentCache {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(DocumentCacheExtension {
            documents: Arc::clone(&self.documents),
        })
    }
}

struct DocumentCacheExtension {
    documents: Documents,
}

#[async_trait::async_trait]
impl Extension for DocumentCacheExtension {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        if query.len() > MAX_QUERY_BYTES {
            return next.run(ctx, query, variables).await;
        }
        // A poisoned lock only means another request panicked while holding it; the map
        // is still a valid cache.
        let cached = self
            .documents
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(query)
            .cloned();
        if let Some(document) = cached {
            return Ok((*document).clone());
        }
        let document = next.run(ctx, query, variables).await?;
        let mut documents = self
            .documents
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if documents.len() >= CAPACITY {
            documents.clear();
        }
        documents.insert(query.to_owned(), Arc::new(document.clone()));
        Ok(document)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::{EmptyMutation, EmptySubscription, Object, Schema};

    struct Query;

    #[Object]
    impl Query {
        async fn echo(&self, text: String) -> String {
            text
        }
    }

    #[tokio::test]
    async fn cached_documents_still_take_their_variables_and_the_cache_stays_bounded() {
        let cache = DocumentCache::default();
        let schema = Schema::build(Query, EmptyMutation, EmptySubscription)
            .extension(cache.clone())
            .finish();
        let query = "query($t: String!) { echo(text: $t) }";
        for text in ["first", "second"] {
            let request = async_graphql::Request::new(query)
                .variables(Variables::from_json(serde_json::json!({ "t": text })));
            let response = schema.execute(request).await;
            assert_eq!(
                response.data.into_json().expect("json"),
                serde_json::json!({ "echo": text })
            );
        }
        for index in 0..(CAPACITY + 10) {
            let response = schema
                .execute(format!("{{ a{index}: echo(text: \"x\") }}"))
                .await;
            assert!(response.errors.is_empty());
        }
        let kept = cache
            .documents
            .lock()
            .map(|d| d.len())
            .unwrap_or(usize::MAX);
        assert!(kept <= CAPACITY, "{kept} documents kept");
        // Invalid queries are not cached.
        let broken = schema.execute("{ echo(text: ").await;
        assert!(!broken.errors.is_empty());
        assert!(
            !cache
                .documents
                .lock()
                .map(|d| d.contains_key("{ echo(text: "))
                .unwrap_or(true)
        );
    }
}
