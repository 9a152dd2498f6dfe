//! The inputs `scripts/fuzz` keeps (tests/fixtures/fuzz/<target>/, the fuzzer's own finds that
//! reach deepest into each parser) replayed through the same entry points as the fuzz targets:
//! each ends in a value or an error that says something, never a panic.

use crate::helpers::repo;

fn inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = repo().join("tests/fixtures/fuzz").join(target);
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no inputs kept for {target}");
    out
}

/// A paper that passed the door holds no character the door takes out (issues 21 and 32).
fn nothing_hidden(name: &str, p: &paperboy::domain::Paper) {
    for text in [&p.title, &p.abstract_text].into_iter().chain(&p.authors) {
        assert!(
            !text.chars().any(paperboy::support::text::unwanted_char),
            "{name}: {} keeps a hidden character: {text:?}",
            p.id
        );
    }
}

#[test]
fn feeds_read_or_refuse_with_a_reason() {
    let cs = paperboy::domain::Category::parse("cs.LG").unwrap();
    for (name, bytes) in inputs("feeds") {
        let xml = String::from_utf8_lossy(&bytes);
        match paperboy::sources::arxiv::parse_rss(&xml) {
            Ok(day) => day.papers.iter().for_each(|p| nothing_hidden(&name, p)),
            Err(e) => assert!(!e.to_string().is_empty(), "{name}"),
        }
        if let Err(e) = paperboy::sources::arxiv::parse_api(&xml, std::slice::from_ref(&cs)) {
            assert!(!e.to_string().is_empty(), "{name}");
        }
    }
}

#[test]
fn preprint_pages_read_or_refuse_with_a_reason() {
    for (name, bytes) in inputs("preprints") {
        let body = String::from_utf8_lossy(&bytes);
        match paperboy::sources::preprints::parse_page(&body) {
            Ok((page, _)) => {
                let (papers, _) = paperboy::sources::preprints::papers(
                    paperboy::domain::Source::Biorxiv,
                    page.records,
                );
                papers.iter().for_each(|p| nothing_hidden(&name, p));
            }
            Err(e) => assert!(!e.to_string().is_empty(), "{name}"),
        }
        let _ = paperboy::sources::preprints::strip_html(&body);
    }
}

#[test]
fn replies_give_the_text_typed() {
    for (name, bytes) in inputs("replies") {
        if let Some(msg) = mail_parser::MessageParser::default().parse(&bytes[..]) {
            let body = paperboy::inbox::body_text(&msg);
            assert!(
                !body.chars().any(paperboy::support::text::unwanted_char),
                "{name}: the body keeps a hidden character: {body:?}"
            );
            let typed = paperboy::inbox::reply::typed_text(&body);
            assert!(
                typed.len() <= body.len() + 1,
                "{name}: the typed text grows"
            );
        }
        let s = String::from_utf8_lossy(&bytes);
        let _ = paperboy::inbox::reply::typed_text(&s);
        let _ = paperboy::inbox::reply::html_to_text(&s);
    }
}

#[test]
fn tex_becomes_text() {
    for (name, bytes) in inputs("tex") {
        // As a title arrives: cleaned at the door, then TeX made text. Nothing hidden survives.
        let s = String::from_utf8_lossy(&bytes);
        let out = paperboy::support::tex::to_unicode(&paperboy::support::text::clean(&s));
        assert!(
            !out.chars().any(paperboy::support::text::unwanted_char),
            "{name}: {out:?}"
        );
    }
}

#[test]
fn libraries_are_read_within_their_limits_or_refused() {
    let limits = paperboy::subscribers::library::Limits::default();
    for (name, bytes) in inputs("bibtex") {
        let s = String::from_utf8_lossy(&bytes);
        if let Err(e) = paperboy::subscribers::library::parse_bibtex(&s, &limits) {
            assert!(!e.to_string().is_empty(), "{name}");
        }
    }
}
