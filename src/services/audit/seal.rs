//! Sealing: moving queued audit rows into the hash chain, in the order their transactions committed.
//!
//! Every commit ends with a seal ([`crate::db::ActingTx::commit`]). Within one process one commit at
//! a time seals: a commit that finds another sealing leaves its row to it and returns at once (the
//! sealer goes round again for rows committed meanwhile), so writers never queue behind the chain.
//! A sealer that has gone round a few times hands what is left to a task of its own, so no one
//! person's action waits on everybody else's. Across processes, the chain head's row lock orders
//! the sealers; each holds it for one batch, never for a writer's transaction.

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, Datelike, Utc};

use super::chain::{ENTRY_COLUMNS, Entry, Linker};
use crate::crypto::AuditKey;
use crate::db::{AuditSealing, Database, DbError, Maintenance};

/// Rows sealed per transaction: large enough to keep up with bursts, small enough that the chain
/// lock is held for milliseconds.
pub const BATCH: i64 = 1000;

/// Rounds a committer seals for others before handing the rest to a task.
const ROUNDS_PER_COMMIT: usize = 4;

/// The process's sealer. Install it with [`install`].
pub struct Sealer {
    /// Set by every commit: rows were queued that the round under way may not have seen.
    pending: AtomicBool,
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
            pending: AtomicBool::new(false),
            round: tokio::sync::Mutex::new(Round {
                linker: Linker::new(key),
                months: HashSet::new(),
            }),
        }
    }

    /// After a commit: seals what is queued, unless another commit of this process is sealing —
    /// then it goes round again for this one's rows, and this returns at once.
    pub async fn after_commit(&self, db: &Database) -> Result<u64, DbError> {
        self.pending.store(true, Ordering::SeqCst);
        let mut sealed = 0;
        loop {
            let Ok(mut round) = self.round.try_lock() else {
                return Ok(sealed);
            };
            let mut rounds = 0;
            while self.pending.swap(false, Ordering::SeqCst) {
                if rounds == ROUNDS_PER_COMMIT {
                    // Others keep committing: a task of its own seals the rest.
                    self.pending.store(true, Ordering::SeqCst);
                    let db = db.clone();
                    tokio::spawn(async move { db.seal_audit().await });
                    return Ok(sealed);
                }
                sealed += drain(db, &mut round).await?;
                rounds += 1;
            }
            drop(round);
            // A commit that found the lock taken after our last look is ours to seal.
            if !self.pending.load(Ordering::SeqCst) {
                return Ok(sealed);
            }
        }
    }

    /// Seals everything committed before it was called, waiting for a round under way.
    pub async fn seal_queued(&self, db: &Database) -> Result<u64, DbError> {
        let mut round = self.round.lock().await;
        drain(db, &mut round).await
    }
}

impl AuditSealing for Sealer {
    fn after_commit<'a>(
        &'a self,
        db: &'a Database,
    ) -> Pin<Box<dyn Future<Output = Result<u64, DbError>> + Send + 'a>> {
        Box::pin(Sealer::after_commit(self, db))
    }

    fn seal<'a>(
        &'a self,
        db: &'a Database,
    ) -> Pin<Box<dyn Future<Output = Result<u64, DbError>> + Send + 'a>> {
        Box::pin(self.seal_queued(db))
    }
}

/// Seals batch after batch until the queue holds no committed row.
async fn drain(db: &Database, round: &mut Round) -> Result<u64, DbError> {
    let mut sealed = 0;
    loop {
        let n = seal_batch(db, round).await?;
        sealed += n;
        if n < BATCH as u64 {
            return Ok(sealed);
        }
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
    // Most commits after a read find the queue empty: one look, no lock. Through the index, whose
    // entries for rows already sealed are skipped once seen (a heap scan would wade through them).
    let oldest: Option<i64> =
        sqlx::query_scalar("SELECT queued FROM audit_queue ORDER BY queued LIMIT 1")
            .fetch_optional(db.pool())
            .await?;
    if oldest.is_none() {
        return Ok(0);
    }
    let mut tx = db.begin_maintenance(Maintenance::AuditSeal).await?;
    // The queued rows are already durable, so the seal's commit need not wait for the disk: one lost
    // in a crash is simply sealed again. The head's row lock is the chain's one lock. The queue is read by the next statement, whose
    // snapshot is taken after the lock is held, so it never sees rows another sealer already took.
    let (head_seq, head_hash): (i64, Vec<u8>) = sqlx::query_as(
        "SELECT seq, hash FROM audit_chain WHERE set_config('synchronous_commit', 'off', true) = 'off' \
         FOR UPDATE",
    )
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

    // The row's fields are copied by the database itself, so what is stored is exactly what was
    // signed; the head moves in the same statement.
    let moved = sqlx::query(
        "WITH sealed AS ( \
           INSERT INTO audit_logs (seq, id, occurred_at, xact, user_id, session_id, action, severity, \
                                   resource_type, resource_id, patient_id, ip_address, user_agent, outcome, \
                                   details, prev_hash, hash) \
           SELECT s.seq, q.id, q.occurred_at, q.xact, q.user_id, q.session_id, q.action, q.severity::text, \
                  q.resource_type, q.resource_id, q.patient_id, q.ip_address, q.user_agent, q.outcome::text, \
                  q.details, s.prev, s.hash \
           FROM unnest($1::bigint[], $2::bigint[], $3::bytea[], $4::bytea[]) AS s (queued, seq, prev, hash) \
           JOIN audit_queue q ON q.queued = s.queued ORDER BY s.seq \
           RETURNING 1) \
         UPDATE audit_chain SET seq = $5, hash = $6, occurred_at = $7 \
         WHERE (SELECT count(*) FROM sealed) = cardinality($1::bigint[])",
    )
    .bind(&queued)
    .bind(&seqs)
    .bind(&prevs)
    .bind(&hashes)
    .bind(new_head)
    .bind(&prev)
    .bind(last_at)
    .execute(tx.conn())
    .await?
    .rows_affected();
    if moved != 1 {
        // Dropping the transaction rolls it back: nothing sealed, the rows stay queued.
        return Err(DbError::Query(
            "sealing found fewer queued audit rows than it had read".into(),
        ));
    }
    // A separate statement: the queue's guard looks each row up in audit_logs, which a sibling
    // part of the statement above would not yet show it.
    sqlx::query("DELETE FROM audit_queue WHERE queued = ANY($1)")
        .bind(&queued)
        .execute(tx.conn())
        .await?;
    tx.commit().await?;
    round.months.extend(created);
    Ok(n)
}
