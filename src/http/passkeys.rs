//! `/passkeys`: signing in with a passkey, and the signed-in user's passkeys, in Supabase
//! Auth's shapes. The rules are the core's (`auth::passkeys`). 404 when passkeys are off.

use axum::{
    extract::{Path, State},
    response::Response,
    routing::{get, patch, post},
    Json, Router,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::{no_content, origin::ApiOrigin, token::session_response, Payload};
use crate::{
    app::App,
    auth::{passkeys::Begun, Authenticated},
    client::Client,
    error::{Code, Error, Required, Result},
    store::passkeys::PasskeyInfo,
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

/// `{challenge_id, options, expires_at}`: `options` is what `navigator.credentials.create()`
/// (or `.get()`) takes as `publicKey`, binary fields in base64url.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CeremonyResponse {
    pub challenge_id: Uuid,
    #[schema(value_type = Object)]
    pub options: Value,
    pub expires_at: i64,
}

impl From<Begun> for CeremonyResponse {
    fn from(b: Begun) -> Self {
        Self {
            challenge_id: b.challenge_id,
            options: b.options,
            expires_at: b.expires_at,
        }
    }
}

/// A passkey: `{id, friendly_name?, created_at, last_used_at?}`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct PasskeyView {
    pub id: Uuid,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub friendly_name: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl From<PasskeyInfo> for PasskeyView {
    fn from(p: PasskeyInfo) -> Self {
        Self {
            id: p.id,
            friendly_name: p.friendly_name,
            created_at: p.created_at,
            last_used_at: p.last_used_at,
        }
    }
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

fn passkey_id(id: &str) -> Result<Uuid> {
    Uuid::parse_str(id).map_err(|_| Error::new(Code::PasskeyNotFound, "Passkey not found"))
}

async fn registration_options(
    State(app): State<App>,
    _: ApiOrigin,
    who: Authenticated,
) -> Result<Json<CeremonyResponse>> {
    let begun = app.auth.passkey_registration_options(&who.caller()).await?;
    Ok(Json(begun.into()))
}

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
        .passkey_registration_verify(&who.caller(), id, credential, &client)
        .await?;
    Ok(Json(info.into()))
}

async fn authentication_options(
    State(app): State<App>,
    _: ApiOrigin,
    client: Client,
) -> Result<Json<CeremonyResponse>> {
    Ok(Json(
        app.auth
            .passkey_authentication_options(&client)
            .await?
            .into(),
    ))
}

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

async fn list(State(app): State<App>, who: Authenticated) -> Result<Json<Vec<PasskeyView>>> {
    let all = app.auth.own_passkeys(&who.caller()).await?;
    Ok(Json(all.into_iter().map(Into::into).collect()))
}

#[derive(Deserialize)]
struct RenameRequest {
    friendly_name: Option<String>,
}

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
