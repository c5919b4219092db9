//! `/signup`, `/token`, `/logout`, `/revoke`: the session endpoints.

use axum::{
    extract::{rejection::QueryRejection, Query, State},
    http::{header, HeaderMap, HeaderValue},
    response::{IntoResponse, Response},
    routing::post,
    Json, Router,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{
    cookie::{self, TokenSource},
    extract::{bad_query, Arrival, MfaCaller, RedirectTo},
    no_content,
    origin::ApiOrigin,
    user::user_view,
    Payload,
};
use crate::{
    api::{SessionResponse, SignupResponse},
    app::App,
    auth::{email::pkce::Challenge, LogoutScope, Session, SignUpRequest, SignedUp},
    client::Client,
    error::{Error, Kind, Required, Result},
    secret::Secret,
};

pub fn router() -> Router<App> {
    Router::new()
        .route("/signup", post(signup))
        .route("/token", post(token))
        .route("/logout", post(logout))
        .route("/revoke", post(revoke))
}

/// Where a body carries the refresh token: nowhere in cookie mode, where the HttpOnly cookie
/// alone carries it (in the body it would be the page's scripts', which the cookie exists to
/// prevent).
pub fn refresh_in_body<'a>(app: &App, session: &'a Session) -> Option<&'a str> {
    (!app.config.cookie.refresh_token_cookie).then(|| session.refresh_token.expose())
}

/// An answer carrying `session`'s tokens in `body`, with the refresh-token cookie when it is
/// enabled, never cached (RFC 6749 §5.1). Shared by the HTTP API and the actions handler.
/// The body is written straight from the session (every refresh answers so), not through a
/// `serde_json::Value` tree.
pub fn with_tokens(app: &App, session: &Session, body: impl Serialize) -> Response {
    let mut response = Json(body).into_response();
    let headers = response.headers_mut();
    cookie::set(&app.config, headers, session.refresh_token.expose());
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// The session as the API shows it.
pub fn session_body<'a>(app: &App, session: &'a Session) -> SessionResponse<'a> {
    SessionResponse {
        access_token: &session.access.token,
        token_type: "bearer",
        expires_in: session.access.expires_in,
        expires_at: session.access.expires_at,
        refresh_token: refresh_in_body(app, session),
        user: user_view(app, &session.user),
    }
}

/// The session response: `{access_token, token_type, expires_in, expires_at, refresh_token,
/// user}`.
pub fn session_response(app: &App, session: Session) -> Response {
    with_tokens(app, &session, session_body(app, &session))
}

#[derive(Deserialize)]
struct SignupRequest {
    email: Option<String>,
    phone: Option<String>,
    password: Option<Secret>,
    data: Option<Value>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
}

/// Sign up with email and password (`@supabase/auth-js` `signUp`), or with neither: an
/// anonymous user and its session (`signInAnonymously`, with `AUTH_ANONYMOUS_USERS`).
#[utoipa::path(post, path = "/signup", tag = "sessions",
    request_body(content = Object, description = "`{email, password, data?, code_challenge?, code_challenge_method?}`, or `{data?}` alone for an anonymous user"),
    params(("redirect_to" = Option<String>, Query, description = "Where the confirmation link leads")),
    responses(
        (status = 200, body = crate::api::SignupResponse),
        (status = 400, body = crate::api::ErrorBody), (status = 403, body = crate::api::ErrorBody),
        (status = 422, body = crate::api::ErrorBody), (status = 429, body = crate::api::ErrorBody),
    ))]
async fn signup(
    State(app): State<App>,
    _: ApiOrigin,
    client: Client,
    RedirectTo(redirect_to): RedirectTo,
    Payload(req): Payload<SignupRequest>,
) -> Result<Response> {
    app.auth.check_sign_up_allowed()?;
    let blank = |v: &Option<String>| v.as_deref().is_none_or(|v| v.trim().is_empty());
    if blank(&req.email) && blank(&req.phone) {
        // No address: an anonymous user (a password alone is ignored, as in Supabase Auth).
        let session = app.auth.sign_in_anonymously(req.data, &client).await?;
        return Ok(session_response(&app, session));
    }
    let email = req.email.required("email")?;
    let password = req.password.required("password")?;
    let request = SignUpRequest {
        email,
        password,
        data: req.data,
        redirect_to,
        challenge: Challenge::from_request(req.code_challenge, req.code_challenge_method)?,
        code_instead_of_session: false,
    };
    match app.auth.sign_up(request, &client).await? {
        SignedUp::Session(session) => {
            let body = SignupResponse::Session(Box::new(session_body(&app, &session)));
            Ok(with_tokens(&app, &session, body))
        }
        // Confirmation required: the user, no session (Supabase Auth's answer).
        SignedUp::ConfirmationSent(user) => {
            let body = SignupResponse::ConfirmationSent(Box::new(user_view(&app, &user)));
            Ok(Json(body).into_response())
        }
        SignedUp::Code(_) => Err(Error::internal(anyhow::anyhow!("sign-up answered a code"))),
    }
}

#[derive(Deserialize, Default)]
struct GrantQuery {
    grant_type: Option<String>,
}

/// Body of `/token`, JSON or form. `username` is RFC 6749 §4.3's name for the email.
#[derive(Deserialize)]
struct TokenRequest {
    grant_type: Option<String>,
    email: Option<String>,
    username: Option<String>,
    password: Option<Secret>,
    refresh_token: Option<Secret>,
    /// `grant_type=pkce`.
    auth_code: Option<Secret>,
    code_verifier: Option<Secret>,
    /// `grant_type=id_token`.
    provider: Option<String>,
    id_token: Option<Secret>,
    nonce: Option<String>,
    /// `grant_type=api_key`.
    api_key: Option<Secret>,
    /// `password` and `refresh_token`: the organization the session acts in from now on.
    organization_id: Option<uuid::Uuid>,
}

/// The token endpoint: `grant_type` (query or body) `password` `{email|username, password,
/// organization_id?}`, `refresh_token` `{refresh_token, organization_id?}` (or the cookie), `pkce` `{auth_code, code_verifier}`,
/// `id_token` `{provider, id_token, nonce?}`, `api_key` `{api_key}` (an access token for
/// Hasura's JWT mode, no refresh token).
#[utoipa::path(post, path = "/token", tag = "sessions",
    params(("grant_type" = Option<String>, Query, description = "password, refresh_token, pkce, id_token or api_key")),
    request_body(content = Object, description = "JSON or form, by grant type"),
    responses(
        (status = 200, body = crate::api::TokenResponse),
        (status = 400, body = crate::api::ErrorBody), (status = 401, body = crate::api::ErrorBody), (status = 403, body = crate::api::ErrorBody),
        (status = 409, body = crate::api::ErrorBody), (status = 429, body = crate::api::ErrorBody),
    ))]
async fn token(
    State(app): State<App>,
    _: ApiOrigin,
    Arrival(arrived): Arrival,
    client: Client,
    headers: HeaderMap,
    query: Result<Query<GrantQuery>, QueryRejection>,
    Payload(req): Payload<TokenRequest>,
) -> Result<Response> {
    let grant = query.map_err(bad_query)?.0.grant_type.or(req.grant_type);
    let session = match grant.as_deref() {
        Some("password") => {
            let email = req.email.or(req.username).unwrap_or_default();
            let password = req.password.unwrap_or_default();
            app.auth
                .sign_in(&email, &password, req.organization_id, &client)
                .await?
        }
        Some("refresh_token") => {
            let asked = (req.refresh_token, req.organization_id);
            match refreshed(&app, &headers, asked, &client, arrived).await {
                Ok(session) => session,
                Err(response) => return Ok(response),
            }
        }
        Some("pkce") => {
            let (Some(code), Some(verifier)) = (req.auth_code, req.code_verifier) else {
                return Err(Error::validation_failed(
                    "auth_code and code_verifier are required",
                ));
            };
            app.auth
                .exchange_auth_code(code.expose(), verifier.expose(), &client)
                .await?
        }
        Some("id_token") => {
            let (Some(provider), Some(id_token)) = (req.provider, req.id_token) else {
                return Err(Error::validation_failed(
                    "provider and id_token are required",
                ));
            };
            app.auth
                .sign_in_with_id_token(&provider, id_token.expose(), req.nonce.as_deref(), &client)
                .await?
        }
        Some("api_key") => return api_key_token(&app, req.api_key).await,
        None => return Err(Error::validation_failed("grant_type is required")),
        Some(_) => return Err(Error::unsupported_grant_type()),
    };
    Ok(session_response(&app, session))
}

/// `grant_type=refresh_token`: the refreshed session, switched to `org` first if named; a
/// failure as its response (which drops the cookie of a session that is over).
async fn refreshed(
    app: &App,
    headers: &HeaderMap,
    req: (Option<Secret>, Option<uuid::Uuid>),
    client: &Client,
    arrived: std::time::Instant,
) -> std::result::Result<Session, Response> {
    let (in_body, org) = req;
    let (token, source) = cookie::refresh_token(&app.config, headers, in_body)
        .map_err(IntoResponse::into_response)?;
    let result = match org {
        Some(org) => {
            app.auth
                .refresh_in_organization(token.expose(), org, client, arrived)
                .await
        }
        None => app.auth.refresh(token.expose(), client, arrived).await,
    };
    result.map_err(|e| {
        let over = source == TokenSource::Cookie && e.kind == Kind::InvalidGrant;
        let mut response = e.into_response();
        if over {
            // The cookie's session is over: drop the cookie too.
            cookie::clear(&app.config, response.headers_mut());
        }
        response
    })
}

/// `grant_type=api_key`: an access token alone, for Hasura's JWT mode.
async fn api_key_token(app: &App, key: Option<Secret>) -> Result<Response> {
    let key = key.required("api_key")?;
    let issued = app.auth.exchange_api_key(key.expose()).await?;
    let body = crate::api::KeyTokenResponse {
        access_token: issued.token,
        token_type: "bearer",
        expires_in: issued.expires_in,
        expires_at: issued.expires_at,
    };
    let mut response = Json(body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    Ok(response)
}

#[derive(Deserialize, Default)]
struct LogoutQuery {
    scope: Option<String>,
}

/// Ends this session (`local`), the user's other sessions (`others`) or all (`global`).
#[utoipa::path(post, path = "/logout", tag = "sessions", security(("access_token" = [])),
    params(("scope" = Option<String>, Query, description = "local, others or global (default)")),
    responses((status = 204, description = "Signed out"), (status = 401, body = crate::api::ErrorBody)))]
async fn logout(
    State(app): State<App>,
    _: ApiOrigin,
    client: Client,
    query: Result<Query<LogoutQuery>, QueryRejection>,
    MfaCaller(who): MfaCaller,
) -> Result<Response> {
    let scope = match query.map_err(bad_query)?.0.scope.as_deref() {
        None => LogoutScope::default(),
        Some(s) => LogoutScope::parse(s)
            .ok_or_else(|| Error::validation_failed("scope must be local, others or global"))?,
    };
    app.auth
        .logout(who.user.id, Some(who.token.session_id), scope, &client)
        .await?;
    let mut response = no_content();
    cookie::clear(&app.config, response.headers_mut());
    Ok(response)
}

#[derive(Deserialize)]
struct RevokeRequest {
    token: Option<Secret>,
    #[allow(dead_code)]
    token_type_hint: Option<String>,
}

/// RFC 7009: 200 whether or not the token was known.
#[utoipa::path(post, path = "/revoke", tag = "sessions",
    request_body(content = Object, description = "`{token, token_type_hint?}` (RFC 7009), JSON or form"),
    responses((status = 200, description = "Revoked, or the token was not known"), (status = 400, body = crate::api::ErrorBody)))]
async fn revoke(
    State(app): State<App>,
    _: ApiOrigin,
    client: Client,
    Payload(req): Payload<RevokeRequest>,
) -> Result<Response> {
    let token = req
        .token
        .filter(|t| !t.expose().is_empty())
        .required("token")?;
    app.auth.revoke(token.expose(), &client).await?;
    Ok(axum::http::StatusCode::OK.into_response())
}
