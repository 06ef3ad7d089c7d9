//! The contract every store backend must pass.
