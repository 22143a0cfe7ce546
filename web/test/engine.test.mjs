// The wasm bindings themselves (reverb-wasm through engine.js): the core's serde forms as
// plain objects in and out, the run-loop contract, time as milliseconds. Needs
// `cargo xtask web` first.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { loadEngine } from '../js/engine.js';

const wasm = readFileSync(fileURLToPath(new URL('../pkg/reverb_wasm_bg.wasm', import.meta.url)));
const loaded = await loadEngine(wasm);
const { createEngine } = loaded;
const bytes = (s) => new TextEncoder().encode(s);
const text = (b) => new TextDecoder().decode(b);

function drain(e, id) {
  const outs = [];
  for (let i = 0; i < 100; i++) {
    const o = e.poll(id);
    outs.push(o);
    if (o.kind === 'timeout') return outs;
  }
  throw new Error('no timeout');
}

test('a line goes in as bytes and comes out as a transmit; a short write blocks until writable', () => {
  const e = createEngine({ echo: { prefix: '> ', record_frames: true } });
  const id = e.accept(0);
  assert.equal(e.input(id, 5, { kind: 'received', bytes: bytes('hi\n') }), 3);
  const echoed = e.poll(id);
  const transmit = e.poll(id);
  assert.deepEqual(echoed, { kind: 'event', event: { kind: 'echoed', frames: 1, bytes: 3 } });
  assert.equal(transmit.kind, 'transmit');
  assert.ok(transmit.bytes instanceof Uint8Array);
  assert.equal(text(transmit.bytes), '> hi\n');
  e.input(id, 5, { kind: 'written', n: 2 });
  assert.deepEqual(drain(e, id), [{ kind: 'timeout', at: null }], 'short write: nothing offered');
  const snap = e.snapshot(id);
  assert.equal(snap.write_blocked, true);
  assert.equal(text(snap.output), 'hi\n');
  assert.deepEqual(snap.frame_ends, [3]);
  assert.ok(e.wantsWrite(id));
  e.input(id, 6, { kind: 'writable' });
  const again = e.poll(id);
  assert.equal(text(again.bytes), 'hi\n');
  e.input(id, 6, { kind: 'written', n: 3 });
  assert.deepEqual(drain(e, id), [{ kind: 'timeout', at: null }]);
  assert.equal(e.wantsWrite(id), false);
});

test('received bytes may be a Uint8Array, an array of numbers or a string', () => {
  const e = createEngine({});
  const id = e.accept(0);
  assert.equal(e.input(id, 0, { kind: 'received', bytes: [97, 10] }), 2);
  assert.equal(e.input(id, 0, { kind: 'received', bytes: 'b\n' }), 2);
  assert.equal(text(e.snapshot(id).output), 'a\nb\n');
});

test('a partial line is held with its length, and the frame timeout is a deadline in ms', () => {
  const e = createEngine({ echo: { frame_timeout: 250 } });
  const id = e.accept(1000);
  e.input(id, 1000, { kind: 'received', bytes: bytes('GE') });
  const outs = drain(e, id);
  assert.deepEqual(outs.at(-1), { kind: 'timeout', at: 1250 });
  const snap = e.snapshot(id);
  assert.equal(snap.partial_len, 2);
  assert.equal(snap.phase, 'open');
  assert.equal(snap.framing, 'line');
  assert.equal(snap.close_reason, null);
  assert.deepEqual(snap.deadlines, { shutdown: null, write_stall: null, flush: null, linger: null, frame: 1250, idle: null });
  assert.equal(e.nextDeadline(), 1250);
  e.handleTimeout(1250);
  const ready = e.pollReady();
  assert.equal(ready, id);
  const fired = drain(e, id).filter((o) => o.kind === 'event').map((o) => o.event);
  assert.deepEqual(fired, [
    { kind: 'timed_out', timer: 'frame' },
    { kind: 'closing', reason: { kind: 'timed_out', timer: 'frame', text: 'frame timeout', graceful: false } },
  ]);
  assert.deepEqual(e.snapshot(id).close_reason, { kind: 'timed_out', timer: 'frame', text: 'frame timeout', graceful: false });
});

test('the fault word releases only its connection, with a reason and no grace', () => {
  const e = createEngine({ echo: { fault_word: 'boom' } });
  const a = e.accept(0);
  const b = e.accept(0);
  e.input(b, 1, { kind: 'received', bytes: bytes('boom\n') });
  const outs = drain(e, b);
  const error = outs.find((o) => o.kind === 'event' && o.event.kind === 'peer_error');
  assert.deepEqual(error.event.error, { kind: 'fault_injected', text: 'fault injected' });
  const release = outs.find((o) => o.kind === 'release');
  assert.deepEqual(release.reason, {
    kind: 'peer_error',
    error: { kind: 'fault_injected', text: 'fault injected' },
    text: 'fault injected',
    graceful: false,
  });
  // The final counters come with the release: the registry forgets the connection now.
  assert.equal(release.counters.bytes_in, 5);
  assert.equal(release.counters.bytes_out, 0);
  assert.equal(release.counters.frames, 0);
  assert.equal(e.snapshot(b), null, 'a released id has no snapshot');
  assert.throws(() => e.input(b, 2, { kind: 'tick' }), /no such connection/);
  assert.equal(e.input(a, 2, { kind: 'received', bytes: bytes('ok\n') }), 3);
  assert.equal(e.counters().faults, 1);
  assert.equal(e.counters().active, 1);
});

test('the default config is one object per section, with durations in ms and null for off', () => {
  const { defaults } = loaded;
  assert.deepEqual(Object.keys(defaults), ['stream', 'echo', 'faults']);
  assert.equal(defaults.echo.framing, 'line');
  assert.equal(defaults.echo.quit_word, 'quit');
  assert.equal(defaults.echo.fault_word, null);
  assert.equal(defaults.stream.linger, 2000);
  assert.equal(defaults.stream.idle_timeout, null);
  // What default_config() gives is a config the core takes back unchanged.
  const e = createEngine(structuredClone(defaults));
  assert.equal(e.accept(0), 0);
});

test('bad inputs and configs are errors with the core\'s words, naming the field', () => {
  const e = createEngine({});
  const id = e.accept(0);
  assert.throws(() => e.input(id, 0, { kind: 'recieved' }), /unknown variant `recieved`/);
  assert.throws(() => createEngine({ framing: 'raw' }), /^Error: framing: unknown field `framing`, expected one of `stream`, `echo`, `faults`$/);
  assert.throws(() => createEngine({ echo: { constructor: 1 } }), /echo\.constructor: unknown field/);
  assert.throws(() => createEngine({ echo: { framming: 'raw' } }), /^Error: echo\.framming: unknown field `framming`, expected one of `framing`, `prefix`/);
  assert.throws(() => createEngine({ echo: { framing: 'lines' } }), /echo\.framing: unknown variant `lines`/);
  assert.throws(() => createEngine({ echo: { max_line: -1 } }), /echo\.max_line: invalid type/);
  assert.throws(() => createEngine({ echo: { quit_word: 'a\nb' } }), /quit word must not contain a line break/);
  assert.throws(() => createEngine({ echo: { framing: 'collect', quit_word: null } }), /collect framing needs a quit word/);
  assert.throws(() => createEngine({ stream: { flush_timeout: null } }), /stream\.flush_timeout: invalid type/);
  assert.throws(() => createEngine({ faults: { delay: 10 } }), /no fault layer/);
});
