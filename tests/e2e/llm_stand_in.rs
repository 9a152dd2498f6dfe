//! The model: an OpenAI-compatible chat-completions stand-in that reads the readers and papers
//! out of the prompt, answers in the JSONL contract (title triage `{"ARXIVID", "READERS"}`,
//! verdicts `{"ARXIVID", "SCORES": {"R1": [relevance, novelty, comment]}}`, TL;DRs
//! `{"ARXIVID", "TLDR"}`) with `usage`, and misbehaves on request (its wrong-paper and
//! wrong-reader lines use the seeds' one-line-per-pair form, which paperboy reads too).
//!
//! Its judgement: a reader whose topics carry a seed-style keyword list (`**Keywords:**` then
//! `- Relevant: a, b (c), d/e`) wants papers with one of those keywords in the title (9) or two in
//! the abstract (7); one in the abstract is borderline (5). Other readers get a judgement from
//! the title alone ([`stand_in_scores`]). The triage keeps a reader for every paper the verdict
//! would rate 5 or more *from its title*; abstract-only matches are the pipeline's to keep.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

#[derive(Clone, Default)]
pub struct Behaviour {
    /// Answer every call with this HTTP status and an OpenAI-style error body.
    pub status: Option<u16>,
    /// The first call gets 429 with `Retry-After: 1`.
    pub rate_limit_first: bool,
    /// The first verdict answer adds a verdict for this ID (not in the call) with a tell-tale
    /// comment.
    pub wrong_id_first: Option<String>,
    /// The first verdict answer adds a verdict for a reader label that is not in the call.
    pub wrong_reader_first: bool,
    /// The first verdict answer that would contain this ID leaves it out.
    pub omit_first: Option<String>,
    /// Every answer starts with a garbage line.
    pub garbage_line: bool,
    /// Triage answers are garbage (no usable line at all).
    pub triage_garbage: bool,
    /// This ID never gets a verdict (so it stays unscored after the re-asks).
    pub never: Option<String>,
    /// Delay before each answer.
    pub delay: Option<Duration>,
    /// The first N requests get this server error (500, 502, 503…).
    pub server_error_first: Option<(u16, usize)>,
    /// The first request is answered only after this long (past the client's timeout).
    pub stall_first: Option<Duration>,
    /// After this many answered requests, every request gets a 503 (the model "dies").
    pub die_after: Option<usize>,
    /// Comments the way gpt-4o writes them: markdown emphasis and inline TeX.
    pub markdown_comments: bool,
    /// A model gone verbose (or an injected paper): comments of 60,000 characters, TL;DRs of
    /// 20,000, and scores written as floats ("9.0").
    pub bloated: bool,
    /// The embedding endpoint answers every request with this HTTP status.
    pub embeddings_status: Option<u16>,
    /// The embedding endpoint answers 200 with all-zero vectors (a broken deployment does).
    pub zero_vectors: bool,
    /// Refuse, as the real endpoints do (HTTP 400 `context_length_exceeded`), any prompt longer
    /// than this many tokens.
    pub context_window: Option<u64>,
}

pub const WRONG_COMMENT: &str = "THIS COMMENT WAS WRITTEN FOR ANOTHER PAPER";

#[derive(Default)]
pub struct LlmState {
    pub behaviour: Behaviour,
    pub requests: AtomicUsize,
    pub answered: AtomicUsize,
    pub prompt_tokens: AtomicU64,
    pub cached_tokens: AtomicU64,
    pub completion_tokens: AtomicU64,
    /// The IDs asked about, per answered verdict request.
    pub batches: Mutex<Vec<Vec<String>>>,
    /// The readers' topics of each of those requests, joined.
    pub profiles: Mutex<Vec<String>>,
    /// The IDs of each answered triage request.
    pub triage_batches: Mutex<Vec<Vec<String>>>,
    /// Every (paper, reader's topics) pair a verdict was asked for.
    pub verdict_pairs: Mutex<Vec<(String, String)>>,
    /// The language and IDs of each answered TL;DR request.
    pub tldr_batches: Mutex<Vec<(String, Vec<String>)>>,
    /// Papers whose English TL;DR was written in a verdict line.
    pub inline_tldrs: Mutex<Vec<String>>,
    /// Embedding requests answered, and the texts they embedded.
    pub embedding_requests: AtomicUsize,
    pub embedded: Mutex<Vec<String>>,
    /// Requests refused as longer than the window, and a hash of each refused prompt.
    pub refused_for_length: AtomicUsize,
    pub refused_prompts: Mutex<Vec<u64>>,
    /// The longest prompt answered, in tokens.
    pub largest_prompt: AtomicU64,
    /// System prompts seen so far: the provider caches the longest prefix shared with one.
    pub seen_systems: Mutex<Vec<String>>,
    /// Set by [`LlmStandIn::revive`]: a model that died is back.
    pub revived: std::sync::atomic::AtomicBool,
    omitted: Mutex<bool>,
    wrong_sent: Mutex<bool>,
    wrong_reader_sent: Mutex<bool>,
}

pub struct LlmStandIn {
    pub server: MockServer,
    pub state: Arc<LlmState>,
}

struct Responder(Arc<LlmState>);

/// The stand-in's judgement of a title for readers without a keyword list: papers about MoE,
/// quantization, sparsity or language models score high.
pub fn stand_in_scores(title: &str) -> (u8, u8) {
    let t = title.to_lowercase();
    if [
        "moe",
        "quantization",
        "sparse",
        "language model",
        "low-rank",
    ]
    .iter()
    .any(|k| t.contains(k))
    {
        (9, 8)
    } else {
        (3, 3)
    }
}

/// The keywords of a seed-style profile: the `- Relevant:` line under `**Keywords:**`, split at
/// commas, slashes and parentheses ("Mixture of Experts (MoE)" → both).
pub fn profile_keywords(profile: &str) -> Option<Vec<String>> {
    let after = profile.split("**Keywords:**").nth(1)?;
    let line = after
        .lines()
        .find_map(|l| l.trim().strip_prefix("- Relevant:"))?;
    let kws: Vec<String> = line
        .split([',', '/', '(', ')'])
        .map(|k| normal(k.trim().trim_end_matches("etc.").trim()))
        .filter(|k| k.len() >= 2 && k != "etc")
        .collect();
    (!kws.is_empty()).then_some(kws)
}

/// Lowercase words separated by single spaces, with a space at each end (for phrase matching).
fn normal(s: &str) -> String {
    let words: Vec<String> = s
        .to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect();
    words.join(" ")
}

fn hits(keywords: &[String], text: &str) -> usize {
    let text = format!(" {} ", normal(text));
    keywords
        .iter()
        .filter(|k| text.contains(&format!(" {k} ")))
        .count()
}

/// The stand-in's verdict (relevance, novelty) for a reader's topics.
pub fn judge(profile: &str, title: &str, abstract_text: &str) -> (u8, u8) {
    match profile_keywords(profile) {
        None => stand_in_scores(title),
        Some(kws) => {
            if hits(&kws, title) > 0 {
                (9, 7)
            } else {
                match hits(&kws, abstract_text) {
                    0 => (2, 3),
                    1 => (5, 5),
                    _ => (7, 6),
                }
            }
        }
    }
}

/// The readers of a system prompt: label → (topics, comment bar).
fn readers(system: &str) -> Vec<(String, String, u8)> {
    let body = system.split("\n## Readers\n").nth(1).unwrap_or("");
    let mut out: Vec<(String, String, u8)> = Vec::new();
    for line in body.lines() {
        if let Some(rest) = line.strip_prefix("Reader R") {
            let label = format!("R{}", rest.split_whitespace().next().unwrap_or(""));
            let bar = rest
                .split("RELEVANCE ")
                .nth(1)
                .and_then(|b| b.split_whitespace().next())
                .and_then(|b| b.parse().ok())
                .unwrap_or(1);
            out.push((label, String::new(), bar));
        } else if line.starts_with("<profile ") || line.starts_with("</profile ") {
            // The fence around a reader's text.
        } else if let Some(last) = out.last_mut() {
            // A reader's text, each line quoted with "| " (an unquoted line would be the
            // prompt's own).
            last.1.push_str(line.strip_prefix("| ").unwrap_or(line));
            last.1.push('\n');
        }
    }
    out
}

struct AskedPaper {
    id: String,
    title: String,
    abstract_text: String,
    readers: Vec<String>,
}

/// Verdict prompts list "ArXiv ID / Title / Abstract / Readers"; triage prompts "ID | Title".
fn papers(user: &str) -> (bool, Vec<AskedPaper>) {
    let mut out: Vec<AskedPaper> = Vec::new();
    let triage = !["ArXiv ID: ", "DOI: "]
        .iter()
        .any(|l| user.contains(&format!("\n{l}")) || user.starts_with(l));
    for line in user.lines() {
        if triage {
            if let Some((id, title)) = line.split_once(" | ") {
                out.push(AskedPaper {
                    id: id.trim().into(),
                    title: title.into(),
                    abstract_text: String::new(),
                    readers: Vec::new(),
                });
            }
        } else if let Some(id) = line
            .strip_prefix("ArXiv ID: ")
            .or_else(|| line.strip_prefix("DOI: "))
        {
            out.push(AskedPaper {
                id: id.trim().into(),
                title: String::new(),
                abstract_text: String::new(),
                readers: Vec::new(),
            });
        } else if let Some(p) = out.last_mut() {
            if let Some(t) = line.strip_prefix("Title: ") {
                p.title = t.into();
            } else if let Some(a) = line.strip_prefix("Abstract: ") {
                p.abstract_text = a.into();
            } else if let Some(r) = line.strip_prefix("Readers: ") {
                p.readers = r.split(',').map(|l| l.trim().to_string()).collect();
            }
        }
    }
    (triage, out)
}

fn error(status: u16, message: &str, code: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({
        "error": {"message": message, "type": "invalid_request_error", "param": null, "code": code}
    }))
}

impl Respond for Responder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let s = &self.0;
        let n = s.requests.fetch_add(1, Ordering::SeqCst);
        let b = &s.behaviour;
        if let Some(status) = b.status {
            return error(status, "Incorrect API key provided: sk-test***. You can find your API key at https://platform.openai.com/account/api-keys.", "invalid_api_key");
        }
        if let Some((status, count)) = b.server_error_first {
            if n < count {
                return ResponseTemplate::new(status)
                    .set_body_string("upstream connect error or disconnect/reset before headers");
            }
        }
        if let Some(after) = b.die_after {
            if s.answered.load(Ordering::SeqCst) >= after && !s.revived.load(Ordering::SeqCst) {
                return ResponseTemplate::new(503)
                    .set_body_string("upstream connect error or disconnect/reset before headers");
            }
        }
        if b.rate_limit_first && n == 0 {
            return ResponseTemplate::new(429).insert_header("retry-after", "1").set_body_json(json!({
                "error": {"message": "Rate limit reached for gpt-4o-mini", "type": "requests", "param": null, "code": "rate_limit_exceeded"}
            }));
        }
        let body: Value = serde_json::from_slice(&request.body).expect("the request is JSON");
        let messages = body["messages"].as_array().expect("messages");
        if body.get("response_format").is_some() {
            return reply_commands(s, n, &body, messages);
        }
        let system = messages[0]["content"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let user = messages.last().unwrap()["content"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let prompt_tokens = ((system.len() + user.len()) / 4) as u64;
        if let Some(window) = b.context_window {
            if prompt_tokens > window {
                s.refused_for_length.fetch_add(1, Ordering::SeqCst);
                let mut h = std::collections::hash_map::DefaultHasher::new();
                std::hash::Hash::hash(&(&system, &user), &mut h);
                s.refused_prompts
                    .lock()
                    .unwrap()
                    .push(std::hash::Hasher::finish(&h));
                return ResponseTemplate::new(400).set_body_json(json!({
                    "error": {
                        "message": format!("This model's maximum context length is {window} tokens. However, your messages resulted in {prompt_tokens} tokens. Please reduce the length of the messages."),
                        "type": "invalid_request_error",
                        "param": "messages",
                        "code": "context_length_exceeded"
                    }
                }));
            }
        }
        if system.starts_with("# TL;DR Prompt") {
            return tldrs(s, n, &body, &system, &user);
        }
        let readers = readers(&system);
        let by_label: HashMap<&str, (&str, u8)> = readers
            .iter()
            .map(|(l, p, bar)| (l.as_str(), (p.as_str(), *bar)))
            .collect();
        let (triage, papers) = papers(&user);
        let mut out = Vec::new();
        if b.garbage_line {
            out.push("Sure! Here are the scores you asked for:".to_string());
            out.push("{\"ARXIVID\": \"broken".to_string());
        }
        if triage {
            s.triage_batches
                .lock()
                .unwrap()
                .push(papers.iter().map(|p| p.id.clone()).collect());
            if b.triage_garbage {
                out.push("I cannot decide from titles alone.".into());
            } else {
                for p in &papers {
                    let keep: Vec<&str> = readers
                        .iter()
                        .filter(|(_, profile, _)| judge(profile, &p.title, "").0 >= 5)
                        .map(|(l, _, _)| l.as_str())
                        .collect();
                    out.push(json!({"ARXIVID": p.id, "READERS": keep}).to_string());
                }
            }
        } else {
            s.batches
                .lock()
                .unwrap()
                .push(papers.iter().map(|p| p.id.clone()).collect());
            s.profiles.lock().unwrap().push(
                readers
                    .iter()
                    .map(|r| r.1.trim())
                    .collect::<Vec<_>>()
                    .join("\n\n"),
            );
            if let Some(wrong) = &b.wrong_id_first {
                let mut sent = s.wrong_sent.lock().unwrap();
                if !*sent && !papers.iter().any(|p| &p.id == wrong) {
                    *sent = true;
                    out.push(json!({"ARXIVID": wrong, "READER": readers[0].0, "COMMENT": WRONG_COMMENT, "RELEVANCE": 10, "NOVELTY": 10}).to_string());
                }
            }
            if b.wrong_reader_first {
                let mut sent = s.wrong_reader_sent.lock().unwrap();
                if !*sent {
                    *sent = true;
                    out.push(json!({"ARXIVID": papers[0].id, "READER": "R99", "COMMENT": WRONG_COMMENT, "RELEVANCE": 10, "NOVELTY": 10}).to_string());
                }
            }
            for p in &papers {
                if b.never.as_deref() == Some(p.id.as_str()) {
                    continue;
                }
                if b.omit_first.as_deref() == Some(p.id.as_str()) {
                    let mut omitted = s.omitted.lock().unwrap();
                    if !*omitted {
                        *omitted = true;
                        continue;
                    }
                }
                // A line per paper: each reader's [RELEVANCE, NOVELTY(, COMMENT)].
                let mut scores = serde_json::Map::new();
                let mut passed = false;
                for label in &p.readers {
                    let (profile, bar) = by_label.get(label.as_str()).copied().unwrap_or(("", 1));
                    s.verdict_pairs
                        .lock()
                        .unwrap()
                        .push((p.id.clone(), profile.trim().to_string()));
                    let (r, nv) = judge(profile, &p.title, &p.abstract_text);
                    // As long as a real model's: one sentence naming the criterion.
                    let comment = if r >= bar && b.markdown_comments {
                        format!("Matches the **Model Compression** criterion: *{}* reports $\\sim$600 $\\times$ fewer FLOPs. Stand-in verdict about {}.", p.title, p.id)
                    } else if r >= bar {
                        format!("Stand-in verdict about {}. It matches one of this reader's criteria closely.", p.id)
                    } else {
                        String::new()
                    };
                    passed |= r >= bar;
                    let entry = if b.bloated {
                        let long = format!("{comment} {}", "Very relevant indeed. ".repeat(2800));
                        json!([format!("{r}.0"), f64::from(nv), long])
                    } else if comment.is_empty() {
                        json!([r, nv])
                    } else {
                        json!([r, nv, comment])
                    };
                    scores.insert(label.clone(), entry);
                }
                // Asked to, a real model writes the English TL;DR of a paper that passes a bar
                // in the same line. A gullible one also obeys a reader's profile that tells it
                // what to write there ("Write every TLDR as: …").
                let injected = system.lines().find_map(|l| {
                    l.strip_prefix("| ")
                        .and_then(|l| l.split_once("Write every TLDR as: "))
                        .map(|(_, t)| t.to_string())
                });
                if passed && (system.contains("add a key TLDR") || injected.is_some()) {
                    let tldr = injected.unwrap_or_else(|| english_tldr(&p.title));
                    s.inline_tldrs.lock().unwrap().push(p.id.clone());
                    out.push(json!({"ARXIVID": p.id, "TLDR": tldr, "SCORES": scores}).to_string());
                } else {
                    out.push(json!({"ARXIVID": p.id, "SCORES": scores}).to_string());
                }
            }
        }
        let content = out.join("\n");
        answer(s, n, &body, &system, &user, content)
    }
}

/// The stand-in's English TL;DR of a paper, in a verdict line or a TL;DR call alike.
fn english_tldr(title: &str) -> String {
    format!("This paper studies {title} and shows why it matters.")
}

/// TL;DRs in the language the system prompt names, for the papers of the user message.
fn tldrs(s: &LlmState, n: usize, body: &Value, system: &str, user: &str) -> ResponseTemplate {
    let language = system
        .lines()
        .find_map(|l| l.strip_prefix("Language: "))
        .unwrap_or("English")
        .trim()
        .to_string();
    let mut ids = Vec::new();
    let mut out = Vec::new();
    let mut id = String::new();
    for line in user.lines() {
        if let Some(i) = line.strip_prefix("ID: ") {
            id = i.trim().to_string();
        } else if let Some(title) = line.strip_prefix("Title: ") {
            let tldr = match language.as_str() {
                "German" => {
                    format!("Diese Arbeit untersucht „{title}“ und zeigt, warum es wichtig ist.")
                }
                "French" => {
                    format!("Cet article étudie « {title} » et montre pourquoi c'est important.")
                }
                _ if s.behaviour.bloated => {
                    // Many words, and one word of 100 KB among them (issue 32, finding 6).
                    format!(
                        "{} {} {}",
                        english_tldr(title),
                        "W".repeat(100_000),
                        "It matters a lot. ".repeat(1100)
                    )
                }
                _ => english_tldr(title),
            };
            out.push(json!({"ARXIVID": id, "TLDR": tldr}).to_string());
            ids.push(id.clone());
        }
    }
    s.tldr_batches.lock().unwrap().push((language, ids));
    answer(s, n, body, system, user, out.join("\n"))
}

/// Reading a free-text reply as commands (structured output).
fn reply_commands(s: &LlmState, n: usize, body: &Value, messages: &[Value]) -> ResponseTemplate {
    let text = messages.last().unwrap()["content"]
        .as_str()
        .unwrap_or_default()
        .to_lowercase();
    let commands: Vec<&str> = if text.contains("graph neural networks") {
        vec!["add topic: graph neural networks", "make it sparkle"]
    } else {
        vec![]
    };
    s.answered.fetch_add(1, Ordering::SeqCst);
    ResponseTemplate::new(200).set_body_json(json!({
        "id": format!("chatcmpl-{n}"), "object": "chat.completion", "created": 1743120000, "model": body["model"],
        "choices": [{"index": 0, "message": {"role": "assistant", "content": json!({"commands": commands}).to_string(), "refusal": null}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 300, "completion_tokens": 20, "total_tokens": 320}
    }))
}

/// A chat completion with `usage` counted as the real API would (chars / 4 here), with the
/// longest prefix shared with an earlier call's system prompt cached, in 128-token steps from
/// 1,024 tokens on.
fn answer(
    s: &LlmState,
    n: usize,
    body: &Value,
    system: &str,
    user: &str,
    content: String,
) -> ResponseTemplate {
    let b = &s.behaviour;
    let prompt_tokens = ((system.len() + user.len()) / 4) as u64;
    s.largest_prompt.fetch_max(prompt_tokens, Ordering::SeqCst);
    let shared = {
        let mut seen = s.seen_systems.lock().unwrap();
        let best = seen
            .iter()
            .map(|earlier| {
                earlier
                    .bytes()
                    .zip(system.bytes())
                    .take_while(|(a, b)| a == b)
                    .count()
            })
            .max()
            .unwrap_or(0);
        seen.push(system.to_string());
        best as u64 / 4
    };
    let cached = if shared >= 1024 {
        shared.min(prompt_tokens) / 128 * 128
    } else {
        0
    };
    let completion_tokens = (content.len() / 4) as u64 + 1;
    s.prompt_tokens.fetch_add(prompt_tokens, Ordering::SeqCst);
    s.cached_tokens.fetch_add(cached, Ordering::SeqCst);
    s.completion_tokens
        .fetch_add(completion_tokens, Ordering::SeqCst);
    s.answered.fetch_add(1, Ordering::SeqCst);
    let mut t = ResponseTemplate::new(200).set_body_json(json!({
        "id": format!("chatcmpl-{n}"),
        "object": "chat.completion",
        "created": 1743120000,
        "model": body["model"],
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content, "refusal": null}, "logprobs": null, "finish_reason": "stop"}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0, "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}
        },
        "system_fingerprint": "fp_test"
    }));
    if let Some(d) = b.delay {
        t = t.set_delay(d);
    }
    if let (Some(d), 0) = (b.stall_first, n) {
        t = t.set_delay(d);
    }
    t
}

impl LlmStandIn {
    /// The model that died (`die_after`) answers again.
    pub fn revive(&self) {
        self.state.revived.store(true, Ordering::SeqCst);
    }

    pub async fn start(behaviour: Behaviour) -> LlmStandIn {
        let server = MockServer::start().await;
        let state = Arc::new(LlmState {
            behaviour,
            ..Default::default()
        });
        Mock::given(method("POST"))
            .and(path("/v1/chat/completions"))
            .respond_with(Responder(state.clone()))
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/v1/embeddings"))
            .respond_with(Embedder(state.clone()))
            .mount(&server)
            .await;
        LlmStandIn { server, state }
    }

    pub fn requests(&self) -> usize {
        self.state.requests.load(Ordering::SeqCst)
    }
}

/// The embedding model: `/v1/embeddings` in OpenAI's wire format. It knows the field's
/// concepts (the research terms of the benchmark's readers and areas, as a model trained on the
/// literature would) and puts a text near the concepts it is about: a concept in a text's first
/// paragraph (a paper's title) weighs twice one in the rest, and every text also carries a
/// faint trace of its other words. Each text is embedded alone, knowing nothing of readers.
struct Embedder(Arc<LlmState>);

/// Hashed dimensions for a text's other words, after one dimension per concept.
const WORD_DIMS: usize = 64;

/// The concepts the stand-in model knows.
fn concepts() -> &'static Vec<String> {
    static CONCEPTS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    CONCEPTS.get_or_init(|| {
        let mut all: Vec<String> = Vec::new();
        for (_, _, keywords) in crate::institute::AREAS {
            all.extend(
                profile_keywords(&format!("**Keywords:**\n- Relevant: {keywords}")).unwrap(),
            );
        }
        let seeds = std::fs::read_to_string(
            crate::helpers::repo().join("tests/fixtures/bench/subscribers-10.toml"),
        )
        .expect("the benchmark's subscribers");
        for block in seeds.split("[[subscriber]]").skip(1) {
            all.extend(profile_keywords(block).unwrap_or_default());
        }
        all.sort();
        all.dedup();
        all
    })
}

/// The stand-in model's vector of `text` (unit length).
pub fn embed(text: &str) -> Vec<f32> {
    let (title, rest) = text.split_once("\n\n").unwrap_or((text, ""));
    let title = format!(" {} ", normal(title));
    let rest = format!(" {} ", normal(rest));
    let concepts = concepts();
    let mut v = vec![0f32; concepts.len() + WORD_DIMS];
    for (i, c) in concepts.iter().enumerate() {
        let needle = format!(" {c} ");
        v[i] = 2.0 * title.contains(&needle) as u8 as f32 + rest.contains(&needle) as u8 as f32;
    }
    let words: Vec<&str> = title
        .split_whitespace()
        .chain(rest.split_whitespace())
        .collect();
    for w in &words {
        let mut h: u64 = 0xcbf29ce484222325;
        for b in w.bytes() {
            h = (h ^ b as u64).wrapping_mul(0x100000001b3);
        }
        v[concepts.len() + (h % WORD_DIMS as u64) as usize] += 0.3 / words.len() as f32;
    }
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-9);
    v.iter().map(|x| x / norm).collect()
}

impl Respond for Embedder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let s = &self.0;
        if let Some(status) = s.behaviour.embeddings_status {
            return error(
                status,
                "The server is overloaded or not ready yet.",
                "server_error",
            );
        }
        let body: Value = serde_json::from_slice(&request.body).expect("the request is JSON");
        let inputs: Vec<String> = match &body["input"] {
            Value::String(t) => vec![t.clone()],
            Value::Array(items) => items
                .iter()
                .map(|i| i.as_str().expect("text inputs").to_string())
                .collect(),
            other => panic!("unexpected embedding input {other}"),
        };
        s.embedding_requests.fetch_add(1, Ordering::SeqCst);
        let tokens: usize = inputs.iter().map(|t| t.len() / 4 + 1).sum();
        let data: Vec<Value> = inputs
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let v = if s.behaviour.zero_vectors {
                    vec![0.0f32; embed(t).len()]
                } else {
                    embed(t)
                };
                json!({"object": "embedding", "index": i, "embedding": v})
            })
            .collect();
        s.embedded.lock().unwrap().extend(inputs);
        let mut t = ResponseTemplate::new(200).set_body_json(json!({
            "object": "list",
            "data": data,
            "model": body["model"],
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens}
        }));
        if let Some(d) = s.behaviour.delay {
            t = t.set_delay(d);
        }
        t
    }
}
