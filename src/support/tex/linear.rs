//! Math that has no faithful Unicode form, written for reading rather than left as TeX: what a
//! digest shows of `$\mu_{\mathcal{L}}$` is `μ_ℒ`, of `$\frac{1}{2}$` is `1/2`. The stored text
//! keeps the TeX; this is only for display.

use super::{
    command, find_math_end, matching_brace, math_accent_mark, push_accented, styled_letter,
    subscript, superscript,
};

/// `text` with every remaining `$…$` math span written as plain, readable text.
pub fn readable(text: &str) -> String {
    if !text.contains('$') {
        return text.to_string();
    }
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '$' {
            let display = chars.get(i + 1) == Some(&'$');
            let start = if display { i + 2 } else { i + 1 };
            if let Some(end) = find_math_end(&chars, start, display) {
                let close = if display { end + 2 } else { end + 1 };
                // A command it does not know keeps the whole span as TeX, never half-converted.
                match linear(&chars[start..end]) {
                    Some(read) => out.push_str(&read),
                    None => out.extend(&chars[i..close]),
                }
                i = close;
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    // An accent put on a letter (`\tilde{O}`) is one character, as in `to_unicode`.
    unicode_normalization::UnicodeNormalization::nfc(out.as_str()).collect()
}

/// The argument at `j`: a braced group or one character.
fn argument(chars: &[char], j: usize) -> (Vec<char>, usize) {
    match chars.get(j) {
        Some('{') => match matching_brace(chars, j) {
            Some(close) => (chars[j + 1..close].to_vec(), close + 1),
            None => (chars[j + 1..].to_vec(), chars.len()),
        },
        // A command with its braced argument (`_\mathcal{D}`), as one argument.
        Some('\\') => {
            let mut k = j + 1;
            while k < chars.len() && chars[k].is_ascii_alphabetic() {
                k += 1;
            }
            k = k.max(j + 2).min(chars.len());
            if chars.get(k) == Some(&'{') {
                if let Some(close) = matching_brace(chars, k) {
                    k = close + 1;
                }
            }
            (chars[j..k].to_vec(), k)
        }
        Some(&c) => (vec![c], j + 1),
        None => (Vec::new(), j),
    }
}

fn grouped(s: String) -> String {
    if s.chars().count() > 1 {
        format!("({s})")
    } else {
        s
    }
}

fn linear(inner: &[char]) -> Option<String> {
    let mut out = String::new();
    let mut i = 0;
    while i < inner.len() {
        match inner[i] {
            '\\' => {
                let start = i + 1;
                let mut j = start;
                while j < inner.len() && inner[j].is_ascii_alphabetic() {
                    j += 1;
                }
                let name: String = inner[start..j].iter().collect();
                match name.as_str() {
                    "frac" | "dfrac" | "tfrac" => {
                        let (a, k) = argument(inner, j);
                        let (b, k) = argument(inner, k);
                        out.push_str(&format!(
                            "{}/{}",
                            grouped(linear(&a)?),
                            grouped(linear(&b)?)
                        ));
                        i = k;
                    }
                    "sqrt" => {
                        let (a, k) = argument(inner, j);
                        out.push('√');
                        out.push_str(&grouped(linear(&a)?));
                        i = k;
                    }
                    "mathcal" | "mathbb" => {
                        let (a, k) = argument(inner, j);
                        let body = linear(&a)?;
                        match styled_letter(&name, body.trim()) {
                            Some(l) => out.push(l),
                            None => out.push_str(&body),
                        }
                        i = k;
                    }
                    _ if math_accent_mark(&name).is_some() => {
                        let (a, k) = argument(inner, j);
                        let body = linear(&a)?;
                        let mut cs = body.chars();
                        match (cs.next(), cs.next()) {
                            (Some(b), None) => push_accented(&mut out, b, math_accent_mark(&name)?),
                            _ => out.push_str(&body),
                        }
                        i = k;
                    }
                    // (Accents such as `\hat` are taken by the arm above.)
                    "mathbf" | "mathrm" | "mathit" | "mathsf" | "mathscr" | "mathfrak"
                    | "boldsymbol" | "bm" | "text" | "textbf" | "textit" | "textrm"
                    | "operatorname" => {
                        let (a, k) = argument(inner, j);
                        out.push_str(&linear(&a)?);
                        i = k;
                    }
                    "left" | "right" | "big" | "Big" | "bigg" | "Bigg" | "displaystyle" => {
                        i = j;
                    }
                    _ => {
                        let mut known = String::new();
                        let next = command(inner, i, &mut known, true);
                        if known.contains('\\') {
                            return None;
                        }
                        out.push_str(&known);
                        i = next.max(i + 1);
                    }
                }
            }
            c @ ('^' | '_') => {
                let (a, k) = argument(inner, i + 1);
                let body = linear(&a)?;
                let small: Option<String> = body
                    .chars()
                    .map(|ch| {
                        if c == '^' {
                            superscript(ch)
                        } else {
                            subscript(ch)
                        }
                    })
                    .collect();
                match small {
                    Some(s) if !s.is_empty() => out.push_str(&s),
                    _ => {
                        out.push(c);
                        out.push_str(&grouped(body));
                    }
                }
                i = k;
            }
            '{' | '}' => i += 1,
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leftover_math_reads_as_text() {
        assert_eq!(
            readable(r"the mean $\mu_{\mathcal{L}}$ and variance $\sigma_{\mathcal{L}}^2$ of L"),
            "the mean μ_ℒ and variance σ_ℒ² of L"
        );
        // Issue 20's examples from real abstracts.
        assert_eq!(
            readable(r"$\tilde{O}(\sqrt{\frac{1}{N}})$ with $N_\mathcal{D}$"),
            "Õ(√(1/N)) with N_𝒟"
        );
        assert_eq!(readable(r"$\Tilde{O}(d)$"), "Õ(d)");
        assert_eq!(readable(r"$a \equiv b$"), "a ≡ b");
        // What it does not know stays TeX, whole.
        assert_eq!(readable(r"$\frobnicate{x} + 1$"), r"$\frobnicate{x} + 1$");
        assert_eq!(readable(r"a $\frac{1}{2}$ rate"), "a 1/2 rate");
        assert_eq!(readable(r"loss $x^{q}$"), "loss x^q");
        assert_eq!(
            readable(r"$\left(\mathbf{W}\right)$ and \$5"),
            r"(W) and \$5"
        );
        assert_eq!(readable("no math, a lone $ sign"), "no math, a lone $ sign");
    }
}
