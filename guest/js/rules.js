// The site's own rules, in the files Netlify and Cloudflare Pages read from the root of
// a site: `_redirects` (redirects and rewrites) and `_headers` (fields by path). Parsing
// and matching only — pure, so `node --test` checks them (guest/js/rules.test.js); the
// handler reads the files and acts on what these return.
//
// Patterns (the FROM of a redirect, the path line of a headers block) are paths with
// `:name` placeholders, each one whole segment, and a `*` splat matching anything
// (named `:splat` in what it fills in). A trailing `/*` also matches the bare prefix
// (`/news/*` takes `/news`), and a pattern without a splat matches with or without a
// trailing slash, as on Netlify. Matching is on the percent-decoded path, by case.
// Lines this does not support (conditions, query matching, domains, proxying to
// another origin) are left out rather than half applied.

import { escapeRegExp, encodePath } from './http.js';

/// A matcher for one pattern: its regular expression and the names of its captures.
export function compile(pattern) {
  const names = [];
  let body = pattern.length > 1 ? pattern.replace(/\/$/, '') : pattern;
  let tail = '/?';
  if (body.endsWith('/*')) {
    body = body.slice(0, -2);
    tail = '(?:/(.*))?';
  }
  const source = body
    .split('/')
    .map((segment) => {
      if (/^:[A-Za-z_]\w*$/.test(segment)) {
        names.push(segment.slice(1));
        return '([^/]+)';
      }
      const pieces = segment.split('*');
      for (let i = 1; i < pieces.length; i++) names.push('splat');
      return pieces.map(escapeRegExp).join('(.*)');
    })
    .join('/');
  if (tail !== '/?') names.push('splat');
  return { regex: new RegExp(`^${source}${tail}$`, 's'), names };
}

/// The captures of `path` by name (the first `splat` wins), or null if no match.
export function match(matcher, path) {
  const m = matcher.regex.exec(path);
  if (!m) return null;
  const values = {};
  matcher.names.forEach((name, i) => {
    if (!(name in values)) values[name] = m[i + 1] ?? '';
  });
  return values;
}

/// `text` with `:name` replaced by the captured values, each through `encode`;
/// unknown names stay as they are (a port in `https://host:8443/` is not a name).
export function fill(text, values, encode = (v) => v) {
  return text.replace(/:([A-Za-z_]\w*)/g, (all, name) =>
    name in values ? encode(values[name]) : all,
  );
}

/// The statuses a `_redirects` line may give: redirects, and rewrites that serve
/// another file of the root under the URL asked for (200, or a custom 404 or 410).
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const REWRITES = new Set([200, 404, 410]);

/// The rules of a `_redirects` file, in order: `FROM TO [STATUS]` lines (301 when
/// left out; a trailing `!`, Netlify's "force", is accepted and changes nothing: rules
/// here always win over files), `#` comments and blank lines.
export function parseRedirects(text) {
  const rules = [];
  for (const line of lines(text)) {
    const parts = line.split(/[ \t]+/);
    if (parts.length < 2 || parts.length > 3) continue;
    const [from, to, code = '301'] = parts;
    const status = /^\d{3}!?$/.test(code) ? Number(code.slice(0, 3)) : 0;
    const rewrite = REWRITES.has(status);
    if (!from.startsWith('/') || !(rewrite || REDIRECTS.has(status))) continue;
    if (rewrite && !to.startsWith('/')) continue; // proxying elsewhere: not here
    rules.push({ matcher: compile(from), to, status, rewrite });
  }
  return rules;
}

/// What the first rule matching `path` says: `{ status, rewrite, to }`, where `to`
/// has its placeholders filled in (percent-encoded, so a captured `?` or CR cannot
/// change what the Location says) and, for a redirect, the request's query added
/// unless `to` has one. null when none matches.
export function redirectFor(rules, path, query) {
  for (const rule of rules) {
    const values = match(rule.matcher, path);
    if (!values) continue;
    let to = fill(rule.to, values, encodePath);
    if (!rule.rewrite && query !== null && !to.includes('?')) to += `?${query}`;
    return { status: rule.status, rewrite: rule.rewrite, to };
  }
  return null;
}

// Fields the handler frames or dates itself: a rule setting them would make a response
// the host refuses, or lie about its body.
const OWN = new Set([
  'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade',
  'trailer', 'te', 'date', 'content-range',
]);
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/// The blocks of a `_headers` file: a path pattern on a line of its own (no leading
/// whitespace), then indented `Name: value` lines, or `! Name` to detach a field an
/// earlier matching block set. Blocks of URLs (`https://…`) are skipped, fields too.
export function parseHeaders(text) {
  const blocks = [];
  let block = null;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    if (!/^[ \t]/.test(line)) {
      block = trimmed.startsWith('/') ? { matcher: compile(trimmed), ops: [] } : null;
      if (block) blocks.push(block);
      continue;
    }
    const op = block && headerOp(trimmed);
    if (op) block.ops.push(op);
  }
  return blocks;
}

function headerOp(line) {
  if (line.startsWith('!')) {
    const name = line.slice(1).trim();
    return TOKEN.test(name) ? { detach: name.toLowerCase() } : null;
  }
  const colon = line.indexOf(':');
  const name = line.slice(0, colon).trim();
  const value = line.slice(colon + 1).trim();
  // A value with a control byte would be a head the host refuses: leave it out.
  if (colon <= 0 || !TOKEN.test(name) || OWN.has(name.toLowerCase())) return null;
  return /[\0-\x08\x0a-\x1f\x7f]/.test(value) ? null : { name, value };
}

/// The fields for `path` from every matching block, in the file's order, as
/// `[name, value]` pairs; placeholders in values are filled in.
export function headersFor(blocks, path) {
  let fields = [];
  for (const block of blocks) {
    const values = match(block.matcher, path);
    if (!values) continue;
    for (const op of block.ops) {
      if (op.detach) fields = fields.filter(([n]) => n.toLowerCase() !== op.detach);
      else fields.push([op.name, fill(op.value, values, stripControls)]);
    }
  }
  return fields;
}

// A decoded path may hold controls (`%0d`); a field value must not.
function stripControls(text) {
  return text.replace(/[\0-\x1f\x7f]/g, '');
}

// The meaningful lines of a `_redirects`: trimmed, without comments and blank lines.
function lines(text) {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}
