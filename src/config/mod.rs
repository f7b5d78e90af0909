//! Configuration: environment first, then `.env` in the working directory, then `config.toml` in the
//! config dir, then defaults. Every problem is one sentence that names the variable and where it came from.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgSslMode};

use crate::services::users::Role;
use zeroize::Zeroizing;

mod show;
mod sources;
#[cfg(test)]
mod tests;

pub use show::show;
pub use sources::{Origin, Sources};

/// Every variable hsc reads, in the order `hsc config show` lists them.
pub const VARIABLES: &[&str] = &[
    "APP_ENV",
    "NODE_ENV",
    "DATABASE_URL",
    "DB_HOST",
    "DB_PORT",
    "DB_USERNAME",
    "DB_PASSWORD",
    "DB_NAME",
    "DB_SSL_ENABLED",
    "DB_SSL_CA",
    "DB_SSL_CERT",
    "DB_SSL_KEY",
    "DB_POOL_MIN",
    "DB_POOL_MAX",
    "ENCRYPTION_KEY",
    "ENCRYPTION_OLD_KEYS",
    "AUDIT_HMAC_KEY",
    "HSC_IDLE_LOCK_MINUTES",
    "HSC_SESSION_HOURS",
    "HSC_LOCKOUT_ATTEMPTS",
    "HSC_LOCKOUT_MINUTES",
    "HSC_MFA_ROLES",
    "HSC_GRANT_MAX_DAYS",
    "HSC_THEME",
    "NO_COLOR",
    "HSC_DATA_DIR",
    "HSC_PG_BINDIR",
    "HSC_LOG",
    "RUST_LOG",
];

/// How far ahead an access grant may expire unless `HSC_GRANT_MAX_DAYS` says otherwise: two years.
pub const DEFAULT_GRANT_MAX_DAYS: u32 = 730;

/// Roles that must use a second factor unless `HSC_MFA_ROLES` says otherwise.
pub const DEFAULT_MFA_ROLES: [Role; 5] = [
    Role::Admin,
    Role::Physician,
    Role::Nurse,
    Role::MedicalRecords,
    Role::BillingStaff,
];

/// A configuration problem, worded for the person who has to fix it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{var} ({origin}) {problem}")]
    Invalid {
        var: &'static str,
        origin: Origin,
        problem: String,
    },
    #[error("{path} could not be read as configuration: {reason}")]
    File { path: PathBuf, reason: String },
    #[error(
        "no home directory to keep hsc's configuration and data in; set HOME, or HSC_CONFIG_DIR and HSC_DATA_DIR"
    )]
    NoHome,
}

/// The environment hsc runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppEnv {
    Development,
    Test,
    Production,
}

impl AppEnv {
    pub fn as_str(self) -> &'static str {
        match self {
            AppEnv::Development => "development",
            AppEnv::Test => "test",
            AppEnv::Production => "production",
        }
    }
}

/// Where the database is.
#[derive(Clone)]
pub enum DatabaseTarget {
    /// A server named by `DATABASE_URL` or `DB_HOST`…; TLS settings already applied.
    Server(Box<PgConnectOptions>),
    /// hsc's own private cluster under the data dir.
    Local,
}

impl fmt::Debug for DatabaseTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // PgConnectOptions' Debug would print the password.
        match self {
            DatabaseTarget::Server(o) => write!(f, "Server({})", describe_server(o)),
            DatabaseTarget::Local => f.write_str("Local"),
        }
    }
}

/// `user@host:port/database`, never the password.
pub fn describe_server(options: &PgConnectOptions) -> String {
    let place = match options.get_socket() {
        Some(dir) => dir.display().to_string(),
        None => format!("{}:{}", options.get_host(), options.get_port()),
    };
    format!(
        "{}@{}/{}",
        options.get_username(),
        place,
        options.get_database().unwrap_or("")
    )
}

/// TLS settings for a server connection.
#[derive(Debug, Clone, Default)]
pub struct Tls {
    pub enabled: Option<bool>,
    pub ca: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

/// A 256-bit key given as 64 hex characters; wiped from memory when dropped.
#[derive(Clone)]
pub struct SecretKey(pub Zeroizing<[u8; 32]>);

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(****)")
    }
}

/// Session and lockout limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub idle_lock: Duration,
    pub absolute_session: Duration,
    pub lockout_attempts: u32,
    pub lockout: Duration,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub app_env: AppEnv,
    /// `NODE_ENV` as given, kept because the seeder refuses when either says production.
    pub node_env: Option<String>,
    pub database: DatabaseTarget,
    pub tls: Tls,
    pub pool_min: u32,
    pub pool_max: u32,
    pub encryption_key: Option<SecretKey>,
    pub encryption_old_keys: Vec<SecretKey>,
    pub audit_hmac_key: Option<SecretKey>,
    pub timeouts: Timeouts,
    /// Roles that must use a second factor (`HSC_MFA_ROLES`).
    pub mfa_roles: Vec<Role>,
    /// The furthest an access grant's expiry may lie ahead, in days (`HSC_GRANT_MAX_DAYS`).
    pub grant_max_days: u32,
    pub data_dir: PathBuf,
    pub config_file: PathBuf,
    pub pg_bindir: Option<PathBuf>,
    /// The log filter (`HSC_LOG`, else `RUST_LOG`, else `info`).
    pub log_filter: String,
    /// `HSC_THEME`: default, high-contrast or monochrome.
    pub theme: Option<String>,
    /// `NO_COLOR` set and not empty.
    pub no_color: bool,
    /// `[keymap]` overrides from `config.toml`, checked when the console starts.
    pub keymap: BTreeMap<String, String>,
}

impl Config {
    /// Loads and validates the configuration of this process.
    pub fn load() -> Result<Config, ConfigError> {
        Config::from_sources(&Sources::from_process()?)
    }

    /// Validates the layered values.
    pub fn from_sources(s: &Sources) -> Result<Config, ConfigError> {
        let app_env = match s.get("APP_ENV").or_else(|| s.get("NODE_ENV")) {
            None => AppEnv::Development,
            Some((v, origin)) => {
                let var = if s.get("APP_ENV").is_some() {
                    "APP_ENV"
                } else {
                    "NODE_ENV"
                };
                match v.trim().to_ascii_lowercase().as_str() {
                    "development" => AppEnv::Development,
                    "test" => AppEnv::Test,
                    "production" => AppEnv::Production,
                    _ => {
                        return Err(invalid(
                            var,
                            origin,
                            format!("must be development, test or production, not {v:?}"),
                        ));
                    }
                }
            }
        };
        let tls = Tls {
            enabled: parse_opt(s, "DB_SSL_ENABLED", parse_bool)?,
            ca: existing_file(s, "DB_SSL_CA")?,
            cert: existing_file(s, "DB_SSL_CERT")?,
            key: existing_file(s, "DB_SSL_KEY")?,
        };
        if tls.cert.is_some() != tls.key.is_some() {
            let (var, other) = if tls.cert.is_some() {
                ("DB_SSL_CERT", "DB_SSL_KEY")
            } else {
                ("DB_SSL_KEY", "DB_SSL_CERT")
            };
            let (_, origin) = s.get(var).unwrap_or_default_origin();
            return Err(invalid(
                var,
                origin,
                format!("is set but {other} is not; a client certificate needs both"),
            ));
        }
        let database = database_target(s, &tls)?;
        let pool_min = parse_opt(s, "DB_POOL_MIN", parse_count)?.unwrap_or(2);
        let pool_max = parse_opt(s, "DB_POOL_MAX", parse_count)?.unwrap_or(20);
        if pool_max == 0 {
            let (_, origin) = s.get("DB_POOL_MAX").unwrap_or_default_origin();
            return Err(invalid("DB_POOL_MAX", origin, "must be at least 1".into()));
        }
        if pool_min > pool_max {
            let (_, origin) = s.get("DB_POOL_MIN").unwrap_or_default_origin();
            return Err(invalid(
                "DB_POOL_MIN",
                origin,
                format!("is {pool_min}, larger than DB_POOL_MAX ({pool_max})"),
            ));
        }
        let encryption_key = parse_opt(s, "ENCRYPTION_KEY", parse_key)?;
        let encryption_old_keys = match s.get("ENCRYPTION_OLD_KEYS") {
            None => Vec::new(),
            Some((v, origin)) => v
                .split(',')
                .map(str::trim)
                .filter(|k| !k.is_empty())
                .enumerate()
                .map(|(i, k)| {
                    parse_key(k).map_err(|p| {
                        invalid(
                            "ENCRYPTION_OLD_KEYS",
                            origin.clone(),
                            format!("entry {} {p}", i + 1),
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()?,
        };
        let audit_hmac_key = parse_opt(s, "AUDIT_HMAC_KEY", parse_key)?;
        let minutes = |var, default| -> Result<Duration, ConfigError> {
            Ok(Duration::from_secs(
                60 * u64::from(parse_opt(s, var, parse_positive)?.unwrap_or(default)),
            ))
        };
        let timeouts = Timeouts {
            idle_lock: minutes("HSC_IDLE_LOCK_MINUTES", 15)?,
            absolute_session: Duration::from_secs(
                3600 * u64::from(parse_opt(s, "HSC_SESSION_HOURS", parse_positive)?.unwrap_or(12)),
            ),
            lockout_attempts: parse_opt(s, "HSC_LOCKOUT_ATTEMPTS", parse_positive)?.unwrap_or(5),
            lockout: minutes("HSC_LOCKOUT_MINUTES", 30)?,
        };
        let mfa_roles = match s.get("HSC_MFA_ROLES") {
            None => DEFAULT_MFA_ROLES.to_vec(),
            Some((v, origin)) => v
                .split(',')
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .map(|r| {
                    r.parse::<Role>()
                        .map_err(|e| invalid("HSC_MFA_ROLES", origin.clone(), format!("names {e}")))
                })
                .collect::<Result<Vec<_>, _>>()?,
        };
        let grant_max_days =
            parse_opt(s, "HSC_GRANT_MAX_DAYS", parse_positive)?.unwrap_or(DEFAULT_GRANT_MAX_DAYS);
        if grant_max_days > 3660 {
            let (_, origin) = s.get("HSC_GRANT_MAX_DAYS").unwrap_or_default_origin();
            return Err(invalid(
                "HSC_GRANT_MAX_DAYS",
                origin,
                format!("is {grant_max_days}; a grant may last at most 3660 days (ten years)"),
            ));
        }
        let data_dir = s
            .get("HSC_DATA_DIR")
            .map(|(v, _)| PathBuf::from(v))
            .unwrap_or_else(|| s.default_data_dir.clone());
        let pg_bindir = match s.get("HSC_PG_BINDIR") {
            None => None,
            Some((v, origin)) => {
                let dir = PathBuf::from(&v);
                if !dir.join("pg_ctl").is_file() || !dir.join("initdb").is_file() {
                    return Err(invalid(
                        "HSC_PG_BINDIR",
                        origin,
                        format!("names {v}, which does not hold initdb and pg_ctl"),
                    ));
                }
                Some(dir)
            }
        };
        let log_filter = match s.get("HSC_LOG").or_else(|| s.get("RUST_LOG")) {
            None => "info".to_string(),
            Some((v, origin)) => {
                let var = if s.get("HSC_LOG").is_some() {
                    "HSC_LOG"
                } else {
                    "RUST_LOG"
                };
                if tracing_subscriber::EnvFilter::try_new(&v).is_err() {
                    return Err(invalid(
                        var,
                        origin,
                        format!("is not a log filter such as info or hsc=debug: {v:?}"),
                    ));
                }
                v
            }
        };
        let theme = match s.get("HSC_THEME") {
            Some((v, origin)) => {
                let lower = v.trim().to_ascii_lowercase();
                if !["default", "high-contrast", "high_contrast", "monochrome"]
                    .contains(&lower.as_str())
                {
                    return Err(invalid(
                        "HSC_THEME",
                        origin,
                        format!("must be default, high-contrast or monochrome, not {v:?}"),
                    ));
                }
                Some(lower)
            }
            None => None,
        };
        Ok(Config {
            theme,
            no_color: s.get("NO_COLOR").is_some(),
            keymap: s.keymap.clone(),
            app_env,
            node_env: s.get("NODE_ENV").map(|(v, _)| v),
            database,
            tls,
            pool_min,
            pool_max,
            encryption_key,
            encryption_old_keys,
            audit_hmac_key,
            timeouts,
            mfa_roles,
            grant_max_days,
            data_dir,
            config_file: s.config_file.clone(),
            pg_bindir,
            log_filter,
        })
    }

    /// True when `APP_ENV` or `NODE_ENV` says production (the seeder checks both).
    pub fn production_anywhere(&self) -> bool {
        self.app_env == AppEnv::Production
            || self
                .node_env
                .as_deref()
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("production"))
    }

    /// Where the development keys and logs live.
    pub fn keys_dir(&self) -> PathBuf {
        self.data_dir.join("keys")
    }

    pub fn log_dir(&self) -> PathBuf {
        self.data_dir.join("logs")
    }
}

trait DefaultOrigin {
    fn unwrap_or_default_origin(self) -> (String, Origin);
}

impl DefaultOrigin for Option<(String, Origin)> {
    fn unwrap_or_default_origin(self) -> (String, Origin) {
        self.unwrap_or((String::new(), Origin::Default))
    }
}

fn invalid(var: &'static str, origin: Origin, problem: String) -> ConfigError {
    ConfigError::Invalid {
        var,
        origin,
        problem,
    }
}

fn parse_opt<T>(
    s: &Sources,
    var: &'static str,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Option<T>, ConfigError> {
    match s.get(var) {
        None => Ok(None),
        Some((v, origin)) => parse(v.trim())
            .map(Some)
            .map_err(|p| invalid(var, origin, p)),
    }
}

fn parse_bool(v: &str) -> Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(format!("must be true or false, not {v:?}")),
    }
}

fn parse_count(v: &str) -> Result<u32, String> {
    v.parse::<u32>()
        .map_err(|_| format!("must be a whole number, not {v:?}"))
}

fn parse_positive(v: &str) -> Result<u32, String> {
    match v.parse::<u32>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("must be a whole number greater than 0, not {v:?}")),
    }
}

fn parse_port(v: &str) -> Result<u16, String> {
    match v.parse::<u16>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("must be a port number from 1 to 65535, not {v:?}")),
    }
}

/// Parses 64 hex characters; the message never repeats the value.
fn parse_key(v: &str) -> Result<SecretKey, String> {
    let v = v.trim();
    if v.len() != 64 || !v.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!(
            "must be 64 hexadecimal characters (a 256-bit key); it has {} characters{}",
            v.chars().count(),
            if v.bytes().all(|b| b.is_ascii_hexdigit()) {
                ""
            } else {
                ", not all of them hexadecimal"
            }
        ));
    }
    let mut key = Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(v, key.as_mut()).map_err(|_| "must be hexadecimal".to_string())?;
    Ok(SecretKey(key))
}

fn existing_file(s: &Sources, var: &'static str) -> Result<Option<PathBuf>, ConfigError> {
    match s.get(var) {
        None => Ok(None),
        Some((v, origin)) => {
            let path = PathBuf::from(v.trim());
            match std::fs::metadata(&path) {
                Ok(m) if m.is_file() => match std::fs::File::open(&path) {
                    Ok(_) => Ok(Some(path)),
                    Err(e) => Err(invalid(
                        var,
                        origin,
                        format!("names {}, which cannot be read: {e}", path.display()),
                    )),
                },
                Ok(_) => Err(invalid(
                    var,
                    origin,
                    format!("names {}, which is not a file", path.display()),
                )),
                Err(_) => Err(invalid(
                    var,
                    origin,
                    format!("names {}, which does not exist", path.display()),
                )),
            }
        }
    }
}

fn database_target(s: &Sources, tls: &Tls) -> Result<DatabaseTarget, ConfigError> {
    let options = if let Some((url, origin)) = s.get("DATABASE_URL") {
        let url = url.trim();
        let scheme_ok = url.starts_with("postgres://") || url.starts_with("postgresql://");
        // sqlx's own message may quote the URL, password and all; say what is wrong without it.
        let parsed = if scheme_ok {
            PgConnectOptions::from_str(url).ok()
        } else {
            None
        };
        match parsed {
            Some(o) => o,
            None => {
                return Err(invalid(
                    "DATABASE_URL",
                    origin,
                    "is not a valid PostgreSQL URL; expected postgresql://user:password@host:port/database".into(),
                ));
            }
        }
    } else if let Some((host, _)) = s.get("DB_HOST") {
        let port = parse_opt(s, "DB_PORT", parse_port)?.unwrap_or(5432);
        let require = |var: &'static str| -> Result<String, ConfigError> {
            s.get(var)
                .map(|(v, _)| v)
                .ok_or_else(|| invalid(var, Origin::Default, "must be set when DB_HOST is".into()))
        };
        let mut o = PgConnectOptions::new_without_pgpass()
            .host(host.trim())
            .port(port)
            .username(&require("DB_USERNAME")?)
            .database(&require("DB_NAME")?);
        if let Some((password, _)) = s.get("DB_PASSWORD") {
            o = o.password(&password);
        }
        o
    } else {
        // Still validate a stray DB_PORT so a typo is not silently ignored.
        parse_opt(s, "DB_PORT", parse_port)?;
        return Ok(DatabaseTarget::Local);
    };
    let options = options.application_name("hsc");
    Ok(DatabaseTarget::Server(Box::new(apply_tls(options, tls))))
}

/// With TLS on, the connection is always encrypted; with a CA, the server's certificate and name are verified.
fn apply_tls(mut o: PgConnectOptions, tls: &Tls) -> PgConnectOptions {
    // A CA named without DB_SSL_ENABLED still means "verify the server": never fall back silently.
    let enabled = tls.enabled.or(tls.ca.as_ref().map(|_| true));
    match enabled {
        Some(true) => {
            o = match &tls.ca {
                Some(ca) => o.ssl_mode(PgSslMode::VerifyFull).ssl_root_cert(ca),
                None => o.ssl_mode(PgSslMode::Require),
            };
            if let (Some(cert), Some(key)) = (&tls.cert, &tls.key) {
                o = o.ssl_client_cert(cert).ssl_client_key(key);
            }
            o
        }
        Some(false) => o.ssl_mode(PgSslMode::Disable),
        None => o,
    }
}
