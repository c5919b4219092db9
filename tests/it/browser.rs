//! The hosted pages and the example app (`examples/spa`, the real `@supabase/auth-js`) in a
//! real browser: Debian's Chromium, headless, driven by `tests/node/browser.mjs` through
//! playwright-core. The driver checks what a user sees; these tests check the database
//! behind it. Screenshots of every page go to `target/ui-screenshots/` (not committed).

use std::{process::Command, sync::Arc};

use axum::{extract::Query, routing::get, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::common::{
    self,
    oidc::{self, free_port},
    smtp::Smtp,
    Background, Served, PASSWORD,
};

const SCREENSHOTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/target/ui-screenshots");

/// The stage of a browser test: the server, its SMTP server, and the app's origin.
struct Stage {
    served: Served,
    spa_port: u16,
    mailbox: String,
    _mailbox: Background,
}

#[derive(Deserialize)]
struct MailQuery {
    to: String,
    n: usize,
}

/// The server (with `extra` flags) allowing the example app at a free port, with a real SMTP
/// server whose messages the driver reads through a small HTTP "mailbox".
async fn stage(db: &PgPool, extra: &[&str]) -> Stage {
    oidc::install();
    let smtp = Arc::new(Smtp::start());
    let spa_port = free_port();
    let spa = format!("http://127.0.0.1:{spa_port}");
    let port = smtp.port.to_string();
    let mut args = vec![
        "--site-url",
        &spa,
        "--cors-origins",
        &spa,
        "--smtp-host",
        "127.0.0.1",
        "--smtp-port",
        &port,
        "--smtp-tls",
        "none",
        "--email-min-interval",
        "0s",
    ];
    args.extend_from_slice(extra);
    let served = common::serve(db, &args).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mailbox = format!("http://{}/", listener.local_addr().unwrap());
    let router = Router::new().route(
        "/",
        get(move |Query(q): Query<MailQuery>| {
            let smtp = smtp.clone();
            async move { smtp.wait(&q.to, q.n).await.link() }
        }),
    );
    let server = tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    Stage {
        served,
        spa_port,
        mailbox,
        _mailbox: Background(server),
    }
}

/// Runs `scenario` of `tests/node/browser.mjs` with settings `all`; its observations.
async fn run_driver(scenario: &str, all: Value) -> Value {
    let mut command = Command::new("node");
    command
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/node"))
        .arg("browser.mjs")
        .arg(scenario)
        .arg(all.to_string());
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("node");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "browser scenario {scenario} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|_| panic!("JSON from the driver: {stdout}"))
}

impl Stage {
    /// Runs `scenario` of the driver with `settings` (plus the stage's); its observations.
    async fn run(&self, scenario: &str, settings: Value) -> Value {
        let mut all = json!({
            "auth": self.served.url,
            "spaPort": self.spa_port,
            "mailbox": self.mailbox,
            "screenshots": SCREENSHOTS,
            "password": PASSWORD,
        });
        for (k, v) in settings.as_object().unwrap() {
            all[k] = v.clone();
        }
        run_driver(scenario, all).await
    }

    async fn scalar(&self, sql: &str, email: &str) -> i64 {
        sqlx::query_scalar(sql)
            .bind(email)
            .fetch_one(&self.served.app.pool)
            .await
            .unwrap()
    }

    async fn sessions_of(&self, email: &str) -> i64 {
        self.scalar(
            "SELECT count(*) FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.email = $1",
            email,
        )
        .await
    }

    async fn thefts_of(&self, email: &str) -> i64 {
        self.scalar(
            "SELECT count(*) FROM audit_log a JOIN users u ON u.id = a.user_id \
             WHERE u.email = $1 AND a.event = 'refresh_token_reuse'",
            email,
        )
        .await
    }
}

#[sqlx::test(migrations = false)]
async fn sign_up_confirm_sign_in_and_reset_in_chromium(db: PgPool) {
    let stage = stage(&db, &["--email-confirmation-required"]).await;
    let email = "dana@example.com";
    stage.run("pages", json!({ "email": email })).await;
    // "Sign out everywhere" in the app ended every session of the account, the pages' too.
    assert_eq!(stage.sessions_of(email).await, 0);
    assert_eq!(stage.thefts_of(email).await, 0);

    // Message 1 was the confirmation; the reset's is message 2.
    let out = stage
        .run(
            "reset",
            json!({ "email": email, "mailNumber": 2, "newPassword": "a brand new password" }),
        )
        .await;
    assert_eq!(out["ok"], true);
    let changed = stage
        .scalar(
            "SELECT count(*) FROM audit_log a JOIN users u ON u.id = a.user_id \
             WHERE u.email = $1 AND a.event = 'password_changed'",
            email,
        )
        .await;
    assert_eq!(changed, 1);
}

#[sqlx::test(migrations = false)]
async fn four_tabs_refresh_for_two_minutes_without_signing_out(db: PgPool) {
    let stage = stage(&db, &["--access-token-ttl", "10s"]).await;
    let email = "erin@example.com";
    stage.served.app.signup(email).await;
    let before = stage.sessions_of(email).await;
    let out = stage
        .run("tabs", json!({ "email": email, "seconds": 120 }))
        .await;
    eprintln!("four tabs: {out}");
    // Two minutes of 10-second tokens: dozens of refreshes, several of them lost in flight.
    assert!(out["refreshes"].as_u64().unwrap() >= 12, "{out}");
    assert!(out["lost"].as_u64().unwrap() >= 1, "{out}");
    // Never forked: the tabs shared one session, and no refresh was ever taken for theft.
    assert_eq!(stage.thefts_of(email).await, 0, "{out}");
    // The tabs' session is gone ("sign out everywhere else" from the other device, which
    // also ended the sign-up's session); only the other device's is left.
    let remaining: Vec<String> = sqlx::query_scalar(
        "SELECT s.id::text FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.email = $1",
    )
    .bind(email)
    .fetch_all(&stage.served.app.pool)
    .await
    .unwrap();
    assert_eq!(remaining.len(), 1, "{remaining:?} (before: {before})");
    assert!(!remaining.contains(&out["session"].as_str().unwrap().to_owned()));
}

#[sqlx::test(migrations = false)]
async fn cookie_mode_keeps_the_refresh_token_from_scripts_and_other_sites(db: PgPool) {
    let stage = stage(&db, &["--refresh-token-cookie"]).await;
    let email = "fay@example.com";
    stage.served.app.signup(email).await;
    sqlx::query("DELETE FROM sessions")
        .execute(&stage.served.app.pool)
        .await
        .unwrap();
    let out = stage
        .run(
            "cookie",
            json!({
                "email": email,
                "cookieName": "__Host-hja_refresh_token",
                "evilPort": free_port(),
            }),
        )
        .await;
    // One session (the app's sign-in), refreshed once by the app: the other site's blind
    // refresh and sign-in changed nothing.
    assert_eq!(stage.sessions_of(email).await, 1, "{out}");
    let counter = stage
        .scalar(
            "SELECT s.token_counter FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.email = $1",
            email,
        )
        .await;
    assert_eq!(counter, 1, "{out}");
}

#[sqlx::test(migrations = false)]
async fn two_step_verification_through_the_pages_in_chromium(db: PgPool) {
    let stage = stage(&db, &[]).await;
    let email = "erin@example.com";
    stage.served.app.signup(email).await;
    let out = stage.run("mfa", json!({ "email": email })).await;
    assert_eq!(out["amr"], json!(["totp", "password"]), "{out}");
    let verified = stage
        .scalar(
            "SELECT count(*) FROM mfa_factors f JOIN users u ON u.id = f.user_id \
             WHERE u.email = $1 AND f.status = 'verified'",
            email,
        )
        .await;
    assert_eq!(verified, 1);
    let replays = stage
        .scalar(
            "SELECT count(*) FROM audit_log a JOIN users u ON u.id = a.user_id \
             WHERE u.email = $1 AND a.event = 'mfa_verification_failed' \
               AND a.detail->>'reason' = 'code_reused'",
            email,
        )
        .await;
    assert_eq!(replays, 1, "the replayed code was refused as such");
    let left = stage
        .scalar(
            "SELECT count(*) FROM mfa_recovery_codes c JOIN users u ON u.id = c.user_id \
             WHERE u.email = $1 AND c.used_at IS NULL",
            email,
        )
        .await;
    assert_eq!(left, 9);
    // The app's session and the pages' sessions of the second and third browsers are aal2.
    let aal2 = stage
        .scalar(
            "SELECT count(*) FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE u.email = $1 AND s.aal = 2",
            email,
        )
        .await;
    assert!(aal2 >= 3, "{aal2}");
}

#[sqlx::test(migrations = false)]
async fn passkeys_and_webauthn_factors_in_chromium(db: PgPool) {
    // The relying party is `localhost`: the page and the API are on http://localhost:<port>,
    // and the example app (with the real auth-js) on http://localhost:<spa port> calls it too.
    let (listener, url) = common::bind().await;
    let local = url.replace("127.0.0.1", "localhost");
    let spa_port = free_port();
    let app = format!("http://localhost:{spa_port}");
    let origins = format!("{local},{app}");
    let args = [
        "--webauthn-rp-id",
        "localhost",
        "--webauthn-origins",
        &origins,
        "--cors-origins",
        &app,
    ];
    let served = common::serve_bound(listener, url, &db, &args).await;
    let settings = json!({
        "auth": local,
        "spaPort": spa_port,
        "screenshots": SCREENSHOTS,
        "email": "pat@example.com",
        "password": PASSWORD,
    });
    let out = run_driver("passkeys", settings).await;
    assert_eq!(out["amr"], json!(["passkey"]), "{out}");
    assert_eq!(out["aal"], "aal1");
    assert_eq!(out["cloned"], "webauthn_verification_failed");
    assert_eq!(
        out["factor"],
        json!(["mfa/webauthn", "mfa/webauthn"]),
        "{out}"
    );
    assert_eq!(out["authJs"], json!(["passkey"]), "{out}");
    let audited = |event: &'static str| {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM audit_log WHERE event = $1")
            .bind(event)
            .fetch_one(&served.app.pool)
    };
    assert_eq!(audited("passkey_registered").await.unwrap(), 2);
    assert_eq!(audited("passkey_clone_detected").await.unwrap(), 1);
    let last_used: Option<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("SELECT last_used_at FROM passkeys")
            .fetch_one(&served.app.pool)
            .await
            .unwrap();
    assert!(last_used.is_some());
}

#[sqlx::test(migrations = false)]
async fn passkeys_through_the_pages_in_chromium(db: PgPool) {
    // The pages on http://localhost:<port> (the relying party), the app on 127.0.0.1.
    let (listener, url) = common::bind().await;
    let local = url.replace("127.0.0.1", "localhost");
    let spa_port = free_port();
    let spa = format!("http://127.0.0.1:{spa_port}");
    let args = [
        "--site-url",
        &spa,
        "--cors-origins",
        &spa,
        "--webauthn-rp-id",
        "localhost",
        "--webauthn-origins",
        &local,
    ];
    let served = common::serve_bound(listener, local.clone(), &db, &args).await;
    let email = "quinn@example.com";
    served.app.signup(email).await;
    let settings = json!({
        "auth": local,
        "spaPort": spa_port,
        "screenshots": SCREENSHOTS,
        "email": email,
        "password": PASSWORD,
    });
    let out = run_driver("passkeyPages", settings).await;
    // The app's session came from the passkey, at aal1.
    assert_eq!(out["app"]["amr"], json!(["passkey"]), "{out}");
    assert_eq!(out["app"]["aal"], "aal1", "{out}");
    let events: Vec<String> = sqlx::query_scalar(
        "SELECT event FROM audit_log WHERE event LIKE 'passkey%' ORDER BY created_at, id",
    )
    .fetch_all(&served.app.pool)
    .await
    .unwrap();
    assert_eq!(events, ["passkey_registered", "passkey_removed"], "{out}");
}
