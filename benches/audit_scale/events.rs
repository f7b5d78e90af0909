//! The events themselves: generated in time order, each linked to the one before with the chain's
//! own `Linker`, and written as COPY CSV. Runs on a thread of its own while the COPY streams them.

use std::io::Write as _;

use chrono::{DateTime, Datelike};
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::generate::{
    AUDIT_KEY, CHUNK, Counts, MONTHS, PATIENTS, Piece, RECORDS_PER_PATIENT, SEED, WORD, World, uuid,
};
use hsc::crypto::AuditKey;
use hsc::services::audit::chain::{Entry, GENESIS, Linker};
use hsc::services::audit::{Action, Outcome};

/// How often each action happens, per 10,000 events, and so (through its fixed severity) how often
/// each severity does: HIGH 6.2 %, CRITICAL 0.3 %.
const ACTIONS: &[(Action, u32)] = &[
    (Action::RecordView, 4000),
    (Action::RecordList, 1450),
    (Action::Login, 900),
    (Action::Logout, 700),
    (Action::RecordUpdate, 500),
    (Action::RecordCreate, 300),
    (Action::RecordVersionView, 200),
    (Action::LoginFailed, 300),
    (Action::SessionLocked, 200),
    (Action::SessionUnlocked, 180),
    (Action::SessionExpired, 100),
    (Action::GrantList, 150),
    (Action::GrantCreate, 100),
    (Action::GrantRevoke, 50),
    (Action::GrantExpired, 50),
    (Action::UnauthorizedAccessAttempt, 550),
    (Action::AccountLocked, 40),
    (Action::AuditView, 100),
    (Action::AuditExport, 20),
    (Action::MfaDisabled, 10),
    (Action::EmergencyAccess, 30),
    (Action::UserUpdated, 30),
    (Action::PasswordChange, 20),
    (Action::MfaEnabled, 20),
];

/// Where the events' text goes.
struct Out {
    buf: Vec<u8>,
    tx: mpsc::Sender<Piece>,
}

impl Out {
    fn send(&mut self, piece: Piece) {
        self.tx
            .blocking_send(piece)
            .unwrap_or_else(|_| panic!("the COPY stopped reading"));
    }

    fn flush(&mut self) {
        if !self.buf.is_empty() {
            let full = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK + 64 * 1024));
            self.send(Piece::Rows(full));
        }
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn push_hex(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(b"\\x");
    for &b in bytes {
        out.push(HEX[usize::from(b >> 4)]);
        out.push(HEX[usize::from(b & 15)]);
    }
}

fn push_uuid(out: &mut Vec<u8>, id: Option<Uuid>) {
    if let Some(id) = id {
        let mut text = [0u8; 36];
        out.extend_from_slice(id.hyphenated().encode_lower(&mut text).as_bytes());
    }
}

/// Text as a CSV field: quoted when it holds a quote or a comma. `None` is NULL (an empty field).
fn push_text(out: &mut Vec<u8>, text: Option<&str>) {
    let Some(t) = text else { return };
    if t.contains(['"', ',', '\n']) || t.is_empty() {
        out.push(b'"');
        for b in t.bytes() {
            if b == b'"' {
                out.push(b'"');
            }
            out.push(b);
        }
        out.push(b'"');
    } else {
        out.extend_from_slice(t.as_bytes());
    }
}

/// A jsonb object's text exactly as PostgreSQL prints it (keys by length, then bytes; `", "` and
/// `": "` between them), since that text is what the chain signs. Values are already JSON.
fn jsonb_text(out: &mut String, fields: &mut [(&str, String)]) {
    fields.sort_by(|a, b| a.0.len().cmp(&b.0.len()).then(a.0.cmp(b.0)));
    out.clear();
    out.push('{');
    for (i, (key, value)) in fields.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push('"');
        out.push_str(key);
        out.push_str("\": ");
        out.push_str(value);
    }
    out.push('}');
}

fn is_about_a_record(action: Action) -> bool {
    matches!(
        action,
        Action::RecordView
            | Action::RecordUpdate
            | Action::RecordCreate
            | Action::RecordVersionView
            | Action::UnauthorizedAccessAttempt
    )
}

fn is_about_a_grant(action: Action) -> bool {
    matches!(
        action,
        Action::GrantCreate | Action::GrantRevoke | Action::GrantExpired | Action::EmergencyAccess
    )
}

const TERMINALS: [&str; 4] = [
    "xterm-256color",
    "screen-256color",
    "tmux-256color",
    "xterm",
];

/// Generates every event in time order, links it to the one before, and writes it as CSV; runs on a
/// thread of its own while the COPY streams its output.
pub fn generate(world: &World, tx: mpsc::Sender<Piece>) -> Counts {
    let mut rng = SmallRng::seed_from_u64(SEED ^ 3);
    let mut linker = Linker::new(&AuditKey(zeroize::Zeroizing::new(AUDIT_KEY)));
    let mut out = Out {
        buf: Vec::with_capacity(CHUNK + 64 * 1024),
        tx,
    };
    let n = world.events.max(1);
    let start_us = world.start.timestamp_micros();
    let span = u128::try_from(world.end.timestamp_micros() - start_us).expect("a span");
    let slot = u64::try_from(span / u128::from(n)).expect("a slot").max(1);
    let total_weight: u32 = ACTIONS.iter().map(|(_, w)| w).sum();
    let agents: Vec<String> = TERMINALS
        .iter()
        .flat_map(|t| {
            [
                format!("hsc/0.1.0 ({t}; ssh)"),
                format!("hsc/0.1.0 ({t}; local)"),
            ]
        })
        .collect();

    let mut counts = Counts {
        busy_user: 0,
        busy_patient: 0,
        record_view: 0,
        high: 0,
        critical: 0,
        denied: 0,
        word: 0,
        records_staff_visible: 0,
        by_month: vec![0; MONTHS as usize],
        busy_records: [0; RECORDS_PER_PATIENT],
        last_seq: 0,
        last_hash: GENESIS,
        last_at: world.start,
    };
    let mut e = Entry {
        occurred_at: world.start,
        ..Entry::default()
    };
    let mut prev = GENESIS;
    let mut month = None;
    let mut time = String::new();
    for i in 0..n {
        let at_us = start_us
            + i64::try_from(u128::from(i) * span / u128::from(n)).expect("a time")
            + i64::try_from(rng.random_range(0..slot)).expect("a time");
        let at = DateTime::from_timestamp_micros(at_us).expect("a time");
        let m = (at.year(), at.month());
        if month != Some(m) {
            out.flush();
            out.send(Piece::Month(at));
            month = Some(m);
        }
        let month_index =
            (at.year() - world.start.year()) * 12 + at.month() as i32 - world.start.month() as i32;
        counts.by_month[usize::try_from(month_index).expect("a month of the trail")] += 1;

        let mut pick = rng.random_range(0..total_weight);
        let action = ACTIONS
            .iter()
            .find(|(_, w)| {
                if pick < *w {
                    true
                } else {
                    pick -= w;
                    false
                }
            })
            .map(|(a, _)| *a)
            .expect("an action");

        // Who acted: the busy physician, a patient at their own records, or any of the staff.
        let who = rng.random_range(0..100u32);
        let acting_patient = (6..16)
            .contains(&who)
            .then(|| rng.random_range(0..PATIENTS));
        let user = match (who, acting_patient) {
            (0..6, _) => world.busy_user(),
            (_, Some(p)) => world.patients[p],
            _ => world.staff[rng.random_range(0..world.staff.len())],
        };
        let about_record = is_about_a_record(action);
        let about_grant = is_about_a_grant(action);
        let patient = (about_record || about_grant).then(|| {
            acting_patient.unwrap_or_else(|| {
                if rng.random_bool(0.12) {
                    0
                } else {
                    rng.random_range(0..PATIENTS)
                }
            })
        });
        let (resource_type, resource_id) = if about_record {
            let p = patient.expect("a record's patient");
            let k = rng.random_range(0..RECORDS_PER_PATIENT);
            if p == 0 {
                counts.busy_records[k] += 1;
            }
            (Some("medical_record"), Some(world.record(p, k)))
        } else if about_grant {
            (Some("access_grant"), Some(uuid(&mut rng)))
        } else if matches!(action, Action::UserUpdated | Action::AccountLocked) {
            (
                Some("user"),
                Some(world.staff[rng.random_range(0..world.staff.len())]),
            )
        } else {
            (None, None)
        };
        let outcome = match action {
            Action::LoginFailed => Outcome::Failed,
            Action::UnauthorizedAccessAttempt | Action::AccountLocked => Outcome::Denied,
            _ => Outcome::Success,
        };
        let local = rng.random_bool(0.2);

        let mut fields: Vec<(&str, String)> = Vec::with_capacity(3);
        let channel = rng.random_range(0..10u32);
        let channel = match channel {
            0 => WORD,
            1..=3 => "clinic",
            _ => "ward",
        };
        fields.push(("channel", format!("\"{channel}\"")));
        match action {
            Action::RecordView | Action::RecordVersionView => {
                fields.push(("version", rng.random_range(1..=6u32).to_string()))
            }
            Action::RecordList => {
                let page = if rng.random_bool(0.7) {
                    "first"
                } else {
                    "next"
                };
                fields.push(("page", format!("\"{page}\"")));
                fields.push(("count", "50".into()));
            }
            Action::Login => fields.push(("mfa", rng.random_bool(0.5).to_string())),
            Action::LoginFailed => fields.push(("reason", "\"password\"".into())),
            Action::UnauthorizedAccessAttempt => {
                fields.push(("attempt", "\"view a record\"".into()))
            }
            Action::EmergencyAccess => fields.push(("minutes", "60".into())),
            _ => {}
        }

        e.id = uuid(&mut rng);
        e.occurred_at = at;
        e.xact = 10_000 + i64::try_from(i).expect("an xact");
        e.user_id = Some(user);
        e.session_id = (!matches!(action, Action::LoginFailed | Action::AccountLocked))
            .then(|| uuid(&mut rng));
        e.action.clear();
        e.action.push_str(action.name());
        e.severity.clear();
        e.severity.push_str(action.severity().as_str());
        e.resource_type = resource_type.map(String::from);
        e.resource_id = resource_id;
        e.patient_id = patient.map(|p| world.patients[p]);
        e.ip_address = Some(if local {
            "local".to_string()
        } else {
            format!(
                "10.{}.{}.{}",
                rng.random_range(0..4u8),
                rng.random_range(0..=255u8),
                rng.random_range(1..=254u8)
            )
        });
        let terminal = rng.random_range(0..TERMINALS.len());
        e.user_agent = Some(agents[terminal * 2 + usize::from(local)].clone());
        e.outcome.clear();
        e.outcome.push_str(outcome.as_str());
        jsonb_text(&mut e.details, &mut fields);

        let hash = linker.link(&prev, &e);
        let seq = i64::try_from(i + 1).expect("a seq");

        counts.busy_user += u64::from(user == world.busy_user());
        counts.busy_patient += u64::from(patient == Some(0));
        counts.record_view += u64::from(action == Action::RecordView);
        counts.high += u64::from(e.severity == "HIGH");
        counts.critical += u64::from(e.severity == "CRITICAL");
        counts.denied += u64::from(outcome == Outcome::Denied);
        counts.word += u64::from(channel == WORD);
        counts.records_staff_visible +=
            u64::from(about_record || action == Action::EmergencyAccess);

        let b = &mut out.buf;
        write!(b, "{seq},").expect("a row");
        push_uuid(b, Some(e.id));
        time.clear();
        std::fmt::Write::write_fmt(&mut time, format_args!("{}", at.naive_utc())).expect("a time");
        write!(b, ",{time}+00,{},", e.xact).expect("a row");
        push_uuid(b, e.user_id);
        b.push(b',');
        push_uuid(b, e.session_id);
        b.push(b',');
        push_text(b, Some(&e.action));
        b.push(b',');
        push_text(b, Some(&e.severity));
        b.push(b',');
        push_text(b, e.resource_type.as_deref());
        b.push(b',');
        push_uuid(b, e.resource_id);
        b.push(b',');
        push_uuid(b, e.patient_id);
        b.push(b',');
        push_text(b, e.ip_address.as_deref());
        b.push(b',');
        push_text(b, e.user_agent.as_deref());
        b.push(b',');
        push_text(b, Some(&e.outcome));
        b.push(b',');
        push_text(b, Some(&e.details));
        b.push(b',');
        push_hex(b, &prev);
        b.push(b',');
        push_hex(b, &hash);
        b.push(b'\n');
        if b.len() >= CHUNK {
            out.flush();
        }

        prev = hash;
        counts.last_seq = seq;
        counts.last_hash = hash;
        counts.last_at = at;
    }
    out.flush();
    counts
}
