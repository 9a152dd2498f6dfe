//! End-to-end tests: the `paperboy` binary against a real SMTP server (aiosmtpd), a SQLite file,
//! and local stand-ins for arXiv and the model that speak their real wire formats.
//! One test binary, so the suite links once.

/// As the binary's (src/main.rs), for the benchmarks that run the embedding model in-process.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod admin;
mod admin_ops;
mod architecture;
mod attacked;
mod bench;
mod beyond;
mod browser;
mod capabilities;
mod daemon;
mod digest;
mod fuzzed;
mod helpers;
mod hostile;
mod institute;
mod llm_stand_in;
mod metering;
mod monitoring;
mod one_writer;
mod operations;
mod preprints;
mod recall;
mod rehearsal;
mod render;
mod replies;
mod scoring;
mod setup_errors;
mod strangers;
mod subscribing;
mod teaching;
mod untrusted;
mod upgrade;
