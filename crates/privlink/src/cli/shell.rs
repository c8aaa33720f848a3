//! Printing environment variables for a shell to evaluate (`eval "$(privlink env)"`), for
//! PowerShell, or as JSON. Values are quoted so that nothing in them is interpreted.

use clap::ValueEnum;
use serde_json::{Map, Value};

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq, Default)]
pub enum Shell {
    /// POSIX shells: `export NAME='value'` (for `eval "$(privlink …)"`).
    #[default]
    Sh,
    /// One JSON object, `{"NAME": "value", …}`.
    Json,
    /// PowerShell: `$env:NAME = 'value'` (for `privlink … --shell powershell | Invoke-Expression`).
    Powershell,
}

/// `value` as one single-quoted POSIX shell word: a `'` inside becomes `'\''`.
pub fn sh_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// `value` as one single-quoted PowerShell string: a `'` inside becomes `''`.
pub fn ps_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// A comment that stays on one line, so evaluating the output never runs part of it.
fn comment(text: &str) -> String {
    format!("# {}\n", text.replace(['\r', '\n'], " "))
}

/// The variables (in order) and, for the shells, comment lines after them. JSON has no comments:
/// they are left out.
pub fn render(shell: Shell, vars: &[(&str, String)], comments: &[String]) -> String {
    let mut out = String::new();
    match shell {
        Shell::Sh => {
            for (name, value) in vars {
                out.push_str(&format!("export {name}={}\n", sh_quote(value)));
            }
            comments.iter().for_each(|c| out.push_str(&comment(c)));
        }
        Shell::Powershell => {
            for (name, value) in vars {
                out.push_str(&format!("$env:{name} = {}\n", ps_quote(value)));
            }
            comments.iter().for_each(|c| out.push_str(&comment(c)));
        }
        Shell::Json => {
            let map: Map<String, Value> =
                vars.iter().map(|(name, value)| (name.to_string(), Value::String(value.clone()))).collect();
            out.push_str(&serde_json::to_string_pretty(&Value::Object(map)).unwrap_or_default());
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a POSIX shell makes of `export`-lines: run them and print the values back.
    fn through_sh(script: &str, names: &[&str]) -> Option<Vec<String>> {
        let mut full = script.to_string();
        for n in names {
            full.push_str(&format!("printf '%s\\0' \"${n}\"\n"));
        }
        let out = std::process::Command::new("sh").arg("-c").arg(&full).output().ok()?;
        assert!(out.status.success(), "sh failed: {}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8(out.stdout).ok()?;
        Some(text.split('\0').filter(|s| !s.is_empty()).map(str::to_string).collect())
    }

    #[test]
    fn single_quotes_are_escaped_for_sh() {
        assert_eq!(sh_quote("abc"), "'abc'");
        assert_eq!(sh_quote("it's"), r"'it'\''s'");
        assert_eq!(sh_quote(""), "''");
        assert_eq!(sh_quote("$HOME `x` \"y\""), "'$HOME `x` \"y\"'");
    }

    #[test]
    fn single_quotes_are_doubled_for_powershell() {
        assert_eq!(ps_quote("it's"), "'it''s'");
        assert_eq!(ps_quote("$env:X"), "'$env:X'");
    }

    #[test]
    fn sh_output_round_trips_through_a_shell() {
        let tricky = "a'b\"c $HOME `id` \\ ~x8Q~.-_\nsecond line";
        let vars = [("PL_A", tricky.to_string()), ("PL_B", "https://127.0.0.1:8443".to_string())];
        let script = render(Shell::Sh, &vars, &["a comment\nrm -rf /tmp/nothing".into()]);
        assert!(script.lines().last().is_some_and(|l| l.starts_with("# ")), "{script}");
        assert!(!script.contains("\nrm"), "a comment must stay on its line: {script}");
        if let Some(values) = through_sh(&script, &["PL_A", "PL_B"]) {
            assert_eq!(values, vec![tricky.to_string(), "https://127.0.0.1:8443".to_string()]);
        }
    }

    #[test]
    fn powershell_and_json_renderings() {
        let vars = [("A", "x'y".to_string()), ("B", "z".to_string())];
        assert_eq!(render(Shell::Powershell, &vars, &["hi".into()]), "$env:A = 'x''y'\n$env:B = 'z'\n# hi\n");
        let json: Value = serde_json::from_str(&render(Shell::Json, &vars, &["ignored".into()])).unwrap();
        assert_eq!(json, serde_json::json!({ "A": "x'y", "B": "z" }));
    }
}
