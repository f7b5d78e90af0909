//! How long a refused login takes for an unknown email, a wrong password and a locked account,
//! next to a successful one: they should be alike, so timing does not tell which emails exist.
//!
//! `cargo bench --bench login_timing` starts a throwaway private PostgreSQL in a temporary directory,
//! seeds it, and prints the median and spread of each kind over 25 attempts.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use hsc::config::{Config, Sources};
use hsc::crypto::Keyring;
use hsc::db::Database;
use hsc::db::cluster::ClusterOptions;
use hsc::services::audit::Client;
use hsc::services::{Policy, Services, auth, seed};

fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    runtime.block_on(run());
}

fn summary(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{name:<28} median {:7.2} ms   min {:7.2} ms   max {:7.2} ms",
        ms(samples[samples.len() / 2]),
        ms(samples[0]),
        ms(samples[samples.len() - 1])
    );
}

async fn run() {
    let dir = tempfile::Builder::new()
        .prefix("hsc-bench-")
        .tempdir()
        .expect("a temporary directory");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
        .expect("permissions");
    let mut env = BTreeMap::new();
    env.insert("HSC_DATA_DIR".to_string(), dir.path().display().to_string());
    env.insert("HSC_LOCKOUT_ATTEMPTS".to_string(), "1000".to_string());
    let config =
        Config::from_sources(&Sources::from_maps(env, dir.path().to_path_buf())).expect("config");
    let options = ClusterOptions {
        unsafe_fast: true,
        ..ClusterOptions::default()
    };
    let db = Database::connect_local(&config, "hsc_bench", options)
        .await
        .expect("the private cluster");
    let keyring = Keyring::new(&zeroize::Zeroizing::new([9u8; 32]), &[]);
    hsc::db::migrate::run(&db).await.expect("migrations");
    seed::run(&config, &db, &keyring).await.expect("the seed");
    let svc = Services {
        db,
        keyring,
        policy: Policy::from_config(&config),
    };
    let client = Client::command_line();
    const N: usize = 25;
    // Lock one account the way five failures would.
    let mut tx = svc
        .db
        .begin_maintenance(hsc::db::Maintenance::UserAdministration)
        .await
        .expect("a transaction");
    sqlx::query("UPDATE users SET locked_until = now() + interval '1 hour' WHERE email = 'patient3@example.com'")
        .execute(tx.conn())
        .await
        .expect("lock an account");
    tx.commit().await.expect("commit");
    let mut kinds: Vec<(&str, &str, &str)> = vec![
        ("locked account", "patient3@example.com", "Test123!@#"),
        ("success (patient)", "patient1@example.com", "Test123!@#"),
        ("wrong password", "patient2@example.com", "not the password"),
        ("unknown email", "nobody@example.com", "Test123!@#"),
    ];
    for (name, email, password) in kinds.drain(..) {
        let mut samples = Vec::with_capacity(N);
        for _ in 0..N {
            let start = Instant::now();
            let _ = auth::login(&svc, &client, email, password).await;
            samples.push(start.elapsed());
        }
        summary(name, samples);
    }
    svc.db.close().await;
}
