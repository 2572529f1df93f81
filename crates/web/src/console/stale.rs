//! The page of an edit saved over someone else's: both versions, field by field.

use super::*;

pub(super) fn row(label: &str, yours: &str, now: &str) -> Value {
    context! { label, yours, now }
}

pub(super) fn hidden(name: &str, value: &str) -> Value {
    context! { name, value }
}

/// The answer to a save whose record someone else saved meanwhile: both versions side by side,
/// "save mine over it" (against the version now stored) or "keep what is stored".
#[allow(clippy::too_many_arguments)]
pub(super) fn stale(
    c: &Console,
    here: &str,
    noun: &str,
    name: &str,
    your_version: i64,
    now_version: i64,
    rows: Vec<Value>,
    hidden: Vec<Value>,
    path: &str,
) -> Response {
    (
        StatusCode::CONFLICT,
        render(
            "stale.html",
            c.page(
                here,
                &format!("{name} changed"),
                context! { name, noun, your_version, now_version, rows, hidden, action => path, back => path },
            ),
        ),
    )
        .into_response()
}
