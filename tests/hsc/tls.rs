//! TLS to a real PostgreSQL started with `ssl = on` and certificates made here: the connection is
//! encrypted, the server is verified against DB_SSL_CA, the client certificate is presented.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};

use hsc::config::{Config, Sources};
use hsc::db::cluster::{ClusterOptions, LocalCluster};
use hsc::db::{Database, DbError, Maintenance};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, SanType};

use crate::harness::Home;

struct Pki {
    ca: PathBuf,
    other_ca: PathBuf,
    server_cert: PathBuf,
    server_key: PathBuf,
    client_cert: PathBuf,
    client_key: PathBuf,
}

fn ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

fn make_pki(dir: &Path) -> Pki {
    let issuer = ca("hsc test CA");
    let other = ca("some other CA");
    let server_key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    params
        .subject_alt_names
        .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    let server = params.signed_by(&server_key, &issuer).unwrap();
    let client_key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    // clientcert=verify-full: the certificate's CN must be the user name.
    params
        .distinguished_name
        .push(DnType::CommonName, hsc::db::cluster::SUPERUSER);
    let client = params.signed_by(&client_key, &issuer).unwrap();

    let write = |name: &str, text: String| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let pki = Pki {
        ca: write("ca.pem", issuer.pem()),
        other_ca: write("other-ca.pem", other.pem()),
        server_cert: write("server.pem", server.pem()),
        server_key: write("server.key", server_key.serialize_pem()),
        client_cert: write("client.pem", client.pem()),
        client_key: write("client.key", client_key.serialize_pem()),
    };
    // PostgreSQL reads its key only when it alone (its server user) can.
    if let Ok(Some(pg)) = nix::unistd::User::from_name("postgres")
        && nix::unistd::Uid::effective().is_root()
    {
        for path in [&pki.server_cert, &pki.server_key, &pki.ca] {
            std::os::unix::fs::chown(path, Some(pg.uid.as_raw()), Some(pg.gid.as_raw())).unwrap();
        }
    }
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&pki.server_key, std::fs::Permissions::from_mode(0o600)).unwrap();
    pki
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn config(port: u16, vars: &[(&str, &Path)]) -> Config {
    let mut env: BTreeMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.display().to_string()))
        .collect();
    env.insert(
        "DATABASE_URL".into(),
        format!(
            "postgresql://{}@127.0.0.1:{port}/postgres",
            hsc::db::cluster::SUPERUSER
        ),
    );
    env.insert("DB_SSL_ENABLED".into(), "true".into());
    env.insert("DB_POOL_MIN".into(), "0".into());
    Config::from_sources(&Sources::from_maps(env, std::env::temp_dir())).unwrap()
}

#[tokio::test]
async fn tls_verifies_the_server_and_presents_the_client_certificate() {
    let home = Home::new();
    let certs = home.path().join("certs");
    std::fs::create_dir(&certs).unwrap();
    let pki = make_pki(&certs);
    let port = free_port();
    let quote = |p: &Path| format!("'{}'", p.display());
    let options = ClusterOptions {
        unsafe_fast: true,
        port: Some(port),
        extra_conf: vec![
            "listen_addresses = '127.0.0.1'".into(),
            "ssl = on".into(),
            format!("ssl_cert_file = {}", quote(&pki.server_cert)),
            format!("ssl_key_file = {}", quote(&pki.server_key)),
            format!("ssl_ca_file = {}", quote(&pki.ca)),
        ],
        extra_hba: vec![
            "hostssl all all 127.0.0.1/32 trust clientcert=verify-full".into(),
            "host all all 127.0.0.1/32 reject".into(),
        ],
    };
    let cluster = LocalCluster::locate(&home.data_dir(), None, options).unwrap();
    let lease = cluster.ensure_running().unwrap();

    let good = config(
        port,
        &[
            ("DB_SSL_CA", &pki.ca),
            ("DB_SSL_CERT", &pki.client_cert),
            ("DB_SSL_KEY", &pki.client_key),
        ],
    );
    let db = Database::connect(&good).await.unwrap();
    let mut tx = db.begin_maintenance(Maintenance::Seed).await.unwrap();
    let (ssl, client_dn): (bool, Option<String>) =
        sqlx::query_as("SELECT ssl, client_dn FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            .fetch_one(tx.conn())
            .await
            .unwrap();
    assert!(ssl, "the connection is not encrypted");
    assert_eq!(
        client_dn.as_deref(),
        Some("/CN=hsc"),
        "the client certificate was not presented"
    );
    drop(tx);
    db.close().await;

    let wrong_ca = config(
        port,
        &[
            ("DB_SSL_CA", &pki.other_ca),
            ("DB_SSL_CERT", &pki.client_cert),
            ("DB_SSL_KEY", &pki.client_key),
        ],
    );
    let err = Database::connect(&wrong_ca).await.unwrap_err();
    assert!(matches!(err, DbError::Connect { .. }), "{err}");
    assert!(
        err.to_string()
            .starts_with("cannot connect to PostgreSQL at hsc@127.0.0.1:"),
        "{err}"
    );

    let no_client_cert = config(port, &[("DB_SSL_CA", &pki.ca)]);
    assert!(
        Database::connect(&no_client_cert).await.is_err(),
        "the server demands a client certificate"
    );

    drop(lease);
    assert!(!cluster.data_dir().join("postmaster.pid").exists());
}
