//! The grant rules held by PostgreSQL itself, probed by raw SQL under the application role.

use sqlx::Connection;

use super::*;
use crate::policies::{Answer, Refused};

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

/// Runs `statements` in order as hsc_app acting as `email`, in one transaction that commits (set
/// to `isolation` first, when given): the rows the last statement affected, or the SQLSTATE of the
/// first refusal, commit included.
async fn commit_as(
    tdb: &TestDb,
    email: &str,
    isolation: Option<&str>,
    statements: &[(&str, &[Uuid])],
) -> Answer {
    let mut conn = PgConnection::connect_with(&tdb.options()).await.unwrap();
    let actor = user_id(&mut conn, email).await;
    let mut tx = conn.begin().await.unwrap();
    if let Some(level) = isolation {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SET TRANSACTION ISOLATION LEVEL {level}"
        )))
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    for setup in ["SET LOCAL ROLE hsc_app", "SELECT hsc_set_actor($1)"] {
        let mut q = sqlx::query(setup);
        if setup.contains("$1") {
            q = q.bind(actor);
        }
        q.execute(&mut *tx).await.unwrap();
    }
    let code = |e: sqlx::Error| {
        Refused(
            e.as_database_error()
                .and_then(|d| d.code())
                .map(|c| c.to_string())
                .unwrap_or_else(|| e.to_string()),
        )
    };
    let mut answer = Rows(0);
    for (sql, ids) in statements {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.to_string()));
        for id in *ids {
            q = q.bind(*id);
        }
        answer = match q.execute(&mut *tx).await {
            Ok(done) => Rows(done.rows_affected()),
            Err(e) => return code(e),
        };
    }
    match tx.commit().await {
        Ok(()) => answer,
        Err(e) => code(e),
    }
}

/// How many grants of `patient` to `grantee` are stored.
async fn grants_between(w: &mut World, patient: Uuid, grantee: Uuid) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM access_grants WHERE patient_id = $1 AND grantee_id = $2",
    )
    .bind(patient)
    .bind(grantee)
    .fetch_one(&mut w.admin)
    .await
    .unwrap()
}

#[tokio::test]
async fn no_grant_is_made_or_moved_beyond_the_ceiling() {
    let mut w = World::new().await;
    let alice = w.user(ALICE).await;
    let staff = w.user(RECORDS).await;
    let brown = w.user(BROWN).await;
    let seed_alice = w.grant_between(ALICE, SMITH).await;
    let tdb = &w.tdb;

    let exact: bool =
        sqlx::query_scalar("SELECT hsc_grant_ceiling() = now() + interval '3661 days'")
            .fetch_one(&mut w.admin)
            .await
            .unwrap();
    assert!(exact, "the ceiling is 3661 days from now");

    let insert = |until: &str| {
        format!(
            "INSERT INTO access_grants (patient_id, grantee_id, scope, access_level, expires_at, granted_by) \
             VALUES ($1, $2, 'ALL_RECORDS', 'READ', {until}, $3)"
        )
    };
    let retime =
        |until: &str| format!("UPDATE access_grants SET expires_at = {until} WHERE id = $1");
    let beyond = [
        "now() + interval '3661 days' + interval '1 microsecond'",
        "hsc_grant_ceiling() + interval '1 microsecond'",
        "now() + interval '20 years'",
    ];
    for (who, by) in [(RECORDS, staff), (ALICE, alice)] {
        for until in beyond {
            assert_eq!(
                probe(
                    tdb,
                    As::User(who),
                    &insert(until),
                    &[alice, brown, by],
                    false
                )
                .await,
                refused(DENIED),
                "{who} creates a grant until {until}"
            );
            assert_eq!(
                probe(tdb, As::User(who), &retime(until), &[seed_alice], false).await,
                refused(CHECK),
                "{who} re-times a grant to {until}"
            );
        }
        // Up to the ceiling itself.
        let at = "now() + interval '3661 days'";
        assert_eq!(
            probe(tdb, As::User(who), &insert(at), &[alice, brown, by], true).await,
            Rows(1),
            "{who} creates a grant until the ceiling"
        );
        assert_eq!(
            probe(tdb, As::User(who), &retime(at), &[seed_alice], false).await,
            Rows(1),
            "{who} re-times a grant to the ceiling"
        );
        sqlx::query("DELETE FROM access_grants WHERE patient_id = $1 AND grantee_id = $2")
            .bind(alice)
            .bind(brown)
            .execute(&mut w.admin)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn emergency_access_is_never_re_timed_and_only_a_running_grant_is_revoked_with_a_reason() {
    let mut w = World::new().await;
    let alice = w.user(ALICE).await;
    let brown = w.user(BROWN).await;
    let johnson = w.user(JOHNSON).await;
    let seed_alice = w.grant_between(ALICE, SMITH).await;
    let emergency = w
        .owner_grant(alice, johnson, "ACTIVE", "1 hour", true)
        .await;
    let lapsed = w
        .owner_grant(alice, brown, "ACTIVE", "-1 minute", false)
        .await;
    let tdb = &w.tdb;

    // Emergency access keeps its hour: neither cut short nor stretched, by staff or the patient.
    for who in [RECORDS, ALICE] {
        for until in [
            "now() + interval '30 minutes'",
            "now() + interval '1 minute'",
            "now() + interval '2 hours'",
        ] {
            assert_eq!(
                probe(
                    tdb,
                    As::User(who),
                    &format!("UPDATE access_grants SET expires_at = {until} WHERE id = $1"),
                    &[emergency],
                    false
                )
                .await,
                refused(CHECK),
                "{who} re-times emergency access to {until}"
            );
        }
        // Revoking is how it ends sooner.
        assert_eq!(
            probe(
                tdb,
                As::User(who),
                "UPDATE access_grants SET status = 'REVOKED', revocation_reason = 'patient stable again' \
                 WHERE id = $1",
                &[emergency],
                false
            )
            .await,
            Rows(1),
            "{who} revokes emergency access"
        );
    }

    // A grant whose expiry has passed is not revoked, though its status still says ACTIVE.
    let revoke = "UPDATE access_grants SET status = 'REVOKED', revocation_reason = 'moved to another clinic' \
                  WHERE id = $1";
    for who in [RECORDS, ALICE] {
        assert_eq!(
            probe(tdb, As::User(who), revoke, &[lapsed], false).await,
            refused(CHECK),
            "{who} revokes a lapsed grant"
        );
        assert_eq!(
            probe(tdb, As::User(who), revoke, &[seed_alice], false).await,
            Rows(1),
            "{who} revokes a running grant"
        );
    }

    // A reason of 5 to 500 characters, not counting the spaces around it.
    let with_reason = |reason: &str| {
        format!(
            "UPDATE access_grants SET status = 'REVOKED', revocation_reason = {reason} WHERE id = $1"
        )
    };
    for (reason, answer) in [
        ("repeat('x', 501)", refused(CHECK)),
        ("repeat('é', 501)", refused(CHECK)),
        ("' ' || repeat('x', 500)", refused(CHECK)),
        ("repeat('x', 500)", Rows(1)),
        ("repeat('é', 500)", Rows(1)),
        ("'   abcd   '", refused(CHECK)),
        ("'abcde'", Rows(1)),
        ("NULL", refused(CHECK)),
    ] {
        for who in [RECORDS, ALICE] {
            assert_eq!(
                probe(
                    tdb,
                    As::User(who),
                    &with_reason(reason),
                    &[seed_alice],
                    false
                )
                .await,
                answer,
                "{who} revokes with reason {reason}"
            );
        }
    }
    let (status, _, _, _) = w.stored(seed_alice).await;
    assert_eq!(status, "ACTIVE", "every probe was rolled back");
}

#[tokio::test]
async fn a_new_grant_lists_its_records_and_is_made_under_read_committed_or_serializable() {
    let mut w = World::new().await;
    let alice = w.user(ALICE).await;
    let bob = w.user(BOB).await;
    let carol = w.user(CAROL).await;
    let staff = w.user(RECORDS).await;
    let brown = w.user(BROWN).await;
    let johnson = w.user(JOHNSON).await;
    let physical = w.record("Annual Physical Examination").await;
    let tdb = &w.tdb;

    // A grant on chosen records that lists none is refused when the transaction commits.
    let chosen = "INSERT INTO access_grants (patient_id, grantee_id, scope, access_level, expires_at, granted_by) \
                  VALUES ($1, $2, 'SELECTED_RECORDS', 'READ', now() + interval '30 days', $3)";
    for (who, by) in [(RECORDS, staff), (ALICE, alice)] {
        assert_eq!(
            probe(tdb, As::User(who), chosen, &[alice, brown, by], false).await,
            Rows(1),
            "{who}: checked at commit, not before"
        );
        assert_eq!(
            probe(tdb, As::User(who), chosen, &[alice, brown, by], true).await,
            refused(CHECK),
            "{who}: a grant on no records"
        );
    }
    assert_eq!(grants_between(&mut w, alice, brown).await, 0);
    // Listing one, in the same transaction, it commits.
    let list_one = "INSERT INTO access_grant_records (grant_id, record_id) \
                    SELECT g.id, $2 FROM access_grants g \
                    WHERE g.patient_id = $1 AND g.grantee_id = $3 AND g.created_at = now()";
    assert_eq!(
        commit_as(
            &w.tdb,
            ALICE,
            None,
            &[
                (chosen, &[alice, brown, alice]),
                (list_one, &[alice, physical, brown])
            ]
        )
        .await,
        Rows(1)
    );
    assert_eq!(grants_between(&mut w, alice, brown).await, 1);

    // Under REPEATABLE READ the overlap check could miss a grant committed meanwhile: refused.
    let chart = "INSERT INTO access_grants (patient_id, grantee_id, scope, access_level, expires_at, granted_by) \
                 VALUES ($1, $2, 'ALL_RECORDS', 'READ', now() + interval '30 days', $3)";
    assert_eq!(
        commit_as(
            &w.tdb,
            RECORDS,
            Some("REPEATABLE READ"),
            &[(chart, &[carol, brown, staff])]
        )
        .await,
        refused("25000")
    );
    assert_eq!(grants_between(&mut w, carol, brown).await, 0);
    let emergency = "INSERT INTO access_grants (patient_id, grantee_id, scope, access_level, expires_at, \
                         granted_by, is_emergency, emergency_reason) \
                     VALUES ($1, $2, 'ALL_RECORDS', 'READ_WRITE', now() + interval '1 hour', $2, true, \
                         'patient unconscious')";
    assert_eq!(
        commit_as(
            &w.tdb,
            JOHNSON,
            Some("REPEATABLE READ"),
            &[(emergency, &[carol, johnson])]
        )
        .await,
        refused("25000"),
        "break-glass too"
    );
    assert_eq!(grants_between(&mut w, carol, johnson).await, 0);
    // READ COMMITTED (the default) and SERIALIZABLE commit.
    for (isolation, patient, grantee) in [
        (None, carol, brown),
        (Some("READ COMMITTED"), bob, brown),
        (Some("SERIALIZABLE"), alice, johnson),
    ] {
        assert_eq!(
            commit_as(
                &w.tdb,
                RECORDS,
                isolation,
                &[(chart, &[patient, grantee, staff])]
            )
            .await,
            Rows(1),
            "{isolation:?}"
        );
        assert_eq!(grants_between(&mut w, patient, grantee).await, 1);
    }
}

#[tokio::test]
async fn records_staff_read_no_record_content_whatever_grant_they_hold() {
    let mut w = World::new().await;
    let alice = w.user(ALICE).await;
    let staff_id = w.user(RECORDS).await;
    let physical = w.record("Annual Physical Examination").await;
    // Granted before 0012 could refuse it: an active whole-chart grant, and one on the record itself.
    let chart = w
        .owner_grant(alice, staff_id, "ACTIVE", "30 days", false)
        .await;
    sqlx::query(
        "WITH g AS (INSERT INTO access_grants (patient_id, grantee_id, scope, access_level, expires_at, granted_by) \
         VALUES ($1, $2, 'SELECTED_RECORDS', 'READ_WRITE', now() + interval '30 days', $1) RETURNING id) \
         INSERT INTO access_grant_records (grant_id, record_id) SELECT g.id, $3 FROM g",
    )
    .bind(alice)
    .bind(staff_id)
    .bind(physical)
    .execute(&mut w.admin)
    .await
    .unwrap();
    let versions: i64 =
        sqlx::query_scalar("SELECT count(*) FROM record_versions WHERE patient_id = $1")
            .bind(alice)
            .fetch_one(&mut w.admin)
            .await
            .unwrap();
    assert!(versions >= 2);
    let tdb = &w.tdb;

    let content = "SELECT 1 FROM record_versions WHERE patient_id = $1";
    let cards = "SELECT 1 FROM medical_records WHERE patient_id = $1";
    assert_eq!(
        probe(tdb, As::User(RECORDS), content, &[alice], false).await,
        Rows(0),
        "no version of any record"
    );
    assert_eq!(
        probe(tdb, As::User(RECORDS), cards, &[alice], false).await,
        Rows(2),
        "every index card"
    );
    // The same grant to a physician opens the content (the seed's grant to Smith covers both).
    assert_eq!(
        probe(tdb, As::User(SMITH), content, &[alice], false).await,
        Rows(versions as u64)
    );

    let staff = w.session(RECORDS).await;
    let detail = records::view(&w.svc, &client(), &staff, physical)
        .await
        .unwrap();
    assert_eq!(detail.id, physical);
    assert!(detail.content.is_none(), "the index card only");
    let viewed = w.audit("RECORD_VIEW").await;
    let (user, resource, _, _, details) = viewed.last().unwrap().clone();
    assert_eq!((user, resource), (Some(staff_id), Some(physical)));
    assert_eq!(details["content"], json!(false));
    assert_eq!(w.stored(chart).await.0, "ACTIVE", "the grant itself stands");
}
