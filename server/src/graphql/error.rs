//! The one error type resolvers return. It is deliberately not `Display`: converting it
//! into `async_graphql::Error` is the only way out, and that conversion always sets a
//! stable `extensions.code`. Internal errors are logged here with their cause chain and
//! answered "internal error", never with store or file-system text.

use async_graphql::ErrorExtensions;

use crate::service::access::AccessError;
use crate::service::answers::SaveError;
use crate::store::StoreError;

/// A stable error code, sent as `extensions.code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// The input is invalid; changing it may succeed.
    BadUserInput,
    /// What was asked for does not exist (or is not visible to the caller).
    NotFound,
    /// The request conflicts with the current state (submitted, reused key, stale).
    Conflict,
    /// No valid token.
    Unauthenticated,
    /// The token may not do this.
    Forbidden,
    /// Too many requests; retry later.
    RateLimited,
    /// A dependency is unavailable; the same request may be retried.
    Unavailable,
    /// A bug or corrupt data; logged on the server.
    Internal,
}

impl Code {
    /// The code as sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadUserInput => "BAD_USER_INPUT",
            Self::NotFound => "NOT_FOUND",
            Self::Conflict => "CONFLICT",
            Self::Unauthenticated => "UNAUTHENTICATED",
            Self::Forbidden => "FORBIDDEN",
            Self::RateLimited => "RATE_LIMITED",
            Self::Unavailable => "UNAVAILABLE",
            Self::Internal => "INTERNAL_SERVER_ERROR",
        }
    }
}

/// An error for the client, with its code.
#[derive(Debug)]
pub struct GqlError {
    code: Code,
    message: String,
    details: Vec<String>,
}

/// Result of a resolver step.
pub type GqlResult<T> = Result<T, GqlError>;

impl GqlError {
    /// An error with a message the client may see.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            details: Vec::new(),
        }
    }

    /// Invalid input.
    pub fn bad_input(message: impl Into<String>) -> Self {
        Self::new(Code::BadUserInput, message)
    }

    /// Not found.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(Code::NotFound, message)
    }

    /// An internal error: the cause is logged with its chain, the client sees
    /// "internal error".
    pub fn internal(cause: &(dyn std::error::Error + 'static)) -> Self {
        let mut chain = cause.to_string();
        let mut source = cause.source();
        while let Some(next) = source {
            chain.push_str(": ");
            chain.push_str(&next.to_string());
            source = next.source();
        }
        tracing::error!(error = %chain, "internal error");
        Self::new(Code::Internal, "internal error")
    }

    /// Adds per-item details (e.g. one per invalid answer), sent as
    /// `extensions.details`.
    pub fn with_details(mut self, details: Vec<String>) -> Self {
        self.details = details;
        self
    }

    /// The code.
    pub fn code(&self) -> Code {
        self.code
    }

    /// The message the client sees (for answers outside GraphQL, e.g. downloads).
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl From<GqlError> for async_graphql::Error {
    fn from(error: GqlError) -> Self {
        let GqlError {
            code,
            message,
            details,
        } = error;
        async_graphql::Error::new(message).extend_with(|_, extensions| {
            extensions.set("code", code.as_str());
            if code == Code::Unavailable {
                extensions.set("retryable", true);
            }
            if !details.is_empty() {
                extensions.set("details", details.clone());
            }
        })
    }
}

impl From<StoreError> for GqlError {
    fn from(error: StoreError) -> Self {
        match &error {
            StoreError::Refused(refusal) => Self::new(
                match refusal {
                    crate::domain::CommandError::NoAnswers => Code::BadUserInput,
                    _ => Code::Conflict,
                },
                refusal.to_string(),
            ),
            StoreError::IdempotencyConflict => Self::new(Code::Conflict, error.to_string()),
            StoreError::Unavailable(_) | StoreError::Closed => {
                tracing::warn!(error = %error, "store unavailable");
                Self::new(
                    Code::Unavailable,
                    "the service is briefly unavailable; retry",
                )
            }
            StoreError::Corrupt(_) => Self::internal(&error),
        }
    }
}

impl From<SaveError> for GqlError {
    fn from(error: SaveError) -> Self {
        match error {
            SaveError::Store(store) => store.into(),
            SaveError::Invalid(problems) => {
                let details = problems.iter().map(ToString::to_string).collect();
                Self::bad_input(format!(
                    "{} answer(s) are invalid; nothing was saved",
                    problems.len()
                ))
                .with_details(details)
            }
            other => Self::bad_input(other.to_string()),
        }
    }
}

impl From<AccessError> for GqlError {
    fn from(error: AccessError) -> Self {
        match error {
            AccessError::Unauthenticated => Self::new(Code::Unauthenticated, error.to_string()),
            AccessError::Forbidden => Self::new(Code::Forbidden, error.to_string()),
            AccessError::Store(store) => store.into(),
        }
    }
}

impl From<crate::domain::IdError> for GqlError {
    fn from(error: crate::domain::IdError) -> Self {
        Self::bad_input(error.to_string())
    }
}

impl From<crate::domain::ValueError> for GqlError {
    fn from(error: crate::domain::ValueError) -> Self {
        Self::bad_input(error.to_string())
    }
}
