//! `--record FILE`: every request head a handler is asked to decide, as that handler
//! saw it, appended to FILE as a JSON line (`{"at": SECONDS, "mount": null, "head":
//! "GET / HTTP/1.1\r\n…"}`; `mount` names the `--mount` prefix whose handler decided
//! it) for `sandserve diff --requests FILE` to replay. Credentials are left out — the
//! `Cookie`, `Authorization` and `Proxy-Authorization` lines — unless `--record-keep
//! NAME` says otherwise; the file is made mode 0600 all the same, new or not (targets
//! carry tokens too).
//!
//! Serving never waits on the disk: the lines go through `lines` (a bounded queue, a
//! writer thread; a head that finds the queue full is dropped and counted).
//!
//! A head is bytes, not text (a field value may hold obs-text): `head` holds them as
//! ISO-8859-1 characters, one character per byte, so that any head survives the trip.

use std::fs::OpenOptions;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Result, bail};

use crate::observe::lines::{Lines, Sink};

/// Fields left out of a recorded head unless kept by name.
pub const LEFT_OUT: &[&str] = &["authorization", "cookie", "proxy-authorization"];

pub struct Recorder {
    lines: Lines,
    /// Field names (lower case) left out of every head.
    left_out: Vec<String>,
}

impl Recorder {
    /// Opens `path` for appending (made 0600 if new) and starts the writer. `keep`:
    /// names of `LEFT_OUT` fields to record all the same.
    pub fn open(path: &Path, keep: &[String]) -> Result<Recorder> {
        for name in keep {
            if !LEFT_OUT.contains(&name.to_ascii_lowercase().as_str()) {
                bail!(
                    "--record-keep {name}: only the fields left out can be kept: {}",
                    LEFT_OUT.join(", ")
                );
            }
        }
        let left_out = LEFT_OUT
            .iter()
            .filter(|name| !keep.iter().any(|k| k.eq_ignore_ascii_case(name)))
            .map(|name| name.to_string())
            .collect();
        let name = format!("--record {}", path.display());
        let path = path.to_owned();
        let open = move || {
            let file = OpenOptions::new()
                .append(true)
                .create(true)
                .mode(0o600)
                .open(&path)?;
            // An existing file keeps its mode on open: make it ours alone too.
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
            Ok(file)
        };
        let lines = Lines::start(name, Sink::File(Box::new(open)))?;
        Ok(Recorder { lines, left_out })
    }

    /// Queues one head as the handler of `mount` (`None`: `--handler`'s) saw it, less
    /// the left-out fields.
    pub fn record(&self, head: &[u8], mount: Option<&str>) {
        let line = line(&without(head, &self.left_out), mount, SystemTime::now());
        self.lines.push(line);
    }

    /// Waits, a second at most, until every head queued so far is written out.
    pub fn flush(&self) {
        self.lines.flush();
    }
}

/// The head less the field lines named in `left_out`.
fn without(head: &[u8], left_out: &[String]) -> Vec<u8> {
    head.split_inclusive(|&b| b == b'\n')
        .filter(|line| {
            let name = line.split(|&b| b == b':').next().unwrap_or_default();
            !line.contains(&b':')
                || !left_out
                    .iter()
                    .any(|n| name.eq_ignore_ascii_case(n.as_bytes()))
        })
        .flatten()
        .copied()
        .collect()
}

/// One JSON line for `head`, decided by `mount`'s handler, received `at`.
fn line(head: &[u8], mount: Option<&str>, at: SystemTime) -> Vec<u8> {
    let text: String = head.iter().map(|&b| char::from(b)).collect();
    let seconds = at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let value = serde_json::json!({"at": seconds, "mount": mount, "head": text});
    let mut line = serde_json::to_vec(&value).expect("a string always serialises");
    line.push(b'\n');
    line
}

/// The bytes of a recorded `head` (one character per byte); `None` if it has a
/// character past U+00FF, which no recorded head has.
pub fn head_bytes(text: &str) -> Option<Vec<u8>> {
    text.chars().map(|c| u8::try_from(c).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_left_out_and_bytes_survive() {
        let head = b"GET /a?t=1 HTTP/1.1\r\nHost: x\r\nCookie: s=1\r\nauthorization: Basic eA==\r\nX-Note: caf\xe9\r\n\r\n";
        let left_out: Vec<String> = LEFT_OUT.iter().map(|s| s.to_string()).collect();
        let kept = without(head, &left_out);
        assert_eq!(
            kept,
            b"GET /a?t=1 HTTP/1.1\r\nHost: x\r\nX-Note: caf\xe9\r\n\r\n"
        );
        let at = UNIX_EPOCH + std::time::Duration::from_secs(7);
        let line = line(&kept, Some("/py/"), at);
        let value: serde_json::Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(value["at"], 7);
        assert_eq!(value["mount"], "/py/");
        assert_eq!(head_bytes(value["head"].as_str().unwrap()).unwrap(), kept);
        assert_eq!(head_bytes("\u{100}"), None);
    }
}
