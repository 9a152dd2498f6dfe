//! An institute on one instance (issue 19): readers with distinct topics — mixes of two to four
//! research areas, one in five with a seed-style profile of ~640 tokens — on the benchmark day
//! (174 real papers), with a model stand-in that refuses prompts over its window. Every call
//! must fit, the embedding prefilter must keep every paper the model would pass for its reader,
//! and what it leaves out is recorded with its rank and similarity.

use std::collections::HashSet;

use crate::helpers::*;
use crate::scoring::{bench_subscribers, delivered, planted, FEED_BENCH};

/// Research areas: a name, a sentence, and seed-style keywords (the stand-in's judgement reads
/// the keywords).
pub const AREAS: &[(&str, &str, &str)] = &[
    (
        "Expert models",
        "Sparse expert models and how they route.",
        "expert routing, mixture of frozen experts",
    ),
    (
        "Cache and token pruning",
        "Keeping long prompts cheap.",
        "KV cache, token pruning",
    ),
    (
        "Interpretability",
        "What networks represent and how to read it out.",
        "sparse autoencoders, mechanistic interpretability",
    ),
    (
        "Forgetting",
        "Learning from a stream of tasks without forgetting.",
        "catastrophic forgetting, class-incremental",
    ),
    (
        "SGD theory",
        "Optimization and regression, proved.",
        "linear regression, stochastic gradient descent",
    ),
    (
        "Graph learning",
        "Learning on graphs.",
        "graph neural networks, node classification",
    ),
    (
        "Energy and diffusion models",
        "Generative modelling beyond the usual.",
        "energy-based models, discrete diffusion",
    ),
    (
        "LLM serving",
        "Serving large models fast and cheaply.",
        "LLM serving, speculative sampling",
    ),
    (
        "Preferences",
        "Learning what people prefer.",
        "reward models, human preference",
    ),
    (
        "Spiking networks",
        "Brain-inspired, low-power networks.",
        "spiking neural networks",
    ),
    (
        "Privacy",
        "Privacy of training data.",
        "differential privacy, membership inference",
    ),
    (
        "Scaling",
        "How training behaves as models grow.",
        "scaling law, hyperparameter scaling",
    ),
    (
        "New architectures",
        "Alternatives to the plain Transformer.",
        "Kolmogorov-Arnold Networks, RWKV",
    ),
    (
        "Materials and proteins",
        "Learning for materials and molecules.",
        "crystal structures, protein dynamics",
    ),
    (
        "Uncertainty",
        "Knowing what a model does not know.",
        "uncertainty quantification, uncertainty estimation",
    ),
    (
        "Robust optimization",
        "Optimization that holds under shift.",
        "distributionally robust optimization, Lyapunov stability",
    ),
    (
        "Causality",
        "Causal structure in learning systems.",
        "concept bottleneck, causal intervention",
    ),
    (
        "Vision-language",
        "Models that read images and text together.",
        "vision-language models, visual grounding",
    ),
    (
        "Offline RL",
        "Decision making from logged data.",
        "offline reinforcement learning, latent dynamics",
    ),
    (
        "Knowledge in LLMs",
        "How language models store facts.",
        "knowledge injection, knowledge editing",
    ),
    (
        "Low-rank methods",
        "Matrices and tensors, factorized.",
        "low-rank approximation, tensor decomposition",
    ),
    (
        "Model merging",
        "Combining trained models.",
        "model merging, delta compression",
    ),
    (
        "Operator learning",
        "Learning solution operators of physics.",
        "neural operators, reduced order models",
    ),
    (
        "Hallucination",
        "When language models make things up.",
        "hallucination detection, introspection",
    ),
    (
        "Boosting and trees",
        "Classical learners, revisited.",
        "boosting, decision trees",
    ),
    (
        "Low precision",
        "Numbers with few bits.",
        "quantization accuracy, low-precision",
    ),
    (
        "Structured pruning",
        "Removing structure from networks.",
        "model pruning, structured pruning",
    ),
    (
        "Continual learning",
        "Models that keep learning.",
        "continual learning",
    ),
    (
        "Long context",
        "Models that read very long inputs.",
        "long-context language modeling, million-token contexts",
    ),
    (
        "In-context learning",
        "What attention heads do in context.",
        "attention heads, in-context learning",
    ),
];

/// `n` readers with distinct topics (`reader{i}@institute.example.org`), each with `extra`
/// lines: mixes of two to four areas; every fifth one of the benchmark's ten seed-style
/// profiles with an area of its own added.
pub fn institute_readers(n: usize, extra: &str) -> String {
    let seeds: Vec<String> = bench_subscribers(10, "")
        .split("[[subscriber]]")
        .skip(1)
        .map(|b| {
            let t = b.split("topics = \"\"\"").nth(1).unwrap();
            t.split("\"\"\"").next().unwrap().trim().to_string()
        })
        .collect();
    let mut state: u64 = 0x2545F4914F6CDD1D;
    let mut next = move |m: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % m as u64) as usize
    };
    let mut out = String::new();
    let mut seen = HashSet::new();
    for i in 0..n {
        let topics = loop {
            let t = if i % 5 == 4 {
                let (name, line, _) = AREAS[next(AREAS.len())];
                format!(
                    "{}\n\nLately also {name}: {line} (reader {})",
                    seeds[next(seeds.len())],
                    next(1_000_000)
                )
            } else {
                let k = 2 + next(3);
                let mut picked: Vec<usize> = Vec::new();
                while picked.len() < k {
                    let a = next(AREAS.len());
                    if !picked.contains(&a) {
                        picked.push(a);
                    }
                }
                picked.sort_unstable();
                let names: Vec<&str> = picked.iter().map(|&a| AREAS[a].0).collect();
                let lines: Vec<&str> = picked.iter().map(|&a| AREAS[a].1).collect();
                let keywords: Vec<&str> = picked.iter().map(|&a| AREAS[a].2).collect();
                format!(
                    "My group works on {}.\n\n{}\n\n**Keywords:**\n\n- Relevant: {}, etc.\n- Irrelevant: purely applied work without new methods.",
                    names.join(", "),
                    lines.join("\n"),
                    keywords.join(", ")
                )
            };
            if seen.insert(t.clone()) {
                break t;
            }
        };
        out.push_str(&format!(
            "[[subscriber]]\nemail = \"reader{i}@institute.example.org\"\nname = \"Reader {i}\"\n{extra}\ntopics = \"\"\"\n{topics}\n\"\"\"\n\n"
        ));
    }
    out
}

/// Papers the stand-in would pass for a reader that did not reach them, and all it would pass.
pub fn lost_and_planned(app: &TestApp) -> (usize, usize) {
    let delivered = delivered(app);
    let planted = planted(app);
    let total = planted.values().map(HashSet::len).sum();
    let lost = planted
        .iter()
        .map(|(email, wanted)| match delivered.get(email) {
            Some(got) => wanted.difference(got).count(),
            None => wanted.len(),
        })
        .sum();
    (lost, total)
}

#[tokio::test]
async fn the_embedding_prefilter_keeps_every_paper_a_reader_would_pass_and_says_where_the_rest_stood(
) {
    let app = TestApp::spawn(Options {
        subscribers: institute_readers(40, "max_papers = 200"),
        feed: Some(FEED_BENCH),
        batch_size: 100,
        concurrency: 4,
        model: "gpt-4o".into(),
        embeddings: true,
        ..Default::default()
    })
    .await;
    let run = app.run(&["digest"]).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let (lost, planned) = lost_and_planned(&app);
    assert!(
        planned >= 60,
        "the day plants papers for the readers: {planned}"
    );
    // The stand-in's title triage judges titles alone, so a paper that matches a reader only in
    // its abstract and is not near enough to go straight to a verdict is lost there (a real
    // model's triage reads titles too); the embedding stage itself leaves nothing out.
    assert!(
        lost * 10 <= planned,
        "{lost} of {planned} planned papers lost"
    );
    assert_eq!(app.count("SELECT count(*) FROM deliveries"), 40);

    // The embedding stage placed each reader's 174 papers and left none out: a few went
    // straight to a verdict, the title triage read the rest.
    let s = &app.llm.state;
    assert!(
        !s.triage_batches.lock().unwrap().is_empty(),
        "the title triage read the rest"
    );
    let triage = app.triage();
    let placed = |t: &&paperboy::store::triage::Stored| {
        matches!(
            t.decision.reason,
            paperboy::store::triage::Reason::Placed { .. }
                | paperboy::store::triage::Reason::Keyword
        ) && t.key.prompt_version.starts_with("nearest-")
    };
    let by_stage: Vec<_> = triage.iter().filter(placed).collect();
    assert_eq!(by_stage.len() as i64, 40 * 174, "every pair placed");
    let straight = by_stage.iter().filter(|t| t.decision.kept).count() as i64;
    assert!(
        straight > 0 && straight < 40 * 174 / 4,
        "{straight} pairs of {} straight to a verdict",
        40 * 174
    );
    let read_by_triage = triage
        .iter()
        .filter(|t| !t.key.prompt_version.starts_with("nearest-"))
        .count() as i64;
    assert!(
        read_by_triage >= 40 * 174 - straight,
        "every pair not sent straight was read by the title triage: {read_by_triage}"
    );

    // Each paper embedded once, each profile piece once; a second run embeds nothing.
    let embedded = s.embedded.lock().unwrap().clone();
    let unique: HashSet<&String> = embedded.iter().collect();
    assert_eq!(unique.len(), embedded.len(), "nothing embedded twice");
    assert_eq!(
        embedded.iter().filter(|t| t.contains("\n\n")).count(),
        174,
        "each paper's title and abstract once"
    );
    let spend = app.count("SELECT count(DISTINCT call_id) FROM spend WHERE stage = 'embedding'");
    assert_eq!(
        spend as usize,
        s.embedding_requests
            .load(std::sync::atomic::Ordering::SeqCst)
    );
    assert!(
        app.count("SELECT sum(cost_micros) FROM spend WHERE stage = 'embedding'") > 0,
        "embedding tokens are priced"
    );
    // Spend adds up per reader: every row belongs to a reader.
    assert_eq!(
        app.count("SELECT count(*) FROM spend WHERE subscriber IS NULL"),
        0
    );

    // `why` names the rank, cosine and nearness of a paper sent on to the title triage.
    let out = by_stage
        .iter()
        .find(|t| !t.decision.kept)
        .expect("a pair sent on to the triage");
    let paper = out.paper_id.clone();
    let email: String = app
        .db()
        .query_row(
            "SELECT subscriber FROM spend WHERE profile_hash = ?1 LIMIT 1",
            [&out.key.profile_hash],
            |r| r.get(0),
        )
        .unwrap();
    let why = app.run(&["why", "--for", &email, &paper]).await;
    assert_eq!(why.code, 0, "{}", why.stderr);
    assert!(
        why.stdout.contains(
            "ordered by the embedding stage, which sent it on to the title triage: rank "
        ),
        "{}",
        why.stdout
    );
}

#[tokio::test]
async fn a_prompt_over_the_window_is_split_never_sent_again_and_the_split_is_remembered() {
    // paperboy believes the window is 128k; the endpoint refuses anything over 12k tokens.
    let app = TestApp::spawn(Options {
        subscribers: institute_readers(40, "max_papers = 200"),
        feed: Some(FEED_BENCH),
        batch_size: 100,
        concurrency: 2,
        model: "gpt-4o".into(),
        embeddings: true,
        behaviour: Behaviour {
            context_window: Some(12_000),
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let run = app.run(&["digest"]).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(app.count("SELECT count(*) FROM deliveries"), 40);
    let (lost, planned) = lost_and_planned(&app);
    // The stand-in's title triage judges titles alone, so a paper that matches a reader only in
    // its abstract and is not near enough to go straight to a verdict is lost there (a real
    // model's triage reads titles too); the embedding stage itself leaves nothing out.
    assert!(
        lost * 10 <= planned,
        "{lost} of {planned} planned papers lost"
    );
    let s = &app.llm.state;
    let refused = s.refused_prompts.lock().unwrap().clone();
    let distinct: HashSet<&u64> = refused.iter().collect();
    assert_eq!(
        distinct.len(),
        refused.len(),
        "a refused prompt is never sent again unchanged"
    );
    // The first refusals teach the bound: the calls in flight then, and a few while it
    // settles — not one per call.
    let answered = s.answered.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        !refused.is_empty() && refused.len() <= 6,
        "{} refused, {answered} answered",
        refused.len()
    );
    assert!(s.largest_prompt.load(std::sync::atomic::Ordering::SeqCst) <= 12_000);
    assert!(
        run.stderr.contains("refused a prompt as too long"),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn without_embeddings_the_title_triage_splits_readers_across_calls_that_fit() {
    // Ten seed-style profiles of ~640 tokens and fifty mixes; a 16k window holds a few dozen
    // readers' topics beside the 174 titles, so the triage takes several calls.
    let app = TestApp::spawn(Options {
        subscribers: institute_readers(60, "max_papers = 200"),
        feed: Some(FEED_BENCH),
        batch_size: 100,
        concurrency: 2,
        model: "gpt-4o".into(),
        extra_config: "".into(),
        behaviour: Behaviour {
            context_window: Some(16_000),
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let run = app
        .run_with_env(&["digest"], &[("PAPERBOY__LLM__CONTEXT_TOKENS", "16000")])
        .await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(app.count("SELECT count(*) FROM deliveries"), 60);
    let s = &app.llm.state;
    assert_eq!(
        s.refused_for_length
            .load(std::sync::atomic::Ordering::SeqCst),
        0,
        "a window paperboy knows is never exceeded"
    );
    let triage = s.triage_batches.lock().unwrap().clone();
    assert!(triage.len() >= 3, "{} triage calls", triage.len());
    // Every reader had every title triaged exactly once.
    assert_eq!(
        app.triage().len(),
        60 * 174,
        "each (paper, reader) decided once"
    );
    assert!(s.largest_prompt.load(std::sync::atomic::Ordering::SeqCst) <= 16_000);
}
