// Unit tests of guest/js/site.js, the pipeline both engines share, under plain node
// (`node --test guest/js/`; run by tests/js.rs) with a `root` of plain objects, Numbers
// for u64 as site.js takes them. The real thing runs over the socket in tests/js.rs.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { handle } from './site.js';

const bytes = (text) => Uint8Array.from(text, (c) => c.charCodeAt(0));
const text = (array) => new TextDecoder().decode(array);

/// A root of `files` (path → text), with errors as the engines throw them.
function rootOf(files) {
  const fail = (payload) => Object.assign(new Error(payload), { payload });
  const modified = { seconds: 1700000000, nanoseconds: 5 };
  return {
    maxRead: () => 1 << 20,
    stat(path) {
      if (path in files) return { kind: 'file', size: files[path].length, modified };
      if (path === '' || Object.keys(files).some((f) => f.startsWith(`${path}/`))) {
        return { kind: 'directory', size: 4096, modified };
      }
      throw fail('not-found');
    },
    list: () => { throw fail('io'); },
    read(path, offset, length) {
      if (!(path in files)) throw fail('not-found');
      return new TextEncoder().encode(files[path]).subarray(offset, offset + length);
    },
  };
}

function request(head, policy = {}) {
  return {
    head: bytes(head),
    peer: { ip: '127.0.0.1', port: 1234 },
    indexOnConnection: 0,
    received: { seconds: 1700000100, nanoseconds: 0 },
    policy: {
      minUserAgentLen: 0, serveDotfiles: false, serverName: 'sandserve', cacheControl: [],
      extraHeaders: [], listDirs: false, fallback: null, ...policy,
    },
  };
}

const get = (target, extra = '') => `GET ${target} HTTP/1.1\r\nHost: x\r\n${extra}\r\n`;

test('a file: 200 with a file range of Numbers, the validators and the Date', () => {
  const res = handle(request(get('/a.txt')), rootOf({ 'a.txt': 'hello\n' }));
  const head = text(res.head);
  assert.match(head, /^HTTP\/1\.1 200 OK\r\n/);
  assert.match(head, /\r\nDate: Tue, 14 Nov 2023 22:15:00 GMT\r\n/);
  assert.match(head, /\r\nContent-Length: 6\r\n/);
  assert.match(head, /\r\nETag: "6-6553f100\.00000005"\r\n/);
  assert.deepEqual(res.body, { tag: 'file', val: { path: 'a.txt', offset: 0, length: 6 } });
  assert.equal(res.close, false);
});

test('a range, a miss, a redirect from _redirects, an oversized rule file', () => {
  const root = rootOf({ 'a.txt': 'hello\n', _redirects: '/old /a.txt 301\n' });
  const range = handle(request(get('/a.txt', 'Range: bytes=1-2\r\n')), root);
  assert.match(text(range.head), /^HTTP\/1\.1 206 /);
  assert.deepEqual(range.body.val, { path: 'a.txt', offset: 1, length: 2 });
  assert.match(text(handle(request(get('/nope')), root).head), /^HTTP\/1\.1 404 /);
  const moved = text(handle(request(get('/old?q')), root).head);
  assert.match(moved, /^HTTP\/1\.1 301 [^]*\r\nLocation: \/a\.txt\?q\r\n/);
  const big = rootOf({ 'a.txt': 'x', _headers: 'x'.repeat(64 * 1024 + 1) });
  assert.match(text(handle(request(get('/a.txt')), big).head), /^HTTP\/1\.1 500 /);
});

test('the User-Agent rule counts characters of UTF-8, not bytes', () => {
  const ua = new TextEncoder().encode('é'.repeat(10));
  const head = `GET / HTTP/1.1\r\nUser-Agent: ${String.fromCharCode(...ua)}\r\n\r\n`;
  const root = rootOf({ 'index.html': 'hi' });
  assert.match(text(handle(request(head, { minUserAgentLen: 10 }), root).head), /^HTTP\/1\.1 200 /);
  assert.match(text(handle(request(head, { minUserAgentLen: 11 }), root).head), /^HTTP\/1\.1 403 /);
});
