//! Scoring for the whole group (issue 8): one title triage for every reader, full verdicts only
//! for the pairs it keeps, several readers per call — and no paper lost on the way. Run on the
//! benchmark day (174 real papers from the seed digests) with readers from its subscribers file.

use std::collections::{HashMap, HashSet};

use crate::helpers::*;

pub const FEED_BENCH: &str = "rss-bench-cs.LG-174.xml";

/// The first `n` readers of the benchmark's subscribers file, each with `extra` lines.
pub fn bench_subscribers(n: usize, extra: &str) -> String {
    let text = std::fs::read_to_string(repo().join("tests/fixtures/bench/subscribers-10.toml"))
        .expect("the benchmark's subscribers");
    let blocks: Vec<&str> = text.split("[[subscriber]]").skip(1).take(n).collect();
    assert_eq!(blocks.len(), n, "the file has {n} readers");
    blocks
        .iter()
        .map(|b| format!("[[subscriber]]\n{extra}\n{}", b.trim()))
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// Per subscriber: the papers the stand-in rates as passing the default thresholds (relevance
/// 7, novelty 6) for their topics, judged on title and abstract as stored.
pub fn planted(app: &TestApp) -> HashMap<String, HashSet<String>> {
    let db = app.db();
    let ids: Vec<paperboy::domain::PaperId> = db
        .prepare("SELECT id FROM papers")
        .unwrap()
        .query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(|id| paperboy::domain::PaperId::parse(&id.unwrap()).unwrap())
        .collect();
    // Abstracts are stored deflated: read through the store.
    let papers: Vec<(String, String, String)> = paperboy::store::papers::by_ids(&db, &ids)
        .unwrap()
        .into_iter()
        .map(|p| (p.id.to_string(), p.title, p.abstract_text))
        .collect();
    let subs: toml::Value =
        toml::from_str(&std::fs::read_to_string(app.dir.path().join("subscribers.toml")).unwrap())
            .unwrap();
    let mut out = HashMap::new();
    for s in subs["subscriber"].as_array().unwrap() {
        let topics = s["topics"].as_str().unwrap();
        let wanted = papers
            .iter()
            .filter(|(_, t, a)| {
                let (r, n) = judge(topics, t, a);
                r >= 7 && n >= 6
            })
            .map(|(id, _, _)| id.clone())
            .collect();
        out.insert(s["email"].as_str().unwrap().to_string(), wanted);
    }
    out
}

pub fn delivered(app: &TestApp) -> HashMap<String, HashSet<String>> {
    let db = app.db();
    let rows: Vec<(String, String)> = db
        .prepare("SELECT subscriber, paper_ids FROM deliveries")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    rows.into_iter()
        .map(|(s, ids)| (s, serde_json::from_str::<HashSet<String>>(&ids).unwrap()))
        .collect()
}

#[tokio::test]
async fn one_pass_for_the_group_loses_no_paper_the_model_rates_highly() {
    // Three readers with distinct topics, and a fourth with the first one's topics.
    let mut subscribers = bench_subscribers(3, "max_papers = 200");
    let twin = bench_subscribers(1, "max_papers = 200")
        .replace("r01@lab.example.org", "twin@lab.example.org");
    subscribers.push_str("\n\n");
    subscribers.push_str(&twin);
    let app = TestApp::spawn(Options {
        subscribers,
        feed: Some(FEED_BENCH),
        batch_size: 50,
        concurrency: 4,
        model: "gpt-4o".into(),
        ..Default::default()
    })
    .await;
    let run = app.run(&["digest"]).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);

    // Every planted paper reached its reader.
    let planted = planted(&app);
    let delivered = delivered(&app);
    assert_eq!(delivered.len(), 4);
    let mut planted_total = 0;
    for (email, wanted) in &planted {
        planted_total += wanted.len();
        let got = &delivered[email];
        let lost: Vec<&String> = wanted.difference(got).collect();
        assert!(lost.is_empty(), "{email} lost {lost:?}");
    }
    assert!(
        planted_total >= 20,
        "the day plants papers for the readers: {planted_total}"
    );

    // One triage call for the 174 titles and the three distinct profiles.
    let s = &app.llm.state;
    let triage = s.triage_batches.lock().unwrap().clone();
    assert_eq!(triage.len(), 1, "one title pass for everyone");
    assert_eq!(triage[0].len(), 174);
    // Full verdicts only for what the triage kept, each abstract once per call.
    let pairs = s.verdict_pairs.lock().unwrap().len();
    assert!(
        pairs < 3 * 174 / 3,
        "{pairs} verdicts asked for 3 × 174 pairs"
    );
    for batch in s.batches.lock().unwrap().iter() {
        let unique: HashSet<&String> = batch.iter().collect();
        assert_eq!(
            unique.len(),
            batch.len(),
            "an abstract is sent once per call"
        );
    }
    assert!(
        s.profiles
            .lock()
            .unwrap()
            .iter()
            .any(|p| p.matches("**Keywords:**").count() >= 2),
        "some calls serve several readers"
    );

    // The run record says where the papers went, per reader.
    let rows: Vec<(String, i64, Option<i64>, i64, i64)> = app
        .db()
        .prepare("SELECT subscriber, scanned, triage_kept, scored, selected FROM run_subscribers")
        .unwrap()
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for (email, scanned, kept, scored, selected) in &rows {
        let kept = kept.expect("the triage ran");
        assert_eq!(*scanned, 174, "{email}");
        assert!(
            kept < *scanned && *scored <= kept && *selected <= *scored,
            "{rows:?}"
        );
    }
    let show = app.run(&["runs", "show", "1"]).await;
    assert!(show.stdout.contains("triage kept"), "{}", show.stdout);

    // The ledger splits each call across the readers it served; the parts add up to the calls.
    let total = app.count("SELECT sum(prompt_tokens) FROM spend");
    assert_eq!(
        total as u64,
        s.prompt_tokens.load(std::sync::atomic::Ordering::SeqCst)
    );
    let spend = app.run(&["spend", "--by", "subscriber", "--json"]).await;
    let v: serde_json::Value = serde_json::from_str(&spend.stdout).expect("spend --json");
    let by_sub: f64 = v["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["cost_usd"].as_f64().unwrap())
        .sum();
    let all = v["totals"]["cost_usd"].as_f64().unwrap();
    assert!((by_sub - all).abs() < 1e-6, "{by_sub} vs {all}");
    let twin_tokens = app.count(
        "SELECT coalesce(sum(prompt_tokens), 0) FROM spend WHERE subscriber = 'twin@lab.example.org'",
    );
    assert!(twin_tokens > 0, "the twin shares the cost of her profile");

    // Nothing known is paid for again: a re-run of the day, or a new reader with a known profile.
    let calls = app.llm.requests();
    let twin2 = bench_subscribers(1, "max_papers = 200")
        .replace("r01@lab.example.org", "newcomer@lab.example.org");
    let mut file = std::fs::read_to_string(app.dir.path().join("subscribers.toml")).unwrap();
    file.push_str("\n\n");
    file.push_str(&twin2);
    std::fs::write(app.dir.path().join("subscribers.toml"), file).unwrap();
    let again = app.run(&["digest"]).await;
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(app.llm.requests(), calls, "no model call for what is known");
    let now = self::delivered(&app);
    assert_eq!(now["newcomer@lab.example.org"], now["r01@lab.example.org"]);
}

#[tokio::test]
async fn triage_off_gives_every_pair_a_full_verdict() {
    let app = TestApp::spawn(Options {
        subscribers: bench_subscribers(2, "max_papers = 200"),
        feed: Some(FEED_BENCH),
        batch_size: 50,
        concurrency: 4,
        ..Default::default()
    })
    .await;
    let run = app
        .run_with_env(&["digest"], &[("PAPERBOY__LLM__TRIAGE", "false")])
        .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let s = &app.llm.state;
    assert!(s.triage_batches.lock().unwrap().is_empty());
    assert_eq!(s.verdict_pairs.lock().unwrap().len(), 2 * 174);
    let papers: usize = s.batches.lock().unwrap().iter().map(Vec::len).sum();
    assert_eq!(papers, 174, "each abstract once, for both readers");
    assert_eq!(
        app.count("SELECT count(*) FROM run_subscribers WHERE triage_kept IS NULL"),
        2
    );
}

#[tokio::test]
async fn a_garbage_triage_answer_loses_nothing_and_a_foreign_reader_label_never_lands() {
    let app = TestApp::spawn(Options {
        subscribers: bench_subscribers(2, "max_papers = 200"),
        feed: Some(FEED_BENCH),
        batch_size: 50,
        concurrency: 4,
        behaviour: Behaviour {
            triage_garbage: true,
            wrong_reader_first: true,
            wrong_id_first: Some("2503.99999".into()),
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let run = app.run(&["digest"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let s = &app.llm.state;
    assert_eq!(
        s.triage_batches.lock().unwrap().len(),
        3,
        "asked, then asked again twice"
    );
    use paperboy::store::triage::Reason;
    let triage = app.triage();
    let asked = triage
        .iter()
        .filter(|t| t.decision.reason != Reason::Keyword)
        .count();
    assert!(asked > 0);
    assert_eq!(
        triage
            .iter()
            .filter(|t| t.decision.reason == Reason::NoAnswer && t.decision.kept)
            .count(),
        asked
    );
    // Without a triage answer, every pair gets a full verdict: nothing is lost.
    assert!(app.count("SELECT count(*) FROM verdicts") >= 2 * 174 - 1);
    let planted = planted(&app);
    let delivered = delivered(&app);
    for (email, wanted) in &planted {
        assert!(wanted.is_subset(&delivered[email]), "{email}");
    }
    for r in app.received() {
        assert!(
            !r.text.contains(WRONG_COMMENT),
            "a comment for another paper or reader"
        );
    }
}
