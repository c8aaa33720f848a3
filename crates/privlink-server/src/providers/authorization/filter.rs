//! The small OData `$filter` language the authorization lists accept: clauses joined by `and`,
//! each a call (`atScope()`, `assignedTo('{id}')`) or an equality (`roleName eq 'Reader'`).
//! Each API decides which clauses it understands.

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Clause {
    /// `name()` or `name('arg')`.
    Call { name: String, arg: Option<String> },
    /// `field eq 'value'` (the value may also be a bare word such as a GUID).
    Eq { field: String, value: String },
}

impl std::fmt::Display for Clause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Clause::Call { name, arg: None } => write!(f, "{name}()"),
            Clause::Call { name, arg: Some(arg) } => write!(f, "{name}('{arg}')"),
            Clause::Eq { field, value } => write!(f, "{field} eq '{value}'"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word(String),
    Str(String),
    Open,
    Close,
}

fn tokens(text: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' => {
                chars.next();
                out.push(Token::Open);
            }
            ')' => {
                chars.next();
                out.push(Token::Close);
            }
            '\'' => {
                chars.next();
                let mut value = String::new();
                loop {
                    match chars.next() {
                        None => return Err("a quoted string is not terminated".into()),
                        // OData escapes a quote by doubling it.
                        Some('\'') if chars.peek() == Some(&'\'') => {
                            chars.next();
                            value.push('\'');
                        }
                        Some('\'') => break,
                        Some(c) => value.push(c),
                    }
                }
                out.push(Token::Str(value));
            }
            c if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '$') => {
                let mut word = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '$') {
                        word.push(c);
                        chars.next();
                    } else {
                        break;
                    }
                }
                out.push(Token::Word(word));
            }
            other => return Err(format!("unexpected character '{other}'")),
        }
    }
    Ok(out)
}

/// Parse `filter` into its clauses; an empty filter has none. The error says what is wrong.
pub fn parse(filter: &str) -> Result<Vec<Clause>, String> {
    let toks = tokens(filter)?;
    let mut clauses = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        if !clauses.is_empty() {
            match toks.get(i) {
                Some(Token::Word(w)) if w.eq_ignore_ascii_case("and") => i += 1,
                _ => return Err("clauses must be joined with 'and'".into()),
            }
        }
        let Some(Token::Word(head)) = toks.get(i) else {
            return Err("expected a property or function name".into());
        };
        match toks.get(i + 1) {
            Some(Token::Open) => match (toks.get(i + 2), toks.get(i + 3)) {
                (Some(Token::Close), _) => {
                    clauses.push(Clause::Call { name: head.clone(), arg: None });
                    i += 3;
                }
                (Some(Token::Str(arg) | Token::Word(arg)), Some(Token::Close)) => {
                    clauses.push(Clause::Call { name: head.clone(), arg: Some(arg.clone()) });
                    i += 4;
                }
                _ => return Err(format!("'{head}(' takes at most one argument and needs a closing ')'")),
            },
            Some(Token::Word(op)) if op.eq_ignore_ascii_case("eq") => match toks.get(i + 2) {
                Some(Token::Str(value) | Token::Word(value)) => {
                    clauses.push(Clause::Eq { field: head.clone(), value: value.clone() });
                    i += 3;
                }
                _ => return Err(format!("'{head} eq' needs a value")),
            },
            _ => return Err(format!("expected 'eq' or '(' after '{head}'")),
        }
    }
    Ok(clauses)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(name: &str, arg: Option<&str>) -> Clause {
        Clause::Call { name: name.into(), arg: arg.map(Into::into) }
    }

    fn eq(field: &str, value: &str) -> Clause {
        Clause::Eq { field: field.into(), value: value.into() }
    }

    #[test]
    fn parses_the_forms_clients_send() {
        assert_eq!(parse("").unwrap(), vec![]);
        assert_eq!(parse("  ").unwrap(), vec![]);
        assert_eq!(parse("atScope()").unwrap(), vec![call("atScope", None)]);
        assert_eq!(
            parse("atScope() and assignedTo('AB-12')").unwrap(),
            vec![call("atScope", None), call("assignedTo", Some("AB-12"))]
        );
        assert_eq!(
            parse("principalId eq 'c0ffee00-0000-0000-0000-000000000001'").unwrap(),
            vec![eq("principalId", "c0ffee00-0000-0000-0000-000000000001")]
        );
        // The swagger documents the value unquoted.
        assert_eq!(
            parse("principalId eq c0ffee00-0000-0000-0000-000000000001 AND atScope()").unwrap(),
            vec![eq("principalId", "c0ffee00-0000-0000-0000-000000000001"), call("atScope", None)]
        );
        assert_eq!(
            parse("roleName eq 'Reader and Writer''s role' and type eq 'CustomRole'").unwrap(),
            vec![eq("roleName", "Reader and Writer's role"), eq("type", "CustomRole")]
        );
    }

    #[test]
    fn rejects_malformed_filters() {
        for bad in [
            "roleName eq",
            "roleName = 'x'",
            "roleName eq 'x' or type eq 'y'",
            "atScope(",
            "assignedTo('a', 'b')",
            "roleName eq 'open",
            "eq 'x'",
            "atScope() atScope()",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
