// Unit tests of guest/js/rules.js under plain node (`node --test guest/js/`; run by
// tests/js.rs): parsing and matching `_redirects` and `_headers`.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { compile, headersFor, match, parseHeaders, parseRedirects, redirectFor } from './rules.js';

test('patterns: placeholders take one segment, a splat anything', () => {
  assert.deepEqual(match(compile('/blog/:year/:slug'), '/blog/2024/hello'), { year: '2024', slug: 'hello' });
  assert.equal(match(compile('/blog/:year/:slug'), '/blog/2024/a/b'), null);
  assert.deepEqual(match(compile('/news/*'), '/news/a/b'), { splat: 'a/b' });
  assert.deepEqual(match(compile('/news/*'), '/news'), { splat: '' });
  assert.equal(match(compile('/news/*'), '/newsroom'), null);
  assert.deepEqual(match(compile('/*.js'), '/app/main.js'), { splat: 'app/main' });
  assert.deepEqual(match(compile('/about'), '/about/'), {});
  assert.deepEqual(match(compile('/about/'), '/about'), {});
  assert.equal(match(compile('/about'), '/About'), null);
  assert.deepEqual(match(compile('/'), '/'), {});
  assert.deepEqual(match(compile('/*'), '/'), { splat: '' });
  assert.equal(match(compile('/a.b'), '/axb'), null, 'a dot is a dot');
});

const REDIRECTS = `
# comments and blank lines are skipped

/old            /new
/news/*         /blog/:splat            302
/blog/:year/:slug  /posts/:year-:slug   308
/app/*          /app/index.html          200
/gone           /404.html                410!
/away           https://example.com/x?ref=1 301
/cond           /x  302  Country=us
/proxy          https://example.com/  200
/odd            /x  999
/first          /one
/first          /two
`;

test('parseRedirects: default 301, statuses, unsupported lines left out', () => {
  const rules = parseRedirects(REDIRECTS);
  assert.deepEqual(
    rules.map((r) => [r.to, r.status, r.rewrite]),
    [
      ['/new', 301, false], ['/blog/:splat', 302, false], ['/posts/:year-:slug', 308, false],
      ['/app/index.html', 200, true], ['/404.html', 410, true],
      ['https://example.com/x?ref=1', 301, false], ['/one', 301, false], ['/two', 301, false],
    ],
  );
});

test('redirectFor: first match, placeholders filled, the query kept unless given', () => {
  const rules = parseRedirects(REDIRECTS);
  assert.deepEqual(redirectFor(rules, '/old', 'a=1'), { status: 301, rewrite: false, to: '/new?a=1' });
  assert.equal(redirectFor(rules, '/news/2024/x', null).to, '/blog/2024/x');
  assert.equal(redirectFor(rules, '/blog/2024/hello', null).to, '/posts/2024-hello');
  assert.equal(redirectFor(rules, '/away', 'a=1').to, 'https://example.com/x?ref=1');
  assert.equal(redirectFor(rules, '/first', null).to, '/one');
  assert.deepEqual(redirectFor(rules, '/app/users/7', 'q'), { status: 200, rewrite: true, to: '/app/index.html' });
  assert.equal(redirectFor(rules, '/nothing', null), null);
  // What a splat carries cannot break out of the Location.
  assert.equal(redirectFor(rules, '/news/a\r\nSet-Cookie: x', null).to, '/blog/a%0D%0ASet-Cookie:%20x');
  assert.equal(redirectFor(rules, '/news/a?b#c', null).to, '/blog/a%3Fb%23c');
});

const HEADERS = `
# security headers for everything
/*
  X-Frame-Options: DENY
  X-Robots-Tag: noindex

/assets/*
  Cache-Control: public, max-age=31536000, immutable
  ! X-Robots-Tag
/docs/:page
  X-Page: :page
  Link: </style.css>; rel=preload
https://example.com/*
  X-Never: 1
/bad
  Content-Length: 5
  Bad Name: x
  no colon here
  X-Good: yes
`;

test('_headers: every matching block in order, detach, placeholders, bad lines out', () => {
  const blocks = parseHeaders(HEADERS);
  assert.equal(blocks.length, 4);
  assert.deepEqual(headersFor(blocks, '/index.html'), [['X-Frame-Options', 'DENY'], ['X-Robots-Tag', 'noindex']]);
  assert.deepEqual(headersFor(blocks, '/assets/app.js'), [
    ['X-Frame-Options', 'DENY'],
    ['Cache-Control', 'public, max-age=31536000, immutable'],
  ]);
  assert.deepEqual(headersFor(blocks, '/docs/guide').slice(2), [
    ['X-Page', 'guide'],
    ['Link', '</style.css>; rel=preload'],
  ]);
  assert.deepEqual(headersFor(blocks, '/bad').slice(2), [['X-Good', 'yes']]);
  assert.deepEqual(headersFor(parseHeaders('/a\r\n  X-A: 1\r\n'), '/a'), [['X-A', '1']]);
  assert.deepEqual(headersFor(parseHeaders('/x\n  X-P: :splat\n/*\n  X-S: [:splat]\n'), '/a%0d'), [['X-S', '[a%0d]']]);
});
