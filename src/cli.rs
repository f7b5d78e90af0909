//! The command line (SPEC "Command line"). Usage errors exit with 2, as clap does.

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "hsc",
    version,
    about = "Healthy Stellar Console: medical records, access grants and the audit trail, in a terminal",
    long_about = None
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the private local PostgreSQL, migrate, seed, print the demo logins and open the console.
    Demo,
    /// Apply, undo, list or create schema migrations.
    #[command(subcommand)]
    Migrate(MigrateCommand),
    /// Replace every row with the development seed (refused in production).
    Seed,
    /// Show configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
}

#[derive(Debug, Subcommand)]
pub enum MigrateCommand {
    /// Apply every pending migration.
    Run,
    /// Undo the newest applied migration.
    Revert,
    /// List every migration as applied (with when) or pending.
    Show,
    /// Create a timestamped up/down pair in ./migrations.
    New {
        /// snake_case description, e.g. add_patient_phone
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// The effective configuration, secrets masked, with where each value came from.
    Show,
}
