//! Exporting the audit trail: `hsc audit export` writes exactly the filtered events, oldest first, as
//! CSV or JSON Lines, into a new 0600 file, with its AUDIT_EXPORT row; the console's door exports only
//! what the acting user may see, and refuses roles without an audit view.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Mutex;

use hsc::services::ServiceError;
use hsc::services::audit::export::{self, Format};
use hsc::services::audit::filter::{AuditFilter, Who};
use hsc::services::auth;
use hsc::services::records::{self, Filter};
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::harness::{Home, Ran, TEST_ENCRYPTION_KEY, TestDb, run};
use crate::records::{client, login, record_id, seeded, user_id};

const SMITH: &str = "dr.smith@healthystellar.com";
const JOHNSON: &str = "dr.johnson@healthystellar.com";
const ALICE: &str = "patient1@example.com";
const BOB: &str = "patient2@example.com";
const ADMIN: &str = "admin@healthystellar.com";
const RECORDS_STAFF: &str = "records@healthystellar.com";

/// Sign-ins, failed sign-ins, record lists and record views by several people, about several patients.
async fn activity(svc: &hsc::services::Services, tdb: &TestDb) {
    let mut admin = tdb.admin().await;
    let physical = record_id(&mut admin, "Annual Physical Examination").await;
    let blood = record_id(&mut admin, "Blood Work - Complete Metabolic Panel").await;
    let migraine = record_id(&mut admin, "Migraine Headache Diagnosis").await;
    let smith = login(svc, SMITH).await;
    records::list(svc, &client(), &smith, &Filter::default(), None, 10)
        .await
        .unwrap();
    records::view(svc, &client(), &smith, physical)
        .await
        .unwrap();
    records::view(svc, &client(), &smith, blood).await.unwrap();
    let johnson = login(svc, JOHNSON).await;
    records::view(svc, &client(), &johnson, migraine)
        .await
        .unwrap();
    // A physician without a grant to Alice's record: refused, on the trail.
    assert!(
        records::view(svc, &client(), &johnson, physical)
            .await
            .is_err()
    );
    let alice = login(svc, ALICE).await;
    records::view(svc, &client(), &alice, physical)
        .await
        .unwrap();
    let bob = login(svc, BOB).await;
    records::view(svc, &client(), &bob, migraine).await.unwrap();
    // A wrong password: LOGIN_FAILED about Dr. Smith.
    assert!(
        auth::login(svc, &client(), SMITH, "not the password")
            .await
            .is_err()
    );
}

/// Seqs of the sealed audit rows matching `condition` (SQL over audit_logs, binding $1 if given).
async fn seqs_where(admin: &mut PgConnection, condition: &str, bind: Option<Value>) -> Vec<i64> {
    let sql = format!("SELECT seq FROM audit_logs WHERE {condition} ORDER BY seq");
    let query = sqlx::query_scalar(sqlx::AssertSqlSafe(sql));
    let query = match bind {
        Some(Value::String(s)) => match Uuid::parse_str(&s) {
            Ok(id) => query.bind(id),
            Err(_) => match chrono::DateTime::parse_from_rfc3339(&s) {
                Ok(t) => query.bind(t.with_timezone(&chrono::Utc)),
                Err(_) => query.bind(s),
            },
        },
        _ => query,
    };
    query.fetch_all(admin).await.unwrap()
}

/// A CSV file's records (RFC 4180: quoted cells may hold commas, doubled quotes and line breaks).
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => cell.push(c),
            (false, '"') => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut cell)),
            (false, '\r') => assert_eq!(chars.next(), Some('\n'), "records end in CRLF"),
            (false, '\n') => panic!("a bare LF outside quotes"),
            (false, c) => cell.push(c),
        }
        if !quoted && c == '\r' {
            record.push(std::mem::take(&mut cell));
            records.push(std::mem::take(&mut record));
        }
    }
    assert!(
        cell.is_empty() && record.is_empty(),
        "the file ends mid-record"
    );
    records
}

/// The seqs a CSV export holds, checking its header and shape.
fn csv_seqs(path: &Path) -> Vec<i64> {
    let records = parse_csv(&std::fs::read_to_string(path).unwrap());
    let header = &records[0];
    assert_eq!(
        header.join(","),
        "seq,occurred_at,id,user_id,session_id,action,severity,outcome,resource_type,\
         resource_id,patient_id,ip_address,user_agent,details,hash"
    );
    records[1..]
        .iter()
        .map(|r| {
            assert_eq!(r.len(), header.len());
            assert_eq!(r[14].len(), 64, "the hash is hex");
            serde_json::from_str::<Value>(&r[13]).unwrap();
            r[0].parse().unwrap()
        })
        .collect()
}

/// The objects of a JSON Lines export.
fn jsonl(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn jsonl_seqs(path: &Path) -> Vec<i64> {
    jsonl(path)
        .iter()
        .map(|v| v["seq"].as_i64().unwrap())
        .collect()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn export_command(home: &Home, tdb: &TestDb, args: &[&str]) -> Ran {
    let mut all = vec!["audit", "export"];
    all.extend_from_slice(args);
    let mut c = home.hsc(&all);
    c.env("DATABASE_URL", tdb.url())
        .env("ENCRYPTION_KEY", TEST_ENCRYPTION_KEY)
        .env("AUDIT_HMAC_KEY", "09".repeat(32));
    run(c)
}

/// The newest AUDIT_EXPORT row: severity, user, details.
async fn last_export(admin: &mut PgConnection) -> Option<(String, Option<Uuid>, Value)> {
    sqlx::query_as(
        "SELECT severity, user_id, details FROM audit_logs WHERE action = 'AUDIT_EXPORT' \
         ORDER BY seq DESC LIMIT 1",
    )
    .fetch_optional(admin)
    .await
    .unwrap()
}

async fn export_rows(admin: &mut PgConnection) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM audit_logs WHERE action = 'AUDIT_EXPORT'")
        .fetch_one(admin)
        .await
        .unwrap()
}

#[tokio::test]
async fn the_command_line_exports_exactly_the_filtered_events_as_csv_and_jsonl() {
    let (tdb, svc) = seeded().await;
    activity(&svc, &tdb).await;
    let mut admin = tdb.admin().await;
    let middle: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("SELECT occurred_at FROM audit_logs WHERE action = 'RECORD_VIEW' ORDER BY seq LIMIT 1 OFFSET 2")
            .fetch_one(&mut admin)
            .await
            .unwrap();
    let at = middle.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let smith = user_id(&mut admin, SMITH).await;
    let alice = user_id(&mut admin, ALICE).await;
    let home = Home::new();

    let cases: Vec<(Vec<&str>, &str, Option<Value>)> = vec![
        (vec![], "true", None),
        (
            vec!["--since", &at],
            "occurred_at >= $1",
            Some(Value::String(at.clone())),
        ),
        (
            vec!["--until", &at],
            "occurred_at < $1",
            Some(Value::String(at.clone())),
        ),
        (vec!["--since", "1h"], "true", None),
        (vec!["--until", "2020-01-01"], "false", None),
        (
            vec!["--user", SMITH],
            "user_id = $1",
            Some(Value::String(smith.to_string())),
        ),
        (
            vec!["--patient", "alice"],
            "patient_id = $1",
            Some(Value::String(alice.to_string())),
        ),
        (
            vec!["--action", "record_view"],
            "action = $1",
            Some(Value::String("RECORD_VIEW".into())),
        ),
    ];
    for (i, (args, condition, bind)) in cases.into_iter().enumerate() {
        for format in ["csv", "jsonl"] {
            let expected = seqs_where(&mut admin, condition, bind.clone()).await;
            let out = home.path().join(format!("export-{i}.{format}"));
            let mut all = args.clone();
            all.extend(["--format", format, "--out", out.to_str().unwrap()]);
            let ran = export_command(&home, &tdb, &all);
            ran.success();
            assert_eq!(
                ran.stdout.trim(),
                format!(
                    "exported {} audit events to {} (mode 0600)",
                    expected.len(),
                    out.display()
                ),
                "{args:?}"
            );
            let got = match format {
                "csv" => csv_seqs(&out),
                _ => jsonl_seqs(&out),
            };
            assert_eq!(got, expected, "{args:?} as {format}");
            assert_eq!(mode(&out), 0o600, "{args:?}");

            let (severity, user, details) = last_export(&mut admin).await.unwrap();
            assert_eq!(severity, "HIGH");
            assert_eq!(user, None);
            assert_eq!(details["format"], format);
            assert_eq!(details["rows"], expected.len());
            assert_eq!(details["by"], "command line");
            assert!(
                details["file"]
                    .as_str()
                    .unwrap()
                    .ends_with(&format!("export-{i}.{format}"))
            );
            match args.first().copied() {
                Some("--user") => assert_eq!(details["filter"]["user"], smith.to_string()),
                Some("--patient") => assert_eq!(details["filter"]["patient"], alice.to_string()),
                Some("--action") => assert_eq!(details["filter"]["action"], "RECORD_VIEW"),
                Some("--since") if args[1] == at => {
                    assert_eq!(details["filter"]["since"], middle.to_rfc3339())
                }
                _ => {}
            }
            assert!(
                !details.to_string().contains("Smith"),
                "no names in the row"
            );
        }
    }

    // The rows themselves: oldest first, every column, nothing but ids (no names, no content).
    let out = home.path().join("all.jsonl");
    export_command(
        &home,
        &tdb,
        &["--format", "jsonl", "--out", out.to_str().unwrap()],
    )
    .success();
    let rows = jsonl(&out);
    let views: Vec<&Value> = rows
        .iter()
        .filter(|r| r["action"] == "RECORD_VIEW")
        .collect();
    assert!(
        views
            .iter()
            .any(|r| r["user_id"] == smith.to_string() && r["patient_id"] == alice.to_string())
    );
    let text = std::fs::read_to_string(&out).unwrap();
    for word in ["Smith", "Alice", "Annual Physical", "Routine annual"] {
        assert!(!text.contains(word), "{word} is in the export");
    }
    let stored: Vec<(i64, Vec<u8>)> =
        sqlx::query_as("SELECT seq, hash FROM audit_logs ORDER BY seq")
            .fetch_all(&mut admin)
            .await
            .unwrap();
    let first = &rows[0];
    assert_eq!(first["seq"], stored[0].0);
    assert_eq!(first["hash"], hex::encode(&stored[0].1));
    assert!(first["occurred_at"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn an_existing_file_a_bad_option_or_an_unknown_person_writes_nothing() {
    let (tdb, svc) = seeded().await;
    activity(&svc, &tdb).await;
    let mut admin = tdb.admin().await;
    let home = Home::new();
    let dir = home.path().join("exports");
    std::fs::create_dir(&dir).unwrap();
    let listing = || {
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };

    let existing = dir.join("audit.csv");
    std::fs::write(&existing, "keep me").unwrap();
    let ran = export_command(&home, &tdb, &["--out", existing.to_str().unwrap()]);
    let sentence = ran.one_sentence_failure();
    assert!(sentence.contains("audit.csv already exists"), "{sentence}");
    assert_eq!(std::fs::read_to_string(&existing).unwrap(), "keep me");

    let out = dir.join("new.csv");
    let ran = export_command(
        &home,
        &tdb,
        &["--since", "yesterday", "--out", out.to_str().unwrap()],
    );
    let sentence = ran.one_sentence_failure();
    assert!(
        sentence.contains("--since \"yesterday\" needs a day (2026-11-01)"),
        "{sentence}"
    );

    let ran = export_command(
        &home,
        &tdb,
        &["--action", "RECORD_VEIW", "--out", out.to_str().unwrap()],
    );
    let sentence = ran.one_sentence_failure();
    assert!(
        sentence.contains("--action") && sentence.contains("not an audit action"),
        "{sentence}"
    );

    let ran = export_command(
        &home,
        &tdb,
        &[
            "--user",
            "nobody@example.com",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    let sentence = ran.one_sentence_failure();
    assert!(sentence.contains("No one"), "{sentence}");

    let ran = export_command(
        &home,
        &tdb,
        &["--out", dir.join("missing/audit.csv").to_str().unwrap()],
    );
    let sentence = ran.one_sentence_failure();
    assert!(sentence.contains("does not exist"), "{sentence}");

    assert_eq!(
        listing(),
        ["audit.csv"],
        "no file and no temporary file was left"
    );
    assert_eq!(
        export_rows(&mut admin).await,
        0,
        "nothing was audited as exported"
    );
}

#[tokio::test]
async fn a_patient_exports_only_the_accesses_to_their_own_records() {
    let (tdb, svc) = seeded().await;
    activity(&svc, &tdb).await;
    let mut admin = tdb.admin().await;
    let alice_id = user_id(&mut admin, ALICE).await;
    let smith_id = user_id(&mut admin, SMITH).await;
    let expected = seqs_where(
        &mut admin,
        "patient_id = $1 AND (resource_type = 'medical_record' OR action = 'EMERGENCY_ACCESS')",
        Some(Value::String(alice_id.to_string())),
    )
    .await;
    let alice = login(&svc, ALICE).await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("mine.jsonl");
    let seen = Mutex::new(Vec::new());
    let progress = |done: u64, total: u64| seen.lock().unwrap().push((done, total));
    let exported = export::for_session(
        &svc,
        &client(),
        &alice,
        &AuditFilter::default(),
        Format::Jsonl,
        &out,
        &progress,
    )
    .await
    .unwrap();
    let rows = jsonl(&out);
    assert_eq!(exported.rows as usize, rows.len());
    assert_eq!(exported.path, out);
    assert_eq!(jsonl_seqs(&out), expected);
    assert!(rows.iter().all(|r| r["patient_id"] == alice_id.to_string()));
    assert!(
        rows.iter().any(|r| r["user_id"] == smith_id.to_string()),
        "Dr. Smith's views of Alice's records are hers to see"
    );
    assert_eq!(mode(&out), 0o600);
    let n = rows.len() as u64;
    assert_eq!(seen.lock().unwrap().first(), Some(&(0, n)));
    assert_eq!(seen.lock().unwrap().last(), Some(&(n, n)));

    let (severity, user, details) = last_export(&mut admin).await.unwrap();
    assert_eq!((severity.as_str(), user), ("HIGH", Some(alice_id)));
    assert_eq!(details["rows"], n);
    assert_eq!(details["format"], "jsonl");
    assert_eq!(details["by"], "console");

    // A filter naming no one she may see fails before anything is written.
    let nobody = AuditFilter {
        user: Some(Who::Email("nobody@example.com".into())),
        ..AuditFilter::default()
    };
    let e = export::for_session(
        &svc,
        &client(),
        &alice,
        &nobody,
        Format::Csv,
        &dir.path().join("nobody.csv"),
        &|_, _| {},
    )
    .await
    .unwrap_err();
    assert!(matches!(e, ServiceError::Invalid(_)), "{e}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[tokio::test]
async fn a_physician_is_refused_and_an_admin_exports_everything() {
    let (tdb, svc) = seeded().await;
    activity(&svc, &tdb).await;
    let mut admin = tdb.admin().await;
    let dir = tempfile::tempdir().unwrap();

    let smith = login(&svc, SMITH).await;
    let out = dir.path().join("smith.csv");
    let e = export::for_session(
        &svc,
        &client(),
        &smith,
        &AuditFilter::default(),
        Format::Csv,
        &out,
        &|_, _| {},
    )
    .await
    .unwrap_err();
    assert!(matches!(e, ServiceError::Denied(_)), "{e}");
    assert_eq!(e.to_string(), "Your role has no audit trail to export.");
    let (action, user, attempt): (String, Option<Uuid>, Option<String>) = sqlx::query_as(
        "SELECT action, user_id, details->>'attempt' FROM audit_logs ORDER BY seq DESC LIMIT 1",
    )
    .fetch_one(&mut admin)
    .await
    .unwrap();
    assert_eq!(action, "UNAUTHORIZED_ACCESS_ATTEMPT");
    assert_eq!(user, Some(smith.user.id));
    assert_eq!(attempt.as_deref(), Some("export the audit trail"));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "no file");
    assert_eq!(export_rows(&mut admin).await, 0);

    let boss = login(&svc, ADMIN).await;
    let all: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_logs")
        .fetch_one(&mut admin)
        .await
        .unwrap();
    let out = dir.path().join("all.csv");
    let exported = export::for_session(
        &svc,
        &client(),
        &boss,
        &AuditFilter::default(),
        Format::Csv,
        &out,
        &|_, _| {},
    )
    .await
    .unwrap();
    assert_eq!(exported.rows as i64, all);
    let seqs = csv_seqs(&out);
    assert_eq!(seqs.len() as i64, all);
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "oldest first");
    let (_, user, details) = last_export(&mut admin).await.unwrap();
    assert_eq!(user, Some(boss.user.id));
    assert_eq!(details["rows"], all);

    // Records staff see the events about records, and nothing else.
    let staff = login(&svc, RECORDS_STAFF).await;
    let expected = seqs_where(
        &mut admin,
        "resource_type = 'medical_record' OR action = 'EMERGENCY_ACCESS'",
        None,
    )
    .await;
    let out = dir.path().join("records.jsonl");
    export::for_session(
        &svc,
        &client(),
        &staff,
        &AuditFilter::default(),
        Format::Jsonl,
        &out,
        &|_, _| {},
    )
    .await
    .unwrap();
    assert_eq!(jsonl_seqs(&out), expected);
}
