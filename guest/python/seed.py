"""The seed server's logic (`web_server.py`, the Python teaching server sandserve grew
from) as a sandserve handler: the project's origin, running inside its sandbox.

Like the seed it answers 200 with a file under the root, 404 with the root's
`404.html`, and 403 `ForForForbid` to a short User-Agent (the length is the
operator's `--min-user-agent-len`; the seed hard-coded 60). What the seed got wrong
is done right: the whole head is parsed (a header value keeps its colons, so
Firefox's `rv:` no longer makes it look short, and a missing User-Agent is a 403,
not a crash), HEAD has no body, every answer has a Content-Length and a Date, the
Content-Type follows the file name, `..` cannot climb out of the root, and file
bodies are streamed by the host from `file` ranges, never read into Python.
Framing and keep-alive belong to the host.

Dotfiles follow the built-in handler's rule: a path with any segment that starts with
`.` once percent-decoded (`/.env`, `/.git/config`, `/a/.hidden/b`, `/.well-known/x`
too) is refused with 403 (the root's `403.html`, if it has one) unless the policy's
`serve_dotfiles` (`--serve-dotfiles`) allows it.
"""

import mimetypes
import posixpath
from email.utils import formatdate
from urllib.parse import unquote

from componentize_py_types import Err
from wit_world import exports
from wit_world.exports import handler
from wit_world.imports import root, types

FORBID = b"ForForForbid"

# Python's built-in table only, loaded now: componentize-py snapshots the module after
# import, so every fresh instance starts with it instead of looking for mime.types
# files through WASI on its first guess (and none of the build machine's files leak in).
mimetypes.init(files=[])


def parse(head: bytes):
    """Method, path and fields (lower-case names) of a head the host already checked."""
    lines = head.decode("latin-1").split("\n")
    method, target, _ = lines[0].rstrip("\r").split(" ")
    fields = {}
    for line in lines[1:]:
        name, colon, value = line.rstrip("\r").partition(":")
        if colon:
            fields[name.lower()] = value.strip(" \t")
    return method, target, fields


def below_root(target: str):
    """The path below the root a target names, or None if it names none."""
    path = unquote(target.split("?", 1)[0])
    if not path.startswith("/") or "\0" in path or "\\" in path:
        return None
    # The seed joined the raw path to its directory: /../../etc/passwd walked out.
    if ".." in path.split("/"):
        return None
    rel = posixpath.normpath(path).lstrip("/")
    return "" if rel == "." else rel


def dotfile(rel: str) -> bool:
    """Whether a path below the root has a segment that starts with `.`."""
    return any(segment.startswith(".") for segment in rel.split("/"))


def error_page(name: str, text: bytes):
    """The root's page `name` if it has one, else `text`: fields and body."""
    page = file_of(name)
    if page:
        return sent_file(*page)
    fields = ["Content-Type: text/plain; charset=utf-8", f"Content-Length: {len(text)}"]
    return fields, types.Body_Bytes(text)


def answer(status, reason, fields, body, head_only, policy, received):
    lines = [f"HTTP/1.1 {status} {reason}", f"Date: {formatdate(received, usegmt=True)}"]
    if policy.server_name:
        lines.append(f"Server: {policy.server_name}")
    lines += fields + ["", ""]
    if head_only:
        body = types.Body_Empty()
    return types.Response(head="\r\n".join(lines).encode(), body=body, close=False)


def file_of(rel):
    """The regular file `rel` names (a directory's index.html), with its size."""
    try:
        meta = root.stat(rel)
        if meta.kind == root.Kind.DIRECTORY:
            rel = posixpath.join(rel, "index.html") if rel else "index.html"
            meta = root.stat(rel)
    except Err:
        return None
    return (rel, meta.size) if meta.kind == root.Kind.FILE else None


def sent_file(rel, size):
    kind = mimetypes.guess_type(rel)[0] or "application/octet-stream"
    if kind.startswith("text/") or kind in ("application/javascript", "application/json"):
        kind += "; charset=utf-8"
    fields = [f"Content-Type: {kind}", f"Content-Length: {size}"]
    return fields, types.Body_File(types.FileRange(path=rel, offset=0, length=size, coding=None))


class Handler(exports.Handler):
    def handle(self, req: types.Request, seen) -> handler.Answer:
        # `root` is imported and called, so the host makes no looks for this handler:
        # `seen` is always empty, and every answer is a response.
        return handler.Answer_Response(self.respond(req))

    def respond(self, req: types.Request) -> types.Response:
        policy, received = req.policy, req.received.seconds
        method, target, fields = parse(req.head)
        head_only = method == "HEAD"
        if method not in ("GET", "HEAD"):
            allow = ["Allow: GET, HEAD", "Content-Length: 0"]
            return answer(405, "Method Not Allowed", allow, types.Body_Empty(), True, policy, received)
        # The seed's bot filter, with the operator's threshold (0: off).
        if len(fields.get("user-agent", "")) < policy.min_user_agent_len:
            forbid = ["Content-Type: text/html; charset=utf-8", f"Content-Length: {len(FORBID)}"]
            return answer(403, "Forbidden", forbid, types.Body_Bytes(FORBID), head_only, policy, received)
        rel = below_root(target)
        # The built-in handler's dotfile rule, before the file is looked up: 403 whether
        # it exists or not.
        if rel is not None and not policy.serve_dotfiles and dotfile(rel):
            fields, body = error_page("403.html", b"Forbidden\n")
            return answer(403, "Forbidden", fields, body, head_only, policy, received)
        found = file_of(rel) if rel is not None else None
        if found:
            fields, body = sent_file(*found)
            return answer(200, "OK", fields, body, head_only, policy, received)
        fields, body = error_page("404.html", b"Not Found\n")
        return answer(404, "Not Found", fields, body, head_only, policy, received)
