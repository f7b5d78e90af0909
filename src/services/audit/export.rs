//! Exporting the audit trail to a file (`hsc audit export`, and the viewer's export): exactly the
//! events a filter picks, oldest first, as CSV or JSON Lines.
//!
//! One engine, two doors: [`for_session`] exports what the acting user may see (row-level security
//! decides), [`for_command_line`] exports every row as the schema owner. Either way the rows stream
//! from one transaction into a private temporary file next to the target (mode 0600), the
//! AUDIT_EXPORT row is written in that same transaction, and only after the commit is the file put in
//! place. Whatever fails before that leaves neither the file nor the audit row.
//!
//! Rows carry ids, actions, times and the chain hash — no names and no record content.

mod file;

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, SecondsFormat, Utc};
use futures_util::TryStreamExt;
use serde_json::{Value, json};
use sqlx::PgConnection;
use uuid::Uuid;

use self::file::{Target, TempFile};
use super::filter::AuditFilter;
use super::query::{self, FILTER_WHERE, may_view, resolve};
use super::{Action, Client, Event, Outcome};
use crate::db::{Database, DbError, Maintenance};
use crate::services::sessions::{self, Session};
use crate::services::{ServiceError, Services, audit, custom_plans, refuse};

/// The file's layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// RFC 4180 CSV with a header row; cells that a spreadsheet would run as formulas are defused.
    Csv,
    /// One compact JSON object per line (`details` embedded as an object).
    Jsonl,
}

impl Format {
    /// The name the audit row records (`csv`, `jsonl`).
    pub fn name(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Jsonl => "jsonl",
        }
    }
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exported {
    /// Events in the file.
    pub rows: u64,
    /// The file, as it was asked for.
    pub path: PathBuf,
}

/// Hears how far an export has got: `(rows written, rows in the export)`. Called once the total is
/// counted, then every few hundred rows, and at the end.
pub type Progress<'a> = &'a (dyn Fn(u64, u64) + Send + Sync);

/// Rows between two progress calls.
const PROGRESS_EVERY: u64 = 500;

/// The CSV header, in the order of every row.
const COLUMNS: [&str; 15] = [
    "seq",
    "occurred_at",
    "id",
    "user_id",
    "session_id",
    "action",
    "severity",
    "outcome",
    "resource_type",
    "resource_id",
    "patient_id",
    "ip_address",
    "user_agent",
    "details",
    "hash",
];

/// Only rows sealed up to the chain head read at the start ($11) are exported. The chain is
/// append-only and numbered in commit order, so that set is the same for the count and for the rows
/// even though each statement of the transaction reads committed data anew: one snapshot in effect.
const COUNT_SQL: &str = const_format::concatcp!(
    "SELECT count(*) FROM audit_logs l ",
    FILTER_WHERE,
    "AND l.seq <= $11"
);

const ROWS_SQL: &str = const_format::concatcp!(
    "SELECT l.seq, l.occurred_at, l.id, l.user_id, l.session_id, l.action, l.severity, l.outcome, \
     l.resource_type, l.resource_id, l.patient_id, l.ip_address, l.user_agent, l.details, l.hash \
     FROM audit_logs l ",
    FILTER_WHERE,
    "AND l.seq <= $11 ORDER BY l.seq"
);

/// One exported event, as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
struct ExportRow {
    seq: i64,
    occurred_at: DateTime<Utc>,
    id: Uuid,
    user_id: Option<Uuid>,
    session_id: Option<Uuid>,
    action: String,
    severity: String,
    outcome: String,
    resource_type: Option<String>,
    resource_id: Option<Uuid>,
    patient_id: Option<Uuid>,
    ip_address: Option<String>,
    user_agent: Option<String>,
    details: Value,
    hash: Vec<u8>,
}

/// Exports the events `filter` picks among those the session's user may see, oldest first, to a new
/// file `out`. Roles without an audit view are refused on the audit trail (UNAUTHORIZED_ACCESS_ATTEMPT).
pub async fn for_session(
    svc: &Services,
    client: &Client,
    session: &Session,
    filter: &AuditFilter,
    format: Format,
    out: &Path,
    progress: Progress<'_>,
) -> Result<Exported, ServiceError> {
    let mut tx = sessions::begin_live(svc, session).await?;
    if !may_view(session.user.role) {
        let message = "Your role has no audit trail to export.";
        return Err(refuse(tx, client, session, "export the audit trail", None, message).await);
    }
    let target = Target::check(out)?;
    let by = By {
        user: Some(session.user.id),
        session: Some(session.id),
    };
    let written = write(tx.conn(), client, by, filter, format, &target, progress).await?;
    tx.commit().await?;
    written.place(&target)
}

/// Exports every event `filter` picks, oldest first, to a new file `out`, as the schema owner (the
/// command line on the server). The AUDIT_EXPORT row names no user.
pub async fn for_command_line(
    db: &Database,
    filter: &AuditFilter,
    format: Format,
    out: &Path,
    progress: Progress<'_>,
) -> Result<Exported, ServiceError> {
    let target = Target::check(out)?;
    let mut tx = db.begin_maintenance(Maintenance::AuditExport).await?;
    let by = By {
        user: None,
        session: None,
    };
    let client = Client::command_line();
    let written = write(tx.conn(), &client, by, filter, format, &target, progress).await?;
    tx.commit().await?;
    written.place(&target)
}

/// Who the AUDIT_EXPORT row is about.
#[derive(Clone, Copy)]
struct By {
    user: Option<Uuid>,
    session: Option<Uuid>,
}

/// An export written, with its audit row queued in the transaction, waiting for the commit.
struct Written {
    file: TempFile,
    rows: u64,
}

impl Written {
    /// Moves the file into place after the commit.
    fn place(self, target: &Target) -> Result<Exported, ServiceError> {
        let rows = self.rows;
        self.file.place(target).map_err(|e| {
            if e.kind() == io::ErrorKind::AlreadyExists {
                ServiceError::Invalid(format!(
                    "{} appeared while the export ran; it was left as it was and the export was discarded.",
                    target.path.display()
                ))
            } else {
                target.not_written(&e)
            }
        })?;
        Ok(Exported {
            rows,
            path: target.path.clone(),
        })
    }
}

/// The engine: resolves the filter, counts, streams the rows into a temporary file, syncs it, and
/// queues the AUDIT_EXPORT row — all on `conn`, in the caller's transaction.
async fn write(
    conn: &mut PgConnection,
    client: &Client,
    by: By,
    filter: &AuditFilter,
    format: Format,
    target: &Target,
    progress: Progress<'_>,
) -> Result<Written, ServiceError> {
    let resolved = resolve(conn, filter).await?;
    custom_plans(&mut *conn).await?;
    let head = query::head(&mut *conn).await?;
    let (total,): (i64,) = resolved
        .bind(sqlx::query_as(COUNT_SQL))
        .bind(head)
        .fetch_one(&mut *conn)
        .await
        .map_err(DbError::from)?;
    let total = u64::try_from(total).unwrap_or(0);
    progress(0, total);

    let mut file =
        TempFile::create(&target.dir, &target.name).map_err(|e| target.not_written(&e))?;
    let mut rows = 0u64;
    {
        let out = file.writer().map_err(|e| target.not_written(&e))?;
        if format == Format::Csv {
            write_csv_line(out, COLUMNS.iter().map(|c| Some((*c).to_string())))
                .map_err(|e| target.not_written(&e))?;
        }
        let mut stream = resolved
            .bind(sqlx::query_as::<_, ExportRow>(ROWS_SQL))
            .bind(head)
            .fetch(&mut *conn);
        while let Some(row) = stream.try_next().await.map_err(DbError::from)? {
            write_row(out, format, &row).map_err(|e| target.not_written(&e))?;
            rows += 1;
            if rows.is_multiple_of(PROGRESS_EVERY) {
                progress(rows, total.max(rows));
            }
        }
    }
    file.finish().await.map_err(|e| target.not_written(&e))?;
    progress(rows, total.max(rows));

    let mut event = Event::new(Action::AuditExport, Outcome::Success, by.user).details(json!({
        "filter": resolved.describe(),
        "format": format.name(),
        "rows": rows,
        "through_seq": head,
        "file": target.recorded(),
        "by": if by.user.is_some() { "console" } else { "command line" },
    }));
    if let Some(session) = by.session {
        event = event.session(session);
    }
    audit::write(conn, client, &event).await?;
    Ok(Written { file, rows })
}

fn write_row(out: &mut dyn Write, format: Format, row: &ExportRow) -> io::Result<()> {
    let at = row.occurred_at.to_rfc3339_opts(SecondsFormat::Micros, true);
    let hash = hex::encode(&row.hash);
    match format {
        Format::Csv => {
            let id = |v: Option<Uuid>| v.map(|u| u.to_string());
            write_csv_line(
                out,
                [
                    Some(row.seq.to_string()),
                    Some(at),
                    Some(row.id.to_string()),
                    id(row.user_id),
                    id(row.session_id),
                    Some(row.action.clone()),
                    Some(row.severity.clone()),
                    Some(row.outcome.clone()),
                    row.resource_type.clone(),
                    id(row.resource_id),
                    id(row.patient_id),
                    row.ip_address.clone(),
                    row.user_agent.clone(),
                    Some(row.details.to_string()),
                    Some(hash),
                ],
            )
        }
        Format::Jsonl => {
            let line = JsonLine {
                seq: row.seq,
                occurred_at: at,
                id: row.id,
                user_id: row.user_id,
                session_id: row.session_id,
                action: &row.action,
                severity: &row.severity,
                outcome: &row.outcome,
                resource_type: row.resource_type.as_deref(),
                resource_id: row.resource_id,
                patient_id: row.patient_id,
                ip_address: row.ip_address.as_deref(),
                user_agent: row.user_agent.as_deref(),
                details: &row.details,
                hash,
            };
            serde_json::to_writer(&mut *out, &line)?;
            out.write_all(b"\n")
        }
    }
}

/// One JSON Lines object, its keys in the CSV's column order.
#[derive(serde::Serialize)]
struct JsonLine<'a> {
    seq: i64,
    occurred_at: String,
    id: Uuid,
    user_id: Option<Uuid>,
    session_id: Option<Uuid>,
    action: &'a str,
    severity: &'a str,
    outcome: &'a str,
    resource_type: Option<&'a str>,
    resource_id: Option<Uuid>,
    patient_id: Option<Uuid>,
    ip_address: Option<&'a str>,
    user_agent: Option<&'a str>,
    details: &'a Value,
    hash: String,
}

/// One CSV record ending in CRLF; an absent value is an empty cell.
fn write_csv_line(
    out: &mut dyn Write,
    cells: impl IntoIterator<Item = Option<String>>,
) -> io::Result<()> {
    for (i, cell) in cells.into_iter().enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        if let Some(cell) = cell {
            out.write_all(csv_cell(&cell).as_bytes())?;
        }
    }
    out.write_all(b"\r\n")
}

/// A cell as RFC 4180 wants it, defused first: a spreadsheet runs a cell beginning with `=`, `+`,
/// `-`, `@`, tab or CR as a formula, so such a cell gets a leading apostrophe (shown as text).
fn csv_cell(value: &str) -> String {
    let defused = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_string()
    };
    if defused.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", defused.replace('"', "\"\""))
    } else {
        defused
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> ExportRow {
        ExportRow {
            seq: 42,
            occurred_at: DateTime::parse_from_rfc3339("2026-11-27T09:30:00.5+01:00")
                .unwrap()
                .with_timezone(&Utc),
            id: Uuid::from_u128(1),
            user_id: Some(Uuid::from_u128(2)),
            session_id: None,
            action: "RECORD_VIEW".into(),
            severity: "LOW".into(),
            outcome: "success".into(),
            resource_type: Some("medical_record".into()),
            resource_id: Some(Uuid::from_u128(3)),
            patient_id: Some(Uuid::from_u128(4)),
            ip_address: Some("local".into()),
            user_agent: Some("=HYPERLINK(\"http://x\",\"y\")".into()),
            details: json!({"note": "a,b"}),
            hash: vec![0xab, 0x01],
        }
    }

    #[test]
    fn cells_are_quoted_as_rfc_4180_wants() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell(""), "");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("two\nlines"), "\"two\nlines\"");
        assert_eq!(csv_cell("cr\rhere"), "\"cr\rhere\"");
    }

    #[test]
    fn cells_a_spreadsheet_would_run_are_defused() {
        assert_eq!(csv_cell("=1+2"), "'=1+2");
        assert_eq!(csv_cell("+1"), "'+1");
        assert_eq!(csv_cell("-1"), "'-1");
        assert_eq!(csv_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_cell("\tx"), "'\tx");
        assert_eq!(csv_cell("\rx"), "\"'\rx\"");
        assert_eq!(csv_cell("=A1,\"x\""), "\"'=A1,\"\"x\"\"\"");
        assert_eq!(csv_cell("a=b"), "a=b");
    }

    #[test]
    fn a_csv_row_has_every_column_in_order() {
        let mut out = Vec::new();
        write_csv_line(&mut out, COLUMNS.iter().map(|c| Some((*c).to_string()))).unwrap();
        write_row(&mut out, Format::Csv, &row()).unwrap();
        let text = String::from_utf8(out).unwrap();
        let mut lines = text.split("\r\n");
        assert_eq!(
            lines.next().unwrap(),
            "seq,occurred_at,id,user_id,session_id,action,severity,outcome,resource_type,\
             resource_id,patient_id,ip_address,user_agent,details,hash"
        );
        assert_eq!(
            lines.next().unwrap(),
            "42,2026-11-27T08:30:00.500000Z,00000000-0000-0000-0000-000000000001,\
             00000000-0000-0000-0000-000000000002,,RECORD_VIEW,LOW,success,medical_record,\
             00000000-0000-0000-0000-000000000003,00000000-0000-0000-0000-000000000004,local,\
             \"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\",\"{\"\"note\"\":\"\"a,b\"\"}\",ab01"
        );
        assert_eq!(lines.next(), Some(""));
        assert_eq!(lines.next(), None);
    }

    #[test]
    fn a_json_line_is_one_compact_object() {
        let mut out = Vec::new();
        write_row(&mut out, Format::Jsonl, &row()).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.ends_with("}\n") && text.lines().count() == 1, "{text}");
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["seq"], 42);
        assert_eq!(v["occurred_at"], "2026-11-27T08:30:00.500000Z");
        assert_eq!(v["session_id"], Value::Null);
        assert_eq!(v["details"]["note"], "a,b");
        assert_eq!(v["hash"], "ab01");
        assert_eq!(v.as_object().unwrap().len(), COLUMNS.len());
        assert!(text.starts_with("{\"seq\":42,\"occurred_at\":"), "{text}");
    }
}
