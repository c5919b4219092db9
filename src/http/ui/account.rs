//! The account page: the visitor's address, a password change, the list of their sessions
//! with "sign out" for each other one and for all the others, and signing out; the lists of
//! their authenticator apps (`factors.rs`), passkeys (`passkeys.rs`), organizations,
//! invitations and API keys (`organizations.rs`) changed there.

use axum::{
    extract::{rejection::FormRejection, Path, Query, State},
    http::{HeaderMap, StatusCode},
    response::Response,
    routing::{get, post},
    Form, Router,
};
use minijinja::{context, Value};
use serde::Deserialize;
use uuid::Uuid;

use super::{
    devices::{device_name, when},
    error_page,
    forms::HasCsrf,
    page,
    signed_in::{back, kept, sign_in_url, signed_in_form, visitor_or, CsrfOnly},
    visitor::{self, Visitor},
};
use crate::{
    api::OwnSession,
    auth::{LogoutScope, SelfUpdate},
    client::Client,
    error::{Code, Error, Kind, Result},
    http::ui::Ui,
    http::{extract::Arrival, redirect},
    secret::Secret,
};

pub fn router() -> Router<Ui> {
    Router::new()
        .route("/account", get(account))
        .route("/account/password", post(change_password))
        .route("/account/sessions/{id}/end", post(end_session))
        .route("/account/sign-out-others", post(sign_out_others))
        .route("/sign-out", post(sign_out))
}

#[derive(Deserialize)]
struct Notice {
    notice: Option<String>,
}

fn notice_text(key: Option<&str>) -> Option<&'static str> {
    Some(match key? {
        "password_changed" => "Your password was changed. Every other device was signed out.",
        "session_ended" => "That device was signed out.",
        "others_ended" => "Every other device was signed out.",
        "factor_added" => {
            "Two-step verification is on: sign-ins will ask for a code from your app."
        }
        "factor_removed" => "That authenticator app was removed.",
        "passkey_added" => "Your passkey was added: you can sign in with it from now on.",
        "passkey_renamed" => "The passkey was renamed.",
        "passkey_removed" => "That passkey was removed.",
        "account_saved" => {
            "Your account is saved: sign in with your email address and password from now on."
        }
        "organization_switched" => "This session now acts in the organization you chose.",
        "invitation_accepted" => "You joined the organization.",
        "api_key_revoked" => "The API key was revoked: it no longer works anywhere.",
        "app_revoked" => "The app's access was revoked: it is signed out everywhere.",
        _ => return None,
    })
}

pub(super) async fn render_account(
    app: &Ui,
    headers: &HeaderMap,
    v: &Visitor,
    status: StatusCode,
    notice: Option<&str>,
    error: Option<&str>,
    errors: minijinja::Value,
) -> Response {
    let sessions = match sessions_listed(app, v).await {
        Ok(s) => s,
        Err(e) => return error_page(app, headers, &e),
    };
    let factors = factors_listed(v);
    let passkeys = match passkeys_listed(app, v).await {
        Ok(p) => p,
        Err(e) => return error_page(app, headers, &e),
    };
    let organizations = match super::organizations::section(app, v).await {
        Ok(o) => o,
        Err(e) => return error_page(app, headers, &e),
    };
    let apps = match super::oauth::section(app, v).await {
        Ok(a) => a,
        Err(e) => return error_page(app, headers, &e),
    };
    let vars = context! {
        title => "Your account",
        apps,
        email => v.user.email.clone(),
        factors,
        passkeys,
        organizations,
        passkeys_on => super::passkeys_on(app) && !v.user.is_anonymous,
        anonymous => v.user.is_anonymous,
        new_email => v.user.email_change.clone(),
        sessions,
        notice,
        error,
        errors,
    };
    page(app, headers, status, "account.html", vars)
}

/// The account page's list of the visitor's sessions.
async fn sessions_listed(app: &Ui, v: &Visitor) -> Result<Vec<Value>> {
    let sessions: Vec<OwnSession> = app.auth.own_sessions(v.user.id, v.session_id).await?;
    Ok(sessions
        .iter()
        .map(|s| {
            context! {
                id => s.id.to_string(),
                user_agent => s.user_agent.clone(),
                device => device_name(s.user_agent.as_deref()),
                ip => s.ip.clone(),
                current => s.current,
                created_at => s.created_at.to_rfc3339(),
                refreshed_at => s.refreshed_at.to_rfc3339(),
                created_at_text => when(&s.created_at),
                refreshed_at_text => when(&s.refreshed_at),
            }
        })
        .collect())
}

/// The account page's list of verified second factors.
fn factors_listed(v: &Visitor) -> Vec<Value> {
    v.user
        .factors
        .iter()
        .filter(|f| f.is_verified())
        .map(|f| {
            let name = if f.friendly_name.is_empty() {
                "Authenticator app"
            } else {
                &f.friendly_name
            };
            context! { id => f.id.to_string(), name, added => when(&f.created_at) }
        })
        .collect()
}

/// The account page's list of passkeys (empty when passkeys are off on the pages).
async fn passkeys_listed(app: &Ui, v: &Visitor) -> Result<Vec<Value>> {
    if !super::passkeys_on(app) {
        return Ok(Vec::new());
    }
    let caller = v.caller();
    let passkeys = app.auth.own_passkeys(&caller).await?;
    Ok(passkeys
        .iter()
        .map(|p| {
            let name = if p.friendly_name.is_empty() {
                "Passkey"
            } else {
                &p.friendly_name
            };
            context! {
                id => p.id.to_string(),
                name,
                added => when(&p.created_at),
                last_used => p.last_used_at.as_ref().map(when),
            }
        })
        .collect())
}

async fn account(
    State(app): State<Ui>,
    client: Client,
    headers: HeaderMap,
    Arrival(arrived): Arrival,
    q: std::result::Result<Query<Notice>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let v = match visitor_or(&app, &headers, &client, arrived, true).await {
        Ok(v) => v,
        Err(response) => return response,
    };
    let notice = notice_text(q.ok().and_then(|Query(n)| n.notice).as_deref());
    let response = render_account(
        &app,
        &headers,
        &v,
        StatusCode::OK,
        notice,
        None,
        context! {},
    )
    .await;
    kept(&app, &v, response)
}

#[derive(Deserialize)]
struct PasswordForm {
    csrf: Option<String>,
    current_password: Option<Secret>,
    password: Option<Secret>,
}

impl HasCsrf for PasswordForm {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

async fn change_password(
    State(app): State<Ui>,
    client: Client,
    headers: HeaderMap,
    Arrival(arrived): Arrival,
    form: std::result::Result<Form<PasswordForm>, FormRejection>,
) -> Response {
    let (v, form) = match signed_in_form(&app, &headers, &client, arrived, form, true).await {
        Ok(x) => x,
        Err(response) => return response,
    };
    let current = form.current_password.filter(|p| !p.expose().is_empty());
    let Some(current) = current else {
        // Checked here: a blank field must not count as a failed password check.
        let errors = context! { current_password => "Enter your current password." };
        let response = render_account(
            &app,
            &headers,
            &v,
            StatusCode::BAD_REQUEST,
            None,
            Some("The password was not changed."),
            errors,
        )
        .await;
        return kept(&app, &v, response);
    };
    let update = SelfUpdate {
        password: form.password,
        current_password: Some(current),
        ..Default::default()
    };
    let response = match app
        .auth
        .update_self(v.user.id, v.session_id, update, &client)
        .await
    {
        Ok(_) => back(&app, "password_changed"),
        Err(e)
            if e.is_bad_input()
                || matches!(
                    e.kind,
                    Kind::RateLimited | Kind::Unauthorized | Kind::InvalidGrant
                ) =>
        {
            password_refused(&app, &headers, &v, &e).await
        }
        Err(e) => error_page(&app, &headers, &e),
    };
    kept(&app, &v, response)
}

/// The account page again, saying why the new password was refused, beside the field it is
/// about.
async fn password_refused(app: &Ui, headers: &HeaderMap, v: &Visitor, e: &Error) -> Response {
    let field = if e.code == Code::WeakPassword {
        "password"
    } else {
        "current_password"
    };
    let errors = minijinja::Value::from_iter([(field, e.message.to_string())]);
    let status = super::super::error::status(e.kind);
    render_account(
        app,
        headers,
        v,
        status,
        None,
        Some("The password was not changed."),
        errors,
    )
    .await
}

async fn end_session(
    State(app): State<Ui>,
    client: Client,
    headers: HeaderMap,
    Arrival(arrived): Arrival,
    Path(id): Path<String>,
    form: std::result::Result<Form<CsrfOnly>, FormRejection>,
) -> Response {
    let (v, _) = match signed_in_form(&app, &headers, &client, arrived, form, true).await {
        Ok(x) => x,
        Err(response) => return response,
    };
    let result: Result<()> = async {
        let id = Uuid::parse_str(&id).map_err(|_| Error::no_such_session())?;
        app.auth
            .end_own_session(v.user.id, id, v.session_id, &client)
            .await
    }
    .await;
    let response = match result {
        // Already gone counts as done: the list is what the visitor asked to change.
        Ok(()) => back(&app, "session_ended"),
        Err(e) if e.code == Code::NoSuchSession => back(&app, "session_ended"),
        Err(e) => error_page(&app, &headers, &e),
    };
    kept(&app, &v, response)
}

async fn sign_out_others(
    State(app): State<Ui>,
    client: Client,
    headers: HeaderMap,
    Arrival(arrived): Arrival,
    form: std::result::Result<Form<CsrfOnly>, FormRejection>,
) -> Response {
    let (v, _) = match signed_in_form(&app, &headers, &client, arrived, form, true).await {
        Ok(x) => x,
        Err(response) => return response,
    };
    let response = match app
        .auth
        .logout(v.user.id, Some(v.session_id), LogoutScope::Others, &client)
        .await
    {
        Ok(()) => back(&app, "others_ended"),
        Err(e) => error_page(&app, &headers, &e),
    };
    kept(&app, &v, response)
}

async fn sign_out(
    State(app): State<Ui>,
    client: Client,
    headers: HeaderMap,
    Arrival(arrived): Arrival,
    form: std::result::Result<Form<CsrfOnly>, FormRejection>,
) -> Response {
    let (v, _) = match signed_in_form(&app, &headers, &client, arrived, form, false).await {
        Ok(x) => x,
        Err(response) => return response,
    };
    match app
        .auth
        .logout(v.user.id, Some(v.session_id), LogoutScope::Local, &client)
        .await
    {
        Ok(()) => {
            let mut response = redirect::see_other(&sign_in_url(&app));
            visitor::clear_session(&app.config, response.headers_mut());
            response
        }
        Err(e) => kept(&app, &v, error_page(&app, &headers, &e)),
    }
}
