// Unit tests of guest/js/text.js under plain node (`node --test guest/js/`; run by
// tests/js.rs): the plain-JavaScript UTF-8 that QuickJS uses answers as node's
// TextEncoder and TextDecoder do.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { decodeUtf8, encodeUtf8 } from './text.js';

test('encodeUtf8: as TextEncoder, lone surrogates included', () => {
  const encoder = new TextEncoder();
  for (const text of ['', 'plain ascii\r\n', 'café', '€ 10', '😀 x', 'a\ud800b', '\udc00', 'z\ud83d']) {
    assert.deepEqual(encodeUtf8(text), encoder.encode(text), JSON.stringify(text));
  }
});

test('decodeUtf8: as TextDecoder, BOM and ill-formed input included', () => {
  const decoder = new TextDecoder();
  const cases = [
    [], [0x41, 0x42], [0xef, 0xbb, 0xbf, 0x41], [0xc3, 0xa9], [0xe2, 0x82, 0xac],
    [0xf0, 0x9f, 0x98, 0x80], [0xc3], [0xc3, 0x41], [0xe2, 0x82], [0xe2, 0x82, 0x41],
    [0xc0, 0x80], [0xe0, 0x80, 0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80],
    [0xf5, 0x41], [0xff], [0x80, 0xbf], [0xf0, 0x9f, 0x98], [0x41, 0xef, 0xbb, 0xbf],
  ];
  for (const bytes of cases) {
    const array = Uint8Array.from(bytes);
    assert.equal(decodeUtf8(array), decoder.decode(array), bytes.join(' '));
  }
  // Every two-byte sequence, and a long text.
  for (let a = 0; a < 256; a++) {
    for (let b = 0; b < 256; b += 7) {
      const array = Uint8Array.of(a, b, 0x80, 0xe2);
      assert.equal(decodeUtf8(array), decoder.decode(array), `${a} ${b}`);
    }
  }
  const long = new TextEncoder().encode('ünïcödé 😀 '.repeat(20000));
  assert.equal(decodeUtf8(long), decoder.decode(long));
});
