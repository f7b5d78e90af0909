//! The viewer's pages: for each single filter, the first page and the 10,000th (or the last), keyset
//! through the real service and its SQL alone under row-level security, against the same page by
//! OFFSET; EXPLAIN for a page over target.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::generate::{self, Counts, World};
use crate::{Stats, ms, stats};
use hsc::db::{ActingTx, Actor, Maintenance, MaintenanceTx};
use hsc::services::Services;
use hsc::services::audit::Client;
use hsc::services::audit::filter::AuditFilter;
use hsc::services::audit::query::{self, Cursor};
use hsc::services::sessions::Session;

const PAGE: usize = query::PAGE_SIZE;
/// The deep page measured (or the last page, for a filter with fewer).
const DEEP_PAGE: u64 = 10_000;
const RUNS: usize = 200;
/// Runs before each measurement that are not counted (caches, the first plans of each connection).
const WARM_UP: usize = 20;
/// OFFSET pages deep in the trail take seconds each.
const OFFSET_RUNS: usize = 5;
const OFFSET_WARM_UP: usize = 1;
/// The target for a keyset page, first or 10,000th, of any single filter.
const TARGET_MS: f64 = 20.0;

/// One single filter, read by an admin (or, `staff`, by records staff).
pub struct Case {
    label: &'static str,
    text: String,
    pub staff: bool,
    /// Generated events it matches (rows the bench itself adds come on top).
    matches: u64,
}

pub fn cases(world: &World, c: &Counts) -> Vec<Case> {
    let month = 7.min(generate::MONTHS - 1);
    let since = world.month_start(month);
    let until = world.month_start(month + 1) - chrono::Duration::days(1);
    let (busiest, record_events) = c
        .busy_records
        .iter()
        .enumerate()
        .max_by_key(|(k, n)| (**n, std::cmp::Reverse(*k)))
        .map(|(k, n)| (k, *n))
        .expect("records");
    let case = |label, text: String, matches| Case {
        label,
        text,
        staff: false,
        matches,
    };
    vec![
        // First, while the newest rows are the generated ones (a tenth of them match); again at
        // the end, under the thousands of AUDIT_VIEW rows this bench wrote meanwhile.
        case("free text", generate::WORD.into(), c.word),
        case("none", String::new(), world.events),
        case(
            "time range (one month)",
            format!(
                "since:{} until:{}",
                since.format("%Y-%m-%d"),
                until.format("%Y-%m-%d")
            ),
            c.by_month[month as usize],
        ),
        case(
            "user",
            format!("user:{}", generate::email("physician", 0)),
            c.busy_user,
        ),
        case(
            "patient",
            format!("patient:{}", generate::email("patient", 0)),
            c.busy_patient,
        ),
        case("action", "action:RECORD_VIEW".into(), c.record_view),
        case("severity HIGH", "severity:high".into(), c.high),
        case("outcome", "outcome:denied".into(), c.denied),
        case(
            "resource (busiest record)",
            format!("resource:{}", world.record(0, busiest)),
            record_events,
        ),
        case("severity CRITICAL", "severity:critical".into(), c.critical),
        Case {
            label: "none, as records staff",
            text: String::new(),
            staff: true,
            matches: c.records_staff_visible,
        },
        case("free text, again at the end", generate::WORD.into(), c.word),
    ]
}

/// The columns a page is compared by; the queries return all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
struct PageRow {
    seq: i64,
    occurred_at: DateTime<Utc>,
}

/// A transaction as an acting user (row-level security) or as the owner (none).
enum Tx {
    Acting(ActingTx),
    Owner(MaintenanceTx),
}

impl Tx {
    fn conn(&mut self) -> &mut PgConnection {
        match self {
            Tx::Acting(tx) => tx.conn(),
            Tx::Owner(tx) => tx.conn(),
        }
    }
}

/// Opens a read transaction for `reader` (the owner when `None`).
async fn begin(svc: &Services, reader: Option<Uuid>) -> Tx {
    match reader {
        Some(user) => Tx::Acting(
            svc.db
                .begin(Actor::User(user))
                .await
                .expect("a transaction"),
        ),
        None => Tx::Owner(
            svc.db
                .begin_maintenance(Maintenance::Seed)
                .await
                .expect("an owner transaction"),
        ),
    }
}

/// Finds the people `filter` names, then plans each statement for its own values: in the order
/// `query::list` does both.
async fn resolve(tx: &mut Tx, filter: &AuditFilter) -> query::Resolved {
    let resolved = query::resolve(tx.conn(), filter).await.expect("the filter");
    sqlx::query("SET LOCAL plan_cache_mode = force_custom_plan")
        .execute(tx.conn())
        .await
        .expect("the plan setting");
    resolved
}

#[derive(Clone, Copy)]
enum At {
    /// After this cursor (`query::PAGE_SQL`, as `list` reads).
    Keyset(Option<Cursor>),
    /// Skipping this many rows (`query::OFFSET_PAGE_SQL`).
    Offset(i64),
}

/// One page's SQL alone, `limit` rows, as `reader`; only the query is timed (not the transaction,
/// nor finding the people the filter names: that time comes second). Read only: dropping the
/// transaction rolls it back.
async fn page_sql(
    svc: &Services,
    reader: Option<Uuid>,
    filter: &AuditFilter,
    at: At,
    limit: i64,
) -> (Vec<PageRow>, Duration, Duration) {
    let mut tx = begin(svc, reader).await;
    let start = Instant::now();
    let resolved = resolve(&mut tx, filter).await;
    let resolving = start.elapsed();
    let start = Instant::now();
    let q = match at {
        At::Keyset(after) => resolved
            .bind(sqlx::query_as(query::PAGE_SQL))
            .bind(after.map(|c| c.occurred_at))
            .bind(after.map(|c| c.seq)),
        At::Offset(skip) => resolved
            .bind(sqlx::query_as(query::OFFSET_PAGE_SQL))
            .bind(skip)
            .bind(None::<i64>),
    };
    let rows = q.bind(limit).fetch_all(tx.conn()).await.expect("the page");
    (rows, start.elapsed(), resolving)
}

async fn page_sql_runs(
    svc: &Services,
    reader: Uuid,
    filter: &AuditFilter,
    at: At,
    (warm_up, runs): (usize, usize),
) -> (Stats, Vec<PageRow>, Stats) {
    let mut samples = Vec::with_capacity(runs);
    let mut resolving = Vec::with_capacity(runs);
    let mut rows = Vec::new();
    for run in 0..warm_up + runs {
        // As `list` asks: one row more than the page, to know whether there is a next.
        let (page, took, resolved) = page_sql(svc, Some(reader), filter, at, PAGE as i64 + 1).await;
        if run >= warm_up {
            samples.push(took);
            resolving.push(resolved);
        }
        rows = page;
    }
    rows.truncate(PAGE);
    (stats(samples), rows, stats(resolving))
}

/// The viewer's page through the service: session check, filter resolved, page query, names,
/// AUDIT_VIEW row, commit and seal.
async fn list_runs(
    svc: &Services,
    client: &Client,
    session: &Session,
    filter: &AuditFilter,
    after: Option<Cursor>,
) -> (Stats, Vec<PageRow>) {
    let mut samples = Vec::with_capacity(RUNS);
    let mut rows = Vec::new();
    for run in 0..WARM_UP + RUNS {
        let start = Instant::now();
        let page = query::list(svc, client, session, filter, after, PAGE)
            .await
            .expect("a page");
        let took = start.elapsed();
        if run >= WARM_UP {
            samples.push(took);
        }
        rows = page
            .events
            .iter()
            .map(|e| PageRow {
                seq: e.seq,
                occurred_at: e.occurred_at,
            })
            .collect();
    }
    (stats(samples), rows)
}

/// The page's plan as the service gets it, under row-level security.
async fn explain(
    svc: &Services,
    reader: Uuid,
    filter: &AuditFilter,
    after: Option<Cursor>,
) -> Vec<String> {
    let mut tx = begin(svc, Some(reader)).await;
    let resolved = resolve(&mut tx, filter).await;
    let sql = format!("EXPLAIN (ANALYZE, BUFFERS) {}", query::PAGE_SQL);
    let lines: Vec<(String,)> = resolved
        .bind(sqlx::query_as(sqlx::AssertSqlSafe(sql)))
        .bind(after.map(|c| c.occurred_at))
        .bind(after.map(|c| c.seq))
        .bind(PAGE as i64 + 1)
        .fetch_all(tx.conn())
        .await
        .expect("EXPLAIN");
    lines.into_iter().map(|(l,)| l).collect()
}

pub struct Measured {
    label: &'static str,
    text: String,
    matches: u64,
    /// Rows the bench itself had added on top of the generated ones when the case began.
    own_rows: i64,
    /// Median time `query::resolve` took (finding the people a filter names).
    resolving: Duration,
    deep_page: u64,
    service: [Stats; 2],
    sql: [Stats; 2],
    offset: [Stats; 2],
    /// The keyset pages (service and SQL) held the rows OFFSET found for the deep page.
    same_rows: bool,
    /// Plans of pages over target (or the example), with what they are.
    plans: Vec<(String, Vec<String>)>,
}

impl Measured {
    fn missed(&self, page: usize) -> bool {
        ms(self.service[page].p99) > TARGET_MS || ms(self.sql[page].p99) > TARGET_MS
    }

    pub fn print_plans(&self) {
        for (what, lines) in &self.plans {
            println!("\nEXPLAIN (ANALYZE, BUFFERS) of {what}:");
            for line in lines {
                println!("  {line}");
            }
        }
    }
}

/// Rows sealed after the generated ones (sign-ins and the bench's own AUDIT_VIEW rows).
async fn own_rows(svc: &Services, generated: u64) -> i64 {
    let mut tx = begin(svc, None).await;
    let head: i64 = sqlx::query_scalar("SELECT seq FROM audit_chain")
        .fetch_one(tx.conn())
        .await
        .expect("the chain's head");
    head - i64::try_from(generated).expect("a count")
}

pub async fn measure_case(
    svc: &Services,
    client: &Client,
    session: &Session,
    case: &Case,
    generated: u64,
) -> Measured {
    let filter = AuditFilter::parse(&case.text).expect("a filter");
    let reader = session.user.id;
    let pages = case.matches.div_ceil(PAGE as u64).max(2);
    let deep_page = pages.min(DEEP_PAGE);
    let skip = i64::try_from((deep_page - 1) * PAGE as u64).expect("an offset");
    let own_rows = own_rows(svc, generated).await;
    println!(
        "\n{} [{}]: {} events, page {deep_page} of {pages}; {own_rows} rows this bench wrote sit on top",
        case.label, case.text, case.matches
    );

    // The deep page's cursor (the row before it) and rows, found once by OFFSET: as the owner, who
    // sees what an admin sees; as records staff themselves, whose policy the owner would skip.
    let cursor_reader = case.staff.then_some(reader);
    let (found, took, _) = page_sql(
        svc,
        cursor_reader,
        &filter,
        At::Offset(skip - 1),
        PAGE as i64 + 1,
    )
    .await;
    println!(
        "  cursor of page {deep_page} by OFFSET {} ({}): {:.0} ms",
        skip - 1,
        if case.staff { "records staff" } else { "owner" },
        ms(took)
    );
    let cursor = found.first().map(|r| Cursor {
        occurred_at: r.occurred_at,
        seq: r.seq,
    });
    let expected: Vec<PageRow> = found.iter().skip(1).copied().collect();

    let (sql_first, _, resolving) =
        page_sql_runs(svc, reader, &filter, At::Keyset(None), (WARM_UP, RUNS)).await;
    let (sql_deep, sql_rows, _) =
        page_sql_runs(svc, reader, &filter, At::Keyset(cursor), (WARM_UP, RUNS)).await;
    println!(
        "  keyset SQL under RLS: first {:.2} / {:.2} ms, page {deep_page} {:.2} / {:.2} ms (median / p99)",
        ms(sql_first.median),
        ms(sql_first.p99),
        ms(sql_deep.median),
        ms(sql_deep.p99)
    );
    let over = |s: &Stats| ms(s.p99) > TARGET_MS;
    let pages_at = [
        (None, "first page".to_string()),
        (cursor, format!("page {deep_page}")),
    ];
    let reader_name = if case.staff { "records staff" } else { "admin" };
    let mut plans = Vec::new();
    // Explained at once, while the trail is as it was measured (the service runs below add rows).
    for (page, stats) in [&sql_first, &sql_deep].into_iter().enumerate() {
        if over(stats) {
            let (after, which) = &pages_at[page];
            plans.push((
                format!(
                    "{} [{}], {which} (keyset SQL, as {reader_name}) — over target, right after its runs",
                    case.label, case.text
                ),
                explain(svc, reader, &filter, *after).await,
            ));
        }
    }
    let offsets = (OFFSET_WARM_UP, OFFSET_RUNS);
    let (offset_first, _, _) = page_sql_runs(svc, reader, &filter, At::Offset(0), offsets).await;
    let (offset_deep, offset_rows, _) =
        page_sql_runs(svc, reader, &filter, At::Offset(skip), offsets).await;
    println!(
        "  OFFSET SQL under RLS: first {:.2} ms, page {deep_page} {:.0} ms (median)",
        ms(offset_first.median),
        ms(offset_deep.median)
    );
    let (service_first, _) = list_runs(svc, client, session, &filter, None).await;
    let (service_deep, service_rows) = list_runs(svc, client, session, &filter, cursor).await;
    println!(
        "  service list(): first {:.2} / {:.2} ms, page {deep_page} {:.2} / {:.2} ms (median / p99)",
        ms(service_first.median),
        ms(service_first.p99),
        ms(service_deep.median),
        ms(service_deep.p99)
    );
    let same_rows = sql_rows == expected && service_rows == expected && offset_rows == expected;
    if !same_rows {
        println!(
            "  NOTE: the pages differ: OFFSET once {} rows, keyset SQL {}, service {}, OFFSET runs {}",
            expected.len(),
            sql_rows.len(),
            service_rows.len(),
            offset_rows.len()
        );
    }
    for (page, (service, sql)) in [(&service_first, &sql_first), (&service_deep, &sql_deep)]
        .into_iter()
        .enumerate()
    {
        let example = page == 1 && case.label == "none" && !case.staff;
        if (over(service) && !over(sql)) || example {
            let (after, which) = &pages_at[page];
            plans.push((
                format!(
                    "{} [{}], {which} (keyset SQL, as {reader_name}) — {}",
                    case.label,
                    case.text,
                    if example {
                        "an example"
                    } else {
                        "the service was over target, its SQL alone within"
                    }
                ),
                explain(svc, reader, &filter, *after).await,
            ));
        }
    }

    let mut m = Measured {
        label: case.label,
        text: case.text.clone(),
        matches: case.matches,
        own_rows,
        resolving: resolving.median,
        deep_page,
        service: [service_first, service_deep],
        sql: [sql_first, sql_deep],
        offset: [offset_first, offset_deep],
        same_rows,
        plans,
    };
    // A person named by email is found before the page is read (`query::resolve`), on every page.
    if let Some((_, email)) = case
        .text
        .split_once(':')
        .filter(|(key, _)| (*key == "user" || *key == "patient") && (m.missed(0) || m.missed(1)))
    {
        let mut tx = begin(svc, Some(reader)).await;
        let lines: Vec<(String,)> = sqlx::query_as(
            "EXPLAIN (ANALYZE, BUFFERS) SELECT id FROM users WHERE lower(email) = $1 LIMIT 2",
        )
        .bind(email)
        .fetch_all(tx.conn())
        .await
        .expect("EXPLAIN");
        m.plans.push((
            format!(
                "finding {email} as `query::resolve` does, under RLS as {} (before each page)",
                if case.staff { "records staff" } else { "admin" }
            ),
            lines.into_iter().map(|(l,)| l).collect(),
        ));
    }
    m
}

pub fn print_pages(measured: &[Measured]) {
    println!(
        "\npages of {PAGE}, newest first; keyset (service `query::list` as the reader, and its SQL alone \
         under RLS: {RUNS} runs after {WARM_UP}) vs the same page by OFFSET (SQL under RLS, \
         {OFFSET_RUNS} runs after {OFFSET_WARM_UP}); median / p99 in ms; target: keyset p99 <= {TARGET_MS} ms"
    );
    println!(
        "{:<28} {:>9} {:>6}  {:>17}  {:>17}  {:>19}  target",
        "filter", "events", "page", "service list()", "keyset SQL", "OFFSET SQL"
    );
    for m in measured {
        for page in 0..2 {
            let number = if page == 0 { 1 } else { m.deep_page };
            let pair = |s: &Stats| format!("{:.2} / {:.2}", ms(s.median), ms(s.p99));
            println!(
                "{:<28} {:>9} {:>6}  {:>17}  {:>17}  {:>19}  {}{}",
                if page == 0 { m.label } else { "" },
                if page == 0 {
                    m.matches.to_string()
                } else {
                    String::new()
                },
                number,
                pair(&m.service[page]),
                pair(&m.sql[page]),
                pair(&m.offset[page]),
                if m.missed(page) { "MISSED" } else { "met" },
                if page == 1 && !m.same_rows {
                    " (pages differ!)"
                } else {
                    ""
                }
            );
        }
    }
    println!(
        "filters (with the rows the bench had written on top when each began, and the median time \
         of finding the people it names, outside the SQL column):"
    );
    for m in measured {
        println!(
            "  {:<28} {:<50} {:>6} own rows  resolve {:.2} ms",
            m.label,
            format!("{:?}", m.text),
            m.own_rows,
            ms(m.resolving)
        );
    }
}
