//! auth-js's MFA scenarios (`tests/node/auth-js-mfa.mjs`), with the real, unmodified client
//! over HTTP.

use std::process::Command;

use serde_json::Value;
use sqlx::PgPool;

use crate::common::{self, SECRET};

#[sqlx::test(migrations = false)]
async fn auth_js_mfa_scenarios_pass(db: PgPool) {
    // Many sign-ins from one address in a few seconds: no per-address limit in the way.
    let served = common::serve(&db, &["--rate-limit-sign-in", "0"]).await;
    let mut command = Command::new("node");
    command
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/node"))
        .arg("auth-js-mfa.mjs")
        .arg(&served.url)
        .arg(SECRET);
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("node");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let results: Value = serde_json::from_str(stdout.trim()).expect("JSON from the scenarios");
    let results = results.as_object().unwrap();
    let failed: Vec<String> = results
        .iter()
        .filter(|(_, r)| r["pass"] != true)
        .map(|(name, r)| format!("{name}: {}", r["detail"].as_str().unwrap_or_default()))
        .collect();
    assert!(failed.is_empty(), "{}", failed.join("\n\n"));
    // auth-js's 16 MFA tests, and one more with the right code.
    assert_eq!(results.len(), 17);
}
