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
    // The model was asked in English words for German, for Ada only.
    let profiles = app.llm.state.profiles.lock().unwrap().join("\n");
    assert!(profiles.contains("Write this reader's TLDR and COMMENT in German."));
    assert_eq!(
        profiles.matches("in German").count(),
        profiles.matches("Mixture-of-Experts").count()
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
