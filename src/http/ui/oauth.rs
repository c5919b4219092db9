//! The OAuth provider's pages: the consent page an application's request leads to (signing
//! in first, carrying the request through), and the account page's list of the apps a user
//! has let act for them, each revocable.

use axum::{
    extract::{rejection::QueryRejection, Path, Query, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::Response,
    routing::{get, post},
    Router,
};
use minijinja::{context, Value};
use serde::Deserialize;
use uuid::Uuid;

use super::{
    csp::{content_security_policy, csp_source},
    devices::when,
    error_page,
    forms::HasCsrf,
    page,
    signed_in::{answered, back, kept, sign_in_url, signed_in_form, CsrfOnly},
    visitor::{self, Visitor},
    Ui,
};
use crate::{
    auth::oauth_server::{Details, Request, HOSTED_CONSENT_PATH},
    client::Client,
    error::{Error, Result},
    http::{extract::Arrival, redirect},
};

pub fn router() -> Router<Ui> {
    Router::new()
        .route("/oauth/consent", get(consent_page).post(answer))
        .route("/account/oauth-apps/{client_id}/revoke", post(revoke))
}

/// The consent page of request `id`.
pub(super) fn consent_url(app: &Ui, id: Uuid) -> String {
    format!(
        "{}{HOSTED_CONSENT_PATH}?authorization_id={id}",
        app.config.public_url()
    )
}

#[derive(Deserialize)]
struct ConsentQuery {
    authorization_id: Option<String>,
}

fn request_id(raw: Option<&str>) -> Result<Uuid> {
    raw.and_then(|id| Uuid::parse_str(id).ok())
        .ok_or_else(|| Error::validation_failed("This link is missing the application's request."))
}

/// What the scopes let the application see, in words.
fn scope_text(scope: &str) -> &'static str {
    match scope {
        "openid" => "Know who you are",
        "email" => "See your email address",
        "profile" => "See your name and picture",
        "offline_access" => "Keep access while you are away",
        _ => "",
    }
}

async fn consent_page(
    State(app): State<Ui>,
    headers: HeaderMap,
    client: Client,
    Arrival(arrived): Arrival,
    q: std::result::Result<Query<ConsentQuery>, QueryRejection>,
) -> Response {
    let raw = q.ok().and_then(|Query(q)| q.authorization_id);
    let id = match request_id(raw.as_deref()) {
        Ok(id) => id,
        Err(e) => return error_page(&app, &headers, &e),
    };
    let v = match visitor::current(&app, &headers, &client, arrived).await {
        // The second step first (a session that owes it), or signing in; the request comes
        // along.
        Ok(Some(v)) if v.owes_second_factor(&app) => {
            let to = format!(
                "{}/ui/second-factor?authorization_id={id}",
                app.config.public_url()
            );
            return kept(&app, &v, redirect::see_other(&to));
        }
        Ok(Some(v)) => v,
        Ok(None) => {
            let to = format!("{}?authorization_id={id}", sign_in_url(&app));
            return redirect::see_other(&to);
        }
        Err(e) => return error_page(&app, &headers, &e),
    };
    let details = app
        .auth
        .authorization_details(id, v.caller(), &client)
        .await;
    let response = match details {
        Ok(Details::Ask(ask)) => {
            let Request {
                authorization,
                client,
                roles,
            } = *ask;
            let name = client
                .client_name
                .clone()
                .unwrap_or_else(|| "An application".into());
            let scopes: Vec<&str> = authorization.scopes.iter().map(|s| scope_text(s)).collect();
            let vars = context! {
                title => format!("Allow {name}?"),
                client_name => name, client_uri => client.client_uri,
                redirect_uri => authorization.redirect_uri.clone(),
                resource => authorization.resource.clone(),
                scopes, roles => roles.join(", "), email => v.user.email.clone(),
                authorization_id => id.to_string(),
            };
            let mut response = page(&app, &headers, StatusCode::OK, "consent.html", vars);
            allow_form_to(&app, &mut response, &authorization.redirect_uri);
            response
        }
        // Consent given before: on to the application (a page of its own, since a form's
        // redirect may only go where this page's policy allows).
        Ok(Details::Done(url)) => continue_to(&app, &headers, &url),
        Err(e) => error_page(&app, &headers, &e),
    };
    kept(&app, &v, response)
}

/// The page's policy, letting its form's answer redirect to the client.
fn allow_form_to(app: &Ui, response: &mut Response, redirect_uri: &str) {
    let base = content_security_policy(&app.config, false);
    let policy = base.replacen(
        "form-action ",
        &format!("form-action {} ", csp_source(redirect_uri)),
        1,
    );
    if let Ok(v) = HeaderValue::from_str(&policy) {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, v);
    }
}

/// A page that goes on to `url` by itself (and offers a link).
fn continue_to(app: &Ui, headers: &HeaderMap, url: &str) -> Response {
    let vars = context! { title => "Back to the application", continue_to => url };
    page(app, headers, StatusCode::OK, "consent.html", vars)
}

#[derive(Deserialize)]
struct Answer {
    csrf: Option<String>,
    authorization_id: Option<String>,
    action: Option<String>,
}

impl HasCsrf for Answer {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

async fn answer(
    State(app): State<Ui>,
    headers: HeaderMap,
    client: Client,
    Arrival(arrived): Arrival,
    form: super::forms::FormResult<Answer>,
) -> Response {
    let (v, form) = match signed_in_form(&app, &headers, &client, arrived, form, true).await {
        Ok(checked) => checked,
        Err(response) => return response,
    };
    let approve = form.action.as_deref() == Some("approve");
    let result = async {
        let id = request_id(form.authorization_id.as_deref())?;
        app.auth
            .answer_authorization(id, v.caller(), approve, &client)
            .await
    }
    .await;
    answered(&app, &headers, &v, result, |url| redirect::see_other(&url))
}

/// The account page's apps: `UNDEFINED` while the OAuth server is off.
pub(super) async fn section(app: &Ui, v: &Visitor) -> Result<Value> {
    if !app.config.oauth_server.oauth_server {
        return Ok(Value::UNDEFINED);
    }
    let grants = app.auth.user_oauth_grants(v.user.id, None).await?;
    Ok(Value::from_serialize(
        grants
            .into_iter()
            .map(|g| {
                let name = g.client_name.unwrap_or_else(|| g.client_id.to_string());
                context! {
                    id => g.client_id.to_string(), name, scopes => g.scopes.join(", "),
                    granted => when(&g.granted_at),
                }
            })
            .collect::<Vec<_>>(),
    ))
}

async fn revoke(
    State(app): State<Ui>,
    headers: HeaderMap,
    client: Client,
    Arrival(arrived): Arrival,
    Path(client_id): Path<String>,
    form: super::forms::FormResult<CsrfOnly>,
) -> Response {
    let (v, _) = match signed_in_form(&app, &headers, &client, arrived, form, true).await {
        Ok(checked) => checked,
        Err(response) => return response,
    };
    let result = async {
        let client_id =
            Uuid::parse_str(&client_id).map_err(|_| Error::validation_failed("No such app"))?;
        app.auth
            .revoke_oauth_grant(v.user.id, client_id, Some(v.session_id), &client)
            .await
    }
    .await;
    answered(&app, &headers, &v, result, |()| back(&app, "app_revoked"))
}
