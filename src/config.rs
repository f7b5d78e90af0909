//! Configuration: environment first, then `.env` in the working directory, then `config.toml` in the
//! config dir, then defaults. Every problem is one sentence that names the variable and where it came from.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgSslMode};
use zeroize::Zeroizing;

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
    "HSC_DATA_DIR",
    "HSC_PG_BINDIR",
    "HSC_LOG",
    "RUST_LOG",
];

/// Variables whose values are never printed.
const SECRETS: &[&str] = &[
    "DB_PASSWORD",
    "ENCRYPTION_KEY",
    "ENCRYPTION_OLD_KEYS",
    "AUDIT_HMAC_KEY",
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

/// Where a setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Environment,
    DotEnv(PathBuf),
    ConfigFile(PathBuf),
    Default,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Environment => f.write_str("from the environment"),
            Origin::DotEnv(p) => write!(f, "in {}", p.display()),
            Origin::ConfigFile(p) => write!(f, "in {}", p.display()),
            Origin::Default => f.write_str("default"),
        }
    }
}

/// The raw name → value layers, before validation. Tests build one by hand.
#[derive(Debug, Default, Clone)]
pub struct Sources {
    env: BTreeMap<String, String>,
    dotenv: Option<(PathBuf, BTreeMap<String, String>)>,
    file: Option<(PathBuf, BTreeMap<String, String>)>,
    /// Where `config.toml` is looked for, whether or not it exists.
    pub config_file: PathBuf,
    /// Default data directory from `directories`.
    pub default_data_dir: PathBuf,
}

impl Sources {
    /// The real layers: this process's environment, `./.env`, and `config.toml` in the config dir.
    pub fn from_process() -> Result<Self, ConfigError> {
        let env: BTreeMap<String, String> = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect();
        let dirs = directories::ProjectDirs::from("org", "HealthyStellar", "hsc");
        let config_dir = match env.get("HSC_CONFIG_DIR") {
            Some(dir) => PathBuf::from(dir),
            None => dirs
                .as_ref()
                .ok_or(ConfigError::NoHome)?
                .config_dir()
                .to_path_buf(),
        };
        let default_data_dir = match &dirs {
            Some(d) => d.data_dir().to_path_buf(),
            None if env.contains_key("HSC_DATA_DIR") => PathBuf::new(),
            None => return Err(ConfigError::NoHome),
        };
        let mut sources = Sources {
            env,
            config_file: config_dir.join("config.toml"),
            default_data_dir,
            ..Sources::default()
        };
        sources.read_dotenv(Path::new(".env"))?;
        let config_file = sources.config_file.clone();
        sources.read_config_file(&config_file)?;
        Ok(sources)
    }

    /// Layers from explicit maps (tests, and callers that already hold the values).
    pub fn from_maps(env: BTreeMap<String, String>, default_data_dir: PathBuf) -> Self {
        Sources {
            env,
            config_file: PathBuf::from("config.toml"),
            default_data_dir,
            ..Sources::default()
        }
    }

    /// Adds a `.env` file's values as the second layer, when the file exists.
    pub fn read_dotenv(&mut self, path: &Path) -> Result<(), ConfigError> {
        if !path.exists() {
            return Ok(());
        }
        let shown = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        let file_error = |reason: String| ConfigError::File {
            path: shown.clone(),
            reason,
        };
        let iter = dotenvy::from_path_iter(path).map_err(|e| file_error(dotenv_reason(&e)))?;
        let mut values = BTreeMap::new();
        for item in iter {
            let (k, v) = item.map_err(|e| file_error(dotenv_reason(&e)))?;
            values.insert(k, v);
        }
        self.dotenv = Some((shown, values));
        Ok(())
    }

    /// Adds `config.toml`'s values as the third layer, when the file exists. Keys are the variable
    /// names (either case); values may be strings, numbers or booleans.
    pub fn read_config_file(&mut self, path: &Path) -> Result<(), ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => {
                return Err(ConfigError::File {
                    path: path.to_path_buf(),
                    reason: e.to_string(),
                });
            }
        };
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| ConfigError::File {
                path: path.to_path_buf(),
                reason: e.message().to_string(),
            })?;
        let mut values = BTreeMap::new();
        for (key, value) in table {
            let name = key.to_ascii_uppercase();
            let text = match value {
                toml::Value::String(s) => s,
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                // Tables (such as a keymap) belong to other parts of hsc.
                toml::Value::Table(_) => continue,
                other => {
                    return Err(ConfigError::File {
                        path: path.to_path_buf(),
                        reason: format!(
                            "{key} must be a string, a number or true/false, not a {}",
                            other.type_str()
                        ),
                    });
                }
            };
            values.insert(name, text);
        }
        self.file = Some((path.to_path_buf(), values));
        Ok(())
    }

    /// The value of `name` from the first layer that has one, with where it came from.
    /// An empty value counts as unset, as it does in most shells' habits.
    pub fn get(&self, name: &str) -> Option<(String, Origin)> {
        let nonempty = |v: &String| !v.trim().is_empty();
        if let Some(v) = self.env.get(name).filter(|v| nonempty(v)) {
            return Some((v.clone(), Origin::Environment));
        }
        if let Some((path, map)) = &self.dotenv
            && let Some(v) = map.get(name).filter(|v| nonempty(v))
        {
            return Some((v.clone(), Origin::DotEnv(path.clone())));
        }
        if let Some((path, map)) = &self.file
            && let Some(v) = map.get(name).filter(|v| nonempty(v))
        {
            return Some((v.clone(), Origin::ConfigFile(path.clone())));
        }
        None
    }
}

fn dotenv_reason(e: &dotenvy::Error) -> String {
    match e {
        dotenvy::Error::LineParse(_, index) => format!("line {} cannot be parsed", index + 1),
        dotenvy::Error::Io(io) => io.to_string(),
        _ => "it is not a valid .env file".to_string(),
    }
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
    pub data_dir: PathBuf,
    pub config_file: PathBuf,
    pub pg_bindir: Option<PathBuf>,
    /// The log filter (`HSC_LOG`, else `RUST_LOG`, else `info`).
    pub log_filter: String,
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
        Ok(Config {
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

/// Lines for `hsc config show`: every variable's effective value (secrets masked) and its origin.
pub fn show(s: &Sources, config: &Config) -> Vec<(String, String, String)> {
    let mut rows = Vec::new();
    for &var in VARIABLES {
        let (value, origin) = match s.get(var) {
            Some((v, origin)) => (mask(var, &v), origin.to_string()),
            None => (default_for(var, config), "default".to_string()),
        };
        rows.push((var.to_string(), value, origin));
    }
    rows.push((
        "config file".into(),
        s.config_file.display().to_string(),
        if s.config_file.exists() {
            "found"
        } else {
            "not present"
        }
        .into(),
    ));
    rows.push((
        "database".into(),
        match &config.database {
            DatabaseTarget::Server(o) => describe_server(o),
            DatabaseTarget::Local => "hsc's private PostgreSQL cluster".into(),
        },
        String::new(),
    ));
    rows
}

fn default_for(var: &str, config: &Config) -> String {
    match var {
        "APP_ENV" => config.app_env.as_str().into(),
        "DB_POOL_MIN" => "2".into(),
        "DB_POOL_MAX" => "20".into(),
        "DB_PORT" => "5432".into(),
        "HSC_IDLE_LOCK_MINUTES" => "15".into(),
        "HSC_SESSION_HOURS" => "12".into(),
        "HSC_LOCKOUT_ATTEMPTS" => "5".into(),
        "HSC_LOCKOUT_MINUTES" => "30".into(),
        "HSC_DATA_DIR" => config.data_dir.display().to_string(),
        "HSC_LOG" => config.log_filter.clone(),
        "ENCRYPTION_KEY" | "AUDIT_HMAC_KEY" if config.app_env != AppEnv::Production => {
            format!("(not set: generated into {})", config.keys_dir().display())
        }
        _ => "(not set)".into(),
    }
}

fn mask(var: &str, value: &str) -> String {
    if SECRETS.contains(&var) {
        return "****".into();
    }
    if var == "DATABASE_URL" {
        return mask_url_password(value);
    }
    value.to_string()
}

/// Replaces the password in `scheme://user:password@host/...` with `****`.
fn mask_url_password(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return "****".into();
    };
    let rest = &url[scheme_end + 3..];
    let Some(at) = rest.rfind('@') else {
        // No userinfo, but a `password=` query parameter may still be there.
        return mask_query_password(url);
    };
    let userinfo = &rest[..at];
    let masked = match userinfo.find(':') {
        Some(colon) => format!("{}:****", &userinfo[..colon]),
        None => userinfo.to_string(),
    };
    mask_query_password(&format!(
        "{}{}{}",
        &url[..scheme_end + 3],
        masked,
        &rest[at..]
    ))
}

fn mask_query_password(url: &str) -> String {
    let Some(q) = url.find('?') else {
        return url.to_string();
    };
    let params: Vec<String> = url[q + 1..]
        .split('&')
        .map(|p| {
            if p.to_ascii_lowercase().starts_with("password=") {
                "password=****".to_string()
            } else {
                p.to_string()
            }
        })
        .collect();
    format!("{}?{}", &url[..q], params.join("&"))
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
    match tls.enabled {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn sources(pairs: &[(&str, &str)]) -> Sources {
        Sources::from_maps(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            PathBuf::from("/tmp/hsc-default-data"),
        )
    }

    fn error(pairs: &[(&str, &str)]) -> String {
        match Config::from_sources(&sources(pairs)) {
            Ok(_) => panic!("expected a configuration error for {pairs:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn defaults_use_the_private_cluster() {
        let c = Config::from_sources(&sources(&[])).unwrap();
        assert!(matches!(c.database, DatabaseTarget::Local));
        assert_eq!((c.pool_min, c.pool_max), (2, 20));
        assert_eq!(c.app_env, AppEnv::Development);
        assert_eq!(c.timeouts.idle_lock, Duration::from_secs(15 * 60));
        assert_eq!(c.timeouts.absolute_session, Duration::from_secs(12 * 3600));
        assert_eq!(c.timeouts.lockout_attempts, 5);
        assert_eq!(c.timeouts.lockout, Duration::from_secs(30 * 60));
        assert_eq!(c.data_dir, PathBuf::from("/tmp/hsc-default-data"));
    }

    #[test]
    fn bad_port_names_the_variable() {
        let e = error(&[
            ("DB_HOST", "db"),
            ("DB_PORT", "abc"),
            ("DB_USERNAME", "u"),
            ("DB_NAME", "d"),
        ]);
        assert_eq!(
            e,
            "DB_PORT (from the environment) must be a port number from 1 to 65535, not \"abc\""
        );
    }

    #[test]
    fn pool_min_above_max_is_refused() {
        let e = error(&[("DB_POOL_MIN", "30"), ("DB_POOL_MAX", "20")]);
        assert!(e.starts_with("DB_POOL_MIN"), "{e}");
        assert!(e.contains("larger than DB_POOL_MAX (20)"), "{e}");
    }

    #[test]
    fn malformed_url_is_refused_without_echoing_it() {
        let e = error(&[("DATABASE_URL", "mysql://root:hunter2@db/x")]);
        assert!(e.starts_with("DATABASE_URL"), "{e}");
        assert!(!e.contains("hunter2"), "{e}");
        let e = error(&[("DATABASE_URL", "postgresql://u:hunter2@db:notaport/x")]);
        assert!(
            e.starts_with("DATABASE_URL") && !e.contains("hunter2"),
            "{e}"
        );
    }

    #[test]
    fn unknown_app_env_is_refused() {
        assert_eq!(
            error(&[("APP_ENV", "staging")]),
            "APP_ENV (from the environment) must be development, test or production, not \"staging\""
        );
        assert!(error(&[("NODE_ENV", "prod")]).starts_with("NODE_ENV"));
    }

    #[test]
    fn node_env_is_the_fallback() {
        let c = Config::from_sources(&sources(&[("NODE_ENV", "production")])).unwrap();
        assert_eq!(c.app_env, AppEnv::Production);
        let c = Config::from_sources(&sources(&[("APP_ENV", "test"), ("NODE_ENV", "production")]))
            .unwrap();
        assert_eq!(c.app_env, AppEnv::Test);
        assert!(
            c.production_anywhere(),
            "the seeder must still see NODE_ENV=production"
        );
    }

    #[test]
    fn missing_ca_file_is_named() {
        let e = error(&[
            ("DB_SSL_ENABLED", "true"),
            ("DB_SSL_CA", "/nonexistent/ca.crt"),
        ]);
        assert_eq!(
            e,
            "DB_SSL_CA (from the environment) names /nonexistent/ca.crt, which does not exist"
        );
    }

    #[test]
    fn keys_must_be_64_hex_and_are_never_echoed() {
        let e = error(&[("ENCRYPTION_KEY", "secretsecret")]);
        assert!(
            e.starts_with("ENCRYPTION_KEY") && !e.contains("secretsecret"),
            "{e}"
        );
        let good = "ab".repeat(32);
        let e = error(&[("ENCRYPTION_OLD_KEYS", &format!("{good},zz"))]);
        assert!(e.contains("entry 2"), "{e}");
        let c = Config::from_sources(&sources(&[
            ("ENCRYPTION_KEY", &good),
            ("ENCRYPTION_OLD_KEYS", &format!("{good}, {good}")),
        ]))
        .unwrap();
        assert_eq!(c.encryption_old_keys.len(), 2);
        assert!(!format!("{c:?}").contains(&good));
    }

    #[test]
    fn individual_parameters_build_a_server_target() {
        let c = Config::from_sources(&sources(&[
            ("DB_HOST", "db.example"),
            ("DB_PORT", "6543"),
            ("DB_USERNAME", "clinic"),
            ("DB_PASSWORD", "pw"),
            ("DB_NAME", "stellar"),
        ]))
        .unwrap();
        let DatabaseTarget::Server(o) = &c.database else {
            panic!("expected a server")
        };
        assert_eq!(describe_server(o), "clinic@db.example:6543/stellar");
        assert!(!format!("{:?}", c.database).contains("pw"));
        assert!(error(&[("DB_HOST", "db"), ("DB_USERNAME", "u")]).starts_with("DB_NAME"));
    }

    #[test]
    fn tls_with_a_ca_verifies_the_server() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.crt");
        std::fs::write(&ca, "x").unwrap();
        let c = Config::from_sources(&sources(&[
            ("DATABASE_URL", "postgresql://u@h/d"),
            ("DB_SSL_ENABLED", "true"),
            ("DB_SSL_CA", ca.to_str().unwrap()),
        ]))
        .unwrap();
        let DatabaseTarget::Server(o) = &c.database else {
            panic!("expected a server")
        };
        assert!(matches!(o.get_ssl_mode(), PgSslMode::VerifyFull));
        let c = Config::from_sources(&sources(&[
            ("DATABASE_URL", "postgresql://u@h/d"),
            ("DB_SSL_ENABLED", "yes"),
        ]))
        .unwrap();
        let DatabaseTarget::Server(o) = &c.database else {
            panic!("expected a server")
        };
        assert!(matches!(o.get_ssl_mode(), PgSslMode::Require));
        assert!(error(&[("DB_SSL_ENABLED", "maybe")]).starts_with("DB_SSL_ENABLED"));
    }

    #[test]
    fn layers_are_env_then_dotenv_then_config_file() {
        let dir = tempfile::tempdir().unwrap();
        let dotenv = dir.path().join(".env");
        std::fs::write(&dotenv, "DB_POOL_MAX=15\nDB_POOL_MIN=3\n").unwrap();
        let toml = dir.path().join("config.toml");
        std::fs::write(
            &toml,
            "db_pool_max = 9\ndb_pool_min = 1\nhsc_idle_lock_minutes = 5\n[keymap]\nquit = \"q\"\n",
        )
        .unwrap();
        let mut s = sources(&[("DB_POOL_MAX", "30")]);
        s.read_dotenv(&dotenv).unwrap();
        s.read_config_file(&toml).unwrap();
        let c = Config::from_sources(&s).unwrap();
        assert_eq!(c.pool_max, 30, "environment wins");
        assert_eq!(c.pool_min, 3, ".env beats config.toml");
        assert_eq!(
            c.timeouts.idle_lock,
            Duration::from_secs(300),
            "config.toml beats defaults"
        );

        std::fs::write(&toml, "db_pool_max = [1]\n").unwrap();
        let mut s = sources(&[]);
        let e = s.read_config_file(&toml).unwrap_err().to_string();
        assert!(
            e.contains("config.toml") && e.contains("db_pool_max"),
            "{e}"
        );
        let mut s = sources(&[]);
        std::fs::write(&toml, "DB_POOL_MIN = 40\n").unwrap();
        s.read_config_file(&toml).unwrap();
        let e = Config::from_sources(&s).unwrap_err().to_string();
        assert!(
            e.starts_with("DB_POOL_MIN (in ") && e.contains("config.toml"),
            "{e}"
        );
    }

    #[test]
    fn the_shipped_examples_are_valid_configuration() {
        let dir = tempfile::tempdir().unwrap();
        let toml = dir.path().join("config.toml");
        std::fs::write(&toml, include_str!("../assets/config.example.toml")).unwrap();
        let dotenv = dir.path().join(".env");
        std::fs::write(&dotenv, include_str!("../.env.example")).unwrap();
        let mut s = sources(&[]);
        s.read_config_file(&toml).unwrap();
        s.read_dotenv(&dotenv).unwrap();
        let c = Config::from_sources(&s).unwrap();
        assert_eq!(
            (c.pool_min, c.pool_max, c.app_env),
            (2, 20, AppEnv::Development)
        );
        assert!(matches!(c.database, DatabaseTarget::Local));
    }

    #[test]
    fn show_masks_secrets() {
        let key = "cd".repeat(32);
        let s = sources(&[
            (
                "DATABASE_URL",
                "postgresql://clinic:hunter2@db/stellar?password=also&sslmode=require",
            ),
            ("ENCRYPTION_KEY", &key),
            ("DB_PASSWORD", "pw-secret"),
        ]);
        let c = Config::from_sources(&s).unwrap();
        let text = format!("{:?}", show(&s, &c));
        assert!(
            !text.contains("hunter2")
                && !text.contains(&key)
                && !text.contains("pw-secret")
                && !text.contains("also"),
            "{text}"
        );
        assert!(
            text.contains("postgresql://clinic:****@db/stellar?password=****&sslmode=require"),
            "{text}"
        );
    }
}
