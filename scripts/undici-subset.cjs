// What the bundle gets for `import ... from 'undici'` (scripts/bundle.ts): the part of undici the
// broker and @smithy/undici-http-handler use, not its index, which loads every dispatcher, fetch,
// WebSocket, the mock agents and the cache stores: 1 MB of source that `serve` read, compiled and
// kept in memory for nothing (docs/performance.md, "Start-up"). The names are undici's own modules,
// so the classes are the ones `require('undici')` exports; test/packaging/bundle.test.ts
// fails when an undici update moves them or when the broker starts using a name missing here.
'use strict';
const Dispatcher = require('undici/lib/dispatcher/dispatcher.js');
// undici's index does this: request(), stream() and the rest are Dispatcher methods only after it
// (the SDK's handler calls dispatcher.request()).
Object.assign(Dispatcher.prototype, require('undici/lib/api/index.js'));

module.exports = {
  Agent: require('undici/lib/dispatcher/agent.js'),
  ProxyAgent: require('undici/lib/dispatcher/proxy-agent.js'),
  Dispatcher,
  getGlobalDispatcher: require('undici/lib/global.js').getGlobalDispatcher,
};
