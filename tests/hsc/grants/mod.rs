//! Access grants against real PostgreSQL (SPEC "Who may do what", "Audit"): who sees which grants,
//! the list's filters and paging, creating, re-timing and revoking through the services with their
//! audit rows, what each change does to the grantee's access at once, and the same rules held by the
//! database itself under the application role.

mod changes;
mod create;
mod database;
mod limits;
mod list;

use chrono::{DateTime, Days, Duration, SubsecRound, Utc};
use hsc::services::grants::{
    self, AccessLevel, Grant, GrantFilter, GrantPage, GrantStatus, NewGrant, Wanted,
};
use hsc::services::records;
use hsc::services::sessions::Session;
use hsc::services::users::Role;
use hsc::services::{ServiceError, Services};
use serde_json::{Value, json};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::auth::PASSWORD;
use crate::harness::TestDb;
use crate::policies::{As, CHECK, DENIED, Rows, probe, refused};
use crate::records::{client, login, record_id, seeded, user_id};

const RECORDS: &str = "records@healthystellar.com";
const ADMIN: &str = "admin@healthystellar.com";
const BILLING: &str = "billing@healthystellar.com";
const SMITH: &str = "dr.smith@healthystellar.com";
const JOHNSON: &str = "dr.johnson@healthystellar.com";
const WILLIAMS: &str = "nurse.williams@healthystellar.com";
const BROWN: &str = "nurse.brown@healthystellar.com";
const ALICE: &str = "patient1@example.com";
const BOB: &str = "patient2@example.com";
const CAROL: &str = "patient3@example.com";

/// The seed's users and records by name, and a superuser connection to look behind hsc's back.
struct World {
    tdb: TestDb,
    svc: Services,
    admin: PgConnection,
}

impl World {
    async fn new() -> World {
        let (tdb, svc) = seeded().await;
        let admin = tdb.admin().await;
        World { tdb, svc, admin }
    }

    async fn user(&mut self, email: &str) -> Uuid {
        user_id(&mut self.admin, email).await
    }

    async fn record(&mut self, title: &str) -> Uuid {
        record_id(&mut self.admin, title).await
    }

    async fn session(&self, email: &str) -> Session {
        login(&self.svc, email).await
    }

    /// The oldest grant of `patient` to `grantee` (the seed's, where there is one).
    async fn grant_between(&mut self, patient: &str, grantee: &str) -> Uuid {
        sqlx::query_scalar(
            "SELECT g.id FROM access_grants g JOIN users p ON p.id = g.patient_id \
             JOIN users q ON q.id = g.grantee_id WHERE p.email = $1 AND q.email = $2 \
             ORDER BY g.created_at, g.id LIMIT 1",
        )
        .bind(patient)
        .bind(grantee)
        .fetch_one(&mut self.admin)
        .await
        .unwrap()
    }

    /// A whole-chart grant written by the owner (no rule applies), `status` and expiring `interval`
    /// from now (negative: already past).
    async fn owner_grant(
        &mut self,
        patient: Uuid,
        grantee: Uuid,
        status: &str,
        interval: &str,
        emergency: bool,
    ) -> Uuid {
        sqlx::query_scalar(
            "INSERT INTO access_grants (patient_id, grantee_id, scope, access_level, status, expires_at, \
                 granted_by, revoked_at, revoked_by, revocation_reason, is_emergency, emergency_reason) \
             VALUES ($1, $2, 'ALL_RECORDS', 'READ', $3::grant_status, now() + $4::interval, $1, \
                 CASE WHEN $3 = 'REVOKED' THEN now() END, CASE WHEN $3 = 'REVOKED' THEN $1 END, \
                 CASE WHEN $3 = 'REVOKED' THEN 'test revocation' END, \
                 $5, CASE WHEN $5 THEN 'patient unconscious' END) \
             RETURNING id",
        )
        .bind(patient)
        .bind(grantee)
        .bind(status)
        .bind(interval)
        .bind(emergency)
        .fetch_one(&mut self.admin)
        .await
        .unwrap()
    }

    /// Moves a grant's expiry behind the rules' back (status untouched).
    async fn set_expiry(&mut self, grant: Uuid, interval: &str) {
        sqlx::query("UPDATE access_grants SET expires_at = now() + $2::interval WHERE id = $1")
            .bind(grant)
            .bind(interval)
            .execute(&mut self.admin)
            .await
            .unwrap();
    }

    /// Status, expiry, revoked_by and revocation reason of one grant, as stored.
    async fn stored(
        &mut self,
        grant: Uuid,
    ) -> (String, DateTime<Utc>, Option<Uuid>, Option<String>) {
        sqlx::query_as(
            "SELECT status::text, expires_at, revoked_by, revocation_reason FROM access_grants WHERE id = $1",
        )
        .bind(grant)
        .fetch_one(&mut self.admin)
        .await
        .unwrap()
    }

    async fn counts(&mut self) -> Counts {
        let (grants, listed, changes, access) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM access_grants), (SELECT count(*) FROM access_grant_records), \
                    (SELECT count(*) FROM audit_logs \
                      WHERE action IN ('GRANT_CREATE', 'GRANT_UPDATE', 'GRANT_REVOKE', 'GRANT_EXPIRED')), \
                    (SELECT count(*) FROM record_access)",
        )
        .fetch_one(&mut self.admin)
        .await
        .unwrap();
        Counts {
            grants,
            listed,
            changes,
            access,
        }
    }

    /// Audit rows of `action`, oldest first: user, resource, patient, outcome and details.
    async fn audit(&mut self, action: &str) -> Vec<AuditRow> {
        sqlx::query_as(
            "SELECT user_id, resource_id, patient_id, outcome::text, details FROM audit_logs \
             WHERE action = $1 ORDER BY seq",
        )
        .bind(action)
        .fetch_all(&mut self.admin)
        .await
        .unwrap()
    }

    /// Refusals written for `user` about `attempt`.
    async fn refusals(&mut self, user: Uuid, attempt: &str) -> i64 {
        sqlx::query_scalar(
            "SELECT count(*) FROM audit_logs WHERE action = 'UNAUTHORIZED_ACCESS_ATTEMPT' \
             AND outcome = 'denied' AND user_id = $1 AND details->>'attempt' = $2",
        )
        .bind(user)
        .bind(attempt)
        .fetch_one(&mut self.admin)
        .await
        .unwrap()
    }

    /// Whether the grant's row and the audit row about it were written by one transaction.
    async fn same_transaction(&mut self, grant: Uuid, action: &str) -> bool {
        sqlx::query_scalar(
            "SELECT (SELECT xmin::text FROM access_grants WHERE id = $1) \
                  = (SELECT (xact % 4294967296)::text FROM audit_logs WHERE action = $2 AND resource_id = $1 \
                     ORDER BY seq DESC LIMIT 1)",
        )
        .bind(grant)
        .bind(action)
        .fetch_one(&mut self.admin)
        .await
        .unwrap()
    }

    async fn list(&self, session: &Session, filter: &str) -> Vec<Grant> {
        let filter = GrantFilter::parse(filter).unwrap();
        let page = grants::list(&self.svc, &client(), session, &filter, None, 500)
            .await
            .unwrap();
        assert_eq!(page.next, None);
        page.grants
    }

    async fn create(&self, session: &Session, new: &NewGrant) -> Result<Grant, ServiceError> {
        grants::create(&self.svc, &client(), session, new).await
    }
}

type AuditRow = (Option<Uuid>, Option<Uuid>, Option<Uuid>, String, Value);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Counts {
    grants: i64,
    listed: i64,
    changes: i64,
    access: i64,
}

/// The end of the day `days` from today (UTC): how the console sets expiries.
fn in_days(days: u64) -> DateTime<Utc> {
    grants::end_of_day(Utc::now().date_naive() + Days::new(days))
}

fn whole_chart(patient: Uuid, grantee: Uuid) -> NewGrant {
    NewGrant {
        patient,
        grantee,
        records: None,
        level: AccessLevel::ReadWrite,
        expires_at: in_days(30),
    }
}

fn selected(patient: Uuid, grantee: Uuid, records: &[Uuid]) -> NewGrant {
    NewGrant {
        records: Some(records.to_vec()),
        level: AccessLevel::Read,
        ..whole_chart(patient, grantee)
    }
}

fn ids(list: &[Grant]) -> Vec<Uuid> {
    let mut ids: Vec<Uuid> = list.iter().map(|g| g.id).collect();
    ids.sort();
    ids
}

fn sorted(mut ids: Vec<Uuid>) -> Vec<Uuid> {
    ids.sort();
    ids
}

#[track_caller]
fn one_sentence(message: &str) {
    let body = message.strip_suffix('.').unwrap_or_else(|| {
        panic!("{message:?} does not end a sentence");
    });
    assert!(
        !body.contains(". ") && !body.contains('\n') && !body.is_empty(),
        "{message:?} is not one sentence"
    );
}

#[track_caller]
fn invalid<T: std::fmt::Debug>(result: Result<T, ServiceError>) -> String {
    match result {
        Err(ServiceError::Invalid(message)) => {
            one_sentence(&message);
            message
        }
        other => panic!("expected a refusal of the input, got {other:?}"),
    }
}

#[track_caller]
fn denied<T: std::fmt::Debug>(result: Result<T, ServiceError>) -> String {
    match result {
        Err(ServiceError::Denied(message)) => {
            one_sentence(&message);
            message
        }
        other => panic!("expected a refusal of the role, got {other:?}"),
    }
}

/// Whether `session` may open `record` now: content, or refused.
async fn opens(svc: &Services, session: &Session, record: Uuid) -> bool {
    match records::view(svc, &client(), session, record).await {
        Ok(detail) => {
            assert!(detail.content.is_some(), "a clinician sees content");
            true
        }
        Err(ServiceError::Denied(_)) => false,
        Err(e) => panic!("view failed: {e}"),
    }
}

async fn change(
    svc: &Services,
    session: &Session,
    grant: Uuid,
    expected: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Grant, ServiceError> {
    grants::change_expiry(svc, &client(), session, grant, expected, to).await
}

async fn find(
    svc: &Services,
    session: &Session,
    wanted: Wanted,
    query: &str,
) -> Vec<grants::Candidate> {
    grants::find_people(svc, session, wanted, query)
        .await
        .unwrap()
}
