//! The bench's phases: crowds signing in, the Esc probe, one client's driving, signing out.

use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use tokio::task::JoinSet;

use crate::client::{Console, Key, Sample};
use crate::generate::RECORDS_EACH;
use crate::server::Served;
use crate::*;

/// How long a crowd took to sign in.
pub(crate) struct SignIns {
    pub(crate) whole: Duration,
    pub(crate) median: Duration,
    pub(crate) max: Duration,
}

/// `CLIENTS` clients connect and sign in at once; returns those on their first page.
pub(crate) async fn wave(served: &Served, problems: &mut Problems) -> (Vec<Console>, SignIns) {
    let start = Instant::now();
    let mut tasks = JoinSet::new();
    for chart in 0..CLIENTS {
        let (address, fingerprint) = (served.address, served.fingerprint.clone());
        tasks.spawn(async move {
            let mut c = Console::open(address, &fingerprint, chart).await?;
            let took = c.sign_in().await?;
            Ok::<_, String>((c, took))
        });
    }
    let mut consoles = Vec::new();
    let mut times = Vec::new();
    while let Some(done) = tasks.join_next().await {
        match done.expect("a client task") {
            Ok((c, took)) => {
                consoles.push(c);
                times.push(took);
            }
            Err(e) => problems.add(format!("sign-in: {e}")),
        }
    }
    let whole = start.elapsed();
    times.sort();
    let at = |i: usize| times.get(i).copied().unwrap_or_default();
    let signed = SignIns {
        whole,
        median: at(times.len() / 2),
        max: at(times.len().saturating_sub(1)),
    };
    consoles.sort_by_key(|c| c.chart);
    (consoles, signed)
}

/// Opens and closes the selected record `n` times on an otherwise idle server: Esc alone waits
/// for the rest of a sequence that never comes, so this shows that wait and how it is spread.
pub(crate) async fn esc_probe(c: &mut Console, n: usize, problems: &mut Problems) {
    let chart = c.chart;
    let mut rng = SmallRng::seed_from_u64(1);
    let mut esc = Vec::new();
    for _ in 0..n {
        c.idle(Duration::from_millis(rng.random_range(THINK_MS)))
            .await;
        let Some(v) = c.selected_visit() else {
            problems.add(format!("chart {chart:03}: no selected row:\n{}", c.text()));
            return;
        };
        let notes = generate::description(chart, v);
        if let Err(e) = c.press(Key::Enter, move |t| t.contains(&notes)).await {
            problems.add(e);
            return;
        }
        c.idle(Duration::from_millis(rng.random_range(THINK_MS)))
            .await;
        let line = status(1);
        match c
            .press(Key::Esc, move |t| {
                t.contains(&line) && !t.contains("Notes of chart")
            })
            .await
        {
            Ok(sample) => esc.push(sample.frame),
            Err(e) => {
                problems.add(e);
                return;
            }
        }
    }
    esc.sort();
    let late = esc.iter().filter(|d| ms(**d) > 45.0).count();
    println!(
        "   Esc alone, {} times: min {:.1} ms, median {:.1} ms, max {:.1} ms; {late} over 45 ms",
        esc.len(),
        ms(esc[0]),
        ms(pct(&esc, 50.0)),
        ms(esc[esc.len() - 1]),
    );
}

/// `CLIENTS` clients connect at once, then sign in one after another (one argon2 verification at a
/// time); returns those on their first page.
pub(crate) async fn serial_wave(served: &Served, problems: &mut Problems) -> Vec<Console> {
    let mut tasks = JoinSet::new();
    for chart in 0..CLIENTS {
        let (address, fingerprint) = (served.address, served.fingerprint.clone());
        tasks.spawn(async move { Console::open(address, &fingerprint, chart).await });
    }
    let mut open = Vec::new();
    while let Some(done) = tasks.join_next().await {
        match done.expect("a client task") {
            Ok(c) => open.push(c),
            Err(e) => problems.add(format!("connect: {e}")),
        }
    }
    open.sort_by_key(|c| c.chart);
    let start = Instant::now();
    let mut consoles = Vec::new();
    for mut c in open {
        match c.sign_in().await {
            Ok(_) => consoles.push(c),
            Err(e) => problems.add(format!("sign-in: {e}")),
        }
    }
    println!(
        "   {} signed in, one after another, in {:.1} s",
        consoles.len(),
        start.elapsed().as_secs_f64()
    );
    consoles
}

/// Every console signs out with `q` and must end with status 0.
pub(crate) async fn quit_all(consoles: Vec<Console>, problems: &mut Problems) {
    let mut tasks = JoinSet::new();
    for mut c in consoles {
        tasks.spawn(async move {
            let ended = c.quit().await;
            let chart = c.chart;
            c.disconnect().await;
            (chart, ended)
        });
    }
    while let Some(done) = tasks.join_next().await {
        match done.expect("a client task") {
            (_, Ok(Some(0))) => {}
            (chart, other) => problems.add(format!("chart {chart:03}: q ended with {other:?}")),
        }
    }
}

/// What one client's run gave.
pub(crate) struct Driven {
    pub(crate) console: Console,
    pub(crate) samples: Vec<Sample>,
    pub(crate) errors: Vec<String>,
}

/// The status line of page `p` (pages of 50, 50, 20).
pub(crate) fn status(p: usize) -> String {
    let rows = (RECORDS_EACH - (p - 1) * 50).min(50);
    format!("page {p} · {rows} shown")
}

/// The newest visit of page `p`: its first row.
pub(crate) fn first_visit(p: usize) -> usize {
    RECORDS_EACH - 1 - (p - 1) * 50
}

/// Pages until `end`: PgDn, PgDn, PgUp, PgUp, and every other round j, Enter, Esc on page 1, with a
/// think time before each key. Stops at its first error (the screen's state is then unknown).
pub(crate) async fn drive(mut c: Console, end: Instant, seed: u64) -> Driven {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut samples = Vec::new();
    let chart = c.chart;
    let mut page = 1;
    let mut round = 0usize;
    c.idle(Duration::from_millis(rng.random_range(0..=300)))
        .await;
    // A round is finished once begun, so every client ends on its list's first page.
    while Instant::now() < end {
        let mut keys = vec![Key::PageDown, Key::PageDown, Key::PageUp, Key::PageUp];
        if round % 2 == 1 {
            keys.extend([Key::Down, Key::Enter, Key::Esc]);
        }
        round += 1;
        for key in keys {
            c.idle(Duration::from_millis(rng.random_range(THINK_MS)))
                .await;
            let pressed = match key {
                Key::PageDown | Key::PageUp => {
                    page = if key == Key::PageDown {
                        page + 1
                    } else {
                        page - 1
                    };
                    let (line, title) = (status(page), generate::title(chart, first_visit(page)));
                    c.press(key, move |t| t.contains(&line) && t.contains(&title))
                        .await
                }
                Key::Down => match c.selected_visit() {
                    Some(v) => {
                        let next = generate::title(chart, v - 1);
                        c.press(key, move |t| {
                            t.lines().any(|l| l.contains('▶') && l.contains(&next))
                        })
                        .await
                    }
                    None => Err(format!("chart {chart:03}: no selected row:\n{}", c.text())),
                },
                Key::Enter => match c.selected_visit() {
                    Some(v) => {
                        let notes = generate::description(chart, v);
                        c.press(key, move |t| t.contains(&notes)).await
                    }
                    None => Err(format!("chart {chart:03}: no selected row:\n{}", c.text())),
                },
                Key::Esc => {
                    let (line, title) = (status(1), generate::title(chart, first_visit(1)));
                    c.press(key, move |t| {
                        t.contains(&line) && t.contains(&title) && !t.contains("Notes of chart")
                    })
                    .await
                }
            };
            match pressed {
                Ok(sample) => samples.push(sample),
                Err(e) => {
                    return Driven {
                        console: c,
                        samples,
                        errors: vec![e],
                    };
                }
            }
        }
    }
    Driven {
        console: c,
        samples,
        errors: Vec::new(),
    }
}
