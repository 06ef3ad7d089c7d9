//! `stagewise-server`: parse the command line and hand over to the library.

use std::process::ExitCode;

use clap::Parser;

// mimalloc: fewer cycles per request than the system allocator under many small
// allocations (GraphQL documents, JSON); measured by `cargo bench -p server --bench api`.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = server::cli::Cli::parse();
    match server::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
