//! `GET /user`, `PUT /user`: the signed-in user; `GET /reauthenticate`: a code to prove it
//! is them before a sensitive change.

use axum::{
    extract::State,
    http::header,
    response::{IntoResponse, Response},
    routing::get,
    Json, Router,
};
use serde::Deserialize;
use serde_json::Value;

use super::{
    extract::{MfaCaller, RedirectTo},
    origin::ApiOrigin,
    Payload,
};
use crate::{
    api::UserView,
    app::App,
    auth::{email::pkce::Challenge, Authenticated, SelfUpdate},
    client::Client,
    error::{Error, Result},
    secret::Secret,
    store::users::User,
};

pub fn router() -> Router<App> {
    Router::new()
        .route("/user", get(get_user).put(update_user))
        .route("/reauthenticate", get(reauthenticate))
}

/// `user` as this server's clients see it.
pub fn user_view(app: &App, user: &User) -> UserView {
    UserView::new(user, app.config.user_audience())
}

/// The signed-in user. Its body is made once per reading of the user row (see
/// [`crate::auth::LiveUser`]): the session cache hands every request the same reading until
/// the user changes.
#[utoipa::path(get, path = "/user", tag = "user", security(("access_token" = [])),
    responses((status = 200, body = UserView), (status = 401, body = crate::api::ErrorBody)))]
async fn get_user(State(app): State<App>, MfaCaller(who): MfaCaller) -> Result<Response> {
    let body = who
        .user
        .api_body(|user| serde_json::to_vec(&user_view(&app, user)))
        .map_err(Error::internal)?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

#[derive(Deserialize)]
struct UpdateUserRequest {
    password: Option<Secret>,
    current_password: Option<Secret>,
    /// A code from `GET /reauthenticate`, in place of `current_password`.
    nonce: Option<Secret>,
    data: Option<Value>,
    /// A new address: it changes once confirmed (see the email flows).
    email: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
}

/// Changes the signed-in user's password, metadata or email.
#[utoipa::path(put, path = "/user", tag = "user", security(("access_token" = [])),
    request_body(content = Object, description = "`{password?, current_password?, nonce?, data?, email?}`"),
    responses(
        (status = 200, body = UserView),
        (status = 400, body = crate::api::ErrorBody), (status = 401, body = crate::api::ErrorBody),
        (status = 422, body = crate::api::ErrorBody), (status = 429, body = crate::api::ErrorBody),
    ))]
async fn update_user(
    State(app): State<App>,
    _: ApiOrigin,
    client: Client,
    who: Authenticated,
    RedirectTo(redirect_to): RedirectTo,
    Payload(req): Payload<UpdateUserRequest>,
) -> Result<Json<UserView>> {
    let email = req.email.filter(|e| !e.trim().is_empty());
    let has_data = !matches!(req.data, None | Some(Value::Null));
    if req.password.is_none() && !has_data && email.is_none() {
        return Err(Error::validation_failed(
            "nothing to update: give password, data or email",
        ));
    }
    let update = SelfUpdate {
        password: req.password,
        current_password: req.current_password,
        nonce: req.nonce.filter(|n| !n.expose().trim().is_empty()),
        data: req.data.filter(|_| has_data),
        email,
        redirect_to,
        challenge: Challenge::from_request(req.code_challenge, req.code_challenge_method)?,
    };
    let user = app
        .auth
        .update_self(who.user.id, who.token.session_id, update, &client)
        .await?;
    Ok(Json(user_view(&app, &user)))
}

/// Sends the signed-in user a code (to their confirmed address) to give as `nonce` with
/// `PUT /user` in place of `current_password` (auth-js `reauthenticate`). 200 `{}`.
#[utoipa::path(get, path = "/reauthenticate", tag = "user", security(("access_token" = [])),
    responses((status = 200, body = Object), (status = 400, body = crate::api::ErrorBody),
        (status = 401, body = crate::api::ErrorBody), (status = 429, body = crate::api::ErrorBody)))]
async fn reauthenticate(
    State(app): State<App>,
    client: Client,
    who: Authenticated,
) -> Result<Json<Value>> {
    app.auth
        .request_reauthentication(who.user.id, who.token.session_id, &client)
        .await?;
    Ok(Json(serde_json::json!({})))
}
