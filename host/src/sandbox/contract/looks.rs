//! A 0.4.0 handler's calls for one request: the host's own look at the request's
//! target first (for a handler that has no other way to see the root), then `handle`
//! again with what was found for as long as it answers with looks — within bounds, so
//! that a handler cannot keep the host looking.

use wasmtime::Store;
use wasmtime::component::TypedFunc;

use crate::sandbox::bindings::{wit, wit_handler, wit_root};
use crate::sandbox::store::Sandbox;

/// Most looks one answer may ask for.
pub const MAX_LOOKS: usize = 32;
/// Most calls of `handle` one request gets (so at most seven answers of looks).
pub const MAX_CALLS: usize = 8;

pub type Answer = wit_handler::Answer;

/// Calls `handle` until it answers with a response. `prelook`: look at the target
/// before the first call.
pub async fn run(
    handle: wasmtime::component::Func,
    store: &mut Store<Sandbox>,
    request: &wit::Request,
    prelook: bool,
) -> wasmtime::Result<wit::Response> {
    // SAFETY: `Pre::new` checked this export's parameter and result types against
    // these very Rust types, for the component every instance of it comes from.
    let handle = unsafe {
        TypedFunc::<(&wit::Request, &[wit_root::Seen]), (Answer,)>::new_unchecked(handle)
    };
    let mut seen = Vec::new();
    if prelook && let Some(path) = target(&request.head) {
        let look = wit_root::Look::Stat(path);
        let found = store.data_mut().root.make(&look);
        seen.push(wit_root::Seen { look, found });
    }
    for _ in 0..MAX_CALLS {
        let (answer,) = handle.call_async(&mut *store, (request, &seen)).await?;
        let looks = match answer {
            Answer::Response(response) => return Ok(response),
            Answer::Look(looks) => looks,
        };
        if looks.len() > MAX_LOOKS {
            return Err(wasmtime::format_err!(
                "it asked for {} looks in one answer (at most {MAX_LOOKS})",
                looks.len()
            ));
        }
        for look in looks {
            let found = store.data_mut().root.make(&look);
            seen.push(wit_root::Seen { look, found });
        }
    }
    Err(wasmtime::format_err!(
        "it answered {MAX_CALLS} calls with looks and never with a response"
    ))
}

/// The root path a GET or HEAD of this head names, as the built-in handler resolves
/// it (`sandserve_core::resolve::first_stat`). `None` for other methods and for targets
/// that are not a plain path of the root (those the handler refuses without looking).
pub fn target(head: &[u8]) -> Option<String> {
    let line = head.split(|&b| b == b'\r' || b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut words = line.split(' ');
    let method = words.next()?;
    if method != "GET" && method != "HEAD" {
        return None;
    }
    let sandserve_core::target::Target::Path { raw_path, .. } =
        sandserve_core::target::parse(words.next()?).ok()?
    else {
        return None;
    };
    let path = sandserve_core::target::decode(raw_path).ok()?;
    Some(sandserve_core::resolve::first_stat(&path))
}

#[cfg(test)]
mod tests {
    use super::target;

    #[test]
    fn the_target_is_the_path_the_handler_would_stat() {
        let t = |head: &str| target(head.as_bytes());
        assert_eq!(t("GET / HTTP/1.1\r\n\r\n").as_deref(), Some("index.html"));
        assert_eq!(
            t("HEAD /a/b.css?x=1 HTTP/1.1\r\n").as_deref(),
            Some("a/b.css")
        );
        assert_eq!(
            t("GET /docs/ HTTP/1.1\r\n").as_deref(),
            Some("docs/index.html")
        );
        assert_eq!(t("GET /a%20b HTTP/1.1\r\n").as_deref(), Some("a b"));
        assert_eq!(t("GET http://x.test/c HTTP/1.1\r\n").as_deref(), Some("c"));
        assert_eq!(t("POST /a HTTP/1.1\r\n"), None);
        assert_eq!(t("GET /../etc/passwd HTTP/1.1\r\n"), None);
        assert_eq!(t("GET /%2e%2e/x HTTP/1.1\r\n"), None);
        assert_eq!(t("OPTIONS * HTTP/1.1\r\n"), None);
    }
}
