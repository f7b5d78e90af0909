//! Accounts after sign-in: authenticator devices, sessions and their limits, the idle lock, and the
//! administrative commands — each with its audit row.

use hsc::services::Services;
use hsc::services::auth::{self, LoginStep};
use hsc::services::mfa::{self, Enrollment};
use hsc::services::sessions::{self, Session, SessionState};

use crate::auth::{PASSWORD, client, enroll, now};
use crate::harness::{Home, TEST_ENCRYPTION_KEY, TestDb, run};

#[tokio::test]
async fn devices_are_listed_renamed_and_removed_with_password_and_code() {
    let (tdb, svc) = TestDb::seeded().await;
    let (session, enrollment, backup, at) = enroll(&svc, "billing@healthystellar.com").await;
    let (devices, left) = mfa::devices(&svc, &session).await.unwrap();
    assert_eq!((devices.len(), left), (1, 10));
    let device = devices[0].id;
    mfa::rename(&svc, &client(), &session, device, "Work phone")
        .await
        .unwrap();
    assert!(
        mfa::rename(&svc, &client(), &session, device, "")
            .await
            .is_err()
    );
    assert_eq!(
        mfa::devices(&svc, &session).await.unwrap().0[0].name,
        "Work phone"
    );
    let next = enrollment.code_at(at + 30).unwrap();
    assert!(
        mfa::remove(&svc, &client(), &session, device, "wrong", &next)
            .await
            .is_err()
    );
    assert_eq!(
        mfa::devices(&svc, &session).await.unwrap().0.len(),
        1,
        "nothing removed"
    );
    mfa::remove(&svc, &client(), &session, device, PASSWORD, &backup[0])
        .await
        .unwrap();
    let (devices, left) = mfa::devices(&svc, &session).await.unwrap();
    assert_eq!((devices.len(), left), (0, 0));
    let mut admin = tdb.admin().await;
    let outcomes: Vec<String> = sqlx::query_scalar(
        "SELECT outcome::text FROM audit_logs WHERE action = 'MFA_DISABLED' ORDER BY seq",
    )
    .fetch_all(&mut admin)
    .await
    .unwrap();
    assert_eq!(outcomes, ["denied", "success"]);
    assert!(matches!(
        auth::login(&svc, &client(), "billing@healthystellar.com", PASSWORD)
            .await
            .unwrap(),
        LoginStep::NeedsEnrollment(_)
    ));
}

#[tokio::test]
async fn a_sixth_session_ends_the_oldest_and_expired_sessions_are_cleaned_up() {
    let (tdb, svc) = TestDb::seeded().await;
    let mut all = Vec::new();
    for _ in 0..6 {
        let LoginStep::LoggedIn(s) = auth::login(&svc, &client(), "patient1@example.com", PASSWORD)
            .await
            .unwrap()
        else {
            panic!()
        };
        all.push(s);
    }
    let states: Vec<SessionState> = futures_states(&svc, &all).await;
    assert_eq!(
        states[0],
        SessionState::Revoked {
            reason: "session limit".into()
        }
    );
    assert!(states[1..].iter().all(|s| *s == SessionState::Active));
    assert!(
        tdb.audit_actions()
            .await
            .contains(&"SESSION_REVOKED".to_string())
    );

    let mut admin = tdb.admin().await;
    sqlx::query("UPDATE sessions SET expires_at = now() - interval '1 minute' WHERE id = $1")
        .bind(all[1].id)
        .execute(&mut admin)
        .await
        .unwrap();
    assert_eq!(
        sessions::state(&svc, &client(), &all[1]).await.unwrap(),
        SessionState::Expired
    );
    sqlx::query("UPDATE sessions SET expires_at = now() - interval '1 minute' WHERE id = ANY($1)")
        .bind(vec![all[2].id, all[3].id])
        .execute(&mut admin)
        .await
        .unwrap();
    let home = Home::new();
    let mut c = home.hsc(&["sessions", "cleanup"]);
    c.env("DATABASE_URL", tdb.url())
        .env("ENCRYPTION_KEY", TEST_ENCRYPTION_KEY);
    assert_eq!(run(c).success().stdout.trim(), "ended 2 expired session(s)");
    let expired = tdb
        .audit_actions()
        .await
        .iter()
        .filter(|a| *a == "SESSION_EXPIRED")
        .count();
    assert_eq!(expired, 3);
}

async fn futures_states(svc: &Services, sessions: &[Session]) -> Vec<SessionState> {
    let mut out = Vec::new();
    for s in sessions {
        out.push(sessions::state(svc, &client(), s).await.unwrap());
    }
    out
}

#[tokio::test]
async fn idle_lock_and_unlock_are_audited() {
    let (tdb, svc) = TestDb::seeded().await;
    let LoginStep::LoggedIn(s) = auth::login(&svc, &client(), "patient1@example.com", PASSWORD)
        .await
        .unwrap()
    else {
        panic!()
    };
    sessions::lock(&svc, &client(), &s).await.unwrap();
    assert!(
        !sessions::unlock(&svc, &client(), &s, "wrong")
            .await
            .unwrap()
    );
    assert!(
        sessions::unlock(&svc, &client(), &s, PASSWORD)
            .await
            .unwrap()
    );
    let actions = tdb.audit_actions().await;
    assert_eq!(
        &actions[actions.len() - 3..],
        ["SESSION_LOCKED", "LOGIN_FAILED", "SESSION_UNLOCKED"]
    );
}

#[tokio::test]
async fn user_create_enforces_the_password_rules_and_is_audited() {
    let (tdb, _svc) = TestDb::seeded().await;
    let home = Home::new();
    let create = |password: &str, email: &str| {
        let mut c = home.hsc(&[
            "user",
            "create",
            "--email",
            email,
            "--role",
            "nurse",
            "--first",
            "Nia",
            "--last",
            "Okafor",
            "--password-stdin",
        ]);
        c.env("DATABASE_URL", tdb.url())
            .env("ENCRYPTION_KEY", TEST_ENCRYPTION_KEY)
            .stdin(std::process::Stdio::piped());
        let mut child = c
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{password}\n").as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, _, err) = create("Test123!@#", "nia@healthystellar.com");
    assert_eq!(
        (code, err.trim()),
        (
            Some(1),
            "hsc: the password must be at least 12 characters long"
        )
    );
    let (code, _, err) = create("password1234", "nia@healthystellar.com");
    assert_eq!(
        (code, err.trim()),
        (
            Some(1),
            "hsc: the password is on the list of commonly used passwords; choose another"
        )
    );
    let (code, out, err) = create("violet kettle ninety", "nia@healthystellar.com");
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out.trim(), "created nia@healthystellar.com (nurse)");
    let (code, _, err) = create("violet kettle ninety", "NIA@healthystellar.com");
    assert_eq!(
        (code, err.trim()),
        (
            Some(1),
            "hsc: a user with email NIA@healthystellar.com already exists"
        )
    );
    let (code, _, err) = create("violet kettle ninety", "not-an-email");
    assert_eq!(code, Some(1), "{err}");
    assert!(
        tdb.audit_actions()
            .await
            .contains(&"USER_CREATED".to_string())
    );
    let mut c = home.hsc(&[
        "user", "create", "--email", "x@y.z", "--role", "doctor", "--first", "A", "--last", "B",
    ]);
    c.env("DATABASE_URL", tdb.url());
    assert_eq!(run(c).code, Some(2), "an unknown role is a usage error");
    let mut c = home.hsc(&["user", "reset-mfa", "nobody@example.com"]);
    c.env("DATABASE_URL", tdb.url())
        .env("ENCRYPTION_KEY", TEST_ENCRYPTION_KEY);
    assert_eq!(
        run(c).one_sentence_failure(),
        "hsc: no user has the email nobody@example.com"
    );
}

#[tokio::test]
async fn reset_mfa_removes_every_device_and_the_next_login_enrolls_again() {
    let (tdb, svc) = TestDb::seeded().await;
    enroll(&svc, "nurse.williams@healthystellar.com").await;
    let home = Home::new();
    let mut c = home.hsc(&["user", "reset-mfa", "Nurse.Williams@healthystellar.com"]);
    c.env("DATABASE_URL", tdb.url())
        .env("ENCRYPTION_KEY", TEST_ENCRYPTION_KEY);
    assert!(
        run(c)
            .success()
            .stdout
            .starts_with("removed 1 MFA device(s)")
    );
    let mut admin = tdb.admin().await;
    let (devices, codes, enabled): (i64, i64, bool) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM mfa_devices), (SELECT count(*) FROM mfa_backup_codes), mfa_enabled \
         FROM users WHERE email = 'nurse.williams@healthystellar.com'",
    )
    .fetch_one(&mut admin)
    .await
    .unwrap();
    assert_eq!((devices, codes, enabled), (0, 0, false));
    assert_eq!(
        tdb.audit_actions().await.last().map(String::as_str),
        Some("MFA_DISABLED")
    );
    assert!(matches!(
        auth::login(
            &svc,
            &client(),
            "nurse.williams@healthystellar.com",
            PASSWORD
        )
        .await
        .unwrap(),
        LoginStep::NeedsEnrollment(_)
    ));
}

#[tokio::test]
async fn adding_a_device_needs_the_password_and_a_current_code_once_one_exists() {
    let (tdb, svc) = TestDb::seeded().await;
    let LoginStep::LoggedIn(session) =
        auth::login(&svc, &client(), "patient1@example.com", PASSWORD)
            .await
            .unwrap()
    else {
        panic!()
    };
    let first = Enrollment::new("patient1@example.com", "Phone").unwrap();
    let at = now();
    let err = mfa::add_device(
        &svc,
        &client(),
        &session,
        &first,
        &first.code_at(at).unwrap(),
        "wrong",
        None,
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("no device was added"), "{err}");
    let codes = mfa::add_device(
        &svc,
        &client(),
        &session,
        &first,
        &first.code_at(at).unwrap(),
        PASSWORD,
        None,
    )
    .await
    .unwrap()
    .expect("the first device brings backup codes");
    assert_eq!(codes.0.len(), 10);

    let second = Enrollment::new("patient1@example.com", "Tablet").unwrap();
    let code2 = second.code_at(at).unwrap();
    let err = mfa::add_device(&svc, &client(), &session, &second, &code2, PASSWORD, None)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("current code"), "{err}");
    let err = mfa::add_device(
        &svc,
        &client(),
        &session,
        &second,
        &code2,
        PASSWORD,
        Some("000000"),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("no device was added"), "{err}");
    let more = mfa::add_device(
        &svc,
        &client(),
        &session,
        &second,
        &code2,
        PASSWORD,
        Some(&codes.0[0]),
    )
    .await
    .unwrap();
    assert!(
        more.is_none(),
        "backup codes are made once, with the first device"
    );
    let (devices, left) = mfa::devices(&svc, &session).await.unwrap();
    assert_eq!((devices.len(), left), (2, 9));
    let actions = tdb.audit_actions().await;
    assert!(
        actions.contains(&"BACKUP_CODE_USED".to_string()),
        "{actions:?}"
    );

    // A session ended elsewhere can do nothing more.
    let mut admin = tdb.admin().await;
    sqlx::query("UPDATE sessions SET is_active = false, revoked_at = now(), revoked_reason = 'test' WHERE id = $1")
        .bind(session.id)
        .execute(&mut admin)
        .await
        .unwrap();
    assert!(matches!(
        mfa::devices(&svc, &session).await,
        Err(hsc::services::ServiceError::SessionEnded)
    ));
    let before = tdb.audit_actions().await.len();
    sessions::end(&svc, &client(), &session, "logout")
        .await
        .unwrap();
    assert_eq!(
        tdb.audit_actions().await.len(),
        before,
        "no LOGOUT row for a session already ended"
    );
}
