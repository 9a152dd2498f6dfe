//! The daemon, driven through the binary: catch-up, exactly-once through SIGKILL, SIGTERM,
//! schedules, budgets and alerts.

use std::time::Duration;

use wiremock::matchers::{method, path, query_param_contains};
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::*;

const MONDAY_0600_NY: &str = "2025-03-31T10:00:00Z";
const FRIDAY_0600_NY: &str = "2025-03-28T10:00:00Z";
const EMPTY_ATOM: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>ArXiv Query</title>
<opensearch:totalResults xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">0</opensearch:totalResults></feed>"#;

/// The API serves 27 March (the fixture) and 28 March (the same papers under other IDs);
/// every other window is empty.
async fn mount_api(app: &TestApp) {
    let day27 = fixture("atom-api-2025-03-27.xml");
    let day28 = day27.replace("2503.2000", "2503.2800");
    for (window, body) in [
        ("[202503251800 TO 202503261800]", day27),
        ("[202503261800 TO 202503271800]", day28),
    ] {
        Mock::given(method("GET"))
            .and(path("/api/query"))
            .and(query_param_contains("search_query", window))
            .respond_with(ResponseTemplate::new(200).set_body_string(body))
            .with_priority(1)
            .mount(&app.arxiv)
            .await;
    }
    Mock::given(method("GET"))
        .and(path("/api/query"))
        .respond_with(ResponseTemplate::new(200).set_body_string(EMPTY_ATOM))
        .with_priority(5)
        .mount(&app.arxiv)
        .await;
}

fn days_and_statuses(app: &TestApp) -> Vec<(String, String)> {
    app.db()
        .prepare("SELECT coalesce(day, '-'), status FROM runs WHERE kind = 'digest' ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[tokio::test]
async fn missed_days_are_caught_up_oldest_first_and_sigterm_stops_cleanly() {
    let app = TestApp::spawn(Options {
        feed: Some(FEED_ESCAPING),
        ..Default::default()
    })
    .await;
    mount_api(&app).await;
    // The store began on Wednesday (a day without an announcement); the daemon was down from
    // then to Monday: the days missed are caught up, oldest first.
    let first = app.run(&["digest", "--date", "2025-03-26"]).await;
    assert_eq!(first.code, 0, "{}", first.stderr);
    let daemon = Daemon::start(&app, &[("PAPERBOY_FAKE_NOW", MONDAY_0600_NY)]);
    daemon.wait_log("catch-up done", 1, 60).await;
    assert_eq!(daemon.term(10).await, 0, "SIGTERM exits 0");
    let runs = days_and_statuses(&app);
    let want: Vec<(String, String)> = [
        ("2025-03-26", "no_announcement"),
        ("2025-03-27", "ok"),
        ("2025-03-28", "ok"),
        ("2025-03-31", "ok"),
    ]
    .iter()
    .map(|(d, s)| (d.to_string(), s.to_string()))
    .collect();
    assert_eq!(
        runs, want,
        "oldest first, past days from the API, today from RSS"
    );
    for who in ["ada@lab.example.org", "grace@lab.example.org"] {
        let days: Vec<String> = app
            .db()
            .prepare(
                "SELECT day FROM deliveries WHERE subscriber = ?1 AND status = 'sent' ORDER BY day",
            )
            .unwrap()
            .query_map([who], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(
            days,
            vec!["2025-03-27", "2025-03-28", "2025-03-31"],
            "{who}"
        );
    }
    let mails = app.received();
    assert_eq!(mails.len(), 6);

    // Started again the same morning: every day is done, nothing is sent or scored again.
    let calls = app.llm.requests();
    let daemon = Daemon::start(&app, &[("PAPERBOY_FAKE_NOW", MONDAY_0600_NY)]);
    daemon.wait_log("catch-up done", 1, 30).await;
    assert!(daemon.log().contains("days_run=0"), "{}", daemon.log());
    assert_eq!(daemon.term(10).await, 0);
    assert_eq!(app.received().len(), 6);
    assert_eq!(app.llm.requests(), calls);
}

#[tokio::test]
async fn a_fresh_install_starts_with_today_and_mails_each_reader_once() {
    let app = TestApp::spawn(Options {
        feed: Some(FEED_ESCAPING),
        ..Default::default()
    })
    .await;
    mount_api(&app).await;
    let daemon = Daemon::start(&app, &[("PAPERBOY_FAKE_NOW", MONDAY_0600_NY)]);
    daemon.wait_log("catch-up done", 1, 60).await;
    assert!(
        daemon
            .log()
            .contains("a new store: starting with the latest announcement day"),
        "{}",
        daemon.log()
    );
    assert_eq!(daemon.term(10).await, 0);
    assert_eq!(
        days_and_statuses(&app),
        vec![("2025-03-31".to_string(), "ok".to_string())],
        "no backfill of the days before the store existed"
    );
    for who in ["ada@lab.example.org", "grace@lab.example.org"] {
        assert_eq!(app.received_by(who).len(), 1, "{who}");
    }
    // Started again later that morning: the store has a history now, and nothing is owed.
    let daemon = Daemon::start(&app, &[("PAPERBOY_FAKE_NOW", MONDAY_0600_NY)]);
    daemon.wait_log("catch-up done", 1, 30).await;
    assert_eq!(daemon.term(10).await, 0);
    assert_eq!(app.received().len(), 2);
}

#[tokio::test]
async fn a_second_daemon_on_the_same_data_refuses_to_start() {
    let app = TestApp::spawn(Options {
        feed: Some(FEED_EMPTY),
        ..Default::default()
    })
    .await;
    mount_api(&app).await;
    let first = Daemon::start(&app, &[("PAPERBOY_FAKE_NOW", "2025-03-29T12:00:00Z")]);
    first.wait_log("paperboy daemon starting", 1, 30).await;
    let second = app.run(&["run"]).await;
    assert_eq!(second.code, 1);
    assert!(
        second.stderr.contains("another paperboy daemon"),
        "{}",
        second.stderr
    );
    let status = app.run(&["status"]).await;
    assert!(status.stdout.contains("running (pid"), "{}", status.stdout);
    assert_eq!(first.term(10).await, 0);
    let status = app.run(&["status"]).await;
    assert!(status.stdout.contains("not running"), "{}", status.stdout);
}

#[tokio::test]
async fn sigkill_during_sending_then_restart_gives_exactly_one_digest_each() {
    let mut app = TestApp::spawn(Options::default()).await;
    app.restart_smtp(&["--data-delay", "30"]).await;
    let daemon = Daemon::start(
        &app,
        &[
            ("PAPERBOY_FAKE_NOW", FRIDAY_0600_NY),
            ("PAPERBOY__SCHEDULE__CATCH_UP_DAYS", "0"),
        ],
    );
    // The first digest is on the wire, not yet accepted.
    let receiving = app.smtp.maildir.join("receiving");
    wait_until(60, "a digest in flight", || receiving.exists()).await;
    daemon.kill9().await;
    assert!(app.received().is_empty(), "nothing was accepted");
    // Digests go out several at a time: at least the one on the wire is pending.
    assert!(app.count("SELECT count(*) FROM deliveries WHERE status = 'pending'") >= 1);
    assert_eq!(
        app.count("SELECT count(*) FROM deliveries WHERE status = 'sent'"),
        0
    );
    let calls = app.llm.requests();

    app.restart_smtp(&[]).await;
    let daemon = Daemon::start(
        &app,
        &[
            ("PAPERBOY_FAKE_NOW", FRIDAY_0600_NY),
            ("PAPERBOY__SCHEDULE__CATCH_UP_DAYS", "0"),
        ],
    );
    daemon.wait_log("catch-up done", 1, 60).await;
    assert_eq!(daemon.term(10).await, 0);
    let mut to: Vec<String> = app.received().iter().map(|m| m.to.clone()).collect();
    to.sort();
    assert_eq!(
        to,
        vec!["ada@lab.example.org", "grace@lab.example.org"],
        "exactly one digest each"
    );
    assert_eq!(app.llm.requests(), calls, "no verdict paid for twice");
    let stale: String = app
        .db()
        .query_row("SELECT error FROM runs ORDER BY id LIMIT 1", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert!(
        stale.contains("interrupted"),
        "the killed run is recorded as interrupted: {stale}"
    );
}

#[tokio::test]
async fn sigkill_during_scoring_then_restart_pays_for_no_verdict_twice() {
    let app = TestApp::spawn(Options {
        behaviour: Behaviour {
            delay: Some(Duration::from_millis(700)),
            ..Default::default()
        },
        concurrency: 1,
        ..Default::default()
    })
    .await;
    let env = [
        ("PAPERBOY_FAKE_NOW", FRIDAY_0600_NY),
        ("PAPERBOY__SCHEDULE__CATCH_UP_DAYS", "0"),
    ];
    let daemon = Daemon::start(&app, &env);
    wait_until(60, "some verdicts stored", || {
        app.try_count("SELECT count(*) FROM verdicts") >= 4
    })
    .await;
    daemon.kill9().await;
    // (paper, whose topics) of every verdict stored before the kill.
    let scored_before: Vec<(String, String)> = app
        .db()
        .prepare("SELECT v.paper_id, s.subscriber FROM verdicts v JOIN (SELECT DISTINCT profile_hash, subscriber FROM spend) s USING (profile_hash)")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(!scored_before.is_empty());
    assert!(
        app.received().is_empty(),
        "killed before any digest went out"
    );
    let asked_before = app.llm.state.batches.lock().unwrap().len();

    let daemon = Daemon::start(&app, &env);
    daemon.wait_log("catch-up done", 1, 60).await;
    assert_eq!(daemon.term(10).await, 0);
    assert_eq!(app.received().len(), 2, "exactly one digest each");
    // Papers whose verdicts were stored before the kill were not asked about again for the same reader.
    let batches = app.llm.state.batches.lock().unwrap().clone();
    let profiles = app.llm.state.profiles.lock().unwrap().clone();
    let reader = |topics: &str| {
        if topics.contains("Mixture-of-Experts") {
            "ada@lab.example.org"
        } else {
            "grace@lab.example.org"
        }
    };
    assert!(
        batches.len() > asked_before,
        "the rest was scored after the restart"
    );
    for (ids, topics) in batches[asked_before..]
        .iter()
        .zip(&profiles[asked_before..])
    {
        for id in ids {
            let key = (id.clone(), reader(topics).to_string());
            assert!(
                !scored_before.contains(&key),
                "{key:?} was scored before the kill and asked again"
            );
        }
    }
}

#[tokio::test]
async fn sigterm_during_a_run_exits_promptly_and_the_next_start_finishes_the_day() {
    let app = TestApp::spawn(Options {
        behaviour: Behaviour {
            delay: Some(Duration::from_secs(30)),
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let env = [
        ("PAPERBOY_FAKE_NOW", FRIDAY_0600_NY),
        ("PAPERBOY__SCHEDULE__CATCH_UP_DAYS", "0"),
        ("PAPERBOY__ADMIN__EMAIL", "admin@lab.example.org"),
    ];
    let daemon = Daemon::start(&app, &env);
    wait_until(60, "a model call in flight", || app.llm.requests() >= 1).await;
    let started = std::time::Instant::now();
    assert_eq!(daemon.term(15).await, 0);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "exited within a few seconds: {:?}",
        started.elapsed()
    );
    assert!(app.received().is_empty());
    let (status, error): (String, String) = app
        .db()
        .query_row(
            "SELECT status, error FROM runs ORDER BY id DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(status, "interrupted");
    assert!(error.contains("interrupted"), "{error}");
    // A stop is not a failure: nothing for the admin to act on, and monitoring says only that
    // the daemon is down.
    assert_eq!(
        app.count("SELECT count(*) FROM alerts"),
        0,
        "no alert for an interrupted run"
    );
    let st = app.run(&["status", "--json"]).await;
    assert_eq!(st.code, 3, "{}", st.stdout);
    assert!(!st.stdout.contains("failed"), "{}", st.stdout);
}

#[tokio::test]
async fn arxiv_down_for_a_while_then_up_on_a_later_wake() {
    let app = TestApp::spawn(Options {
        feed: None,
        ..Default::default()
    })
    .await;
    // Two wakes' worth of 503s (four attempts each), then the feed.
    Mock::given(method("GET"))
        .and(path(RSS_PATH))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(8)
        .with_priority(1)
        .mount(&app.arxiv)
        .await;
    Mock::given(method("GET"))
        .and(path(RSS_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_string(fixture(FEED_DAY)))
        .with_priority(2)
        .mount(&app.arxiv)
        .await;
    let env = [
        ("PAPERBOY_FAKE_NOW", FRIDAY_0600_NY),
        ("PAPERBOY__SCHEDULE__CATCH_UP_DAYS", "0"),
        ("PAPERBOY__SCHEDULE__CRON", "*/2 * * * * *"),
    ];
    let daemon = Daemon::start(&app, &env);
    daemon.wait_log("catch-up done", 3, 60).await;
    wait_until(30, "both digests", || app.received().len() == 2).await;
    assert_eq!(daemon.term(10).await, 0);
    let runs = days_and_statuses(&app);
    assert!(runs.len() >= 3, "{runs:?}");
    assert_eq!(runs[0].1, "failed");
    assert_eq!(runs[1].1, "failed");
    assert_eq!(
        runs.last().unwrap(),
        &("2025-03-28".to_string(), "ok".to_string())
    );
    assert_eq!(app.received().len(), 2, "exactly one digest each");
}

#[tokio::test]
async fn a_budget_that_runs_out_mid_run_stops_scoring_sends_what_is_scored_and_alerts() {
    // One call at a time, so where the budget stops does not depend on which calls overlap
    // (each holds a worst-case reservation while in flight).
    let limit = 0.0012;
    let app = TestApp::spawn(Options {
        extra_config: format!(
            "[budget]\ndaily_usd = {limit}\n[admin]\nemail = \"admin@lab.example.org\"\n"
        ),
        concurrency: 1,
        ..Default::default()
    })
    .await;
    let run = app.run(&["digest"]).await;
    assert_eq!(run.code, 1, "{}", run.stdout);
    let calls = app.count("SELECT count(*) FROM spend");
    assert!(
        calls > 0 && calls < 8,
        "scoring stopped part way: {calls} of 8 calls"
    );
    let spent: i64 = app.count("SELECT sum(cost_micros) FROM spend");
    assert!(
        spent as f64 <= limit * 1e6,
        "the budget is never exceeded: {spent} µ$"
    );
    let error: String = app
        .db()
        .query_row("SELECT error FROM runs", [], |r| r.get(0))
        .unwrap();
    assert!(
        error.contains("daily budget of $0.0012 is reached"),
        "{error}"
    );
    let digests: Vec<Received> = app
        .received()
        .into_iter()
        .filter(|m| m.to != "admin@lab.example.org")
        .collect();
    assert!(!digests.is_empty(), "what is scored is sent");
    assert!(
        digests
            .iter()
            .any(|d| d.text.contains("still being scored")),
        "the digest says some papers are still being scored"
    );
    assert!(
        digests
            .iter()
            .all(|d| !d.text.contains("budget") && !d.html.contains("budget")),
        "a reader is never told about the admin's budget"
    );
    assert!(
        app.count("SELECT count(*) FROM owed WHERE problem = 'budget'") > 0,
        "the papers the budget kept are owed"
    );
    let alert = app
        .received_by("admin@lab.example.org")
        .pop()
        .expect("an alert for the admin");
    assert!(
        alert
            .subject
            .starts_with("paperboy: the run for 2025-03-28"),
        "{}",
        alert.subject
    );
    assert!(
        alert
            .text
            .contains("The spending limit in [budget] was reached"),
        "{}",
        alert.text
    );
}

#[tokio::test]
async fn an_expired_key_alerts_the_admin_and_a_healthy_run_does_not() {
    let app = TestApp::spawn(Options {
        behaviour: Behaviour {
            status: Some(401),
            ..Default::default()
        },
        extra_config: "[admin]\nemail = \"admin@lab.example.org\"\n".into(),
        ..Default::default()
    })
    .await;
    assert_eq!(app.run(&["digest"]).await.code, 1);
    let alert = app
        .received_by("admin@lab.example.org")
        .pop()
        .expect("an alert");
    assert!(
        alert.text.contains("rejected the API key")
            && alert.text.contains("Renew the model API key"),
        "{}",
        alert.text
    );
    assert!(
        !alert.text.contains("sk-test-0123456789"),
        "no secret in the alert"
    );

    let healthy = TestApp::spawn(Options {
        extra_config: "[admin]\nemail = \"admin@lab.example.org\"\n".into(),
        ..Default::default()
    })
    .await;
    assert_eq!(healthy.run(&["digest"]).await.code, 0);
    assert!(
        healthy.received_by("admin@lab.example.org").is_empty(),
        "a healthy run sends no alert"
    );
}

#[tokio::test]
async fn status_shows_the_next_run_in_local_time() {
    let app = TestApp::spawn(Options::default()).await;
    let env = [
        ("PAPERBOY_FAKE_NOW", "2025-03-07T12:00:00Z"),
        ("PAPERBOY__SCHEDULE__TIMEZONE", "America/New_York"),
    ];
    let run = app.run_with_env(&["status"], &env).await;
    assert_eq!(run.code, 3, "no daemon runs here");
    // Friday 7 March after 06:30 EST: next is Monday 10 March 06:30, after the switch to EDT.
    assert!(
        run.stdout.contains("next run   Mon 10 Mar 2025 06:30 EDT"),
        "{}",
        run.stdout
    );
}

#[tokio::test]
async fn a_run_still_going_when_the_next_is_due_is_not_started_twice() {
    let app = TestApp::spawn(Options {
        behaviour: Behaviour {
            delay: Some(Duration::from_millis(1500)),
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let env = [
        ("PAPERBOY_FAKE_NOW", FRIDAY_0600_NY),
        ("PAPERBOY__SCHEDULE__CATCH_UP_DAYS", "0"),
        ("PAPERBOY__SCHEDULE__CRON", "* * * * * *"),
    ];
    let daemon = Daemon::start(&app, &env);
    daemon
        .wait_log("a run is still going; not starting another", 1, 60)
        .await;
    wait_until(60, "both digests", || app.received().len() == 2).await;
    daemon.wait_log("catch-up done", 2, 60).await;
    assert_eq!(daemon.term(10).await, 0);
    assert_eq!(app.received().len(), 2, "one digest each");
    assert_eq!(
        app.count("SELECT count(*) FROM runs WHERE status = 'running'"),
        0
    );
    // Every paper was asked about once per reader.
    let batches = app.llm.state.batches.lock().unwrap().clone();
    let profiles = app.llm.state.profiles.lock().unwrap().clone();
    let mut seen = std::collections::HashSet::new();
    for (ids, topics) in batches.iter().zip(&profiles) {
        for id in ids {
            assert!(
                seen.insert((id.clone(), topics.clone())),
                "{id} asked twice for the same reader"
            );
        }
    }
}

#[tokio::test]
async fn a_subscriber_added_after_todays_run_gets_today_but_no_past_days() {
    let app = TestApp::spawn(Options {
        feed: Some(FEED_ESCAPING),
        ..Default::default()
    })
    .await;
    mount_api(&app).await;
    // The store's history starts on Thursday (a run by hand), so Monday's start catches up
    // Friday and delivers Monday.
    let first = app.run(&["digest", "--date", "2025-03-27"]).await;
    assert_eq!(first.code, 0, "{}", first.stderr);
    let env = [
        ("PAPERBOY_FAKE_NOW", MONDAY_0600_NY),
        ("PAPERBOY__SCHEDULE__CRON", "* * * * * *"),
    ];
    let daemon = Daemon::start(&app, &env);
    daemon.wait_log("catch-up done", 1, 60).await;
    assert_eq!(app.received().len(), 6);
    let add = app
        .run(&[
            "subscribers",
            "add",
            "bob@lab.example.org",
            "--name",
            "Bob",
            "--topics",
            "Mixture of experts and sparsity",
        ])
        .await;
    assert_eq!(add.code, 0, "{}", add.stderr);
    wait_until(60, "Bob's digest", || {
        !app.received_by("bob@lab.example.org").is_empty()
    })
    .await;
    daemon.wait_log("catch-up done", 3, 30).await;
    assert_eq!(daemon.term(10).await, 0);
    let bob = app.received_by("bob@lab.example.org");
    assert_eq!(bob.len(), 1, "only today's digest");
    assert!(
        bob[0].subject.starts_with("arXiv digest Mon 31 Mar 2025"),
        "{}",
        bob[0].subject
    );
    assert_eq!(app.received().len(), 7, "nobody else got a second digest");
}

#[tokio::test]
async fn after_a_failed_run_the_daemon_tries_again_before_the_next_firing() {
    // The model is down for the whole first run (every call 503, past the retries), then back.
    let app = TestApp::spawn(Options {
        behaviour: Behaviour {
            die_after: Some(0),
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let daemon = Daemon::start(
        &app,
        &[
            ("PAPERBOY_FAKE_NOW", FRIDAY_0600_NY),
            ("PAPERBOY__SCHEDULE__CATCH_UP_DAYS", "0"),
            // The next firing is a year away: only the retry can finish the day.
            ("PAPERBOY__SCHEDULE__CRON", "0 0 0 1 1 *"),
            ("PAPERBOY__SCHEDULE__RETRY_BASE_SECS", "1"),
        ],
    );
    daemon.wait_log("trying again later", 1, 60).await;
    // Ada's author match went out (with her other papers still owed); Grace got nothing that
    // would look like a quiet day.
    assert!(app.received_by("grace@lab.example.org").is_empty());
    let ada = app.received_by("ada@lab.example.org");
    assert_eq!(ada.len(), 1);
    assert!(ada[0].text.contains("still being scored"));
    app.llm.revive();
    wait_until(60, "both digests", || app.received().len() == 2).await;
    daemon.wait_log("all_done=true", 1, 60).await;
    assert_eq!(daemon.term(10).await, 0);
    let runs = days_and_statuses(&app);
    assert_eq!(runs.first().unwrap().1, "failed", "{runs:?}");
    assert_eq!(runs.last().unwrap().1, "ok", "{runs:?}");
}
