//! Small types that are valid by construction. Everything that crosses an edge (config, feeds,
//! model output, command-line arguments) is converted into one of these before the core sees it.

mod arxiv_id;
mod category;
mod email;
mod language;
mod money;
mod paper;
mod paper_id;
pub mod problem;
mod score;

pub use arxiv_id::{ArxivId, ArxivIdError};
pub use category::{Category, CategoryError};
pub use email::{EmailError, SubscriberEmail};
pub use language::{Language, LanguageError};
pub use money::{thousands, Money};
pub use paper::{merge_duplicates, AnnounceType, Paper, Source};
pub use paper_id::{Doi, PaperId, PaperIdError};
pub use score::{Score, ScoreError, Verdict};
