//! The limits PostgreSQL puts on grants beyond who may write them, probed under the application
//! role: the ten-year ceiling, emergency access never re-timed, revocation only of a running grant
//! with a reason of 5 to 500 characters, a chosen-records grant listing at least one record, the
//! isolation the overlap check needs, and records staff reading no content.

use sqlx::Connection;

use super::*;
use crate::policies::{Answer, Refused};

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
