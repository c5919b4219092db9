//! `/passkeys`: signing in with a passkey, and the signed-in user's passkeys, in Supabase
//! Auth's shapes. The rules are the core's (`auth::passkeys`). 404 when passkeys are off.

use axum::{
    extract::{Path, State},
    response::Response,
    routing::{get, patch, post},
    Json, Router,
};
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use super::{no_content, origin::ApiOrigin, token::session_response, Payload};
use crate::{
    api::{CeremonyResponse, PasskeyView},
    app::App,
    auth::{passkeys::Begun, Authenticated},
    client::Client,
    error::{Code, Error, Required, Result},
};

pub fn router() -> Router<App> {
    Router::new()
        .route("/passkeys", get(list))
        .route("/passkeys/{id}", patch(rename).delete(remove))
        .route("/passkeys/registration/options", post(registration_options))
        .route("/passkeys/registration/verify", post(registration_verify))
        .route(
            "/passkeys/authentication/options",
            post(authentication_options),
        )
        .route(
            "/passkeys/authentication/verify",
            post(authentication_verify),
        )
}

#[derive(Deserialize)]
struct VerifyRequest {
    challenge_id: Option<String>,
    credential: Option<Value>,
}

impl VerifyRequest {
    fn parts(self) -> Result<(Uuid, Value)> {
        let id = self.challenge_id.required("challenge_id")?;
        let id = Uuid::parse_str(id.trim())
            .map_err(|_| Error::validation_failed("challenge_id must be a valid UUID"))?;
        let credential = self
            .credential
            .filter(|c| !c.is_null())
            .ok_or_else(|| Error::validation_failed("credential is required"))?;
        Ok((id, credential))
    }
}

fn ceremony(b: Begun) -> CeremonyResponse {
    CeremonyResponse {
        challenge_id: b.challenge_id,
        options: b.options,
        expires_at: b.expires_at,
    }
}

fn passkey_id(id: &str) -> Result<Uuid> {
    Uuid::parse_str(id).map_err(|_| Error::new(Code::PasskeyNotFound, "Passkey not found"))
}

/// Begins adding a passkey (aal2 once a second factor is verified; at most 10).
#[utoipa::path(post, path = "/passkeys/registration/options", tag = "passkeys", security(("access_token" = [])),
    responses((status = 200, body = CeremonyResponse), (status = 401, body = crate::api::ErrorBody),
        (status = 403, body = crate::api::ErrorBody), (status = 404, body = crate::api::ErrorBody), (status = 422, body = crate::api::ErrorBody)))]
async fn registration_options(
    State(app): State<App>,
    _: ApiOrigin,
    who: Authenticated,
) -> Result<Json<CeremonyResponse>> {
    let begun = app.auth.passkey_registration_options(&who.caller()).await?;
    Ok(Json(ceremony(begun)))
}

/// The authenticator's answer: the new passkey.
#[utoipa::path(post, path = "/passkeys/registration/verify", tag = "passkeys", security(("access_token" = [])),
    request_body(content = Object, description = "`{challenge_id, credential}`"),
    responses((status = 200, body = PasskeyView), (status = 400, body = crate::api::ErrorBody), (status = 401, body = crate::api::ErrorBody),
        (status = 404, body = crate::api::ErrorBody), (status = 422, body = crate::api::ErrorBody)))]
async fn registration_verify(
    State(app): State<App>,
    _: ApiOrigin,
    who: Authenticated,
    client: Client,
    Payload(req): Payload<VerifyRequest>,
) -> Result<Json<PasskeyView>> {
    let (id, credential) = req.parts()?;
    let info = app
        .auth
        .passkey_registration_verify(&who.caller(), id, credential, "", &client)
        .await?;
    Ok(Json(info.into()))
}

/// Begins a sign-in with a passkey (no address needed).
#[utoipa::path(post, path = "/passkeys/authentication/options", tag = "passkeys",
    responses((status = 200, body = CeremonyResponse), (status = 404, body = crate::api::ErrorBody), (status = 429, body = crate::api::ErrorBody)))]
async fn authentication_options(
    State(app): State<App>,
    _: ApiOrigin,
    client: Client,
) -> Result<Json<CeremonyResponse>> {
    let begun = app.auth.passkey_authentication_options(&client).await?;
    Ok(Json(ceremony(begun)))
}

/// The authenticator's assertion: a session (`amr` method `passkey`).
#[utoipa::path(post, path = "/passkeys/authentication/verify", tag = "passkeys",
    request_body(content = Object, description = "`{challenge_id, credential}`"),
    responses((status = 200, body = crate::api::SessionResponse), (status = 400, body = crate::api::ErrorBody),
        (status = 404, body = crate::api::ErrorBody), (status = 429, body = crate::api::ErrorBody)))]
async fn authentication_verify(
    State(app): State<App>,
    _: ApiOrigin,
    client: Client,
    Payload(req): Payload<VerifyRequest>,
) -> Result<Response> {
    let (id, credential) = req.parts()?;
    let session = app
        .auth
        .passkey_authentication_verify(id, credential, &client)
        .await?;
    Ok(session_response(&app, session))
}

/// The signed-in user's passkeys.
#[utoipa::path(get, path = "/passkeys", tag = "passkeys", security(("access_token" = [])),
    responses((status = 200, body = Vec<PasskeyView>), (status = 401, body = crate::api::ErrorBody), (status = 404, body = crate::api::ErrorBody)))]
async fn list(State(app): State<App>, who: Authenticated) -> Result<Json<Vec<PasskeyView>>> {
    let all = app.auth.own_passkeys(&who.caller()).await?;
    Ok(Json(all.into_iter().map(Into::into).collect()))
}

#[derive(Deserialize)]
struct RenameRequest {
    friendly_name: Option<String>,
}

/// Renames a passkey.
#[utoipa::path(patch, path = "/passkeys/{id}", tag = "passkeys", security(("access_token" = [])),
    params(("id" = String, Path)), request_body(content = Object, description = "`{friendly_name}`"),
    responses((status = 200, body = PasskeyView), (status = 400, body = crate::api::ErrorBody), (status = 401, body = crate::api::ErrorBody), (status = 404, body = crate::api::ErrorBody)))]
async fn rename(
    State(app): State<App>,
    _: ApiOrigin,
    who: Authenticated,
    Path(id): Path<String>,
    Payload(req): Payload<RenameRequest>,
) -> Result<Json<PasskeyView>> {
    let name = req.friendly_name.required("friendly_name")?;
    let info = app
        .auth
        .rename_passkey(&who.caller(), passkey_id(&id)?, &name)
        .await?;
    Ok(Json(info.into()))
}

/// Removes a passkey (aal2 once a second factor is verified). 204.
#[utoipa::path(delete, path = "/passkeys/{id}", tag = "passkeys", security(("access_token" = [])),
    params(("id" = String, Path)),
    responses((status = 204, description = "Removed"), (status = 401, body = crate::api::ErrorBody), (status = 403, body = crate::api::ErrorBody), (status = 404, body = crate::api::ErrorBody)))]
async fn remove(
    State(app): State<App>,
    _: ApiOrigin,
    who: Authenticated,
    client: Client,
    Path(id): Path<String>,
) -> Result<Response> {
    app.auth
        .delete_passkey(&who.caller(), passkey_id(&id)?, &client)
        .await?;
    Ok(no_content())
}
