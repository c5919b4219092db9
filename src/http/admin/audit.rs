//! `/admin/audit`: the audit log, a page at a time.

use axum::{
    extract::{Query, State},
    response::Response,
    routing::get,
    Router,
};

use super::{paginated, paging, AdminAuth, Paging};
use crate::{app::App, error::Result};

pub(super) fn router() -> Router<App> {
    Router::new().route("/admin/audit", get(audit))
}

/// A page of the audit log, newest first, with `x-total-count` and `Link` headers.
#[utoipa::path(get, path = "/admin/audit", tag = "admin", security(("admin_secret" = [])),
    params(("page" = Option<u32>, Query), ("per_page" = Option<u32>, Query), ("user_id" = Option<String>, Query)),
    responses((status = 200, body = Vec<crate::api::AuditEntry>), (status = 400, body = crate::api::ErrorBody), (status = 401, body = crate::api::ErrorBody), (status = 404, body = crate::api::ErrorBody), (status = 422, body = crate::api::ErrorBody)))]
async fn audit(
    State(app): State<App>,
    AdminAuth(_): AdminAuth,
    query: std::result::Result<Query<Paging>, axum::extract::rejection::QueryRejection>,
) -> Result<Response> {
    let q = paging(query)?;
    let (page, per_page) = q.get()?;
    let user_id = q.user_id()?;
    let (entries, total) = app.admin.audit_log(page, per_page, user_id).await?;
    let path = match user_id {
        Some(id) => format!("/admin/audit?user_id={id}&"),
        None => "/admin/audit?".to_owned(),
    };
    Ok(paginated(entries, &path, page, per_page, total))
}
