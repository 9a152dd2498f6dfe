//! Where papers come from: arXiv's announcements and query API, and the bioRxiv/medRxiv API.
//! Each client turns what a server answers into `Vec<Paper>`; none knows of readers or the store.

pub mod arxiv;
pub mod http;
pub mod preprints;
