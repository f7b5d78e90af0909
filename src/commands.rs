//! What each command does, and the one sentence it says when it cannot.

use crate::cli::{Cli, Command, ConfigCommand, MigrateCommand, SessionsCommand, UserCommand};
use crate::config::{self, AppEnv, Config, ConfigError, DatabaseTarget, Sources};
use crate::crypto::{AuditKey, KeyFileError, Keyring};
use crate::db::cluster::{ClusterOptions, LocalCluster};
use crate::db::migrate::{self, MigrationError};
use crate::db::{Database, DbError};
use crate::logging;
use crate::services::audit::Client;
use crate::services::seed::{self, SeedError};
use crate::services::users::{self, NewUser};
use crate::services::{Policy, ServiceError, Services, sessions};
use crate::tui::keymap::Keymap;
use crate::tui::state::Settings;
use crate::tui::theme::Theme;

/// The database `hsc demo` uses inside the private cluster, apart from the everyday one.
pub const DEMO_DATABASE: &str = "hsc_demo";

/// Any command's failure; its Display is the sentence the user sees.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Database(#[from] DbError),
    #[error(transparent)]
    Migration(#[from] MigrationError),
    #[error(transparent)]
    Keys(#[from] KeyFileError),
    #[error(transparent)]
    Seed(#[from] SeedError),
    #[error(transparent)]
    Service(#[from] ServiceError),
    #[error("{0}")]
    Runtime(String),
}

/// Runs the parsed command line.
pub fn main(cli: Cli) -> Result<(), CommandError> {
    let sources = Sources::from_process()?;
    let config = Config::from_sources(&sources)?;
    match &cli.command {
        Some(Command::Config(ConfigCommand::Show)) => {
            show_config(&sources, &config);
            return Ok(());
        }
        Some(Command::Migrate(MigrateCommand::New { name })) => {
            let [up, down] =
                migrate::new_pair(std::path::Path::new("migrations"), name, chrono::Utc::now())?;
            println!("created {}\ncreated {}", up.display(), down.display());
            println!("write both, then rebuild hsc: migrations are embedded in the binary");
            return Ok(());
        }
        _ => {}
    }
    let _log = match logging::init(&config) {
        Ok(guard) => Some(guard),
        Err(reason) => {
            eprintln!("hsc: warning: running without a log file, because {reason}");
            None
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CommandError::Runtime(format!("the async runtime could not start: {e}")))?;
    runtime.block_on(dispatch(cli.command, config))
}

async fn dispatch(command: Option<Command>, config: Config) -> Result<(), CommandError> {
    match command {
        None => console(&config).await,
        Some(Command::Demo) => demo(config).await,
        Some(Command::Migrate(MigrateCommand::Run)) => {
            let db = connect(&config).await?;
            let applied = migrate::run(&db).await?;
            if applied.is_empty() {
                println!("nothing to apply: the schema is current");
            }
            for name in &applied {
                println!("applied {name}");
            }
            db.close().await;
            Ok(())
        }
        Some(Command::Migrate(MigrateCommand::Revert)) => {
            let db = connect(&config).await?;
            match migrate::revert(&db).await? {
                Some(name) => println!("reverted {name}"),
                None => println!("nothing to revert: no migration is applied"),
            }
            db.close().await;
            Ok(())
        }
        Some(Command::Migrate(MigrateCommand::Show)) => {
            let db = connect(&config).await?;
            let status = migrate::status(&db).await?;
            for m in &status.migrations {
                let state = match (&m.applied_on, m.edited) {
                    (Some(_), true) => "EDITED ",
                    (Some(_), false) => "applied",
                    (None, _) => "pending",
                };
                let when = m
                    .applied_on
                    .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
                    .unwrap_or_default();
                println!("{state}  {when:<23}  {}", m.name);
            }
            for v in &status.unknown {
                println!("UNKNOWN  {:<23}  {v} (applied by another hsc release)", "");
            }
            println!(
                "{} applied, {} pending",
                status.migrations.len() - status.pending(),
                status.pending()
            );
            db.close().await;
            Ok(())
        }
        Some(Command::Seed) => {
            if config.production_anywhere() {
                return Err(SeedError::Production.into());
            }
            let keyring = Keyring::from_config(&config)?;
            let db = connect_current(&config).await?;
            let summary = seed::run(&config, &db, &keyring).await?;
            println!(
                "seeded {} users, {} records and {} access grants; every password is {}",
                summary.users,
                summary.records,
                summary.grants,
                seed::SEED_PASSWORD
            );
            db.close().await;
            Ok(())
        }
        Some(Command::User(command)) => {
            let svc = services(&config).await?;
            let client = Client::command_line();
            match command {
                UserCommand::Create {
                    email,
                    role,
                    first_name,
                    last_name,
                    password_stdin,
                } => {
                    let password = read_new_password(password_stdin)?;
                    let new = NewUser {
                        email,
                        role,
                        first_name,
                        last_name,
                        password,
                    };
                    users::create(&svc, &client, &new).await?;
                    println!("created {} ({})", new.email.trim(), new.role);
                }
                UserCommand::Unlock { email } => {
                    users::unlock(&svc, &client, &email).await?;
                    println!("unlocked {}", email.trim());
                }
                UserCommand::ResetMfa { email } => {
                    let removed = users::reset_mfa(&svc, &client, &email).await?;
                    println!(
                        "removed {removed} MFA device(s) and every backup code of {}; they enroll again at their next login",
                        email.trim()
                    );
                }
            }
            svc.db.close().await;
            Ok(())
        }
        Some(Command::Sessions(SessionsCommand::Cleanup)) => {
            let svc = services(&config).await?;
            let ended = sessions::cleanup(&svc, &Client::command_line()).await?;
            println!("ended {ended} expired session(s)");
            svc.db.close().await;
            Ok(())
        }
        // Handled before the runtime starts.
        Some(Command::Config(_)) | Some(Command::Migrate(MigrateCommand::New { .. })) => Ok(()),
    }
}

async fn connect(config: &Config) -> Result<Database, CommandError> {
    Ok(Database::connect(config).await?)
}

/// Connects and stops unless every migration is applied and none was edited.
async fn connect_current(config: &Config) -> Result<Database, CommandError> {
    let db = connect(config).await?;
    migrate::require_current(&db).await?;
    Ok(db)
}

/// Everything a service call needs, for a command that acts on users or sessions.
async fn services(config: &Config) -> Result<Services, CommandError> {
    let keyring = Keyring::from_config(config)?;
    AuditKey::from_config(config)?;
    let db = connect_current(config).await?;
    Ok(Services {
        db,
        keyring,
        policy: Policy::from_config(config),
    })
}

/// The new user's password: typed twice without echo, or the first line of standard input.
fn read_new_password(from_stdin: bool) -> Result<zeroize::Zeroizing<String>, CommandError> {
    use zeroize::Zeroizing;
    let unreadable =
        |e: std::io::Error| CommandError::Runtime(format!("the password could not be read: {e}"));
    if from_stdin {
        let mut line = Zeroizing::new(String::new());
        std::io::stdin().read_line(&mut line).map_err(unreadable)?;
        let trimmed = Zeroizing::new(line.trim_end_matches(['\r', '\n']).to_string());
        return Ok(trimmed);
    }
    let first = Zeroizing::new(
        rpassword::prompt_password("Password for the new user: ").map_err(unreadable)?,
    );
    let second = Zeroizing::new(
        rpassword::prompt_password("The same password again: ").map_err(unreadable)?,
    );
    if first != second {
        return Err(CommandError::Runtime(
            "the two passwords differ; nothing was created".into(),
        ));
    }
    Ok(first)
}

/// `hsc` with no command: checks everything the console needs, then opens it.
async fn console(config: &Config) -> Result<(), CommandError> {
    let settings = console_settings(config)?;
    let svc = services(config).await?;
    open_console(svc, settings).await
}

/// The keymap and theme, checked before anything else so a typo in `config.toml` is named at once.
fn console_settings(config: &Config) -> Result<Settings, CommandError> {
    let keymap = Keymap::with_overrides(&config.keymap)
        .map_err(|e| CommandError::Runtime(format!("{} {e}", config.config_file.display())))?;
    let theme = Theme::choose(config.no_color, config.theme.as_deref())
        .map_err(|e| CommandError::Runtime(format!("HSC_THEME {e}")))?;
    Ok(Settings {
        keymap,
        theme,
        idle_lock: config.timeouts.idle_lock,
    })
}

/// Runs the console in this terminal; refuses with a sentence when there is no terminal.
async fn open_console(svc: Services, settings: Settings) -> Result<(), CommandError> {
    use std::io::IsTerminal;
    let svc = std::sync::Arc::new(svc);
    if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
        return Err(CommandError::Runtime(
            "the console needs a terminal (standard input and output are not one); scripts use the subcommands, see `hsc --help`".into(),
        ));
    }
    let result = crate::tui::app::run(svc.clone(), Client::from_environment(), settings).await;
    svc.db.close().await;
    result.map_err(|e| CommandError::Runtime(format!("the terminal failed: {e}")))
}

/// `hsc demo`: the private cluster, migrated and seeded, whatever the configuration names.
async fn demo(mut config: Config) -> Result<(), CommandError> {
    if config.production_anywhere() {
        return Err(SeedError::Production.into());
    }
    config.app_env = AppEnv::Development;
    config.database = DatabaseTarget::Local;
    let settings = console_settings(&config)?;
    let keyring = Keyring::from_config(&config)?;
    AuditKey::from_config(&config)?;
    println!(
        "starting hsc's private PostgreSQL (data in {}) ...",
        config.data_dir.display()
    );
    let db = Database::connect_local(&config, DEMO_DATABASE, ClusterOptions::default()).await?;
    let applied = migrate::run(&db).await?;
    println!(
        "applied {} migration(s); the schema is current",
        applied.len()
    );
    let summary = seed::run(&config, &db, &keyring).await?;
    println!(
        "seeded {} users, {} records and {} access grants\n\nDemo logins (every password is {}):",
        summary.users,
        summary.records,
        summary.grants,
        seed::SEED_PASSWORD
    );
    for u in &seed::USERS {
        println!(
            "  {:<36} {:<18} {}",
            u.email,
            format!("{} {}", u.first_name, u.last_name),
            u.role
        );
    }
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
        println!(
            "\nNo terminal here, so the console was not opened; run `hsc demo` in a terminal to use it."
        );
        db.close().await;
        return Ok(());
    }
    let svc = Services {
        db,
        keyring,
        policy: Policy::from_config(&config),
    };
    open_console(svc, settings).await
}

fn show_config(sources: &Sources, config: &Config) {
    let mut rows = config::show(sources, config);
    if let DatabaseTarget::Local = config.database {
        // Where the private cluster lives, or why it could not run here.
        let place = match LocalCluster::locate(
            &config.data_dir,
            config.pg_bindir.as_deref(),
            ClusterOptions::default(),
        ) {
            Ok(cluster) => format!(
                "{} (server binaries in {})",
                cluster.root().display(),
                cluster.bindir().display()
            ),
            Err(e) => e.to_string(),
        };
        rows.push(("private cluster".into(), place, String::new()));
    }
    let width = rows.iter().map(|(k, ..)| k.len()).max().unwrap_or(0);
    for (name, value, origin) in rows {
        if origin.is_empty() {
            println!("{name:<width$}  {value}");
        } else {
            println!("{name:<width$}  {value}  ({origin})");
        }
    }
}
