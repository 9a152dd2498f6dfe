//! A reply as a mail client (or an attacker) writes it: the text typed comes out, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(msg) = mail_parser::MessageParser::default().parse(data) {
        let body = paperboy::inbox::body_text(&msg);
        let _ = paperboy::inbox::reply::typed_text(&body);
    }
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = paperboy::inbox::reply::typed_text(s);
        let _ = paperboy::inbox::reply::html_to_text(s);
    }
});
