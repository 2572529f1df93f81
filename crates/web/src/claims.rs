//! A self-provisioning claim as every front end runs it (the REST API, the phone's XML
//! service, the self-care page): the service's use case, then a NOTIFY so that the phone
//! fetches its new file at once.

use crate::error::{ApiError, ErrorDetail};
use axum::http::StatusCode;
use model::{ClaimRefusal, Claimed};
use provision::resync::Resync;
use service::{Actor, Claim, ClaimError};
use std::sync::Arc;

/// Runs `c` for `actor`; on success asks the resync engine (when the server sends NOTIFYs) to
/// tell the phone.
pub(crate) async fn claim(
    service: &service::Service,
    resync: Option<&Arc<Resync>>,
    actor: &Actor,
    c: &Claim,
) -> Result<Claimed, ClaimError> {
    let done = service.claim(actor, c).await?;
    if let Some(r) = resync {
        match r.request(&[done.device_id]).await {
            Ok((0, skipped)) => {
                for (_, why) in skipped {
                    tracing::info!(phone = %done.phone, "claimed, not notified: {why}");
                }
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(phone = %done.phone, error = %e, "claimed, and the NOTIFY failed")
            }
        }
    }
    Ok(done)
}

/// The API's status and code for a refused claim.
pub(crate) fn status_of(r: ClaimRefusal) -> (StatusCode, &'static str) {
    use ClaimRefusal as R;
    match r {
        R::NoPhone => (StatusCode::NOT_FOUND, "no_phone"),
        R::NoUser => (StatusCode::NOT_FOUND, "no_user"),
        R::NotClaimable => (StatusCode::CONFLICT, "not_claimable"),
        R::PhoneLimit => (StatusCode::CONFLICT, "phone_limit"),
        R::NoPrimaryExtension => (StatusCode::UNPROCESSABLE_ENTITY, "no_primary_extension"),
        R::NoUserProfile => (StatusCode::UNPROCESSABLE_ENTITY, "no_user_profile"),
        R::NotAllowed => (StatusCode::FORBIDDEN, "not_allowed"),
        R::WrongSecret => (StatusCode::FORBIDDEN, "wrong_secret"),
        R::LockedOut => (StatusCode::TOO_MANY_REQUESTS, "locked_out"),
        R::Failed => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
    }
}

impl From<ClaimError> for ApiError {
    fn from(e: ClaimError) -> ApiError {
        let (status, code) = status_of(e.reason);
        if e.reason == ClaimRefusal::Failed {
            tracing::error!(error = %e.message, "a claim failed");
        }
        ApiError {
            status,
            detail: ErrorDetail {
                code,
                message: e.message,
                field: None,
                version: None,
                current: None,
                retry_after: None,
            },
        }
    }
}
