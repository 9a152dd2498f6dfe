//! paperboy: a daemon that mails researchers a personalized digest of new arXiv, bioRxiv and medRxiv papers.
#![forbid(unsafe_code)]

pub mod alerts;
pub mod app;
pub mod archive;
pub mod cli;
pub mod config;
pub mod digest;
pub mod domain;
pub mod inbox;
pub mod llm;
pub mod mail;
pub mod outbox;
pub mod pipeline;
pub mod scoring;
pub mod sources;
pub mod store;
pub mod subscribers;
pub mod support;
