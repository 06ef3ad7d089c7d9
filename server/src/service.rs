//! Use-cases, one module per area: the only callers of the store. Each takes untrusted
//! input, validates it against the catalogue and the domain rules, and only then writes.
//! Transports (GraphQL, the web form, the bot) call these and hold no rules themselves.

pub mod access;
pub mod admin;
pub mod answers;
pub mod demo;
pub mod invitations;
pub mod learning;
pub mod links;
pub mod pack;
pub mod profile;
pub mod progress;
pub mod reminders;
pub mod report;
pub mod telegram;
pub mod validation;
pub mod views;
