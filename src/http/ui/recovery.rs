//! The pages behind the password-recovery flow: "forgot password" (sends the link), the
//! link's landing (set a new password, signed in by the link), and the landing of the
//! sign-up confirmation link.

use axum::{
    extract::{rejection::QueryRejection, Query, State},
    http::{HeaderMap, StatusCode},
    response::Response,
    routing::get,
    Router,
};
use minijinja::context;
use serde::Deserialize;

use super::{
    account_url, carry_of, error_page,
    forms::{checked, FormPage, FormResult, HasCsrf},
    message, page, visitor, Carry,
};
use crate::{
    auth::SelfUpdate,
    client::Client,
    error::{Code, Kind},
    http::ui::Ui,
    http::{extract::Arrival, redirect},
    secret::Secret,
};

pub fn router() -> Router<Ui> {
    Router::new()
        .route("/forgot-password", get(forgot_page).post(forgot))
        .route("/reset-password", get(reset_page).post(reset))
        .route("/confirmed", get(confirmed))
}

#[derive(Deserialize)]
struct EmailForm {
    csrf: Option<String>,
    #[serde(default)]
    email: String,
    #[serde(flatten)]
    carry: Carry,
}

impl HasCsrf for EmailForm {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

const FORGOT: &str = "Reset your password";

async fn forgot_page(
    State(app): State<Ui>,
    headers: HeaderMap,
    q: std::result::Result<Query<Carry>, QueryRejection>,
) -> Response {
    FormPage {
        app: &app,
        headers: &headers,
        template: "forgot_password.html",
        title: FORGOT,
        carry: carry_of(q),
    }
    .blank()
}

async fn forgot(
    State(app): State<Ui>,
    client: Client,
    headers: HeaderMap,
    form: FormResult<EmailForm>,
) -> Response {
    let form = match checked(&app, &headers, form) {
        Ok(form) => form,
        Err(e) => return error_page(&app, &headers, &e),
    };
    let page = FormPage {
        app: &app,
        headers: &headers,
        template: "forgot_password.html",
        title: FORGOT,
        carry: form.carry.clone().cleaned(),
    };
    let again = |status, error: &str, errors| page.again(status, &form.email, error, errors);
    let landing = format!("{}/ui/reset-password", app.config.public_url());
    let result = app
        .auth
        .request_recovery(&form.email, Some(&landing), None, &client)
        .await;
    match result {
        Ok(()) => {
            let sent = format!(
                "If an account uses {}, we sent it a link to set a new password.",
                form.email.trim()
            );
            message(
                &app,
                &headers,
                StatusCode::OK,
                "Check your email",
                &[&sent],
                None,
            )
        }
        Err(e) if e.is_bad_input() => again(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Check the email address.",
            context! { email => e.message.as_ref() },
        ),
        Err(e) if e.kind == Kind::RateLimited => {
            again(StatusCode::TOO_MANY_REQUESTS, &e.message, context! {})
        }
        Err(e) => error_page(&app, &headers, &e),
    }
}

const RESET: &str = "Set a new password";

/// Where the recovery link lands, signed in by the link.
async fn reset_page(
    State(app): State<Ui>,
    client: Client,
    headers: HeaderMap,
    Arrival(arrived): Arrival,
) -> Response {
    match visitor::current(&app, &headers, &client, arrived).await {
        Ok(Some(v)) => {
            let vars = context! { title => RESET, email => v.user.email.clone() };
            let mut response = page(&app, &headers, StatusCode::OK, "reset_password.html", vars);
            v.keep(&app.config, &mut response);
            response
        }
        Ok(None) => link_expired(&app, &headers),
        Err(e) => error_page(&app, &headers, &e),
    }
}

fn link_expired(app: &Ui, headers: &HeaderMap) -> Response {
    message(
        app,
        headers,
        StatusCode::UNAUTHORIZED,
        "This link has expired",
        &["Ask for a new link to set your password."],
        Some((
            &format!("{}/ui/forgot-password", app.config.public_url()),
            "Send a new link",
        )),
    )
}

#[derive(Deserialize)]
struct PasswordForm {
    csrf: Option<String>,
    password: Option<Secret>,
}

impl HasCsrf for PasswordForm {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

async fn reset(
    State(app): State<Ui>,
    client: Client,
    headers: HeaderMap,
    Arrival(arrived): Arrival,
    form: FormResult<PasswordForm>,
) -> Response {
    let form = match checked(&app, &headers, form) {
        Ok(form) => form,
        Err(e) => return error_page(&app, &headers, &e),
    };
    let v = match visitor::current(&app, &headers, &client, arrived).await {
        Ok(Some(v)) => v,
        Ok(None) => {
            return redirect::see_other(&format!("{}/ui/forgot-password", app.config.public_url()))
        }
        Err(e) => return error_page(&app, &headers, &e),
    };
    let update = SelfUpdate {
        password: form.password,
        ..Default::default()
    };
    let mut response = match app
        .auth
        .update_self(v.user.id, v.session_id, update, &client)
        .await
    {
        Ok(_) => redirect::see_other(&format!("{}?notice=password_changed", account_url(&app))),
        // The link signed in too long ago to set a password without the current one.
        Err(e) if e.code == Code::ReauthenticationNeeded => link_expired(&app, &headers),
        Err(e) if e.is_bad_input() => {
            let vars = context! { title => RESET, email => v.user.email.clone(), error => e.message.as_ref(), errors => context! { password => e.message.as_ref() } };
            page(
                &app,
                &headers,
                StatusCode::UNPROCESSABLE_ENTITY,
                "reset_password.html",
                vars,
            )
        }
        Err(e) => error_page(&app, &headers, &e),
    };
    v.keep(&app.config, &mut response);
    response
}

/// Where the sign-up confirmation link lands (signed in by the link).
async fn confirmed(State(app): State<Ui>, headers: HeaderMap) -> Response {
    message(
        &app,
        &headers,
        StatusCode::OK,
        "Your email address is confirmed",
        &["Your account is ready."],
        Some((&account_url(&app), "Go to your account")),
    )
}
