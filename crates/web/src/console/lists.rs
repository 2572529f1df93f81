//! Lists of records: finding as you type, paging, the filters each list takes.

use super::*;

/// How many rows a list page may show (`?limit=`; [`PAGE`] when not given).
pub(super) const PAGE_SIZES: [i64; 4] = [25, 50, 100, 200];

/// A list's query: `q`, `offset`, `limit` (one of [`PAGE_SIZES`]), `sort` and `order`, and the
/// filters a list takes. A sort the list does not know sorts as it does by default.
pub(super) fn find_of(q: &BTreeMap<String, String>, filters: &[&str]) -> model::Find {
    let mut f = model::Find {
        q: q.get("q").filter(|v| !v.is_empty()).cloned(),
        limit: q
            .get("limit")
            .and_then(|v| v.parse().ok())
            .filter(|n| PAGE_SIZES.contains(n))
            .unwrap_or(PAGE),
        offset: q
            .get("offset")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
            .max(0),
        sort: q.get("sort").filter(|v| !v.is_empty()).cloned(),
        descending: q.get("order").is_some_and(|o| o == "desc"),
        ..Default::default()
    };
    for k in filters {
        if let Some(v) = q.get(*k).filter(|v| !v.is_empty()) {
            f.filters.push((k.to_string(), v.clone()));
        }
    }
    f
}

/// A list's count as a person reads it: `1000+` when the find stopped counting there.
fn count_shown(total: i64, exact: bool) -> String {
    if exact {
        total.to_string()
    } else {
        format!("{total}+")
    }
}

/// `path` with the query `q` and these parameters changed (`None`: left out).
fn link_with(path: &str, q: &BTreeMap<String, String>, set: &[(&str, Option<String>)]) -> String {
    let mut q = q.clone();
    for (k, v) in set {
        match v {
            Some(v) => q.insert(k.to_string(), v.clone()),
            None => q.remove(*k),
        };
    }
    let qs: Vec<String> = q
        .iter()
        .map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v)))
        .collect();
    format!("{path}?{}", qs.join("&"))
}

/// The paging of a list at `path`: the previous and next pages, page numbers around this one
/// (with the first and, when the count is exact, the last), and the page sizes.
pub(super) fn pages(
    path: &str,
    q: &BTreeMap<String, String>,
    f: &model::Find,
    more: bool,
    total: i64,
    total_exact: bool,
) -> Value {
    let size = f.limit.max(1);
    let at = |offset: i64| link_with(path, q, &[("offset", Some(offset.to_string()))]);
    let current = f.offset / size + 1;
    let last = if total_exact {
        ((total + size - 1) / size).max(1)
    } else {
        ((total + size - 1) / size).max(current + i64::from(more))
    };
    let mut shown: Vec<i64> = vec![1, last];
    shown.extend((current - 2).max(1)..=(current + 2).min(last));
    shown.sort_unstable();
    shown.dedup();
    let mut numbers = Vec::new();
    let mut before = 0;
    for n in shown {
        numbers.push(context! {
            n,
            gap => n > before + 1,
            href => (n != current).then(|| at((n - 1) * size)),
        });
        before = n;
    }
    let sizes: Vec<Value> = PAGE_SIZES
        .iter()
        .map(|s| {
            context! {
                size => s,
                href => (*s != size).then(|| link_with(path, q, &[("limit", Some(s.to_string())), ("offset", None)])),
            }
        })
        .collect();
    context! {
        prev => (f.offset > 0).then(|| at((f.offset - size).max(0))),
        next => more.then(|| at(f.offset + size)),
        numbers => (last > 1).then_some(numbers),
        current, last, last_exact => total_exact,
        sizes => (total > PAGE_SIZES[0]).then_some(sizes),
    }
}

/// A list's column headers, those in `sorts` (header, sort key) as links that sort by them
/// (again: the other way round), with `aria-sort` on the one sorted by.
pub(super) fn headers(
    path: &str,
    q: &BTreeMap<String, String>,
    f: &model::Find,
    headers: &[&str],
    sorts: &[(&str, &str)],
) -> Vec<Value> {
    headers
        .iter()
        .map(|h| match sorts.iter().find(|(header, _)| header == h) {
            None => context! { label => h },
            Some((_, key)) => {
                let by = f.sort.as_deref() == Some(*key)
                    || (f.sort.is_none() && sorts.first().is_some_and(|(_, k)| k == key));
                let order = if by && !f.descending { "desc" } else { "asc" };
                context! {
                    label => h,
                    href => link_with(path, q, &[("sort", Some(key.to_string())), ("order", Some(order.into())), ("offset", None)]),
                    sorted => by.then_some(if f.descending { "descending" } else { "ascending" }),
                }
            }
        })
        .collect()
}

/// The filters of the lists of phones, users and device profiles (and of deleting what they
/// find).
pub(super) const PHONE_FILTERS: &[&str] = &["model", "device_pool", "owner_user_id", "line"];
pub(super) const USER_FILTERS: &[&str] = &["department", "conflicts"];
pub(super) const PROFILE_FILTERS: &[&str] = &["model"];

/// The list a found set can be deleted from: its path and its filters.
pub(super) fn list_of(kind: TemplateKind) -> (&'static str, &'static [&'static str]) {
    match kind {
        TemplateKind::User => ("users", USER_FILTERS),
        TemplateKind::Phone => ("phones", PHONE_FILTERS),
        TemplateKind::DeviceProfile => ("device-profiles", PROFILE_FILTERS),
    }
}

/// Where the records a list found can be deleted all at once: only when the find says what to
/// look for (not the whole directory) and the administrator may delete such records somewhere.
pub(super) fn delete_found_link(
    c: &Console,
    kind: TemplateKind,
    q: &BTreeMap<String, String>,
) -> Option<String> {
    let (here, filters) = list_of(kind);
    let asked: Vec<String> = q
        .iter()
        .filter(|(k, v)| !v.is_empty() && (*k == "q" || filters.contains(&k.as_str())))
        .map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v)))
        .collect();
    (!asked.is_empty() && c.actor().may_somewhere(kind.as_str(), "delete"))
        .then(|| format!("/delete-found/{here}?{}", asked.join("&")))
}

pub(super) async fn phones(
    State(s): State<AppState>,
    c: Console,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let f = crate::auth::within(c.actor(), "phone", find_of(&q, PHONE_FILTERS));
    let found = async {
        let page = s.service.find_phones(&f).await?;
        Ok::<_, service::Error>((page, several_call_control_systems(&s).await?))
    };
    match found.await {
        Ok((page, many_systems)) => {
            let nav = pages(
                "/phones",
                &q,
                &f,
                page.has_next(),
                page.total,
                page.total_exact,
            );
            let mut columns = vec!["Name", "Model", "Description", "Owner", "Lines"];
            if many_systems {
                columns.insert(1, "System");
            }
            let headers = headers("/phones", &q, &f, &columns, PHONE_SORTS);
            let total = count_shown(page.total, page.total_exact);
            render(
                "phones.html",
                c.page(
                    "phones",
                    &format!("Phones ({total})"),
                    context! {
                        q => q.get("q").cloned().unwrap_or_default(),
                        may_create => c.actor().may_somewhere("phone", "create"),
                        delete_found => delete_found_link(&c, TemplateKind::Phone, &q),
                        page, headers, many_systems, total,
                        ..nav
                    },
                ),
            )
        }
        Err(e) => c.failed(e),
    }
}

/// Whether the directory has more than one call-control system (lists then show each
/// record's).
async fn several_call_control_systems(s: &AppState) -> service::Result<bool> {
    let systems = s.service.systems().await?;
    Ok(systems
        .iter()
        .filter(|x| x.kind == SystemKind::CallControl)
        .count()
        > 1)
}

/// The columns the phones (and device profiles) list sorts by (the store's sorts), the default
/// first.
const PHONE_SORTS: &[(&str, &str)] = &[
    ("Name", "name"),
    ("Model", "model"),
    ("Description", "description"),
];

pub(super) struct Listed {
    pub(super) headers: &'static [&'static str],
    pub(super) rows: Vec<Value>,
    pub(super) total: i64,
    /// False when `total` is a lower bound (the find counted up to [`model::Find::LIST_COUNT`]).
    pub(super) total_exact: bool,
}

/// A record's conflicts between product systems, in one line (what is wrong and how to resolve
/// it); empty when there is none.
pub(super) fn conflicts_of(conflicts: &[Conflict]) -> String {
    conflicts
        .iter()
        .map(|c| c.message.clone())
        .collect::<Vec<_>>()
        .join("; ")
}

/// A filter of a list: a text box, or a choice among `options`.
pub(super) fn filter(
    q: &BTreeMap<String, String>,
    name: &str,
    label: &str,
    options: &[&str],
) -> Value {
    let labeled: Vec<(&str, String)> = options.iter().map(|o| (*o, words(o))).collect();
    filter_labeled(q, name, label, &labeled)
}

/// [`filter`] whose options say something else than their value: (value, what it says).
pub(super) fn filter_labeled(
    q: &BTreeMap<String, String>,
    name: &str,
    label: &str,
    options: &[(&str, String)],
) -> Value {
    let options: Vec<Value> = options
        .iter()
        .map(|(value, label)| context! { value, label })
        .collect();
    context! { name, label, options, value => q.get(name).cloned().unwrap_or_default() }
}

/// `noun` (a plural) for `n` of them: "1 device", "2 devices", "1 entry", "1 person".
pub(super) fn noun_for(n: &str, noun: &str) -> String {
    if n != "1" {
        return noun.to_string();
    }
    if noun == "people" {
        "person".into()
    } else if let Some(stem) = noun.strip_suffix("ies") {
        format!("{stem}y")
    } else {
        noun.strip_suffix('s').unwrap_or(noun).to_string()
    }
}

/// A value as a person reads it: `device-profiles` and `never_seen` are "Device profiles" and
/// "Never seen".
pub(super) fn words(slug: &str) -> String {
    let spaced = slug.replace(['_', '-'], " ");
    let mut c = spaced.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// How a plain list names itself: its path (and menu entry), title, what it lists, and what its
/// find box takes.
pub(super) struct Words {
    pub(super) here: &'static str,
    pub(super) title: &'static str,
    pub(super) noun: &'static str,
    pub(super) placeholder: &'static str,
    /// A button beside the find box: (where, what it says).
    pub(super) action: Option<(&'static str, &'static str)>,
    /// Filters beside the find box ([`filter`]).
    pub(super) filters: Vec<Value>,
    /// Where the records found can be deleted all at once ([`delete_found_link`]).
    pub(super) delete_found: Option<String>,
    /// Another page of the kind, linked beside the button: (where, what it says).
    pub(super) extra: Option<(&'static str, &'static str)>,
}

/// One of the plain lists: its rows, a link on the first cell, conflicts in red.
pub(super) fn list_page(
    c: &Console,
    w: Words,
    q: &BTreeMap<String, String>,
    f: &model::Find,
    listed: service::Result<Listed>,
) -> Response {
    list_page_with(c, w, q, f, listed, Extras::default())
}

/// What a list may have besides its rows.
#[derive(Default)]
pub(super) struct Extras {
    /// HTML made here (charts, counts) between the title and the list.
    pub(super) above: Option<String>,
    /// The columns it sorts by: (header, sort key), the default sort first.
    pub(super) sorts: &'static [(&'static str, &'static str)],
}

/// [`list_page`] with [`Extras`].
pub(super) fn list_page_with(
    c: &Console,
    w: Words,
    q: &BTreeMap<String, String>,
    f: &model::Find,
    listed: service::Result<Listed>,
    extras: Extras,
) -> Response {
    let Extras { above, sorts } = extras;
    let Words {
        here,
        title,
        noun,
        placeholder,
        action,
        filters,
        delete_found,
        extra,
    } = w;
    let filter_names: Vec<Value> = filters
        .iter()
        .map(|f| f.get_attr("name").unwrap_or_default())
        .collect();
    match listed {
        Ok(l) => {
            let keep: BTreeMap<&String, &String> = q
                .iter()
                .filter(|(k, _)| *k != "q" && *k != "offset")
                .collect();
            let more = model::more_after(f.offset, l.rows.len(), f.limit, l.total, l.total_exact);
            let path = format!("/{here}");
            let nav = pages(&path, q, f, more, l.total, l.total_exact);
            let total = count_shown(l.total, l.total_exact);
            render(
                "list.html",
                c.page(
                    here,
                    &format!("{title} ({total})"),
                    context! {
                        heading => title,
                        q => q.get("q").cloned().unwrap_or_default(),
                        keep, placeholder,
                        noun => noun_for(&total, noun),
                        headers => headers(&path, q, f, l.headers, sorts),
                        path,
                        action => action.map(|(href, label)| context! { href, label }),
                        extra => extra.map(|(href, label)| context! { href, label }),
                        filters, filter_names, delete_found, above,
                        rows => l.rows,
                        total,
                        ..nav
                    },
                ),
            )
        }
        Err(e) => c.failed(e),
    }
}

pub(super) async fn users(
    State(s): State<AppState>,
    c: Console,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let mut f = crate::auth::within(c.actor(), "user", find_of(&q, USER_FILTERS));
    // A broad prefix among a million users is counted only so far ("1000+ users").
    f.count_up_to = Some(model::Find::LIST_COUNT);
    let listed = s.service.find_users(&f).await.map(|p| Listed {
        headers: &["User ID", "Name", "System", "Department", "Primary extension", "Conflict"],
        total: p.total,
        total_exact: p.total_exact,
        rows: p
            .items
            .into_iter()
            .map(|u| {
                let conflict = conflicts_of(&u.conflicts);
                context! {
                    href => format!("/users/{}?system={}", urlencode(&u.user_id), urlencode(&u.system)),
                    conflict => (!conflict.is_empty()).then(|| conflict.clone()),
                    cells => vec![u.user_id, format!("{} {}", u.first_name, u.last_name), u.system, u.department, u.primary_extension.unwrap_or_default(), conflict],
                }
            })
            .collect(),
    });
    list_page_with(
        &c,
        Words {
            here: "users",
            title: "Users",
            noun: "users",
            placeholder: "User ID or name starts with…",
            action: c
                .actor()
                .may_somewhere("user", "create")
                .then_some(("/users/new", "Add a user")),
            filters: vec![
                filter(&q, "department", "Department", &[]),
                filter_labeled(
                    &q,
                    "conflicts",
                    "Conflicts",
                    &[("true", "In conflict".to_string())],
                ),
            ],
            delete_found: delete_found_link(&c, TemplateKind::User, &q),
            extra: None,
        },
        &q,
        &f,
        listed,
        Extras {
            sorts: &[("Name", "last_name"), ("User ID", "user_id")],
            ..Default::default()
        },
    )
}

/// `/people`: users and voicemail subscribers found together, conflicts in red.
pub(super) async fn people(
    State(s): State<AppState>,
    c: Console,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let mut f = crate::auth::within(c.actor(), "user", find_of(&q, &[]));
    f.count_up_to = Some(model::Find::LIST_COUNT);
    let subscribers = c.actor().readable_systems("voicemail_subscriber");
    let listed = s.service.find_people(&f, subscribers).await.map(|p| Listed {
        headers: &["ID", "Kind", "Name", "System", "Extension", "Conflict"],
        total: p.total,
        total_exact: p.total_exact,
        rows: p
            .items
            .into_iter()
            .map(|x| {
                let conflict = conflicts_of(&x.conflicts);
                let (base, kind) = match x.kind.as_str() {
                    "user" => ("/users", "user"),
                    _ => ("/voicemail-subscribers", "voicemail subscriber"),
                };
                context! {
                    href => format!("{base}/{}?system={}", urlencode(&x.key), urlencode(&x.system)),
                    conflict => (!conflict.is_empty()).then(|| conflict.clone()),
                    cells => vec![x.key, kind.to_string(), format!("{} {}", x.first_name, x.last_name), x.system, x.extension, conflict],
                }
            })
            .collect(),
    });
    list_page(
        &c,
        Words {
            here: "people",
            title: "Users and subscribers",
            noun: "people",
            placeholder: "ID or name starts with…",
            action: c
                .actor()
                .may_somewhere("user", "create")
                .then_some(("/people/new", "Add a person")),
            filters: Vec::new(),
            delete_found: None,
            extra: None,
        },
        &q,
        &f,
        listed,
    )
}

pub(super) async fn lines(
    State(s): State<AppState>,
    c: Console,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let f = crate::auth::within(c.actor(), "line", find_of(&q, &["partition", "shared"]));
    let listed = s.service.find_lines(&f).await.map(|p| Listed {
        headers: &[
            "Directory number",
            "Partition",
            "System",
            "Description",
            "Appears on",
        ],
        total: p.total,
        total_exact: p.total_exact,
        rows: p
            .items
            .into_iter()
            .map(|l| {
                let on = l
                    .appearances
                    .iter()
                    .map(|a| a.device.clone())
                    .collect::<Vec<_>>()
                    .join(", ");
                context! {
                    href => line_path(&l.pattern, &l.partition, &l.system, ""),
                    cells => vec![l.pattern, l.partition, l.system, l.description, on],
                }
            })
            .collect(),
    });
    list_page_with(
        &c,
        Words {
            here: "lines",
            title: "Lines",
            noun: "lines",
            placeholder: "Directory number starts with…",
            action: c
                .actor()
                .may_somewhere("line", "create")
                .then_some(("/lines/new", "Add a line")),
            filters: Vec::new(),
            delete_found: None,
            extra: None,
        },
        &q,
        &f,
        listed,
        Extras {
            sorts: &[
                ("Directory number", "pattern"),
                ("Partition", "partition"),
                ("Description", "description"),
            ],
            ..Default::default()
        },
    )
}

pub(super) async fn device_profiles(
    State(s): State<AppState>,
    c: Console,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let f = crate::auth::within(c.actor(), "device_profile", find_of(&q, PROFILE_FILTERS));
    let many = match several_call_control_systems(&s).await {
        Ok(many) => many,
        Err(e) => return c.failed(e),
    };
    let listed = s.service.find_device_profiles(&f).await.map(|p| Listed {
        headers: if many {
            &["Name", "System", "Model", "Description", "Lines"]
        } else {
            &["Name", "Model", "Description", "Lines"]
        },
        total: p.total,
        total_exact: p.total_exact,
        rows: p
            .items
            .into_iter()
            .map(|d| {
                let lines = d
                    .lines
                    .iter()
                    .map(|l| l.pattern.clone())
                    .collect::<Vec<_>>()
                    .join(", ");
                let mut cells = vec![d.name.clone(), d.model, d.description, lines];
                if many {
                    cells.insert(1, d.system);
                }
                context! {
                    href => format!("/device-profiles/{}", urlencode(&d.name)),
                    cells,
                }
            })
            .collect(),
    });
    list_page_with(
        &c,
        Words {
            here: "device-profiles",
            title: "Device profiles",
            noun: "device profiles",
            placeholder: "Name starts with…",
            action: c
                .actor()
                .may_somewhere("device_profile", "create")
                .then_some(("/device-profiles/new", "Add a device profile")),
            filters: Vec::new(),
            delete_found: delete_found_link(&c, TemplateKind::DeviceProfile, &q),
            extra: None,
        },
        &q,
        &f,
        listed,
        Extras {
            sorts: PHONE_SORTS,
            ..Default::default()
        },
    )
}

pub(super) async fn templates(
    State(s): State<AppState>,
    c: Console,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let f = find_of(&q, &[]);
    let listed = s
        .service
        .templates(None, f.q.as_deref().unwrap_or(""))
        .await
        .map(|all| {
            Listed {
        headers: &["Name", "Kind", "Description", "Fields"],
        total: all.len() as i64,
        total_exact: true,
        rows: all
            .into_iter()
            .map(|t| {
                let fields = t.fields.keys().cloned().collect::<Vec<_>>().join(", ");
                context! {
                    href => format!("/templates/{}/{}", t.kind.as_str(), urlencode(&t.name)),
                    cells => vec![t.name, t.kind.as_str().replace('_', " "), t.description, fields],
                }
            })
            .collect(),
    }
        });
    list_page(
        &c,
        Words {
            here: "templates",
            title: "Templates",
            noun: "templates",
            placeholder: "Name starts with…",
            action: c
                .actor()
                .may("", "template", "create")
                .then_some(("/templates/new", "Add a template")),
            filters: Vec::new(),
            delete_found: None,
            extra: None,
        },
        &q,
        &f,
        listed,
    )
}

pub(super) async fn status(
    State(s): State<AppState>,
    c: Console,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let f = find_of(&q, &[]);
    let state = q.get("state").map(String::as_str);
    s.flush_seen().await;
    let listed = s
        .service
        .device_statuses(state, f.q.as_deref().unwrap_or(""), f.limit, f.offset)
        .await
        .map(|p| Listed {
            headers: &["Device", "State", "Last seen", "Firmware", "Last resync", "Last NOTIFY", "Logged in"],
            total: p.total,
            total_exact: p.total_exact,
            rows: p
                .items
                .into_iter()
                .map(|d| {
                    context! {
                        href => format!("/phones/{}", d.device),
                        conflict => (d.state == "failing").then(|| d.resync_error.clone().or(d.notify_outcome.clone()).unwrap_or_default()),
                        cells => vec![
                            d.device.clone(), state_words(&d.state).to_string(), d.last_seen.clone().unwrap_or_else(|| "never".into()),
                            d.firmware.clone().unwrap_or_default(), d.resync_succeeded_at.clone().or(d.resync_failed_at.clone()).unwrap_or_default(),
                            d.notify_outcome.clone().unwrap_or_default(),
                            d.logged_in.clone().unwrap_or_default(),
                        ],
                    }
                })
                .collect(),
        });
    let above = match status_counts(&s).await {
        Ok(counts) => counts + &activity_charts(s.provisioner.metrics()),
        Err(e) => return c.failed(e),
    };
    list_page_with(
        &c,
        Words {
            here: "status",
            title: "Device status",
            noun: "devices",
            placeholder: "Device name starts with…",
            action: None,
            filters: vec![filter_labeled(
                &q,
                "state",
                "State",
                &["failing", "never_seen", "not_resynced"].map(|s| (s, state_words(s).to_string())),
            )],
            delete_found: None,
            extra: None,
        },
        &q,
        &f,
        listed,
        Extras {
            above: Some(above),
            ..Default::default()
        },
    )
}

/// A phone's state (`model::DeviceStatus::state`) as a person reads it.
pub(super) fn state_words(state: &str) -> &str {
    match state {
        "ok" => "OK",
        "failing" => "Failing",
        "never_seen" => "Never seen",
        "not_resynced" => "Changed since its last resync",
        other => other,
    }
}

/// How many phones are in each state, each a link to them.
async fn status_counts(s: &AppState) -> service::Result<String> {
    let mut out = String::from(r#"<ul class="counts" aria-label="Phones by state">"#);
    for (state, words) in [
        ("failing", "failing"),
        ("never_seen", "never seen"),
        ("not_resynced", "changed since their last resync"),
    ] {
        let n = s
            .service
            .device_statuses(Some(state), "", 1, 0)
            .await?
            .total;
        out.push_str(&format!(
            r#"<li class="{}"><a href="/status?state={state}"><b>{n}</b> {words}</a></li>"#,
            if state == "failing" && n > 0 {
                "conflict"
            } else {
                ""
            }
        ));
    }
    out.push_str("</ul>");
    let by = s.service.phones_by_firmware().await?;
    if !by.is_empty() {
        out.push_str(
            r#"<table class="by-firmware"><caption>Phones by model and firmware</caption><tr><th>Model</th><th>Firmware</th><th>Phones</th></tr>"#,
        );
        for (model, firmware, n) in by.iter().take(12) {
            let firmware = if firmware.is_empty() {
                "not known yet".to_string()
            } else {
                html_escape(firmware)
            };
            out.push_str(&format!(
                "<tr><td>{}</td><td>{firmware}</td><td>{n}</td></tr>",
                html_escape(model)
            ));
        }
        if by.len() > 12 {
            out.push_str(&format!(
                r#"<tr><td colspan="3" class="muted">and {} more</td></tr>"#,
                by.len() - 12
            ));
        }
        out.push_str("</table>");
    }
    Ok(out)
}

/// `s` with `&`, `<`, `>` and `"` written as entities, for HTML made here.
pub(super) fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// What phones asked of this node and the resyncs it saw, over the last hour and the last day.
fn activity_charts(m: &provision::metrics::Metrics) -> String {
    use super::chart::{buckets, chart, Series};
    let mut out = String::from(r#"<section class="charts" aria-label="Activity">"#);
    for (minutes, per, from, span) in [
        (m.history(60), 1, "an hour ago", "last hour"),
        (
            m.history(provision::metrics::DAY_MINUTES),
            15,
            "a day ago",
            "last day",
        ),
    ] {
        out.push_str(&chart(
            &format!("Phone file requests, {span}"),
            &[Series {
                name: "requests",
                class: "s-requests",
                values: buckets(&minutes, per, |m| m.requests),
            }],
            true,
            from,
            "now",
        ));
        out.push_str(&chart(
            &format!("Resyncs and NOTIFYs, {span}"),
            &[
                Series {
                    name: "resyncs reported",
                    class: "s-resyncs",
                    values: buckets(&minutes, per, |m| m.resyncs),
                },
                Series {
                    name: "NOTIFYs accepted",
                    class: "s-accepted",
                    values: buckets(&minutes, per, |m| m.notifies_accepted),
                },
                Series {
                    name: "NOTIFYs not accepted",
                    class: "s-failed",
                    values: buckets(&minutes, per, |m| m.notifies_failed),
                },
            ],
            false,
            from,
            "now",
        ));
    }
    out.push_str(
        r#"<p class="muted">Counted by this node since it started; <code>/metrics</code> gives the same to Prometheus.</p></section>"#,
    );
    out
}

pub(super) async fn audit(
    State(s): State<AppState>,
    c: Console,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let mut f = find_of(&q, &["actor", "action", "resource", "system", "result"]);
    f.descending = true;
    let listed = s.service.audit(&f).await.map(|p| Listed {
        headers: &["When", "Who", "Did", "What", "Target", "System", "Result", "Detail"],
        total: p.total,
        total_exact: p.total_exact,
        rows: p
            .items
            .into_iter()
            .map(|e| {
                let bad = e.result != Outcome::Ok;
                context! {
                    conflict => bad.then(|| e.detail.clone()),
                    cells => vec![e.at, e.actor, e.action, e.resource, e.target, e.system, e.result.as_str().to_string(), e.detail],
                }
            })
            .collect(),
    });
    list_page(
        &c,
        Words {
            here: "audit",
            title: "Audit log",
            noun: "entries",
            placeholder: "Target starts with…",
            action: None,
            filters: vec![
                filter(&q, "actor", "Who", &[]),
                filter(
                    &q,
                    "action",
                    "Did",
                    &[
                        "create",
                        "update",
                        "delete",
                        "batch_delete",
                        "apply_template",
                        "import",
                        "set_password",
                    ],
                ),
                filter(
                    &q,
                    "resource",
                    "What",
                    &[model::access::RESOURCES, &["token"]].concat(),
                ),
                filter(&q, "system", "System", &[]),
                filter(&q, "result", "Result", &["ok", "partial", "failed"]),
            ],
            delete_found: None,
            extra: None,
        },
        &q,
        &f,
        listed,
    )
}

/// `/people/new`: a user and, ticked, a voicemail subscriber, added in one step.
pub(super) async fn new_person(State(s): State<AppState>, c: Console) -> Response {
    person_form(&s, &c, &BTreeMap::new(), None).await
}

async fn person_form(
    s: &AppState,
    c: &Console,
    form: &BTreeMap<String, String>,
    error: Option<String>,
) -> Response {
    let systems = super::users::systems_of_kind(s, model::SystemKind::CallControl).await;
    let voicemail_systems = super::users::systems_of_kind(s, model::SystemKind::Voicemail).await;
    let templates: Vec<String> = s
        .service
        .subscriber_templates(None)
        .await
        .map(|ts| {
            let mut names: Vec<String> = ts.into_iter().map(|t| t.name).collect();
            names.sort();
            names.dedup();
            names
        })
        .unwrap_or_default();
    let mut r = render(
        "person_form.html",
        c.page(
            "people",
            "Add a person",
            context! { form, systems, voicemail_systems, templates, error => error.clone() },
        ),
    );
    if error.is_some() {
        *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    r
}

pub(super) async fn add_person(
    State(s): State<AppState>,
    c: Console,
    Form(f): Form<BTreeMap<String, String>>,
) -> Response {
    if let Some(r) = c.forged(f.get("csrf").map(String::as_str).unwrap_or("")) {
        return r;
    }
    let get = |k: &str| f.get(k).map(|v| v.trim().to_string()).unwrap_or_default();
    let secret = |k: &str| {
        Some(get(k))
            .filter(|v| !v.is_empty())
            .map(model::Secret::new)
    };
    let req = model::NewPerson {
        user: model::NewUser {
            user_id: get("user_id"),
            system: Some(get("system")).filter(|v| !v.is_empty()),
            first_name: get("first_name"),
            last_name: get("last_name"),
            mail: get("mail"),
            pin: secret("pin"),
            ..Default::default()
        },
        subscriber: (get("voicemail") == "true").then(|| model::NewVoicemailSubscriber {
            system: Some(get("vm_system")).filter(|v| !v.is_empty()),
            extension: get("extension"),
            subscriber_template: get("subscriber_template"),
            ..Default::default()
        }),
    };
    match s.service.add_person(c.actor(), req).await {
        Ok(p) => Redirect::to(&format!("/people?q={}", urlencode(&p.user.user_id))).into_response(),
        Err(e @ service::Error::Forbidden(_)) => c.failed(e),
        Err(e) => person_form(&s, &c, &f, Some(super::phones::field_message(&e))).await,
    }
}
