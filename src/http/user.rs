//! `GET /user`, `PUT /user`: the signed-in user.

use axum::{extract::State, routing::get, Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{AppState, Payload};
use crate::{
    auth::sessions::{Authenticated, Client, SelfUpdate},
    error::{Error, Result},
    secret::Secret,
    store::users::User,
};

pub fn router() -> Router<AppState> {
    Router::new().route("/user", get(get_user).put(update_user))
}

/// A user in Supabase Auth's shape. Roles are in `app_metadata`; no hash is ever here.
pub fn user_json(state: &AppState, user: &User) -> Value {
    user_json_for(
        state
            .config
            .jwt_audience
            .as_deref()
            .unwrap_or("authenticated"),
        user,
    )
}

/// [`user_json`] with an explicit `aud` (for the CLI).
pub fn user_json_for(aud: &str, user: &User) -> Value {
    let mut app_metadata = match &user.app_metadata {
        Value::Object(m) => m.clone(),
        _ => Default::default(),
    };
    app_metadata.insert("provider".into(), json!("email"));
    app_metadata.insert("providers".into(), json!(["email"]));
    app_metadata.insert("default_role".into(), json!(user.default_role));
    app_metadata.insert("allowed_roles".into(), json!(user.allowed_roles));
    json!({
        "id": user.id,
        "aud": aud,
        "role": "authenticated",
        "email": user.email,
        "phone": "",
        "app_metadata": app_metadata,
        "user_metadata": user.user_metadata,
        "identities": [],
        "banned_until": user.banned_until,
        "disabled": !user.enabled,
        "is_anonymous": false,
        "last_sign_in_at": user.last_sign_in_at,
        "created_at": user.created_at,
        "updated_at": user.updated_at,
    })
}

async fn get_user(State(state): State<AppState>, who: Authenticated) -> Json<Value> {
    Json(user_json(&state, &who.user))
}

#[derive(Deserialize)]
struct UpdateUserRequest {
    password: Option<Secret>,
    current_password: Option<Secret>,
    data: Option<Value>,
    email: Option<String>,
}

async fn update_user(
    State(state): State<AppState>,
    client: Client,
    who: Authenticated,
    Payload(req): Payload<UpdateUserRequest>,
) -> Result<Json<Value>> {
    if req.email.is_some() {
        return Err(Error::validation(
            "email_change_not_supported",
            "Changing the email address is not supported through this endpoint",
        ));
    }
    if req.password.is_none() && matches!(req.data, None | Some(Value::Null)) {
        return Err(Error::validation(
            "validation_failed",
            "nothing to update: give password or data",
        ));
    }
    if req.current_password.is_some() {
        // Guessing the current password with a stolen access token counts as sign-in attempts.
        state.sign_in_limiter.check(&client)?;
    }
    let update = SelfUpdate {
        password: req.password,
        current_password: req.current_password,
        data: req.data,
    };
    let user = state
        .auth
        .update_self(who.user.id, who.token.session_id, update, &client)
        .await?;
    Ok(Json(user_json(&state, &user)))
}
