//! Measuring: latency statistics, the worker loop, memory.

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        OnceLock,
    },
    time::{Duration, Instant},
};

use serde_json::Value;

#[derive(Default)]
pub struct Stats {
    pub latencies: Vec<Duration>,
    pub errors: usize,
}

/// What a phase measured.
#[derive(Clone, Copy, Debug, Default)]
pub struct Summary {
    pub rps: f64,
    pub p99_ms: f64,
    /// Requests answered successfully.
    pub ok: usize,
}

pub fn report(name: &str, stats: &mut Stats, elapsed: Duration) -> Summary {
    stats.latencies.sort();
    let n = stats.latencies.len();
    let pct = |p: f64| {
        stats
            .latencies
            .get(((n as f64 * p) as usize).min(n.saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    println!(
        "{name:<16} {:>7} ok {:>4} err  {:>8.0} req/s   p50 {:>7.2} ms   p99 {:>7.2} ms",
        n,
        stats.errors,
        n as f64 / elapsed.as_secs_f64(),
        pct(0.50).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
    );
    Summary {
        rps: n as f64 / elapsed.as_secs_f64(),
        p99_ms: pct(0.99).as_secs_f64() * 1e3,
        ok: n,
    }
}

/// POSTs `body` as JSON; the successful answer read as a `T` (`serde_json::Value` for all of
/// it, a small struct for only what the next request needs, as a lean client would).
pub async fn post<T: serde::de::DeserializeOwned>(
    client: &reqwest::Client,
    url: &str,
    body: Value,
) -> Option<T> {
    let res = client.post(url).json(&body).send().await.ok()?;
    if !res.status().is_success() {
        return None;
    }
    res.json().await.ok()
}

/// Runs `op` from `concurrency` workers for `seconds`; each worker keeps its own state.
pub async fn run<S, F, Fut>(name: &str, seconds: u64, states: Vec<S>, op: F) -> (Vec<S>, Summary)
where
    S: Send + 'static,
    F: Fn(S) -> Fut + Send + Sync + Copy + 'static,
    Fut: std::future::Future<Output = (S, bool)> + Send,
{
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let start = Instant::now();
    let cpu_before = Cpu::now();
    // Another phase running when this one starts, starting during it, or still running at
    // its end: they overlapped.
    let others_at_start = RUNNING.fetch_add(1, Ordering::SeqCst) > 0;
    let started = STARTED.fetch_add(1, Ordering::SeqCst);
    let mut handles = Vec::new();
    for state in states {
        handles.push(tokio::spawn(async move {
            let mut stats = Stats::default();
            let mut state = state;
            while Instant::now() < deadline {
                let t = Instant::now();
                let (next, ok) = op(state).await;
                state = next;
                if ok {
                    stats.latencies.push(t.elapsed());
                } else {
                    stats.errors += 1;
                }
            }
            (state, stats)
        }));
    }
    let mut total = Stats::default();
    let mut states = Vec::new();
    for h in handles {
        let (s, stats) = h.await.unwrap();
        total.latencies.extend(stats.latencies);
        total.errors += stats.errors;
        states.push(s);
    }
    let cpu = Cpu::now().since(cpu_before);
    let overlapping = RUNNING.fetch_sub(1, Ordering::SeqCst) > 1
        || others_at_start
        || STARTED.load(Ordering::SeqCst) != started + 1;
    let summary = report(name, &mut total, start.elapsed());
    if overlapping {
        // The machine's CPU went to both phases at once: per request of this one, it means
        // nothing.
        println!(
            "                 (CPU per request not shown: another phase ran at the same time)"
        );
    } else {
        cpu.report(summary.ok);
    }
    println!("                 server RSS now {:.1} MiB", rss_mib());
    (states, summary)
}

/// CPU time (user and system, in seconds) of the server, of every PostgreSQL process on the
/// machine and of this load generator, from `/proc`: where each request's work is done.
#[derive(Clone, Copy, Debug, Default)]
pub struct Cpu {
    pub server: f64,
    pub postgres: f64,
    pub load: f64,
}

impl Cpu {
    pub fn now() -> Self {
        let postgres = std::fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| {
                std::fs::read_to_string(e.path().join("comm")).is_ok_and(|c| c.trim() == "postgres")
            })
            .filter_map(|e| cpu_seconds_with_children(&e.file_name().to_string_lossy()))
            .sum();
        Self {
            server: SERVER_PID
                .get()
                .and_then(|pid| cpu_seconds(&pid.to_string()))
                .unwrap_or(0.0),
            postgres,
            load: cpu_seconds("self").unwrap_or(0.0),
        }
    }

    pub fn since(self, before: Self) -> Self {
        Self {
            server: self.server - before.server,
            postgres: self.postgres - before.postgres,
            load: self.load - before.load,
        }
    }

    /// Prints the CPU time per request of each process.
    pub fn report(&self, requests: usize) {
        let per = |s: f64| 1e6 * s / requests.max(1) as f64;
        println!(
            "                 CPU per request: server {:.0} µs, PostgreSQL {:.0} µs, load generator {:.0} µs",
            per(self.server),
            per(self.postgres),
            per(self.load),
        );
    }
}

/// User plus system CPU seconds of process `pid` (or `self`), from `/proc/<pid>/stat`
/// (fields 14 and 15, in clock ticks: USER_HZ, 1/100 s on Linux).
fn cpu_seconds(pid: &str) -> Option<f64> {
    stat_ticks(pid, &[11, 12])
}

/// The same plus the children it has reaped (fields 16 and 17). PostgreSQL's backends and
/// autovacuum workers are children of the postmaster: one that ends during a phase is then
/// still counted, in the postmaster's figure.
fn cpu_seconds_with_children(pid: &str) -> Option<f64> {
    stat_ticks(pid, &[11, 12, 13, 14])
}

fn stat_ticks(pid: &str, fields: &[usize]) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; the fields after it start with field 3.
    let all: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let mut ticks = 0.0;
    for &i in fields {
        ticks += all.get(i)?.parse::<f64>().ok()?;
    }
    Some(ticks / 100.0)
}

/// Phases running now (the sign-in flood runs beside a refresh phase).
static RUNNING: AtomicUsize = AtomicUsize::new(0);
/// Phases started so far.
static STARTED: AtomicUsize = AtomicUsize::new(0);

/// The server's process, whose memory the figures are.
pub static SERVER_PID: OnceLock<u32> = OnceLock::new();

/// The server's peak resident memory so far.
pub fn peak_rss_mib() -> f64 {
    status_mib("VmHWM:")
}

/// The server's resident memory now.
pub fn rss_mib() -> f64 {
    status_mib("VmRSS:")
}

fn status_mib(field: &str) -> f64 {
    let Some(pid) = SERVER_PID.get() else {
        return 0.0;
    };
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .map(|l| l.to_owned())
        })
        .and_then(|l| {
            l.split_whitespace()
                .nth(1)
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}
