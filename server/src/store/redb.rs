//! The embedded backend: one redb file under the data directory (the default).
