//! The self-provisioning service on the phone's own screen: a Cisco IP Phone XML service on
//! the phone listener. An auto-registered phone's file points its services URL (enterprise
//! phones) or its XML application (MPP phones) here:
//!
//! - `GET /services/self-provisioning?device=SEP…`: a `CiscoIPPhoneInput` asking for the
//!   user or self-provisioning ID and, when the system's mode asks for one, the PIN (masked);
//! - the phone sends what was keyed to `…/claim?device=SEP…&user=…&pin=…`, which runs the claim
//!   and answers a `CiscoIPPhoneText` saying what happened; on success the phone is told to
//!   resync and comes back as the user's.

use crate::ip_phone_xml::{esc, input_item as item, xml};
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use model::{Secret, SelfProvisioningAuth};
use provision::resync::Resync;
use service::{Actor, Claim, Service};
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Clone)]
pub(crate) struct SelfService {
    pub service: Service,
    pub resync: Option<Arc<Resync>>,
}

const TITLE: &str = "Self-provisioning";

/// A `CiscoIPPhoneText` page.
fn text(prompt: &str, message: &str) -> Response {
    crate::ip_phone_xml::text(TITLE, prompt, message)
}

/// The phone's name, when it names an auto-registered phone, and its system's mode.
async fn phone_and_mode(
    s: &SelfService,
    q: &HashMap<String, String>,
) -> Result<(String, String, SelfProvisioningAuth), Response> {
    let device = q.get("device").map(|d| d.trim()).unwrap_or_default();
    if device.is_empty() {
        return Err(text(
            "Not available",
            "This service needs the phone's name (?device=SEP...).",
        ));
    }
    let phone = match s.service.phone(device).await {
        Ok(p) => p,
        Err(_) => {
            return Err(text(
                "Not available",
                &format!("There is no phone {device} in the directory."),
            ))
        }
    };
    if !phone.auto_registered {
        return Err(text(
            "Not available",
            &format!(
                "{} is already provisioned{}.",
                phone.name,
                phone
                    .owner_user_id
                    .as_deref()
                    .map(|u| format!(" for {u}"))
                    .unwrap_or_default()
            ),
        ));
    }
    let mode = s
        .service
        .system(&phone.system)
        .await
        .map(|sys| sys.settings.self_provisioning.authentication)
        .unwrap_or_default();
    Ok((phone.name, phone.system, mode))
}

/// `GET /services/self-provisioning?device=SEP…`: what to key in.
pub(crate) async fn form(
    State(s): State<SelfService>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let (name, _, mode) = match phone_and_mode(&s, &q).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let base = crate::phones::base_url(&headers, "");
    let secret = match mode {
        SelfProvisioningAuth::None => String::new(),
        SelfProvisioningAuth::EndUser => item("PIN", "pin", "NP"),
        SelfProvisioningAuth::EndUserOrAdminCode => item("PIN or authentication code", "pin", "NP"),
    };
    xml(format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CiscoIPPhoneInput>\n  <Title>{TITLE}</Title>\n  <Prompt>Make this phone yours</Prompt>\n  <URL>{}</URL>\n{}{}</CiscoIPPhoneInput>\n",
        esc(&format!("{base}/services/self-provisioning/claim?device={name}")),
        item("User ID or self-provisioning ID", "user", "A"),
        secret
    ))
}

/// `GET /services/self-provisioning/claim?device=…&user=…&pin=…`: the claim, and its result.
pub(crate) async fn claim(
    State(s): State<SelfService>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let (name, system, _) = match phone_and_mode(&s, &q).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let user = q.get("user").map(|u| u.trim()).unwrap_or_default();
    if user.is_empty() {
        return text("Not done", "Key in your user ID or self-provisioning ID.");
    }
    let c = Claim {
        phone: name.clone(),
        user: user.to_string(),
        secret: q
            .get("pin")
            .filter(|p| !p.is_empty())
            .map(|p| Secret::new(p.clone())),
        via: "phone",
        system: Some(system),
        authenticated: false,
    };
    match crate::claims::claim(
        &s.service,
        s.resync.as_ref(),
        &Actor::new("self-provisioning"),
        &c,
    )
    .await
    {
        Ok(done) => text(
            "Done",
            &format!(
                "This phone is now {}'s, extension {}. It restarts with its new settings.",
                done.user_id, done.extension
            ),
        ),
        Err(e) => text("Not done", &e.message),
    }
}
