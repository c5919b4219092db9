//! The command line, run as a separate process against the test database: users, sessions,
//! keys, invitations and links, and a clear message when the database is out of reach.

use crate::common::{self, str_of, SECRET};
use axum::http::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;
use std::{io::Write, process::Stdio};

pub(crate) fn url_of(db: &PgPool) -> String {
    format!(
        "postgres://postgres@{}:{}/{}",
        db.connect_options().get_host(),
        db.connect_options().get_port(),
        db.connect_options().get_database().unwrap()
    )
}

pub(crate) struct Out {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

pub(crate) fn cli(url: &str, args: &[&str], stdin: Option<&str>) -> Out {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_hasura-jwt-auth"));
    cmd.args(args)
        .env("AUTH_DATABASE_URL", url)
        .env("AUTH_LEGACY_HMAC_SECRET", "old-jwt-secret")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    {
        let mut input = child.stdin.take().unwrap();
        if let Some(s) = stdin {
            input.write_all(s.as_bytes()).unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    Out {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into(),
        stderr: String::from_utf8_lossy(&out.stderr).into(),
    }
}

#[sqlx::test(migrations = false)]
async fn cli_manages_users_and_sessions(db: PgPool) {
    let url = url_of(&db);
    let app = common::app(&db, &[]).await;
    let add = cli(
        &url,
        &[
            "user",
            "add",
            "--email",
            "cli@example.com",
            "--password-stdin",
            "--role",
            "editor",
            "--allowed-roles",
            "user,editor",
        ],
        Some("cli password 1\n"),
    );
    assert!(add.ok, "{}", add.stderr);
    assert!(add.stdout.contains("cli@example.com"));
    let s = app.sign_in("cli@example.com", "cli password 1").await;
    assert_eq!(s.status, StatusCode::OK, "the password came from stdin");
    let dup = cli(
        &url,
        &[
            "user",
            "add",
            "--email",
            "cli@example.com",
            "--password-stdin",
        ],
        Some("cli password 1\n"),
    );
    assert!(
        !dup.ok && dup.stderr.contains("already been registered"),
        "{}",
        dup.stderr
    );
    let weak = cli(
        &url,
        &[
            "user",
            "add",
            "--email",
            "weak@example.com",
            "--password-stdin",
        ],
        Some("short\n"),
    );
    assert!(
        !weak.ok && weak.stderr.contains("at least 8"),
        "{}",
        weak.stderr
    );

    let list = cli(&url, &["user", "list", "--json"], None);
    assert!(list.ok, "{}", list.stderr);
    let users: Value = serde_json::from_str(&list.stdout).unwrap();
    assert_eq!(users.as_array().unwrap().len(), 1);
    assert_eq!(users[0]["app_metadata"]["default_role"], "editor");
    assert!(!list.stdout.contains("argon2"));
    let show = cli(&url, &["user", "show", "cli@example.com"], None);
    assert!(
        show.ok && show.stdout.contains("sessions: 1"),
        "{}",
        show.stdout
    );

    let sessions = cli(
        &url,
        &["session", "list", "cli@example.com", "--json"],
        None,
    );
    let sessions: Value = serde_json::from_str(&sessions.stdout).unwrap();
    assert_eq!(sessions.as_array().unwrap().len(), 1);

    let bad_roles = cli(
        &url,
        &[
            "user",
            "set-roles",
            "cli@example.com",
            "--role",
            "admin",
            "--allowed-roles",
            "user",
        ],
        None,
    );
    assert!(
        !bad_roles.ok
            && bad_roles
                .stderr
                .contains("must be one of the allowed roles"),
        "{}",
        bad_roles.stderr
    );
    let roles = cli(
        &url,
        &[
            "user",
            "set-roles",
            "cli@example.com",
            "--role",
            "user",
            "--allowed-roles",
            "user",
        ],
        None,
    );
    assert!(roles.ok, "{}", roles.stderr);
    let refreshed = app.refresh(str_of(&s.body, "refresh_token")).await;
    let claims = common::hasura::check(
        str_of(&refreshed.body, "access_token"),
        &common::hasura::hmac(SECRET),
        &Default::default(),
    );
    assert_eq!(claims["x-hasura-allowed-roles"], json!(["user"]));

    let disable = cli(&url, &["user", "disable", "cli@example.com"], None);
    assert!(
        disable.ok && disable.stdout.contains("disabled"),
        "{}",
        disable.stdout
    );
    assert_eq!(
        app.refresh(str_of(&refreshed.body, "refresh_token"))
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    assert!(cli(&url, &["user", "enable", "cli@example.com"], None).ok);
    let setpw = cli(
        &url,
        &[
            "user",
            "set-password",
            "cli@example.com",
            "--password-stdin",
        ],
        Some("cli password 2\n"),
    );
    assert!(setpw.ok, "{}", setpw.stderr);
    let s = app.sign_in("cli@example.com", "cli password 2").await;
    assert_eq!(s.status, StatusCode::OK);
    let sid = common::jwt_payload(str_of(&s.body, "access_token"))["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let revoke = cli(
        &url,
        &["session", "revoke", "cli@example.com", "--session", &sid],
        None,
    );
    assert!(
        revoke.ok && revoke.stdout.contains("revoked 1"),
        "{}",
        revoke.stdout
    );
    let revoke = cli(
        &url,
        &["session", "revoke", "cli@example.com", "--all"],
        None,
    );
    assert!(revoke.ok, "{}", revoke.stderr);

    let audit = cli(
        &url,
        &["audit", "list", "--user", "cli@example.com", "--json"],
        None,
    );
    assert!(audit.ok, "{}", audit.stderr);
    assert!(audit.stdout.contains("admin_user_created") && !audit.stdout.contains("cli password"));
    // Retention: entries older than AUTH_AUDIT_RETENTION go, newer ones stay.
    sqlx::query("UPDATE audit_log SET created_at = now() - interval '2 days' WHERE event = 'admin_user_created'")
        .execute(&app.pool)
        .await
        .unwrap();
    let prune = cli(&url, &["audit", "prune", "--audit-retention", "1d"], None);
    assert!(
        prune.ok && prune.stdout.contains("pruned 1 audit entries"),
        "{}",
        prune.stdout
    );
    let left: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE event = 'admin_user_created'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(left, 0);
    let kept: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_log")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(kept > 0);

    let unknown = cli(&url, &["user", "show", "ghost@example.com"], None);
    assert!(
        !unknown.ok
            && unknown
                .stderr
                .contains("no user with email or id ghost@example.com"),
        "{}",
        unknown.stderr
    );
    let delete = cli(&url, &["user", "delete", "cli@example.com"], None);
    assert!(delete.ok, "{}", delete.stderr);
    assert!(!cli(&url, &["user", "delete", "cli@example.com"], None).ok);
    // Every admin action is audited, with who did it.
    let events: Vec<(String, String)> = sqlx::query_as(
        "SELECT event, detail->>'by' FROM audit_log WHERE event IN ('admin_user_deleted', 'admin_sessions_revoked', 'admin_user_updated') ORDER BY id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    for name in [
        "admin_user_updated",
        "admin_sessions_revoked",
        "admin_user_deleted",
    ] {
        assert!(
            events.iter().any(|(e, by)| e == name && by == "cli"),
            "{name} missing: {events:?}"
        );
    }
}

#[test]
fn cli_reports_an_unreachable_database() {
    let out = cli(
        "postgres://postgres@127.0.0.1:1/none",
        &["user", "list"],
        None,
    );
    assert!(!out.ok);
    assert!(
        out.stderr
            .contains("cannot connect to PostgreSQL at 127.0.0.1:1"),
        "{}",
        out.stderr
    );
}

#[test]
fn cli_generates_and_lists_keys() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for alg in ["EdDSA", "ES256", "RS256", "HS256"] {
        let path = dir.path().join(format!("{alg}.pem"));
        let out = cli(
            "postgres://unused",
            &[
                "keys",
                "generate",
                "--algorithm",
                alg,
                "--out",
                path.to_str().unwrap(),
            ],
            None,
        );
        assert!(out.ok, "{}", out.stderr);
        files.push(path);
    }
    let list = cli(
        "postgres://unused",
        &[
            "keys",
            "list",
            "--jwt-private-key-file",
            files[1].to_str().unwrap(),
            "--jwt-additional-key-files",
            &format!("{},{}", files[0].display(), files[2].display()),
        ],
        None,
    );
    assert!(list.ok, "{}", list.stderr);
    let lines: Vec<&str> = list.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", list.stdout);
    assert!(lines[0].starts_with("signing") && lines[0].contains("ES256"));
    assert!(lines[1].contains("EdDSA") && lines[2].contains("RS256"));
    let hs = std::fs::read_to_string(&files[3]).unwrap();
    assert!(hs.len() >= 32);
}

#[sqlx::test(migrations = false)]
async fn cli_invites_and_prints_links(db: PgPool) {
    let url = url_of(&db);
    let smtp = common::smtp::Smtp::start();
    let port = smtp.port.to_string();
    let mail_args = [
        "--smtp-host",
        "127.0.0.1",
        "--smtp-port",
        port.as_str(),
        "--smtp-tls",
        "none",
        "--public-url",
        "http://auth.test",
    ];
    // The running server (its delivery worker sends what the CLI queues).
    let app = common::app(&db, &mail_args).await;
    let mut args = vec![
        "user",
        "invite",
        "cli-guest@example.com",
        "--jwt-secret",
        SECRET,
    ];
    args.extend_from_slice(&mail_args);
    let out = cli(&url, &args, None);
    assert!(out.ok, "{}\n{}", out.stdout, out.stderr);
    let mail = smtp.wait("cli-guest@example.com", 1).await;
    assert_eq!(mail.subject, "You have been invited");

    app.signup("cli-member@example.com").await;
    let mut args = vec![
        "user",
        "link",
        "cli-member@example.com",
        "--type",
        "recovery",
        "--jwt-secret",
        SECRET,
    ];
    args.extend_from_slice(&mail_args);
    let out = cli(&url, &args, None);
    assert!(out.ok, "{}\n{}", out.stdout, out.stderr);
    let link = out.stdout.trim();
    assert!(link.starts_with("http://auth.test/verify?token="), "{link}");
    assert!(link.contains("type=recovery"));
    // Sent nowhere, and usable: its token signs the user in.
    assert!(smtp.to("cli-member@example.com").is_empty());
    let token = link
        .split("token=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    let res = app
        .post("/verify", json!({"type": "recovery", "token_hash": token}))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    let code = out.stderr.trim().strip_prefix("code: ").unwrap_or_default();
    assert_eq!(code.len(), 6, "{}", out.stderr);
}
