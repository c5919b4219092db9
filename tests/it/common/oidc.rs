//! A real OpenID Connect provider for the tests: node-oidc-provider (OpenID Certified) from
//! `tests/node`, started on a free loopback port, and a browser that signs in at it.

use std::{
    net::TcpListener,
    process::{Child, Command, Stdio},
    time::Duration,
};

use serde_json::{json, Value};

/// The client our server is registered as.
pub const CLIENT_ID: &str = "hasura-auth";
pub const CLIENT_SECRET: &str = "hasura-auth-secret-0123456789abcdef";
/// Another app registered at the same provider.
pub const OTHER_CLIENT_ID: &str = "other-app";
pub const OTHER_CLIENT_SECRET: &str = "other-app-secret-0123456789abcdef";
/// Where a native app's own code flow lands (the test reads the code there).
pub const NATIVE_REDIRECT: &str = "http://native.test/cb";

pub struct Oidc {
    pub issuer: String,
    child: Child,
}

impl Drop for Oidc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nothing listens on (for "the provider is down").
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Installs the test packages of `tests/node` (`npm ci`) once, when they are not there yet.
pub fn install() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/node");
        let installed = |package: &str| {
            std::path::Path::new(dir)
                .join("node_modules")
                .join(package)
                .exists()
        };
        if installed("oidc-provider") && installed("playwright-core") {
            return;
        }
        let status = Command::new("npm")
            .current_dir(dir)
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .status()
            .expect("npm (the external sign-in tests need Node.js and npm)");
        assert!(status.success(), "npm ci in tests/node failed");
    });
}

impl Oidc {
    /// The provider, with our server registered at `http://auth.test/callback`.
    pub async fn start() -> Self {
        Self::start_for("http://auth.test/callback").await
    }

    /// The provider, with our server registered at `callback`.
    pub async fn start_for(callback: &str) -> Self {
        tokio::task::spawn_blocking(install).await.unwrap();
        let port = free_port();
        let clients = json!([
            {
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "redirect_uris": [callback, NATIVE_REDIRECT],
            },
            {
                "client_id": OTHER_CLIENT_ID,
                "client_secret": OTHER_CLIENT_SECRET,
                "redirect_uris": [NATIVE_REDIRECT],
            },
        ]);
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/node");
        let child = Command::new("node")
            .current_dir(dir)
            .arg("provider.mjs")
            .arg(port.to_string())
            .arg(clients.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("node (run `npm ci --prefix tests/node` first)");
        let oidc = Self {
            issuer: format!("http://127.0.0.1:{port}"),
            child,
        };
        let discovery = format!("{}/.well-known/openid-configuration", oidc.issuer);
        for _ in 0..150 {
            if let Ok(r) = reqwest::get(&discovery).await {
                if r.status().is_success() {
                    return oidc;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the OpenID Connect provider did not start (is tests/node/node_modules installed?)");
    }

    /// `AUTH_OIDC_PROVIDERS` naming this provider `name`.
    pub fn providers_setting(&self, name: &str) -> String {
        json!([{
            "name": name,
            "issuer": self.issuer,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        }])
        .to_string()
    }

    /// An ID token for `login`, as a native app gets it with its own code flow as `client_id`.
    pub async fn id_token(
        &self,
        client_id: &str,
        secret: &str,
        login: &str,
        nonce: &str,
    ) -> String {
        let browser = Browser::new();
        let url = reqwest::Url::parse_with_params(
            &format!("{}/auth", self.issuer),
            [
                ("client_id", client_id),
                ("response_type", "code"),
                ("scope", "openid email profile"),
                ("redirect_uri", NATIVE_REDIRECT),
                ("state", "native-state-0123456789"),
                ("nonce", nonce),
            ],
        )
        .unwrap();
        let back = browser.sign_in(url.as_str(), login, NATIVE_REDIRECT).await;
        let code = query_param(&back, "code").expect("a code");
        let tokens: Value = browser
            .http
            .post(format!("{}/token", self.issuer))
            .basic_auth(client_id, Some(secret))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", NATIVE_REDIRECT),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        tokens["id_token"].as_str().expect("an ID token").to_owned()
    }
}

/// One query parameter of a URL.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    reqwest::Url::parse(url)
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// A browser at the provider: keeps its cookies, follows redirects one by one, fills in the
/// provider's login and consent forms.
pub struct Browser {
    pub http: reqwest::Client,
}

impl Browser {
    pub fn new() -> Self {
        Self {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        }
    }

    /// Follows `url` through the provider, signing in as `login` and consenting, until a
    /// redirect to a URL starting with `stop`; returns that URL. With `login` "abort", the user
    /// cancels at the login form instead.
    pub async fn sign_in(&self, url: &str, login: &str, stop: &str) -> String {
        let mut next = reqwest::Url::parse(url).unwrap();
        let mut form: Option<Vec<(&str, &str)>> = None;
        for _ in 0..20 {
            if next.as_str().starts_with(stop) {
                return next.to_string();
            }
            let response = match form.take() {
                Some(fields) => self.http.post(next.clone()).form(&fields).send().await,
                None => self.http.get(next.clone()).send().await,
            }
            .expect("the provider answers");
            let status = response.status();
            if status.is_redirection() {
                let location = response.headers()["location"].to_str().unwrap().to_owned();
                next = next.join(&location).unwrap();
                continue;
            }
            let html = response.text().await.unwrap();
            assert!(status.is_success(), "{status}: {html}");
            let action = html
                .split("action=\"")
                .nth(1)
                .and_then(|t| t.split('"').next())
                .unwrap_or_else(|| panic!("a form in {html}"))
                .replace("&#x2F;", "/")
                .replace("&amp;", "&");
            if html.contains("name=\"login\"") && login == "abort" {
                next = next.join(&format!("{action}/abort")).unwrap();
                continue;
            }
            next = next.join(&action).unwrap();
            form = Some(if html.contains("name=\"login\"") {
                vec![("prompt", "login"), ("login", login), ("password", "any")]
            } else {
                vec![("prompt", "consent")]
            });
        }
        panic!("too many steps at the provider");
    }
}
