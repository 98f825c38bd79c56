//! The operator's rules: who may fetch what (the seed's User-Agent rule, dotfiles), and
//! what responses carry besides (Cache-Control rules, extra headers, listings, fallback).

use crate::error::ServeError;
use crate::request::{Request, is_tchar, trim};
use crate::target::DecodedPath;

/// The handler's settings; the native mirror of the WIT `policy` record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Refuse a request whose User-Agent is missing or shorter than this; 0 = off.
    pub min_user_agent_len: u32,
    /// Serve paths that have a segment starting with `.`.
    pub serve_dotfiles: bool,
    /// Value of the `Server` header; empty sends none.
    pub server_name: String,
    /// (glob, value): Cache-Control of the first rule whose glob matches a file.
    pub cache_control: Vec<(String, String)>,
    /// Fields added to every response.
    pub extra_headers: Vec<(String, String)>,
    /// Directories without an index get a listing instead of 403.
    pub list_dirs: bool,
    /// Served with 200 for missing paths that look like routes (single-page apps).
    pub fallback: Option<String>,
    /// Media types (`text/*` for every subtype) sent in a compressed form the host
    /// makes, when there is no precompressed sibling.
    pub compress: Vec<String>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            min_user_agent_len: 0,
            serve_dotfiles: false,
            server_name: "sandserve".to_owned(),
            cache_control: Vec::new(),
            extra_headers: Vec::new(),
            list_dirs: false,
            fallback: None,
            compress: Vec::new(),
        }
    }
}

impl Policy {
    /// Whether a file of `content_type` (parameters allowed) may be sent in a form the
    /// host compresses.
    pub fn compresses(&self, content_type: &str) -> bool {
        let essence = content_type.split(';').next().unwrap_or("").trim();
        let Some((kind, _)) = essence.split_once('/') else {
            return false;
        };
        self.compress.iter().any(|t| match t.strip_suffix("/*") {
            Some(any) => any.eq_ignore_ascii_case(kind),
            None => t.eq_ignore_ascii_case(essence),
        })
    }

    /// The Cache-Control value for a file (by its path relative to the root).
    pub fn cache_control(&self, rel: &str) -> Option<&str> {
        self.cache_control
            .iter()
            .find(|(pattern, _)| glob(pattern, rel))
            .map(|(_, value)| value.as_str())
    }

    /// Refuses the request (403) when a rule forbids it.
    pub fn check(&self, request: &Request<'_>, path: &DecodedPath) -> Result<(), ServeError> {
        if self.min_user_agent_len > 0 {
            // Characters, not bytes, of the value without surrounding whitespace (the
            // seed counted the leading space: a quirk of its parser, not a rule).
            let len = request.header("user-agent").map_or(0, |v| {
                let v = trim(v);
                std::str::from_utf8(v).map_or(v.len(), |s| s.chars().count())
            });
            if len < self.min_user_agent_len as usize {
                return Err(ServeError::Forbidden("User-Agent missing or too short"));
            }
        }
        if !self.serve_dotfiles && path.segments.iter().any(|s| s.starts_with('.')) {
            return Err(ServeError::Forbidden("dotfile"));
        }
        Ok(())
    }
}

/// Fields the server writes itself; an operator's extra field naming one would
/// contradict it.
pub const MANAGED: &[&str] = &[
    "accept-ranges",
    "allow",
    "cache-control",
    "connection",
    "content-encoding",
    "content-length",
    "content-range",
    "content-type",
    "date",
    "etag",
    "keep-alive",
    "last-modified",
    "location",
    "server",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "vary",
    "x-content-type-options",
];

/// An operator's `Name: value` for `extra_headers`: a token, a field value, and not a
/// field the server manages itself. The same syntax under every host (sandserve's
/// `--header`, the wasi:http adapter's `SANDSERVE_HEADER`); the error names no flag.
pub fn extra_header(text: &str) -> Result<(String, String), String> {
    let Some((name, value)) = text.split_once(':') else {
        return Err(format!("{text:?}: expected 'Name: value'"));
    };
    if name.is_empty() || !name.bytes().all(is_tchar) {
        return Err(format!("{text:?}: {name:?} is not a field name"));
    }
    if MANAGED.contains(&name.to_ascii_lowercase().as_str()) {
        return Err(format!(
            "{text:?}: sandserve sets {name} itself (for Cache-Control, use a cache rule)"
        ));
    }
    Ok((name.to_owned(), field_value(value)?))
}

/// An operator's `GLOB=VALUE` Cache-Control rule.
pub fn cache_rule(text: &str) -> Result<(String, String), String> {
    let Some((glob, value)) = text.split_once('=') else {
        return Err(format!("{text:?}: expected GLOB=VALUE"));
    };
    Ok((glob.trim().to_owned(), field_value(value)?))
}

/// A field value: trimmed, not empty, no control characters (CR and LF would start a
/// field of their own).
pub fn field_value(value: &str) -> Result<String, String> {
    let value = value.trim_matches([' ', '\t']);
    if value.is_empty() || value.chars().any(|c| c.is_control() && c != '\t') {
        return Err(format!("{value:?} is not a valid field value"));
    }
    Ok(value.to_owned())
}

/// Whether `path` matches `pattern`: `*` is any run of characters within a segment,
/// `**` any run across segments. A pattern without `/` is matched against the last
/// segment alone, so `*.css` means CSS files in any directory.
pub fn glob(pattern: &str, path: &str) -> bool {
    let path = if pattern.contains('/') {
        path
    } else {
        path.rsplit('/').next().unwrap_or(path)
    };
    matches(pattern.as_bytes(), path.as_bytes())
}

fn matches(p: &[u8], s: &[u8]) -> bool {
    match p {
        [] => s.is_empty(),
        [b'*', b'*', rest @ ..] => (0..=s.len()).any(|i| matches(rest, &s[i..])),
        [b'*', rest @ ..] => (0..=s.len())
            .take_while(|&i| i == 0 || s[i - 1] != b'/')
            .any(|i| matches(rest, &s[i..])),
        [c, rest @ ..] => s.first() == Some(c) && matches(rest, &s[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::decode;

    fn check(policy: &Policy, head: &str, path: &str) -> Result<(), ServeError> {
        let request = Request::parse(head.as_bytes()).unwrap();
        policy.check(&request, &decode(path).unwrap())
    }

    #[test]
    fn user_agent_rule() {
        let p = Policy {
            min_user_agent_len: 10,
            ..Policy::default()
        };
        let with = |ua: &str| format!("GET / HTTP/1.1\r\nHost: a\r\nUser-Agent: {ua}\r\n\r\n");
        assert!(check(&p, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", "/").is_err());
        assert!(check(&p, &with("curl/8.0"), "/").is_err());
        assert!(check(&p, &with("0123456789"), "/").is_ok());
        assert!(
            check(&p, &with("ééééééééé"), "/").is_err(),
            "9 characters, 18 bytes"
        );
        let off = Policy::default();
        assert!(check(&off, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", "/").is_ok());
    }

    #[test]
    fn dotfiles() {
        let head = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
        let p = Policy::default();
        assert!(check(&p, head, "/.env").is_err());
        assert!(check(&p, head, "/.git/config").is_err());
        assert!(check(&p, head, "/a/.hidden/b").is_err());
        assert!(check(&p, head, "/a.b/c").is_ok());
        let allow = Policy {
            serve_dotfiles: true,
            ..Policy::default()
        };
        assert!(check(&allow, head, "/.well-known/x").is_ok());
    }

    #[test]
    fn operator_fields() {
        assert_eq!(
            extra_header("Permissions-Policy: camera=()"),
            Ok(("Permissions-Policy".into(), "camera=()".into()))
        );
        assert!(extra_header("no colon").is_err());
        assert!(extra_header("Bad Name: x").is_err());
        assert!(extra_header("content-length: 5").is_err());
        assert!(extra_header("X: a\r\nSet-Cookie: b").is_err());
        assert!(extra_header("X:  ").is_err());
        assert_eq!(
            cache_rule("assets/** = max-age=60, immutable"),
            Ok(("assets/**".into(), "max-age=60, immutable".into()))
        );
        assert!(cache_rule("no-equals").is_err());
    }

    #[test]
    fn globs() {
        assert!(glob("*", "a.txt") && glob("*", "dir/a.txt"));
        assert!(glob("*.css", "assets/site.css") && !glob("*.css", "site.js"));
        assert!(glob("assets/**", "assets/img/logo.svg"));
        assert!(!glob("assets/*", "assets/img/logo.svg") && glob("assets/*", "assets/a.js"));
        assert!(glob("*.[0-9a-f]*", "app.[0-9a-f]x") && !glob("a?", "ab"));
        let policy = Policy {
            cache_control: vec![
                ("assets/**".into(), "max-age=31536000, immutable".into()),
                ("*".into(), "no-cache".into()),
            ],
            ..Policy::default()
        };
        assert_eq!(
            policy.cache_control("assets/a.css"),
            Some("max-age=31536000, immutable")
        );
        assert_eq!(policy.cache_control("index.html"), Some("no-cache"));
        assert_eq!(Policy::default().cache_control("index.html"), None);
    }
}
