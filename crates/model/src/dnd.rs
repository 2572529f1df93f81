//! Do Not Disturb (seed 003, "Do Not Disturb Behavior", Table 2-2): what happens to a call on a
//! line, given the DND mode of every device the line appears on and the line's forwards.
//!
//! The table's rows, as rules:
//! - Soft-phone mode (every endpoint is a soft client) set to DND: calls are rejected and go to
//!   the call forward no answer (CFNA) target; with none, the caller hears a busy tone.
//! - Desk-phone mode with DND Call Reject: the phone is not alerted; when every endpoint
//!   sharing the line rejects, calls go to the call forward busy (CFB) target.
//! - Desk-phone mode with DND Ringer Off: the call is shown without an audio alert and can be
//!   answered; unanswered it goes to CFNA; with none, it is rejected with a busy tone.
//! - Shared lines, both modes: endpoints not in call reject are alerted and the caller hears
//!   ringing.

use crate::DndMode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A device the line appears on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub device: String,
    pub model: String,
    pub soft_client: bool,
    pub dnd: DndMode,
}

/// The line's forwards for the kind of caller asked about (empty: not configured).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Forwards {
    pub all: String,
    pub busy: String,
    pub no_answer: String,
}

/// How a device is alerted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Alert {
    /// It rings.
    Audible,
    /// DND ringer off: the call is shown without an audio alert, and can be answered.
    Silent,
    /// DND call reject: nothing is shown.
    None,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EndpointOutcome {
    pub device: String,
    pub model: String,
    pub dnd: DndMode,
    pub alert: Alert,
}

/// What happens first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// At least one endpoint is alerted; the caller hears ringing.
    Rings,
    /// Sent on to `target` at once.
    Forwarded,
    /// Rejected: the caller hears a busy tone.
    Busy,
}

/// What happens when nobody answers a call that rings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Unanswered {
    /// Diverted to the CFNA target.
    Forwarded,
    /// Rejected with a busy tone (ringer off and no CFNA target).
    Busy,
    /// It keeps ringing until the caller hangs up.
    KeepsRinging,
}

/// The answer of the call outcome explainer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CallOutcome {
    pub pattern: String,
    pub partition: String,
    pub system: String,
    /// `internal` or `external`: which of the line's forwards applied.
    pub caller: String,
    /// `soft_phone` when every endpoint is a soft client, else `desk_phone`.
    pub mode: String,
    pub endpoints: Vec<EndpointOutcome>,
    pub outcome: Outcome,
    /// Where the call is forwarded (outcome `forwarded`).
    pub target: Option<String>,
    /// What happens to a call that rings and is not answered.
    pub unanswered: Option<Unanswered>,
    /// Where an unanswered call goes (unanswered `forwarded`).
    pub unanswered_target: Option<String>,
    /// The call's path in sentences, naming the rule of the seed's table that applied.
    pub explanation: Vec<String>,
}

/// A user's DND, set or cleared on every device associated with them (seed 003: "Cisco
/// Unified Presence passes the DND setting … to other devices associated with this user";
/// clearing it clears every endpoint "even if the endpoint is shared by other users").
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserDnd {
    pub dnd: DndMode,
}

/// What setting a user's DND did.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UserDndSet {
    pub user_id: String,
    pub system: String,
    pub dnd: DndMode,
    /// Every phone associated with the user (controlled or owned), now in that mode.
    pub devices: Vec<String>,
    /// Those whose mode changed: each is sent a resync.
    pub changed: Vec<String>,
}

fn set(s: &str) -> Option<String> {
    Some(s.trim().to_string()).filter(|s| !s.is_empty())
}

/// What happens to a call on a line whose endpoints and forwards are these. The caller fills
/// in `pattern`, `partition`, `system` and `caller` of the answer.
pub fn call_outcome(endpoints: &[Endpoint], f: &Forwards) -> CallOutcome {
    let desk = endpoints.iter().any(|e| !e.soft_client);
    let mode = if desk { "desk_phone" } else { "soft_phone" };
    let shown: Vec<EndpointOutcome> = endpoints
        .iter()
        .map(|e| EndpointOutcome {
            device: e.device.clone(),
            model: e.model.clone(),
            dnd: e.dnd,
            alert: match e.dnd {
                DndMode::Off => Alert::Audible,
                DndMode::RingerOff => Alert::Silent,
                DndMode::CallReject => Alert::None,
            },
        })
        .collect();
    let mut o = CallOutcome {
        pattern: String::new(),
        partition: String::new(),
        system: String::new(),
        caller: String::new(),
        mode: mode.into(),
        endpoints: shown,
        outcome: Outcome::Busy,
        target: None,
        unanswered: None,
        unanswered_target: None,
        explanation: Vec::new(),
    };
    let why = &mut o.explanation;
    if let Some(t) = set(&f.all) {
        why.push(format!(
            "Call Forward All is set: every call goes to {t} at once, whatever the endpoints' DND says."
        ));
        o.outcome = Outcome::Forwarded;
        o.target = Some(t);
        return o;
    }
    if endpoints.is_empty() {
        match set(&f.no_answer) {
            Some(t) => {
                why.push(format!(
                    "No device shows the line: the call goes to the CFNA target {t}."
                ));
                o.outcome = Outcome::Forwarded;
                o.target = Some(t);
            }
            None => why.push(
                "No device shows the line and no CFNA target is set: the caller hears a busy tone."
                    .into(),
            ),
        }
        return o;
    }
    let alerted: Vec<&EndpointOutcome> = o
        .endpoints
        .iter()
        .filter(|e| e.alert != Alert::None)
        .collect();
    if alerted.is_empty() {
        // Every endpoint rejects.
        let (rule, forward, name) = if desk {
            (
                "Desk-phone mode with DND Call Reject on every endpoint sharing the line",
                &f.busy,
                "call forward busy (CFB)",
            )
        } else {
            (
                "Soft-phone mode set to DND on every endpoint",
                &f.no_answer,
                "call forward no answer (CFNA)",
            )
        };
        match set(forward) {
            Some(t) => {
                why.push(format!("{rule}: no endpoint is alerted, and the call goes to the {name} target {t}."));
                o.outcome = Outcome::Forwarded;
                o.target = Some(t);
            }
            None => why.push(format!(
                "{rule}: no endpoint is alerted and no {name} target is set: the call is rejected and the caller hears a busy tone."
            )),
        }
        return o;
    }
    o.outcome = Outcome::Rings;
    let audible = alerted.iter().any(|e| e.alert == Alert::Audible);
    let names = |a: Alert| {
        o.endpoints
            .iter()
            .filter(|e| e.alert == a)
            .map(|e| e.device.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (ringing, silent, rejecting) = (
        names(Alert::Audible),
        names(Alert::Silent),
        names(Alert::None),
    );
    if !rejecting.is_empty() {
        why.push(format!(
            "Shared line: {rejecting} in DND Call Reject {} not alerted; the endpoints not in call reject are, and the caller hears ringing.",
            if rejecting.contains(", ") { "are" } else { "is" }
        ));
    } else {
        why.push("The caller hears ringing.".into());
    }
    if !ringing.is_empty() {
        why.push(format!(
            "{ringing} ring{}.",
            if ringing.contains(", ") { "" } else { "s" }
        ));
    }
    if !silent.is_empty() {
        why.push(format!(
            "DND Ringer Off on {silent}: the call is shown without an audio alert, and can be answered."
        ));
    }
    match (set(&f.no_answer), audible) {
        (Some(t), _) => {
            why.push(format!("Unanswered, the call goes to the CFNA target {t}."));
            o.unanswered = Some(Unanswered::Forwarded);
            o.unanswered_target = Some(t);
        }
        (None, false) => {
            why.push("Unanswered, with no CFNA target set, the call is rejected and the caller hears a busy tone.".into());
            o.unanswered = Some(Unanswered::Busy);
        }
        (None, true) => {
            why.push(
                "No CFNA target is set: unanswered, it rings until the caller hangs up.".into(),
            );
            o.unanswered = Some(Unanswered::KeepsRinging);
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(device: &str, soft: bool, dnd: DndMode) -> Endpoint {
        Endpoint {
            device: device.into(),
            model: if soft { "CUPC" } else { "7960" }.into(),
            soft_client: soft,
            dnd,
        }
    }

    fn fw(busy: &str, no_answer: &str) -> Forwards {
        Forwards {
            all: String::new(),
            busy: busy.into(),
            no_answer: no_answer.into(),
        }
    }

    #[test]
    fn soft_phone_mode_in_dnd_goes_to_cfna_or_busy() {
        let upc = [e("UPCANN", true, DndMode::CallReject)];
        let o = call_outcome(&upc, &fw("7000", "8000"));
        assert_eq!(
            (o.outcome, o.target.as_deref()),
            (Outcome::Forwarded, Some("8000"))
        );
        assert_eq!(o.mode, "soft_phone");
        let o = call_outcome(&upc, &fw("7000", ""));
        assert_eq!((o.outcome, o.target), (Outcome::Busy, None));
        assert!(o.explanation[0].contains("busy tone"));
    }

    #[test]
    fn shared_lines_alert_the_endpoints_not_rejecting() {
        let both = [
            e("UPCANN", true, DndMode::CallReject),
            e("SEP1", false, DndMode::Off),
        ];
        let o = call_outcome(&both, &fw("", "8000"));
        assert_eq!(o.outcome, Outcome::Rings);
        assert_eq!(o.endpoints[0].alert, Alert::None);
        assert_eq!(o.endpoints[1].alert, Alert::Audible);
        assert!(o.explanation[0].contains("UPCANN in DND Call Reject is not alerted"));
    }

    #[test]
    fn every_endpoint_rejecting_goes_to_cfb_in_desk_phone_mode_and_cfna_in_soft_phone_mode() {
        let desk = [
            e("UPCANN", true, DndMode::CallReject),
            e("SEP1", false, DndMode::CallReject),
        ];
        let o = call_outcome(&desk, &fw("7000", "8000"));
        assert_eq!(
            (o.mode.as_str(), o.target.as_deref()),
            ("desk_phone", Some("7000"))
        );
        let o = call_outcome(&desk, &fw("", "8000"));
        assert_eq!(o.outcome, Outcome::Busy);
        let soft = [
            e("UPCANN", true, DndMode::CallReject),
            e("UPCBOB", true, DndMode::CallReject),
        ];
        let o = call_outcome(&soft, &fw("7000", "8000"));
        assert_eq!(o.target.as_deref(), Some("8000"));
    }

    #[test]
    fn ringer_off_shows_the_call_silently_then_cfna_or_busy() {
        let phone = [e("SEP1", false, DndMode::RingerOff)];
        let o = call_outcome(&phone, &fw("7000", "8000"));
        assert_eq!(
            (o.outcome, o.endpoints[0].alert),
            (Outcome::Rings, Alert::Silent)
        );
        assert_eq!(
            (o.unanswered, o.unanswered_target.as_deref()),
            (Some(Unanswered::Forwarded), Some("8000"))
        );
        let o = call_outcome(&phone, &fw("7000", ""));
        assert_eq!(o.unanswered, Some(Unanswered::Busy));
        let o = call_outcome(&[e("SEP1", false, DndMode::Off)], &fw("", ""));
        assert_eq!(o.unanswered, Some(Unanswered::KeepsRinging));
    }

    #[test]
    fn forward_all_goes_first() {
        let mut f = fw("7000", "8000");
        f.all = "9000".into();
        let o = call_outcome(&[e("SEP1", false, DndMode::Off)], &f);
        assert_eq!(
            (o.outcome, o.target.as_deref()),
            (Outcome::Forwarded, Some("9000"))
        );
    }
}
