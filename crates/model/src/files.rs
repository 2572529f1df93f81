//! What phone files are made of, beyond the directory's records.

/// A line appearance with what the files show of its line.
#[derive(Debug, Clone)]
pub struct FileLine {
    pub line_id: i64,
    pub button: i64,
    pub pattern: String,
    pub label: String,
    pub display: String,
    pub alerting_name: String,
    pub max_calls: i64,
    pub busy_trigger: i64,
    /// The line appears on another device too.
    pub shared: bool,
    /// Call forward all, busy and no answer (internal callers): empty when not set.
    pub forward_all: String,
    pub forward_busy: String,
    pub forward_no_answer: String,
}
