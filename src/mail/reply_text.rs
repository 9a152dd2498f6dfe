//! The part of a reply the subscriber wrote: the text above the quoted digest, without the
//! attribution line ("On … wrote:"), Outlook's header block, quoted lines and signatures.

/// Returns what the sender wrote above the quote.
pub fn new_text(body: &str) -> String {
    let lines: Vec<&str> = body.lines().map(|l| l.trim_end_matches('\r')).collect();
    let mut end = lines.len();
    for (i, raw) in lines.iter().enumerate() {
        let line = raw.trim();
        let next = lines.get(i + 1).map(|l| l.trim()).unwrap_or("");
        let lower = line.to_lowercase();
        let starts_quote = line.starts_with('>')
            || is_attribution(line)
            || (starts_attribution(line)
                && (next.to_lowercase().ends_with("wrote:") || next.ends_with("a écrit :")))
            || line.starts_with("-----Original Message-----")
            || line.starts_with("----- Original Message -----")
            || (line.len() >= 10 && line.chars().all(|c| c == '_'))
            || (lower.starts_with("from:") && outlook_block(&lines[i + 1..]))
            || line == "--"
            || *raw == "-- "
            || lower.starts_with("sent from my ")
            || lower.starts_with("get outlook for ");
        if starts_quote {
            end = i;
            break;
        }
    }
    let kept: Vec<&str> = lines[..end].to_vec();
    kept.join("\n").trim().to_string()
}

fn starts_attribution(line: &str) -> bool {
    let l = line.to_lowercase();
    l.starts_with("on ") || l.starts_with("le ") || l.starts_with("am ")
}

/// "On Fri, Mar 28, 2025 at 6:00 AM paperboy <digest@lab.org> wrote:" and its translations.
fn is_attribution(line: &str) -> bool {
    let l = line.to_lowercase();
    (l.starts_with("on ") && l.ends_with("wrote:"))
        || (l.starts_with("le ") && (l.ends_with("a écrit :") || l.ends_with("a écrit:")))
        || (l.starts_with("am ") && l.ends_with("schrieb:"))
}

/// Outlook's quoted header: "From: …" then "Sent:"/"Date:" and "To:"/"Subject:" within a few lines.
fn outlook_block(rest: &[&str]) -> bool {
    rest.iter().take(4).any(|l| {
        let l = l.trim().to_lowercase();
        l.starts_with("sent:") || l.starts_with("date:")
    })
}

#[cfg(test)]
mod tests {
    use super::new_text;

    #[test]
    fn gmail() {
        let body = "add topic: sparse attention\nfollow Yann LeCun\n\nOn Fri, Mar 28, 2025 at 6:00 AM paperboy <\ndigest+abc@lab.org> wrote:\n\n> Personalized Daily arXiv Papers\n> 1. MoQa";
        assert_eq!(
            new_text(body),
            "add topic: sparse attention\nfollow Yann LeCun"
        );
        let one_line =
            "pause\n\nOn Fri, Mar 28, 2025 at 6:00 AM paperboy <digest+abc@lab.org> wrote:\n> x";
        assert_eq!(new_text(one_line), "pause");
    }

    #[test]
    fn outlook() {
        let body = "relevance 8\r\n\r\n________________________________\r\nFrom: paperboy <digest+abc@lab.org>\r\nSent: Friday, March 28, 2025 6:00 AM\r\nTo: Ada\r\nSubject: arXiv digest\r\n\r\nPersonalized Daily arXiv Papers";
        assert_eq!(new_text(body), "relevance 8");
        let no_rule = "max 20\nFrom: paperboy <digest@lab.org>\nSent: Friday\nSubject: x\n\nbody";
        assert_eq!(new_text(no_rule), "max 20");
    }

    #[test]
    fn apple_mail_and_thunderbird() {
        let apple = "less like 5\n\nSent from my iPhone\n\n> On 28 Mar 2025, at 06:00, paperboy <digest@lab.org> wrote:\n> x";
        assert_eq!(new_text(apple), "less like 5");
        let tb = "unfollow Yann LeCun\n\nOn 3/28/25 06:00, paperboy wrote:\n> Personalized";
        assert_eq!(new_text(tb), "unfollow Yann LeCun");
    }

    #[test]
    fn signatures_and_plain_text() {
        assert_eq!(
            new_text("help\n-- \nAda Lovelace\nAnalytical Engines Ltd"),
            "help"
        );
        assert_eq!(new_text("  topics  \n"), "topics");
        assert_eq!(new_text("follow: A. Turing"), "follow: A. Turing");
    }
}
