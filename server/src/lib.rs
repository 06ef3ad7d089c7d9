//! Stagewise server: the survey server behind the Telegram bot and the web forms.
//!
//! Today the library holds the instrument catalogue, the domain types, storage (redb and
//! Redis behind one trait), the configuration and the command line; the GraphQL API,
//! email and web forms build on them.

pub mod app;
pub mod catalogue;
pub mod charts;
pub mod cli;
pub mod clock;
pub mod config;
pub mod domain;
pub mod email;
pub mod events;
pub mod export;
pub mod graphql;
pub mod http;
pub mod metrics;
pub mod pack;
pub mod profile;
pub mod service;
pub mod store;
pub mod web;
