//! The scoring-cost benchmark (issue 8), not a pass/fail check: `scripts/bench`. The day is 174
//! real papers (the five seed digests as one cs.LG announcement); readers have distinct seed-style
//! topic profiles of about 640 tokens; the model stand-in answers after 1 s and counts tokens as
//! characters / 4. Prints, per setup: calls, prompt and completion tokens per paper per reader,
//! the gpt-4o price per reader-day, wall time, peak RSS, and papers lost.

use std::time::{Duration, Instant};

use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::*;
use crate::scoring::{bench_subscribers, delivered, planted, FEED_BENCH};

const PAPERS: f64 = 174.0;

#[tokio::test]
#[ignore]
async fn bench_group_scoring() {
    println!(
        "BENCH {:<32} {:>5} {:>8} {:>8} {:>8} {:>9} {:>9} {:>7} {:>8} {:>5}",
        "setup",
        "calls",
        "prompt/",
        "compl/",
        "cached",
        "$/reader",
        "$/reader",
        "wall",
        "peak",
        "lost"
    );
    println!(
        "BENCH {:<32} {:>5} {:>8} {:>8} {:>8} {:>9} {:>9} {:>7} {:>8} {:>5}",
        "", "", "pap·rdr", "pap·rdr", "share", "(ledger)", "(list)", "s", "RSS MB", ""
    );
    for (readers, triage, tldr) in [
        (1, true, true),
        (10, true, true),
        (10, true, false),
        (1, false, true),
        (10, false, true),
    ] {
        bench(readers, triage, tldr).await;
    }
}

async fn bench(readers: usize, triage: bool, tldr: bool) {
    let app = TestApp::spawn(Options {
        subscribers: bench_subscribers(readers, "max_papers = 200"),
        feed: Some(FEED_BENCH),
        // The shipped defaults.
        batch_size: 100,
        concurrency: 4,
        model: "gpt-4o".into(),
        behaviour: Behaviour {
            delay: Some(Duration::from_secs(1)),
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let (out, wall, peak) = timed(
        &app,
        &["digest"],
        &[
            (
                "PAPERBOY__LLM__TRIAGE",
                if triage { "true" } else { "false" },
            ),
            ("PAPERBOY__LLM__TLDR", if tldr { "true" } else { "false" }),
        ],
    )
    .await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let calls = app.count("SELECT count(DISTINCT call_id) FROM spend");
    let prompt = app.count("SELECT sum(prompt_tokens) FROM spend") as f64;
    let cached = app.count("SELECT sum(cached_tokens) FROM spend") as f64;
    let completion = app.count("SELECT sum(completion_tokens) FROM spend") as f64;
    let ledger = app.count("SELECT sum(cost_micros) FROM spend") as f64 / 1e6;
    // gpt-4o list price without the cache discount: $2.50 / $10 per 1M tokens.
    let list = (prompt * 2.5 + completion * 10.0) / 1e6;
    let r = readers as f64;
    let stages: Vec<String> = app
        .db()
        .prepare("SELECT stage, count(DISTINCT call_id), sum(prompt_tokens), sum(completion_tokens) FROM spend GROUP BY stage ORDER BY stage DESC")
        .unwrap()
        .query_map([], |r| {
            Ok(format!(
                "{} {} calls {} prompt {} completion",
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?
            ))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let pairs = app.llm.state.verdict_pairs.lock().unwrap().len();
    let papers: usize = app
        .llm
        .state
        .batches
        .lock()
        .unwrap()
        .iter()
        .map(Vec::len)
        .sum();
    // Papers the stand-in rates as passing for a reader that did not reach them.
    let lost = lost(&app);
    println!(
        "BENCH {:<32} {:>5} {:>8.0} {:>8.1} {:>7.0}% {:>9.4} {:>9.4} {:>7.1} {:>8} {:>5}",
        format!(
            "{readers} reader{}, triage {}{}",
            if readers == 1 { "" } else { "s" },
            if triage { "on" } else { "off" },
            if tldr { "" } else { ", no TL;DR" }
        ),
        calls,
        prompt / PAPERS / r,
        completion / PAPERS / r,
        100.0 * cached / prompt.max(1.0),
        ledger / r,
        list / r,
        wall,
        peak,
        lost
    );
    println!(
        "BENCH     {}; {pairs} verdicts on {papers} abstracts",
        stages.join("; ")
    );
}

/// Runs the binary with `args` under /usr/bin/time (when present): its output, the wall time in
/// seconds and the peak RSS in MB ("n/a" without /usr/bin/time).
async fn timed(
    app: &TestApp,
    args: &[&str],
    env: &[(&str, &str)],
) -> (std::process::Output, f64, String) {
    let time = std::path::Path::new("/usr/bin/time");
    let mut cmd = if time.exists() {
        let mut c = tokio::process::Command::new(time);
        c.args(["-f", "PEAK_RSS_KB %M", env!("CARGO_BIN_EXE_paperboy")]);
        c
    } else {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_paperboy"))
    };
    let own = app.command(&[], env);
    let std_cmd = own.as_std();
    for (k, v) in std_cmd.get_envs() {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    if let Some(d) = std_cmd.get_current_dir() {
        cmd.current_dir(d);
    }
    cmd.arg("--config").arg(&app.config).args(args);
    let started = Instant::now();
    let out = cmd.output().await.unwrap();
    let wall = started.elapsed().as_secs_f64();
    // BENCH_STDERR=path keeps each run's log (appended), to see where the time went.
    if let Some(path) = std::env::var_os("BENCH_STDERR") {
        use std::io::Write as _;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        f.write_all(&out.stderr).unwrap();
    }
    let peak = String::from_utf8_lossy(&out.stderr)
        .lines()
        .find_map(|l| l.strip_prefix("PEAK_RSS_KB "))
        .and_then(|k| k.trim().parse::<f64>().ok())
        .map_or("n/a".to_string(), |kb| format!("{:.0}", kb / 1024.0));
    (out, wall, peak)
}

/// Sending (issue 10): 1,000 readers in keyword mode (no model), each a digest of the day, to the
/// real SMTP sink on loopback. Prints the wall time, digests per second and peak RSS.
#[tokio::test]
#[ignore]
async fn bench_thousand_digests() {
    let mut subscribers = String::new();
    for i in 0..1000 {
        subscribers.push_str(&format!(
            "[[subscriber]]\nemail = \"reader{i}@lab.example.org\"\nname = \"Reader {i}\"\ntopics = \"Mixture-of-Experts and quantization.\"\nkeywords = [\"quantization\", \"language model\"]\n\n"
        ));
    }
    let app = TestApp::spawn(Options {
        subscribers,
        api_key: false,
        ..Default::default()
    })
    .await;
    let (out, wall, peak) = timed(&app, &["digest"], &[]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sent = app.count("SELECT count(*) FROM deliveries WHERE status = 'sent'");
    let received = app.smtp.messages().len();
    assert_eq!((sent, received), (1000, 1000));
    println!(
        "BENCH 1000 digests over SMTP (loopback aiosmtpd): {wall:.1} s, {:.0} digests/s, peak RSS {peak} MB",
        1000.0 / wall
    );
}

fn lost(app: &TestApp) -> usize {
    let delivered = delivered(app);
    planted(app)
        .iter()
        .map(|(email, wanted)| match delivered.get(email) {
            Some(got) => wanted.difference(got).count(),
            None => wanted.len(),
        })
        .sum()
}

/// An institute on one instance (issue 19): 10, 100 and 1,000 readers with distinct topics on
/// the benchmark day, a stand-in that answers after 1 s and refuses prompts over a 128k-token
/// window, with the embedding prefilter and with the title triage alone. Prints calls, the
/// largest prompt, tokens by kind, $ per reader-day at gpt-4o and gpt-4o-mini list prices,
/// wall time, peak RSS, digests and planned papers lost.
#[tokio::test]
#[ignore]
async fn bench_institute() {
    let sizes: Vec<usize> = std::env::var("BENCH_READERS")
        .map(|v| v.split(',').map(|n| n.trim().parse().unwrap()).collect())
        .unwrap_or(vec![10, 100, 1000]);
    println!(
        "BENCH {:<22} {:>5} {:>7} {:>9} {:>9} {:>8} {:>7} {:>7} {:>6} {:>5} {:>7} {:>6} {:>9}",
        "institute",
        "calls",
        "largest",
        "prompt",
        "complet.",
        "embed",
        "$4o/rd",
        "$mini/rd",
        "wall s",
        "RSS",
        "digests",
        "refus.",
        "lost"
    );
    // `BENCH_VECTORS=model` (or `stand-in`, `triage`) measures one row.
    let only = std::env::var("BENCH_VECTORS").ok();
    for vectors in [Vectors::Model, Vectors::StandIn, Vectors::None] {
        if only
            .as_deref()
            .is_some_and(|o| !vectors.label().starts_with(o))
        {
            continue;
        }
        for &n in &sizes {
            institute(n, vectors).await;
        }
    }
}

/// Where the institute benchmark's vectors come from.
#[derive(Clone, Copy, PartialEq)]
enum Vectors {
    /// The in-process all-MiniLM-L6-v2 (the default).
    Model,
    /// The stand-in's one-hot `/v1/embeddings` (the figures of issue 19, for comparison).
    StandIn,
    /// No embedding stage: the title triage reads every paper.
    None,
}

impl Vectors {
    fn label(self) -> &'static str {
        match self {
            Vectors::Model => "model",
            Vectors::StandIn => "stand-in vectors",
            Vectors::None => "triage only",
        }
    }
}

async fn institute(readers: usize, vectors: Vectors) {
    let app = TestApp::spawn(Options {
        subscribers: crate::institute::institute_readers(readers, ""),
        extra_config: match vectors {
            Vectors::Model => crate::recall::local_model_config(),
            // The stand-in's endpoint (added by the harness) takes the model's place.
            Vectors::StandIn => String::new(),
            Vectors::None => "[embeddings]\nlocal = false\n".into(),
        },
        feed: Some(FEED_BENCH),
        batch_size: std::env::var("BENCH_BATCH").map_or(200, |b| b.parse().unwrap()),
        concurrency: 4,
        model: "gpt-4o".into(),
        embeddings: vectors == Vectors::StandIn,
        behaviour: Behaviour {
            delay: Some(Duration::from_secs(1)),
            context_window: Some(128_000),
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let (out, wall, peak) = timed(&app, &["digest"], &[]).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    let s = &app.llm.state;
    let chat_calls =
        app.count("SELECT count(DISTINCT call_id) FROM spend WHERE stage != 'embedding'");
    let embed_calls =
        app.count("SELECT count(DISTINCT call_id) FROM spend WHERE stage = 'embedding'");
    let prompt = app
        .count("SELECT coalesce(sum(prompt_tokens), 0) FROM spend WHERE stage != 'embedding'")
        as f64;
    let completion = app.count("SELECT coalesce(sum(completion_tokens), 0) FROM spend") as f64;
    let embed = app
        .count("SELECT coalesce(sum(prompt_tokens), 0) FROM spend WHERE stage = 'embedding'")
        as f64;
    let r = readers as f64;
    let at =
        |input: f64, output: f64| (prompt * input + completion * output + embed * 0.02) / 1e6 / r;
    let digests = app.count("SELECT count(*) FROM deliveries");
    let (lost, planned) = crate::institute::lost_and_planned(&app);
    let stages: Vec<String> = app
        .db()
        .prepare("SELECT stage, count(DISTINCT call_id), sum(prompt_tokens), sum(completion_tokens) FROM spend GROUP BY stage ORDER BY stage")
        .unwrap()
        .query_map([], |row| {
            Ok(format!(
                "{} {} calls {} prompt {} completion",
                row.get::<_, String>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, i64>(2)?,
                row.get::<_, i64>(3)?
            ))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    println!(
        "BENCH {:<22} {:>5} {:>6}k {:>9.0} {:>9.0} {:>8.0} {:>7.4} {:>7.4} {:>6.1} {:>5} {:>7} {:>6} {:>9}",
        format!("{readers} readers, {}", vectors.label()),
        format!("{chat_calls}+{embed_calls}"),
        s.largest_prompt.load(std::sync::atomic::Ordering::SeqCst) / 1000,
        prompt,
        completion,
        embed,
        at(2.5, 10.0),
        at(0.15, 0.6),
        wall,
        peak,
        digests,
        s.refused_for_length.load(std::sync::atomic::Ordering::SeqCst),
        format!("{lost}/{planned}")
    );
    let pairs = app.count("SELECT count(*) FROM verdicts");
    let papers = app.count("SELECT count(DISTINCT paper_id) FROM verdicts");
    let tldrs = app.count("SELECT count(*) FROM tldrs");
    println!(
        "BENCH     exit {}; {}; {pairs} pairs over {papers} papers scored, {tldrs} TL;DRs",
        out.status.code().unwrap_or(-1),
        stages.join("; ")
    );
    if !out.status.success() {
        println!(
            "BENCH     {}",
            stderr.lines().rev().take(5).collect::<Vec<_>>().join(" | ")
        );
    }
    if vectors == Vectors::Model {
        second_day(&app, readers).await;
    }
}

/// The next announcement day (another real day of 200 papers) on the same store: profiles are
/// embedded once per change, so the second day embeds only its papers.
async fn second_day(app: &TestApp, readers: usize) {
    app.arxiv.reset().await;
    Mock::given(method("GET"))
        .and(path(RSS_PATH))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_string(fixture("rss-recall-cs.LG+cs.AI-2025-04-02.xml"))
                .insert_header("content-type", "application/rss+xml"),
        )
        .mount(&app.arxiv)
        .await;
    let (out, wall, peak) = timed(app, &["digest"], &[]).await;
    let run = "(SELECT max(run_id) FROM spend)";
    let sum = |what: &str, stage: &str| {
        app.count(&format!(
            "SELECT coalesce(sum({what}), 0) FROM spend WHERE run_id = {run} AND stage {stage}"
        )) as f64
    };
    let (prompt, completion) = (
        sum("prompt_tokens", "!= 'embedding'"),
        sum("completion_tokens", "!= 'embedding'"),
    );
    let embedded = sum("prompt_tokens", "= 'embedding'");
    let texts = app.count(&format!(
        "SELECT coalesce(sum(papers), 0) FROM spend WHERE run_id = {run} AND stage = 'embedding'"
    ));
    println!(
        "BENCH     day 2 (200 papers): exit {}, {wall:.1} s, {peak} MB, {embedded:.0} embedded tokens over {texts} texts, ${:.4}/reader-day at gpt-4o, {} digests in all",
        out.status.code().unwrap_or(-1),
        (prompt * 2.5 + completion * 10.0) / 1e6 / readers as f64,
        app.count("SELECT count(*) FROM deliveries"),
    );
}

/// What one announcement day for 100 readers leaves in the store (issue 22: at most 1.5 MB), by
/// table, from `paperboy store stats` after a checkpoint.
#[tokio::test]
#[ignore = "benchmark: scripts/bench"]
async fn bench_store_day() {
    let readers: usize = std::env::var("BENCH_READERS").map_or(100, |v| v.parse().unwrap());
    let embeddings = std::env::var("BENCH_EMBEDDINGS").map_or(true, |v| v != "0");
    let app = TestApp::spawn(Options {
        subscribers: crate::institute::institute_readers(readers, ""),
        feed: Some(FEED_BENCH),
        batch_size: 200,
        concurrency: 4,
        model: "gpt-4o".into(),
        embeddings,
        behaviour: Behaviour {
            context_window: Some(128_000),
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let in_use = |v: &serde_json::Value| {
        (v["file_bytes"].as_f64().unwrap() - v["free_bytes"].as_f64().unwrap()) / 1e6
    };
    // The schema alone (a page for each table and index), whatever the days hold.
    assert_eq!(app.run(&["migrate"]).await.code, 0);
    let empty = app.run(&["store", "stats", "--json"]).await;
    let empty = in_use(&serde_json::from_str(&empty.stdout).unwrap());
    let run = app.run(&["digest"]).await;
    assert!(run.code == 0 || run.code == 1, "{}", run.stderr);
    app.db()
        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
        .unwrap();
    let stats = app.run(&["store", "stats", "--json"]).await;
    let v: serde_json::Value = serde_json::from_str(&stats.stdout).unwrap();
    if let Ok(keep) = std::env::var("BENCH_KEEP_DB") {
        std::fs::copy(app.dir.path().join("data/paperboy.db"), keep).unwrap();
    }
    let mut tables: Vec<(String, i64, i64)> = v["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["table"].as_str().unwrap().to_string(),
                t["rows"].as_i64().unwrap(),
                t["disk_bytes"].as_i64().unwrap(),
            )
        })
        .collect();
    tables.sort_by_key(|t| -t.2);
    let top: Vec<String> = tables
        .iter()
        .take(6)
        .map(|(t, rows, b)| format!("{t} {rows} rows {:.0} KB", *b as f64 / 1e3))
        .collect();
    println!(
        "BENCH store day, {readers} readers, embeddings {embeddings}: {:.2} MB in use, of which the day {:.2} MB and the empty schema {empty:.2} MB ({:.2} MB file, the rest free pages reused by the next day; {} digests, {} B message and {} B page each); {}",
        in_use(&v),
        in_use(&v) - empty,
        v["file_bytes"].as_f64().unwrap() / 1e6,
        app.count("SELECT count(*) FROM deliveries"),
        app.count("SELECT CAST(avg(length(message)) AS INTEGER) FROM deliveries"),
        app.count("SELECT CAST(avg(length(page_z)) AS INTEGER) FROM deliveries"),
        top.join(", ")
    );
}
