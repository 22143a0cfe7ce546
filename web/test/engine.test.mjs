// The wasm bindings themselves (reverb-wasm through engine.js): plain objects in and out,
// the run-loop contract, time as milliseconds. Needs `cargo xtask web` first.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { loadEngine } from '../js/engine.js';

const wasm = readFileSync(fileURLToPath(new URL('../pkg/reverb_wasm_bg.wasm', import.meta.url)));
const { createEngine } = await loadEngine(wasm);
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
  const e = createEngine({ prefix: '> ', record_frames: true });
  const id = e.accept(0);
  assert.equal(e.input(id, 5, { kind: 'received', bytes: bytes('hi\n') }), 3);
  const echoed = e.poll(id);
  const transmit = e.poll(id);
  assert.deepEqual(echoed, { kind: 'event', event: 'echoed', frames: 1, bytes: 3 });
  assert.equal(transmit.kind, 'transmit');
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

test('a partial line is held with its length, and the frame timeout is a deadline in ms', () => {
  const e = createEngine({ frame_timeout: 250 });
  const id = e.accept(1000);
  e.input(id, 1000, { kind: 'received', bytes: bytes('GE') });
  const outs = drain(e, id);
  assert.deepEqual(outs.at(-1), { kind: 'timeout', at: 1250 });
  const snap = e.snapshot(id);
  assert.equal(snap.partial_len, 2);
  assert.equal(snap.deadlines.frame, 1250);
  assert.equal(e.nextDeadline(), 1250);
  e.handleTimeout(1250);
  const ready = e.pollReady();
  assert.equal(ready, id);
  const fired = drain(e, id).filter((o) => o.kind === 'event').map((o) => o.event);
  assert.deepEqual(fired, ['timed_out', 'closing']);
});

test('the fault word releases only its connection, with a reason and no grace', () => {
  const e = createEngine({ fault_word: 'boom' });
  const a = e.accept(0);
  const b = e.accept(0);
  e.input(b, 1, { kind: 'received', bytes: bytes('boom\n') });
  const release = drain(e, b).find((o) => o.kind === 'release');
  assert.deepEqual(
    { ...release, counters: undefined },
    { kind: 'release', reason: 'fault injected', graceful: false, counters: undefined },
  );
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

test('bad inputs and configs are errors with the core\'s words, not crashes', () => {
  const e = createEngine({});
  const id = e.accept(0);
  assert.throws(() => e.input(id, 0, { kind: 'recieved' }), /unknown input kind "recieved"/);
  assert.throws(() => createEngine({ framing: 'lines' }), /unknown framing "lines"/);
  assert.throws(() => createEngine({ max_line: -1 }), /max_line must be a whole number/);
  assert.throws(() => createEngine({ quit_word: 'a\nb' }), /quit word must not contain a line break/);
  assert.throws(() => createEngine({ framing: 'collect', quit_word: null }), /collect framing needs a quit word/);
});
