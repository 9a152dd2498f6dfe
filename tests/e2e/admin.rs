use std::sync::atomic::Ordering;

use serde_json::Value;

use crate::helpers::*;

const COMMENTED: &str = r#"# Subscribers of the Lovelace lab.
# Keep this file tidy: one entry per person.

[[subscriber]]
email = "ada@lab.example.org"   # work address
name = "Ada Lovelace"
topics = "Mixture-of-Experts, quantization and sparsity."
min_relevance = 7               # she asked for more papers

# Grace reads about language models.
[[subscriber]]
email = "grace@lab.example.org"
name = "Grace Hopper"
topics = "Language models and how they learn."
"#;

fn subscribers_file(app: &TestApp) -> String {
    std::fs::read_to_string(app.dir.path().join("subscribers.toml")).unwrap()
}

fn json(run: &Run) -> Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", run.stdout))
}

#[tokio::test]
async fn subscriber_changes_keep_the_file_as_written_and_are_audited() {
    let app = TestApp::spawn(Options {
        subscribers: COMMENTED.into(),
        ..Default::default()
    })
    .await;

    let add = app
        .run(&[
            "subscribers",
            "add",
            "bob@lab.example.org",
            "--name",
            "Bob",
            "--topics",
            "Sparse attention",
            "--author",
            "Yann LeCun",
            "--keyword",
            "attention",
            "--keyword",
            "sparsity",
            "--min-relevance",
            "8",
        ])
        .await;
    assert_eq!(add.code, 0, "{}", add.stderr);
    assert!(add.stdout.contains("added bob@lab.example.org"));
    let text = subscribers_file(&app);
    assert!(
        text.starts_with(COMMENTED),
        "the existing entries and comments are untouched:\n{text}"
    );
    assert!(text.ends_with(
        "[[subscriber]]\nemail = \"bob@lab.example.org\"\nname = \"Bob\"\ntopics = \"Sparse attention\"\nauthors = [\"Yann LeCun\"]\nkeywords = [\"attention\", \"sparsity\"]\nmin_relevance = 8\n"
    ), "{text}");

    let set = app
        .run(&[
            "subscribers",
            "set",
            "ada@lab.example.org",
            "min_relevance",
            "9",
        ])
        .await;
    assert_eq!(set.code, 0, "{}", set.stderr);
    assert!(
        set.stdout.contains("min_relevance: 7 → 9"),
        "{}",
        set.stdout
    );
    assert!(subscribers_file(&app)
        .contains("min_relevance = 9               # she asked for more papers"));

    assert_eq!(
        app.run(&["subscribers", "pause", "grace@lab.example.org"])
            .await
            .code,
        0
    );
    assert!(subscribers_file(&app)
        .contains("topics = \"Language models and how they learn.\"\npaused = true\n"));
    let list = app.run(&["subscribers", "list", "--json"]).await;
    let list = json(&list);
    let grace = list
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["email"] == "grace@lab.example.org")
        .unwrap();
    assert_eq!(grace["paused"], true);
    assert_eq!(list.as_array().unwrap().len(), 3);

    // A paused subscriber gets no digest.
    let run = app.run(&["digest"]).await;
    assert_eq!(run.code, 0);
    assert!(app.received_by("grace@lab.example.org").is_empty());
    assert_eq!(app.received().len(), 2);

    assert_eq!(
        app.run(&["subscribers", "resume", "grace@lab.example.org"])
            .await
            .code,
        0
    );
    assert!(!subscribers_file(&app).contains("paused"));
    let remove = app
        .run(&["subscribers", "remove", "bob@lab.example.org"])
        .await;
    assert_eq!(remove.code, 0);
    let set_again = app
        .run(&[
            "subscribers",
            "set",
            "ada@lab.example.org",
            "min_relevance",
            "7",
        ])
        .await;
    assert_eq!(set_again.code, 0);
    assert_eq!(
        subscribers_file(&app),
        COMMENTED,
        "after undoing every change the file is byte for byte as written"
    );

    // The audit trail: when, by whom, what changed.
    let history = json(
        &app.run(&["subscribers", "history", "ada@lab.example.org", "--json"])
            .await,
    );
    let rows = history.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["actor"], "cli");
    assert_eq!(rows[0]["action"], "set min_relevance");
    assert_eq!(rows[0]["before"]["min_relevance"], 7);
    assert_eq!(rows[0]["after"]["min_relevance"], 9);
    let bob = json(
        &app.run(&["subscribers", "history", "bob@lab.example.org", "--json"])
            .await,
    );
    let actions: Vec<&str> = bob
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, vec!["add", "remove"]);
    assert!(bob[0]["before"].is_null() && bob[1]["after"].is_null());
    let plain = app
        .run(&["subscribers", "history", "grace@lab.example.org"])
        .await;
    assert!(
        plain.stdout.contains("pause") && plain.stdout.contains("paused: false → true"),
        "{}",
        plain.stdout
    );

    // Show: everything about one subscriber, with the last digest.
    let show = app
        .run(&["subscribers", "show", "ada@lab.example.org"])
        .await;
    assert_eq!(show.code, 0);
    for needle in [
        "Ada Lovelace",
        "relevance ≥ 7, novelty ≥ 6",
        "active",
        "arXiv digest Fri 28 Mar 2025",
        "model calls",
    ] {
        assert!(
            show.stdout.contains(needle),
            "show has {needle}: {}",
            show.stdout
        );
    }
    let show = json(
        &app.run(&["subscribers", "show", "ada@lab.example.org", "--json"])
            .await,
    );
    assert_eq!(show["last_digest"]["day"], "2025-03-28");
    assert!(show["spend_this_month"]["prompt_tokens"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn bad_input_is_refused_and_the_file_is_untouched() {
    let app = TestApp::spawn(Options {
        subscribers: COMMENTED.into(),
        ..Default::default()
    })
    .await;
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "subscribers",
                "add",
                "not-an-address",
                "--name",
                "X",
                "--topics",
                "t",
            ],
            "not a valid email address",
        ),
        (
            &[
                "subscribers",
                "add",
                "ada@lab.example.org",
                "--name",
                "Ada",
                "--topics",
                "t",
            ],
            "already a subscriber",
        ),
        (
            &[
                "subscribers",
                "add",
                "new@lab.example.org",
                "--name",
                "New",
                "--topics",
                "  ",
            ],
            "key `topics`: is empty",
        ),
        (
            &[
                "subscribers",
                "add",
                "new@lab.example.org",
                "--name",
                "New",
                "--topics",
                "t",
                "--min-relevance",
                "0",
            ],
            "outside 1–10",
        ),
        (
            &[
                "subscribers",
                "add",
                "new@lab.example.org",
                "--name",
                "New",
                "--topics",
                "t",
                "--category",
                "cs.CV",
            ],
            "not among the configured categories",
        ),
        (
            &[
                "subscribers",
                "set",
                "ada@lab.example.org",
                "min_novelty",
                "11",
            ],
            "subscribers.toml:9: key `min_novelty`: score 11 is outside 1–10",
        ),
        (
            &[
                "subscribers",
                "set",
                "ada@lab.example.org",
                "min_novelty",
                "high",
            ],
            "whole number",
        ),
        (
            &[
                "subscribers",
                "set",
                "ada@lab.example.org",
                "colour",
                "blue",
            ],
            "not a subscriber key",
        ),
        (
            &[
                "subscribers",
                "set",
                "ada@lab.example.org",
                "email",
                "eve@lab.example.org",
            ],
            "remove the subscriber",
        ),
        (
            &["subscribers", "set", "ada@lab.example.org", "topics", ""],
            "no topics",
        ),
        (
            &["subscribers", "remove", "nobody@lab.example.org"],
            "no subscriber nobody@lab.example.org",
        ),
        (
            &["subscribers", "pause", "nobody@lab.example.org"],
            "`paperboy subscribers list` shows who is there",
        ),
        (
            &["subscribers", "show", "nobody@lab.example.org"],
            "no subscriber",
        ),
    ];
    for (args, message) in cases {
        let run = app.run(args).await;
        assert_eq!(run.code, 2, "{args:?} exits 2");
        assert!(
            run.stderr.contains(message),
            "{args:?} says {message:?}: {}",
            run.stderr
        );
        assert_eq!(
            subscribers_file(&app),
            COMMENTED,
            "{args:?} leaves the file untouched"
        );
    }
    assert_eq!(
        app.count("SELECT count(*) FROM audit"),
        0,
        "refusals are not changes"
    );
}

#[tokio::test]
async fn edit_validates_before_saving_and_never_clobbers() {
    let app = TestApp::spawn(Options {
        subscribers: COMMENTED.into(),
        ..Default::default()
    })
    .await;
    let editor = |script: &str| {
        let path = app.dir.path().join(format!("editor-{}.sh", script.len()));
        std::fs::write(&path, format!("#!/bin/sh\nset -e\n{script}\n")).unwrap();
        let mut perms = std::fs::metadata(&path).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
        std::fs::set_permissions(&path, perms).unwrap();
        path.display().to_string()
    };

    // A good edit is saved, comments kept, and audited.
    let ed = editor("sed -i 's/min_relevance = 7 /min_relevance = 6 /' \"$1\"");
    let run = app
        .run_with_env(
            &["subscribers", "edit", "ada@lab.example.org"],
            &[("EDITOR", &ed)],
        )
        .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        subscribers_file(&app),
        COMMENTED.replace("min_relevance = 7 ", "min_relevance = 6 ")
    );
    assert_eq!(
        app.count("SELECT count(*) FROM audit WHERE action = 'edit'"),
        1
    );

    // An invalid edit is refused; the file is untouched and the edit is kept for the admin.
    let before = subscribers_file(&app);
    let ed = editor("sed -i 's/min_relevance = 6 /min_relevance = 99 /' \"$1\"");
    let run = app
        .run_with_env(
            &["subscribers", "edit", "ada@lab.example.org"],
            &[("EDITOR", &ed)],
        )
        .await;
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("min_relevance") && run.stderr.contains("99"),
        "{}",
        run.stderr
    );
    assert_eq!(subscribers_file(&app), before);
    let kept = run
        .stderr
        .split("your edit is kept in ")
        .nth(1)
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .trim()
        .to_string();
    assert!(std::fs::read_to_string(&kept)
        .unwrap()
        .contains("min_relevance = 99"));

    // Someone changes another part of the file while the editor is open: both changes survive.
    let subs = app
        .dir
        .path()
        .join("subscribers.toml")
        .display()
        .to_string();
    let ed = editor(&format!(
        "echo '# added by hand meanwhile' >> '{subs}'\nsed -i 's/Ada Lovelace/Ada King/' \"$1\""
    ));
    let run = app
        .run_with_env(
            &["subscribers", "edit", "ada@lab.example.org"],
            &[("EDITOR", &ed)],
        )
        .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let now = subscribers_file(&app);
    assert!(
        now.ends_with("# added by hand meanwhile\n") && now.contains("name = \"Ada King\""),
        "{now}"
    );

    // Someone changes the same entry while the editor is open: nothing is written over it.
    let ed = editor(&format!(
        "sed -i 's/work address/home address/' '{subs}'\nsed -i 's/Ada King/Ada Byron/' \"$1\""
    ));
    let run = app
        .run_with_env(
            &["subscribers", "edit", "ada@lab.example.org"],
            &[("EDITOR", &ed)],
        )
        .await;
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("changed by someone else"),
        "{}",
        run.stderr
    );
    let now = subscribers_file(&app);
    assert!(
        now.contains("# home address") && now.contains("Ada King") && !now.contains("Ada Byron"),
        "{now}"
    );
}

#[tokio::test]
async fn spend_totals_equal_what_the_model_reported() {
    let app = TestApp::spawn(Options::default()).await;
    assert_eq!(app.run(&["digest"]).await.code, 0);
    let s = &app.llm.state;
    let spend = json(&app.run(&["spend", "--json"]).await);
    assert_eq!(
        spend["totals"]["prompt_tokens"],
        s.prompt_tokens.load(Ordering::SeqCst)
    );
    assert_eq!(
        spend["totals"]["cached_tokens"],
        s.cached_tokens.load(Ordering::SeqCst)
    );
    assert_eq!(
        spend["totals"]["completion_tokens"],
        s.completion_tokens.load(Ordering::SeqCst)
    );
    assert_eq!(spend["totals"]["calls"], s.answered.load(Ordering::SeqCst));
    assert_eq!(spend["totals"]["cost_complete"], true);
    assert!(spend["totals"]["cost_usd"].as_f64().unwrap() > 0.0);
    assert_eq!(spend["daily_cost_usd"].as_array().unwrap().len(), 30);

    let by_sub = json(&app.run(&["spend", "--by", "subscriber", "--json"]).await);
    let groups = by_sub["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 2);
    let sum: u64 = groups
        .iter()
        .map(|g| g["prompt_tokens"].as_u64().unwrap())
        .sum();
    assert_eq!(sum, s.prompt_tokens.load(Ordering::SeqCst));

    let plain = app.run(&["spend", "--by", "model"]).await;
    assert_eq!(plain.code, 0);
    assert!(
        plain.stdout.contains("gpt-4o-mini") && plain.stdout.contains("total"),
        "{}",
        plain.stdout
    );
    assert!(
        plain.stdout.contains("daily cost") && plain.stdout.contains('█'),
        "a chart of daily cost: {}",
        plain.stdout
    );

    let bad = app
        .run(&["spend", "--since", "2026-12-01", "--until", "2026-11-01"])
        .await;
    assert_eq!(bad.code, 2);
}

#[tokio::test]
async fn spend_shows_unknown_prices_as_unknown() {
    let app = TestApp::spawn(Options {
        model: "mystery-model-7b".into(),
        ..Default::default()
    })
    .await;
    assert_eq!(app.run(&["digest"]).await.code, 0);
    let plain = app.run(&["spend", "--by", "model"]).await;
    let line = plain
        .stdout
        .lines()
        .find(|l| l.starts_with("mystery-model-7b"))
        .unwrap();
    assert!(
        line.ends_with("unknown") && !line.contains("$0.00"),
        "{line}"
    );
    assert!(plain.stdout.contains("without a known price"));
    let spend = json(&app.run(&["spend", "--json"]).await);
    assert_eq!(spend["totals"]["cost_complete"], false);
    assert!(spend["totals"]["cost_usd"].is_null(), "unknown, never 0.0");
    let runs = json(&app.run(&["runs", "--json"]).await);
    assert!(runs[0]["cost_usd"].is_null(), "{runs}");
}

#[tokio::test]
async fn runs_report_what_each_run_did() {
    let app = TestApp::spawn(Options {
        behaviour: Behaviour {
            never: Some("2503.21073".into()),
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    assert_eq!(app.run(&["digest"]).await.code, 1);
    assert_eq!(
        app.run(&["digest"]).await.code,
        0,
        "the re-run sends nothing and is fine"
    );
    let runs = json(&app.run(&["runs", "--json"]).await);
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 2);
    let first = &runs[1];
    assert_eq!(first["status"], "failed");
    assert_eq!(first["papers_fetched"], 17);
    assert_eq!(first["scanned"], 30);
    assert_eq!(first["unscored"], 2);
    assert_eq!(first["emails_sent"], 2);
    assert_eq!(first["emails_failed"], 0);
    assert_eq!(
        first["prompt_tokens"],
        app.llm.state.prompt_tokens.load(Ordering::SeqCst)
    );
    assert!(first["error"]
        .as_str()
        .unwrap()
        .contains("no valid verdict"));
    assert_eq!(runs[0]["status"], "ok");
    assert_eq!(runs[0]["emails_sent"], 0);

    let show = app.run(&["runs", "show", &first["id"].to_string()]).await;
    assert_eq!(show.code, 0);
    assert!(
        show.stdout.contains("ada@lab.example.org") && show.stdout.contains("delivered"),
        "{}",
        show.stdout
    );
    let table = app.run(&["runs"]).await;
    assert!(
        table.stdout.lines().count() == 3 && table.stdout.contains("failed"),
        "{}",
        table.stdout
    );
    assert_eq!(app.run(&["runs", "show", "999"]).await.code, 2);
}

#[tokio::test]
async fn preview_sends_nothing_and_reuses_verdicts() {
    let app = TestApp::spawn(Options::default()).await;
    // Before any run: the feed is fetched and scored for the one subscriber.
    let out = app.dir.path().join("ada.html");
    let first = app
        .run(&[
            "preview",
            "ada@lab.example.org",
            "--out",
            out.to_str().unwrap(),
        ])
        .await;
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert!(first
        .stdout
        .starts_with("Subject: arXiv digest Fri 28 Mar 2025"));
    assert!(first.stdout.contains("From authors you follow (1)"));
    let html = std::fs::read_to_string(&out).unwrap();
    assert!(html.contains("<!DOCTYPE html>") && html.contains("Björn W. Schuller"));
    assert!(app.smtp.messages().is_empty(), "a preview sends nothing");
    assert_eq!(app.count("SELECT count(*) FROM deliveries"), 0);
    let calls = app.llm.requests();

    // The real run reuses Ada's verdicts; a preview afterwards costs nothing and shows the same day.
    assert_eq!(app.run(&["digest"]).await.code, 0);
    let after_digest = app.llm.requests();
    assert!(after_digest > calls, "Grace still had to be scored");
    let again = app
        .run(&[
            "preview",
            "ada@lab.example.org",
            "--date",
            "2025-03-28",
            "--out",
            out.to_str().unwrap(),
        ])
        .await;
    assert_eq!(again.code, 0);
    assert_eq!(
        app.llm.requests(),
        after_digest,
        "stored verdicts are reused"
    );
    assert_eq!(app.smtp.messages().len(), 2);
    assert!(
        again.stdout.contains("ArXiv ID: 2503.21135"),
        "papers sent that day still show in its preview"
    );
    let kinds: Vec<String> = app
        .db()
        .prepare("SELECT kind FROM runs ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(kinds, vec!["preview", "digest", "preview"]);
}

#[tokio::test]
async fn send_test_resends_the_latest_digest_marked_as_a_test() {
    let app = TestApp::spawn(Options::default()).await;
    let none = app.run(&["send-test", "ada@lab.example.org"]).await;
    assert_eq!(none.code, 2);
    assert!(none.stderr.contains("no digest has been sent"));
    assert_eq!(app.run(&["digest"]).await.code, 0);
    let original = app.received_by("ada@lab.example.org").pop().unwrap();
    let run = app.run(&["send-test", "ada@lab.example.org"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let mails = app.received_by("ada@lab.example.org");
    assert_eq!(mails.len(), 2);
    let test = mails
        .iter()
        .find(|m| m.subject.starts_with("[test] "))
        .expect("a test copy");
    assert_eq!(test.subject, format!("[test] {}", original.subject));
    assert_ne!(test.message_id, original.message_id);
    assert_eq!(test.text, original.text);
    assert_eq!(
        app.count("SELECT count(*) FROM deliveries"),
        2,
        "a test is not a delivery"
    );
}

#[tokio::test]
async fn check_reports_each_service() {
    let mut app = TestApp::spawn(Options::default()).await;
    let ok = app.run(&["check"]).await;
    assert_eq!(ok.code, 0, "{}", ok.stdout);
    for what in [
        "config",
        "subscribers",
        "prompts",
        "database",
        "mail",
        "model",
        "arxiv",
    ] {
        let line = ok
            .stdout
            .lines()
            .find(|l| l.contains(&format!(" {what} ")))
            .unwrap_or_else(|| panic!("{what}: {}", ok.stdout));
        assert!(line.starts_with("ok"), "{line}");
    }
    assert_eq!(app.llm.requests(), 1, "one tiny model request");
    assert_eq!(
        app.count("SELECT count(*) FROM spend"),
        1,
        "and its tokens are recorded"
    );

    app.stop_smtp();
    let down = app.run(&["check", "--json"]).await;
    assert_eq!(down.code, 1);
    let items = json(&down);
    let mail = items
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["check"] == "mail")
        .unwrap();
    assert_eq!(mail["status"], "failed");
    assert!(mail["detail"]
        .as_str()
        .unwrap()
        .contains("check [mail.smtp]"));

    let expired = TestApp::spawn(Options {
        behaviour: Behaviour {
            status: Some(401),
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let run = expired.run(&["check"]).await;
    assert_eq!(run.code, 1);
    let line = run.stdout.lines().find(|l| l.contains(" model ")).unwrap();
    assert!(
        line.starts_with("failed") && line.contains("rejected the API key"),
        "{line}"
    );
}

#[tokio::test]
async fn every_command_has_help_with_an_example() {
    let app = TestApp::spawn(Options::default()).await;
    for args in [
        vec!["--help"],
        vec!["digest", "--help"],
        vec!["subscribers", "--help"],
        vec!["subscribers", "add", "--help"],
        vec!["subscribers", "set", "--help"],
        vec!["subscribers", "edit", "--help"],
        vec!["subscribers", "history", "--help"],
        vec!["spend", "--help"],
        vec!["runs", "--help"],
        vec!["preview", "--help"],
        vec!["send-test", "--help"],
        vec!["check", "--help"],
        vec!["deliveries", "--help"],
        vec!["why", "--help"],
        vec!["inbox", "log", "--help"],
        vec!["archive", "rebuild", "--help"],
        vec!["subscribers", "import-library", "--help"],
        vec!["subscribers", "pending", "--help"],
        vec!["subscribers", "approve", "--help"],
        vec!["subscribers", "rotate-token", "--help"],
    ] {
        let run = app.run(&args).await;
        assert_eq!(run.code, 0, "{args:?}");
        assert!(
            run.stdout.contains("Example"),
            "{args:?} has an example: {}",
            run.stdout
        );
    }
}
