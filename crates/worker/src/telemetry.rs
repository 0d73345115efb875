//! Log output: pretty or JSON lines on stderr, filtered by `RUST_LOG` or else `log.level`,
//! with the HTTP, TLS and OAuth libraries capped at `info` whatever either says: at `debug`
//! they log request and response bodies, which carry access tokens, refresh tokens and signed
//! JWT assertions.

use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::{FilterExt as _, Targets};
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer as _};

use crate::config::{LogFormat, LogSection};

/// Libraries whose logs never go below `info`, whatever `log.level` or `RUST_LOG` say.
pub const CAPPED: &[&str] = &[
    "yup_oauth2",
    "oauth2",
    "hyper",
    "hyper_util",
    "hyper_rustls",
    "reqwest",
    "h2",
    "rustls",
    "google_apis_common",
    "google_gmail1",
];

/// The cap: every target of [`CAPPED`] at `info` at most, everything else as the other
/// filter says.
#[must_use]
pub fn caps() -> Targets {
    Targets::new()
        .with_default(LevelFilter::TRACE)
        .with_targets(CAPPED.iter().map(|t| (*t, LevelFilter::INFO)))
}

/// Installs the global tracing subscriber. `default_level` is used when `RUST_LOG` is unset
/// (the worker passes `log.level`; one-shot commands pass something quieter). Calling it twice
/// keeps the first subscriber.
pub fn init(log: &LogSection, default_level: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    let writer = BoxMakeWriter::new(std::io::stderr);
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(writer)
        .with_ansi(ansi);
    let layer = match log.format {
        LogFormat::Pretty => layer.boxed(),
        LogFormat::Json => layer
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .boxed(),
    };
    let _already_set = tracing_subscriber::registry()
        .with(layer.with_filter(filter.and(caps())))
        .try_init();
}

#[cfg(test)]
mod tests {
    use tracing::Level;

    use super::*;

    #[test]
    fn the_libraries_stay_at_info_whatever_the_other_filter_says() {
        let caps = caps();
        for target in [
            "yup_oauth2::service_account",
            "hyper_util::client::legacy",
            "rustls::client",
            "h2::codec",
            "reqwest::connect",
        ] {
            assert!(
                !caps.would_enable(target, &Level::DEBUG),
                "{target} at debug"
            );
            assert!(caps.would_enable(target, &Level::INFO), "{target} at info");
        }
        assert!(caps.would_enable("mailroom_worker::handler", &Level::TRACE));
    }
}
