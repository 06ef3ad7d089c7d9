//! Stagewise Telegram bot: a GraphQL client of the server for focal points and respondents.
//!
//! The bot holds no business rules and no answers; today it provides the callback-data
//! encoding its inline keyboards will use.

pub mod keyboards;
