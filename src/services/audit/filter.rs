//! Which audit events to show or export: the viewer's `/` line and `hsc audit export`'s options
//! both become one [`AuditFilter`]. Parsing needs no database; people named by text are found when
//! the filter is used ([`super::query`]).

use chrono::{DateTime, Duration, NaiveDate, Utc};
use uuid::Uuid;

use super::{Action, Outcome, Severity};
use crate::services::ServiceError;

/// The shortest hex prefix `resource:` takes (the viewer shows eight).
const MIN_ID_PREFIX: usize = 4;

/// Someone named in a filter: by id, by email, or by words of their name.
#[derive(Clone, PartialEq, Eq)]
pub enum Who {
    Id(Uuid),
    Email(String),
    Name(Vec<String>),
}

impl Who {
    /// An id, an email (it has an `@`), or words of a name (`_` or `+` between them).
    pub fn parse(text: &str) -> Who {
        if let Ok(id) = Uuid::parse_str(text) {
            Who::Id(id)
        } else if text.contains('@') {
            Who::Email(text.to_lowercase())
        } else {
            Who::Name(
                text.split(['_', '+'])
                    .filter(|w| !w.is_empty())
                    .map(str::to_lowercase)
                    .collect(),
            )
        }
    }
}

/// A resource id, whole or by the first hex digits the viewer shows: a range of ids either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdRange {
    pub low: Uuid,
    pub high: Uuid,
}

impl IdRange {
    fn parse(text: &str) -> Option<IdRange> {
        if let Ok(id) = Uuid::parse_str(text) {
            return Some(IdRange { low: id, high: id });
        }
        let hex: String = text.chars().filter(|c| *c != '-').collect();
        if hex.len() < MIN_ID_PREFIX
            || hex.len() > 32
            || !hex.chars().all(|c| c.is_ascii_hexdigit())
        {
            return None;
        }
        let low = u128::from_str_radix(&format!("{hex:0<32}"), 16).ok()?;
        let high = u128::from_str_radix(&format!("{hex:f<32}"), 16).ok()?;
        Some(IdRange {
            low: Uuid::from_u128(low),
            high: Uuid::from_u128(high),
        })
    }
}

/// A time a filter names: fixed, or a span before the moment the filter is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    At(DateTime<Utc>),
    Ago(Duration),
}

impl When {
    pub fn at(self, now: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            When::At(t) => t,
            When::Ago(span) => now - span,
        }
    }
}

/// Which events: each part narrows the set; an empty filter is every event the reader may see.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct AuditFilter {
    /// From this time on.
    pub since: Option<When>,
    /// Before this time.
    pub until: Option<When>,
    /// Who acted.
    pub user: Option<Who>,
    /// Whose data.
    pub patient: Option<Who>,
    pub action: Option<Action>,
    pub severity: Option<Severity>,
    pub outcome: Option<Outcome>,
    pub resource: Option<IdRange>,
    /// Plain words, each found somewhere in the event's own text (action, resource, source,
    /// terminal, details, ids).
    pub words: Vec<String>,
}

/// Names and words typed into the filter stay out of `Debug` (logs); it says which parts are set.
impl std::fmt::Debug for AuditFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditFilter")
            .field("since", &self.since)
            .field("until", &self.until)
            .field("user", &self.user.is_some())
            .field("patient", &self.patient.is_some())
            .field("action", &self.action)
            .field("severity", &self.severity)
            .field("outcome", &self.outcome)
            .field("resource", &self.resource.is_some())
            .field("words", &self.words.len())
            .finish()
    }
}

const HELP: &str = "use since:WHEN, until:WHEN (a day like 2026-11-01, a time, or 24h/7d/30m ago), \
     user:NAME, patient:NAME (a name, an email or an id), action:NAME, severity:low|medium|high|critical, \
     outcome:success|denied|failed, resource:ID or plain words";

fn invalid(message: String) -> ServiceError {
    ServiceError::Invalid(message)
}

impl AuditFilter {
    /// Parses the viewer's filter line; a word it does not understand is named in one sentence.
    pub fn parse(text: &str) -> Result<AuditFilter, ServiceError> {
        let mut f = AuditFilter::default();
        for word in text.split_whitespace() {
            let Some((key, value)) = word.split_once(':') else {
                f.words.push(word.to_lowercase());
                continue;
            };
            let key = key.to_lowercase();
            if value.is_empty() {
                return Err(invalid(format!(
                    "{word:?} needs something after the colon; {HELP}."
                )));
            }
            match key.as_str() {
                "since" | "from" => f.since = Some(parse_when(word, value, false)?),
                "until" | "to" => f.until = Some(parse_when(word, value, true)?),
                "user" | "by" => f.user = Some(Who::parse(value)),
                "patient" => f.patient = Some(Who::parse(value)),
                "action" => f.action = Some(parse_action(value)?),
                "severity" => f.severity = Some(parse_severity(value)?),
                "outcome" => f.outcome = Some(parse_outcome(value)?),
                "resource" | "record" | "id" => {
                    f.resource = Some(IdRange::parse(value).ok_or_else(|| {
                        invalid(format!(
                            "{word:?} needs an id, or at least its first {MIN_ID_PREFIX} hex digits."
                        ))
                    })?)
                }
                _ => {
                    return Err(invalid(format!("{word:?} is not a filter; {HELP}.")));
                }
            }
        }
        f.check()?;
        Ok(f)
    }

    /// Refuses a time range that ends before it begins.
    pub fn check(&self) -> Result<(), ServiceError> {
        let now = Utc::now();
        if let (Some(since), Some(until)) = (self.since, self.until)
            && until.at(now) <= since.at(now)
        {
            return Err(invalid(
                "The time range ends before it begins; check since: and until:.".into(),
            ));
        }
        Ok(())
    }

    /// The filter as the AUDIT_VIEW / AUDIT_EXPORT row records it: what was asked for, with times
    /// fixed at `now` and people already resolved to ids (`user`, `patient`).
    pub fn describe(
        &self,
        now: DateTime<Utc>,
        user: Option<Uuid>,
        patient: Option<Uuid>,
    ) -> serde_json::Value {
        serde_json::json!({
            "since": self.since.map(|t| t.at(now).to_rfc3339()),
            "until": self.until.map(|t| t.at(now).to_rfc3339()),
            "user": user,
            "patient": patient,
            "action": self.action.map(Action::name),
            "severity": self.severity.map(Severity::as_str),
            "outcome": self.outcome.map(Outcome::as_str),
            "resource": self.resource.map(|r| if r.low == r.high {
                r.low.to_string()
            } else {
                format!("{}..{}", r.low, r.high)
            }),
            "words": self.words,
        })
    }
}

/// `2026-11-01` (the start of that UTC day, or for `until` the end of it), an RFC 3339 time, or
/// `24h`/`7d`/`30m` ago. `word` is what to name in the sentence when it is none of these.
pub fn parse_when(word: &str, value: &str, end_of_day: bool) -> Result<When, ServiceError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Ok(When::At(t.with_timezone(&Utc)));
    }
    if let Ok(day) = NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        let day = if end_of_day {
            day.succ_opt()
        } else {
            Some(day)
        };
        if let Some(start) = day.and_then(|d| d.and_hms_opt(0, 0, 0)) {
            return Ok(When::At(start.and_utc()));
        }
    }
    let (number, unit) = value.split_at(value.len().saturating_sub(1));
    let ago = number
        .parse::<i64>()
        .ok()
        .filter(|n| (1..=100_000).contains(n));
    let span = match (ago, unit) {
        (Some(n), "m") => Some(Duration::minutes(n)),
        (Some(n), "h") => Some(Duration::hours(n)),
        (Some(n), "d") => Some(Duration::days(n)),
        _ => None,
    };
    span.map(When::Ago).ok_or_else(|| {
        invalid(format!(
            "{word:?} needs a day (2026-11-01), a time (2026-11-01T09:30:00Z) or a span ago (30m, 24h, 7d)."
        ))
    })
}

/// An action of the catalog, by its name in any case.
pub fn parse_action(value: &str) -> Result<Action, ServiceError> {
    let upper = value.to_uppercase();
    Action::ALL
        .iter()
        .copied()
        .find(|a| a.name() == upper)
        .ok_or_else(|| {
            invalid(format!(
                "{value:?} is not an audit action; actions are named like RECORD_VIEW, LOGIN_FAILED or EMERGENCY_ACCESS."
            ))
        })
}

fn parse_severity(value: &str) -> Result<Severity, ServiceError> {
    [
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ]
    .into_iter()
    .find(|s| s.as_str().eq_ignore_ascii_case(value))
    .ok_or_else(|| {
        invalid(format!(
            "{value:?} is not a severity; use low, medium, high or critical."
        ))
    })
}

fn parse_outcome(value: &str) -> Result<Outcome, ServiceError> {
    [Outcome::Success, Outcome::Denied, Outcome::Failed]
        .into_iter()
        .find(|o| o.as_str().eq_ignore_ascii_case(value))
        .ok_or_else(|| {
            invalid(format!(
                "{value:?} is not an outcome; use success, denied or failed."
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-27T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn parse(text: &str) -> AuditFilter {
        AuditFilter::parse(text).unwrap()
    }

    fn error(text: &str) -> String {
        AuditFilter::parse(text).unwrap_err().to_string()
    }

    #[test]
    fn the_filter_reads_every_part() {
        assert_eq!(parse(""), AuditFilter::default());
        let f = parse(
            "since:2026-11-01 until:2026-11-02 user:smith patient:alice@example.com \
             action:record_view severity:HIGH outcome:denied resource:3b8bfa8a 10.0.0.9",
        );
        assert_eq!(
            f.since.unwrap().at(now()).to_rfc3339(),
            "2026-11-01T00:00:00+00:00"
        );
        assert_eq!(
            f.until.unwrap().at(now()).to_rfc3339(),
            "2026-11-03T00:00:00+00:00"
        );
        assert!(f.user == Some(Who::Name(vec!["smith".into()])));
        assert!(f.patient == Some(Who::Email("alice@example.com".into())));
        assert_eq!(f.action, Some(Action::RecordView));
        assert_eq!(f.severity, Some(Severity::High));
        assert_eq!(f.outcome, Some(Outcome::Denied));
        let r = f.resource.unwrap();
        assert_eq!(r.low.to_string(), "3b8bfa8a-0000-0000-0000-000000000000");
        assert_eq!(r.high.to_string(), "3b8bfa8a-ffff-ffff-ffff-ffffffffffff");
        assert_eq!(f.words, ["10.0.0.9"]);

        assert_eq!(
            parse("since:24h").since.unwrap().at(now()),
            now() - Duration::hours(24)
        );
        assert_eq!(
            parse("since:2026-11-27T09:30:00+01:00")
                .since
                .unwrap()
                .at(now())
                .to_rfc3339(),
            "2026-11-27T08:30:00+00:00"
        );
        let id = Uuid::new_v4();
        assert!(parse(&format!("user:{id}")).user == Some(Who::Id(id)));
        assert_eq!(parse(&format!("resource:{id}")).resource.unwrap().low, id);
        assert!(
            parse("user:john_smith").user == Some(Who::Name(vec!["john".into(), "smith".into()]))
        );
    }

    #[test]
    fn a_word_it_does_not_understand_is_named() {
        assert!(error("colour:red").starts_with("\"colour:red\" is not a filter; use since:WHEN"));
        assert!(error("since:yesterday").contains("\"since:yesterday\" needs a day"));
        assert!(error("action:RECORD_VEIW").contains("\"RECORD_VEIW\" is not an audit action"));
        assert!(error("severity:urgent").contains("use low, medium, high or critical"));
        assert!(error("outcome:maybe").contains("use success, denied or failed"));
        assert!(error("resource:xyz").contains("first 4 hex digits"));
        assert!(error("user:").contains("needs something after the colon"));
        assert!(error("since:2026-11-02 until:2026-11-01").contains("ends before it begins"));
    }

    #[test]
    fn the_description_holds_resolved_ids_not_names() {
        let f = parse("user:smith action:login");
        let id = Uuid::new_v4();
        let d = f.describe(now(), Some(id), None);
        assert_eq!(d["user"], serde_json::json!(id));
        assert_eq!(d["action"], "LOGIN");
        assert!(!d.to_string().contains("smith"));
    }
}
