// Unit tests of guest/js/http.js under plain node (`node --test guest/js/`; run by
// tests/js.rs): the pieces of the handler that need no component and no root.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  cleanPath, contentType, encodePath, etagOf, globMatches, httpDate, notModified,
  parseHead, parseHttpDate, pathOf, rangeOf, splitTarget,
} from './http.js';

const bytes = (text) => Uint8Array.from(text, (c) => c.charCodeAt(0));

test('parseHead: request line and fields, names lower-case, repeats joined', () => {
  const head = parseHead(bytes('GET /a?b HTTP/1.1\r\nHost: x\r\nAccept: a\r\naccept: b\r\nUser-Agent: Mozilla/5.0 (rv:128.0)\r\n\r\n'));
  assert.equal(head.method, 'GET');
  assert.equal(head.target, '/a?b');
  assert.equal(head.fields.get('accept'), 'a, b');
  assert.equal(head.fields.get('user-agent'), 'Mozilla/5.0 (rv:128.0)');
  assert.equal(parseHead(bytes('HEAD / HTTP/1.0\n\n')).method, 'HEAD');
});

test('splitTarget: origin and absolute form; others name no file', () => {
  assert.deepEqual(splitTarget('/a/b?x=1'), { raw: '/a/b', query: 'x=1' });
  assert.deepEqual(splitTarget('http://example.com:8080/a'), { raw: '/a', query: null });
  assert.deepEqual(splitTarget('http://example.com?q'), { raw: '/', query: 'q' });
  assert.equal(splitTarget('*'), null);
  assert.equal(splitTarget('example.com:443'), null);
});

test('cleanPath: decoded segments; `..` in any spelling, NUL, backslash refused', () => {
  assert.deepEqual(cleanPath('/docs//./a%20b.txt'), { segments: ['docs', 'a b.txt'], slash: false });
  assert.deepEqual(cleanPath('/docs/'), { segments: ['docs'], slash: true });
  assert.deepEqual(cleanPath('/'), { segments: [], slash: false });
  assert.deepEqual(cleanPath('/h%C3%A9llo'), { segments: ['héllo'], slash: false });
  for (const bad of ['/../a', '/a/..', '/%2e%2e/a', '/..%2fa', '/%2E%2E%2Fa', '/a%00', '/a%5cb', '/%zz', '/%ff']) {
    assert.equal(cleanPath(bad), null, bad);
  }
  assert.equal(pathOf(cleanPath('/a//b/')), '/a/b/');
  assert.equal(pathOf(cleanPath('/')), '/');
});

test('dates: IMF-fixdate both ways; other forms are not dates', () => {
  assert.equal(httpDate(784111777n), 'Sun, 06 Nov 1994 08:49:37 GMT');
  assert.equal(parseHttpDate('Sun, 06 Nov 1994 08:49:37 GMT'), 784111777);
  assert.equal(parseHttpDate('Sunday, 06-Nov-94 08:49:37 GMT'), null);
  assert.equal(parseHttpDate('Sun, 06 Nox 1994 08:49:37 GMT'), null);
  assert.equal(parseHttpDate(''), null);
});

test('validators: ETag from size and mtime; If-None-Match, then If-Modified-Since', () => {
  const modified = { seconds: 784111777n, nanoseconds: 5 };
  const etag = etagOf(13n, modified);
  assert.equal(etag, '"d-2ebc98a1.00000005"');
  assert.notEqual(etagOf(14n, modified), etag);
  const now = 784200000n;
  const fresh = (entries, m = modified) => notModified(new Map(entries), etag, m, now);
  assert.ok(fresh([['if-none-match', etag]]));
  assert.ok(fresh([['if-none-match', `"x", W/${etag}`]]));
  assert.ok(fresh([['if-none-match', '*']]));
  assert.ok(!fresh([['if-none-match', '"x"']]));
  const since = [['if-modified-since', 'Sun, 06 Nov 1994 08:49:37 GMT']];
  assert.ok(fresh(since));
  assert.ok(!fresh(since, { seconds: 784111778n, nanoseconds: 0 }));
  assert.ok(!fresh(since, null), 'no mtime: no 304 by date');
  // A date in the future is no date; If-None-Match decides alone when sent.
  assert.ok(!fresh([['if-modified-since', 'Fri, 01 Jan 2100 00:00:00 GMT']]));
  assert.ok(!fresh([...since, ['if-none-match', '"x"']]));
});

test('rangeOf: one range; several, invalid or stale ones are ignored', () => {
  const r = (value, extra = []) => rangeOf(new Map([['range', value], ...extra]), 13, '"t"', 'D');
  assert.deepEqual(r('bytes=0-4'), { offset: 0, length: 5 });
  assert.deepEqual(r('bytes=10-'), { offset: 10, length: 3 });
  assert.deepEqual(r('bytes=-3'), { offset: 10, length: 3 });
  assert.deepEqual(r('bytes=-30'), { offset: 0, length: 13 });
  assert.deepEqual(r('bytes=5-100'), { offset: 5, length: 8 });
  assert.equal(r('bytes=13-'), 'unsatisfiable');
  assert.equal(r('bytes=-0'), 'unsatisfiable');
  assert.equal(r('bytes=0-1,3-4'), null);
  assert.equal(r('bytes=4-2'), null);
  assert.equal(r('lines=1-2'), null);
  assert.equal(rangeOf(new Map(), 13, '"t"', 'D'), null);
  assert.deepEqual(r('bytes=0-0', [['if-range', '"t"']]), { offset: 0, length: 1 });
  assert.deepEqual(r('bytes=0-0', [['if-range', 'D']]), { offset: 0, length: 1 });
  assert.equal(r('bytes=0-0', [['if-range', '"old"']]), null);
});

test('contentType: a small table, charset for text, octet-stream else', () => {
  assert.equal(contentType('index.html'), 'text/html; charset=utf-8');
  assert.equal(contentType('a/style.CSS'), 'text/css; charset=utf-8');
  assert.equal(contentType('logo.svg'), 'image/svg+xml; charset=utf-8');
  assert.equal(contentType('logo.png'), 'image/png');
  assert.equal(contentType('mod.wasm'), 'application/wasm');
  assert.equal(contentType('README'), 'application/octet-stream');
  assert.equal(contentType('.hidden'), 'application/octet-stream');
  assert.equal(contentType('a.d/README'), 'application/octet-stream');
});

test('globMatches: the operator\'s Cache-Control globs', () => {
  assert.ok(globMatches('*.css', 'assets/site.css'));
  assert.ok(!globMatches('*.css', 'site.js'));
  assert.ok(globMatches('assets/**', 'assets/img/logo.svg'));
  assert.ok(!globMatches('assets/*', 'assets/img/logo.svg'));
  assert.ok(globMatches('assets/*', 'assets/a.js'));
  assert.ok(globMatches('*.[0-9a-f]*', 'app.[0-9a-f]x'));
});

test('encodePath: nothing that could end or bend a Location', () => {
  assert.equal(encodePath('/a b/é?#%\r\n'), '/a%20b/%C3%A9%3F%23%25%0D%0A');
  assert.equal(encodePath('/posts/2024-x'), '/posts/2024-x');
});
