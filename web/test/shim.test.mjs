// The socket shim under node, no browser: it drives the real reverb-core, loaded from
// web/pkg/ (run `cargo xtask web` first), on a virtual clock with a seeded RNG.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { loadEngine } from '../js/engine.js';
import { Simulation, printable, toBytes } from '../js/shim.js';
import { PRESETS, presetByKey } from '../js/presets.js';
import { mulberry32 } from '../js/rng.js';
import { decode, encode } from '../js/url.js';
import { renderTimeline } from '../js/views/timeline.js';
import { configFields, formatValue, parseValue } from '../js/fields.js';

const wasm = readFileSync(fileURLToPath(new URL('../pkg/reverb_wasm_bg.wasm', import.meta.url)));
const { createEngine, defaults } = await loadEngine(wasm);
const text = (bytes) => new TextDecoder().decode(Uint8Array.from(bytes));
/** Far more steps than any preset needs: running out means a livelock. */
const BOUND = 5000;

function simOf(preset, seed = 1) {
  const p = presetByKey(preset);
  return new Simulation({ createEngine, config: p.config, sim: p.sim, seed, clients: p.clients, app: p.app });
}

function runToEnd(sim) {
  const steps = sim.run(BOUND);
  assert.ok(steps < BOUND, 'the simulation settles within the bound');
  assert.ok(sim.idle());
  return sim;
}

test('the engine reports the core defaults and refuses unknown config fields', () => {
  assert.equal(defaults.echo.framing, 'line');
  assert.equal(defaults.echo.quit_word, 'quit');
  assert.equal(defaults.echo.fault_word, null);
  assert.throws(() => createEngine({ echo: { framming: 'raw' } }), /unknown field `framming`/);
  assert.throws(() => createEngine({ echo: { high_watermark: 8, low_watermark: 8 } }), /low watermark/);
});

for (const preset of PRESETS) {
  test(`preset "${preset.key}" shows what it teaches`, () => {
    const sim = runToEnd(simOf(preset.key));
    for (const e of preset.expect) {
      const c = sim.conns[e.client];
      assert.equal(text(c.got), e.got, `${c.name} read its echo`);
      if (e.reads !== undefined) assert.equal(c.snapshot.counters.reads, e.reads, `${c.name}: reads`);
      if (e.eof) assert.ok(c.clientEof, `${c.name} saw end-of-stream`);
      if (e.reset) assert.ok(c.clientReset, `${c.name} saw a reset`);
      if (e.reason) assert.equal(c.released?.reason, e.reason);
      if (e.paused) {
        const paused = sim.ticks.some((t) => t.state.conns[e.client]?.core?.reading_paused);
        assert.ok(paused, `${c.name} was paused by backpressure`);
      }
      if (e.held) {
        const held = sim.ticks.some((t) => t.state.conns[e.client]?.fault && t.state.conns[e.client].core?.output.length > 0);
        assert.ok(held, `${c.name}: the fault layer held output in the queue while its deadline ran`);
      }
      if (e.late !== undefined) {
        const lag = lags(sim, e.client);
        assert.ok(Math.min(...lag) >= e.late, `${c.name}: every byte came back at least ${e.late} ms late (${Math.min(...lag)})`);
      }
      if (e.pieces !== undefined) {
        assert.ok(clientReads(sim, e.client).length >= e.pieces, `${c.name} read its echo in at least ${e.pieces} pieces`);
      }
      if (e.refused) assert.ok(c.refused, `${c.name} was refused`);
      if (e.acceptedAfter !== undefined) {
        const first = sim.conns[e.acceptedAfter];
        assert.ok(first.released && c.acceptedAt >= first.released.t, `${c.name} accepted only after ${first.name} left`);
      }
      if (e.waited !== undefined) {
        const arrived = sim.ticks.find((t) => t.kind === 'arrive' && t.dir === 'rx' && t.cid === e.client && t.n > 0).t;
        const read = sim.ticks.find((t) => t.kind === 'read' && t.cid === e.client).t;
        assert.ok(read - arrived >= e.waited, `${c.name}'s bytes sat unread ${read - arrived} ms`);
      }
      if (e.awaited === 'write') {
        assert.ok(sim.ticks.some((t) => /awaits writable/.test(t.state.conns[e.client]?.task ?? '')), `${c.name}'s task awaited writable`);
      }
      // Faults hold, pace and cut the echo; they never change it: what the client read is
      // what the server sent, in order.
      assert.deepEqual(c.got, c.sent.slice(0, c.got.length), `${c.name}: bytes intact and in order`);
    }
    if (preset.server) checkServer(sim, preset.server);
  });
}

/** A preset's `server` expectations, against the recorded server state of every tick. */
function checkServer(sim, want) {
  const last = sim.view().server;
  const running = sim.ticks.filter((t) => t.t > 0).map((t) => t.state.server);
  if (want.cpuAtLeast !== undefined) {
    assert.ok(running.every((s) => s.cpu >= want.cpuAtLeast), `CPU at least ${want.cpuAtLeast} % all along`);
  }
  if (want.cpuAtMost !== undefined) {
    const most = Math.max(...running.map((s) => s.cpu));
    assert.ok(most <= want.cpuAtMost, `CPU at most ${want.cpuAtMost} % all along (${most})`);
  }
  if (want.wouldBlockAtLeast !== undefined) {
    assert.ok(last.wouldBlock.reads >= want.wouldBlockAtLeast, `${last.wouldBlock.reads} reads returned would block`);
  }
  if (want.wouldBlock !== undefined) assert.equal(last.wouldBlock.reads, want.wouldBlock, 'reads that returned would block');
  if (want.down !== undefined) assert.equal(Boolean(last.down), want.down, 'the server process exited');
  if (want.errors !== undefined) {
    const errors = sim.ticks.flatMap((t) => t.notes).filter((n) => n.kind === 'error');
    assert.equal(errors.length, want.errors, 'connections that ended in an error');
  }
}

/** The client's reads of its echo, in order, from the log: [{t, bytes}]. */
function clientReads(sim, cid) {
  return sim.ticks.filter((t) => t.kind === 'cread' && t.cid === cid).map((t) => t.state.conns[cid].creads.at(-1));
}

/** For each byte a client read back, how long after it wrote the byte it came (ms). */
function lags(sim, cid) {
  const wroteAt = sim.ticks.filter((t) => t.kind === 'cwrite' && t.cid === cid).flatMap((t) => Array(t.n).fill(t.t));
  const readAt = clientReads(sim, cid).flatMap((r) => Array(r.n).fill(r.t));
  return readAt.map((t, i) => t - wroteAt[i]);
}

test('delay: each echo is held in the output queue until the fault deadline, then released in order', () => {
  const sim = runToEnd(simOf('delay'));
  const during = sim.ticks.map((t) => t.state.conns[0]).filter((c) => c.fault);
  assert.ok(during.length > 0, 'the fault deadline showed');
  for (const c of during) {
    assert.equal(c.fault.hold, 'delay');
    assert.ok(Object.values(c.core.deadlines).every((at) => at === null), 'the deadline is none of the named timers');
  }
  // The release ticks say what fired, and nothing went out before its 300 ms.
  const releases = sim.ticks.filter((t) => t.kind === 'timer' && t.fault);
  assert.ok(releases.length >= 3 && releases.every((t) => /delay is over/.test(t.text)), 'a release per line');
  assert.ok(Math.min(...lags(sim, 0)) >= 300);
  assert.deepEqual(clientReads(sim, 0).map((r) => text(r.bytes)), ['one\n', 'two\n', 'three\n']);
  assert.equal(sim.conns[0].released, null, 'a delay closes nothing');
});

test('rate: the queue drains at the rate, and reading pauses at the high watermark, then resumes', () => {
  const sim = runToEnd(simOf('rate'));
  const writes = sim.ticks.flatMap((t) => t.notes.map((n) => ({ ...n, t: t.t }))).filter((n) => n.kind === 'write' && n.n > 0);
  // At 100 B/s with a 50 ms burst: by time t at most 5 + t/10 bytes were written.
  let total = 0;
  for (const w of writes) {
    total += w.n;
    assert.ok(total <= 5 + w.t / 10, `${total} B written by ${w.t} ms`);
  }
  const last = writes.at(-1).t;
  assert.ok(last >= (64 - 5) * 10 && last <= (64 - 5) * 10 + 60, `64 B take about 590 ms at 100 B/s: last write at ${last} ms`);
  const notes = sim.ticks.flatMap((t) => t.notes);
  assert.ok(notes.some((n) => n.event === 'read_paused') && notes.some((n) => n.event === 'read_resumed'));
  assert.ok(sim.ticks.some((t) => t.state.conns[0].fault?.hold === 'pacing'), 'the pacing deadline showed');
  // The client never stopped reading: the link, not the reader, was slow.
  assert.ok(sim.ticks.every((t) => t.state.conns[0].reading));
});

test('chunk: every write of the echo is 1 to 3 bytes, and the client reads its reply in pieces', () => {
  const sim = runToEnd(simOf('chunk'));
  const writes = sim.ticks.flatMap((t) => t.notes).filter((n) => n.kind === 'write' && n.n > 0);
  assert.ok(writes.length >= 7, `${writes.length} writes`);
  assert.ok(writes.every((w) => w.n >= 1 && w.n <= 3));
  const pieces = clientReads(sim, 0).map((r) => text(r.bytes));
  assert.equal(pieces.join(''), 'hello, world\nagain\n');
  assert.ok(pieces.length >= 4 && pieces.filter((p) => p.includes('\n')).length === 2, JSON.stringify(pieces));
});

test('reset after N bytes: the client reads those bytes, then the reset; the other client carries on', () => {
  const sim = runToEnd(simOf('reset-after'));
  const [a, b] = sim.conns;
  assert.equal(text(b.got), 'line 01\nline 02\nline');
  assert.equal(b.sent.length, 20, 'the server sent exactly 20 bytes');
  assert.ok(b.clientReset && !b.clientEof, 'B saw a reset, not an end-of-stream');
  assert.deepEqual(b.released, { reason: 'injected reset', graceful: false, t: b.released.t });
  const notes = sim.ticks.flatMap((t) => t.notes).filter((n) => n.cid === 1);
  assert.ok(notes.some((n) => n.event === 'injected' && /reset after its byte limit/.test(n.text)));
  // The reset reached B after the bytes: its reads, in order, end with the RST.
  const reads = sim.ticks.filter((t) => t.cid === 1 && (t.kind === 'cread' || t.kind === 'creset')).map((t) => t.kind);
  assert.equal(reads.at(-1), 'creset');
  assert.ok(reads.includes('cread'));
  assert.equal(a.released, null);
  assert.equal(text(a.got), 'hi\nstill here\n');
  assert.equal(sim.engine.counters().active, 1);
});

test('fault configs from the form and the URL: a chunk range, a fraction, the UDP faults hidden', () => {
  const fields = configFields(defaults);
  const chunk = fields.find((f) => f.path === 'faults.chunk');
  assert.deepEqual(parseValue(chunk, '1..3'), { min: 1, max: 3 });
  assert.deepEqual(parseValue(chunk, ' 4 '), { min: 4, max: 4 });
  assert.equal(parseValue(chunk, ''), null);
  assert.equal(parseValue(chunk, '3-1'), '3-1', 'what does not parse goes to the core as it is');
  assert.equal(formatValue(chunk, { min: 1, max: 3 }), '1..3');
  const chance = fields.find((f) => f.path === 'faults.fault_chance');
  assert.equal(parseValue(chance, '1%'), 0.01);
  assert.equal(parseValue(chance, '0.25'), 0.25);
  const scenario = { preset: 'one-line', seed: 1, config: { faults: { chunk: { min: 2, max: 5 }, delay: 40, jitter: 10, seed: 3 } }, sim: {} };
  const q = encode(scenario, defaults);
  assert.equal(q, '?preset=one-line&seed=1&delay=40&faults.jitter=10&chunk=2..5&faults.seed=3');
  assert.deepEqual(decode(q, defaults).config, scenario.config);
  // A preset's own fault is not written again; turning it off is.
  assert.equal(encode({ preset: 'chunk', seed: 1, config: { faults: { chunk: { min: 1, max: 3 } } } }, defaults), '?preset=chunk&seed=1');
  assert.equal(encode({ preset: 'chunk', seed: 1, config: { faults: { chunk: null } } }, defaults), '?preset=chunk&seed=1&chunk=off');
  // What the page decodes, the core takes.
  const sim = new Simulation({ createEngine, config: decode('?chunk=1..2&delay=10', defaults).config, clients: [{}] });
  sim.send(0, 'abc\n');
  runToEnd(sim);
  assert.equal(text(sim.conns[0].got), 'abc\n');
});

test('a frame split across reads sits in the core as a partial line until its newline', () => {
  const sim = simOf('split');
  const partials = [];
  sim.run(BOUND, () => {
    const core = sim.conns[0].snapshot;
    if (core) partials.push(text(core.input.slice(core.input.length - core.partial_len)));
    return false;
  });
  assert.deepEqual(
    sim.ticks.filter((t) => t.kind === 'read').map((t) => t.state.conns[0].reads.at(-1)).map((r) => [text(r.bytes), r.n, r.of]),
    [['he', 2, 2], ['ll', 2, 2], ['o\n', 2, 2]],
    'each read is labelled n of the read size',
  );
  assert.ok(partials.includes('he') && partials.includes('hell'), `partials seen: ${partials}`);
  assert.deepEqual(sim.conns[0].frames.map((f) => text(f.bytes)), ['> hello\n']);
});

test('three frames in one read are echoed as three frames', () => {
  const sim = runToEnd(simOf('three-in-one'));
  const echoed = sim.ticks.flatMap((t) => t.notes).find((n) => n.event === 'echoed');
  assert.match(echoed.text, /echoed 3 frames/);
  assert.deepEqual(sim.conns[0].frames.map((f) => text(f.bytes)), ['[one]\n', '[two]\n', '[three]\n']);
});

test('backpressure: a full send buffer makes writes short, the core pauses reading, then resumes', () => {
  const sim = simOf('backpressure');
  runToEnd(sim);
  const notes = sim.ticks.flatMap((t) => t.notes.map((n) => ({ ...n, t: t.t }))).filter((n) => n.cid === 1);
  const short = notes.find((n) => n.kind === 'write' && /short/.test(n.text));
  const paused = notes.find((n) => n.event === 'read_paused');
  const resumed = notes.find((n) => n.event === 'read_resumed');
  assert.ok(short && paused && resumed, 'short write, pause and resume all happen');
  assert.ok(paused.t < 1500 && resumed.t >= 1500, 'paused while B does not read, resumed once it does');
  // While paused, the interest badge says so: not READABLE, WRITABLE (output waits).
  const during = sim.ticks.find((t) => t.state.conns[1]?.core?.reading_paused).state.conns[1];
  assert.deepEqual(during.interest, { readable: false, writable: true });
  // Client A was never paused.
  assert.ok(sim.ticks.every((t) => !t.state.conns[0].core?.reading_paused));
  // Nothing exceeded its capacity.
  for (const t of sim.ticks) {
    for (const c of t.state.conns) {
      assert.ok(c.rx.buf.length + c.rx.inflight <= c.rx.cap);
      assert.ok(c.tx.buf.length + c.tx.inflight <= c.tx.cap);
    }
  }
});

test('the same seed replays the same run; another seed changes the timing, not the bytes', () => {
  const log = (sim) => sim.ticks.map((t) => `${t.t} ${t.cid} ${t.text}`).join('\n');
  const a = runToEnd(simOf('fault', 7));
  const b = runToEnd(simOf('fault', 7));
  assert.equal(log(a), log(b));
  const c = runToEnd(simOf('fault', 8));
  assert.notEqual(log(a), log(c));
  assert.deepEqual(c.conns.map((x) => text(x.got)), a.conns.map((x) => text(x.got)));
});

test('a line typed into a client comes back, and the quit word closes only that client', () => {
  const sim = new Simulation({ createEngine, config: {}, sim: { read_size: 2 }, clients: [{}, {}] });
  sim.send(0, 'typed by hand\n');
  sim.send(1, 'quit\n');
  runToEnd(sim);
  assert.equal(text(sim.conns[0].got), 'typed by hand\n');
  assert.equal(sim.conns[0].released, null);
  assert.equal(sim.conns[1].released.reason, 'quit word');
  assert.ok(sim.conns[1].clientEof);
});

test('an aborted client becomes a reset in the core, and the others carry on', () => {
  const sim = new Simulation({ createEngine, config: {}, clients: [{}, {}] });
  sim.send(0, 'abc');
  sim.abort(0);
  sim.send(1, 'ok\n');
  runToEnd(sim);
  assert.equal(sim.conns[0].released.reason, 'reset');
  assert.equal(sim.engine.counters().resets, 1);
  assert.equal(text(sim.conns[1].got), 'ok\n');
});

test('the connection limit refuses a client without disturbing the first', () => {
  const sim = new Simulation({ createEngine, config: { stream: { max_connections: 1 } }, clients: [{}, {}] });
  assert.equal(sim.conns[1].refused, null, 'connected in the kernel; the server has not accepted it yet');
  sim.run(BOUND, () => sim.conns[1].refused !== null);
  assert.match(sim.conns[1].refused, /connection limit/);
  sim.send(0, 'x\n');
  runToEnd(sim);
  assert.equal(text(sim.conns[0].got), 'x\n');
});

test('raw framing echoes each read as one chunk, prefix and all', () => {
  const sim = new Simulation({ createEngine, config: { echo: { framing: 'raw', prefix: '<', suffix: '>' } }, sim: { read_size: 3 }, clients: [{}] });
  sim.send(0, 'abcdefg');
  runToEnd(sim);
  assert.equal(text(sim.conns[0].got), '<abc><def><g>');
});

test('helpers: printable bytes, the seeded RNG, the URL', () => {
  assert.equal(printable(toBytes('a\r\n\x01')), '"a\\r\\n\\x01"');
  const r1 = mulberry32(42);
  const r2 = mulberry32(42);
  const xs = Array.from({ length: 5 }, r1);
  assert.deepEqual(xs, Array.from({ length: 5 }, r2));
  assert.ok(xs.every((x) => x >= 0 && x < 1));
});

test('the URL names config fields as the core does, and old shared URLs still decode', () => {
  const scenario = {
    preset: 'split',
    seed: 9,
    config: { echo: { prefix: '> ', frame_timeout: 500, fault_word: null }, stream: { linger: null } },
    sim: { read_size: 3 },
  };
  const q = encode(scenario, defaults);
  assert.equal(q, '?preset=split&seed=9&fault_word=off&frame_timeout=500&linger=off&read_size=3');
  assert.deepEqual(decode(q, defaults), {
    preset: 'split',
    seed: 9,
    config: { echo: { fault_word: null, frame_timeout: 500 }, stream: { linger: null } },
    sim: { read_size: 3 },
  });
  assert.equal(decode('?preset=nope', defaults).preset, PRESETS[0].key);
  // A URL shared before the config had sections: flat names land in their section.
  assert.deepEqual(decode('?preset=backpressure&max_line=64&idle_timeout=off&quit_word=&prefix=%3E%3E', defaults), {
    preset: 'backpressure',
    seed: 1,
    config: { echo: { max_line: 64, quit_word: null, prefix: '>>' }, stream: { idle_timeout: null } },
    sim: {},
  });
  // The qualified name is read too, and a field the page does not offer is not.
  assert.deepEqual(decode('?echo.max_line=9&faults.delay=5&record_frames=false&drop=0.5', defaults).config, {
    echo: { max_line: 9 },
    faults: { delay: 5 },
  });
});

test('the form and the URL offer every config field the playground uses, from the core defaults', () => {
  const fields = configFields(defaults);
  const paths = fields.map((f) => f.path);
  for (const path of ['echo.framing', 'echo.prefix', 'echo.quit_word', 'echo.max_line', 'echo.frame_timeout', 'stream.idle_timeout', 'stream.linger']) {
    assert.ok(paths.includes(path), path);
  }
  for (const path of ['faults.delay', 'faults.jitter', 'faults.rate', 'faults.chunk', 'faults.reset_after', 'faults.close_after', 'faults.fault_chance', 'faults.seed']) {
    assert.ok(paths.includes(path), path);
  }
  for (const path of ['faults.drop', 'faults.duplicate', 'faults.reorder']) assert.ok(!paths.includes(path), `${path} is UDP only`);
  const byPath = (p) => fields.find((f) => f.path === p);
  assert.equal(byPath('echo.max_line').label, 'Max line (B)');
  assert.deepEqual([byPath('faults.chunk').type, byPath('faults.chunk').off, byPath('faults.chunk').param], ['range', true, 'chunk']);
  assert.deepEqual([byPath('faults.delay').type, byPath('faults.delay').label], ['number', 'Delay (ms)']);
  // Names the shim's own parameters use are qualified in the URL.
  assert.equal(byPath('faults.jitter').param, 'faults.jitter');
  assert.equal(byPath('faults.seed').param, 'faults.seed');
  // A field the page knows nothing about still shows up, in its section, with a label.
  const more = configFields({ ...defaults, stream: { ...defaults.stream, keepalive: null }, proxy: { max_header: 107 } });
  const keepalive = more.find((f) => f.path === 'stream.keepalive');
  assert.deepEqual([keepalive.label, keepalive.off, keepalive.param], ['Keepalive', true, 'keepalive']);
  const header = more.find((f) => f.path === 'proxy.max_header');
  assert.deepEqual([header.label, header.type, header.param], ['Max header', 'number', 'max_header']);
  assert.deepEqual(decode('?max_header=200&keepalive=30', { ...defaults, proxy: { max_header: 107 }, stream: { ...defaults.stream, keepalive: null } }).config, {
    stream: { keepalive: 30 },
    proxy: { max_header: 200 },
  });
});

test('random scenarios never break the run-loop contract or a capacity (seeded)', () => {
  const rand = mulberry32(2024);
  const pick = (xs) => xs[Math.floor(rand() * xs.length)];
  const words = ['hello\n', 'a', 'b\n', 'quit\n', 'crash\n', 'x'.repeat(40), '\n', 'end\r\n'];
  for (let round = 0; round < 40; round++) {
    const config = {
      echo: {
        framing: pick(['line', 'raw', 'collect']),
        prefix: pick(['', '> ']),
        fault_word: 'crash',
        max_line: pick([16, 64, 1000]),
        high_watermark: pick([8, 24, 100]),
        low_watermark: 4,
        frame_timeout: pick([null, 300]),
      },
      stream: {
        idle_timeout: pick([null, 900]),
        write_stall_timeout: pick([null, 700]),
      },
      faults: {
        delay: pick([null, null, 150]),
        rate: pick([null, null, 200]),
        chunk: pick([null, null, { min: 1, max: 3 }]),
        reset_after: pick([null, null, null, 30]),
        seed: round,
      },
    };
    const sim = new Simulation({
      createEngine,
      config,
      seed: round,
      sim: { read_size: pick([1, 2, 5, 64]), rx_cap: pick([4, 16, 64]), tx_cap: pick([4, 16, 64]), client_read_size: pick([1, 8]) },
      clients: [{}, {}, {}],
    });
    for (let k = 0; k < 300; k++) {
      const cid = Math.floor(rand() * sim.conns.length);
      const r = rand();
      if (r < 0.1) sim.send(cid, pick(words));
      else if (r < 0.12) sim.setReading(cid, rand() < 0.5);
      else if (r < 0.13) sim.halfClose(cid);
      else if (r < 0.135) sim.abort(cid);
      else if (r < 0.14) sim.addClient({});
      else sim.step();
    }
    for (const c of sim.conns) sim.setReading(c.cid, true);
    sim.run(BOUND);
    const label = `round ${round}: ${JSON.stringify(config)}`;
    assert.ok(sim.idle(), `${label} settles`);
    for (const t of sim.ticks) {
      for (const c of t.state.conns) {
        assert.ok(c.rx.buf.length + c.rx.inflight <= c.rx.cap, label);
        assert.ok(c.tx.buf.length + c.tx.inflight <= c.tx.cap, label);
        if (c.core) assert.ok(c.core.output.length <= c.core.output_bound, label);
      }
    }
    // What a client read is always a prefix of what the core sent it: nothing is lost or
    // reordered between the core and the client.
    for (const c of sim.conns) {
      assert.deepEqual(c.got, c.sent.slice(0, c.got.length), `${label}: ${c.name} read a prefix of what was sent`);
      if (c.snapshot) assert.equal(c.sent.length, c.snapshot.counters.bytes_out, `${label}: bytes_out counts every write`);
      if (c.clientEof) assert.deepEqual(c.got, c.sent, `${label}: after a clean end-of-stream, everything arrived`);
    }
  }
});

test('a zero-byte read size or buffer is refused instead of stalling the loop', () => {
  for (const key of ['read_size', 'rx_cap', 'tx_cap', 'client_read_size']) {
    assert.throws(() => new Simulation({ createEngine, sim: { [key]: 0 } }), /must be at least 1/);
  }
});

test('each client can have its own latency and buffers', () => {
  const sim = new Simulation({
    createEngine,
    sim: { read_size: 64, jitter: 0 },
    clients: [{ latency: 5 }, { latency: 200, tx_cap: 3, client_read_size: 1 }],
  });
  sim.send(0, 'a\n');
  sim.send(1, 'b\n');
  runToEnd(sim);
  const gotAt = (cid) => sim.ticks.filter((t) => t.kind === 'cread' && t.cid === cid).map((t) => t.t);
  assert.deepEqual(gotAt(0), [10], 'there and back at 5 ms each way');
  assert.deepEqual(gotAt(1), [400, 400], 'one byte per read, 200 ms each way');
  assert.equal(sim.conns[1].tx.cap, 3);
});

/** A connection's frames as its view shows them: [kind, text]. */
const framesOf = (c) => c.frames.map((f) => [f.kind, f.dropped ? `dropped ${f.len} B` : text(f.bytes)]);
/** Every note of the log, with its tick's time. */
const notesOf = (sim) => sim.ticks.flatMap((t) => t.notes.map((n) => ({ ...n, t: t.t })));

test('a read that ends in an over-long line shows its echoes and the error line as frames, the error line of kind error', () => {
  const sim = new Simulation({ createEngine, config: { echo: { max_line: 4 } }, sim: { read_size: 64 }, clients: [{}] });
  sim.send(0, 'ok\nyes\ntoo long\n');
  runToEnd(sim);
  const error = 'error: line exceeds 4 bytes\n';
  assert.deepEqual(framesOf(sim.conns[0]), [['echo', 'ok\n'], ['echo', 'yes\n'], ['error', error]]);
  assert.equal(text(sim.conns[0].got), `ok\nyes\n${error}`);
  // The core's own event says so, in the log of the read that queued it; the recorded
  // state of that tick already holds the frame, so any view of it shows it.
  const read = sim.ticks.find((t) => t.notes.some((n) => n.event === 'queued' && /error line/.test(n.text)));
  assert.ok(read, 'an event for the error line');
  assert.equal(read.kind, 'read');
  assert.match(read.notes.find((n) => n.event === 'queued' && /error/.test(n.text)).text, new RegExp(`queued an error line: ${error.length} B`));
  assert.deepEqual(read.state.conns[0].frames.at(-1), { t: read.t, kind: 'error', len: error.length, bytes: toBytes(error) });
});

test('frames queued by end-of-stream (the flushed partial line) show up as frames of kind partial', () => {
  const sim = runToEnd(simOf('half-close'));
  assert.deepEqual(framesOf(sim.conns[0]), [['echo', 'hello\n'], ['partial', 'bye']]);
  const eof = sim.ticks.find((t) => t.kind === 'read' && t.n === 0);
  assert.ok(eof.notes.some((n) => n.event === 'queued' && /partial line/.test(n.text)), 'queued by the end-of-stream read');
});

test('collect: the collection is one frame of kind collected, at the quit word', () => {
  const sim = new Simulation({ createEngine, config: { echo: { framing: 'collect', prefix: '> ' } }, sim: { read_size: 64 }, clients: [{}] });
  sim.send(0, 'a\nb\nquit\n');
  runToEnd(sim);
  assert.deepEqual(framesOf(sim.conns[0]), [['collected', '> a\n> b\n> quit\n']]);
});

test('frames queued in the read that failed at the fault word are shown dropped, never their bytes', () => {
  const sim = new Simulation({ createEngine, config: { echo: { fault_word: 'crash' } }, sim: { read_size: 64 }, clients: [{}] });
  sim.send(0, 'one\ncrash\n');
  runToEnd(sim);
  assert.deepEqual(framesOf(sim.conns[0]), [['echo', 'dropped 4 B']]);
  assert.equal(text(sim.conns[0].got), '');
  assert.ok(sim.conns[0].clientReset, 'the failure resets the connection');
});

test('delay: the fault layer\'s own events say what it holds and releases, and the timeline draws the held band from them', () => {
  const sim = runToEnd(simOf('delay'));
  const events = notesOf(sim).filter((n) => n.event === 'held' || n.event === 'released');
  const held = events.filter((n) => n.event === 'held');
  // Each echo held 300 ms from when the core queued it, then released at that time.
  assert.deepEqual(
    held.map((n) => n.text),
    held.map((n, i) => `fault layer holds ${[4, 4, 6][i]} B until ${n.t + 300} ms`),
  );
  assert.deepEqual(
    events.filter((n) => n.event === 'released').map((n) => [n.t, n.text]),
    [
      [held[0].t + 300, 'fault layer: delay over, 4 B released (10 B still held)'],
      [held[1].t + 300, 'fault layer: delay over, 4 B released (6 B still held)'],
      [held[2].t + 300, 'fault layer: delay over, 6 B released'],
    ],
  );
  // Each release is the tick of the timer that fired it.
  for (const n of events.filter((e) => e.event === 'released')) {
    const tick = sim.ticks.find((t) => t.t === n.t && t.kind === 'timer' && t.notes.some((m) => m.text === n.text));
    assert.ok(tick?.fault && /delay is over/.test(tick.text), `the release at ${n.t} ms is a fault-layer timer tick`);
  }
  // One band: from the first byte held to the release that leaves none.
  const el = {};
  renderTimeline(el, sim.ticks, sim.conns.map((c) => c.name), sim.ticks.length - 1);
  const bands = [...el.innerHTML.matchAll(/<g data-held="0"><title>([^<]*)<\/title>/g)].map((m) => m[1]);
  const first = events.find((n) => n.event === 'held').t;
  const last = events.findLast((n) => n.event === 'released').t;
  assert.deepEqual(bands, [`fault layer (delay): output held ${first}–${last} ms`]);
});

test('HTTP: two pipelined requests cut at any read size are answered whole, in order', () => {
  const p = presetByKey('http-pipelined');
  const want = p.expect[0].got;
  for (let readSize = 1; readSize <= 40; readSize++) {
    const sim = new Simulation({ createEngine, config: p.config, sim: { ...p.sim, read_size: readSize }, app: p.app, clients: p.clients });
    runToEnd(sim);
    assert.equal(text(sim.conns[0].got), want, `read size ${readSize}`);
  }
  const notes = runToEnd(simOf('http-pipelined')).ticks.flatMap((t) => t.notes);
  assert.equal(notes.filter((n) => /^answered 1 request/.test(n.text)).length, 2);
});
