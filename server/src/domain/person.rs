//! People: focal points, senior managers, raters, validators, learning participants.

use std::fmt;

use super::answer::{ValueError, parse_text};
use super::id::PersonId;

/// An email address, checked for shape (one `@`, a dotted domain, no spaces), with the
/// domain lowercased. Whether it delivers is for the mail server to say.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress(String);

/// Why an email address was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an email address")]
pub struct EmailError(String);

impl EmailAddress {
    /// Parses an address.
    ///
    /// # Errors
    /// [`EmailError`] when it is not of the form `local@domain.tld`.
    pub fn parse(text: &str) -> Result<Self, EmailError> {
        let text = text.trim();
        let shown = || EmailError(text.chars().take(60).collect());
        if text.len() > 254 || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(shown());
        }
        let (local, domain) = text.rsplit_once('@').ok_or_else(shown)?;
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && domain
                .chars()
                .all(|c| c.is_alphanumeric() || c == '.' || c == '-');
        if local.is_empty() || local.len() > 64 || local.contains('@') || !domain_ok {
            return Err(shown());
        }
        Ok(Self(format!("{local}@{}", domain.to_lowercase())))
    }

    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A form safe for logs: the first character of the local part and the domain.
    pub fn redacted(&self) -> String {
        let (local, domain) = self.0.rsplit_once('@').unwrap_or(("", &self.0));
        let first: String = local.chars().take(1).collect();
        format!("{first}…@{domain}")
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A Telegram chat id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TelegramChatId(pub i64);

/// A person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// Id.
    pub id: PersonId,
    /// Name.
    pub name: String,
    /// Email address.
    pub email: EmailAddress,
    /// The Telegram chat linked to this person, if any.
    pub telegram_chat: Option<TelegramChatId>,
}

impl Person {
    /// Most characters in a name.
    pub const MAX_NAME: usize = 200;

    /// Builds a person from untrusted parts.
    ///
    /// # Errors
    /// A [`ValueError`] for an empty or too long name.
    pub fn new(id: PersonId, name: &str, email: EmailAddress) -> Result<Self, ValueError> {
        Ok(Self {
            id,
            name: parse_text(name, Self::MAX_NAME)?,
            email,
            telegram_chat: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn email_addresses() {
        assert_eq!(
            EmailAddress::parse(" Ana.Ruiz@UNDP.org ").map(|e| e.to_string()),
            Ok("Ana.Ruiz@undp.org".to_owned())
        );
        for bad in [
            "",
            "ana",
            "ana@",
            "@undp.org",
            "ana@undp",
            "ana @undp.org",
            "ana@undp..org",
            "ana@.org",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn redacted_email_hides_the_local_part() {
        let email = EmailAddress::parse("ana.ruiz@undp.org").expect("valid");
        assert_eq!(email.redacted(), "a…@undp.org");
    }

    proptest! {
        #[test]
        fn parsed_addresses_have_one_at_and_no_spaces(text in "\\PC{0,40}") {
            if let Ok(email) = EmailAddress::parse(&text) {
                prop_assert!(email.as_str().contains('@'));
                prop_assert!(!email.as_str().chars().any(char::is_whitespace));
            }
        }
    }
}
