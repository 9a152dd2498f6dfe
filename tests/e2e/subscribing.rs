//! Subscribing by mail cannot be turned into a mail cannon (issue 21): every mail it sends
//! counts, per address without its +tag, per domain and in all; routing tricks are refused; the
//! confirmation never carries a stranger's text; a second confirmation is "already subscribed".

use crate::helpers::*;
use crate::replies::*;

fn request(from: &str, to: &str, id: &str, body: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: subscribe\r\nMessage-ID: {id}\r\nDate: {}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{}\r\n",
        crate::replies::date_of(id, "+0000"),
        body.replace('\n', "\r\n")
    )
    .into_bytes()
}

const LIMITED: &str = "[subscribe]\nopen = true\nallowed_domains = [\"lab.example.org\"]\nper_address_per_day = 4\nper_domain_per_day = 10\n";

fn notes_to(app: &TestApp, prefix: &str) -> Vec<Received> {
    app.received()
        .into_iter()
        .filter(|m| m.to.starts_with(prefix))
        .filter(|m| !m.subject.starts_with("arXiv digest "))
        .collect()
}

#[tokio::test]
async fn subscribing_mail_is_counted_whatever_its_kind_tag_or_route() {
    let Setup { app, .. } = setup_with(LIMITED).await;
    let send = |from: &str, id: &str, body: &str| {
        smtp_send(
            app.smtp.port,
            from,
            PAPERBOY,
            &request(from, PAPERBOY, id, body),
        )
    };
    // Nina asks twice, answers the first confirmation, then the second: one welcome, then
    // "already subscribed", not a failure for the admin.
    let nina = "nina@lab.example.org";
    send(nina, "<n-1@x>", "subscribe\nname: Nina <a href=http://evil.example>Verify</a>\ntopics: Your account is suspended, log in at http://evil.example");
    send(nina, "<n-2@x>", "subscribe");
    assert_eq!(outcomes(&poll(&app).await), vec!["answered", "answered"]);
    let confirmations = notes_to(&app, nina);
    assert_eq!(confirmations.len(), 2);
    let first = &confirmations[0];
    assert!(
        !first.text.contains("evil.example") && !first.text.contains("suspended"),
        "the stranger's text is not echoed: {}",
        first.text
    );
    assert!(
        first.text.contains("  name: Nina\n"),
        "the name up to what names are not made of: {}",
        first.text
    );
    assert!(
        first.text.contains("topics: 1 line (8 words"),
        "{}",
        first.text
    );
    for (n, c) in confirmations.iter().enumerate() {
        let to = c.reply_to.clone();
        smtp_send(
            app.smtp.port,
            nina,
            &to,
            &request(nina, &to, &format!("<n-yes-{n}@x>"), "yes"),
        );
        let report = poll(&app).await;
        let expect = if n == 0 { "applied" } else { "answered" };
        assert_eq!(outcomes(&report), vec![expect], "{report:#}");
        if n == 1 {
            assert_eq!(report["messages"][0]["detail"], "already subscribed");
        }
    }
    let to_nina = notes_to(&app, nina);
    assert_eq!(to_nina.len(), 4, "two confirmations, a welcome, a note");
    assert!(to_nina[3].text.contains("already receives"));

    // Forged requests in an existing reader's name: her notes count too.
    for n in 0..6 {
        send(ADA, &format!("<forged-{n}@x>"), "subscribe");
    }
    let report = poll(&app).await;
    assert_eq!(
        outcomes(&report),
        vec!["answered", "answered", "answered", "answered", "ignored", "ignored"]
    );
    assert_eq!(
        notes_to(&app, ADA).len(),
        4,
        "at most 4 a day, notes included"
    );

    // Plus-addressing is one inbox; the domain's 10 a day are reached after two of them.
    for n in 0..5 {
        let victim = format!("victim+{n}@lab.example.org");
        send(&victim, &format!("<tag-{n}@x>"), "subscribe");
    }
    send("carol@lab.example.org", "<carol@x>", "subscribe");
    let report = poll(&app).await;
    assert_eq!(
        outcomes(&report),
        vec!["answered", "answered", "ignored", "ignored", "ignored", "ignored"]
    );
    let details: Vec<String> = report["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["detail"].as_str().unwrap().to_string())
        .collect();
    assert!(
        details[5].contains("lab.example.org was sent 10 subscribing mails today"),
        "{details:?}"
    );
    assert_eq!(notes_to(&app, "victim").len(), 2);
    assert!(notes_to(&app, "carol").is_empty());

    // The percent hack and bang paths would route the token elsewhere: refused, nothing sent.
    for (n, from) in [
        "x%evil.example.org@lab.example.org",
        "evil.example.org!x@lab.example.org",
    ]
    .iter()
    .enumerate()
    {
        send(from, &format!("<route-{n}@x>"), "subscribe");
    }
    let report = poll(&app).await;
    let got = outcomes(&report);
    assert!(
        got.iter().all(|o| o == "rejected" || o == "ignored"),
        "{report:#}"
    );
    assert!(app.received().iter().all(|m| !m.to.contains("evil")));
    assert_eq!(
        app.count("SELECT count(*) FROM inbound WHERE outcome = 'failed'"),
        0,
        "nothing went down the admin-alert path"
    );
}
