//! `GET /user`, `PUT /user`: the signed-in user.

use axum::{extract::State, routing::get, Json, Router};
use serde::Deserialize;
use serde_json::Value;

use super::Payload;
use crate::{
    api::UserView,
    app::App,
    auth::{Authenticated, SelfUpdate},
    client::Client,
    error::{code, Error, Result},
    secret::Secret,
    store::users::User,
};

pub fn router() -> Router<App> {
    Router::new().route("/user", get(get_user).put(update_user))
}

/// `user` as this server's clients see it.
pub fn user_view(app: &App, user: &User) -> UserView {
    UserView::new(user, app.config.user_audience())
}

async fn get_user(State(app): State<App>, who: Authenticated) -> Json<UserView> {
    Json(user_view(&app, &who.user))
}

#[derive(Deserialize)]
struct UpdateUserRequest {
    password: Option<Secret>,
    current_password: Option<Secret>,
    data: Option<Value>,
    email: Option<String>,
}

async fn update_user(
    State(app): State<App>,
    client: Client,
    who: Authenticated,
    Payload(req): Payload<UpdateUserRequest>,
) -> Result<Json<UserView>> {
    if req.email.is_some() {
        return Err(Error::validation(
            code::EMAIL_CHANGE_NOT_SUPPORTED,
            "Changing the email address is not supported through this endpoint",
        ));
    }
    if req.password.is_none() && matches!(req.data, None | Some(Value::Null)) {
        return Err(Error::invalid("nothing to update: give password or data"));
    }
    if req.current_password.is_some() {
        // Guessing the current password with a stolen access token counts as sign-in attempts.
        app.sign_in_limiter.check(&client)?;
    }
    let update = SelfUpdate {
        password: req.password,
        current_password: req.current_password,
        data: req.data,
    };
    let user = app
        .auth
        .update_self(who.user.id, who.token.session_id, update, &client)
        .await?;
    Ok(Json(user_view(&app, &user)))
}
