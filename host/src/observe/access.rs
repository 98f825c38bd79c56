//! The access log: one line per response, to standard error or `--access-log-file`
//! (reopened on SIGUSR1, as nginx does, for rotation), written off the request path
//! (`lines`). Formats (`--access-log`):
//!
//! - `sandserve` (default): `peer "request line" status bytes microseconds` plus the
//!   handler's version and time — the line this server always wrote, kept as the
//!   default so that scripts reading it keep working; compact for a terminal — and
//!   `deadline` at the end when the handler was stopped at its deadline;
//! - `common`: NCSA Common Log Format, exactly (`host - - [time] "request" status bytes`);
//! - `combined`: nginx/Apache combined (common + `"referer" "user-agent"`), then the
//!   handler's time in microseconds and version, as nginx configs append
//!   `$request_time` (combined parsers match the standard fields from the start);
//! - `json`: one JSON object per line (`"deadline": true` for a handler stopped at
//!   its deadline);
//! - `off`.
//!
//! Quoted values are escaped (`"`, `\` and control characters), so a client cannot
//! forge a line or a field.

use std::fs::OpenOptions;
use std::io::Write;
use std::net::SocketAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Result, bail};

use crate::observe::lines::{Lines, Sink};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Sandserve,
    Common,
    Combined,
    Json,
    Off,
}

impl Format {
    pub fn parse(text: &str) -> Result<Format> {
        Ok(match text {
            "sandserve" => Format::Sandserve,
            "common" => Format::Common,
            "combined" => Format::Combined,
            "json" => Format::Json,
            "off" => Format::Off,
            _ => bail!("--access-log {text}: expected sandserve, common, combined, json or off"),
        })
    }
}

/// What one line says about one response.
pub struct Entry<'a> {
    pub peer: SocketAddr,
    pub head: &'a [u8],
    pub status: u16,
    pub bytes: u64,
    pub micros: u128,
    /// The live version's short sha256 and the handler's time, when a handler decided.
    pub handler: Option<(&'a str, u128)>,
    /// The handler was stopped at its deadline (the 500 is the host's).
    pub deadline: bool,
    pub at: SystemTime,
    /// It answered an HTTP/2 stream: the request field says `HTTP/2.0`, the protocol
    /// the client spoke, not the HTTP/1.1 of the head the handler was given.
    pub http2: bool,
}

pub struct AccessLog {
    format: Format,
    lines: Option<Lines>,
}

impl AccessLog {
    /// `file`: append to it (created 0640), else standard error.
    pub fn open(format: Format, file: Option<&Path>) -> Result<AccessLog> {
        if format == Format::Off {
            return Ok(AccessLog {
                format,
                lines: None,
            });
        }
        let (name, sink) = match file {
            None => ("access log".to_owned(), Sink::Stderr),
            Some(path) => {
                let path = path.to_owned();
                let name = format!("--access-log-file {}", path.display());
                let open = move || {
                    OpenOptions::new()
                        .append(true)
                        .create(true)
                        .mode(0o640)
                        .open(&path)
                };
                (name, Sink::File(Box::new(open)))
            }
        };
        Ok(AccessLog {
            format,
            lines: Some(Lines::start(name, sink)?),
        })
    }

    pub fn write(&self, entry: &Entry<'_>) {
        if let Some(lines) = &self.lines {
            lines.push(line(self.format, entry));
        }
    }

    /// Reopens the file by its path (SIGUSR1), after the lines queued so far.
    pub fn reopen(&self) {
        if let Some(lines) = &self.lines {
            lines.reopen();
        }
    }

    pub fn flush(&self) {
        if let Some(lines) = &self.lines {
            lines.flush();
        }
    }
}

/// One line, with its newline, in `format`.
pub fn line(format: Format, e: &Entry<'_>) -> Vec<u8> {
    let mut request = crate::http::request::request_line(e.head);
    if e.http2
        && let Some(start) = request.strip_suffix("HTTP/1.1")
    {
        request = format!("{start}HTTP/2.0");
    }
    let (version, handler_us) = match e.handler {
        Some((version, micros)) => (version, micros.to_string()),
        None => ("-", "-".to_owned()),
    };
    let mut out = Vec::with_capacity(256);
    let _ = match format {
        Format::Sandserve => writeln!(
            out,
            "{} \"{request}\" {} {} {}us {version} {handler_us}{}",
            e.peer,
            e.status,
            e.bytes,
            e.micros,
            if e.deadline { " deadline" } else { "" }
        ),
        Format::Common | Format::Combined => {
            let _ = write!(
                out,
                "{} - - [{}] \"{request}\" {} {}",
                e.peer.ip(),
                clf_time(e.at),
                e.status,
                e.bytes
            );
            if format == Format::Combined {
                let _ = write!(
                    out,
                    " \"{}\" \"{}\" {handler_us} {version}",
                    quoted(field(e.head, "referer")),
                    quoted(field(e.head, "user-agent")),
                );
            }
            writeln!(out)
        }
        Format::Json => {
            let seconds = e.at.duration_since(UNIX_EPOCH).unwrap_or_default();
            let value = serde_json::json!({
                "time": seconds.as_secs_f64(),
                "remote": e.peer.ip().to_string(),
                "port": e.peer.port(),
                "request": request,
                "status": e.status,
                "bytes": e.bytes,
                "duration_us": e.micros as u64,
                "referer": field(e.head, "referer"),
                "user_agent": field(e.head, "user-agent"),
                "handler_us": e.handler.map(|(_, us)| us as u64),
                "handler": e.handler.map(|(v, _)| v),
                "deadline": e.deadline,
            });
            let _ = serde_json::to_writer(&mut out, &value);
            writeln!(out)
        }
        Format::Off => Ok(()),
    };
    out
}

/// A field for a quoted slot: `-` when absent, else escaped as `request_line` escapes
/// (quotes, backslashes and control characters).
fn quoted(value: Option<String>) -> String {
    match value {
        None => "-".to_owned(),
        Some(v) => v.chars().flat_map(char::escape_debug).collect(),
    }
}

/// The value of the first field `name` of `head`, at most 1 KiB of it.
fn field(head: &[u8], name: &str) -> Option<String> {
    head.split(|&b| b == b'\n').skip(1).find_map(|line| {
        let (n, v) = line.split_at(line.iter().position(|&b| b == b':')?);
        if !n.eq_ignore_ascii_case(name.as_bytes()) {
            return None;
        }
        let v = v[1..].trim_ascii();
        Some(String::from_utf8_lossy(&v[..v.len().min(1024)]).into_owned())
    })
}

/// `10/Oct/2000:13:55:36 +0000`: the Common Log Format's time, in UTC.
fn clf_time(at: SystemTime) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Days since 1970-01-01 to a civil date (Howard Hinnant's `civil_from_days`).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{day:02}/{}/{year}:{:02}:{:02}:{:02} +0000",
        MONTHS[(month - 1) as usize],
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn entry(head: &[u8]) -> Entry<'_> {
        Entry {
            peer: "192.0.2.7:4321".parse().unwrap(),
            head,
            status: 200,
            bytes: 1234,
            micros: 250,
            handler: Some(("3f2a9c1d0e5b", 40)),
            deadline: false,
            at: UNIX_EPOCH + Duration::from_secs(971_186_136),
            http2: false,
        }
    }

    /// An HTTP/2 stream's line names the protocol the client spoke.
    #[test]
    fn an_http2_stream_is_logged_as_http2() {
        let head = b"GET /a HTTP/1.1\r\nhost: x\r\n\r\n";
        let mut e = entry(head);
        e.http2 = true;
        let line = String::from_utf8(super::line(Format::Sandserve, &e)).unwrap();
        assert!(line.contains("\"GET /a HTTP/2.0\" 200"), "{line}");
    }

    /// A call stopped at its deadline says so in the formats of our own, never in the
    /// standard ones.
    #[test]
    fn the_deadline_is_said_where_the_format_is_ours() {
        let head = b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n";
        let mut e = entry(head);
        e.deadline = true;
        e.status = 500;
        let own = String::from_utf8(super::line(Format::Sandserve, &e)).unwrap();
        assert!(own.ends_with(" 3f2a9c1d0e5b 40 deadline\n"), "{own}");
        let json: serde_json::Value =
            serde_json::from_slice(&super::line(Format::Json, &e)).unwrap();
        assert_eq!(json["deadline"], true);
        let common = String::from_utf8(super::line(Format::Common, &e)).unwrap();
        assert!(common.ends_with("\" 500 1234\n"), "{common}");
        e.deadline = false;
        let own = String::from_utf8(super::line(Format::Sandserve, &e)).unwrap();
        assert!(own.ends_with(" 3f2a9c1d0e5b 40\n"), "{own}");
    }

    #[test]
    fn the_time_is_the_common_log_formats() {
        assert_eq!(clf_time(UNIX_EPOCH), "01/Jan/1970:00:00:00 +0000");
        let t = UNIX_EPOCH + Duration::from_secs(971_186_136);
        assert_eq!(clf_time(t), "10/Oct/2000:13:55:36 +0000");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(clf_time(leap), "29/Feb/2000:00:00:00 +0000");
    }

    #[test]
    fn combined_and_json_lines() {
        let head =
            b"GET /a.txt HTTP/1.1\r\nHost: x\r\nReferer: http://r/\r\nUser-Agent: t \"1\"\r\n\r\n";
        let line = String::from_utf8(super::line(Format::Combined, &entry(head))).unwrap();
        assert_eq!(
            line,
            "192.0.2.7 - - [10/Oct/2000:13:55:36 +0000] \"GET /a.txt HTTP/1.1\" 200 1234 \
             \"http://r/\" \"t \\\"1\\\"\" 40 3f2a9c1d0e5b\n"
        );
        let json = super::line(Format::Json, &entry(head));
        let value: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(value["status"], 200);
        assert_eq!(value["handler"], "3f2a9c1d0e5b");
        assert_eq!(value["user_agent"], "t \"1\"");
        let common = String::from_utf8(super::line(Format::Common, &entry(head))).unwrap();
        assert!(
            common.ends_with("\"GET /a.txt HTTP/1.1\" 200 1234\n"),
            "{common}"
        );
    }
}
