//! The server under test, in a process of its own: this benchmark's executable started again
//! as `bench serve …`, which runs the real `hasura-jwt-auth serve` (migrations, background
//! tasks, the session listener, the HTTP server). Its memory is then the server's alone,
//! read from `/proc/<pid>/status`, and the load generator's work is not in its process.

use std::{
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use clap::Parser;

/// The server's settings in the benchmark (besides its address and database).
pub const ARGS: [&str; 6] = [
    "--jwt-secret",
    "bench-secret-bench-secret-bench-secret-0123",
    "--db-max-connections",
    "20",
    // Every request comes from one loopback address: the per-address sign-in limit would
    // measure itself, not the server.
    "--rate-limit-sign-in",
    "0",
];

pub struct Server {
    child: Child,
    pub pid: u32,
    pub base: String,
}

/// In the child: `bench serve <args>` is `hasura-jwt-auth serve <args>`.
pub async fn run_child(args: Vec<String>) -> anyhow::Result<()> {
    let cli = hasura_jwt_auth::cli::Cli::parse_from(
        std::iter::once("hasura-jwt-auth".to_owned()).chain(args),
    );
    hasura_jwt_auth::cli::run(cli).await
}

impl Server {
    /// Starts the server on a free loopback port against `database_url` and waits until it is
    /// ready (migrations applied, database answering).
    pub async fn start(database_url: &str, refresh_batch_max: u64) -> anyhow::Result<Self> {
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0")?;
            probe.local_addr()?.port()
        };
        let listen = format!("127.0.0.1:{port}");
        let child = Command::new(std::env::current_exe()?)
            .arg("serve")
            .args(ARGS)
            .args(["--listen", &listen, "--database-url", database_url])
            .args(["--refresh-batch-max", &refresh_batch_max.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()?;
        let pid = child.id();
        let mut server = Self {
            child,
            pid,
            base: format!("http://{listen}"),
        };
        let client = reqwest::Client::new();
        let start = Instant::now();
        loop {
            let ready = client.get(format!("{}/ready", server.base)).send().await;
            if ready.is_ok_and(|r| r.status().is_success()) {
                return Ok(server);
            }
            if let Some(status) = server.child.try_wait()? {
                anyhow::bail!("the server exited: {status}");
            }
            if start.elapsed() > Duration::from_secs(30) {
                server.stop();
                anyhow::bail!("the server was not ready within 30 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}
