//! The operator's rules for who may fetch what: the seed's User-Agent rule and dotfiles.

use crate::error::ServeError;
use crate::request::{Request, trim};
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
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            min_user_agent_len: 0,
            serve_dotfiles: false,
            server_name: "sandserve".to_owned(),
        }
    }
}

impl Policy {
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
}
