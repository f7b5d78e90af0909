//! Key rotation (`hsc keys rotate`): re-encrypts every sealed value that is not under the current key.
//!
//! Rows are chosen by the key id inside their ciphertexts (bytes 2–5), never by a remembered position,
//! so a run that stops — Ctrl-C, a crash, an unreadable row — leaves each row either wholly rotated or
//! untouched, and the next run picks up exactly the rows still under an older key: nothing is sealed
//! twice and nothing is skipped. Each batch is one transaction with its own audit row.
//! `FOR UPDATE SKIP LOCKED` lets a console user editing a record carry on; the rows they hold are taken
//! by a later pass.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use uuid::Uuid;

use super::audit::{self, Action, Client, Event, Outcome};
use crate::crypto::{Aad, CryptoError, KeyId, Keyring, key_id_of};
use crate::db::{Database, DbError, Maintenance};

/// Rows re-encrypted per transaction unless the caller asks otherwise.
pub const DEFAULT_BATCH_SIZE: u32 = 500;

/// How long rows held by other sessions are waited for before the run gives up on them.
const LOCKED_PASSES: u32 = 30;
const LOCKED_PAUSE: Duration = Duration::from_secs(1);

/// A table with sealed columns. `select` takes the current key id ($1), the first id to consider ($2)
/// and a row limit ($3), and returns `id, AAD row id, AAD version` and four value slots (NULL where the
/// table has fewer columns). `update` takes the ids and the four slots as parallel arrays.
struct Table {
    name: &'static str,
    /// The AAD column names, in slot order.
    columns: &'static [&'static str],
    count: &'static str,
    select: &'static str,
    update: &'static str,
}

// The AADs are built exactly as the writers build them: seed.rs and the records service for the two
// record tables (record_versions is bound to its record's id, not its own), mfa::secret_aad for devices.
const TABLES: [Table; 3] = [
    Table {
        name: "medical_records",
        columns: &["title", "description", "metadata"],
        count: "SELECT count(*) FROM medical_records WHERE substring(title from 2 for 4) <> $1 \
                OR substring(description from 2 for 4) <> $1 OR substring(metadata from 2 for 4) <> $1",
        select: "SELECT id, id, version, title, description, metadata, NULL::bytea FROM medical_records \
                 WHERE id >= $2 AND (substring(title from 2 for 4) <> $1 \
                 OR substring(description from 2 for 4) <> $1 OR substring(metadata from 2 for 4) <> $1) \
                 ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED",
        update: "UPDATE medical_records AS t SET title = u.c1, description = u.c2, metadata = u.c3 \
                 FROM unnest($1::uuid[], $2::bytea[], $3::bytea[], $4::bytea[], $5::bytea[]) AS u(id, c1, c2, c3, c4) \
                 WHERE t.id = u.id",
    },
    Table {
        name: "record_versions",
        columns: &["title", "description", "metadata", "change_reason"],
        count: "SELECT count(*) FROM record_versions WHERE substring(title from 2 for 4) <> $1 \
                OR substring(description from 2 for 4) <> $1 OR substring(metadata from 2 for 4) <> $1 \
                OR substring(change_reason from 2 for 4) <> $1",
        select: "SELECT id, record_id, version, title, description, metadata, change_reason FROM record_versions \
                 WHERE id >= $2 AND (substring(title from 2 for 4) <> $1 \
                 OR substring(description from 2 for 4) <> $1 OR substring(metadata from 2 for 4) <> $1 \
                 OR substring(change_reason from 2 for 4) <> $1) \
                 ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED",
        update: "UPDATE record_versions AS t SET title = u.c1, description = u.c2, metadata = u.c3, change_reason = u.c4 \
                 FROM unnest($1::uuid[], $2::bytea[], $3::bytea[], $4::bytea[], $5::bytea[]) AS u(id, c1, c2, c3, c4) \
                 WHERE t.id = u.id",
    },
    Table {
        name: "mfa_devices",
        columns: &["secret_ciphertext"],
        count: "SELECT count(*) FROM mfa_devices WHERE substring(secret_ciphertext from 2 for 4) <> $1",
        select: "SELECT id, id, 1, secret_ciphertext, NULL::bytea, NULL::bytea, NULL::bytea FROM mfa_devices \
                 WHERE id >= $2 AND substring(secret_ciphertext from 2 for 4) <> $1 \
                 ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED",
        update: "UPDATE mfa_devices AS t SET secret_ciphertext = u.c1 \
                 FROM unnest($1::uuid[], $2::bytea[], $3::bytea[], $4::bytea[], $5::bytea[]) AS u(id, c1, c2, c3, c4) \
                 WHERE t.id = u.id",
    },
];

const SLOTS: usize = 4;

type Row = (
    Uuid,
    Uuid,
    i32,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
);

/// How a rotation runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotateOptions {
    /// Rows per transaction (at least 1).
    pub batch_size: u32,
    /// Stop cleanly after this many committed batches, as if interrupted (for tests and trial runs).
    pub stop_after_batches: Option<u64>,
}

impl Default for RotateOptions {
    fn default() -> Self {
        RotateOptions {
            batch_size: DEFAULT_BATCH_SIZE,
            stop_after_batches: None,
        }
    }
}

/// Hears how far a rotation has got, so the command line can draw it.
pub trait Progress {
    /// Rows found under older keys, counted before any is rotated.
    fn counted(&mut self, rows: u64);
    /// Rows rotated so far by this run, after each committed batch.
    fn rotated(&mut self, rows: u64);
}

/// Shows nothing.
impl Progress for () {
    fn counted(&mut self, _: u64) {}
    fn rotated(&mut self, _: u64) {}
}

/// What a rotation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    /// The key everything was re-encrypted to.
    pub key_id: KeyId,
    /// Rows re-encrypted by this run.
    pub rotated: u64,
    /// Rows still under an older key (0 unless stopped).
    pub remaining: u64,
    /// The run was stopped (Ctrl-C or `stop_after_batches`) before it finished.
    pub stopped: bool,
}

/// Why a rotation stopped short. Names tables, columns and row ids, never content or keys.
#[derive(Debug, thiserror::Error)]
pub enum RotationError {
    #[error(transparent)]
    Database(#[from] DbError),
    #[error(
        "{table} row {row_id} could not be decrypted ({column}): {reason}; key rotation stopped with that row's batch unchanged, and rows rotated before it stay rotated"
    )]
    Unreadable {
        table: &'static str,
        column: &'static str,
        row_id: Uuid,
        reason: CryptoError,
    },
    #[error(
        "{table} row {row_id} could not be re-encrypted: {reason}; key rotation stopped with that row's batch unchanged"
    )]
    Seal {
        table: &'static str,
        row_id: Uuid,
        reason: CryptoError,
    },
    #[error(
        "{remaining} row(s) under older keys stayed locked by other sessions for {seconds} seconds; everything else was rotated, and running `hsc keys rotate` again later finishes them"
    )]
    StillLocked { remaining: u64, seconds: u64 },
}

/// Rows (across every sealed table) holding a value not under `key`.
pub async fn count_stale(db: &Database, key: KeyId) -> Result<u64, DbError> {
    let mut tx = db.begin_maintenance(Maintenance::KeyRotation).await?;
    let mut total = 0u64;
    for table in &TABLES {
        let n: i64 = sqlx::query_scalar(table.count)
            .bind(&key.0[..])
            .fetch_one(tx.conn())
            .await?;
        total += u64::try_from(n).unwrap_or(0);
    }
    tx.commit().await?;
    Ok(total)
}

/// Re-encrypts every row not under `keyring`'s current key, batch by batch, until none is left or
/// `stop` is set (checked between batches, so a stop never splits one). Writes KEY_ROTATION audit rows
/// when it starts, for each batch (in that batch's transaction) and when it ends, however it ends.
pub async fn rotate(
    db: &Database,
    keyring: &Keyring,
    client: &Client,
    options: &RotateOptions,
    stop: &AtomicBool,
    progress: &mut dyn Progress,
) -> Result<Rotation, RotationError> {
    let key_id = keyring.current_key_id();
    let total = count_stale(db, key_id).await?;
    progress.counted(total);
    audit_alone(
        db,
        client,
        Outcome::Success,
        json!({"phase": "started", "rows": total, "key_id": key_id.to_string(), "by": "command line"}),
    )
    .await?;
    let mut run = Run {
        db,
        keyring,
        client,
        options,
        stop,
        key_id,
        rotated: 0,
        batches: 0,
    };
    match run.passes(progress).await {
        Ok(stopped) => {
            let remaining = if stopped {
                count_stale(db, key_id).await?
            } else {
                0
            };
            let phase = if stopped { "interrupted" } else { "finished" };
            audit_alone(
                db,
                client,
                Outcome::Success,
                json!({"phase": phase, "rows": run.rotated, "remaining": remaining, "key_id": key_id.to_string()}),
            )
            .await?;
            Ok(Rotation {
                key_id,
                rotated: run.rotated,
                remaining,
                stopped,
            })
        }
        Err(e) => {
            let mut details =
                json!({"phase": "failed", "rows": run.rotated, "key_id": key_id.to_string()});
            if let (
                RotationError::Unreadable { table, row_id, .. }
                | RotationError::Seal { table, row_id, .. },
                Value::Object(map),
            ) = (&e, &mut details)
            {
                map.insert("table".into(), json!(table));
                map.insert("row_id".into(), json!(row_id));
            }
            // The failure itself is what the person must see; a failed audit write must not hide it.
            if let Err(audit_error) = audit_alone(db, client, Outcome::Failed, details).await {
                tracing::warn!(error = %audit_error, "the KEY_ROTATION failure could not be audited");
            }
            Err(e)
        }
    }
}

/// Writes one KEY_ROTATION row in a transaction of its own (the start and end of a run).
async fn audit_alone(
    db: &Database,
    client: &Client,
    outcome: Outcome,
    details: Value,
) -> Result<(), DbError> {
    let mut tx = db.begin_maintenance(Maintenance::KeyRotation).await?;
    let event = Event::new(Action::KeyRotation, outcome, None).details(details);
    audit::write(tx.conn(), client, &event).await?;
    tx.commit().await
}

/// One run's state between batches.
struct Run<'a> {
    db: &'a Database,
    keyring: &'a Keyring,
    client: &'a Client,
    options: &'a RotateOptions,
    stop: &'a AtomicBool,
    key_id: KeyId,
    rotated: u64,
    batches: u64,
}

impl Run<'_> {
    fn should_stop(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
            || self
                .options
                .stop_after_batches
                .is_some_and(|n| self.batches >= n)
    }

    /// Passes over every table until a count finds nothing left. True when stopped early.
    async fn passes(&mut self, progress: &mut dyn Progress) -> Result<bool, RotationError> {
        let mut idle = 0u32;
        loop {
            let before = self.rotated;
            for table in &TABLES {
                if self.pass(table, progress).await? {
                    return Ok(true);
                }
            }
            // Rows locked during this pass, or written under an old key meanwhile, are still there.
            let remaining = count_stale(self.db, self.key_id).await?;
            if remaining == 0 {
                return Ok(false);
            }
            if self.rotated > before {
                idle = 0;
                continue;
            }
            idle += 1;
            if idle >= LOCKED_PASSES {
                return Err(RotationError::StillLocked {
                    remaining,
                    seconds: u64::from(LOCKED_PASSES) * LOCKED_PAUSE.as_secs(),
                });
            }
            if self.pause().await {
                return Ok(true);
            }
        }
    }

    /// Waits before retrying locked rows, answering a stop at once. True when stopped.
    async fn pause(&self) -> bool {
        let step = Duration::from_millis(100);
        let mut waited = Duration::ZERO;
        while waited < LOCKED_PAUSE {
            if self.stop.load(Ordering::SeqCst) {
                return true;
            }
            tokio::time::sleep(step).await;
            waited += step;
        }
        self.stop.load(Ordering::SeqCst)
    }

    /// One keyset walk over `table`. True when stopped.
    async fn pass(
        &mut self,
        table: &Table,
        progress: &mut dyn Progress,
    ) -> Result<bool, RotationError> {
        let limit = self.options.batch_size.max(1);
        let mut from = Uuid::nil();
        loop {
            if self.should_stop() {
                return Ok(true);
            }
            let (rows, last) = self.batch(table, from, limit).await?;
            if rows > 0 {
                self.batches += 1;
                self.rotated += rows;
                progress.rotated(self.rotated);
            }
            // `id >= successor of the last id` instead of `id > last`: one statement serves the first
            // batch too. A short batch means the walk reached the end of the table.
            match last.and_then(|id| id.as_u128().checked_add(1)) {
                Some(next) if rows == u64::from(limit) => from = Uuid::from_u128(next),
                _ => return Ok(false),
            }
        }
    }

    /// Re-encrypts up to `limit` rows of `table` from id `from` in one transaction with its audit row.
    /// Returns how many rows it rotated and the last id it saw.
    async fn batch(
        &self,
        table: &Table,
        from: Uuid,
        limit: u32,
    ) -> Result<(u64, Option<Uuid>), RotationError> {
        let mut tx = self.db.begin_maintenance(Maintenance::KeyRotation).await?;
        let rows: Vec<Row> = sqlx::query_as(table.select)
            .bind(&self.key_id.0[..])
            .bind(from)
            .bind(i64::from(limit))
            .fetch_all(tx.conn())
            .await
            .map_err(DbError::from)?;
        let Some(last) = rows.last().map(|r| r.0) else {
            return Ok((0, None));
        };
        let mut ids = Vec::with_capacity(rows.len());
        let mut slots: [Vec<Option<Vec<u8>>>; SLOTS] = Default::default();
        for (id, aad_row, version, v1, v2, v3, v4) in rows {
            let values = [v1, v2, v3, v4];
            for (slot, (i, value)) in slots.iter_mut().zip(values.into_iter().enumerate()) {
                let resealed = match (table.columns.get(i), value) {
                    (Some(column), Some(sealed)) => Some(self.reseal(
                        table,
                        column,
                        id,
                        Aad {
                            table: table.name,
                            column,
                            row_id: aad_row,
                            version,
                        },
                        sealed,
                    )?),
                    _ => None,
                };
                slot.push(resealed);
            }
            ids.push(id);
        }
        let [c1, c2, c3, c4] = slots;
        let count = ids.len() as u64;
        sqlx::query(table.update)
            .bind(&ids)
            .bind(c1)
            .bind(c2)
            .bind(c3)
            .bind(c4)
            .execute(tx.conn())
            .await
            .map_err(DbError::from)?;
        let event = Event::new(Action::KeyRotation, Outcome::Success, None).details(json!({
            "phase": "batch",
            "table": table.name,
            "rows": count,
            "key_id": self.key_id.to_string(),
        }));
        audit::write(tx.conn(), self.client, &event).await?;
        tx.commit().await?;
        Ok((count, Some(last)))
    }

    /// The value under the current key: as it is when already there, else opened and sealed again.
    fn reseal(
        &self,
        table: &Table,
        column: &'static str,
        row_id: Uuid,
        aad: Aad<'_>,
        sealed: Vec<u8>,
    ) -> Result<Vec<u8>, RotationError> {
        if key_id_of(&sealed) == Some(self.key_id) {
            return Ok(sealed);
        }
        let plain =
            self.keyring
                .open(&aad, &sealed)
                .map_err(|reason| RotationError::Unreadable {
                    table: table.name,
                    column,
                    row_id,
                    reason,
                })?;
        self.keyring
            .seal(&aad, &plain)
            .map_err(|reason| RotationError::Seal {
                table: table.name,
                row_id,
                reason,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_names_its_columns_within_the_slots() {
        for t in &TABLES {
            assert!(
                !t.columns.is_empty() && t.columns.len() <= SLOTS,
                "{}",
                t.name
            );
            for c in t.columns {
                assert!(t.count.contains(c) && t.select.contains(c) && t.update.contains(c));
            }
        }
    }

    #[test]
    fn the_keyset_successor_follows_postgres_uuid_order() {
        // PostgreSQL compares uuids byte by byte, which is big-endian u128 order.
        let a = Uuid::parse_str("00000000-0000-0000-0000-0000000000ff").unwrap();
        let next = Uuid::from_u128(a.as_u128() + 1);
        assert_eq!(next.to_string(), "00000000-0000-0000-0000-000000000100");
        assert!(Uuid::max().as_u128().checked_add(1).is_none());
    }
}
