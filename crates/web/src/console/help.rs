//! Help the console serves itself: the columns of each kind of CSV file (from `bulk`'s own
//! tables, so it cannot drift from what an import reads) and what the import's options do.

use super::*;

/// `/help/csv`: the import's options, the order of files, and every kind's columns.
pub(super) async fn csv_help(c: Console) -> Response {
    let kinds: Vec<Value> = bulk::Kind::ALL
        .iter()
        .map(|k| {
            let keys = k.keys();
            let columns: Vec<Value> = k
                .columns()
                .iter()
                .map(|col| {
                    let header = match col.header.strip_suffix(" {n}") {
                        Some(base) => format!("{base} 1 … {base} {}", col.max_n),
                        None => col.header.to_string(),
                    };
                    let ty = match col.ty {
                        bulk::Ty::Text => "text",
                        bulk::Ty::Int => "a whole number",
                        bulk::Ty::Bool => "t or f",
                    };
                    let mut notes = Vec::new();
                    if keys.contains(&col.header) {
                        notes.push("names the record");
                    }
                    if col.secret {
                        notes.push("read, never exported");
                    }
                    context! { header, ty, notes => notes.join("; ") }
                })
                .collect();
            context! {
                name => k.name(),
                title => lists::words(k.name()),
                keys => keys.join(" or "),
                columns,
            }
        })
        .collect();
    render(
        "help_csv.html",
        c.page("jobs", "CSV files: options and columns", context! { kinds }),
    )
}
