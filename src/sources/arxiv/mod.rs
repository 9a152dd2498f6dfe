//! arXiv: the daily RSS announcement and the query API for past days.

mod client;
mod parse;

pub use client::{ArxivClient, ArxivError};
pub use parse::{parse_api, parse_rss, split_authors, Announcement, FeedError};
