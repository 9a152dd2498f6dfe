//! bioRxiv/medRxiv's JSON pages: read into papers or refused with a reason, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(body) = std::str::from_utf8(data) {
        if let Ok((page, _skipped)) = paperboy::sources::preprints::parse_page(body) {
            let _ = paperboy::sources::preprints::papers(
                paperboy::domain::Source::Biorxiv,
                page.records,
            );
        }
        let _ = paperboy::sources::preprints::strip_html(body);
    }
});
