//! The hosted pages under `/ui` (off with `AUTH_DISABLE_UI`): sign in, sign up, forgot and
//! reset password, the email-confirmation landing, an account page (password, two-step
//! verification, sessions), and the sign-in's second step (`factors.rs`).
//! Server-rendered from templates ([`Pages`]), usable without JavaScript; every form carries a
//! CSRF token ([`visitor`]), every answer a strict Content-Security-Policy (no script, but for
//! the one file that passkeys need when they are on) and forbids framing.
//!
//! An app can use them as its login screen: `/ui/sign-in?redirect_to=…` (plus
//! `code_challenge` and `code_challenge_method` for PKCE) signs in and redirects back the way
//! the API's redirects do: `?code=` for PKCE, else the session in the fragment.

mod account;
mod csp;
mod devices;
mod factors;
mod forms;
mod guest;
mod oauth;
mod organizations;
mod pages;
mod passkeys;
mod recovery;
mod signed_in;
pub mod visitor;

pub use pages::Pages;

use axum::{
    extract::{FromRef, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Router,
};
use minijinja::{context, Value};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

use super::redirect;
use crate::{
    app::App,
    auth::email::{pkce::Challenge, url_encode},
    error::{Error, Kind, Result},
};

/// The state of the hosted pages' handlers: the app, and the templates the router loaded.
/// Handlers use it as the app (`Deref`).
#[derive(Clone)]
pub struct Ui {
    app: App,
    pages: Arc<Pages>,
}

impl std::ops::Deref for Ui {
    type Target = App;

    fn deref(&self) -> &App {
        &self.app
    }
}

impl FromRef<Ui> for App {
    fn from_ref(ui: &Ui) -> App {
        ui.app.clone()
    }
}

/// The pages' routes, with their templates loaded (a template that does not parse stops the
/// server at start).
pub fn router(app: &App, pages: Arc<Pages>) -> Router<App> {
    let ui = Ui {
        app: app.clone(),
        pages,
    };
    let with_passkeys = passkeys_on(&ui);
    let csp = HeaderValue::from_str(&csp::content_security_policy(&app.config, with_passkeys))
        .unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"));
    let mut routes = Router::new()
        .route(
            "/",
            get(|State(app): State<Ui>| async move { redirect::see_other(&account_url(&app)) }),
        )
        .route("/style.css", get(style))
        .merge(forms::router())
        .merge(recovery::router())
        .merge(account::router())
        .merge(factors::router())
        .merge(organizations::router())
        .merge(oauth::router())
        .merge(guest::router());
    if with_passkeys {
        routes = routes.merge(passkeys::router());
    }
    let routes = routes
        // Forms posted from another site are refused with a page (see `http::origin`).
        .route_layer(axum::middleware::from_fn_with_state(
            ui.clone(),
            same_site_forms,
        ))
        .layer(axum::middleware::map_response(
            move |mut response: Response| {
                let csp = csp.clone();
                async move {
                    let h = response.headers_mut();
                    // A page that forms post to a client's redirect (the consent page) sets
                    // its own.
                    h.entry(header::CONTENT_SECURITY_POLICY).or_insert(csp);
                    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
                    h.insert(
                        header::X_CONTENT_TYPE_OPTIONS,
                        HeaderValue::from_static("nosniff"),
                    );
                    h.insert(
                        header::REFERRER_POLICY,
                        HeaderValue::from_static("strict-origin"),
                    );
                    h.entry(header::CACHE_CONTROL)
                        .or_insert(HeaderValue::from_static("no-store"));
                    response
                }
            },
        ));
    routes.with_state(ui)
}

/// Whether the pages offer passkeys: they are on, for the pages' origin too.
fn passkeys_on(app: &Ui) -> bool {
    app.auth.passkeys.as_ref().is_some_and(|p| p.on_pages())
}

async fn style(State(app): State<Ui>) -> Response {
    match app.pages.render("style.css", context! {}) {
        Ok(css) => (
            [
                (header::CONTENT_TYPE, "text/css; charset=utf-8"),
                (header::CACHE_CONTROL, "public, max-age=300"),
            ],
            css,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "rendering style.css");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

fn account_url(app: &Ui) -> String {
    format!("{}/ui/account", app.config.public_url())
}

/// Renders page `template` with `vars` and the form token.
pub(super) fn page(
    app: &Ui,
    headers: &HeaderMap,
    status: StatusCode,
    template: &str,
    vars: Value,
) -> Response {
    let (csrf, new) = visitor::csrf_token(&app.config, headers);
    match app
        .pages
        .render(template, context! { csrf => csrf.clone(), ..vars })
    {
        Ok(html) => {
            let mut response = (
                status,
                [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                html,
            )
                .into_response();
            if new {
                visitor::set_csrf(&app.config, response.headers_mut(), &csrf);
            }
            response
        }
        Err(e) => {
            tracing::error!(error = %e, template, "rendering a page");
            // A template that does not render (a broken override): plain words, no page.
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                "Something went wrong.",
            )
                .into_response()
        }
    }
}

/// A page with a heading, a few lines of text and an optional link.
pub(super) fn message(
    app: &Ui,
    headers: &HeaderMap,
    status: StatusCode,
    title: &str,
    lines: &[&str],
    link: Option<(&str, &str)>,
) -> Response {
    let link = link.map(|(url, label)| context! { url, label });
    page(
        app,
        headers,
        status,
        "message.html",
        context! { title, lines, link },
    )
}

/// An error as a page (never internals: those are logged).
/// Middleware: [`super::origin::Rule::Pages`], refusing with the error page.
async fn same_site_forms(
    State(app): State<Ui>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    match super::origin::check(
        &app.config,
        super::origin::Rule::Pages,
        req.method(),
        req.headers(),
    ) {
        Ok(()) => next.run(req).await,
        Err(e) => error_page(&app, req.headers(), &e),
    }
}

pub(super) fn error_page(app: &Ui, headers: &HeaderMap, e: &Error) -> Response {
    e.log_cause();
    let text = match e.kind {
        Kind::Internal => "Something went wrong on our side. Please try again later.",
        Kind::Unavailable => "The service is briefly unavailable. Please try again in a moment.",
        _ => e.message.as_ref(),
    };
    let back = format!("{}/ui/sign-in", app.config.public_url());
    message(
        app,
        headers,
        super::error::status(e.kind),
        "Something went wrong",
        &[text],
        Some((&back, "Back to sign in")),
    )
}

/// Where the app asked to go after sign-in, carried from page to page.
#[derive(Deserialize, Serialize, Default, Clone, Debug)]
pub(super) struct Carry {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_challenge: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_challenge_method: Option<String>,
    /// An OAuth client's request waiting for this sign-in (the consent page comes next).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_id: Option<String>,
}

impl Carry {
    fn cleaned(mut self) -> Self {
        for f in [
            &mut self.redirect_to,
            &mut self.code_challenge,
            &mut self.code_challenge_method,
            &mut self.authorization_id,
        ] {
            if f.as_deref().is_some_and(|v| v.trim().is_empty()) {
                *f = None;
            }
        }
        self
    }

    /// The page variables: `carry` (hidden fields) and `query` (for links).
    pub fn vars(&self) -> Value {
        context! { carry => Value::from_serialize(self), query => self.query() }
    }

    /// As a query string (`?redirect_to=…`), or nothing.
    pub fn query(&self) -> String {
        let query = serde_urlencoded::to_string(self).unwrap_or_default();
        if query.is_empty() {
            String::new()
        } else {
            format!("?{query}")
        }
    }

    /// Where a sign-in without an app target lands: the consent page of the OAuth request
    /// waiting for it, else the account page.
    pub fn home(&self, app: &Ui) -> String {
        match self
            .authorization_id
            .as_deref()
            .and_then(|id| uuid::Uuid::parse_str(id).ok())
        {
            Some(id) => oauth::consent_url(app, id),
            None => account_url(app),
        }
    }

    /// The app's `redirect_to`, when it is an allowed one.
    pub fn target(&self, app: &Ui) -> Option<String> {
        let wanted = self.redirect_to.as_deref()?;
        let allowed = app.auth.redirect_target(Some(wanted));
        (allowed == wanted.trim()).then_some(allowed)
    }

    /// The app's PKCE challenge, when there is an app target to hand a code to.
    pub fn app_challenge(&self, app: &Ui) -> Result<Option<Challenge>> {
        match self.target(app) {
            Some(_) => self.challenge(),
            None => Ok(None),
        }
    }

    /// The app's PKCE challenge (only with an app target).
    pub fn challenge(&self) -> Result<Option<Challenge>> {
        Challenge::from_request(
            self.code_challenge.clone(),
            self.code_challenge_method.clone(),
        )
    }

    /// The external providers' buttons: to `/authorize`, back to the app or the account page.
    pub fn providers(&self, app: &Ui) -> Vec<Value> {
        let public = app.config.public_url();
        let back = self.target(app).unwrap_or_else(|| self.home(app));
        app.auth
            .providers
            .names()
            .into_iter()
            .map(|name| {
                let mut url = format!(
                    "{public}/authorize?provider={}&redirect_to={}",
                    url_encode(name),
                    url_encode(&back)
                );
                // The challenge as the password path reads it (same default method).
                if let (Some(_), Ok(Some(c))) = (self.target(app), self.challenge()) {
                    url.push_str(&format!(
                        "&code_challenge={}&code_challenge_method={}",
                        url_encode(&c.challenge),
                        url_encode(&c.method)
                    ));
                }
                let mut label = name.to_owned();
                if let Some(first) = label.get_mut(..1) {
                    first.make_ascii_uppercase();
                }
                context! { url, label => format!("Continue with {label}") }
            })
            .collect()
    }
}

/// A query string, or nothing when it does not parse.
pub(super) fn carry_of(
    q: std::result::Result<axum::extract::Query<Carry>, axum::extract::rejection::QueryRejection>,
) -> Carry {
    q.map(|axum::extract::Query(c)| c.cleaned())
        .unwrap_or_default()
}
