//! A cache of parsed GraphQL documents, keyed by the query text, and which of them may
//! skip the full validation.
//!
//! Channels send the same few query texts over and over (the bot's and the web form's
//! operations, with different variables), and parsing is a noticeable share of a small
//! request. The HTTP handler hands each request's text to [`DocumentCache::prepare`],
//! which attaches the cached document (or parses and caches it) before the schema
//! executes; the schema then skips parsing. Only successfully parsed documents are
//! cached; a text that does not parse is left to the schema, which reports the error as
//! always. Bounded: at most [`CAPACITY`] documents of at most [`MAX_QUERY_BYTES`] each;
//! when full it starts over, so a client sending endless distinct queries cannot grow it.
//!
//! Full validation is the larger share still: every rule of the GraphQL specification,
//! run over the document and the variables. The rules about the document (fields,
//! arguments, fragments, variable definitions and where they are used, literal values)
//! give the same answer for the same text every time, so once a document has passed
//! them ([`Cached::validated`]) it may run in async-graphql's fast mode, which keeps only
//! the depth and complexity limits, and leaves the variables' values to the resolvers'
//! own parsing of their arguments. That is the same check, made a moment later, and it
//! must still come before anything is changed: so only documents of one operation with one
//! root field, whose variables appear nowhere but in that field's arguments
//! ([`Cached::may_skip_validation`]), take the fast path. A root field parses all of its
//! arguments before it runs, so a bad value is refused before the resolver starts, as
//! full validation would have refused it (with another message, and the same
//! `BAD_USER_INPUT` code).
//!
//! This is deliberately not a schema extension: with any extension registered,
//! async-graphql builds a `ResolveInfo` (two registry look-ups) for every field it
//! resolves, which costs more on a profile of a few hundred fields than parsing saves.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use async_graphql::parser::types::{
    Directive, DocumentOperations, ExecutableDocument, OperationType, Selection, SelectionSet,
};
use async_graphql::{ObjectType, Schema, SubscriptionType};
use async_graphql::{Positioned, parser::types::Field};

/// Most documents kept.
pub const CAPACITY: usize = 512;
/// Longest query text cached.
pub const MAX_QUERY_BYTES: usize = 16 * 1024;

/// A parsed document and what is known of its validity.
#[derive(Debug)]
pub struct Cached {
    document: ExecutableDocument,
    /// Whether the document's shape lets a bad variable be refused before anything runs.
    simple: bool,
    /// Whether the document has passed full validation once.
    validated: AtomicBool,
}

impl Cached {
    fn new(document: ExecutableDocument) -> Self {
        let simple = simple(&document);
        Self {
            document,
            simple,
            validated: AtomicBool::new(false),
        }
    }

    /// Whether a request with this document may skip the rules about the document and
    /// its variables: it passed them before, and its shape makes the resolvers' parsing
    /// of their arguments an equal check (see the module documentation).
    pub fn may_skip_validation(&self) -> bool {
        self.simple && self.validated.load(Ordering::Relaxed)
    }

    /// Notes that a request with this document passed full validation.
    pub fn validated(&self) {
        self.validated.store(true, Ordering::Relaxed);
    }
}

/// One query or mutation of one root field, no fragments, and variables only in the root
/// field's arguments. (Root fields of a mutation run one after the other, so a bad
/// variable of the second would be found after the first had run; those of a query would
/// answer beside the refusal instead of not at all.)
fn simple(document: &ExecutableDocument) -> bool {
    let DocumentOperations::Single(operation) = &document.operations else {
        return false;
    };
    let operation = &operation.node;
    let roots = &operation.selection_set.node.items;
    operation.ty != OperationType::Subscription
        && roots.len() == 1
        && document.fragments.is_empty()
        && !directives_mention_variables(&operation.directives)
        && roots.iter().all(|root| match &root.node {
            Selection::Field(field) => {
                !directives_mention_variables(&field.node.directives)
                    && no_variables_below(&field.node.selection_set.node)
            }
            Selection::FragmentSpread(_) | Selection::InlineFragment(_) => false,
        })
}

/// Whether no argument or directive in `selection_set`, at any depth, mentions a variable
/// (and no fragment is spread: fragments are excluded altogether).
fn no_variables_below(selection_set: &SelectionSet) -> bool {
    selection_set.items.iter().all(|item| match &item.node {
        Selection::Field(field) => field_is_constant(field),
        Selection::FragmentSpread(_) => false,
        Selection::InlineFragment(fragment) => {
            !directives_mention_variables(&fragment.node.directives)
                && no_variables_below(&fragment.node.selection_set.node)
        }
    })
}

/// Whether neither `field`'s arguments and directives nor anything below it mention a
/// variable.
fn field_is_constant(field: &Positioned<Field>) -> bool {
    let field = &field.node;
    !field
        .arguments
        .iter()
        .any(|(_, value)| value.node.clone().into_const().is_none())
        && !directives_mention_variables(&field.directives)
        && no_variables_below(&field.selection_set.node)
}

/// Whether an argument of `directives` mentions a variable. (An argument value that
/// mentions one anywhere has no constant form; this runs once per document, when it is
/// cached.)
fn directives_mention_variables(directives: &[Positioned<Directive>]) -> bool {
    directives.iter().any(|directive| {
        directive
            .node
            .arguments
            .iter()
            .any(|(_, value)| value.node.clone().into_const().is_none())
    })
}

/// Executes `request` with its cached document: on `fast` (the same schema built with
/// async-graphql's `ValidationMode::Fast`) when the document may skip validation, on
/// `full` otherwise; a request that `full` answers without any error marks its document
/// validated.
pub async fn execute<Q, M, S>(
    cache: &DocumentCache,
    full: &Schema<Q, M, S>,
    fast: &Schema<Q, M, S>,
    mut request: async_graphql::Request,
) -> async_graphql::Response
where
    Q: ObjectType + 'static,
    M: ObjectType + 'static,
    S: SubscriptionType + 'static,
{
    let entry = cache.prepare(&mut request);
    if entry
        .as_ref()
        .is_some_and(|entry| entry.may_skip_validation())
    {
        return fast.execute(request).await;
    }
    let response = full.execute(request).await;
    if response.errors.is_empty()
        && let Some(entry) = entry
    {
        entry.validated();
    }
    response
}

/// Parsed documents by query text, shared by every request of the server.
#[derive(Debug, Default, Clone)]
pub struct DocumentCache {
    documents: Arc<Mutex<HashMap<String, Arc<Cached>>>>,
}

impl DocumentCache {
    /// Attaches the parsed document of `request`'s query text, from the cache or freshly
    /// parsed (and then cached), and returns its entry; leaves a text that does not parse,
    /// or a long one, to the schema.
    pub fn prepare(&self, request: &mut async_graphql::Request) -> Option<Arc<Cached>> {
        if request.query.len() > MAX_QUERY_BYTES {
            return None;
        }
        // A poisoned lock only means another request panicked while holding it; the map
        // is still a valid cache.
        let cached = self
            .documents
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&request.query)
            .cloned();
        let entry = match cached {
            Some(entry) => entry,
            None => {
                let document = async_graphql::parser::parse_query(&request.query).ok()?;
                let entry = Arc::new(Cached::new(document));
                let mut documents = self
                    .documents
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if documents.len() >= CAPACITY {
                    documents.clear();
                }
                documents.insert(request.query.clone(), Arc::clone(&entry));
                entry
            }
        };
        request.set_parsed_query(entry.document.clone());
        Some(entry)
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
    fn entry(&self, query: &str) -> Option<Arc<Cached>> {
        self.documents
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(query)
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicI64;

    use super::*;
    use async_graphql::ValidationMode;
    use async_graphql::{Context, EmptySubscription, Object, Variables};

    struct Query;

    #[Object]
    impl Query {
        async fn echo(&self, text: String) -> String {
            text
        }

        async fn nested(&self) -> Nested {
            Nested
        }
    }

    struct Nested;

    #[Object]
    impl Nested {
        async fn echo(&self, text: String) -> String {
            text
        }
    }

    /// A counter that only the mutation changes.
    #[derive(Default)]
    struct Counter(AtomicI64);

    struct Mutation;

    #[Object]
    impl Mutation {
        async fn bump(&self, ctx: &Context<'_>, by: i64) -> i64 {
            ctx.data_unchecked::<Arc<Counter>>()
                .0
                .fetch_add(by, Ordering::SeqCst)
                + by
        }
    }

    type TestSchema = Schema<Query, Mutation, EmptySubscription>;

    /// The full and the fast schema, over one counter.
    fn schemas() -> (TestSchema, TestSchema, Arc<Counter>) {
        let counter = Arc::new(Counter::default());
        let build = |mode| {
            Schema::build(Query, Mutation, EmptySubscription)
                .data(Arc::clone(&counter))
                .validation_mode(mode)
                .finish()
        };
        (
            build(ValidationMode::Strict),
            build(ValidationMode::Fast),
            Arc::clone(&counter),
        )
    }

    async fn run(
        (full, fast): (&TestSchema, &TestSchema),
        cache: &DocumentCache,
        query: &str,
        variables: serde_json::Value,
    ) -> async_graphql::Response {
        let request = async_graphql::Request::new(query).variables(Variables::from_json(variables));
        execute(cache, full, fast, request).await
    }

    /// Sends `query` with each of `bad` and checks that each gets one error and no data.
    async fn refused_each(
        schemas: (&TestSchema, &TestSchema),
        cache: &DocumentCache,
        query: &str,
        bad: &[serde_json::Value],
    ) {
        for variables in bad {
            let response = run(schemas, cache, query, variables.clone()).await;
            assert_eq!(
                response.errors.len(),
                1,
                "{variables}: {:?}",
                response.errors
            );
            assert_eq!(response.data, async_graphql::Value::Null, "{variables}");
        }
    }

    fn shape_is_simple(query: &str) -> bool {
        Cached::new(async_graphql::parser::parse_query(query).expect("parses")).simple
    }

    #[test]
    fn only_documents_whose_variables_are_parsed_before_anything_runs_are_simple() {
        for query in [
            "{ echo(text: \"x\") }",
            "query($t: String!) { nested { echo(text: \"y\") } }",
            "mutation($by: Int!) { bump(by: $by) }",
            "mutation { bump(by: 1) }",
        ] {
            assert!(shape_is_simple(query), "{query}");
        }
        for query in [
            // A variable below the root: its field would run after the root's resolver.
            "query($t: String!) { nested { echo(text: $t) } }",
            "query($t: String!) { nested { echo(text: [$t]) } }",
            // Two mutations run in turn: the second's bad variable is found too late.
            "mutation($a: Int!, $b: Int!) { x: bump(by: $a) y: bump(by: $b) }",
            // Two queries: the first would answer beside the second's refusal.
            "query($t: String!) { a: echo(text: $t) b: echo(text: $t) }",
            "query($s: Boolean!) { echo(text: \"x\") @skip(if: $s) }",
            "query($s: Boolean!) @skip(if: $s) { echo(text: \"x\") }",
            "query { ...F } fragment F on Query { echo(text: \"x\") }",
            "query { ... on Query { echo(text: \"x\") } }",
            "query A { echo(text: \"x\") } query B { echo(text: \"y\") }",
            "subscription { echo(text: \"x\") }",
        ] {
            assert!(!shape_is_simple(query), "{query}");
        }
    }

    #[tokio::test]
    async fn cached_documents_still_take_their_variables_and_the_cache_stays_bounded() {
        let cache = DocumentCache::default();
        let (full, fast, _) = schemas();
        let query = "query($t: String!) { echo(text: $t) }";
        for text in ["first", "second", "third"] {
            let response = run(
                (&full, &fast),
                &cache,
                query,
                serde_json::json!({ "t": text }),
            )
            .await;
            assert_eq!(
                response.data.into_json().expect("json"),
                serde_json::json!({ "echo": text })
            );
        }
        assert!(cache.entry(query).expect("cached").may_skip_validation());
        for index in 0..(CAPACITY + 10) {
            let query = format!("{{ a{index}: echo(text: \"x\") }}");
            let response = run((&full, &fast), &cache, &query, serde_json::json!({})).await;
            assert!(response.errors.is_empty());
        }
        assert!(cache.len() <= CAPACITY, "{} documents kept", cache.len());
        // Invalid queries are not cached, and the schema still reports them.
        let broken = run(
            (&full, &fast),
            &cache,
            "{ echo(text: ",
            serde_json::json!({}),
        )
        .await;
        assert!(!broken.errors.is_empty());
        assert!(cache.entry("{ echo(text: ").is_none());
    }

    #[tokio::test]
    async fn a_document_that_fails_validation_is_validated_every_time() {
        let cache = DocumentCache::default();
        let (full, fast, _) = schemas();
        // Parses, so it is cached, but names a field the schema does not have.
        for _ in 0..3 {
            let response = run((&full, &fast), &cache, "{ nothing }", serde_json::json!({})).await;
            assert_eq!(response.errors.len(), 1, "{:?}", response.errors);
        }
        let entry = cache.entry("{ nothing }").expect("cached");
        assert!(!entry.may_skip_validation());
    }

    #[tokio::test]
    async fn a_bad_variable_changes_nothing_on_either_path() {
        let cache = DocumentCache::default();
        let (full, fast, counter) = schemas();
        let count = || counter.0.load(Ordering::SeqCst);
        let one = "mutation($by: Int!) { bump(by: $by) }";
        let bad = [
            serde_json::json!({ "by": "two" }),
            serde_json::json!({ "by": null }),
            serde_json::json!({ "by": 2.5 }),
            serde_json::json!({}),
        ];

        // Refused by full validation while the document has not passed it yet.
        refused_each((&full, &fast), &cache, one, &bad).await;
        assert_eq!(count(), 0);
        assert!(!cache.entry(one).expect("cached").may_skip_validation());

        let response = run((&full, &fast), &cache, one, serde_json::json!({ "by": 2 })).await;
        assert!(response.errors.is_empty(), "{:?}", response.errors);
        assert_eq!(count(), 2);
        assert!(cache.entry(one).expect("cached").may_skip_validation());

        // Now on the fast path: refused by the argument's own parsing, before the resolver.
        refused_each((&full, &fast), &cache, one, &bad).await;
        assert_eq!(count(), 2, "a refused variable ran nothing");
        let response = run((&full, &fast), &cache, one, serde_json::json!({ "by": 3 })).await;
        assert!(response.errors.is_empty(), "{:?}", response.errors);
        assert_eq!(count(), 5);

        // Two root mutations always take full validation: a bad second variable must
        // stop the first from running.
        let two = "mutation($a: Int!, $b: Int!) { x: bump(by: $a) y: bump(by: $b) }";
        let response = run(
            (&full, &fast),
            &cache,
            two,
            serde_json::json!({ "a": 1, "b": 1 }),
        )
        .await;
        assert!(response.errors.is_empty(), "{:?}", response.errors);
        assert_eq!(count(), 7);
        assert!(!cache.entry(two).expect("cached").may_skip_validation());
        let response = run(
            (&full, &fast),
            &cache,
            two,
            serde_json::json!({ "a": 1, "b": "x" }),
        )
        .await;
        assert_eq!(response.errors.len(), 1, "{:?}", response.errors);
        assert_eq!(count(), 7, "nothing ran");
    }
}
