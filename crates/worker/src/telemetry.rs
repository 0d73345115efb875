//! Log output: pretty or JSON lines on stderr, filtered by `RUST_LOG` or else `log.level`.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::writer::BoxMakeWriter;

use crate::config::{LogFormat, LogSection};

/// Installs the global tracing subscriber. `default_level` is used when `RUST_LOG` is unset
/// (the worker passes `log.level`; one-shot commands pass something quieter). Calling it twice
/// keeps the first subscriber.
pub fn init(log: &LogSection, default_level: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    let writer = BoxMakeWriter::new(std::io::stderr);
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(ansi);
    let _already_set = match log.format {
        LogFormat::Pretty => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
    };
}
