// UTF-8 for the handler on every engine: the platform's TextEncoder/TextDecoder where
// there are any (node, SpiderMonkey under componentize-js), else the same algorithms
// in plain JavaScript (QuickJS under componentize-qjs has neither). The fallbacks are
// exported so that `node --test` holds them to the platform's answers
// (guest/js/text.test.js).

const nativeEncoder = typeof TextEncoder === 'function' ? new TextEncoder() : null;
const nativeDecoder = typeof TextDecoder === 'function' ? new TextDecoder() : null;

/// The UTF-8 bytes of `text`; a lone surrogate becomes U+FFFD, as TextEncoder does.
export const utf8Encode = nativeEncoder ? (text) => nativeEncoder.encode(text) : encodeUtf8;

/// The text of UTF-8 `bytes` as `new TextDecoder().decode` gives it: a leading BOM
/// dropped, each maximal ill-formed subsequence replaced by U+FFFD (WHATWG Encoding).
export const utf8Decode = nativeDecoder ? (bytes) => nativeDecoder.decode(bytes) : decodeUtf8;

export function encodeUtf8(text) {
  if (/^[\0-\x7f]*$/.test(text)) {
    const out = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
    return out;
  }
  const out = [];
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdfff) {
      const next = i + 1 < text.length ? text.charCodeAt(i + 1) : 0;
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
        i++;
      } else {
        c = 0xfffd;
      }
    }
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 0x3f));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f));
    else {
      out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 0x3f), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f));
    }
  }
  return Uint8Array.from(out);
}

export function decodeUtf8(bytes) {
  const start = bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  const units = [];
  let text = '';
  const flush = () => {
    for (let i = 0; i < units.length; i += 8192) text += String.fromCharCode(...units.slice(i, i + 8192));
    units.length = 0;
  };
  let needed = 0;
  let seen = 0;
  let code = 0;
  let lower = 0x80;
  let upper = 0xbf;
  for (let i = start; i < bytes.length; i++) {
    const b = bytes[i];
    if (needed === 0) {
      if (b <= 0x7f) units.push(b);
      else if (b >= 0xc2 && b <= 0xdf) { needed = 1; code = b & 0x1f; }
      else if (b >= 0xe0 && b <= 0xef) {
        if (b === 0xe0) lower = 0xa0;
        if (b === 0xed) upper = 0x9f;
        needed = 2;
        code = b & 0xf;
      } else if (b >= 0xf0 && b <= 0xf4) {
        if (b === 0xf0) lower = 0x90;
        if (b === 0xf4) upper = 0x8f;
        needed = 3;
        code = b & 0x7;
      } else units.push(0xfffd);
    } else if (b < lower || b > upper) {
      // The sequence ends before this byte, which starts over.
      needed = seen = code = 0;
      lower = 0x80;
      upper = 0xbf;
      units.push(0xfffd);
      i--;
    } else {
      lower = 0x80;
      upper = 0xbf;
      code = (code << 6) | (b & 0x3f);
      if (++seen === needed) {
        if (code >= 0x10000) units.push(0xd800 + ((code - 0x10000) >> 10), 0xdc00 + ((code - 0x10000) & 0x3ff));
        else units.push(code);
        needed = seen = code = 0;
      }
    }
    if (units.length >= 65536) flush();
  }
  if (needed !== 0) units.push(0xfffd);
  flush();
  return text;
}
