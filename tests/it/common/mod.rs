//! Test helpers: an app on a fresh database per test, requests through `oneshot`, and a
//! checker that applies Hasura's JWT rules to issued tokens independently of the server code.

pub mod ddn;
pub mod github;
pub mod hasura;
pub mod oidc;
pub mod proxy;
pub mod smtp;

use axum::{
    body::Body,
    http::{header, HeaderMap, Method, Request, StatusCode},
    Router,
};
use hasura_jwt_auth::{app::App, auth::keys::KeySet, config::Config, store};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use sqlx::{postgres::PgConnectOptions, PgPool};
use tower::ServiceExt;

pub const SECRET: &str = "test-secret-test-secret-test-secret-0123456789";
pub const PASSWORD: &str = "correct horse battery";
/// The key TOTP secrets are sealed with in tests (32 bytes in base64).
pub const MFA_KEY: &str = "bWZhLWtleS1mb3ItdGVzdHMtb25seS0zMi1ieXRlcyE=";

pub struct TestApp {
    pub router: Router,
    pub state: App,
    pub pool: PgPool,
    /// Background work (the email workers, the session listener), stopped with the app.
    pub background: Vec<Background>,
}

/// A background task that ends with its owner.
pub struct Background(pub tokio::task::JoinHandle<()>);

impl Drop for Background {
    fn drop(&mut self) {
        self.0.abort();
    }
}

pub struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.body)
    }
}

/// The connection settings of the test's database.
pub fn options(db: &PgPool) -> PgConnectOptions {
    (*db.connect_options()).clone()
}

/// An app with an HS256 key and default settings, plus `extra` flags.
pub async fn app(db: &PgPool, extra: &[&str]) -> TestApp {
    let mut args = vec!["--jwt-secret", SECRET, "--mfa-key", MFA_KEY];
    args.extend_from_slice(extra);
    let config = Config::from_args(args).expect("test config");
    let keys = KeySet::load(&config.keys).expect("keys");
    app_with(db, config, keys).await
}

/// An app with `config` and `keys` on the test's database (`db`: the pool `sqlx::test` made;
/// the app opens its own, as `serve` does).
pub async fn app_with(db: &PgPool, config: Config, keys: KeySet) -> TestApp {
    let opts = options(db);
    // The test SMTP server brings a second TLS backend into this binary; the server itself
    // is built with ring only, so say which one to use.
    let _ = rustls::crypto::ring::default_provider().install_default();
    if std::env::var_os("TEST_LOG").is_some() {
        // TEST_LOG=1 cargo test …: the server's log in the test output.
        let _ = tracing_subscriber::fmt()
            .with_env_filter("info,sqlx=warn")
            .with_test_writer()
            .try_init();
    }
    let pool = store::connect_with(opts, &config.db.db_schema, 20)
        .await
        .expect("connect");
    store::migrate(&pool, &config.db.db_schema)
        .await
        .expect("migrate");
    let state = App::from_parts(config, pool.clone(), keys).expect("state");
    // The email workers, as `serve` runs them (delivery logs messages when no SMTP is
    // configured); stopped with the app, so the test database can be dropped at once.
    let mail = state.start_mail().map(Background).into();
    TestApp {
        router: hasura_jwt_auth::http::router(state.clone()).unwrap(),
        state,
        pool,
        background: mail,
    }
}

impl TestApp {
    /// Starts the session cache's listener, as `serve` does; it stops with the app.
    pub fn listen(&mut self) {
        self.background
            .extend(self.state.start_session_listener().map(Background));
    }

    pub async fn request(&self, req: Request<Body>) -> Response {
        let res = self.router.clone().oneshot(req).await.expect("infallible");
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        Response {
            status,
            headers,
            body,
        }
    }

    pub async fn call(
        &self,
        method: Method,
        uri: &str,
        bearer: Option<&str>,
        body: Option<Value>,
    ) -> Response {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(token) = bearer {
            req = req.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let req = match body {
            Some(b) => req
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(b.to_string())),
            None => req.body(Body::empty()),
        };
        self.request(req.unwrap()).await
    }

    pub async fn form(&self, uri: &str, body: &str) -> Response {
        let req = Request::post(uri)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body.to_owned()))
            .unwrap();
        self.request(req).await
    }

    pub async fn post(&self, uri: &str, body: Value) -> Response {
        self.call(Method::POST, uri, None, Some(body)).await
    }

    pub async fn signup(&self, email: &str) -> Response {
        let res = self
            .post("/signup", json!({"email": email, "password": PASSWORD}))
            .await;
        assert_eq!(res.status, StatusCode::OK, "{res:?}");
        res
    }

    pub async fn sign_in(&self, email: &str, password: &str) -> Response {
        self.post(
            "/token?grant_type=password",
            json!({"email": email, "password": password}),
        )
        .await
    }

    pub async fn refresh(&self, token: &str) -> Response {
        self.post(
            "/token?grant_type=refresh_token",
            json!({"refresh_token": token}),
        )
        .await
    }

    pub async fn session_count(&self, user_id: &str) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM sessions WHERE user_id = $1::uuid")
            .bind(user_id)
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }
}

/// The loopback address tests name as their reverse proxy (`--trusted-proxies 127.0.0.1`).
pub const PROXY: [u8; 4] = [127, 0, 0, 1];

/// `req` as if it came over TCP from `peer`.
pub fn from_peer(peer: impl Into<std::net::IpAddr>, mut req: Request<Body>) -> Request<Body> {
    req.extensions_mut()
        .insert(axum::extract::ConnectInfo(std::net::SocketAddr::new(
            peer.into(),
            40_000,
        )));
    req
}

/// `req` as if it came through the test's reverse proxy.
pub fn via_proxy(req: Request<Body>) -> Request<Body> {
    from_peer(PROXY, req)
}

/// The payload of a JWT, without verifying it (for reading `sid` and friends in tests).
pub fn jwt_payload(token: &str) -> Value {
    use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
    let part = token.split('.').nth(1).expect("jwt has a payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

pub fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} missing in {v}"))
}

/// A server listening on a loopback port (its public URL), as `serve` runs it.
pub struct Served {
    pub url: String,
    pub app: TestApp,
    _server: Background,
}

/// [`app`] with `extra` flags, listening on a loopback port with `--public-url` set to it.
pub async fn serve(db: &PgPool, extra: &[&str]) -> Served {
    let (listener, url) = bind().await;
    serve_bound(listener, url, db, extra).await
}

/// A loopback listener and its URL (to name it in settings before the server starts).
pub async fn bind() -> (tokio::net::TcpListener, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    (listener, url)
}

/// [`serve`], signing with an Ed25519 key (a development key made in a directory of its own)
/// instead of the HMAC secret: for what needs a published key, such as OpenID Connect ID
/// tokens.
pub async fn serve_ed25519(db: &PgPool, extra: &[&str]) -> Served {
    let (listener, url) = bind().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap().to_owned();
    let mut args = vec![
        "--mfa-key",
        MFA_KEY,
        "--public-url",
        &url,
        "--data-dir",
        &data,
    ];
    args.extend_from_slice(extra);
    let config = Config::from_args(args).expect("test config");
    let keys = KeySet::load(&config.keys).expect("keys");
    let app = app_with(db, config, keys).await;
    served(listener, url, app)
}

/// `app` answering on `listener`.
fn served(listener: tokio::net::TcpListener, url: String, app: TestApp) -> Served {
    let state = app.state.clone();
    let server = tokio::spawn(async move {
        hasura_jwt_auth::http::serve_on(listener, state, std::future::pending())
            .await
            .unwrap();
    });
    Served {
        url,
        app,
        _server: Background(server),
    }
}

/// [`serve`] on a listener from [`bind`].
pub async fn serve_bound(
    listener: tokio::net::TcpListener,
    url: String,
    db: &PgPool,
    extra: &[&str],
) -> Served {
    let mut args = vec!["--public-url", &url];
    args.extend_from_slice(extra);
    let app = app(db, &args).await;
    served(listener, url, app)
}
