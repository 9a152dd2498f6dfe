//! The text a person typed in a reply: without the quoted digest (above or below it), the
//! client's attribution line or quoted header block, and their signature — in the formats of the
//! common clients and languages (the rules are a table in [`rules`]). HTML-only replies are
//! turned into lines first, their quote containers marked.

mod html;
pub mod rules;

use std::collections::HashSet;

pub use html::html_to_text;
use rules::COMPILED;

/// A line [`html_to_text`] puts where a quote container starts (Gmail's `gmail_quote`, Outlook's
/// `divRplyFwdMsg`, `yahoo_quoted`, …): everything from it on is the quote.
pub const QUOTE_MARK: &str = "\u{1}quote\u{1}";

/// What the sender typed, top-posted or bottom-posted.
pub fn typed_text(body: &str) -> String {
    let lines: Vec<&str> = body
        .lines()
        .map(|l| l.trim_end_matches('\r').trim_end())
        .collect();
    let mut kept: Vec<&str> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim();
        let next = lines.get(i + 1).map(|l| l.trim()).unwrap_or("");
        if line == QUOTE_MARK || is_separator(line) || header_block(&lines[i..]) {
            // A block quote without `>` marks runs to the end of the message.
            break;
        }
        if is_quoted(line) {
            i += 1;
            continue;
        }
        // An attribution (possibly wrapped over two lines): `>` lines follow, and text below
        // them is bottom-posted; without `>` marks (Yahoo), the rest is the quote.
        let wrapped = !next.is_empty()
            && !is_quoted(next)
            && !is_attribution(line)
            && is_attribution(&format!("{line} {next}"));
        if is_attribution(line) || wrapped {
            let after = i + if wrapped { 2 } else { 1 };
            let quoted_below = lines[after.min(lines.len())..]
                .iter()
                .map(|l| l.trim())
                .find(|l| !l.is_empty())
                .is_none_or(is_quoted);
            if !quoted_below {
                break;
            }
            i = after;
            continue;
        }
        kept.push(lines[i]);
        i += 1;
    }
    // The signature: nothing typed below it.
    if let Some(s) = kept
        .iter()
        .position(|l| COMPILED.signature.is_match(l.trim()) || *l == "-- ")
    {
        kept.truncate(s);
    }
    kept.join("\n").trim().to_string()
}

fn is_quoted(line: &str) -> bool {
    line.starts_with('>')
}

fn is_separator(line: &str) -> bool {
    COMPILED.separator.is_match(line)
}

fn is_attribution(line: &str) -> bool {
    line.chars().count() <= 300 && COMPILED.attribution.is_match(line)
}

/// A quoted header block starts here: "From:" with a date or subject line in the lines just
/// below it (Outlook, Apple Mail's forward, Reply-To and Cc lines between them), or the whole
/// block flattened onto one line ("From: … Sent: … To: … Subject: …", HTML made text).
fn header_block(rest: &[&str]) -> bool {
    let first = rest[0].trim();
    if !COMPILED.header_from.is_match(first) {
        return false;
    }
    let confirms =
        |l: &str| COMPILED.header_sent.is_match(l) || COMPILED.header_subject.is_match(l);
    if rest.iter().skip(1).take(6).any(|l| confirms(l.trim())) {
        return true;
    }
    // Flattened: a later "Sent:"/"Subject:" word on the same line starts a field too.
    first
        .split_whitespace()
        .skip(2)
        .filter(|w| w.ends_with(':') || w.ends_with('：'))
        .any(confirms)
}

/// A line as compared with the digest's own text: lowercase, spaces collapsed, `>` marks gone.
pub fn normalized(line: &str) -> String {
    line.trim_start_matches(|c: char| c == '>' || c.is_whitespace())
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// The lines of text paperboy sent (a digest, the help mail), to recognise them in a reply.
pub fn known_lines(texts: &[&str]) -> HashSet<String> {
    texts
        .iter()
        .flat_map(|t| t.lines())
        .map(normalized)
        .filter(|l| !l.is_empty())
        .collect()
}

/// `typed` without the lines that are paperboy's own text: a title, an abstract line or the
/// footer pasted or left in a reply is never a command, whatever surrounds it.
pub fn without_known(typed: &str, known: &HashSet<String>) -> String {
    typed
        .lines()
        .filter(|l| !known.contains(&normalized(l)))
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gmail_with_a_wrapped_attribution() {
        let body = "add topic: sparse attention\nfollow Yann LeCun\n\nOn Fri, Mar 28, 2025 at 6:00 AM paperboy <\ndigest+abc@lab.org> wrote:\n\n> Personalized Daily arXiv Papers\n> 1. MoQa";
        assert_eq!(
            typed_text(body),
            "add topic: sparse attention\nfollow Yann LeCun"
        );
        let one =
            "pause\n\nOn Fri, Mar 28, 2025 at 6:00 AM paperboy <digest+abc@lab.org> wrote:\n> x";
        assert_eq!(typed_text(one), "pause");
    }

    #[test]
    fn outlook_blocks_in_several_languages() {
        for body in [
            "relevance 8\r\n\r\n________________________________\r\nFrom: paperboy <d@lab.org>\r\nSent: Friday\r\nTo: Ada\r\n\r\nunsubscribe",
            "max 20\nFrom: paperboy <digest@lab.org>\nSent: Friday\nSubject: x\n\npause",
            "max 20\n\nVon: paperboy <d@lab.org>\nGesendet: Freitag, 28. März 2025 07:31\nAn: Ada\nBetreff: x\n\nunsubscribe",
            "max 20\n\nFrån: paperboy <d@lab.org>\nSkickat: den 28 mars 2025 07:31\nTill: Ada\n\nunsubscribe",
            "max 20\n\n-----Ursprüngliche Nachricht-----\nVon: paperboy\nunsubscribe",
            "max 20\n\n-------- Original Message --------\nunsubscribe",
        ] {
            assert_eq!(typed_text(body), body.lines().next().unwrap().trim(), "{body:?}");
        }
    }

    #[test]
    fn attributions_in_many_languages() {
        for attribution in [
            "Am Fr., 28. März 2025 um 07:31 Uhr schrieb paperboy <d@lab.org>:",
            "Le ven. 28 mars 2025 à 07:31, paperboy <d@lab.org> a écrit :",
            "El vie, 28 mar 2025 a las 7:31, paperboy (<d@lab.org>) escribió:",
            "Em sex., 28 de mar. de 2025 às 07:31, paperboy <d@lab.org> escreveu:",
            "Il giorno ven 28 mar 2025 alle ore 07:31 paperboy <d@lab.org> ha scritto:",
            "Op vr 28 mrt 2025 om 07:31 schreef paperboy <d@lab.org>:",
            "Den fre 28 mars 2025 kl 07:31 skrev paperboy <d@lab.org>:",
            "pt., 28 mar 2025 o 07:31 paperboy <d@lab.org> napisał(a):",
            "пт, 28 мар. 2025 г. в 07:31, paperboy <d@lab.org>:",
            "28.03.2025 07:31, paperboy пишет: написал:",
            "paperboy <d@lab.org> 于2025年3月28日周五 07:31写道：",
            "2025年3月28日(金) 7:31 paperboy <d@lab.org>:",
            "* paperboy <d@lab.org> [2025-03-28 07:31]:",
        ] {
            let body = format!("Danke!\n\n{attribution}\n> unsubscribe\n");
            assert_eq!(typed_text(&body), "Danke!", "{attribution}");
        }
    }

    #[test]
    fn bottom_posted_text_is_kept() {
        let body = "On 28/03/2025 07:31, paperboy wrote:\n> 1. MoQa\n> unsubscribe\n\nadd topic: sparse attention\n";
        assert_eq!(typed_text(body), "add topic: sparse attention");
    }

    #[test]
    fn signatures_in_many_languages() {
        for sig in [
            "-- \nAda",
            "Sent from my iPhone",
            "Von meinem iPhone gesendet",
            "Envoyé depuis mon iPhone",
            "Enviado desde mi iPhone",
            "Enviado do meu iPhone",
            "Inviato da iPhone",
            "Verzonden vanaf mijn iPhone",
            "Skickat från min iPhone",
            "Wysłane z iPhone'a",
            "Отправлено с iPhone",
            "发自我的iPhone",
            "iPhoneから送信",
            "Get Outlook for iOS",
        ] {
            assert_eq!(typed_text(&format!("help\n\n{sig}\n")), "help", "{sig}");
        }
        assert_eq!(typed_text("follow: A. Turing"), "follow: A. Turing");
    }

    /// Every fixture in `tests/fixtures/mail/` (real client formats, one per client and
    /// language): the text typed, exactly.
    #[test]
    fn real_client_replies_give_exactly_the_text_typed() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mail");
        let mut checked = 0;
        let mut wrong = Vec::new();
        let mut names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            .collect();
        names.sort();
        for eml in names {
            let raw = std::fs::read(&eml).unwrap();
            let expected = std::fs::read_to_string(eml.with_extension("expected")).unwrap();
            let msg = mail_parser::MessageParser::default().parse(&raw).unwrap();
            let got = typed_text(&crate::inbox::body_text(&msg));
            let norm = |s: &str| s.replace('\u{feff}', "").trim().to_string();
            if norm(&got) != norm(&expected) {
                wrong.push(format!(
                    "{}:\n  expected {:?}\n  got      {:?}",
                    eml.file_name().unwrap().to_string_lossy(),
                    norm(&expected),
                    norm(&got)
                ));
            }
            checked += 1;
        }
        assert!(checked >= 40, "the fixtures are there ({checked})");
        assert!(
            wrong.is_empty(),
            "{} of {checked} wrong:\n{}",
            wrong.len(),
            wrong.join("\n")
        );
    }

    #[test]
    fn the_digests_own_lines_are_never_commands() {
        let digest = "Abstract: We study how to\nunsubscribe\nfrom noisy gradients.";
        let known = known_lines(&[digest]);
        assert_eq!(
            without_known("Danke!\n> unsubscribe\nUnsubscribe", &known),
            "Danke!"
        );
        assert_eq!(without_known("pause", &known), "pause");
    }
}
