//! The lists of device profiles, voicemail subscribers and product systems.

use super::*;
use model::soft_client::ClientKind;

pub(super) fn links(items: impl IntoIterator<Item = (String, String)>) -> Vec<Value> {
    items
        .into_iter()
        .map(|(href, text)| context! { href, text })
        .collect()
}

pub(super) async fn voicemail_subscribers(
    State(s): State<AppState>,
    c: Console,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let f = crate::auth::within(
        c.actor(),
        "voicemail_subscriber",
        find_of(&q, &["class_of_service", "extension"]),
    );
    let listed = s.service.find_voicemail_subscribers(&f).await.map(|p| Listed {
        headers: &["Alias", "Name", "System", "Extension", "Class of service", "Conflict"],
        total: p.total,
        total_exact: p.total_exact,
        rows: p
            .items
            .into_iter()
            .map(|v| {
                let conflict = conflicts_of(&v.conflicts);
                context! {
                    href => format!("/voicemail-subscribers/{}?system={}", urlencode(&v.alias), urlencode(&v.system)),
                    conflict => (!conflict.is_empty()).then(|| conflict.clone()),
                    cells => vec![v.alias, format!("{} {}", v.first_name, v.last_name), v.system, v.extension, v.class_of_service, conflict],
                }
            })
            .collect(),
    });
    list_page_with(
        &c,
        Words {
            here: "voicemail-subscribers",
            title: "Voicemail subscribers",
            noun: "subscribers",
            placeholder: "Alias or name starts with…",
            action: c
                .actor()
                .may_somewhere("voicemail_subscriber", "create")
                .then_some(("/voicemail-subscribers/new", "Add a subscriber")),
            filters: vec![filter(&q, "class_of_service", "Class of service", &[])],
            delete_found: None,
            extra: None,
        },
        &q,
        &f,
        listed,
        Extras {
            sorts: &[
                ("Name", "name"),
                ("Alias", "alias"),
                ("Extension", "extension"),
            ],
            ..Default::default()
        },
    )
}

pub(super) async fn systems(State(s): State<AppState>, c: Console) -> Response {
    let listed = s.service.systems().await.map(|all| Listed {
        headers: &["Name", "Kind", "Description", "Version"],
        total: all.len() as i64,
        total_exact: true,
        rows: all
            .into_iter()
            .map(|x| context! { href => format!("/systems/{}", urlencode(&x.name)), cells => vec![x.name, x.kind.as_str().replace('_', "-"), x.description, x.version.to_string()] })
            .collect(),
    });
    let q = BTreeMap::new();
    let f = find_of(&q, &[]);
    list_page(
        &c,
        Words {
            here: "systems",
            title: "Product systems",
            noun: "systems",
            placeholder: "",
            action: c
                .actor()
                .may_somewhere("system", "create")
                .then_some(("/systems/new", "Add a product system")),
            filters: Vec::new(),
            delete_found: None,
            extra: None,
        },
        &q,
        &f,
        listed,
    )
}

/// The words of a self-provisioning list; the three lists link to one another in the title.
fn self_provisioning_words(
    c: &Console,
    here: &'static str,
    title: &'static str,
    resource: &str,
    add: (&'static str, &'static str),
) -> Words {
    Words {
        here,
        title,
        noun: "records",
        placeholder: "Name starts with…",
        action: c.actor().may_somewhere(resource, "create").then_some(add),
        filters: Vec::new(),
        delete_found: None,
        extra: None,
    }
}

fn used_by(used: &[String]) -> String {
    if used.is_empty() {
        "nothing".into()
    } else {
        used.join(", ")
    }
}

pub(super) async fn universal_device_templates(
    State(s): State<AppState>,
    c: Console,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let f = crate::auth::within(c.actor(), "universal_device_template", find_of(&q, &[]));
    let listed = s.service.find_device_templates(&f).await.map(|p| Listed {
        headers: &["Name", "System", "Device pool", "Used by"],
        total: p.total,
        total_exact: p.total_exact,
        rows: p
            .items
            .into_iter()
            .map(|t| context! {
                href => format!("/universal-device-templates/{}?system={}", urlencode(&t.name), urlencode(&t.system)),
                cells => vec![t.name, t.system, t.device.device_pool, used_by(&t.used_by)],
            })
            .collect(),
    });
    let w = self_provisioning_words(
        &c,
        "universal-device-templates",
        "Universal device templates",
        "universal_device_template",
        ("/universal-device-templates/new", "Add a device template"),
    );
    list_page(&c, w, &q, &f, listed)
}

pub(super) async fn universal_line_templates(
    State(s): State<AppState>,
    c: Console,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let f = crate::auth::within(c.actor(), "universal_line_template", find_of(&q, &[]));
    let listed = s.service.find_line_templates(&f).await.map(|p| Listed {
        headers: &["Name", "System", "Partition", "Used by"],
        total: p.total,
        total_exact: p.total_exact,
        rows: p
            .items
            .into_iter()
            .map(|t| context! {
                href => format!("/universal-line-templates/{}?system={}", urlencode(&t.name), urlencode(&t.system)),
                cells => vec![t.name, t.system, t.line.partition, used_by(&t.used_by)],
            })
            .collect(),
    });
    let w = self_provisioning_words(
        &c,
        "universal-line-templates",
        "Universal line templates",
        "universal_line_template",
        ("/universal-line-templates/new", "Add a line template"),
    );
    list_page(&c, w, &q, &f, listed)
}

pub(super) async fn user_profiles(
    State(s): State<AppState>,
    c: Console,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let f = crate::auth::within(c.actor(), "user_profile", find_of(&q, &[]));
    let listed = s.service.find_user_profiles(&f).await.map(|p| Listed {
        headers: &[
            "Name",
            "System",
            "Device template",
            "Line template",
            "Self-provisioning",
            "Phone limit",
            "Users",
        ],
        total: p.total,
        total_exact: p.total_exact,
        rows: p
            .items
            .into_iter()
            .map(|u| context! {
                href => format!("/user-profiles/{}?system={}", urlencode(&u.name), urlencode(&u.system)),
                cells => vec![
                    u.name,
                    u.system,
                    u.device_template.unwrap_or_default(),
                    u.line_template.unwrap_or_default(),
                    if u.allow_self_provisioning { "allowed" } else { "not allowed" }.to_string(),
                    u.phone_limit.to_string(),
                    u.users.to_string(),
                ],
            })
            .collect(),
    });
    let w = self_provisioning_words(
        &c,
        "user-profiles",
        "User profiles",
        "user_profile",
        ("/user-profiles/new", "Add a user profile"),
    );
    list_page(&c, w, &q, &f, listed)
}

pub(super) async fn ldap_servers(
    State(s): State<AppState>,
    c: Console,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let f = find_of(&q, &[]);
    let listed = s.service.find_ldap_servers(&f).await.map(|p| Listed {
        headers: &["Name", "Host", "Port", "Type", "Protocol", "Used by"],
        total: p.total,
        total_exact: p.total_exact,
        rows: p
            .items
            .into_iter()
            .map(|x| context! {
                href => format!("/ldap-servers/{}", urlencode(&x.name)),
                cells => vec![x.name, x.host, x.port.to_string(), x.directory_type.as_str().replace('_', " "),
                    x.security.as_str().replace('_', " "), used_by(&x.used_by)],
            })
            .collect(),
    });
    let w = Words {
        here: "ldap-servers",
        title: "LDAP servers",
        noun: "servers",
        placeholder: "Name starts with…",
        action: c
            .actor()
            .may_somewhere("ldap_server", "create")
            .then_some(("/ldap-servers/new", "Add an LDAP server")),
        filters: Vec::new(),
        delete_found: None,
        extra: None,
    };
    list_page(&c, w, &q, &f, listed)
}

pub(super) async fn ldap_profiles(
    State(s): State<AppState>,
    c: Console,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let f = find_of(&q, &[]);
    let listed = s.service.find_ldap_profiles(&f).await.map(|p| Listed {
        headers: &["Name", "Primary server", "Backups", "Search context", "Default", "Users"],
        total: p.total,
        total_exact: p.total_exact,
        rows: p
            .items
            .into_iter()
            .map(|x| context! {
                href => format!("/ldap-profiles/{}", urlencode(&x.name)),
                cells => vec![x.name, x.primary_server, x.backup_servers.join(", "), x.search_context,
                    if x.default_profile { "default" } else { "" }.to_string(), x.users.to_string()],
            })
            .collect(),
    });
    let w = Words {
        here: "ldap-profiles",
        title: "LDAP profiles",
        noun: "profiles",
        placeholder: "Name starts with…",
        action: c
            .actor()
            .may_somewhere("ldap_profile", "create")
            .then_some(("/ldap-profiles/new", "Add an LDAP profile")),
        filters: Vec::new(),
        delete_found: None,
        extra: None,
    };
    list_page(&c, w, &q, &f, listed)
}

/// A list's cells of one record.
type Cells = fn(&serde_json::Value) -> Vec<String>;

/// The list of one kind of the records soft clients learn of.
pub(super) async fn client_records(
    s: AppState,
    c: Console,
    kind: ClientKind,
    q: BTreeMap<String, String>,
) -> Response {
    let f = find_of(&q, &[]);
    let (headers, cells): (&[&str], Cells) = match kind {
        ClientKind::PresenceSubcluster => {
            (&["Name", "Primary node", "Secondary node", "Users"], |r| {
                vec![
                    text(r, "name"),
                    text(r, "primary_node"),
                    text(r, "secondary_node"),
                    r["users"].to_string(),
                ]
            })
        }
        ClientKind::ProxyProfile => (&["Name", "Listener", "Primary proxy", "Users"], |r| {
            vec![
                text(r, "name"),
                text(r, "listener").to_uppercase(),
                text(r, "primary_proxy"),
                r["users"].to_string(),
            ]
        }),
        ClientKind::CtiGatewayServer => (&["Name", "Host", "Port", "Protocol", "Used by"], |r| {
            vec![
                text(r, "name"),
                text(r, "host"),
                r["port"].to_string(),
                text(r, "protocol").to_uppercase(),
                list(r, "used_by"),
            ]
        }),
        ClientKind::DialRule => (
            &[
                "Name",
                "Kind",
                "Begins with",
                "Digits",
                "Removed",
                "Prefix",
                "Priority",
            ],
            |r| {
                vec![
                    text(r, "name"),
                    text(r, "kind").replace('_', " "),
                    text(r, "begins_with"),
                    r["number_of_digits"].to_string(),
                    r["digits_removed"].to_string(),
                    text(r, "prefix"),
                    r["priority"].to_string(),
                ]
            },
        ),
        ClientKind::CtiGatewayProfile => {
            (&["Name", "Primary", "Backups", "Default", "Users"], |r| {
                vec![
                    text(r, "name"),
                    text(r, "primary"),
                    list(r, "backups"),
                    if r["default_profile"] == true {
                        "default"
                    } else {
                        ""
                    }
                    .to_string(),
                    r["users"].to_string(),
                ]
            })
        }
    };
    let listed = s.service.find_client_records(kind, &f).await.map(|p| {
        Listed {
        headers,
        total: p.total,
        total_exact: p.total_exact,
        rows: p
            .items
            .iter()
            .map(|r| context! {
                href => format!("/{}/{}", kind.path(), urlencode(r["name"].as_str().unwrap_or(""))),
                cells => cells(r),
            })
            .collect(),
    }
    });
    let (title, new, add) = match kind {
        ClientKind::PresenceSubcluster => (
            "Presence subclusters",
            "/presence-subclusters/new",
            "Add a presence subcluster",
        ),
        ClientKind::ProxyProfile => (
            "Proxy profiles",
            "/proxy-profiles/new",
            "Add a proxy profile",
        ),
        ClientKind::CtiGatewayServer => (
            "CTI gateway servers",
            "/cti-gateway-servers/new",
            "Add a CTI gateway server",
        ),
        ClientKind::DialRule => ("Dial rules", "/dial-rules/new", "Add a dial rule"),
        ClientKind::CtiGatewayProfile => (
            "CTI gateway profiles",
            "/cti-gateway-profiles/new",
            "Add a CTI gateway profile",
        ),
    };
    let w = Words {
        here: kind.path(),
        title,
        noun: "records",
        placeholder: "Name starts with…",
        action: c
            .actor()
            .may_somewhere(kind.as_str(), "create")
            .then_some((new, add)),
        filters: Vec::new(),
        delete_found: None,
        extra: (kind == ClientKind::DialRule).then_some(("/dial-rules/test", "Try the rules")),
    };
    list_page(&c, w, &q, &f, listed)
}

fn text(r: &serde_json::Value, k: &str) -> String {
    r[k].as_str().unwrap_or("").to_string()
}

fn list(r: &serde_json::Value, k: &str) -> String {
    r[k].as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A list of a voicemail system's records, of the systems the administrator may read.
fn voicemail_list<T>(
    c: &Console,
    q: &BTreeMap<String, String>,
    base: &str,
    resource: &str,
    items: service::Result<Vec<T>>,
    headers: &'static [&'static str],
    row: impl Fn(T) -> (String, String, Vec<String>),
) -> (model::Find, service::Result<Listed>) {
    let f = find_of(q, &[]);
    let prefix = f.q.clone().unwrap_or_default().to_lowercase();
    let listed = items.map(|items| {
        let rows: Vec<Value> = items
            .into_iter()
            .map(&row)
            .filter(|(name, system, _)| {
                name.to_lowercase().starts_with(&prefix) && c.actor().may_read(system, resource)
            })
            .map(|(name, system, cells)| {
                context! { href => format!("{base}{}?system={}", urlencode(&name), urlencode(&system)), cells }
            })
            .collect();
        Listed {
            headers,
            total: rows.len() as i64,
            total_exact: true,
            rows,
        }
    });
    (f, listed)
}

/// `/restriction-tables`.
pub(super) async fn restriction_tables(
    State(s): State<AppState>,
    c: Console,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let items = s
        .service
        .restriction_tables(
            q.get("system")
                .map(String::as_str)
                .filter(|x| !x.is_empty()),
        )
        .await;
    let (f, listed) = voicemail_list(
        &c,
        &q,
        "/restriction-tables/",
        "restriction_table",
        items,
        &["Name", "System", "Rows", "Used by"],
        |t| {
            let rows = t
                .entries
                .iter()
                .map(|e| {
                    format!(
                        "{} {}",
                        e.pattern,
                        if e.allowed { "allow" } else { "block" }
                    )
                })
                .collect::<Vec<_>>()
                .join("; ");
            (
                t.name.clone(),
                t.system.clone(),
                vec![t.name, t.system, rows, used_by(&t.used_by)],
            )
        },
    );
    let w = self_provisioning_words(
        &c,
        "restriction-tables",
        "Restriction tables",
        "restriction_table",
        ("/restriction-tables/new", "Add a restriction table"),
    );
    list_page(&c, w, &q, &f, listed)
}

/// `/subscriber-templates`.
pub(super) async fn subscriber_templates(
    State(s): State<AppState>,
    c: Console,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let items = s
        .service
        .subscriber_templates(
            q.get("system")
                .map(String::as_str)
                .filter(|x| !x.is_empty()),
        )
        .await;
    let (f, listed) = voicemail_list(
        &c,
        &q,
        "/subscriber-templates/",
        "subscriber_template",
        items,
        &[
            "Name",
            "System",
            "Class of service",
            "Distribution lists",
            "Default PIN",
            "Subscribers",
        ],
        |t| {
            (
                t.name.clone(),
                t.system.clone(),
                vec![
                    t.name,
                    t.system,
                    t.class_of_service,
                    t.distribution_lists.join(", "),
                    if t.has_default_pin { "set" } else { "none" }.to_string(),
                    t.subscribers.to_string(),
                ],
            )
        },
    );
    let w = self_provisioning_words(
        &c,
        "subscriber-templates",
        "Subscriber templates",
        "subscriber_template",
        ("/subscriber-templates/new", "Add a subscriber template"),
    );
    list_page(&c, w, &q, &f, listed)
}
