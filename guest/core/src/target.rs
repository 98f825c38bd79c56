//! The request-target (RFC 9112 §3.2): its form, the query, and the path decoded once.
//!
//! Decoding is where path traversal hides, so it is strict: a path is split into
//! segments *before* percent-decoding, each segment is decoded exactly once and must be
//! valid UTF-8, and a decoded segment that could change the path's shape (`.`, `..`,
//! `/`, `\`, NUL, control characters) is refused rather than normalised.

use crate::error::ServeError;

/// What the request-target names.
#[derive(Debug, PartialEq, Eq)]
pub enum Target<'h> {
    /// `*`, meaningful only for OPTIONS.
    Asterisk,
    /// A path (origin-form, or the path of an absolute-form target).
    Path {
        /// Still percent-encoded, starts with `/`.
        raw_path: &'h str,
        /// After the `?`, if any; it never selects a file.
        query: Option<&'h str>,
    },
}

/// Splits a target into its form, path and query.
pub fn parse(target: &str) -> Result<Target<'_>, ServeError> {
    if target == "*" {
        return Ok(Target::Asterisk);
    }
    if target.contains('#') {
        return Err(ServeError::BadRequest("fragment in request-target"));
    }
    let path_and_query = if target.starts_with('/') {
        target
    } else {
        absolute_form_path(target)?
    };
    let (raw_path, query) = match path_and_query.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (path_and_query, None),
    };
    // An absolute-form target with an empty path means "/" (RFC 9112 §3.2.2).
    let raw_path = if raw_path.is_empty() { "/" } else { raw_path };
    Ok(Target::Path { raw_path, query })
}

/// The path-and-query of `http://authority/path?query` (the scheme is case-insensitive).
fn absolute_form_path(target: &str) -> Result<&str, ServeError> {
    let bad = ServeError::BadRequest("request-target is neither a path nor an http URI");
    let (scheme, rest) = target.split_once("://").ok_or(bad)?;
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return Err(bad);
    }
    // The host checked the authority (RFC 9112 §3.2.2); only the path matters here.
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    if end == 0 {
        return Err(bad);
    }
    Ok(&rest[end..])
}

/// One decoded segment percent-encoded for a URL path (a `Location`, a listing's
/// links): controls, space, `/`, `\`, `%` and the characters that delimit or are unsafe
/// in URLs.
pub fn encode_segment(segment: &str) -> String {
    use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
    const SEGMENT: &AsciiSet = &CONTROLS
        .add(b' ')
        .add(b'"')
        .add(b'#')
        .add(b'%')
        .add(b'<')
        .add(b'>')
        .add(b'?')
        .add(b'`')
        .add(b'{')
        .add(b'}')
        .add(b'/')
        .add(b'\\')
        .add(b'^')
        .add(b'|');
    utf8_percent_encode(segment, SEGMENT).to_string()
}

/// A path, decoded and split into segments that are safe to join under the root.
#[derive(Debug, PartialEq, Eq)]
pub struct DecodedPath {
    /// Non-empty segments; empty ones (`//`) are merged away as nginx does.
    pub segments: Vec<String>,
    /// The path ended in `/` (a directory is asked for).
    pub trailing_slash: bool,
}

impl DecodedPath {
    /// The segments joined with `/`, relative to the root (`""` for the root itself).
    pub fn relative(&self) -> String {
        self.segments.join("/")
    }

    /// The path re-encoded for a `Location` field. Built from the decoded segments, not
    /// the raw target, so that `//evil.example` can never become a network-path reference.
    pub fn encoded(&self, trailing_slash: bool) -> String {
        let mut out = String::from("/");
        for (i, segment) in self.segments.iter().enumerate() {
            if i > 0 {
                out.push('/');
            }
            out.push_str(&encode_segment(segment));
        }
        if trailing_slash && !self.segments.is_empty() {
            out.push('/');
        }
        out
    }
}

/// Percent-decodes a raw path once, segment by segment.
pub fn decode(raw_path: &str) -> Result<DecodedPath, ServeError> {
    let mut segments = Vec::new();
    for raw in raw_path.split('/').filter(|s| !s.is_empty()) {
        let segment = decode_segment(raw)?;
        if segment == "." || segment == ".." {
            return Err(ServeError::BadRequest("dot segment in path"));
        }
        if segment
            .chars()
            .any(|c| c == '/' || c == '\\' || c.is_control())
        {
            return Err(ServeError::BadRequest("separator or control byte in path"));
        }
        segments.push(segment);
    }
    Ok(DecodedPath {
        segments,
        trailing_slash: raw_path.ends_with('/'),
    })
}

fn decode_segment(raw: &str) -> Result<String, ServeError> {
    let bytes = raw.as_bytes();
    // percent_decode passes a stray `%` through; we refuse it, as nginx does.
    for (i, _) in raw.match_indices('%') {
        let hex = bytes.get(i + 1..i + 3);
        if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
            return Err(ServeError::BadRequest("bad percent-encoding"));
        }
    }
    percent_encoding::percent_decode(bytes)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| ServeError::BadRequest("path is not UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(target: &str) -> (&str, Option<&str>) {
        match parse(target).unwrap() {
            Target::Path { raw_path, query } => (raw_path, query),
            Target::Asterisk => panic!("asterisk"),
        }
    }

    #[test]
    fn forms() {
        assert_eq!(path("/a/b?x=1?y"), ("/a/b", Some("x=1?y")));
        assert_eq!(path("/"), ("/", None));
        assert_eq!(path("http://example.com/a.txt"), ("/a.txt", None));
        assert_eq!(path("HTTP://example.com:8080"), ("/", None));
        assert_eq!(path("http://example.com?q"), ("/", Some("q")));
        assert_eq!(parse("*"), Ok(Target::Asterisk));
        assert!(parse("ftp://example.com/a").is_err());
        assert!(parse("example.com:443").is_err());
        assert!(parse("http:///a").is_err());
        assert!(parse("/a#frag").is_err());
        assert!(parse("a.txt").is_err());
    }

    #[test]
    fn decodes_once() {
        let d = decode("/docs/h%C3%A9llo%20world.txt").unwrap();
        assert_eq!(d.segments, vec!["docs", "héllo world.txt"]);
        assert!(!d.trailing_slash);
        // Double encoding decodes to a literal `%2e%2e` name, not to `..`.
        assert_eq!(
            decode("/%252e%252e/x").unwrap().segments,
            vec!["%2e%2e", "x"]
        );
        assert_eq!(decode("//a//b/").unwrap().relative(), "a/b");
        assert!(decode("/a//b/").unwrap().trailing_slash);
        assert_eq!(decode("/").unwrap().relative(), "");
    }

    #[test]
    fn refuses_traversal_and_odd_bytes() {
        for bad in [
            "/../etc/passwd",
            "/a/../../b",
            "/./a",
            "/%2e%2e/etc/passwd",
            "/%2E%2E/x",
            "/.%2e/x",
            "/..%2fetc%2fpasswd",
            "/a%2fb",
            "/a%5c..%5cb",
            "/a\\..\\b",
            "/a%00.txt",
            "/a%0d%0aSet-Cookie:x",
            "/%ff",
            "/%zz",
            "/%4",
        ] {
            assert!(decode(bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn location_is_re_encoded_from_segments() {
        let d = decode("//evil.example/%3Fa%20b").unwrap();
        assert_eq!(d.encoded(true), "/evil.example/%3Fa%20b/");
        assert_eq!(decode("/").unwrap().encoded(true), "/");
    }
}
