//! hsc's private PostgreSQL, driven through the real binary with no database configured.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use hsc::db::cluster::{ClusterOptions, LocalCluster};

use crate::harness::{Home, run};

/// Stops the home's cluster when a test ends, passed or failed, so no server outlives its directory.
struct StopOnDrop(LocalCluster);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        let _ = self.0.stop();
    }
}

fn cluster_of(home: &Home) -> StopOnDrop {
    StopOnDrop(LocalCluster::locate(&home.data_dir(), None, ClusterOptions::default()).unwrap())
}

fn server_running(cluster: &LocalCluster) -> bool {
    cluster.data_dir().join("postmaster.pid").exists()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn demo_creates_a_private_cluster_seeds_it_and_stops_it_afterwards() {
    let home = Home::new();
    let cluster = cluster_of(&home);
    for _ in 0..2 {
        let out = run(home.hsc(&["demo"]));
        out.success();
        for u in &hsc::services::seed::USERS {
            assert!(
                out.stdout.contains(u.email),
                "{} missing:\n{}",
                u.email,
                out.stdout
            );
        }
        assert!(
            out.stdout.contains("every password is Test123!@#"),
            "{}",
            out.stdout
        );
        assert!(
            !server_running(&cluster.0),
            "the last hsc out stops the server"
        );
    }
    assert!(cluster.0.root().starts_with(home.data_dir()));
    assert_eq!(mode(cluster.0.root()), 0o700);
    assert_eq!(mode(&cluster.0.socket_dir()), 0o700);
    let conf = std::fs::read_to_string(cluster.0.data_dir().join("hsc.conf")).unwrap();
    assert!(conf.contains("listen_addresses = ''"), "no TCP: {conf}");
}

#[test]
fn two_processes_at_once_share_the_cluster() {
    let home = Home::new();
    let cluster = cluster_of(&home);
    let children: Vec<_> = (0..2)
        .map(|_| home.hsc(&["migrate", "run"]).output_async())
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = run(home.hsc(&["migrate", "show"]));
    assert!(
        out.success().stdout.contains(" applied, 0 pending"),
        "{}",
        out.stdout
    );
    // One process holds the server while another comes and goes: the server must stay up for the first.
    let first = home.hsc(&["seed"]).output_async();
    let second = run(home.hsc(&["migrate", "show"]));
    second.success();
    let first = first.wait_with_output().unwrap();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(!server_running(&cluster.0));
}

#[test]
fn a_crashed_server_is_recovered() {
    let home = Home::new();
    let cluster = cluster_of(&home);
    let lease = cluster.0.ensure_running().unwrap();
    let pid_file = cluster.0.data_dir().join("postmaster.pid");
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    // Its backends notice their postmaster is gone and exit; wait for the socket to go quiet.
    std::thread::sleep(Duration::from_millis(500));
    drop(lease);
    assert!(pid_file.exists(), "a crash leaves the pid file behind");
    let out = run(home.hsc(&["migrate", "run"]));
    out.success();
    assert!(!server_running(&cluster.0));
}

#[test]
fn a_pid_file_naming_someone_elses_process_is_recovered() {
    let home = Home::new();
    let cluster = cluster_of(&home);
    run(home.hsc(&["migrate", "run"])).success();
    // After a reboot the old pid may belong to any live process; here, this test's own.
    std::fs::write(
        cluster.0.data_dir().join("postmaster.pid"),
        format!(
            "{}\n{}\n",
            std::process::id(),
            cluster.0.data_dir().display()
        ),
    )
    .unwrap();
    let out = run(home.hsc(&["migrate", "show"]));
    assert!(
        out.success().stdout.contains(" applied, 0 pending"),
        "{}",
        out.stdout
    );
}

trait SpawnQuiet {
    fn output_async(self) -> std::process::Child;
}

impl SpawnQuiet for std::process::Command {
    fn output_async(mut self) -> std::process::Child {
        self.stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    }
}

/// The other tests run as whoever runs them (root on CI, where the server runs as `postgres`); this
/// one shows an ordinary user gets a cluster of its own, run as itself.
#[test]
fn an_ordinary_user_runs_a_cluster_as_itself() {
    use std::os::unix::process::CommandExt;
    let home = Home::new();
    let mut c = home.hsc(&["demo"]);
    if nix::unistd::Uid::effective().is_root() {
        let nobody = nix::unistd::User::from_name("nobody")
            .unwrap()
            .expect("the nobody user");
        // The checkout may sit where `nobody` cannot enter (a 0700 temporary directory): run a copy.
        let copy = home.path().join("hsc");
        std::fs::copy(env!("CARGO_BIN_EXE_hsc"), &copy).unwrap();
        c = home.command(&copy, &["demo"]);
        std::os::unix::fs::chown(
            home.path(),
            Some(nobody.uid.as_raw()),
            Some(nobody.gid.as_raw()),
        )
        .unwrap();
        c.uid(nobody.uid.as_raw())
            .gid(nobody.gid.as_raw())
            .env("HOME", home.path());
    }
    let out = run(c);
    assert!(
        out.success().stdout.contains("patient3@example.com"),
        "{}",
        out.stdout
    );
    use std::os::unix::fs::MetadataExt;
    let data = home.data_dir().join("postgres").join("data");
    let owner = std::fs::metadata(&data).unwrap().uid();
    let expected = if nix::unistd::Uid::effective().is_root() {
        nix::unistd::User::from_name("nobody")
            .unwrap()
            .unwrap()
            .uid
            .as_raw()
    } else {
        nix::unistd::Uid::effective().as_raw()
    };
    assert_eq!(
        owner, expected,
        "the cluster belongs to the user who ran hsc"
    );
    assert!(
        !data.join("postmaster.pid").exists(),
        "stopped when the demo ended"
    );
}
