// The JavaScript handler on QuickJS (componentize-qjs; guest/build-handlers builds it
// into target/handlers/js-quickjs.wasm, with no WASI). The request pipeline is
// guest/js/site.js, shared with the SpiderMonkey build (guest/js/handler.js); on
// QuickJS the WIT interface is one default import whose functions already take and
// give every u64 as a Number, as site.js wants, so `root` is passed as it is. (What
// QuickJS lacks, TextEncoder and TextDecoder, guest/js/text.js makes up for.)

import root from 'sandserve:server/root@0.5.0';
import { handle } from './site.js';

// `root` is imported and called, so the host makes no looks for it: `seen` is always
// empty, and every answer is a response.
export const handler = {
  handle: (req, _seen) => ({ tag: 'response', val: handle(req, root) }),
};
