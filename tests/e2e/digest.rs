use std::sync::atomic::Ordering;
use std::time::Duration;

use wiremock::matchers::{method, path, query_param_contains};
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::*;

pub const AUTHOR_MATCH_ID: &str = "2503.21419"; // Neuroplasticity …, by Bj\"orn W. Schuller

#[tokio::test]
async fn digest_end_to_end_over_smtp() {
    let app = TestApp::spawn(Options::default()).await;
    let run = app.run(&["digest"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);

    // One line per subscriber on stdout.
    let ada_line = run
        .stdout
        .lines()
        .find(|l| l.starts_with("ada@lab.example.org"))
        .expect("a line for Ada");
    assert!(
        ada_line.contains("scanned   15") && ada_line.contains("delivered"),
        "{ada_line}"
    );
    assert!(run
        .stdout
        .lines()
        .any(|l| l.starts_with("grace@lab.example.org") && l.contains("delivered")));

    let mails = app.received();
    assert_eq!(mails.len(), 2, "one digest per subscriber");
    let ada = app
        .received_by("ada@lab.example.org")
        .pop()
        .expect("Ada's digest");

    // multipart/alternative, plain text first, HTML second.
    assert_eq!(ada.content_type, "multipart/alternative");
    assert_eq!(ada.part_types, vec!["text/plain", "text/html"]);

    // Subject names the date and the count; the count matches the digest.
    let delivered: String = app
        .db()
        .query_row(
            "SELECT paper_ids FROM deliveries WHERE subscriber = 'ada@lab.example.org'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let delivered: Vec<String> = serde_json::from_str(&delivered).unwrap();
    let selected = delivered.len();
    assert!(selected >= 2, "{}", ada.text);
    assert_eq!(
        ada.subject,
        format!("arXiv digest Fri 28 Mar 2025: {selected} papers")
    );

    // The Message-ID is our own and stored.
    let stored: String = app
        .db()
        .query_row(
            "SELECT message_id FROM deliveries WHERE subscriber = 'ada@lab.example.org'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(format!("<{}>", ada.message_id), stored);
    assert!(stored.ends_with("@lab.example.org>"));
    let raw = String::from_utf8_lossy(&ada.raw).replace("\r\n", "\n");
    assert!(
        raw.contains("\nAuto-Submitted: auto-generated\n"),
        "marked as automatic, so responders stay quiet"
    );

    // The followed author's paper has its own section after the papers in full, with its
    // verdict (it was scored like any other) and who it is by.
    let followed = ada
        .text
        .split("From authors you follow (1)")
        .nth(1)
        .expect("a section for followed authors");
    assert!(followed.contains(AUTHOR_MATCH_ID), "{followed}");
    assert!(
        followed.contains("Björn W. Schuller (followed) with"),
        "{followed}"
    );
    assert!(
        followed.contains("(score "),
        "scored like any other: {followed}"
    );
    assert_eq!(delivered.last().map(String::as_str), Some(AUTHOR_MATCH_ID));
    assert!(ada.html.contains("From authors you follow (1)"));

    // Unicode names, no TeX, no split nickname, no mojibake, in both views.
    for body in [&ada.text, &ada.html] {
        assert!(body.contains("Björn W. Schuller"), "unicode name");
        assert!(
            !body.contains("\\\"o") && !body.contains("Bj\\"),
            "no TeX left"
        );
        assert!(!body.contains("â€"), "no mojibake");
    }
    let flat_text = ada.text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat_text.contains("Jiayu Chen, Yun (Eric) Liang, Xiang Chen"),
        "the nickname stays with its name"
    );
    // The mail's card names six authors and counts the rest.
    assert!(ada.html.contains("Jiayu Chen, Yun (Eric) Liang and 1 more"));
    assert!(
        !flat_text.contains("(Eric),"),
        "the seed's split author list is gone"
    );

    // The rest in full, in order of their score, each with its own comment (the followed
    // author's entry, indented, is not one of them).
    let chunks: Vec<&str> = ada.text.split("\nArXiv ID: ").skip(1).collect();
    assert_eq!(chunks.len(), selected - 1);
    for chunk in chunks {
        let id = chunk.split_whitespace().next().unwrap();
        assert!(
            chunk.contains(&format!("Stand-in verdict about {id}.")),
            "comment of {id} belongs to {id}"
        );
        assert!(chunk.contains("Relevance: 9   Novelty: 8"), "{chunk}");
    }

    // The day in one line, the top picks first, the usage table at the end.
    let totals = format!(
        "{} of the 15 papers in your categories passed your thresholds (17 new arXiv papers today); {} in full below; 1 by authors you follow.",
        selected - 1,
        selected - 1
    );
    let flat = ada.text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains(&totals), "{}", ada.text);
    assert!(ada.html.contains(&totals));
    assert!(ada.text.find("Today's top").unwrap() < ada.text.find("ArXiv ID: ").unwrap());
    assert!(ada.text.find("gpt-4o-mini ").unwrap() > ada.text.find("Your selection").unwrap());
    assert!(
        ada.html.contains("Your selection")
            && ada
                .html
                .contains("Mixture-of-Experts, quantization and sparsity.")
    );

    // Spend: a row per reader served by each model call, tokens adding up to what the model
    // reported, costs priced.
    let calls = app.llm.state.answered.load(Ordering::SeqCst) as i64;
    assert_eq!(
        app.count("SELECT count(DISTINCT call_id) FROM spend"),
        calls
    );
    assert_eq!(
        app.count("SELECT sum(prompt_tokens) FROM spend"),
        app.llm.state.prompt_tokens.load(Ordering::SeqCst) as i64
    );
    assert_eq!(
        app.count("SELECT sum(cached_tokens) FROM spend"),
        app.llm.state.cached_tokens.load(Ordering::SeqCst) as i64
    );
    assert_eq!(
        app.count("SELECT sum(completion_tokens) FROM spend"),
        app.llm.state.completion_tokens.load(Ordering::SeqCst) as i64
    );
    assert_eq!(
        app.count("SELECT count(*) FROM spend WHERE cost_micros IS NULL OR cost_micros <= 0"),
        0
    );
    // One title pass for both readers, then full verdicts for the papers it kept and Ada's
    // followed author's paper (batches of 4 papers; Ada's calls hold her followed author's
    // paper, so 3 verdict calls). Both readers read English, so the TL;DRs
    // of the papers that passed came in the verdict lines; the followed author's paper, below
    // the bar, gets its TL;DR in one TL;DR call.
    assert_eq!(
        app.count("SELECT count(DISTINCT call_id) FROM spend WHERE stage = 'triage'"),
        1
    );
    assert_eq!(
        app.count("SELECT count(DISTINCT call_id) FROM spend WHERE stage = 'tldr'"),
        1
    );
    assert!(app.count("SELECT count(*) FROM tldrs WHERE language = 'English'") > 0);
    assert_eq!(calls, 1 + 3 + 1);
    let run_status: String = app
        .db()
        .query_row("SELECT status FROM runs", [], |r| r.get(0))
        .unwrap();
    assert_eq!(run_status, "ok");
}

#[tokio::test]
async fn a_rerun_sends_nothing_and_calls_no_model() {
    let app = TestApp::spawn(Options::default()).await;
    assert_eq!(app.run(&["digest"]).await.code, 0);
    let calls = app.llm.requests();
    let mails = app.smtp.messages().len();
    assert_eq!(mails, 2);

    let again = app.run(&["digest"]).await;
    assert_eq!(again.code, 0);
    assert!(
        again.stdout.contains("already delivered"),
        "{}",
        again.stdout
    );
    assert_eq!(app.llm.requests(), calls, "no model calls on a re-run");
    assert_eq!(app.smtp.messages().len(), mails, "no second digest");
    assert_eq!(app.count("SELECT count(*) FROM deliveries"), 2);
}

#[tokio::test]
async fn verdicts_are_reused_when_the_day_is_scored_again() {
    // A dry run scores and stores verdicts; the real run that follows pays for nothing.
    let app = TestApp::spawn(Options::default()).await;
    let dry = app.run(&["digest", "--dry-run"]).await;
    assert_eq!(dry.code, 0);
    assert!(dry.stdout.contains("dry run →"), "{}", dry.stdout);
    assert_eq!(
        app.smtp.messages().len(),
        0,
        "a dry run sends nothing over SMTP"
    );
    let outbox = std::fs::read_dir(app.dir.path().join("outbox"))
        .unwrap()
        .count();
    assert_eq!(outbox, 2, "a dry run writes the emails to the outbox");
    for f in std::fs::read_dir(app.dir.path().join("outbox")).unwrap() {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = f.unwrap().metadata().unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "a digest carries its reader's reply token");
    }
    assert_eq!(app.count("SELECT count(*) FROM deliveries"), 0);
    let calls = app.llm.requests();

    let real = app.run(&["digest"]).await;
    assert_eq!(real.code, 0);
    assert_eq!(app.llm.requests(), calls, "stored verdicts are reused");
    assert_eq!(app.smtp.messages().len(), 2);
}

#[tokio::test]
async fn a_misbehaving_model_never_puts_a_comment_on_the_wrong_paper() {
    let app = TestApp::spawn(Options {
        behaviour: Behaviour {
            rate_limit_first: true,
            wrong_id_first: Some("2503.21135".into()), // MoQa, scored in another batch
            omit_first: Some("2503.21073".into()),
            garbage_line: true,
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let run = app.run(&["digest"]).await;
    assert_eq!(
        run.code, 0,
        "everything is scored in the end: {}",
        run.stdout
    );

    let ada = app.received_by("ada@lab.example.org").pop().unwrap();
    let grace = app.received_by("grace@lab.example.org").pop().unwrap();
    for m in [&ada, &grace] {
        assert!(
            !m.text.contains(WRONG_COMMENT) && !m.html.contains(WRONG_COMMENT),
            "the wrong comment never lands"
        );
        assert!(!m.text.contains("still being scored"));
    }
    // The paper left out the first time was asked again and scored.
    let batches = app.llm.state.batches.lock().unwrap().clone();
    let asked: usize = batches
        .iter()
        .filter(|b| b.contains(&"2503.21073".to_string()))
        .count();
    assert!(asked >= 2, "the omitted paper was asked again: {batches:?}");
    assert!(
        ada.text.contains("ArXiv ID: 2503.21073")
            && ada.text.contains("Stand-in verdict about 2503.21073.")
    );
    // 429 was retried (the first request got no answer).
    assert_eq!(
        app.llm.requests(),
        app.llm.state.answered.load(Ordering::SeqCst) + 1
    );
    assert!(
        run.stderr.contains("not in this call"),
        "the discarded verdict is logged"
    );
    assert!(
        run.stderr.contains("not a JSON object"),
        "the garbage line is logged"
    );
}

#[tokio::test]
async fn server_errors_and_timeouts_from_the_model_are_retried() {
    let app = TestApp::spawn(Options {
        behaviour: Behaviour {
            server_error_first: Some((503, 2)),
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let run = app.run(&["digest"]).await;
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(
        app.llm.requests(),
        app.llm.state.answered.load(Ordering::SeqCst) + 2
    );
    assert_eq!(app.received().len(), 2);

    let app = TestApp::spawn(Options {
        behaviour: Behaviour {
            stall_first: Some(Duration::from_secs(3)),
            ..Default::default()
        },
        extra_config: String::new(),
        ..Default::default()
    })
    .await;
    let config = std::fs::read_to_string(&app.config)
        .unwrap()
        .replace("timeout_secs = 10\n[store]", "timeout_secs = 1\n[store]");
    std::fs::write(&app.config, config).unwrap();
    let run = app.run(&["digest"]).await;
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(
        run.stderr.contains("timed out"),
        "the timeout is logged and retried"
    );
    assert_eq!(app.received().len(), 2);
    assert!(!app
        .received()
        .iter()
        .any(|m| m.text.contains("still being scored")));
}

#[tokio::test]
async fn a_paper_the_model_never_scores_is_reported_not_dropped() {
    let app = TestApp::spawn(Options {
        behaviour: Behaviour {
            never: Some("2503.21073".into()),
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let run = app.run(&["digest"]).await;
    assert_eq!(
        run.code, 1,
        "a subscriber with unscored papers makes the run fail"
    );
    let ada = app.received_by("ada@lab.example.org").pop().unwrap();
    assert!(
        ada.subject.contains("(1 still being scored)"),
        "{}",
        ada.subject
    );
    assert!(ada.text.contains("Still being scored (1)"));
    assert!(ada
        .text
        .contains("Shared Global and Local Geometry of Language Model Embeddings"));
    // The reason is the admin's (run record), the paper stays owed to the reader.
    assert!(!ada.text.contains("no valid verdict"));
    let detail: String = app
        .db()
        .query_row(
            "SELECT detail FROM run_subscribers WHERE subscriber = 'ada@lab.example.org'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(detail.contains("no valid verdict after 3 asks"), "{detail}");
    assert_eq!(
        app.count("SELECT count(*) FROM owed WHERE subscriber = 'ada@lab.example.org' AND paper_id = '2503.21073' AND problem = 'model_no_answer'"),
        1
    );
    // Asked three times: once, then twice again.
    let asked = app
        .llm
        .state
        .batches
        .lock()
        .unwrap()
        .iter()
        .filter(|b| b.contains(&"2503.21073".to_string()))
        .count();
    assert_eq!(
        asked, 6,
        "three asks for each reader (Ada's calls also hold her followed author's paper)"
    );
    let (status, unscored): (String, i64) = app
        .db()
        .query_row(
            "SELECT r.status, s.unscored FROM runs r JOIN run_subscribers s ON s.run_id = r.id WHERE s.subscriber = 'ada@lab.example.org'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((status.as_str(), unscored), ("failed", 1));
}

#[tokio::test]
async fn an_expired_key_is_not_a_quiet_day() {
    let app = TestApp::spawn(Options {
        behaviour: Behaviour {
            status: Some(401),
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let run = app.run(&["digest"]).await;
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("rejected the API key"),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("sk-test-0123456789"),
        "the key never appears in logs"
    );

    // Grace has no author match: nothing could be scored, so no mail that looks like a quiet day.
    assert!(app.received_by("grace@lab.example.org").is_empty());
    let grace_line = run
        .stdout
        .lines()
        .find(|l| l.starts_with("grace@"))
        .unwrap();
    assert!(
        grace_line.contains("not scored") && grace_line.contains("401"),
        "{grace_line}"
    );
    // Ada's author match still reaches her, with the unscored papers listed and the reason.
    let ada = app
        .received_by("ada@lab.example.org")
        .pop()
        .expect("Ada gets her author match");
    assert!(
        ada.subject.contains("still being scored"),
        "{}",
        ada.subject
    );
    assert!(
        !ada.text.contains("API key"),
        "readers are not told about keys"
    );
    assert!(!ada.text.contains("Nothing passed your bar"));
    // One call per profile at most: after the first 401 scoring stops.
    assert!(app.llm.requests() <= 2, "{} calls", app.llm.requests());

    let (status, error): (String, String) = app
        .db()
        .query_row("SELECT status, error FROM runs", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(status, "failed");
    assert!(
        error.contains("grace@lab.example.org") && error.contains("401"),
        "{error}"
    );

    // Grace was not marked delivered: once the key is fixed, her digest goes out.
    assert_eq!(
        app.count("SELECT count(*) FROM deliveries WHERE subscriber = 'grace@lab.example.org'"),
        0
    );
}

#[tokio::test]
async fn an_empty_feed_is_a_day_without_announcement() {
    let app = TestApp::spawn(Options {
        feed: Some(FEED_EMPTY),
        ..Default::default()
    })
    .await;
    let run = app.run(&["digest"]).await;
    assert_eq!(run.code, 0);
    assert!(
        run.stdout.contains("no announcement on 2025-03-29"),
        "{}",
        run.stdout
    );
    assert!(run.stderr.contains("no model calls, no emails"));
    assert_eq!(app.llm.requests(), 0);
    assert!(app.smtp.messages().is_empty());
    let status: String = app
        .db()
        .query_row("SELECT status FROM runs", [], |r| r.get(0))
        .unwrap();
    assert_eq!(status, "no_announcement");

    // Logs for machines: one JSON object per line on stderr.
    let json = app.run(&["--log-format", "json", "digest"]).await;
    assert_eq!(json.code, 0);
    let lines: Vec<&str> = json
        .stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert!(!lines.is_empty());
    for l in lines {
        let v: serde_json::Value =
            serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
        assert!(v.get("level").is_some() && v.get("fields").is_some(), "{l}");
    }
}

#[tokio::test]
async fn arxiv_503_then_success_is_retried() {
    let app = TestApp::spawn(Options {
        feed: None,
        ..Default::default()
    })
    .await;
    Mock::given(method("GET"))
        .and(path(RSS_PATH))
        .respond_with(ResponseTemplate::new(503).insert_header("retry-after", "0"))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&app.arxiv)
        .await;
    Mock::given(method("GET"))
        .and(path(RSS_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_string(fixture(FEED_DAY)))
        .with_priority(2)
        .mount(&app.arxiv)
        .await;
    let run = app.run(&["digest"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(app.smtp.messages().len(), 2);
    let requests = app.arxiv.received_requests().await.unwrap();
    assert_eq!(requests.len(), 3);
    let ua = requests[0]
        .headers
        .get("user-agent")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        ua.starts_with(&format!("paperboy/{}", env!("CARGO_PKG_VERSION"))),
        "{ua}"
    );
    assert!(
        ua.contains("digest@lab.example.org"),
        "the User-Agent says whom to contact: {ua}"
    );
}

#[tokio::test]
async fn a_malformed_feed_is_an_error_not_an_empty_day() {
    let app = TestApp::spawn(Options {
        feed: None,
        ..Default::default()
    })
    .await;
    let truncated: String = fixture(FEED_DAY).chars().take(3000).collect();
    Mock::given(method("GET"))
        .and(path(RSS_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_string(truncated))
        .mount(&app.arxiv)
        .await;
    let run = app.run(&["digest"]).await;
    assert_eq!(run.code, 1);
    assert!(run.stdout.contains("malformed feed"), "{}", run.stdout);
    assert_eq!(
        app.arxiv.received_requests().await.unwrap().len(),
        4,
        "retried up to max_attempts"
    );
    assert_eq!(app.llm.requests(), 0);
    assert!(app.smtp.messages().is_empty());
    let (status, error): (String, String) = app
        .db()
        .query_row("SELECT status, error FROM runs", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(status, "failed");
    assert!(error.contains("malformed"), "{error}");
}

#[tokio::test]
async fn text_is_escaped_and_tex_becomes_unicode() {
    let app = TestApp::spawn(Options {
        feed: Some(FEED_ESCAPING),
        subscribers: "[[subscriber]]\nemail = \"ada@lab.example.org\"\nname = \"Ada <b>Lovelace</b>\"\ntopics = \"MoE\"\nmin_relevance = 1\nmin_novelty = 1\n".into(),
        ..Default::default()
    })
    .await;
    let run = app.run(&["digest"]).await;
    assert_eq!(run.code, 0);
    let m = app.received().pop().unwrap();
    // HTML: every interpolated string is escaped.
    assert!(
        !m.html.contains("<script>") && !m.html.contains("<img src=x"),
        "no markup from the feed"
    );
    assert!(m.html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(m.html.contains("Quantization for a &lt; b &amp; Friends"));
    assert!(m.html.contains("Ada &lt;b&gt;Lovelace&lt;/b&gt;"));
    // Text: the same data, readable.
    assert!(m.text.contains("a < b && c > d holds for ∼600 experts"));
    assert!(
        m.text.contains("Quantization for a < b & Friends"),
        "{}",
        m.text
    );
    assert!(m.text.contains("“quoted” text – with dashes"));
    for body in [&m.text, &m.html] {
        assert!(
            body.contains("Michał Koziarski, Jörg Bornschein, Yun (Eric) Liang, Marin Soljačić")
        );
    }
}

#[tokio::test]
async fn without_a_model_the_keyword_scorer_runs_and_says_so() {
    let app = TestApp::spawn(Options {
        api_key: false,
        ..Default::default()
    })
    .await;
    let run = app.run(&["digest"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run
        .stderr
        .contains("no [llm] section in the configuration: scoring with keywords instead"));
    assert_eq!(app.llm.requests(), 0);
    let ada = app.received_by("ada@lab.example.org").pop().unwrap();
    assert!(ada
        .text
        .contains("Scored by keywords: no model is configured"));
    assert!(ada.html.contains("Scored by keywords"));
    assert!(ada.text.contains("Novelty: not assessed"));
    assert!(
        ada.text.contains("ArXiv ID: 2503.21135"),
        "MoQa matches the keyword `quantization`"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM spend"),
        0,
        "no model, no spend"
    );
}

#[tokio::test]
async fn a_day_where_nothing_matches_sends_a_short_note_unless_opted_out() {
    let subs = r#"
[[subscriber]]
email = "ada@lab.example.org"
topics = "Protein folding"
min_relevance = 10
[[subscriber]]
email = "bob@lab.example.org"
topics = "Protein folding"
min_relevance = 10
send_empty = false
"#;
    let app = TestApp::spawn(Options {
        subscribers: subs.into(),
        ..Default::default()
    })
    .await;
    let run = app.run(&["digest"]).await;
    assert_eq!(run.code, 0);
    let notes = app.received();
    assert_eq!(notes.len(), 1, "Bob opted out of empty-day notes");
    assert_eq!(
        notes[0].subject,
        "arXiv digest Fri 28 Mar 2025: nothing matched (15 scanned)"
    );
    assert!(notes[0]
        .text
        .contains("Nothing passed your bar today: 15 papers scanned, none at relevance ≥ 10"));
    assert!(run
        .stdout
        .lines()
        .any(|l| l.starts_with("bob@") && l.contains("nothing to send")));
    // One profile for both: each paper was triaged once and scored at most once.
    let s = &app.llm.state;
    let titles: usize = s.triage_batches.lock().unwrap().iter().map(Vec::len).sum();
    assert_eq!(titles, 15);
    let pairs = s.verdict_pairs.lock().unwrap().clone();
    let unique: std::collections::HashSet<_> = pairs.iter().collect();
    assert!(
        pairs.len() <= 15 && unique.len() == pairs.len(),
        "{pairs:?}"
    );
}

#[tokio::test]
async fn a_broken_subscribers_file_is_refused_whole() {
    let subs = "[[subscriber]]\nemail = \"ada@lab.example.org\"\ntopics = \"MoE\"\n\n[[subscriber]]\nemail = \"grace@lab\"\ntopics = \"LLMs\"\nmin_relevance = 12\n";
    let app = TestApp::spawn(Options {
        subscribers: subs.into(),
        ..Default::default()
    })
    .await;
    let run = app.run(&["digest"]).await;
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("subscribers.toml:6: key `email`"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("subscribers.toml:8: key `min_relevance`"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("Nothing was sent"));
    assert!(app.smtp.messages().is_empty());
    assert_eq!(app.arxiv.received_requests().await.unwrap().len(), 0);
}

#[tokio::test]
async fn unknown_model_price_is_recorded_as_unknown_not_zero() {
    let app = TestApp::spawn(Options {
        model: "mystery-model-7b".into(),
        ..Default::default()
    })
    .await;
    let run = app.run(&["digest"]).await;
    assert_eq!(run.code, 0);
    assert!(run.stderr.contains("no price known for this model"));
    assert_eq!(
        app.count("SELECT count(*) FROM spend WHERE cost_micros IS NOT NULL"),
        0
    );
    assert!(app.count("SELECT sum(prompt_tokens) FROM spend") > 0);
    let ada = app.received_by("ada@lab.example.org").pop().unwrap();
    let usage_line = ada
        .text
        .lines()
        .find(|l| l.starts_with("mystery-model-7b"))
        .unwrap();
    assert!(
        usage_line.trim_end().ends_with("unknown") && !usage_line.contains("$0.00"),
        "{usage_line}"
    );
    assert!(run.stdout.contains("unknown"));
}

#[tokio::test]
async fn one_refused_address_does_not_stop_the_others() {
    let app = TestApp::spawn(Options {
        smtp_args: vec!["--reject-rcpt".into(), "grace@lab.example.org".into()],
        ..Default::default()
    })
    .await;
    let run = app.run(&["digest"]).await;
    assert_eq!(run.code, 1);
    assert_eq!(app.received().len(), 1);
    assert_eq!(app.received()[0].to, "ada@lab.example.org");
    let grace = run
        .stdout
        .lines()
        .find(|l| l.starts_with("grace@"))
        .unwrap();
    assert!(
        grace.contains("send failed") && grace.contains("550"),
        "{grace}"
    );
    let status: String = app
        .db()
        .query_row(
            "SELECT status FROM deliveries WHERE subscriber = 'grace@lab.example.org'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(status, "failed", "a 5xx is permanent and recorded");
}

#[tokio::test]
async fn a_send_that_failed_for_now_is_sent_on_the_next_run_with_the_same_message_id() {
    let mut app = TestApp::spawn(Options::default()).await;
    app.stop_smtp();
    let first = app.run(&["digest"]).await;
    assert_eq!(first.code, 1, "undelivered digests fail the run");
    assert_eq!(
        first.stdout.matches("send failed").count(),
        2,
        "{}",
        first.stdout
    );
    let pending: Vec<(String, String)> = app
        .db()
        .prepare("SELECT status, message_id FROM deliveries ORDER BY subscriber")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(pending.len(), 2);
    assert!(
        pending.iter().all(|(s, _)| s == "pending"),
        "a refused connection is transient: {pending:?}"
    );
    let calls = app.llm.requests();

    // The server answers 451 to the first message, then accepts: retried within the run.
    app.restart_smtp(&["--tempfail-first", "1"]).await;
    let second = app.run(&["digest"]).await;
    assert_eq!(second.code, 0, "{}", second.stdout);
    assert!(
        second.stderr.contains("sending failed for now; retrying"),
        "{}",
        second.stderr
    );
    let mails = app.received();
    assert_eq!(mails.len(), 2, "each subscriber has exactly one digest");
    let mut got: Vec<String> = mails
        .iter()
        .map(|m| format!("<{}>", m.message_id))
        .collect();
    got.sort();
    let mut want: Vec<String> = pending.into_iter().map(|(_, id)| id).collect();
    want.sort();
    assert_eq!(
        got, want,
        "the resent digests are the ones recorded before the first attempt"
    );
    assert_eq!(app.llm.requests(), calls, "nothing is scored again");
    let fourth = app.run(&["digest"]).await;
    assert_eq!(fourth.code, 0);
    assert_eq!(app.received().len(), 2);
}

#[tokio::test]
async fn a_past_day_comes_from_the_api_with_a_date_window() {
    let app = TestApp::spawn(Options {
        feed: None,
        ..Default::default()
    })
    .await;
    Mock::given(method("GET"))
        .and(path("/api/query"))
        .and(query_param_contains(
            "search_query",
            "submittedDate:[202503251800 TO 202503261800]",
        ))
        .and(query_param_contains(
            "search_query",
            "cat:cs.LG OR cat:cs.AI",
        ))
        .respond_with(
            ResponseTemplate::new(200).set_body_string(fixture("atom-api-2025-03-27.xml")),
        )
        .mount(&app.arxiv)
        .await;
    let run = app.run(&["digest", "--date", "2025-03-27"]).await;
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(
        run.stdout.contains("day 2025-03-27  2 papers fetched"),
        "{}",
        run.stdout
    );
    let ada = app.received_by("ada@lab.example.org").pop().unwrap();
    assert!(ada.subject.starts_with("arXiv digest Thu 27 Mar 2025"));
    assert!(
        ada.text
            .contains("Mixture of Experts Quantization Revisited"),
        "whitespace in API titles is collapsed"
    );
    assert!(
        ada.text.contains("Björn W. Schuller (followed)"),
        "Björn W. Schuller, from the API's TeX"
    );
}

#[tokio::test]
async fn bad_arguments_and_config_exit_2_with_a_message() {
    let app = TestApp::spawn(Options::default()).await;
    let run = app.run(&["digest", "--date", "28/03/2025"]).await;
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("YYYY-MM-DD"));
    for (args, says) in [
        (vec!["digest", "--date", "2999-01-04"], "is in the future"),
        (
            vec!["digest", "--date", "2025-03-29"],
            "is a Saturday: arXiv announces Monday to Friday",
        ),
        (
            vec!["digest", "--date", "2025-03-28", "--feed", "x.xml"],
            "cannot be used with",
        ),
        (
            vec!["digest", "--feed", "missing.xml"],
            "--feed missing.xml: no such file",
        ),
        (
            vec!["digest", "--only", "nobody@lab.example.org"],
            "no such subscriber",
        ),
        (vec!["digest", "--again"], "required"),
    ] {
        let run = app.run(&args).await;
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(says), "{args:?}: {}", run.stderr);
    }
    assert!(
        !app.dir.path().join("data/paperboy.db").exists(),
        "nothing ran"
    );
    std::fs::write(&app.config, "[llm]\nbatch_size = \"eight\"\n").unwrap();
    let run = app
        .run_with_env(&["digest"], &[("PAPERBOY__LLM__CONCURRENCY", "many")])
        .await;
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("paperboy.toml:2: key `llm.batch_size`")
            && run
                .stderr
                .contains("environment variable PAPERBOY__LLM__CONCURRENCY"),
        "both problems at once, each where it came from: {}",
        run.stderr
    );
    // Asked for JSON, a broken configuration still answers in JSON.
    for cmd in ["check", "status", "runs"] {
        let run = app.run(&[cmd, "--json"]).await;
        assert_eq!(run.code, 2, "{cmd}");
        let v: serde_json::Value = serde_json::from_str(&run.stdout)
            .unwrap_or_else(|e| panic!("{cmd} --json: {e}: {}", run.stdout));
        assert_eq!(v["exit_code"], 2);
        assert_eq!(v["problems"][0]["key"], "llm.batch_size");
        assert_eq!(v["problems"][0]["line"], 2);
    }
}
