//! Log setup: human-readable lines on stderr, level from STEWARD_LOG (or RUST_LOG).
//!
//! Log lines carry text from outside (a sign-in form's username, an agent's device name).
//! Every field and message goes through [`EscapedFields`], so a newline cannot forge a
//! line and an escape sequence cannot reach the terminal of whoever reads the log: no call
//! site has to remember. Colours only when stderr is a terminal, so files and journals get
//! plain text.

use std::io::IsTerminal;

use steward_core::Escaped;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::{DefaultFields, Writer};
use tracing_subscriber::fmt::{FormatFields, MakeWriter};
use tracing_subscriber::util::SubscriberInitExt;

pub fn init(default: &str) {
    let filter = std::env::var("STEWARD_LOG")
        .ok()
        .or_else(|| std::env::var("RUST_LOG").ok())
        .unwrap_or_else(|| default.to_string());
    let ansi = std::io::stderr().is_terminal();
    // try_init also routes the `log` crate's records (rustls) through the same formatter.
    let _ = subscriber(EnvFilter::new(filter), std::io::stderr, ansi).try_init();
}

/// The subscriber `init` installs, writing to `writer`.
fn subscriber<W>(filter: EnvFilter, writer: W, ansi: bool) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(ansi)
        .with_target(false)
        .fmt_fields(EscapedFields)
        .finish()
}

/// The default `key=value` rendering of fields and message, with every control and bidi
/// character (see `steward_core::text`) written as a visible `\u{…}` escape.
struct EscapedFields;

impl<'writer> FormatFields<'writer> for EscapedFields {
    fn format_fields<R: RecordFields>(
        &self,
        mut writer: Writer<'writer>,
        fields: R,
    ) -> std::fmt::Result {
        // Rendered without colours first (field names are not styled then), then escaped as
        // a whole: the formatter's own separators are plain spaces and `=`.
        let mut plain = String::new();
        DefaultFields::new().format_fields(Writer::new(&mut plain), fields)?;
        write!(writer, "{}", Escaped(&plain))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'w> MakeWriter<'w> for Capture {
        type Writer = Capture;
        fn make_writer(&'w self) -> Capture {
            self.clone()
        }
    }

    #[test]
    fn forged_lines_and_escape_sequences_never_reach_the_log() {
        let out = Capture::default();
        let forged =
            "admin\n2026-11-28T10:00:00.000000Z  INFO signed in user=admin\x1b[31m\u{202E}";
        tracing::subscriber::with_default(
            subscriber(EnvFilter::new("info"), out.clone(), false),
            || {
                let span = tracing::info_span!("request", path = %forged);
                let _entered = span.enter();
                tracing::warn!(user = %forged, debug = ?forged, "failed sign-in");
                tracing::info!("message naming {forged}");
            },
        );
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 2, "one line per event:\n{text}");
        assert!(
            !text.contains('\x1b') && !text.contains('\u{202E}'),
            "{text:?}"
        );
        assert!(
            text.contains("user=admin\\u{a}2026-11-28T10:00:00.000000Z  INFO"),
            "{text}"
        );
        assert!(text.contains("\\u{1b}[31m\\u{202e}"), "{text}");
        assert!(text.contains("message naming admin\\u{a}"), "{text}");
    }

    #[test]
    fn no_colour_codes_when_not_a_terminal() {
        let out = Capture::default();
        tracing::subscriber::with_default(
            subscriber(EnvFilter::new("info"), out.clone(), false),
            || tracing::error!(code = 7, "plain"),
        );
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        assert!(text.contains("ERROR") && !text.contains('\x1b'), "{text:?}");
    }
}
