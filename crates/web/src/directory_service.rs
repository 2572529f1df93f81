//! The corporate directory on the phone listener (docs/directory.md, "The phones' directory"):
//!
//! - (`GET /services`, the menu that leads here, is in `em_service`);
//! - `GET /services/directory`: a `CiscoIPPhoneInput` asking for the start of a first name, a
//!   last name or a number (a phone's `directoryURL` points here);
//! - `GET /services/directory/search?first=…&last=…&number=…&page=N`: a
//!   `CiscoIPPhoneDirectory` of at most 32 entries, with Dial, Previous and Next soft keys;
//! - `GET /directory/contacts?…&per_page=N`: the same search as JSON, for soft clients.
//!
//! Like the directory a phone reads from its call-control server, it asks for no credentials:
//! it shows what a desk phone's Directories button shows (names, numbers, mail, department).

use crate::console::urlencode;
use crate::ip_phone_xml::{esc, input_item, text, xml};
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use model::contacts::{ContactPage, ContactSearch, PHONE_PAGE};
use service::Service;

pub(crate) const TITLE: &str = "Corporate directory";

pub(crate) fn routes(service: Service) -> Router {
    Router::new()
        .route("/services/directory", get(form))
        .route("/services/directory/search", get(search))
        .route("/directory/contacts", get(contacts))
        .with_state(service)
}

/// `GET /services/directory`.
async fn form(headers: HeaderMap) -> Response {
    let base = crate::phones::base_url(&headers, "");
    xml(format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CiscoIPPhoneInput>\n  <Title>{TITLE}</Title>\n  <Prompt>Key in the start of a name or number</Prompt>\n  <URL>{}</URL>\n{}{}{}</CiscoIPPhoneInput>\n",
        esc(&format!("{base}/services/directory/search")),
        input_item("First name", "first", "A"),
        input_item("Last name", "last", "A"),
        input_item("Number", "number", "T"),
    ))
}

/// The search a query string asks for (numbers that do not parse are left at their default,
/// which the search then checks).
fn asked(qs: &std::collections::HashMap<String, String>, per_page: u32) -> ContactSearch {
    let get = |k: &str| qs.get(k).cloned().unwrap_or_default();
    ContactSearch {
        first: get("first"),
        last: get("last"),
        number: get("number"),
        system: qs.get("system").cloned(),
        page: get("page").trim().parse().unwrap_or(1),
        per_page: qs
            .get("per_page")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or(per_page),
    }
}

/// `GET /services/directory/search`.
async fn search(
    State(service): State<Service>,
    headers: HeaderMap,
    Query(qs): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let s = asked(&qs, PHONE_PAGE);
    let s = ContactSearch {
        per_page: PHONE_PAGE,
        ..s
    };
    let found = match service.search_contacts(&s, true).await {
        Ok(p) => p,
        Err(service::Error::Invalid(i)) => return text(TITLE, "Cannot search", &i.message),
        Err(e) => {
            tracing::error!(error = %e, "directory search failed");
            return text(
                TITLE,
                "Not available",
                "The directory cannot be searched now.",
            );
        }
    };
    let base = crate::phones::base_url(&headers, "");
    xml(directory(&base, &s, &found))
}

/// The `CiscoIPPhoneDirectory` of one page of a search.
fn directory(base: &str, s: &ContactSearch, found: &ContactPage) -> String {
    let page_url = |page: u32| {
        let mut u = format!("{base}/services/directory/search?page={page}");
        for (k, v) in [
            ("first", &s.first),
            ("last", &s.last),
            ("number", &s.number),
        ] {
            if !v.trim().is_empty() {
                u.push_str(&format!("&{k}={}", urlencode(v.trim())));
            }
        }
        u
    };
    let first = (found.page - 1) * found.per_page + 1;
    let prompt = match found.contacts.len() as u32 {
        0 if found.page == 1 => "No one found".to_string(),
        0 => "No more entries".to_string(),
        n => format!(
            "Records {first} to {}{}",
            first + n - 1,
            if found.more { " (more follow)" } else { "" }
        ),
    };
    let mut o = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CiscoIPPhoneDirectory>\n  <Title>{TITLE}</Title>\n  <Prompt>{}</Prompt>\n",
        esc(&prompt)
    );
    for c in &found.contacts {
        o.push_str(&format!(
            "  <DirectoryEntry>\n    <Name>{}</Name>\n    <Telephone>{}</Telephone>\n  </DirectoryEntry>\n",
            esc(&c.name),
            esc(&c.number)
        ));
    }
    let mut keys = vec![("Dial", "SoftKey:Dial".to_string())];
    if found.page > 1 {
        keys.push(("Previous", page_url(found.page - 1)));
    }
    if found.more {
        keys.push(("Next", page_url(found.page + 1)));
    }
    keys.push(("Exit", "SoftKey:Exit".to_string()));
    for (i, (name, url)) in keys.iter().enumerate() {
        o.push_str(&format!(
            "  <SoftKeyItem>\n    <Name>{name}</Name>\n    <URL>{}</URL>\n    <Position>{}</Position>\n  </SoftKeyItem>\n",
            esc(url),
            i + 1
        ));
    }
    o.push_str("</CiscoIPPhoneDirectory>\n");
    o
}

/// `GET /directory/contacts`: for soft clients (every active user, with a number or not).
async fn contacts(
    State(service): State<Service>,
    Query(qs): Query<std::collections::HashMap<String, String>>,
) -> Result<Json<ContactPage>, crate::ApiError> {
    if let Some((k, _)) = qs.iter().find(|(k, _)| {
        !matches!(
            k.as_str(),
            "first" | "last" | "number" | "system" | "page" | "per_page"
        )
    }) {
        return Err(crate::ApiError::bad_request(
            format!("unknown search field `{k}`: first, last, number, system, page and per_page are taken"),
            Some(k.clone()),
        ));
    }
    for k in ["page", "per_page"] {
        if let Some(v) = qs.get(k) {
            if v.trim().parse::<u32>().is_err() {
                return Err(crate::ApiError::bad_request(
                    format!("{k} is a whole number, not `{v}`"),
                    Some(k.into()),
                ));
            }
        }
    }
    Ok(Json(
        service
            .search_contacts(&asked(&qs, PHONE_PAGE), false)
            .await?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::contacts::Contact;

    fn contact(name: &str, number: &str) -> Contact {
        Contact {
            user_id: name.to_lowercase(),
            system: "cucm".into(),
            name: name.into(),
            first_name: String::new(),
            last_name: String::new(),
            department: String::new(),
            mail: String::new(),
            number: number.into(),
            extension: number.into(),
            photo_url: None,
        }
    }

    #[test]
    fn a_page_links_its_neighbours_and_escapes_names() {
        let s = ContactSearch {
            last: "O'Br".into(),
            page: 2,
            per_page: 2,
            ..ContactSearch::default()
        };
        let found = ContactPage {
            contacts: vec![contact("Ann O'Brien", "1001"), contact("Bo & Co", "1002")],
            page: 2,
            per_page: 2,
            more: true,
            number_searched: None,
            lookup_rule: None,
        };
        let x = directory("http://p:6970", &s, &found);
        assert!(
            x.contains("<Prompt>Records 3 to 4 (more follow)</Prompt>"),
            "{x}"
        );
        assert!(x.contains("<Name>Ann O&apos;Brien</Name>"), "{x}");
        assert!(x.contains("<Name>Bo &amp; Co</Name>"), "{x}");
        assert!(
            x.contains("<URL>http://p:6970/services/directory/search?page=3&amp;last=O%27Br</URL>"),
            "{x}"
        );
        assert!(x.contains("search?page=1&amp;last=O%27Br"), "{x}");
        let last = ContactPage {
            contacts: vec![],
            page: 1,
            per_page: 2,
            more: false,
            number_searched: None,
            lookup_rule: None,
        };
        let x = directory("http://p:6970", &ContactSearch::default(), &last);
        assert!(x.contains("No one found") && !x.contains("Next"), "{x}");
    }
}
