//! The lists of device profiles, voicemail subscribers and product systems.

use super::*;

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
    let f = find_of(&q, &["class_of_service", "extension"]);
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
    list_page(
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
        },
        &q,
        &f,
        listed,
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
        },
        &q,
        &f,
        listed,
    )
}
