//! The authorization flow's browser-facing steps: `GET /oauth/authorize`, and the consent
//! endpoints a consent page calls with the user's token (`GET /oauth/authorizations/{id}`,
//! `POST /oauth/authorizations/{id}/consent`), in Supabase Auth's shapes.

use axum::{
    extract::{rejection::QueryRejection, Path, Query, State},
    response::{IntoResponse, Response},
    routing::{get, post},
    Json, Router,
};
use serde::Deserialize;
use uuid::Uuid;

use crate::{
    api::{OAuthAuthorizationDetails, OAuthClientSummary, OAuthRedirect, OAuthUserSummary},
    app::App,
    auth::{
        oauth_server::{Authorize, AuthorizeRequest, Details, Request},
        Authenticated,
    },
    client::Client,
    error::{Error, Result},
    http::{extract::bad_query, origin::ApiOrigin, redirect, Payload},
};

pub fn router() -> Router<App> {
    Router::new()
        .route("/oauth/authorize", get(authorize))
        .route("/oauth/authorizations/{authorization_id}", get(details))
        .route(
            "/oauth/authorizations/{authorization_id}/consent",
            post(consent),
        )
}

#[derive(Deserialize)]
struct AuthorizeQuery {
    client_id: Option<String>,
    redirect_uri: Option<String>,
    response_type: Option<String>,
    scope: Option<String>,
    state: Option<String>,
    nonce: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    resource: Option<String>,
}

/// The authorization endpoint (OAuth 2.1 §4.1.1): to the consent page, or back to the client
/// with an error once its redirect URI is known good; 400 before that.
#[utoipa::path(get, path = "/oauth/authorize", tag = "oauth",
    params(("client_id" = String, Query), ("redirect_uri" = Option<String>, Query),
        ("response_type" = String, Query, description = "`code`"), ("scope" = Option<String>, Query),
        ("state" = Option<String>, Query), ("nonce" = Option<String>, Query),
        ("code_challenge" = String, Query), ("code_challenge_method" = String, Query, description = "`S256`"),
        ("resource" = Option<String>, Query, description = "RFC 8707: the audience of the tokens")),
    responses((status = 303, description = "To the consent page, or back to the client with `error`"),
        (status = 400, body = crate::api::ErrorBody), (status = 404, body = crate::api::ErrorBody),
        (status = 429, body = crate::api::ErrorBody)))]
async fn authorize(
    State(app): State<App>,
    client: Client,
    q: std::result::Result<Query<AuthorizeQuery>, QueryRejection>,
) -> Result<Response> {
    let Query(q) = q.map_err(bad_query)?;
    let request = AuthorizeRequest {
        client_id: q.client_id,
        redirect_uri: q.redirect_uri,
        response_type: q.response_type,
        scope: q.scope,
        state: q.state,
        nonce: q.nonce,
        code_challenge: q.code_challenge,
        code_challenge_method: q.code_challenge_method,
        resource: q.resource,
    };
    Ok(
        match app.auth.start_authorization(request, &client).await? {
            Authorize::Consent(url) | Authorize::Refused(url) => redirect::see_other(&url),
        },
    )
}

fn authorization_id(raw: &str) -> Result<Uuid> {
    Uuid::parse_str(raw).map_err(|_| Error::validation_failed("authorization_id must be a UUID"))
}

/// What the consent page shows; or, when the user consented before to no less, where to go
/// (`{redirect_url}`).
#[utoipa::path(get, path = "/oauth/authorizations/{authorization_id}", tag = "oauth",
    params(("authorization_id" = Uuid, Path)), security(("bearer" = [])),
    responses((status = 200, body = OAuthAuthorizationDetails, description = "Or `{redirect_url}` when consent is remembered"),
        (status = 401, body = crate::api::ErrorBody), (status = 404, body = crate::api::ErrorBody)))]
async fn details(
    State(app): State<App>,
    who: Authenticated,
    client: Client,
    Path(id): Path<String>,
) -> Result<Response> {
    let id = authorization_id(&id)?;
    let details = app
        .auth
        .authorization_details(id, who.caller(), &client)
        .await?;
    Ok(match details {
        Details::Done(redirect_url) => Json(OAuthRedirect { redirect_url }).into_response(),
        Details::Ask(ask) => {
            let Request {
                authorization,
                client,
                roles,
            } = *ask;
            Json(OAuthAuthorizationDetails {
                authorization_id: authorization.id,
                redirect_uri: authorization.redirect_uri,
                client: OAuthClientSummary::new(
                    client.id,
                    client.client_name,
                    client.client_uri,
                    client.logo_uri,
                ),
                user: OAuthUserSummary {
                    id: who.user.id,
                    email: who.user.email.clone(),
                },
                scope: authorization.scopes.join(" "),
                roles,
            })
            .into_response()
        }
    })
}

#[derive(Deserialize)]
struct Decision {
    action: String,
}

/// The user's answer (`{action: "approve" | "deny"}`): where the browser goes next.
#[utoipa::path(post, path = "/oauth/authorizations/{authorization_id}/consent", tag = "oauth",
    params(("authorization_id" = Uuid, Path)), security(("bearer" = [])),
    request_body(content = Object, description = "`{action: \"approve\" | \"deny\"}`"),
    responses((status = 200, body = OAuthRedirect), (status = 400, body = crate::api::ErrorBody),
        (status = 401, body = crate::api::ErrorBody), (status = 404, body = crate::api::ErrorBody)))]
async fn consent(
    State(app): State<App>,
    _: ApiOrigin,
    who: Authenticated,
    client: Client,
    Path(id): Path<String>,
    Payload(decision): Payload<Decision>,
) -> Result<Json<OAuthRedirect>> {
    let id = authorization_id(&id)?;
    let approve = match decision.action.as_str() {
        "approve" => true,
        "deny" => false,
        _ => return Err(Error::validation_failed("action must be approve or deny")),
    };
    let redirect_url = app
        .auth
        .answer_authorization(id, who.caller(), approve, &client)
        .await?;
    Ok(Json(OAuthRedirect { redirect_url }))
}
