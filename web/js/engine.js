// The only module that touches WebAssembly. It loads reverb-core (compiled by
// `cargo xtask web` into web/pkg/) and hands out engines with a small, plain interface
// that the socket shim drives; everything else in the page works on plain data.

import init, { initSync, Registry, default_config } from '../pkg/reverb_wasm.js';

let loaded = false;

/**
 * Loads the wasm module: from `bytes` when given (node tests read the file themselves),
 * else over HTTP next to the JS glue (the page). `defaults` is the core's default config,
 * `{stream: {...}, echo: {...}, faults: {...}}`: the form and the URL take every field's
 * name from it (fields.js).
 */
export async function loadEngine(bytes) {
  if (!loaded) {
    if (bytes) initSync({ module: bytes });
    else await init();
    loaded = true;
  }
  return { createEngine, defaults: default_config() };
}

/**
 * A reverb-core registry behind the interface the shim uses. Ids are numbers; configs,
 * inputs, outputs and snapshots are the core's own types as plain objects, enums tagged by
 * `kind` (see the conventions in wasm/src/lib.rs). `app` is the application at the top of
 * every connection's stack: `{kind: 'echo'}` (the default) or `{kind: 'http', format}`.
 */
export function createEngine(config, app) {
  const r = new Registry(config, app);
  return {
    accept: (now) => r.accept(now),
    input: (id, now, input) => r.handle_input(id, now, input),
    poll: (id) => r.poll_output(id),
    handleTimeout: (now) => r.handle_timeout(now),
    pollReady: () => r.poll_ready(),
    nextDeadline: () => r.next_deadline() ?? null,
    capacity: (id) => r.receive_capacity(id),
    wantsWrite: (id) => r.wants_write(id),
    /** The fault layer's own deadline (release of delayed output, pacing), or null. */
    faultDeadline: (id) => r.fault_deadline(id) ?? null,
    snapshot: (id) => r.snapshot(id) ?? null,
    counters: () => r.counters(),
    free: () => r.free(),
  };
}
