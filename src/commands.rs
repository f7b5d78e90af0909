//! What each command does, and the one sentence it says when it cannot.

mod audit;

use crate::cli::{
    Cli, Command, ConfigCommand, KeysCommand, MigrateCommand, SessionsCommand, UserCommand,
};
use crate::config::{self, AppEnv, Config, ConfigError, DatabaseTarget, Sources};
use crate::crypto::{AuditKey, KeyFileError, Keyring};
use crate::db::cluster::{ClusterOptions, LocalCluster};
use crate::db::migrate::{self, MigrationError};
use crate::db::{Database, DbError};
use crate::logging;
use crate::services::audit::verify::VerifyError;
use crate::services::audit::{Client, seal};
use crate::services::keys::{self, RotateOptions, RotationError};
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
    #[error(transparent)]
    Rotation(#[from] RotationError),
    #[error(transparent)]
    Verify(#[from] VerifyError),
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
        Some(Command::Serve {
            ssh,
            host_key,
            authorized_keys,
            per_minute,
            max_connections,
        }) => {
            let options = crate::serve::Options {
                address: ssh,
                host_key: host_key.unwrap_or_else(|| config.data_dir.join("ssh_host_ed25519_key")),
                authorized_keys,
                per_minute,
                max_connections: usize::try_from(max_connections).unwrap_or(usize::MAX),
            };
            serve(&config, &options).await
        }
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
        Some(Command::Keys(KeysCommand::Rotate { batch_size })) => {
            rotate_keys(&config, batch_size).await
        }
        Some(Command::Audit(command)) => audit::run(command, &config).await,
        // Handled before the runtime starts.
        Some(Command::Config(_)) | Some(Command::Migrate(MigrateCommand::New { .. })) => Ok(()),
    }
}

async fn connect(config: &Config) -> Result<Database, CommandError> {
    Ok(Database::connect(config).await?)
}

/// Connects and stops unless every migration is applied and none was edited; every commit then
/// seals its audit rows into the chain.
async fn connect_current(config: &Config) -> Result<Database, CommandError> {
    let key = AuditKey::from_config(config)?;
    let db = connect(config).await?;
    migrate::require_current(&db).await?;
    Ok(seal::install(db, &key))
}

/// Everything a service call needs, for a command that acts on users or sessions.
async fn services(config: &Config) -> Result<Services, CommandError> {
    let keyring = Keyring::from_config(config)?;
    let db = connect_current(config).await?;
    // Every service transaction switches to the application role; if that role could read past
    // the policies, the console must not start.
    db.require_confinement().await?;
    Ok(Services {
        db,
        keyring,
        policy: Policy::from_config(config),
    })
}

/// `hsc keys rotate`. Allowed in production — that is where keys rotate — where loading the keyring
/// already insists on ENCRYPTION_KEY; old keys come from ENCRYPTION_OLD_KEYS.
async fn rotate_keys(config: &Config, batch_size: u32) -> Result<(), CommandError> {
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;
    let svc = services(config).await?;
    let key_id = svc.keyring.current_key_id();
    let mut progress = RotationProgress::new(key_id);
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = watch_interrupts(stop.clone(), progress.bar.clone())?;
    let options = RotateOptions {
        batch_size,
        stop_after_batches: None,
    };
    let result = keys::rotate(
        &svc.db,
        &svc.keyring,
        &Client::command_line(),
        &options,
        &stop,
        &mut progress,
    )
    .await;
    watcher.abort();
    progress.finish();
    svc.db.close().await;
    let rotation = result?;
    if rotation.stopped {
        return Err(CommandError::Runtime(format!(
            "interrupted after re-encrypting {} row(s); {} row(s) are still under older keys, and running `hsc keys rotate` again resumes where this run stopped",
            rotation.rotated, rotation.remaining
        )));
    }
    if rotation.rotated == 0 {
        println!("nothing to rotate: every encrypted value is already under key {key_id}");
    } else {
        println!(
            "re-encrypted {} row(s) to key {key_id}; nothing is left under older keys",
            rotation.rotated
        );
    }
    Ok(())
}

/// Ctrl-C (or SIGTERM) asks the rotation to stop after the batch in progress; a second Ctrl-C ends
/// the process at once, which rolls that batch back. Registered before any work starts.
fn watch_interrupts(
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    bar: Option<indicatif::ProgressBar>,
) -> Result<tokio::task::JoinHandle<()>, CommandError> {
    use tokio::signal::unix::{SignalKind, signal};
    let uncatchable =
        |e: std::io::Error| CommandError::Runtime(format!("Ctrl-C could not be caught: {e}"));
    let mut interrupts = signal(SignalKind::interrupt()).map_err(uncatchable)?;
    let mut terminations = signal(SignalKind::terminate()).map_err(uncatchable)?;
    let say = move |line: &str| match &bar {
        Some(bar) => bar.println(line),
        None => eprintln!("key rotation: {line}"),
    };
    Ok(tokio::spawn(async move {
        tokio::select! {
            _ = interrupts.recv() => {}
            _ = terminations.recv() => {}
        }
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        say("stopping after the current batch; press Ctrl-C again to stop at once");
        if interrupts.recv().await.is_some() {
            say(
                "stopped at once; the batch in progress was rolled back, and running `hsc keys rotate` again resumes",
            );
            std::process::exit(130);
        }
    }))
}

/// Rotation progress on stderr: a bar on a terminal; elsewhere plain lines, at most one a second.
struct RotationProgress {
    bar: Option<indicatif::ProgressBar>,
    key_id: crate::crypto::KeyId,
    total: u64,
    last_line: std::time::Instant,
}

impl RotationProgress {
    fn new(key_id: crate::crypto::KeyId) -> RotationProgress {
        use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
        use std::io::IsTerminal;
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.set_message("counting rows under older keys");
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
            bar
        });
        if bar.is_none() {
            eprintln!("key rotation: counting rows under older keys");
        }
        RotationProgress {
            bar,
            key_id,
            total: 0,
            last_line: std::time::Instant::now(),
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl keys::Progress for RotationProgress {
    fn counted(&mut self, rows: u64) {
        self.total = rows;
        match &self.bar {
            Some(bar) => {
                bar.set_length(rows);
                bar.set_position(0);
                // wide_bar: the line fits the terminal, so redraws never wrap.
                bar.set_style(
                    indicatif::ProgressStyle::with_template(
                        "{msg} [{wide_bar}] {pos}/{len} rows ({eta} left)",
                    )
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                );
                bar.set_message(format!("re-encrypting to key {}", self.key_id));
            }
            None => eprintln!(
                "key rotation: {rows} row(s) under older keys, re-encrypting to key {}",
                self.key_id
            ),
        }
    }

    fn rotated(&mut self, rows: u64) {
        // Rows written under an old key meanwhile can push the count past the first total.
        self.total = self.total.max(rows);
        match &self.bar {
            Some(bar) => {
                bar.set_length(self.total);
                bar.set_position(rows);
            }
            None => {
                if rows >= self.total || self.last_line.elapsed().as_secs() >= 1 {
                    eprintln!("key rotation: {rows}/{} rows", self.total);
                    self.last_line = std::time::Instant::now();
                }
            }
        }
    }
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
    // Under OpenSSH's `ForceCommand hsc`, `ssh host CMD` still runs hsc, with the command in
    // SSH_ORIGINAL_COMMAND: the console is the only thing on offer.
    if std::env::var_os("SSH_ORIGINAL_COMMAND").is_some_and(|c| !c.is_empty()) {
        return Err(CommandError::Runtime(
            "commands are not accepted over SSH; connect with `ssh -t HOST` for the console".into(),
        ));
    }
    let settings = console_settings(config)?;
    let svc = services(config).await?;
    open_console(svc, settings).await
}

/// `hsc serve --ssh ADDR`: consoles for SSH clients until SIGTERM, then every one signed out.
async fn serve(config: &Config, options: &crate::serve::Options) -> Result<(), CommandError> {
    let settings = console_settings(config)?;
    let svc = std::sync::Arc::new(services(config).await?);
    let served = crate::serve::serve(svc.clone(), settings, options, |lines| {
        for line in lines {
            println!("{line}");
        }
    })
    .await;
    svc.db.close().await;
    served.map_err(|e| CommandError::Runtime(e.to_string()))
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
        grant_max_days: config.grant_max_days,
        exports_dir: config.data_dir.join("exports"),
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
    result.map_err(|e| CommandError::Runtime(format!("the console stopped: {e}")))
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
    let audit_key = AuditKey::from_config(&config)?;
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
    let db = seal::install(db, &audit_key);
    db.require_confinement().await?;
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
