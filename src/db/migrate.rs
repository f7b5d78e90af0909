//! Versioned, reversible migrations from `migrations/`, embedded in the binary at build time.
//! They run only when someone says `hsc migrate run` (the user's guide is explicit: never implicitly);
//! every other command checks the schema first and stops when it is behind or was edited.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use sqlx::migrate::{MigrateError, Migration, Migrator};
use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, Postgres};

use super::{Database, DbError};

/// The migrations this binary was built with.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// A migration problem, named for the person who has to fix it.
#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    #[error("{count} migration{s} pending: run `hsc migrate run`", s = if *.count == 1 { "" } else { "s" })]
    Pending { count: usize },
    #[error(
        "migration {name} was edited after it was applied; restore the file as it was and put the change in a new migration (`hsc migrate new NAME`)"
    )]
    Edited { name: String },
    #[error(
        "the database has migration {version}, which this hsc does not know; use the hsc release that applied it"
    )]
    Unknown { version: i64 },
    #[error("migration {name} failed: {reason}; nothing of it was applied")]
    Failed { name: String, reason: String },
    #[error(
        "migration {name} was left half-applied; fix the database by hand and remove its row from _sqlx_migrations"
    )]
    Dirty { name: String },
    #[error("{0}")]
    Database(#[from] DbError),
    #[error("migration name {0:?} must be 1 to 60 lowercase letters, digits and underscores")]
    BadName(String),
    #[error("{path} could not be written: {reason}")]
    Write { path: PathBuf, reason: String },
    #[error(
        "there is no migrations/ directory in {0}; run `hsc migrate new` from the hsc source tree"
    )]
    NoDirectory(PathBuf),
}

/// One migration and whether it is applied.
#[derive(Debug, Clone)]
pub struct MigrationState {
    pub version: i64,
    pub name: String,
    pub applied_on: Option<DateTime<Utc>>,
    pub edited: bool,
}

/// Everything `hsc migrate show` prints.
#[derive(Debug, Clone)]
pub struct Status {
    pub migrations: Vec<MigrationState>,
    /// Applied versions this binary does not have.
    pub unknown: Vec<i64>,
}

impl Status {
    pub fn pending(&self) -> usize {
        self.migrations
            .iter()
            .filter(|m| m.applied_on.is_none())
            .count()
    }

    /// Ok when the schema is exactly what this binary expects.
    pub fn require_current(&self) -> Result<(), MigrationError> {
        if let Some(m) = self.migrations.iter().find(|m| m.edited) {
            return Err(MigrationError::Edited {
                name: m.name.clone(),
            });
        }
        if let Some(&version) = self.unknown.first() {
            return Err(MigrationError::Unknown { version });
        }
        match self.pending() {
            0 => Ok(()),
            count => Err(MigrationError::Pending { count }),
        }
    }
}

/// The file-name stem of a migration, e.g. `0003_users_sessions_mfa`.
pub fn name_of(m: &Migration) -> String {
    format!("{:04}_{}", m.version, m.description.replace(' ', "_"))
}

fn up_migrations() -> impl Iterator<Item = &'static Migration> {
    MIGRATOR
        .iter()
        .filter(|m| !m.migration_type.is_down_migration())
}

fn name_of_version(version: i64) -> String {
    up_migrations()
        .find(|m| m.version == version)
        .map(name_of)
        .unwrap_or_else(|| version.to_string())
}

/// Reads which migrations are applied, when, and whether any was edited since.
pub async fn status(db: &Database) -> Result<Status, MigrationError> {
    let mut conn = db.pool().acquire().await.map_err(DbError::from)?;
    status_on(&mut conn).await
}

async fn status_on(conn: &mut PgConnection) -> Result<Status, MigrationError> {
    let exists: bool =
        sqlx::query_scalar("SELECT to_regclass('public._sqlx_migrations') IS NOT NULL")
            .fetch_one(&mut *conn)
            .await
            .map_err(DbError::from)?;
    let applied: Vec<(i64, DateTime<Utc>, Vec<u8>, bool)> = if exists {
        sqlx::query_as("SELECT version, installed_on, checksum, success FROM _sqlx_migrations ORDER BY version")
            .fetch_all(&mut *conn)
            .await
            .map_err(DbError::from)?
    } else {
        Vec::new()
    };
    if let Some((version, ..)) = applied.iter().find(|(.., success)| !success) {
        return Err(MigrationError::Dirty {
            name: name_of_version(*version),
        });
    }
    let by_version: HashMap<i64, (DateTime<Utc>, &[u8])> = applied
        .iter()
        .map(|(v, on, sum, _)| (*v, (*on, sum.as_slice())))
        .collect();
    let migrations = up_migrations()
        .map(|m| {
            let found = by_version.get(&m.version);
            MigrationState {
                version: m.version,
                name: name_of(m),
                applied_on: found.map(|(on, _)| *on),
                edited: found.is_some_and(|(_, sum)| *sum != &*m.checksum),
            }
        })
        .collect();
    let unknown = applied
        .iter()
        .map(|(v, ..)| *v)
        .filter(|v| !MIGRATOR.version_exists(*v))
        .collect();
    Ok(Status {
        migrations,
        unknown,
    })
}

/// Stops with a clear sentence unless the schema is current.
pub async fn require_current(db: &Database) -> Result<(), MigrationError> {
    status(db).await?.require_current()
}

/// Applies every pending migration, one transaction each; returns the names applied.
pub async fn run(db: &Database) -> Result<Vec<String>, MigrationError> {
    let mut conn = lock(db).await?;
    let result = run_locked(&mut conn).await;
    unlock(&mut conn).await;
    result
}

/// Serialises hsc processes migrating the same database, so each reports only what it applied.
/// Advisory locks are per database, which is the scope wanted. Everything then runs on this one
/// connection, so a pool of one connection suffices.
async fn lock(db: &Database) -> Result<PoolConnection<Postgres>, MigrationError> {
    let mut conn = db.pool().acquire().await.map_err(DbError::from)?;
    sqlx::query("SELECT pg_advisory_lock(hashtext('hsc migrate'))")
        .execute(&mut *conn)
        .await
        .map_err(DbError::from)?;
    Ok(conn)
}

async fn unlock(conn: &mut PgConnection) {
    if sqlx::query("SELECT pg_advisory_unlock(hashtext('hsc migrate'))")
        .execute(&mut *conn)
        .await
        .is_err()
    {
        // The lock ends with the session at the latest; say so rather than hide it.
        tracing::warn!(
            "the migration lock could not be released; it ends when the connection closes"
        );
    }
}

async fn run_locked(conn: &mut PgConnection) -> Result<Vec<String>, MigrationError> {
    let before = status_on(conn).await?;
    if let Some(m) = before.migrations.iter().find(|m| m.edited) {
        return Err(MigrationError::Edited {
            name: m.name.clone(),
        });
    }
    if let Some(&version) = before.unknown.first() {
        return Err(MigrationError::Unknown { version });
    }
    let mut applied = Vec::new();
    for m in before.migrations.iter().filter(|m| m.applied_on.is_none()) {
        MIGRATOR
            .run_to(m.version, &mut *conn)
            .await
            .map_err(|e| explain(e, &m.name))?;
        tracing::info!(migration = %m.name, "migration applied");
        applied.push(m.name.clone());
    }
    Ok(applied)
}

/// Reverts the newest applied migration; returns its name, or None when nothing is applied.
pub async fn revert(db: &Database) -> Result<Option<String>, MigrationError> {
    let mut conn = lock(db).await?;
    let result = revert_locked(&mut conn).await;
    unlock(&mut conn).await;
    result
}

async fn revert_locked(conn: &mut PgConnection) -> Result<Option<String>, MigrationError> {
    let current = status_on(conn).await?;
    if let Some(&version) = current.unknown.first() {
        return Err(MigrationError::Unknown { version });
    }
    let applied: Vec<&MigrationState> = current
        .migrations
        .iter()
        .filter(|m| m.applied_on.is_some())
        .collect();
    let Some(newest) = applied.last() else {
        return Ok(None);
    };
    if newest.edited {
        return Err(MigrationError::Edited {
            name: newest.name.clone(),
        });
    }
    let target = applied.iter().rev().nth(1).map(|m| m.version).unwrap_or(0);
    MIGRATOR
        .undo(&mut *conn, target)
        .await
        .map_err(|e| explain(e, &newest.name))?;
    tracing::info!(migration = %newest.name, "migration reverted");
    Ok(Some(newest.name.clone()))
}

fn explain(e: MigrateError, name: &str) -> MigrationError {
    match e {
        MigrateError::VersionMismatch(v) => MigrationError::Edited {
            name: name_of_version(v),
        },
        MigrateError::VersionMissing(version) => MigrationError::Unknown { version },
        MigrateError::Dirty(v) => MigrationError::Dirty {
            name: name_of_version(v),
        },
        MigrateError::Execute(e) | MigrateError::ExecuteMigration(e, _) => MigrationError::Failed {
            name: name.to_string(),
            reason: super::describe_sqlx_error(&e),
        },
        other => MigrationError::Failed {
            name: name.to_string(),
            reason: other.to_string(),
        },
    }
}

/// Creates `<dir>/<UTC timestamp>_<name>.up.sql` and `.down.sql`; returns their paths.
pub fn new_pair(
    dir: &Path,
    name: &str,
    now: DateTime<Utc>,
) -> Result<[PathBuf; 2], MigrationError> {
    let valid = !name.is_empty()
        && name.len() <= 60
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !valid {
        return Err(MigrationError::BadName(name.to_string()));
    }
    if !dir.is_dir() {
        return Err(MigrationError::NoDirectory(
            std::env::current_dir().unwrap_or_else(|_| dir.to_path_buf()),
        ));
    }
    let stem = format!("{}_{name}", now.format("%Y%m%d%H%M%S"));
    let up = dir.join(format!("{stem}.up.sql"));
    let down = dir.join(format!("{stem}.down.sql"));
    let header = |kind: &str| {
        format!(
            "-- {stem} ({kind}).\n-- Runs in one transaction under the schema owner. Grant the hsc_app role exactly what the\n-- console needs on anything new, and keep row-level security forced on PHI tables.\n"
        )
    };
    for (path, text) in [
        (&up, header("up")),
        (&down, header("down: undo exactly what up did")),
    ] {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .and_then(|mut f| std::io::Write::write_all(&mut f, text.as_bytes()))
            .map_err(|e| MigrationError::Write {
                path: path.clone(),
                reason: e.to_string(),
            })?;
    }
    Ok([up, down])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_migration_is_reversible_and_named() {
        let ups: Vec<_> = up_migrations().collect();
        assert!(ups.len() >= 5);
        for up in &ups {
            assert!(
                MIGRATOR
                    .iter()
                    .any(|m| m.version == up.version && m.migration_type.is_down_migration()),
                "{} has no .down.sql",
                name_of(up)
            );
        }
        assert_eq!(name_of(ups[0]), "0001_app_role");
    }

    #[test]
    fn pending_message_counts() {
        assert_eq!(
            MigrationError::Pending { count: 1 }.to_string(),
            "1 migration pending: run `hsc migrate run`"
        );
        assert_eq!(
            MigrationError::Pending { count: 6 }.to_string(),
            "6 migrations pending: run `hsc migrate run`"
        );
    }

    #[test]
    fn new_pair_writes_timestamped_up_and_down() {
        let dir = tempfile::tempdir().unwrap();
        let now = DateTime::parse_from_rfc3339("2026-11-26T10:20:30Z")
            .unwrap()
            .to_utc();
        let [up, down] = new_pair(dir.path(), "add_patient_phone", now).unwrap();
        assert!(up.ends_with("20261126102030_add_patient_phone.up.sql"));
        assert!(down.ends_with("20261126102030_add_patient_phone.down.sql"));
        assert!(
            new_pair(dir.path(), "add_patient_phone", now).is_err(),
            "never overwrites"
        );
        assert!(matches!(
            new_pair(dir.path(), "Bad Name", now),
            Err(MigrationError::BadName(_))
        ));
        assert!(matches!(
            new_pair(&dir.path().join("nope"), "x", now),
            Err(MigrationError::NoDirectory(_))
        ));
    }
}
