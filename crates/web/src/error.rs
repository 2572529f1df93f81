//! One mapping from errors to HTTP answers: JSON `{"error": {code, message, field, …}}`.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// `invalid`, `bad_request`, `not_found`, `conflict`, `stale`, `ambiguous`, `unauthorized`, `throttled` (too many failed log-ins: wait `retry_after_secs`), `forbidden`, `upstream` (a directory server did not answer), `internal`.
    pub code: &'static str,
    /// What is wrong and how to fix it.
    pub message: String,
    /// The offending field, as the request names it (`lines[1].button`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// For `stale`: the record's current version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    /// For `stale`: the record as it is stored now.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub current: Option<Box<serde_json::Value>>,
    /// For `throttled`: seconds to wait before trying again (also sent as `Retry-After`).
    #[serde(skip_serializing_if = "Option::is_none", rename = "retry_after_secs")]
    pub retry_after: Option<u32>,
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub detail: ErrorDetail,
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>, field: Option<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            detail: ErrorDetail {
                code: "bad_request",
                message: message.into(),
                field,
                version: None,
                current: None,
                retry_after: None,
            },
        }
    }
}

impl From<service::Error> for ApiError {
    fn from(e: service::Error) -> Self {
        use service::Error as E;
        let field = e.field().map(str::to_string);
        let message = e.to_string();
        let retry_after = match &e {
            E::Throttled { retry_after, .. } => {
                Some(u32::try_from(*retry_after).unwrap_or(u32::MAX))
            }
            E::Unavailable(_) => Some(2),
            _ => None,
        };
        let (status, code, version, current) = match e {
            E::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid", None, None),
            E::NotFound(_) => (StatusCode::NOT_FOUND, "not_found", None, None),
            E::Conflict { .. } => (StatusCode::CONFLICT, "conflict", None, None),
            E::Stale { version, current } => {
                (StatusCode::CONFLICT, "stale", Some(version), Some(current))
            }
            E::Ambiguous(_) => (StatusCode::CONFLICT, "ambiguous", None, None),
            E::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized", None, None),
            E::Throttled { .. } => (StatusCode::TOO_MANY_REQUESTS, "throttled", None, None),
            E::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "too_large", None, None),
            E::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden", None, None),
            E::Upstream(_) => (StatusCode::BAD_GATEWAY, "upstream", None, None),
            E::Unavailable(ref m) => {
                tracing::warn!(error = %m, "database unavailable");
                (StatusCode::SERVICE_UNAVAILABLE, "unavailable", None, None)
            }
            E::Internal(ref m) => {
                tracing::error!(error = %m, "internal error");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal", None, None)
            }
        };
        ApiError {
            status,
            detail: ErrorDetail {
                code,
                message,
                field,
                version,
                current,
                retry_after,
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let unauthorized = self.status == StatusCode::UNAUTHORIZED;
        let retry_after = self.detail.retry_after;
        let mut r = (self.status, Json(ErrorBody { error: self.detail })).into_response();
        if let Some(s) = retry_after {
            r.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(s));
        }
        if unauthorized {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Basic realm=\"dialtone\""),
            );
        }
        r
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
