//! The grant rules held by PostgreSQL itself, probed by raw SQL under the application role.

use super::*;

#[tokio::test]
async fn the_database_holds_the_grant_rules_under_the_application_role() {
    let mut w = World::new().await;
    let tdb = &w.tdb;
    let alice = user_id(&mut w.admin, ALICE).await;
    let bob = user_id(&mut w.admin, BOB).await;
    let carol = user_id(&mut w.admin, CAROL).await;
    let staff = user_id(&mut w.admin, RECORDS).await;
    let billing = user_id(&mut w.admin, BILLING).await;
    let admin_id = user_id(&mut w.admin, ADMIN).await;
    let smith = user_id(&mut w.admin, SMITH).await;
    let johnson = user_id(&mut w.admin, JOHNSON).await;
    let brown = user_id(&mut w.admin, BROWN).await;
    let physical = record_id(&mut w.admin, "Annual Physical Examination").await;
    let blood_work = record_id(&mut w.admin, "Blood Work - Complete Metabolic Panel").await;
    let as_staff = || As::User(RECORDS);
    let as_alice = || As::User(ALICE);
    let as_smith = || As::User(SMITH);

    // Grants go to active physicians and nurses only.
    let insert = "INSERT INTO access_grants (patient_id, grantee_id, scope, access_level, expires_at, granted_by) \
                  VALUES ($1, $2, 'ALL_RECORDS', 'READ', now() + interval '30 days', $3)";
    for grantee in [bob, staff, billing, admin_id] {
        assert_eq!(
            probe(tdb, as_staff(), insert, &[alice, grantee, staff], false).await,
            refused(DENIED)
        );
        assert_eq!(
            probe(tdb, as_alice(), insert, &[alice, grantee, alice], false).await,
            refused(DENIED)
        );
    }
    assert_eq!(
        probe(tdb, as_staff(), insert, &[alice, brown, staff], false).await,
        Rows(1)
    );
    assert_eq!(
        probe(tdb, as_alice(), insert, &[alice, brown, alice], false).await,
        Rows(1)
    );
    sqlx::query("UPDATE users SET is_active = false WHERE id = $1")
        .bind(brown)
        .execute(&mut w.admin)
        .await
        .unwrap();
    assert_eq!(
        probe(tdb, as_staff(), insert, &[alice, brown, staff], false).await,
        refused(DENIED),
        "an inactive nurse"
    );
    sqlx::query("UPDATE users SET is_active = true WHERE id = $1")
        .bind(brown)
        .execute(&mut w.admin)
        .await
        .unwrap();
    // A grant is made now: no back-dated row, none born revoked.
    assert_eq!(
        probe(
            tdb,
            as_staff(),
            "INSERT INTO access_grants (patient_id, grantee_id, scope, access_level, expires_at, granted_by, created_at) \
             VALUES ($1, $2, 'ALL_RECORDS', 'READ', now() + interval '30 days', $3, now() - interval '1 day')",
            &[alice, brown, staff],
            false
        )
        .await,
        refused(DENIED)
    );
    assert_eq!(
        probe(
            tdb,
            as_staff(),
            "INSERT INTO access_grants (patient_id, grantee_id, scope, access_level, expires_at, granted_by, \
                 revocation_reason) \
             VALUES ($1, $2, 'ALL_RECORDS', 'READ', now() + interval '30 days', $3, 'pre-revoked')",
            &[alice, brown, staff],
            false
        )
        .await,
        refused(DENIED)
    );

    // A grant's records are fixed once it is made: none added later, none removed.
    let older: Uuid = sqlx::query_scalar(
        "WITH g AS (INSERT INTO access_grants (patient_id, grantee_id, scope, access_level, expires_at, \
             granted_by, created_at) \
         VALUES ($1, $2, 'SELECTED_RECORDS', 'READ', now() + interval '30 days', $1, now() - interval '1 day') \
         RETURNING id) \
         INSERT INTO access_grant_records (grant_id, record_id) SELECT g.id, $3 FROM g RETURNING grant_id",
    )
    .bind(alice)
    .bind(brown)
    .bind(physical)
    .fetch_one(&mut w.admin)
    .await
    .unwrap();
    let add = "INSERT INTO access_grant_records (grant_id, record_id) VALUES ($1, $2)";
    assert_eq!(
        probe(tdb, as_alice(), add, &[older, blood_work], false).await,
        refused(DENIED)
    );
    assert_eq!(
        probe(tdb, as_staff(), add, &[older, blood_work], false).await,
        refused(DENIED)
    );
    let remove = "DELETE FROM access_grant_records WHERE grant_id = $1";
    for who in [as_alice(), as_staff()] {
        assert_eq!(
            probe(tdb, who, remove, &[older], false).await,
            refused(DENIED)
        );
    }

    // A revoked or expired grant never changes; a running one is marked expired only once it is.
    let revoked: Uuid = sqlx::query_scalar(
        "INSERT INTO access_grants (patient_id, grantee_id, scope, access_level, expires_at, granted_by, \
             status, revoked_at, revoked_by, revocation_reason) \
         VALUES ($1, $2, 'ALL_RECORDS', 'READ', now() + interval '30 days', $1, 'REVOKED', now(), $1, 'test') \
         RETURNING id",
    )
    .bind(carol)
    .bind(brown)
    .fetch_one(&mut w.admin)
    .await
    .unwrap();
    let expired: Uuid = sqlx::query_scalar(
        "INSERT INTO access_grants (patient_id, grantee_id, scope, access_level, expires_at, granted_by, status) \
         VALUES ($1, $2, 'ALL_RECORDS', 'READ', now() - interval '1 day', $1, 'EXPIRED') RETURNING id",
    )
    .bind(carol)
    .bind(smith)
    .fetch_one(&mut w.admin)
    .await
    .unwrap();
    let lapsed: Uuid = sqlx::query_scalar(
        "INSERT INTO access_grants (patient_id, grantee_id, scope, access_level, expires_at, granted_by) \
         VALUES ($1, $2, 'ALL_RECORDS', 'READ', now() - interval '1 hour', $1) RETURNING id",
    )
    .bind(bob)
    .bind(smith)
    .fetch_one(&mut w.admin)
    .await
    .unwrap();
    let seed_alice: Uuid = sqlx::query_scalar(
        "SELECT id FROM access_grants WHERE patient_id = $1 AND grantee_id = $2 AND status = 'ACTIVE' \
         AND expires_at > now()",
    )
    .bind(alice)
    .bind(smith)
    .fetch_one(&mut w.admin)
    .await
    .unwrap();
    let seed_bob: Uuid = sqlx::query_scalar(
        "SELECT id FROM access_grants WHERE patient_id = $1 AND grantee_id = $2",
    )
    .bind(bob)
    .bind(johnson)
    .fetch_one(&mut w.admin)
    .await
    .unwrap();
    let revive = "UPDATE access_grants SET status = 'ACTIVE' WHERE id = $1";
    let retime = "UPDATE access_grants SET expires_at = now() + interval '10 days' WHERE id = $1";
    for grant in [revoked, expired] {
        assert_eq!(
            probe(tdb, As::User(CAROL), revive, &[grant], false).await,
            refused(CHECK)
        );
        assert_eq!(
            probe(tdb, as_staff(), revive, &[grant], false).await,
            refused(CHECK)
        );
        assert_eq!(
            probe(tdb, as_staff(), retime, &[grant], false).await,
            refused(CHECK)
        );
    }
    assert_eq!(
        probe(
            tdb,
            as_staff(),
            "UPDATE access_grants SET status = 'REVOKED', revocation_reason = 'again and again' WHERE id = $1",
            &[revoked],
            false
        )
        .await,
        refused(CHECK)
    );
    assert_eq!(
        probe(tdb, as_staff(), retime, &[lapsed], false).await,
        refused(CHECK),
        "a lapsed grant is not revived by a new expiry"
    );
    assert_eq!(
        probe(
            tdb,
            as_staff(),
            "UPDATE access_grants SET expires_at = now() - interval '1 hour' WHERE id = $1",
            &[seed_alice],
            false
        )
        .await,
        refused(CHECK),
        "never into the past"
    );
    assert_eq!(
        probe(
            tdb,
            as_staff(),
            "UPDATE access_grants SET status = 'REVOKED', revocation_reason = 'moved away', \
               expires_at = now() + interval '1 day' WHERE id = $1",
            &[seed_alice],
            false
        )
        .await,
        refused(CHECK),
        "a revocation leaves the expiry"
    );
    let mark = "UPDATE access_grants SET status = 'EXPIRED' WHERE id = $1";
    assert_eq!(
        probe(tdb, as_staff(), mark, &[seed_alice], false).await,
        refused(CHECK)
    );
    assert_eq!(
        probe(tdb, as_smith(), mark, &[seed_alice], false).await,
        refused(CHECK)
    );
    assert_eq!(
        probe(tdb, as_smith(), mark, &[lapsed], false).await,
        Rows(1),
        "a grantee marks their own lapsed grant"
    );
    assert_eq!(
        probe(tdb, as_smith(), retime, &[seed_alice], false).await,
        refused(DENIED),
        "but changes nothing else of it"
    );
    assert_eq!(
        probe(
            tdb,
            as_smith(),
            "UPDATE access_grants SET status = 'REVOKED', revocation_reason = 'not mine to keep' WHERE id = $1",
            &[seed_alice],
            false
        )
        .await,
        refused(DENIED)
    );
    for sql in [mark, retime, revive] {
        assert_eq!(
            probe(tdb, as_smith(), sql, &[seed_bob], false).await,
            Rows(0),
            "someone else's grant: {sql}"
        );
    }

    // Overlap is refused when the transaction commits, even behind the service's back.
    let chart = "INSERT INTO access_grants (patient_id, grantee_id, scope, access_level, expires_at, granted_by) \
                 VALUES ($1, $2, 'ALL_RECORDS', 'READ', now() + interval '30 days', $3)";
    assert_eq!(
        probe(tdb, as_staff(), chart, &[alice, smith, staff], true).await,
        refused("23P01")
    );
    assert_eq!(
        probe(tdb, as_alice(), chart, &[alice, smith, alice], true).await,
        refused("23P01")
    );
    assert_eq!(
        probe(tdb, as_staff(), chart, &[carol, johnson, staff], true).await,
        Rows(1)
    );
    assert_eq!(
        probe(tdb, as_staff(), chart, &[carol, johnson, staff], true).await,
        refused("23P01")
    );
    // Two at once in one statement overlap each other.
    assert_eq!(
        probe(
            tdb,
            as_staff(),
            "INSERT INTO access_grants (patient_id, grantee_id, scope, access_level, expires_at, granted_by) \
             VALUES ($1, $2, 'ALL_RECORDS', 'READ', now() + interval '30 days', $3), \
                    ($1, $2, 'ALL_RECORDS', 'READ', now() + interval '60 days', $3)",
            &[bob, brown, staff],
            true
        )
        .await,
        refused("23P01")
    );
    // Break-glass is not an ordinary grant and is not compared.
    assert_eq!(
        probe(
            tdb,
            As::User(JOHNSON),
            "INSERT INTO access_grants (patient_id, grantee_id, scope, access_level, expires_at, granted_by, \
                 is_emergency, emergency_reason) \
             VALUES ($1, $2, 'ALL_RECORDS', 'READ_WRITE', now() + interval '1 hour', $2, true, 'patient unconscious')",
            &[carol, johnson],
            true
        )
        .await,
        Rows(1)
    );
    let stored: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM access_grants WHERE patient_id = $1 AND grantee_id = $2",
    )
    .bind(carol)
    .bind(johnson)
    .fetch_one(&mut w.admin)
    .await
    .unwrap();
    assert_eq!(stored, 2, "the committed grant and the emergency one");
}
