//! `hsc`: command-line dispatch only.

use std::process::ExitCode;

use clap::Parser;
use hsc::cli::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match hsc::commands::main(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hsc: {e}");
            ExitCode::FAILURE
        }
    }
}
