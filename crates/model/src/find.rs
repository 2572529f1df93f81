//! How a list is asked for: a prefix, equality filters, order and page.

/// How to find records: a prefix, equality filters, order and page.
#[derive(Debug, Clone, Default)]
pub struct Find {
    /// Prefix matched (case-insensitively) against the record's names.
    pub q: Option<String>,
    /// Only records of this system.
    pub system: Option<String>,
    /// Only records of these systems (what the administrator asking may see); `None`: any.
    pub systems: Option<Vec<String>>,
    /// `field = value` filters the resource allows.
    pub filters: Vec<(String, String)>,
    pub sort: Option<String>,
    pub descending: bool,
    pub limit: i64,
    pub offset: i64,
    /// Count the matches only up to this many: the page's `total` is then at most this, and
    /// `total_exact` is false when more match. A list among a million records answers a broad
    /// prefix without counting every match; `None` counts them all.
    pub count_up_to: Option<i64>,
}

impl Find {
    /// How many matches lists count before they say "N+" (see [`Find::count_up_to`]).
    pub const LIST_COUNT: i64 = 1_000;

    pub fn all() -> Find {
        Find {
            limit: 100_000,
            ..Default::default()
        }
    }
    /// `ASC` or `DESC`, as SQL writes the order.
    pub fn order(&self) -> &'static str {
        if self.descending {
            "DESC"
        } else {
            "ASC"
        }
    }
}
