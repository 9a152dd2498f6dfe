//! arXiv's RSS and Atom API answers: any bytes end in papers or a typed error, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(xml) = std::str::from_utf8(data) {
        let _ = paperboy::sources::arxiv::parse_rss(xml);
        let cs = paperboy::domain::Category::parse("cs.LG").unwrap();
        let _ = paperboy::sources::arxiv::parse_api(xml, &[cs]);
    }
});
