//! Logging in against real PostgreSQL: lockout before password, uniform refusals, TOTP with a replay
//! guard, backup codes, enrollment, sessions — each with its audit row.

use hsc::services::audit::Client;
use hsc::services::auth::{self, AuthError, LoginStep, PendingLogin};
use hsc::services::mfa::{self, Enrollment};
use hsc::services::sessions::{self, Session, SessionState};
use hsc::services::{Services, passwords};

use crate::harness::{Home, TEST_ENCRYPTION_KEY, TestDb, run};

const PASSWORD: &str = "Test123!@#";

fn client() -> Client {
    Client::new(Some("198.51.100.7 50000 10.0.0.1 22"), "xterm-256color")
}

fn now() -> u64 {
    chrono::Utc::now().timestamp() as u64
}

/// Enrolls at time `at` (returned), so tests can name the step the enrollment used.
async fn enroll(svc: &Services, email: &str) -> (Session, Enrollment, Vec<String>, u64) {
    let pending = match auth::login(svc, &client(), email, PASSWORD).await.unwrap() {
        LoginStep::NeedsEnrollment(p) => p,
        other => panic!("expected enrollment, got {other:?}"),
    };
    let enrollment = Enrollment::new(email, "Phone").unwrap();
    let at = now();
    let code = enrollment.code_at(at).unwrap();
    let (session, codes) = auth::complete_enrollment(svc, &client(), &pending, &enrollment, &code)
        .await
        .unwrap();
    (
        session,
        enrollment,
        codes.0.iter().map(|c| c.to_string()).collect(),
        at,
    )
}

async fn pending(svc: &Services, email: &str) -> PendingLogin {
    match auth::login(svc, &client(), email, PASSWORD).await.unwrap() {
        LoginStep::NeedsCode(p) => p,
        other => panic!("expected a code prompt, got {other:?}"),
    }
}

#[tokio::test]
async fn a_patient_logs_in_with_a_password_and_the_session_is_recorded() {
    let (tdb, svc) = TestDb::seeded().await;
    let LoginStep::LoggedIn(session) =
        auth::login(&svc, &client(), " Patient1@Example.com ", PASSWORD)
            .await
            .unwrap()
    else {
        panic!("patients need no second factor by default");
    };
    assert_eq!(session.user.email, "patient1@example.com");
    let mut admin = tdb.admin().await;
    let (ip, ua, hash_len): (String, String, i32) = sqlx::query_as(
        "SELECT ip_address, user_agent, length(token_hash) FROM sessions WHERE id = $1",
    )
    .bind(session.id)
    .fetch_one(&mut admin)
    .await
    .unwrap();
    assert_eq!((ip.as_str(), hash_len), ("198.51.100.7", 32));
    assert!(
        ua.starts_with("hsc/") && ua.ends_with("(xterm-256color; ssh)"),
        "{ua}"
    );
    let (action, audit_ip, session_id): (String, String, Option<uuid::Uuid>) = sqlx::query_as(
        "SELECT action, ip_address, session_id FROM audit_logs ORDER BY seq DESC LIMIT 1",
    )
    .fetch_one(&mut admin)
    .await
    .unwrap();
    assert_eq!(
        (action.as_str(), audit_ip.as_str(), session_id),
        ("LOGIN", "198.51.100.7", Some(session.id))
    );
    assert_eq!(
        sessions::state(&svc, &client(), &session).await.unwrap(),
        SessionState::Active
    );
    sessions::end(&svc, &client(), &session, "logout")
        .await
        .unwrap();
    assert!(matches!(
        sessions::state(&svc, &client(), &session).await.unwrap(),
        SessionState::Revoked { .. }
    ));
    assert_eq!(
        tdb.audit_actions().await.last().map(String::as_str),
        Some("LOGOUT")
    );
}

#[tokio::test]
async fn unknown_email_wrong_password_and_inactive_accounts_get_the_same_answer() {
    let (tdb, svc) = TestDb::seeded().await;
    let mut admin = tdb.admin().await;
    sqlx::query("UPDATE users SET is_active = false WHERE email = 'patient3@example.com'")
        .execute(&mut admin)
        .await
        .unwrap();
    let attempts = [
        ("nobody@example.com", PASSWORD),
        ("patient2@example.com", "wrong password"),
        ("patient3@example.com", PASSWORD),
        ("", ""),
        ("patient2@example.com", &"x".repeat(10_000)),
    ];
    for (email, password) in attempts {
        let err = auth::login(&svc, &client(), email, password)
            .await
            .unwrap_err();
        assert!(matches!(err, AuthError::Refused), "{email}: {err:?}");
        assert_eq!(err.to_string(), auth::REFUSED);
    }
    let failed: Vec<(Option<uuid::Uuid>, serde_json::Value)> = sqlx::query_as(
        "SELECT user_id, details FROM audit_logs WHERE action = 'LOGIN_FAILED' ORDER BY seq",
    )
    .fetch_all(&mut admin)
    .await
    .unwrap();
    assert_eq!(failed.len(), attempts.len(), "every attempt is audited");
    assert_eq!(failed[0].0, None);
    assert_eq!(failed[2].1["reason"], "inactive");
}

#[tokio::test]
async fn five_failures_lock_the_account_even_against_the_right_password_until_unlocked() {
    let (tdb, svc) = TestDb::seeded().await;
    for _ in 0..5 {
        assert!(matches!(
            auth::login(&svc, &client(), "patient2@example.com", "guess").await,
            Err(AuthError::Refused)
        ));
    }
    let err = auth::login(&svc, &client(), "patient2@example.com", PASSWORD)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        auth::REFUSED,
        "a locked account does not reveal that the password was right"
    );
    let actions = tdb.audit_actions().await;
    assert_eq!(
        actions.iter().filter(|a| *a == "ACCOUNT_LOCKED").count(),
        1,
        "{actions:?}"
    );
    let mut admin = tdb.admin().await;
    let minutes: f64 = sqlx::query_scalar(
        "SELECT (extract(epoch FROM locked_until - now()) / 60)::float8 FROM users WHERE email = 'patient2@example.com'",
    )
    .fetch_one(&mut admin)
    .await
    .unwrap();
    assert!((29.0..=30.0).contains(&minutes), "{minutes}");

    let home = Home::new();
    let mut c = home.hsc(&["user", "unlock", "patient2@example.com"]);
    c.env("DATABASE_URL", tdb.url())
        .env("ENCRYPTION_KEY", TEST_ENCRYPTION_KEY);
    run(c).success();
    assert!(matches!(
        auth::login(&svc, &client(), "patient2@example.com", PASSWORD)
            .await
            .unwrap(),
        LoginStep::LoggedIn(_)
    ));
    assert!(
        tdb.audit_actions()
            .await
            .contains(&"ACCOUNT_UNLOCKED".to_string())
    );
}

#[tokio::test]
async fn a_hash_with_old_parameters_still_verifies_and_is_rehashed() {
    let (tdb, svc) = TestDb::seeded().await;
    use argon2::password_hash::PasswordHasher;
    let legacy = argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        argon2::Params::new(65_536, 3, 4, None).unwrap(),
    )
    .hash_password(PASSWORD.as_bytes())
    .unwrap()
    .to_string();
    let mut admin = tdb.admin().await;
    sqlx::query("UPDATE users SET password_hash = $1 WHERE email = 'patient1@example.com'")
        .bind(&legacy)
        .execute(&mut admin)
        .await
        .unwrap();
    assert!(matches!(
        auth::login(&svc, &client(), "patient1@example.com", PASSWORD)
            .await
            .unwrap(),
        LoginStep::LoggedIn(_)
    ));
    let now: String =
        sqlx::query_scalar("SELECT password_hash FROM users WHERE email = 'patient1@example.com'")
            .fetch_one(&mut admin)
            .await
            .unwrap();
    assert!(
        now.starts_with("$argon2id$v=19$m=19456,t=2,p=1$") && passwords::verify(PASSWORD, &now),
        "{now}"
    );
}

#[tokio::test]
async fn clinicians_enroll_first_then_need_a_fresh_code_or_a_backup_code() {
    let (tdb, svc) = TestDb::seeded().await;
    let (first, enrollment, backup, at) = enroll(&svc, "dr.smith@healthystellar.com").await;
    assert_eq!(backup.len(), 10);
    let mut admin = tdb.admin().await;
    let (enabled, secret): (bool, Vec<u8>) = sqlx::query_as(
        "SELECT u.mfa_enabled, d.secret_ciphertext FROM users u JOIN mfa_devices d ON d.user_id = u.id WHERE u.id = $1",
    )
    .bind(first.user.id)
    .fetch_one(&mut admin)
    .await
    .unwrap();
    assert!(enabled);
    let plain = enrollment.secret_text().replace(' ', "");
    assert!(
        !String::from_utf8_lossy(&secret).contains(&plain),
        "the secret is stored encrypted"
    );
    let stored_codes: Vec<String> = sqlx::query_scalar("SELECT code_hash FROM mfa_backup_codes")
        .fetch_all(&mut admin)
        .await
        .unwrap();
    assert!(
        backup
            .iter()
            .all(|c| !stored_codes.iter().any(|h| h.contains(&c.replace('-', "")))),
        "codes are stored hashed"
    );

    // The step used for enrollment cannot be used again.
    let p = pending(&svc, "dr.smith@healthystellar.com").await;
    let replay = enrollment.code_at(at).unwrap();
    assert!(matches!(
        auth::submit_code(&svc, &client(), &p, &replay).await,
        Err(AuthError::WrongCode)
    ));
    let next = enrollment.code_at(at + 30).unwrap();
    let second = auth::submit_code(&svc, &client(), &p, &next).await.unwrap();
    assert_ne!(second.id, first.id);
    assert!(
        matches!(
            auth::submit_code(&svc, &client(), &p, &next).await,
            Err(AuthError::WrongCode)
        ),
        "replayed"
    );

    let code = backup[3].to_lowercase();
    auth::submit_code(&svc, &client(), &p, &code).await.unwrap();
    assert!(
        matches!(
            auth::submit_code(&svc, &client(), &p, &code).await,
            Err(AuthError::WrongCode)
        ),
        "single use"
    );
    let actions = tdb.audit_actions().await;
    for expected in ["MFA_ENABLED", "LOGIN", "BACKUP_CODE_USED", "LOGIN_FAILED"] {
        assert!(
            actions.contains(&expected.to_string()),
            "{expected} missing from {actions:?}"
        );
    }
    let reasons: Vec<serde_json::Value> = sqlx::query_scalar(
        "SELECT details->'reason' FROM audit_logs WHERE action = 'LOGIN_FAILED' ORDER BY seq",
    )
    .fetch_all(&mut admin)
    .await
    .unwrap();
    assert_eq!(
        reasons,
        vec![
            serde_json::json!("replayed code"),
            serde_json::json!("replayed code"),
            serde_json::json!("wrong code")
        ]
    );
}

#[tokio::test]
async fn wrong_codes_count_toward_the_lockout() {
    let (tdb, svc) = TestDb::seeded().await;
    enroll(&svc, "nurse.brown@healthystellar.com").await;
    let p = pending(&svc, "nurse.brown@healthystellar.com").await;
    for _ in 0..4 {
        assert!(matches!(
            auth::submit_code(&svc, &client(), &p, "000000").await,
            Err(AuthError::WrongCode)
        ));
    }
    // The fifth wrong code locks; then even the password is refused.
    assert!(matches!(
        auth::submit_code(&svc, &client(), &p, "12").await,
        Err(AuthError::WrongCode)
    ));
    assert!(matches!(
        auth::submit_code(&svc, &client(), &p, "000000").await,
        Err(AuthError::Refused)
    ));
    assert!(matches!(
        auth::login(&svc, &client(), "nurse.brown@healthystellar.com", PASSWORD).await,
        Err(AuthError::Refused)
    ));
    assert!(
        tdb.audit_actions()
            .await
            .contains(&"ACCOUNT_LOCKED".to_string())
    );
}

#[tokio::test]
async fn a_wrong_enrollment_code_stores_nothing() {
    let (tdb, svc) = TestDb::seeded().await;
    let LoginStep::NeedsEnrollment(p) =
        auth::login(&svc, &client(), "records@healthystellar.com", PASSWORD)
            .await
            .unwrap()
    else {
        panic!("medical records staff must enroll");
    };
    let e = Enrollment::new("records@healthystellar.com", "Phone").unwrap();
    assert!(matches!(
        auth::complete_enrollment(&svc, &client(), &p, &e, "123456").await,
        Err(AuthError::WrongCode)
    ));
    let mut admin = tdb.admin().await;
    let devices: i64 = sqlx::query_scalar("SELECT count(*) FROM mfa_devices")
        .fetch_one(&mut admin)
        .await
        .unwrap();
    let codes: i64 = sqlx::query_scalar("SELECT count(*) FROM mfa_backup_codes")
        .fetch_one(&mut admin)
        .await
        .unwrap();
    assert_eq!((devices, codes), (0, 0));
}

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
