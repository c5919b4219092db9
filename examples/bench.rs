//! Load benchmark of the hot paths, over real HTTP against a real PostgreSQL.
//!
//! ```sh
//! cargo run --release --example bench -- --seconds 10 --concurrency 32
//! ```
//!
//! Starts the server in this process on a loopback port, against a fresh database created
//! next to `DATABASE_URL` (and dropped afterwards), then measures:
//! sign-up and password sign-in (Argon2id-bound), refresh (rotation; the hot path),
//! `GET /user` (access-token verification plus the session check), and reports requests per
//! second, latency percentiles, PostgreSQL transactions per refresh and peak memory.
//! Client and server share the machine's cores, so the figures are a floor.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use hasura_jwt_auth::{app::App, auth::keys::KeySet, config::Config, http, store};
use serde_json::{json, Value};
use sqlx::{postgres::PgConnectOptions, ConnectOptions, Connection};

struct Args {
    seconds: u64,
    concurrency: usize,
    users: usize,
}

fn args() -> Args {
    let mut a = Args {
        seconds: 10,
        concurrency: 32,
        users: 64,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut it = argv.iter();
    while let Some(flag) = it.next() {
        let value = it
            .next()
            .and_then(|v| v.parse().ok())
            .expect("flags take a number");
        match flag.as_str() {
            "--seconds" => a.seconds = value,
            "--concurrency" => a.concurrency = value as usize,
            "--users" => a.users = value as usize,
            other => panic!("unknown flag {other} (use --seconds, --concurrency, --users)"),
        }
    }
    a
}

#[derive(Default)]
struct Stats {
    latencies: Vec<Duration>,
    errors: usize,
}

fn report(name: &str, stats: &mut Stats, elapsed: Duration) {
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
}

async fn post(client: &reqwest::Client, url: &str, body: Value) -> Option<Value> {
    let res = client.post(url).json(&body).send().await.ok()?;
    if !res.status().is_success() {
        return None;
    }
    res.json().await.ok()
}

/// Runs `op` from `concurrency` workers for `seconds`; each worker keeps its own state.
async fn run<S, F, Fut>(name: &str, seconds: u64, states: Vec<S>, op: F) -> Vec<S>
where
    S: Send + 'static,
    F: Fn(S) -> Fut + Send + Sync + Copy + 'static,
    Fut: std::future::Future<Output = (S, bool)> + Send,
{
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let start = Instant::now();
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
    report(name, &mut total, start.elapsed());
    println!("                 RSS now {:.1} MiB", rss_mib());
    states
}

fn peak_rss_mib() -> f64 {
    status_mib("VmHWM:")
}

fn rss_mib() -> f64 {
    status_mib("VmRSS:")
}

fn status_mib(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
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

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = args();
    let url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let admin_opts: PgConnectOptions = url.parse()?;
    let db_name = format!("hja_bench_{}", std::process::id());
    let mut admin = admin_opts.connect().await?;
    sqlx::query(&format!("CREATE DATABASE {db_name}"))
        .execute(&mut admin)
        .await?;
    let opts = admin_opts.clone().database(&db_name);

    let config = Config::from_args([
        "--jwt-secret",
        "bench-secret-bench-secret-bench-secret-0123",
        "--db-max-connections",
        "20",
        // Every request comes from one loopback address: the per-address sign-in limit
        // would measure itself, not the server.
        "--rate-limit-sign-in",
        "0",
    ])?;
    let keys = KeySet::load(&config.keys)?;
    let pool = store::connect_with(opts.clone(), "auth", 20).await?;
    store::migrate(&pool, "auth").await?;
    let state = App::from_parts(config, pool.clone(), keys)?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(http::serve_on(listener, state, std::future::pending()));
    println!("RSS at start {:.1} MiB", rss_mib());
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(a.concurrency)
        .build()?;
    let client = Arc::new(client);
    println!(
        "hasura-jwt-auth bench: {} s per phase, concurrency {}, {} users, {} CPUs",
        a.seconds,
        a.concurrency,
        a.users,
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );

    // Sign-up (one request per user; Argon2id-bound).
    let t = Instant::now();
    let mut stats = Stats::default();
    let mut sessions = Vec::new();
    for chunk in (0..a.users).collect::<Vec<_>>().chunks(a.concurrency) {
        let futs = chunk.iter().map(|i| {
            let client = client.clone();
            let url = format!("{base}/signup");
            async move {
                let t = Instant::now();
                let r = post(
                    &client,
                    &url,
                    json!({"email": format!("u{i}@bench.example"), "password": "bench password 1"}),
                )
                .await;
                (r, t.elapsed())
            }
        });
        for (r, lat) in futures::future::join_all(futs).await {
            match r {
                Some(v) => {
                    stats.latencies.push(lat);
                    sessions.push(v);
                }
                None => stats.errors += 1,
            }
        }
    }
    report("signup", &mut stats, t.elapsed());
    println!("                 RSS now {:.1} MiB", rss_mib());

    // Password sign-in.
    let workers: Vec<(Arc<reqwest::Client>, String, usize)> = (0..a.concurrency.min(8))
        .map(|i| (client.clone(), base.clone(), i % a.users.max(1)))
        .collect();
    run(
        "sign-in",
        a.seconds.min(5),
        workers,
        |(c, base, i)| async move {
            let ok = post(
                &c,
                &format!("{base}/token?grant_type=password"),
                json!({"email": format!("u{i}@bench.example"), "password": "bench password 1"}),
            )
            .await
            .is_some();
            ((c, base, i), ok)
        },
    )
    .await;

    // Refresh: every worker rotates its own session's token in a loop.
    let commits = |pool: sqlx::PgPool, db: String| async move {
        sqlx::query_scalar::<_, i64>("SELECT xact_commit FROM pg_stat_database WHERE datname = $1")
            .bind(db)
            .fetch_one(&pool)
            .await
            .unwrap_or(0)
    };
    let workers: Vec<(Arc<reqwest::Client>, String, String)> = sessions
        .iter()
        .cycle()
        .take(a.concurrency)
        .enumerate()
        .filter(|(i, _)| *i < sessions.len())
        .map(|(_, s)| {
            (
                client.clone(),
                base.clone(),
                s["refresh_token"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let before = commits(pool.clone(), db_name.clone()).await;
    let t = Instant::now();
    let done = run("refresh", a.seconds, workers, |(c, base, rt)| async move {
        match post(
            &c,
            &format!("{base}/token?grant_type=refresh_token"),
            json!({"refresh_token": rt}),
        )
        .await
        {
            Some(v) => (
                (
                    c,
                    base,
                    v["refresh_token"].as_str().unwrap_or_default().to_owned(),
                ),
                true,
            ),
            None => ((c, base, rt), false),
        }
    })
    .await;
    let elapsed = t.elapsed();
    // pg_stat_database is updated asynchronously; give it a moment.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let after = commits(pool.clone(), db_name.clone()).await;
    let refreshes: i64 =
        sqlx::query_scalar("SELECT coalesce(sum(token_counter), 0)::bigint FROM auth.sessions")
            .fetch_one(&pool)
            .await?;
    let _ = (done, elapsed);
    if refreshes > 0 {
        println!(
            "                 {:.2} PostgreSQL transactions per refresh ({} refreshes)",
            (after - before) as f64 / refreshes as f64,
            refreshes
        );
    }

    // GET /user: access-token verification + one session query.
    let tokens: Vec<String> = sessions
        .iter()
        .map(|s| s["access_token"].as_str().unwrap_or_default().to_owned())
        .collect();
    let workers: Vec<(Arc<reqwest::Client>, String, String)> = tokens
        .iter()
        .cycle()
        .take(a.concurrency)
        .map(|t| (client.clone(), base.clone(), t.clone()))
        .collect();
    run(
        "GET /user",
        a.seconds,
        workers,
        |(c, base, at)| async move {
            let ok = c
                .get(format!("{base}/user"))
                .bearer_auth(&at)
                .send()
                .await
                .map(|r| r.status().is_success())
                .unwrap_or(false);
            ((c, base, at), ok)
        },
    )
    .await;

    println!(
        "peak RSS (server + load generator): {:.1} MiB",
        peak_rss_mib()
    );
    pool.close().await;
    sqlx::query(&format!("DROP DATABASE {db_name} WITH (FORCE)"))
        .execute(&mut admin)
        .await?;
    admin.close().await?;
    Ok(())
}
