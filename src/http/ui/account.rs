//! The account page: the visitor's address, a password change, the list of their sessions
//! with "sign out" for each other one and for all the others, and signing out.

use axum::{
    extract::{rejection::FormRejection, Path, Query, State},
    http::{HeaderMap, StatusCode},
    response::Response,
    routing::{get, post},
    Form, Router,
};
use minijinja::context;
use serde::Deserialize;
use uuid::Uuid;

use super::{
    account_url, error_page,
    forms::HasCsrf,
    page,
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
        _ => return None,
    })
}

fn sign_in_url(app: &Ui) -> String {
    format!("{}/ui/sign-in", app.config.public_url())
}

/// The visitor, or the answer to give instead (to sign in, or an error page).
async fn visitor_or(
    app: &Ui,
    headers: &HeaderMap,
    client: &Client,
    arrived: std::time::Instant,
) -> std::result::Result<Visitor, Response> {
    match visitor::current(app, headers, client, arrived).await {
        Ok(Some(v)) => Ok(v),
        Ok(None) => {
            let mut response = redirect::see_other(&sign_in_url(app));
            visitor::clear_session(&app.config, response.headers_mut());
            Err(response)
        }
        Err(e) => Err(error_page(app, headers, &e)),
    }
}

/// "Firefox on Windows" from a user agent (the full string stays in the page as a tooltip).
fn device_name(user_agent: Option<&str>) -> String {
    let Some(ua) = user_agent.filter(|ua| !ua.is_empty()) else {
        return "Unknown device".to_owned();
    };
    let browser = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("HeadlessChrome/", "Headless Chrome"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
    ]
    .iter()
    .find(|(marker, _)| ua.contains(marker))
    .map(|(_, name)| *name);
    let os = [
        ("Android", "Android"),
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("CrOS", "ChromeOS"),
        ("Linux", "Linux"),
    ]
    .iter()
    .find(|(marker, _)| ua.contains(marker))
    .map(|(_, name)| *name);
    match (browser, os) {
        (Some(b), Some(o)) => format!("{b} on {o}"),
        (Some(b), None) => b.to_owned(),
        (None, Some(o)) => o.to_owned(),
        // Not a browser (an app, a script): its own name, cut short.
        (None, None) => ua.chars().take(40).collect(),
    }
}

fn when(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

async fn render_account(
    app: &Ui,
    headers: &HeaderMap,
    v: &Visitor,
    status: StatusCode,
    notice: Option<&str>,
    error: Option<&str>,
    errors: minijinja::Value,
) -> Response {
    let sessions: Vec<OwnSession> = match app.auth.own_sessions(v.user.id, v.session_id).await {
        Ok(s) => s,
        Err(e) => return error_page(app, headers, &e),
    };
    let sessions: Vec<_> = sessions
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
        .collect();
    let vars = context! {
        title => "Your account",
        email => v.user.email.clone(),
        sessions,
        notice,
        error,
        errors,
    };
    page(app, headers, status, "account.html", vars)
}

async fn account(
    State(app): State<Ui>,
    client: Client,
    headers: HeaderMap,
    Arrival(arrived): Arrival,
    q: std::result::Result<Query<Notice>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let v = match visitor_or(&app, &headers, &client, arrived).await {
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

#[derive(Deserialize)]
struct CsrfOnly {
    csrf: Option<String>,
}

impl HasCsrf for CsrfOnly {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

/// A signed-in visitor's form: checked, with the visitor.
async fn signed_in_form<T: HasCsrf>(
    app: &Ui,
    headers: &HeaderMap,
    client: &Client,
    arrived: std::time::Instant,
    form: std::result::Result<Form<T>, FormRejection>,
) -> std::result::Result<(Visitor, T), Response> {
    let checked = form
        .map_err(|e| Error::validation_failed(e.body_text()))
        .and_then(|Form(f)| visitor::check_form(&app.config, headers, f.csrf()).map(|()| f));
    let form = checked.map_err(|e| error_page(app, headers, &e))?;
    let v = visitor_or(app, headers, client, arrived).await?;
    Ok((v, form))
}

/// `response` with the visitor's renewed tokens, whatever it is: a rotated refresh token that
/// never reached the browser would later be taken for a stolen one.
fn kept(app: &Ui, v: &Visitor, mut response: Response) -> Response {
    v.keep(&app.config, &mut response);
    response
}

/// After a change: back to the account page with a notice.
fn back(app: &Ui, notice: &str) -> Response {
    redirect::see_other(&format!("{}?notice={notice}", account_url(app)))
}

async fn change_password(
    State(app): State<Ui>,
    client: Client,
    headers: HeaderMap,
    Arrival(arrived): Arrival,
    form: std::result::Result<Form<PasswordForm>, FormRejection>,
) -> Response {
    let (v, form) = match signed_in_form(&app, &headers, &client, arrived, form).await {
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
    let (v, _) = match signed_in_form(&app, &headers, &client, arrived, form).await {
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
    let (v, _) = match signed_in_form(&app, &headers, &client, arrived, form).await {
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
    let (v, _) = match signed_in_form(&app, &headers, &client, arrived, form).await {
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

#[cfg(test)]
mod tests {
    use super::device_name;

    #[test]
    fn device_names() {
        let firefox =
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0";
        assert_eq!(device_name(Some(firefox)), "Firefox on Windows");
        let safari = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";
        assert_eq!(device_name(Some(safari)), "Safari on iOS");
        let edge = "Mozilla/5.0 (Windows NT 10.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36 Edg/120.0";
        assert_eq!(device_name(Some(edge)), "Edge on Windows");
        assert_eq!(device_name(Some("FormBrowser/1.0")), "FormBrowser/1.0");
        assert_eq!(device_name(None), "Unknown device");
    }
}
