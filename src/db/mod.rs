//! The one door to PostgreSQL. The pool never leaves this module: every transaction is opened here,
//! either as an acting user (under the non-owner application role, with the user set for row-level
//! security) or, for the few maintenance commands, as the login role that owns the schema.

pub mod cluster;
pub mod migrate;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::config::{Config, DatabaseTarget, describe_server};
use cluster::{ClusterError, ClusterLease, ClusterOptions, LocalCluster};

/// The role every console transaction switches to. Created by the first migration; it owns nothing,
/// cannot log in and cannot bypass row-level security.
pub const APP_ROLE: &str = "hsc_app";

/// The database hsc uses inside its private cluster.
pub const LOCAL_DATABASE: &str = "hsc";

/// A database failure, worded without values from the query (they may be PHI or secrets).
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot connect to PostgreSQL at {target}: {reason}")]
    Connect { target: String, reason: String },
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    #[error("the database refused the request: {0}")]
    Query(String),
    /// The connection was lost or none could be had: the same request may succeed later.
    #[error("the database is not answering: {0}")]
    Unavailable(String),
    #[error("refusing to start: {0}, so row-level security would not protect the records")]
    Unconfined(String),
}

impl DbError {
    /// Describes a sqlx error by its SQLSTATE and constraint, never by the values involved.
    pub fn from_sqlx(e: sqlx::Error) -> DbError {
        if is_transient(&e) {
            DbError::Unavailable(describe_sqlx_error(&e))
        } else {
            DbError::Query(describe_sqlx_error(&e))
        }
    }

    /// Whether trying the same work again later may succeed (the server or the link was down).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, DbError::Connect { .. } | DbError::Unavailable(_))
    }

    /// The SQLSTATE, when the server sent one.
    pub fn sqlstate(e: &sqlx::Error) -> Option<String> {
        e.as_database_error()
            .and_then(|d| d.code().map(|c| c.into_owned()))
    }
}

impl From<sqlx::Error> for DbError {
    fn from(e: sqlx::Error) -> Self {
        DbError::from_sqlx(e)
    }
}

/// Connection loss, no free connection, or the server shutting down (SQLSTATE classes 08 and 57P).
fn is_transient(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(d) => d
            .code()
            .is_some_and(|c| c.starts_with("08") || c.starts_with("57P")),
        _ => false,
    }
}

/// A short, value-free account of a sqlx error, safe for logs and screens.
pub fn describe_sqlx_error(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(d) => {
            let code = d.code().map(|c| c.into_owned()).unwrap_or_default();
            // Connection, authentication and catalog errors carry no row data; show their text.
            let safe_text = ["08", "28", "3D", "42", "53", "57"]
                .iter()
                .any(|c| code.starts_with(c));
            match (safe_text, d.constraint()) {
                (true, _) => format!("{} (SQLSTATE {code})", d.message()),
                (false, Some(constraint)) => format!("SQLSTATE {code} on constraint {constraint}"),
                (false, None) => format!("SQLSTATE {code}"),
            }
        }
        sqlx::Error::PoolTimedOut => "no database connection became free in time".into(),
        sqlx::Error::PoolClosed => "the connection pool is closed".into(),
        sqlx::Error::Io(io) => io.to_string(),
        sqlx::Error::Tls(t) => format!("TLS failed: {t}"),
        sqlx::Error::Protocol(p) => format!("protocol error: {p}"),
        sqlx::Error::RowNotFound => "no row was found".into(),
        sqlx::Error::ColumnDecode { index, .. } => format!("column {index} could not be decoded"),
        other => error_kind(other).to_string(),
    }
}

fn error_kind(e: &sqlx::Error) -> &'static str {
    match e {
        sqlx::Error::Configuration(_) => "invalid connection configuration",
        sqlx::Error::Decode(_) => "a value could not be decoded",
        sqlx::Error::WorkerCrashed => "the connection worker crashed",
        _ => "an unexpected database error",
    }
}

/// Who a transaction acts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    /// A logged-in user: row-level security sees this id.
    User(Uuid),
    /// No one yet (the login screen): the policies see no user.
    Anonymous,
}

/// Why a transaction runs as the schema owner instead of as an acting user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Maintenance {
    Seed,
    KeyRotation,
    UserAdministration,
    /// Moving queued audit rows into the hash chain (the only writer of `audit_logs`).
    AuditSeal,
    /// Reading the whole hash chain back to check it (`hsc audit verify`), and auditing that check.
    AuditVerify,
    /// Reading every audit row a filter picks into a file (`hsc audit export`), and auditing that.
    AuditExport,
}

/// Seals the audit rows that committed transactions queued into the hash chain. It lives in
/// `services::audit::seal` (it needs the chain key); the door only calls it after every commit.
pub trait AuditSealing: Send + Sync {
    /// After a commit: seals what it queued, or leaves it to a round of this process under way.
    fn after_commit<'a>(
        &'a self,
        db: &'a Database,
    ) -> Pin<Box<dyn Future<Output = Result<u64, DbError>> + Send + 'a>>;

    /// Seals everything committed so far (waiting for a round under way); returns how many rows
    /// it sealed.
    fn seal<'a>(
        &'a self,
        db: &'a Database,
    ) -> Pin<Box<dyn Future<Output = Result<u64, DbError>> + Send + 'a>>;
}

/// A connected database: the pool plus, for the private cluster, the lease that keeps it running.
/// Clones share one pool (a transaction keeps a clone so it can seal after its commit).
#[derive(Clone)]
pub struct Database {
    pool: PgPool,
    target: Arc<str>,
    sealing: Option<Arc<dyn AuditSealing>>,
    _lease: Option<Arc<ClusterLease>>,
}

impl fmt::Debug for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Database")
            .field("target", &self.target)
            .field("sealing", &self.sealing.is_some())
            .finish()
    }
}

/// A transaction acting for a user under the application role. Dropping it without `commit` rolls
/// back, which also ends the role switch and the user setting.
pub struct ActingTx {
    tx: Transaction<'static, Postgres>,
    actor: Actor,
    db: Database,
}

impl ActingTx {
    pub fn actor(&self) -> Actor {
        self.actor
    }

    /// The connection to run this transaction's statements on.
    pub fn conn(&mut self) -> &mut PgConnection {
        &mut self.tx
    }

    /// Commits, then seals the audit rows this transaction queued into the chain.
    pub async fn commit(self) -> Result<(), DbError> {
        self.tx.commit().await.map_err(DbError::from_sqlx)?;
        self.db.seal_after_commit().await;
        Ok(())
    }
}

/// A maintenance transaction as the login role (seeding, key rotation, user bootstrap).
pub struct MaintenanceTx {
    tx: Transaction<'static, Postgres>,
    purpose: Maintenance,
    db: Database,
}

impl MaintenanceTx {
    pub fn purpose(&self) -> Maintenance {
        self.purpose
    }

    pub fn conn(&mut self) -> &mut PgConnection {
        &mut self.tx
    }

    /// Commits, then (unless this is the sealer's own transaction) seals what it queued.
    pub async fn commit(self) -> Result<(), DbError> {
        self.tx.commit().await.map_err(DbError::from_sqlx)?;
        if self.purpose != Maintenance::AuditSeal {
            self.db.seal_after_commit().await;
        }
        Ok(())
    }
}

impl Database {
    /// Connects as the configuration says, starting the private cluster when no server is configured.
    pub async fn connect(config: &Config) -> Result<Database, DbError> {
        match &config.database {
            DatabaseTarget::Server(options) => {
                Database::connect_with((**options).clone(), config.pool_min, config.pool_max, None)
                    .await
            }
            DatabaseTarget::Local => {
                Database::connect_local(config, LOCAL_DATABASE, ClusterOptions::default()).await
            }
        }
    }

    /// Connects to `database` in the private cluster under the configured data dir, creating both as needed.
    pub async fn connect_local(
        config: &Config,
        database: &str,
        options: ClusterOptions,
    ) -> Result<Database, DbError> {
        let data_dir = config.data_dir.clone();
        let bindir = config.pg_bindir.clone();
        let lease = tokio::task::spawn_blocking(move || {
            LocalCluster::locate(&data_dir, bindir.as_deref(), options)?.ensure_running()
        })
        .await
        .map_err(|_| DbError::Query("starting the private PostgreSQL was interrupted".into()))??;
        ensure_database(lease.cluster(), database).await?;
        let options = lease.cluster().connect_options(database);
        Database::connect_with(options, config.pool_min, config.pool_max, Some(lease)).await
    }

    /// Connects a pool with the given options.
    pub async fn connect_with(
        options: PgConnectOptions,
        pool_min: u32,
        pool_max: u32,
        lease: Option<ClusterLease>,
    ) -> Result<Database, DbError> {
        let target = describe_server(&options);
        let pool = PgPoolOptions::new()
            .min_connections(pool_min)
            .max_connections(pool_max)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(|e| DbError::Connect {
                target: target.clone(),
                reason: describe_sqlx_error(&e),
            })?;
        Ok(Database {
            pool,
            target: target.into(),
            sealing: None,
            _lease: lease.map(Arc::new),
        })
    }

    /// Seals queued audit rows into the hash chain after every commit from now on.
    pub fn with_sealing(mut self, sealing: Arc<dyn AuditSealing>) -> Database {
        self.sealing = Some(sealing);
        self
    }

    /// After a commit: seals what it queued. A failure is logged, not returned: the rows stay
    /// queued, durable, and the next commit of any hsc seals them.
    async fn seal_after_commit(&self) {
        if let Some(sealing) = &self.sealing
            && let Err(e) = sealing.after_commit(self).await
        {
            tracing::warn!(error = %e, "audit rows stay queued: sealing them into the chain failed");
        }
    }

    /// Seals everything committed so far; a failure is logged, as after a commit.
    pub async fn seal_audit(&self) {
        if let Err(e) = self.seal_audit_now().await {
            tracing::warn!(error = %e, "audit rows stay queued: sealing them into the chain failed");
        }
    }

    /// Seals what is queued now, saying whether it worked (for `hsc audit verify` and the tests).
    pub async fn seal_audit_now(&self) -> Result<u64, DbError> {
        match &self.sealing {
            Some(sealing) => sealing.seal(self).await,
            None => Ok(0),
        }
    }

    /// `user@host:port/database` of this connection (no password).
    pub fn target(&self) -> &str {
        &self.target
    }

    /// Opens a transaction acting for `actor`: `SET LOCAL ROLE` to the application role and the
    /// acting user (and their role, read from their own row) set for this transaction only, so nothing
    /// leaks to the pooled connection's next user.
    pub async fn begin(&self, actor: Actor) -> Result<ActingTx, DbError> {
        let user = match actor {
            Actor::User(id) => Some(id),
            Actor::Anonymous => None,
        };
        let tx = self.begin_as(user, None).await?;
        Ok(ActingTx {
            tx,
            actor,
            db: self.clone(),
        })
    }

    /// Opens the transaction of a sign-in attempt: nobody is acting yet, and the policies let it see
    /// (and count failures on) only the account whose email is being signed in to.
    pub async fn begin_sign_in(&self, email: &str) -> Result<ActingTx, DbError> {
        let tx = self.begin_as(None, Some(email)).await?;
        Ok(ActingTx {
            tx,
            actor: Actor::Anonymous,
            db: self.clone(),
        })
    }

    async fn begin_as(
        &self,
        user: Option<Uuid>,
        sign_in_email: Option<&str>,
    ) -> Result<Transaction<'static, Postgres>, DbError> {
        let mut tx = self.pool.begin().await.map_err(DbError::from_sqlx)?;
        // A constant identifier: SET cannot take a bind parameter.
        sqlx::query("SET LOCAL ROLE hsc_app")
            .execute(&mut *tx)
            .await?;
        sqlx::query("SELECT hsc_set_actor($1, $2)")
            .bind(user)
            .bind(sign_in_email)
            .execute(&mut *tx)
            .await?;
        Ok(tx)
    }

    /// Opens a transaction as the login role, for maintenance that the application role may not do.
    pub async fn begin_maintenance(&self, purpose: Maintenance) -> Result<MaintenanceTx, DbError> {
        let mut tx = self.pool.begin().await.map_err(DbError::from_sqlx)?;
        if purpose == Maintenance::KeyRotation {
            // Re-encryption is not an edit: the updated_at trigger leaves the timestamp alone.
            sqlx::query("SELECT set_config('hsc.key_rotation', 'on', true)")
                .execute(&mut *tx)
                .await?;
        }
        Ok(MaintenanceTx {
            tx,
            purpose,
            db: self.clone(),
        })
    }

    pub(crate) fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Seals what is still queued, then closes every connection (the private cluster's lease is
    /// released when this is dropped).
    pub async fn close(&self) {
        if self.sealing.is_some() {
            self.seal_audit().await;
        }
        self.pool.close().await;
    }
}

/// The tables whose rows row-level security guards: clinical data, and every user's security data.
pub const GUARDED_TABLES: &[&str] = &[
    "users",
    "medical_records",
    "record_versions",
    "access_grants",
    "access_grant_records",
    "audit_logs",
    "audit_queue",
    "audit_reviews",
    "sessions",
    "mfa_devices",
    "mfa_backup_codes",
    "record_access",
];

/// Why the role console transactions switch to would not be confined by row-level security, if it
/// would not be: a superuser or BYPASSRLS role, a role with the rights of a guarded table's owner, or
/// a guarded table without ENABLE + FORCE ROW LEVEL SECURITY.
pub async fn confinement_problem(
    conn: &mut PgConnection,
    role: &str,
) -> Result<Option<String>, DbError> {
    // Superuser, BYPASSRLS, guarded tables whose owner's rights it has, guarded tables left open.
    type Facts = (bool, bool, Option<Vec<String>>, Option<Vec<String>>);
    let row: Option<Facts> = sqlx::query_as(
        "SELECT r.rolsuper, r.rolbypassrls, \
                (SELECT array_agg(c.relname::text ORDER BY c.relname) FROM pg_class c \
                  WHERE c.relnamespace = 'public'::regnamespace AND c.relname = ANY($2) \
                    AND pg_has_role(r.oid, c.relowner, 'USAGE')), \
                (SELECT array_agg(c.relname::text ORDER BY c.relname) FROM pg_class c \
                  WHERE c.relnamespace = 'public'::regnamespace AND c.relname = ANY($2) \
                    AND NOT (c.relrowsecurity AND c.relforcerowsecurity)) \
         FROM pg_roles r WHERE r.rolname = $1",
    )
    .bind(role)
    .bind(GUARDED_TABLES)
    .fetch_optional(conn)
    .await?;
    Ok(match row {
        None => Some(format!("the role {role} does not exist")),
        Some((true, _, _, _)) => Some(format!("the role {role} is a superuser")),
        Some((_, true, _, _)) => Some(format!("the role {role} can bypass row-level security")),
        Some((_, _, Some(owned), _)) => Some(format!(
            "the role {role} owns (or has the rights of the owner of) {}",
            owned.join(", ")
        )),
        Some((_, _, _, Some(open))) => Some(format!(
            "row-level security is not enabled and forced on {}",
            open.join(", ")
        )),
        Some(_) => None,
    })
}

impl Database {
    /// Refuses to go on unless the application role is confined by row-level security (see
    /// [`confinement_problem`]): a console that could read past the policies must not start.
    pub async fn require_confinement(&self) -> Result<(), DbError> {
        let mut conn = self.pool.acquire().await?;
        match confinement_problem(&mut conn, APP_ROLE).await? {
            None => Ok(()),
            Some(problem) => Err(DbError::Unconfined(problem)),
        }
    }
}

/// Creates `database` in the private cluster if it is missing.
async fn ensure_database(cluster: &LocalCluster, database: &str) -> Result<(), DbError> {
    use sqlx::Connection;
    let options = cluster.connect_options("postgres");
    let target = describe_server(&options);
    let mut conn = PgConnection::connect_with(&options)
        .await
        .map_err(|e| DbError::Connect {
            target,
            reason: describe_sqlx_error(&e),
        })?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(database)
            .fetch_one(&mut conn)
            .await?;
    if !exists {
        // CREATE DATABASE takes no parameters; quote the name as an identifier.
        let sql = format!("CREATE DATABASE \"{}\"", database.replace('"', "\"\""));
        match sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
        {
            Ok(_) => {}
            // Another hsc created it a moment ago (duplicate_database, or the catalog's unique index
            // when both got past the check at once).
            Err(e) if matches!(DbError::sqlstate(&e).as_deref(), Some("42P04" | "23505")) => {}
            Err(e) => return Err(e.into()),
        }
    }
    conn.close().await.ok();
    Ok(())
}
