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

/// The admin listener's routes: the REST API, its OpenAPI document, `/healthz`.
pub fn router(state: AppState) -> Router {
    api::routes().merge(console::routes()).with_state(state)
}
