//! The references each path is compared with: the SQL floor of a refresh (the statement an
//! ideal refresh needs, straight through the pool, no HTTP) and the raw Argon2id rate at the
//! server's parameters and hashing concurrency.

use std::time::{Duration, Instant};

use hasura_jwt_auth::{
    auth::refresh::token::RefreshToken,
    client::Client,
    store::sessions::{rotate_current, CurrentRotation, Lifetimes},
};
use sqlx::PgPool;

use crate::measure::{self, Summary};

/// One refresh's worth of database work per transaction, through the same pool size as the
/// server's and with no HTTP: the very statement the server's refresh runs in the common case
/// when it runs alone (check the presented token's counter and hash and the session's
/// lifetimes, rotate, return the user row the response and the access token need). The
/// server merges refreshes that arrive together into one such statement for many sessions;
/// the floor does not, so that it stays the cost of one refresh on its own. Each worker rotates its own session
/// and continues from its new token; returns the tokens as they end.
pub async fn sql_floor(
    pool: &PgPool,
    tokens: Vec<String>,
    lifetimes: (Option<f64>, Option<f64>),
    seconds: u64,
) -> (Vec<String>, Summary) {
    let mut states = Vec::new();
    for token in tokens {
        let token = RefreshToken::parse(&token).expect("a refresh token");
        let salt: Vec<u8> =
            sqlx::query_scalar("SELECT token_salt FROM auth.sessions WHERE id = $1")
                .bind(token.session_id)
                .fetch_one(pool)
                .await
                .expect("the session's salt");
        states.push((pool.clone(), token, salt));
    }
    let (states, summary) = measure::run(
        "SQL floor",
        seconds,
        states,
        move |(pool, token, salt)| async move {
            let next = token.next(&salt);
            let client = Client::new(Some("127.0.0.1".into()), None);
            let rotation = CurrentRotation {
                session_id: token.session_id,
                counter: token.counter as i64,
                hash: &token.hash(),
                new_hash: &next.hash(),
                client: &client,
            };
            let lifetimes = Lifetimes {
                idle_secs: lifetimes.0,
                max_secs: lifetimes.1,
            };
            match rotate_current(&pool, &rotation, lifetimes).await {
                Ok(Some(_user)) => ((pool, next, salt), true),
                _ => ((pool, token, salt), false),
            }
        },
    )
    .await;
    (
        states.into_iter().map(|(_, t, _)| t.encode()).collect(),
        summary,
    )
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
