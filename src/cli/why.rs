//! `paperboy why ARXIV_ID --for EMAIL`: why a paper did or did not reach a reader, from what the
//! store knows: the announcement, the reader's categories and followed authors, the title triage,
//! the verdict against their thresholds, the cap, and what was sent or is still owed.

use std::io::Write as _;

use anyhow::Context as _;
use chrono::NaiveDate;
use clap::Args;

use super::digest::build_app;
use super::{Failure, EXIT_OK};
use crate::config::Config;
use crate::digest::StoredPage;
use crate::domain::followed_authors;
use crate::domain::{Paper, PaperId, SubscriberEmail, Verdict};
use crate::store::triage::Decision;
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
    sent_on: Option<NaiveDate>,
    /// Position in that day's digest (1-based) and whether it was only listed past the cap.
    place: Option<(usize, bool)>,
    /// Marked as known without a digest (a paper of the reader's imported library).
    from_library: bool,
    owed: Option<(String, Option<String>)>,
}

pub async fn run(config: Config, args: WhyArgs) -> Result<u8, Failure> {
    let subs = Subscribers::new(&config);
    let all = subs
        .load()
        .map_err(|e| Failure::usage(anyhow::anyhow!("{}", e.to_string().trim_end())))?;
    let Some(mut sub) = all.into_iter().find(|s| s.email == args.reader) else {
        return Err(Failure::usage(anyhow::anyhow!(
            "{} is not a subscriber (`paperboy subscribers list` shows them)",
            args.reader
        )));
    };
    let app = build_app(config).await?;
    let email = sub.email.to_string();
    {
        let e = email.clone();
        sub.examples = app
            .store
            .call(move |c| crate::store::inbox::examples(c, &e))
            .await?
            .into_iter()
            .map(|e| (e.more, e.title))
            .collect();
    }
    let key = app.scorer.key(&sub);
    let triage_key = app.scorer.triage_key(&sub);
    let id = args.id.clone();
    let facts = app
        .store
        .call(move |c| {
            let announced = crate::store::papers::appearances(c, &id)?;
            let paper = match announced.first() {
                Some((day, _)) => crate::store::papers::announced(c, *day)?
                    .into_iter()
                    .find(|p| p.id == id),
                None => None,
            };
            let ids = [id.clone()];
            let verdict = crate::store::verdicts::load(c, &key, &ids)?.remove(&id);
            let triage = match &triage_key {
                Some(k) => crate::store::triage::load(c, k, &ids)?.remove(&id),
                None => None,
            };
            let sent_on = crate::store::deliveries::sent_papers(c, &email)?
                .into_iter()
                .find(|(_, p, _)| p == &id)
                .map(|(d, _, _)| d);
            let place = match sent_on {
                Some(day) => crate::store::archive::page(c, &email, day)?
                    .and_then(|json| serde_json::from_str::<StoredPage>(&json).ok())
                    .and_then(|page| {
                        let shown = page.entries.iter().position(|e| e.id == id);
                        let more = page.more.iter().position(|e| e.id == id);
                        shown
                            .map(|i| (i + 1, false))
                            .or(more.map(|i| (page.entries.len() + i + 1, true)))
                    }),
                None => None,
            };
            let from_library = match sent_on {
                Some(day) => crate::store::deliveries::get(c, &email, day)?.is_none(),
                None => false,
            };
            let owed = c
                .query_row(
                    "SELECT problem, detail FROM owed WHERE subscriber = ?1 AND paper_id = ?2",
                    rusqlite::params![email, id.as_str()],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .ok();
            Ok(Facts {
                paper,
                announced,
                verdict,
                triage,
                sent_on,
                place,
                from_library,
                owed,
            })
        })
        .await?;

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
    let mut lines: Vec<(&str, String)> = Vec::new();
    let Some(paper) = &facts.paper else {
        let msg = format!(
            "paperboy has not seen {} in any announcement it fetched (categories {}).",
            args.id,
            app.config
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
        return Ok(EXIT_OK);
    };
    let days: Vec<String> = facts
        .announced
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
    lines.push(("announced", days.join(", ")));
    let in_cats = paper.categories.iter().any(|c| categories.contains(c));
    let cats: Vec<&str> = paper.categories.iter().map(|c| c.as_str()).collect();
    lines.push((
        "categories",
        if in_cats {
            format!("{} — in the reader's categories", cats.join(", "))
        } else {
            format!(
                "{} — none is among the reader's categories, so it was never considered",
                cats.join(", ")
            )
        },
    ));
    let typed = facts
        .announced
        .iter()
        .any(|(_, t)| wanted_types.contains(&t.as_str()));
    if !typed {
        lines.push((
            "type",
            format!(
                "announced only as {:?}; [arxiv] announce_types is {:?}",
                facts.announced.iter().map(|a| &a.1).collect::<Vec<_>>(),
                wanted_types
            ),
        ));
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
    if let Some(d) = &facts.triage {
        lines.push((
            "triage",
            if d.kept {
                format!("kept by the title triage ({})", d.reason.as_str())
            } else {
                "dropped by the title triage: the model judged the title not worth a full read for this reader".to_string()
            },
        ));
    }
    let thresholds = format!(
        "relevance ≥ {}{}",
        sub.min_relevance,
        if app.scorer.is_keyword() {
            String::new()
        } else {
            format!(", novelty ≥ {}", sub.min_novelty)
        }
    );
    match &facts.verdict {
        Some(v) => {
            let passes = sub.passes(v);
            lines.push((
                "verdict",
                format!(
                    "relevance {}, novelty {} ({}){}",
                    v.relevance,
                    v.novelty.map_or("not assessed".into(), |n| n.to_string()),
                    app.scorer.model_name(),
                    if v.comment.is_empty() { String::new() } else { format!(": {}", crate::support::text::plain(&v.comment)) }
                ),
            ));
            lines.push((
                "thresholds",
                format!("{thresholds}: {}", if passes { "passes" } else { "does not pass" }),
            ));
        }
        None if followed.is_empty() => lines.push((
            "verdict",
            format!("none stored for the reader's current topics with {} (topics changed since, or never scored)", app.scorer.model_name()),
        )),
        None => {}
    }
    if let Some((kind, detail)) = &facts.owed {
        lines.push((
            "owed",
            format!("could not be scored yet ({kind}{}); the next run scores it and sends it if it passes", detail.as_ref().map(|d| format!(": {d}")).unwrap_or_default()),
        ));
    }
    lines.push((
        "digest",
        match (facts.sent_on, facts.place) {
            (Some(day), _) if facts.from_library => format!(
                "never sent: it is in the reader's library (imported on {day}), so it is not offered as new"
            ),
            (Some(day), Some((n, false))) => format!("sent on {day} as paper {n}"),
            (Some(day), Some((n, true))) => format!(
                "listed by title on {day} as {n}, past the reader's limit of {} papers a day",
                sub.max_papers
            ),
            (Some(day), None) => format!("sent on {day}"),
            (None, _) => "not sent to this reader".to_string(),
        },
    ));

    if args.json {
        let v = serde_json::json!({
            "id": paper.id.as_str(),
            "title": paper.title,
            "reader": sub.email.to_string(),
            "facts": lines.iter().map(|(k, v)| serde_json::json!({"what": k, "says": v})).collect::<Vec<_>>(),
            "verdict": facts.verdict.as_ref().map(|v| serde_json::json!({"relevance": v.relevance.get(), "novelty": v.novelty.map(|n| n.get()), "comment": v.comment})),
            "sent_on": facts.sent_on.map(|d| d.to_string()),
        });
        println!("{}", serde_json::to_string_pretty(&v).context("json")?);
        return Ok(EXIT_OK);
    }
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}  {}", paper.id, paper.title);
    let _ = writeln!(out, "for {} <{}>", sub.name, sub.email);
    for (what, says) in lines {
        let _ = writeln!(out, "  {what:<11} {says}");
    }
    Ok(EXIT_OK)
}
