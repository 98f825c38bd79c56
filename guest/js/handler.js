// The JavaScript handler on SpiderMonkey (componentize-js; guest/build-handlers builds
// it into target/handlers/js.wasm, with no WASI). The request pipeline is
// guest/js/site.js, shared with the QuickJS build (guest/js/handler-quickjs.js); this
// entry only adapts componentize-js's bindings to it: the WIT imports come as named
// ES imports, and every u64 is a BigInt here, a Number in site.js, so it is converted
// at this boundary, both ways.

import { list, maxRead, read, stat } from 'sandserve:server/root@0.5.0';
import { handle } from './site.js';

function metadata(meta) {
  const { modified } = meta;
  return {
    kind: meta.kind,
    size: Number(meta.size),
    modified: modified ? { seconds: Number(modified.seconds), nanoseconds: modified.nanoseconds } : null,
  };
}

const root = {
  maxRead: () => Number(maxRead()),
  stat: (path) => metadata(stat(path)),
  list(path, max) {
    const { entries, truncated } = list(path, max);
    return { entries: entries.map((e) => ({ name: e.name, metadata: metadata(e.metadata) })), truncated };
  },
  read: (path, offset, length) => read(path, BigInt(offset), BigInt(length)),
};

function fileRange({ path, offset, length }) {
  return { path, offset: BigInt(offset), length: BigInt(length) };
}

function body(b) {
  switch (b.tag) {
    case 'file':
      return { tag: 'file', val: fileRange(b.val) };
    case 'chunks':
      return { tag: 'chunks', val: b.val.map((c) => (c.tag === 'file' ? { tag: 'file', val: fileRange(c.val) } : c)) };
    default:
      return b;
  }
}

// `root` is imported and called, so the host makes no looks for it: `seen` is always
// empty, and every answer is a response.
export const handler = {
  handle(req, _seen) {
    const { seconds, nanoseconds } = req.received;
    const res = handle({ ...req, received: { seconds: Number(seconds), nanoseconds } }, root);
    return { tag: 'response', val: { ...res, body: body(res.body) } };
  },
};
