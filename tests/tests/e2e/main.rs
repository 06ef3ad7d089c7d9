//! Cross-crate end-to-end tests; one binary, one module per area.

// Administration over GraphQL: organisations, people, rounds, assignments, progress, audit, demo.
mod admin;
// Answering over HTTP on both backends: provenance, submission, history, next question.
mod answering;
// The authorisation matrix: every root field × every kind of caller, allowed exactly where intended.
mod authorization;
// Bad input: a coded error, no change, no internal text.
mod bad_input;
// The web form in headless Chromium over WebDriver: two sittings, autosave, Submit, receipt.
mod browser;
// The bot's handler tree with its real GraphQL client against a spawned server.
mod bot;
// The bot's inline buttons can address every question the server's catalogue defines.
mod buttons;
// The catalogue over HTTP: instruments, rendered question prompts, languages, access.
mod catalogue;
// Live round events over graphql-ws, in-process and across instances on Redis.
mod events;
// Downloads behind the API token: CSV, XLSX and JSON exports and SVG charts, read back, on both backends.
mod exports;
// Redis connections cut, stalled, killed and paused under a load of answers: coded retryable errors, recovery, nothing lost.
mod faults;
// Data arranged directly in the store: organisations, people, a round, assignments.
mod fixtures;
// Validation packs (HTML printed to PDF by headless Chromium, Markdown, JSON) and the validator's workflow, on both backends.
mod packs;
// Real-time learning: an after-action review answered in Telegram and on the web, findings, report, actions reminded once, the priority limit, cycles, bad input.
mod learning;
// Profiles, flags and the round matrix from answers given over the API, on both backends.
mod profile;
// Two instances on one Redis under concurrent writes through both: answers read back on either, every event on each.
mod scale_out;
// schemathesis (PyPI) against the GraphQL endpoint with introspection on: no 5xx, no internal error.
mod schemathesis;
// Reminders from the server's own scheduler on a manual clock: once each, on redb and with two instances on Redis.
mod reminders;
// The server's HTTP surface: health, readiness, metrics, GraphiQL, ping.
mod server;
// A server spawned on a free port on either backend, and a GraphQL client.
mod support;
// Personal links and the web form: session cookie, CSRF, channel WEB, revocation, rate limits.
mod web;
// Cached profiles and matrices never outlive a change made here or announced by another instance.
mod views;
// The bot's webhook mode: secret token, duplicates, body limit, server unreachable.
mod webhook;
// Linking Telegram chats with one-time codes, unlinking, update de-duplication.
mod telegram;
