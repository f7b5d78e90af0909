//! The browser's pages: newest first, keyset-paginated on (record_date, id), each query written along
//! the acting user's access paths so PostgreSQL reads index ranges instead of filtering every record
//! through the policy. The policy stays on as the safety net.

use chrono::NaiveDate;
use serde_json::json;
use uuid::Uuid;

use super::content::open_title;
use super::{Filter, Person, RecordType, refuse};
use crate::db::DbError;
use crate::services::audit::{self, Action, Client, Event, Outcome};
use crate::services::sessions::{self, Session};
use crate::services::users::Role;
use crate::services::{ServiceError, Services};

/// Shown for a title no configured key opens.
pub const UNREADABLE: &str = "(unreadable: not sealed under a configured key)";

/// Rows in one browser page.
pub const PAGE_SIZE: usize = 50;
/// The page query carries a copy of the records policy (and its InitPlans) for every scan of
/// medical_records in it, so planning it afresh costs ~3 ms — more than running it. Its generic plan
/// follows the same index paths for every user and cursor; this makes PostgreSQL keep that plan with
/// the connection's prepared statement instead of re-planning on each page.
pub const PAGE_PLAN: &str = "SET LOCAL plan_cache_mode = force_generic_plan";

/// Rows one filtered request looks through before it answers with what it found so far.
const SCAN_BUDGET: usize = 2000;

/// Later than any record's date, and still a date PostgreSQL stores.
const FAR_FUTURE: NaiveDate = match NaiveDate::from_ymd_opt(10000, 1, 1) {
    Some(d) => d,
    None => NaiveDate::MIN,
};

/// Where a page ends: the next page starts strictly after this (older, or same day and smaller id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub record_date: NaiveDate,
    pub id: Uuid,
}

/// One row of the browser. Its `Debug` leaves the title out.
#[derive(Clone, PartialEq, Eq)]
pub struct RecordSummary {
    pub id: Uuid,
    pub patient: Person,
    pub provider: Person,
    pub record_type: RecordType,
    /// `None` for staff who see metadata only.
    pub title: Option<String>,
    pub record_date: NaiveDate,
    pub version: i32,
}

impl std::fmt::Debug for RecordSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordSummary")
            .field("id", &self.id)
            .field("record_type", &self.record_type)
            .field("record_date", &self.record_date)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

/// A page of the browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub records: Vec<RecordSummary>,
    /// Where the next page starts, when there may be more.
    pub next: Option<Cursor>,
    /// Rows looked through for this page (more than shown when a filter skipped some).
    pub scanned: usize,
}

// The candidate ids for each access path, newest first, after the cursor and inside the date range.
// $1 acting user, $2/$3 cursor (record_date, id), $4 earliest date, $5 page size.
const KEYSET: &str = "(m.record_date, m.id) < ($2, $3) AND m.record_date >= $4";

/// A clinician: their newest visible records straight from `record_access` (provider, author and
/// grant rows, kept by triggers), grant rows counted only until their grant expires — one index range.
/// A record visible for several reasons has several rows: DISTINCT ON keeps one, in index order,
/// before the limit, so a page is never cut short by them.
const CLINICIAN_PATHS: &str = "SELECT DISTINCT ON (ra.record_date, ra.record_id) ra.record_id AS id, ra.record_date \
     FROM record_access ra \
     WHERE ra.user_id = $1 AND (ra.record_date, ra.record_id) < ($2, $3) AND ra.record_date >= $4 \
       AND (ra.grant_id IS NULL OR ra.expires_at > now()) \
     ORDER BY ra.record_date DESC, ra.record_id DESC LIMIT $5";

/// A patient: their own chart.
const PATIENT_PATHS: &str = const_format::concatcp!(
    "SELECT m.id, m.record_date FROM medical_records m WHERE m.patient_id = $1 AND ",
    KEYSET,
    " ORDER BY m.record_date DESC, m.id DESC LIMIT $5"
);

/// Records and billing staff: every record's index card, through the date index.
/// ($1 is unused but bound, so every path takes the same parameters.)
const STAFF_PATHS: &str = const_format::concatcp!(
    "SELECT m.id, m.record_date FROM medical_records m WHERE $1::uuid IS NOT NULL AND ",
    KEYSET,
    " ORDER BY m.record_date DESC, m.id DESC LIMIT $5"
);

macro_rules! page_query {
    ($paths:expr) => {
        const_format::concatcp!(
            "SELECT m.id, m.patient_id, pt.first_name || ' ' || pt.last_name AS patient_name, \
                    m.provider_id, pr.first_name || ' ' || pr.last_name AS provider_name, \
                    m.record_type::text AS record_type, m.record_date, m.version, v.title \
             FROM (SELECT DISTINCT c.id, c.record_date FROM (",
            $paths,
            ") c ORDER BY c.record_date DESC, c.id DESC LIMIT $5) p \
             JOIN medical_records m ON m.id = p.id \
             LEFT JOIN users pt ON pt.id = m.patient_id \
             LEFT JOIN users pr ON pr.id = m.provider_id \
             LEFT JOIN record_versions v ON v.record_id = m.id AND v.version = m.version \
             ORDER BY m.record_date DESC, m.id DESC"
        )
    };
}

const CLINICIAN_PAGE: &str = page_query!(CLINICIAN_PATHS);
const PATIENT_PAGE: &str = page_query!(PATIENT_PATHS);
const STAFF_PAGE: &str = page_query!(STAFF_PATHS);

/// The page query for a role (public for the benchmark's EXPLAIN), or `None` when the role has no
/// records tab. Parameters: $1 acting user, $2/$3 cursor date and id, $4 earliest date, $5 rows.
pub fn page_sql(role: Role) -> Option<&'static str> {
    match role {
        Role::Physician | Role::Nurse => Some(CLINICIAN_PAGE),
        Role::Patient => Some(PATIENT_PAGE),
        Role::MedicalRecords | Role::BillingStaff => Some(STAFF_PAGE),
        Role::Admin => None,
    }
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    patient_id: Uuid,
    patient_name: Option<String>,
    provider_id: Uuid,
    provider_name: Option<String>,
    record_type: String,
    record_date: NaiveDate,
    version: i32,
    title: Option<Vec<u8>>,
}

/// The first cursor of a listing: the day after `to` (or the far future), before every id.
fn start(after: Option<Cursor>, filter: &Filter) -> Cursor {
    let ceiling = Cursor {
        record_date: filter.to.and_then(|d| d.succ_opt()).unwrap_or(FAR_FUTURE),
        id: Uuid::nil(),
    };
    match after {
        Some(c) if (c.record_date, c.id) < (ceiling.record_date, ceiling.id) => c,
        _ => ceiling,
    }
}

/// One page of the records the acting user may see, newest first, after `after` (RECORD_LIST, with
/// the ids shown). With filter words the request looks through at most a few thousand rows and
/// returns what matched, with a cursor to go on.
pub async fn list(
    svc: &Services,
    client: &Client,
    session: &Session,
    filter: &Filter,
    after: Option<Cursor>,
    limit: usize,
) -> Result<Page, ServiceError> {
    let mut tx = sessions::begin_live(svc, session).await?;
    let role = session.user.role;
    let Some(sql) = page_sql(role) else {
        return Err(refuse(
            tx,
            client,
            session,
            "list",
            None,
            "Your role has no records to browse.",
        )
        .await);
    };
    let limit = limit.clamp(1, 500);
    let batch = if filter.words.is_empty() {
        limit
    } else {
        limit.max(200)
    };
    let floor = filter
        .from
        .unwrap_or(NaiveDate::from_ymd_opt(1, 1, 1).unwrap_or_default());
    let mut cursor = start(after, filter);
    sqlx::query(PAGE_PLAN)
        .execute(tx.conn())
        .await
        .map_err(DbError::from)?;
    let mut page = Page {
        records: Vec::new(),
        next: None,
        scanned: 0,
    };
    loop {
        let rows: Vec<Row> = sqlx::query_as(sql)
            .bind(session.user.id)
            .bind(cursor.record_date)
            .bind(cursor.id)
            .bind(floor)
            .bind(batch as i64)
            .fetch_all(tx.conn())
            .await
            .map_err(DbError::from)?;
        let full = rows.len() == batch;
        for row in rows {
            page.scanned += 1;
            cursor = Cursor {
                record_date: row.record_date,
                id: row.id,
            };
            // The policies decide whose content is readable: a title came back, or it did not. One
            // that no key opens is shown as such; the rest of the page still serves.
            let title = row.title.as_ref().map(|t| {
                open_title(&svc.keyring, row.id, row.version, t).unwrap_or_else(|e| {
                    tracing::error!(record = %row.id, error = %e, "a record title could not be decrypted");
                    UNREADABLE.to_string()
                })
            });
            let summary = RecordSummary {
                id: row.id,
                patient: super::person(row.patient_id, row.patient_name),
                provider: super::person(row.provider_id, row.provider_name),
                record_type: row.record_type.parse()?,
                title,
                record_date: row.record_date,
                version: row.version,
            };
            if matches(filter, &summary) {
                page.records.push(summary);
                if page.records.len() == limit {
                    break;
                }
            }
        }
        let more = full || page.records.len() == limit;
        if page.records.len() == limit || !full || page.scanned >= SCAN_BUDGET {
            page.next = more.then_some(cursor);
            break;
        }
    }
    let ids: Vec<Uuid> = page.records.iter().map(|r| r.id).collect();
    // Whose charts the page showed, for "who looked at my chart".
    let mut patients: Vec<Uuid> = page.records.iter().map(|r| r.patient.id).collect();
    patients.sort();
    patients.dedup();
    let event = Event::new(Action::RecordList, Outcome::Success, Some(session.user.id))
        .session(session.id)
        .details(json!({"records": ids, "patients": patients, "filtered": !filter.is_empty()}));
    audit::write(tx.conn(), client, &event).await?;
    tx.commit().await?;
    Ok(page)
}

fn matches(filter: &Filter, r: &RecordSummary) -> bool {
    if filter.words.is_empty() {
        return true;
    }
    let patient = r.patient.name.to_lowercase();
    let provider = r.provider.name.to_lowercase();
    let kind = r.record_type.label().to_lowercase();
    let title = r.title.as_deref().unwrap_or("").to_lowercase();
    filter.matches(&[&patient, &provider, &kind, r.record_type.as_str(), &title])
}
