//! Upgrading in place (issue 22): an older store is backed up and migrated on purpose, commands
//! that only read never migrate or create it, a newer store is refused in one line, prompt
//! files written for another answer format are refused, and a model asked for needs its key.

use crate::helpers::*;

/// A store as an older paperboy left it: the first `upto` migrations, with a run and a sent
/// digest in it.
fn old_store(app: &TestApp, upto: usize) -> std::path::PathBuf {
    let dir = app.dir.path().join("data");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("paperboy.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    let mut files: Vec<_> = std::fs::read_dir(repo().join("src/store/migrations"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for (i, f) in files.iter().take(upto).enumerate() {
        conn.execute_batch(&std::fs::read_to_string(f).unwrap())
            .unwrap();
        conn.pragma_update(None, "user_version", (i + 1) as i64)
            .unwrap();
    }
    conn.execute_batch(
        "INSERT INTO runs (id, day, started_at, finished_at, status) VALUES (1, '2025-03-27', '2025-03-27T10:00:00Z', '2025-03-27T10:01:00Z', 'ok');
         INSERT INTO sent_papers (subscriber, paper_id, day) VALUES ('ada@lab.example.org', '2503.00001', '2025-03-27');",
    )
    .unwrap();
    path
}

fn schema(path: &std::path::Path) -> i64 {
    rusqlite::Connection::open(path)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap()
}

fn current_schema() -> i64 {
    std::fs::read_dir(repo().join("src/store/migrations"))
        .unwrap()
        .count() as i64
}

#[tokio::test]
async fn an_old_store_is_backed_up_and_migrated_on_purpose_and_a_newer_one_refused() {
    let app = TestApp::spawn(Options::default()).await;
    let path = old_store(&app, 3);
    let now = current_schema();

    // Commands that only read leave it as it is and say what to do.
    for args in [
        &["status"][..],
        &["runs"],
        &["spend"],
        &["subscribers", "list"],
    ] {
        let r = app.run(args).await;
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(
            r.stderr.contains("is at schema 3")
                && r.stderr.contains(&format!("reads schema {now}"))
                && r.stderr.contains("paperboy migrate"),
            "{args:?}: {}",
            r.stderr
        );
        assert_eq!(schema(&path), 3, "{args:?} migrated the store");
    }
    // A backup works on any schema.
    let before = app.dir.path().join("before-upgrade.db");
    let r = app.run(&["backup", before.to_str().unwrap()]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("schema 3"), "{}", r.stdout);

    let r = app.run(&["migrate"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let backup = app.dir.path().join("data/paperboy.db.schema-3.bak");
    assert!(
        r.stdout.contains(&format!("from schema 3 to {now}"))
            && r.stdout.contains(backup.to_str().unwrap()),
        "{}",
        r.stdout
    );
    assert_eq!(schema(&path), now);
    assert_eq!(schema(&backup), 3);
    use std::os::unix::fs::PermissionsExt as _;
    for f in [&backup, &before] {
        assert_eq!(
            std::fs::metadata(f).unwrap().permissions().mode() & 0o777,
            0o600,
            "{}",
            f.display()
        );
    }
    assert_eq!(
        app.count("SELECT count(*) FROM sent_papers"),
        1,
        "data kept"
    );
    let r = app.run(&["migrate"]).await;
    assert!(r.stdout.contains("nothing to do"), "{}", r.stdout);
    let r = app.run(&["runs", "--json"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("2025-03-27"));

    // A store from a newer paperboy: one line with both versions, exit 2 (the unit does not
    // restart on it), untouched.
    rusqlite::Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", now + 5)
        .unwrap();
    for args in [&["digest"][..], &["run"], &["status"], &["migrate"]] {
        let r = app.run(args).await;
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        let errors: Vec<&str> = r
            .stderr
            .lines()
            .filter(|l| l.starts_with("error:"))
            .collect();
        assert_eq!(errors.len(), 1, "{args:?}: {}", r.stderr);
        assert!(
            errors[0].contains(&format!(
                "is at schema {}, newer than this paperboy (schema {now})",
                now + 5
            )),
            "{}",
            errors[0]
        );
        assert!(!r.stderr.contains("migration number"), "{}", r.stderr);
        assert_eq!(schema(&path), now + 5);
    }
    assert!(app.received().is_empty());

    let v = app.run(&["--version"]).await;
    assert!(
        v.stdout.starts_with("paperboy 0.2.0 (commit ")
            && v.stdout.contains(&format!("store schema {now})")),
        "{}",
        v.stdout
    );
}

#[tokio::test]
async fn read_only_commands_create_no_store_and_status_says_where_it_looked() {
    let app = TestApp::spawn(Options::default()).await;
    for args in [
        &["runs"][..],
        &["spend"],
        &["check", "--offline"],
        &["store", "stats"],
    ] {
        let r = app.run(args).await;
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
    }
    let r = app.run(&["status"]).await;
    assert_eq!(r.code, 3, "the daemon is not running: {}", r.stderr);
    assert!(r.stdout.contains("store      none at"), "{}", r.stdout);
    assert!(
        !app.dir.path().join("data").exists(),
        "a command that only reads created the store"
    );
}

#[tokio::test]
async fn a_prompt_written_for_another_answer_format_is_refused_until_updated() {
    let app = TestApp::spawn(Options::default()).await;
    // What the 0.1 install steps copied: the old answer format, no header.
    let stale = app.dir.path().join("prompts/instructions.md");
    std::fs::write(
        &stale,
        "# Paper Selection Prompt\nWrite {ARXIVID, RELEVANCE, NOVELTY, COMMENT} for each paper.\n",
    )
    .unwrap();
    let check = app.run(&["check", "--offline"]).await;
    assert_eq!(check.code, 2, "{}", check.stdout);
    assert!(
        check
            .stdout
            .contains("instructions.md was written for an older paperboy")
            && check.stdout.contains("`verdicts 3`")
            && check
                .stdout
                .contains("paperboy prompts show instructions.md"),
        "{}",
        check.stdout
    );
    let run = app.run(&["digest"]).await;
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run
        .stderr
        .contains("instructions.md was written for an older paperboy"));
    assert_eq!(app.llm.requests(), 0);
    assert!(
        app.received().is_empty(),
        "nothing is sent on a stale prompt"
    );

    let list = app.run(&["prompts", "list"]).await;
    assert_eq!(list.code, 2);
    assert!(list.stdout.contains("REFUSED"), "{}", list.stdout);

    // Start again from the built-in copy: accepted, and the same prompt as having no file.
    let show = app.run(&["prompts", "show", "instructions.md"]).await;
    assert!(show
        .stdout
        .starts_with("<!-- paperboy prompt: verdicts 3 -->\n"));
    std::fs::write(&stale, &show.stdout).unwrap();
    let list = app.run(&["prompts", "list"]).await;
    assert_eq!(list.code, 0, "{}", list.stdout);
    assert!(list.stdout.contains("overridden by"), "{}", list.stdout);
    let run = app.run(&["digest"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(app.llm.requests() > 0);
}

#[tokio::test]
async fn a_model_asked_for_without_its_key_is_a_configuration_error() {
    let mut app = TestApp::spawn(Options::default()).await;
    app.api_key = false; // [llm] stays, its variable is unset
    let run = app
        .run_with_env(&["digest"], &[("PAPERBOY_TEST_API_KEYS", "sk-near-miss")])
        .await;
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("$PAPERBOY_TEST_API_KEY is unset or empty")
            && run
                .stderr
                .contains("$PAPERBOY_TEST_API_KEYS is set: a misspelling?"),
        "{}",
        run.stderr
    );
    assert!(app.received().is_empty(), "no keyword digests instead");
    let check = app.run(&["check", "--offline"]).await;
    assert_eq!(check.code, 2, "{}", check.stdout);
    assert!(check.stdout.contains("model's key"), "{}", check.stdout);

    // The key from a file, as systemd credentials give it: `api_key_file` under
    // $CREDENTIALS_DIRECTORY.
    let creds = app.dir.path().join("credentials");
    std::fs::create_dir_all(&creds).unwrap();
    std::fs::write(creds.join("openai"), "sk-test-0123456789\n").unwrap();
    let config = std::fs::read_to_string(&app.config).unwrap().replace(
        "api_key_env = \"PAPERBOY_TEST_API_KEY\"\nbatch_size",
        "api_key_env = \"PAPERBOY_TEST_API_KEY\"\napi_key_file = \"openai\"\nbatch_size",
    );
    std::fs::write(&app.config, config).unwrap();
    let run = app
        .run_with_env(
            &["digest"],
            &[("CREDENTIALS_DIRECTORY", creds.to_str().unwrap())],
        )
        .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(app.llm.requests() > 0, "scored by the model");
}

#[tokio::test]
async fn backup_while_in_use_restores_to_the_same_store_and_stats_show_what_takes_room() {
    let app = TestApp::spawn(Options::default()).await;
    assert_eq!(app.run(&["digest"]).await.code, 0);
    // Another process has the store open and has written since the last checkpoint: that
    // write is only in the write-ahead log, which a plain `cp` of the database would miss.
    let writer = app.db();
    writer
        .execute_batch("PRAGMA wal_autocheckpoint = 0; INSERT INTO runs (id, day, started_at, status) VALUES (99, '2025-03-31', '2025-03-31T10:00:00Z', 'ok');")
        .unwrap();
    let wal = app.dir.path().join("data/paperboy.db-wal");
    assert!(std::fs::metadata(&wal).map_or(0, |m| m.len()) > 0);
    let copy = app.dir.path().join("backups/paperboy.db");
    std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
    let r = app.run(&["backup", copy.to_str().unwrap()]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let deliveries = |p: &std::path::Path| -> i64 {
        rusqlite::Connection::open(p)
            .unwrap()
            .query_row("SELECT count(*) FROM deliveries", [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(deliveries(&copy), 2);
    let late: i64 = rusqlite::Connection::open(&copy)
        .unwrap()
        .query_row("SELECT count(*) FROM runs WHERE id = 99", [], |r| r.get(0))
        .unwrap();
    assert_eq!(late, 1, "the copy holds what was only in the WAL");
    drop(writer);
    assert!(!app.dir.path().join("backups/paperboy.db-wal").exists());

    let stats = app.run(&["store", "stats", "--json"]).await;
    assert_eq!(stats.code, 0, "{}", stats.stderr);
    let v: serde_json::Value = serde_json::from_str(&stats.stdout).unwrap();
    let d = v["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == "deliveries")
        .unwrap();
    assert_eq!(d["rows"], 2);
    // The day's two sent digests are compressed together: each row keeps a reference.
    assert_eq!(d["payload_bytes"].as_i64().unwrap(), 2 * 20);
    let b = v["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == "mail_bundles")
        .unwrap();
    assert_eq!(b["rows"], 1);
    assert!(b["payload_bytes"].as_i64().unwrap() > 1000);
    let text = app.run(&["store", "stats"]).await;
    assert!(text.stdout.contains("deliveries"), "{}", text.stdout);

    // Restore: the daemon stopped, the copy put in place of the store (and its WAL removed).
    let data = app.dir.path().join("data");
    for f in ["paperboy.db-wal", "paperboy.db-shm"] {
        let _ = std::fs::remove_file(data.join(f));
    }
    std::fs::copy(&copy, data.join("paperboy.db")).unwrap();
    let again = app.run(&["digest"]).await;
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(
        app.received().len(),
        2,
        "the restored store knows the day was sent"
    );
    let r = app.run(&["runs", "--json"]).await;
    assert!(r.stdout.contains("2025-03-31"), "{}", r.stdout);
}

#[tokio::test]
async fn under_journald_every_log_line_carries_its_priority() {
    // The key refused: the run logs warnings and errors besides its information.
    let app = TestApp::spawn(Options {
        behaviour: Behaviour {
            status: Some(401),
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let r = app
        .run_with_env(
            &["--log-format", "json", "digest"],
            &[("JOURNAL_STREAM", "8:12345"), ("RUST_LOG", "paperboy=info")],
        )
        .await;
    assert_eq!(r.code, 1);
    let json_lines: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.contains("{\"timestamp\""))
        .collect();
    assert!(!json_lines.is_empty(), "{}", r.stderr);
    for line in &json_lines {
        let (prio, rest) = line.split_at(3);
        assert!(
            matches!(prio, "<3>" | "<4>" | "<6>" | "<7>") && rest.starts_with('{'),
            "{line}"
        );
        let v: serde_json::Value = serde_json::from_str(rest).unwrap();
        let want = match v["level"].as_str().unwrap() {
            "ERROR" => "<3>",
            "WARN" => "<4>",
            "INFO" => "<6>",
            _ => "<7>",
        };
        assert_eq!(prio, want, "{line}");
    }
    let priorities: std::collections::BTreeSet<&str> = json_lines.iter().map(|l| &l[..3]).collect();
    assert!(priorities.len() >= 2, "{priorities:?}");
    // Without journald, plain JSON.
    let r = app.run(&["--log-format", "json", "runs"]).await;
    assert!(!r.stderr.contains("<6>{"), "{}", r.stderr);
}

#[tokio::test]
async fn admin_commands_read_the_daemons_secrets_and_refuse_to_leave_root_owned_files() {
    let mut app = TestApp::spawn(Options::default()).await;
    assert_eq!(app.run(&["digest"]).await.code, 0);
    let with_key = app
        .run(&["why", "2503.21135", "--for", "ada@lab.example.org"])
        .await;
    assert_eq!(with_key.code, 0, "{}", with_key.stderr);

    // Without the key in the environment: `why` only reads, and says the same.
    app.api_key = false;
    let without = app
        .run(&["why", "2503.21135", "--for", "ada@lab.example.org"])
        .await;
    assert_eq!(without.code, 0, "{}", without.stderr);
    assert_eq!(without.stdout, with_key.stdout);
    // A command that would call the model refuses without it, and `--env-file` gives it the
    // daemon's environment file.
    assert_eq!(app.run(&["digest", "--date", "2025-03-27"]).await.code, 2);
    let env = app.dir.path().join("paperboy.env");
    std::fs::write(
        &env,
        "# as systemd's EnvironmentFile\nPAPERBOY_TEST_API_KEY=sk-test-0123456789\n",
    )
    .unwrap();
    let r = app
        .run(&["--env-file", env.to_str().unwrap(), "check", "--offline"])
        .await;
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert!(
        r.stdout.contains("found in $PAPERBOY_TEST_API_KEY"),
        "{}",
        r.stdout
    );
    let r = app
        .run(&["--env-file", "/nonexistent/paperboy.env", "status"])
        .await;
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("cannot read the environment file"),
        "{}",
        r.stderr
    );

    // The state directory belongs to the daemon's user; root running a command there would
    // leave files the daemon cannot open: refused, with what to run instead.
    let data = app.dir.path().join("data");
    let chown = |owner: &str| {
        let ok = std::process::Command::new("chown")
            .args(["-R", owner, data.to_str().unwrap()])
            .status()
            .unwrap()
            .success();
        assert!(ok);
    };
    chown("nobody");
    for args in [&["runs"][..], &["digest"]] {
        let r = app.run(args).await;
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(
            r.stderr.contains("belongs to nobody") && r.stderr.contains("sudo -u nobody paperboy"),
            "{}",
            r.stderr
        );
    }
    chown("root");
}

#[tokio::test]
async fn keep_days_prunes_bytes_and_decisions_never_the_ledger_and_nothing_is_sent_twice() {
    let app = TestApp::spawn(Options {
        extra_config: String::new(),
        ..Default::default()
    })
    .await;
    assert_eq!(app.run(&["digest"]).await.code, 0);
    let bytes = || app.count("SELECT sum(length(message)) FROM deliveries");
    let stored = bytes();
    assert!(stored > 0);
    let sent = app.count("SELECT count(*) FROM sent_papers");
    let spend = app.count("SELECT count(*) FROM spend");
    assert!(app.triage().len() as i64 + app.count("SELECT count(*) FROM verdicts") > 0);

    // Nothing is old enough yet on 2025-04-01 with 30 days to keep.
    let later = [("PAPERBOY_FAKE_NOW", "2025-04-01T10:00:00Z")];
    let r = app
        .run_with_env(&["store", "prune", "--keep-days", "30"], &later)
        .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(bytes(), stored);
    // In May, the day is past 30 days: its bytes, pages and decisions go.
    let may = [("PAPERBOY_FAKE_NOW", "2025-05-15T10:00:00Z")];
    let r = app
        .run_with_env(&["store", "prune", "--keep-days", "30", "--json"], &may)
        .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["pruned"]["digests"], 2, "{}", r.stdout);
    assert_eq!(bytes(), 0);
    assert!(app.triage().is_empty());
    assert_eq!(
        app.count("SELECT count(*) FROM deliveries"),
        2,
        "the rows stay"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM sent_papers"),
        sent,
        "the ledger stays"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM spend"),
        spend,
        "the spend stays"
    );
    // The day again: already delivered, nothing sent twice.
    let again = app.run(&["digest"]).await;
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(app.received().len(), 2);
    let r = app.run(&["store", "prune"]).await;
    assert_eq!(r.code, 2, "no keep_days configured: {}", r.stderr);
    // A pruned digest is not sent again as an empty message.
    let r = app
        .run(&[
            "deliveries",
            "resend",
            "--day",
            "2025-03-28",
            "--to",
            "ada@lab.example.org",
        ])
        .await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("its bytes were pruned"), "{}", r.stderr);
    let r = app.run(&["send-test", "ada@lab.example.org"]).await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("were pruned"), "{}", r.stderr);
    assert_eq!(app.received().len(), 2);
}

#[tokio::test]
async fn a_backup_over_the_store_is_refused_and_vacuum_alone_compacts() {
    let app = TestApp::spawn(Options::default()).await;
    assert_eq!(app.run(&["digest"]).await.code, 0);
    let store = app.dir.path().join("data/paperboy.db");
    let runs = app.count("SELECT count(*) FROM runs");
    for target in ["data/paperboy.db", "./data/../data/paperboy.db-wal"] {
        let r = app.run(&["backup", target]).await;
        assert_eq!(r.code, 2, "{target}: {}", r.stderr);
        assert!(r.stderr.contains("is the store itself"), "{}", r.stderr);
    }
    assert_eq!(
        app.count("SELECT count(*) FROM runs"),
        runs,
        "the store is untouched"
    );
    assert!(store.exists());

    let r = app.run(&["store", "prune", "--vacuum"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("compacted the file:"), "{}", r.stdout);
    assert!(
        !r.stdout.contains("pruned"),
        "nothing was asked to be pruned: {}",
        r.stdout
    );
    let r = app.run(&["store", "prune"]).await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--vacuum"), "{}", r.stderr);
}
