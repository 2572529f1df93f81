//! Resync triggers of MPP phones (seeds 002 and 004, "Resync Trigger 1/2"): a conditional
//! expression the phone evaluates, resyncing when it is true. Checked here so that one the phone
//! could not read is refused when it is set, not ignored by every phone.
//!
//! ```text
//! expr    := and ( "or" and )*
//! and     := factor ( "and" factor )*
//! factor  := "(" expr ")" | operand cmp operand
//! operand := $NAME | $(NAME) | number | version (1.2.3) | "text" | 'text'
//! cmp     := eq | ne | lt | le | gt | ge | == | != | < | <= | > | >=
//! ```

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Open,
    Close,
    And,
    Or,
    Cmp,
    Operand,
}

fn lex(s: &str) -> Result<Vec<(Tok, String)>, String> {
    let b: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c == '(' || c == ')' {
            out.push((if c == '(' { Tok::Open } else { Tok::Close }, c.to_string()));
            i += 1;
            continue;
        }
        if c == '"' || c == '\'' {
            let end = b[i + 1..]
                .iter()
                .position(|x| *x == c)
                .ok_or_else(|| format!("the text starting at {} is not closed", i + 1))?;
            out.push((Tok::Operand, b[i..i + end + 2].iter().collect()));
            i += end + 2;
            continue;
        }
        if "=!<>".contains(c) {
            let two: String = b[i..(i + 2).min(b.len())].iter().collect();
            let op = if ["==", "!=", "<=", ">="].contains(&two.as_str()) {
                two
            } else if c == '<' || c == '>' {
                c.to_string()
            } else {
                return Err(format!("`{c}` alone is not a comparison (say == or !=)"));
            };
            i += op.len();
            out.push((Tok::Cmp, op));
            continue;
        }
        let start = i;
        if c == '$' && b.get(i + 1) == Some(&'(') {
            let end = b[i..]
                .iter()
                .position(|x| *x == ')')
                .ok_or("a $( is not closed")?;
            i += end + 1;
        } else {
            while i < b.len() && !b[i].is_whitespace() && !"()\"'=!<>".contains(b[i]) {
                i += 1;
            }
        }
        let word: String = b[start..i].iter().collect();
        let lower = word.to_ascii_lowercase();
        let tok = match lower.as_str() {
            "and" => Tok::And,
            "or" => Tok::Or,
            "eq" | "ne" | "lt" | "le" | "gt" | "ge" => Tok::Cmp,
            _ => {
                let ok = match word.strip_prefix('$') {
                    Some(name) => {
                        let name = name.trim_start_matches('(').trim_end_matches(')');
                        !name.is_empty()
                            && name
                                .chars()
                                .all(|c| c.is_ascii_alphanumeric() || "_:".contains(c))
                    }
                    None => {
                        word.chars().all(|c| c.is_ascii_digit() || c == '.') && !word.is_empty()
                    }
                };
                if !ok {
                    return Err(format!(
                        "`{word}` is neither a $MACRO, a number, nor quoted text"
                    ));
                }
                Tok::Operand
            }
        };
        out.push((tok, word));
    }
    Ok(out)
}

struct Parser {
    toks: Vec<(Tok, String)>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at).map(|t| &t.0)
    }
    fn next_is(&mut self, t: Tok) -> bool {
        if self.peek() == Some(&t) {
            self.at += 1;
            true
        } else {
            false
        }
    }
    fn found(&self) -> String {
        match self.toks.get(self.at) {
            Some((_, w)) => format!("`{w}`"),
            None => "the end".into(),
        }
    }
    fn expr(&mut self) -> Result<(), String> {
        self.and()?;
        while self.next_is(Tok::Or) {
            self.and()?;
        }
        Ok(())
    }
    fn and(&mut self) -> Result<(), String> {
        self.factor()?;
        while self.next_is(Tok::And) {
            self.factor()?;
        }
        Ok(())
    }
    fn factor(&mut self) -> Result<(), String> {
        if self.next_is(Tok::Open) {
            self.expr()?;
            if !self.next_is(Tok::Close) {
                return Err(format!(
                    "a ( is not closed: {} where ) was expected",
                    self.found()
                ));
            }
            return Ok(());
        }
        for want in [Tok::Operand, Tok::Cmp, Tok::Operand] {
            if !self.next_is(want.clone()) {
                let what = if want == Tok::Cmp {
                    "a comparison (eq, ne, lt, le, gt, ge)"
                } else {
                    "an operand"
                };
                return Err(format!("{} where {what} was expected", self.found()));
            }
        }
        Ok(())
    }
}

/// Checks a trigger; the error says what is wrong and where.
pub fn parse(s: &str) -> Result<(), String> {
    let mut p = Parser {
        toks: lex(s)?,
        at: 0,
    };
    p.expr()?;
    if p.at < p.toks.len() {
        return Err(format!("{} after a complete condition", p.found()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn conditions_the_phone_reads() {
        for ok in [
            "$REGTMR1 gt 300",
            "$REGTMR1 gt 300 and $PRVTMR ge 1200",
            "($UPGTMR gt 3600 or $REGTMR2 > 30) and $SWVER ne \"11.3.1\"",
            "$SCRATCH == 1",
            "$(PRVTMR) GE 86400",
            "$SWVER lt 11.3.1",
        ] {
            assert_eq!(parse(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn what_the_phone_could_not_read_is_said() {
        let e = |s: &str| parse(s).unwrap_err();
        assert!(e("$REGTMR1 300").contains("`300` where a comparison"));
        assert!(e("$REGTMR1 gt").contains("the end where an operand"));
        assert!(e("($A eq 1").contains("not closed"));
        assert!(e("$A eq 1 $B").contains("after a complete condition"));
        assert!(e("http://x/admin/resync").contains("neither a $MACRO"));
        assert!(e("$A = 1").contains("alone is not a comparison"));
        assert!(e("$A eq \"x").contains("not closed"));
        assert!(e("$A eq 1 and").contains("the end"));
    }
}
