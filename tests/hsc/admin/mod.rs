//! Administration (tab 4) against real PostgreSQL: every admin action with its audit row, refused
//! and audited for other roles, and held by the database itself (migration 0015) when SQL is typed
//! under the application role (`rules`); the forced password change after a reset.

use hsc::services::admin::{self, NewAccount, SessionFilter, UserFilter};
use hsc::services::auth::{self, AuthError, LoginStep};
use hsc::services::sessions::{self, Session, SessionState};
use hsc::services::users::Role;
use hsc::services::{ServiceError, Services};
use serde_json::Value;
use uuid::Uuid;

use crate::auth::{PASSWORD, enroll};
use crate::harness::TestDb;
use crate::records::{client, login, seeded, user_id};

mod rules;

pub(super) const ADMIN: &str = "admin@healthystellar.com";

/// A sign-in with `password` that must succeed without a second factor.
pub(super) async fn sign_in(svc: &Services, email: &str, password: &str) -> Session {
    match auth::login(svc, &crate::auth::client(), email, password).await {
        Ok(LoginStep::LoggedIn(s)) => s,
        other => panic!("{email} did not sign in: {other:?}"),
    }
}

pub(super) async fn refused_sign_in(svc: &Services, email: &str, password: &str) -> bool {
    matches!(
        auth::login(svc, &client(), email, password).await,
        Err(AuthError::Refused)
    )
}

/// The audit rows of `action` about `resource`: (user_id, outcome, details), oldest first.
pub(super) async fn audit_about(
    tdb: &TestDb,
    action: &str,
    resource: Uuid,
) -> Vec<(Option<Uuid>, String, Value)> {
    sqlx::query_as(
        "SELECT user_id, outcome, details FROM audit_logs WHERE action = $1 AND resource_id = $2 ORDER BY seq",
    )
    .bind(action)
    .bind(resource)
    .fetch_all(&mut tdb.admin().await)
    .await
    .unwrap()
}

pub(super) async fn count_action(tdb: &TestDb, action: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM audit_logs WHERE action = $1")
        .bind(action)
        .fetch_one(&mut tdb.admin().await)
        .await
        .unwrap()
}

pub(super) async fn id_of(tdb: &TestDb, email: &str) -> Uuid {
    user_id(&mut tdb.admin().await, email).await
}

pub(super) fn invalid(e: ServiceError) -> String {
    match e {
        ServiceError::Invalid(s) => s,
        other => panic!("expected a sentence, got {other:?}"),
    }
}
#[tokio::test]
async fn a_created_user_signs_in_with_the_temporary_password_and_must_change_it() {
    let (tdb, svc) = seeded().await;
    let admin = login(&svc, ADMIN).await;
    let new = NewAccount {
        email: " Nia.Okafor@healthystellar.com ".into(),
        first_name: "Nia".into(),
        last_name: "Okafor".into(),
        role: Role::Nurse,
    };
    let (id, temporary) = admin::create_user(&svc, &client(), &admin, &new)
        .await
        .unwrap();
    let rows = audit_about(&tdb, "USER_CREATED", id).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].0, Some(admin.user.id));
    assert_eq!(rows[0].2["role"], "nurse");
    assert!(!rows[0].2.to_string().contains(temporary.0.as_str()));
    let taken = admin::create_user(&svc, &client(), &admin, &new).await;
    assert!(invalid(taken.unwrap_err()).contains("already exists"));
    let bad = NewAccount {
        email: "nobody".into(),
        ..new
    };
    assert!(
        invalid(
            admin::create_user(&svc, &client(), &admin, &bad)
                .await
                .unwrap_err()
        )
        .contains("is not an email address")
    );

    let email = "nia.okafor@healthystellar.com";
    let first = sign_in(&svc, email, &temporary.0).await;
    assert!(first.password_change_required);
    let second = sign_in(&svc, email, &temporary.0).await;
    let current = temporary.0.as_str();
    let change = |old: &str, new: &str| {
        let (svc, second, old, new) = (&svc, &second, old.to_string(), new.to_string());
        async move { auth::change_password(svc, &client(), second, &old, &new).await }
    };
    let wrong = invalid(change("not it", "violet kettle ninety").await.unwrap_err());
    assert_eq!(wrong, "The current password is not right.");
    let failed: Vec<String> = sqlx::query_scalar(
        "SELECT outcome FROM audit_logs WHERE action = 'PASSWORD_CHANGE' AND user_id = $1",
    )
    .bind(id)
    .fetch_all(&mut tdb.admin().await)
    .await
    .unwrap();
    assert_eq!(failed, ["failed"]);
    assert!(invalid(change(current, "short").await.unwrap_err()).contains("at least 12"));
    assert!(invalid(change(current, current).await.unwrap_err()).contains("must differ"));
    change(current, "violet kettle ninety").await.unwrap();
    assert_eq!(
        sessions::state(&svc, &client(), &first).await.unwrap(),
        SessionState::Revoked {
            reason: "password changed".into()
        }
    );
    assert_eq!(
        sessions::state(&svc, &client(), &second).await.unwrap(),
        SessionState::Active
    );
    assert!(refused_sign_in(&svc, email, current).await);
    let again = sign_in(&svc, email, "violet kettle ninety").await;
    assert!(!again.password_change_required);
    let done = audit_about(&tdb, "PASSWORD_CHANGE", id).await;
    assert_eq!(done.len(), 1);
    assert_eq!(
        (
            done[0].2["required"].clone(),
            done[0].2["sessions_ended"].clone()
        ),
        (true.into(), 1.into())
    );
}
#[tokio::test]
async fn deactivation_ends_the_sessions_at_once_and_reactivation_lets_the_user_back() {
    let (tdb, svc) = seeded().await;
    let admin = login(&svc, ADMIN).await;
    let email = "nurse.williams@healthystellar.com";
    let nurse = id_of(&tdb, email).await;
    let (a, b) = (login(&svc, email).await, login(&svc, email).await);
    assert_eq!(
        admin::set_active(&svc, &client(), &admin, nurse, false)
            .await
            .unwrap(),
        2
    );
    for s in [&a, &b] {
        // The console's 30-second check says so, and every call is refused before that.
        assert_eq!(
            sessions::state(&svc, &client(), s).await.unwrap(),
            SessionState::Revoked {
                reason: "user deactivated".into()
            }
        );
        assert!(matches!(
            sessions::touch(&svc, s).await,
            Err(ServiceError::SessionEnded)
        ));
    }
    assert!(refused_sign_in(&svc, email, PASSWORD).await);
    let updated = audit_about(&tdb, "USER_UPDATED", nurse).await;
    assert_eq!(updated.len(), 1);
    assert_eq!(updated[0].0, Some(admin.user.id));
    assert_eq!(updated[0].2["change"], "deactivated");
    let revoked: Vec<Value> = sqlx::query_scalar(
        "SELECT details FROM audit_logs WHERE action = 'SESSION_REVOKED' AND resource_id = ANY($1)",
    )
    .bind(vec![a.id, b.id])
    .fetch_all(&mut tdb.admin().await)
    .await
    .unwrap();
    assert_eq!(revoked.len(), 2);
    assert!(revoked.iter().all(|d| d["user"] == nurse.to_string()));
    let again = admin::set_active(&svc, &client(), &admin, nurse, false).await;
    assert!(invalid(again.unwrap_err()).contains("already inactive"));
    let listed = admin::users(
        &svc,
        &client(),
        &admin,
        &UserFilter::parse("state:inactive").unwrap(),
        None,
    )
    .await
    .unwrap()
    .0;
    assert_eq!(listed.iter().map(|u| u.id).collect::<Vec<_>>(), [nurse]);

    assert_eq!(
        admin::set_active(&svc, &client(), &admin, nurse, true)
            .await
            .unwrap(),
        0
    );
    login(&svc, email).await;
    assert_eq!(
        audit_about(&tdb, "USER_UPDATED", nurse).await[1].2["change"],
        "reactivated"
    );
}
#[tokio::test]
async fn roles_change_passwords_reset_lockouts_lift_and_mfa_resets() {
    let (tdb, svc) = seeded().await;
    let admin = login(&svc, ADMIN).await;
    let c = client();

    // Role: the user's sessions end so the console starts again with the new role's screens.
    let brown = id_of(&tdb, "nurse.brown@healthystellar.com").await;
    let held = login(&svc, "nurse.brown@healthystellar.com").await;
    admin::change_role(&svc, &c, &admin, brown, Role::Physician)
        .await
        .unwrap();
    assert!(matches!(
        sessions::state(&svc, &c, &held).await.unwrap(),
        SessionState::Revoked { .. }
    ));
    assert_eq!(
        login(&svc, "nurse.brown@healthystellar.com")
            .await
            .user
            .role,
        Role::Physician
    );
    let row = &audit_about(&tdb, "USER_UPDATED", brown).await[0].2;
    assert_eq!(
        (row["from"].as_str(), row["to"].as_str()),
        (Some("nurse"), Some("physician"))
    );
    let same = admin::change_role(&svc, &c, &admin, brown, Role::Physician).await;
    assert!(invalid(same.unwrap_err()).contains("already has the role"));
    let alice = id_of(&tdb, "patient1@example.com").await;
    let staff = admin::change_role(&svc, &c, &admin, alice, Role::Nurse).await;
    assert!(invalid(staff.unwrap_err()).contains("patient's account cannot become"));

    // Password reset: the old password stops working, sessions end, the new one must be changed.
    let email = "dr.johnson@healthystellar.com";
    let johnson = id_of(&tdb, email).await;
    let held = login(&svc, email).await;
    let temporary = admin::reset_password(&svc, &c, &admin, johnson)
        .await
        .unwrap();
    assert!(refused_sign_in(&svc, email, PASSWORD).await);
    assert_eq!(
        sessions::state(&svc, &c, &held).await.unwrap(),
        SessionState::Revoked {
            reason: "password reset".into()
        }
    );
    let fresh = sign_in(&svc, email, &temporary.0).await;
    assert!(fresh.password_change_required);
    auth::change_password(&svc, &c, &fresh, &temporary.0, "amber lantern harbour")
        .await
        .unwrap();
    assert!(
        !sign_in(&svc, email, "amber lantern harbour")
            .await
            .password_change_required
    );
    let reset = audit_about(&tdb, "PASSWORD_CHANGE", johnson).await;
    assert_eq!(
        (reset[0].0, reset[0].2["by"].as_str()),
        (Some(admin.user.id), Some("admin"))
    );

    // Unlock: five wrong passwords lock the account; the right one is refused until the unlock.
    let email = "patient2@example.com";
    let bob = id_of(&tdb, email).await;
    for _ in 0..5 {
        assert!(refused_sign_in(&svc, email, "wrong password").await);
    }
    assert!(refused_sign_in(&svc, email, PASSWORD).await);
    let locked = admin::users(
        &svc,
        &c,
        &admin,
        &UserFilter::parse("state:locked").unwrap(),
        None,
    )
    .await
    .unwrap()
    .0;
    assert_eq!(locked.iter().map(|u| u.id).collect::<Vec<_>>(), [bob]);
    admin::unlock(&svc, &c, &admin, bob).await.unwrap();
    login(&svc, email).await;
    assert_eq!(
        audit_about(&tdb, "ACCOUNT_UNLOCKED", bob).await[0].2["was_locked"],
        true
    );

    // MFA reset: the devices and backup codes go; a role that needs MFA enrolls again.
    let strict = tdb.services().await;
    let email = "billing@healthystellar.com";
    let billing = id_of(&tdb, email).await;
    enroll(&strict, email).await;
    assert_eq!(
        admin::reset_mfa(&svc, &c, &admin, billing).await.unwrap(),
        1
    );
    let (devices, codes, flag): (i64, i64, bool) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM mfa_devices WHERE user_id = $1), \
                (SELECT count(*) FROM mfa_backup_codes WHERE user_id = $1), \
                (SELECT mfa_enabled FROM users WHERE id = $1)",
    )
    .bind(billing)
    .fetch_one(&mut tdb.admin().await)
    .await
    .unwrap();
    assert_eq!((devices, codes, flag), (0, 0, false));
    assert!(matches!(
        auth::login(&strict, &c, email, PASSWORD).await.unwrap(),
        LoginStep::NeedsEnrollment(_)
    ));
    let row = &audit_about(&tdb, "MFA_DISABLED", billing).await[0];
    assert_eq!(
        (row.0, row.2["devices_removed"].as_i64()),
        (Some(admin.user.id), Some(1))
    );
}
#[tokio::test]
async fn the_user_list_filters_and_pages_newest_first() {
    let (tdb, svc) = seeded().await;
    let admin = login(&svc, ADMIN).await;
    sqlx::query(
        "INSERT INTO users (email, password_hash, first_name, last_name, role, is_active, created_at) \
         SELECT 'zeta' || i || '@example.com', 'x', 'Zeta', 'Person' || i, 'patient', i % 10 <> 0, \
                now() + i * interval '1 second' \
         FROM generate_series(1, 60) i",
    )
    .execute(&mut tdb.admin().await)
    .await
    .unwrap();
    let list = |text: &str, after| {
        let filter = UserFilter::parse(text).unwrap();
        let (svc, admin) = (&svc, &admin);
        async move {
            admin::users(svc, &client(), admin, &filter, after)
                .await
                .unwrap()
        }
    };
    let (first, next) = list("", None).await;
    assert_eq!(first.len(), admin::PAGE_SIZE);
    assert_eq!(first[0].email, "zeta60@example.com");
    let (rest, end) = list("", next).await;
    assert_eq!((rest.len(), end), (20, None));
    let mut all: Vec<Uuid> = first.iter().chain(&rest).map(|u| u.id).collect();
    assert!(
        first
            .iter()
            .chain(&rest)
            .zip(first.iter().chain(&rest).skip(1))
            .all(|(a, b)| (a.created_at, a.id) > (b.created_at, b.id))
    );
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 70);

    assert_eq!(
        list("ZETA person1", None).await.0.len(),
        11,
        "person1, person10..19"
    );
    assert_eq!(list("zeta state:inactive", None).await.0.len(), 6);
    assert_eq!(list("role:patient", None).await.0.len(), 50);
    let staff = list("role:physician", None).await.0;
    assert_eq!(staff.len(), 2);
    assert!(
        staff
            .iter()
            .all(|u| u.role == Role::Physician && u.is_active)
    );
    let smith = list("smith", None).await.0;
    assert_eq!(smith[0].email, "dr.smith@healthystellar.com");
    assert_eq!(list("admin", None).await.0[0].active_sessions, 1);
    assert_eq!(count_action(&tdb, "USER_LIST").await, 8);
}

#[tokio::test]
async fn the_session_list_shows_sources_and_sessions_end_one_or_all() {
    let (tdb, svc) = seeded().await;
    let admin = login(&svc, ADMIN).await;
    let c = client();
    let email = "dr.smith@healthystellar.com";
    let smith = id_of(&tdb, email).await;
    let remote = sign_in(&svc, email, PASSWORD).await;
    let local = login(&svc, email).await;
    let all = admin::sessions(&svc, &c, &admin, &SessionFilter::default(), None)
        .await
        .unwrap()
        .0;
    assert_eq!(all.len(), 3);
    let shown = all.iter().find(|s| s.id == remote.id).unwrap();
    assert_eq!(
        (shown.source.as_str(), shown.user_name.as_str()),
        ("198.51.100.7", "John Smith")
    );
    assert_eq!((shown.user_id, shown.role), (smith, Role::Physician));
    assert_eq!(
        all.iter().find(|s| s.id == local.id).unwrap().source,
        "local"
    );
    let by_source = SessionFilter::parse("198.51.100").unwrap();
    let found = admin::sessions(&svc, &c, &admin, &by_source, None)
        .await
        .unwrap()
        .0;
    assert_eq!(found.iter().map(|s| s.id).collect::<Vec<_>>(), [remote.id]);
    let of_smith = admin::sessions(&svc, &c, &admin, &SessionFilter::of_user(smith), None)
        .await
        .unwrap()
        .0;
    assert_eq!(of_smith.len(), 2);
    let by_email = SessionFilter::parse(&format!("user:{email}")).unwrap();
    assert_eq!(
        admin::sessions(&svc, &c, &admin, &by_email, None)
            .await
            .unwrap()
            .0
            .len(),
        2
    );
    assert_eq!(count_action(&tdb, "SESSION_LIST").await, 4);

    admin::end_session(&svc, &c, &admin, remote.id)
        .await
        .unwrap();
    assert_eq!(
        sessions::state(&svc, &c, &remote).await.unwrap(),
        SessionState::Revoked {
            reason: "ended by an admin".into()
        }
    );
    let twice = admin::end_session(&svc, &c, &admin, remote.id).await;
    assert!(matches!(twice, Err(ServiceError::Conflict(_))));
    let row = &audit_about(&tdb, "SESSION_REVOKED", remote.id).await[0];
    assert_eq!(
        (row.0, row.2["user"].as_str()),
        (Some(admin.user.id), Some(smith.to_string().as_str()))
    );

    login(&svc, email).await;
    assert_eq!(
        admin::end_sessions_of(&svc, &c, &admin, smith)
            .await
            .unwrap(),
        2
    );
    assert!(
        admin::sessions(&svc, &c, &admin, &SessionFilter::of_user(smith), None)
            .await
            .unwrap()
            .0
            .is_empty()
    );
    assert_eq!(
        admin::end_sessions_of(&svc, &c, &admin, smith)
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn wrong_current_passwords_count_toward_the_lockout_and_the_last_ends_the_session() {
    let (tdb, svc) = seeded().await;
    let email = "patient3@example.com";
    let s = login(&svc, email).await;
    for _ in 0..4 {
        let e = auth::change_password(&svc, &client(), &s, "guess", "violet kettle ninety").await;
        assert_eq!(
            invalid(e.unwrap_err()),
            "The current password is not right."
        );
    }
    let last = auth::change_password(&svc, &client(), &s, "guess", "violet kettle ninety").await;
    assert!(matches!(last, Err(ServiceError::SessionEnded)), "{last:?}");
    assert!(matches!(
        sessions::state(&svc, &client(), &s).await.unwrap(),
        SessionState::Revoked { .. }
    ));
    assert!(refused_sign_in(&svc, email, PASSWORD).await);
    assert_eq!(count_action(&tdb, "ACCOUNT_LOCKED").await, 1);
}
