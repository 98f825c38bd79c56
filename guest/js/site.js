// The JavaScript handler's request pipeline, shared by its two engines: guest/js/handler.js
// (SpiderMonkey, componentize-js) and guest/js/handler-quickjs.js (QuickJS,
// componentize-qjs) only adapt the `sandserve` world of wit/sandserve.wit to `handle`
// below. It is a static-file server that also follows the site's own
// `_redirects` and `_headers` files, as Netlify and Cloudflare Pages do (the rules
// themselves are guest/js/rules.js; the HTTP pieces guest/js/http.js).
//
// Per request, in this order: GET and HEAD only (405); the operator's User-Agent rule
// (403); the target becomes a clean path below the root (`..`, also encoded: 400);
// dotfiles (403, unless the policy serves them); `/_redirects` and `/_headers` are
// never served (404); the first matching redirect (301-308 with Location, the query
// kept unless the rule gives one) or rewrite (another file's answer, 200, 404 or 410,
// under the URL asked for); else the file itself, a directory's index.html (a 301 adds
// the missing slash), or 404 with the root's 404.html. Files answer 200, 304 by
// If-None-Match / If-Modified-Since, or 206/416 for one `Range: bytes=`; they carry the
// fields of every matching `_headers` block, which override the handler's own.
//
// Both rule files are read through `root.read` on every request, so an edit applies at
// once and nothing outlives a request (each gets a fresh instance anyway). File bodies
// are `file` ranges: the host streams them, their bytes never enter JavaScript.
//
// `handle(req, root)` takes the request record of the WIT (camelCase fields) with every
// u64 a plain Number, and `root` as { maxRead(), stat(path), list(path, max),
// read(path, offset, length) }: the WIT's functions with Numbers for u64, an error
// thrown as an Error whose `payload` is the WIT error's name (as both engines do). It
// returns the WIT response, again with Numbers in its file ranges.

import {
  cleanPath, contentType, encodePath, etagOf, globMatches, httpDate, notModified,
  parseHead, pathOf, rangeOf, splitTarget,
} from './http.js';
import { headersFor, parseHeaders, parseRedirects, redirectFor } from './rules.js';
import { utf8Decode, utf8Encode } from './text.js';

/// Rule files larger than this are a 500 rather than partly applied.
const RULES_CAP = 64 * 1024;
const RULE_FILES = ['_redirects', '_headers'];
const EMPTY = { tag: 'empty' };
const REASONS = {
  200: 'OK', 206: 'Partial Content', 301: 'Moved Permanently', 302: 'Found',
  303: 'See Other', 304: 'Not Modified', 307: 'Temporary Redirect',
  308: 'Permanent Redirect', 400: 'Bad Request', 403: 'Forbidden', 404: 'Not Found',
  405: 'Method Not Allowed', 410: 'Gone', 416: 'Range Not Satisfiable',
  500: 'Internal Server Error',
};

/// The response to one request (see the top of this file).
export function handle(req, root) {
  const { method, target, fields } = parseHead(req.head);
  const ex = new Exchange(req, method, root);
  if (method !== 'GET' && method !== 'HEAD') {
    return ex.error(405, [['Allow', 'GET, HEAD']]);
  }
  if (userAgentLength(fields) < req.policy.minUserAgentLen) return ex.error(403);
  const parts = splitTarget(target);
  const clean = parts && cleanPath(parts.raw);
  // A request that tries to climb out of the root is not one to keep talking to.
  if (!clean) return ex.error(400, [], true);
  const refused = refusal(clean, req.policy);
  if (refused) return refused === 404 ? notFound(ex) : ex.error(refused);
  let site;
  try {
    site = {
      redirects: parseRedirects(ruleFile(root, '_redirects')),
      headers: parseHeaders(ruleFile(root, '_headers')),
    };
  } catch {
    // Over the cap or unreadable: loud, rather than a site without its rules.
    return ex.error(500);
  }
  const path = pathOf(clean);
  const rule = redirectFor(site.redirects, path, parts.query);
  if (rule && !rule.rewrite) return ex.redirect(rule.status, rule.to);
  ex.siteFields = headersFor(site.headers, path);
  if (rule) return rewrite(ex, fields, rule);
  return serve(ex, fields, clean, parts.query);
}

/// One request's answer in the making: what every response carries (Date, Server, the
/// operator's extra fields) and the `_headers` fields of the path asked for.
class Exchange {
  constructor(req, method, root) {
    this.root = root;
    this.policy = req.policy;
    this.method = method;
    this.now = req.received.seconds;
    this.date = httpDate(this.now);
    this.siteFields = [];
  }

  /// The response: `fields` (without those the site's own replace) and, when
  /// `site` is set, the `_headers` fields; HEAD drops the body but keeps its length.
  send(status, fields, body, { site = false, close = false } = {}) {
    const own = site ? this.siteFields : [];
    const replaced = new Set(own.map(([name]) => name.toLowerCase()));
    const all = [
      ['Date', this.date],
      ...(this.policy.serverName ? [['Server', this.policy.serverName]] : []),
      // Browsers must take Content-Type as said, not sniff a script out of a text file.
      ['X-Content-Type-Options', 'nosniff'],
      ...fields.filter(([name]) => !replaced.has(name.toLowerCase())),
      ...own,
      ...this.policy.extraHeaders,
    ];
    const lines = [`HTTP/1.1 ${status} ${REASONS[status]}`, ...all.map(([n, v]) => `${n}: ${v}`)];
    const head = utf8Encode(`${lines.join('\r\n')}\r\n\r\n`);
    return { head, body: this.method === 'HEAD' ? EMPTY : body, close };
  }

  /// A small plain-text error page.
  error(status, fields = [], close = false) {
    const text = utf8Encode(`${status} ${REASONS[status]}\n`);
    const all = [['Content-Type', 'text/plain; charset=utf-8'], ['Content-Length', `${text.length}`], ...fields];
    return this.send(status, all, { tag: 'bytes', val: text }, { close });
  }

  redirect(status, location) {
    return this.send(status, [['Location', location], ['Content-Length', '0']], EMPTY);
  }
}

// Characters, not bytes, of the User-Agent (the head is read byte for character).
function userAgentLength(fields) {
  const value = fields.get('user-agent') ?? '';
  return [...utf8Decode(Uint8Array.from(value, (c) => c.charCodeAt(0)))].length;
}

/// Why a clean path is not served whatever the rules say (403 or 404), or 0.
function refusal(clean, policy) {
  if (!policy.serveDotfiles && clean.segments.some((s) => s.startsWith('.'))) return 403;
  const [first, ...rest] = clean.segments;
  return rest.length === 0 && RULE_FILES.includes(first) ? 404 : 0;
}

/// The text of a rule file of the root; empty when there is none. Throws when it is
/// over the cap or unreadable, so that the site's rules are never silently dropped.
function ruleFile(root, name) {
  const cap = Math.min(RULES_CAP, root.maxRead());
  let bytes;
  try {
    bytes = root.read(name, 0, cap);
  } catch (e) {
    if (e.payload === 'not-found') return '';
    throw e;
  }
  if (bytes.length === cap && root.read(name, cap, 1).length > 0) {
    throw new Error(`${name} is over ${cap} bytes`);
  }
  return utf8Decode(bytes);
}

/// The metadata of `rel`, or null when it is not there (or cannot be looked at).
function look(root, rel) {
  try {
    return root.stat(rel);
  } catch {
    return null;
  }
}

/// The file a request path names: itself, or a directory's index.html.
function serve(ex, fields, clean, query) {
  const rel = clean.segments.join('/');
  const meta = look(ex.root, rel);
  if (meta?.kind === 'directory') {
    if (!clean.slash && rel !== '') {
      const location = `${encodePath(pathOf(clean))}/${query === null ? '' : `?${query}`}`;
      return ex.redirect(301, location);
    }
    return index(ex, fields, rel, 200);
  }
  // `a.txt/` names a directory that is not there.
  if (meta?.kind !== 'file' || clean.slash) return notFound(ex);
  return sendFile(ex, fields, rel, meta, 200);
}

function index(ex, fields, dir, status) {
  const rel = dir ? `${dir}/index.html` : 'index.html';
  const meta = look(ex.root, rel);
  // No listings here: a directory without an index is refused, as the built-in does.
  return meta?.kind === 'file' ? sendFile(ex, fields, rel, meta, status) : ex.error(403);
}

/// A rewrite: the answer for the rule's path, with the rule's status, under the URL
/// asked for. Its target is cleaned and refused like a request's (a splat could carry
/// `.git` in), and a missing one is a plain 404.
function rewrite(ex, fields, rule) {
  const parts = splitTarget(rule.to);
  const clean = parts && cleanPath(parts.raw);
  if (!clean || refusal(clean, ex.policy)) return notFound(ex);
  const rel = clean.segments.join('/');
  const meta = look(ex.root, rel);
  if (meta?.kind === 'directory') return index(ex, fields, rel, rule.status);
  return meta?.kind === 'file' ? sendFile(ex, fields, rel, meta, rule.status) : notFound(ex);
}

function notFound(ex) {
  const meta = look(ex.root, '404.html');
  if (meta?.kind !== 'file') return ex.error(404);
  return ex.send(404, fileFields('404.html', meta.size), fileBody('404.html', 0, meta.size));
}

/// A file's answer. Only a 200 has validators and ranges: a rewrite to a 404 page is
/// an error page, not a representation to cache or resume.
function sendFile(ex, fields, rel, meta, status) {
  const size = meta.size;
  if (status !== 200) {
    return ex.send(status, fileFields(rel, size), fileBody(rel, 0, size), { site: true });
  }
  const etag = etagOf(meta.size, meta.modified);
  const lastModified = meta.modified ? httpDate(meta.modified.seconds) : null;
  const validators = [['ETag', etag]];
  if (lastModified) validators.push(['Last-Modified', lastModified]);
  const cache = ex.policy.cacheControl.find((r) => globMatches(r.pattern, rel));
  if (cache) validators.push(['Cache-Control', cache.value]);
  if (notModified(fields, etag, meta.modified, ex.now)) {
    return ex.send(304, validators, EMPTY, { site: true });
  }
  // Range is defined for GET only (RFC 9110 §14.2).
  const range = ex.method === 'GET' ? rangeOf(fields, size, etag, lastModified) : null;
  if (range === 'unsatisfiable') {
    return ex.send(416, [['Content-Range', `bytes */${size}`], ['Content-Length', '0']], EMPTY);
  }
  const common = [['Accept-Ranges', 'bytes'], ...validators];
  if (range) {
    const { offset, length } = range;
    const span = [['Content-Range', `bytes ${offset}-${offset + length - 1}/${size}`]];
    const all = [...fileFields(rel, length), ...common, ...span];
    return ex.send(206, all, fileBody(rel, offset, length), { site: true });
  }
  return ex.send(200, [...fileFields(rel, size), ...common], fileBody(rel, 0, size), { site: true });
}

function fileFields(rel, length) {
  return [['Content-Type', contentType(rel)], ['Content-Length', `${length}`]];
}

/// Bytes of a file, streamed by the host (an empty file needs no range at all).
function fileBody(path, offset, length) {
  if (length === 0) return EMPTY;
  return { tag: 'file', val: { path, offset, length } };
}
