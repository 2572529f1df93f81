//! Profile rules of 7800/8800 multiplatform phones (docs/phones.md, "Profile rules and resync
//! (MPP)"): which file a phone fetches, and how. A rule is one or more alternatives separated by
//! `|`; each is an optional condition `( expr )?`, optional options in `[ ]` (`--key K`, `--uid U
//! --pwd P`), and a URL `scheme://server[:port]/path` or a bare `/path` (TFTP from the DHCP-given
//! server). The phone uses the first alternative whose condition holds. Macros are kept as written
//! here; they are expanded when the rule is used.

use crate::Invalid;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileRule {
    pub alternatives: Vec<Alternative>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alternative {
    pub condition: Option<Expr>,
    pub key: Option<String>,
    pub uid: Option<String>,
    pub pwd: Option<String>,
    pub url: RuleUrl,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleUrl {
    /// `tftp`, `http` or `https`; `None` for a bare path (TFTP from DHCP).
    pub scheme: Option<String>,
    pub server: Option<String>,
    pub port: Option<String>,
    pub path: String,
}

impl RuleUrl {
    /// The port the scheme implies when none is written.
    pub fn default_port(&self) -> u16 {
        match self.scheme.as_deref() {
            Some("http") => 80,
            Some("https") => 443,
            _ => 69,
        }
    }
}

/// A condition: comparisons joined by `AND` / `OR`, in parentheses as needed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    Compare {
        left: String,
        op: Op,
        right: String,
    },
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    /// A bare value: true when it is not empty (after expansion).
    Value(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Expr {
    /// Evaluates with the macros expanded by `expand`; numbers compare as numbers (versions
    /// like `11.3.1` part by part), other values as text.
    pub fn eval(&self, expand: &dyn Fn(&str) -> String) -> bool {
        match self {
            Expr::And(a, b) => a.eval(expand) && b.eval(expand),
            Expr::Or(a, b) => a.eval(expand) || b.eval(expand),
            Expr::Value(v) => !expand(v).is_empty(),
            Expr::Compare { left, op, right } => {
                let (l, r) = (expand(left), expand(right));
                let ord = compare(&l, &r);
                match op {
                    Op::Eq => ord.is_eq(),
                    Op::Ne => ord.is_ne(),
                    Op::Lt => ord.is_lt(),
                    Op::Le => ord.is_le(),
                    Op::Gt => ord.is_gt(),
                    Op::Ge => ord.is_ge(),
                }
            }
        }
    }
}

fn compare(a: &str, b: &str) -> std::cmp::Ordering {
    let parts = |s: &str| -> Option<Vec<u64>> { s.split('.').map(|p| p.parse().ok()).collect() };
    match (parts(a), parts(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        _ => a.cmp(b),
    }
}

impl ProfileRule {
    /// Parses a rule; `field` names it in errors (`profile_rule_b`).
    pub fn parse(field: &str, text: &str) -> Result<ProfileRule, Invalid> {
        let err = |m: String| Invalid::new(field, m);
        if text.trim().is_empty() {
            return Err(err("the profile rule is empty".into()));
        }
        let mut alternatives = Vec::new();
        for (n, alt) in split_top(text, '|').into_iter().enumerate() {
            alternatives.push(
                parse_alternative(alt.trim())
                    .map_err(|m| err(format!("alternative {}: {m}", n + 1)))?,
            );
        }
        Ok(ProfileRule { alternatives })
    }

    /// The first alternative whose condition holds.
    pub fn choose(&self, expand: &dyn Fn(&str) -> String) -> Option<&Alternative> {
        self.alternatives
            .iter()
            .find(|a| a.condition.as_ref().is_none_or(|c| c.eval(expand)))
    }
}

/// Splits at `sep` outside parentheses and brackets.
fn split_top(s: &str, sep: char) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in s.char_indices() {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            c if c == sep && depth == 0 => {
                out.push(&s[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

fn parse_alternative(s: &str) -> Result<Alternative, String> {
    let mut rest = s;
    let mut condition = None;
    if rest.starts_with('(') {
        let close = matching(rest, 0, '(', ')').ok_or("a `(` of the condition is not closed")?;
        let after = rest[close + 1..].trim_start();
        let Some(after) = after.strip_prefix('?') else {
            return Err("a condition `( … )` must be followed by `?`".into());
        };
        condition = Some(parse_expr(&rest[1..close])?);
        rest = after.trim_start();
    }
    let (mut key, mut uid, mut pwd) = (None, None, None);
    if rest.starts_with('[') {
        let close = matching(rest, 0, '[', ']').ok_or("a `[` of the options is not closed")?;
        let mut words = rest[1..close].split_whitespace();
        while let Some(w) = words.next() {
            let mut value = |name: &str| {
                words
                    .next()
                    .map(str::to_string)
                    .ok_or(format!("option {name} needs a value"))
            };
            match w {
                "--key" => key = Some(value("--key")?),
                "--uid" => uid = Some(value("--uid")?),
                "--pwd" => pwd = Some(value("--pwd")?),
                other => {
                    return Err(format!(
                        "unknown option `{other}`; the options are --key, --uid and --pwd"
                    ))
                }
            }
        }
        if uid.is_some() != pwd.is_some() {
            return Err("--uid and --pwd go together".into());
        }
        rest = rest[close + 1..].trim_start();
    }
    Ok(Alternative {
        condition,
        key,
        uid,
        pwd,
        url: parse_url(rest)?,
    })
}

fn matching(s: &str, open_at: usize, open: char, close: char) -> Option<usize> {
    let mut depth = 0;
    for (i, c) in s[open_at..].char_indices() {
        if c == open {
            depth += 1;
        } else if c == close {
            depth -= 1;
            if depth == 0 {
                return Some(open_at + i);
            }
        }
    }
    None
}

fn parse_url(s: &str) -> Result<RuleUrl, String> {
    if s.is_empty() {
        return Err("there is no URL".into());
    }
    if s.chars().any(char::is_whitespace) {
        return Err(format!(
            "`{s}` has a space: a URL has none (options go in [ ] before it)"
        ));
    }
    if s.starts_with('/') {
        return Ok(RuleUrl {
            scheme: None,
            server: None,
            port: None,
            path: s.into(),
        });
    }
    let (scheme, after) = s
        .split_once("://")
        .ok_or(format!("`{s}` is neither scheme://server/path nor /path"))?;
    let scheme = scheme.to_ascii_lowercase();
    if !matches!(scheme.as_str(), "tftp" | "http" | "https") {
        return Err(format!("scheme `{scheme}` is not tftp, http or https"));
    }
    let (hostport, path) = match after.find('/') {
        Some(i) => (&after[..i], &after[i..]),
        None => return Err(format!("`{s}` has no path after the server")),
    };
    let (server, port) = match hostport.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || hostport.starts_with('[') => (h, Some(p)),
        _ => (hostport, None),
    };
    if server.is_empty() {
        return Err(format!("`{s}` has no server"));
    }
    if let Some(p) = port {
        let macro_port = p.starts_with('$');
        if !macro_port && p.parse::<u16>().map(|n| n == 0).unwrap_or(true) {
            return Err(format!("port `{p}` is not 1 to 65535"));
        }
    }
    Ok(RuleUrl {
        scheme: Some(scheme),
        server: Some(server.into()),
        port: port.map(str::to_string),
        path: path.into(),
    })
}

fn parse_expr(s: &str) -> Result<Expr, String> {
    let tokens = tokenize(s)?;
    let mut pos = 0;
    let e = parse_or(&tokens, &mut pos)?;
    if pos != tokens.len() {
        return Err(format!("unexpected `{}` in the condition", tokens[pos]));
    }
    Ok(e)
}

fn tokenize(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '(' || c == ')' {
            out.push(c.to_string());
            chars.next();
        } else if c == '"' || c == '\'' {
            chars.next();
            let mut v = String::from("\"");
            loop {
                match chars.next() {
                    Some(q) if q == c => break,
                    Some(x) => v.push(x),
                    None => return Err("a quoted value is not closed".into()),
                }
            }
            out.push(v);
        } else {
            let mut v = String::new();
            while let Some(&x) = chars.peek() {
                if x.is_whitespace() || x == '(' || x == ')' {
                    break;
                }
                v.push(x);
                chars.next();
            }
            out.push(v);
        }
    }
    if out.is_empty() {
        return Err("the condition is empty".into());
    }
    Ok(out)
}

fn op(t: &str) -> Option<Op> {
    Some(match t.to_ascii_uppercase().as_str() {
        "EQ" | "==" | "=" => Op::Eq,
        "NE" | "!=" => Op::Ne,
        "LT" | "<" => Op::Lt,
        "LE" | "<=" => Op::Le,
        "GT" | ">" => Op::Gt,
        "GE" | ">=" => Op::Ge,
        _ => return None,
    })
}

fn parse_or(t: &[String], pos: &mut usize) -> Result<Expr, String> {
    let mut left = parse_and(t, pos)?;
    while t.get(*pos).is_some_and(|x| x.eq_ignore_ascii_case("OR")) {
        *pos += 1;
        left = Expr::Or(Box::new(left), Box::new(parse_and(t, pos)?));
    }
    Ok(left)
}

fn parse_and(t: &[String], pos: &mut usize) -> Result<Expr, String> {
    let mut left = parse_atom(t, pos)?;
    while t.get(*pos).is_some_and(|x| x.eq_ignore_ascii_case("AND")) {
        *pos += 1;
        left = Expr::And(Box::new(left), Box::new(parse_atom(t, pos)?));
    }
    Ok(left)
}

fn value(t: &str) -> String {
    t.strip_prefix('"')
        .map(str::to_string)
        .unwrap_or_else(|| t.to_string())
}

fn parse_atom(t: &[String], pos: &mut usize) -> Result<Expr, String> {
    let tok = t.get(*pos).ok_or("the condition ends too early")?;
    if tok == "(" {
        *pos += 1;
        let e = parse_or(t, pos)?;
        if t.get(*pos).map(String::as_str) != Some(")") {
            return Err("a `(` in the condition is not closed".into());
        }
        *pos += 1;
        return Ok(e);
    }
    if tok == ")"
        || op(tok).is_some()
        || tok.eq_ignore_ascii_case("AND")
        || tok.eq_ignore_ascii_case("OR")
    {
        return Err(format!("`{tok}` cannot start a comparison"));
    }
    *pos += 1;
    match t.get(*pos).and_then(|x| op(x)) {
        Some(o) => {
            *pos += 1;
            let right = t
                .get(*pos)
                .ok_or(format!("`{tok}` is compared with nothing"))?;
            if right == "(" || right == ")" {
                return Err(format!("`{tok}` is compared with `{right}`"));
            }
            *pos += 1;
            Ok(Expr::Compare {
                left: value(tok),
                op: o,
                right: value(right),
            })
        }
        None => Ok(Expr::Value(value(tok))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_examples_parse() {
        let r = ProfileRule::parse("profile_rule", "/spa$PSN.cfg").unwrap();
        assert_eq!(r.alternatives[0].url.path, "/spa$PSN.cfg");
        assert_eq!(r.alternatives[0].url.scheme, None);
        let r = ProfileRule::parse(
            "profile_rule",
            "http://10.74.121.56/dms/CP-8861-3PCC/8861-3PCC.xml",
        )
        .unwrap();
        let u = &r.alternatives[0].url;
        assert_eq!(
            (u.scheme.as_deref(), u.server.as_deref(), u.port.as_deref()),
            (Some("http"), Some("10.74.121.56"), None)
        );
        let r = ProfileRule::parse("profile_rule", "tftp://10.74.121.56:69/8861conf.cfg").unwrap();
        assert_eq!(r.alternatives[0].url.port.as_deref(), Some("69"));
    }

    #[test]
    fn options_conditions_and_alternatives() {
        let r = ProfileRule::parse(
            "profile_rule_b",
            "( $SWVER LT 11.3.1 AND $PSN EQ \"8861-3PCC\" )? [--uid $MA --pwd s3cret] https://prov.example.com:8443/$MA.xml | [--key $B] http://backup.example.com/$MA.xml",
        )
        .unwrap();
        assert_eq!(r.alternatives.len(), 2);
        let a = &r.alternatives[0];
        assert_eq!(
            (a.uid.as_deref(), a.pwd.as_deref()),
            (Some("$MA"), Some("s3cret"))
        );
        assert_eq!(r.alternatives[1].key.as_deref(), Some("$B"));
        let old = |n: &str| match n {
            "$SWVER" => "11.2.9".to_string(),
            "$PSN" => "8861-3PCC".to_string(),
            other => other.to_string(),
        };
        assert_eq!(
            r.choose(&old).unwrap().url.server.as_deref(),
            Some("prov.example.com")
        );
        let new = |n: &str| {
            if n == "$SWVER" {
                "11.10.0".to_string()
            } else {
                old(n)
            }
        };
        assert_eq!(
            r.choose(&new).unwrap().url.server.as_deref(),
            Some("backup.example.com"),
            "11.10.0 > 11.3.1 as a version"
        );
    }

    #[test]
    fn mistakes_are_explained() {
        for (rule, says) in [
            ("", "empty"),
            ("ftp://x/y", "scheme"),
            ("http://server", "no path"),
            ("http://:80/x", "no server"),
            ("http://s:99999/x", "port"),
            ("[--uid a] http://s/x", "go together"),
            ("[--bogus] http://s/x", "unknown option"),
            ("( $A EQ )? http://s/x", "compared with nothing"),
            ("( $A EQ 1 http://s/x", "not closed"),
            ("( $A EQ 1 ) http://s/x", "followed by `?`"),
            ("http://s/a b", "space"),
            ("http://s/x | ", "no URL"),
            ("spa.cfg", "neither"),
        ] {
            let e = ProfileRule::parse("profile_rule", rule).unwrap_err();
            assert_eq!(e.field, "profile_rule");
            assert!(e.message.contains(says), "{rule}: {}", e.message);
        }
    }
}
