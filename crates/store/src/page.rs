//! What every find and every read by id share: one page of rows in an order with the count of
//! all of them (or of as many as the find wants counted), and the one row an id names.

use crate::sql::{Find, Sql};
use crate::{Error, Result};
use model::Page;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

/// One page of the rows `from` (`FROM … WHERE …` with its bound values) selects as `cols`, in
/// `order` (an `ORDER BY` list ending with the id, so pages never overlap), with how many rows
/// it selects in all: counted up to [`Find::count_up_to`], and not at all when the page is the
/// last (a short page says where the rows end).
pub(crate) async fn page<T>(
    conn: &mut AnyConnection,
    cols: &str,
    from: &Sql,
    order: &str,
    f: &Find,
    row: impl Fn(&AnyRow) -> Result<T>,
) -> Result<Page<T>> {
    let mut sel = from.with_prefix(&format!("SELECT {cols} "));
    sel.push(&format!(" ORDER BY {order} LIMIT "))
        .bind(f.limit)
        .push(" OFFSET ")
        .bind(f.offset);
    let items = sel
        .query()
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(row)
        .collect::<Result<Vec<_>>>()?;
    let (total, total_exact) = match ended_at(f, items.len()) {
        Some(total) => (total, true),
        None => count(conn, from, f.count_up_to).await?,
    };
    Ok(Page {
        items,
        total,
        total_exact,
        limit: f.limit,
        offset: f.offset,
    })
}

/// How many rows `from` selects: every one, or up to `cap` (and then `false` when more do).
pub(crate) async fn count(
    conn: &mut AnyConnection,
    from: &Sql,
    cap: Option<i64>,
) -> Result<(i64, bool)> {
    let q = match cap {
        None => from.with_prefix("SELECT COUNT(*) "),
        Some(cap) => {
            let mut q = from.with_prefix("SELECT COUNT(*) FROM (SELECT 1 AS one ");
            q.push(" LIMIT ").bind(cap + 1).push(") c");
            q
        }
    };
    let n: i64 = q.query().fetch_one(&mut *conn).await?.try_get(0)?;
    Ok(capped(n, cap))
}

/// The total a page of `n` rows gives by itself: a short page that is not past the end is the
/// last, so the rows end at its end; `None` when a count must say.
pub(crate) fn ended_at(f: &Find, n: usize) -> Option<i64> {
    let n = n as i64;
    (n < f.limit && (n > 0 || f.offset == 0)).then_some(f.offset + n)
}

/// A count made up to `cap + 1` as a page's total: the cap and `false` when it passed it.
pub(crate) fn capped(n: i64, cap: Option<i64>) -> (i64, bool) {
    match cap {
        Some(cap) if n > cap => (cap, false),
        _ => (n, true),
    }
}

/// The row `select` (a statement ending `WHERE <id column> = $1`) finds for `id`, or
/// [`Error::NotFound`].
pub(crate) async fn one<T>(
    conn: &mut AnyConnection,
    select: &str,
    id: i64,
    row: impl Fn(&AnyRow) -> Result<T>,
) -> Result<T> {
    let r = sqlx::query(select)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    r.as_ref().map(row).transpose()?.ok_or(Error::NotFound)
}
