//! Helpers shared by the cross-crate end-to-end tests in `tests/tests/`.
//!
//! Only test support lives here: locating the repository's folders. No product logic.

use std::path::PathBuf;

/// The repository root (the workspace folder).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default()
}

/// The shipped questionnaire folder.
pub fn questionnaires_dir() -> PathBuf {
    workspace_root().join("questionnaires")
}
