//! TeX to Unicode for what arXiv metadata actually contains: accented names (`Bj\"orn`,
//! `Micha{\l}`, `Solja\v{c}i\'c`), escaped specials (`\&`), dashes and quotes, and small inline
//! math (`$\sim$600`, `L$^2$M`). Math that cannot be written faithfully in Unicode is left as TeX.

mod linear;

pub use linear::readable;

use unicode_normalization::UnicodeNormalization;

/// Converts TeX markup in `input` to Unicode text (NFC). Text without markup is returned unchanged.
pub fn to_unicode(input: &str) -> String {
    if !input.contains(['\\', '$', '{', '}', '-', '`', '\'']) {
        return input.nfc().collect();
    }
    let chars: Vec<char> = input.chars().collect();
    let mut out = String::with_capacity(input.len());
    text(&chars, &mut out);
    out.nfc().collect()
}

fn text(chars: &[char], out: &mut String) {
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' => i = command(chars, i, out, false),
            '$' => {
                let display = chars.get(i + 1) == Some(&'$');
                let start = if display { i + 2 } else { i + 1 };
                match find_math_end(chars, start, display) {
                    Some(end) => {
                        let inner = &chars[start..end];
                        let close = if display { end + 2 } else { end + 1 };
                        match math(inner) {
                            Some(converted) => out.push_str(&converted),
                            None => out.extend(&chars[i..close]),
                        }
                        i = close;
                    }
                    None => {
                        out.push('$');
                        i += 1;
                    }
                }
            }
            '{' | '}' => i += 1,
            '-' if chars.get(i + 1) == Some(&'-') => {
                if chars.get(i + 2) == Some(&'-') {
                    out.push('—');
                    i += 3;
                } else {
                    out.push('–');
                    i += 2;
                }
            }
            '`' if chars.get(i + 1) == Some(&'`') => {
                out.push('“');
                i += 2;
            }
            '\'' if chars.get(i + 1) == Some(&'\'') => {
                out.push('”');
                i += 2;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
}

fn find_math_end(chars: &[char], start: usize, display: bool) -> Option<usize> {
    let mut j = start;
    while j < chars.len() {
        match chars[j] {
            '\\' => j += 2,
            '$' if !display => return (j > start).then_some(j),
            '$' if display && chars.get(j + 1) == Some(&'$') => return Some(j),
            _ => j += 1,
        }
    }
    None
}

/// Reads a control sequence starting at `chars[i] == '\\'`, writes its Unicode, returns the next index.
fn command(chars: &[char], i: usize, out: &mut String, in_math: bool) -> usize {
    let Some(&next) = chars.get(i + 1) else {
        out.push('\\');
        return i + 1;
    };
    if !next.is_ascii_alphabetic() {
        // Control symbol: accents and escaped specials.
        if let Some(mark) = accent_mark(next) {
            let (base, end) = accent_argument(chars, i + 2);
            match base {
                Some(b) => push_accented(out, b, mark),
                None => out.extend(&chars[i..end]),
            }
            return end;
        }
        return match next {
            '&' | '%' | '$' | '_' | '#' | '{' | '}' => {
                out.push(next);
                i + 2
            }
            ',' | ';' | ' ' => {
                out.push(' ');
                i + 2
            }
            _ => {
                out.push('\\');
                out.push(next);
                i + 2
            }
        };
    }
    let mut end = i + 1;
    while end < chars.len() && chars[end].is_ascii_alphabetic() {
        end += 1;
    }
    let name: String = chars[i + 1..end].iter().collect();

    if let Some(mark) = letter_accent_mark(&name) {
        let (base, after) = accent_argument(chars, end);
        if let Some(b) = base {
            push_accented(out, b, mark);
            return after;
        }
        // An accent over a group of letters (`\b{eta}`): the mark on its first letter, the rest
        // as text, never the command left raw.
        if chars.get(end) == Some(&'{') {
            if let Some(close) = matching_brace(chars, end) {
                let mut inner = String::new();
                text(&chars[end + 1..close], &mut inner);
                let mut letters = inner.chars();
                if let Some(first) = letters.next() {
                    push_accented(out, first, mark);
                    out.extend(letters);
                    return close + 1;
                }
            }
        }
    }
    if in_math && chars.get(end) == Some(&'{') {
        if let Some(close) = matching_brace(chars, end) {
            let inner: String = chars[end + 1..close].iter().collect();
            if let Some(letter) = styled_letter(&name, inner.trim()) {
                out.push(letter);
                return close + 1;
            }
        }
    }
    if in_math {
        if let Some(mark) = math_accent_mark(&name) {
            // `\tilde{O}` → Õ: one letter under the mark; anything longer stays TeX.
            if let (Some(b), after) = accent_argument(chars, end) {
                push_accented(out, b, mark);
                return after;
            }
        }
    }
    if is_font_switch(&name) {
        // `{\bf double descent}`: the switch goes, its words stay (with the space TeX eats).
        return if chars.get(end) == Some(&' ') {
            end + 1
        } else {
            end
        };
    }
    if let Some(letter) = special_letter(&name) {
        out.push_str(letter);
        // `\l{}` and `\ss{}` use an empty group as terminator.
        if chars.get(end) == Some(&'{') && chars.get(end + 1) == Some(&'}') {
            return end + 2;
        }
        // TeX swallows the space after a control word; keep it when a new word starts
        // ("Micha\l Koziarski"), drop it inside a word ("Stra\ss e").
        if chars.get(end) == Some(&' ') && chars.get(end + 1).is_some_and(|c| c.is_lowercase()) {
            return end + 1;
        }
        return end;
    }
    if let Some(sym) = symbol(&name) {
        out.push_str(sym);
        return end;
    }
    if is_text_wrapper(&name) && chars.get(end) == Some(&'{') {
        if let Some(close) = matching_brace(chars, end) {
            let inner = &chars[end + 1..close];
            if in_math {
                out.extend(inner);
            } else {
                text(inner, out);
            }
            return close + 1;
        }
    }
    out.push('\\');
    out.push_str(&name);
    end
}

/// The accented base after an accent command: `o`, `{o}`, ` o`, `{\i}`. Returns (base, next index).
fn accent_argument(chars: &[char], mut j: usize) -> (Option<char>, usize) {
    while chars.get(j) == Some(&' ') {
        j += 1;
    }
    match chars.get(j) {
        Some('{') => {
            let Some(close) = matching_brace(chars, j) else {
                return (None, j);
            };
            let inner: String = chars[j + 1..close].iter().collect::<String>();
            let inner = inner.trim();
            let base = match inner {
                "\\i" => Some('i'),
                "\\j" => Some('j'),
                s if s.chars().count() == 1 => s.chars().next(),
                "" => Some(' '),
                _ => None,
            };
            (base, close + 1)
        }
        Some('\\')
            if chars.get(j + 1) == Some(&'i')
                && !chars.get(j + 2).is_some_and(|c| c.is_ascii_alphabetic()) =>
        {
            (Some('i'), j + 2)
        }
        Some(&c) if c.is_alphabetic() => (Some(c), j + 1),
        _ => (None, j),
    }
}

fn matching_brace(chars: &[char], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut j = open;
    while j < chars.len() {
        match chars[j] {
            '\\' => j += 1,
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(j);
                }
            }
            _ => {}
        }
        j += 1;
    }
    None
}

fn push_accented(out: &mut String, base: char, mark: char) {
    if base == ' ' {
        out.push(mark);
        return;
    }
    out.push(base);
    out.push(mark);
}

fn accent_mark(c: char) -> Option<char> {
    Some(match c {
        '\'' => '\u{301}',
        '`' => '\u{300}',
        '^' => '\u{302}',
        '"' => '\u{308}',
        '~' => '\u{303}',
        '=' => '\u{304}',
        '.' => '\u{307}',
        _ => return None,
    })
}

fn letter_accent_mark(name: &str) -> Option<char> {
    Some(match name {
        "u" => '\u{306}',
        "v" => '\u{30C}',
        "H" => '\u{30B}',
        "c" => '\u{327}',
        "k" => '\u{328}',
        "r" => '\u{30A}',
        "d" => '\u{323}',
        "b" => '\u{331}',
        _ => return None,
    })
}

/// A letter in a math alphabet: `\mathbb{R}` → ℝ, `\mathcal{D}` → 𝒟; `None` for other
/// commands, or an argument that is not one letter with such a form.
pub(super) fn styled_letter(command: &str, letter: &str) -> Option<char> {
    match command {
        "mathbb" => double_struck(letter),
        "mathcal" => script(letter),
        _ => None,
    }
}

/// `\mathbb{R}` → ℝ (the letters with their own code points first, then the math block).
fn double_struck(letter: &str) -> Option<char> {
    let mut cs = letter.chars();
    let (Some(c), None) = (cs.next(), cs.next()) else {
        return None;
    };
    Some(match c {
        'C' => 'ℂ',
        'H' => 'ℍ',
        'N' => 'ℕ',
        'P' => 'ℙ',
        'Q' => 'ℚ',
        'R' => 'ℝ',
        'Z' => 'ℤ',
        'A'..='Y' => char::from_u32(0x1D538 + (c as u32 - 'A' as u32))?,
        '1' => '𝟙',
        _ => return None,
    })
}

/// `\mathcal{D}` → 𝒟 (the letters with their own code points first, then the math block).
fn script(letter: &str) -> Option<char> {
    let mut cs = letter.chars();
    let (Some(c), None) = (cs.next(), cs.next()) else {
        return None;
    };
    Some(match c {
        // Big-O is read as a plain O (`\mathcal{O}(\log n)` → O(log n)).
        'O' => 'O',
        'B' => 'ℬ',
        'E' => 'ℰ',
        'F' => 'ℱ',
        'H' => 'ℋ',
        'I' => 'ℐ',
        'L' => 'ℒ',
        'M' => 'ℳ',
        'R' => 'ℛ',
        'A'..='Z' => char::from_u32(0x1D49C + (c as u32 - 'A' as u32))?,
        _ => return None,
    })
}

/// Accents of math mode over one letter (`\Tilde` is what some abstracts write for `\tilde`).
pub(super) fn math_accent_mark(name: &str) -> Option<char> {
    Some(match name {
        "tilde" | "Tilde" | "widetilde" => '\u{303}',
        "hat" | "Hat" | "widehat" => '\u{302}',
        "bar" | "Bar" | "overline" => '\u{304}',
        "dot" => '\u{307}',
        "ddot" => '\u{308}',
        "vec" => '\u{20D7}',
        _ => return None,
    })
}

/// Old font switches (`{\bf …}`, `{\em …}`): dropped, the text they switch is kept.
fn is_font_switch(name: &str) -> bool {
    matches!(
        name,
        "bf" | "it"
            | "em"
            | "rm"
            | "sf"
            | "tt"
            | "sc"
            | "sl"
            | "bfseries"
            | "itshape"
            | "mdseries"
            | "upshape"
            | "normalfont"
    )
}

fn special_letter(name: &str) -> Option<&'static str> {
    Some(match name {
        "l" => "ł",
        "L" => "Ł",
        "o" => "ø",
        "O" => "Ø",
        "ss" => "ß",
        "ae" => "æ",
        "AE" => "Æ",
        "oe" => "œ",
        "OE" => "Œ",
        "aa" => "å",
        "AA" => "Å",
        "i" => "ı",
        "j" => "ȷ",
        "dh" => "ð",
        "DH" => "Ð",
        "th" => "þ",
        "TH" => "Þ",
        _ => return None,
    })
}

fn is_text_wrapper(name: &str) -> bool {
    matches!(
        name,
        "emph"
            | "textbf"
            | "textit"
            | "texttt"
            | "textsc"
            | "textrm"
            | "textsf"
            | "text"
            | "mathrm"
            | "mathbf"
            | "mathit"
            | "mathsf"
            | "mathtt"
            | "mathcal"
            | "mathbb"
            | "operatorname"
            | "underline"
            | "url"
    )
}

fn symbol(name: &str) -> Option<&'static str> {
    Some(match name {
        "sim" => "∼",
        "approx" => "≈",
        "simeq" => "≃",
        "times" => "×",
        "cdot" => "·",
        "pm" => "±",
        "mp" => "∓",
        "le" | "leq" => "≤",
        "equiv" => "≡",
        "ge" | "geq" => "≥",
        "ne" | "neq" => "≠",
        "ll" => "≪",
        "gg" => "≫",
        "infty" => "∞",
        "to" | "rightarrow" => "→",
        "leftarrow" => "←",
        "Rightarrow" => "⇒",
        "Leftrightarrow" | "iff" => "⇔",
        "leftrightarrow" => "↔",
        "in" => "∈",
        "notin" => "∉",
        "subset" => "⊂",
        "subseteq" => "⊆",
        "cup" => "∪",
        "cap" => "∩",
        "forall" => "∀",
        "exists" => "∃",
        "propto" => "∝",
        "ell" => "ℓ",
        "partial" => "∂",
        "nabla" => "∇",
        "sum" => "∑",
        "prod" => "∏",
        "int" => "∫",
        "sqrt" => "√",
        "circ" => "∘",
        "star" => "⋆",
        "ast" => "∗",
        "dagger" => "†",
        "ldots" | "dots" => "…",
        "cdots" => "⋯",
        "log" => "log",
        "exp" => "exp",
        "max" => "max",
        "min" => "min",
        "quad" => " ",
        "alpha" => "α",
        "beta" => "β",
        "gamma" => "γ",
        "delta" => "δ",
        "epsilon" => "ϵ",
        "varepsilon" => "ε",
        "zeta" => "ζ",
        "eta" => "η",
        "theta" => "θ",
        "vartheta" => "ϑ",
        "iota" => "ι",
        "kappa" => "κ",
        "lambda" => "λ",
        "mu" => "μ",
        "nu" => "ν",
        "xi" => "ξ",
        "pi" => "π",
        "rho" => "ρ",
        "sigma" => "σ",
        "tau" => "τ",
        "upsilon" => "υ",
        "phi" => "ϕ",
        "varphi" => "φ",
        "chi" => "χ",
        "psi" => "ψ",
        "omega" => "ω",
        "Gamma" => "Γ",
        "Delta" => "Δ",
        "Theta" => "Θ",
        "Lambda" => "Λ",
        "Xi" => "Ξ",
        "Pi" => "Π",
        "Sigma" => "Σ",
        "Upsilon" => "Υ",
        "Phi" => "Φ",
        "Psi" => "Ψ",
        "Omega" => "Ω",
        "textendash" => "–",
        "textemdash" => "—",
        _ => return None,
    })
}

/// Converts the inside of `$...$`, or `None` when the result would not be faithful.
fn math(inner: &[char]) -> Option<String> {
    let mut out = String::new();
    let mut i = 0;
    while i < inner.len() {
        let c = inner[i];
        match c {
            '\\' => {
                let before = out.len();
                i = command(inner, i, &mut out, true);
                if out[before..].contains('\\') {
                    return None;
                }
            }
            '^' | '_' => {
                let (arg, next) = script_argument(inner, i + 1)?;
                let mut converted = String::new();
                text_math_plain(&arg, &mut converted)?;
                for ch in converted.chars() {
                    out.push(if c == '^' {
                        superscript(ch)?
                    } else {
                        subscript(ch)?
                    });
                }
                i = next;
            }
            '{' | '}' => i += 1,
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    Some(out)
}

fn text_math_plain(arg: &[char], out: &mut String) -> Option<()> {
    let converted = math(arg)?;
    out.push_str(&converted);
    Some(())
}

fn script_argument(chars: &[char], j: usize) -> Option<(Vec<char>, usize)> {
    match chars.get(j)? {
        '{' => {
            let close = matching_brace(chars, j)?;
            Some((chars[j + 1..close].to_vec(), close + 1))
        }
        '\\' => None,
        &c => Some((vec![c], j + 1)),
    }
}

fn superscript(c: char) -> Option<char> {
    Some(match c {
        '0' => '⁰',
        '1' => '¹',
        '2' => '²',
        '3' => '³',
        '4' => '⁴',
        '5' => '⁵',
        '6' => '⁶',
        '7' => '⁷',
        '8' => '⁸',
        '9' => '⁹',
        '+' => '⁺',
        '-' => '⁻',
        '=' => '⁼',
        '(' => '⁽',
        ')' => '⁾',
        'n' => 'ⁿ',
        'i' => 'ⁱ',
        'T' => 'ᵀ',
        'a' => 'ᵃ',
        'b' => 'ᵇ',
        'c' => 'ᶜ',
        'd' => 'ᵈ',
        'e' => 'ᵉ',
        'f' => 'ᶠ',
        'g' => 'ᵍ',
        'h' => 'ʰ',
        'j' => 'ʲ',
        'k' => 'ᵏ',
        'l' => 'ˡ',
        'm' => 'ᵐ',
        'o' => 'ᵒ',
        'p' => 'ᵖ',
        'r' => 'ʳ',
        's' => 'ˢ',
        't' => 'ᵗ',
        'u' => 'ᵘ',
        'v' => 'ᵛ',
        'w' => 'ʷ',
        'x' => 'ˣ',
        'y' => 'ʸ',
        'z' => 'ᶻ',
        'A' => 'ᴬ',
        'B' => 'ᴮ',
        'D' => 'ᴰ',
        'E' => 'ᴱ',
        'G' => 'ᴳ',
        'H' => 'ᴴ',
        'I' => 'ᴵ',
        'J' => 'ᴶ',
        'K' => 'ᴷ',
        'L' => 'ᴸ',
        'M' => 'ᴹ',
        'N' => 'ᴺ',
        'O' => 'ᴼ',
        'P' => 'ᴾ',
        'R' => 'ᴿ',
        'U' => 'ᵁ',
        'W' => 'ᵂ',
        '∗' | '*' => '*',
        '′' => '′',
        _ => return None,
    })
}

fn subscript(c: char) -> Option<char> {
    Some(match c {
        '0' => '₀',
        '1' => '₁',
        '2' => '₂',
        '3' => '₃',
        '4' => '₄',
        '5' => '₅',
        '6' => '₆',
        '7' => '₇',
        '8' => '₈',
        '9' => '₉',
        '+' => '₊',
        '-' => '₋',
        '=' => '₌',
        '(' => '₍',
        ')' => '₎',
        'a' => 'ₐ',
        'e' => 'ₑ',
        'o' => 'ₒ',
        'x' => 'ₓ',
        'i' => 'ᵢ',
        'j' => 'ⱼ',
        'k' => 'ₖ',
        'n' => 'ₙ',
        'm' => 'ₘ',
        'p' => 'ₚ',
        't' => 'ₜ',
        'h' => 'ₕ',
        'l' => 'ₗ',
        'r' => 'ᵣ',
        's' => 'ₛ',
        'u' => 'ᵤ',
        'v' => 'ᵥ',
        'β' => 'ᵦ',
        'γ' => 'ᵧ',
        'ρ' => 'ᵨ',
        'φ' => 'ᵩ',
        'χ' => 'ᵪ',
        _ => return None,
    })
}

#[cfg(test)]
mod tests;
