//! External sign-in in Supabase Auth's dialect: `GET /authorize` sends the browser to the
//! provider, `GET /callback` brings it back and redirects to the app (session in the fragment,
//! or `?code=` for PKCE clients, or `error`/`error_description`); `GET /settings` lists the
//! enabled providers; `GET /user/identities/authorize` and `DELETE /user/identities/{id}` link
//! and unlink providers of the signed-in user.
//!
//! The browser that started a sign-in must be the one that finishes it: `/authorize` sets a
//! short-lived HttpOnly cookie whose hash is stored with the `state`, and `/callback` requires
//! it (SameSite=Lax: sent on the provider's top-level redirect back).

use axum::{
    extract::{Path, Query, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    routing::{delete, get},
    Json, Router,
};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use uuid::Uuid;

use super::{cookie, extract::bad_query, origin::ApiOrigin, redirect};
use crate::{
    api::Settings,
    app::App,
    auth::{
        email::pkce::Challenge,
        external::{
            link_needs_pkce, new_browser_secret, ExternalOutcome, StartExternal, STATE_TTL,
        },
        Authenticated,
    },
    client::Client,
    config::Config,
    error::{Code, Error, Required, Result},
};

/// Prefix of the state cookies: one per sign-in under way (named after the first characters
/// of its value), so two tabs signing in at once do not overwrite each other's.
const STATE_COOKIE: &str = "hasura_auth_oauth_state_";

pub fn router() -> Router<App> {
    Router::new()
        .route("/authorize", get(authorize))
        .route("/callback", get(callback))
        .route("/settings", get(settings))
        .route("/user/identities/authorize", get(link))
        .route("/user/identities/{id}", delete(unlink))
}

#[derive(Deserialize)]
struct AuthorizeQuery {
    provider: Option<String>,
    redirect_to: Option<String>,
    /// Space-separated extra scopes.
    scopes: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    skip_http_redirect: Option<bool>,
}

impl AuthorizeQuery {
    fn provider(&self) -> Result<&str> {
        self.provider
            .as_deref()
            .filter(|p| !p.is_empty())
            .required("provider")
    }

    fn scopes(&self) -> Vec<String> {
        self.scopes
            .as_deref()
            .unwrap_or("")
            .split([' ', ','])
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

fn query<T>(
    q: std::result::Result<Query<T>, axum::extract::rejection::QueryRejection>,
) -> Result<T> {
    q.map(|Query(q)| q).map_err(bad_query)
}

/// `GET /authorize`: 302 to the provider, with the state cookie.
async fn authorize(
    State(app): State<App>,
    client: Client,
    q: std::result::Result<Query<AuthorizeQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response> {
    let q = query(q)?;
    let challenge =
        Challenge::from_request(q.code_challenge.clone(), q.code_challenge_method.clone())?;
    start(&app, &client, &q, challenge, None).await
}

#[derive(Deserialize)]
struct CallbackQuery {
    state: Option<String>,
    code: Option<String>,
    /// RFC 9207: the issuer of the response, when the provider says.
    iss: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// `GET /callback`: finishes the sign-in and redirects to the app.
async fn callback(
    State(app): State<App>,
    client: Client,
    headers: HeaderMap,
    q: std::result::Result<Query<CallbackQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let fallback = app.auth.redirect_target(None);
    let mut response = match query(q) {
        Err(e) => redirect::with_error(&fallback, &e),
        Ok(q) => finish(&app, &client, &headers, q, &fallback).await,
    };
    for browser in state_cookies(&headers) {
        clear_state_cookie(&app.config, response.headers_mut(), &browser);
    }
    response
}

async fn finish(
    app: &App,
    client: &Client,
    headers: &HeaderMap,
    q: CallbackQuery,
    fallback: &str,
) -> Response {
    let Some(state) = q.state.filter(|s| !s.is_empty()) else {
        return redirect::with_error(fallback, &Error::validation_failed("state is missing"));
    };
    let browsers = state_cookies(headers);
    let code = match (q.code, q.error) {
        (Some(code), None) => code,
        (_, error) => {
            // The provider refused (the user cancelled, or it failed): use up the state and
            // pass the provider's reason on, only for a sign-in this server started.
            let Some(target) = app.auth.abandon_external(&state).await else {
                return redirect::with_error(fallback, &bad_state());
            };
            let reason = match (error, q.error_description) {
                (Some(e), Some(d)) => format!("{e} ({d})"),
                (Some(e), None) => e,
                (None, d) => d.unwrap_or_else(|| "no code".to_owned()),
            };
            let e = Error::new(
                Code::ProviderFailed,
                format!("The identity provider refused the sign-in: {reason}"),
            );
            return redirect::with_error(&target, &e);
        }
    };
    match app
        .auth
        .finish_external(&state, &code, q.iss.as_deref(), &browsers, client)
        .await
    {
        Ok(ExternalOutcome::Session {
            session,
            redirect_to,
        }) => redirect::with_session(app, &session, &redirect_to, &[]),
        Ok(ExternalOutcome::Code { code, redirect_to }) => redirect::with_code(&redirect_to, &code),
        Err((e, target)) => {
            e.log_cause();
            redirect::with_error(target.as_deref().unwrap_or(fallback), &e)
        }
    }
}

fn bad_state() -> Error {
    Error::new(
        Code::BadOauthState,
        "OAuth state is invalid, expired or not for this browser",
    )
}

/// `GET /settings`: GoTrue's shape; `external` has every known provider, enabled or not.
/// The enabled sign-in methods.
#[utoipa::path(get, path = "/settings", tag = "meta",
    responses((status = 200, body = crate::api::Settings)))]
async fn settings(State(app): State<App>) -> Json<Settings> {
    let mut external: BTreeMap<String, bool> = [
        "anonymous_users",
        "apple",
        "azure",
        "bitbucket",
        "discord",
        "facebook",
        "figma",
        "github",
        "gitlab",
        "google",
        "keycloak",
        "linkedin_oidc",
        "notion",
        "phone",
        "slack_oidc",
        "spotify",
        "twitch",
        "twitter",
        "workos",
        "zoom",
    ]
    .into_iter()
    .map(|name| (name.to_owned(), false))
    .collect();
    external.insert("email".to_owned(), true);
    for name in app.auth.providers.names() {
        external.insert(name.to_owned(), true);
    }
    Json(Settings {
        external,
        disable_signup: app.config.accounts.disable_signup,
        mailer_autoconfirm: !app.config.mail.email_confirmation_required,
        phone_autoconfirm: false,
        sms_provider: "",
        saml_enabled: false,
    })
}

/// `GET /user/identities/authorize`: the provider URL that links a provider to the signed-in
/// user (JSON `{url}` with `skip_http_redirect=true`, as auth-js asks, else a redirect).
async fn link(
    State(app): State<App>,
    me: Authenticated,
    client: Client,
    q: std::result::Result<Query<AuthorizeQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response> {
    app.auth.check_manual_linking()?;
    let q = query(q)?;
    let challenge =
        Challenge::from_request(q.code_challenge.clone(), q.code_challenge_method.clone())?
            .ok_or_else(link_needs_pkce)?;
    let link_to = (me.user.id, me.token.session_id);
    start(&app, &client, &q, Some(challenge), Some(link_to)).await
}

/// Stores the sign-in (or link) under way and sends the browser to the provider with its
/// state cookie, or with `skip_http_redirect=true` answers the URL as JSON (auth-js's
/// `linkIdentity` fetches it, then navigates).
async fn start(
    app: &App,
    client: &Client,
    q: &AuthorizeQuery,
    challenge: Option<Challenge>,
    link_to: Option<(Uuid, Uuid)>,
) -> Result<Response> {
    let browser = new_browser_secret();
    let request = StartExternal {
        provider: q.provider()?,
        redirect_to: q.redirect_to.as_deref(),
        scopes: &q.scopes(),
        challenge,
        browser_secret: &browser,
        link_to,
    };
    let url = app.auth.start_external(request, client).await?;
    if link_to.is_some() && q.skip_http_redirect == Some(true) {
        return Ok(Json(json!({ "url": url })).into_response());
    }
    let mut response = redirect::to(StatusCode::FOUND, &url);
    set_state_cookie(
        &app.config,
        response.headers_mut(),
        &browser,
        STATE_TTL.as_secs(),
    );
    Ok(response)
}

/// `DELETE /user/identities/{id}`.
async fn unlink(
    State(app): State<App>,
    _: ApiOrigin,
    me: Authenticated,
    client: Client,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    let id =
        Uuid::parse_str(&id).map_err(|_| Error::validation_failed("identity id must be a UUID"))?;
    app.auth
        .unlink_identity(me.user.id, me.token.session_id, id, &client)
        .await?;
    Ok(Json(json!({})))
}

fn cookie_name(browser: &str) -> String {
    format!("{STATE_COOKIE}{}", browser.get(..8).unwrap_or(browser))
}

/// Sets the cookie binding a sign-in to its browser.
fn set_state_cookie(config: &Config, headers: &mut HeaderMap, browser: &str, max_age: u64) {
    let secure = if config.public_url().starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{}={browser}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}",
        cookie_name(browser)
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        headers.append(header::SET_COOKIE, v);
    }
}

fn clear_state_cookie(config: &Config, headers: &mut HeaderMap, browser: &str) {
    set_state_cookie(config, headers, browser, 0);
}

/// The values of the state cookies the browser sent.
fn state_cookies(headers: &HeaderMap) -> Vec<String> {
    cookie::pairs(headers)
        .filter(|(name, value)| name.starts_with(STATE_COOKIE) && !value.is_empty())
        .map(|(_, value)| value.to_owned())
        .take(16)
        .collect()
}
