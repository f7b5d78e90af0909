//! Reading the audit trail: the viewer's pages (newest first, keyset-paged on (occurred_at, seq)),
//! its live tail, and an admin's "reviewed" mark. Which rows a reader sees is the database's
//! decision (`audit_read`): admins every event, records staff the events about records, a patient
//! the accesses to their own records.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::PgConnection;
use uuid::Uuid;

use super::filter::{AuditFilter, Who};
use super::{Action, Client, Event, Outcome};
use crate::db::{ActingTx, DbError};
use crate::services::sessions::{self, Session};
use crate::services::users::Role;
use crate::services::{ServiceError, Services, audit, custom_plans, keyset_page, refuse};

/// Events in one page of the viewer.
pub const PAGE_SIZE: usize = 50;
/// The most new events one poll of the live tail brings.
pub const TAIL_LIMIT: usize = 500;

/// Whether `role` has an audit view at all (SPEC "Who may do what", audit column).
pub fn may_view(role: Role) -> bool {
    matches!(role, Role::Admin | Role::MedicalRecords | Role::Patient)
}

/// Where a page ends: the next page starts after this (occurred_at, seq).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub occurred_at: DateTime<Utc>,
    pub seq: i64,
}

/// Someone an event names, as the reader may see them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named {
    pub id: Uuid,
    /// "First Last", or `None` when the reader may not see them or they are gone.
    pub name: Option<String>,
    pub role: Option<String>,
}

/// An admin's mark that an event was looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Review {
    pub by: Named,
    pub at: DateTime<Utc>,
}

/// One event as the viewer shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    pub seq: i64,
    pub id: Uuid,
    pub occurred_at: DateTime<Utc>,
    pub user: Option<Named>,
    pub session_id: Option<Uuid>,
    pub action: String,
    pub severity: String,
    pub resource_type: Option<String>,
    pub resource_id: Option<Uuid>,
    pub patient: Option<Named>,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub outcome: String,
    pub details: Value,
    /// The reason given for break-glass access, on EMERGENCY_ACCESS events the reader may see it for.
    pub break_glass_reason: Option<String>,
    /// Admins only: whether (and by whom) the event was marked reviewed.
    pub review: Option<Review>,
}

impl AuditEvent {
    /// HIGH and CRITICAL events, and every break-glass event, are the ones to look at first.
    pub fn stands_out(&self) -> bool {
        matches!(self.severity.as_str(), "HIGH" | "CRITICAL") || self.is_break_glass()
    }

    pub fn is_break_glass(&self) -> bool {
        self.action == Action::EmergencyAccess.name()
    }

    pub fn cursor(&self) -> Cursor {
        Cursor {
            occurred_at: self.occurred_at,
            seq: self.seq,
        }
    }
}

/// One page of events, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditPage {
    pub events: Vec<AuditEvent>,
    /// Where the next page starts, when there is one.
    pub next: Option<Cursor>,
    /// The chain's last sequence number when the page was read: the live tail follows from here.
    pub head: i64,
}

#[derive(sqlx::FromRow)]
struct EventRow {
    seq: i64,
    id: Uuid,
    occurred_at: DateTime<Utc>,
    user_id: Option<Uuid>,
    session_id: Option<Uuid>,
    action: String,
    severity: String,
    resource_type: Option<String>,
    resource_id: Option<Uuid>,
    patient_id: Option<Uuid>,
    ip_address: Option<String>,
    user_agent: Option<String>,
    outcome: String,
    details: Value,
}

pub(super) const EVENT_COLUMNS: &str = "SELECT l.seq, l.id, l.occurred_at, l.user_id, l.session_id, l.action, l.severity, \
     l.resource_type, l.resource_id, l.patient_id, l.ip_address, l.user_agent, l.outcome, l.details \
     FROM audit_logs l ";

/// The filter's conditions. Parameters: since, until, user, patient, action, severity, outcome,
/// resource low, resource high, words. With custom plans the absent ones fold away, and each present
/// one can use its index (text and uuid equality are leakproof, so row-level security lets them).
pub(super) const FILTER_WHERE: &str = "WHERE ($1::timestamptz IS NULL OR l.occurred_at >= $1) \
       AND ($2::timestamptz IS NULL OR l.occurred_at < $2) \
       AND ($3::uuid IS NULL OR l.user_id = $3) \
       AND ($4::uuid IS NULL OR l.patient_id = $4) \
       AND ($5::text IS NULL OR l.action = $5) \
       AND ($6::text IS NULL OR l.severity = $6) \
       AND ($7::text IS NULL OR l.outcome = $7) \
       AND ($8::uuid IS NULL OR l.resource_id BETWEEN $8 AND $9) \
       AND NOT EXISTS (SELECT 1 FROM unnest($10::text[]) w WHERE strpos(lower(concat_ws(' ', \
           l.action, l.resource_type, l.resource_id, l.ip_address, l.user_agent, l.id, l.details::text)), w) = 0) ";

/// A page, newest first, after the cursor ($11, $12), at most $13 rows.
pub const PAGE_SQL: &str = const_format::concatcp!(
    EVENT_COLUMNS,
    FILTER_WHERE,
    "AND ($11::timestamptz IS NULL OR (l.occurred_at, l.seq) < ($11, $12)) \
     ORDER BY l.occurred_at DESC, l.seq DESC LIMIT $13"
);

/// The same page found by skipping rows (`OFFSET $11`), for the scale bench's comparison only.
pub const OFFSET_PAGE_SQL: &str = const_format::concatcp!(
    EVENT_COLUMNS,
    FILTER_WHERE,
    "ORDER BY l.occurred_at DESC, l.seq DESC OFFSET $11 LIMIT $13"
);

/// Events sealed after seq $11, oldest first, at most $12.
const TAIL_SQL: &str = const_format::concatcp!(
    EVENT_COLUMNS,
    FILTER_WHERE,
    "AND l.seq > $11 ORDER BY l.seq LIMIT $12"
);

/// A filter with its times fixed and its people found: what the queries bind.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub filter: AuditFilter,
    pub now: DateTime<Utc>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub user: Option<Uuid>,
    pub patient: Option<Uuid>,
}

impl Resolved {
    /// The filter's ten parameters bound onto `query`, in [`FILTER_WHERE`]'s order.
    pub fn bind<'q, O>(
        &'q self,
        query: sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments>,
    ) -> sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments> {
        let f = &self.filter;
        query
            .bind(self.since)
            .bind(self.until)
            .bind(self.user)
            .bind(self.patient)
            .bind(f.action.map(Action::name))
            .bind(f.severity.map(super::Severity::as_str))
            .bind(f.outcome.map(Outcome::as_str))
            .bind(f.resource.map(|r| r.low))
            .bind(f.resource.map(|r| r.high))
            .bind(&f.words)
    }

    pub fn describe(&self) -> Value {
        self.filter.describe(self.now, self.user, self.patient)
    }
}

/// Fixes the filter's times and finds the people it names, as whoever `conn` acts for may see them:
/// one person each, or a sentence saying why not.
pub async fn resolve(
    conn: &mut PgConnection,
    filter: &AuditFilter,
) -> Result<Resolved, ServiceError> {
    let user = match &filter.user {
        Some(who) => Some(find(conn, who, "user").await?),
        None => None,
    };
    let patient = match &filter.patient {
        Some(who) => Some(find(conn, who, "patient").await?),
        None => None,
    };
    let now = Utc::now();
    Ok(Resolved {
        filter: filter.clone(),
        now,
        since: filter.since.map(|w| w.at(now)),
        until: filter.until.map(|w| w.at(now)),
        user,
        patient,
    })
}

async fn find(conn: &mut PgConnection, who: &Who, part: &str) -> Result<Uuid, ServiceError> {
    let (ids, asked): (Vec<Uuid>, String) = match who {
        // An id is taken as given: the events may outlive the user's row.
        Who::Id(id) => return Ok(*id),
        Who::Email(email) => (
            sqlx::query_scalar("SELECT id FROM users WHERE email_key = $1 LIMIT 2")
                .bind(email)
                .fetch_all(&mut *conn)
                .await
                .map_err(DbError::from)?,
            email.clone(),
        ),
        Who::Name(words) => (
            sqlx::query_scalar(
                "SELECT u.id FROM users u \
                 WHERE NOT EXISTS (SELECT 1 FROM unnest($1::text[]) w \
                                   WHERE strpos(lower(u.first_name || ' ' || u.last_name), w) = 0) \
                 LIMIT 6",
            )
            .bind(words)
            .fetch_all(&mut *conn)
            .await
            .map_err(DbError::from)?,
            words.join(" "),
        ),
    };
    match ids.as_slice() {
        [id] => Ok(*id),
        [] => Err(ServiceError::Invalid(format!(
            "No one you may see matches {part}:{asked}; check the name or use their email."
        ))),
        more => Err(ServiceError::Invalid(format!(
            "{} people match {part}:{asked}; type more of the name, or use their email.",
            if more.len() > 5 {
                "More than five".to_string()
            } else {
                more.len().to_string()
            }
        ))),
    }
}

/// Opens the reader's transaction, refusing (on the audit trail) roles without an audit view.
async fn begin_reader(
    svc: &Services,
    client: &Client,
    session: &Session,
) -> Result<ActingTx, ServiceError> {
    let tx = sessions::begin_live(svc, session).await?;
    if !may_view(session.user.role) {
        let message = "Your role has no audit trail to see.";
        return Err(refuse(tx, client, session, "view the audit trail", None, message).await);
    }
    Ok(tx)
}

/// One page of the events the acting user may see, newest first, after `after`. Written as
/// AUDIT_VIEW with the filter and the events shown.
pub async fn list(
    svc: &Services,
    client: &Client,
    session: &Session,
    filter: &AuditFilter,
    after: Option<Cursor>,
    limit: usize,
) -> Result<AuditPage, ServiceError> {
    let mut tx = begin_reader(svc, client, session).await?;
    let resolved = resolve(tx.conn(), filter).await?;
    let limit = limit.clamp(1, 500);
    custom_plans(tx.conn()).await?;
    let rows: Vec<EventRow> = resolved
        .bind(sqlx::query_as(PAGE_SQL))
        .bind(after.map(|c| c.occurred_at))
        .bind(after.map(|c| c.seq))
        .bind(limit as i64 + 1)
        .fetch_all(tx.conn())
        .await
        .map_err(DbError::from)?;
    let (rows, next) = keyset_page(rows, limit, |r| Cursor {
        occurred_at: r.occurred_at,
        seq: r.seq,
    });
    let head = head(tx.conn()).await?;
    let events = dress(&mut tx, session, rows).await?;
    let event = Event::new(Action::AuditView, Outcome::Success, Some(session.user.id))
        .session(session.id)
        .details(json!({
            "filter": resolved.describe(),
            // The page is the first `events` matches after `after`: with the filter, that names
            // each event shown, in a row a tenth the size of listing them.
            "after": after.map(|c| json!({"occurred_at": c.occurred_at.to_rfc3339(), "seq": c.seq})),
            "events": events.len(),
            "newest_seq": events.first().map(|e| e.seq),
            "oldest_seq": events.last().map(|e| e.seq),
        }));
    audit::write(tx.conn(), client, &event).await?;
    tx.commit().await?;
    Ok(AuditPage { events, next, head })
}

/// Events sealed after `after_seq` under the same filter, oldest first: the live tail. Not written
/// as AUDIT_VIEW each poll — the view and its filter are already on the trail, and the viewer's own
/// rows would otherwise feed the tail they appear in.
pub async fn newer(
    svc: &Services,
    client: &Client,
    session: &Session,
    filter: &AuditFilter,
    after_seq: i64,
) -> Result<(Vec<AuditEvent>, i64), ServiceError> {
    let mut tx = begin_reader(svc, client, session).await?;
    let resolved = resolve(tx.conn(), filter).await?;
    custom_plans(tx.conn()).await?;
    let rows: Vec<EventRow> = resolved
        .bind(sqlx::query_as(TAIL_SQL))
        .bind(after_seq)
        .bind(TAIL_LIMIT as i64)
        .fetch_all(tx.conn())
        .await
        .map_err(DbError::from)?;
    let head = match rows.last() {
        Some(r) if rows.len() == TAIL_LIMIT => r.seq,
        _ => head(tx.conn()).await?,
    };
    let events = dress(&mut tx, session, rows).await?;
    tx.commit().await?;
    Ok((events, head))
}

/// Marks event `seq` reviewed by the acting admin (AUDIT_REVIEWED). Each event is reviewed once.
pub async fn mark_reviewed(
    svc: &Services,
    client: &Client,
    session: &Session,
    seq: i64,
) -> Result<Review, ServiceError> {
    let mut tx = sessions::begin_live(svc, session).await?;
    if session.user.role != Role::Admin {
        let message = "Only admins mark audit events reviewed.";
        return Err(refuse(
            tx,
            client,
            session,
            "mark an audit event reviewed",
            None,
            message,
        )
        .await);
    }
    let found: Option<Uuid> = sqlx::query_scalar("SELECT id FROM audit_logs WHERE seq = $1")
        .bind(seq)
        .fetch_optional(tx.conn())
        .await
        .map_err(DbError::from)?;
    let Some(event_id) = found else {
        return Err(ServiceError::Invalid(format!(
            "There is no audit event number {seq}."
        )));
    };
    let earlier: Option<(Uuid, DateTime<Utc>)> =
        sqlx::query_as("SELECT reviewed_by, reviewed_at FROM audit_reviews WHERE audit_seq = $1")
            .bind(seq)
            .fetch_optional(tx.conn())
            .await
            .map_err(DbError::from)?;
    if let Some((by, at)) = earlier {
        let by = name_of(&mut tx, by).await?;
        return Err(ServiceError::Conflict(format!(
            "Event {seq} was already marked reviewed by {} at {}.",
            by.name.as_deref().unwrap_or("someone"),
            at.format("%Y-%m-%d %H:%M UTC")
        )));
    }
    let at: DateTime<Utc> = sqlx::query_scalar(
        "INSERT INTO audit_reviews (audit_seq, reviewed_by) VALUES ($1, $2) RETURNING reviewed_at",
    )
    .bind(seq)
    .bind(session.user.id)
    .fetch_one(tx.conn())
    .await
    .map_err(|e| match DbError::sqlstate(&e).as_deref() {
        Some("23505") => ServiceError::Conflict(format!(
            "Event {seq} was marked reviewed a moment ago by someone else."
        )),
        _ => DbError::from(e).into(),
    })?;
    let event = Event::new(
        Action::AuditReviewed,
        Outcome::Success,
        Some(session.user.id),
    )
    .session(session.id)
    .resource("audit_log", event_id)
    .details(json!({"seq": seq}));
    audit::write(tx.conn(), client, &event).await?;
    let by = name_of(&mut tx, session.user.id).await?;
    tx.commit().await?;
    Ok(Review { by, at })
}

/// The chain's last sequence number (the viewer's tail follows from it; an export stops at it).
pub(super) async fn head(conn: &mut PgConnection) -> Result<i64, ServiceError> {
    Ok(sqlx::query_scalar("SELECT hsc_audit_head()")
        .fetch_one(conn)
        .await
        .map_err(DbError::from)?)
}

/// Who each id is, as the acting user may see them, in the order asked.
async fn names(tx: &mut ActingTx, ids: &[Uuid]) -> Result<Vec<Named>, ServiceError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let found: Vec<(Uuid, String, String)> = sqlx::query_as(
        "SELECT id, first_name || ' ' || last_name, role::text FROM users WHERE id = ANY($1)",
    )
    .bind(ids)
    .fetch_all(tx.conn())
    .await
    .map_err(DbError::from)?;
    Ok(ids
        .iter()
        .map(|id| {
            let known = found.iter().find(|(f, _, _)| f == id);
            Named {
                id: *id,
                name: known.map(|(_, n, _)| n.clone()),
                role: known.map(|(_, _, r)| r.clone()),
            }
        })
        .collect())
}

async fn name_of(tx: &mut ActingTx, id: Uuid) -> Result<Named, ServiceError> {
    Ok(names(tx, &[id]).await?.into_iter().next().unwrap_or(Named {
        id,
        name: None,
        role: None,
    }))
}

/// Adds names, break-glass reasons and (for admins) review marks to a page's rows.
async fn dress(
    tx: &mut ActingTx,
    session: &Session,
    rows: Vec<EventRow>,
) -> Result<Vec<AuditEvent>, ServiceError> {
    let seqs: Vec<i64> = rows.iter().map(|r| r.seq).collect();
    let reviews: Vec<(i64, Uuid, DateTime<Utc>)> = if session.user.role == Role::Admin
        && !seqs.is_empty()
    {
        sqlx::query_as("SELECT audit_seq, reviewed_by, reviewed_at FROM audit_reviews WHERE audit_seq = ANY($1)")
            .bind(&seqs)
            .fetch_all(tx.conn())
            .await
            .map_err(DbError::from)?
    } else {
        Vec::new()
    };

    // Everyone the page names — actors, patients, reviewers — in one lookup.
    let mut people: Vec<Uuid> = rows
        .iter()
        .flat_map(|r| [r.user_id, r.patient_id])
        .flatten()
        .chain(reviews.iter().map(|(_, by, _)| *by))
        .collect();
    people.sort();
    people.dedup();
    let named = names(tx, &people).await?;
    let person = |id: Uuid| {
        named.iter().find(|n| n.id == id).cloned().unwrap_or(Named {
            id,
            name: None,
            role: None,
        })
    };

    let grants: Vec<Uuid> = rows
        .iter()
        .filter(|r| r.action == Action::EmergencyAccess.name())
        .filter_map(|r| r.resource_id)
        .collect();
    let reasons: Vec<(Uuid, Option<String>)> = if grants.is_empty() {
        Vec::new()
    } else {
        sqlx::query_as(
            "SELECT id, emergency_reason FROM access_grants WHERE id = ANY($1) AND is_emergency",
        )
        .bind(&grants)
        .fetch_all(tx.conn())
        .await
        .map_err(DbError::from)?
    };

    Ok(rows
        .into_iter()
        .map(|r| AuditEvent {
            user: r.user_id.map(person),
            patient: r.patient_id.map(person),
            break_glass_reason: reasons
                .iter()
                .find(|(id, _)| {
                    Some(*id) == r.resource_id && r.action == Action::EmergencyAccess.name()
                })
                .and_then(|(_, reason)| reason.clone()),
            review: reviews
                .iter()
                .find(|(seq, _, _)| *seq == r.seq)
                .map(|(_, by, at)| Review {
                    by: person(*by),
                    at: *at,
                }),
            seq: r.seq,
            id: r.id,
            occurred_at: r.occurred_at,
            session_id: r.session_id,
            action: r.action,
            severity: r.severity,
            resource_type: r.resource_type,
            resource_id: r.resource_id,
            ip_address: r.ip_address,
            user_agent: r.user_agent,
            outcome: r.outcome,
            details: r.details,
        })
        .collect())
}
