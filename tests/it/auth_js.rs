//! The real, unmodified `@supabase/auth-js` client (run by Node.js) against the server over
//! HTTP, with a real OpenID Connect provider: `signInWithOAuth` in both flows,
//! `exchangeCodeForSession`, `signInWithIdToken`, `linkIdentity`, `getUserIdentities` and
//! `unlinkIdentity`, exactly as an app calls them.

use std::process::Command;

use serde_json::{json, Value};
use sqlx::PgPool;

use crate::common::{
    self,
    oidc::{self, Browser, Oidc},
};

/// The server listening on a loopback port, and its provider `acme`.
struct Served {
    server: common::Served,
    oidc: Oidc,
}

async fn serve(db: &PgPool) -> Served {
    let (listener, url) = common::bind().await;
    let oidc = Oidc::start_for(&format!("{url}/callback")).await;
    let providers = oidc.providers_setting("acme");
    let args = [
        "--site-url",
        "http://app.test",
        "--oidc-providers",
        &providers,
    ];
    let server = common::serve_bound(listener, url, db, &args).await;
    Served { server, oidc }
}

/// One auth-js client (its storage in a file) of `flow_type`.
struct AuthJs {
    url: String,
    storage: tempfile::TempDir,
    flow_type: &'static str,
}

impl AuthJs {
    fn new(url: &str, flow_type: &'static str) -> Self {
        Self {
            url: url.to_owned(),
            storage: tempfile::tempdir().unwrap(),
            flow_type,
        }
    }

    /// `client.<method>(args)`: its `{data, error}`.
    async fn call(&self, method: &str, args: Value) -> Value {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/node");
        let mut command = Command::new("node");
        command
            .current_dir(dir)
            .arg("auth-js.mjs")
            .arg(&self.url)
            .arg(self.storage.path().join("storage.json"))
            .arg(self.flow_type)
            .arg(method)
            .arg(args.to_string());
        let output = tokio::task::spawn_blocking(move || command.output())
            .await
            .unwrap()
            .expect("node");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{method}: {stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let result: Value = serde_json::from_str(stdout.trim()).expect("JSON from auth-js");
        assert!(result["error"].is_null(), "{method}: {result}");
        result["data"].clone()
    }
}

fn param(url: &str, sep: char, name: &str) -> String {
    let tail = url.split_once(sep).map(|(_, t)| t).unwrap_or("");
    serde_urlencoded::from_str::<Vec<(String, String)>>(tail)
        .unwrap()
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("{name} in {url}"))
}

#[sqlx::test(migrations = false)]
async fn auth_js_pkce_sign_in_link_and_unlink(db: PgPool) {
    let served = serve(&db).await;
    let client = AuthJs::new(&served.server.url, "pkce");
    let data = client
        .call(
            "signInWithOAuth",
            json!({"provider": "acme", "redirectTo": "http://app.test/welcome"}),
        )
        .await;
    let url = data["url"].as_str().unwrap();
    assert!(url.contains("code_challenge="), "{url}");
    let back = Browser::new()
        .sign_in(url, "alice", "http://app.test/")
        .await;
    assert!(back.starts_with("http://app.test/welcome?code="), "{back}");
    let data = client
        .call(
            "exchangeCodeForSession",
            json!({"code": param(&back, '?', "code")}),
        )
        .await;
    assert_eq!(data["user"]["email"], "alice@example.com");
    assert!(data["session"]["access_token"].is_string());
    let user_id = data["user"]["id"].clone();

    // Link a second account of the provider to alice, then unlink it.
    let data = client
        .call(
            "linkIdentity",
            json!({"provider": "acme", "redirectTo": "http://app.test/linked"}),
        )
        .await;
    let back = Browser::new()
        .sign_in(data["url"].as_str().unwrap(), "bob", "http://app.test/")
        .await;
    let data = client
        .call(
            "exchangeCodeForSession",
            json!({"code": param(&back, '?', "code")}),
        )
        .await;
    assert_eq!(data["user"]["id"], user_id);
    let data = client.call("getUserIdentities", json!({})).await;
    let subjects: Vec<&str> = data["identities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(subjects.len(), 2, "{data}");
    assert!(
        subjects.contains(&"alice") && subjects.contains(&"bob"),
        "{data}"
    );
    client
        .call("unlinkIdentity", json!({"provider": "acme"}))
        .await;
    let data = client.call("getUserIdentities", json!({})).await;
    assert_eq!(data["identities"].as_array().unwrap().len(), 1, "{data}");
}

#[sqlx::test(migrations = false)]
async fn auth_js_implicit_flow_and_id_token(db: PgPool) {
    let served = serve(&db).await;
    let client = AuthJs::new(&served.server.url, "implicit");
    let data = client
        .call(
            "signInWithOAuth",
            json!({"provider": "acme", "redirectTo": "http://app.test/welcome"}),
        )
        .await;
    let back = Browser::new()
        .sign_in(data["url"].as_str().unwrap(), "bob", "http://app.test/")
        .await;
    assert!(
        back.starts_with("http://app.test/welcome#access_token="),
        "{back}"
    );
    let data = client
        .call(
            "setSession",
            json!({
                "access_token": param(&back, '#', "access_token"),
                "refresh_token": param(&back, '#', "refresh_token"),
            }),
        )
        .await;
    assert_eq!(data["user"]["email"], "bob@example.com");

    let native = AuthJs::new(&served.server.url, "pkce");
    let token = served
        .oidc
        .id_token(oidc::CLIENT_ID, oidc::CLIENT_SECRET, "alice", "nonce-abc")
        .await;
    let data = native
        .call(
            "signInWithIdToken",
            json!({"provider": "acme", "token": token, "nonce": "nonce-abc"}),
        )
        .await;
    assert_eq!(data["user"]["email"], "alice@example.com");
    assert_eq!(data["session"]["token_type"], "bearer");
}
