//! `stagewise-bot`: the Telegram front-end. The handler tree arrives with the bot issue;
//! today the binary only states that.

fn main() -> std::process::ExitCode {
    eprintln!("stagewise-bot: the Telegram handlers are not part of this build yet; see README.md");
    std::process::ExitCode::FAILURE
}
