//! The phone HTTP endpoint: `GET /<file>` for every file a phone fetches (Cisco phones look on
//! port 6970 first). No authentication yet; unknown files are 404 without saying why.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use provision::{Answer, Provisioner};
use std::sync::Arc;

/// The phone listener's routes.
pub fn phone_router(provisioner: Arc<Provisioner>) -> Router {
    Router::new().fallback(serve_file).with_state(provisioner)
}

/// `http://host[:port]` as the phone reached us (its Host header), for rules pointing back here.
pub(crate) fn base_url(headers: &HeaderMap, fallback: &str) -> String {
    match headers.get(header::HOST).and_then(|h| h.to_str().ok()) {
        Some(h) if !h.is_empty() && !h.contains(['/', ' ', '@']) => format!("http://{h}"),
        _ => fallback.to_string(),
    }
}

async fn serve_file(State(p): State<Arc<Provisioner>>, req: Request) -> Response {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, "GET, HEAD")],
            "phones read files here\n",
        )
            .into_response();
    }
    let path = req.uri().path().to_string();
    let ip = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_default();
    let ua = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let base = base_url(req.headers(), "");
    match p.fetch(&path, ua.as_deref(), &base).await {
        Ok(Answer::File {
            bytes,
            content_type,
            device,
            device_id,
        }) => {
            if let Some(id) = device_id {
                p.seen(
                    id,
                    &ip,
                    ua.as_deref().unwrap_or_default(),
                    provision::file_name(&path).unwrap_or_default(),
                    "http",
                );
            }
            tracing::debug!(%path, device = device.as_deref().unwrap_or("-"), "served");
            (
                [
                    (header::CONTENT_TYPE, content_type),
                    (header::CACHE_CONTROL, "no-store"),
                ],
                bytes,
            )
                .into_response()
        }
        Ok(Answer::NotFound(why)) => {
            tracing::debug!(%path, %why, "not found");
            (StatusCode::NOT_FOUND, "not found\n").into_response()
        }
        Err(e) => {
            tracing::error!(%path, error = %e, "could not answer a phone");
            (StatusCode::INTERNAL_SERVER_ERROR, "error\n").into_response()
        }
    }
}
