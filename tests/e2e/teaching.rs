//! Teaching the ranking from the mail (issue 20): Ada clicks "Less like this" on one paper of her
//! digest and "More like this" on another; her mail client sends the prefilled replies, which
//! arrive in paperboy's mailbox over IMAP. On the next announcement day the papers near the first
//! rank lower for her, and those near the second higher, than for Grace, who reads the same
//! topics and clicked nothing. The ranks come from `paperboy why --json`, as stored with each
//! sent digest.

use serde_json::Value;

use crate::helpers::*;
use crate::operations::next_day_feed;
use crate::replies::{ADA, GRACE, PAPERBOY};

const LIN_USER: &str = "lin@lab.example.org";

/// Two readers with the same topics; only Ada teaches.
const SAME_TOPICS: &str = r#"
[[subscriber]]
email = "ada@lab.example.org"
name = "Ada Lovelace"
topics = "Language models, mixture of experts, quantization and sparsity."

[[subscriber]]
email = "grace@lab.example.org"
name = "Grace Hopper"
topics = "Language models, mixture of experts, quantization and sparsity."

# Lin reads the same, clicks nothing, and imports her library.
[[subscriber]]
email = "lin@lab.example.org"
name = "Lin Wei"
topics = "Language models, mixture of experts, quantization and sparsity."
"#;

const LIN: &str = LIN_USER;

/// Lin's Zotero export: two papers on quantizing experts.
const LIN_LIBRARY: &str = r#"@article{frantar2023qmoe,
	title = {{QMoE}: Sub-1-Bit Compression of Trillion-Parameter Mixture-of-Experts Models},
	author = {Frantar, Elias and Alistarh, Dan},
	year = {2023},
	eprint = {2310.16795},
	archivePrefix = {arXiv},
}
@inproceedings{li2024examining,
	title = {Examining Post-Training Quantization for Mixture-of-Experts},
	author = {Li, Pingzhi and Jin, Xiaolong and Chen, Tianlong},
	year = {2024},
}
"#;

/// Every paper of the day gets a verdict (the prefilter keeps all 17), so the ranks of all are
/// seen.
const EVERY_PAPER: &[(&str, &str)] = &[("PAPERBOY__EMBEDDINGS__MIN_Z", "-100")];

/// "How do language models learn facts? Dynamics, curricula and hallucinations".
const A: &str = "2503.21676";
/// "MoQa: Rethinking MoE Quantization with Multi-stage Data-model Distribution Awareness".
const B: &str = "2503.21135";
/// "Consistent Multigroup Low-Rank Approximation" (low-rank compression, near B's quantization).
const C: &str = "2503.21563";

/// The `(to, subject, body)` of the card's link `label` for paper `id`, percent-decoded.
fn mailto(html: &str, id: &str, label: &str) -> (String, String, String) {
    let link = html
        .split("href=\"mailto:")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap())
        .find(|href| {
            let decoded = decode(href);
            decoded.contains(&format!("subject={label} {id}"))
        })
        .unwrap_or_else(|| panic!("a '{label}' link for {id} in the digest:\n{html}"));
    let (to, query) = link
        .split_once('?')
        .expect("the link has a subject and body");
    let mut subject = String::new();
    let mut body = String::new();
    for pair in query.replace("&amp;", "&").split('&') {
        let (k, v) = pair.split_once('=').unwrap();
        match k {
            "subject" => subject = decode(v),
            "body" => body = decode(v),
            other => panic!("unexpected mailto field {other}"),
        }
    }
    // The address is percent-encoded too (its `+` as `%2B`); a mail client decodes it.
    (decode(to), subject, body)
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .unwrap()
        .to_string()
}

/// What a mail client sends for a clicked `mailto:` link: a new message (no In-Reply-To) with
/// the prefilled subject and body, as Thunderbird writes it.
fn clicked(from: &str, to: &str, subject: &str, body: &str, id: &str) -> Vec<u8> {
    format!(
        "Message-ID: <{id}@lab.example.org>\r\nDate: Fri, 28 Mar 2025 10:00:00 +0100\r\nMIME-Version: 1.0\r\n\
         User-Agent: Mozilla Thunderbird\r\nTo: {to}\r\nFrom: Ada Lovelace <{from}>\r\nSubject: {subject}\r\n\
         Content-Type: text/plain; charset=UTF-8; format=flowed\r\nContent-Transfer-Encoding: 7bit\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

async fn rank(app: &TestApp, id: &str, reader: &str) -> Value {
    let run = app.run(&["why", id, "--for", reader, "--json"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let v: Value = serde_json::from_str(&run.stdout).unwrap();
    assert!(v["rank"].is_object(), "{id} was sent to {reader}: {v}");
    v["rank"].clone()
}

fn score(rank: &Value) -> f64 {
    rank["score"].as_f64().unwrap()
}

fn learned(rank: &Value) -> Option<f64> {
    rank["learned"].as_f64()
}

/// Monday's papers near A and near B, as arXiv would list them.
const NEIGHBOURS: [(&str, &str, &str); 2] = [
    (
        "2503.39001",
        "Factual recall in language models: plateaus, circuits and hallucinations",
        "We study how language models acquire factual knowledge during pre-training. Trained on a synthetic factual recall task, they show a performance plateau, after which attention-based circuits that support recall form; hallucinations emerge together with knowledge, and fine-tuning new knowledge corrupts parametric memories.",
    ),
    (
        "2503.39002",
        "Expert-aware quantization for Mixture-of-Experts language models",
        "Mixture-of-Experts (MoE) models are hard to compress: their experts see different data. We propose an expert-aware quantization framework that analyses the data distribution of each expert and assigns mixed-precision quantization accordingly, lowering perplexity at 3 bits and improving zero-shot accuracy over quantization methods designed for dense models.",
    ),
];

/// Monday's feed: Friday's papers under new IDs (`next_day_feed`), then [`NEIGHBOURS`].
fn monday_feed(app: &TestApp) -> std::path::PathBuf {
    let path = next_day_feed(app);
    let mut feed = std::fs::read_to_string(&path).unwrap();
    let items: String = NEIGHBOURS
        .iter()
        .map(|(id, title, abs)| {
            format!(
                "    <item>\n      <title>{title}</title>\n      <link>https://arxiv.org/abs/{id}</link>\n      \
                 <description>arXiv:{id}v1 Announce Type: new \nAbstract: {abs}</description>\n      \
                 <guid isPermaLink=\"false\">oai:arXiv.org:{id}v1</guid>\n      <category>cs.LG</category>\n      \
                 <pubDate>Mon, 31 Mar 2025 00:00:00 -0400</pubDate>\n      <arxiv:announce_type>new</arxiv:announce_type>\n      \
                 <dc:rights>http://creativecommons.org/licenses/by/4.0/</dc:rights>\n      \
                 <dc:creator>Mei Lin, Tomas Berg</dc:creator>\n    </item>\n"
            )
        })
        .collect();
    let end = feed.rfind("  </channel>").expect("the channel's end");
    feed.insert_str(end, &items);
    std::fs::write(&path, feed).unwrap();
    path
}

/// The IDs the day-2 feed gives to day 1's papers.
fn next_day(id: &str) -> String {
    id.replacen("2503.2", "2503.3", 1)
}

#[tokio::test]
async fn less_like_and_more_like_clicked_in_the_mail_move_the_next_days_neighbours() {
    let app = TestApp::spawn(Options {
        subscribers: SAME_TOPICS.into(),
        imap_users: vec![PAPERBOY, ADA, GRACE, LIN_USER],
        embeddings: true,
        ..Default::default()
    })
    .await;
    let friday = app.run_with_env(&["digest"], EVERY_PAPER).await;
    assert_eq!(friday.code, 0, "{}", friday.stderr);
    let digest = crate::replies::ada_inbox(&app)
        .await
        .pop()
        .expect("Ada's digest arrived in her mailbox");

    // Three clicks, three sends, exactly as prefilled.
    let before = crate::replies::ada_inbox(&app).await.len();
    for (n, (id, label)) in [(A, "less like"), (B, "more like"), (C, "more like")]
        .into_iter()
        .enumerate()
    {
        let (to, subject, body) = mailto(&digest.html, id, label);
        assert!(
            to.starts_with("digest+click-20250328-") && to != digest.reply_to,
            "the link goes to the digest's own one-click address, not Ada's reply address: {to}"
        );
        assert_eq!(subject, format!("{label} {id}"));
        assert_eq!(body, subject);
        smtp_send(
            app.smtp.port,
            ADA,
            &to,
            &clicked(ADA, &to, &subject, &body, &format!("click-{n}")),
        );
    }
    let report = crate::replies::poll(&app).await;
    assert_eq!(
        crate::replies::outcomes(&report),
        vec!["applied", "applied", "applied"],
        "{report}"
    );
    // No mail per click: the next digest is the answer.
    assert_eq!(report["answers_sent"], 0, "{report}");
    assert_eq!(
        crate::replies::ada_inbox(&app).await.len(),
        before,
        "a click brought a mail back"
    );
    let show = app.run(&["subscribers", "show", ADA]).await;
    assert_eq!(show.code, 0, "{}", show.stderr);
    assert!(
        show.stdout.contains("3 signals (2 more like, 1 less like)"),
        "{}",
        show.stdout
    );

    // The digest's links expire: the same click on a digest made 31 days ago changes nothing.
    app.db()
        .execute(
            "UPDATE deliveries SET created_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-31 days') WHERE subscriber = ?1",
            [ADA],
        )
        .unwrap();
    let (to, subject, body) = mailto(&digest.html, B, "less like");
    let late = String::from_utf8(clicked(ADA, &to, &subject, &body, "click-late"))
        .unwrap()
        .replace("Fri, 28 Mar 2025 10:00:00", "Mon, 28 Apr 2025 10:00:00");
    smtp_send(app.smtp.port, ADA, &to, late.as_bytes());
    let report = crate::replies::poll(&app).await;
    assert_eq!(
        crate::replies::outcomes(&report),
        vec!["rejected"],
        "{report}"
    );
    assert!(
        report["messages"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("sent 31 days ago: links work for 30 days"),
        "{report}"
    );
    let show = app.run(&["subscribers", "show", ADA]).await;
    assert!(
        show.stdout.contains("3 signals (2 more like, 1 less like)"),
        "the late click taught nothing: {}",
        show.stdout
    );

    // Lin imports her library: each of its papers is a "more like this".
    let bib = app.dir.path().join("lin.bib");
    std::fs::write(&bib, LIN_LIBRARY).unwrap();
    let import = app
        .run(&[
            "subscribers",
            "import-library",
            LIN,
            bib.to_str().unwrap(),
            "--yes",
        ])
        .await;
    assert_eq!(import.code, 0, "{}", import.stderr);
    let show = app.run(&["subscribers", "show", LIN]).await;
    assert!(
        show.stdout
            .contains("0 signals (0 more like, 0 less like), and 2 papers of their library"),
        "{}",
        show.stdout
    );

    // Monday: the same papers again under new IDs, and two new ones, one near each.
    let monday = monday_feed(&app);
    let run = app
        .run_with_env(&["digest", "--feed", monday.to_str().unwrap()], EVERY_PAPER)
        .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    // Monday's digest says, in one line, what Ada taught since Friday's; Grace's says nothing.
    let monday_mail = crate::replies::ada_inbox(&app).await.pop().unwrap();
    let flat = |t: &str| t.split_whitespace().collect::<Vec<_>>().join(" ");
    for body in [flat(&monday_mail.text), flat(&monday_mail.html)] {
        assert!(
            body.contains("Since your last digest you asked for more like 2 papers and less like 1 paper: learned"),
            "{body}"
        );
    }
    let grace_mail = app.received_by(GRACE).pop().unwrap();
    assert!(
        !grace_mail.text.contains("Since your last digest"),
        "{}",
        grace_mail.text
    );

    let (a, b) = (next_day(A), next_day(B));
    let (ada_a, grace_a) = (rank(&app, &a, ADA).await, rank(&app, &a, GRACE).await);
    let (ada_b, grace_b) = (rank(&app, &b, ADA).await, rank(&app, &b, GRACE).await);
    // Grace taught nothing: nothing is learned for her.
    assert_eq!(learned(&grace_a), None, "{grace_a}");
    assert_eq!(learned(&grace_b), None, "{grace_b}");
    // The same verdict for both readers: the clicks alone move Ada's ranks.
    assert_eq!(ada_a["verdict"], grace_a["verdict"]);
    assert_eq!(ada_b["verdict"], grace_b["verdict"]);
    assert!(learned(&ada_a).unwrap() < 0.0, "{ada_a}");
    assert!(learned(&ada_b).unwrap() > 0.0, "{ada_b}");
    assert!(score(&ada_a) < score(&grace_a), "{ada_a} vs {grace_a}");
    assert!(score(&ada_b) > score(&grace_b), "{ada_b} vs {grace_b}");

    // Lin's library is about quantizing experts: B and its neighbour rise for her, A does not.
    let (lin_a, lin_b) = (rank(&app, &a, LIN).await, rank(&app, &b, LIN).await);
    assert!(learned(&lin_b).unwrap() > 0.0, "{lin_b}");
    assert!(
        learned(&lin_a).unwrap() < learned(&lin_b).unwrap(),
        "{lin_a} vs {lin_b}"
    );
    assert!(score(&lin_b) > score(&grace_b), "{lin_b} vs {grace_b}");
    let lin_b2 = rank(&app, NEIGHBOURS[1].0, LIN).await;
    assert!(learned(&lin_b2).unwrap() > 0.0, "{lin_b2}");

    // Every Monday paper nearer A than B (in the model's space) loses ground for Ada, every one
    // nearer B gains.
    let cos = |x: &[f32], y: &[f32]| x.iter().zip(y).map(|(a, b)| a * b).sum::<f32>();
    let text_of = |id: &str| -> String {
        let id = paperboy::domain::PaperId::parse(id).unwrap();
        let p = paperboy::store::papers::by_ids(&app.db(), &[id])
            .unwrap()
            .remove(0);
        format!("{}\n\n{}", p.title, p.abstract_text)
    };
    let (va, vb) = (embed(&text_of(A)), embed(&text_of(B)));
    let sent: Vec<String> = {
        let db = app.db();
        let mut stmt = db
            .prepare("SELECT paper_id FROM sent_papers WHERE subscriber = ?1 AND paper_id LIKE '2503.3%'")
            .unwrap();
        let ids = stmt
            .query_map([GRACE], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        ids
    };
    let mut checked = 0;
    for id in &sent {
        let v = embed(&text_of(id));
        let lean = cos(&v, &va) - cos(&v, &vb);
        if lean.abs() < 0.05 {
            continue;
        }
        let (ada, grace) = (rank(&app, id, ADA).await, rank(&app, id, GRACE).await);
        let moved = score(&ada) - score(&grace);
        eprintln!("{id}: lean to A {lean:+.2}, moved {moved:+.3}");
        if lean > 0.0 {
            assert!(moved < 0.0, "{id} is nearer A yet rose: {ada} vs {grace}");
        } else {
            assert!(moved > 0.0, "{id} is nearer B yet fell: {ada} vs {grace}");
        }
        checked += 1;
    }
    assert!(
        checked >= 4,
        "only {checked} of {} papers lean either way",
        sent.len()
    );
    for (id, _, _) in NEIGHBOURS {
        assert!(sent.iter().any(|s| s == id), "{id} was sent to Grace");
    }
}
