//! What a console connection does not offer, asked for the way only a programmable client can
//! (OpenSSH asks for agent and X11 forwarding only when it has an agent or a display).

use std::time::Duration;

use russh::ChannelMsg;
use russh::keys::{Algorithm, PrivateKey};

use super::{Remote, Served, connect};
use crate::harness::TestDb;

/// The replies and stderr text that arrive within a second.
async fn replies(remote: &mut Remote) -> Vec<&'static str> {
    let mut got = Vec::new();
    let until = std::time::Instant::now() + Duration::from_secs(1);
    while std::time::Instant::now() < until {
        match tokio::time::timeout(Duration::from_millis(200), remote.channel.wait()).await {
            Ok(Some(ChannelMsg::Failure)) => got.push("failure"),
            Ok(Some(ChannelMsg::Success)) => got.push("success"),
            Ok(Some(ChannelMsg::ExtendedData { data, .. })) => {
                remote.stderr.push_str(&String::from_utf8_lossy(&data));
            }
            Ok(Some(ChannelMsg::Data { data })) => remote.screen.process(&data),
            _ => {}
        }
    }
    got
}

#[tokio::test]
async fn agent_x11_and_forwarding_are_refused_and_the_console_goes_on() {
    let (tdb, _svc) = TestDb::seeded().await;
    let served = Served::start(&tdb, &[], &[]);
    let mut remote = Remote::open(&served).await;
    remote.wait_for("Email:").await;

    remote.channel.agent_forward(true).await.unwrap();
    assert_eq!(replies(&mut remote).await, ["failure"]);
    assert!(
        remote
            .stderr
            .contains("hsc: agent forwarding is not allowed"),
        "{}",
        remote.stderr
    );

    remote
        .channel
        .request_x11(true, false, "MIT-MAGIC-COOKIE-1", "00", 0)
        .await
        .unwrap();
    assert_eq!(replies(&mut remote).await, ["failure"]);
    assert!(
        remote.stderr.contains("hsc: X11 forwarding is not allowed"),
        "{}",
        remote.stderr
    );

    let opened = remote
        .handle
        .channel_open_direct_tcpip("127.0.0.1", 5432, "127.0.0.1", 40000)
        .await;
    assert!(
        matches!(opened, Err(russh::Error::ChannelOpenFailure(_))),
        "{:?}",
        opened.err()
    );
    let forwarded = remote.handle.tcpip_forward("127.0.0.1", 0).await;
    assert!(
        matches!(forwarded, Err(russh::Error::RequestDenied)),
        "{forwarded:?}"
    );
    replies(&mut remote).await;
    assert!(
        remote
            .stderr
            .contains("hsc: port forwarding is not allowed"),
        "{}",
        remote.stderr
    );
    let second = remote.handle.channel_open_session().await;
    assert!(second.is_err(), "one console per connection");
    // A command or another shell on the console's own channel is refused without ending it.
    remote.channel.exec(true, "id").await.unwrap();
    remote.channel.request_shell(true).await.unwrap();
    assert_eq!(replies(&mut remote).await, ["failure", "failure"]);

    // The console itself is untouched.
    remote.sign_in("dr.smith@healthystellar.com").await;
    remote.wait_for("[1 Records]").await;
    remote.send("q").await;
    assert_eq!(remote.finish().await, Some(0));
    assert!(
        remote.text().contains("hsc: signed out"),
        "{}",
        remote.text()
    );
}

#[tokio::test]
async fn an_exec_request_is_answered_with_the_reason_and_status_1() {
    let (tdb, _svc) = TestDb::seeded().await;
    let served = Served::start(&tdb, &[], &[]);
    let handle = connect(&served, None).await.unwrap();
    let mut channel = handle.channel_open_session().await.unwrap();
    channel.exec(true, "hsc user create").await.unwrap();
    let (mut stderr, mut status) = (String::new(), None);
    while let Some(msg) = tokio::time::timeout(Duration::from_secs(10), channel.wait())
        .await
        .unwrap()
    {
        match msg {
            ChannelMsg::ExtendedData { data, .. } => {
                stderr.push_str(&String::from_utf8_lossy(&data))
            }
            ChannelMsg::Data { data } => panic!("exec printed {data:?}"),
            ChannelMsg::ExitStatus { exit_status } => status = Some(exit_status),
            ChannelMsg::Close => break,
            _ => {}
        }
    }
    assert_eq!(status, Some(1));
    assert!(stderr.contains("commands are not accepted"), "{stderr}");
}

#[tokio::test]
async fn with_authorized_keys_only_a_listed_key_gets_in() {
    let (tdb, _svc) = TestDb::seeded().await;
    let listed = PrivateKey::random(&mut rand::rng(), Algorithm::Ed25519).unwrap();
    let other = PrivateKey::random(&mut rand::rng(), Algorithm::Ed25519).unwrap();
    let home = crate::harness::Home::new();
    let keys = home.path().join("authorized_keys");
    // The comment is not part of the key.
    let line = listed.public_key().to_openssh().unwrap();
    std::fs::write(
        &keys,
        format!("# the ward's laptops\n{line} a-different-comment\n"),
    )
    .unwrap();
    let keys = keys.display().to_string();
    let served = Served::start_in(home, &tdb, &["--authorized-keys", &keys], &[]);
    assert!(
        served.lines.iter().any(|l| l.contains("only the 1 key(s)")),
        "{:?}",
        served.lines
    );

    assert!(connect(&served, Some(&listed)).await.is_ok());
    assert!(matches!(
        connect(&served, Some(&other)).await.err(),
        Some(russh::Error::NotAuthenticated)
    ));
    assert!(matches!(
        connect(&served, None).await.err(),
        Some(russh::Error::NotAuthenticated)
    ));
}
