//! The admin API, shaped like Supabase Auth's (`@supabase/auth-js` admin client), behind
//! `Authorization: Bearer <AUTH_ADMIN_SECRET>`. Without the setting these routes do not exist.
//!
//! [`users`] (users, and their provider tokens), [`sessions`] (a user's sessions), [`audit`]
//! (the audit log), [`links`] (links and invitations), [`organizations`] (members put in
//! organizations); here the routes, the admin secret and
//! paging.

use axum::{
    extract::{FromRequestParts, Query},
    http::{header, request::Parts, HeaderValue},
    response::{IntoResponse, Response},
    Json, Router,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::extract::bearer;
use crate::{
    admin::Actor,
    app::App,
    client::Client,
    error::{Code, Error, Result},
};

pub(super) mod audit;
pub(super) mod factors;
pub(super) mod links;
pub(super) mod oauth_clients;
pub(super) mod organizations;
pub(super) mod sessions;
pub(super) mod users;

pub fn router() -> Router<App> {
    Router::new()
        .merge(users::router())
        .merge(sessions::router())
        .merge(factors::router())
        .merge(audit::router())
        .merge(links::router())
        .merge(organizations::router())
        .merge(oauth_clients::router())
}

/// Proof that the request carries the admin secret.
pub(super) struct AdminAuth(pub(super) Actor);

impl FromRequestParts<App> for AdminAuth {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self> {
        let Some(secret) = &app.config.server.admin_secret else {
            return Err(Error::not_found("No such endpoint"));
        };
        let token = bearer(&parts.headers)?;
        if !secret.matches(token.as_bytes()) {
            return Err(Error::new(Code::NotAdmin, "User not allowed"));
        }
        let client = Client::from_request_parts(parts, app)
            .await
            .unwrap_or_default();
        Ok(Self(Actor {
            via: "admin_api",
            client,
        }))
    }
}

#[derive(Deserialize)]
/// Query parameters as text: auth-js sends `page=&per_page=` (empty) when the caller gives none.
pub(super) struct Paging {
    page: Option<String>,
    per_page: Option<String>,
    user_id: Option<String>,
}

fn number(value: &Option<String>, name: &str, default: u32) -> Result<u32> {
    match value.as_deref().map(str::trim) {
        None | Some("") => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|_| Error::validation_failed(format!("{name} must be a positive integer"))),
    }
}

impl Paging {
    pub(super) fn user_id(&self) -> Result<Option<Uuid>> {
        match self.user_id.as_deref().map(str::trim) {
            None | Some("") => Ok(None),
            Some(v) => Uuid::parse_str(v)
                .map(Some)
                .map_err(|_| Error::validation_failed("user_id must be a UUID")),
        }
    }

    pub(super) fn get(&self) -> Result<(u32, u32)> {
        let page = number(&self.page, "page", 1)?.max(1);
        let per_page = number(&self.per_page, "per_page", 50)?;
        if !(1..=1000).contains(&per_page) {
            return Err(Error::validation_failed(
                "per_page must be between 1 and 1000",
            ));
        }
        Ok((page, per_page))
    }
}

pub(super) fn paging(
    query: std::result::Result<Query<Paging>, axum::extract::rejection::QueryRejection>,
) -> Result<Paging> {
    query
        .map(|Query(q)| q)
        .map_err(|e| Error::validation_failed(format!("invalid query: {}", e.body_text())))
}

/// `x-total-count` plus an RFC 8288 `link` header with next and last pages, as auth-js reads
/// them. `path` may carry other query parameters (`/admin/audit?user_id=…&`).
pub(super) fn paginated(
    body: impl Serialize,
    path: &str,
    page: u32,
    per_page: u32,
    total: i64,
) -> Response {
    let mut response = Json(body).into_response();
    let headers = response.headers_mut();
    headers.insert("x-total-count", HeaderValue::from(total));
    let last = ((total.max(1) as u64).div_ceil(u64::from(per_page))).max(1);
    let mut links = Vec::new();
    if u64::from(page) < last {
        links.push(format!(
            "<{path}page={}&per_page={per_page}>; rel=\"next\"",
            page + 1
        ));
    }
    links.push(format!(
        "<{path}page={last}&per_page={per_page}>; rel=\"last\""
    ));
    if let Ok(v) = HeaderValue::from_str(&links.join(", ")) {
        headers.insert(header::LINK, v);
    }
    response
}

/// A user id from the path; one that is not a UUID names no user.
pub(super) fn parse_id(id: &str) -> Result<Uuid> {
    Uuid::parse_str(id).map_err(|_| Error::user_not_found())
}
