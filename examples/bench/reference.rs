//! The references each path is compared with: the SQL floor of a refresh (the statement an
//! ideal refresh needs, straight through the pool, no HTTP) and the raw Argon2id rate at the
//! server's parameters and hashing concurrency.

use std::time::{Duration, Instant};

use sqlx::PgPool;
use uuid::Uuid;

use crate::measure::{self, Summary};

/// One refresh's worth of database work per transaction: rotate the session row and read what
/// the access token needs (user, roles, enabled, banned), in one statement.
pub async fn sql_floor(pool: &PgPool, sessions: &[Uuid], seconds: u64, workers: usize) -> Summary {
    let states: Vec<(PgPool, Uuid)> = sessions
        .iter()
        .cycle()
        .take(workers)
        .map(|id| (pool.clone(), *id))
        .collect();
    let (_, summary) = measure::run("SQL floor", seconds, states, |(pool, id)| async move {
        let ok = sqlx::query(
            "UPDATE auth.sessions s
                SET refreshed_at = now(), prev_rotated_at = s.rotated_at, rotated_at = now()
               FROM auth.users u
              WHERE s.id = $1 AND u.id = s.user_id
          RETURNING u.id, u.email, u.default_role, u.allowed_roles, u.enabled, u.banned_until",
        )
        .bind(id)
        .fetch_optional(&pool)
        .await
        .is_ok_and(|row| row.is_some());
        ((pool, id), ok)
    })
    .await;
    summary
}

/// Argon2id hashes per second with `threads` threads at `(m KiB, t, p)` for `seconds`.
pub async fn argon2_rate(m: u32, t: u32, p: u32, threads: usize, seconds: u64) -> f64 {
    use argon2::{Algorithm, Argon2, Params, Version};
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let start = Instant::now();
    let handles: Vec<_> = (0..threads.max(1))
        .map(|i| {
            tokio::task::spawn_blocking(move || {
                let argon = Argon2::new(
                    Algorithm::Argon2id,
                    Version::V0x13,
                    Params::new(m, t, p, None).expect("valid parameters"),
                );
                let salt = [i as u8; 16];
                let mut out = [0u8; 32];
                let mut n = 0u64;
                while Instant::now() < deadline {
                    argon
                        .hash_password_into(b"bench password 1", &salt, &mut out)
                        .expect("hash");
                    n += 1;
                }
                n
            })
        })
        .collect();
    let mut total = 0;
    for h in handles {
        total += h.await.unwrap_or(0);
    }
    let rate = total as f64 / start.elapsed().as_secs_f64();
    println!(
        "{:<16} {:>7} ok {:>4} err  {:>8.0} req/s   ({threads} threads, m={m} KiB, t={t}, p={p})",
        "raw Argon2id", total, 0, rate
    );
    rate
}

/// Opens `n` keep-alive connections to `addr`, each after one answered request, and holds
/// them; returns them (dropping closes them).
pub async fn keep_alive_connections(addr: &str, n: usize) -> Vec<tokio::net::TcpStream> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut open = Vec::with_capacity(n);
    for _ in 0..n {
        let Ok(mut conn) = tokio::net::TcpStream::connect(addr).await else {
            break;
        };
        let request = "GET /live HTTP/1.1\r\nHost: bench\r\n\r\n";
        if conn.write_all(request.as_bytes()).await.is_err() {
            break;
        }
        let mut buf = [0u8; 1024];
        match conn.read(&mut buf).await {
            Ok(read) if read > 0 => open.push(conn),
            _ => break,
        }
    }
    open
}
