//! Terminal output: aligned tables, colour only when stdout is a terminal (and NO_COLOR is unset),
//! a progress bar only when stderr is a terminal.

use std::io::IsTerminal as _;

use owo_colors::{OwoColorize as _, Stream};

use crate::pipeline::Progress;

/// A status word, coloured by meaning when stdout is a terminal.
pub fn status(s: &str) -> String {
    let shown = s.replace('_', " ");
    match s {
        "ok" | "delivered" | "dry_run" | "already_delivered" | "applied" | "answered"
        | "unsubscribed" | "sent" | "undid" => shown
            .if_supports_color(Stream::Stdout, |t| t.green())
            .to_string(),
        "failed" | "send_failed" | "not_scored" | "rejected" => shown
            .if_supports_color(Stream::Stdout, |t| t.red())
            .to_string(),
        "degraded" | "running" | "interrupted" | "paused" | "pending" => shown
            .if_supports_color(Stream::Stdout, |t| t.yellow())
            .to_string(),
        _ => shown,
    }
}

pub fn bold(s: &str) -> String {
    s.if_supports_color(Stream::Stdout, |t| t.bold())
        .to_string()
}

pub use crate::domain::thousands;

/// Prints rows under headers, columns aligned; `right` lists the right-aligned columns.
/// Widths count characters of the text without colour codes.
pub fn table(headers: &[&str], rows: &[Vec<String>], right: &[usize]) -> String {
    let visible = |s: &str| strip_ansi(s).chars().count();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(visible(cell));
        }
    }
    let line = |cells: Vec<String>| {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            let pad = " ".repeat(widths[i].saturating_sub(visible(cell)));
            if i > 0 {
                out.push_str("  ");
            }
            if right.contains(&i) {
                out.push_str(&pad);
                out.push_str(cell);
            } else {
                out.push_str(cell);
                if i + 1 < cells.len() {
                    out.push_str(&pad);
                }
            }
        }
        out.trim_end().to_string()
    };
    let mut out = line(headers.iter().map(|h| bold(h)).collect());
    out.push('\n');
    for row in rows {
        out.push_str(&line(row.clone()));
        out.push('\n');
    }
    out
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for n in chars.by_ref() {
                if n.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A sparkline of `values`: one block character per value, scaled to the largest.
pub fn sparkline(values: &[f64]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let max = values.iter().cloned().fold(0.0, f64::max);
    values
        .iter()
        .map(|v| {
            if max <= 0.0 || *v <= 0.0 {
                ' '
            } else {
                BARS[((v / max) * 7.0).round() as usize]
            }
        })
        .collect()
}

/// An indicatif progress bar on stderr when it is a terminal; nothing otherwise.
pub struct Bar(Option<indicatif::ProgressBar>);

impl Bar {
    pub fn new(enabled: bool, what: &'static str) -> Bar {
        if !enabled || !std::io::stderr().is_terminal() {
            return Bar(None);
        }
        let bar = indicatif::ProgressBar::hidden();
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{msg} [{bar:30}] {pos}/{len} papers, {elapsed} elapsed, ~{eta} left",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        bar.set_message(what);
        Bar(Some(bar))
    }
}

impl Progress for Bar {
    fn start(&self, total: usize) {
        if let (Some(b), true) = (&self.0, total > 0) {
            b.set_length(total as u64);
            b.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        }
    }

    fn advance(&self, n: usize) {
        if let Some(b) = &self.0 {
            b.inc(n as u64);
        }
    }

    fn finish(&self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
}

/// Text from outside (a title, a name, a model's comment) for the terminal: control and bidi
/// characters shown as their codes, never obeyed.
pub fn untrusted(s: &str) -> String {
    crate::support::text::for_terminal(s).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_on_visible_width() {
        let t = table(
            &["a", "n"],
            &[
                vec!["Björn".into(), "1".into()],
                vec!["x".into(), "100".into()],
            ],
            &[1],
        );
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[1], "Björn    1");
        assert_eq!(lines[2], "x      100");
    }

    #[test]
    fn sparkline_scales_to_the_largest() {
        assert_eq!(sparkline(&[0.0, 1.0, 2.0, 4.0]), " ▃▅█");
        assert_eq!(sparkline(&[]), "");
    }
}
