//! Beyond the tools paperboy replaces (issue 12): a TL;DR in each reader's language.

use crate::helpers::*;

const GERMAN_ADA: &str = r#"
[[subscriber]]
email = "ada@lab.example.org"
name = "Ada Lovelace"
topics = "Mixture-of-Experts, quantization and sparsity."
authors = ['Bj\"orn Schuller']
keywords = ["quantization"]
language = "de"

[[subscriber]]
email = "grace@lab.example.org"
name = "Grace Hopper"
topics = "Language models and how they learn."
"#;

#[tokio::test]
async fn each_reader_gets_a_tldr_in_their_language() {
    let app = TestApp::spawn(Options {
        subscribers: GERMAN_ADA.into(),
        ..Default::default()
    })
    .await;
    let run = app.run(&["digest"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let ada = app.received_by("ada@lab.example.org").pop().unwrap();
    let grace = app.received_by("grace@lab.example.org").pop().unwrap();
    // Every scored paper has its TL;DR under the title; the author match is not scored.
    let scored = ada.text.matches("\nRelevance: ").count();
    assert!(scored >= 2, "{}", ada.text);
    assert_eq!(
        ada.text.matches("TL;DR: Diese Arbeit untersucht").count(),
        scored,
        "{}",
        ada.text
    );
    assert_eq!(
        ada.html
            .matches("<p class=\"tl\">TL;DR: Diese Arbeit")
            .count(),
        scored
    );
    let card = ada.text.split("\nArXiv ID: ").nth(2).unwrap();
    assert!(!card.contains("This paper studies"), "German only for Ada");
    let g = grace.text.matches("\nRelevance: ").count();
    assert_eq!(
        grace.text.matches("TL;DR: This paper studies").count(),
        g,
        "{}",
        grace.text
    );
    // The model was asked in English words for German comments, for Ada only.
    let profiles = app.llm.state.profiles.lock().unwrap().join("\n");
    assert!(profiles.contains("Write this reader's COMMENT in German."));
    assert_eq!(
        profiles.matches("in German").count(),
        profiles.matches("Mixture-of-Experts").count()
    );
    // Each TL;DR was written once per paper and language, whoever reads it.
    let batches = app.llm.state.tldr_batches.lock().unwrap().clone();
    let mut asked: Vec<(String, String)> = batches
        .iter()
        .flat_map(|(l, ids)| ids.iter().map(move |id| (l.clone(), id.clone())))
        .collect();
    let n = asked.len();
    asked.sort();
    asked.dedup();
    assert_eq!(asked.len(), n, "no TL;DR asked twice: {batches:?}");
    // English TL;DRs came in the verdict lines, with the abstract already sent; only German
    // needed a call of its own.
    let languages: std::collections::BTreeSet<&str> =
        batches.iter().map(|(l, _)| l.as_str()).collect();
    assert_eq!(languages, ["German"].into_iter().collect(), "{batches:?}");
    let mut inline = app.llm.state.inline_tldrs.lock().unwrap().clone();
    inline.sort();
    inline.dedup();
    assert!(inline.len() >= g, "{inline:?}");
    assert_eq!(
        app.count("SELECT count(*) FROM tldrs WHERE language = 'German'"),
        n as i64,
        "stored with the paper"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM tldrs WHERE language = 'English'"),
        inline.len() as i64,
        "stored with the paper"
    );

    // The language is shown, and set like any other key.
    let show = app
        .run(&["subscribers", "show", "ada@lab.example.org"])
        .await;
    assert!(show.stdout.contains("de (German)"), "{}", show.stdout);
    let set = app
        .run(&[
            "subscribers",
            "set",
            "grace@lab.example.org",
            "language",
            "fr",
        ])
        .await;
    assert_eq!(set.code, 0, "{}", set.stderr);
    let bad = app
        .run(&[
            "subscribers",
            "set",
            "grace@lab.example.org",
            "language",
            "klingon",
        ])
        .await;
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("not a language tag"), "{}", bad.stderr);
}

#[tokio::test]
async fn without_a_model_the_tldr_is_the_abstracts_first_sentence() {
    let app = TestApp::spawn(Options {
        api_key: false,
        ..Default::default()
    })
    .await;
    assert_eq!(app.run(&["digest"]).await.code, 0);
    let ada = app.received_by("ada@lab.example.org").pop().unwrap();
    let card = ada.text.split("\nTL;DR: ").nth(1).expect("a TL;DR");
    let tldr: String = card
        .split("\n\n")
        .next()
        .unwrap()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(tldr.ends_with('.'), "{tldr}");
    let abstract_text: String = card
        .split("Abstract: ")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(abstract_text.starts_with(&tldr), "{tldr}\n{abstract_text}");
}

fn plain(from: &str, to: &str, id: &str, body: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: subscribe\r\nMessage-ID: {id}\r\nDate: {}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{}\r\n",
        crate::replies::date_of(id, "+0000"),
        body.replace('\n', "\r\n")
    )
    .into_bytes()
}

const OPEN: &str = "[subscribe]\nopen = true\nallowed_domains = [\"lab.example.org\"]\n";

#[tokio::test]
async fn subscribing_by_mail_takes_a_confirmation_from_the_same_address() {
    use crate::replies::*;
    let Setup { app, .. } = setup_with(OPEN).await;
    let nina = "nina@lab.example.org";
    let request = plain(
        nina,
        PAPERBOY,
        "<join-1@x>",
        "Subscribe\nname: Nina\ntopics: sparse attention\nfollow Yann LeCun\nlanguage: de",
    );
    smtp_send(app.smtp.port, nina, PAPERBOY, &request);
    assert_eq!(outcomes(&poll(&app).await), vec!["answered"]);
    assert!(
        !subscribers_file(&app).contains(nina),
        "not before the confirmation"
    );
    let confirmation = app.received_by(nina).pop().expect("a confirmation to Nina");
    assert!(
        confirmation.reply_to.starts_with("digest+join-"),
        "{}",
        confirmation.reply_to
    );
    // A short summary of what was asked, never the stranger's text as sent.
    assert!(
        confirmation.text.contains("name: Nina")
            && confirmation.text.contains("topics: 1 line (2 words")
            && confirmation.text.contains("follow: 1 author")
            && !confirmation.text.contains("sparse attention"),
        "{}",
        confirmation.text
    );

    // Someone else answering the confirmation (a leaked token) adds nobody.
    let join_to = confirmation.reply_to.clone();
    smtp_send(
        app.smtp.port,
        "mallory@evil.example.org",
        &join_to,
        &plain("mallory@evil.example.org", &join_to, "<join-evil@x>", "yes"),
    );
    assert_eq!(outcomes(&poll(&app).await), vec!["rejected"]);
    assert!(!subscribers_file(&app).contains(nina));

    // Nina answers from her own address: she is added, through the same edit path, audited.
    smtp_send(
        app.smtp.port,
        nina,
        &join_to,
        &plain(nina, &join_to, "<join-2@x>", "yes please"),
    );
    assert_eq!(outcomes(&poll(&app).await), vec!["applied"]);
    let file = subscribers_file(&app);
    let parsed: toml::Table = file.parse().expect("the file is still valid");
    let entry = parsed["subscriber"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["email"].as_str() == Some(nina))
        .expect("Nina's entry");
    assert_eq!(entry["name"].as_str(), Some("Nina"));
    assert_eq!(entry["topics"].as_str(), Some("sparse attention"));
    assert_eq!(
        entry["authors"].as_array().unwrap()[0].as_str(),
        Some("Yann LeCun")
    );
    assert_eq!(entry["language"].as_str(), Some("de"));
    assert!(
        file.contains("# Ada follows Björn Schuller"),
        "comments kept"
    );
    let history = app.run(&["subscribers", "history", nina, "--json"]).await;
    assert!(
        history.stdout.contains("self-subscribed"),
        "{}",
        history.stdout
    );
    let welcome = app.received_by(nina).pop().unwrap();
    assert!(welcome.subject.contains("Welcome"), "{}", welcome.subject);
    assert!(
        welcome.reply_to.starts_with("digest+"),
        "replies to the welcome steer the digest"
    );
    // The token was one-time: answering it again only says she is in.
    smtp_send(
        app.smtp.port,
        nina,
        &join_to,
        &plain(nina, &join_to, "<join-3@x>", "yes"),
    );
    assert_eq!(outcomes(&poll(&app).await), vec!["answered"]);
    assert!(app
        .received_by(nina)
        .pop()
        .unwrap()
        .text
        .contains("already receives"));

    // A request in someone else's name only mails them; outside the allowed domains, nothing.
    let victim = "victim@lab.example.org";
    smtp_send(
        app.smtp.port,
        victim,
        PAPERBOY,
        &plain(victim, PAPERBOY, "<forged@x>", "subscribe"),
    );
    assert_eq!(outcomes(&poll(&app).await), vec!["answered"]);
    assert!(!subscribers_file(&app).contains(victim));
    assert_eq!(
        app.received_by(victim).len(),
        1,
        "only a confirmation they can ignore"
    );
    let outsider = "someone@elsewhere.example.org";
    smtp_send(
        app.smtp.port,
        outsider,
        PAPERBOY,
        &plain(outsider, PAPERBOY, "<outside@x>", "subscribe"),
    );
    assert_eq!(outcomes(&poll(&app).await), vec!["rejected"]);
    assert!(app.received_by(outsider).is_empty());
    // Rate-limited: no mail-bombing a stranger through the digest address.
    for n in 0..3 {
        let id = format!("<bomb-{n}@x>");
        smtp_send(
            app.smtp.port,
            victim,
            PAPERBOY,
            &plain(victim, PAPERBOY, &id, "subscribe"),
        );
    }
    poll(&app).await;
    assert_eq!(
        app.received_by(victim).len(),
        3,
        "at most three subscribing mails a day per address"
    );
    // Nina has had her three subscribing mails today (confirmation, welcome, note): a fourth
    // request is counted against her and sends nothing.
    smtp_send(
        app.smtp.port,
        nina,
        PAPERBOY,
        &plain(nina, PAPERBOY, "<again@x>", "subscribe"),
    );
    assert_eq!(outcomes(&poll(&app).await), vec!["ignored"]);
    assert_eq!(app.received_by(nina).len(), 3);
}

#[tokio::test]
async fn with_approval_the_admin_lets_confirmed_readers_in() {
    use crate::replies::*;
    let Setup { app, .. } = setup_with(&format!("{OPEN}approve = true\n")).await;
    let nina = "nina@lab.example.org";
    smtp_send(
        app.smtp.port,
        nina,
        PAPERBOY,
        &plain(nina, PAPERBOY, "<a-1@x>", "subscribe"),
    );
    poll(&app).await;
    let join_to = app.received_by(nina).pop().unwrap().reply_to;
    smtp_send(
        app.smtp.port,
        nina,
        &join_to,
        &plain(nina, &join_to, "<a-2@x>", "yes"),
    );
    assert_eq!(outcomes(&poll(&app).await), vec!["answered"]);
    assert!(
        !subscribers_file(&app).contains(nina),
        "waits for the admin"
    );
    let pending = app.run(&["subscribers", "pending"]).await;
    assert!(pending.stdout.contains(nina), "{}", pending.stdout);
    let approve = app.run(&["subscribers", "approve", nina]).await;
    assert_eq!(approve.code, 0, "{}", approve.stderr);
    let file = subscribers_file(&app);
    assert!(
        file.contains(nina) && file.contains("New papers in the lab's categories."),
        "{file}"
    );
    assert!(app
        .received_by(nina)
        .pop()
        .unwrap()
        .subject
        .contains("Welcome"));
    let again = app.run(&["subscribers", "approve", nina]).await;
    assert_eq!(again.code, 2, "nothing left to approve");
}

#[tokio::test]
async fn a_readers_library_gives_followed_authors_keywords_and_papers_never_sent_again() {
    let app = TestApp::spawn(Options {
        api_key: false,
        ..Default::default()
    })
    .await;
    let bib = repo().join("tests/fixtures/library/ada-zotero.bib");
    let ada = "ada@lab.example.org";
    // Today's MoQa (2503.21135) would reach Ada as new…
    let preview = app.run(&["preview", ada]).await;
    assert!(
        preview.stdout.contains("ArXiv ID: 2503.21135"),
        "{}",
        preview.stdout
    );
    // First the change is shown, nothing applied.
    let before = std::fs::read_to_string(app.dir.path().join("subscribers.toml")).unwrap();
    let dry = app
        .run(&["subscribers", "import-library", ada, bib.to_str().unwrap()])
        .await;
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    assert!(dry.stdout.contains("6 entries"), "{}", dry.stdout);
    assert!(
        dry.stdout
            .contains("+ follow Jürgen Müller  (in 3 entries)"),
        "{}",
        dry.stdout
    );
    assert!(
        dry.stdout.contains("+ follow Grace Hopper  (in 2 entries)"),
        "{}",
        dry.stdout
    );
    assert!(
        !dry.stdout.contains("follow Ada"),
        "never the reader: {}",
        dry.stdout
    );
    assert!(
        !dry.stdout.contains("Turing") && !dry.stdout.contains("Babbage"),
        "{}",
        dry.stdout
    );
    assert!(
        dry.stdout.contains("+ keyword mixture of experts"),
        "{}",
        dry.stdout
    );
    assert!(dry.stdout.contains("+ keyword sparsity"), "{}", dry.stdout);
    assert!(
        !dry.stdout.contains("+ keyword quantization"),
        "Ada has it already"
    );
    assert!(
        dry.stdout.contains("2 papers of the library"),
        "{}",
        dry.stdout
    );
    assert_eq!(
        std::fs::read_to_string(app.dir.path().join("subscribers.toml")).unwrap(),
        before
    );

    let apply = app
        .run(&[
            "subscribers",
            "import-library",
            ada,
            bib.to_str().unwrap(),
            "--yes",
        ])
        .await;
    assert_eq!(apply.code, 0, "{}", apply.stderr);
    let file = std::fs::read_to_string(app.dir.path().join("subscribers.toml")).unwrap();
    let parsed: toml::Table = file.parse().expect("the file stays valid");
    let entry = &parsed["subscriber"].as_array().unwrap()[0];
    let authors: Vec<&str> = entry["authors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(
        authors.contains(&"Jürgen Müller") && authors.contains(&"Grace Hopper"),
        "{authors:?}"
    );
    assert!(
        entry["topics"]
            .as_str()
            .unwrap()
            .contains("From my library: mixture of experts"),
        "{file}"
    );
    assert!(
        file.contains("# Ada follows Björn Schuller"),
        "comments kept"
    );
    let history = app.run(&["subscribers", "history", ada, "--json"]).await;
    assert!(
        history.stdout.contains("import-library"),
        "{}",
        history.stdout
    );

    // The library's arXiv paper in today's announcement is not sent as new.
    assert_eq!(app.run(&["digest"]).await.code, 0);
    let digest = app.received_by(ada).pop().unwrap();
    assert!(
        !digest.text.contains("ArXiv ID: 2503.21135"),
        "{}",
        digest.text
    );
    let grace = app.received_by("grace@lab.example.org").pop();
    assert!(grace.is_some(), "others are not affected");
    let why = app.run(&["why", "2503.21135", "--for", ada]).await;
    assert!(
        why.stdout
            .contains("never sent: it is in the reader's library"),
        "{}",
        why.stdout
    );
}

#[tokio::test]
async fn a_library_sent_by_reply_is_proposed_then_applied_on_yes() {
    use crate::replies::*;
    let Setup { app, digest } = setup().await;
    let to = digest.reply_to.clone();
    let bib =
        std::fs::read_to_string(repo().join("tests/fixtures/library/ada-zotero.bib")).unwrap();
    let raw = format!(
        "From: Ada Lovelace <{ADA}>\r\nTo: {to}\r\nSubject: Re: {}\r\nMessage-ID: <lib-1@x>\r\nIn-Reply-To: <{}>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHere is my library.\r\n\r\n--b1\r\nContent-Type: application/x-bibtex; name=\"My Library.bib\"\r\nContent-Disposition: attachment; filename=\"My Library.bib\"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{}\r\n--b1--\r\n",
        digest.subject,
        digest.message_id,
        bib.replace('\n', "\r\n")
    );
    let before = subscribers_file(&app);
    smtp_send(app.smtp.port, ADA, &to, raw.as_bytes());
    assert_eq!(outcomes(&poll(&app).await), vec!["answered"]);
    assert_eq!(subscribers_file(&app), before, "nothing before the yes");
    let plan = ada_inbox(&app)
        .await
        .into_iter()
        .find(|m| m.in_reply_to == "lib-1@x")
        .expect("the plan");
    assert!(
        plan.text.contains("+ follow Jürgen Müller  (in 3 entries)"),
        "{}",
        plan.text
    );
    assert!(plan.text.contains("Reply \"yes\""), "{}", plan.text);

    smtp_send(
        app.smtp.port,
        ADA,
        &to,
        &apple(
            ADA,
            &to,
            &format!("<{}>", digest.message_id),
            "<lib-2@x>",
            "Yes",
        ),
    );
    assert_eq!(outcomes(&poll(&app).await), vec!["applied"]);
    let file = subscribers_file(&app);
    assert!(
        file.contains("Jürgen Müller") && file.contains("Grace Hopper"),
        "{file}"
    );
    let history = app.run(&["subscribers", "history", ADA, "--json"]).await;
    assert!(
        history.stdout.contains("import-library"),
        "{}",
        history.stdout
    );
}

/// The day's feed as another announcement day of the same week: its own IDs and date.
fn weekday_feed(app: &TestApp, date: &str, prefix: &str) -> std::path::PathBuf {
    let feed = fixture(FEED_DAY)
        .replace("Fri, 28 Mar 2025", date)
        .replace("2503.2", prefix);
    let path = app.dir.path().join(format!("{prefix}.xml"));
    std::fs::write(&path, feed).unwrap();
    path
}

#[tokio::test]
async fn a_weekly_reader_gets_one_digest_on_friday_with_the_whole_week_scored_once() {
    let weekly = TWO_SUBSCRIBERS.replace(
        "keywords = [\"quantization\"]",
        "keywords = [\"quantization\"]\nfrequency = \"weekly\"\nweekday = \"Fri\"",
    );
    let app = TestApp::spawn(Options {
        subscribers: weekly,
        // A long archive address: the weekly must still fit a phone (issue 33).
        extra_config: "[archive]\ndir = \"archive\"\nbase_url = \"https://papers.department-of-computing.university.example.ac.uk/paperboy/\"\n".into(),
        ..Default::default()
    })
    .await;
    let ada = "ada@lab.example.org";
    for (date, prefix) in [
        ("Mon, 24 Mar 2025", "2503.4"),
        ("Tue, 25 Mar 2025", "2503.5"),
        ("Wed, 26 Mar 2025", "2503.6"),
        ("Thu, 27 Mar 2025", "2503.7"),
    ] {
        let feed = weekday_feed(&app, date, prefix);
        let run = app.run(&["digest", "--feed", feed.to_str().unwrap()]).await;
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert!(run.stdout.contains("weekly not due"), "{}", run.stdout);
    }
    assert!(app.received_by(ada).is_empty(), "nothing before Friday");
    assert_eq!(
        app.received_by("grace@lab.example.org").len(),
        4,
        "daily readers as usual"
    );
    let pairs_before = app.llm.state.verdict_pairs.lock().unwrap().len();

    let friday = weekday_feed(&app, "Fri, 28 Mar 2025", "2503.2");
    let run = app
        .run(&["digest", "--feed", friday.to_str().unwrap()])
        .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let mails = app.received_by(ada);
    assert_eq!(mails.len(), 1, "one weekly digest");
    let week = &mails[0];
    let page = app.dir.path().join("weekly.html");
    std::fs::write(&page, &week.html).unwrap();
    std::fs::write(
        crate::browser::screenshots().join("weekly.html"),
        &week.html,
    )
    .unwrap();
    for width in [320, 375] {
        let seen = crate::browser::look(&page, width, 700, "body", "weekly");
        assert!(
            seen.scroll_width <= seen.width,
            "the weekly is {} px wide at {width} px",
            seen.scroll_width
        );
    }
    assert!(
        week.subject
            .starts_with("arXiv weekly digest Fri 28 Mar 2025"),
        "{}",
        week.subject
    );
    assert!(
        week.text.contains(
            "Personalized Weekly arXiv Papers — Saturday, 22 March to Friday, 28 March 2025"
        ),
        "{}",
        week.text
    );
    for prefix in ["2503.4", "2503.7", "2503.2"] {
        assert!(
            week.text.contains(&format!("ArXiv ID: {prefix}")),
            "{prefix} in {}",
            week.text
        );
    }
    // Each paper says on which day it was announced.
    for (prefix, day) in [("2503.4", "Mon 24 Mar 2025"), ("2503.2", "Fri 28 Mar 2025")] {
        let card = week
            .text
            .split("\n\n")
            .find(|c| c.contains(&format!("ArXiv ID: {prefix}")))
            .unwrap();
        assert!(
            card.contains(&format!("Announced: {day}")),
            "{prefix}: {card}"
        );
    }
    assert!(week.html.contains("announced Mon 24 Mar"), "{}", week.html);
    // The usage table covers the week: every run's share of Ada's calls, not Friday's alone.
    let (week_tokens, friday_tokens): (i64, i64) = app
        .db()
        .query_row(
            "SELECT sum(prompt_tokens + completion_tokens),
                    sum(CASE WHEN run_id = (SELECT max(id) FROM runs) THEN prompt_tokens + completion_tokens ELSE 0 END)
             FROM spend WHERE subscriber = ?1",
            [ada],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!(
        week_tokens > friday_tokens,
        "{week_tokens} vs {friday_tokens}"
    );
    let table = week
        .text
        .split("What scoring this week's papers cost")
        .nth(1)
        .expect("the week's usage table");
    let row: Vec<&str> = table
        .lines()
        .find(|l| l.starts_with("gpt-4o-mini"))
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(
        row[3].replace(',', "").parse::<i64>().unwrap(),
        week_tokens,
        "{table}"
    );
    // The week's total counts the week, and the archive page is the weekly digest, whole.
    let flat = week.text.split_whitespace().collect::<Vec<_>>().join(" ");
    let total: usize = flat
        .split(" new arXiv papers this week)")
        .next()
        .and_then(|head| head.rsplit('(').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("the week's total in {flat}"));
    assert!(total > 17, "the whole week's papers, not Friday's: {total}");
    let page =
        std::fs::read_to_string(app.archive_dir(ada).join("2025-03/2025-03-28.html")).unwrap();
    assert!(page.contains("Personalized Weekly arXiv Papers"), "{page}");
    for prefix in ["2503.4", "2503.7", "2503.2"] {
        assert!(
            page.contains(&format!("arXiv:{prefix}")),
            "{prefix} on the archive page"
        );
    }
    // Built from stored verdicts: Friday asked only about Friday's papers.
    let pairs = app.llm.state.verdict_pairs.lock().unwrap().clone();
    assert!(
        pairs[pairs_before..]
            .iter()
            .all(|(id, _)| id.starts_with("2503.2")),
        "{:?}",
        &pairs[pairs_before..]
    );
    let mut seen = std::collections::HashSet::new();
    assert!(
        pairs.iter().all(|p| seen.insert(p.clone())),
        "no pair scored twice"
    );
    // Exactly once: a re-run sends nothing.
    let again = app
        .run(&["digest", "--feed", friday.to_str().unwrap()])
        .await;
    assert_eq!(again.code, 0);
    assert_eq!(app.received_by(ada).len(), 1);
    // Changed by reply or CLI like any setting.
    let set = app
        .run(&["subscribers", "set", ada, "frequency", "daily"])
        .await;
    assert_eq!(set.code, 0, "{}", set.stderr);
}

#[tokio::test]
async fn the_tldr_can_be_left_out() {
    let app = TestApp::spawn(Options::default()).await;
    let run = app
        .run_with_env(&["digest"], &[("PAPERBOY__LLM__TLDR", "false")])
        .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let ada = app.received_by("ada@lab.example.org").pop().unwrap();
    assert!(ada.text.contains("\nRelevance: "), "{}", ada.text);
    assert!(!ada.text.contains("TL;DR"), "{}", ada.text);
}
