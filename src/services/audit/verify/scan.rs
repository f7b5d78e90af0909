//! The intact path: rows streamed in seq order, in pages, through one set of reused buffers.

use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};

use super::{BadRow, Progress, VerifyError};
use crate::crypto::AuditKey;
use crate::services::audit::chain::{ENTRY_COLUMNS, Entry, GENESIS, Linker};

/// Rows read per query: enough that the query overhead vanishes, few enough that stopping at a
/// break leaves little for the connection to drain.
const PAGE: i64 = 50_000;

/// How often (in rows) the scan reports progress.
const TICK: u64 = 8_192;

const FIRST_PAGE: &str = const_format::concatcp!(
    "SELECT seq, ",
    ENTRY_COLUMNS,
    ", prev_hash, hash FROM audit_logs WHERE seq >= $1 AND seq <= $2 ORDER BY seq, occurred_at LIMIT $3"
);
const NEXT_PAGE: &str = const_format::concatcp!(
    "SELECT seq, ",
    ENTRY_COLUMNS,
    ", prev_hash, hash FROM audit_logs WHERE (seq, occurred_at) > ($1, $2) AND seq <= $3 \
     ORDER BY seq, occurred_at LIMIT $4"
);
const NEXT_ROW: &str = const_format::concatcp!(
    "SELECT seq, ",
    ENTRY_COLUMNS,
    ", prev_hash, hash FROM audit_logs WHERE seq > $1 ORDER BY seq, occurred_at LIMIT 1"
);

/// A row that broke the chain, copied out of the scan's buffers.
pub(super) struct Suspect {
    pub(super) row: BadRow,
    pub(super) prev_hash: Vec<u8>,
    /// Whether its signature holds over its own `prev_hash`.
    pub(super) signed: bool,
}

/// Where the scan stopped.
pub(super) struct Found {
    /// The last seq that was in order (the row the next one must follow).
    pub(super) after: i64,
    /// The hash the next row must link to; unknown before the first row of a range that starts at
    /// its anchor (the row before `from`, taken as stored once its own signature holds).
    pub(super) expect_prev: Option<[u8; 32]>,
    /// The row that did not fit, or `None` when rows ran out before the range's end.
    pub(super) suspect: Option<Suspect>,
}

/// The scan's reusable state: one linker, one entry whose strings keep their buffers.
pub(super) struct Scan {
    linker: Linker,
    entry: Entry,
    /// Rows of the range found intact so far.
    pub(super) verified: u64,
}

impl Scan {
    pub(super) fn new(key: &AuditKey) -> Scan {
        Scan {
            linker: Linker::new(key),
            entry: Entry::default(),
            verified: 0,
        }
    }

    /// Checks rows `from..=to` (plus the anchor `from - 1` when `from > 1`), stopping at the first
    /// that does not fit.
    pub(super) async fn run(
        &mut self,
        conn: &mut PgConnection,
        from: i64,
        to: i64,
        progress: &mut dyn Progress,
    ) -> Result<Option<Found>, VerifyError> {
        let first = if from > 1 { from - 1 } else { 1 };
        let mut expected = first;
        let mut prev: Option<[u8; 32]> = (from <= 1).then_some(GENESIS);
        let mut cursor: Option<(i64, DateTime<Utc>)> = None;
        let mut columns: Option<Columns> = None;
        if to < from {
            return Ok(None);
        }
        loop {
            let query = match cursor {
                None => sqlx::query(FIRST_PAGE).bind(first).bind(to).bind(PAGE),
                Some((seq, at)) => sqlx::query(NEXT_PAGE)
                    .bind(seq)
                    .bind(at)
                    .bind(to)
                    .bind(PAGE),
            };
            let mut rows = query.fetch(&mut *conn);
            let mut read = 0;
            while let Some(row) = rows.try_next().await? {
                read += 1;
                if columns.is_none() {
                    columns = Some(Columns::of(&row)?);
                }
                let Some(c) = columns.as_ref() else { continue };
                let (seq, stored_prev, hash) = c.decode(&row, &mut self.entry)?;
                let signed = self.linker.verifies(stored_prev, &self.entry, hash);
                let linked = prev.is_none_or(|p| stored_prev == p);
                let hash32 = <[u8; 32]>::try_from(hash).ok();
                match hash32 {
                    Some(h) if signed && linked && seq == expected => prev = Some(h),
                    _ => {
                        return Ok(Some(Found {
                            after: expected - 1,
                            expect_prev: prev,
                            suspect: Some(Suspect {
                                row: BadRow {
                                    seq,
                                    id: self.entry.id,
                                    occurred_at: self.entry.occurred_at,
                                    action: self.entry.action.clone(),
                                },
                                prev_hash: stored_prev.to_vec(),
                                signed,
                            }),
                        }));
                    }
                }
                cursor = Some((seq, self.entry.occurred_at));
                expected += 1;
                if seq >= from {
                    self.verified += 1;
                    if self.verified.is_multiple_of(TICK) {
                        progress.verified(self.verified);
                    }
                }
            }
            if read < PAGE {
                break;
            }
        }
        Ok((expected <= to).then_some(Found {
            after: expected - 1,
            expect_prev: prev,
            suspect: None,
        }))
    }

    /// The first row after `after`, checked over its own `prev_hash`.
    pub(super) async fn next_row(
        &mut self,
        conn: &mut PgConnection,
        after: i64,
    ) -> Result<Option<Suspect>, VerifyError> {
        let Some(row) = sqlx::query(NEXT_ROW)
            .bind(after)
            .fetch_optional(conn)
            .await?
        else {
            return Ok(None);
        };
        let (seq, prev_hash, hash) = Columns::of(&row)?.decode(&row, &mut self.entry)?;
        let signed = self.linker.verifies(prev_hash, &self.entry, hash);
        Ok(Some(Suspect {
            row: BadRow {
                seq,
                id: self.entry.id,
                occurred_at: self.entry.occurred_at,
                action: self.entry.action.clone(),
            },
            prev_hash: prev_hash.to_vec(),
            signed,
        }))
    }
}

/// The scan's column positions, found by name once per query shape so [`ENTRY_COLUMNS`] may change.
struct Columns {
    seq: usize,
    id: usize,
    occurred_at: usize,
    xact: usize,
    user_id: usize,
    session_id: usize,
    action: usize,
    severity: usize,
    resource_type: usize,
    resource_id: usize,
    patient_id: usize,
    ip_address: usize,
    user_agent: usize,
    outcome: usize,
    details: usize,
    prev_hash: usize,
    hash: usize,
}

impl Columns {
    fn of(row: &PgRow) -> Result<Columns, sqlx::Error> {
        use sqlx::Column;
        let at = |name: &str| row.try_column(name).map(|c| c.ordinal());
        Ok(Columns {
            seq: at("seq")?,
            id: at("id")?,
            occurred_at: at("occurred_at")?,
            xact: at("xact")?,
            user_id: at("user_id")?,
            session_id: at("session_id")?,
            action: at("action")?,
            severity: at("severity")?,
            resource_type: at("resource_type")?,
            resource_id: at("resource_id")?,
            patient_id: at("patient_id")?,
            ip_address: at("ip_address")?,
            user_agent: at("user_agent")?,
            outcome: at("outcome")?,
            details: at("details")?,
            prev_hash: at("prev_hash")?,
            hash: at("hash")?,
        })
    }

    /// Reads `row` into `entry` (reusing its strings) and returns its seq, prev_hash and hash.
    fn decode<'r>(
        &self,
        row: &'r PgRow,
        entry: &mut Entry,
    ) -> Result<(i64, &'r [u8], &'r [u8]), sqlx::Error> {
        entry.id = row.try_get(self.id)?;
        entry.occurred_at = row.try_get(self.occurred_at)?;
        entry.xact = row.try_get(self.xact)?;
        entry.user_id = row.try_get(self.user_id)?;
        entry.session_id = row.try_get(self.session_id)?;
        set(&mut entry.action, row.try_get(self.action)?);
        set(&mut entry.severity, row.try_get(self.severity)?);
        set_optional(&mut entry.resource_type, row.try_get(self.resource_type)?);
        entry.resource_id = row.try_get(self.resource_id)?;
        entry.patient_id = row.try_get(self.patient_id)?;
        set_optional(&mut entry.ip_address, row.try_get(self.ip_address)?);
        set_optional(&mut entry.user_agent, row.try_get(self.user_agent)?);
        set(&mut entry.outcome, row.try_get(self.outcome)?);
        set(&mut entry.details, row.try_get(self.details)?);
        Ok((
            row.try_get(self.seq)?,
            row.try_get(self.prev_hash)?,
            row.try_get(self.hash)?,
        ))
    }
}

fn set(buffer: &mut String, value: &str) {
    buffer.clear();
    buffer.push_str(value);
}

fn set_optional(buffer: &mut Option<String>, value: Option<&str>) {
    match value {
        None => *buffer = None,
        Some(v) => {
            if let Some(b) = buffer {
                set(b, v);
            } else {
                *buffer = Some(v.to_owned());
            }
        }
    }
}
