//! Small types that are valid by construction. Everything that crosses an edge (config, feeds,
//! model output, command-line arguments) is converted into one of these before the core sees it.

mod arxiv_id;
mod author;
mod category;
mod email;
mod language;
mod money;
mod paper;
mod paper_id;
pub mod problem;
pub mod reply;
mod score;
mod subscriber;
#[cfg(test)]
pub mod testing;
pub mod vector;

pub use arxiv_id::{ArxivId, ArxivIdError};
pub use author::{author_matches, followed_authors, same_author, surname_key};
pub use category::{Category, CategoryError};
pub use email::{EmailError, SubscriberEmail};
pub use language::{Language, LanguageError};
pub use money::{thousands, Money};
pub use paper::{merge_duplicates, AnnounceType, Paper, Source};
pub use paper_id::{Doi, PaperId, PaperIdError};
pub use reply::{ReplyAddresses, ReplyTokens};
pub use score::{Score, ScoreError, Verdict};
pub use subscriber::{
    parse_weekday, Frequency, Subscriber, DEFAULT_FULL_CARDS, DEFAULT_MAX_PAPERS,
    DEFAULT_MIN_NOVELTY, DEFAULT_MIN_RELEVANCE, GROUPING_TOPICS, MAX_FULL_CARDS,
};
