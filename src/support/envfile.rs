//! systemd's `EnvironmentFile=` format (systemd.exec(5)), read the way systemd reads it, so
//! `--env-file` gives an admin command exactly the environment the unit gives the daemon.
//!
//! - Empty lines, lines without `=`, and lines starting with `#` or `;` are ignored.
//! - Unquoted values: leading and trailing whitespace dropped, interior whitespace and quotes
//!   kept; `\` keeps the next character; a line ending in `\` continues on the next one.
//! - `'…'` keeps everything verbatim up to the next `'`, across lines; `"…"` likewise, with `\\`,
//!   `\"`, `\$`, `` \` `` and `\`-newline as escapes (other backslashes kept).
//! - An assignment to a name that is not a variable name is ignored (systemd logs and skips it).
//!
//! Problems never quote a line: the file holds secrets.

/// A problem with an environment file: where it is and what it is, never the line itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}{}: {message}", key.as_ref().map(|k| format!(" ({k})")).unwrap_or_default())]
pub struct EnvProblem {
    pub line: usize,
    pub key: Option<String>,
    pub message: String,
}

/// What the file assigns, in order, and the assignments ignored (a name that is not a
/// variable's), each as a problem to warn about.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct EnvFile {
    pub vars: Vec<(String, String)>,
    pub ignored: Vec<EnvProblem>,
}

/// Reads `text` as systemd does; `Err` for what systemd refuses too (a NUL) and for a quote
/// that is never closed (the rest of the file would become one value).
pub fn parse(text: &str) -> Result<EnvFile, EnvProblem> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = EnvFile::default();
    let mut i = 0;
    let mut line = 1;
    let problem = |line: usize, key: Option<&str>, message: &str| EnvProblem {
        line,
        key: key.map(str::to_string),
        message: message.to_string(),
    };
    if let Some(at) = text.find('\0') {
        return Err(problem(
            text[..at].lines().count().max(1),
            None,
            "a NUL character",
        ));
    }
    while i < chars.len() {
        let start_line = line;
        while i < chars.len() && matches!(chars[i], ' ' | '\t' | '\r') {
            i += 1;
        }
        if i >= chars.len() {
            break;
        }
        if matches!(chars[i], '#' | ';' | '\n') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            i += 1;
            line += 1;
            continue;
        }
        let key_start = i;
        while i < chars.len() && chars[i] != '=' && chars[i] != '\n' {
            i += 1;
        }
        if i >= chars.len() || chars[i] == '\n' {
            // No `=`: ignored, as systemd does.
            i += 1;
            line += 1;
            continue;
        }
        let raw_key: String = chars[key_start..i].iter().collect();
        let key = raw_key.trim();
        let key = key
            .strip_prefix("export ")
            .map_or(key, str::trim)
            .to_string();
        i += 1;
        let (value, lines) =
            value(&chars, &mut i).map_err(|m| problem(start_line, Some(&key), m))?;
        line += lines;
        if valid_name(&key) {
            out.vars.push((key, value));
        } else {
            out.ignored.push(problem(
                start_line,
                None,
                "not a variable name before `=`; the line is ignored, as systemd ignores it",
            ));
        }
    }
    Ok(out)
}

/// The value starting at `chars[*i]` (after `=`), up to and including its end of line; how many
/// line ends it consumed.
fn value(chars: &[char], i: &mut usize) -> Result<(String, usize), &'static str> {
    let mut v = String::new();
    let mut lines = 0;
    while *i < chars.len() && matches!(chars[*i], ' ' | '\t' | '\r') {
        *i += 1;
    }
    match chars.get(*i) {
        Some('\'') => {
            *i += 1;
            loop {
                match chars.get(*i) {
                    None => return Err("a ' that is never closed"),
                    Some('\'') => break,
                    Some(c) => {
                        lines += usize::from(*c == '\n');
                        v.push(*c);
                    }
                }
                *i += 1;
            }
            *i += 1;
        }
        Some('"') => {
            *i += 1;
            loop {
                match chars.get(*i) {
                    None => return Err("a \" that is never closed"),
                    Some('"') => break,
                    Some('\\') => match chars.get(*i + 1) {
                        Some('\n') => {
                            lines += 1;
                            *i += 1;
                        }
                        Some(c @ ('\\' | '"' | '$' | '`')) => {
                            v.push(*c);
                            *i += 1;
                        }
                        _ => v.push('\\'),
                    },
                    Some(c) => {
                        lines += usize::from(*c == '\n');
                        v.push(*c);
                    }
                }
                *i += 1;
            }
            *i += 1;
        }
        _ => {}
    }
    // Unquoted text (or what follows a closing quote), to the end of the line.
    let mut tail = String::new();
    while let Some(&c) = chars.get(*i) {
        match c {
            '\n' => break,
            '\\' => match chars.get(*i + 1) {
                Some('\n') => {
                    lines += 1;
                    *i += 1;
                }
                Some(&next) => {
                    tail.push(next);
                    *i += 1;
                }
                None => {}
            },
            c => tail.push(c),
        }
        *i += 1;
    }
    if *i < chars.len() {
        // The line end.
        *i += 1;
        lines += 1;
    }
    v.push_str(tail.trim_end_matches([' ', '\t', '\r']));
    Ok((v, lines))
}

fn valid_name(key: &str) -> bool {
    let mut chars = key.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(text: &str) -> Vec<(String, String)> {
        parse(text).unwrap().vars
    }

    fn kv(k: &str, v: &str) -> (String, String) {
        (k.to_string(), v.to_string())
    }

    #[test]
    fn values_read_as_systemd_reads_them() {
        assert_eq!(
            vars("# secrets\n; also a comment\n\nA=plain\n  B = spaced out  \nC=sk-live-X'unbalanced\n"),
            vec![kv("A", "plain"), kv("B", "spaced out"), kv("C", "sk-live-X'unbalanced")]
        );
        assert_eq!(
            vars("D='single $x \\n\nspans'\nE=\"a \\\"b\\\" \\$c \\q\"\nF=one\\\ntwo\nG=back\\\\slash\n"),
            vec![
                kv("D", "single $x \\n\nspans"),
                kv("E", "a \"b\" $c \\q"),
                kv("F", "onetwo"),
                kv("G", "back\\slash"),
            ]
        );
        assert_eq!(vars("export H=1\nno equals sign\n"), vec![kv("H", "1")]);
    }

    #[test]
    fn what_systemd_skips_is_said_and_what_it_refuses_is_refused_without_the_line() {
        let f = parse("1BAD=x\nOK=y\n").unwrap();
        assert_eq!(f.vars, vec![kv("OK", "y")]);
        assert_eq!(f.ignored[0].line, 1);
        let e = parse("A=1\nKEY='sk-secret\n").unwrap_err();
        assert_eq!(e.to_string(), "line 2 (KEY): a ' that is never closed");
        assert!(!e.to_string().contains("sk-secret"));
        assert_eq!(parse("A=1\nB=\0\n").unwrap_err().line, 2);
    }
}
