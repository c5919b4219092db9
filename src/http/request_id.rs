//! Request ids: every request gets one, answered in `X-Request-Id`, carried by every log line
//! of the request (a field of its span) and by the audit entries it writes. A request from a
//! trusted proxy (`AUTH_TRUSTED_PROXIES`) keeps the proxy's `X-Request-Id`, so one id follows
//! the request through the proxy's logs and ours; from anyone else the header is ignored (a
//! client must not choose what the audit log says).

use std::net::SocketAddr;

use axum::{
    extract::{ConnectInfo, Request, State},
    http::HeaderValue,
    middleware::Next,
    response::Response,
};
use uuid::Uuid;

use crate::app::App;

pub const HEADER: &str = "x-request-id";

/// The request's id, in its extensions.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// A proxy's id is kept when it is short and made of harmless characters (it goes into logs).
fn acceptable(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:/+=@".contains(&b))
}

/// Middleware: assigns the id and answers with it.
pub async fn assign(State(app): State<App>, mut request: Request, next: Next) -> Response {
    let from_proxy = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .is_some_and(|ConnectInfo(peer)| app.config.server.is_trusted_proxy(peer.ip()));
    let id = request
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|id| from_proxy && acceptable(id))
        .map(str::to_owned)
        .unwrap_or_else(|| Uuid::new_v4().to_string());
    request.extensions_mut().insert(RequestId(id.clone()));
    let mut response = next.run(request).await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(HEADER, v);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::acceptable;

    #[test]
    fn proxy_ids() {
        assert!(acceptable("f3a1c2de-0000-4000-8000-1234567890ab"));
        assert!(acceptable("Root=1-67891233-abcdef012345678912345678"));
        assert!(!acceptable(""));
        assert!(!acceptable("a b"));
        assert!(!acceptable("id\nforged log line"));
        assert!(!acceptable(&"x".repeat(129)));
    }
}
