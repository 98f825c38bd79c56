//! Mounts: `--mount PREFIX=FILE.wasm` gives the requests under a path prefix a handler
//! slot of their own — its own live version, versions kept for rollback, recent heads
//! and swaps — beside the `--handler` slot, which takes the rest.
//!
//! The longest prefix wins, by whole segments (`/py/` takes `/py/a.txt`, never
//! `/python`). A mounted handler sees the request as if the prefix were its root
//! (`/py/a.txt` arrives as `/a.txt`, as Caddy's `handle_path` does), so the same handler
//! serves the same site under either path; a `Location` it answers with that is a path
//! (`/docs/`) is put back under the prefix (`/py/docs/`), as nginx's `proxy_redirect
//! default` does; and the prefix without its slash (`/py`) is answered by the host
//! with a 301 to `/py/`, as nginx answers for a prefix location. The target is matched
//! as sent, before any percent-decoding: `..` and encoded segments are the handler's
//! to refuse. A mount is not a boundary: every slot's handler sees the same root, so
//! what one handler refuses (say the JS handler's `_redirects`) another may serve.

use std::borrow::Cow;
use std::path::PathBuf;

use crate::sandbox::plan::Plan;
use crate::sandbox::response::Checked;
use crate::versions::live::Live;

/// One handler slot: the `--handler` one or a mount.
pub struct Slot {
    /// The mount's prefix, ending in `/` (`/py/`); `None` for the `--handler` slot.
    pub prefix: Option<String>,
    pub live: Live,
    /// The file SIGHUP and `--watch` re-read; `None` for the built-in handler. SIGHUP
    /// changes it when the `--config` file names another `handler`.
    file: std::sync::RwLock<Option<PathBuf>>,
}

impl Slot {
    pub fn new(prefix: Option<String>, live: Live, file: Option<PathBuf>) -> Slot {
        Slot {
            prefix,
            live,
            file: std::sync::RwLock::new(file),
        }
    }

    /// The file the slot's handler comes from now.
    pub fn file(&self) -> Option<PathBuf> {
        self.file.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The configuration names another file for this slot (SIGHUP).
    pub fn set_file(&self, file: PathBuf) {
        *self.file.write().unwrap_or_else(|e| e.into_inner()) = Some(file);
    }

    /// How the slot is named in logs and reports: its prefix, or `--handler`.
    pub fn name(&self) -> &str {
        self.prefix.as_deref().unwrap_or("--handler")
    }
}

/// Where one request goes.
pub enum Route<'s, 'h> {
    /// To this slot, with the head its handler sees.
    To(&'s Slot, Cow<'h, [u8]>),
    /// A mount's prefix without its final slash: the host redirects to this location.
    AddSlash(String),
}

/// Every slot: the mounts, longest prefix first, then the `--handler` slot.
pub struct Mounts {
    slots: Vec<Slot>,
}

impl Mounts {
    /// `default` is the `--handler` slot; `mounts` the others, in any order.
    pub fn new(default: Slot, mut mounts: Vec<Slot>) -> Mounts {
        mounts.sort_by_key(|slot| std::cmp::Reverse(slot.prefix.as_ref().map_or(0, String::len)));
        mounts.push(default);
        Mounts { slots: mounts }
    }

    /// The `--handler` slot.
    pub fn default_slot(&self) -> &Slot {
        self.slots
            .last()
            .expect("the --handler slot is always there")
    }

    /// Every slot, the `--handler` one last.
    pub fn all(&self) -> &[Slot] {
        &self.slots
    }

    /// The slot of `prefix` (`None`: the `--handler` slot). A prefix given without its
    /// final slash names the same mount.
    pub fn slot(&self, prefix: Option<&str>) -> Option<&Slot> {
        let Some(prefix) = prefix else {
            return Some(self.default_slot());
        };
        self.slots.iter().find(|slot| {
            slot.prefix
                .as_deref()
                .is_some_and(|own| own == prefix || own.strip_suffix('/') == Some(prefix))
        })
    }

    /// The slot a checked head goes to, and the head as its handler sees it.
    pub fn route<'h>(&self, head: &'h [u8]) -> Route<'_, 'h> {
        if self.slots.len() == 1 {
            return Route::To(self.default_slot(), Cow::Borrowed(head));
        }
        match pick(self.slots.iter().map(|s| s.prefix.as_deref()), head) {
            Picked::Slot(at, seen) => Route::To(&self.slots[at], seen),
            Picked::AddSlash(location) => Route::AddSlash(location),
        }
    }
}

/// What `pick` found: the index of the slot and the head it sees, or a redirect.
#[derive(Debug, PartialEq)]
enum Picked<'h> {
    Slot(usize, Cow<'h, [u8]>),
    AddSlash(String),
}

/// The first of `prefixes` (longest first; `None`, the `--handler` slot, last) that
/// takes the head's target.
fn pick<'a, 'h>(prefixes: impl Iterator<Item = Option<&'a str>>, head: &'h [u8]) -> Picked<'h> {
    let mut fallback = 0;
    let target = target_span(head)
        .and_then(|(start, end)| path_start(&head[start..end]).map(|at| (start + at, end)));
    for (index, prefix) in prefixes.enumerate() {
        let Some(prefix) = prefix else {
            fallback = index;
            continue;
        };
        let Some((path_at, end)) = target else {
            continue;
        };
        let path_and_query = &head[path_at..end];
        let path_len = path_and_query
            .iter()
            .position(|&b| b == b'?')
            .unwrap_or(path_and_query.len());
        let path = &path_and_query[..path_len];
        let prefix = prefix.as_bytes();
        if path.starts_with(prefix) {
            // Keep the prefix's last `/`: `/py/a.txt` becomes `/a.txt`.
            let mut seen = Vec::with_capacity(head.len());
            seen.extend_from_slice(&head[..path_at]);
            seen.extend_from_slice(&head[path_at + prefix.len() - 1..]);
            return Picked::Slot(index, Cow::Owned(seen));
        }
        if path == &prefix[..prefix.len() - 1] {
            // Checked heads are ASCII up to the version.
            let query = String::from_utf8_lossy(&path_and_query[path_len..]);
            return Picked::AddSlash(format!("{}{query}", String::from_utf8_lossy(prefix)));
        }
    }
    Picked::Slot(fallback, Cow::Borrowed(head))
}

/// The byte span of the request target in a checked head (`METHOD SP target SP …`).
fn target_span(head: &[u8]) -> Option<(usize, usize)> {
    let line_end = head.iter().position(|&b| b == b'\r' || b == b'\n')?;
    let line = &head[..line_end];
    let start = line.iter().position(|&b| b == b' ')? + 1;
    let end = start + line[start..].iter().position(|&b| b == b' ')?;
    Some((start, end))
}

/// Where the path begins in a target: at once in origin-form, after the authority in
/// absolute-form; `None` for `*`, authority-form and an absolute URI without a path.
fn path_start(target: &[u8]) -> Option<usize> {
    if target.first() == Some(&b'/') {
        return Some(0);
    }
    let scheme_end = target.windows(3).position(|w| w == b"://")? + 3;
    // The authority ends at the first `/` or `?`; a query straight after it means the
    // path is empty (`http://h?a/py/` asks for `/`, not for anything under `/py/`).
    let end = scheme_end
        + target[scheme_end..]
            .iter()
            .position(|&b| b == b'/' || b == b'?')?;
    (target[end] == b'/').then_some(end)
}

/// Puts a path `Location` of a mounted handler's answer back under its prefix.
pub fn outward(prefix: &str, head: &mut Vec<u8>) {
    let base = prefix.trim_end_matches('/').as_bytes();
    let mut out = Vec::with_capacity(head.len() + base.len());
    let mut changed = false;
    for line in head.split_inclusive(|&b| b == b'\n') {
        let name_end = line.iter().position(|&b| b == b':');
        let is_location = name_end.is_some_and(|at| line[..at].eq_ignore_ascii_case(b"location"));
        if let (true, Some(at)) = (is_location, name_end) {
            let value_at = at
                + 1
                + line[at + 1..]
                    .iter()
                    .take_while(|&&b| b == b' ' || b == b'\t')
                    .count();
            let value = &line[value_at..];
            // A path (`/x`), not a URI with a scheme or a network-path (`//host/x`).
            if value.starts_with(b"/") && !value.starts_with(b"//") {
                out.extend_from_slice(&line[..value_at]);
                out.extend_from_slice(base);
                out.extend_from_slice(value);
                changed = true;
                continue;
            }
        }
        out.extend_from_slice(line);
    }
    if changed {
        *head = out;
    }
}

/// The host's 301 from a mount's prefix without its slash to the prefix.
pub fn add_slash(location: &str) -> Checked {
    let head = format!(
        "HTTP/1.1 301 Moved Permanently\r\nServer: sandserve\r\nDate: {}\r\n\
         Location: {location}\r\nContent-Length: 0\r\n\r\n",
        httpdate::fmt_http_date(std::time::SystemTime::now()),
    );
    Checked {
        status: 301,
        head: head.into_bytes(),
        body: Plan::default(),
        kind: "empty",
        close: false,
        says_close: false,
        decided_by: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PREFIXES: [Option<&str>; 3] = [Some("/py/deep/"), Some("/py/"), None];

    fn seen(head: &str) -> (String, String) {
        match pick(PREFIXES.into_iter(), head.as_bytes()) {
            Picked::Slot(at, head) => (
                PREFIXES[at].unwrap_or("--handler").to_owned(),
                crate::http::request::request_line(&head),
            ),
            Picked::AddSlash(location) => ("301".to_owned(), location),
        }
    }

    #[test]
    fn longest_prefix_by_whole_segments() {
        let cases = [
            ("GET /py/a.txt HTTP/1.1", "/py/", "GET /a.txt HTTP/1.1"),
            ("GET /py/ HTTP/1.1", "/py/", "GET / HTTP/1.1"),
            (
                "GET /py/deep/x?q=1 HTTP/1.1",
                "/py/deep/",
                "GET /x?q=1 HTTP/1.1",
            ),
            ("GET /python HTTP/1.1", "--handler", "GET /python HTTP/1.1"),
            ("GET /a/py/ HTTP/1.1", "--handler", "GET /a/py/ HTTP/1.1"),
            ("GET /?/py/ HTTP/1.1", "--handler", "GET /?/py/ HTTP/1.1"),
            (
                "GET http://h/py/a HTTP/1.1",
                "/py/",
                "GET http://h/a HTTP/1.1",
            ),
            (
                "GET http://h?a/py/x HTTP/1.1",
                "--handler",
                "GET http://h?a/py/x HTTP/1.1",
            ),
            (
                "GET http://h?/py HTTP/1.1",
                "--handler",
                "GET http://h?/py HTTP/1.1",
            ),
            ("OPTIONS * HTTP/1.1", "--handler", "OPTIONS * HTTP/1.1"),
            ("GET /py?x HTTP/1.1", "301", "/py/?x"),
            ("GET /py/deep HTTP/1.1", "301", "/py/deep/"),
        ];
        for (line, slot, line_seen) in cases {
            let head = format!("{line}\r\nHost: h\r\n\r\n");
            assert_eq!(
                seen(&head),
                (slot.to_owned(), line_seen.to_owned()),
                "{line}"
            );
        }
    }

    #[test]
    fn a_path_location_goes_back_under_the_prefix() {
        let mut head = b"HTTP/1.1 301 Moved\r\nlocation: /docs/\r\nX: /y\r\n\r\n".to_vec();
        outward("/py/", &mut head);
        assert_eq!(
            head,
            b"HTTP/1.1 301 Moved\r\nlocation: /py/docs/\r\nX: /y\r\n\r\n"
        );
        for kept in ["Location: http://e/x", "Location: //e/x", "Location: x"] {
            let mut head = format!("HTTP/1.1 302 Found\r\n{kept}\r\n\r\n").into_bytes();
            let before = head.clone();
            outward("/py/", &mut head);
            assert_eq!(head, before);
        }
    }
}
