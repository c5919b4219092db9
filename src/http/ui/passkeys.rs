//! Passkeys on the hosted pages (when passkeys are on and the pages' origin is one of the
//! relying party's): signing in with one, and adding, renaming and removing them on the
//! account page. The ceremonies need the browser's WebAuthn API, so `/ui/passkeys.js` (the
//! pages' only script) fetches each ceremony's options as JSON and posts the browser's answer
//! back as a form; renaming and removing are plain forms.

use axum::{
    extract::{rejection::FormRejection, Path, State},
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
    Form, Json, Router,
};
use minijinja::context;
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::{
    account::render_account,
    devices::device_name,
    error_page,
    forms::{checked, landing, FormPage, HasCsrf},
    signed_in::{back, kept, signed_in_form, visitor_or, CsrfOnly},
    visitor::Visitor,
    Carry,
};
use crate::{
    auth::passkeys::Begun,
    client::Client,
    error::{Code, Error, Kind, Result},
    http::{extract::Arrival, ui::Ui},
};

const SCRIPT: &str = include_str!("../../../templates/ui/passkeys.js");

pub fn router() -> Router<Ui> {
    Router::new()
        .route("/passkeys.js", get(script))
        .route("/sign-in/passkey", post(sign_in))
        .route("/sign-in/passkey/options", post(sign_in_options))
        .route("/account/passkeys", post(add))
        .route("/account/passkeys/options", post(add_options))
        .route("/account/passkeys/{id}/rename", post(rename))
        .route("/account/passkeys/{id}/remove", post(remove))
}

async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        SCRIPT,
    )
        .into_response()
}

/// A ceremony's options for the script, or its error in words (never internals).
fn ceremony(begun: Result<Begun>) -> Response {
    match begun {
        Ok(b) => {
            Json(json!({"challenge_id": b.challenge_id, "options": b.options})).into_response()
        }
        Err(e) => {
            e.log_cause();
            let message = match e.kind {
                Kind::Internal | Kind::Unavailable => {
                    "Something went wrong on our side. Please try again later."
                }
                _ => e.message.as_ref(),
            };
            let status = super::super::error::status(e.kind);
            (status, Json(json!({"error": message}))).into_response()
        }
    }
}

#[derive(Deserialize)]
struct Answer {
    csrf: Option<String>,
    challenge_id: Option<String>,
    credential: Option<String>,
    #[serde(flatten)]
    carry: Carry,
}

impl HasCsrf for Answer {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

impl Answer {
    /// The ceremony and the browser's answer; any malformation is the credential's.
    fn parts(&self) -> Result<(Uuid, serde_json::Value)> {
        let refused = || {
            Error::new(
                Code::WebauthnVerificationFailed,
                "Invalid credential response",
            )
        };
        let id = self
            .challenge_id
            .as_deref()
            .and_then(|id| Uuid::parse_str(id.trim()).ok())
            .ok_or_else(refused)?;
        let credential = self
            .credential
            .as_deref()
            .and_then(|c| serde_json::from_str(c).ok())
            .ok_or_else(refused)?;
        Ok((id, credential))
    }
}

async fn sign_in_options(
    State(app): State<Ui>,
    client: Client,
    headers: HeaderMap,
    form: std::result::Result<Form<CsrfOnly>, FormRejection>,
) -> Response {
    ceremony(match checked(&app, &headers, form) {
        Ok(_) => app.auth.passkey_authentication_options(&client).await,
        Err(e) => Err(e),
    })
}

async fn sign_in(
    State(app): State<Ui>,
    client: Client,
    headers: HeaderMap,
    form: std::result::Result<Form<Answer>, FormRejection>,
) -> Response {
    let form = match checked(&app, &headers, form) {
        Ok(form) => form,
        Err(e) => return error_page(&app, &headers, &e),
    };
    let carry = form.carry.clone().cleaned();
    let result = async {
        let (id, credential) = form.parts()?;
        let challenge = carry.app_challenge(&app)?;
        app.auth
            .passkey_sign_in_on_page(id, credential, challenge.as_ref(), &client)
            .await
    }
    .await;
    let page = FormPage {
        app: &app,
        headers: &headers,
        template: "sign_in.html",
        title: "Sign in",
        carry: carry.clone(),
    };
    match result {
        Ok(signed) => landing(&app, &carry, signed),
        Err(e) if e.kind == Kind::RateLimited => {
            page.again(StatusCode::TOO_MANY_REQUESTS, "", &e.message, context! {})
        }
        Err(e) if e.is_bad_input() || matches!(e.kind, Kind::InvalidGrant | Kind::NotFound) => {
            let status = super::super::error::status(e.kind);
            let text = "That passkey could not be used. Try again, or sign in with your password.";
            page.again(status, "", text, context! {})
        }
        Err(e) => error_page(&app, &headers, &e),
    }
}

async fn add_options(
    State(app): State<Ui>,
    client: Client,
    headers: HeaderMap,
    Arrival(arrived): Arrival,
    form: std::result::Result<Form<CsrfOnly>, FormRejection>,
) -> Response {
    if let Err(e) = checked(&app, &headers, form) {
        return ceremony(Err(e));
    }
    // Signed out, or owing a second factor: the page is stale.
    let Ok(v) = visitor_or(&app, &headers, &client, arrived, true).await else {
        let e = Error::new(
            Code::SessionNotFound,
            "Your session has ended: reload the page and sign in.",
        );
        return ceremony(Err(e));
    };
    let begun = app.auth.passkey_registration_options(&v.caller()).await;
    kept(&app, &v, ceremony(begun))
}

async fn add(
    State(app): State<Ui>,
    client: Client,
    headers: HeaderMap,
    Arrival(arrived): Arrival,
    form: std::result::Result<Form<Answer>, FormRejection>,
) -> Response {
    let (v, form) = match signed_in_form(&app, &headers, &client, arrived, form, true).await {
        Ok(x) => x,
        Err(response) => return response,
    };
    // Named after the device it was made on; the visitor can rename it.
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    let name = device_name(user_agent);
    let result = match form.parts() {
        Ok((id, credential)) => {
            app.auth
                .passkey_registration_verify(&v.caller(), id, credential, &name, &client)
                .await
        }
        Err(e) => Err(e),
    };
    let response = match result {
        Ok(_) => back(&app, "passkey_added"),
        Err(e) => {
            let text = format!("The passkey was not added: {}.", e.message);
            refused(&app, &headers, &v, &e, &text).await
        }
    };
    kept(&app, &v, response)
}

/// The account page again, saying (`text`) why a change was refused; an error page for what
/// is not the visitor's doing.
async fn refused(app: &Ui, headers: &HeaderMap, v: &Visitor, e: &Error, text: &str) -> Response {
    if !(e.is_bad_input() || matches!(e.kind, Kind::Forbidden | Kind::RateLimited)) {
        return error_page(app, headers, e);
    }
    let status = super::super::error::status(e.kind);
    render_account(app, headers, v, status, None, Some(text), context! {}).await
}

#[derive(Deserialize)]
struct RenameForm {
    csrf: Option<String>,
    friendly_name: Option<String>,
}

impl HasCsrf for RenameForm {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

fn passkey_id(id: &str) -> Result<Uuid> {
    Uuid::parse_str(id).map_err(|_| Error::not_found("Passkey not found"))
}

async fn rename(
    State(app): State<Ui>,
    client: Client,
    headers: HeaderMap,
    Arrival(arrived): Arrival,
    Path(id): Path<String>,
    form: std::result::Result<Form<RenameForm>, FormRejection>,
) -> Response {
    let (v, form) = match signed_in_form(&app, &headers, &client, arrived, form, true).await {
        Ok(x) => x,
        Err(response) => return response,
    };
    let name = form.friendly_name.unwrap_or_default();
    let result = match passkey_id(&id) {
        Ok(id) => app.auth.rename_passkey(&v.caller(), id, &name).await,
        Err(e) => Err(e),
    };
    let response = match result {
        Ok(_) => back(&app, "passkey_renamed"),
        Err(e) => {
            let text = "The passkey was not renamed: give it a name of 1 to 100 characters.";
            refused(&app, &headers, &v, &e, text).await
        }
    };
    kept(&app, &v, response)
}

async fn remove(
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
    let result = match passkey_id(&id) {
        Ok(id) => app.auth.delete_passkey(&v.caller(), id, &client).await,
        Err(e) => Err(e),
    };
    let response = match result {
        // Already gone counts as done, as for sessions.
        Ok(()) => back(&app, "passkey_removed"),
        Err(e) if e.kind == Kind::NotFound => back(&app, "passkey_removed"),
        Err(e) => error_page(&app, &headers, &e),
    };
    kept(&app, &v, response)
}
