//! The server's own messages (start-up, swaps, reloads, failures), through `tracing`,
//! on standard error as `sandserve: [LEVEL: ]message` lines — info without a level, so
//! the lines read as they always did. `RUST_LOG` filters them with its usual syntax
//! (`warn`, `sandserve=debug`, `info,sandserve::swap=warn`); the default shows
//! sandserve's messages from info up and other crates' warnings. Access-log lines do
//! not go through here (`access`).

use std::fmt;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

const DEFAULT: &str = "warn,sandserve=info";

/// Installs the subscriber; a `RUST_LOG` that does not parse is said once and the
/// default used instead.
pub fn init() {
    let asked = std::env::var("RUST_LOG").ok();
    let (filter, bad) = match asked.as_deref().map(str::parse::<Targets>) {
        Some(Ok(filter)) => (filter, None),
        Some(Err(e)) => (DEFAULT.parse().expect("the default filter"), Some(e)),
        None => (DEFAULT.parse().expect("the default filter"), None),
    };
    let format = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .event_format(Line);
    let _ = tracing_subscriber::registry()
        .with(format)
        .with(filter)
        .try_init();
    if let Some(e) = bad {
        tracing::warn!("RUST_LOG: {e}; using {DEFAULT}");
    }
}

/// `sandserve: message` for info, `sandserve: warning: message` and so on otherwise.
struct Line;

impl<S, N> FormatEvent<S, N> for Line
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let level = match *event.metadata().level() {
            Level::INFO => "",
            Level::WARN => "warning: ",
            Level::ERROR => "error: ",
            Level::DEBUG => "debug: ",
            Level::TRACE => "trace: ",
        };
        write!(writer, "sandserve: {level}")?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}
