//! The Redis backend, for deployments with several server instances.
