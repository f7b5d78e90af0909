//! What the database holds by itself (migration 0015), for SQL typed under the application role
//! as much as for the services: who may administer, nobody their own account, the last admin stays.

use hsc::db::migrate::{self, MIGRATOR};
use hsc::services::ServiceError;
use hsc::services::admin::{self, NewAccount, SessionFilter, UserFilter};
use hsc::services::sessions::{self, SessionState};
use hsc::services::users::Role;
use sqlx::PgConnection;
use uuid::Uuid;

use super::{ADMIN, count_action, id_of, invalid};
use crate::harness::TestDb;
use crate::policies::{As, CHECK, DENIED, Rows, probe, refused};
use crate::records::{client, login, seeded};

#[tokio::test]
async fn the_administration_migration_reverts_to_the_schema_before_it() {
    let tdb = TestDb::empty().await;
    let mut conn = tdb.admin().await;
    MIGRATOR.run_to(14, &mut conn).await.unwrap();
    let before = tdb.dump_schema();
    MIGRATOR.run_to(15, &mut conn).await.unwrap();
    assert_ne!(tdb.dump_schema(), before);
    let db = tdb.database().await;
    assert_eq!(
        migrate::revert(&db).await.unwrap().as_deref(),
        Some("0015_administration")
    );
    assert!(tdb.dump_schema() == before, "0015's down differs from 0014");
    db.close().await;
}
/// A snapshot of everything an admin action could change.
async fn state_of_accounts(tdb: &TestDb) -> String {
    sqlx::query_scalar(
        "SELECT concat_ws(' / ', \
           (SELECT string_agg(concat_ws('|', id, email, role, is_active, password_hash, requires_password_change, \
                   failed_login_attempts, locked_until, mfa_enabled), ',' ORDER BY id) FROM users), \
           (SELECT string_agg(concat_ws('|', id, is_active), ',' ORDER BY id) FROM sessions), \
           (SELECT count(*) FROM mfa_devices))",
    )
    .fetch_one(&mut tdb.admin().await)
    .await
    .unwrap()
}

#[tokio::test]
async fn other_roles_are_refused_audited_and_change_nothing() {
    let (tdb, svc) = seeded().await;
    let c = client();
    let target = id_of(&tdb, "nurse.williams@healthystellar.com").await;
    let victim = login(&svc, "nurse.williams@healthystellar.com").await;
    for email in ["dr.smith@healthystellar.com", "records@healthystellar.com"] {
        let s = login(&svc, email).await;
        let before = state_of_accounts(&tdb).await;
        let attempts = count_action(&tdb, "UNAUTHORIZED_ACCESS_ATTEMPT").await;
        let new = NewAccount {
            email: "x@healthystellar.com".into(),
            first_name: "X".into(),
            last_name: "Y".into(),
            role: Role::Admin,
        };
        let results = [
            admin::users(&svc, &c, &s, &UserFilter::default(), None)
                .await
                .err(),
            admin::sessions(&svc, &c, &s, &SessionFilter::default(), None)
                .await
                .err(),
            admin::create_user(&svc, &c, &s, &new).await.err(),
            admin::set_active(&svc, &c, &s, target, false).await.err(),
            admin::change_role(&svc, &c, &s, target, Role::Admin)
                .await
                .err(),
            admin::reset_password(&svc, &c, &s, target).await.err(),
            admin::unlock(&svc, &c, &s, target).await.err(),
            admin::reset_mfa(&svc, &c, &s, target).await.err(),
            admin::end_session(&svc, &c, &s, victim.id).await.err(),
            admin::end_sessions_of(&svc, &c, &s, target).await.err(),
        ];
        for r in &results {
            assert!(matches!(r, Some(ServiceError::Denied(_))), "{email}: {r:?}");
        }
        assert_eq!(
            count_action(&tdb, "UNAUTHORIZED_ACCESS_ATTEMPT").await,
            attempts + results.len() as i64
        );
        assert_eq!(
            state_of_accounts(&tdb).await,
            before,
            "{email} changed something"
        );
    }

    // The same by SQL under the application role: rows out of reach, or refused outright.
    let other = [target];
    for email in ["dr.smith@healthystellar.com", "billing@healthystellar.com"] {
        let who = || As::User(email);
        for sql in [
            "UPDATE users SET role = 'admin' WHERE id = $1",
            "UPDATE users SET is_active = false WHERE id = $1",
            "UPDATE users SET failed_login_attempts = 0, locked_until = NULL WHERE id = $1",
            "SELECT id FROM sessions WHERE user_id = $1",
            "UPDATE sessions SET is_active = false, revoked_at = now() WHERE user_id = $1",
        ] {
            assert_eq!(
                probe(&tdb, who(), sql, &other, false).await,
                Rows(0),
                "{email}: {sql}"
            );
        }
        for sql in [
            "SELECT hsc_reset_mfa($1)",
            "INSERT INTO users (email, password_hash, first_name, last_name, role, requires_password_change) \
             VALUES ('x@y.example', 'h', 'X', 'Y', 'admin', true)",
            "UPDATE users SET role = 'admin' WHERE id = hsc_acting_user()",
            "UPDATE users SET is_active = false WHERE id = hsc_acting_user()",
        ] {
            let binds: &[Uuid] = if sql.contains("$1") { &other } else { &[] };
            assert_eq!(
                probe(&tdb, who(), sql, binds, false).await,
                refused(DENIED),
                "{email}: {sql}"
            );
        }
    }
    // A required change is cleared only with a new password.
    sqlx::query("UPDATE users SET requires_password_change = true WHERE email = 'dr.smith@healthystellar.com'")
        .execute(&mut tdb.admin().await)
        .await
        .unwrap();
    let smith = || As::User("dr.smith@healthystellar.com");
    let clear = "UPDATE users SET requires_password_change = false WHERE id = hsc_acting_user()";
    assert_eq!(
        probe(&tdb, smith(), clear, &[], false).await,
        refused(DENIED)
    );
    let with_password = "UPDATE users SET requires_password_change = false, password_hash = 'new' WHERE id = hsc_acting_user()";
    assert_eq!(
        probe(&tdb, smith(), with_password, &[], false).await,
        Rows(1)
    );
}

#[tokio::test]
async fn an_admin_keeps_their_own_account_and_the_last_admin_stays() {
    let (tdb, svc) = seeded().await;
    let admin = login(&svc, ADMIN).await;
    let c = client();
    let me = admin.user.id;
    let sentences = [
        admin::set_active(&svc, &c, &admin, me, false).await.err(),
        admin::change_role(&svc, &c, &admin, me, Role::Nurse)
            .await
            .err(),
        admin::reset_password(&svc, &c, &admin, me).await.err(),
        admin::reset_mfa(&svc, &c, &admin, me).await.err(),
        admin::end_session(&svc, &c, &admin, admin.id).await.err(),
    ];
    for s in sentences {
        let s = invalid(s.unwrap());
        assert!(s.starts_with("You cannot") || s.contains("log out"), "{s}");
    }
    let other = login(&svc, ADMIN).await;
    assert_eq!(
        admin::end_sessions_of(&svc, &c, &admin, me).await.unwrap(),
        1
    );
    assert!(matches!(
        sessions::state(&svc, &c, &other).await.unwrap(),
        SessionState::Revoked { .. }
    ));
    assert_eq!(
        sessions::state(&svc, &c, &admin).await.unwrap(),
        SessionState::Active
    );

    // The database holds the same rules for SQL typed as an admin.
    let as_admin = || As::User(ADMIN);
    let johnson = [id_of(&tdb, "dr.johnson@healthystellar.com").await];
    for sql in [
        "UPDATE users SET is_active = false WHERE id = hsc_acting_user()",
        "UPDATE users SET role = 'nurse' WHERE id = hsc_acting_user()",
        "SELECT hsc_reset_mfa(hsc_acting_user())",
        "UPDATE users SET mfa_enabled = true WHERE id = $1",
        "UPDATE users SET last_login_at = now() WHERE id = $1",
        "UPDATE sessions SET last_activity_at = now() WHERE user_id = $1",
    ] {
        let binds: &[Uuid] = if sql.contains("$1") { &johnson } else { &[] };
        if sql.contains("sessions") {
            login(&svc, "dr.johnson@healthystellar.com").await;
        }
        assert_eq!(
            probe(&tdb, as_admin(), sql, binds, false).await,
            refused(DENIED),
            "{sql}"
        );
    }
    let unforced = "UPDATE users SET password_hash = 'x' WHERE id = $1";
    assert_eq!(
        probe(&tdb, as_admin(), unforced, &johnson, false).await,
        refused(CHECK)
    );
    let forced =
        "UPDATE users SET password_hash = 'x', requires_password_change = true WHERE id = $1";
    assert_eq!(
        probe(&tdb, as_admin(), forced, &johnson, false).await,
        Rows(1)
    );

    // Two admins removing each other at once: the guard's lock lets only one through.
    let mut conn = tdb.admin().await;
    let second = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO users (id, email, password_hash, first_name, last_name, role) \
         SELECT $1, 'admin2@healthystellar.com', password_hash, 'Ada', 'Second', 'admin' FROM users WHERE id = $2",
    )
    .bind(second)
    .bind(me)
    .execute(&mut conn)
    .await
    .unwrap();
    let mut theirs = acting(&tdb, second).await;
    sqlx::query("UPDATE users SET role = 'nurse' WHERE id = $1")
        .bind(me)
        .execute(&mut theirs)
        .await
        .unwrap();
    let mine = tokio::spawn({
        let svc = tdb.services().await;
        let admin = admin.clone();
        async move { admin::change_role(&svc, &client(), &admin, second, Role::Nurse).await }
    });
    // Once the service waits for the guard's lock, the other admin commits.
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap();
        if waiting > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    sqlx::query("COMMIT").execute(&mut theirs).await.unwrap();
    let lost = mine.await.unwrap().unwrap_err();
    assert!(
        matches!(&lost, ServiceError::Conflict(s) if s.contains("last active admin")),
        "{lost:?}"
    );
    let admins: Vec<Uuid> =
        sqlx::query_scalar("SELECT id FROM users WHERE role = 'admin' AND is_active")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    assert_eq!(admins, [second]);
}

/// A raw connection in an open transaction as the application role, acting for `user`.
async fn acting(tdb: &TestDb, user: Uuid) -> PgConnection {
    let mut conn = tdb.admin().await;
    for sql in ["BEGIN", "SET LOCAL ROLE hsc_app"] {
        sqlx::query(sql).execute(&mut conn).await.unwrap();
    }
    sqlx::query("SELECT hsc_set_actor($1)")
        .bind(user)
        .execute(&mut conn)
        .await
        .unwrap();
    conn
}
