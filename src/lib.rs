//! paperboy: a daemon that mails researchers a personalized digest of new arXiv, bioRxiv and
//! medRxiv papers.
//!
//! Data walks one way: sources → store → scoring → digest → outbox → mail. The modules are
//! layers; each imports (by `crate::` path, outside its tests) only modules of layers below its
//! own, never one of its own layer or above. `tests/e2e/architecture.rs` reads this table and
//! `src/` and fails when an import points up or sideways.
//!
//! | layer | modules | what they are |
//! |---|---|---|
//! | 1 | `support` | the clock (the only "now"), private files, TeX and text for display, logging |
//! | 2 | `domain` | pure types valid by construction: papers, ids, scores, money, readers, problems |
//! | 3 | `config` | `paperboy.toml` read and checked once; the schedule |
//! | 4 | `store`, `sources`, `llm`, `mail` | adapters to what is outside: SQLite, arXiv and the preprint servers, the model endpoint, SMTP/files/IMAP |
//! | 5 | `subscribers` | `subscribers.toml`: parsed, edited in place, every change audited |
//! | 6 | `scoring` | one metered way to call the model; triage, verdicts, keyword scoring, answer checking |
//! | 7 | `digest` | a reader's day: selection, the text and HTML views |
//! | 8 | `archive`, `outbox` | the web archive and Atom feed; the one send loop for every mail |
//! | 9 | `alerts` | what the admin is told, queued in the outbox |
//! | 10 | `inbox` | replies: who sent them, what they ask, the answers; subscribing by mail |
//! | 11 | `pipeline` | the daily job: fetch, plan, score, deliver |
//! | 12 | `app` | the composition root (`App::build`) and the daemon loop |
//! | 13 | `cli` | the command line: one file per command, thin doors onto the layers below |
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
