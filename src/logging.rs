//! Logs go to a daily-rotated file in the data dir, never to the terminal (the console owns it).
//! What is logged: events and ids. What never is: passwords, keys, tokens, record text.

use std::path::Path;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_appender::rolling::{RollingFileAppender, Rotation};
use tracing_subscriber::EnvFilter;

use crate::config::Config;
use crate::crypto::create_private_dir;

/// How many daily files are kept.
const KEEP_FILES: usize = 14;

/// Starts logging to `<data dir>/logs/hsc.<date>.log`. Keep the guard alive for the whole run: dropping
/// it flushes the last lines. Returns None (and hsc runs without a log) when the directory is unusable.
pub fn init(config: &Config) -> Result<WorkerGuard, String> {
    let dir = config.log_dir();
    init_in(&dir, &config.log_filter)
}

fn init_in(dir: &Path, filter: &str) -> Result<WorkerGuard, String> {
    create_private_dir(dir).map_err(|e| {
        format!(
            "the log directory {} could not be created: {e}",
            dir.display()
        )
    })?;
    let appender = RollingFileAppender::builder()
        .rotation(Rotation::DAILY)
        .filename_prefix("hsc")
        .filename_suffix("log")
        .max_log_files(KEEP_FILES)
        .build(dir)
        .map_err(|e| format!("the log file in {} could not be opened: {e}", dir.display()))?;
    let (writer, guard) = tracing_appender::non_blocking(appender);
    // The filter was validated with the rest of the configuration.
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(false)
        .try_init()
        .map_err(|e| format!("logging could not start: {e}"))?;
    Ok(guard)
}
