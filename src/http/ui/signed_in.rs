//! What the pages of a signed-in visitor share: finding the visitor (or where to send them
//! instead), checking their forms, keeping renewed tokens on every answer, and going back to
//! the account page.

use axum::{extract::rejection::FormRejection, http::HeaderMap, response::Response, Form};
use serde::Deserialize;

use super::{
    account_url, error_page,
    forms::HasCsrf,
    visitor::{self, Visitor},
};
use crate::{
    client::Client,
    error::Error,
    http::{redirect, ui::Ui},
};

/// The sign-in page.
pub(super) fn sign_in_url(app: &Ui) -> String {
    format!("{}/ui/sign-in", app.config.public_url())
}

/// The visitor, or the answer to give instead (to sign in, an error page, or with `gate` to
/// the second-factor page while the session owes one).
pub(super) async fn visitor_or(
    app: &Ui,
    headers: &HeaderMap,
    client: &Client,
    arrived: std::time::Instant,
    gate: bool,
) -> std::result::Result<Visitor, Response> {
    match visitor::current(app, headers, client, arrived).await {
        Ok(Some(v)) if gate && v.owes_second_factor(app) => {
            let to = format!("{}/ui/second-factor", app.config.public_url());
            Err(kept(app, &v, redirect::see_other(&to)))
        }
        Ok(Some(v)) => Ok(v),
        Ok(None) => {
            let mut response = redirect::see_other(&sign_in_url(app));
            visitor::clear_session(&app.config, response.headers_mut());
            Err(response)
        }
        Err(e) => Err(error_page(app, headers, &e)),
    }
}

#[derive(Deserialize)]
pub(super) struct CsrfOnly {
    csrf: Option<String>,
}

impl HasCsrf for CsrfOnly {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

/// A signed-in visitor's form: checked, with the visitor (see [`visitor_or`] for `gate`).
pub(super) async fn signed_in_form<T: HasCsrf>(
    app: &Ui,
    headers: &HeaderMap,
    client: &Client,
    arrived: std::time::Instant,
    form: std::result::Result<Form<T>, FormRejection>,
    gate: bool,
) -> std::result::Result<(Visitor, T), Response> {
    let checked = form
        .map_err(|e| Error::validation_failed(e.body_text()))
        .and_then(|Form(f)| visitor::check_form(&app.config, headers, f.csrf()).map(|()| f));
    let form = checked.map_err(|e| error_page(app, headers, &e))?;
    let v = visitor_or(app, headers, client, arrived, gate).await?;
    Ok((v, form))
}

/// `response` with the visitor's renewed tokens, whatever it is: a rotated refresh token that
/// never reached the browser would later be taken for a stolen one.
pub(super) fn kept(app: &Ui, v: &Visitor, mut response: Response) -> Response {
    v.keep(&app.config, &mut response);
    response
}

/// The answer to a step: made by `ok` from its result, or the error page; with the visitor's
/// renewed tokens either way.
pub(super) fn answered<T>(
    app: &Ui,
    headers: &HeaderMap,
    v: &Visitor,
    result: crate::error::Result<T>,
    ok: impl FnOnce(T) -> Response,
) -> Response {
    let response = match result {
        Ok(done) => ok(done),
        Err(e) => error_page(app, headers, &e),
    };
    kept(app, v, response)
}

/// After a change: back to the account page with a notice.
pub(super) fn back(app: &Ui, notice: &str) -> Response {
    redirect::see_other(&format!("{}?notice={notice}", account_url(app)))
}
