//! Audit rows, written inside the transaction of the event they describe (SPEC "Audit"), then sealed
//! into the append-only hash chain ([`seal`]) right after it commits.
//! `details` carries ids, reasons and counts — never record content, passwords, codes or tokens.

use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::db::DbError;

pub mod chain;
pub mod export;
pub mod filter;
pub mod query;
pub mod seal;
pub mod verify;

/// How serious an event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "LOW",
            Severity::Medium => "MEDIUM",
            Severity::High => "HIGH",
            Severity::Critical => "CRITICAL",
        }
    }
}

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Denied,
    Failed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Denied => "denied",
            Outcome::Failed => "failed",
        }
    }
}

macro_rules! catalog {
    ($($variant:ident => $name:literal, $severity:ident;)*) => {
        /// The audit catalog: every action hsc records, with its fixed severity.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Action {
            $($variant,)*
        }

        impl Action {
            pub const ALL: &'static [Action] = &[$(Action::$variant,)*];

            /// The name stored in `audit_logs.action`.
            pub fn name(self) -> &'static str {
                match self {
                    $(Action::$variant => $name,)*
                }
            }

            pub fn severity(self) -> Severity {
                match self {
                    $(Action::$variant => Severity::$severity,)*
                }
            }
        }
    };
}

catalog! {
    Login => "LOGIN", Low;
    LoginFailed => "LOGIN_FAILED", Medium;
    AccountLocked => "ACCOUNT_LOCKED", High;
    AccountUnlocked => "ACCOUNT_UNLOCKED", Medium;
    Logout => "LOGOUT", Low;
    SessionLocked => "SESSION_LOCKED", Low;
    SessionUnlocked => "SESSION_UNLOCKED", Low;
    SessionExpired => "SESSION_EXPIRED", Low;
    SessionRevoked => "SESSION_REVOKED", Medium;
    MfaEnabled => "MFA_ENABLED", Medium;
    MfaDisabled => "MFA_DISABLED", High;
    MfaDeviceUpdated => "MFA_DEVICE_UPDATED", Low;
    BackupCodeUsed => "BACKUP_CODE_USED", Medium;
    UserCreated => "USER_CREATED", Medium;
    UserUpdated => "USER_UPDATED", Medium;
    UserList => "USER_LIST", Low;
    SessionList => "SESSION_LIST", Low;
    PasswordChange => "PASSWORD_CHANGE", Medium;
    RecordList => "RECORD_LIST", Low;
    RecordView => "RECORD_VIEW", Low;
    RecordVersionView => "RECORD_VERSION_VIEW", Low;
    RecordCreate => "RECORD_CREATE", Medium;
    RecordUpdate => "RECORD_UPDATE", Medium;
    GrantList => "GRANT_LIST", Low;
    GrantCreate => "GRANT_CREATE", Medium;
    GrantUpdate => "GRANT_UPDATE", Medium;
    GrantRevoke => "GRANT_REVOKE", Medium;
    GrantExpired => "GRANT_EXPIRED", Low;
    EmergencyAccess => "EMERGENCY_ACCESS", Critical;
    AuditView => "AUDIT_VIEW", Low;
    AuditExport => "AUDIT_EXPORT", High;
    AuditVerify => "AUDIT_VERIFY", Low;
    AuditReviewed => "AUDIT_REVIEWED", Low;
    UnauthorizedAccessAttempt => "UNAUTHORIZED_ACCESS_ATTEMPT", High;
    KeyRotation => "KEY_ROTATION", High;
}

/// Where a request came from: the SSH peer or `local`, and the terminal it ran in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub address: String,
    pub user_agent: String,
}

impl Client {
    /// The console in this process's terminal: `SSH_CONNECTION`/`SSH_CLIENT` name the peer when hsc
    /// runs under OpenSSH (e.g. as a ForceCommand).
    pub fn from_environment() -> Client {
        let ssh = std::env::var("SSH_CONNECTION")
            .or_else(|_| std::env::var("SSH_CLIENT"))
            .ok();
        let term = std::env::var("TERM").unwrap_or_else(|_| "unknown".into());
        Client::new(ssh.as_deref(), &term)
    }

    /// Builds the client from an SSH connection string (`peer port local port`) and `TERM`.
    pub fn new(ssh_connection: Option<&str>, term: &str) -> Client {
        let peer = ssh_connection
            .and_then(|s| s.split_whitespace().next())
            .filter(|p| p.parse::<std::net::IpAddr>().is_ok());
        let term: String = term
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || "-_.+".contains(*c))
            .take(40)
            .collect();
        Client {
            address: peer.unwrap_or("local").to_string(),
            user_agent: format!(
                "hsc/{} ({}; {})",
                env!("CARGO_PKG_VERSION"),
                term,
                if peer.is_some() { "ssh" } else { "local" }
            ),
        }
    }

    /// The command line, for administrative commands run on the server itself.
    pub fn command_line() -> Client {
        Client {
            address: "local".into(),
            user_agent: format!("hsc-cli/{}", env!("CARGO_PKG_VERSION")),
        }
    }
}

/// One audit row.
#[derive(Debug, Clone)]
pub struct Event {
    pub action: Action,
    pub outcome: Outcome,
    pub user_id: Option<Uuid>,
    pub session_id: Option<Uuid>,
    pub resource: Option<(&'static str, Uuid)>,
    pub patient_id: Option<Uuid>,
    pub details: Value,
}

impl Event {
    /// An event by (or about) `user_id`, with no resource.
    pub fn new(action: Action, outcome: Outcome, user_id: Option<Uuid>) -> Event {
        Event {
            action,
            outcome,
            user_id,
            session_id: None,
            resource: None,
            patient_id: None,
            details: Value::Object(Default::default()),
        }
    }

    pub fn session(mut self, session_id: Uuid) -> Event {
        self.session_id = Some(session_id);
        self
    }

    pub fn resource(mut self, kind: &'static str, id: Uuid) -> Event {
        self.resource = Some((kind, id));
        self
    }

    /// Whose data the event touched.
    pub fn patient(mut self, patient_id: Uuid) -> Event {
        self.patient_id = Some(patient_id);
        self
    }

    pub fn details(mut self, details: Value) -> Event {
        self.details = details;
        self
    }
}

/// Queues `event` on `conn`, inside the caller's transaction; the commit seals it into the chain.
pub async fn write(conn: &mut PgConnection, client: &Client, event: &Event) -> Result<(), DbError> {
    let (resource_type, resource_id) = match event.resource {
        Some((kind, id)) => (Some(kind), Some(id)),
        None => (None, None),
    };
    sqlx::query(
        "INSERT INTO audit_queue (user_id, session_id, action, severity, resource_type, resource_id, patient_id, \
         ip_address, user_agent, outcome, details) \
         VALUES ($1, $2, $3, $4::audit_severity, $5, $6, $7, $8, $9, $10::audit_outcome, $11)",
    )
    .bind(event.user_id)
    .bind(event.session_id)
    .bind(event.action.name())
    .bind(event.action.severity().as_str())
    .bind(resource_type)
    .bind(resource_id)
    .bind(event.patient_id)
    .bind(&client.address)
    .bind(&client.user_agent)
    .bind(event.outcome.as_str())
    .bind(&event.details)
    .execute(conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalog_matches_spec_severities() {
        let expect = [
            ("LOGIN", "LOW"),
            ("LOGIN_FAILED", "MEDIUM"),
            ("ACCOUNT_LOCKED", "HIGH"),
            ("MFA_DISABLED", "HIGH"),
            ("EMERGENCY_ACCESS", "CRITICAL"),
            ("AUDIT_EXPORT", "HIGH"),
            ("SESSION_REVOKED", "MEDIUM"),
            ("BACKUP_CODE_USED", "MEDIUM"),
        ];
        for (name, severity) in expect {
            let action = Action::ALL.iter().find(|a| a.name() == name).unwrap();
            assert_eq!(action.severity().as_str(), severity, "{name}");
        }
    }

    #[test]
    fn the_client_comes_from_ssh_connection_or_is_local() {
        let c = Client::new(Some("203.0.113.9 51234 10.0.0.2 22"), "xterm-256color");
        assert_eq!(c.address, "203.0.113.9");
        assert_eq!(
            c.user_agent,
            format!("hsc/{} (xterm-256color; ssh)", env!("CARGO_PKG_VERSION"))
        );
        let c = Client::new(None, "screen\x1b[31m");
        assert_eq!(c.address, "local");
        assert!(
            c.user_agent.ends_with("(screen31m; local)"),
            "{}",
            c.user_agent
        );
        assert_eq!(Client::new(Some("not-an-ip 1 2 3"), "x").address, "local");
    }
}
