// A sandserve handler in JavaScript: files of the root, 404 with the root's 404.html.
//
// Build:  sandserve build          (componentize-js, installed once into the tools cache)
// Try:    sandserve check .        (the conformance suite, and sandserve.toml's requests)
// Live:   sandserve dev --root SITE   (rebuilt, checked and swapped in on every save)

import { stat } from 'sandserve:server/root@0.5.0';

/// The size of the regular file `rel` of the root, or null.
function found(rel) {
  try {
    const meta = stat(rel);
    return meta.kind === 'file' ? meta.size : null;
  } catch {
    return null;
  }
}

export const handler = {
  // `seen`: looks the host made (none for a handler that calls `root`, as this one does).
  handle(req, seen) {
    // The host has checked the head: `METHOD SP target SP HTTP/1.x`.
    const line = String.fromCharCode(...req.head.subarray(0, req.head.indexOf(10)));
    const [method, target] = line.trimEnd().split(' ');
    const path = target.split('?')[0];
    let rel = path.replace(/^\/+/, '') || 'index.html';
    if (rel.endsWith('/')) rel += 'index.html';
    let status = '200 OK';
    let size = path.split('/').includes('..') ? null : found(rel);
    if (size === null) {
      [status, rel, size] = ['404 Not Found', '404.html', found('404.html')];
    }
    let body;
    if (size === null) {
      body = { tag: 'bytes', val: new TextEncoder().encode('not found\n') };
      size = body.val.length;
    } else {
      // The host streams the file itself: its bytes never enter the handler.
      body = { tag: 'file', val: { path: rel, offset: 0n, length: BigInt(size) } };
    }
    const date = new Date(Number(req.received.seconds) * 1000).toUTCString();
    const head = `HTTP/1.1 ${status}\r\nDate: ${date}\r\nContent-Length: ${size}\r\n\r\n`;
    if (method === 'HEAD') body = { tag: 'empty' };
    return { tag: 'response', val: { head: new TextEncoder().encode(head), body, close: false } };
  },
};
