//! Writers: 16 tasks, each a loop of transactions that write one audit row and commit, with the chain
//! sealed after each commit and as plain inserts, then the plain run's backlog sealed.

use std::time::{Duration, Instant};

use serde_json::json;
use uuid::Uuid;

use crate::generate::World;
use crate::{Stats, ms, stats};
use hsc::db::{Actor, Database, Maintenance};
use hsc::services::audit::{self, Action, Client, Event, Outcome};

const WRITERS: usize = 16;
const WRITE_FOR: Duration = Duration::from_secs(10);

struct Writing {
    events: u64,
    took: Duration,
    latency: Stats,
}

pub struct Writers {
    chained: Writing,
    chained_left: i64,
    plain: Writing,
    backlog: u64,
    backlog_took: Duration,
}

impl Writers {
    pub fn print(&self) {
        println!(
            "\n{WRITERS} writers, each a loop of transactions (begin as a physician, audit::write one \
             RECORD_VIEW row, commit), for {} s:",
            WRITE_FOR.as_secs()
        );
        for (what, w) in [
            ("with the chain (sealed after each commit)", &self.chained),
            ("plain inserts (no sealing)", &self.plain),
        ] {
            println!(
                "  {what:<42} {:>7} events in {:.1} s = {:>6.0} events/s; a transaction {:.2} / {:.2} ms (median / p99)",
                w.events,
                w.took.as_secs_f64(),
                w.events as f64 / w.took.as_secs_f64(),
                ms(w.latency.median),
                ms(w.latency.p99)
            );
        }
        println!(
            "  queued rows left unsealed after the chained writers: {}",
            self.chained_left
        );
        println!(
            "  sealing the plain inserts' backlog afterwards: {} rows in {:.1} s = {:.0} rows/s",
            self.backlog,
            self.backlog_took.as_secs_f64(),
            self.backlog as f64 / self.backlog_took.as_secs_f64()
        );
    }
}

/// `WRITERS` tasks, each acting as its own physician, writing one audit row per transaction.
async fn write_for(db: &Database, world: &World) -> Writing {
    let start = Instant::now();
    let deadline = start + WRITE_FOR;
    let tasks: Vec<_> = (0..WRITERS)
        .map(|t| {
            let db = db.clone();
            let user = world.physicians[1 + t];
            let (patient, record) = (world.patients[1 + t], world.record(1 + t, 0));
            tokio::spawn(async move {
                let client = Client::new(
                    Some(&format!("10.9.0.{} 50000 10.0.0.1 22", t + 1)),
                    "xterm-256color",
                );
                let event = Event::new(Action::RecordView, Outcome::Success, Some(user))
                    .session(Uuid::from_u128(t as u128 + 100))
                    .resource("medical_record", record)
                    .patient(patient)
                    .details(json!({"version": 1, "channel": "ward"}));
                let mut latency = Vec::new();
                while Instant::now() < deadline {
                    let one = Instant::now();
                    let mut tx = db.begin(Actor::User(user)).await.expect("a transaction");
                    audit::write(tx.conn(), &client, &event)
                        .await
                        .expect("the audit row");
                    tx.commit().await.expect("commit");
                    latency.push(one.elapsed());
                }
                latency
            })
        })
        .collect();
    let mut latency = Vec::new();
    for task in tasks {
        latency.extend(task.await.expect("a writer"));
    }
    Writing {
        events: latency.len() as u64,
        took: start.elapsed(),
        latency: stats(latency),
    }
}

async fn queued(db: &Database) -> i64 {
    let mut tx = db
        .begin_maintenance(Maintenance::Seed)
        .await
        .expect("an owner transaction");
    sqlx::query_scalar("SELECT count(*) FROM audit_queue")
        .fetch_one(tx.conn())
        .await
        .expect("the queue")
}

pub async fn measure_writers(plain_db: &Database, sealing_db: &Database, world: &World) -> Writers {
    println!("\nwriters: with the chain ...");
    let chained = write_for(sealing_db, world).await;
    let chained_left = queued(plain_db).await;
    // Whatever a last commit left queued belongs to the chain run, not to the plain one.
    sealing_db.seal_audit_now().await.expect("sealed");
    println!("writers: plain inserts ...");
    let plain = write_for(plain_db, world).await;
    let start = Instant::now();
    let backlog = sealing_db
        .seal_audit_now()
        .await
        .expect("the backlog sealed");
    let backlog_took = start.elapsed();
    Writers {
        chained,
        chained_left,
        plain,
        backlog,
        backlog_took,
    }
}
