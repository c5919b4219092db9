//! The account page's organizations and API keys: the visitor's organizations (switching the
//! one this session acts in), the invitations to their address (accepted with a button), and
//! their API keys (made, rotated, revoked; a new secret shown once on a page of its own). The
//! rules are the core's (`auth::organizations`, `auth::api_keys`).

use axum::{
    extract::{rejection::FormRejection, Path, State},
    http::{HeaderMap, StatusCode},
    response::Response,
    routing::post,
    Form, Router,
};
use minijinja::{context, Value};
use serde::Deserialize;
use uuid::Uuid;

use super::{
    account_url,
    devices::when,
    forms::HasCsrf,
    page,
    signed_in::{answered, back, signed_in_form, CsrfOnly},
    visitor::Visitor,
};
use crate::{
    auth::{
        api_keys::{api_key_not_found, IssuedKey, NewApiKey},
        organizations::{invitations::Named, not_found},
    },
    client::Client,
    error::{Error, Result},
    http::{extract::Arrival, ui::Ui},
};

pub fn router() -> Router<Ui> {
    Router::new()
        .route("/account/organizations/{id}/activate", post(activate))
        .route("/account/organizations/none", post(deactivate))
        .route("/account/invitations/{id}/accept", post(accept))
        .route("/account/api-keys", post(create_key))
        .route("/account/api-keys/{id}/rotate", post(rotate_key))
        .route("/account/api-keys/{id}/revoke", post(revoke_key))
}

/// What the account page shows of organizations, invitations and API keys.
pub(super) async fn section(app: &Ui, v: &Visitor) -> Result<Value> {
    if v.user.is_anonymous {
        return Ok(Value::UNDEFINED);
    }
    let who = v.caller();
    let active = app.auth.active_organization(&who).await?;
    let orgs = app.auth.own_organizations(&who).await?;
    let name_of = |id: Option<Uuid>| {
        let id = id?;
        orgs.iter()
            .find(|m| m.organization.id == id)
            .map(|m| m.organization.name.clone())
    };
    let keys: Vec<Value> = app
        .auth
        .own_api_keys(&who)
        .await?
        .into_iter()
        .map(|k| {
            context! {
                id => k.id.to_string(), name => k.name, roles => k.roles.join(", "),
                organization => name_of(k.organization_id),
                created => when(&k.created_at), expires => k.expires_at.as_ref().map(when),
            }
        })
        .collect();
    let invitations: Vec<Value> = app
        .auth
        .own_invitations(&who)
        .await?
        .into_iter()
        .map(|f| {
            context! {
                id => f.invitation.id.to_string(), organization => f.organization_name,
                roles => f.invitation.roles.join(", "), expires => when(&f.invitation.expires_at),
            }
        })
        .collect();
    let list: Vec<Value> = orgs
        .iter()
        .map(|m| {
            context! {
                id => m.organization.id.to_string(), name => m.organization.name.clone(),
                roles => m.roles.join(", "), active => active == Some(m.organization.id),
            }
        })
        .collect();
    Ok(context! { list, invitations, keys, any_active => active.is_some() })
}

async fn activate(
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
    let result = async {
        let id = Uuid::parse_str(&id).map_err(|_| not_found())?;
        app.auth.activate_organization(&v.caller(), Some(id)).await
    }
    .await;
    answered(&app, &headers, &v, result, |_| {
        back(&app, "organization_switched")
    })
}

async fn deactivate(
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
    answered(
        &app,
        &headers,
        &v,
        app.auth.activate_organization(&v.caller(), None).await,
        |_| back(&app, "organization_switched"),
    )
}

async fn accept(
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
    let result = async {
        let id = Uuid::parse_str(&id)
            .map_err(|_| crate::auth::organizations::invitations::invitation_not_found())?;
        let who = v.caller();
        app.auth
            .accept_invitation(&who, Named::Id(id), &client)
            .await
    }
    .await;
    answered(&app, &headers, &v, result, |_| {
        back(&app, "invitation_accepted")
    })
}

#[derive(Deserialize)]
struct KeyForm {
    csrf: Option<String>,
    #[serde(default)]
    name: String,
    /// Empty: none.
    #[serde(default)]
    organization_id: String,
    /// Days; empty: never.
    #[serde(default)]
    expires_in_days: String,
}

impl HasCsrf for KeyForm {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

/// The page that shows a key's secret, this once.
fn shown(app: &Ui, headers: &HeaderMap, key: IssuedKey) -> Response {
    let vars = context! {
        title => "Your new API key",
        name => key.key.name,
        api_key => key.secret.expose(),
        account => account_url(app),
    };
    page(app, headers, StatusCode::OK, "api_key.html", vars)
}

async fn create_key(
    State(app): State<Ui>,
    client: Client,
    headers: HeaderMap,
    Arrival(arrived): Arrival,
    form: std::result::Result<Form<KeyForm>, FormRejection>,
) -> Response {
    let (v, form) = match signed_in_form(&app, &headers, &client, arrived, form, true).await {
        Ok(x) => x,
        Err(response) => return response,
    };
    let result = async {
        let organization_id = match form.organization_id.trim() {
            "" => None,
            id => Some(Uuid::parse_str(id).map_err(|_| not_found())?),
        };
        let expires_in = match form.expires_in_days.trim() {
            "" => None,
            days => Some(
                days.parse::<u64>()
                    .ok()
                    .and_then(|d| d.checked_mul(86_400))
                    .ok_or_else(|| Error::validation_failed("expiry must be a number of days"))?,
            ),
        };
        let new = NewApiKey {
            name: form.name,
            roles: None,
            organization_id,
            expires_in,
        };
        app.auth
            .create_api_key(&v.caller(), v.aal, new, &client)
            .await
    }
    .await;
    answered(&app, &headers, &v, result, |key| shown(&app, &headers, key))
}

async fn rotate_key(
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
    let result = async {
        let id = Uuid::parse_str(&id).map_err(|_| api_key_not_found())?;
        app.auth
            .rotate_api_key(&v.caller(), v.aal, id, &client)
            .await
    }
    .await;
    answered(&app, &headers, &v, result, |key| shown(&app, &headers, key))
}

async fn revoke_key(
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
    let result = async {
        let id = Uuid::parse_str(&id).map_err(|_| api_key_not_found())?;
        app.auth.revoke_api_key(&v.caller(), id, &client).await
    }
    .await;
    answered(&app, &headers, &v, result, |_| {
        back(&app, "api_key_revoked")
    })
}
