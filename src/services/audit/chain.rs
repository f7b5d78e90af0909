//! The audit hash chain's arithmetic, free of I/O: how a row is encoded and how it is linked to the
//! row before it. `hash = HMAC-SHA-256(AUDIT_HMAC_KEY, prev_hash ‖ canonical(row))`.
//!
//! The row's place (`seq`) is not part of what is signed: the order is held by the links, so a row
//! moved elsewhere still carries a valid signature but no longer links to its neighbour, and the
//! verifier can say it was reordered rather than changed.

use chrono::{DateTime, Utc};
use hmac::{KeyInit, Mac};
use uuid::Uuid;

use crate::crypto::AuditKey;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// The `prev_hash` of the first row.
pub const GENESIS: [u8; 32] = [0; 32];

/// Changes whenever the encoding below does, so an old chain can never verify by accident.
const ENCODING: &[u8] = b"hsc-audit-v1\0";

/// One audit row as the chain signs it. `details` is PostgreSQL's text form of the jsonb value, which
/// is canonical (keys sorted, whitespace fixed), so it reads back byte for byte.
#[derive(Debug, Clone, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct Entry {
    pub id: Uuid,
    pub occurred_at: DateTime<Utc>,
    /// The PostgreSQL transaction the event happened in (64-bit, never reused).
    pub xact: i64,
    pub user_id: Option<Uuid>,
    pub session_id: Option<Uuid>,
    pub action: String,
    pub severity: String,
    pub resource_type: Option<String>,
    pub resource_id: Option<Uuid>,
    pub patient_id: Option<Uuid>,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub outcome: String,
    pub details: String,
}

/// The columns of [`Entry`], as a SELECT list over `audit_logs` or `audit_queue`.
pub const ENTRY_COLUMNS: &str = "id, occurred_at, xact, user_id, session_id, action, severity::text AS severity, \
     resource_type, resource_id, patient_id, ip_address, user_agent, outcome::text AS outcome, \
     details::text AS details";

impl Entry {
    /// The bytes the chain signs: every field, length-prefixed, absent values marked as such.
    pub fn canonical(&self, out: &mut Vec<u8>) {
        out.clear();
        out.extend_from_slice(ENCODING);
        out.extend_from_slice(self.id.as_bytes());
        out.extend_from_slice(&self.occurred_at.timestamp_micros().to_be_bytes());
        out.extend_from_slice(&self.xact.to_be_bytes());
        for id in [self.user_id, self.session_id] {
            put_uuid(out, id);
        }
        put_text(out, Some(&self.action));
        put_text(out, Some(&self.severity));
        put_text(out, self.resource_type.as_deref());
        put_uuid(out, self.resource_id);
        put_uuid(out, self.patient_id);
        put_text(out, self.ip_address.as_deref());
        put_text(out, self.user_agent.as_deref());
        put_text(out, Some(&self.outcome));
        put_text(out, Some(&self.details));
    }
}

fn put_uuid(out: &mut Vec<u8>, id: Option<Uuid>) {
    match id {
        Some(id) => {
            out.push(1);
            out.extend_from_slice(id.as_bytes());
        }
        None => out.push(0),
    }
}

fn put_text(out: &mut Vec<u8>, text: Option<&str>) {
    match text {
        Some(t) => {
            out.push(1);
            // Audit text is short; a length that does not fit is a bug, and saturating keeps it
            // deterministic rather than panicking.
            out.extend_from_slice(&u32::try_from(t.len()).unwrap_or(u32::MAX).to_be_bytes());
            out.extend_from_slice(t.as_bytes());
        }
        None => out.push(0),
    }
}

/// Links rows with one key; keeps a scratch buffer so linking millions of rows allocates once.
pub struct Linker {
    keyed: HmacSha256,
    scratch: Vec<u8>,
}

impl Linker {
    pub fn new(key: &AuditKey) -> Linker {
        Linker {
            // HMAC takes keys of any length, so this cannot fail for 32 bytes.
            keyed: <HmacSha256 as KeyInit>::new_from_slice(key.0.as_ref())
                .unwrap_or_else(|_| unreachable!("HMAC accepts a 32-byte key")),
            scratch: Vec::with_capacity(512),
        }
    }

    /// The hash of `entry` following a row whose hash is `prev`.
    pub fn link(&mut self, prev: &[u8], entry: &Entry) -> [u8; 32] {
        entry.canonical(&mut self.scratch);
        let mut mac = self.keyed.clone();
        mac.update(prev);
        mac.update(&self.scratch);
        mac.finalize().into_bytes().into()
    }

    /// Whether `hash` is what `entry` after `prev` must carry, compared in constant time.
    pub fn verifies(&mut self, prev: &[u8], entry: &Entry, hash: &[u8]) -> bool {
        entry.canonical(&mut self.scratch);
        let mut mac = self.keyed.clone();
        mac.update(prev);
        mac.update(&self.scratch);
        mac.verify_slice(hash).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zeroize::Zeroizing;

    fn entry() -> Entry {
        Entry {
            id: Uuid::from_u128(1),
            occurred_at: DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap(),
            xact: 742,
            user_id: Some(Uuid::from_u128(2)),
            session_id: None,
            action: "RECORD_VIEW".into(),
            severity: "LOW".into(),
            resource_type: Some("medical_record".into()),
            resource_id: Some(Uuid::from_u128(3)),
            patient_id: Some(Uuid::from_u128(4)),
            ip_address: Some("local".into()),
            user_agent: Some("hsc/0.1.0 (xterm; local)".into()),
            outcome: "success".into(),
            details: "{}".into(),
        }
    }

    fn linker(byte: u8) -> Linker {
        Linker::new(&AuditKey(Zeroizing::new([byte; 32])))
    }

    #[test]
    fn a_link_depends_on_the_key_the_previous_hash_and_every_field() {
        let mut l = linker(1);
        let base = l.link(&GENESIS, &entry());
        assert_eq!(base, l.link(&GENESIS, &entry()), "deterministic");
        assert!(l.verifies(&GENESIS, &entry(), &base));
        assert_ne!(base, linker(2).link(&GENESIS, &entry()), "key");
        assert_ne!(base, l.link(&[1; 32], &entry()), "previous hash");

        let changes: Vec<fn(&mut Entry)> = vec![
            |e| e.id = Uuid::from_u128(9),
            |e| e.occurred_at += chrono::Duration::microseconds(1),
            |e| e.xact += 1,
            |e| e.user_id = None,
            |e| e.session_id = Some(Uuid::from_u128(2)),
            |e| e.action = "RECORD_UPDATE".into(),
            |e| e.severity = "HIGH".into(),
            |e| e.resource_type = None,
            |e| e.resource_id = None,
            |e| e.patient_id = Some(Uuid::from_u128(5)),
            |e| e.ip_address = Some("10.0.0.1".into()),
            |e| e.user_agent = None,
            |e| e.outcome = "denied".into(),
            |e| e.details = r#"{"a": 1}"#.into(),
        ];
        for (i, change) in changes.iter().enumerate() {
            let mut e = entry();
            change(&mut e);
            assert_ne!(
                base,
                l.link(&GENESIS, &e),
                "field change {i} went unnoticed"
            );
            assert!(!l.verifies(&GENESIS, &e, &base));
        }
    }

    #[test]
    fn absent_and_empty_values_encode_differently() {
        let mut l = linker(1);
        let mut a = entry();
        a.ip_address = None;
        let mut b = entry();
        b.ip_address = Some(String::new());
        assert_ne!(l.link(&GENESIS, &a), l.link(&GENESIS, &b));
        // Moving text from one field to the next changes the encoding too.
        let mut c = entry();
        c.ip_address = Some("localhsc".into());
        c.user_agent = Some("/0.1.0 (xterm; local)".into());
        assert_ne!(l.link(&GENESIS, &entry()), l.link(&GENESIS, &c));
    }
}
