//! `/factors`: second factors of the signed-in user, in Supabase Auth's dialect (auth-js's
//! `mfa.enroll`, `challenge`, `verify`, `challengeAndVerify`, `unenroll`; `listFactors` reads
//! `factors` from `GET /user`). The rules are the core's (`auth::mfa`).

use axum::{
    extract::{Path, State},
    response::Response,
    routing::{delete, post},
    Json, Router,
};
use serde::Deserialize;
use uuid::Uuid;

use super::{extract::MfaCaller, origin::ApiOrigin, token::session_response, Payload};
use crate::{
    api::{ChallengeResponse, EnrollResponse, UnenrollResponse},
    app::App,
    auth::mfa,
    client::Client,
    error::{Error, Result},
    secret::Secret,
};

pub fn router() -> Router<App> {
    Router::new()
        .route("/factors", post(enroll))
        .route("/factors/{id}", delete(unenroll))
        .route("/factors/{id}/challenge", post(challenge))
        .route("/factors/{id}/verify", post(verify))
}

/// A factor id from the path; anything else is a factor that does not exist.
fn factor_id(id: &str) -> Result<Uuid> {
    Uuid::parse_str(id).map_err(|_| mfa::factor_not_found())
}

#[derive(Deserialize)]
struct EnrollRequest {
    factor_type: Option<String>,
    friendly_name: Option<String>,
    issuer: Option<String>,
}

/// Enrols a TOTP factor: unverified until a code from it is verified (within five minutes).
#[utoipa::path(post, path = "/factors", tag = "mfa", security(("access_token" = [])),
    request_body(content = Object, description = "`{factor_type: \"totp\", friendly_name?, issuer?}`"),
    responses(
        (status = 200, body = EnrollResponse),
        (status = 400, body = crate::api::ErrorBody), (status = 401, body = crate::api::ErrorBody),
        (status = 403, body = crate::api::ErrorBody), (status = 422, body = crate::api::ErrorBody),
    ))]
async fn enroll(
    State(app): State<App>,
    _: ApiOrigin,
    MfaCaller(who): MfaCaller,
    client: Client,
    Payload(req): Payload<EnrollRequest>,
) -> Result<Json<EnrollResponse>> {
    if req.factor_type.as_deref() != Some("totp") {
        return Err(Error::validation_failed("factor_type must be totp"));
    }
    let enrolled = app
        .auth
        .enroll_totp(
            &who,
            req.friendly_name.as_deref(),
            req.issuer.as_deref(),
            &client,
        )
        .await?;
    Ok(Json(enrolled.into()))
}

/// A challenge of one of the caller's factors, to answer from the same client address within
/// five minutes.
#[utoipa::path(post, path = "/factors/{id}/challenge", tag = "mfa", security(("access_token" = [])),
    params(("id" = String, Path, description = "The factor's id")),
    responses(
        (status = 200, body = ChallengeResponse),
        (status = 401, body = crate::api::ErrorBody), (status = 404, body = crate::api::ErrorBody),
    ))]
async fn challenge(
    State(app): State<App>,
    _: ApiOrigin,
    MfaCaller(who): MfaCaller,
    client: Client,
    Path(id): Path<String>,
) -> Result<Json<ChallengeResponse>> {
    let made = app
        .auth
        .challenge_factor(&who, factor_id(&id)?, &client)
        .await?;
    Ok(Json(ChallengeResponse {
        id: made.id,
        factor_type: made.factor_type,
        expires_at: made.expires_at,
    }))
}

#[derive(Deserialize)]
struct VerifyRequest {
    challenge_id: Option<String>,
    code: Option<Secret>,
}

/// Answers a challenge with the factor's current code: the session, now at aal2, with a new
/// refresh token (the one before no longer refreshes).
#[utoipa::path(post, path = "/factors/{id}/verify", tag = "mfa", security(("access_token" = [])),
    params(("id" = String, Path, description = "The factor's id")),
    request_body(content = Object, description = "`{challenge_id, code}`"),
    responses(
        (status = 200, body = crate::api::SessionResponse),
        (status = 400, body = crate::api::ErrorBody), (status = 401, body = crate::api::ErrorBody),
        (status = 404, body = crate::api::ErrorBody), (status = 422, body = crate::api::ErrorBody),
        (status = 429, body = crate::api::ErrorBody),
    ))]
async fn verify(
    State(app): State<App>,
    _: ApiOrigin,
    MfaCaller(who): MfaCaller,
    client: Client,
    Path(id): Path<String>,
    Payload(req): Payload<VerifyRequest>,
) -> Result<Response> {
    let factor = factor_id(&id)?;
    let challenge = req
        .challenge_id
        .as_deref()
        .and_then(|c| Uuid::parse_str(c.trim()).ok())
        .ok_or_else(|| Error::validation_failed("challenge_id must be a UUID"))?;
    let code = req.code.unwrap_or_default();
    let session = app
        .auth
        .verify_factor(&who, factor, challenge, code.expose(), &client)
        .await?;
    Ok(session_response(&app, session))
}

/// Removes one of the caller's factors (a verified one only from an aal2 session).
#[utoipa::path(delete, path = "/factors/{id}", tag = "mfa", security(("access_token" = [])),
    params(("id" = String, Path, description = "The factor's id")),
    responses(
        (status = 200, body = UnenrollResponse),
        (status = 401, body = crate::api::ErrorBody), (status = 403, body = crate::api::ErrorBody),
        (status = 404, body = crate::api::ErrorBody),
    ))]
async fn unenroll(
    State(app): State<App>,
    _: ApiOrigin,
    MfaCaller(who): MfaCaller,
    client: Client,
    Path(id): Path<String>,
) -> Result<Json<UnenrollResponse>> {
    let id = app
        .auth
        .unenroll_factor(&who, factor_id(&id)?, &client)
        .await?;
    Ok(Json(UnenrollResponse { id }))
}
