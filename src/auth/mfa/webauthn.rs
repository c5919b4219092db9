//! WebAuthn credentials (security keys, platform authenticators) as second factors, in
//! Supabase Auth's shapes: a factor's first challenge registers its credential (`create`),
//! later ones ask for an assertion (`request`). The relying party is the passkeys' (settings
//! only: what a client sends about it is ignored). By `webauthn-rs`.

use serde_json::{json, Value};
use webauthn_rs::prelude::{
    Passkey, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential,
};

use super::Caller;
use crate::{
    auth::{passkeys::not_configured, Auth},
    error::{Error, Result},
    store::mfa::FactorSecret,
};

/// A ceremony begun for a challenge: its type (`create`, `request`), the options for the
/// browser (`{publicKey: …}`), and the state to keep with the challenge.
pub(super) struct Ceremony {
    pub kind: &'static str,
    pub options: Value,
    pub state: Value,
}

fn internal(e: impl std::fmt::Display) -> Error {
    Error::internal(anyhow::anyhow!("webauthn: {e}"))
}

impl Auth {
    /// The ceremony of a new challenge of WebAuthn factor `factor`.
    pub(super) fn webauthn_ceremony(
        &self,
        who: &Caller<'_>,
        factor: &FactorSecret,
    ) -> Result<Ceremony> {
        let webauthn = self
            .passkeys
            .as_ref()
            .ok_or_else(not_configured)?
            .webauthn();
        match &factor.webauthn_credential {
            None => {
                let name = if who.user.email.is_empty() {
                    who.user.id.to_string()
                } else {
                    who.user.email.clone()
                };
                let (options, state) = webauthn
                    .start_passkey_registration(who.user.id, &name, &name, None)
                    .map_err(internal)?;
                Ok(Ceremony {
                    kind: "create",
                    options: serde_json::to_value(options).map_err(internal)?,
                    state: serde_json::to_value(state).map_err(internal)?,
                })
            }
            Some(credential) => {
                let passkey: Passkey =
                    serde_json::from_value(credential.clone()).map_err(internal)?;
                let (options, state) = webauthn
                    .start_passkey_authentication(&[passkey])
                    .map_err(internal)?;
                Ok(Ceremony {
                    kind: "request",
                    options: serde_json::to_value(options).map_err(internal)?,
                    state: serde_json::to_value(state).map_err(internal)?,
                })
            }
        }
    }

    /// Checks the browser's answer (`kind` as the challenge said) against the ceremony's
    /// `state`: the factor's credential to store (new, or with its counter moved), or `None`
    /// when the answer does not verify.
    pub(super) fn webauthn_answer(
        &self,
        factor: &FactorSecret,
        state: Value,
        kind: &str,
        response: Value,
    ) -> Result<Option<Value>> {
        let webauthn = self
            .passkeys
            .as_ref()
            .ok_or_else(not_configured)?
            .webauthn();
        match (kind, &factor.webauthn_credential) {
            ("create", None) => {
                let state: PasskeyRegistration = serde_json::from_value(state).map_err(internal)?;
                let Ok(answer) = serde_json::from_value::<RegisterPublicKeyCredential>(response)
                else {
                    return Ok(None);
                };
                Ok(
                    match webauthn.finish_passkey_registration(&answer, &state) {
                        Ok(passkey) => Some(serde_json::to_value(passkey).map_err(internal)?),
                        Err(_) => None,
                    },
                )
            }
            ("request", Some(credential)) => {
                let state: PasskeyAuthentication =
                    serde_json::from_value(state).map_err(internal)?;
                let mut passkey: Passkey =
                    serde_json::from_value(credential.clone()).map_err(internal)?;
                let Ok(answer) = serde_json::from_value::<PublicKeyCredential>(response) else {
                    return Ok(None);
                };
                Ok(
                    match webauthn.finish_passkey_authentication(&answer, &state) {
                        Ok(result) => {
                            passkey.update_credential(&result);
                            Some(serde_json::to_value(passkey).map_err(internal)?)
                        }
                        Err(_) => None,
                    },
                )
            }
            _ => Err(Error::validation_failed(
                "webauthn.type must be create for a new factor, request for a verified one",
            )),
        }
    }
}

/// The challenge answer's `webauthn` field: `{type, credential_options}`.
pub(crate) fn challenge_field(kind: &str, options: Value) -> Value {
    json!({ "type": kind, "credential_options": options })
}
