//! Access grants: who may read or write a patient's records besides their own care team (SPEC "Who
//! may do what"). Records staff manage every grant, patients the grants on their own records, and
//! physicians and nurses see the grants they hold.
//!
//! As with records, each call is one short transaction as the acting user: row-level security decides
//! which grants exist for them, the migrations' policies and guard enforce the same rules as the checks
//! here (grantee a physician or nurse, no overlap, frozen once revoked or expired), and every list,
//! change and refusal writes its audit row in the same transaction.

mod change;
mod expiry;
mod list;
mod people;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use sqlx::PgConnection;
use uuid::Uuid;

use super::ServiceError;
use super::records::{Person, RecordType};
use super::users::Role;
use crate::db::DbError;

pub use change::{
    MAX_REVOCATION_REASON, MIN_REVOCATION_REASON, NewGrant, change_expiry, create, revoke,
};
pub use expiry::{end_of_day, expiry_problem, latest_expiry_date, parse_expiry, typed_expiry};
pub use list::{Cursor, GrantFilter, GrantPage, PAGE_SIZE, StatusFilter, list, page_sql};
pub use people::{Candidate, RecordChoice, Wanted, find_people, patient_records};

/// Which grants a role sees, and whether it may change them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantView {
    /// Records staff: every grant; they create, re-time and revoke any.
    All,
    /// A patient: the grants on their own records, which they manage.
    OwnRecords,
    /// A physician or nurse: the grants they hold, read-only.
    Incoming,
}

impl GrantView {
    /// The view of `role`, or `None` for roles with no grants screen (admins, billing staff).
    pub fn of(role: Role) -> Option<GrantView> {
        match role {
            Role::MedicalRecords => Some(GrantView::All),
            Role::Patient => Some(GrantView::OwnRecords),
            Role::Physician | Role::Nurse => Some(GrantView::Incoming),
            Role::Admin | Role::BillingStaff => None,
        }
    }

    /// May create, re-time and revoke grants (within what the view shows).
    pub fn manages(self) -> bool {
        self != GrantView::Incoming
    }
}

/// READ, or READ_WRITE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessLevel {
    Read,
    ReadWrite,
}

impl AccessLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            AccessLevel::Read => "READ",
            AccessLevel::ReadWrite => "READ_WRITE",
        }
    }

    /// How the console says it.
    pub fn label(self) -> &'static str {
        match self {
            AccessLevel::Read => "read",
            AccessLevel::ReadWrite => "read and write",
        }
    }

    fn parse(s: &str) -> AccessLevel {
        if s == "READ_WRITE" {
            AccessLevel::ReadWrite
        } else {
            AccessLevel::Read
        }
    }
}

/// Where a grant stands. `Expired` also covers a grant still stored as ACTIVE whose expiry has
/// passed: it stopped working at that moment, whatever its status column says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantStatus {
    Active,
    Expired,
    Revoked,
}

impl GrantStatus {
    pub fn label(self) -> &'static str {
        match self {
            GrantStatus::Active => "Active",
            GrantStatus::Expired => "Expired",
            GrantStatus::Revoked => "Revoked",
        }
    }
}

/// One record a selected-records grant lists; type and date when the acting user may see them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct GrantedRecord {
    pub id: Uuid,
    #[serde(rename = "type")]
    record_type: Option<String>,
    pub date: Option<NaiveDate>,
}

impl GrantedRecord {
    pub fn new(id: Uuid, record_type: Option<RecordType>, date: Option<NaiveDate>) -> Self {
        GrantedRecord {
            id,
            record_type: record_type.map(|t| t.as_str().to_string()),
            date,
        }
    }

    pub fn record_type(&self) -> Option<RecordType> {
        self.record_type.as_deref().and_then(|t| t.parse().ok())
    }

    /// "Consultation 2024-01-15", or the id's first characters when the record is not visible.
    pub fn label(&self) -> String {
        match (self.record_type(), self.date) {
            (Some(t), Some(d)) => format!("{} {d}", t.label()),
            _ => format!("record {}", short_id(self.id)),
        }
    }
}

/// One grant as the list and its detail pane show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Grant {
    pub id: Uuid,
    pub patient: Person,
    pub grantee: Person,
    pub grantee_role: Option<Role>,
    /// `None`: all of the patient's records; else the records listed.
    pub records: Option<Vec<GrantedRecord>>,
    pub level: AccessLevel,
    pub status: GrantStatus,
    pub expires_at: DateTime<Utc>,
    pub is_emergency: bool,
    pub emergency_reason: Option<String>,
    pub granted_by: Person,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revoked_by: Option<Person>,
    pub revocation_reason: Option<String>,
}

/// Names and reasons stay out of `Debug`.
impl std::fmt::Debug for Grant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Grant")
            .field("id", &self.id)
            .field("patient", &self.patient.id)
            .field("grantee", &self.grantee.id)
            .field("records", &self.records.as_ref().map(Vec::len))
            .field("level", &self.level)
            .field("status", &self.status)
            .field("expires_at", &self.expires_at)
            .field("is_emergency", &self.is_emergency)
            .finish_non_exhaustive()
    }
}

impl Grant {
    /// "all records", "2 records (Consultation 2024-01-15, Lab result 2024-01-20)"; a long list
    /// names its first three and counts the rest.
    pub fn scope_text(&self) -> String {
        match &self.records {
            None => "all records".into(),
            Some(list) => {
                let labels: Vec<String> = list.iter().map(GrantedRecord::label).collect();
                let noun = if list.len() == 1 { "record" } else { "records" };
                format!("{} {noun} ({})", list.len(), first_few(&labels))
            }
        }
    }

    /// How the grant is named in sentences: "grant 3f2a9c1e (John Smith, read and write, all
    /// records, until 2027-11-27 23:59 UTC)".
    pub fn describe(&self) -> String {
        format!(
            "grant {} ({}, {}, {}, until {})",
            short_id(self.id),
            self.grantee.name,
            self.level.label(),
            self.scope_text(),
            when(self.expires_at)
        )
    }
}

/// "a, b, c", or "a, b, c and 9 more": a list short enough for one sentence.
pub fn first_few(items: &[String]) -> String {
    const SHOWN: usize = 3;
    if items.len() <= SHOWN {
        return items.join(", ");
    }
    format!(
        "{} and {} more",
        items[..SHOWN].join(", "),
        items.len() - SHOWN
    )
}

/// A grant's or record's id as people quote it: its first eight hex digits.
pub fn short_id(id: Uuid) -> String {
    id.simple().to_string()[..8].to_string()
}

/// "2027-11-27 23:59 UTC".
pub fn when(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// The columns every grant query reads; `past_expiry` is decided by the database's clock.
const GRANT_COLUMNS: &str = "SELECT g.id, g.patient_id, pt.first_name || ' ' || pt.last_name AS patient_name, \
        g.grantee_id, gr.first_name || ' ' || gr.last_name AS grantee_name, gr.role::text AS grantee_role, \
        g.scope::text AS scope, g.access_level::text AS access_level, g.status::text AS status, \
        g.expires_at, g.expires_at <= now() AS past_expiry, g.is_emergency, g.emergency_reason, \
        g.granted_by, gb.first_name || ' ' || gb.last_name AS granted_by_name, g.created_at, \
        g.revoked_at, g.revoked_by, rb.first_name || ' ' || rb.last_name AS revoked_by_name, \
        g.revocation_reason, \
        (SELECT coalesce(json_agg(json_build_object('id', r.record_id, 'type', m.record_type, 'date', m.record_date) \
                                  ORDER BY m.record_date, r.record_id), '[]'::json) \
           FROM access_grant_records r LEFT JOIN medical_records m ON m.id = r.record_id \
          WHERE r.grant_id = g.id) AS records \
     FROM access_grants g \
     LEFT JOIN users pt ON pt.id = g.patient_id \
     LEFT JOIN users gr ON gr.id = g.grantee_id \
     LEFT JOIN users gb ON gb.id = g.granted_by \
     LEFT JOIN users rb ON rb.id = g.revoked_by ";

#[derive(sqlx::FromRow)]
struct GrantRow {
    id: Uuid,
    patient_id: Uuid,
    patient_name: Option<String>,
    grantee_id: Uuid,
    grantee_name: Option<String>,
    grantee_role: Option<String>,
    scope: String,
    access_level: String,
    status: String,
    expires_at: DateTime<Utc>,
    past_expiry: bool,
    is_emergency: bool,
    emergency_reason: Option<String>,
    granted_by: Uuid,
    granted_by_name: Option<String>,
    created_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
    revoked_by: Option<Uuid>,
    revoked_by_name: Option<String>,
    revocation_reason: Option<String>,
    records: sqlx::types::Json<Vec<GrantedRecord>>,
}

impl GrantRow {
    /// Stored as ACTIVE but past its expiry: to be marked EXPIRED now that someone sees it.
    fn lapsed(&self) -> bool {
        self.status == "ACTIVE" && self.past_expiry
    }

    fn into_grant(self) -> Grant {
        let status = match self.status.as_str() {
            "REVOKED" => GrantStatus::Revoked,
            "EXPIRED" => GrantStatus::Expired,
            _ if self.past_expiry => GrantStatus::Expired,
            _ => GrantStatus::Active,
        };
        Grant {
            id: self.id,
            patient: person(self.patient_id, self.patient_name),
            grantee: person(self.grantee_id, self.grantee_name),
            grantee_role: self.grantee_role.and_then(|r| r.parse().ok()),
            records: (self.scope == "SELECTED_RECORDS").then_some(self.records.0),
            level: AccessLevel::parse(&self.access_level),
            status,
            expires_at: self.expires_at,
            is_emergency: self.is_emergency,
            emergency_reason: self.emergency_reason,
            granted_by: person(self.granted_by, self.granted_by_name),
            created_at: self.created_at,
            revoked_at: self.revoked_at,
            revoked_by: self.revoked_by.map(|id| person(id, self.revoked_by_name)),
            revocation_reason: self.revocation_reason,
        }
    }
}

fn person(id: Uuid, name: Option<String>) -> Person {
    Person {
        id,
        name: name.unwrap_or_else(|| "(not visible)".into()),
    }
}

/// One grant, as far as the policies let this transaction see it.
async fn load(conn: &mut PgConnection, grant: Uuid) -> Result<Option<GrantRow>, ServiceError> {
    let sql = format!("{GRANT_COLUMNS} WHERE g.id = $1");
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(grant)
        .fetch_optional(conn)
        .await
        .map_err(DbError::from)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_role_has_its_view_of_grants() {
        assert_eq!(GrantView::of(Role::MedicalRecords), Some(GrantView::All));
        assert_eq!(GrantView::of(Role::Patient), Some(GrantView::OwnRecords));
        assert_eq!(GrantView::of(Role::Nurse), Some(GrantView::Incoming));
        assert_eq!(GrantView::of(Role::Admin), None);
        assert_eq!(GrantView::of(Role::BillingStaff), None);
        assert!(!GrantView::Incoming.manages());
        assert!(GrantView::OwnRecords.manages());
    }

    #[test]
    fn a_record_without_type_or_date_is_named_by_its_id() {
        let id = Uuid::from_u128(0xabcdef12_0000_0000_0000_000000000000);
        assert_eq!(
            GrantedRecord::new(id, None, None).label(),
            "record abcdef12"
        );
        let seen = GrantedRecord::new(
            id,
            Some(RecordType::LabResult),
            NaiveDate::from_ymd_opt(2024, 1, 20),
        );
        assert_eq!(seen.label(), "Lab result 2024-01-20");
    }

    #[test]
    fn a_long_list_names_three_and_counts_the_rest() {
        let items: Vec<String> = (1..=5).map(|i| format!("r{i}")).collect();
        assert_eq!(first_few(&items[..2]), "r1, r2");
        assert_eq!(first_few(&items), "r1, r2, r3 and 2 more");
    }
}
