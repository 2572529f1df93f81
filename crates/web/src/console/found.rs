//! Deleting what a list found: how many first, a warning past 100, then what was done.

use super::*;

/// What `/delete-found/{kind}` deletes: the kind of records, the find of its list, and the
/// link back to it ([`delete_found_link`]); or the page saying why nothing is.
pub(super) fn found_set(
    c: &Console,
    kind: &str,
    q: &BTreeMap<String, String>,
) -> Result<(TemplateKind, model::Find, String), Box<Response>> {
    let Some(k) = TemplateKind::ALL
        .into_iter()
        .find(|k| list_of(*k).0 == kind)
    else {
        return Err(Box::new(c.error(
            StatusCode::NOT_FOUND,
            "Not found",
            &format!("there is no list {kind} to delete from"),
        )));
    };
    let Some(link) = delete_found_link(c, k, q) else {
        return Err(Box::new(c.error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Not done",
            "say what to delete: find the records first (a whole directory is not deleted from here)",
        )));
    };
    let mut f = find_of(q, list_of(k).1);
    f.offset = 0;
    Ok((k, f, link))
}

/// Says how many records a list's find holds and asks before deleting them all (warning past
/// [`MANY`]); nothing when the find says nothing to look for.
pub(super) async fn confirm_delete_found(
    State(s): State<AppState>,
    c: Console,
    Path(kind): Path<String>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let (k, f, link) = match found_set(&c, &kind, &q) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    match s.service.found(k, f).await {
        Ok(found) => {
            let targets: Vec<String> = found.into_iter().map(|(key, _)| key).collect();
            let n = targets.len();
            let hidden: Vec<Value> = q
                .iter()
                .filter(|(k, _)| *k != "offset")
                .map(|(k, v)| hidden(k, v))
                .collect();
            render(
                "confirm.html",
                c.page(
                    &kind,
                    "Delete what was found",
                    context! {
                        heading => format!("Delete {n} {}", what(k)),
                        none => format!("The find holds no {}.", what(k)),
                        verb => "deletes", many => n > MANY, targets, hidden, danger => true,
                        action => link, button => format!("Delete {}", model::counted(n, "record", "records")),
                        back => format!("/{kind}?{}", link.split_once('?').map(|(_, q)| q).unwrap_or("")),
                    },
                ),
            )
        }
        Err(e) => c.failed(e),
    }
}

pub(super) async fn delete_found(
    State(s): State<AppState>,
    c: Console,
    Path(kind): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let q = form_map(pairs);
    if let Some(r) = c.forged(q.get("csrf").map(String::as_str).unwrap_or("")) {
        return r;
    }
    let (k, f, _) = match found_set(&c, &kind, &q) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    match s.service.delete_found(c.actor(), k, f).await {
        Ok(r) => render(
            "batch.html",
            c.page(
                &kind,
                "Deleted",
                context! { heading => format!("Deleting {}", what(k)), done => "deleted", link => "", r },
            ),
        ),
        Err(e) => c.failed(e),
    }
}
