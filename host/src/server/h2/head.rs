//! HTTP/2 messages to and from the HTTP/1.1 heads every handler speaks: a stream's
//! pseudo-header fields and fields become a request head (`:authority` as `Host`,
//! cookies joined, the fields RFC 9113 §8.2.2 forbids refused), and a checked
//! response head becomes the HEADERS of a response, less the fields that belong to an
//! HTTP/1.1 connection.

use http::header::{HeaderName, HeaderValue};
use http::{Request, Response, StatusCode};

/// Fields that say how an HTTP/1.1 connection is used: malformed in HTTP/2 (RFC 9113
/// §8.2.2), so a request that has one is refused and a response loses them.
const CONNECTION_SPECIFIC: [&str; 5] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
];

/// Why a request cannot become a head: the stream is reset with PROTOCOL_ERROR.
#[derive(Debug, PartialEq, Eq)]
pub struct Malformed(pub &'static str);

/// The HTTP/1.1 head of a stream's request, as the handler gets it: `METHOD target
/// HTTP/1.1`, `Host` from `:authority` (or a `Host` field, when there is no authority),
/// every other field in order, `Cookie` fields joined with `; ` (RFC 9113 §8.2.3).
/// The host's own request check then runs on it as on any head.
pub fn request_head<B>(request: &Request<B>) -> Result<Vec<u8>, Malformed> {
    let uri = request.uri();
    let target = match (request.method(), uri.path_and_query()) {
        (&http::Method::OPTIONS, _) if uri.path() == "*" => "*".to_owned(),
        (&http::Method::CONNECT, _) => return Err(Malformed("CONNECT is not served")),
        (_, Some(path)) if path.as_str().starts_with('/') => path.as_str().to_owned(),
        _ => return Err(Malformed("no :path")),
    };
    let mut head = Vec::with_capacity(256);
    head.extend_from_slice(request.method().as_str().as_bytes());
    head.push(b' ');
    head.extend_from_slice(target.as_bytes());
    head.extend_from_slice(b" HTTP/1.1\r\n");
    let fields = request.headers();
    // One host: `:authority`, or a single `Host` field; both, only if they agree
    // (RFC 9113 §8.3.1).
    let mut hosts = fields.get_all(http::header::HOST).iter();
    let (field_host, another) = (hosts.next(), hosts.next());
    if another.is_some() {
        return Err(Malformed("more than one Host"));
    }
    let host = match (uri.authority(), field_host) {
        (Some(authority), Some(field)) if authority.as_str().as_bytes() != field.as_bytes() => {
            return Err(Malformed("Host differs from :authority"));
        }
        (Some(authority), _) => authority.as_str().as_bytes(),
        (None, Some(field)) => field.as_bytes(),
        (None, None) => return Err(Malformed("neither :authority nor Host")),
    };
    field(&mut head, b"host", host);
    let mut cookies: Vec<&[u8]> = Vec::new();
    for (name, value) in fields {
        let name = name.as_str();
        if CONNECTION_SPECIFIC.contains(&name) {
            return Err(Malformed("a connection-specific field"));
        }
        if name == "te" && value.as_bytes() != b"trailers" {
            return Err(Malformed("TE other than trailers"));
        }
        match name {
            "host" => {}
            "cookie" => cookies.push(value.as_bytes()),
            _ => field(&mut head, name.as_bytes(), value.as_bytes()),
        }
    }
    if !cookies.is_empty() {
        field(&mut head, b"cookie", &cookies.join(&b"; "[..]));
    }
    head.extend_from_slice(b"\r\n");
    Ok(head)
}

fn field(head: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    head.extend_from_slice(name);
    head.extend_from_slice(b": ");
    head.extend_from_slice(value);
    head.extend_from_slice(b"\r\n");
}

/// The HEADERS of a checked HTTP/1.1 response head: its status and fields, less the
/// connection-specific ones. `None` if the head does not parse (the host checked it,
/// so it always does).
pub fn response(head: &[u8]) -> Option<Response<()>> {
    let mut fields = vec![httparse::EMPTY_HEADER; 512];
    let mut parsed = httparse::Response::new(&mut fields);
    let httparse::Status::Complete(_) = parsed.parse(head).ok()? else {
        return None;
    };
    let mut response = Response::new(());
    *response.status_mut() = StatusCode::from_u16(parsed.code?).ok()?;
    // The fields a `Connection` field names are the connection's too (RFC 9110 §7.6.1).
    let named: Vec<String> = parsed
        .headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case("connection"))
        .flat_map(|h| {
            String::from_utf8_lossy(h.value)
                .split(',')
                .map(|n| n.trim().to_ascii_lowercase())
                .collect::<Vec<_>>()
        })
        .collect();
    let out = response.headers_mut();
    for header in parsed.headers.iter() {
        let name = HeaderName::from_bytes(header.name.as_bytes()).ok()?;
        let name_str = name.as_str();
        if CONNECTION_SPECIFIC.contains(&name_str)
            || name_str == "te"
            || named.iter().any(|n| n == name_str)
        {
            continue;
        }
        out.append(name, HeaderValue::from_bytes(header.value).ok()?);
    }
    Some(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(request: Request<()>) -> Result<String, Malformed> {
        request_head(&request).map(|h| String::from_utf8(h).unwrap())
    }

    #[test]
    fn a_request_becomes_an_http1_head() {
        let request = Request::get("https://example.test/a/b?x=1")
            .header("user-agent", "curl")
            .header("cookie", "a=1")
            .header("accept", "*/*")
            .header("cookie", "b=2")
            .body(())
            .unwrap();
        assert_eq!(
            head(request).unwrap(),
            "GET /a/b?x=1 HTTP/1.1\r\nhost: example.test\r\nuser-agent: curl\r\naccept: */*\r\ncookie: a=1; b=2\r\n\r\n"
        );
    }

    #[test]
    fn forbidden_fields_and_missing_pieces_are_malformed() {
        for (name, value) in [
            ("connection", "close"),
            ("keep-alive", "5"),
            ("transfer-encoding", "chunked"),
            ("upgrade", "h2c"),
            ("proxy-connection", "x"),
            ("te", "gzip"),
        ] {
            let request = Request::get("https://x.test/")
                .header(name, value)
                .body(())
                .unwrap();
            assert!(head(request).is_err(), "{name}");
        }
        let trailers = Request::get("https://x.test/")
            .header("te", "trailers")
            .body(())
            .unwrap();
        assert!(head(trailers).is_ok());
        // Two hosts that disagree, or two Host fields, are malformed.
        let two = Request::get("https://a.test/")
            .header("host", "b.test")
            .body(())
            .unwrap();
        assert!(head(two).is_err());
        let same = Request::get("https://a.test/")
            .header("host", "a.test")
            .body(())
            .unwrap();
        assert!(head(same).is_ok());
        let twice = Request::get("/p")
            .header("host", "a.test")
            .header("host", "a.test")
            .body(())
            .unwrap();
        assert!(head(twice).is_err());
        // No authority: a Host field will do; neither is malformed.
        let host = Request::get("/p")
            .header("host", "h.test")
            .body(())
            .unwrap();
        assert_eq!(
            head(host).unwrap(),
            "GET /p HTTP/1.1\r\nhost: h.test\r\n\r\n"
        );
        assert!(head(Request::get("/p").body(()).unwrap()).is_err());
    }

    #[test]
    fn a_response_head_loses_its_connection_fields() {
        let response = response(
            b"HTTP/1.1 206 Partial Content\r\nContent-Length: 3\r\nConnection: close, X-Hop\r\nKeep-Alive: timeout=5\r\nTE: gzip\r\nX-Hop: 1\r\nX-A: 1\r\nX-A: 2\r\n\r\n",
        )
        .unwrap();
        assert_eq!(response.status(), 206);
        let fields = response.headers();
        assert_eq!(fields.get("content-length").unwrap(), "3");
        for gone in ["connection", "keep-alive", "te", "x-hop"] {
            assert!(fields.get(gone).is_none(), "{gone}");
        }
        assert_eq!(fields.get_all("x-a").iter().count(), 2);
    }
}
