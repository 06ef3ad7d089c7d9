//! Integration tests of the `server` crate; one binary, one module per area.

// The shipped catalogue: loads, structural invariants, spot checks of wording.
mod catalogue;
// The `stagewise-server` binary: start, `catalogue check`, `catalogue export`.
mod cli;
// Every text of every instrument against the seed documents it was transcribed from.
mod fidelity;
// Malformed catalogues are rejected with the file and the field named.
mod malformed;
// Helpers: locating the shipped folders, copying the catalogue to a temporary folder.
mod support;
