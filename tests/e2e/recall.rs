//! The in-process embedding model against its published numbers, and the recall benchmark
//! (issue 31): the papers gpt-4o picked in the five seed digests, each seed's picks mixed into
//! a real-format day of other papers, the seeds' own "Relevant Topics" as the reader.

use std::collections::HashSet;
use std::path::PathBuf;

use paperboy::domain::Paper;
use paperboy::llm::local::LocalModel;

/// The model the test command installs (`scripts/fetch-model`), or `PAPERBOY_TEST_MODEL`.
pub fn model_dir() -> PathBuf {
    let dir = std::env::var_os("PAPERBOY_TEST_MODEL").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/all-MiniLM-L6-v2"),
        PathBuf::from,
    );
    assert!(
        LocalModel::present(&dir),
        "no embedding model in {}: scripts/fetch-model installs it (scripts/test does)",
        dir.display()
    );
    dir
}

/// The length the recall benchmark reads (`BENCH_MAX_TOKENS`, else the default).
fn max_tokens() -> usize {
    std::env::var("BENCH_MAX_TOKENS").map_or(
        paperboy::config::EmbeddingsConfig::default().max_tokens,
        |v| v.parse().unwrap(),
    )
}

fn cos(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[test]
fn the_in_process_model_reproduces_sentence_transformers() {
    let model = LocalModel::load(&model_dir(), max_tokens()).unwrap();
    let texts: Vec<String> = [
        "The weather is lovely today.",
        "It's so sunny outside!",
        "He drove to the stadium.",
    ]
    .map(String::from)
    .to_vec();
    let out = model.embed(&texts).unwrap();
    assert_eq!(out.vectors.len(), 3);
    assert!(out.vectors.iter().all(|v| v.len() == 384));
    let v = &out.vectors;
    // sentence-transformers' README for all-MiniLM-L6-v2.
    for ((a, b), want) in [((0, 1), 0.6660), ((0, 2), 0.1046), ((1, 2), 0.1411)] {
        let got = cos(&v[a], &v[b]);
        println!("cosine {a}-{b}: {got:.4} (published {want:.4})");
        assert!(
            (got - want).abs() <= 0.002,
            "cosine of sentences {a} and {b}: {got:.4}, published {want:.4}"
        );
    }
    // Alone or in a batch of other lengths, a text has the same vector (padding is masked).
    let alone = model.embed(&texts[2..]).unwrap();
    assert!(cos(&alone.vectors[0], &v[2]) > 0.9999);
}

/// Each seed's picks, by seed.
pub fn seed_picks() -> Vec<(String, Vec<String>)> {
    let text = std::fs::read_to_string(fixture("bench/seed-picks.txt")).unwrap();
    let picks: Vec<(String, Vec<String>)> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let mut words = l.split_whitespace();
            let seed = words.next().unwrap().to_string();
            (seed, words.map(String::from).collect())
        })
        .collect();
    assert_eq!(picks.len(), 5, "five seeds");
    picks
}

/// A reader with `topics` and the default thresholds.
pub fn reader(topics: &str) -> paperboy::domain::Subscriber {
    use paperboy::domain::*;
    Subscriber {
        email: SubscriberEmail::parse("seeds@lab.example.org").unwrap(),
        name: "Seeds".into(),
        topics: topics.into(),
        authors: vec![],
        keywords: vec![],
        categories: None,
        min_relevance: Score::new(7).unwrap(),
        min_novelty: Score::new(6).unwrap(),
        max_papers: 25,
        full_cards: paperboy::domain::DEFAULT_FULL_CARDS,
        group_by_topic: None,
        send_empty: true,
        paused: false,
        language: Language::english(),
        frequency: Frequency::Daily,
        examples: vec![],
    }
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

pub fn feed_papers(name: &str) -> Vec<Paper> {
    let xml = std::fs::read_to_string(fixture(&format!("arxiv/{name}"))).unwrap();
    paperboy::sources::arxiv::parse_rss(&xml).unwrap().papers
}

/// Per rule: the share of picks in the top fifth and top half of the day, and within 25/50/100.
#[test]
#[ignore]
fn bench_recall_vectors() {
    let model = LocalModel::load(&model_dir(), max_tokens()).unwrap();
    let picks_by_seed = seed_picks();
    let all_picks = feed_papers("rss-bench-cs.LG-174.xml");
    let topics = std::fs::read_to_string(fixture("bench/seed-topics.md")).unwrap();
    let sub = reader(&topics);
    let pieces = paperboy::scoring::rank::pieces(&sub);
    println!("pieces ({}): {pieces:?}", pieces.len());
    for day in [
        "rss-recall-cs.LG+cs.AI-2025-03-25.xml",
        "rss-recall-cs.LG+cs.AI-2025-04-02.xml",
    ] {
        if !fixture(&format!("arxiv/{day}")).exists() {
            println!("(no {day})");
            continue;
        }
        let others = feed_papers(day);
        let started = std::time::Instant::now();
        let texts: Vec<String> = others
            .iter()
            .chain(&all_picks)
            .map(paperboy::scoring::rank::paper_text)
            .collect();
        let embedded = model.embed(&texts).unwrap();
        println!(
            "BENCH embedded {} papers ({} word pieces) in {:.1} s",
            texts.len(),
            embedded.tokens,
            started.elapsed().as_secs_f32()
        );
        let vectors = embedded.vectors;
        let piece_vs = model.embed(&pieces).unwrap().vectors;
        let (other_vs, pick_vs) = vectors.split_at(others.len());
        let mut totals: Vec<(String, [usize; 5], usize)> = Vec::new();
        for (seed, ids) in &picks_by_seed {
            let wanted: HashSet<&str> = ids.iter().map(String::as_str).collect();
            let mut day_vs: Vec<(&[f32], bool)> =
                other_vs.iter().map(|v| (v.as_slice(), false)).collect();
            for (p, v) in all_picks.iter().zip(pick_vs) {
                if wanted.contains(p.id.as_str()) {
                    day_vs.push((v.as_slice(), true));
                }
            }
            for (name, score) in rules() {
                let scores: Vec<f32> =
                    score(&piece_vs, &day_vs.iter().map(|d| d.0).collect::<Vec<_>>());
                let mut order: Vec<usize> = (0..day_vs.len()).collect();
                order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
                let n = day_vs.len();
                let cuts = [n / 5, n / 2, 25, 50, 100];
                let mut hit = [0usize; 5];
                for (rank, &i) in order.iter().enumerate() {
                    if day_vs[i].1 {
                        for (c, cut) in cuts.iter().enumerate() {
                            if rank < *cut {
                                hit[c] += 1;
                            }
                        }
                    }
                }
                let total = day_vs.iter().filter(|d| d.1).count();
                if name == "mean top-3 pieces" {
                    // The nearness the embedding stage uses: robust z of this closeness.
                    let mut sorted = scores.clone();
                    sorted.sort_by(f32::total_cmp);
                    let centre = sorted[n / 2];
                    let mut dev: Vec<f32> = scores.iter().map(|x| (x - centre).abs()).collect();
                    dev.sort_by(f32::total_cmp);
                    let spread = (1.4826 * dev[n / 2]).max(0.01);
                    let line: Vec<String> = [1.0f32, 1.5, 2.0, 2.5, 3.0, 4.0]
                        .iter()
                        .map(|t| {
                            let (p, o) =
                                day_vs.iter().zip(&scores).fold((0, 0), |(p, o), (d, s)| {
                                    let above = (s - centre) / spread >= *t;
                                    (
                                        p + usize::from(above && d.1),
                                        o + usize::from(above && !d.1),
                                    )
                                });
                            format!("z≥{t}: {p} picks {o} others")
                        })
                        .collect();
                    println!("BENCH   {seed} ({total} picks): {}", line.join(" | "));
                }
                match totals.iter_mut().find(|t| t.0 == name) {
                    Some(t) => {
                        for (sum, h) in t.1.iter_mut().zip(hit) {
                            *sum += h;
                        }
                        t.2 += total;
                    }
                    None => totals.push((name.to_string(), hit, total)),
                }
            }
        }
        println!("BENCH day {day}: {} other papers", others.len());
        for (name, hit, total) in totals {
            let pct = |h: usize| 100.0 * h as f32 / total as f32;
            println!(
                "BENCH {name:<24} top fifth {:5.1} %  top half {:5.1} %  top 25 {:5.1} %  top 50 {:5.1} %  top 100 {:5.1} %  ({total} picks)",
                pct(hit[0]), pct(hit[1]), pct(hit[2]), pct(hit[3]), pct(hit[4])
            );
        }
    }
}

type Rule = fn(&[Vec<f32>], &[&[f32]]) -> Vec<f32>;

fn rules() -> Vec<(&'static str, Rule)> {
    vec![
        ("max piece", |ps, xs| {
            xs.iter()
                .map(|x| ps.iter().map(|p| cos(p, x)).fold(-1.0, f32::max))
                .collect()
        }),
        ("mean piece", |ps, xs| {
            xs.iter()
                .map(|x| ps.iter().map(|p| cos(p, x)).sum::<f32>() / ps.len() as f32)
                .collect()
        }),
        ("mean top-3 pieces", |ps, xs| {
            xs.iter()
                .map(|x| {
                    let mut c: Vec<f32> = ps.iter().map(|p| cos(p, x)).collect();
                    c.sort_by(|a, b| b.total_cmp(a));
                    c.iter().take(3).sum::<f32>() / 3.0
                })
                .collect()
        }),
        ("mean top-2 pieces", |ps, xs| {
            xs.iter()
                .map(|x| {
                    let mut c: Vec<f32> = ps.iter().map(|p| cos(p, x)).collect();
                    c.sort_by(|a, b| b.total_cmp(a));
                    c.iter().take(2).sum::<f32>() / 2.0
                })
                .collect()
        }),
        ("max + half second", |ps, xs| {
            xs.iter()
                .map(|x| {
                    let mut c: Vec<f32> = ps.iter().map(|p| cos(p, x)).collect();
                    c.sort_by(|a, b| b.total_cmp(a));
                    c[0] + 0.5 * c.get(1).copied().unwrap_or(0.0)
                })
                .collect()
        }),
        ("centroid", |ps, xs| {
            let mut c = vec![0.0f32; ps[0].len()];
            for p in ps {
                for (a, b) in c.iter_mut().zip(p) {
                    *a += b;
                }
            }
            xs.iter().map(|x| cos(&c, x)).collect()
        }),
    ]
}

/// `[embeddings]` naming the installed model's folder.
pub fn local_model_config() -> String {
    format!("[embeddings]\nlocal_dir = \"{}\"\n", model_dir().display())
}

#[tokio::test]
async fn without_an_account_the_day_is_scored_by_meaning_with_the_model_in_process() {
    use crate::helpers::*;
    let app = TestApp::spawn(Options {
        api_key: false,
        extra_config: local_model_config(),
        ..Default::default()
    })
    .await;
    let out = app.run(&["digest"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .contains("scorer: meaning (all-MiniLM-L6-v2) and keywords"),
        "{}",
        out.stdout
    );
    assert!(!out.stderr.contains("no embedding model"), "{}", out.stderr);
    // Ada reads about MoE and quantization: the MoE quantization paper is near her topics.
    let why = app
        .run(&[
            "why",
            "2503.21135",
            "--for",
            "ada@lab.example.org",
            "--json",
        ])
        .await;
    assert_eq!(why.code, 0, "{}", why.stderr);
    let v: serde_json::Value = serde_json::from_str(&why.stdout).unwrap();
    let comment = v["verdict"]["comment"].as_str().unwrap();
    assert!(comment.starts_with("By meaning: "), "{comment}");
    assert!(
        v["verdict"]["relevance"].as_u64().unwrap() >= 7,
        "the paper on her topics passes her bar: {v}"
    );
    // A second run pays nothing and embeds nothing: the vectors are stored.
    let again = app.run(&["digest", "--dry-run"]).await;
    assert!(
        !again.stderr.contains("embedding the day's papers"),
        "{}",
        again.stderr
    );
}

#[tokio::test]
async fn missing_weights_are_one_line_and_the_keyword_scorer_never_a_failed_run() {
    use crate::helpers::*;
    let app = TestApp::spawn(Options {
        api_key: false,
        extra_config: "[embeddings]\nlocal_dir = \"no-such-model\"\n".into(),
        ..Default::default()
    })
    .await;
    let out = app.run(&["digest"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stderr.matches("holds no embedding model").count(),
        1,
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("scripts/fetch-model"), "{}", out.stderr);
    assert!(out.stdout.contains("keyword scorer"), "{}", out.stdout);
}

#[tokio::test]
async fn with_a_model_every_paper_reaches_a_model_call_whatever_its_nearness() {
    use crate::helpers::*;
    let app = TestApp::spawn(Options {
        extra_config: local_model_config(),
        ..Default::default()
    })
    .await;
    let out = app.run(&["digest"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let bodies: Vec<String> = app
        .llm
        .server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path().ends_with("/chat/completions"))
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect();
    // The day's new papers and cross-lists (replacements are not announced to readers by
    // default).
    let papers: Vec<Paper> = feed_papers(FEED_DAY)
        .into_iter()
        .filter(|p| {
            matches!(
                p.announce_type,
                paperboy::domain::AnnounceType::New | paperboy::domain::AnnounceType::Cross
            )
        })
        .collect();
    assert!(papers.len() >= 14, "{}", papers.len());
    for p in &papers {
        assert!(
            bodies.iter().any(|b| b.contains(p.id.as_str())),
            "{} never reached the model",
            p.id
        );
    }
    // The embedding stage's numbers are in `why`.
    let why = app
        .run(&[
            "why",
            "2503.21135",
            "--for",
            "grace@lab.example.org",
            "--json",
        ])
        .await;
    let v: serde_json::Value = serde_json::from_str(&why.stdout).unwrap();
    let stage = &v["embedding_stage"];
    assert!(stage["rank"].as_u64().is_some(), "{v}");
    assert!(stage["cosine"].as_f64().is_some(), "{v}");
    assert!(stage["nearness"].as_f64().is_some(), "{v}");
}

/// This process's resident memory now and at its peak, in MB (from /proc/self/status).
fn memory_mb() -> (f32, f32) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next()?.parse::<f32>().ok())
            .map_or(f32::NAN, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Embedding a day of 1,500 papers in-process (issue 31: ≤ 60 s on 2 cores): the real days'
/// papers, cycled to 1,500 texts. Prints the time, the word pieces and the memory.
#[test]
#[ignore]
fn bench_embed_day() {
    let n: usize = std::env::var("BENCH_PAPERS").map_or(1500, |v| v.parse().unwrap());
    let (before, _) = memory_mb();
    let started = std::time::Instant::now();
    let model = LocalModel::load(&model_dir(), max_tokens()).unwrap();
    let load = started.elapsed().as_secs_f32();
    let (loaded, _) = memory_mb();
    let mut papers = feed_papers("rss-recall-cs.LG+cs.AI-2025-03-25.xml");
    papers.extend(feed_papers("rss-recall-cs.LG+cs.AI-2025-04-02.xml"));
    papers.extend(feed_papers("rss-bench-cs.LG-174.xml"));
    let texts: Vec<String> = papers
        .iter()
        .cycle()
        .take(n)
        .map(paperboy::scoring::rank::paper_text)
        .collect();
    let started = std::time::Instant::now();
    let mut tokens = 0;
    for batch in texts.chunks(256) {
        tokens += model.embed(batch).unwrap().tokens;
    }
    let secs = started.elapsed().as_secs_f32();
    let (after, peak) = memory_mb();
    drop(model);
    let (released, _) = memory_mb();
    println!(
        "BENCH embed-day: {n} papers ({tokens} word pieces) in {secs:.1} s ({:.1} papers/s); load {load:.1} s; RSS MB before {before:.0}, loaded {loaded:.0}, after {after:.0}, peak {peak:.0}, model dropped {released:.0}",
        n as f32 / secs
    );
}
