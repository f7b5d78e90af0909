//! Checking the audit hash chain (`hsc audit verify`) and taking a checkpoint of its head.
//!
//! The chain is read back in `seq` order and every row's link is computed again with the key, which
//! never enters the database. The first row that does not fit is named and classified: changed,
//! removed, inserted, reordered, or a truncated tail. An intact chain is the common case and can hold
//! years of events, so the scan streams pages of rows through one set of reused buffers; only after a
//! break does it spend extra queries on saying what happened.
//!
//! A checkpoint (`SEQ:HASH` of the head, kept off the machine) catches what the chain alone cannot:
//! someone with the owner's rights removing the newest rows and moving the head back with them.

mod classify;
mod problem;
mod scan;

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::json;
use sqlx::PgConnection;

use super::chain::GENESIS;
use super::{Action, Client, Event, Outcome};
use crate::crypto::AuditKey;
use crate::db::{Database, DbError, Maintenance};
use classify::Chain;
pub use problem::{BadRow, ChangedBy, InsertedBy, Problem, Witness};
use scan::Scan;

/// One end of the part of the chain to verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// A row's place in the chain (1 is the first).
    Seq(i64),
    /// A calendar day in UTC: from its first row, or to its last.
    Date(NaiveDate),
    /// An instant: from the first row at or after it, or to the last row at or before it.
    Time(DateTime<Utc>),
}

impl FromStr for Bound {
    type Err = String;

    fn from_str(s: &str) -> Result<Bound, String> {
        let s = s.trim();
        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            return match s.parse::<i64>() {
                Ok(n) if n >= 1 => Ok(Bound::Seq(n)),
                _ => Err("a seq number is at least 1 and at most 9223372036854775807".into()),
            };
        }
        if let Ok(day) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
            return Ok(Bound::Date(day));
        }
        DateTime::parse_from_rfc3339(s)
            .map(|t| Bound::Time(t.with_timezone(&Utc)))
            .map_err(|_| {
                "expected a seq number, a date (YYYY-MM-DD, UTC) or an RFC 3339 time \
                 (e.g. 2026-05-01T09:30:00Z)"
                    .into()
            })
    }
}

impl Bound {
    /// The first instant a date or time bound covers (`None` for a seq number).
    fn first_instant(&self) -> Option<DateTime<Utc>> {
        match self {
            Bound::Seq(_) => None,
            Bound::Date(day) => day.and_hms_opt(0, 0, 0).map(|t| t.and_utc()),
            Bound::Time(t) => Some(*t),
        }
    }

    /// The first instant after what a date or time bound covers: the next day, or the next
    /// microsecond (`None` for a seq number).
    fn instant_after(&self) -> Option<DateTime<Utc>> {
        match self {
            Bound::Seq(_) => None,
            Bound::Date(day) => day
                .succ_opt()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|t| t.and_utc()),
            Bound::Time(t) => t.checked_add_signed(chrono::Duration::microseconds(1)),
        }
    }
}

impl fmt::Display for Bound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Bound::Seq(n) => write!(f, "seq {n}"),
            Bound::Date(d) => write!(f, "{d}"),
            Bound::Time(t) => write!(f, "{}", t.to_rfc3339()),
        }
    }
}

/// Which part of the chain to verify; an absent end means the first row, or the last.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Range {
    pub from: Option<Bound>,
    pub to: Option<Bound>,
}

/// The chain's head as recorded elsewhere: `SEQ:HASH`, the hash in hex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub seq: i64,
    pub hash: [u8; 32],
}

impl FromStr for Checkpoint {
    type Err = String;

    fn from_str(s: &str) -> Result<Checkpoint, String> {
        let wrong = || {
            "expected SEQ:HASH as `hsc audit checkpoint` prints it (a seq number, a colon and 64 hex digits)".to_string()
        };
        let (seq, hash) = s.trim().split_once(':').ok_or_else(wrong)?;
        let seq = seq
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(wrong)?;
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(hash, &mut bytes).map_err(|_| wrong())?;
        Ok(Checkpoint { seq, hash: bytes })
    }
}

impl fmt::Display for Checkpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.seq, hex::encode(self.hash))
    }
}

/// The newest sealed row: what a checkpoint records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// 0 while the chain is empty.
    pub seq: i64,
    pub hash: [u8; 32],
    /// When the newest row's event happened; `None` while the chain is empty.
    pub occurred_at: Option<DateTime<Utc>>,
}

impl Head {
    /// The `--checkpoint` value that pins the chain up to this row.
    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            seq: self.seq,
            hash: self.hash,
        }
    }
}

/// Hears how far a verification has got, so the command line can draw it.
pub trait Progress: Send {
    /// Rows in the range, known before the first is read.
    fn counted(&mut self, rows: u64);
    /// Rows verified so far.
    fn verified(&mut self, rows: u64);
}

/// Shows nothing.
impl Progress for () {
    fn counted(&mut self, _: u64) {}
    fn verified(&mut self, _: u64) {}
}

/// What a verification found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The first seq of the range verified.
    pub from: i64,
    /// The last seq of the range verified (below `from` when the range is empty).
    pub to: i64,
    /// Rows of the range verified before the first problem (all of them when intact).
    pub rows: u64,
    pub problem: Option<Problem>,
}

impl Report {
    /// Whether nothing was wrong.
    pub fn intact(&self) -> bool {
        self.problem.is_none()
    }
}

/// Why a verification could not run.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Database(#[from] DbError),
    /// `--from` or `--to` names no row; the sentence names the option.
    #[error("{0}")]
    Range(String),
}

impl From<sqlx::Error> for VerifyError {
    fn from(e: sqlx::Error) -> Self {
        VerifyError::Database(DbError::from_sqlx(e))
    }
}

/// Takes the head: seals what is queued, then reads the newest row.
pub async fn checkpoint(db: &Database) -> Result<Head, VerifyError> {
    db.seal_audit_now().await?;
    let mut tx = db.begin_maintenance(Maintenance::AuditVerify).await?;
    let last: Option<(i64, Vec<u8>, DateTime<Utc>)> = sqlx::query_as(
        "SELECT seq, hash, occurred_at FROM audit_logs ORDER BY seq DESC, occurred_at DESC LIMIT 1",
    )
    .fetch_optional(tx.conn())
    .await?;
    tx.commit().await?;
    Ok(match last {
        None => Head {
            seq: 0,
            hash: GENESIS,
            occurred_at: None,
        },
        Some((seq, hash, at)) => Head {
            seq,
            // A stored hash of another length cannot verify; the checkpoint would only ever fail.
            hash: hash.try_into().unwrap_or(GENESIS),
            occurred_at: Some(at),
        },
    })
}

/// Verifies `range` of the chain with `key` (and, given one, against `checkpoint`), after sealing
/// what is queued. Every run is audited with one AUDIT_VERIFY row, whatever it finds.
pub async fn verify(
    db: &Database,
    key: &AuditKey,
    range: &Range,
    checkpoint: Option<&Checkpoint>,
    progress: &mut dyn Progress,
) -> Result<Report, VerifyError> {
    let result = check(db, key, range, checkpoint, progress).await;
    let (outcome, details) = match &result {
        Ok(report) => (
            if report.intact() {
                Outcome::Success
            } else {
                Outcome::Failed
            },
            json!({
                "from": report.from,
                "to": report.to,
                "rows": report.rows,
                "intact": report.intact(),
                "first_bad_seq": report.problem.as_ref().map(Problem::seq),
                "problem": report.problem.as_ref().map(Problem::kind),
                "checkpoint_seq": checkpoint.map(|c| c.seq),
            }),
        ),
        Err(e) => (
            Outcome::Failed,
            json!({ "error": match e { VerifyError::Range(_) => "range", VerifyError::Database(_) => "database" } }),
        ),
    };
    let audited = audit_run(db, outcome, details).await;
    match (result, audited) {
        (Ok(report), Ok(())) => Ok(report),
        (Ok(_), Err(e)) => Err(e.into()),
        (Err(e), audited) => {
            if let Err(audit_error) = audited {
                tracing::warn!(error = %audit_error, "the AUDIT_VERIFY failure could not be audited");
            }
            Err(e)
        }
    }
}

async fn audit_run(
    db: &Database,
    outcome: Outcome,
    details: serde_json::Value,
) -> Result<(), DbError> {
    let mut tx = db.begin_maintenance(Maintenance::AuditVerify).await?;
    let event = Event::new(Action::AuditVerify, outcome, None).details(details);
    super::write(tx.conn(), &Client::command_line(), &event).await?;
    tx.commit().await
}

async fn check(
    db: &Database,
    key: &AuditKey,
    range: &Range,
    checkpoint: Option<&Checkpoint>,
    progress: &mut dyn Progress,
) -> Result<Report, VerifyError> {
    db.seal_audit_now().await?;
    let mut tx = db.begin_maintenance(Maintenance::AuditVerify).await?;
    // One snapshot for the head, the scan and the lookups after a break.
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(tx.conn())
        .await?;
    let (head_seq, head_hash, max_seq): (i64, Vec<u8>, Option<i64>) = sqlx::query_as(
        "SELECT c.seq, c.hash, (SELECT max(seq) FROM audit_logs) FROM audit_chain c",
    )
    .fetch_one(tx.conn())
    .await?;
    let chain = Chain {
        head_seq,
        head_hash,
        max_seq: max_seq.unwrap_or(0),
    };
    let end = chain.head_seq.max(chain.max_seq);
    let (from, to) = resolve(tx.conn(), range, end).await?;
    progress.counted(u64::try_from(to - from + 1).unwrap_or(0));

    let mut scan = Scan::new(key);
    let found = scan.run(tx.conn(), from, to, progress).await?;
    progress.verified(scan.verified);
    let mut problem = match found {
        Some(found) => Some(classify::classify(tx.conn(), &mut scan, &chain, found).await?),
        None if to == end => chain.tail_problem(tx.conn(), to).await?,
        None => None,
    };
    if problem.is_none()
        && let Some(cp) = checkpoint
    {
        problem = classify::against_checkpoint(tx.conn(), &chain, cp).await?;
    }
    tx.commit().await?;
    Ok(Report {
        from,
        to,
        rows: scan.verified,
        problem,
    })
}

/// Turns `--from` and `--to` into seq numbers within `1..=end`.
async fn resolve(
    conn: &mut PgConnection,
    range: &Range,
    end: i64,
) -> Result<(i64, i64), VerifyError> {
    let from = match range.from {
        None => 1,
        Some(Bound::Seq(n)) if n > end.max(1) => {
            return Err(VerifyError::Range(format!(
                "--from {n} is past the end of the audit chain, whose last row is seq {end}"
            )));
        }
        Some(Bound::Seq(n)) => n.max(1),
        Some(bound) => {
            let seq: Option<i64> = sqlx::query_scalar(
                "SELECT seq FROM audit_logs WHERE occurred_at >= $1 ORDER BY occurred_at, seq LIMIT 1",
            )
            .bind(bound.first_instant())
            .fetch_optional(&mut *conn)
            .await?;
            seq.ok_or_else(|| {
                VerifyError::Range(format!("--from {bound}: no audit row is that recent"))
            })?
        }
    };
    let to = match range.to {
        None => end,
        Some(Bound::Seq(n)) => n.min(end),
        Some(bound) => {
            let seq: Option<i64> = sqlx::query_scalar(
                "SELECT seq FROM audit_logs WHERE occurred_at < $1 \
                 ORDER BY occurred_at DESC, seq DESC LIMIT 1",
            )
            .bind(bound.instant_after())
            .fetch_optional(&mut *conn)
            .await?;
            seq.ok_or_else(|| {
                VerifyError::Range(format!("--to {bound}: no audit row is that old"))
            })?
        }
    };
    if range.from.is_some() && range.to.is_some() && from > to {
        return Err(VerifyError::Range(format!(
            "--from (seq {from}) comes after --to (seq {to}), so there is nothing to verify"
        )));
    }
    Ok((from, to))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bound_is_a_seq_a_day_or_an_instant() {
        assert_eq!("42".parse(), Ok(Bound::Seq(42)));
        assert_eq!(
            " 2026-05-01 ".parse(),
            Ok(Bound::Date(NaiveDate::from_ymd_opt(2026, 5, 1).unwrap()))
        );
        let at: Bound = "2026-05-01T09:30:00+02:00".parse().unwrap();
        assert_eq!(
            at.first_instant().unwrap().to_rfc3339(),
            "2026-05-01T07:30:00+00:00"
        );
        for wrong in [
            "0",
            "-3",
            "",
            "yesterday",
            "2026-13-01",
            "99999999999999999999",
        ] {
            assert!(wrong.parse::<Bound>().is_err(), "{wrong:?}");
        }
    }

    #[test]
    fn a_day_covers_all_of_itself_in_utc() {
        let day = Bound::Date(NaiveDate::from_ymd_opt(2026, 2, 28).unwrap());
        assert_eq!(
            day.first_instant().unwrap().to_rfc3339(),
            "2026-02-28T00:00:00+00:00"
        );
        assert_eq!(
            day.instant_after().unwrap().to_rfc3339(),
            "2026-03-01T00:00:00+00:00"
        );
        assert_eq!(Bound::Seq(3).first_instant(), None);
    }

    #[test]
    fn a_checkpoint_reads_back_what_it_prints() {
        let cp = Checkpoint {
            seq: 1234,
            hash: [0xab; 32],
        };
        let line = cp.to_string();
        assert_eq!(line, format!("1234:{}", "ab".repeat(32)));
        assert_eq!(line.parse(), Ok(cp));
        assert_eq!(
            format!("7:{}", "AB".repeat(32))
                .parse::<Checkpoint>()
                .map(|c| c.hash),
            Ok([0xab; 32])
        );
        for wrong in [
            "1234".to_string(),
            format!("-1:{}", "ab".repeat(32)),
            format!("x:{}", "ab".repeat(32)),
            format!("1:{}", "ab".repeat(31)),
            format!("1:{}", "zz".repeat(32)),
        ] {
            assert!(wrong.parse::<Checkpoint>().is_err(), "{wrong}");
        }
    }

    #[test]
    fn the_head_of_an_empty_chain_is_seq_zero_at_genesis() {
        let head = Head {
            seq: 0,
            hash: GENESIS,
            occurred_at: None,
        };
        assert_eq!(
            head.checkpoint().to_string(),
            format!("0:{}", "00".repeat(32))
        );
    }
}
