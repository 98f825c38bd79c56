//! Between the engine's view of a message and the core's: a `wasi:http` request (method,
//! path, authority, fields) as the raw HTTP/1.1 head the core reads, and the core's
//! response head as a status and the fields an engine accepts.
//!
//! The engine parsed the request and owns the connection, so the version, framing and
//! keep-alive are its business: the head we build always says HTTP/1.1, and the
//! connection's fields are left out of the response (wasmtime refuses them outright).

/// Fields that belong to the connection, not the message (RFC 9110 §7.6.1), and
/// `Host`, which `wasi:http` carries as the authority.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "http2-settings",
    "host",
];

/// The request as the head the core parses. `None` when a piece would not stay where
/// it is put (a CR or LF in it, a space in the method or target): engines refuse such
/// requests themselves, so this only keeps a lax one from splicing a field of its own.
pub fn request(
    method: &str,
    target: Option<&str>,
    authority: Option<&str>,
    fields: &[(String, Vec<u8>)],
) -> Option<Vec<u8>> {
    let target = target.unwrap_or("/");
    let breaks = |b: &[u8]| b.iter().any(|&c| c == b'\r' || c == b'\n');
    if [method, target]
        .iter()
        .any(|s| s.is_empty() || s.contains([' ', '\r', '\n']))
    {
        return None;
    }
    let mut head = Vec::with_capacity(512);
    head.extend_from_slice(method.as_bytes());
    head.push(b' ');
    head.extend_from_slice(target.as_bytes());
    head.extend_from_slice(b" HTTP/1.1\r\n");
    let has_host = fields.iter().any(|(n, _)| n.eq_ignore_ascii_case("host"));
    if let (Some(authority), false) = (authority, has_host) {
        if breaks(authority.as_bytes()) {
            return None;
        }
        line(&mut head, "Host", authority.as_bytes());
    }
    for (name, value) in fields {
        if breaks(name.as_bytes()) || breaks(value) {
            return None;
        }
        line(&mut head, name, value);
    }
    head.extend_from_slice(b"\r\n");
    Some(head)
}

fn line(head: &mut Vec<u8>, name: &str, value: &[u8]) {
    head.extend_from_slice(name.as_bytes());
    head.extend_from_slice(b": ");
    head.extend_from_slice(value);
    head.extend_from_slice(b"\r\n");
}

/// A response head, as the engine takes it.
#[derive(Debug, PartialEq, Eq)]
pub struct Head {
    pub status: u16,
    pub fields: Vec<(String, Vec<u8>)>,
}

/// The core's head bytes as a status and fields, the connection's fields left out.
/// `None` only if the core wrote a head that does not parse (a bug, answered with 500).
pub fn response(bytes: &[u8]) -> Option<Head> {
    let mut fields = [httparse::EMPTY_HEADER; 128];
    let mut parsed = httparse::Response::new(&mut fields);
    match parsed.parse(bytes) {
        Ok(httparse::Status::Complete(_)) => {}
        _ => return None,
    }
    let status = parsed.code?;
    let fields = parsed
        .headers
        .iter()
        .filter(|f| !HOP_BY_HOP.contains(&f.name.to_ascii_lowercase().as_str()))
        .map(|f| (f.name.to_owned(), f.value.to_vec()))
        .collect();
    Some(Head { status, fields })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(list: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
        list.iter()
            .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn a_request_becomes_the_head_the_core_reads() {
        let head = request(
            "GET",
            Some("/a%20b.txt?x=1"),
            Some("example.com:8080"),
            &fields(&[("accept-encoding", "gzip"), ("user-agent", "t")]),
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(head).unwrap(),
            "GET /a%20b.txt?x=1 HTTP/1.1\r\nHost: example.com:8080\r\n\
             accept-encoding: gzip\r\nuser-agent: t\r\n\r\n"
        );
    }

    #[test]
    fn host_comes_once_and_a_missing_path_is_the_root() {
        let head = request("HEAD", None, Some("a"), &fields(&[("Host", "b")])).unwrap();
        assert_eq!(head, b"HEAD / HTTP/1.1\r\nHost: b\r\n\r\n");
    }

    #[test]
    fn nothing_can_add_a_line_of_its_own() {
        let evil = fields(&[("x", "a\r\nX-Injected: 1")]);
        assert_eq!(request("GET", Some("/"), None, &evil), None);
        assert_eq!(request("GET", Some("/ HTTP/1.1\r\nX: y"), None, &[]), None);
        assert_eq!(request("GET /", Some("/"), None, &[]), None);
        assert_eq!(request("GET", Some("/"), Some("a\nb"), &[]), None);
    }

    #[test]
    fn the_connection_fields_stay_with_the_engine() {
        let head = response(
            b"HTTP/1.1 200 OK\r\nServer: sandserve\r\nConnection: close\r\n\
              Keep-Alive: timeout=5\r\nContent-Length: 5\r\nETag: \"x\"\r\n\r\n",
        )
        .unwrap();
        assert_eq!(head.status, 200);
        assert_eq!(
            head.fields,
            fields(&[
                ("Server", "sandserve"),
                ("Content-Length", "5"),
                ("ETag", "\"x\"")
            ])
        );
        assert_eq!(response(b"HTTP/1.1 200 OK\r\nbroken"), None);
    }
}
