//! The phone pages' own routes.

use super::*;

/// An error with the field it is about, in the words of the form.
pub(super) fn field_message(e: &service::Error) -> String {
    let text = e.to_string();
    match e.field() {
        Some(f) if !f.is_empty() && !text.starts_with(f) => {
            format!("{}: {text}", f.replace('_', " "))
        }
        _ => text,
    }
}

/// The models of the device type catalogue (with `profiles`, those that have device profiles).
pub(super) fn models(s: &AppState, profiles: bool) -> Vec<String> {
    let mut m: Vec<String> = s
        .service
        .catalog()
        .devices()
        .filter(|t| !profiles || t.device_profile)
        .map(|t| t.model.clone())
        .collect();
    m.sort();
    m
}
