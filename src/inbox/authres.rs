//! Whether the receiving server vouches for a message's `From:` (RFC 8601
//! `Authentication-Results`). A `From:` header is whatever the sender typed; the receiving
//! server (the one `[imap] authserv_id` names) checked DMARC and DKIM when the message arrived
//! and wrote what it found at the top of the message. Only its own header counts: anyone can
//! write an `Authentication-Results` line into a message, but a server adds its own above
//! what came with the message, so the topmost one carrying its id is the one it wrote.

/// What the receiving server said about a message's `From:` domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Vouched {
    /// DMARC passed for the From domain; or, where the server did not evaluate DMARC, DKIM
    /// passed for it (or a parent domain).
    Yes(String),
    /// It checked and found nothing that ties the message to its From domain.
    No(String),
    /// It wrote no Authentication-Results this message carries.
    Absent,
}

/// What `headers` (lowercase names, values as written) say about `from_domain`, by the server
/// whose authserv-id is `authserv_id`.
pub fn vouched(headers: &[(String, String)], authserv_id: &str, from_domain: &str) -> Vouched {
    let Some(results) = headers
        .iter()
        .filter(|(name, _)| name == "authentication-results")
        .map(|(_, value)| parse(value))
        .find(|(id, _)| id.eq_ignore_ascii_case(authserv_id))
        .map(|(_, results)| results)
    else {
        return Vouched::Absent;
    };
    let domain = from_domain.to_ascii_lowercase();
    let prop = |r: &Result_, name: &str| {
        r.props
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim_start_matches('@').to_ascii_lowercase())
    };
    // Where the server evaluated DMARC, its answer is the answer.
    let dmarc: Vec<&Result_> = results.iter().filter(|r| r.method == "dmarc").collect();
    if dmarc
        .iter()
        .any(|r| r.result == "pass" && prop(r, "header.from").is_some_and(|d| d == domain))
    {
        return Vouched::Yes(format!("DMARC pass for {domain}"));
    }
    if dmarc.is_empty() {
        for r in results
            .iter()
            .filter(|r| r.method == "dkim" && r.result == "pass")
        {
            if let Some(d) = prop(r, "header.d").filter(|d| aligned(d, &domain)) {
                return Vouched::Yes(format!("DKIM pass for {d}"));
            }
        }
    }
    let found: Vec<String> = results
        .iter()
        .filter(|r| matches!(r.method.as_str(), "dmarc" | "dkim" | "spf"))
        .map(|r| format!("{}={}", r.method, r.result))
        .collect();
    Vouched::No(if found.is_empty() {
        "no DMARC or DKIM result".into()
    } else {
        found.join(", ")
    })
}

/// Relaxed alignment: the signing domain is the From domain or one of its parents (never a
/// bare top-level domain).
fn aligned(signer: &str, from: &str) -> bool {
    signer == from || (signer.contains('.') && from.ends_with(&format!(".{signer}")))
}

/// One result of an `Authentication-Results` header: `dkim=pass header.d=lab.example.org`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Result_ {
    method: String,
    result: String,
    props: Vec<(String, String)>,
}

/// The authserv-id and the results of one header value; comments `( … )` and quoting dropped.
fn parse(value: &str) -> (String, Vec<Result_>) {
    let text = without_comments(value);
    let mut parts = text.split(';');
    let id = parts
        .next()
        .and_then(|p| p.split_whitespace().next())
        .unwrap_or_default()
        .to_string();
    let results = parts
        .filter_map(|part| {
            let mut words = part.split_whitespace();
            let (method, result) = words.next()?.split_once('=')?;
            let method = method.split('/').next()?.to_ascii_lowercase();
            let props = words
                .filter_map(|w| w.split_once('='))
                .map(|(k, v)| (k.to_ascii_lowercase(), v.trim_matches('"').to_string()))
                .collect();
            Some(Result_ {
                method,
                result: result.to_ascii_lowercase(),
                props,
            })
        })
        .collect();
    (id, results)
}

/// `value` without RFC 5322 comments (nested parentheses, `\` escapes).
fn without_comments(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut depth = 0usize;
    let mut escaped = false;
    for c in value.chars() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if depth > 0 => escaped = true,
            '(' => depth += 1,
            ')' if depth > 0 => depth -= 1,
            c if depth == 0 => out.push(if c.is_whitespace() { ' ' } else { c }),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(values: &[&str]) -> Vec<(String, String)> {
        values
            .iter()
            .map(|v| ("authentication-results".to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_receiving_servers_dmarc_or_aligned_dkim_vouches() {
        // As Postfix with OpenDKIM and OpenDMARC write them.
        let pass = h(&["mx.lab.example.org; dkim=pass (2048-bit key; unprotected)\r\n header.d=lab.example.org header.i=@lab.example.org header.b=\"kX1y\";\r\n\tdmarc=pass (p=quarantine dis=none) header.from=lab.example.org"]);
        assert_eq!(
            vouched(&pass, "mx.lab.example.org", "lab.example.org"),
            Vouched::Yes("DMARC pass for lab.example.org".into())
        );
        // A subdomain's mail signed by the parent domain is aligned (relaxed).
        let dkim = h(&["MX.lab.example.org 1; dkim=pass header.d=example.org"]);
        assert!(matches!(
            vouched(&dkim, "mx.lab.example.org", "lab.example.org"),
            Vouched::Yes(_)
        ));
        // A signature by another domain is not.
        let other = h(&["mx.lab.example.org; dkim=pass header.d=evil.example; dmarc=fail header.from=lab.example.org"]);
        assert_eq!(
            vouched(&other, "mx.lab.example.org", "lab.example.org"),
            Vouched::No("dkim=pass, dmarc=fail".into())
        );
        assert!(!aligned("org", "lab.example.org"));
    }

    #[test]
    fn only_the_topmost_header_of_the_configured_server_counts() {
        // The sender wrote a "pass" of its own (another id), and one under our id below ours.
        let forged = h(&[
            "mx.lab.example.org; dmarc=fail (p=reject) header.from=lab.example.org",
            "mx.lab.example.org; dmarc=pass header.from=lab.example.org",
            "mail.evil.example; dmarc=pass header.from=lab.example.org",
        ]);
        assert!(matches!(
            vouched(&forged, "mx.lab.example.org", "lab.example.org"),
            Vouched::No(_)
        ));
        let theirs = h(&["mail.evil.example; dmarc=pass header.from=lab.example.org"]);
        assert_eq!(
            vouched(&theirs, "mx.lab.example.org", "lab.example.org"),
            Vouched::Absent
        );
        // A comment that looks like a result is a comment.
        let comment = h(&[
            "mx.lab.example.org; spf=fail (dmarc=pass header.from=lab.example.org) smtp.mailfrom=x",
        ]);
        assert_eq!(
            vouched(&comment, "mx.lab.example.org", "lab.example.org"),
            Vouched::No("spf=fail".into())
        );
    }
}
