//! Figures as the bench prints them: latencies by key, memory, CPU time.

use std::time::Duration;

use crate::client::{Key, Sample};
use crate::*;

pub(crate) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub(crate) fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// Nearest-rank percentile of sorted `v`.
pub(crate) fn pct(v: &[Duration], p: f64) -> Duration {
    if v.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((v.len() as f64) * p / 100.0).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

pub(crate) fn print_latencies(samples: &[Sample]) {
    println!(
        "   keystroke to frame, ms          {:>6} {:>7} {:>7} {:>7} {:>7} | first bytes p50 / p99",
        "keys", "p50", "p95", "p99", "max"
    );
    let row = |label: &str, pick: &dyn Fn(&Sample) -> bool| {
        let mut frame: Vec<Duration> = samples
            .iter()
            .filter(|s| pick(s))
            .map(|s| s.frame)
            .collect();
        let mut first: Vec<Duration> = samples
            .iter()
            .filter(|s| pick(s))
            .filter_map(|s| s.first)
            .collect();
        if frame.is_empty() {
            return;
        }
        frame.sort();
        first.sort();
        println!(
            "   {label:<31} {:>6} {:>7.1} {:>7.1} {:>7.1} {:>7.1} | {:.1} / {:.1}",
            frame.len(),
            ms(pct(&frame, 50.0)),
            ms(pct(&frame, 95.0)),
            ms(pct(&frame, 99.0)),
            ms(frame[frame.len() - 1]),
            ms(pct(&first, 50.0)),
            ms(pct(&first, 99.0)),
        );
    };
    row("all keys", &|_| true);
    row("all but Esc", &|s| s.key != Key::Esc);
    for key in Key::ALL {
        row(key.name(), &|s| s.key == key);
    }
    let esc: Vec<&Sample> = samples.iter().filter(|s| s.key == Key::Esc).collect();
    if !esc.is_empty() {
        let late = esc.iter().filter(|s| ms(s.frame) > 45.0).count();
        println!(
            "   Esc over 45 ms: {late} of {} ({:.0} %)",
            esc.len(),
            late as f64 * 100.0 / esc.len() as f64
        );
    }
}

/// CPU seconds so far of the server, PostgreSQL (postmaster and backends), this bench (the 100
/// clients) and the whole machine.
pub(crate) struct Cpu {
    pub(crate) server: f64,
    pub(crate) postgres: f64,
    pub(crate) clients: f64,
    pub(crate) machine_busy: f64,
    pub(crate) machine_total: f64,
}

impl Cpu {
    pub(crate) fn now(server: u32, postmaster: u32) -> Cpu {
        let (machine_busy, machine_total) = server::machine_cpu();
        Cpu {
            server: server::cpu_seconds(server),
            postgres: server::cpu_seconds_with_children(postmaster),
            clients: server::cpu_seconds(std::process::id()),
            machine_busy,
            machine_total,
        }
    }

    pub(crate) fn print_since(&self, before: &Cpu, elapsed: Duration) {
        let wall = elapsed.as_secs_f64();
        let share = |cpu: f64| format!("{cpu:.1} s = {:.2} cores", cpu / wall);
        println!("   CPU over the {wall:.0} s:");
        println!(
            "     hsc serve          {}",
            share(self.server - before.server)
        );
        println!(
            "     PostgreSQL         {}",
            share(self.postgres - before.postgres)
        );
        println!(
            "     the 100 clients    {}",
            share(self.clients - before.clients)
        );
        let busy = self.machine_busy - before.machine_busy;
        let all = self.machine_total - before.machine_total;
        println!(
            "     whole machine      {} of {:.1} s ({:.0} % busy)",
            share(busy),
            all,
            if all > 0.0 { busy / all * 100.0 } else { 0.0 }
        );
    }
}
