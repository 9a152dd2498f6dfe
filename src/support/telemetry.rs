//! Logging: tracing to stderr, human-readable or JSON, tuned with `RUST_LOG`.

use tracing_subscriber::EnvFilter;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

pub fn init(format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("paperboy=info,warn"));
    // The IMAP crate traces every command it sends, LOGIN and its password included: never
    // below info, whatever RUST_LOG asks.
    let filter = filter.add_directive(
        "async_imap=info"
            .parse()
            .expect("a valid logging directive"),
    );
    // Colour only on a terminal: a journal or log file gets plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    let _ = match format {
        LogFormat::Text => builder.with_target(false).try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
