//! bioRxiv and medRxiv beside arXiv (issue 14), against a stand-in speaking their API: JSON
//! pages counted by `count`/`total` (strings or numbers), one record per version, "no posts
//! found", 503s.

use wiremock::matchers::{method, path, path_regex, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::*;

const READERS: &str = r#"
# Ada reads arXiv only.
[[subscriber]]
email = "ada@lab.example.org"
name = "Ada Lovelace"
topics = "Mixture-of-Experts, quantization and sparsity."
categories = ["cs.LG", "cs.AI"]

# Nora reads bioRxiv's neuroscience and follows Hannah Okonkwo, whom bioRxiv lists as "Okonkwo, H. C.".
[[subscriber]]
email = "nora@lab.example.org"
name = "Nora Neuro"
topics = "Sparse coding, olfaction, hippocampal replay and connectomes."
authors = ["Hannah Okonkwo"]
categories = ["biorxiv:neuroscience"]
min_relevance = 1
min_novelty = 1

# Mia reads arXiv and medRxiv.
[[subscriber]]
email = "mia@lab.example.org"
name = "Mia Mixed"
topics = "Mixture-of-Experts; vaccine effectiveness."
categories = ["cs.LG", "medrxiv:epidemiology"]
min_relevance = 1
min_novelty = 1

# Max reads every configured category (no `categories`).
[[subscriber]]
email = "max@lab.example.org"
name = "Max All"
topics = "Mixture-of-Experts."

# Eli reads medRxiv's epidemiology.
[[subscriber]]
email = "eli@lab.example.org"
name = "Eli Epi"
topics = "Vaccine effectiveness, cohort studies and surveillance."
categories = ["medrxiv:epidemiology"]
min_relevance = 1
min_novelty = 1
"#;

fn biorxiv_fixture(name: &str) -> String {
    std::fs::read_to_string(repo().join("tests/fixtures/biorxiv").join(name)).unwrap()
}

fn json(body: String) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .set_body_string(body)
        .insert_header("content-type", "application/json;charset=utf-8")
}

fn one_record(server: &str, category: &str, doi: &str, version: u32, title: &str) -> String {
    serde_json::json!({
        "messages": [{"status": "ok", "category": category, "cursor": 0, "count": 1, "count_new_papers": "1", "total": "1"}],
        "collection": [{
            "doi": doi, "title": title, "authors": "Achterberg, R.; Mensah, K. A.",
            "author_corresponding": "Rosa Achterberg", "author_corresponding_institution": "RIVM",
            "date": "2025-03-29", "version": version.to_string(), "type": "PUBLISHAHEADOFPRINT", "license": "cc_by",
            "category": category, "jatsxml": "", "abstract": "We estimate vaccine effectiveness in a cohort of 10<sup>5</sup> adults.",
            "published": "NA", "server": server
        }]
    })
    .to_string()
}

/// bioRxiv's neuroscience for Tuesday to Thursday, 25–27 March 2025: two pages (cursor 0, 3).
async fn neuroscience_pages(preprints: &MockServer) {
    for (cursor, page) in [
        ("0", "details-neuroscience-page0.json"),
        ("3", "details-neuroscience-page1.json"),
    ] {
        Mock::given(method("GET"))
            .and(path(format!(
                "/details/biorxiv/2025-03-25/2025-03-27/{cursor}"
            )))
            .and(query_param("category", "neuroscience"))
            .respond_with(json(biorxiv_fixture(page)))
            .mount(preprints)
            .await;
    }
}

async fn spawn(preprints: &MockServer) -> TestApp {
    TestApp::spawn(Options {
        subscribers: READERS.into(),
        extra_config: format!(
            "[biorxiv]\ncategories = [\"neuroscience\"]\napi_url = \"{uri}\"\nmin_interval_ms = 10\nretry_base_ms = 20\nmax_attempts = 2\n\
             [medrxiv]\ncategories = [\"epidemiology\"]\napi_url = \"{uri}\"\nmin_interval_ms = 10\nretry_base_ms = 20\nmax_attempts = 2\n\
             [admin]\nemail = \"admin@lab.example.org\"\n\
             [archive]\ndir = \"archive\"\nbase_url = \"https://lab.example.org/papers\"\n",
            uri = preprints.uri()
        ),
        ..Default::default()
    })
    .await
}

/// The day's feed as Monday 31 March: its own IDs and date.
fn monday_feed(app: &TestApp) -> std::path::PathBuf {
    let feed = fixture(FEED_DAY)
        .replace("Fri, 28 Mar 2025", "Mon, 31 Mar 2025")
        .replace("2503.2", "2503.9");
    let path = app.dir.path().join("monday.xml");
    std::fs::write(&path, feed).unwrap();
    path
}

#[tokio::test]
async fn each_reader_gets_their_sources_and_a_server_that_is_down_holds_nobody_hostage() {
    let preprints = MockServer::start().await;
    // Friday's run reads Tuesday to Thursday (three days back, the run's day not yet complete).
    neuroscience_pages(&preprints).await;
    Mock::given(method("GET"))
        .and(path_regex("^/details/medrxiv/"))
        .respond_with(
            ResponseTemplate::new(503).set_body_string("<html>Service Unavailable</html>"),
        )
        .mount(&preprints)
        .await;
    let app = spawn(&preprints).await;

    // Every paper gets a full verdict (no title pass), so the scoring of DOIs is seen whole.
    let no_triage = [("PAPERBOY__LLM__TRIAGE", "false")];
    let friday = app.run_with_env(&["digest"], &no_triage).await;
    assert_eq!(friday.code, 1, "medRxiv down: the run says so");
    assert_eq!(
        app.received_by("ada@lab.example.org").len(),
        1,
        "arXiv readers lose nothing"
    );
    assert!(
        app.received_by("eli@lab.example.org").is_empty(),
        "no digest that would look like a quiet day"
    );
    let mia = app.received_by("mia@lab.example.org");
    assert_eq!(mia.len(), 1, "a reader of both gets what was read");
    assert!(
        mia[0].text.contains(
            "medRxiv could not be read today; its new papers will come in your next digest"
        ),
        "{}",
        mia[0].text
    );
    assert!(
        mia[0].subject.starts_with("arXiv and medRxiv digest"),
        "{}",
        mia[0].subject
    );
    let alert = app.received_by("admin@lab.example.org");
    assert_eq!(alert.len(), 1);
    assert!(
        alert[0].text.contains("medRxiv could not be read") && alert[0].text.contains("503"),
        "{}",
        alert[0].text
    );

    let nora = app.received_by("nora@lab.example.org");
    assert_eq!(nora.len(), 1);
    let n = &nora[0];
    // Both pages read; the paper listed as v1 and v2 shown once, as v2, tags gone.
    assert!(
        n.text.contains("bioRxiv DOI: 10.1101/2025.03.26.645010"),
        "{}",
        n.text
    );
    assert_eq!(
        n.text
            .matches("bioRxiv DOI: 10.1101/2025.03.20.644321")
            .count(),
        1
    );
    assert!(n
        .html
        .contains("https://www.biorxiv.org/content/10.1101/2025.03.20.644321v2"));
    assert!(n.html.contains("10.1101/2025.03.20.644321v2.full.pdf"));
    assert!(n
        .text
        .contains("Sparse coding of odor identity in the piriform cortex"));
    assert!(!n.html.contains("&lt;i&gt;") && !n.html.contains("<i>odor"));
    assert!(n.text.contains("10⁴ neurons") || !n.text.contains("<sup>"));
    // "Okonkwo, H. C." is Hannah Okonkwo; "Okonkwo, P." is not.
    assert!(
        n.html.contains("★ <strong>H. C. Okonkwo</strong>"),
        "{}",
        n.html
    );
    assert!(!n.html.contains("<strong>P. Okonkwo</strong>"));
    assert!(n.html.contains("(bioRxiv)"), "the digest marks the source");
    assert!(
        !n.text.contains("ArXiv ID: 2503."),
        "only the sources Nora chose"
    );

    // Scored like arXiv papers, by DOI, in the shared calls.
    let pairs = app.llm.state.verdict_pairs.lock().unwrap().clone();
    assert!(
        pairs
            .iter()
            .any(|(id, _)| id == "10.1101/2025.03.18.643900"),
        "{pairs:?}"
    );
    assert!(pairs.iter().any(|(id, _)| id.starts_with("2503.")));

    // Monday: medRxiv is back and its missed days come once; bioRxiv lists a v3 of a paper
    // Nora already has, which is not a new paper.
    preprints.reset().await;
    Mock::given(method("GET"))
        .and(path("/details/medrxiv/2025-03-25/2025-03-30/0"))
        .and(query_param("category", "epidemiology"))
        .respond_with(json(one_record(
            "medrxiv",
            "epidemiology",
            "10.1101/2025.03.27.25324811",
            1,
            "Vaccine effectiveness against <i>severe</i> disease in a national cohort",
        )))
        .mount(&preprints)
        .await;
    Mock::given(method("GET"))
        .and(path("/details/biorxiv/2025-03-28/2025-03-30/0"))
        .respond_with(json(one_record(
            "biorxiv",
            "neuroscience",
            "10.1101/2025.03.20.644321",
            3,
            "Sparse coding of odor identity in the piriform cortex (third version)",
        )))
        .mount(&preprints)
        .await;
    let monday = monday_feed(&app);
    let run = app
        .run_with_env(&["digest", "--feed", monday.to_str().unwrap()], &no_triage)
        .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let eli = app.received_by("eli@lab.example.org");
    assert_eq!(eli.len(), 1, "the missed days arrive in the next digest");
    assert!(
        eli[0].subject.starts_with("medRxiv digest Mon 31 Mar 2025"),
        "{}",
        eli[0].subject
    );
    assert!(
        eli[0]
            .text
            .contains("medRxiv DOI: 10.1101/2025.03.27.25324811"),
        "{}",
        eli[0].text
    );
    assert!(eli[0]
        .html
        .contains("https://www.medrxiv.org/content/10.1101/2025.03.27.25324811v1"));
    assert!(eli[0]
        .text
        .contains("Vaccine effectiveness against severe disease"));
    let mia = app.received_by("mia@lab.example.org");
    assert_eq!(mia.len(), 2);
    assert!(mia[1]
        .text
        .contains("medRxiv DOI: 10.1101/2025.03.27.25324811"));
    assert!(!mia[1].text.contains("could not be read"));
    let all_nora: String = app
        .received_by("nora@lab.example.org")
        .iter()
        .map(|m| m.text.clone())
        .collect();
    assert_eq!(
        all_nora.matches("DOI: 10.1101/2025.03.20.644321").count(),
        1,
        "a v3 is not a new paper"
    );

    // Nora's feed holds her preprints, linked to bioRxiv, each once.
    let xml = std::fs::read(app.archive_dir("nora@lab.example.org").join("feed.xml")).unwrap();
    let feed = feed_rs::parser::parse(xml.as_slice()).expect("valid Atom");
    let links: Vec<String> = feed
        .entries
        .iter()
        .flat_map(|e| e.links.iter().map(|l| l.href.clone()))
        .collect();
    assert_eq!(
        links
            .iter()
            .filter(|l| l.contains("10.1101/2025.03.20.644321"))
            .count(),
        1,
        "{links:?}"
    );
    assert!(
        links
            .iter()
            .all(|l| l.starts_with("https://www.biorxiv.org/content/10.1101/")),
        "{links:?}"
    );

    // Archive pages name the reader's sources, like their mail, whatever papers the day had.
    for (reader, sources) in [
        ("mia@lab.example.org", "arXiv and medRxiv"),
        ("max@lab.example.org", "arXiv, bioRxiv and medRxiv"),
    ] {
        let page = std::fs::read_to_string(app.archive_dir(reader).join("2025-03/2025-03-28.html"))
            .unwrap();
        assert!(
            page.contains(&format!("Personalized Daily {sources} Papers")),
            "{reader}: {page}"
        );
    }

    // A re-run of Monday reads nothing again and sends nothing twice.
    let again = app
        .run_with_env(&["digest", "--feed", monday.to_str().unwrap()], &no_triage)
        .await;
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(app.received_by("eli@lab.example.org").len(), 1);
    let medrxiv_reads = preprints
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path().starts_with("/details/medrxiv/"))
        .count();
    assert_eq!(medrxiv_reads, 1, "a window is read once");
}

#[tokio::test]
async fn unknown_subjects_are_refused_up_front_with_their_name() {
    let preprints = MockServer::start().await;
    let app = spawn(&preprints).await;
    let config = std::fs::read_to_string(&app.config).unwrap().replace(
        "categories = [\"neuroscience\"]",
        "categories = [\"neurosciense\"]",
    );
    std::fs::write(&app.config, config).unwrap();
    for args in [&["check", "--offline"][..], &["digest"][..]] {
        let run = app.run(args).await;
        assert_eq!(run.code, 2, "{args:?}");
        assert!(
            run.stderr.contains("neurosciense") && run.stderr.contains("`neuroscience`"),
            "{}",
            run.stderr
        );
    }
    assert!(preprints.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn without_a_model_keywords_pick_preprints_and_an_empty_window_is_no_failure() {
    let preprints = MockServer::start().await;
    // bioRxiv's first answer is a 503 asking for a second's patience: retried, not a failure.
    Mock::given(method("GET"))
        .and(path_regex("^/details/biorxiv/.*/0$"))
        .respond_with(
            ResponseTemplate::new(503)
                .insert_header("retry-after", "1")
                .set_body_string("<html><body>503 Service Temporarily Unavailable</body></html>"),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&preprints)
        .await;
    neuroscience_pages(&preprints).await;
    Mock::given(method("GET"))
        .and(path_regex("^/details/medrxiv/"))
        .respond_with(json(biorxiv_fixture("details-empty.json")))
        .mount(&preprints)
        .await;
    let mut app = spawn(&preprints).await;
    app.without_model();
    let readers = READERS.replace(
        "authors = [\"Hannah Okonkwo\"]",
        "keywords = [\"connectome\"]",
    );
    std::fs::write(app.dir.path().join("subscribers.toml"), readers).unwrap();

    let run = app.run(&["digest"]).await;
    assert_eq!(
        run.code, 0,
        "\"no posts found\" is a quiet window: {}",
        run.stderr
    );
    let nora = app.received_by("nora@lab.example.org");
    assert_eq!(nora.len(), 1);
    assert!(
        nora[0]
            .text
            .contains("A connectome-constrained model of the fly central complex"),
        "{}",
        nora[0].text
    );
    assert!(
        nora[0].text.contains("keywords in the title: connectome"),
        "{}",
        nora[0].text
    );
    assert!(nora[0].text.contains("Scored by keywords"));
    // Eli's window was empty: a digest that says nothing matched, not an error.
    let eli = app.received_by("eli@lab.example.org");
    assert_eq!(eli.len(), 1);
    assert!(
        eli[0].subject.contains("nothing matched"),
        "{}",
        eli[0].subject
    );
}

#[tokio::test]
async fn a_lying_server_can_neither_hang_a_run_nor_make_it_skip_papers() {
    let preprints = MockServer::start().await;
    // bioRxiv claims 100 records on a page of 3: paging follows what arrived (cursor 3 next).
    let claims_more =
        biorxiv_fixture("details-neuroscience-page0.json").replace("\"count\":3", "\"count\":100");
    Mock::given(method("GET"))
        .and(path("/details/biorxiv/2025-03-25/2025-03-27/0"))
        .respond_with(json(claims_more))
        .mount(&preprints)
        .await;
    Mock::given(method("GET"))
        .and(path("/details/biorxiv/2025-03-25/2025-03-27/3"))
        .respond_with(json(biorxiv_fixture("details-neuroscience-page1.json")))
        .mount(&preprints)
        .await;
    // medRxiv answers every cursor with the same record and a billion to come.
    let endless = one_record(
        "medrxiv",
        "epidemiology",
        "10.1101/2025.03.27.25324811",
        1,
        "The same paper again",
    )
    .replace("\"total\":\"1\"", "\"total\":\"1000000000\"");
    Mock::given(method("GET"))
        .and(path_regex("^/details/medrxiv/"))
        .respond_with(json(endless))
        .mount(&preprints)
        .await;
    let app = spawn(&preprints).await;

    let run = app.run(&["digest"]).await;
    assert_eq!(run.code, 1, "medRxiv's endless answer fails medRxiv");
    let nora = app.received_by("nora@lab.example.org");
    assert_eq!(nora.len(), 1);
    assert!(
        nora[0]
            .text
            .contains("bioRxiv DOI: 10.1101/2025.03.26.645010"),
        "the record past the lying count is read: {}",
        nora[0].text
    );
    assert!(app.received_by("eli@lab.example.org").is_empty());
    let requests = preprints.received_requests().await.unwrap();
    let medrxiv = requests
        .iter()
        .filter(|r| r.url.path().starts_with("/details/medrxiv/"))
        .count();
    assert!(medrxiv <= 3, "{medrxiv} medRxiv requests");
    assert!(!requests.iter().any(|r| r.url.path().ends_with("/100")));
    let alert = app.received_by("admin@lab.example.org");
    assert!(
        alert[0]
            .text
            .contains("medRxiv kept listing medrxiv:epidemiology without end"),
        "{}",
        alert[0].text
    );
}

#[tokio::test]
async fn a_followed_name_whose_co_authors_are_strangers_to_the_library_is_marked() {
    let preprints = MockServer::start().await;
    neuroscience_pages(&preprints).await;
    Mock::given(method("GET"))
        .and(path_regex("^/details/medrxiv/"))
        .respond_with(json(biorxiv_fixture("details-empty.json")))
        .mount(&preprints)
        .await;
    let app = spawn(&preprints).await;
    // Nora's library: Hannah Okonkwo writes with Magnus Lindqvist and Yuki Tanaka.
    let bib = app.dir.path().join("nora.bib");
    std::fs::write(
        &bib,
        "@article{okonkwo2024piriform,\n  title = {Piriform ensembles},\n  author = {Okonkwo, Hannah and Lindqvist, Magnus},\n  year = {2024}\n}\n\
         @article{okonkwo2023odor,\n  title = {Odor maps in mice},\n  author = {Okonkwo, Hannah and Tanaka, Yuki and Lindqvist, Magnus},\n  year = {2023}\n}\n",
    )
    .unwrap();
    let import = app
        .run(&[
            "subscribers",
            "import-library",
            "nora@lab.example.org",
            bib.to_str().unwrap(),
            "--yes",
        ])
        .await;
    assert_eq!(import.code, 0, "{}", import.stderr);
    assert!(
        import.stdout.contains("2 titles will teach the ranking"),
        "{}",
        import.stdout
    );
    let show = app
        .run(&["subscribers", "show", "nora@lab.example.org"])
        .await;
    assert!(
        show.stdout.contains("and 2 papers of their library"),
        "{}",
        show.stdout
    );

    let run = app
        .run_with_env(&["digest"], &[("PAPERBOY__LLM__TRIAGE", "false")])
        .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let nora = app.received_by("nora@lab.example.org");
    assert_eq!(nora.len(), 1);
    let text = &nora[0].text;
    // "H. C. Okonkwo with M. Lindqvist, Y. Tanaka" writes with her co-authors: not marked.
    let with_lindqvist = text
        .split("\n\n")
        .find(|card| card.contains("H. C. Okonkwo, M. Lindqvist (followed) with Y. Tanaka"))
        .unwrap_or_else(|| panic!("the co-authored card:\n{text}"));
    assert!(
        !with_lindqvist.contains("Possibly another"),
        "{with_lindqvist}"
    );
    // "E. Novak, H. Okonkwo": nobody Nora's library knows; possibly someone else.
    let with_novak = text
        .split("\n\n")
        .find(|card| card.contains("H. Okonkwo (followed) with E. Novak"))
        .unwrap_or_else(|| panic!("the card with Novak:\n{text}"));
    assert!(
        with_novak
            .contains("Possibly another H. Okonkwo: none of the co-authors is in your library."),
        "{with_novak}"
    );
    assert!(nora[0]
        .html
        .contains("Possibly another H. Okonkwo: none of the co-authors is in your library."));
}
