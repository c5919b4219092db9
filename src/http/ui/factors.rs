//! Two-step verification on the hosted pages: the sign-in's second step (`/ui/second-factor`:
//! a code from the authenticator app or a recovery code; setting an app up first when the
//! account must have one), and on the account page adding and removing an app and making
//! recovery codes. No script: the QR code is an image (a data URL), the secret is shown for
//! typing in.

use axum::{
    extract::{rejection::FormRejection, rejection::QueryRejection, Path, Query, State},
    http::{HeaderMap, StatusCode},
    response::Response,
    routing::{get, post},
    Form, Router,
};
use base64::{engine::general_purpose::STANDARD, Engine};
use minijinja::{context, Value};
use serde::Deserialize;
use uuid::Uuid;

use super::{
    account_url, carry_of, error_page,
    forms::HasCsrf,
    page,
    signed_in::{back, kept, signed_in_form, visitor_or, CsrfOnly},
    visitor::{self, Visitor},
    Carry,
};
use crate::{
    auth::{
        mfa::{Answer, Caller, Enrolled, HandOff},
        Session,
    },
    client::Client,
    error::{Error, Kind, Result},
    http::ui::Ui,
    http::{extract::Arrival, redirect},
    secret::Secret,
};

pub fn router() -> Router<Ui> {
    Router::new()
        .route(
            "/second-factor",
            get(second_factor_page).post(second_factor),
        )
        .route("/second-factor/setup", post(setup))
        .route("/account/factors", post(add_factor))
        .route("/account/factors/verify", post(verify_added))
        .route("/account/factors/{id}/remove", post(remove_factor))
        .route("/account/recovery-codes", post(recovery_codes))
}

#[derive(Deserialize)]
struct CodeForm {
    csrf: Option<String>,
    factor_id: Option<String>,
    code: Option<Secret>,
    #[serde(flatten)]
    carry: Carry,
}

impl HasCsrf for CodeForm {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

/// What the code form shows besides the field.
#[derive(Default)]
struct CodeStep<'a> {
    /// The app being set up (its QR code and secret), or none to ask for a code.
    enrolled: Option<&'a Enrolled>,
    factor_id: Option<Uuid>,
    error: Option<&'a str>,
}

/// The code form: posted to `action`, carrying `carry`.
fn code_page(
    app: &Ui,
    headers: &HeaderMap,
    status: StatusCode,
    action: &str,
    carry: &Carry,
    step: CodeStep<'_>,
) -> Response {
    let (qr_code, secret) = match step.enrolled.and_then(|e| e.totp.as_ref()) {
        Some(totp) => (
            Some(format!(
                "data:image/svg+xml;base64,{}",
                STANDARD.encode(&totp.qr_code)
            )),
            Some(totp.secret.clone()),
        ),
        None => (None, None),
    };
    let errors = context! { code => step.error };
    let vars = context! {
        title => if qr_code.is_some() { "Set up your authenticator app" } else { "Two-step verification" },
        mode => if qr_code.is_some() { "enrol" } else { "code" },
        action, qr_code, secret, errors,
        factor_id => step.factor_id.map(|id| id.to_string()),
        error => step.error,
        ..carry.vars()
    };
    page(app, headers, status, "second_factor.html", vars)
}

fn second_factor_url(app: &Ui) -> String {
    format!("{}/ui/second-factor", app.config.public_url())
}

async fn second_factor_page(
    State(app): State<Ui>,
    client: Client,
    headers: HeaderMap,
    Arrival(arrived): Arrival,
    q: std::result::Result<Query<Carry>, QueryRejection>,
) -> Response {
    let carry = carry_of(q);
    let v = match visitor_or(&app, &headers, &client, arrived, false).await {
        Ok(v) => v,
        Err(response) => return response,
    };
    let response = if !v.owes_second_factor(&app) {
        redirect::see_other(&account_url(&app))
    } else if v.user.has_verified_factor() {
        code_page(
            &app,
            &headers,
            StatusCode::OK,
            &second_factor_url(&app),
            &carry,
            CodeStep::default(),
        )
    } else {
        let vars = context! { title => "Two-step verification", mode => "setup", ..carry.vars() };
        page(&app, &headers, StatusCode::OK, "second_factor.html", vars)
    };
    kept(&app, &v, response)
}

/// `/ui/second-factor/setup`: an account that must have a second factor sets one up.
async fn setup(
    State(app): State<Ui>,
    client: Client,
    headers: HeaderMap,
    Arrival(arrived): Arrival,
    form: std::result::Result<Form<CodeForm>, FormRejection>,
) -> Response {
    let (v, form) = match signed_in_form(&app, &headers, &client, arrived, form, false).await {
        Ok(x) => x,
        Err(response) => return response,
    };
    let response = enrol_page(
        &app,
        &headers,
        &v,
        &client,
        &second_factor_url(&app),
        &form.carry.cleaned(),
    )
    .await;
    kept(&app, &v, response)
}

/// Enrols a new app for the visitor and shows its QR code with the code form.
async fn enrol_page(
    app: &Ui,
    headers: &HeaderMap,
    v: &Visitor,
    client: &Client,
    action: &str,
    carry: &Carry,
) -> Response {
    let caller = v.caller();
    match app.auth.enroll_totp(&caller, Some(""), None, client).await {
        Ok(enrolled) => {
            let step = CodeStep {
                factor_id: Some(enrolled.factor.id),
                enrolled: Some(&enrolled),
                error: None,
            };
            code_page(app, headers, StatusCode::OK, action, carry, step)
        }
        Err(e) => error_page(app, headers, &e),
    }
}

/// Checks a code (or a recovery code) in the visitor's session: the session, now at aal2.
async fn check_code(app: &Ui, v: &Visitor, client: &Client, form: &CodeForm) -> Result<Session> {
    let caller = v.caller();
    let code = form.code.as_ref().map(|c| c.expose().trim()).unwrap_or("");
    let digits = code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit());
    if !digits && form.factor_id.is_none() && v.user.has_verified_factor() {
        return app.auth.verify_recovery_code(&caller, code, client).await;
    }
    let factor = match form.factor_id.as_deref() {
        Some(id) => Uuid::parse_str(id).map_err(|_| crate::auth::mfa::factor_not_found())?,
        None => v
            .user
            .factors
            .iter()
            .find(|f| f.is_verified())
            .map(|f| f.id)
            .ok_or_else(crate::auth::mfa::factor_not_found)?,
    };
    let challenge = app.auth.challenge_factor(&caller, factor, client).await?;
    app.auth
        .verify_factor(&caller, factor, challenge.id, Answer::Code(code), client)
        .await
}

/// The code form again, saying what was wrong; an error page for what is not the visitor's.
fn refused(
    app: &Ui,
    headers: &HeaderMap,
    action: &str,
    carry: &Carry,
    form: &CodeForm,
    e: &Error,
) -> Response {
    if !(e.is_bad_input() || e.kind == Kind::RateLimited) {
        return error_page(app, headers, e);
    }
    let factor_id = form
        .factor_id
        .as_deref()
        .and_then(|id| Uuid::parse_str(id).ok());
    let message = if e.kind == Kind::RateLimited {
        e.message.as_ref()
    } else {
        "That code is not right. Try the newest code from your app."
    };
    let step = CodeStep {
        enrolled: None,
        factor_id,
        error: Some(message),
    };
    code_page(
        app,
        headers,
        super::super::error::status(e.kind),
        action,
        carry,
        step,
    )
}

/// The sign-in's second step: a code, then on to the app (a session or code of its own, at
/// aal2) or the account page.
async fn second_factor(
    State(app): State<Ui>,
    client: Client,
    headers: HeaderMap,
    Arrival(arrived): Arrival,
    form: std::result::Result<Form<CodeForm>, FormRejection>,
) -> Response {
    let (v, form) = match signed_in_form(&app, &headers, &client, arrived, form, false).await {
        Ok(x) => x,
        Err(response) => return response,
    };
    let carry = form.carry.clone().cleaned();
    let raised = match check_code(&app, &v, &client, &form).await {
        Ok(session) => session,
        Err(e) => {
            return kept(
                &app,
                &v,
                refused(&app, &headers, &second_factor_url(&app), &carry, &form, &e),
            )
        }
    };
    match on_to_app(&app, &client, &carry, &raised).await {
        Ok(mut response) => {
            visitor::set_session(&app.config, response.headers_mut(), &raised);
            response
        }
        Err(e) => error_page(&app, &headers, &e),
    }
}

/// Where the sign-in goes once the page's session is at aal2.
async fn on_to_app(app: &Ui, client: &Client, carry: &Carry, raised: &Session) -> Result<Response> {
    let Some(target) = carry.target(app) else {
        return Ok(redirect::see_other(&carry.home(app)));
    };
    let caller = Caller {
        user: &raised.user,
        session_id: raised.session_id,
    };
    let challenge = carry.challenge()?;
    Ok(
        match app
            .auth
            .hand_off(&caller, challenge.as_ref(), client)
            .await?
        {
            HandOff::Code(code) => redirect::with_code(&target, &code),
            HandOff::Session(session) => redirect::with_session(app, &session, &target, &[]),
        },
    )
}

/// The account page's "add an authenticator app".
async fn add_factor(
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
    let action = format!("{}/ui/account/factors/verify", app.config.public_url());
    let response = enrol_page(&app, &headers, &v, &client, &action, &Carry::default()).await;
    kept(&app, &v, response)
}

async fn verify_added(
    State(app): State<Ui>,
    client: Client,
    headers: HeaderMap,
    Arrival(arrived): Arrival,
    form: std::result::Result<Form<CodeForm>, FormRejection>,
) -> Response {
    let (v, form) = match signed_in_form(&app, &headers, &client, arrived, form, true).await {
        Ok(x) => x,
        Err(response) => return response,
    };
    let action = format!("{}/ui/account/factors/verify", app.config.public_url());
    match check_code(&app, &v, &client, &form).await {
        Ok(raised) => {
            let mut response = back(&app, "factor_added");
            visitor::set_session(&app.config, response.headers_mut(), &raised);
            response
        }
        Err(e) => kept(
            &app,
            &v,
            refused(&app, &headers, &action, &Carry::default(), &form, &e),
        ),
    }
}

async fn remove_factor(
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
    let caller = v.caller();
    let result = match Uuid::parse_str(&id) {
        Ok(id) => app.auth.unenroll_factor(&caller, id, &client).await,
        Err(_) => Err(crate::auth::mfa::factor_not_found()),
    };
    let response = match result {
        Ok(_) => back(&app, "factor_removed"),
        Err(e) => error_page(&app, &headers, &e),
    };
    kept(&app, &v, response)
}

/// A new set of recovery codes, shown this once.
async fn recovery_codes(
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
    let caller = v.caller();
    let response = match app.auth.generate_recovery_codes(&caller, &client).await {
        Ok(codes) => {
            let vars = context! { title => "Your recovery codes", codes => Value::from_serialize(&codes), account => account_url(&app) };
            page(&app, &headers, StatusCode::OK, "recovery_codes.html", vars)
        }
        Err(e) => error_page(&app, &headers, &e),
    };
    kept(&app, &v, response)
}
