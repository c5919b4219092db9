//! Anonymous visitors on the hosted pages (with `AUTH_ANONYMOUS_USERS`): "Continue without an
//! account" on the sign-in page, and on the account page "Save your account" (an address and
//! a password on the same user; the address is proven by the link sent there, which brings
//! the visitor back to the account page as a full user).

use axum::{
    extract::{rejection::FormRejection, State},
    http::{HeaderMap, StatusCode},
    response::Response,
    routing::post,
    Form, Router,
};
use minijinja::context;
use serde::Deserialize;

use super::{
    account::render_account,
    account_url, error_page,
    forms::{checked, FormPage, HasCsrf},
    message,
    signed_in::{kept, signed_in_form},
    visitor, Carry,
};
use crate::{
    auth::{mfa::HandOff, SelfUpdate},
    client::Client,
    error::{Code, Kind},
    http::{extract::Arrival, redirect, ui::Ui},
    secret::Secret,
};

pub fn router() -> Router<Ui> {
    Router::new()
        .route("/guest", post(guest))
        .route("/account/save", post(save))
}

#[derive(Deserialize)]
struct GuestForm {
    csrf: Option<String>,
    #[serde(flatten)]
    carry: Carry,
}

impl HasCsrf for GuestForm {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

/// An anonymous user: the pages keep a session of it (for saving the account later), and
/// the app, if one asked, gets its own (or a code for it).
async fn guest(
    State(app): State<Ui>,
    client: Client,
    headers: HeaderMap,
    form: std::result::Result<Form<GuestForm>, FormRejection>,
) -> Response {
    let form = match checked(&app, &headers, form) {
        Ok(form) => form,
        Err(e) => return error_page(&app, &headers, &e),
    };
    let carry = form.carry.cleaned();
    let target = carry.target(&app);
    let result = match carry.app_challenge(&app) {
        Ok(challenge) => {
            app.auth
                .sign_in_anonymously_on_page(target.is_some(), challenge.as_ref(), &client)
                .await
        }
        Err(e) => Err(e),
    };
    let (pages, for_app) = match result {
        Ok(x) => x,
        Err(e) if e.kind == Kind::RateLimited => {
            let page = FormPage {
                app: &app,
                headers: &headers,
                template: "sign_in.html",
                title: "Sign in",
                carry,
            };
            return page.again(StatusCode::TOO_MANY_REQUESTS, "", &e.message, context! {});
        }
        Err(e) => return error_page(&app, &headers, &e),
    };
    let mut response = match (for_app, target) {
        (Some(HandOff::Code(code)), Some(target)) => redirect::with_code(&target, &code),
        (Some(HandOff::Session(session)), Some(target)) => {
            redirect::with_session(&app, &session, &target, &[])
        }
        _ => redirect::see_other(&account_url(&app)),
    };
    visitor::set_session(&app.config, response.headers_mut(), &pages);
    response
}

#[derive(Deserialize)]
struct SaveForm {
    csrf: Option<String>,
    #[serde(default)]
    email: String,
    password: Option<Secret>,
}

impl HasCsrf for SaveForm {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

/// "Save your account": the address (to be proven by its link) and a password, at once.
async fn save(
    State(app): State<Ui>,
    client: Client,
    headers: HeaderMap,
    Arrival(arrived): Arrival,
    form: std::result::Result<Form<SaveForm>, FormRejection>,
) -> Response {
    let (v, form) = match signed_in_form(&app, &headers, &client, arrived, form, true).await {
        Ok(x) => x,
        Err(response) => return response,
    };
    let password = form.password.filter(|p| !p.expose().is_empty());
    let email = form.email.trim().to_owned();
    let again = |status, field: &str, text: &str| {
        let errors = minijinja::Value::from_iter([(field.to_owned(), text.to_owned())]);
        render_account(
            &app,
            &headers,
            &v,
            status,
            None,
            Some("Your account was not saved."),
            errors,
        )
    };
    let response = if !v.user.is_anonymous {
        redirect::see_other(&account_url(&app))
    } else if email.is_empty() {
        again(
            StatusCode::BAD_REQUEST,
            "email",
            "Enter your email address.",
        )
        .await
    } else if password.is_none() {
        again(StatusCode::BAD_REQUEST, "password", "Choose a password.").await
    } else {
        let update = SelfUpdate {
            email: Some(email.clone()),
            password,
            redirect_to: Some(format!("{}?notice=account_saved", account_url(&app))),
            ..Default::default()
        };
        match app
            .auth
            .update_self(v.user.id, v.session_id, update, &client)
            .await
        {
            Ok(_) => link_sent(&app, &headers, &email),
            Err(e) if e.code == Code::WeakPassword => {
                again(StatusCode::UNPROCESSABLE_ENTITY, "password", &e.message).await
            }
            Err(e)
                if e.is_bad_input() || matches!(e.kind, Kind::RateLimited | Kind::Validation) =>
            {
                let status = super::super::error::status(e.kind);
                again(status, "email", &e.message).await
            }
            Err(e) => error_page(&app, &headers, &e),
        }
    };
    kept(&app, &v, response)
}

/// The page after "Save your account": the link is on its way to `email`.
fn link_sent(app: &Ui, headers: &HeaderMap, email: &str) -> Response {
    let sent = format!("We sent a link to {email}. Follow it to finish saving your account.");
    let lines = [sent.as_str(), "Until then, keep using this browser."];
    let back = account_url(app);
    let link = Some((back.as_str(), "Back to your account"));
    message(
        app,
        headers,
        StatusCode::OK,
        "Check your email",
        &lines,
        link,
    )
}
