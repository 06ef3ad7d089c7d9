//! Stagewise server: the survey server behind the Telegram bot and the web forms.
//!
//! Today the library holds the instrument catalogue, the configuration and the command
//! line; the GraphQL API, storage, email and web forms build on them.

pub mod catalogue;
pub mod cli;
pub mod config;
