//! Dialtone's HTTP front: `router(state)` gives the REST API under `/api/v1/` (with its OpenAPI
//! document) and the health check. Later the admin console, the phone HTTP endpoint and the
//! self-care pages join it. No SQL here: every request goes through `service`.
#![forbid(unsafe_code)]

mod api;
mod auth;
mod claims;
mod console;
mod directory_service;
mod em_service;
mod error;
mod ip_phone_xml;
pub mod listener;
mod phone_auth;
mod phones;
mod self_service;
pub mod tls;

pub use api::openapi;
pub use error::{ApiError, ErrorBody};
pub use phones::phone_router;

use axum::Router;
use service::Service;

/// What every handler can reach.
#[derive(Clone, Debug)]
pub struct AppState {
    pub service: Service,
    pub provisioner: std::sync::Arc<provision::Provisioner>,
    /// How phones reach the phone HTTP listener (`http://host:6970`), for previews.
    pub phone_base_url: String,
    /// How phones reach the TFTP listener (`tftp://host:69`), when it is on; MPP files carry
    /// it in their default profile rule when fetched that way.
    pub tftp_base_url: Option<String>,
    /// The resync engine, when the server sends NOTIFYs (`--sip`).
    pub resync: Option<std::sync::Arc<provision::resync::Resync>>,
    /// The syslog receiver's reports (counted in `/metrics` whether it listens or not).
    pub reports: std::sync::Arc<provision::reports::Reports>,
}

impl AppState {
    /// Writes the phone requests not written yet, before a status is read: a phone that has
    /// just fetched its file is seen at once, not at the next flush.
    pub(crate) async fn flush_seen(&self) {
        if let Err(e) = self.provisioner.flush_status().await {
            tracing::warn!(error = %e, "could not record device status");
        }
    }
}

/// A request body (or a multipart field) read as it arrives, for uploads written to disk.
pub(crate) fn body_reader<S, E>(body: S) -> impl tokio::io::AsyncRead + Unpin
where
    S: futures_util::Stream<Item = Result<bytes::Bytes, E>> + Unpin,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    use futures_util::StreamExt;
    tokio_util::io::StreamReader::new(body.map(|r| r.map_err(std::io::Error::other)))
}

/// The admin listener's routes: the REST API, its OpenAPI document, `/healthz`.
pub fn router(state: AppState) -> Router {
    api::routes()
        .merge(console::routes())
        .layer(axum::middleware::map_response(security_headers))
        .with_state(state)
}

/// What a page of the console may load and run: its own scripts, styles and images only (no
/// inline script, no `eval`), no frame around it, forms sent to itself.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; \
    frame-ancestors 'none'; form-action 'self'";

/// Headers on every answer of the admin listener: no guessing of content types, no framing
/// (clickjacking), no address of a console page sent to another site; pages get the
/// [`CONTENT_SECURITY_POLICY`].
async fn security_headers(mut r: axum::response::Response) -> axum::response::Response {
    use axum::http::{header, HeaderValue};
    let html = r
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    let h = r.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if html {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        );
    }
    r
}
