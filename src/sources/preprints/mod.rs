//! Preprint servers beside arXiv: bioRxiv and medRxiv, read through their shared API by calendar
//! windows per server and subject.

mod client;
mod parse;

pub use client::{PreprintClient, PreprintError};
pub use parse::{display_author, papers, parse_page, strip_html, Page, PageError};
