//! The grant list: soonest expiry first, keyset-paged on (expires_at, id), filtered by status,
//! patient, grantee and "expiring within N days". Grants seen past their expiry but still stored as
//! ACTIVE are marked EXPIRED in the same transaction (GRANT_EXPIRED); the listing is GRANT_LIST.

use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use super::{GRANT_COLUMNS, Grant, GrantRow, GrantView};
use crate::db::{ActingTx, DbError};
use crate::services::audit::{self, Action, Client, Event, Outcome};
use crate::services::sessions::{self, Session};
use crate::services::{ServiceError, Services, custom_plans, keyset_page, refuse};

/// Rows in one page of the list.
pub const PAGE_SIZE: usize = 50;
/// The most people a `patient:` or `grantee:` name may stand for.
const MAX_NAMED: usize = 1000;
/// The longest "expiring within" the filter takes, in days.
const MAX_WITHIN_DAYS: u32 = 3660;

/// Which grants by where they stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StatusFilter {
    /// Working now: ACTIVE and not past expiry (the list's default).
    #[default]
    Active,
    /// Marked EXPIRED, or past expiry.
    Expired,
    Revoked,
    /// Break-glass grants, whatever their status.
    Emergency,
    All,
}

impl StatusFilter {
    fn as_str(self) -> &'static str {
        match self {
            StatusFilter::Active => "active",
            StatusFilter::Expired => "expired",
            StatusFilter::Revoked => "revoked",
            StatusFilter::Emergency => "emergency",
            StatusFilter::All => "all",
        }
    }
}

/// What the `/` line of the grants list asks for. Words: a status (`active` — the default —
/// `expired`, `revoked`, `emergency`, `all`), `expiring:N` (active grants ending within N days),
/// `patient:NAME`, `grantee:NAME`, and plain words matched against either name.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct GrantFilter {
    pub status: StatusFilter,
    pub expiring_within: Option<u32>,
    pub patient_words: Vec<String>,
    pub grantee_words: Vec<String>,
    pub words: Vec<String>,
}

/// Names typed into the filter stay out of `Debug`: it tells how many there are.
impl std::fmt::Debug for GrantFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GrantFilter")
            .field("status", &self.status)
            .field("expiring_within", &self.expiring_within)
            .field("patient_words", &self.patient_words.len())
            .field("grantee_words", &self.grantee_words.len())
            .field("words", &self.words.len())
            .finish()
    }
}

impl GrantFilter {
    /// Parses the filter line; a word it does not understand is named in one sentence.
    pub fn parse(text: &str) -> Result<GrantFilter, ServiceError> {
        let mut filter = GrantFilter::default();
        let mut status: Option<(StatusFilter, String)> = None;
        for word in text.split_whitespace() {
            let lower = word.to_lowercase();
            let named = match lower.as_str() {
                "active" => Some(StatusFilter::Active),
                "expired" => Some(StatusFilter::Expired),
                "revoked" => Some(StatusFilter::Revoked),
                "emergency" => Some(StatusFilter::Emergency),
                "all" => Some(StatusFilter::All),
                _ => None,
            };
            if let Some(s) = named {
                if let Some((_, earlier)) = &status {
                    return Err(invalid(format!(
                        "The filter names two statuses, {earlier:?} and {word:?}; keep one."
                    )));
                }
                status = Some((s, word.to_string()));
                continue;
            }
            match lower.split_once(':') {
                Some(("expiring" | "within", days)) => {
                    let n = days
                        .parse::<u32>()
                        .ok()
                        .filter(|n| (1..=MAX_WITHIN_DAYS).contains(n));
                    match n {
                        Some(n) => filter.expiring_within = Some(n),
                        None => {
                            return Err(invalid(format!(
                                "{word:?} needs a number of days from 1 to {MAX_WITHIN_DAYS}, such as expiring:30."
                            )));
                        }
                    }
                }
                Some(("patient", name)) if !name.is_empty() => {
                    filter.patient_words.push(name.to_string())
                }
                Some(("grantee", name)) if !name.is_empty() => {
                    filter.grantee_words.push(name.to_string())
                }
                Some(("patient" | "grantee", _)) => {
                    return Err(invalid(format!(
                        "{word:?} needs a name after the colon, such as patient:anderson."
                    )));
                }
                Some(_) => {
                    return Err(invalid(format!(
                        "{word:?} is not a filter; use a status (active, expired, revoked, emergency, all), \
                         expiring:DAYS, patient:NAME, grantee:NAME or plain words."
                    )));
                }
                None => filter.words.push(lower),
            }
        }
        if let Some((s, _)) = status {
            filter.status = s;
        }
        if filter.expiring_within.is_some()
            && matches!(filter.status, StatusFilter::Expired | StatusFilter::Revoked)
        {
            return Err(invalid(
                "expiring: lists grants still running; it cannot be combined with expired or revoked.".into(),
            ));
        }
        Ok(filter)
    }
}

fn invalid(sentence: String) -> ServiceError {
    ServiceError::Invalid(sentence)
}

/// Where a page ends: the next starts strictly after (later expiry, or the same and a larger id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub expires_at: DateTime<Utc>,
    pub id: Uuid,
}

/// One page of grants, and where the next one starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantPage {
    pub grants: Vec<Grant>,
    pub next: Option<Cursor>,
}

/// The list for every role: the role's own scope is a parameter, so custom plans (forced below)
/// fold the other branches away and each role's page is an index range. `patient:` and `grantee:`
/// arrive as the matching people's ids (`people_named`), so their grants are read through the
/// patient and grantee indexes instead of name-matching every grant in expiry order (BENCHMARKS.md).
const PAGE_WHERE: &str = "WHERE ($1::uuid IS NULL OR g.patient_id = $1) \
       AND ($2::uuid IS NULL OR g.grantee_id = $2) \
       AND CASE $3::text \
             WHEN 'active' THEN g.status = 'ACTIVE' AND g.expires_at > now() \
             WHEN 'expired' THEN g.status = 'EXPIRED' OR (g.status = 'ACTIVE' AND g.expires_at <= now()) \
             WHEN 'revoked' THEN g.status = 'REVOKED' \
             WHEN 'emergency' THEN g.is_emergency \
             ELSE true END \
       AND ($4::int IS NULL OR (g.status = 'ACTIVE' AND g.expires_at > now() \
                                AND g.expires_at <= now() + make_interval(days => $4))) \
       AND ($5::uuid[] IS NULL OR g.patient_id = ANY ($5)) \
       AND ($6::uuid[] IS NULL OR g.grantee_id = ANY ($6)) \
       AND NOT EXISTS (SELECT 1 FROM unnest($7::text[]) w \
                       WHERE strpos(lower(coalesce(pt.first_name || ' ' || pt.last_name, '') || ' ' \
                                          || coalesce(gr.first_name || ' ' || gr.last_name, '')), w) = 0) \
       AND ($8::timestamptz IS NULL OR (g.expires_at, g.id) > ($8, $9)) \
     ORDER BY g.expires_at, g.id \
     LIMIT $10";

/// The page query, for `EXPLAIN` in the scale bench. Its parameters: patient scope, grantee scope,
/// status, expiring-within days, patient ids, grantee ids, name words, cursor expiry, cursor id,
/// limit.
pub fn page_sql() -> String {
    format!("{GRANT_COLUMNS}{PAGE_WHERE}")
}

/// One page of the grants the acting user may see, soonest expiry first, after `after`.
pub async fn list(
    svc: &Services,
    client: &Client,
    session: &Session,
    filter: &GrantFilter,
    after: Option<Cursor>,
    limit: usize,
) -> Result<GrantPage, ServiceError> {
    let mut tx = sessions::begin_live(svc, session).await?;
    let me = session.user.id;
    let (patient, grantee) = match GrantView::of(session.user.role) {
        Some(GrantView::All) => (None, None),
        Some(GrantView::OwnRecords) => (Some(me), None),
        Some(GrantView::Incoming) => (None, Some(me)),
        None => {
            let message = "Your role has no access grants to see.";
            return Err(refuse(tx, client, session, "list grants", None, message).await);
        }
    };
    let limit = limit.clamp(1, 500);
    custom_plans(tx.conn()).await?;
    let patients = people_named(&mut tx, &filter.patient_words, true).await?;
    let grantees = people_named(&mut tx, &filter.grantee_words, false).await?;
    let sql = page_sql();
    let rows: Vec<GrantRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(patient)
        .bind(grantee)
        .bind(filter.status.as_str())
        .bind(filter.expiring_within.map(|d| d as i32))
        .bind(patients)
        .bind(grantees)
        .bind(&filter.words)
        .bind(after.map(|c| c.expires_at))
        .bind(after.map(|c| c.id))
        .bind(limit as i64 + 1)
        .fetch_all(tx.conn())
        .await
        .map_err(DbError::from)?;
    let (rows, next) = keyset_page(rows, limit, |r| Cursor {
        expires_at: r.expires_at,
        id: r.id,
    });
    mark_expired(&mut tx, client, session, &rows).await?;
    let grants: Vec<Grant> = rows.into_iter().map(GrantRow::into_grant).collect();
    let ids: Vec<Uuid> = grants.iter().map(|g| g.id).collect();
    let mut patients: Vec<Uuid> = grants.iter().map(|g| g.patient.id).collect();
    patients.sort();
    patients.dedup();
    let event = Event::new(Action::GrantList, Outcome::Success, Some(me))
        .session(session.id)
        .details(json!({
            "grants": ids,
            "patients": patients,
            "status": filter.status.as_str(),
            "expiring_within_days": filter.expiring_within,
            "name_filter": !(filter.words.is_empty() && filter.patient_words.is_empty()
                && filter.grantee_words.is_empty()),
        }));
    audit::write(tx.conn(), client, &event).await?;
    tx.commit().await?;
    Ok(GrantPage { grants, next })
}

/// The ids of the patients (or, `patients` false, the staff) whose names contain every one of
/// `words`, as far as the acting user may see them; `None` when there are no words.
async fn people_named(
    tx: &mut ActingTx,
    words: &[String],
    patients: bool,
) -> Result<Option<Vec<Uuid>>, ServiceError> {
    if words.is_empty() {
        return Ok(None);
    }
    // Staff are a few hundred; patients may be many, so a name matching too many is refused
    // rather than sent as a huge list. Deleted staff stay findable: their grants are the ones to
    // find and revoke.
    let sql = if patients {
        "SELECT u.id FROM users u WHERE u.role = 'patient' \
           AND NOT EXISTS (SELECT 1 FROM unnest($1::text[]) w \
                           WHERE strpos(lower(u.first_name || ' ' || u.last_name), w) = 0) \
         LIMIT $2"
    } else {
        "SELECT u.id FROM users u WHERE u.role <> 'patient' \
           AND NOT EXISTS (SELECT 1 FROM unnest($1::text[]) w \
                           WHERE strpos(lower(u.first_name || ' ' || u.last_name), w) = 0) \
         LIMIT $2"
    };
    let ids: Vec<Uuid> = sqlx::query_scalar(sql)
        .bind(words)
        .bind(MAX_NAMED as i64 + 1)
        .fetch_all(tx.conn())
        .await
        .map_err(DbError::from)?;
    if ids.len() > MAX_NAMED {
        return Err(ServiceError::Invalid(format!(
            "More than {MAX_NAMED} people match {:?}; type more of the name.",
            words.join(" ")
        )));
    }
    Ok(Some(ids))
}

/// Marks the grants on show that are past their expiry but still stored as ACTIVE, one
/// GRANT_EXPIRED row each. (They had already stopped working: the policies compare the expiry with
/// the clock. This brings the status column up to date.)
pub(super) async fn mark_expired(
    tx: &mut ActingTx,
    client: &Client,
    session: &Session,
    rows: &[GrantRow],
) -> Result<(), ServiceError> {
    let lapsed: Vec<Uuid> = rows.iter().filter(|r| r.lapsed()).map(|r| r.id).collect();
    if lapsed.is_empty() {
        return Ok(());
    }
    let marked: Vec<(Uuid, Uuid, DateTime<Utc>)> = sqlx::query_as(
        "UPDATE access_grants SET status = 'EXPIRED' \
         WHERE id = ANY($1) AND status = 'ACTIVE' AND expires_at <= now() \
         RETURNING id, patient_id, expires_at",
    )
    .bind(&lapsed)
    .fetch_all(tx.conn())
    .await
    .map_err(DbError::from)?;
    for (grant, patient, expired_at) in marked {
        let event = Event::new(
            Action::GrantExpired,
            Outcome::Success,
            Some(session.user.id),
        )
        .session(session.id)
        .resource("access_grant", grant)
        .patient(patient)
        .details(json!({"expired_at": expired_at.to_rfc3339()}));
        audit::write(tx.conn(), client, &event).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> GrantFilter {
        GrantFilter::parse(text).unwrap()
    }

    fn error(text: &str) -> String {
        GrantFilter::parse(text).unwrap_err().to_string()
    }

    #[test]
    fn the_filter_reads_statuses_names_and_days() {
        assert_eq!(parse(""), GrantFilter::default());
        assert_eq!(parse("").status, StatusFilter::Active);
        let f = parse("Revoked patient:Anderson grantee:smith carol");
        assert_eq!(f.status, StatusFilter::Revoked);
        assert_eq!(f.patient_words, ["anderson"]);
        assert_eq!(f.grantee_words, ["smith"]);
        assert_eq!(f.words, ["carol"]);
        let f = parse("expiring:30");
        assert_eq!(
            (f.status, f.expiring_within),
            (StatusFilter::Active, Some(30))
        );
        assert_eq!(parse("all within:7").expiring_within, Some(7));
        assert_eq!(parse("emergency").status, StatusFilter::Emergency);
    }

    #[test]
    fn a_filter_word_it_does_not_understand_is_named() {
        assert!(error("expiring:soon").contains("\"expiring:soon\" needs a number of days"));
        assert!(error("expiring:0").contains("from 1 to 3660"));
        assert!(error("patient:").contains("needs a name after the colon"));
        assert!(error("colour:red").contains("\"colour:red\" is not a filter"));
        assert!(error("active revoked").contains("two statuses"));
        assert!(error("revoked expiring:30").contains("cannot be combined"));
        assert!(error("expired within:7").contains("cannot be combined"));
        // Break-glass grants still running that end soon.
        let f = parse("emergency expiring:1");
        assert_eq!(
            (f.status, f.expiring_within),
            (StatusFilter::Emergency, Some(1))
        );
    }
}
