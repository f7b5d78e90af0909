//! The command line (SPEC "Command line"). Usage errors exit with 2, as clap does.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::services::audit::verify::{Bound, Checkpoint};
use crate::services::users::Role;

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
    /// Create users and recover accounts (audited).
    #[command(subcommand)]
    User(UserCommand),
    /// Maintain console sessions.
    #[command(subcommand)]
    Sessions(SessionsCommand),
    /// Manage the encryption keys of the data at rest.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Check the audit hash chain, record its head, export events.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Serve the console to SSH clients: each connection with a terminal gets its own console.
    Serve {
        /// The address to listen on, e.g. 0.0.0.0:2222 (port 0 picks a free one).
        #[arg(long, value_name = "ADDR")]
        ssh: String,
        /// The server's SSH host key, created on the first run (mode 0600) when missing.
        /// Default: ssh_host_ed25519_key in the data directory.
        #[arg(long, value_name = "FILE")]
        host_key: Option<PathBuf>,
        /// Admit only SSH clients holding a key listed in this file (authorized_keys format).
        /// Without it, any SSH user may connect, and the console's own sign-in decides.
        #[arg(long, value_name = "FILE")]
        authorized_keys: Option<PathBuf>,
        /// New connections allowed from one source address per minute.
        #[arg(long, value_name = "N", default_value_t = 20,
              value_parser = clap::value_parser!(u32).range(1..=100_000))]
        per_minute: u32,
        /// Connections open at once, from all sources.
        #[arg(long, value_name = "N", default_value_t = 500,
              value_parser = clap::value_parser!(u32).range(1..=100_000))]
        max_connections: u32,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Recompute every link of the audit hash chain and name the first row that was changed,
    /// removed, inserted or reordered, or a tail cut off. Exits 1 when the chain is broken.
    Verify {
        /// First row: a seq number, a date (YYYY-MM-DD, UTC) or an RFC 3339 time.
        #[arg(long, value_name = "SEQ|DATE|TIME")]
        from: Option<Bound>,
        /// Last row: a seq number, a date (its last row) or an RFC 3339 time.
        #[arg(long, value_name = "SEQ|DATE|TIME")]
        to: Option<Bound>,
        /// A head recorded earlier by `hsc audit checkpoint`: the chain must still reach it and
        /// hold the same row there.
        #[arg(long, value_name = "SEQ:HASH")]
        checkpoint: Option<Checkpoint>,
    },
    /// Print the chain's head (seq and hash) to keep somewhere off this machine.
    Checkpoint,
    /// Write the audit events that match the filters to a file, as CSV or JSON Lines.
    Export {
        /// Events at or after this date or time.
        #[arg(long)]
        since: Option<String>,
        /// Events before this date or time.
        #[arg(long)]
        until: Option<String>,
        /// Events by this user (email or id).
        #[arg(long)]
        user: Option<String>,
        /// Events about this patient (email or id).
        #[arg(long)]
        patient: Option<String>,
        /// Events of this action, e.g. RECORD_VIEW.
        #[arg(long)]
        action: Option<String>,
        #[arg(long, value_enum, default_value_t = ExportFormat::Csv)]
        format: ExportFormat,
        /// The file to write.
        #[arg(long)]
        out: PathBuf,
    },
}

/// The file format of `hsc audit export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// Comma-separated values with a header row.
    Csv,
    /// One JSON object per line.
    Jsonl,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Re-encrypt every record, version and MFA secret still under an old key with ENCRYPTION_KEY.
    /// Resumable: Ctrl-C stops after the current batch, and running it again continues.
    Rotate {
        /// Rows re-encrypted per transaction.
        #[arg(long, default_value_t = crate::services::keys::DEFAULT_BATCH_SIZE,
              value_parser = clap::value_parser!(u32).range(1..=10_000))]
        batch_size: u32,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user; the password is asked twice without echo, or read from stdin.
    Create {
        #[arg(long)]
        email: String,
        /// admin, physician, nurse, patient, billing_staff or medical_records
        #[arg(long)]
        role: Role,
        #[arg(long = "first")]
        first_name: String,
        #[arg(long = "last")]
        last_name: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Clear a lockout after failed logins.
    Unlock { email: String },
    /// Remove a user's MFA devices and backup codes; they enroll again at the next login.
    ResetMfa { email: String },
}

#[derive(Debug, Subcommand)]
pub enum SessionsCommand {
    /// End every session past its absolute limit.
    Cleanup,
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
