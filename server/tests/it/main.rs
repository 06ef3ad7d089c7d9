//! Integration tests of the `server` crate; one binary, one module per area.

// Saving answers: validation against the catalogue before anything is written.
mod answers;
// The shipped catalogue: loads, structural invariants, spot checks of wording.
mod catalogue;
// The `stagewise-server` binary: start, `catalogue check`, `catalogue export`.
mod cli;
// Crash safety over HTTP: the server binary killed under 1,000 concurrent saveAnswers, on redb and on Redis.
mod crash_http;
// Every text of every instrument against the seed documents it was transcribed from.
mod fidelity;
// Crash safety: kill -9 during a burst of writes, on redb and on Redis.
mod crash;
// Malformed catalogues are rejected with the file and the field named.
mod malformed;
// Property tests: mutated catalogues, arbitrary GraphQL variables, arbitrary form posts.
mod properties;
// server/schema.graphql is current and every type and field is documented.
mod schema;
// Validation packs against committed snapshots: HTML, Markdown and JSON of the demo round.
mod pack;
// Reminders with a manual clock on both backends: who, which days, once, two instances, failures.
mod reminders;
// The store contract, the fold property and the key layout on both backends.
mod store;
// Helpers: locating the shipped folders, copying the catalogue to a temporary folder.
mod support;
