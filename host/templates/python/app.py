"""A sandserve handler in Python: files of the root, 404 with the root's 404.html.

Build:  sandserve build          (componentize-py, installed once into the tools cache)
Try:    sandserve check .        (the conformance suite, and sandserve.toml's requests)
Live:   sandserve dev --root SITE   (rebuilt, checked and swapped in on every save;
                                     what print() writes shows in its log)
"""

from email.utils import formatdate

from componentize_py_types import Err
from wit_world import exports
from wit_world.exports import handler
from wit_world.imports import root, types


def found(rel):
    """The size of the regular file `rel` of the root, or None."""
    try:
        meta = root.stat(rel)
    except Err:
        return None
    return meta.size if meta.kind == root.Kind.FILE else None


class Handler(exports.Handler):
    def handle(self, req: types.Request, seen) -> handler.Answer:
        # `seen`: looks the host made (none for a handler that calls `root`, as this
        # one does); so the answer is always a response.
        # The host has checked the head: `METHOD SP target SP HTTP/1.x`.
        method, target, _ = req.head.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
        path = target.split("?", 1)[0]
        rel = path.lstrip("/") or "index.html"
        if rel.endswith("/"):
            rel += "index.html"
        status, size = "200 OK", None
        if ".." not in path.split("/"):
            size = found(rel)
        if size is None:
            status, rel, size = "404 Not Found", "404.html", found("404.html")
        if size is None:
            body, size = types.Body_Bytes(b"not found\n"), len(b"not found\n")
        else:
            # The host streams the file itself: its bytes never enter the handler.
            body = types.Body_File(types.FileRange(path=rel, offset=0, length=size, coding=None))
        head = (
            f"HTTP/1.1 {status}\r\n"
            f"Date: {formatdate(req.received.seconds, usegmt=True)}\r\n"
            f"Content-Length: {size}\r\n\r\n"
        )
        if method == "HEAD":
            body = types.Body_Empty()
        return handler.Answer_Response(types.Response(head=head.encode(), body=body, close=False))
