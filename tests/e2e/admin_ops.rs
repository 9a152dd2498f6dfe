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
            .contains(&format!("{} papers on 1 day", ids.len())),
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
    let n = ids.iter().position(|id| *id == AUTHOR_MATCH_ID).unwrap() + 1;
    assert!(
        why.stdout
            .contains(&format!("sent on 2025-03-28 as paper {n}")),
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

#[tokio::test]
async fn the_subscribers_file_keeps_its_order_owner_and_mode_and_changes_say_what_they_drop() {
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
    let app = TestApp::spawn(Options::default()).await;
    let file = app.dir.path().join("subscribers.toml");
    std::fs::create_dir_all(app.dir.path().join("prompts/topics")).unwrap();
    std::fs::write(
        app.dir.path().join("prompts/topics/ada.md"),
        "Mixture-of-Experts.\n",
    )
    .unwrap();
    // The lab's file belongs to a lab account, group-readable; paperboy runs as root.
    std::os::unix::fs::chown(&file, Some(65534), Some(65534)).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();

    let set = app
        .run(&[
            "subscribers",
            "set",
            "ada@lab.example.org",
            "topics_file",
            "topics/ada.md",
        ])
        .await;
    assert_eq!(set.code, 0, "{}", set.stderr);
    assert!(
        set.stdout.contains("replacing topics, which was removed"),
        "a dropped key is said: {}",
        set.stdout
    );
    let meta = std::fs::metadata(&file).unwrap();
    assert_eq!(
        (meta.uid(), meta.gid()),
        (65534, 65534),
        "the owner survives"
    );
    assert_eq!(
        meta.permissions().mode() & 0o777,
        0o640,
        "the mode survives"
    );

    // An edit keeps Grace's entry where it was (second), its comment above it included.
    let ed = "sed -i 's/^name = \"Grace Hopper\"/name = \"Grace B. Hopper\"/'";
    let edit = app
        .run_with_env(
            &["subscribers", "edit", "grace@lab.example.org"],
            &[("EDITOR", ed)],
        )
        .await;
    assert_eq!(edit.code, 0, "{}", edit.stderr);
    let text = std::fs::read_to_string(&file).unwrap();
    let (ada, grace) = (
        text.find("ada@lab.example.org").unwrap(),
        text.find("grace@lab.example.org").unwrap(),
    );
    assert!(text.contains("name = \"Grace B. Hopper\""), "{text}");
    assert!(ada < grace, "the edited entry stays in place:\n{text}");

    // Under sudo, the audit names the person.
    let run = app
        .run_with_env(
            &["subscribers", "pause", "grace@lab.example.org"],
            &[("SUDO_USER", "ada"), ("USER", "root")],
        )
        .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let detail: String = app
        .db()
        .query_row(
            "SELECT detail FROM audit ORDER BY id DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(detail, "ada via sudo");

    // The store and the outbox it creates are private.
    let db = app.dir.path().join("data/paperboy.db");
    assert_eq!(
        std::fs::metadata(&db).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        std::fs::metadata(app.dir.path().join("data"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o700
    );
    let dry = app.run(&["digest", "--dry-run"]).await;
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    assert_eq!(
        std::fs::metadata(app.dir.path().join("outbox"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o700
    );
}

#[tokio::test]
async fn set_help_names_every_key_set_accepts() {
    let app = TestApp::spawn(Options::default()).await;
    let help = app.run(&["subscribers", "set", "--help"]).await;
    assert_eq!(help.code, 0, "{}", help.stderr);
    for key in [
        "name",
        "topics",
        "topics_file",
        "authors",
        "keywords",
        "categories",
        "min_relevance",
        "min_novelty",
        "max_papers",
        "send_empty",
        "paused",
        "language",
        "frequency",
        "weekday",
    ] {
        let words: Vec<&str> = help
            .stdout
            .split(|c: char| c.is_whitespace() || c == ',' || c == '.')
            .collect();
        assert!(words.contains(&key), "{key} missing from: {}", help.stdout);
    }
}
