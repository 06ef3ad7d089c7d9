//! Counters for `GET /metrics` (Prometheus text format): requests, errors by code,
//! answers saved by channel. Plain atomics: no labels beyond these fixed sets, so the
//! rendering needs no registry.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::domain::Channel;

/// The error codes counted (the GraphQL `extensions.code` values).
pub const ERROR_CODES: [&str; 8] = [
    "BAD_USER_INPUT",
    "NOT_FOUND",
    "CONFLICT",
    "UNAUTHENTICATED",
    "FORBIDDEN",
    "RATE_LIMITED",
    "UNAVAILABLE",
    "INTERNAL_SERVER_ERROR",
];

const CHANNELS: [Channel; 4] = [
    Channel::Telegram,
    Channel::Web,
    Channel::Graphql,
    Channel::Import,
];

/// The server's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    graphql_requests: AtomicU64,
    errors: [AtomicU64; ERROR_CODES.len()],
    other_errors: AtomicU64,
    answers: [AtomicU64; CHANNELS.len()],
}

impl Metrics {
    /// Counts a GraphQL request.
    pub fn graphql_request(&self) {
        self.graphql_requests.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts an error by its code.
    pub fn error(&self, code: &str) {
        match ERROR_CODES.iter().position(|c| *c == code) {
            Some(index) => self.errors[index].fetch_add(1, Ordering::Relaxed),
            None => self.other_errors.fetch_add(1, Ordering::Relaxed),
        };
    }

    /// Counts answers saved through a channel.
    pub fn answers_saved(&self, channel: Channel, count: usize) {
        if let Some(index) = CHANNELS.iter().position(|c| *c == channel) {
            self.answers[index].fetch_add(count as u64, Ordering::Relaxed);
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP stagewise_graphql_requests_total GraphQL requests received.\n\
             # TYPE stagewise_graphql_requests_total counter\n\
             stagewise_graphql_requests_total {}",
            self.graphql_requests.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP stagewise_errors_total Errors answered, by extensions.code.\n\
             # TYPE stagewise_errors_total counter"
        );
        for (code, count) in ERROR_CODES.iter().zip(&self.errors) {
            let _ = writeln!(
                out,
                "stagewise_errors_total{{code=\"{code}\"}} {}",
                count.load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "stagewise_errors_total{{code=\"OTHER\"}} {}",
            self.other_errors.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP stagewise_answers_saved_total Answers saved, by channel.\n\
             # TYPE stagewise_answers_saved_total counter"
        );
        for (channel, count) in CHANNELS.iter().zip(&self.answers) {
            let _ = writeln!(
                out,
                "stagewise_answers_saved_total{{channel=\"{channel}\"}} {}",
                count.load(Ordering::Relaxed)
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters() {
        let metrics = Metrics::default();
        metrics.graphql_request();
        metrics.error("FORBIDDEN");
        metrics.error("SOMETHING_ELSE");
        metrics.answers_saved(Channel::Telegram, 3);
        let text = metrics.render();
        assert!(text.contains("stagewise_graphql_requests_total 1"));
        assert!(text.contains("stagewise_errors_total{code=\"FORBIDDEN\"} 1"));
        assert!(text.contains("stagewise_errors_total{code=\"OTHER\"} 1"));
        assert!(text.contains("stagewise_answers_saved_total{channel=\"telegram\"} 3"));
    }
}
