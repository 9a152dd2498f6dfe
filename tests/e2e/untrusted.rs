//! Untrusted work is bounded (issue 21): a library mailed by a stranger or a reader is measured
//! before it is parsed, parsed off the runtime within a time limit, and a message whose handling
//! never finished is set aside once; the daemon reads on and stops on SIGTERM in seconds.

use crate::helpers::*;
use crate::replies::*;

/// Ada's reply carrying `bib` as her library.
fn with_library(to: &str, digest: &Received, id: &str, bib: &str) -> Vec<u8> {
    format!(
        "From: Ada Lovelace <{ADA}>\r\nTo: {to}\r\nSubject: Re: {}\r\nMessage-ID: <{id}>\r\nIn-Reply-To: <{}>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHere is my library.\r\n\r\n--b1\r\nContent-Type: application/x-bibtex; name=\"library.bib\"\r\nContent-Disposition: attachment; filename=\"library.bib\"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{}\r\n--b1--\r\n",
        digest.subject,
        digest.message_id,
        bib.replace('\n', "\r\n")
    )
    .into_bytes()
}

/// 40 `@string`s, each twice the last: 1 KB that biblatex would expand to 2 TB.
fn doubling_strings() -> String {
    let mut bib = String::from("@string{a0 = \"ab\"}\n");
    for n in 1..=40 {
        bib.push_str(&format!("@string{{a{n} = a{} # a{}}}\n", n - 1, n - 1));
    }
    bib.push_str("@article{x, title = a40}\n");
    bib
}

fn inbound(app: &TestApp, id: &str) -> Option<(String, String)> {
    app.db()
        .query_row(
            "SELECT outcome, detail FROM inbound WHERE message_id = ?1",
            [format!("<{id}>")],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .ok()
}

#[tokio::test]
async fn a_bibtex_bomb_in_a_reply_is_answered_and_the_daemon_reads_on() {
    let Setup { app, digest } = setup().await;
    let to = digest.reply_to.clone();
    let bomb = doubling_strings();
    assert!(bomb.len() < 1100, "the finding's 1.1 KB file");
    let daemon = Daemon::start(
        &app,
        &[
            ("PAPERBOY_FAKE_NOW", "2025-03-28T10:00:00Z"),
            ("PAPERBOY__IMAP__POLL_SECONDS", "1"),
        ],
    );
    smtp_send(
        app.smtp.port,
        ADA,
        &to,
        &with_library(&to, &digest, "bomb-1@x", &bomb),
    );
    smtp_send(
        app.smtp.port,
        ADA,
        &to,
        &thunderbird(
            ADA,
            &to,
            &format!("<{}>", digest.message_id),
            "<after-bomb@x>",
            "relevance 9",
        ),
    );
    wait_until(60, "the reply after the bomb applied", || {
        subscribers_file(&app).contains("min_relevance = 9")
    })
    .await;
    let (outcome, detail) = inbound(&app, "bomb-1@x").expect("the bomb was recorded");
    assert_eq!(outcome, "answered", "{detail}");
    assert!(
        detail.contains("line 42: @string macros expand to more than 64 KB"),
        "{detail}"
    );
    assert_eq!(daemon.term(10).await, 0, "SIGTERM ends it in seconds");
    let answer = ada_inbox(&app)
        .await
        .into_iter()
        .find(|m| m.in_reply_to == "bomb-1@x")
        .expect("Ada is told");
    assert!(
        answer
            .text
            .contains("I could not read the attached library")
            && answer.text.contains("nothing was changed"),
        "{}",
        answer.text
    );
}

#[tokio::test]
async fn a_message_whose_handling_never_finished_is_set_aside_and_alerted_once() {
    let Setup { app, digest } = setup_with("[admin]\nemail = \"admin@lab.example.org\"\n").await;
    let to = digest.reply_to.clone();
    let before = subscribers_file(&app);
    smtp_send(
        app.smtp.port,
        ADA,
        &to,
        &with_library(&to, &digest, "crashed-1@x", "@misc{a, title = {A}}\n"),
    );
    // What a poll killed while parsing this message leaves behind: the message taken, never
    // finished (a poll records that before it parses anything).
    app.db()
        .execute(
            "INSERT INTO inbound (message_id, received_at, outcome, detail) VALUES ('<crashed-1@x>', '2025-03-28T10:00:00Z', 'taken', 'being handled')",
            [],
        )
        .unwrap();
    let report = poll(&app).await;
    assert_eq!(outcomes(&report), vec!["failed"], "{report:#}");
    let (outcome, detail) = inbound(&app, "crashed-1@x").unwrap();
    assert_eq!(outcome, "failed");
    assert!(detail.contains("never finished"), "{detail}");
    let dovecot = app.dovecot.as_ref().unwrap();
    assert_eq!(
        dovecot.messages(PAPERBOY, "paperboy.rejected").await.len(),
        1,
        "set aside in the rejected folder"
    );
    assert_eq!(
        outcomes(&poll(&app).await),
        Vec::<String>::new(),
        "not tried again"
    );
    let alerts = dovecot
        .messages("admin@lab.example.org", "INBOX")
        .await
        .into_iter()
        .map(|(raw, _)| Received::parse(raw))
        .filter(|m| m.subject.contains("a reply could not be handled"))
        .count();
    assert_eq!(alerts, 1, "the admin is told once");
    assert_eq!(subscribers_file(&app), before, "nothing was changed");
}

#[tokio::test]
async fn huge_deep_and_many_entry_libraries_end_with_a_clear_error_or_a_result() {
    let app = TestApp::spawn(Options::default()).await;
    let deep = app.dir.path().join("deep.bib");
    std::fs::write(
        &deep,
        format!(
            "@article{{x, title = {}{}}}\n",
            "{".repeat(200_000),
            "}".repeat(200_000)
        ),
    )
    .unwrap();
    let bomb = app.dir.path().join("bomb.bib");
    std::fs::write(&bomb, doubling_strings()).unwrap();
    let many = app.dir.path().join("many.bib");
    let mut text = String::new();
    for i in 0..60_000 {
        text.push_str(&format!(
            "@misc{{k{i}, author = {{Name{}, A. and Lovelace, Ada}}, title = {{Paper {i} on sparse routing}}}}\n",
            i % 5000
        ));
    }
    std::fs::write(&many, text).unwrap();
    let before = std::fs::read_to_string(app.dir.path().join("subscribers.toml")).unwrap();
    for (file, expect) in [
        (&deep, "line 1: braces nested more than 32 deep"),
        (&bomb, "line 42: @string macros expand to more than 64 KB"),
    ] {
        let out = app
            .run(&["subscribers", "import-library", ADA, file.to_str().unwrap()])
            .await;
        assert_eq!(out.code, 2, "{}", out.stderr);
        assert!(out.stderr.contains(expect), "{}", out.stderr);
        assert!(out.stderr.contains("nothing was changed"), "{}", out.stderr);
    }
    let out = app
        .run(&["subscribers", "import-library", ADA, many.to_str().unwrap()])
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("60000 entries"), "{}", out.stdout);
    assert!(
        out.stdout.contains("60000 titles will teach the ranking"),
        "{}",
        out.stdout
    );
    // Name0 … Name4999 each recur in 12 entries: the top ten are proposed, never the reader.
    assert_eq!(
        out.stdout.matches("+ follow ").count(),
        10,
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("follow Ada Lovelace"));
    assert_eq!(
        std::fs::read_to_string(app.dir.path().join("subscribers.toml")).unwrap(),
        before,
        "a dry run changes nothing"
    );
}
