//! Every way a request can fail, each mapped to exactly one status code.

/// A request the handler will not serve as asked. The `&'static str` says why, for
/// tests and for anyone reading a trace; it is never sent to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServeError {
    /// 400: a request line, header section or target the handler cannot read or serve.
    BadRequest(&'static str),
    /// 403: refused by policy (User-Agent, dotfile, directory without index, permission).
    Forbidden(&'static str),
    /// 404: no such file below the root.
    NotFound,
    /// 405: a method we know but do not allow on files.
    MethodNotAllowed,
    /// 412: If-Match or If-Unmodified-Since is false (RFC 9110 §13.1).
    PreconditionFailed,
    /// 416: no range of the Range field overlaps the file, of this many bytes.
    RangeNotSatisfiable(u64),
    /// 501: a method we do not know.
    NotImplemented(&'static str),
    /// 500: the root could not be read for a reason that is not the client's fault.
    Internal(&'static str),
}

impl ServeError {
    /// The status code this error is answered with.
    pub fn status(self) -> u16 {
        match self {
            ServeError::BadRequest(_) => 400,
            ServeError::Forbidden(_) => 403,
            ServeError::NotFound => 404,
            ServeError::MethodNotAllowed => 405,
            ServeError::PreconditionFailed => 412,
            ServeError::RangeNotSatisfiable(_) => 416,
            ServeError::Internal(_) => 500,
            ServeError::NotImplemented(_) => 501,
        }
    }

    /// Whether the connection must close after the error: after a request we could not
    /// fully parse, nothing that follows it on the connection can be trusted to be the
    /// start of the next request (RFC 9112 §9.3, and what nginx does).
    pub fn must_close(self) -> bool {
        !matches!(
            self,
            ServeError::Forbidden(_)
                | ServeError::NotFound
                | ServeError::MethodNotAllowed
                | ServeError::PreconditionFailed
                | ServeError::RangeNotSatisfiable(_)
        )
    }
}

/// The reason phrase sent with a status code.
pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        304 => "Not Modified",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        412 => "Precondition Failed",
        414 => "URI Too Long",
        416 => "Range Not Satisfiable",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}
