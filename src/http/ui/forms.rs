//! The signed-out pages: sign in and sign up, and what every form page shares (the checked
//! form, the page with its errors).

use axum::{
    extract::{rejection::FormRejection, rejection::QueryRejection, Query, State},
    http::{HeaderMap, StatusCode},
    response::Response,
    routing::get,
    Form, Router,
};
use minijinja::{context, Value};
use serde::Deserialize;

use super::{account_url, carry_of, error_page, message, page, visitor, Carry};
use crate::{
    auth::{mfa::HandOff, sign_in::PageSignIn, SignUpRequest, SignedUp},
    client::Client,
    error::{Code, Error, Kind, Result},
    http::redirect,
    http::ui::Ui,
    secret::Secret,
};

pub fn router() -> Router<Ui> {
    Router::new()
        .route("/sign-in", get(sign_in_page).post(sign_in))
        .route("/sign-up", get(sign_up_page).post(sign_up))
}

#[derive(Deserialize)]
struct Credentials {
    csrf: Option<String>,
    #[serde(default)]
    email: String,
    password: Option<Secret>,
    #[serde(flatten)]
    carry: Carry,
}

pub(super) type FormResult<T> = std::result::Result<Form<T>, FormRejection>;

/// The form, or the page that says why it cannot be used (bad body, CSRF).
pub(super) fn checked<T: HasCsrf>(app: &Ui, headers: &HeaderMap, form: FormResult<T>) -> Result<T> {
    let Form(form) = form.map_err(|e| Error::validation_failed(e.body_text()))?;
    visitor::check_form(&app.config, headers, form.csrf())?;
    Ok(form)
}

pub(super) trait HasCsrf {
    fn csrf(&self) -> Option<&str>;
}

impl HasCsrf for Credentials {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

/// One of the pages' forms (`template`, headed `title`), carrying what the visitor came
/// with; shown blank, or again with what was typed and what was wrong.
pub(super) struct FormPage<'a> {
    pub app: &'a Ui,
    pub headers: &'a HeaderMap,
    pub template: &'static str,
    pub title: &'static str,
    pub carry: Carry,
}

impl FormPage<'_> {
    /// The form as first shown: nothing filled in, no errors.
    pub fn blank(&self) -> Response {
        self.show(StatusCode::OK, "", None, context! {})
    }

    /// The form again with `email` filled in, `error` above it and `errors` by field.
    pub fn again(&self, status: StatusCode, email: &str, error: &str, errors: Value) -> Response {
        self.show(status, email, Some(error), errors)
    }

    fn show(
        &self,
        status: StatusCode,
        email: &str,
        error: Option<&str>,
        errors: Value,
    ) -> Response {
        let (app, carry) = (self.app, &self.carry);
        let vars = context! {
            title => self.title,
            email => email,
            error => error,
            errors => errors,
            providers => carry.providers(app),
            passkeys_on => super::passkeys_on(app),
            anonymous_on => offered(app),
            sign_up_allowed => !app.config.accounts.disable_signup,
            ..carry.vars()
        };
        page(app, self.headers, status, self.template, vars)
    }
}

const SIGN_IN: &str = "Sign in";
const SIGN_UP: &str = "Create an account";

async fn sign_in_page(
    State(app): State<Ui>,
    headers: HeaderMap,
    q: std::result::Result<Query<Carry>, QueryRejection>,
) -> Response {
    FormPage {
        app: &app,
        headers: &headers,
        template: "sign_in.html",
        title: SIGN_IN,
        carry: carry_of(q),
    }
    .blank()
}

async fn sign_in(
    State(app): State<Ui>,
    client: Client,
    headers: HeaderMap,
    form: FormResult<Credentials>,
) -> Response {
    let form = match checked(&app, &headers, form) {
        Ok(form) => form,
        Err(e) => return error_page(&app, &headers, &e),
    };
    let page = FormPage {
        app: &app,
        headers: &headers,
        template: "sign_in.html",
        title: SIGN_IN,
        carry: form.carry.clone().cleaned(),
    };
    let carry = &page.carry;
    let again = |status, error: &str, errors| page.again(status, &form.email, error, errors);
    let password = form
        .password
        .clone()
        .unwrap_or_else(|| Secret::new(String::new()));
    if form.email.trim().is_empty() || password.expose().is_empty() {
        let errors = context! {
            email => form.email.trim().is_empty().then_some("Enter your email address."),
            password => password.expose().is_empty().then_some("Enter your password."),
        };
        return again(StatusCode::BAD_REQUEST, "Fill in both fields.", errors);
    }
    match signed_in(&app, &client, carry, &form.email, &password).await {
        Ok(response) => response,
        Err(e) if e.code == Code::InvalidCredentials => again(
            StatusCode::BAD_REQUEST,
            "Wrong email address or password.",
            context! {},
        ),
        Err(e) if e.code == Code::EmailNotConfirmed => again(
            StatusCode::BAD_REQUEST,
            "Confirm your email address first: follow the link in the message we sent you.",
            context! {},
        ),
        Err(e) if e.kind == Kind::RateLimited || e.is_bad_input() => {
            again(super::super::error::status(e.kind), &e.message, context! {})
        }
        Err(e) => error_page(&app, &headers, &e),
    }
}

/// Signs in with a password (see [`landing`]).
async fn signed_in(
    app: &Ui,
    client: &Client,
    carry: &Carry,
    email: &str,
    password: &Secret,
) -> Result<Response> {
    let challenge = carry.app_challenge(app)?;
    let signed = app
        .auth
        .sign_in_on_page(email, password, challenge.as_ref(), client)
        .await?;
    Ok(landing(app, carry, signed))
}

/// Where a sign-in on the page goes: back to the app (`?code=` for PKCE, else the session in
/// the fragment), or to the account page with the pages' own session; first to the second
/// step when the account has, or must have, a second factor.
pub(super) fn landing(app: &Ui, carry: &Carry, signed: PageSignIn) -> Response {
    match (signed, carry.target(app)) {
        (PageSignIn::SecondFactor(session), _) => {
            let second = format!(
                "{}/ui/second-factor{}",
                app.config.public_url(),
                carry.query()
            );
            redirect::with_session(app, &session, &second, &[])
        }
        (PageSignIn::Done(HandOff::Code(code)), Some(target)) => {
            redirect::with_code(&target, &code)
        }
        (PageSignIn::Done(HandOff::Session(session)), Some(target)) => {
            redirect::with_session(app, &session, &target, &[])
        }
        (PageSignIn::Done(HandOff::Session(session)), None) => {
            redirect::with_session(app, &session, &carry.home(app), &[])
        }
        (PageSignIn::Done(HandOff::Code(_)), None) => redirect::see_other(&carry.home(app)),
    }
}

async fn sign_up_page(
    State(app): State<Ui>,
    headers: HeaderMap,
    q: std::result::Result<Query<Carry>, QueryRejection>,
) -> Response {
    if let Err(e) = app.auth.check_sign_up_allowed() {
        return error_page(&app, &headers, &e);
    }
    FormPage {
        app: &app,
        headers: &headers,
        template: "sign_up.html",
        title: SIGN_UP,
        carry: carry_of(q),
    }
    .blank()
}

async fn sign_up(
    State(app): State<Ui>,
    client: Client,
    headers: HeaderMap,
    form: FormResult<Credentials>,
) -> Response {
    let form = match checked(&app, &headers, form) {
        Ok(form) => form,
        Err(e) => return error_page(&app, &headers, &e),
    };
    let page = FormPage {
        app: &app,
        headers: &headers,
        template: "sign_up.html",
        title: SIGN_UP,
        carry: form.carry.clone().cleaned(),
    };
    let carry = &page.carry;
    let again = |status, error: &str, errors| page.again(status, &form.email, error, errors);
    let result = signed_up(&app, &client, &headers, carry, &form).await;
    match result {
        Ok(response) => response,
        Err(e) if e.code == Code::WeakPassword => {
            again(StatusCode::UNPROCESSABLE_ENTITY, "Choose a stronger password.", context! { password => e.message.as_ref() })
        }
        Err(e) if e.code == Code::EmailAddressInvalid || e.code == Code::ValidationFailed => {
            again(StatusCode::UNPROCESSABLE_ENTITY, "Check the email address.", context! { email => e.message.as_ref() })
        }
        Err(e) if e.code == Code::UserAlreadyExists => again(
            StatusCode::UNPROCESSABLE_ENTITY,
            "This address cannot be used for a new account. If it is yours, sign in or reset your password.",
            context! {},
        ),
        Err(e) if e.kind == Kind::RateLimited || e.is_bad_input() => {
            again(super::super::error::status(e.kind), &e.message, context! {})
        }
        Err(e) => error_page(&app, &headers, &e),
    }
}

async fn signed_up(
    app: &Ui,
    client: &Client,
    headers: &HeaderMap,
    carry: &Carry,
    form: &Credentials,
) -> Result<Response> {
    app.auth.check_sign_up_allowed()?;
    let target = carry.target(app);
    let challenge = target
        .as_ref()
        .map(|_| carry.challenge())
        .transpose()?
        .flatten();
    let request = SignUpRequest {
        email: form.email.clone(),
        password: form
            .password
            .clone()
            .unwrap_or_else(|| Secret::new(String::new())),
        data: None,
        redirect_to: Some(
            target
                .clone()
                .unwrap_or_else(|| format!("{}/ui/confirmed", app.config.public_url())),
        ),
        code_instead_of_session: challenge.is_some(),
        challenge,
    };
    let email = request.email.trim().to_owned();
    Ok(match app.auth.sign_up(request, client).await? {
        SignedUp::Code(code) => {
            redirect::with_code(&target.unwrap_or_else(|| account_url(app)), &code)
        }
        SignedUp::Session(session) => {
            let to = target.unwrap_or_else(|| account_url(app));
            redirect::with_session(app, &session, &to, &[])
        }
        SignedUp::ConfirmationSent(_) => {
            let sent = format!("We sent a confirmation link to {email}. Follow it to finish creating your account.");
            message(
                app,
                headers,
                StatusCode::OK,
                "Check your email",
                &[
                    &sent,
                    "If you already have an account with this address, sign in instead.",
                ],
                None,
            )
        }
    })
}

/// Whether the sign-in page offers to continue without an account.
pub(super) fn offered(app: &Ui) -> bool {
    app.config.anonymous.anonymous_users && !app.config.accounts.disable_signup
}
