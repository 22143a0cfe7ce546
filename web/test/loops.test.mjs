// The server loops (web/js/loops.js) under node, over the real core from web/pkg/: each is
// a driver only — which socket it touches, what it waits for, what that costs — so the
// same clients get the same bytes whichever loop serves them, and only the timing, the
// CPU and the calls that came back empty differ. Run `cargo xtask web` first.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { loadEngine } from '../js/engine.js';
import { Simulation } from '../js/shim.js';
import { PRESETS, presetByKey, nextPreset, previousPreset } from '../js/presets.js';
import { LOOP_KEYS, SYSCALL_US } from '../js/loops.js';
import { decode, encode } from '../js/url.js';
import { cpuText } from '../js/views/server.js';

const wasm = readFileSync(fileURLToPath(new URL('../pkg/reverb_wasm_bg.wasm', import.meta.url)));
const { createEngine, defaults } = await loadEngine(wasm);
const text = (bytes) => new TextDecoder().decode(Uint8Array.from(bytes));
/** Far more steps than any preset needs: running out means a livelock. */
const BOUND = 5000;

function run(key, sim = {}) {
  const p = presetByKey(key);
  const s = new Simulation({ createEngine, config: p.config, sim: { ...p.sim, ...sim }, seed: 1, clients: p.clients, app: p.app });
  assert.ok(s.run(BOUND) < BOUND, `${key} settles`);
  return s;
}

const got = (sim) => sim.conns.map((c) => `${text(c.got)} | ${c.released?.reason ?? 'open'}`);

test('the journey comes first, in the tutorials\' order, and Next walks every preset', () => {
  assert.deepEqual(
    PRESETS.slice(0, 7).map((p) => [p.key, p.sim.loop]),
    [
      ['one-line', 'blocking'],
      ['blocking-many', 'blocking'],
      ['busy', 'busy'],
      ['selector', 'selector'],
      ['tasks', 'tasks'],
      ['task-error-exit', 'tasks'],
      ['task-error', 'tasks'],
    ],
  );
  const walked = [PRESETS[0].key];
  for (let p = nextPreset(PRESETS[0].key); p; p = nextPreset(p.key)) walked.push(p.key);
  assert.deepEqual(walked, PRESETS.map((p) => p.key));
  assert.equal(previousPreset(PRESETS[0].key), null);
  assert.equal(previousPreset('busy').key, 'blocking-many');
  for (const p of PRESETS) assert.ok(p.lesson.length > 40 && p.expect.length > 0, `${p.key} has a lesson and checks`);
});

test('the loop changes when bytes move, never which: busy, selector and tasks echo the same', () => {
  for (const p of PRESETS) {
    const selector = got(run(p.key, { loop: 'selector' }));
    assert.deepEqual(got(run(p.key, { loop: 'busy' })), selector, `${p.key}: busy loop`);
    assert.deepEqual(got(run(p.key, { loop: 'tasks' })), selector, `${p.key}: tasks`);
    if (p.clients.length === 1) assert.deepEqual(got(run(p.key, { loop: 'blocking' })), selector, `${p.key}: blocking, one client`);
  }
});

test('busy loop: CPU at 100 % from the start, and every idle socket asked on every pass', () => {
  const sim = run('busy');
  const server = sim.view().server;
  assert.equal(server.cpu, 100);
  assert.equal(cpuText(server.cpu), '100 %');
  assert.ok(sim.ticks.every((t) => t.state.server.cpu === 100), 'the meter never drops');
  // At SYSCALL_US per call, a pass over the listener and two sockets costs 3 µs: about a
  // third of a million passes a second, two reads each that find nothing.
  const ms = sim.now;
  const passes = server.passes;
  assert.ok(passes > (ms * 1000) / (3 * SYSCALL_US) * 0.9 && passes <= (ms * 1000) / (3 * SYSCALL_US), `${passes} passes in ${ms} ms`);
  assert.ok(server.wouldBlock.reads >= 2 * passes * 0.95, `${server.wouldBlock.reads} reads returned would block`);
  assert.equal(server.wouldBlock.accepts, passes, 'accept() asked once per pass');
  // Each socket is asked, whether or not anything is coming for it.
  const [a, b] = sim.view().conns;
  assert.ok(a.wouldBlock > 100_000 && b.wouldBlock > 100_000, `${a.wouldBlock} and ${b.wouldBlock}`);
  assert.equal(a.wouldBlock + b.wouldBlock, server.wouldBlock.reads, 'the per-socket counts add up');
  // The log says so: one tick per span spun, with its figures.
  const spins = sim.ticks.filter((t) => t.kind === 'spin');
  assert.ok(spins.length >= 5 && spins.every((t) => /passes; [\d,]+ reads returned "would block"/.test(t.text)));
});

test('selector: asleep until ready — CPU near 0, no read in vain, only ready sockets touched', () => {
  const sim = run('selector');
  const server = sim.view().server;
  assert.ok(server.cpu < 0.01, `CPU ${server.cpu} %`);
  assert.deepEqual(server.wouldBlock, { reads: 0, writes: 0, accepts: 0 });
  assert.ok(sim.view().conns.every((c) => c.wouldBlock === 0));
  // Every read touched a socket that had something: bytes, an end-of-stream or a reset,
  // in the state just before the read.
  for (let i = 1; i < sim.ticks.length; i++) {
    const t = sim.ticks[i];
    if (t.kind !== 'read' && t.kind !== 'reset') continue;
    const rx = sim.ticks[i - 1].state.conns[t.cid].rx;
    assert.ok(rx.buf.length > 0 || rx.fin || rx.rst, `step ${t.no}: ${t.text} read a ready socket`);
  }
  // It woke only to act: no more wakeups than actions, each a poll() that returned.
  const actions = sim.ticks.filter((t) => ['accept', 'read', 'writable', 'timer', 'reset'].includes(t.kind)).length;
  assert.ok(server.wakeups <= actions, `${server.wakeups} wakeups for ${actions} actions`);
  assert.match(sim.view().server.thread, /asleep in poll\(\)/);
  // The same clients as the busy loop, as promptly: every echo at the same moment.
  const busy = run('busy');
  const reads = (s) => s.ticks.filter((t) => t.kind === 'cread').map((t) => `${t.t} ${t.cid} ${t.n}`);
  assert.deepEqual(reads(sim), reads(busy));
});

test('blocking: B connects and writes, and its bytes sit unread until A leaves', () => {
  const sim = run('blocking-many');
  const [a, b] = sim.conns;
  // While A is served, B is in the backlog: connected, its bytes in its receive buffer.
  const waiting = sim.ticks.filter((t) => t.t >= 200 && t.t < a.released.t).map((t) => t.state);
  assert.ok(waiting.length > 0);
  for (const state of waiting) {
    assert.equal(state.conns[1].accepted, false);
    assert.equal(text(state.conns[1].rx.buf), 'hi\n', 'B\'s line sits in its receive buffer');
    assert.deepEqual(state.server.backlog, [1]);
    assert.match(state.server.thread, /blocked in recv\(\) on client A · 1 waiting in the backlog/);
  }
  assert.equal(b.acceptedAt, a.released.t, 'accept() returns B the moment A is gone');
  assert.equal(text(b.got), 'hi\n');
  assert.ok(sim.view().server.cpu < 0.01, 'asleep in the kernel, not spinning');
});

test('blocking: a client that stops reading holds the server in send(), and the next waits', () => {
  const sim = new Simulation({
    createEngine,
    sim: { loop: 'blocking', read_size: 64, tx_cap: 8 },
    clients: [
      { name: 'client A', script: [{ at: 0, stop_reading: true }, { at: 0, send: 'a long line that fills the send buffer\n' }] },
      { name: 'client B', script: [{ at: 10, send: 'hi\n' }] },
    ],
  });
  sim.run(BOUND);
  assert.match(sim.view().server.thread, /blocked in send\(\) on client A/);
  assert.equal(sim.conns[1].acceptedAt, null, 'B is never accepted while A does not read');
  sim.setReading(0, true);
  sim.run(BOUND);
  assert.equal(text(sim.conns[0].got), 'a long line that fills the send buffer\n');
  assert.equal(text(sim.conns[1].got), '', 'A has not left, so B still waits');
});

test('tasks: a task in write_all reads nothing more; the selector would, and the others go on', () => {
  const readsWhileBlocked = (sim) =>
    sim.ticks.filter((t, i) => t.kind === 'read' && i > 0 && sim.ticks[i - 1].state.conns[t.cid].blocked).length;
  const tasks = run('tasks');
  assert.equal(readsWhileBlocked(tasks), 0);
  assert.ok(readsWhileBlocked(run('tasks', { loop: 'selector' })) > 0, 'the selector reads while output waits');
  const during = tasks.ticks.filter((t) => /awaits writable/.test(t.state.conns[1]?.task ?? ''));
  assert.ok(during.length > 0, 'B\'s task awaited writable');
  // Meanwhile A and C were served: each got an echo while B's task was stuck.
  const stuck = [during[0].t, during.at(-1).t];
  const served = tasks.ticks.filter((t) => t.kind === 'cread' && t.cid !== 1 && t.t >= stuck[0] && t.t <= stuck[1]);
  assert.ok(new Set(served.map((t) => t.cid)).size === 2, 'A and C read echoes while B\'s task waited');
  assert.ok(tasks.view().server.cpu < 0.01);
});

test('an error passed up to main ends the server; handled in its task, it ends one connection', () => {
  const exit = run('task-error-exit');
  assert.equal(exit.down.reason, 'fault injected');
  assert.equal(exit.down.cid, 1);
  const after = exit.ticks.filter((t) => t.t > exit.down.t);
  assert.ok(after.every((t) => !['accept', 'read', 'writable', 'timer'].includes(t.kind)), 'the server does nothing after it exited');
  assert.deepEqual(
    exit.conns.map((c) => c.released?.reason ?? c.refused),
    ['the server exited', 'fault injected', 'the server exited', 'connection refused: nothing listens any more (the server exited)'],
  );
  assert.match(exit.ticks.flatMap((t) => t.notes).find((n) => n.kind === 'error').text, /main awaits it with \? → the process exits/);

  const log = run('task-error');
  assert.equal(log.down, null);
  assert.equal(text(log.conns[3].got), 'hello\n', 'D, connecting after the error, is served');
  assert.deepEqual(log.conns.map((c) => c.released?.reason ?? 'open'), ['open', 'fault injected', 'open', 'open']);
  assert.match(log.ticks.flatMap((t) => t.notes).find((n) => n.kind === 'error').text, /logged; the other tasks and the accept loop go on/);
});

test('every loop takes a client that connects later, and a client added by hand', () => {
  for (const loop of LOOP_KEYS) {
    const sim = new Simulation({ createEngine, sim: { loop, read_size: 64 }, clients: [{ connect_at: 300, script: [{ at: 310, send: 'late\n' }] }] });
    assert.equal(sim.conns.length, 0, `${loop}: nobody yet`);
    sim.run(BOUND);
    assert.equal(text(sim.conns[0].got), 'late\n', loop);
    assert.ok(sim.conns[0].acceptedAt >= 300, loop);
    const cid = sim.addClient({});
    sim.send(cid, 'by hand\n');
    sim.run(BOUND);
    if (loop === 'blocking') {
      // One at a time: the newcomer waits until the first client leaves.
      assert.equal(text(sim.conns[cid].got), '', 'blocking: waits in the backlog');
      assert.deepEqual(sim.view().server.backlog, [cid]);
      sim.send(0, 'quit\n');
      sim.run(BOUND);
    }
    assert.equal(text(sim.conns[cid].got), 'by hand\n', `${loop}: added by hand`);
  }
});

test('the loop and what to do on an error live in the URL; unknown ones are refused', () => {
  const q = encode({ preset: 'split', seed: 1, config: {}, sim: { loop: 'busy', on_error: 'exit' } }, defaults);
  assert.equal(q, '?preset=split&seed=1&loop=busy&on_error=exit');
  assert.deepEqual(decode(q, defaults).sim, { loop: 'busy', on_error: 'exit' });
  assert.equal(encode({ preset: 'busy', seed: 1, sim: { loop: 'busy' } }, defaults), '?preset=busy&seed=1', 'the preset\'s own loop is not written');
  assert.deepEqual(decode('?loop=threads&on_error=ignore', defaults).sim, {}, 'names the page does not know are dropped');
  assert.throws(() => new Simulation({ createEngine, sim: { loop: 'threads' } }), /unknown server loop "threads"/);
  assert.throws(() => new Simulation({ createEngine, sim: { on_error: 'ignore' } }), /neither log nor exit/);
});

test('the CPU meter in words', () => {
  assert.equal(cpuText(null), '—');
  assert.equal(cpuText(100), '100 %');
  assert.equal(cpuText(42.25), '42.3 %');
  assert.equal(cpuText(0.00123), '0.001 %');
});
