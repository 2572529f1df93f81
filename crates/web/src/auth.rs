//! The administrator behind a request: HTTP Basic or a bearer token.

use crate::error::ApiError;
use crate::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use base64::Engine;
use service::Actor;

/// An authenticated administrator.
pub struct Admin(pub Actor);

fn unauthorized(message: &str) -> ApiError {
    ApiError {
        status: StatusCode::UNAUTHORIZED,
        detail: crate::error::ErrorDetail {
            code: "unauthorized",
            message: message.into(),
            field: None,
            version: None,
            current: None,
        },
    }
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
            return Err(unauthorized("log in: send HTTP Basic credentials of an administrator, or Authorization: Bearer <token>"));
        };
        let value = value
            .to_str()
            .map_err(|_| unauthorized("the Authorization header is not text"))?;
        let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
        let actor = if scheme.eq_ignore_ascii_case("basic") {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(rest.trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| {
                    unauthorized("the Basic credentials are not base64 of user:password")
                })?;
            let (user, password) = decoded
                .split_once(':')
                .ok_or_else(|| unauthorized("the Basic credentials have no `:`"))?;
            state.service.authenticate_basic(user, password).await?
        } else if scheme.eq_ignore_ascii_case("bearer") {
            state.service.authenticate_token(rest.trim()).await?
        } else {
            return Err(unauthorized(
                "use the Basic or the Bearer authorization scheme",
            ));
        };
        Ok(Admin(actor))
    }
}
