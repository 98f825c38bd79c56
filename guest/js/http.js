// The HTTP pieces of the JavaScript handler that need no root: reading the request
// head, turning its target into a safe path below the root, dates, validators,
// Content-Type and byte ranges. Pure functions, so that `node --test` checks them
// outside the component (guest/js/http.test.js).

/// Method, target and header fields (lower-case names; repeated fields joined with
/// ", ", as RFC 9110 §5.3 allows) of a head the host has already checked.
export function parseHead(bytes) {
  const lines = latin1(bytes).split('\n').map((l) => l.replace(/\r$/, ''));
  const [method, target] = lines[0].split(' ');
  const fields = new Map();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).toLowerCase();
    const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '');
    fields.set(name, fields.has(name) ? `${fields.get(name)}, ${value}` : value);
  }
  return { method, target, fields };
}

// Byte for character: field values may hold obs-text, which is not UTF-8 to rely on.
function latin1(bytes) {
  let text = '';
  for (let i = 0; i < bytes.length; i += 8192) {
    text += String.fromCharCode(...bytes.subarray(i, i + 8192));
  }
  return text;
}

/// The still-encoded path and the query (or null) of an origin- or absolute-form
/// target; null for the other forms (`*`, authority-form), which name no file.
export function splitTarget(target) {
  let rest = target;
  const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?]*/.exec(rest);
  if (scheme) rest = rest.slice(scheme[0].length) || '/';
  if (rest.startsWith('?')) rest = `/${rest}`;
  if (!rest.startsWith('/')) return null;
  const q = rest.indexOf('?');
  return q < 0 ? { raw: rest, query: null } : { raw: rest.slice(0, q), query: rest.slice(q + 1) };
}

/// A path's segments after percent-decoding (as UTF-8), without empty and `.` ones,
/// and whether it ends in `/`. null when it cannot name a file below the root: a bad
/// escape or UTF-8, a NUL or a backslash, or a `..` segment — also once decoded, so
/// `/%2e%2e/` and `/..%2f` are refused like `/../`.
export function cleanPath(raw) {
  let path;
  try {
    path = decodeURIComponent(raw);
  } catch {
    return null;
  }
  if (!path.startsWith('/') || /[\0\\]/.test(path)) return null;
  const parts = path.split('/');
  if (parts.includes('..')) return null;
  return {
    segments: parts.filter((s) => s !== '' && s !== '.'),
    slash: path.length > 1 && path.endsWith('/'),
  };
}

/// The path as the rules and the root see it: `/a/b` (or `/a/b/`).
export function pathOf(clean) {
  const joined = `/${clean.segments.join('/')}`;
  return clean.slash && joined !== '/' ? `${joined}/` : joined;
}

/// RFC 9110's IMF-fixdate of seconds since the epoch: `Sun, 06 Nov 1994 08:49:37 GMT`
/// (what ECMAScript's toUTCString has written since ES2018).
export function httpDate(seconds) {
  return new Date(Number(seconds) * 1000).toUTCString();
}

const MONTHS = 'JanFebMarAprMayJunJulAugSepOctNovDec';

/// Seconds since the epoch of an IMF-fixdate, or null: the obsolete forms are ignored,
/// which makes their condition false, as RFC 9110 §13.1.3 allows for invalid dates.
export function parseHttpDate(text) {
  const m = /^[A-Z][a-z]{2}, (\d\d) ([A-Z][a-z]{2}) (\d{4}) (\d\d):(\d\d):(\d\d) GMT$/.exec(text);
  const month = m ? MONTHS.indexOf(m[2]) : -1;
  if (month < 0 || month % 3) return null;
  return Date.UTC(+m[3], month / 3, +m[1], +m[4], +m[5], +m[6]) / 1000;
}

/// A strong validator from the metadata alone, as the built-in handler makes it: the
/// size and the modification time to the nanosecond, in hex. It assumes, like nginx,
/// that new content comes with a new size or mtime; the file is never read for it.
export function etagOf(size, modified) {
  const secs = modified ? BigInt(modified.seconds) : 0n;
  const nanos = modified ? modified.nanoseconds : 0;
  return `"${BigInt(size).toString(16)}-${secs.toString(16)}.${nanos.toString(16).padStart(8, '0')}"`;
}

/// Whether an If-None-Match value (`*` or a list of tags) matches `etag`, by the weak
/// comparison §13.1.2 asks for: `W/` is ignored on either side.
export function noneMatchHits(value, etag) {
  const bare = (tag) => tag.trim().replace(/^W\//, '');
  return value.trim() === '*' || value.split(',').some((tag) => bare(tag) === bare(etag));
}

/// Whether the client's copy is current (304): If-None-Match when sent, else
/// If-Modified-Since against the file's whole seconds (§13.2.2 steps 3-4). A date after
/// `now` (the request's arrival) is invalid (§13.1.3), so it cannot vouch for a copy.
export function notModified(fields, etag, modified, now) {
  const inm = fields.get('if-none-match');
  if (inm !== undefined) return noneMatchHits(inm, etag);
  const since = parseHttpDate(fields.get('if-modified-since') ?? '');
  if (since === null || since > Number(now) || modified == null) return false;
  return Number(modified.seconds) <= since;
}

/// What a Range field asks of a file of `size` bytes: null to send it whole (no Range,
/// not `bytes`, several ranges, which §14.2 lets a server ignore, or a stale If-Range),
/// `'unsatisfiable'` (416), or `{ offset, length }` for one 206.
export function rangeOf(fields, size, etag, lastModified) {
  const value = fields.get('range');
  if (value === undefined) return null;
  const ifRange = fields.get('if-range');
  // If-Range: the strong tag, or the exact Last-Modified, else the whole file.
  if (ifRange !== undefined && ifRange !== etag && ifRange !== lastModified) return null;
  const m = /^bytes[ \t]*=[ \t]*(\d*)-(\d*)[ \t]*$/i.exec(value);
  if (!m || (m[1] === '' && m[2] === '')) return null;
  let first;
  let last;
  if (m[1] === '') {
    // `-N`: the last N bytes.
    const suffix = Number(m[2]);
    if (suffix === 0) return 'unsatisfiable';
    first = Math.max(0, size - suffix);
    last = size - 1;
  } else {
    first = Number(m[1]);
    last = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
    if (m[2] !== '' && Number(m[2]) < first) return null; // invalid: ignore it
  }
  if (first >= size) return 'unsatisfiable';
  return { offset: first, length: last - first + 1 };
}

// A small table: what a static site is made of. Anything else is octet-stream, so
// that browsers do not guess (nginx's default_type).
const TYPES = {
  html: 'text/html', htm: 'text/html', css: 'text/css', js: 'text/javascript',
  mjs: 'text/javascript', json: 'application/json', map: 'application/json',
  txt: 'text/plain', md: 'text/markdown', csv: 'text/csv', xml: 'application/xml',
  svg: 'image/svg+xml', png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg',
  gif: 'image/gif', webp: 'image/webp', avif: 'image/avif', ico: 'image/x-icon',
  woff: 'font/woff', woff2: 'font/woff2', ttf: 'font/ttf', otf: 'font/otf',
  wasm: 'application/wasm', pdf: 'application/pdf', zip: 'application/zip',
  mp4: 'video/mp4', webm: 'video/webm', mp3: 'audio/mpeg', ogg: 'audio/ogg',
  webmanifest: 'application/manifest+json',
};

/// Content-Type by the file name's extension, with `charset=utf-8` for text.
export function contentType(name) {
  const dot = name.lastIndexOf('.');
  const slash = name.lastIndexOf('/');
  const type = dot > slash + 1 ? TYPES[name.slice(dot + 1).toLowerCase()] : undefined;
  if (!type) return 'application/octet-stream';
  const text = /^text\/|\/(json|xml|svg\+xml|manifest\+json)$/.test(type);
  return text ? `${type}; charset=utf-8` : type;
}

/// The operator's Cache-Control globs: `*` within a segment, `**` across; a pattern
/// without `/` is matched against the file name alone (as the built-in handler does).
export function globMatches(pattern, rel) {
  const subject = pattern.includes('/') ? rel : rel.slice(rel.lastIndexOf('/') + 1);
  const source = pattern
    .split('**')
    .map((part) => part.split('*').map(escapeRegExp).join('[^/]*'))
    .join('.*');
  return new RegExp(`^${source}$`, 's').test(subject);
}

export function escapeRegExp(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/// Percent-encodes what may not stand in a Location as it is: controls, space,
/// non-ASCII (as UTF-8), and `%`, `?`, `#`, `"`, `<`, `>`, `\`, `^`, `` ` ``, `{|}`.
export function encodePath(text) {
  return encodeURI(text).replace(/[?#]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
