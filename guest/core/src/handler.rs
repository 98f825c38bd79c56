//! The pipeline for one request: parse → method → target → policy → resolve → for a
//! file, its representation (encoding), preconditions (conditional) and ranges → respond.

use std::time::SystemTime;

use crate::conditional::{self, Outcome, Validators};
use crate::encoding;
use crate::error::ServeError;
use crate::listing;
use crate::mime;
use crate::policy::Policy;
use crate::range::{self, Ranges};
use crate::request::{Method, Request};
use crate::resolve::{Resolved, resolve};
use crate::respond::{Exchange, Representation, Response};
use crate::root::{Kind, Meta, Root};
use crate::target::{self, DecodedPath, Target};

/// The custom error pages, served from the root with their real status when they exist
/// (`50x.html`, for failures of the handler itself, is the host's).
pub const NOT_FOUND_PAGE: &str = "404.html";
pub const FORBIDDEN_PAGE: &str = "403.html";

/// Decides the response to one raw request head. Never fails: every error is a response.
pub fn handle(head: &[u8], policy: &Policy, root: &impl Root, now: SystemTime) -> Response {
    let request = match Request::parse(head) {
        Ok(request) => request,
        Err(error) => {
            // We could not read the request, so we know nothing of what it allows; but
            // a client that sent HEAD reads no body, whatever else was wrong.
            let exchange = Exchange {
                policy,
                now,
                head_only: head.starts_with(b"HEAD "),
            };
            return exchange.error(error, None);
        }
    };
    let exchange = Exchange {
        policy,
        now,
        head_only: request.method == Method::Head,
    };
    match decide(&request, policy, root) {
        Ok(Decision::File { rel, meta }) => file(&exchange, &request, rel, &meta, root),
        Ok(Decision::Redirect(location)) => exchange.redirect(&location),
        Ok(Decision::Listing { rel }) => listing(&exchange, &request, &rel, root)
            .unwrap_or_else(|error| exchange.error(error, error_page(error, root))),
        Ok(Decision::Options) => exchange.options(),
        Err(error) => exchange.error(error, error_page(error, root)),
    }
}

/// A file's answer: 304 or 412 by the preconditions, else 206 or 416 by the Range,
/// else 200 with the whole file — of the file itself or of the precompressed sibling
/// the client's Accept-Encoding prefers.
fn file(
    exchange: &Exchange<'_>,
    request: &Request<'_>,
    rel: String,
    meta: &Meta,
    root: &impl Root,
) -> Response {
    let r = representation(exchange, request, rel, meta, root);
    match conditional::evaluate(request, &r.validators) {
        Outcome::NotModified => return exchange.not_modified(&r.validators),
        Outcome::PreconditionFailed => {
            return exchange.error(ServeError::PreconditionFailed, None);
        }
        Outcome::Proceed => {}
    }
    // Range is defined for GET only (RFC 9110 §14.2); a stale If-Range means "all of it".
    let ranges = match request.header("range") {
        Some(value)
            if request.method == Method::Get
                && conditional::if_range_holds(request, &r.validators, r.encoding.is_none()) =>
        {
            range::parse(value, r.len)
        }
        _ => Ranges::Whole,
    };
    match ranges {
        Ranges::Whole => exchange.file(r),
        Ranges::Parts(spans) if spans.len() == 1 => exchange.partial(r, spans[0]),
        Ranges::Parts(spans) => {
            let boundary = range::boundary(r.validators.etag.as_bytes(), exchange.now);
            exchange.multipart(r, &spans, &boundary)
        }
        Ranges::Unsatisfiable => exchange.error(ServeError::RangeNotSatisfiable(r.len), None),
    }
}

/// The file itself, or its best precompressed sibling (`a.js.br`, `.zst`, `.gz`) that
/// the client accepts, or — with none, for a type the policy compresses — the host's
/// compressed form in the client's best coding. Siblings and forms are only looked for
/// when the client sent Accept-Encoding, so clients that do not compress pay no extra
/// lookups.
fn representation(
    exchange: &Exchange<'_>,
    request: &Request<'_>,
    rel: String,
    meta: &Meta,
    root: &impl Root,
) -> Representation {
    let content_type = mime::content_type(&rel).into_owned();
    let cache_control = exchange.policy.cache_control(&rel).map(str::to_owned);
    if let Some(accept) = request.header("accept-encoding") {
        let acceptable = encoding::acceptable(accept);
        for &(coding, suffix) in &acceptable {
            let sibling = format!("{rel}{suffix}");
            if let Ok(m) = root.stat(&sibling)
                && m.kind == Kind::File
            {
                return Representation {
                    path: sibling,
                    len: m.len,
                    validators: Validators::of(&m).for_encoding(coding),
                    content_type,
                    encoding: Some(coding),
                    form: None,
                    cache_control,
                };
            }
        }
        let best = acceptable.first().map(|&(name, _)| name);
        if let Some(name) = best
            && let Some(coding) = encoding::Coding::named(name)
            && exchange.policy.compresses(&content_type)
            && let Ok(Some(form)) = root.compressed(&rel, coding)
            && tag_is_safe(&form.tag)
        {
            return Representation {
                validators: Validators::of(meta).for_encoding(&form.tag),
                path: rel,
                len: form.len,
                content_type,
                encoding: Some(name),
                form: Some(coding),
                cache_control,
            };
        }
    }
    Representation {
        path: rel,
        len: meta.len,
        validators: Validators::of(meta),
        content_type,
        encoding: None,
        form: None,
        cache_control,
    }
}

/// A form's tag goes into an entity tag: only letters, digits, `-` and `.`.
fn tag_is_safe(tag: &str) -> bool {
    !tag.is_empty()
        && tag.len() <= 64
        && tag
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

/// The listing of directory `rel` (listings are on and it has no index).
fn listing(
    exchange: &Exchange<'_>,
    request: &Request<'_>,
    rel: &str,
    root: &impl Root,
) -> Result<Response, ServeError> {
    let (entries, truncated) = root.list(rel).map_err(|e| crate::resolve::io_error(&e))?;
    let entries = listing::prepare(entries, exchange.policy.serve_dotfiles);
    let url = if rel.is_empty() {
        "/".to_owned()
    } else {
        format!("/{rel}/")
    };
    Ok(if listing::wants_json(request.header("accept")) {
        exchange.listing(listing::json(&url, &entries, truncated), "application/json")
    } else {
        exchange.listing(
            listing::html(&url, &entries, truncated),
            "text/html; charset=utf-8",
        )
    })
}

/// What a well-formed request gets.
#[derive(Debug)]
enum Decision {
    File { rel: String, meta: Meta },
    Redirect(String),
    Options,
    Listing { rel: String },
}

fn decide(
    request: &Request<'_>,
    policy: &Policy,
    root: &impl Root,
) -> Result<Decision, ServeError> {
    if !matches!(request.method, Method::Get | Method::Head | Method::Options) {
        return Err(ServeError::MethodNotAllowed);
    }
    let (raw_path, query) = match target::parse(request.target)? {
        Target::Path { raw_path, query } => (raw_path, query),
        Target::Asterisk if request.method == Method::Options => return Ok(Decision::Options),
        Target::Asterisk => return Err(ServeError::BadRequest("`*` is only for OPTIONS")),
    };
    let path = target::decode(raw_path)?;
    if request.method == Method::Options {
        return Ok(Decision::Options);
    }
    policy.check(request, &path)?;
    match resolve(&path, root, policy.list_dirs) {
        Ok(Resolved::File { rel, meta }) => Ok(Decision::File { rel, meta }),
        Ok(Resolved::AddSlash) => {
            let mut location = path.encoded(true);
            if let Some(query) = query {
                location.push('?');
                location.push_str(query);
            }
            Ok(Decision::Redirect(location))
        }
        Ok(Resolved::Listing { rel }) => Ok(Decision::Listing { rel }),
        Err(ServeError::NotFound) => fallback(&path, policy, root).ok_or(ServeError::NotFound),
        Err(error) => Err(error),
    }
}

/// For a single-page app: the fallback file for a missing path that looks like a route
/// (its last segment has no `.`), so `/users/42` gets the app and `/app.js` stays 404.
fn fallback(path: &DecodedPath, policy: &Policy, root: &impl Root) -> Option<Decision> {
    let file = policy.fallback.as_deref()?;
    if path.segments.last().is_some_and(|s| s.contains('.')) {
        return None;
    }
    match root.stat(file) {
        Ok(meta) if meta.kind == Kind::File => Some(Decision::File {
            rel: file.to_owned(),
            meta,
        }),
        _ => None,
    }
}

/// The root's own page for an error, if it has one.
fn error_page(error: ServeError, root: &impl Root) -> Option<(String, u64)> {
    let page = match error {
        ServeError::NotFound => NOT_FOUND_PAGE,
        ServeError::Forbidden(_) => FORBIDDEN_PAGE,
        _ => return None,
    };
    match root.stat(page) {
        Ok(meta) if meta.kind == Kind::File => Some((page.to_owned(), meta.len)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resolve::tempdir;
    use crate::respond::{Body, FileRange};
    use crate::root::DirRoot;

    struct Site {
        _dir: tempdir::Dir,
        root: DirRoot,
    }

    fn site(with_404: bool) -> Site {
        let dir = tempdir::Dir::new();
        let p = dir.path();
        std::fs::create_dir_all(p.join("docs")).unwrap();
        std::fs::write(p.join("index.html"), "<h1>home</h1>").unwrap();
        std::fs::write(p.join("docs/index.html"), "docs").unwrap();
        std::fs::write(p.join("a.txt"), "hello").unwrap();
        std::fs::write(p.join(".env"), "SECRET=1").unwrap();
        if with_404 {
            std::fs::write(p.join("404.html"), "custom not found").unwrap();
        }
        let root = DirRoot::new(p);
        Site { _dir: dir, root }
    }

    fn get(site: &Site, head: &str) -> Response {
        handle(
            head.as_bytes(),
            &Policy::default(),
            &site.root,
            SystemTime::now(),
        )
    }

    fn head_text(r: &Response) -> String {
        String::from_utf8(r.head.clone()).unwrap()
    }

    #[test]
    fn serves_files() {
        let s = site(false);
        let r = get(&s, "GET /a.txt?v=2 HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(r.status, 200);
        assert_eq!(
            r.body,
            Body::File(FileRange {
                path: "a.txt".into(),
                offset: 0,
                length: 5,
                form: None,
            })
        );
        let r = get(&s, "GET http://x/docs/ HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(r.status, 200);
        assert!(matches!(r.body, Body::File(ref f) if f.path == "docs/index.html"));
    }

    #[test]
    fn head_has_no_body() {
        let s = site(false);
        let r = get(&s, "HEAD /a.txt HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(r.status, 200);
        assert_eq!(r.body, Body::Empty);
        assert!(head_text(&r).contains("Content-Length: 5\r\n"));
    }

    #[test]
    fn redirect_keeps_query() {
        let s = site(false);
        let r = get(&s, "GET /docs?a=1 HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(r.status, 301);
        assert!(head_text(&r).contains("Location: /docs/?a=1\r\n"));
    }

    #[test]
    fn not_found_pages() {
        let r = get(&site(true), "GET /missing HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(r.status, 404);
        assert!(matches!(r.body, Body::File(ref f) if f.path == "404.html" && f.length == 16));
        let r = get(&site(false), "GET /missing HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(r.status, 404);
        assert!(matches!(r.body, Body::Bytes(ref b) if b.starts_with(b"<!doctype html>")));
    }

    #[test]
    fn statuses() {
        let s = site(true);
        for (head, status) in [
            ("GET /.env HTTP/1.1\r\nHost: x\r\n\r\n", 403),
            ("GET /../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n", 400),
            ("POST /a.txt HTTP/1.1\r\nHost: x\r\n\r\n", 405),
            ("CONNECT x:443 HTTP/1.1\r\nHost: x\r\n\r\n", 405),
            ("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", 204),
            ("GET * HTTP/1.1\r\nHost: x\r\n\r\n", 400),
            ("FOO / HTTP/1.1\r\nHost: x\r\n\r\n", 501),
            // The host answers this one itself (505); a head we cannot read is a 400.
            ("GET / HTTP/3.0\r\nHost: x\r\n\r\n", 400),
        ] {
            assert_eq!(get(&s, head).status, status, "{head:?}");
        }
    }

    #[test]
    fn a_malformed_head_request_gets_a_400_without_body() {
        let s = site(false);
        let r = get(&s, "HEAD  / HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(r.status, 400);
        assert!(r.close);
        assert!(matches!(r.body, Body::Empty), "{:?}", r.body);
    }

    #[test]
    fn a_request_body_is_the_hosts_business() {
        // The host skips the body (or closes); the answer is the same as without one.
        let s = site(false);
        let with = "GET /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n";
        let r = get(&s, with);
        assert_eq!(r.status, 200);
        assert!(!r.close);
        assert_eq!(
            r.body,
            get(&s, "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n").body
        );
    }

    #[test]
    fn user_agent_policy() {
        let s = site(false);
        let policy = Policy {
            min_user_agent_len: 60,
            ..Policy::default()
        };
        let r = handle(
            b"GET /a.txt HTTP/1.1\r\nHost: x\r\nUser-Agent: curl/8\r\n\r\n",
            &policy,
            &s.root,
            SystemTime::now(),
        );
        assert_eq!(r.status, 403);
        assert!(!r.close);
    }

    /// A root whose host has a 7-byte form of every file, in any coding.
    struct Compressing(DirRoot);

    impl Root for Compressing {
        fn stat(&self, rel: &str) -> std::io::Result<Meta> {
            self.0.stat(rel)
        }
        fn list(&self, rel: &str) -> std::io::Result<(Vec<crate::root::Entry>, bool)> {
            self.0.list(rel)
        }
        fn compressed(
            &self,
            _: &str,
            coding: encoding::Coding,
        ) -> std::io::Result<Option<crate::root::Form>> {
            let tag = format!("{coding:?}-9").to_lowercase();
            Ok(Some(crate::root::Form { len: 7, tag }))
        }
    }

    #[test]
    fn forms_for_compressible_types_without_siblings() {
        let site = site(false);
        let root = Compressing(site.root.clone());
        let policy = Policy {
            compress: vec!["text/*".into()],
            ..Policy::default()
        };
        let get = |path: &str, accept: &str| {
            let head =
                format!("GET /{path} HTTP/1.1\r\nHost: x\r\nAccept-Encoding: {accept}\r\n\r\n");
            handle(head.as_bytes(), &policy, &root, SystemTime::now())
        };
        let r = get("a.txt", "gzip, zstd");
        let text = head_text(&r);
        assert!(text.contains("Content-Encoding: zstd\r\n"), "{text}");
        assert!(text.contains("Content-Length: 7\r\n"), "{text}");
        assert!(text.contains("-zstd-9\"\r\n"), "{text}");
        assert!(text.contains("Vary: Accept-Encoding\r\n"), "{text}");
        assert_eq!(
            r.body,
            Body::File(FileRange {
                path: "a.txt".into(),
                offset: 0,
                length: 7,
                form: Some(encoding::Coding::Zstd),
            })
        );
        // Refused, or not a type the policy compresses: the file itself.
        for (path, accept) in [
            ("a.txt", "zstd;q=0"),
            ("a.txt", "identity"),
            ("x.bin", "zstd"),
        ] {
            std::fs::write(site._dir.path().join("x.bin"), "12345678").unwrap();
            let text = head_text(&get(path, accept));
            assert!(
                !text.contains("Content-Encoding"),
                "{path} {accept}: {text}"
            );
            assert!(text.contains("Vary: Accept-Encoding\r\n"), "{text}");
        }
        // A precompressed sibling wins, even in a coding the client likes less.
        std::fs::write(site._dir.path().join("a.txt.gz"), "gz").unwrap();
        let text = head_text(&get("a.txt", "zstd, gzip;q=0.5"));
        assert!(text.contains("Content-Encoding: gzip\r\n"), "{text}");
        assert!(text.contains("-gzip\"\r\n"), "{text}");
        assert!(text.contains("Content-Length: 2\r\n"), "{text}");
    }
}
