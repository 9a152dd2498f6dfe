//! A reader's library: read within its limits or refused with the line at fault, never a
//! panic, a stack overflow or a hang.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = paperboy::subscribers::library::parse_bibtex(
            s,
            &paperboy::subscribers::library::Limits::default(),
        );
    }
});
