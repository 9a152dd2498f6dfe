//! TeX in titles and abstracts: any input becomes text, never a panic or a hang.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = paperboy::support::tex::to_unicode(s);
    }
});
