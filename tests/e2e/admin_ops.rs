//! The admin never opens SQLite (issue 10): the delivery queue with the server's answers,
//! resending a day's exact message, what a reader has been sent, and why a paper did or did not
//! reach them.

use crate::digest::AUTHOR_MATCH_ID;
use crate::helpers::*;

#[tokio::test]
async fn the_delivery_queue_resends_and_why_without_sqlite() {
    let app = TestApp::spawn(Options {
        smtp_args: vec!["--reject-rcpt".into(), "grace@lab.example.org".into()],
        ..Default::default()
    })
    .await;
    let run = app.run(&["digest"]).await;
    assert_eq!(run.code, 1, "Grace's address is refused");

    // The queue: Grace's refusal with the server's own words.
    let failed = app.run(&["deliveries", "--failed"]).await;
    assert_eq!(failed.code, 0, "{}", failed.stderr);
    assert!(
        failed.stdout.contains("grace@lab.example.org"),
        "{}",
        failed.stdout
    );
    assert!(failed.stdout.contains("550 5.1.1"), "{}", failed.stdout);
    assert!(
        !failed.stdout.contains("ada@lab.example.org"),
        "{}",
        failed.stdout
    );
    let all = app
        .run(&["deliveries", "--day", "2025-03-28", "--json"])
        .await;
    let rows: serde_json::Value = serde_json::from_str(&all.stdout).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    let ada = rows
        .iter()
        .find(|r| r["subscriber"] == "ada@lab.example.org")
        .unwrap();
    assert_eq!(ada["status"], "sent");
    assert_eq!(ada["attempts"], 1);

    // A past day's exact message, again: to the reader, and a copy for the admin.
    let first = app.received_by("ada@lab.example.org").pop().unwrap();
    let resend = app
        .run(&[
            "deliveries",
            "resend",
            "--day",
            "2025-03-28",
            "--to",
            "ada@lab.example.org",
        ])
        .await;
    assert_eq!(resend.code, 0, "{}", resend.stderr);
    let copies = app.received_by("ada@lab.example.org");
    assert_eq!(copies.len(), 2);
    assert_eq!(copies[1].message_id, first.message_id, "the exact message");
    assert_eq!(copies[1].html, first.html);
    let no_admin = app
        .run(&[
            "deliveries",
            "resend",
            "--day",
            "2025-03-28",
            "--to",
            "ada@lab.example.org",
            "--admin",
        ])
        .await;
    assert_eq!(no_admin.code, 2, "no [admin] email configured");
    let missing = app
        .run(&[
            "deliveries",
            "resend",
            "--day",
            "2025-03-27",
            "--to",
            "ada@lab.example.org",
        ])
        .await;
    assert_eq!(missing.code, 2);
    assert!(
        missing.stderr.contains("no digest of 2025-03-27"),
        "{}",
        missing.stderr
    );

    // What Ada has been sent, by day.
    let sent = app
        .run(&[
            "subscribers",
            "show",
            "ada@lab.example.org",
            "--sent",
            "--json",
        ])
        .await;
    assert_eq!(sent.code, 0, "{}", sent.stderr);
    let sent: serde_json::Value = serde_json::from_str(&sent.stdout).unwrap();
    let sent = sent.as_array().unwrap();
    let ids: Vec<&str> = sent.iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert!(!ids.is_empty());
    assert!(sent.iter().all(|s| s["day"] == "2025-03-28"));
    let text = app
        .run(&["subscribers", "show", "ada@lab.example.org", "--sent"])
        .await;
    assert!(text.stdout.contains("Fri 28 Mar 2025"), "{}", text.stdout);
    assert!(
        text.stdout
            .contains(&format!("{} papers on 1 days", ids.len())),
        "{}",
        text.stdout
    );

    // Why: the author match, a paper sent as #n, a paper that did not pass.
    let why = app
        .run(&["why", AUTHOR_MATCH_ID, "--for", "ada@lab.example.org"])
        .await;
    assert_eq!(why.code, 0, "{}", why.stderr);
    assert!(
        why.stdout.contains("whom the reader follows"),
        "{}",
        why.stdout
    );
    assert!(
        why.stdout.contains("sent on 2025-03-28 as paper 1"),
        "{}",
        why.stdout
    );
    let scored = ids.iter().find(|id| **id != AUTHOR_MATCH_ID).unwrap();
    let why = app
        .run(&["why", scored, "--for", "ada@lab.example.org", "--json"])
        .await;
    let v: serde_json::Value = serde_json::from_str(&why.stdout).unwrap();
    assert!(v["verdict"]["relevance"].as_u64().unwrap() >= 7, "{v}");
    assert_eq!(v["sent_on"], "2025-03-28");
    let all_ids: Vec<String> = app
        .db()
        .prepare("SELECT paper_id FROM announcements")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let unsent = all_ids
        .iter()
        .find(|id| !ids.contains(&id.as_str()))
        .unwrap();
    let why = app
        .run(&["why", unsent, "--for", "ada@lab.example.org"])
        .await;
    assert!(
        why.stdout.contains("not sent to this reader"),
        "{}",
        why.stdout
    );
    assert!(
        why.stdout.contains("does not pass")
            || why.stdout.contains("dropped by the title triage")
            || why.stdout.contains("never considered"),
        "{}",
        why.stdout
    );
    let unknown = app
        .run(&["why", "2401.00001", "--for", "ada@lab.example.org"])
        .await;
    assert!(
        unknown.stdout.contains("has not seen 2401.00001"),
        "{}",
        unknown.stdout
    );
    let nobody = app
        .run(&["why", "2401.00001", "--for", "nobody@lab.example.org"])
        .await;
    assert_eq!(nobody.code, 2);
}
