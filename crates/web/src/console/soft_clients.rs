//! The soft-client settings page (docs/soft-clients.md): instant messaging, the maximum contact
//! list size and the TFTP servers every soft client shares; moving the users of a presence node
//! to another; CTI gateway servers made from the call-control systems.

use super::*;
use model::soft_client::{Rehome, SoftClientSettings};

#[derive(serde::Deserialize)]
pub(super) struct SettingsForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    instant_messaging: String,
    #[serde(default)]
    max_contact_list: String,
    #[serde(default)]
    tftp_servers: String,
}

#[derive(serde::Deserialize)]
pub(super) struct RehomeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    from_node: String,
    #[serde(default)]
    to_node: String,
}

#[derive(serde::Deserialize)]
pub(super) struct Csrf {
    #[serde(default)]
    csrf: String,
}

pub(super) async fn page(State(s): State<AppState>, c: Console) -> Response {
    show(&s, &c, None, None).await
}

pub(super) async fn save(
    State(s): State<AppState>,
    c: Console,
    Form(f): Form<SettingsForm>,
) -> Response {
    if let Some(r) = c.forged(&f.csrf) {
        return r;
    }
    let max = match f.max_contact_list.trim().parse::<u32>() {
        Ok(n) => n,
        Err(_) => {
            return show(
                &s,
                &c,
                None,
                Some(format!(
                    "The maximum contact list size is a number from 0 to 200, not “{}”.",
                    f.max_contact_list.trim()
                )),
            )
            .await
        }
    };
    let settings = SoftClientSettings {
        instant_messaging: f.instant_messaging == "on",
        max_contact_list: max,
        tftp_servers: f
            .tftp_servers
            .split([',', '\n'])
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .collect(),
    };
    match s
        .service
        .set_soft_client_settings(c.actor(), settings)
        .await
    {
        Ok(_) => {
            show(
                &s,
                &c,
                Some(
                    "Saved: soft clients get the new settings when they next read their file."
                        .into(),
                ),
                None,
            )
            .await
        }
        Err(e) => show(&s, &c, None, Some(e.to_string())).await,
    }
}

pub(super) async fn rehome(
    State(s): State<AppState>,
    c: Console,
    Form(f): Form<RehomeForm>,
) -> Response {
    if let Some(r) = c.forged(&f.csrf) {
        return r;
    }
    let r = Rehome {
        from_node: f.from_node,
        to_node: f.to_node,
    };
    match s.service.rehome_presence_users(c.actor(), r).await {
        Ok(done) => {
            show(
                &s,
                &c,
                Some(format!(
                    "{} user{} moved from {} to {}.",
                    done.users,
                    if done.users == 1 { "" } else { "s" },
                    done.from_node,
                    done.to_node
                )),
                None,
            )
            .await
        }
        Err(e) => show(&s, &c, None, Some(e.to_string())).await,
    }
}

pub(super) async fn cti_from_systems(
    State(s): State<AppState>,
    c: Console,
    Form(f): Form<Csrf>,
) -> Response {
    if let Some(r) = c.forged(&f.csrf) {
        return r;
    }
    match s.service.cti_servers_from_systems(c.actor()).await {
        Ok(m) if m.servers.is_empty() && m.profiles.is_empty() => {
            show(
                &s,
                &c,
                Some("Every call-control server has its CTI gateway server already.".into()),
                None,
            )
            .await
        }
        Ok(m) => {
            let said = format!(
                "Made CTI gateway servers: {}; profiles: {}.",
                if m.servers.is_empty() {
                    "none".into()
                } else {
                    m.servers.join(", ")
                },
                if m.profiles.is_empty() {
                    "none".into()
                } else {
                    m.profiles.join(", ")
                }
            );
            show(&s, &c, Some(said), None).await
        }
        Err(e) => show(&s, &c, None, Some(e.to_string())).await,
    }
}

async fn show(s: &AppState, c: &Console, done: Option<String>, error: Option<String>) -> Response {
    let settings = match s.service.soft_client_settings().await {
        Ok(v) => v,
        Err(e) => return c.failed(e),
    };
    let a = c.actor();
    render(
        "soft_clients.html",
        c.page(
            "soft-clients",
            "Soft-client settings",
            context! {
                settings,
                tftp => settings.tftp_servers.join(", "),
                may_settings => a.may("", "soft_client_settings", "update"),
                may_rehome => a.may("", "presence_subcluster", "update"),
                may_cti => a.may("", "cti_gateway_server", "create"),
                done,
                error,
            },
        ),
    )
}

#[derive(serde::Deserialize, Default)]
pub(super) struct DialTestForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    number: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    locale: String,
}

/// `/dial-rules/test`: what the rules make of a number, and which rule applied.
pub(super) async fn dial_test_page(c: Console) -> Response {
    dial_test(&c, &DialTestForm::default(), None, None)
}

pub(super) async fn dial_test_run(
    State(s): State<AppState>,
    c: Console,
    Form(f): Form<DialTestForm>,
) -> Response {
    if let Some(r) = c.forged(&f.csrf) {
        return r;
    }
    let t = model::dial_rules::DialTest {
        number: f.number.clone(),
        kind: if f.kind == "directory_lookup" {
            model::dial_rules::DialRuleKind::DirectoryLookup
        } else {
            model::dial_rules::DialRuleKind::Application
        },
        locale: Some(f.locale.trim().to_string()).filter(|l| !l.is_empty()),
    };
    match s.service.test_dial_rules(&t).await {
        Ok(r) => dial_test(&c, &f, Some(r), None),
        Err(e) => dial_test(&c, &f, None, Some(e.to_string())),
    }
}

fn dial_test(
    c: &Console,
    f: &DialTestForm,
    result: Option<model::dial_rules::DialResult>,
    error: Option<String>,
) -> Response {
    render(
        "dial_test.html",
        c.page(
            "dial-rules",
            "Try the dial rules",
            context! {
                number => f.number,
                kind => if f.kind.is_empty() { "application" } else { f.kind.as_str() },
                locale => if f.locale.is_empty() { "en_US" } else { f.locale.as_str() },
                result,
                error,
            },
        ),
    )
}
