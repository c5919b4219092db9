//! The actions of a signed-in user: sign out, list and end their sessions, change their
//! password. Hasura only checked the token's signature, so each first checks that the
//! session is still live and the user active.

use std::{collections::HashMap, sync::Arc};

use axum::{
    response::{IntoResponse, Response},
    Json,
};
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use super::{optional_input, required_input, unknown, Call};
use crate::{
    api::Done,
    app::App,
    auth::{assurance::Aal, claims, LiveUser, LogoutScope, SelfUpdate},
    error::{Code, Error},
    http::cookie,
    secret::Secret,
};

pub(super) const ACTIONS: [&str; 5] = [
    "logout",
    "mySessions",
    "endSession",
    "changePassword",
    "reauthenticate",
];

/// The user and session an action acts for.
pub(super) struct Acting {
    pub(super) user: Arc<LiveUser>,
    pub(super) session_id: Uuid,
}

impl Acting {
    /// The user and session, as the account steps take them.
    pub(super) fn caller(&self) -> crate::auth::authenticate::Caller<'_> {
        crate::auth::authenticate::Caller {
            user: &self.user,
            session_id: self.session_id,
        }
    }
}

/// The signed-in user and session of an action call, from Hasura's session variables, if
/// the session is still live and the user active. A session that owes its second factor
/// (`AUTH_MFA_REQUIRED`, or only roles that need one) is the unauthenticated role to Hasura:
/// it may take the MFA steps (`mfa_step`), and is answered `insufficient_aal` otherwise.
pub(super) async fn acting_user(
    app: &App,
    vars: &HashMap<String, String>,
    mfa_step: bool,
) -> Result<Acting, Error> {
    let get = |k: &str| {
        vars.iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.as_str())
    };
    let unauthorized = || Error::new(Code::NoAuthorization, "This action needs a signed-in user");
    let id = |name| {
        get(name)
            .and_then(|v| Uuid::parse_str(v).ok())
            .ok_or_else(unauthorized)
    };
    let (user_id, session_id) = (id(claims::USER_ID)?, id(claims::SESSION_ID)?);
    let user = app.auth.live_user(session_id, user_id).await?;
    let aal = Aal::from_claim(get(claims::AAL));
    if !mfa_step && app.auth.mfa_pending(&user, aal) {
        return Err(Error::new(
            Code::InsufficientAal,
            "AAL2 required: verify a second factor first (AUTH_MFA_REQUIRED)",
        ));
    }
    let anonymous =
        get("x-hasura-role") == Some(app.config.hasura.hasura_unauthorized_role.as_str());
    if anonymous && !mfa_step {
        return Err(unauthorized());
    }
    Ok(Acting { user, session_id })
}

#[derive(Deserialize, Default)]
struct LogoutInput {
    scope: Option<LogoutScope>,
}

#[derive(Deserialize)]
struct EndSessionInput {
    id: String,
}

#[derive(Deserialize)]
struct ChangePasswordInput {
    password: Secret,
    current_password: Option<Secret>,
    /// A code from `reauthenticate`, in place of `current_password`.
    nonce: Option<Secret>,
}

pub(super) async fn run(
    call: &Call<'_>,
    who: Acting,
    name: &str,
    input: Value,
) -> Result<Response, Error> {
    let auth = &call.app.auth;
    let (user_id, session_id) = (who.user.id, who.session_id);
    match name {
        "logout" => {
            let l: LogoutInput = optional_input(input)?;
            let scope = l.scope.unwrap_or_default();
            auth.logout(user_id, Some(session_id), scope, call.client)
                .await?;
            let mut response = Json(Done::new()).into_response();
            cookie::clear(&call.app.config, response.headers_mut());
            Ok(response)
        }
        "mySessions" => Ok(Json(auth.own_sessions(user_id, session_id).await?).into_response()),
        "endSession" => {
            let e: EndSessionInput = required_input(input)?;
            let id = Uuid::parse_str(&e.id).map_err(|_| Error::no_such_session())?;
            auth.end_own_session(user_id, id, session_id, call.client)
                .await?;
            Ok(Json(Done::new()).into_response())
        }
        "changePassword" => {
            let c: ChangePasswordInput = required_input(input)?;
            let update = SelfUpdate {
                password: Some(c.password),
                current_password: c.current_password,
                nonce: c.nonce,
                ..Default::default()
            };
            auth.update_self(user_id, session_id, update, call.client)
                .await?;
            Ok(Json(Done::new()).into_response())
        }
        "reauthenticate" => {
            auth.request_reauthentication(user_id, session_id, call.client)
                .await?;
            Ok(Json(Done::new()).into_response())
        }
        other => Err(unknown(other)),
    }
}
