//! A looking handler's calls for one request (0.5.0, or 0.4.0 through `v4`): the
//! host's own look at the request's target first (for a handler that has no other way
//! to see the root), then `handle` again with what was found for as long as it answers
//! with looks — within bounds, so that a handler cannot keep the host looking. A
//! compressed form a look asks for may be made while the request waits (`compress`).

use wasmtime::Store;
use wasmtime::component::TypedFunc;

use crate::sandbox::bindings::{wit, wit_handler, wit_root};
use crate::sandbox::root::codec;
use crate::sandbox::store::Sandbox;

/// Most looks one answer may ask for.
pub const MAX_LOOKS: usize = 32;
/// Most calls of `handle` one request gets (so at most seven answers of looks).
pub const MAX_CALLS: usize = 8;
/// Most bytes the `read` looks of one request return, all together.
pub const MAX_READ_BYTES: u64 = 4 << 20;
/// Most directory entries the `list` looks of one request return, all together.
pub const MAX_LISTED: u32 = 10_000;

pub type Answer = wit_handler::Answer;

/// Calls `handle` until it answers with a response. `prelook`: look at the target
/// before the first call.
pub async fn run(
    handle: wasmtime::component::Func,
    store: &mut Store<Sandbox>,
    request: &wit::Request,
    prelook: bool,
) -> wasmtime::Result<wit::Response> {
    calls(&Current { handle, request }, store, request, prelook).await
}

/// What a call of a looking handler answers, in the current contract's types.
pub type Called = wasmtime::Result<Result<wit::Response, Vec<wit_root::Look>>>;

/// A looking handler of some contract: calls its `handle` with what was seen so far.
pub trait Looker {
    fn call(
        &self,
        store: &mut Store<Sandbox>,
        seen: &[wit_root::Seen],
    ) -> impl Future<Output = Called> + Send;
}

/// A handler of the current contract.
struct Current<'a> {
    handle: wasmtime::component::Func,
    request: &'a wit::Request,
}

impl Looker for Current<'_> {
    async fn call(&self, store: &mut Store<Sandbox>, seen: &[wit_root::Seen]) -> Called {
        // SAFETY: `Pre::new` checked this export's parameter and result types against
        // these very Rust types, for the component every instance of it comes from.
        let handle = unsafe {
            TypedFunc::<(&wit::Request, &[wit_root::Seen]), (Answer,)>::new_unchecked(self.handle)
        };
        let (answer,) = handle.call_async(store, (self.request, seen)).await?;
        Ok(match answer {
            Answer::Response(response) => Ok(response),
            Answer::Look(looks) => Err(looks),
        })
    }
}

/// The loop of calls and looks, for any contract that looks.
pub async fn calls(
    looker: &impl Looker,
    store: &mut Store<Sandbox>,
    request: &wit::Request,
    prelook: bool,
) -> wasmtime::Result<wit::Response> {
    let mut seen = Vec::new();
    if prelook && let Some(path) = target(&request.head) {
        let look = wit_root::Look::Stat(path);
        let found = store.data_mut().root.make(&look);
        seen.push(wit_root::Seen { look, found });
    }
    let mut read = 0;
    let mut listed = 0;
    for round in 1..=MAX_CALLS {
        let looks = match looker.call(&mut *store, &seen).await? {
            Ok(response) => return Ok(response),
            Err(looks) => looks,
        };
        // Checked before any look is made: no host work for an answer that is refused.
        if round == MAX_CALLS {
            return Err(wasmtime::format_err!(
                "it answered {MAX_CALLS} calls with looks and never with a response"
            ));
        }
        if looks.len() > MAX_LOOKS {
            return Err(wasmtime::format_err!(
                "it asked for {} looks in one answer (at most {MAX_LOOKS})",
                looks.len()
            ));
        }
        for look in looks {
            // Already in `seen`: not made again.
            if seen.iter().any(|s| s.look == look) {
                continue;
            }
            // A listing past the request's entries is cut short, and says so
            // (`truncated`), as one past the host's cap per call is.
            let made = match &look {
                wit_root::Look::List(args) => wit_root::Look::List(wit_root::ListArgs {
                    path: args.path.clone(),
                    max: args.max.min(MAX_LISTED - listed),
                }),
                other => other.clone(),
            };
            let found = match &made {
                wit_root::Look::Compressed(args) => {
                    wit_root::Found::Compressed(compressed(store, args).await)
                }
                made => store.data_mut().root.make(made),
            };
            match &found {
                wit_root::Found::Read(Ok(bytes)) => read += bytes.len() as u64,
                wit_root::Found::List(Ok(listing)) => listed += listing.entries.len() as u32,
                _ => {}
            }
            if read > MAX_READ_BYTES {
                return Err(wasmtime::format_err!(
                    "its looks read over {} MiB",
                    MAX_READ_BYTES >> 20
                ));
            }
            seen.push(wit_root::Seen { look, found });
        }
        // Looks are host work, which no epoch interrupts: between two calls, the
        // worker's other tasks run and the wall-clock deadline may end the request.
        tokio::task::yield_now().await;
    }
    unreachable!("the last call returns")
}

/// The form a `compressed` look asks for: kept, or made now if the file is small
/// enough for the request to wait (off the serving thread, within the request's
/// deadline, which runs on while it waits).
async fn compressed(
    store: &mut Store<Sandbox>,
    args: &wit_root::CompressArgs,
) -> Result<Option<wit_root::Form>, wit_root::Error> {
    let Some((forms, source)) = store.data_mut().root.source(&args.path)? else {
        return Ok(None);
    };
    let form = forms.get(&source, codec(args.coding)).await;
    Ok(store
        .data_mut()
        .root
        .keep_form(&args.path, args.coding, form))
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
    // A dotfile is not opened before the handler's policy has had its say (it is 403
    // by default): the handler asks for it if it wants it.
    if path.segments.iter().any(|segment| segment.starts_with('.')) {
        return None;
    }
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
        assert_eq!(t("GET /.env HTTP/1.1\r\n"), None);
        assert_eq!(t("GET /a/.git/config HTTP/1.1\r\n"), None);
        assert_eq!(t("OPTIONS * HTTP/1.1\r\n"), None);
    }
}
