//! A small builder for the statements whose shape depends on the request (finds with optional
//! filters), numbering the `$n` parameters both backends understand.

use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::Any;

#[derive(Debug, Clone)]
pub enum Arg {
    Int(i64),
    Text(String),
    NullText,
}

impl From<i64> for Arg {
    fn from(v: i64) -> Self {
        Arg::Int(v)
    }
}
impl From<String> for Arg {
    fn from(v: String) -> Self {
        Arg::Text(v)
    }
}
impl From<&str> for Arg {
    fn from(v: &str) -> Self {
        Arg::Text(v.to_string())
    }
}
impl From<Option<String>> for Arg {
    fn from(v: Option<String>) -> Self {
        v.map(Arg::Text).unwrap_or(Arg::NullText)
    }
}

#[derive(Debug, Default, Clone)]
pub struct Sql {
    pub text: String,
    args: Vec<Arg>,
}

impl Sql {
    pub fn new(text: &str) -> Sql {
        Sql {
            text: text.to_string(),
            args: Vec::new(),
        }
    }
    pub fn push(&mut self, text: &str) -> &mut Sql {
        self.text.push_str(text);
        self
    }
    /// Appends a parameter placeholder bound to `v`.
    pub fn bind(&mut self, v: impl Into<Arg>) -> &mut Sql {
        self.args.push(v.into());
        self.text.push_str(&format!("${}", self.args.len()));
        self
    }
    /// Appends `(v1, v2, …)`.
    pub fn bind_list<T: Into<Arg> + Clone>(&mut self, vs: &[T]) -> &mut Sql {
        self.text.push('(');
        for (i, v) in vs.iter().enumerate() {
            if i > 0 {
                self.text.push_str(", ");
            }
            self.bind(v.clone());
        }
        self.text.push(')');
        self
    }
    /// Appends `(v1, v2, …)` padded to a size of a few (1, 4, 16, 64, 256, then multiples of
    /// 512) by repeating the last value: the same for `IN`, and a statement the driver has
    /// prepared already instead of a new text for every length.
    pub fn bind_set<T: Into<Arg> + Clone>(&mut self, vs: &[T]) -> &mut Sql {
        let Some(last) = vs.last() else {
            return self.bind_list(vs);
        };
        let size = match vs.len() {
            n if n <= 256 => [1, 4, 16, 64, 256]
                .into_iter()
                .find(|s| *s >= n)
                .unwrap_or(256),
            n => n.div_ceil(512) * 512,
        };
        let mut padded = vs.to_vec();
        padded.resize(size, last.clone());
        self.bind_list(&padded)
    }

    /// Appends `(…)` holding `vs`, for `IN`: on SQLite, past a few values, one parameter holding
    /// them as a JSON array, read with `json_each` (sqlx's SQLite driver looks each parameter's
    /// name up by its number, a cost growing with the square of their count: 7 % of a full scan
    /// of phone files with 512 a statement); otherwise [`Sql::bind_set`].
    pub fn bind_in<T: Into<Arg> + Clone + serde::Serialize>(
        &mut self,
        backend: &str,
        vs: &[T],
    ) -> &mut Sql {
        if backend == "PostgreSQL" || vs.len() <= 16 {
            return self.bind_set(vs);
        }
        let list = serde_json::to_string(vs).expect("a list of numbers or strings is JSON");
        self.push("(SELECT value FROM json_each(")
            .bind(list)
            .push("))")
    }

    /// Appends ` AND {column} IN (…)` for the systems an administrator may see (nothing when
    /// `systems` is `None`; no row when it is empty).
    pub fn within_systems(
        &mut self,
        backend: &str,
        column: &str,
        systems: Option<&[String]>,
    ) -> &mut Sql {
        match systems {
            None => self,
            Some([]) => self.push(" AND 1 = 0"),
            Some(s) => self.push(&format!(" AND {column} IN ")).bind_in(backend, s),
        }
    }

    /// Appends another statement part with its arguments (renumbering its placeholders).
    pub fn append(&mut self, other: &Sql) -> &mut Sql {
        let base = self.args.len();
        let mut text = String::new();
        let mut rest = other.text.as_str();
        while let Some(i) = rest.find('$') {
            text.push_str(&rest[..i]);
            let digits: String = rest[i + 1..]
                .chars()
                .take_while(|c| c.is_ascii_digit())
                .collect();
            match digits.parse::<usize>() {
                Ok(n) => text.push_str(&format!("${}", n + base)),
                Err(_) => text.push('$'),
            }
            rest = &rest[i + 1 + digits.len()..];
        }
        text.push_str(rest);
        self.text.push_str(&text);
        self.args.extend(other.args.iter().cloned());
        self
    }

    /// Appends text and gives the statement back (for chaining on a temporary).
    pub fn push_owned(mut self, text: &str) -> Sql {
        self.text.push_str(text);
        self
    }

    /// The same statement with `head` in front (a WHERE clause shared by a count and a select).
    pub fn with_prefix(&self, head: &str) -> Sql {
        Sql {
            text: format!("{head}{}", self.text),
            args: self.args.clone(),
        }
    }
    pub fn query(&self) -> Query<'_, Any, AnyArguments<'_>> {
        let mut q = sqlx::query(&self.text);
        for a in &self.args {
            q = match a {
                Arg::Int(v) => q.bind(*v),
                Arg::Text(v) => q.bind(v.as_str()),
                Arg::NullText => q.bind(None::<String>),
            };
        }
        q
    }
}

/// `INSERT INTO table (cols…, system_id, created_at, updated_at) VALUES ($1…$n, $n+1, $n+2, $n+2)
/// RETURNING id`: the row's columns, then the system and the time.
pub fn insert_sql(table: &str, cols: &str) -> String {
    let n = cols.split(',').count();
    format!(
        "INSERT INTO {table} ({cols}, system_id, created_at, updated_at) VALUES ({}, ${}, ${}, ${}) RETURNING id",
        placeholders(n),
        n + 1,
        n + 2,
        n + 2
    )
}

/// `INSERT INTO table (cols) VALUES ($1, …, $n), …` for `rows` rows of `n` values.
pub(crate) fn insert_rows_sql(table: &str, cols: &str, n: usize, rows: usize) -> String {
    use std::fmt::Write;
    let mut sql = format!("INSERT INTO {table} ({cols}) VALUES ");
    for r in 0..rows {
        sql.push_str(if r == 0 { "(" } else { ", (" });
        for k in 1..=n {
            let sep = if k == 1 { "" } else { ", " };
            let _ = write!(sql, "{sep}${}", r * n + k);
        }
        sql.push(')');
    }
    sql
}

/// `$1, $2, …, $n`.
pub fn placeholders(n: usize) -> String {
    (1..=n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The rows `select` (a statement ending in `IN`) reads for each of `keys`, 500 keys to a
/// statement.
pub async fn rows_in<T>(
    conn: &mut sqlx::AnyConnection,
    select: &str,
    keys: &[&str],
) -> crate::Result<Vec<T>>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
{
    let mut out = Vec::new();
    for part in keys.chunks(500) {
        let sql = format!("{select} ({})", placeholders(part.len()));
        let mut q = sqlx::query_as::<_, T>(&sql);
        for k in part {
            q = q.bind(*k);
        }
        out.extend(q.fetch_all(&mut *conn).await?);
    }
    Ok(out)
}

/// `UPDATE table SET col = $1, …, version = version + 1, updated_at = $n+1 WHERE id = $n+2 AND
/// version = $n+3`: the row's columns, then the time, the id and the version read.
pub fn update_sql(table: &str, cols: &str) -> String {
    let sets: Vec<String> = cols
        .split(',')
        .enumerate()
        .map(|(i, c)| format!("{} = ${}", c.trim(), i + 1))
        .collect();
    let n = sets.len();
    format!(
        "UPDATE {table} SET {}, version = version + 1, updated_at = ${} WHERE id = ${} AND version = ${}",
        sets.join(", "),
        n + 1,
        n + 2,
        n + 3
    )
}

/// The upper bound of the range holding every string that starts with `prefix` (byte order), or
/// `None` when there is none (the prefix is all `char::MAX`).
pub fn prefix_end(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(c) = chars.pop() {
        let mut next = c as u32 + 1;
        while next <= char::MAX as u32 {
            if let Some(n) = char::from_u32(next) {
                chars.push(n);
                return Some(chars.into_iter().collect());
            }
            next += 1;
        }
    }
    None
}

/// Appends `col >= prefix AND col < end` (a prefix match an index serves on both backends).
pub fn push_prefix(sql: &mut Sql, col: &str, prefix: &str) {
    sql.push(col).push(" >= ").bind(prefix.to_string());
    if let Some(end) = prefix_end(prefix) {
        sql.push(" AND ").push(col).push(" < ").bind(end);
    }
}

/// `SELECT` of one text column holding a JSON array of `cols` per row, on either backend: one
/// row to hand over instead of one per record (the rows of a batch cost more crossing the
/// driver than reading them).
pub(crate) fn aggregated(backend: &str, cols: &str, from: &str) -> String {
    if backend == "PostgreSQL" {
        format!("SELECT COALESCE(json_agg(json_build_array({cols})), '[]')::text {from}")
    } else {
        format!("SELECT json_group_array(json_array({cols})) {from}")
    }
}

/// A column holding, as a JSON array of `cols` per row in `order`, the rows of a correlated
/// subquery `from` (`FROM … WHERE …`): a record's children inside an [`aggregated`] row.
pub(crate) fn nested(backend: &str, cols: &str, from: &str, order: &str) -> String {
    if backend == "PostgreSQL" {
        format!("(SELECT COALESCE(json_agg(json_build_array({cols}) ORDER BY {order}), '[]'::json) {from})")
    } else {
        // `json()`: a subquery's value reaches the outer `json_array` as text otherwise.
        format!("json((SELECT json_group_array(json_array({cols}) ORDER BY {order}) {from}))")
    }
}

pub(crate) fn json_rows<T: serde::de::DeserializeOwned>(text: &str) -> crate::Result<Vec<T>> {
    serde_json::from_str(text)
        .map_err(|e| crate::Error::Db(format!("reading aggregated rows: {e}")))
}

pub use model::Find;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_statements_number_their_placeholders() {
        assert_eq!(
            insert_sql("t", "a, b"),
            "INSERT INTO t (a, b, system_id, created_at, updated_at) VALUES ($1, $2, $3, $4, $4) RETURNING id"
        );
        assert_eq!(
            update_sql("t", "a,\n b"),
            "UPDATE t SET a = $1, b = $2, version = version + 1, updated_at = $3 WHERE id = $4 AND version = $5"
        );
    }

    #[test]
    fn prefix_ranges() {
        assert_eq!(prefix_end("smi").as_deref(), Some("smj"));
        assert_eq!(prefix_end("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(prefix_end("\u{10FFFF}"), None);
        // Surrogates are skipped.
        assert_eq!(prefix_end("\u{D7FF}").as_deref(), Some("\u{E000}"));
    }

    #[test]
    fn appended_parts_are_renumbered() {
        let mut a = Sql::new("a = ");
        a.bind(1i64);
        let mut b = Sql::new(" AND b = ");
        b.bind("x").push(" AND c = ").bind("y");
        a.append(&b).push(" OR d = ").bind(2i64);
        assert_eq!(a.text, "a = $1 AND b = $2 AND c = $3 OR d = $4");
        assert_eq!(a.args.len(), 4);
    }

    #[test]
    fn rows_are_numbered_one_after_another() {
        assert_eq!(
            insert_rows_sql("t", "a, b", 2, 2),
            "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4)"
        );
    }

    #[test]
    fn placeholders_are_numbered() {
        let mut s = Sql::new("SELECT 1 WHERE a = ");
        s.bind(1i64).push(" AND b IN ").bind_list(&["x", "y"]);
        assert_eq!(s.text, "SELECT 1 WHERE a = $1 AND b IN ($2, $3)");
    }
}
