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
  // With frames recorded, each frame queued comes first, with its kind and its length in
  // the output stream (the prefix included); then the input's summary.
  const queued = e.poll(id);
  const echoed = e.poll(id);
  const transmit = e.poll(id);
  assert.deepEqual(queued, { kind: 'event', event: { kind: 'queued', frame: 'echo', len: 5 } });
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
  assert.deepEqual(snap.deadlines, { shutdown: null, handshake: null, write_stall: null, flush: null, linger: null, frame: 1250, idle: null });
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
  assert.throws(() => createEngine({ faults: { rate: 0 } }), /^Error: rate must be at least 1$/);
  assert.throws(() => createEngine({ faults: { chunk: { min: 3, max: 1 } } }), /chunk range 3\.\.1 is empty/);
  // The UDP-only faults would do nothing to the playground's streams: refused, by name.
  assert.throws(() => createEngine({ faults: { drop: 0.1 } }), /^Error: faults\.drop: UDP only/);
  assert.throws(() => createEngine({ faults: { reorder: 0.5 } }), /^Error: faults\.reorder: UDP only/);
});

// The fault layer: every connection is the echo under it, as the native server stacks it.

/** Drains like a socket that takes every byte: each transmit is answered in full. */
function pump(e, id, now) {
  const outs = [];
  for (let i = 0; i < 100; i++) {
    const o = e.poll(id);
    outs.push(o);
    if (o.kind === 'transmit') e.input(id, now, { kind: 'written', n: o.bytes.length });
    if (o.kind === 'timeout' || o.kind === 'release') return outs;
  }
  throw new Error('no timeout');
}
const sent = (outs) => outs.filter((o) => o.kind === 'transmit').map((o) => text(o.bytes));

test('with no fault on, the fault layer is invisible: one transmit, no fault deadline', () => {
  const e = createEngine({});
  const id = e.accept(0);
  e.input(id, 0, { kind: 'received', bytes: bytes('hello\n') });
  assert.deepEqual(sent(pump(e, id, 0)), ['hello\n']);
  assert.equal(e.faultDeadline(id), null);
});

test('delay: the echo is held in the output queue until the fault deadline, then released', () => {
  const e = createEngine({ faults: { delay: 300 } });
  const id = e.accept(0);
  e.input(id, 10, { kind: 'received', bytes: bytes('one\n') });
  const outs = drain(e, id);
  assert.equal(outs.some((o) => o.kind === 'transmit'), false, 'nothing offered while the delay runs');
  assert.deepEqual(outs.at(-1), { kind: 'timeout', at: 310 });
  assert.equal(e.faultDeadline(id), 310, 'the deadline is the fault layer\'s');
  assert.equal(text(e.snapshot(id).output), 'one\n', 'the echo waits in the output queue');
  assert.ok(Object.values(e.snapshot(id).deadlines).every((at) => at === null), 'no named timer runs');
  e.handleTimeout(310);
  assert.equal(e.pollReady(), id);
  assert.deepEqual(sent(pump(e, id, 310)), ['one\n']);
  assert.equal(e.faultDeadline(id), null);
});

test('chunk: the echo is offered in pieces within the range, each its own transmit', () => {
  const e = createEngine({ faults: { chunk: { min: 1, max: 3 } } });
  const id = e.accept(0);
  e.input(id, 0, { kind: 'received', bytes: bytes('hello, world\n') });
  const pieces = sent(pump(e, id, 0));
  assert.equal(pieces.join(''), 'hello, world\n');
  assert.ok(pieces.length >= 5 && pieces.every((p) => p.length >= 1 && p.length <= 3), JSON.stringify(pieces));
});

test('rate: output goes at the rate, and the fault deadline says when the next bytes may', () => {
  const e = createEngine({ faults: { rate: 100 } });
  const id = e.accept(0);
  e.input(id, 0, { kind: 'received', bytes: bytes('0123456789abcdefghi\n') });
  assert.deepEqual(sent(pump(e, id, 0)), ['01234'], 'a 50 ms burst at 100 B/s');
  const at = e.faultDeadline(id);
  assert.ok(at > 0 && at <= 50, `next bytes within 50 ms, at ${at}`);
  // The whole line goes out by the time the rate allows, and no sooner.
  let out = '01234';
  let now = 0;
  while (out.length < 20) {
    now = e.faultDeadline(id);
    e.handleTimeout(now);
    while (e.pollReady() !== undefined);
    out += sent(pump(e, id, now)).join('');
  }
  assert.equal(out, '0123456789abcdefghi\n');
  assert.ok(now >= 150 && now <= 160, `15 bytes after the burst at 100 B/s: ${now} ms`);
});

test('reset_after: the connection is released with an injected reset after that many bytes', () => {
  const e = createEngine({ faults: { reset_after: 4 } });
  const id = e.accept(0);
  e.input(id, 0, { kind: 'received', bytes: bytes('hello\n') });
  const outs = pump(e, id, 0);
  assert.deepEqual(sent(outs), ['hell']);
  assert.ok(outs.some((o) => o.kind === 'event' && o.event.kind === 'injected' && o.event.fault === 'reset'));
  const release = outs.at(-1);
  assert.equal(release.kind, 'release');
  assert.deepEqual([release.reason.kind, release.reason.fault, release.reason.text, release.reason.graceful], ['injected', 'reset', 'injected reset', false]);
});

test('the same fault seed makes the same choices; connections draw their own', () => {
  const pieces = (seed) => {
    const e = createEngine({ faults: { chunk: { min: 1, max: 4 }, seed } });
    return [0, 1].map(() => {
      const id = e.accept(0);
      e.input(id, 0, { kind: 'received', bytes: bytes('abcdefghijklmnop\n') });
      return sent(pump(e, id, 0)).map((p) => p.length).join(',');
    });
  };
  assert.deepEqual(pieces(7), pieces(7));
  const [a, b] = pieces(7);
  assert.notEqual(a, b, 'two connections under one seed cut differently');
});

test('the application may be the HTTP echo: a request in, its answer out; a bad app is refused by name', () => {
  const e = createEngine({}, { kind: 'http', format: 'json' });
  const id = e.accept(0);
  const request = 'GET /a?b=1 HTTP/1.1\r\nHost: x\r\n\r\n';
  assert.equal(e.input(id, 1, { kind: 'received', bytes: bytes(request) }), request.length);
  const outs = [];
  for (let o = e.poll(id); o.kind !== 'timeout'; o = e.poll(id)) {
    outs.push(o.kind === 'transmit' ? { ...o, bytes: o.bytes.slice() } : o);
    // The snapshot still holds the answer until it is reported written.
    if (o.kind === 'transmit') {
      assert.equal(text(e.snapshot(id).output), text(o.bytes), 'the snapshot shows the answer queued');
      e.input(id, 1, { kind: 'written', n: o.bytes.length });
    }
  }
  assert.deepEqual(outs[0], { kind: 'event', event: { kind: 'echoed', frames: 1, bytes: request.length } });
  const answer = text(outs.find((o) => o.kind === 'transmit').bytes);
  const [head, body] = answer.split('\r\n\r\n');
  assert.match(head, /^HTTP\/1\.1 200 OK\r\nContent-Type: application\/json/);
  const json = JSON.parse(body);
  assert.deepEqual([json.method, json.path, json.query, json.peer], ['GET', '/a', 'b=1', null]);
  assert.throws(() => createEngine({}, { kind: 'gopher' }), /unknown variant `gopher`/);
  assert.throws(() => createEngine({}, { kind: 'http', format: 'xml' }), /xml/);
  assert.equal(createEngine({}, undefined).accept(0) >= 0, true, 'no app is the echo');
});
