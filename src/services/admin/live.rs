//! The admin's list of live sessions, and ending them.

use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use super::{Cursor, LiveSession, PAGE_SIZE, SessionFilter, begin_admin, invalid};
use crate::db::DbError;
use crate::services::audit::{self, Action, Client, Event, Outcome};
use crate::services::sessions::{self, Revoke, Session};
use crate::services::{ServiceError, Services, custom_plans, keyset_page};

/// Why a session an admin ended was ended, as its console and the audit trail say it.
const ENDED_BY_ADMIN: &str = "ended by an admin";

#[derive(sqlx::FromRow)]
struct SessionRow {
    id: Uuid,
    user_id: Uuid,
    first_name: String,
    last_name: String,
    email: String,
    role: String,
    source: String,
    user_agent: String,
    started_at: DateTime<Utc>,
    last_activity_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
}

/// One page of the sessions still active and unexpired, newest first, after `after`. SESSION_LIST.
pub async fn sessions(
    svc: &Services,
    client: &Client,
    session: &Session,
    filter: &SessionFilter,
    after: Option<Cursor>,
) -> Result<(Vec<LiveSession>, Option<Cursor>), ServiceError> {
    let mut tx = begin_admin(svc, client, session, "list sessions", None).await?;
    custom_plans(tx.conn()).await?;
    let rows: Vec<SessionRow> = sqlx::query_as(
        "SELECT s.id, s.user_id, u.first_name, u.last_name, u.email, u.role::text AS role, \
                s.ip_address AS source, coalesce(s.user_agent, '') AS user_agent, \
                s.created_at AS started_at, s.last_activity_at, s.expires_at \
         FROM sessions s JOIN users u ON u.id = s.user_id \
         WHERE s.is_active AND s.expires_at > now() \
           AND ($1::uuid IS NULL OR s.user_id = $1) \
           AND NOT EXISTS (SELECT 1 FROM unnest($2::text[]) w \
                           WHERE strpos(lower(u.first_name || ' ' || u.last_name || ' ' || u.email || ' ' \
                                              || s.ip_address), w) = 0) \
           AND ($3::timestamptz IS NULL OR (s.created_at, s.id) < ($3, $4)) \
         ORDER BY s.created_at DESC, s.id DESC \
         LIMIT $5",
    )
    .bind(filter.user)
    .bind(&filter.words)
    .bind(after.map(|c| c.0))
    .bind(after.map(|c| c.1))
    .bind(PAGE_SIZE as i64 + 1)
    .fetch_all(tx.conn())
    .await
    .map_err(DbError::from)?;
    let (rows, next) = keyset_page(rows, PAGE_SIZE, |r| (r.started_at, r.id));
    let mut list = Vec::with_capacity(rows.len());
    for r in rows {
        list.push(LiveSession {
            id: r.id,
            user_id: r.user_id,
            user_name: format!("{} {}", r.first_name, r.last_name),
            email: r.email,
            role: super::accounts::role_of(&r.role)?,
            source: r.source,
            user_agent: r.user_agent,
            started_at: r.started_at,
            last_activity_at: r.last_activity_at,
            expires_at: r.expires_at,
        });
    }
    let ids: Vec<Uuid> = list.iter().map(|s| s.id).collect();
    let event = Event::new(Action::SessionList, Outcome::Success, Some(session.user.id))
        .session(session.id)
        .details(json!({
            "sessions": ids,
            "user": filter.user,
            "word_filter": !filter.words.is_empty(),
            "page_after": after.map(|c| c.1),
        }));
    audit::write(tx.conn(), client, &event).await?;
    tx.commit().await?;
    Ok((list, next))
}

/// Ends one session; its console notices within 30 seconds and every service call refuses it at
/// once. The admin's own current session is not ended here: they log out. SESSION_REVOKED.
pub async fn end_session(
    svc: &Services,
    client: &Client,
    session: &Session,
    target: Uuid,
) -> Result<(), ServiceError> {
    let attempt = "end a session";
    let mut tx = begin_admin(svc, client, session, attempt, Some(("session", target))).await?;
    if target == session.id {
        return Err(invalid(
            "This is your own session; log out to end it.".into(),
        ));
    }
    let ended = sessions::revoke(
        tx.conn(),
        client,
        session,
        Revoke::One(target),
        ENDED_BY_ADMIN,
    )
    .await?;
    if ended.is_empty() {
        return Err(ServiceError::Conflict(
            "That session has already ended.".into(),
        ));
    }
    tx.commit().await?;
    Ok(())
}

/// Ends every active session of `user` (their own current one kept, when an admin ends their own
/// other sessions); returns how many. SESSION_REVOKED for each.
pub async fn end_sessions_of(
    svc: &Services,
    client: &Client,
    session: &Session,
    user: Uuid,
) -> Result<u64, ServiceError> {
    let attempt = "end a user's sessions";
    let mut tx = begin_admin(svc, client, session, attempt, Some(("user", user))).await?;
    let except = (user == session.user.id).then_some(session.id);
    let which = Revoke::AllOf { user, except };
    let ended = sessions::revoke(tx.conn(), client, session, which, ENDED_BY_ADMIN).await?;
    tx.commit().await?;
    Ok(ended.len() as u64)
}
