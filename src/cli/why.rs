//! `paperboy why ARXIV_ID --for EMAIL`: why a paper did or did not reach a reader, from what the
//! store knows: the announcement, the reader's categories and followed authors, the title triage,
//! the verdict against their thresholds, the cap, and what was sent or is still owed.

use std::io::Write as _;

use anyhow::Context as _;
use chrono::NaiveDate;
use clap::Args;
use rusqlite::Connection;

use super::digest::build_reader;
use super::{Failure, EXIT_OK};
use crate::app::App;
use crate::config::Config;
use crate::digest::StoredPage;
use crate::domain::followed_authors;
use crate::domain::{Category, Paper, PaperId, Subscriber, SubscriberEmail, Verdict};
use crate::scoring::Scorer;
use crate::store::triage::Decision;
use crate::store::verdicts::VerdictKey;
use crate::subscribers::admin::Subscribers;

/// Why a paper did or did not reach a reader.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  paperboy why 2503.21135 --for ada@lab.org\n  paperboy why arXiv:2503.21135v2 --for ada@lab.org --json\n  paperboy why 10.1101/2025.03.20.644321 --for nora@lab.org"
)]
pub struct WhyArgs {
    /// The paper: an arXiv ID (2503.21135, arXiv:2503.21135v2, its abs URL) or a bioRxiv/medRxiv
    /// DOI (10.1101/2025.03.20.644321, doi:…, its doi.org or biorxiv.org URL).
    #[arg(value_parser = parse_id)]
    pub id: PaperId,
    /// The reader.
    #[arg(long = "for", value_name = "EMAIL", value_parser = super::subscribers::parse_email)]
    pub reader: SubscriberEmail,
    /// Print the facts as JSON.
    #[arg(long)]
    pub json: bool,
}

fn parse_id(s: &str) -> Result<PaperId, String> {
    PaperId::parse(s).map_err(|e| e.to_string())
}

/// What the store says about one paper for one reader.
struct Facts {
    paper: Option<Paper>,
    announced: Vec<(NaiveDate, String)>,
    verdict: Option<Verdict>,
    triage: Option<Decision>,
    /// The embedding stage's place for the paper (or, from paperboy 0.2, its prefilter's).
    placed: Option<Decision>,
    sent_on: Option<NaiveDate>,
    /// Position in that day's digest (1-based) and whether it was only listed past the cap.
    place: Option<(usize, bool)>,
    /// The rank it was shown with, and its parts (pages stored before ranks have none).
    rank: Option<crate::scoring::rank::Rank>,
    /// Marked as known without a digest (a paper of the reader's imported library).
    from_library: bool,
    owed: Option<(String, Option<String>)>,
}

pub async fn run(config: Config, args: WhyArgs) -> Result<u8, Failure> {
    let mut sub = find_reader(&config, &args.reader)?;
    let app = build_reader(config).await?;
    sub.examples = examples(&app, &sub.email).await?;
    let facts = gather(&app, &sub, &args.id).await?;
    let Some(paper) = &facts.paper else {
        print_unknown(&app.config, &args);
        return Ok(EXIT_OK);
    };
    let lines = explain(&app, &sub, &facts, paper);
    if args.json {
        print_json(paper, &sub, &lines, &facts)?;
    } else {
        print_text(paper, &sub, &lines);
    }
    Ok(EXIT_OK)
}

/// The reader named by `--for`, from subscribers.toml (a usage error when they are not there).
fn find_reader(config: &Config, reader: &SubscriberEmail) -> Result<Subscriber, Failure> {
    let all = Subscribers::new(config)
        .load()
        .map_err(|e| Failure::usage(anyhow::anyhow!("{}", e.to_string().trim_end())))?;
    all.into_iter().find(|s| &s.email == reader).ok_or_else(|| {
        Failure::usage(anyhow::anyhow!(
            "{} is not a subscriber (`paperboy subscribers list` shows them)",
            reader
        ))
    })
}

/// The reader's "more/less like" examples, which are part of their profile (and so of the key
/// their verdicts are stored under).
async fn examples(app: &App, email: &SubscriberEmail) -> Result<Vec<(bool, String)>, Failure> {
    Ok(app
        .store
        .examples(email)
        .await?
        .into_iter()
        .map(|e| (e.more, e.title))
        .collect())
}

/// What the store knows about the paper for this reader.
async fn gather(app: &App, sub: &Subscriber, id: &PaperId) -> Result<Facts, Failure> {
    let key = app.scorer.key(sub);
    let triage_key = app.scorer.triage_key(sub);
    let nearest_key = app.scorer.nearest_key(sub);
    let email = sub.email.to_string();
    let id = id.clone();
    Ok(app
        .store
        .call(move |c| {
            read_facts(
                c,
                &email,
                &id,
                &key,
                [triage_key.as_ref(), nearest_key.as_ref()],
            )
        })
        .await?)
}

/// Reads the facts in one go: the announcements, the stored verdict and triage decision under
/// the reader's keys, what was sent and what is owed.
fn read_facts(
    c: &Connection,
    email: &str,
    id: &PaperId,
    key: &VerdictKey,
    [triage_key, nearest_key]: [Option<&VerdictKey>; 2],
) -> rusqlite::Result<Facts> {
    let announced = crate::store::papers::appearances(c, id)?;
    let paper = match announced.first() {
        Some((day, _)) => crate::store::papers::announced(c, *day)?
            .into_iter()
            .find(|p| &p.id == id),
        None => None,
    };
    let ids = [id.clone()];
    let verdict = crate::store::verdicts::load(c, key, &ids)?.remove(id);
    let decision = |k: Option<&VerdictKey>| match k {
        Some(k) => Ok(crate::store::triage::load(c, k, &ids)?.remove(id)),
        None => Ok::<_, rusqlite::Error>(None),
    };
    let triage = decision(triage_key)?;
    let placed = decision(nearest_key)?;
    let sent_on = crate::store::deliveries::sent_papers(c, email)?
        .into_iter()
        .find(|(_, p, _)| p == id)
        .map(|(d, _, _)| d);
    let (place, rank) = match sent_on {
        Some(day) => digest_place(c, email, day, id)?
            .map_or((None, None), |(n, more, r)| (Some((n, more)), r)),
        None => (None, None),
    };
    let from_library = match sent_on {
        Some(day) => crate::store::deliveries::get(c, email, day)?.is_none(),
        None => false,
    };
    // Not fatal: an owed row that cannot be read reads as "not owed".
    let owed = crate::store::owed::problem(c, email, id).ok().flatten();
    Ok(Facts {
        paper,
        announced,
        verdict,
        triage,
        placed,
        sent_on,
        place,
        rank,
        from_library,
        owed,
    })
}

/// Where the paper stood in the digest of `day`: its place (1-based), whether it was only
/// listed past the cap, and its rank. `None` when the stored page is missing or does not list it.
fn digest_place(
    c: &Connection,
    email: &str,
    day: NaiveDate,
    id: &PaperId,
) -> rusqlite::Result<Option<(usize, bool, Option<crate::scoring::rank::Rank>)>> {
    Ok(crate::store::archive::page(c, email, day)?
        .and_then(|json| serde_json::from_str::<StoredPage>(&json).ok())
        .and_then(|page| {
            let n = page.entries.len();
            page.entries
                .iter()
                .chain(&page.more)
                .position(|e| &e.id == id)
                .map(|i| {
                    let e = page.entries.iter().chain(&page.more).nth(i).expect("found");
                    (i + 1, i >= n, e.rank.clone())
                })
        }))
}

/// The answer for a paper paperboy never saw, as text or (compact) JSON.
fn print_unknown(config: &Config, args: &WhyArgs) {
    let msg = format!(
        "paperboy has not seen {} in any announcement it fetched (categories {}).",
        args.id,
        config
            .categories()
            .iter()
            .map(|c| c.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    if args.json {
        println!(
            "{}",
            serde_json::json!({"id": args.id.as_str(), "known": false, "why": msg})
        );
    } else {
        println!("{msg}");
    }
}

/// The facts as (what, says) lines, in the order they are shown.
fn explain(
    app: &App,
    sub: &Subscriber,
    facts: &Facts,
    paper: &Paper,
) -> Vec<(&'static str, String)> {
    let categories = sub
        .categories
        .clone()
        .unwrap_or_else(|| app.config.categories());
    let wanted_types: Vec<&str> = app
        .config
        .arxiv
        .announce_types
        .iter()
        .map(String::as_str)
        .collect();
    let mut lines = vec![
        ("announced", announced_fact(&facts.announced, paper)),
        ("categories", categories_fact(paper, &categories)),
    ];
    if let Some(t) = type_fact(&facts.announced, &wanted_types) {
        lines.push(("type", t));
    }
    let followed = followed_authors(paper, &sub.authors);
    if !followed.is_empty() {
        lines.push((
            "author",
            format!(
                "by {}, whom the reader follows: pinned first, never sent to the model",
                followed.join(", ")
            ),
        ));
    }
    let keyword = crate::scoring::keyword::Terms::of(sub).why_look(paper);
    for d in facts.placed.iter().chain(&facts.triage) {
        let (label, fact) = triage_fact(d, &app.config.embeddings, keyword.as_deref());
        lines.push((label, fact));
    }
    lines.extend(verdict_facts(
        &app.scorer,
        sub,
        facts.verdict.as_ref(),
        followed.is_empty(),
    ));
    if let Some((kind, detail)) = &facts.owed {
        lines.push(("owed", owed_fact(kind, detail.as_deref())));
    }
    lines.push(("digest", digest_fact(facts, sub.max_papers)));
    lines
}

/// The days the paper was announced, and how (or, for a preprint server, which version).
fn announced_fact(announced: &[(NaiveDate, String)], paper: &Paper) -> String {
    let days: Vec<String> = announced
        .iter()
        .map(|(d, t)| match paper.source {
            crate::domain::Source::Arxiv => format!("{d} ({t})"),
            source => format!(
                "{d} (read from {}, version {})",
                source.name(),
                paper.version
            ),
        })
        .collect();
    days.join(", ")
}

/// The paper's categories, and whether any is among the reader's.
fn categories_fact(paper: &Paper, categories: &[Category]) -> String {
    let in_cats = paper.categories.iter().any(|c| categories.contains(c));
    let cats: Vec<&str> = paper.categories.iter().map(|c| c.as_str()).collect();
    if in_cats {
        format!("{} — in the reader's categories", cats.join(", "))
    } else {
        format!(
            "{} — none is among the reader's categories, so it was never considered",
            cats.join(", ")
        )
    }
}

/// Why the announcement type kept the paper out, when none of its types is wanted.
fn type_fact(announced: &[(NaiveDate, String)], wanted_types: &[&str]) -> Option<String> {
    let typed = announced
        .iter()
        .any(|(_, t)| wanted_types.contains(&t.as_str()));
    (!typed).then(|| {
        format!(
            "announced only as {:?}; [arxiv] announce_types is {:?}",
            announced.iter().map(|a| &a.1).collect::<Vec<_>>(),
            wanted_types
        )
    })
}

/// What picked the paper for a verdict or left it out: the embedding prefilter (with the
/// paper's rank and similarity) or the title triage.
fn triage_fact(
    d: &Decision,
    e: &crate::config::EmbeddingsConfig,
    keyword: Option<&str>,
) -> (&'static str, String) {
    const ALWAYS: u32 = crate::scoring::ALWAYS_NEAREST;
    use crate::store::triage::Reason;
    match (d.reason, d.kept) {
        (Reason::Nearest { rank, similarity }, true) => ("nearest", format!(
            "kept by the embedding prefilter: rank {rank} among the reader's papers of its day, similarity {similarity:.3}"
        )),
        (Reason::Nearest { rank, similarity }, false) => ("nearest", format!(
            "left out by the embedding prefilter: rank {rank} among the reader's papers of its day, similarity {similarity:.3} (a verdict goes to the 3 nearest, and up to the {} nearest that stand {:.1} standard deviations above the reader's median, with similarity {:.3} or more; lower [embeddings] min_z or raise top_k to look further)",
            e.top_k, e.min_z, e.min_similarity
        )),
        (Reason::Placed { rank, similarity, nearness }, kept) => ("nearest", format!(
            "{}: rank {rank} among the reader's papers of its day, cosine {similarity:.3} to its nearest piece of the profile, nearness {nearness:.2} (robust standard deviations above the day's median; straight to a verdict: the {ALWAYS} nearest, and up to the {} nearest with nearness {:.1} or more, cosine {:.3} or more)",
            if kept { "sent straight to a verdict by the embedding stage" } else { "ordered by the embedding stage, which sent it on to the title triage" },
            e.top_k, e.min_z, e.min_similarity
        )),
        (Reason::Keyword, true) => ("triage", format!("kept for a verdict without asking: {}", keyword.unwrap_or("one of the reader's keywords (no longer in the profile)"))),
        (reason, true) => ("triage", format!("kept for a verdict ({})", reason.as_str())),
        (_, false) => ("triage", "dropped by the title triage: the model judged the title not worth a full read for this reader".to_string()),
    }
}

/// The stored verdict and whether it passes the reader's thresholds; without a verdict, why
/// (unless the paper is pinned by a followed author, which is never scored).
fn verdict_facts(
    scorer: &Scorer,
    sub: &Subscriber,
    verdict: Option<&Verdict>,
    no_followed_author: bool,
) -> Vec<(&'static str, String)> {
    let thresholds = format!(
        "relevance ≥ {}{}",
        sub.min_relevance,
        if scorer.is_keyword() {
            String::new()
        } else {
            format!(", novelty ≥ {}", sub.min_novelty)
        }
    );
    match verdict {
        Some(v) => {
            let passes = sub.passes(v);
            vec![
                (
                    "verdict",
                    format!(
                        "relevance {}, novelty {} ({}){}",
                        v.relevance,
                        v.novelty.map_or("not assessed".into(), |n| n.to_string()),
                        scorer.model_name(),
                        if v.comment.is_empty() { String::new() } else { format!(": {}", crate::support::text::plain(&v.comment)) }
                    ),
                ),
                (
                    "thresholds",
                    format!("{thresholds}: {}", if passes { "passes" } else { "does not pass" }),
                ),
            ]
        }
        None if no_followed_author => vec![(
            "verdict",
            format!("none stored for the reader's current topics with {} (topics changed since, or never scored)", scorer.model_name()),
        )],
        None => Vec::new(),
    }
}

/// Why the paper is still owed to the reader.
fn owed_fact(kind: &str, detail: Option<&str>) -> String {
    format!(
        "could not be scored yet ({kind}{}); the next run scores it and sends it if it passes",
        detail.map(|d| format!(": {d}")).unwrap_or_default()
    )
}

/// Whether and how the paper reached the reader's digest.
fn digest_fact(facts: &Facts, max_papers: usize) -> String {
    match (facts.sent_on, facts.place) {
        (Some(day), _) if facts.from_library => format!(
            "never sent: it is in the reader's library (imported on {day}), so it is not offered as new"
        ),
        (Some(day), Some((n, false))) => match &facts.rank {
            Some(r) => format!(
                "sent on {day} as paper {n}, score {} = {}{}",
                r.shown(),
                r.parts(),
                r.reason
                    .as_deref()
                    .map(|m| format!(" (matches: {m})"))
                    .unwrap_or_default()
            ),
            None => format!("sent on {day} as paper {n}"),
        },
        (Some(day), Some((n, true))) => format!(
            "listed by title on {day} as {n}, past the reader's limit of {max_papers} papers a day"
        ),
        (Some(day), None) => format!("sent on {day}"),
        (None, _) => "not sent to this reader".to_string(),
    }
}

/// The facts as one pretty JSON object.
fn print_json(
    paper: &Paper,
    sub: &Subscriber,
    lines: &[(&str, String)],
    facts: &Facts,
) -> Result<(), Failure> {
    let v = serde_json::json!({
        "id": paper.id.as_str(),
        "title": paper.title,
        "reader": sub.email.to_string(),
        "facts": lines.iter().map(|(k, v)| serde_json::json!({"what": k, "says": v})).collect::<Vec<_>>(),
        "verdict": facts.verdict.as_ref().map(|v| serde_json::json!({"relevance": v.relevance.get(), "novelty": v.novelty.map(|n| n.get()), "comment": v.comment})),
        "sent_on": facts.sent_on.map(|d| d.to_string()),
        "place": facts.place.map(|(n, _)| n),
        "rank": facts.rank,
        "embedding_stage": facts.placed.map(|d| decision_json(&d)),
        "triage": facts.triage.map(|d| decision_json(&d)),
    });
    println!("{}", serde_json::to_string_pretty(&v).context("json")?);
    Ok(())
}

/// A stored decision with its numbers, for `--json`.
fn decision_json(d: &Decision) -> serde_json::Value {
    use crate::store::triage::Reason;
    let mut v = serde_json::json!({"kept": d.kept, "reason": d.reason.as_str()});
    match d.reason {
        Reason::Placed {
            rank,
            similarity,
            nearness,
        } => {
            v["rank"] = rank.into();
            v["cosine"] = serde_json::json!((similarity * 1e3).round() / 1e3);
            v["nearness"] = serde_json::json!((nearness * 1e2).round() / 1e2);
        }
        Reason::Nearest { rank, similarity } => {
            v["rank"] = rank.into();
            v["cosine"] = serde_json::json!((similarity * 1e3).round() / 1e3);
        }
        _ => {}
    }
    v
}

/// The facts as text: the paper, the reader, then one line per fact.
fn print_text(paper: &Paper, sub: &Subscriber, lines: &[(&str, String)]) {
    let mut out = std::io::stdout().lock();
    let untrusted = super::output::untrusted;
    let _ = writeln!(out, "{}  {}", paper.id, untrusted(&paper.title));
    let _ = writeln!(out, "for {} <{}>", untrusted(&sub.name), sub.email);
    for (what, says) in lines {
        let _ = writeln!(out, "  {what:<11} {}", untrusted(says));
    }
}
