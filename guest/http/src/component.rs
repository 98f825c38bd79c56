//! The glue: the engine's request to the core's head, the core's decision to the
//! engine's response, and file bodies spliced from the root (`root::Opened`: the very
//! descriptors the core's look-ups opened) to the response stream with
//! `read-via-stream`, so that no file passes through guest memory.

use std::time::SystemTime;

use sandserve_core::{Body, Chunk, FileRange, Policy};
use wasip2::exports::http::incoming_handler::Guest;
use wasip2::filesystem::types::Descriptor;
use wasip2::http::types::{
    Fields, IncomingRequest, Method, OutgoingBody, OutgoingResponse, ResponseOutparam,
};
use wasip2::io::streams::{OutputStream, StreamError};

use crate::head::{self, Head};
use crate::root::Opened;
use crate::settings;

struct Component;

impl Guest for Component {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let vars = wasip2::cli::environment::get_environment();
        let policy = match settings::policy(vars.iter().map(|(n, v)| (n.as_str(), v.as_str()))) {
            Ok(policy) => policy,
            Err(error) => {
                // The operator's mistake, for the operator's log; the client learns
                // only that the server is misconfigured.
                eprintln!("sandserve-http: {error}");
                return fail(out);
            }
        };
        let method = method(&request.method());
        let fields = request.headers().entries();
        let head = head::request(
            &method,
            request.path_with_query().as_deref(),
            request.authority().as_deref(),
            &fields,
        );
        // A head that could not be built honestly is answered as one the core cannot
        // read: 400.
        let root = Opened::new();
        let response = decide(head.as_deref().unwrap_or(b""), &policy, &root);
        let Some(reply) = head::response(&response.head) else {
            eprintln!("sandserve-http: the core wrote a head that does not parse");
            return fail(out);
        };
        send(reply, response.body, out, &root);
    }
}

fn decide(head: &[u8], policy: &Policy, root: &Opened) -> sandserve_core::Response {
    sandserve_core::handle(head, policy, root, SystemTime::now())
}

fn method(method: &Method) -> String {
    match method {
        Method::Get => "GET",
        Method::Head => "HEAD",
        Method::Post => "POST",
        Method::Put => "PUT",
        Method::Delete => "DELETE",
        Method::Connect => "CONNECT",
        Method::Options => "OPTIONS",
        Method::Trace => "TRACE",
        Method::Patch => "PATCH",
        Method::Other(other) => other,
    }
    .to_owned()
}

/// Sends the head, then the body; a body that cannot be sent whole is left unfinished,
/// which tells the engine to abort the response rather than end it short.
fn send(reply: Head, body: Body, out: ResponseOutparam, root: &Opened) {
    let Some(response) = outgoing(&reply) else {
        return fail(out);
    };
    let Ok(outgoing_body) = response.body() else {
        return fail(out);
    };
    ResponseOutparam::set(out, Ok(response));
    let Ok(stream) = outgoing_body.write() else {
        return;
    };
    let mut files = Files { root, last: None };
    let sent = match body {
        Body::Empty => Ok(()),
        Body::Bytes(bytes) => write(&stream, &bytes),
        Body::File(range) => files.splice(&stream, &range),
        Body::Chunks(chunks) => chunks.iter().try_for_each(|chunk| match chunk {
            Chunk::Bytes(bytes) => write(&stream, bytes),
            Chunk::File(range) => files.splice(&stream, range),
        }),
    };
    drop(stream);
    if sent.is_ok() {
        // For HEAD this fails (wasmtime: `HttpResponseBodySize`): the head says the
        // GET's Content-Length and no body follows. The engine's HTTP/1 server sends
        // no body for HEAD whatever the stream holds and keeps the connection, so the
        // client gets the head RFC 9110 §9.3.2 asks for; the error is expected.
        let _ = OutgoingBody::finish(outgoing_body, None);
    }
}

fn outgoing(reply: &Head) -> Option<OutgoingResponse> {
    let fields = Fields::from_list(&reply.fields).ok()?;
    let response = OutgoingResponse::new(fields);
    response.set_status_code(reply.status).ok()?;
    Some(response)
}

/// A 500 the engine frames itself.
fn fail(out: ResponseOutparam) {
    let response = OutgoingResponse::new(Fields::new());
    let _ = response.set_status_code(500);
    ResponseOutparam::set(out, Ok(response));
}

fn write(stream: &OutputStream, mut bytes: &[u8]) -> Result<(), StreamError> {
    // `blocking-write-and-flush` takes at most 4096 bytes a call.
    while !bytes.is_empty() {
        let n = bytes.len().min(4096);
        stream.blocking_write_and_flush(&bytes[..n])?;
        bytes = &bytes[n..];
    }
    Ok(())
}

/// The files a body is made of: the descriptor the core looked at (or, past the ones
/// kept, one opened now); the parts of a multipart answer are all ranges of one file,
/// read from one descriptor.
struct Files<'a> {
    root: &'a Opened,
    last: Option<(String, Descriptor)>,
}

impl Files<'_> {
    fn splice(&mut self, stream: &OutputStream, range: &FileRange) -> Result<(), StreamError> {
        let file = self.open(&range.path)?;
        splice(stream, file, range)
    }

    fn open(&mut self, path: &str) -> Result<&Descriptor, StreamError> {
        if self.last.as_ref().is_none_or(|(p, _)| p != path) {
            let file = self.root.file(path).ok_or(StreamError::Closed)?;
            self.last = Some((path.to_owned(), file));
        }
        Ok(&self.last.as_ref().expect("opened above").1)
    }
}

/// The range of `file`, moved by the engine from the file to the response stream. A
/// file that ends before the range does (it shrank since the core looked) is an error:
/// the response is aborted, never completed with other bytes.
fn splice(stream: &OutputStream, file: &Descriptor, range: &FileRange) -> Result<(), StreamError> {
    let input = file
        .read_via_stream(range.offset)
        .map_err(|_| StreamError::Closed)?;
    let mut left = range.length;
    while left > 0 {
        match stream.blocking_splice(&input, left) {
            // Nothing moved from a blocking splice: the file has ended.
            Ok(0) => return Err(StreamError::Closed),
            Ok(n) => left = left.saturating_sub(n),
            Err(error) => return Err(error),
        }
    }
    // Every byte is in; a `Closed` from the flush after that is the engine having
    // taken them all (seen with wasmtime), not a loss.
    match stream.blocking_flush() {
        Ok(()) | Err(StreamError::Closed) => Ok(()),
        Err(error) => Err(error),
    }
}

wasip2::http::proxy::export!(Component);
