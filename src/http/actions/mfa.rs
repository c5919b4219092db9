//! The second-factor actions: `enrollFactor`, `challengeFactor`, `verifyFactor`,
//! `unenrollFactor`, `myFactors`, `generateRecoveryCodes`, `verifyRecoveryCode`. The core's
//! rules (`auth::mfa`) apply as for `/factors`.

use axum::{
    response::{IntoResponse, Response},
    Json,
};
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use super::{
    anonymous::session_output, optional_input, required_input, signed_in::Acting, unknown, Call,
};
use crate::{
    api::FactorView,
    auth::mfa::{factor_not_found, Answer, Caller},
    error::{Error, Result},
    secret::Secret,
};

pub(super) const ACTIONS: [&str; 7] = [
    "enrollFactor",
    "challengeFactor",
    "verifyFactor",
    "unenrollFactor",
    "myFactors",
    "generateRecoveryCodes",
    "verifyRecoveryCode",
];

#[derive(Deserialize, Default)]
struct EnrollInput {
    friendly_name: Option<String>,
    issuer: Option<String>,
}

#[derive(Deserialize)]
struct FactorInput {
    factor_id: String,
}

#[derive(Deserialize)]
struct VerifyInput {
    factor_id: String,
    challenge_id: String,
    code: Secret,
}

#[derive(Deserialize)]
struct CodeInput {
    code: Secret,
}

fn factor_id(id: &str) -> Result<Uuid> {
    Uuid::parse_str(id.trim()).map_err(|_| factor_not_found())
}

pub(super) async fn run(
    call: &Call<'_>,
    who: Acting,
    name: &str,
    input: Value,
) -> Result<Response> {
    let auth = &call.app.auth;
    let caller = who.caller();
    let (who, client) = (&caller, call.client);
    Ok(match name {
        "enrollFactor" => enroll(call, who, optional_input(input)?).await?,
        "challengeFactor" => {
            let f: FactorInput = required_input(input)?;
            let made = auth
                .challenge_factor(who, factor_id(&f.factor_id)?, client)
                .await?;
            Json(json!({"id": made.id, "type": made.factor_type, "expires_at": made.expires_at}))
                .into_response()
        }
        "verifyFactor" => verify(call, who, required_input(input)?).await?,
        "unenrollFactor" => {
            let f: FactorInput = required_input(input)?;
            let id = auth
                .unenroll_factor(who, factor_id(&f.factor_id)?, client)
                .await?;
            Json(json!({ "id": id })).into_response()
        }
        "myFactors" => {
            let factors: Vec<FactorView> = caller.user.factors.iter().map(Into::into).collect();
            Json(factors).into_response()
        }
        "generateRecoveryCodes" => {
            let codes = auth.generate_recovery_codes(who, client).await?;
            Json(json!({ "recovery_codes": codes })).into_response()
        }
        "verifyRecoveryCode" => {
            let c: CodeInput = required_input(input)?;
            let session = auth
                .verify_recovery_code(who, c.code.expose(), client)
                .await?;
            session_output(call.app, session, None)
        }
        other => return Err(unknown(other)),
    })
}

/// `enrollFactor`: `EnrolledFactor`.
async fn enroll(call: &Call<'_>, who: &Caller<'_>, e: EnrollInput) -> Result<Response> {
    let enrolled = call
        .app
        .auth
        .enroll_totp(
            who,
            e.friendly_name.as_deref(),
            e.issuer.as_deref(),
            call.client,
        )
        .await?;
    let totp = enrolled
        .totp
        .ok_or_else(|| Error::internal(anyhow::anyhow!("a TOTP factor without its secret")))?;
    Ok(Json(json!({
        "id": enrolled.factor.id, "type": enrolled.factor.factor_type,
        "friendly_name": enrolled.factor.friendly_name, "qr_code": totp.qr_code,
        "secret": totp.secret, "uri": totp.uri,
    }))
    .into_response())
}

/// `verifyFactor`: the session at aal2, as `AuthSession`.
async fn verify(call: &Call<'_>, who: &Caller<'_>, v: VerifyInput) -> Result<Response> {
    let challenge = Uuid::parse_str(v.challenge_id.trim())
        .map_err(|_| Error::validation_failed("challenge_id must be a UUID"))?;
    let session = call
        .app
        .auth
        .verify_factor(
            who,
            factor_id(&v.factor_id)?,
            challenge,
            Answer::Code(v.code.expose()),
            call.client,
        )
        .await?;
    Ok(session_output(call.app, session, None))
}
