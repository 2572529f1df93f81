//! Extension mobility and the services menu on the phone listener (docs/phones.md,
//! "Extension mobility"), as Cisco IP Phone XML objects:
//!
//! - `GET /services?device=NAME`: a `CiscoIPPhoneMenu` of the services the phone subscribes to
//!   (those of the device profile it runs), parameters filled, then Extension Mobility (when its
//!   model has it) and the corporate directory; without `device`, the directory alone;
//! - `GET /services/em?device=NAME`: who is logged in, with a Log out soft key; or a
//!   `CiscoIPPhoneInput` asking for the user ID and the PIN (masked);
//! - `GET /services/em/login?device=NAME&user=…&pin=…` and `GET /services/em/logout?device=NAME`.
//!
//! A login needs the user's PIN (three wrong ones lock the user and the phone out for a
//! while); the phone is told to resync by the change itself.

use crate::ip_phone_xml::{esc, input_item, text, xml};
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use model::extension_mobility::LoginRequest;
use service::{Actor, Service};
use std::collections::HashMap;

const TITLE: &str = "Extension Mobility";

pub(crate) fn routes(service: Service) -> Router {
    Router::new()
        .route("/services", get(menu))
        .route("/services/em", get(em))
        .route("/services/em/login", get(login))
        .route("/services/em/logout", get(logout))
        .with_state(service)
}

type Qs = Query<HashMap<String, String>>;

fn device(q: &HashMap<String, String>) -> String {
    q.get("device").cloned().unwrap_or_default()
}

fn menu_item(name: &str, url: &str) -> String {
    format!(
        "  <MenuItem>\n    <Name>{}</Name>\n    <URL>{}</URL>\n  </MenuItem>\n",
        esc(name),
        esc(url)
    )
}

/// `GET /services[?device=NAME]`.
async fn menu(State(s): State<Service>, headers: HeaderMap, Query(q): Qs) -> Response {
    let base = crate::phones::base_url(&headers, "");
    let name = device(&q);
    let mut items = String::new();
    if !name.is_empty() {
        match s.device_menu(&name).await {
            Ok(m) => {
                for svc in &m.services {
                    items.push_str(&menu_item(&svc.name, &svc.url));
                }
                if m.extension_mobility {
                    let url = format!(
                        "{base}/services/em?device={}",
                        crate::console::urlencode(&m.device)
                    );
                    items.push_str(&menu_item(TITLE, &url));
                }
            }
            Err(e) => return text("Services", "Not found", &e.to_string()),
        }
    }
    items.push_str(&menu_item(
        crate::directory_service::TITLE,
        &format!("{base}/services/directory"),
    ));
    xml(format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CiscoIPPhoneMenu>\n  <Title>Services</Title>\n  <Prompt>Select a service</Prompt>\n{items}</CiscoIPPhoneMenu>\n"
    ))
}

/// `GET /services/em?device=NAME`.
async fn em(State(s): State<Service>, headers: HeaderMap, Query(q): Qs) -> Response {
    let base = crate::phones::base_url(&headers, "");
    let name = device(&q);
    let st = match s.login_state(&name).await {
        Ok(st) => st,
        Err(e) => return text(TITLE, "Not found", &e.to_string()),
    };
    let dev = crate::console::urlencode(&st.phone);
    match &st.login {
        Some(l) => xml(format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CiscoIPPhoneText>\n  <Title>{TITLE}</Title>\n  <Prompt>Logged in</Prompt>\n  <Text>{}</Text>\n  <SoftKeyItem>\n    <Name>Log out</Name>\n    <URL>{}</URL>\n    <Position>1</Position>\n  </SoftKeyItem>\n  <SoftKeyItem>\n    <Name>Exit</Name>\n    <URL>SoftKey:Exit</URL>\n    <Position>3</Position>\n  </SoftKeyItem>\n</CiscoIPPhoneText>\n",
            esc(&format!("{} is logged in on this phone ({}).", l.user_id, l.profile)),
            esc(&format!("{base}/services/em/logout?device={dev}")),
        )),
        None => xml(format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CiscoIPPhoneInput>\n  <Title>{TITLE}</Title>\n  <Prompt>Log in with your user ID and PIN</Prompt>\n  <URL>{}</URL>\n{}{}</CiscoIPPhoneInput>\n",
            esc(&format!("{base}/services/em/login?device={dev}")),
            input_item("User ID", "user", "A"),
            input_item("PIN", "pin", "NP"),
        )),
    }
}

/// `GET /services/em/login?device=NAME&user=…&pin=…`.
async fn login(State(s): State<Service>, Query(q): Qs) -> Response {
    let name = device(&q);
    let user = q.get("user").cloned().unwrap_or_default();
    let req = LoginRequest {
        user_id: user.clone(),
        pin: model::Secret::new(q.get("pin").cloned().unwrap_or_default()),
    };
    // The audit log names who tried: what was keyed, cut short (it may be anything).
    let who: String = user.chars().take(64).collect();
    let actor = Actor::new(format!("{who} on {name}"));
    match s.login(&actor, &name, &req).await {
        Ok(st) => {
            let profile = st.login.map(|l| l.profile).unwrap_or_default();
            text(
                TITLE,
                "Logged in",
                &format!("Welcome, {user}: the phone restarts with {profile}."),
            )
        }
        Err(e) => text(TITLE, "Not logged in", &e.to_string()),
    }
}

/// `GET /services/em/logout?device=NAME`.
async fn logout(State(s): State<Service>, Query(q): Qs) -> Response {
    let name = device(&q);
    let actor = Actor::new(format!("phone {name}"));
    match s.logout(&actor, &name).await {
        Ok(_) => text(
            TITLE,
            "Logged out",
            "The phone restarts with its own settings.",
        ),
        Err(e) => text(TITLE, "Not logged out", &e.to_string()),
    }
}
