//! The failure path: after the scan stops at a row, lookups that say what happened there.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::scan::{Found, Scan};
use super::{BadRow, ChangedBy, Checkpoint, InsertedBy, Problem, VerifyError, Witness};

/// The chain as it stood when the verification began.
pub(super) struct Chain {
    pub(super) head_seq: i64,
    pub(super) head_hash: Vec<u8>,
    pub(super) max_seq: i64,
}

impl Chain {
    /// With every row up to `last` intact: the head must record exactly that row.
    pub(super) async fn tail_problem(
        &self,
        conn: &mut PgConnection,
        last: i64,
    ) -> Result<Option<Problem>, VerifyError> {
        if last > self.head_seq {
            // The scan got past the head, so rows exist there: name the first.
            let row = row_at(conn, self.head_seq + 1).await?;
            return Ok(row.map(|row| Problem::Inserted {
                row,
                by: InsertedBy::PastHead,
            }));
        }
        if last == self.head_seq && last > 0 {
            let stored: Option<Vec<u8>> = sqlx::query_scalar(
                "SELECT hash FROM audit_logs WHERE seq = $1 ORDER BY occurred_at LIMIT 1",
            )
            .bind(last)
            .fetch_optional(&mut *conn)
            .await?;
            if stored.as_deref() != Some(self.head_hash.as_slice()) {
                return Ok(row_at(conn, last).await?.map(|row| Problem::Changed {
                    row,
                    by: ChangedBy::Head,
                }));
            }
        }
        Ok(None)
    }
}

/// Says what happened at the row where the scan stopped, with whatever lookups it takes.
pub(super) async fn classify(
    conn: &mut PgConnection,
    scan: &mut Scan,
    chain: &Chain,
    found: Found,
) -> Result<Problem, VerifyError> {
    let Found {
        after,
        expect_prev,
        suspect,
    } = found;
    let suspect = match suspect {
        Some(s) => s,
        // Rows ran out early: rows follow the gap (a removal), or nothing does (a truncation).
        None => match scan.next_row(conn, after).await? {
            Some(s) => s,
            None => {
                return Ok(Problem::Truncated {
                    last: after,
                    expected: chain.head_seq.max(after + 1),
                    witness: Witness::Head,
                });
            }
        },
    };
    let seq = suspect.row.seq;
    let duplicate: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_logs WHERE seq = $1")
        .bind(seq)
        .fetch_one(&mut *conn)
        .await?;
    if seq <= after || duplicate > 1 {
        return Ok(Problem::Inserted {
            row: suspect.row,
            by: InsertedBy::DuplicateSeq,
        });
    }
    if !suspect.signed {
        if seq > chain.head_seq {
            return Ok(Problem::Inserted {
                row: suspect.row,
                by: InsertedBy::PastHead,
            });
        }
        // A forged row does not stop the genuine next row from linking to its predecessor.
        let before = expect_prev.map_or(suspect.prev_hash.clone(), |p| p.to_vec());
        let bypassed: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM audit_logs WHERE prev_hash = $1 AND NOT (seq = $2 AND id = $3))",
        )
        .bind(&before)
        .bind(seq)
        .bind(suspect.row.id)
        .fetch_one(&mut *conn)
        .await?;
        return Ok(if bypassed {
            Problem::Inserted {
                row: suspect.row,
                by: InsertedBy::Unlinked,
            }
        } else {
            Problem::Changed {
                row: suspect.row,
                by: ChangedBy::Contents,
            }
        });
    }
    // A genuine row out of place: which row does it link to?
    let links_to = if expect_prev.is_some_and(|p| p[..] == suspect.prev_hash[..]) {
        Some(after)
    } else {
        sqlx::query_scalar("SELECT seq FROM audit_logs WHERE hash = $1 ORDER BY seq LIMIT 1")
            .bind(&suspect.prev_hash)
            .fetch_optional(&mut *conn)
            .await?
    };
    Ok(match links_to {
        None => Problem::Removed {
            missing: (seq > after + 1).then_some((after + 1, seq - 1)),
            row: Some(suspect.row),
        },
        Some(s) if s == after => Problem::Changed {
            row: suspect.row,
            by: ChangedBy::Seq,
        },
        Some(s) => Problem::Reordered {
            row: suspect.row,
            links_to: s,
        },
    })
}

/// With the chain otherwise intact: it must reach the checkpoint's seq and hold its hash there.
pub(super) async fn against_checkpoint(
    conn: &mut PgConnection,
    chain: &Chain,
    cp: &Checkpoint,
) -> Result<Option<Problem>, VerifyError> {
    if cp.seq > chain.max_seq {
        return Ok(Some(Problem::Truncated {
            last: chain.max_seq,
            expected: cp.seq,
            witness: Witness::Checkpoint,
        }));
    }
    if cp.seq == 0 {
        return Ok(None);
    }
    let stored: Option<Vec<u8>> = sqlx::query_scalar(
        "SELECT hash FROM audit_logs WHERE seq = $1 ORDER BY occurred_at LIMIT 1",
    )
    .bind(cp.seq)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(match stored {
        Some(hash) if hash[..] == cp.hash[..] => None,
        Some(_) => row_at(conn, cp.seq).await?.map(|row| Problem::Changed {
            row,
            by: ChangedBy::Checkpoint,
        }),
        None => Some(Problem::Removed {
            missing: Some((cp.seq, cp.seq)),
            row: None,
        }),
    })
}

/// The row at `seq` as a finding names it.
async fn row_at(conn: &mut PgConnection, seq: i64) -> Result<Option<BadRow>, VerifyError> {
    let row: Option<(i64, Uuid, DateTime<Utc>, String)> = sqlx::query_as(
        "SELECT seq, id, occurred_at, action FROM audit_logs WHERE seq = $1 ORDER BY occurred_at LIMIT 1",
    )
    .bind(seq)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|(seq, id, occurred_at, action)| BadRow {
        seq,
        id,
        occurred_at,
        action,
    }))
}
