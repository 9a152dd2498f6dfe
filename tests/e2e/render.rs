//! The digest as readers read it (issue 9): a 50-paper day with a followed author and the
//! model's markdown comments, in the mail and in Chromium at phone and desktop widths; and the
//! web archive two days make.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::browser;
use crate::helpers::*;
use crate::operations::next_day_feed;
use crate::scoring::FEED_BENCH;

/// A reader whose seed-style keywords match most titles of the 174-paper day, so more than 50
/// papers pass; they follow an author with TeX in the feed (`Hern\'andez-P\'erez`).
const BROAD_READER: &str = r#"
[[subscriber]]
email = "ada@lab.example.org"
name = "Ada Lovelace"
max_papers = 50
authors = ["Francisco E. Hernández-Pérez"]
topics = """
## Relevant Topics
Use the following relevance criteria to focus on foundational research.

**Keywords:**
- Relevant: learning, model, network, neural, data, training
- Not relevant: purely applied work

**Details:** the reader works on **model compression** and representation learning, and much more
that is described over many lines of this file that the footer should not repeat in full.
"""
"#;

#[tokio::test]
async fn a_fifty_paper_day_fits_under_the_clip_and_reads_well() {
    let app = TestApp::spawn(Options {
        subscribers: BROAD_READER.into(),
        feed: Some(FEED_BENCH),
        batch_size: 100,
        behaviour: Behaviour {
            markdown_comments: true,
            ..Default::default()
        },
        // Replies are read, so each card can teach the ranking.
        imap_users: vec!["digest@lab.example.org"],
        ..Default::default()
    })
    .await;
    let run = app.run(&["digest"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let ada = app.received_by("ada@lab.example.org").pop().unwrap();

    // Under Gmail's clip as sent (after its transfer encoding), measured on the raw message.
    let sent = html_part_as_sent(&ada.raw);
    assert!(sent <= 90_000, "the HTML part is {sent} bytes as sent");
    println!(
        "HTML part of the 50-paper day: {} bytes decoded, {sent} as sent, {} abstracts cut",
        ada.html.len(),
        ada.html.matches(">full abstract<").count()
    );
    let full = ada.html.matches("<h2 id=\"paper-").count();
    assert_eq!(
        full, 10,
        "the best 10 in full (the reader's `full_cards` default)"
    );
    let lines = ada
        .html
        .split("<h2 id=\"also\">")
        .nth(1)
        .expect("the rest, a line each")
        .split("</ol>")
        .next()
        .unwrap();
    let followed = ada.html.matches("<div class=\"pk\" id=\"paper-").count();
    assert_eq!(
        followed, 1,
        "the followed author's paper in its own section"
    );
    assert_eq!(lines.matches("<li id=\"paper-").count(), 50 - 10 - followed);
    // The followed authors' papers come right after the top picks, before the full cards.
    assert!(
        ada.html.find("<h2 id=\"followed\">").unwrap()
            < ada.html.find("<h2 id=\"paper-6\">").unwrap()
    );
    assert!(
        lines.matches("class=\"tl\"").count() >= 20,
        "the one-line papers carry their TL;DR"
    );
    let card = |n: usize| {
        let c = ada
            .html
            .split(&format!("<h2 id=\"paper-{n}\">"))
            .nth(1)
            .unwrap();
        c.split("<hr>").next().unwrap().to_string()
    };
    // The mail is for deciding: its cards leave the abstract to arXiv and the archive's page
    // (scores, TL;DR, why, authors, links); each links to the paper.
    for n in 1..=10 {
        let c = card(n);
        assert!(
            c.contains("href=\"https://arxiv.org/abs/") && c.contains("<p class=\"why\">Why: "),
            "{c}"
        );
    }
    // Every paper the mail names can teach the ranking in one click — top picks, full cards,
    // the followed author's, one-liners and those past the limit: a mailto to the digest's
    // one-click address (its `+` percent-encoded) with the command as subject and body.
    let named: BTreeSet<&str> = ada
        .html
        .split("href=\"https://arxiv.org/abs/")
        .skip(1)
        .map(|s| s.split('"').next().unwrap())
        .collect();
    assert!(named.len() > 50, "{}", named.len());
    for id in &named {
        for way in ["more", "less"] {
            let command = format!("{way}%20like%20{}", id.replace('.', "%2E"));
            assert!(
                ada.html
                    .contains(&format!("?subject={command}&amp;body={command}\">")),
                "no \"{way} like\" link for {id}"
            );
        }
    }
    assert!(ada.html.contains("href=\"mailto:digest%2Bclick-"));
    assert!(
        !ada.html.contains("href=\"mailto:digest+"),
        "a bare + in a mailto"
    );
    // No in-mail anchors (Gmail's apps do not follow them).
    assert!(!ada.html.contains("href=\"#"), "an in-mail anchor");
    // A text-only client (mutt) has no links to click: each full card says what to reply.
    assert!(
        ada.text
            .contains("More or less like this: reply \"more like 2\" or \"less like 2\"."),
        "{}",
        ada.text
    );

    // Each of the top five says why in one line, and the shown scores never go up down the
    // mail (top picks, then the full cards and the one-liners in their order).
    let top = ada.html.split("<h2 id=\"top\"").nth(1).unwrap();
    let top = top.split("<h2 id=\"followed\">").next().unwrap();
    assert_eq!(
        top.matches("<h2 id=\"paper-").count(),
        5,
        "the top five, as cards"
    );
    assert_eq!(top.matches("<p class=\"why\">Why: ").count(), 5, "{top}");
    let scores = |html: &str| -> Vec<u32> {
        html.split("/100")
            .filter_map(|before| {
                let digits: String = before
                    .chars()
                    .rev()
                    .take_while(char::is_ascii_digit)
                    .collect();
                digits.chars().rev().collect::<String>().parse().ok()
            })
            .collect()
    };
    // (The followed author's paper sits between the top five and paper 6, in its own section.)
    let after_followed = ada.html.split("<h2 id=\"paper-6\">").nth(1).unwrap();
    let rest = after_followed.split("<h2 id=\"more\">").next().unwrap();
    let ranked: Vec<u32> = scores(top).into_iter().chain(scores(rest)).collect();
    assert!(ranked.len() >= 49, "{ranked:?}");
    assert!(
        ranked.windows(2).all(|w| w[0] >= w[1]),
        "shown out of order: {ranked:?}"
    );
    println!("scores shown, in order: {ranked:?}");

    // The cap is honest: how many passed, and the rest listed by title.
    let more = ada
        .html
        .split("<h2 id=\"more\">")
        .nth(1)
        .expect("a list of the rest");
    let listed = more.split("</ol>").next().unwrap().matches("<li>").count();
    assert!(listed > 0);
    assert!(ada
        .html
        .contains(&format!("{listed} more that passed your thresholds")));
    let flat = ada.text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains(&format!(
            "{} of the 174 new arXiv papers today passed your thresholds; 10 in full below; 1 by authors you follow.",
            49 + listed
        )),
        "{flat}"
    );
    assert_eq!(
        ada.subject,
        format!("arXiv digest Fri 28 Mar 2025: {} papers", 50 + listed)
    );
    // Listed papers count as sent: a later digest never offers them again.
    let recorded = app.count(
        "SELECT json_array_length(paper_ids) FROM deliveries WHERE subscriber = 'ada@lab.example.org'",
    );
    assert_eq!(recorded as usize, 50 + listed);

    // The followed author's paper says who, with whom, and has its verdict and TL;DR.
    let followed = ada.html.split("<h2 id=\"followed\">").nth(1).unwrap();
    let followed = followed.split("<hr>").next().unwrap();
    assert!(
        followed.contains("★ <strong>Francisco E. Hernández-Pérez</strong> with "),
        "{followed}"
    );
    assert!(followed.contains("class=\"b2\">Relevance "), "{followed}");
    assert!(followed.contains("class=\"tl\""), "{followed}");
    assert!(ada
        .text
        .contains("Francisco E. Hernández-Pérez (followed) with"));

    // The model's markdown and TeX are rendered, never raw.
    assert!(ada.html.contains("<strong>Model Compression</strong>"));
    assert!(ada.html.contains("∼600 × fewer FLOPs"));
    for body in [&ada.html, &ada.text] {
        assert!(!body.contains("**"), "raw markdown");
        assert!(!body.contains("$\\"), "raw TeX");
    }
    // Scores and comment come before the abstract; PDF and back links on every card.
    let card = ada.html.split("<h2 id=\"paper-2\">").nth(1).unwrap();
    let card = card.split("<hr>").next().unwrap();
    let (verdict, abstract_at) = (
        card.find("Relevance ").unwrap(),
        card.find("class=\"au\"").unwrap(),
    );
    assert!(verdict < abstract_at, "{card}");
    // Every arXiv reader's links: abstract, PDF, the HTML version and BibTeX.
    for link in [
        "https://arxiv.org/abs/",
        "https://arxiv.org/pdf/",
        "https://arxiv.org/html/",
        "https://arxiv.org/bibtex/",
    ] {
        assert!(card.contains(link), "{link}: {card}");
    }

    // The inbox preview names the top papers, not the token table.
    let first_title = ada
        .html
        .split("<h2 id=\"paper-1\">1. <a href=\"")
        .nth(1)
        .unwrap();
    let first_title = first_title
        .split_once("\">")
        .unwrap()
        .1
        .split('<')
        .next()
        .unwrap();
    let preheader = ada.html.split("mso-hide:all").nth(1).unwrap();
    assert!(
        preheader[..400].contains(first_title),
        "{}",
        &preheader[..400]
    );

    // The footer: a short topics summary, the model by name only, a mailto to change things.
    let footer = ada.html.split("Your selection").nth(1).unwrap();
    assert!(footer.contains(
        "Topics: Relevant Topics Use the following relevance criteria to focus on foundational research."
    ));
    assert!(
        !footer.contains("that the footer should not repeat"),
        "a summary, not the file"
    );
    assert!(footer.contains("Scored by gpt-4o-mini."));
    assert!(footer.contains("Reply to this email to change your digest"));
    let endpoint = app.llm.server.uri();
    for body in [&ada.html, &ada.text] {
        assert!(
            !body.contains(&endpoint),
            "the model's endpoint reached a reader"
        );
    }
    // Dark mode and Outlook.
    assert!(ada
        .html
        .contains("<meta name=\"color-scheme\" content=\"light dark\">"));
    assert!(ada.html.contains("@media (prefers-color-scheme:dark)"));
    assert!(ada
        .html
        .contains("role=\"presentation\" class=\"box\" width=\"600\""));
    // The cost table is at the end, after the footer.
    assert!(
        ada.html.find("<th scope=\"col\">Prompt</th>").unwrap()
            > ada.html.find("Your selection").unwrap()
    );

    // Plain text: 78 columns, URLs whole.
    for line in ada.text.lines() {
        let long = line.chars().count() > 78;
        assert!(
            !long || !line.trim().contains(' ') && line.trim().starts_with("http"),
            "a line over 78 columns that is not a lone URL: {line:?}"
        );
    }

    // In a browser, at a phone's and a desktop's width: the first paper's title and TL;DR on
    // the first screen (within 800 px at 375 px).
    let page = app.dir.path().join("digest.html");
    std::fs::write(&page, &ada.html).unwrap();
    // For people: the mail's two parts, to open in a browser and a pager (what mutt shows).
    std::fs::write(browser::screenshots().join("digest.html"), &ada.html).unwrap();
    std::fs::write(browser::screenshots().join("digest.txt"), &ada.text).unwrap();
    for width in [375, 900] {
        let title = browser::look(&page, width, 812, "#paper-1 a", "digest");
        let seen = browser::look(&page, width, 812, "p.tl", "digest");
        assert_eq!(seen.width, width as f64);
        assert!(
            seen.scroll_width <= seen.width,
            "horizontal scroll at {width} px: content is {} px wide",
            seen.scroll_width
        );
        let top = title.first_top.expect("the first paper is at the top");
        let bottom = seen
            .first_bottom
            .expect("the first paper has its TL;DR at the top");
        println!(
            "at {width} px: first title at {top} px, its TL;DR ends at {bottom} px; the mail is {} px long",
            seen.scroll_height
        );
        if width == 375 {
            assert!(
                seen.scroll_height <= 10_000.0,
                "the mail is {} px long at 375 px (twelve phone screens are about 10,000)",
                seen.scroll_height
            );
        }
        assert!(
            seen.height >= 800.0,
            "a phone's first screen is {} px",
            seen.height
        );
        assert!(
            top >= 0.0 && bottom <= 800.0,
            "the first paper's title is at {top} px and its TL;DR ends at {bottom} px at {width} px"
        );
        assert!(seen.text.contains(first_title));
        assert!(!seen.text.contains("**") && !seen.text.contains("$\\"));
    }
}

/// The bytes the HTML part takes in the message as sent (its encoded body, not decoded).
fn html_part_as_sent(raw: &[u8]) -> usize {
    let raw = String::from_utf8_lossy(raw).replace("\r\n", "\n");
    let part = raw
        .split("Content-Type: text/html")
        .nth(1)
        .expect("an HTML part");
    let body = part.split_once("\n\n").expect("part headers end").1;
    let body = &body[..body.find("\n--").unwrap_or(body.len())];
    // On the wire every line ends in CRLF.
    body.len() + body.lines().count()
}

/// Every relative link in the HTML files under `dir`, as (page, target path).
fn relative_links(dir: &Path) -> Vec<(PathBuf, PathBuf)> {
    let mut out = Vec::new();
    for page in html_files(dir) {
        let html = std::fs::read_to_string(&page).unwrap();
        for part in html.split("href=\"").skip(1) {
            let href = part.split('"').next().unwrap();
            if href.starts_with("http") || href.starts_with("mailto:") || href.starts_with('#') {
                continue;
            }
            let file = href.split('#').next().unwrap();
            out.push((page.clone(), page.parent().unwrap().join(file)));
        }
    }
    out
}

fn html_files(dir: &Path) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(html_files(&p));
        } else if p.extension().is_some_and(|x| x == "html") {
            out.insert(p);
        }
    }
    out
}

#[tokio::test]
async fn two_days_make_an_archive_whose_links_all_resolve() {
    // Keyword mode (no API key): the same layout, the same archive.
    let app = TestApp::spawn(Options {
        api_key: false,
        extra_config:
            "[archive]\ndir = \"archive\"\nbase_url = \"https://lab.example.org/papers/\"\n".into(),
        ..Default::default()
    })
    .await;
    let friday = app.run(&["digest"]).await;
    assert_eq!(friday.code, 0, "{}", friday.stderr);
    let monday_feed = next_day_feed(&app);
    let monday = app
        .run(&["digest", "--feed", monday_feed.to_str().unwrap()])
        .await;
    assert_eq!(monday.code, 0, "{}", monday.stderr);

    let archive = app.dir.path().join("archive");
    let keys: Vec<(String, String)> = app
        .db()
        .prepare("SELECT subscriber, key FROM archive_keys ORDER BY subscriber")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(keys.len(), 2, "one folder per reader");
    for (email, key) in &keys {
        assert!(key.len() == 32 && key.chars().all(|c| c.is_ascii_hexdigit()));
        let root = archive.join(key);
        for day in ["2025-03/2025-03-28.html", "2025-03/2025-03-31.html"] {
            assert!(root.join(day).is_file(), "{email}: {day}");
        }
        let friday = std::fs::read_to_string(root.join("2025-03/2025-03-28.html")).unwrap();
        assert!(
            friday.contains("href=\"../2025-03/2025-03-31.html\">Next Day 2025-03-31"),
            "the earlier day learns of the later one"
        );
        let monday = std::fs::read_to_string(root.join("2025-03/2025-03-31.html")).unwrap();
        assert!(monday.contains("href=\"../2025-03/2025-03-28.html\">← Previous Day 2025-03-28"));
        assert!(monday.contains("Monthly Overview 2025-03"));
        let month = std::fs::read_to_string(root.join("2025-03/index.html")).unwrap();
        assert!(
            month.contains("href=\"2025-03-28.html\"")
                && month.contains("href=\"2025-03-31.html\"")
        );
        // No page names a reader: not this one's address, nor the other's.
        for page in html_files(&root) {
            let html = std::fs::read_to_string(&page).unwrap();
            for (other, _) in &keys {
                assert!(
                    !html.contains(other.as_str()),
                    "{} names {other}",
                    page.display()
                );
            }
        }
        // The mail links to its page.
        let mail = app.received_by(email).pop().unwrap();
        let url = format!("https://lab.example.org/papers/{key}/2025-03/2025-03-31.html");
        assert!(
            mail.html
                .contains(&format!("href=\"{url}\">View in browser")),
            "{email}"
        );
        assert!(mail.text.contains(&url));
        // Keyword mode, same layout.
        assert!(mail.html.contains("Scored by keywords"), "{}", mail.text);
        if !mail.subject.contains("nothing matched") {
            assert!(
                mail.html.contains("id=\"top\"") && mail.html.contains("class=\"b2\">Relevance ")
            );
        }
    }
    assert!(
        archive.join("index.html").is_file(),
        "no listing of the readers' folders"
    );

    // Each reader's Atom feed, read with a real feed parser: their papers, nobody else's.
    for (email, key) in &keys {
        let xml = std::fs::read(archive.join(key).join("feed.xml")).unwrap();
        let feed = feed_rs::parser::parse(xml.as_slice()).expect("valid Atom");
        assert_eq!(feed.feed_type, feed_rs::model::FeedType::Atom);
        assert!(feed.updated.is_some() && feed.title.is_some());
        assert!(feed.links.iter().any(|l| l.rel.as_deref() == Some("self")
            && l.href == format!("https://lab.example.org/papers/{key}/feed.xml")));
        // RFC 4287: a feed author, and a link to the reader's pages.
        assert_eq!(feed.authors[0].name.as_deref(), Some("paperboy"));
        assert!(feed
            .links
            .iter()
            .any(|l| l.rel.as_deref() == Some("alternate")
                && l.href == format!("https://lab.example.org/papers/{key}/")));
        // Within a day, entries in rank order by distinct `updated`; each names its authors.
        let mut stamps: Vec<_> = feed.entries.iter().map(|e| e.updated).collect();
        let n = stamps.len();
        stamps.dedup();
        assert_eq!(stamps.len(), n, "{email}: no two entries at the same time");
        assert!(feed.entries.iter().all(|e| !e.authors.is_empty()));
        let sent: Vec<String> = app
            .db()
            .prepare("SELECT paper_id FROM sent_papers WHERE subscriber = ?1")
            .unwrap()
            .query_map([email], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(
            feed.entries.len(),
            sent.len(),
            "{email}: one entry per paper sent"
        );
        if email.starts_with("ada@") {
            assert!(!feed.entries.is_empty(), "Ada has papers in her feed");
        }
        for entry in &feed.entries {
            let link = &entry.links[0].href;
            let id = link.trim_start_matches("https://arxiv.org/abs/");
            assert!(
                sent.contains(&id.to_string()),
                "{email}'s feed lists {id}, not theirs"
            );
            assert!(entry.summary.as_ref().is_some_and(
                // The score as the digest shows it ("Score 84/100. …").
                |s| s.content.starts_with("Score ") && s.content.contains("/100")
                    || s.content.starts_with("Author match")
            ));
        }
        let day =
            std::fs::read_to_string(archive.join(key).join("2025-03/2025-03-31.html")).unwrap();
        assert!(
            day.contains("<link rel=\"alternate\" type=\"application/atom+xml\""),
            "the pages point to the feed"
        );
    }

    let links = relative_links(&archive);
    assert!(links.len() > 10);
    for (page, target) in &links {
        assert!(
            target.is_file(),
            "{} links to missing {}",
            page.display(),
            target.display()
        );
    }

    // A rebuild from the store writes the same files.
    let before = html_files(&archive);
    std::fs::remove_dir_all(&archive).unwrap();
    let rebuild = app.run(&["archive", "rebuild"]).await;
    assert_eq!(rebuild.code, 0, "{}", rebuild.stderr);
    assert!(
        rebuild.stdout.contains("Wrote 4 day pages for 2 readers"),
        "{}",
        rebuild.stdout
    );
    assert_eq!(html_files(&archive), before);
}

/// Issue 33: the mail and the archive's day page fit a phone from 320 px up, with a 70-character
/// archive address and a 40-character reader address (the footer's feed link and unsubscribe
/// address are where a mail grew to 469 px on every phone).
#[tokio::test]
async fn the_mail_and_the_archive_fit_every_phone_with_long_addresses() {
    const LONG_READER: &str = "ada.lovelace-king@analytical-engine.ac.uk";
    let base = "https://papers.department-of-computing.university.example.ac.uk/paperboy/";
    assert!(
        LONG_READER.len() >= 40 && base.len() >= 70,
        "{} {}",
        LONG_READER.len(),
        base.len()
    );
    let app = TestApp::spawn(Options {
        subscribers: TWO_SUBSCRIBERS.replace("ada@lab.example.org", LONG_READER),
        imap_users: vec!["digest@lab.example.org", LONG_READER],
        extra_config: format!("[archive]\ndir = \"archive\"\nbase_url = \"{base}\"\n"),
        ..Default::default()
    })
    .await;
    let run = app.run(&["digest"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let mail = app.received_by(LONG_READER).pop().expect("the digest");
    let page = app.dir.path().join("phone.html");
    std::fs::write(&page, &mail.html).unwrap();
    let day = app.archive_dir(LONG_READER).join("2025-03/2025-03-28.html");
    // The archive's day page teaches like the mail: the same one-click links for each paper.
    let archived = std::fs::read_to_string(&day).unwrap();
    let links = |html: &str| -> BTreeSet<String> {
        html.split("href=\"mailto:")
            .skip(1)
            .map(|s| s.split('"').next().unwrap().replace("&amp;", "&"))
            .filter(|href| href.contains("like%20"))
            .collect()
    };
    assert!(
        !links(&archived).is_empty(),
        "no more/less links on the archive page"
    );
    assert_eq!(links(&archived), links(&mail.html));
    for (what, path) in [("the mail", &page), ("the archive day page", &day)] {
        for width in [320, 375] {
            let seen = browser::look(path, width, 700, "body", "phone");
            assert_eq!(seen.width, width as f64);
            assert!(
                seen.scroll_width <= seen.width,
                "{what} is {} px wide at {width} px",
                seen.scroll_width
            );
        }
    }
}

/// A reader with three topics gets the cards after the top five under the topic each matches
/// best, in the order of each group's best paper, the rest under "Other papers"; each card
/// keeps its number.
#[tokio::test]
async fn cards_go_under_the_readers_topics() {
    let app = TestApp::spawn(Options {
        subscribers: "[[subscriber]]\nemail = \"ada@lab.example.org\"\nname = \"Ada\"\nmin_relevance = 1\nmin_novelty = 1\nfull_cards = 15\ntopics = \"\"\"\n- Language models\n- Neural networks\n- Representation learning\n\"\"\"\n".into(),
        feed: Some(FEED_BENCH),
        batch_size: 100,
        ..Default::default()
    })
    .await;
    let run = app.run(&["digest"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let ada = app.received_by("ada@lab.example.org").pop().unwrap();
    // (The top five come before the first heading; one-liners are not cards.)
    let groups: Vec<&str> = ada.html.split("<h2 class=\"grp\">").skip(1).collect();
    assert!(groups.len() >= 2, "{}", ada.html);
    let mut numbers = Vec::new();
    for g in &groups {
        let heading = g.split(" (").next().unwrap();
        let cards: Vec<usize> = g
            .split("<h2 id=\"paper-")
            .skip(1)
            .map(|c| c.split('"').next().unwrap().parse().unwrap())
            .collect();
        assert!(!cards.is_empty(), "{heading}");
        assert!(
            cards.windows(2).all(|w| w[0] < w[1]),
            "{heading}: {cards:?}"
        );
        if heading != "Other papers" {
            assert!(
                [
                    "Language models",
                    "Neural networks",
                    "Representation learning"
                ]
                .contains(&heading),
                "{heading}"
            );
        }
        // The plain part groups them the same way.
        assert!(
            ada.text
                .contains(&format!("\n{heading} ({})\n", cards.len())),
            "{heading}: {}",
            ada.text
        );
        numbers.extend(cards);
    }
    numbers.sort();
    assert_eq!(numbers, (6..=15).collect::<Vec<_>>(), "every card once");
    let page = app.dir.path().join("grouped.html");
    std::fs::write(&page, &ada.html).unwrap();
    std::fs::write(browser::screenshots().join("grouped.html"), &ada.html).unwrap();
    let seen = browser::look(&page, 375, 812, "h2.grp", "grouped");
    assert!(seen.first_top.is_some());
    assert!(seen.scroll_width <= seen.width);
}
