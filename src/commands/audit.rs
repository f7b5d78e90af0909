//! `hsc audit verify`, `checkpoint` and `export`: the audit trail from the command line on the
//! server, as the schema owner. Each run is on the trail itself (AUDIT_VERIFY, AUDIT_EXPORT).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::{CommandError, connect_current};
use crate::cli::{AuditCommand, ExportFormat};
use crate::config::Config;
use crate::crypto::AuditKey;
use crate::services::audit::export::{self, Format};
use crate::services::audit::filter::{AuditFilter, When, Who, parse_action, parse_when};
use crate::services::audit::verify::{self, Checkpoint, Range};

pub(super) async fn run(command: AuditCommand, config: &Config) -> Result<(), CommandError> {
    match command {
        AuditCommand::Verify {
            from,
            to,
            checkpoint,
        } => verify_audit(config, Range { from, to }, checkpoint).await,
        AuditCommand::Checkpoint => audit_checkpoint(config).await,
        AuditCommand::Export {
            since,
            until,
            user,
            patient,
            action,
            format,
            out,
        } => {
            let filter = export_filter(since, until, user, patient, action)?;
            export_audit(config, &filter, format, &out).await
        }
    }
}

/// A progress bar on stderr when it is a terminal; hidden otherwise (scripts and logs get only the
/// closing line).
fn stderr_target() -> ProgressDrawTarget {
    use std::io::IsTerminal;
    if std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    }
}

/// `hsc audit verify`: the chain read back and re-linked with AUDIT_HMAC_KEY; a broken chain is a
/// failure (exit 1) whose sentence names the first bad row and what happened to it.
async fn verify_audit(
    config: &Config,
    range: Range,
    checkpoint: Option<Checkpoint>,
) -> Result<(), CommandError> {
    let key = AuditKey::from_config(config)?;
    let db = connect_current(config).await?;
    let target = stderr_target();
    let mut bar = ProgressBar::with_draw_target(Some(0), target);
    bar.set_style(
        ProgressStyle::with_template(
            "verifying the audit chain [{wide_bar}] {pos}/{len} rows ({per_sec}, {eta} left)",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let result = verify::verify(&db, &key, &range, checkpoint.as_ref(), &mut bar).await;
    bar.finish_and_clear();
    db.close().await;
    let report = result?;
    match report.problem {
        Some(problem) => Err(CommandError::Runtime(problem.to_string())),
        None if report.rows == 0 => {
            println!("audit chain intact: 0 rows (the chain is empty)");
            Ok(())
        }
        None => {
            println!(
                "audit chain intact: {} rows, seq {}–{}",
                report.rows, report.from, report.to
            );
            Ok(())
        }
    }
}

impl verify::Progress for indicatif::ProgressBar {
    fn counted(&mut self, rows: u64) {
        self.set_length(rows);
    }

    fn verified(&mut self, rows: u64) {
        self.set_position(rows);
    }
}

/// `hsc audit checkpoint`: the head, and the `--checkpoint` line to keep elsewhere.
async fn audit_checkpoint(config: &Config) -> Result<(), CommandError> {
    let db = connect_current(config).await?;
    let head = verify::checkpoint(&db).await;
    db.close().await;
    let head = head?;
    let time = head.occurred_at.map_or_else(
        || "none: the chain is empty".to_string(),
        |t| t.format("%Y-%m-%d %H:%M:%S%.6f UTC").to_string(),
    );
    println!("audit chain head");
    println!("  seq   {}", head.seq);
    println!("  hash  {}", hex::encode(head.hash));
    println!("  time  {time}");
    println!("\n--checkpoint {}\n", head.checkpoint());
    println!(
        "Keep that line off this machine (a password manager, paper, another host): \
         `hsc audit verify --checkpoint` with it proves the chain still reaches seq {} unchanged, \
         even after someone with the database's rights cut rows off its end.",
        head.seq
    );
    Ok(())
}

/// The filter of `hsc audit export`, from its options; a bad value is one sentence naming the option.
fn export_filter(
    since: Option<String>,
    until: Option<String>,
    user: Option<String>,
    patient: Option<String>,
    action: Option<String>,
) -> Result<AuditFilter, CommandError> {
    let when = |option: &str, value: Option<String>, end_of_day: bool| {
        value
            .map(|v| {
                parse_when(option, v.trim(), end_of_day).map_err(|_| {
                    CommandError::Runtime(format!(
                        "{option} {v:?} needs a day (2026-11-01), a time (2026-11-01T09:30:00Z) or a span ago (30m, 24h, 7d)"
                    ))
                })
            })
            .transpose()
    };
    let who = |option: &str, value: Option<String>| {
        value
            .map(|v| match v.trim() {
                "" => Err(CommandError::Runtime(format!(
                    "{option} needs an email, an id or words of a name"
                ))),
                v => Ok(Who::parse(v)),
            })
            .transpose()
    };
    let since: Option<When> = when("--since", since, false)?;
    let until: Option<When> = when("--until", until, true)?;
    let filter = AuditFilter {
        since,
        until,
        user: who("--user", user)?,
        patient: who("--patient", patient)?,
        action: action
            .map(|a| {
                parse_action(a.trim()).map_err(|e| CommandError::Runtime(format!("--action {e}")))
            })
            .transpose()?,
        ..AuditFilter::default()
    };
    if filter.check().is_err() {
        return Err(CommandError::Runtime(
            "--until is not after --since, so no event could match; nothing was exported".into(),
        ));
    }
    Ok(filter)
}

/// `hsc audit export`: the events the filter picks, oldest first, into a new file only its owner
/// can read, with progress on stderr (a bar on a terminal, nothing elsewhere). Runs as the schema
/// owner, so every event is there; the export is on the audit trail (AUDIT_EXPORT).
async fn export_audit(
    config: &Config,
    filter: &AuditFilter,
    format: ExportFormat,
    out: &std::path::Path,
) -> Result<(), CommandError> {
    let format = match format {
        ExportFormat::Csv => Format::Csv,
        ExportFormat::Jsonl => Format::Jsonl,
    };
    let db = connect_current(config).await?;
    let target = stderr_target();
    let bar = ProgressBar::with_draw_target(None, target);
    bar.set_style(
        ProgressStyle::with_template("{spinner} counting the audit events to export ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    let progress = |done: u64, total: u64| {
        if bar.length() != Some(total) {
            bar.set_length(total);
            // wide_bar: the line fits the terminal, so redraws never wrap.
            bar.set_style(
                ProgressStyle::with_template(
                    "exporting audit events [{wide_bar}] {pos}/{len} ({per_sec}, {eta} left)",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
        }
        bar.set_position(done);
    };
    let result = export::for_command_line(&db, filter, format, out, &progress).await;
    bar.finish_and_clear();
    db.close().await;
    let exported = result?;
    println!(
        "exported {} audit events to {} (mode 0600)",
        exported.rows,
        exported.path.display()
    );
    Ok(())
}
