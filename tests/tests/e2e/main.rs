//! Cross-crate end-to-end tests; one binary, one module per area.

// The bot's inline buttons can address every question the server's catalogue defines.
mod buttons;
// The server's HTTP surface: health, readiness, metrics, GraphiQL, ping.
mod server;
// A server spawned on a free port on either backend, and a GraphQL client.
mod support;
