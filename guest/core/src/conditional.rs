//! Validators and conditional requests (RFC 9110 §8.8, §13): the file's ETag and
//! Last-Modified, and what If-Match, If-Unmodified-Since, If-None-Match and
//! If-Modified-Since make of a request, in the order of §13.2.2.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::request::{Method, Request, trim};
use crate::root::Meta;

/// A file's validators, from its metadata alone (the file is never read for them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validators {
    /// Strong: the size and the modification time to the nanosecond, so a file
    /// rewritten with other bytes gets another tag (nginx uses size and seconds).
    pub etag: String,
    /// `None` when the file system gives no modification time.
    pub last_modified: Option<SystemTime>,
}

impl Validators {
    pub fn of(meta: &Meta) -> Validators {
        let since = meta
            .modified
            .and_then(|m| m.duration_since(UNIX_EPOCH).ok())
            .unwrap_or_default();
        Validators {
            etag: format!(
                "\"{:x}-{:x}.{:08x}\"",
                meta.len,
                since.as_secs(),
                since.subsec_nanos()
            ),
            last_modified: meta.modified,
        }
    }

    /// The same representation encoded otherwise (a precompressed sibling) needs a tag
    /// of its own: `"…-br"`.
    pub fn for_encoding(&self, coding: &str) -> Validators {
        let tag = self.etag.trim_end_matches('"');
        Validators {
            etag: format!("{tag}-{coding}\""),
            last_modified: self.last_modified,
        }
    }

    /// Last-Modified as HTTP sends it: whole seconds.
    fn modified_secs(&self) -> Option<u64> {
        self.last_modified
            .and_then(|m| m.duration_since(UNIX_EPOCH).ok())
            .map(|d| d.as_secs())
    }
}

/// What the preconditions decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Answer as if there were no preconditions (Range may still apply).
    Proceed,
    /// 304: the client's copy is current.
    NotModified,
    /// 412: a precondition the client set is false.
    PreconditionFailed,
}

/// Evaluates the preconditions of `request` against the file's validators (§13.2.2).
pub fn evaluate(request: &Request<'_>, v: &Validators) -> Outcome {
    // 1-2: If-Match, or else If-Unmodified-Since.
    if let Some(value) = request.header("if-match") {
        if !matches_any(value, &v.etag, Comparison::Strong) {
            return Outcome::PreconditionFailed;
        }
    } else if let Some(date) = request.header("if-unmodified-since").and_then(date) {
        // Without a Last-Modified the condition cannot be shown true.
        if v.modified_secs().is_none_or(|m| m > date) {
            return Outcome::PreconditionFailed;
        }
    }
    let safe = matches!(request.method, Method::Get | Method::Head);
    // 3-4: If-None-Match, or else If-Modified-Since (only for GET and HEAD).
    if let Some(value) = request.header("if-none-match") {
        if matches_any(value, &v.etag, Comparison::Weak) {
            return if safe {
                Outcome::NotModified
            } else {
                Outcome::PreconditionFailed
            };
        }
    } else if safe
        && let Some(date) = request.header("if-modified-since").and_then(date)
        && v.modified_secs().is_some_and(|m| m <= date)
    {
        return Outcome::NotModified;
    }
    Outcome::Proceed
}

/// Whether If-Range lets a Range apply (§13.1.5): an entity tag must match strongly,
/// a date must equal Last-Modified exactly — and only for a representation that is
/// the file itself (`by_date`): a compressed form has its file's date, so a client
/// resuming a download of the identity bytes by date would be sent a range of the form.
/// Anything else means "send it all".
pub fn if_range_holds(request: &Request<'_>, v: &Validators, by_date: bool) -> bool {
    let Some(value) = request.header("if-range") else {
        return true;
    };
    let value = trim(value);
    if value.starts_with(b"\"") || value.starts_with(b"W/") {
        return !value.starts_with(b"W/") && value == v.etag.as_bytes();
    }
    by_date && date(value).is_some_and(|d| v.modified_secs() == Some(d))
}

#[derive(Clone, Copy)]
enum Comparison {
    Strong,
    Weak,
}

/// Whether a `*` or a comma-separated list of entity tags matches `etag` (ours is
/// always strong). A malformed member matches nothing.
fn matches_any(value: &[u8], etag: &str, comparison: Comparison) -> bool {
    let value = trim(value);
    if value == b"*" {
        return true;
    }
    value.split(|&b| b == b',').map(trim).any(|member| {
        let (weak, tag) = match member.strip_prefix(b"W/") {
            Some(tag) => (true, tag),
            None => (false, member),
        };
        let well_formed = tag.len() >= 2 && tag.starts_with(b"\"") && tag.ends_with(b"\"");
        well_formed
            && tag == etag.as_bytes()
            && match comparison {
                Comparison::Strong => !weak,
                Comparison::Weak => true,
            }
    })
}

/// An HTTP-date in seconds since the epoch; an invalid date is as if absent (§13.1.3).
fn date(value: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(trim(value)).ok()?;
    let time = httpdate::parse_http_date(text).ok()?;
    time.duration_since(UNIX_EPOCH).ok().map(|d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::root::Kind;
    use std::time::Duration;

    fn validators() -> Validators {
        Validators::of(&Meta {
            kind: Kind::File,
            len: 13,
            modified: Some(UNIX_EPOCH + Duration::new(1_700_000_000, 5)),
        })
    }

    fn outcome(method: &str, fields: &str) -> Outcome {
        let head = format!("{method} /a HTTP/1.1\r\nHost: x\r\n{fields}\r\n");
        evaluate(&Request::parse(head.as_bytes()).unwrap(), &validators())
    }

    const TAG: &str = "\"d-6553f100.00000005\"";
    const LM: &str = "Tue, 14 Nov 2023 22:13:20 GMT";

    #[test]
    fn the_etag_comes_from_size_and_time() {
        assert_eq!(validators().etag, TAG);
        assert_eq!(
            validators().for_encoding("br").etag,
            "\"d-6553f100.00000005-br\""
        );
    }

    #[test]
    fn if_none_match_uses_weak_comparison_and_lists() {
        use Outcome::*;
        assert_eq!(
            outcome("GET", &format!("If-None-Match: {TAG}\r\n")),
            NotModified
        );
        assert_eq!(
            outcome("HEAD", &format!("If-None-Match: W/{TAG}\r\n")),
            NotModified
        );
        assert_eq!(
            outcome("GET", &format!("If-None-Match: \"x\", {TAG}\r\n")),
            NotModified
        );
        assert_eq!(outcome("GET", "If-None-Match: *\r\n"), NotModified);
        assert_eq!(outcome("GET", "If-None-Match: \"other\"\r\n"), Proceed);
        assert_eq!(
            outcome("GET", "If-None-Match: d-6553f100.00000005\r\n"),
            Proceed
        );
        // If-None-Match wins over If-Modified-Since, whatever the date says.
        let both = format!("If-None-Match: \"other\"\r\nIf-Modified-Since: {LM}\r\n");
        assert_eq!(outcome("GET", &both), Proceed);
    }

    #[test]
    fn if_modified_since_is_on_or_after() {
        use Outcome::*;
        assert_eq!(
            outcome("GET", &format!("If-Modified-Since: {LM}\r\n")),
            NotModified
        );
        let later = "If-Modified-Since: Wed, 15 Nov 2023 00:00:00 GMT\r\n";
        assert_eq!(outcome("GET", later), NotModified);
        let earlier = "If-Modified-Since: Tue, 14 Nov 2023 22:13:19 GMT\r\n";
        assert_eq!(outcome("GET", earlier), Proceed);
        assert_eq!(outcome("GET", "If-Modified-Since: yesterday\r\n"), Proceed);
    }

    #[test]
    fn if_match_and_if_unmodified_since_fail_with_412() {
        use Outcome::*;
        assert_eq!(
            outcome("GET", "If-Match: \"other\"\r\n"),
            PreconditionFailed
        );
        assert_eq!(
            outcome("GET", &format!("If-Match: W/{TAG}\r\n")),
            PreconditionFailed
        );
        assert_eq!(outcome("GET", &format!("If-Match: {TAG}\r\n")), Proceed);
        assert_eq!(outcome("GET", "If-Match: *\r\n"), Proceed);
        let earlier = "If-Unmodified-Since: Tue, 14 Nov 2023 22:13:19 GMT\r\n";
        assert_eq!(outcome("GET", earlier), PreconditionFailed);
        assert_eq!(
            outcome("GET", &format!("If-Unmodified-Since: {LM}\r\n")),
            Proceed
        );
        // If-Match is evaluated first, and then If-Unmodified-Since is ignored.
        let both = format!("If-Match: {TAG}\r\n{earlier}");
        assert_eq!(outcome("GET", &both), Proceed);
        // A matching If-None-Match on a method that is not GET/HEAD is a 412.
        assert_eq!(
            outcome("DELETE", "If-None-Match: *\r\n"),
            PreconditionFailed
        );
    }

    #[test]
    fn if_range_needs_a_strong_match_or_the_exact_date() {
        let holds = |field: &str| {
            let head = format!("GET /a HTTP/1.1\r\nHost: x\r\n{field}\r\n\r\n");
            if_range_holds(
                &Request::parse(head.as_bytes()).unwrap(),
                &validators(),
                true,
            )
        };
        assert!(holds(&format!("If-Range: {TAG}")));
        assert!(!holds(&format!("If-Range: W/{TAG}")));
        assert!(!holds("If-Range: \"other\""));
        assert!(holds(&format!("If-Range: {LM}")));
        assert!(!holds("If-Range: Wed, 15 Nov 2023 00:00:00 GMT"));
        assert!(!holds("If-Range: nonsense"));
        assert!(holds("X-Other: 1"));
        // Not for an encoded representation: its date is its file's.
        let head = format!("GET /a HTTP/1.1\r\nHost: x\r\nIf-Range: {LM}\r\n\r\n");
        let request = Request::parse(head.as_bytes()).unwrap();
        assert!(!if_range_holds(&request, &validators(), false));
    }
}
