//! Pieces of Cisco IP Phone XML objects the phone listener's services answer with.

use axum::http::header;
use axum::response::{IntoResponse, Response};

/// Text escaped for an XML element or attribute.
pub(crate) fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            c => o.push(c),
        }
    }
    o
}

/// An XML object for the phone, never cached.
pub(crate) fn xml(body: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/xml; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

/// A `CiscoIPPhoneText` page.
pub(crate) fn text(title: &str, prompt: &str, message: &str) -> Response {
    xml(format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CiscoIPPhoneText>\n  <Title>{}</Title>\n  <Prompt>{}</Prompt>\n  <Text>{}</Text>\n</CiscoIPPhoneText>\n",
        esc(title),
        esc(prompt),
        esc(message)
    ))
}

/// One `InputItem` of a `CiscoIPPhoneInput` (`flags`: `A` letters, `T` digits, `N` numbers,
/// `P` masked).
pub(crate) fn input_item(label: &str, param: &str, flags: &str) -> String {
    format!(
        "  <InputItem>\n    <DisplayName>{}</DisplayName>\n    <QueryStringParam>{param}</QueryStringParam>\n    <DefaultValue></DefaultValue>\n    <InputFlags>{flags}</InputFlags>\n  </InputItem>\n",
        esc(label)
    )
}
