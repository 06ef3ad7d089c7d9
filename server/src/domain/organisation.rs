//! Organisations taking part in rounds.

use super::answer::{ValueError, parse_text};
use super::id::OrganisationId;

/// An organisation of the UN system or a partner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organisation {
    /// Slug, e.g. `unicef`.
    pub id: OrganisationId,
    /// Full name.
    pub name: String,
    /// Acronym, e.g. `UNICEF`.
    pub acronym: Option<String>,
}

impl Organisation {
    /// Most characters in a name.
    pub const MAX_NAME: usize = 200;
    /// Most characters in an acronym.
    pub const MAX_ACRONYM: usize = 20;

    /// Builds an organisation from untrusted parts.
    ///
    /// # Errors
    /// A [`ValueError`] for an empty or too long name or acronym.
    pub fn new(id: OrganisationId, name: &str, acronym: Option<&str>) -> Result<Self, ValueError> {
        Ok(Self {
            id,
            name: parse_text(name, Self::MAX_NAME)?,
            acronym: acronym
                .map(|a| parse_text(a, Self::MAX_ACRONYM))
                .transpose()?,
        })
    }
}
