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
            retry_after: None,
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
            let source = parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0.ip());
            state
                .service
                .authenticate_basic(user, password, source)
                .await?
        } else if scheme.eq_ignore_ascii_case("bearer") {
            state.service.authenticate_token(rest.trim()).await?
        } else {
            return Err(unauthorized(
                "use the Basic or the Bearer authorization scheme",
            ));
        };
        if parts.method == axum::http::Method::GET || parts.method == axum::http::Method::HEAD {
            if let Some(resource) = parts
                .uri
                .path()
                .strip_prefix("/api/v1/")
                .and_then(|p| resource_of(p.split('/').next().unwrap_or("")))
            {
                let system = parts.uri.query().and_then(|q| {
                    q.split('&')
                        .find_map(|kv| kv.strip_prefix("system="))
                        .map(|s| s.replace('+', " "))
                });
                match system.filter(|s| !s.is_empty()) {
                    Some(s) if !actor.may_read(&s, resource) => {
                        return Err(cannot_read(&actor, resource, Some(&s)))
                    }
                    _ if !may_see(&actor, resource) => {
                        return Err(cannot_read(&actor, resource, None))
                    }
                    _ => {}
                }
            }
        }
        Ok(Admin(actor))
    }
}

/// The resource of privileges that a collection of the API (`users`, `device-profiles`) or a
/// console page holds; `None` for those every administrator sees (their own tokens, the
/// catalogue, the audit log, imports).
pub(crate) fn resource_of(collection: &str) -> Option<&'static str> {
    Some(match collection {
        "users" | "people" => "user",
        "phones" | "status" | "logins" => "phone",
        "lines" => "line",
        "device-profiles" => "device_profile",
        "voicemail-subscribers" => "voicemail_subscriber",
        "classes-of-service" => "class_of_service",
        "distribution-lists" => "distribution_list",
        "restriction-tables" => "restriction_table",
        "subscriber-templates" => "subscriber_template",
        "systems" => "system",
        "services" => "service",
        "parameters" => "parameters",
        "templates" => "template",
        "admins" => "admin",
        "roles" => "role",
        "universal-device-templates" => "universal_device_template",
        "universal-line-templates" => "universal_line_template",
        "user-profiles" => "user_profile",
        "ldap-servers" => "ldap_server",
        "ldap-profiles" => "ldap_profile",
        "ldap-attribute-map" => "ldap_attribute_map",
        "presence-subclusters" => "presence_subcluster",
        "proxy-profiles" => "proxy_profile",
        "cti-gateway-servers" => "cti_gateway_server",
        "cti-gateway-profiles" => "cti_gateway_profile",
        "soft-client-settings" | "soft-clients" => "soft_client_settings",
        "dial-rules" => "dial_rule",
        "licensing" => "licence",
        "firmware" => "firmware",
        _ => return None,
    })
}

/// Resources whose records belong to no product system: only a privilege on `*` shows them.
const OF_NO_SYSTEM: &[&str] = &[
    "template",
    "admin",
    "role",
    "ldap_server",
    "ldap_profile",
    "ldap_attribute_map",
    "presence_subcluster",
    "proxy_profile",
    "cti_gateway_server",
    "cti_gateway_profile",
    "soft_client_settings",
    "dial_rule",
    "licence",
    "firmware",
];

/// Whether the actor may see some records of `resource`: of some system, or (for records of
/// no system) any.
pub(crate) fn may_see(actor: &Actor, resource: &str) -> bool {
    if OF_NO_SYSTEM.contains(&resource) {
        actor.may_read("", resource)
    } else {
        !actor
            .readable_systems(resource)
            .is_some_and(|s| s.is_empty())
    }
}

/// The refusal of a read the actor's roles do not give.
pub(crate) fn cannot_read(actor: &Actor, resource: &str, system: Option<&str>) -> ApiError {
    ApiError {
        status: StatusCode::FORBIDDEN,
        detail: crate::error::ErrorDetail {
            code: "forbidden",
            message: format!(
                "{} may not read {}{}: none of their roles gives a privilege on ({}, {resource})",
                actor.name,
                resource.replace('_', " "),
                system.map(|s| format!(" on {s}")).unwrap_or_default(),
                system.unwrap_or("*"),
            ),
            field: None,
            version: None,
            current: None,
            retry_after: None,
        },
    }
}

/// Narrows a find to the systems whose `resource` records the actor may see.
pub(crate) fn within(actor: &Actor, resource: &str, mut f: model::Find) -> model::Find {
    f.systems = actor.readable_systems(resource);
    f
}

/// Refuses a record of `system` the actor may not see.
pub(crate) fn readable(actor: &Actor, resource: &str, system: &str) -> Result<(), ApiError> {
    if actor.may_read(system, resource) {
        Ok(())
    } else {
        Err(cannot_read(actor, resource, Some(system)))
    }
}
