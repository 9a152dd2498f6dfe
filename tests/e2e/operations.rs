//! Running it for real (issue 10): no paper lost to an outage, alerts that arrive and say the
//! right thing, failures that are never a quiet day.

use std::collections::HashMap;

use crate::helpers::*;

/// The day's feed as the next announcement day: other IDs, another date.
pub fn next_day_feed(app: &TestApp) -> std::path::PathBuf {
    let feed = fixture(FEED_DAY)
        .replace("Fri, 28 Mar 2025", "Mon, 31 Mar 2025")
        .replace("2503.2", "2503.3");
    let path = app.dir.path().join("monday.xml");
    std::fs::write(&path, feed).unwrap();
    path
}

fn owed(app: &TestApp) -> HashMap<String, Vec<(String, String)>> {
    let db = app.db();
    let mut stmt = db
        .prepare("SELECT o.subscriber, o.paper_id, p.title FROM owed o JOIN papers p ON p.id = o.paper_id ORDER BY 1, 2")
        .unwrap();
    let mut out: HashMap<String, Vec<(String, String)>> = HashMap::new();
    for row in stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
    {
        let (s, id, title): (String, String, String) = row.unwrap();
        out.entry(s).or_default().push((id, title));
    }
    out
}

#[tokio::test]
async fn papers_the_model_could_not_score_reach_their_reader_the_next_day() {
    let app = TestApp::spawn(Options {
        // The model answers the title triage, then dies for the rest of the day.
        behaviour: Behaviour {
            die_after: Some(1),
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let friday = app.run(&["digest"]).await;
    assert_eq!(
        friday.code, 1,
        "a day with unscored papers is not a success"
    );

    // Ada's author match went out, saying some papers are still being scored; Grace got nothing
    // (a digest with nothing scored would look like a quiet day).
    let ada = app.received_by("ada@lab.example.org");
    assert_eq!(ada.len(), 1);
    assert!(ada[0].text.contains("From authors you follow (1)"));
    assert!(ada[0].text.contains("still being scored"));
    assert!(!ada[0].text.contains("HTTP 503") && !ada[0].text.contains("upstream"));
    assert!(app.received_by("grace@lab.example.org").is_empty());
    let owed_friday = owed(&app);
    assert!(!owed_friday
        .get("ada@lab.example.org")
        .unwrap_or(&vec![])
        .is_empty());
    assert!(!owed_friday
        .get("grace@lab.example.org")
        .unwrap_or(&vec![])
        .is_empty());
    assert_eq!(
        app.count("SELECT count(*) FROM owed WHERE problem <> 'model_failed'"),
        0,
        "each owed paper says why"
    );

    // Monday the model is back: the owed papers are scored and the ones that pass are sent.
    app.llm.revive();
    let monday_feed = next_day_feed(&app);
    let monday = app
        .run(&["digest", "--feed", monday_feed.to_str().unwrap()])
        .await;
    assert_eq!(monday.code, 0, "{}\n{}", monday.stdout, monday.stderr);
    for (email, papers) in &owed_friday {
        let mail = app
            .received_by(email)
            .into_iter()
            .find(|m| m.subject.contains("Mon 31 Mar 2025"))
            .unwrap_or_else(|| panic!("{email} gets Monday's digest"));
        let mut passing = 0;
        for (id, title) in papers {
            let (relevance, novelty) = stand_in_scores(title);
            let shown = mail.text.contains(&format!("arxiv.org/abs/{id}"));
            if relevance >= 7 && novelty >= 6 {
                passing += 1;
                assert!(
                    shown,
                    "{email}: Friday's {id} ({title}) was owed and passes"
                );
            } else {
                assert!(!shown, "{email}: {id} does not pass");
            }
        }
        assert!(
            passing > 0,
            "{email}: the test owes at least one passing paper"
        );
    }
    assert_eq!(
        app.count("SELECT count(*) FROM owed"),
        0,
        "nothing is owed any more"
    );
    // And nothing is sent twice: a paper reaches a reader once.
    assert_eq!(
        app.count("SELECT count(*) FROM (SELECT subscriber, paper_id FROM sent_papers GROUP BY 1, 2 HAVING count(*) > 1)"),
        0
    );
}

#[tokio::test]
async fn an_alert_refused_by_a_greylisting_server_arrives_and_says_what_to_do() {
    let app = TestApp::spawn(Options {
        behaviour: Behaviour {
            status: Some(401),
            ..Default::default()
        },
        // The first three RCPT TO for the admin get 451 (paperboy tries three times per run).
        smtp_args: vec!["--greylist".into(), "admin@lab.example.org:3".into()],
        extra_config: "[admin]\nemail = \"admin@lab.example.org\"\n".into(),
        ..Default::default()
    })
    .await;
    let first = app.run(&["digest"]).await;
    assert_eq!(first.code, 1);
    assert!(app.received_by("admin@lab.example.org").is_empty());
    let (status, attempts, error): (String, i64, Option<String>) = app
        .db()
        .query_row(
            "SELECT status, attempts, last_error FROM alerts WHERE run_id = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(
        (status.as_str(), attempts),
        ("pending", 3),
        "recorded, not lost"
    );
    assert!(error.unwrap().contains("451"));

    // The next run sends the pending alert; the key is still refused, a problem the admin is
    // being told about already: no second alert until it clears. None lost.
    let second = app.run(&["digest"]).await;
    assert_eq!(second.code, 1);
    let alerts = app.received_by("admin@lab.example.org");
    assert_eq!(
        alerts.len(),
        1,
        "{:?}",
        alerts.iter().map(|a| &a.subject).collect::<Vec<_>>()
    );
    assert_eq!(
        app.count("SELECT count(*) FROM alerts WHERE status = 'sent'"),
        1
    );
    assert_eq!(
        app.count("SELECT times FROM problems WHERE key = 'run:model_rejected_key:*'"),
        2,
        "seen twice, told once"
    );
    let alert = &alerts[0];
    assert!(
        alert.text.contains("rejected the API key"),
        "{}",
        alert.text
    );
    assert!(
        alert.text.contains("Renew the model API key"),
        "{}",
        alert.text
    );
    assert!(
        !alert.text.contains("[mail.smtp]"),
        "advice for the problem that happened, not for another"
    );
}

#[tokio::test]
async fn an_unreachable_model_is_not_blamed_on_the_mail_server() {
    let app = TestApp::spawn(Options {
        extra_config: "[admin]\nemail = \"admin@lab.example.org\"\n".into(),
        ..Default::default()
    })
    .await;
    // Nothing listens there: "error sending request".
    let port = free_port();
    let config = std::fs::read_to_string(&app.config).unwrap();
    let llm = app.llm.server.uri();
    std::fs::write(
        &app.config,
        config.replace(&llm, &format!("http://127.0.0.1:{port}")),
    )
    .unwrap();
    let run = app.run(&["digest"]).await;
    assert_eq!(run.code, 1);
    let alert = app
        .received_by("admin@lab.example.org")
        .pop()
        .expect("an alert");
    assert!(
        alert
            .text
            .contains("The model endpoint could not be reached"),
        "{}",
        alert.text
    );
    assert!(!alert.text.contains("[mail.smtp]"), "{}", alert.text);
    assert_eq!(
        app.count("SELECT count(*) FROM run_subscribers WHERE problem = 'model_unreachable'"),
        2
    );
}

#[tokio::test]
async fn an_arxiv_error_feed_is_a_failure_not_a_holiday() {
    let app = TestApp::spawn(Options {
        feed: Some("rss-feed-error-astroph.xml"),
        extra_config: "[admin]\nemail = \"admin@lab.example.org\"\n".into(),
        ..Default::default()
    })
    .await;
    let run = app.run(&["digest"]).await;
    assert_eq!(run.code, 1, "{}", run.stdout);
    let (status, error): (String, String) = app
        .db()
        .query_row("SELECT status, error FROM runs", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(status, "failed");
    assert!(error.contains("Feed error for query: astroph"), "{error}");
    assert_eq!(
        app.arxiv.received_requests().await.unwrap().len(),
        1,
        "not retried"
    );
    let alert = app.received_by("admin@lab.example.org").pop().unwrap();
    assert!(
        alert.text.contains("check [arxiv] categories"),
        "{}",
        alert.text
    );
}

#[tokio::test]
async fn an_unreachable_arxiv_fails_at_once_and_says_it_once() {
    let app = TestApp::spawn(Options::default()).await;
    let port = free_port();
    let config = std::fs::read_to_string(&app.config).unwrap();
    std::fs::write(
        &app.config,
        config.replace(&app.arxiv.uri(), &format!("http://127.0.0.1:{port}")),
    )
    .unwrap();
    let run = app.run_with_env(&["digest"], &[("RUST_LOG", "info")]).await;
    assert_eq!(run.code, 1);
    let all = format!("{}{}", run.stdout, run.stderr);
    assert_eq!(
        run.stderr.matches("could not reach arXiv").count(),
        1,
        "logged once: {all}"
    );
    assert!(
        all.contains("could not reach arXiv at 127.0.0.1 ("),
        "{all}"
    );
    assert!(
        all.contains("1 attempt)"),
        "connection refused is not retried: {all}"
    );
    assert!(
        !all.contains(&format!("127.0.0.1:{port}/rss")),
        "the URL is not repeated: {all}"
    );
}

#[tokio::test]
async fn a_run_that_cannot_write_its_outbox_is_recorded_as_failed() {
    let app = TestApp::spawn(Options::default()).await;
    std::fs::write(app.dir.path().join("blocker"), "a file, not a folder").unwrap();
    let config = std::fs::read_to_string(&app.config)
        .unwrap()
        .replace("transport = \"smtp\"", "transport = \"file\"")
        .replace("outbox = \"outbox\"", "outbox = \"blocker/outbox\"");
    std::fs::write(&app.config, config).unwrap();
    let run = app.run(&["digest"]).await;
    assert_eq!(run.code, 1, "{}", run.stderr);
    let (status, error): (String, Option<String>) = app
        .db()
        .query_row("SELECT status, error FROM runs", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(status, "failed", "never left `running`");
    assert!(error.unwrap().contains("outbox"));
}

#[tokio::test]
async fn one_reader_gets_a_day_again_on_the_admins_word() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, ResponseTemplate};
    let app = TestApp::spawn(Options {
        feed: None,
        ..Default::default()
    })
    .await;
    Mock::given(method("GET"))
        .and(path("/api/query"))
        .respond_with(
            ResponseTemplate::new(200).set_body_string(fixture("atom-api-2025-03-27.xml")),
        )
        .mount(&app.arxiv)
        .await;
    let first = app.run(&["digest", "--date", "2025-03-27"]).await;
    assert_eq!(first.code, 0, "{}", first.stdout);
    let again = app.run(&["digest", "--date", "2025-03-27"]).await;
    assert!(
        again.stdout.contains("already delivered"),
        "{}",
        again.stdout
    );
    assert_eq!(
        app.received_by("ada@lab.example.org").len(),
        1,
        "never twice by accident"
    );

    // arXiv down during --again: the delivered digest stays where it was.
    Mock::given(method("GET"))
        .and(path("/api/query"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(4)
        .with_priority(1)
        .mount(&app.arxiv)
        .await;
    let again_args = [
        "digest",
        "--date",
        "2025-03-27",
        "--only",
        "ada@lab.example.org",
        "--again",
    ];
    let failed = app.run(&again_args).await;
    assert_eq!(failed.code, 1, "{}", failed.stderr);
    assert!(!failed.stderr.contains("kept aside"), "{}", failed.stderr);
    assert_eq!(app.count("SELECT count(*) FROM superseded_deliveries"), 0);
    assert_eq!(
        app.count("SELECT count(*) FROM runs WHERE day = '2025-03-27' AND status = 'failed'"),
        1,
        "a failed fetch still names its day"
    );
    let plain = app.run(&["digest", "--date", "2025-03-27"]).await;
    assert!(
        plain.stdout.contains("already delivered"),
        "{}",
        plain.stdout
    );
    assert_eq!(app.received_by("ada@lab.example.org").len(), 1);
    let ignored = app
        .run(&["digest", "--only", "ada@lab.example.org", "--again"])
        .await;
    assert_eq!(ignored.code, 2, "--again needs --date: {}", ignored.stderr);

    let rerun = app.run(&again_args).await;
    assert_eq!(rerun.code, 0, "{}", rerun.stderr);
    assert!(rerun.stderr.contains("kept aside"), "{}", rerun.stderr);
    assert!(
        !rerun.stdout.contains("grace@"),
        "only Ada: {}",
        rerun.stdout
    );
    let ada = app.received_by("ada@lab.example.org");
    assert_eq!(ada.len(), 2, "the day again, on purpose");
    assert_eq!(ada[0].subject, ada[1].subject);
    assert_ne!(ada[0].message_id, ada[1].message_id);
    assert_eq!(app.received_by("grace@lab.example.org").len(), 1);
    assert_eq!(app.count("SELECT count(*) FROM superseded_deliveries"), 1);
}

#[tokio::test]
async fn an_empty_api_page_before_the_total_fails_the_day_instead_of_cutting_it_short() {
    use wiremock::matchers::{method, path, query_param};
    use wiremock::{Mock, ResponseTemplate};
    let app = TestApp::spawn(Options {
        feed: None,
        ..Default::default()
    })
    .await;
    let first = fixture("atom-api-2025-03-27.xml").replace(
        "xmlns:opensearch=\"http://a9.com/-/spec/opensearch/1.1/\">2</opensearch:totalResults>",
        "xmlns:opensearch=\"http://a9.com/-/spec/opensearch/1.1/\">5</opensearch:totalResults>",
    );
    let empty = {
        let start = first.find("<entry>").unwrap();
        let end = first.rfind("</entry>").unwrap() + "</entry>".len();
        format!("{}{}", &first[..start], &first[end..])
    };
    Mock::given(method("GET"))
        .and(path("/api/query"))
        .and(query_param("start", "0"))
        .respond_with(ResponseTemplate::new(200).set_body_string(first))
        .mount(&app.arxiv)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/query"))
        .and(query_param("start", "2"))
        .respond_with(ResponseTemplate::new(200).set_body_string(empty))
        .mount(&app.arxiv)
        .await;
    let run = app.run(&["digest", "--date", "2025-03-27"]).await;
    assert_eq!(run.code, 1, "{}", run.stdout);
    let (status, error): (String, String) = app
        .db()
        .query_row("SELECT status, error FROM runs", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(status, "failed");
    assert!(error.contains("empty page at 2 of 5"), "{error}");
    assert!(app.received().is_empty(), "no partial day is sent");
    let asked = app.arxiv.received_requests().await.unwrap();
    assert!(
        asked
            .iter()
            .filter(|r| r.url.query().unwrap_or("").contains("start=2"))
            .count()
            > 1,
        "the empty page was asked again"
    );
}
