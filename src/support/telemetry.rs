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
    // Under systemd (`JOURNAL_STREAM` is set when stderr goes to the journal) each line starts
    // with its syslog priority, `<3>` for an error, so `journalctl -p err` finds it.
    let writer = Stderr {
        priorities: std::env::var_os("JOURNAL_STREAM").is_some(),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(ansi);
    let _ = match format {
        LogFormat::Text => builder.with_target(false).try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// stderr, each event's line prefixed with its syslog priority when `priorities` is on.
#[derive(Clone, Copy)]
struct Stderr {
    priorities: bool,
}

/// The syslog priority journald reads from a `<N>` prefix (sd-daemon(3)).
pub fn priority(level: &tracing::Level) -> u8 {
    match *level {
        tracing::Level::ERROR => 3,
        tracing::Level::WARN => 4,
        tracing::Level::INFO => 6,
        tracing::Level::DEBUG | tracing::Level::TRACE => 7,
    }
}

/// One event's writer: the prefix goes out with the first write.
pub struct PrefixedStderr {
    prefix: Option<String>,
}

impl std::io::Write for PrefixedStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut err = std::io::stderr().lock();
        if let Some(p) = self.prefix.take() {
            err.write_all(p.as_bytes())?;
        }
        // Every line passes the one redaction of secrets.
        match std::str::from_utf8(buf) {
            Ok(text) => err.write_all(super::redact::redact(text).as_bytes())?,
            Err(_) => err.write_all(buf)?,
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Stderr {
    type Writer = PrefixedStderr;

    fn make_writer(&'a self) -> PrefixedStderr {
        PrefixedStderr { prefix: None }
    }

    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> PrefixedStderr {
        PrefixedStderr {
            prefix: self
                .priorities
                .then(|| format!("<{}>", priority(meta.level()))),
        }
    }
}
