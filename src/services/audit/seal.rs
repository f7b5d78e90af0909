//! Sealing: moving queued audit rows into the hash chain, in the order their transactions committed.
//!
//! Every commit ends with a seal ([`crate::db::ActingTx::commit`]). Within one process, concurrent
//! committers share rounds: whoever finds that a round began after their own commit has finished
//! returns at once, since that round saw their row. Across processes, the chain head's row lock
//! orders the sealers; each holds it for one batch, never for a writer's transaction.

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Datelike, Utc};

use super::chain::{ENTRY_COLUMNS, Entry, Linker};
use crate::crypto::AuditKey;
use crate::db::{AuditSealing, Database, DbError, Maintenance};

/// Rows sealed per transaction: large enough to keep up with bursts, small enough that the chain
/// lock is held for milliseconds.
pub const BATCH: i64 = 1000;

/// The process's sealer. Install it with [`install`].
pub struct Sealer {
    /// Rounds begun so far; a committer compares it before and after waiting for its turn.
    begun: AtomicU64,
    round: tokio::sync::Mutex<Round>,
}

struct Round {
    linker: Linker,
    /// Months whose partition is known to exist (`YYYY-MM`).
    months: HashSet<(i32, u32)>,
}

/// Has every commit on `db` (and its clones) seal the audit rows it queued, with `key`.
pub fn install(db: Database, key: &AuditKey) -> Database {
    db.with_sealing(Arc::new(Sealer::new(key)))
}

impl Sealer {
    pub fn new(key: &AuditKey) -> Sealer {
        Sealer {
            begun: AtomicU64::new(0),
            round: tokio::sync::Mutex::new(Round {
                linker: Linker::new(key),
                months: HashSet::new(),
            }),
        }
    }

    /// Seals everything that was queued when it was called.
    pub async fn seal_queued(&self, db: &Database) -> Result<u64, DbError> {
        let seen = self.begun.load(Ordering::SeqCst);
        let mut round = self.round.lock().await;
        if self.begun.load(Ordering::SeqCst) != seen {
            // A round began after our caller's commit and, since we now hold the lock, has ended.
            return Ok(0);
        }
        self.begun.fetch_add(1, Ordering::SeqCst);
        let mut sealed = 0;
        loop {
            let n = seal_batch(db, &mut round).await?;
            sealed += n;
            if n < BATCH as u64 {
                return Ok(sealed);
            }
        }
    }
}

impl AuditSealing for Sealer {
    fn seal<'a>(
        &'a self,
        db: &'a Database,
    ) -> Pin<Box<dyn Future<Output = Result<u64, DbError>> + Send + 'a>> {
        Box::pin(self.seal_queued(db))
    }
}

#[derive(sqlx::FromRow)]
struct Queued {
    queued: i64,
    #[sqlx(flatten)]
    entry: Entry,
}

fn month(at: DateTime<Utc>) -> (i32, u32) {
    (at.year(), at.month())
}

/// Seals up to [`BATCH`] queued rows in one transaction under the chain lock.
async fn seal_batch(db: &Database, round: &mut Round) -> Result<u64, DbError> {
    // Most commits after a read find the queue empty: one look, no lock.
    let queued: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM audit_queue)")
        .fetch_one(db.pool())
        .await?;
    if !queued {
        return Ok(0);
    }
    let mut tx = db.begin_maintenance(Maintenance::AuditSeal).await?;
    let (head_seq, head_hash): (i64, Vec<u8>) =
        sqlx::query_as("SELECT seq, hash FROM audit_chain FOR UPDATE")
            .fetch_one(tx.conn())
            .await?;
    const QUEUED: &str = const_format::concatcp!(
        "SELECT queued, ",
        ENTRY_COLUMNS,
        " FROM audit_queue ORDER BY queued LIMIT ",
        BATCH
    );
    let rows: Vec<Queued> = sqlx::query_as(QUEUED).fetch_all(tx.conn()).await?;
    let Some(last) = rows.last() else {
        tx.commit().await?;
        return Ok(0);
    };
    let last_at = last.entry.occurred_at;

    let new_months: Vec<DateTime<Utc>> = rows
        .iter()
        .map(|r| r.entry.occurred_at)
        .filter(|at| !round.months.contains(&month(*at)))
        .collect();
    let mut created = HashSet::new();
    for at in new_months {
        if created.insert(month(at)) {
            sqlx::query("SELECT hsc_audit_partition($1)")
                .bind(at)
                .execute(tx.conn())
                .await?;
        }
    }

    let mut queued = Vec::with_capacity(rows.len());
    let mut seqs = Vec::with_capacity(rows.len());
    let mut prevs: Vec<Vec<u8>> = Vec::with_capacity(rows.len());
    let mut hashes: Vec<Vec<u8>> = Vec::with_capacity(rows.len());
    let mut prev = head_hash;
    for (i, row) in rows.iter().enumerate() {
        let hash = round.linker.link(&prev, &row.entry).to_vec();
        queued.push(row.queued);
        seqs.push(head_seq + 1 + i as i64);
        prevs.push(std::mem::replace(&mut prev, hash.clone()));
        hashes.push(hash);
    }
    let n = rows.len() as u64;
    let new_head = head_seq + rows.len() as i64;

    // The row's fields are copied by the database itself, so what is stored is exactly what was signed.
    sqlx::query(
        "INSERT INTO audit_logs (seq, id, occurred_at, xact, user_id, session_id, action, severity, resource_type, \
         resource_id, patient_id, ip_address, user_agent, outcome, details, prev_hash, hash) \
         SELECT s.seq, q.id, q.occurred_at, q.xact, q.user_id, q.session_id, q.action, q.severity::text, q.resource_type, \
                q.resource_id, q.patient_id, q.ip_address, q.user_agent, q.outcome::text, q.details, s.prev, s.hash \
         FROM unnest($1::bigint[], $2::bigint[], $3::bytea[], $4::bytea[]) AS s (queued, seq, prev, hash) \
         JOIN audit_queue q ON q.queued = s.queued ORDER BY s.seq",
    )
    .bind(&queued)
    .bind(&seqs)
    .bind(&prevs)
    .bind(&hashes)
    .execute(tx.conn())
    .await?;
    sqlx::query("DELETE FROM audit_queue WHERE queued = ANY($1)")
        .bind(&queued)
        .execute(tx.conn())
        .await?;
    sqlx::query("UPDATE audit_chain SET seq = $1, hash = $2, occurred_at = $3")
        .bind(new_head)
        .bind(&prev)
        .bind(last_at)
        .execute(tx.conn())
        .await?;
    tx.commit().await?;
    round.months.extend(created);
    Ok(n)
}
