//! Cross-crate end-to-end tests; one binary, one module per area.

// The bot's inline buttons can address every question the server's catalogue defines.
mod buttons;
