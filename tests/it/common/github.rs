//! A local stand-in for GitHub's OAuth and REST API shapes (`/login/oauth/authorize`,
//! `/login/oauth/access_token`, `/user`, `/user/emails`), checking what a real GitHub checks:
//! the client secret, the PKCE verifier and the bearer token.

use std::sync::{Arc, Mutex};

use axum::{
    extract::{Query, State},
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
    Form, Json, Router,
};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD as B64, Engine};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

pub const CLIENT_ID: &str = "gh-client";
pub const CLIENT_SECRET: &str = "gh-secret-0123456789abcdef";
const ACCESS_TOKEN: &str = "gho_standin_token";

#[derive(Default)]
struct Inner {
    /// code → PKCE challenge.
    codes: Vec<(String, String)>,
    emails: Value,
}

#[derive(Clone)]
pub struct GitHub {
    pub url: String,
    inner: Arc<Mutex<Inner>>,
    _server: Arc<super::Background>,
}

impl GitHub {
    /// Starts the stand-in; its user (id 583231, `octocat`) has `emails`.
    pub async fn start(emails: Value) -> Self {
        let inner = Arc::new(Mutex::new(Inner {
            codes: Vec::new(),
            emails,
        }));
        let router = Router::new()
            .route("/login/oauth/authorize", get(authorize))
            .route("/login/oauth/access_token", post(token))
            .route("/api/user", get(user))
            .route("/api/user/emails", get(emails_of))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        Self {
            url,
            inner,
            _server: Arc::new(super::Background(server)),
        }
    }
}

type Shared = State<Arc<Mutex<Inner>>>;

/// The user approves at once: back to `redirect_uri` with a code and the state.
async fn authorize(State(inner): Shared, Query(q): Query<Vec<(String, String)>>) -> Response {
    let param = |name: &str| {
        q.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    if param("client_id") != CLIENT_ID || param("code_challenge_method") != "S256" {
        return StatusCode::BAD_REQUEST.into_response();
    }
    let code = format!("code-{}", inner.lock().unwrap().codes.len());
    inner
        .lock()
        .unwrap()
        .codes
        .push((code.clone(), param("code_challenge")));
    let back = reqwest::Url::parse_with_params(
        &param("redirect_uri"),
        [("code", code.as_str()), ("state", param("state").as_str())],
    )
    .unwrap();
    Redirect::to(back.as_str()).into_response()
}

async fn token(
    State(inner): Shared,
    headers: HeaderMap,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    let field = |name: &str| f.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"))
    );
    let authenticated = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        == Some(basic.as_str())
        || (field("client_id").as_deref() == Some(CLIENT_ID)
            && field("client_secret").as_deref() == Some(CLIENT_SECRET));
    let mut inner = inner.lock().unwrap();
    let code = field("code").unwrap_or_default();
    let Some(at) = inner.codes.iter().position(|(c, _)| *c == code) else {
        return Json(json!({"error": "bad_verification_code"})).into_response();
    };
    let (_, challenge) = inner.codes.remove(at);
    let verifier = field("code_verifier").unwrap_or_default();
    if !authenticated || B64.encode(Sha256::digest(verifier.as_bytes())) != challenge {
        // GitHub answers errors with 200 and an error body; the client must notice.
        return Json(json!({"error": "incorrect_client_credentials"})).into_response();
    }
    Json(json!({"access_token": ACCESS_TOKEN, "token_type": "bearer", "scope": "read:user,user:email"}))
        .into_response()
}

fn authorized(headers: &HeaderMap) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        == Some(&format!("Bearer {ACCESS_TOKEN}"))
        && headers.contains_key(header::USER_AGENT)
}

async fn user(headers: HeaderMap) -> Response {
    if !authorized(&headers) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"message": "Bad credentials"})),
        )
            .into_response();
    }
    Json(json!({
        "id": 583231,
        "login": "octocat",
        "name": "The Octocat",
        "avatar_url": "https://avatars.example.com/u/583231",
        "email": null,
    }))
    .into_response()
}

async fn emails_of(State(inner): Shared, headers: HeaderMap) -> Response {
    if !authorized(&headers) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"message": "Bad credentials"})),
        )
            .into_response();
    }
    Json(inner.lock().unwrap().emails.clone()).into_response()
}
