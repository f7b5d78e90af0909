//! Logging in against real PostgreSQL: lockout before password, uniform refusals, TOTP with a replay
//! guard, backup codes, enrollment, sessions — each with its audit row.

use hsc::services::audit::Client;
use hsc::services::auth::{self, AuthError, LoginStep, PendingLogin};
use hsc::services::mfa::Enrollment;
use hsc::services::sessions::{self, Session, SessionState};
use hsc::services::{Services, passwords};

use crate::harness::{Home, TEST_ENCRYPTION_KEY, TestDb, run};

pub(crate) const PASSWORD: &str = "Test123!@#";

pub(crate) fn client() -> Client {
    Client::new(Some("198.51.100.7 50000 10.0.0.1 22"), "xterm-256color")
}

pub(crate) fn now() -> u64 {
    chrono::Utc::now().timestamp() as u64
}

/// Enrolls at time `at` (returned), so tests can name the step the enrollment used.
pub(crate) async fn enroll(svc: &Services, email: &str) -> (Session, Enrollment, Vec<String>, u64) {
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

pub(crate) async fn pending(svc: &Services, email: &str) -> PendingLogin {
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
