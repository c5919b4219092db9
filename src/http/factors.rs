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
    api::{
        ChallengeResponse, EnrollResponse, RecoveryCodes, RecoveryCodesLeft, TotpView,
        UnenrollResponse,
    },
    app::App,
    auth::mfa::{self, Answer},
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
        .route(
            "/factors/recovery_codes",
            post(generate_recovery_codes).get(recovery_codes_left),
        )
        .route("/factors/recovery_codes/verify", post(verify_recovery_code))
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
    let factor_type = match req.factor_type.as_deref() {
        Some("totp") => mfa::TOTP,
        Some("webauthn") => mfa::WEBAUTHN,
        _ => {
            return Err(Error::validation_failed(
                "factor_type must be totp or webauthn",
            ))
        }
    };
    let enrolled = app
        .auth
        .enroll(
            &who.caller(),
            factor_type,
            req.friendly_name.as_deref(),
            req.issuer.as_deref(),
            &client,
        )
        .await?;
    Ok(Json(EnrollResponse {
        id: enrolled.factor.id,
        factor_type: enrolled.factor.factor_type,
        friendly_name: enrolled.factor.friendly_name,
        totp: enrolled.totp.map(|t| TotpView {
            qr_code: t.qr_code,
            secret: t.secret,
            uri: t.uri,
        }),
    }))
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
        .challenge_factor(&who.caller(), factor_id(&id)?, &client)
        .await?;
    Ok(Json(ChallengeResponse {
        id: made.id,
        factor_type: made.factor_type,
        expires_at: made.expires_at,
        webauthn: made.webauthn,
    }))
}

#[derive(Deserialize)]
struct VerifyRequest {
    challenge_id: Option<String>,
    code: Option<Secret>,
    webauthn: Option<WebauthnAnswer>,
}

/// A WebAuthn factor's answer: `{type, credential_response}` (what auth-js sends; its
/// `rp_id` and `rp_origins` are ignored: the relying party is the settings').
#[derive(Deserialize)]
struct WebauthnAnswer {
    #[serde(rename = "type")]
    kind: String,
    credential_response: serde_json::Value,
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
    let answer = match &req.webauthn {
        Some(w) => Answer::Webauthn {
            kind: &w.kind,
            response: w.credential_response.clone(),
        },
        None => Answer::Code(code.expose()),
    };
    let session = app
        .auth
        .verify_factor(&who.caller(), factor, challenge, answer, &client)
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
        .unenroll_factor(&who.caller(), factor_id(&id)?, &client)
        .await?;
    Ok(Json(UnenrollResponse { id }))
}

/// A new set of ten recovery codes, shown this once (the previous set stops working). Needs
/// an aal2 session.
#[utoipa::path(post, path = "/factors/recovery_codes", tag = "mfa", security(("access_token" = [])),
    responses(
        (status = 200, body = RecoveryCodes),
        (status = 401, body = crate::api::ErrorBody), (status = 403, body = crate::api::ErrorBody),
    ))]
async fn generate_recovery_codes(
    State(app): State<App>,
    _: ApiOrigin,
    MfaCaller(who): MfaCaller,
    client: Client,
) -> Result<Json<RecoveryCodes>> {
    let recovery_codes = app
        .auth
        .generate_recovery_codes(&who.caller(), &client)
        .await?;
    Ok(Json(RecoveryCodes { recovery_codes }))
}

/// How many recovery codes are left (never the codes).
#[utoipa::path(get, path = "/factors/recovery_codes", tag = "mfa", security(("access_token" = [])),
    responses((status = 200, body = RecoveryCodesLeft), (status = 401, body = crate::api::ErrorBody)))]
async fn recovery_codes_left(
    State(app): State<App>,
    MfaCaller(who): MfaCaller,
) -> Result<Json<RecoveryCodesLeft>> {
    let (remaining, created_at) = app.auth.recovery_codes_left(&who.caller()).await?;
    Ok(Json(RecoveryCodesLeft {
        remaining,
        created_at,
    }))
}

#[derive(Deserialize)]
struct RecoveryCodeRequest {
    code: Option<Secret>,
}

/// A recovery code in place of a factor's code: the session at aal2, as `/verify` answers.
/// Each code works once.
#[utoipa::path(post, path = "/factors/recovery_codes/verify", tag = "mfa", security(("access_token" = [])),
    request_body(content = Object, description = "`{code}`"),
    responses(
        (status = 200, body = crate::api::SessionResponse),
        (status = 400, body = crate::api::ErrorBody), (status = 401, body = crate::api::ErrorBody),
        (status = 422, body = crate::api::ErrorBody), (status = 429, body = crate::api::ErrorBody),
    ))]
async fn verify_recovery_code(
    State(app): State<App>,
    _: ApiOrigin,
    MfaCaller(who): MfaCaller,
    client: Client,
    Payload(req): Payload<RecoveryCodeRequest>,
) -> Result<Response> {
    let code = req.code.unwrap_or_default();
    let session = app
        .auth
        .verify_recovery_code(&who.caller(), code.expose(), &client)
        .await?;
    Ok(session_response(&app, session))
}
