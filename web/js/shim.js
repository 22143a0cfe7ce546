// The socket shim: plays the kernel and the clients around a reverb-core engine, and
// runs the same event loop as the native server — readiness → core input → drain the
// outputs → write, with short writes — one visible step at a time, on a virtual clock.
//
// Pure JS, no DOM and no wasm: the engine is passed in (engine.js makes one over the real
// core), so node tests drive this module exactly as the page does.
//
// The model, per connection:
//   client app ──write──▶ [rx: the server's receive buffer, `rx_cap` bytes] ──read(n)──▶ core
//   core ──transmit──▶ [tx: the server's send buffer, `tx_cap` bytes] ──read──▶ client app
// A write enters its buffer at once (taking room) and becomes readable on the other side
// after the latency (plus seeded jitter): the buffer's capacity is the TCP window. A full
// buffer makes the writer's write short — the backpressure the lesson is about. A reset
// (RST) travels behind what was written before it, and what arrived before it can still
// be read, as on Linux: a client reads the bytes a server sent, then the reset.

import { mulberry32, below } from './rng.js';
import { makeLoop, LOOP_KEYS, ON_ERROR } from './loops.js';

/** Simulation parameters beside the core's config, with their defaults. */
export const SIM_DEFAULTS = Object.freeze({
  /** Bytes the server asks for per read: `recv(2)` in the tutorials. */
  read_size: 2,
  /** The server's kernel receive buffer (client → server), in bytes. */
  rx_cap: 32,
  /** The server's kernel send buffer (server → client), in bytes. */
  tx_cap: 32,
  /** One-way latency in virtual ms. */
  latency: 20,
  /** Extra latency up to this many ms, drawn from the seeded RNG. */
  jitter: 10,
  /** Bytes a client reads per read. */
  client_read_size: 64,
  /** The server loop that drives the core: one of loops.js's LOOPS. */
  loop: 'selector',
  /** A connection that ends in an error: `log` it and go on, or `exit` the server. */
  on_error: 'log',
});

/** The simulation parameters that are whole numbers (the others are names). */
export const SIM_NUMBERS = Object.keys(SIM_DEFAULTS).filter((k) => typeof SIM_DEFAULTS[k] === 'number');

/**
 * A segment's time on the wire: segments never overtake one another, and those written
 * together arrive one after another, so a reader that keeps up sees each write on its own
 * (as over loopback), and one that falls behind reads several at once.
 */
const SEGMENT_MS = 1;
/** Bounds a drain loop: a core that never returns `timeout` is a bug, not a hang. */
const MAX_OUTPUTS_PER_DRAIN = 10_000;
/** How many reads, writes and frames each connection keeps for its views. */
const KEEP_RECENT = 8;
/** Ticks kept in the log; older ones are dropped (a long play must not eat memory). */
export const MAX_TICKS = 5000;

const encoder = new TextEncoder();

/** Text to bytes; `\n` in a line typed into a client is the newline it sends. */
export function toBytes(text) {
  return Array.from(encoder.encode(text));
}

class Pipe {
  constructor(cap) {
    this.cap = cap;
    /** Readable bytes (arrived). */
    this.buf = [];
    /** Segments on their way: {at, bytes, fin?, rst?}. */
    this.inflight = [];
    this.finArrived = false;
    this.rstArrived = false;
    /** The reader has consumed the end-of-stream (or the reset). */
    this.eofTaken = false;
    /** Time the last segment arrives at; later segments never overtake it. */
    this.lastAt = 0;
  }

  used() {
    return this.buf.length + this.inflight.reduce((n, s) => n + s.bytes.length, 0);
  }

  room() {
    return Math.max(0, this.cap - this.used());
  }

  view() {
    return {
      buf: this.buf.slice(),
      inflight: this.inflight.reduce((n, s) => n + s.bytes.length, 0),
      cap: this.cap,
      fin: this.finArrived,
      fin_in_flight: this.inflight.some((s) => s.fin),
      rst: this.rstArrived,
    };
  }
}

/**
 * What the fault layer of `faults` (the config's section) holds output for, in words, or
 * null when it holds none: its deadline then means "the delay is over" or "pacing lets
 * the next bytes go".
 */
export function faultHold(faults = {}) {
  const delay = faults.delay != null || faults.jitter != null;
  const paced = faults.rate != null;
  if (delay && paced) return 'delay and pacing';
  return delay ? 'delay' : paced ? 'pacing' : null;
}

/**
 * A simulated echo server with its clients.
 *
 * `engine` is what `createEngine(config)` of engine.js returns; `config` is the core's
 * config (`{echo: {...}, stream: {...}, faults: {...}}`, the core's names); `sim`
 * overrides SIM_DEFAULTS (`loop` picks the server loop, see loops.js); `clients` are specs
 * `{name, connect_at, script: [{at, send} | {at, stop_reading} | {at, resume_reading} |
 * {at, half_close} | {at, abort}]}`, each optionally with its own `client_read_size`,
 * `latency`, `rx_cap` and `tx_cap` (else the simulation's). A client connects at
 * `connect_at` (0 by default) and is numbered in the order clients connect; the server
 * loop accepts it when it gets to it. `app` is the application the core runs on every
 * connection: the echo (the default) or `{kind: 'http'}`, the HTTP/1.1 echo.
 */
export class Simulation {
  constructor({ createEngine, config = {}, sim = {}, seed = 1, clients = [], app = null }) {
    // The views show where frames end in the output queue, and each frame the core queues
    // (its `queued` events) and what the fault layer holds (`held`, `released`).
    this.config = { ...config, echo: { ...config.echo, record_frames: true } };
    this.sim = { ...SIM_DEFAULTS, ...sim };
    // A zero-byte read or buffer would stall the loop forever (or spin it on empty reads).
    for (const key of ['read_size', 'rx_cap', 'tx_cap', 'client_read_size']) {
      if (!(Number.isInteger(this.sim[key]) && this.sim[key] >= 1)) {
        throw new Error(`${key.replaceAll('_', ' ')} must be at least 1`);
      }
    }
    if (!LOOP_KEYS.includes(this.sim.loop)) throw new Error(`unknown server loop "${this.sim.loop}": one of ${LOOP_KEYS.join(', ')}`);
    if (!(this.sim.on_error in ON_ERROR)) throw new Error(`on error: "${this.sim.on_error}" is neither log nor exit`);
    this.seed = seed >>> 0;
    this.rand = mulberry32(this.seed);
    this.app = app ?? { kind: 'echo' };
    this.engine = createEngine(this.config, this.app);
    this.hold = faultHold(this.config.faults);
    this.loop = makeLoop(this.sim.loop, this);
    /** Set when the server process exited (`on_error: exit`): {t, reason, cid}. */
    this.down = null;
    this.now = 0;
    this.conns = [];
    this.ticks = [];
    this.tickNo = 0;
    // Clients connect in time order (their numbers follow it); those at 0 at once.
    this.future = clients.map((spec) => ({ ...spec, connect_at: spec.connect_at ?? 0 })).sort((a, b) => a.connect_at - b.connect_at);
    while (this.future.length && this.future[0].connect_at <= 0) this.connect(this.future.shift());
  }

  // ---- commands (the page's controls) ---------------------------------------------------

  /**
   * A new client connects: the kernel completes the handshake into the listen backlog,
   * where it waits until the server loop accepts it (see `serverAccept`); meanwhile it
   * may write, and its bytes wait in its receive buffer. Returns its index.
   */
  addClient(spec = {}) {
    this.connect(spec);
    return this.conns.length - 1;
  }

  /** A client connects (see `addClient`); returns the tick that says so. */
  connect(spec) {
    const cid = this.conns.length;
    const name = spec.name ?? `client ${String.fromCharCode(65 + (cid % 26))}`;
    const conn = {
      cid,
      name,
      id: null,
      refused: null,
      connectedAt: this.now,
      acceptedAt: null,
      readSize: spec.client_read_size ?? this.sim.client_read_size,
      latency: spec.latency ?? this.sim.latency,
      script: (spec.script ?? []).map((a) => ({ ...a, at: a.at ?? 0 })),
      reading: true,
      halfClosed: false,
      aborted: false,
      wrote: [],
      pending: [],
      got: [],
      /** Where each of the client's reads ended in `got`, for the view. */
      cuts: [],
      /** Every byte the server wrote to this socket, for checks that nothing is lost. */
      sent: [],
      rx: new Pipe(spec.rx_cap ?? this.sim.rx_cap),
      tx: new Pipe(spec.tx_cap ?? this.sim.tx_cap),
      blocked: false,
      reads: [],
      writes: [],
      creads: [],
      frames: [],
      snapshot: null,
      released: null,
      deadline: null,
      faultDeadline: null,
      clientEof: false,
      clientReset: false,
      /** Reads the busy loop made on this socket that returned "would block". */
      wouldBlock: 0,
    };
    this.conns.push(conn);
    if (this.down) {
      conn.refused = 'connection refused: nothing listens any more (the server exited)';
      return this.record({ kind: 'connect', cid, text: `${name} connects: ${conn.refused}` });
    }
    return this.record({ kind: 'connect', cid, text: `${name} connects: in the listen backlog until the server accepts it` });
  }

  /** Connections the kernel completed that the server has not accepted yet, oldest first. */
  backlog() {
    return this.conns.filter((c) => c.id === null && !c.refused);
  }

  /** The server accepts `c` from the backlog: the core registers it. */
  serverAccept(c, how) {
    this.loop.syscall();
    try {
      c.id = this.engine.accept(this.now);
      c.acceptedAt = this.now;
    } catch (e) {
      c.refused = String(e.message ?? e);
    }
    const text = c.refused ? `refused: ${c.refused}` : 'accepted: the core registers the connection';
    if (c.id !== null) this.drain(c);
    return this.record({ kind: 'accept', cid: c.cid, text: `${how} → ${text}` });
  }

  /** The client queues a line (or any text) to write. */
  send(cid, text) {
    const c = this.conns[cid];
    if (!c || c.halfClosed || c.aborted) return false;
    c.pending.push(...toBytes(text));
    return true;
  }

  /** The client stops (false) or resumes (true) reading its socket. */
  setReading(cid, reading) {
    const c = this.conns[cid];
    if (c) c.reading = reading;
  }

  /** The client shuts down its write side (FIN) once its queued bytes are written. */
  halfClose(cid) {
    const c = this.conns[cid];
    if (c) c.halfClosePending = true;
  }

  /** The client goes away abruptly (RST): the server sees a reset. */
  abort(cid) {
    const c = this.conns[cid];
    if (!c || c.aborted) return;
    c.aborted = true;
    c.pending = [];
    c.script = [];
    c.rx.inflight.push({ at: this.arrival(c, c.rx), bytes: [], rst: true });
  }

  // ---- the event loop -------------------------------------------------------------------

  /**
   * Performs the next action — at the current time if one is due, else after advancing
   * the clock to the next event — and returns its tick, or null when nothing will ever
   * happen again without a command.
   */
  step() {
    for (let i = 0; i < 2; i++) {
      const action = this.dueAction();
      if (action) return action();
      const next = this.nextTime();
      if (next === null) return null;
      // The server loop over the span the clock jumps: most sleep; a busy loop spins.
      const spun = this.loop.spin(this.now, next);
      this.now = Math.max(this.now, next);
      if (spun) return this.record(spun);
    }
    throw new Error('invariant: an event was due after advancing the clock');
  }

  /** Steps until `done(sim)` or `maxSteps`; returns the number of steps taken. */
  run(maxSteps, done = () => false) {
    for (let n = 0; n < maxSteps; n++) {
      if (done(this)) return n;
      if (this.step() === null) return n;
    }
    return maxSteps;
  }

  /** Whether the simulation has nothing left to do. */
  idle() {
    return this.dueAction() === null && this.nextTime() === null;
  }

  dueAction() {
    const now = this.now;
    // 0. A client connecting now.
    if (this.future.length && this.future[0].connect_at <= now) return () => this.connect(this.future.shift());
    const live = this.conns.filter((c) => !c.refused);
    // 1. Segments arriving in a kernel buffer.
    for (const c of live) {
      for (const [pipe, dir] of [[c.rx, 'rx'], [c.tx, 'tx']]) {
        if (pipe.inflight.length && pipe.inflight[0].at <= now) {
          return () => this.arrive(c, pipe, dir);
        }
      }
    }
    // 2. The server: its loop decides what the thread does now (accept, the core's timers,
    // a read, a write), or that it waits.
    const server = this.down ? null : this.loop.due();
    if (server) return server;
    // 3. Clients: scripted actions, writes, reads.
    for (const c of live) {
      const a = c.script[0];
      if (a && a.at <= now) return () => this.scripted(c);
    }
    for (const c of live) {
      if (c.aborted || c.rx.rstArrived) continue;
      if (c.pending.length && c.rx.room() > 0 && !c.clientReset) return () => this.clientWrite(c);
      if (c.halfClosePending && !c.pending.length && !c.halfClosed) return () => this.clientFin(c);
    }
    for (const c of live) {
      if (c.aborted || c.clientReset) continue;
      if (c.tx.rstArrived && !c.tx.eofTaken) return () => this.clientRead(c);
      if (c.reading && c.tx.buf.length) return () => this.clientRead(c);
      if (c.tx.finArrived && !c.tx.buf.length && !c.tx.eofTaken) return () => this.clientRead(c);
    }
    return null;
  }

  nextTime() {
    const times = [];
    if (this.future.length) times.push(this.future[0].connect_at);
    for (const c of this.conns) {
      if (c.refused) continue;
      for (const p of [c.rx, c.tx]) if (p.inflight.length) times.push(p.inflight[0].at);
      if (c.script.length) times.push(c.script[0].at);
    }
    const deadline = this.down ? null : this.engine.nextDeadline();
    if (deadline !== null) times.push(deadline);
    const later = times.filter((t) => t > this.now);
    return later.length ? Math.min(...later) : null;
  }

  arrival(c, pipe) {
    const at = this.now + c.latency + below(this.rand, this.sim.jitter + 1);
    pipe.lastAt = Math.max(pipe.lastAt + SEGMENT_MS, at);
    return pipe.lastAt;
  }

  arrive(c, pipe, dir) {
    let bytes = 0;
    const notes = [];
    while (pipe.inflight.length && pipe.inflight[0].at <= this.now) {
      const seg = pipe.inflight.shift();
      pipe.buf.push(...seg.bytes);
      bytes += seg.bytes.length;
      if (seg.fin) {
        pipe.finArrived = true;
        notes.push('FIN');
      }
      if (seg.rst) {
        // What arrived before the reset stays readable; nothing comes after it.
        pipe.rstArrived = true;
        notes.push('RST');
      }
    }
    const where = dir === 'rx' ? 'server receive buffer' : 'client receive buffer';
    const what = [bytes ? `${bytes} B` : '', ...notes].filter(Boolean).join(' + ');
    return this.record({ kind: 'arrive', dir, cid: c.cid, n: bytes, text: `${what} arrived in the ${where}` });
  }

  /** The core's deadline passed: `handle_timeout`, then drain every connection it names. */
  fireTimers(how) {
    // Pacing reports no event of its own: whose paced fault layer is due, to say so. (A
    // delay's release is an event, `released`.)
    const paced = (c) => !c.released && c.faultDeadline !== null && c.faultDeadline <= this.now;
    const pacedDue = new Set(this.hold?.includes('pacing') ? this.conns.filter(paced).map((c) => c.cid) : []);
    this.engine.handleTimeout(this.now);
    const touched = new Set();
    for (let id = this.engine.pollReady(); id !== undefined; id = this.engine.pollReady()) {
      const c = this.conns.find((x) => x.id === id);
      if (c && !c.released) {
        touched.add(c.cid);
        this.drain(c);
      }
    }
    const released = (this.pendingNotes ?? []).some((n) => n.event === 'released');
    const pacing = [...touched].some((cid) => pacedDue.has(cid));
    const what = released ? 'the delay is over, held output released' : pacing ? 'pacing lets the next bytes go' : null;
    const text = what ? `timer due: fault layer — ${what}` : 'timer due: core ticked';
    return this.record({ kind: 'timer', cid: touched.size === 1 ? [...touched][0] : null, fault: Boolean(what), text: said(how, text) });
  }

  /** Whether the server may read `c` now: something arrived and the core takes input. */
  serverReadable(c) {
    if (c.id === null || c.released) return false;
    if (c.rx.rstArrived) return !c.resetTaken;
    if (this.engine.capacity(c.id) <= 0) return false;
    return c.rx.buf.length > 0 || (c.rx.finArrived && !c.rx.eofTaken);
  }

  /** One read of at most the read size and the core's capacity: data, end-of-stream or reset. */
  serverRead(c, how) {
    this.loop.syscall();
    if (c.rx.rstArrived) {
      c.resetTaken = true;
      this.feed(c, { kind: 'reset' });
      this.drain(c);
      return this.record({ kind: 'reset', cid: c.cid, text: said(how, 'read: connection reset by peer → core Reset') });
    }
    if (!c.rx.buf.length) {
      c.rx.eofTaken = true;
      this.feed(c, { kind: 'peer_closed' });
      c.reads.push({ t: this.now, n: 0, of: this.sim.read_size, bytes: [] });
      trim(c.reads);
      this.drain(c);
      return this.record({ kind: 'read', cid: c.cid, n: 0, text: said(how, `read 0 of ${this.sim.read_size}: end-of-stream → core PeerClosed`) });
    }
    const capacity = this.engine.capacity(c.id);
    const ask = Math.min(this.sim.read_size, capacity);
    const n = Math.min(ask, c.rx.buf.length);
    const bytes = c.rx.buf.slice(0, n);
    const taken = this.feed(c, { kind: 'received', bytes: Uint8Array.from(bytes) });
    if (taken !== n) throw new Error(`core took ${taken} of ${n} bytes read within its capacity`);
    c.rx.buf.splice(0, n);
    c.reads.push({ t: this.now, n, of: ask, bytes });
    trim(c.reads);
    this.drain(c);
    return this.record({ kind: 'read', cid: c.cid, n, text: said(how, `read ${n} of ${ask}: ${printable(bytes)}`) });
  }

  /** A write that went short has room again: `Writable`, then drain (which writes). */
  serverWritable(c, how) {
    c.blocked = false;
    this.feed(c, { kind: 'writable' });
    this.drain(c);
    return this.record({ kind: 'writable', cid: c.cid, text: said(how, 'socket writable again → core Writable') });
  }

  /** Feeds one input to the core; returns how many bytes of a `received` input it took. */
  feed(c, input) {
    return this.engine.input(c.id, this.now, input);
  }

  /** Rule 2 of the run loop: after every input, drain the outputs until `timeout`. */
  drain(c) {
    // The frames the last input queued, from its `queued` events, with the output queue
    // as that input left it: its events all come before any other output (see takeFrames).
    let queued = null;
    for (let i = 0; i < MAX_OUTPUTS_PER_DRAIN; i++) {
      const out = this.engine.poll(c.id);
      if (out.kind === 'event' && out.event.kind === 'queued') {
        queued ??= { frames: [], output: this.engine.snapshot(c.id)?.output ?? new Uint8Array() };
        queued.frames.push(out.event);
      } else if (queued && out.kind !== 'event') {
        this.takeFrames(c, queued);
        queued = null;
      }
      switch (out.kind) {
        case 'event':
          this.onEvent(c, out);
          break;
        case 'transmit': {
          this.loop.syscall();
          const len = out.bytes.length;
          const n = Math.min(len, c.tx.room());
          if (n > 0) {
            const bytes = Array.from(out.bytes.subarray(0, n));
            c.tx.inflight.push({ at: this.arrival(c, c.tx), bytes });
            c.sent.push(...bytes);
          }
          this.feed(c, { kind: 'written', n });
          if (n < len) c.blocked = true;
          c.writes.push({ t: this.now, n, of: len, bytes: Array.from(out.bytes.subarray(0, n)) });
          trim(c.writes);
          // The registry forgets a connection at its release, so keep what it looked like
          // after each write: the last view of a released connection is then up to date.
          c.snapshot = this.engine.snapshot(c.id) ?? c.snapshot;
          this.log(c, 'write', `write ${n} of ${len}${n < len ? ': short, socket full → wait for writable' : ''}`, n);
          break;
        }
        case 'close_write':
          c.tx.inflight.push({ at: this.arrival(c, c.tx), bytes: [], fin: true });
          this.log(c, 'fin', 'core CloseWrite → shutdown(SHUT_WR): FIN sent');
          break;
        case 'release':
          this.onRelease(c, out);
          break;
        case 'timeout':
          c.deadline = out.at;
          c.faultDeadline = this.engine.faultDeadline(c.id);
          c.snapshot = this.engine.snapshot(c.id) ?? c.snapshot;
          return;
        default:
          throw new Error(`unknown output ${out.kind}`);
      }
    }
    throw new Error(`drain of ${c.name} did not reach timeout: livelock`);
  }

  /**
   * Notes the frames one input queued, for the "frames" view: the core reports each one's
   * kind and length in order, and until the next input they are the last bytes of its
   * output queue. A failure (the fault word) empties the queue: frames queued before it
   * in the same input are then shown as dropped.
   */
  takeFrames(c, { frames, output }) {
    let end = output.length;
    const taken = [];
    for (let i = frames.length - 1; i >= 0; i--) {
      const { frame: kind, len } = frames[i];
      const start = end - len;
      taken.unshift(start >= 0 ? { kind, len, bytes: Array.from(output.subarray(start, end)) } : { kind, len, bytes: [], dropped: true });
      end = Math.max(0, start);
    }
    for (const f of taken) c.frames.push({ t: this.now, ...f });
    trim(c.frames);
  }

  onEvent(c, out) {
    const e = out.event;
    let text;
    switch (e.kind) {
      case 'echoed':
        // The HTTP echo counts its answers as the echo counts frames.
        text =
          this.app.kind === 'http'
            ? `answered ${e.frames} request${e.frames === 1 ? '' : 's'} (${e.bytes} B of request)`
            : `echoed ${e.frames} frame${e.frames === 1 ? '' : 's'} (${e.bytes} B)`;
        break;
      case 'read_paused':
        text = 'output at high watermark: reading paused';
        break;
      case 'read_resumed':
        text = 'output drained to low watermark: reading resumed';
        break;
      case 'timed_out':
        text = `${e.timer.replace('_', ' ')} timer fired`;
        break;
      case 'peer_error':
        text = `peer error: ${e.error.text}`;
        break;
      case 'closing':
        text = `closing: ${e.reason.text}`;
        break;
      case 'buffers_released':
        text = `quiet for a while: ${e.bytes} B of buffers given back`;
        break;
      case 'injected':
        text = `fault layer: ${INJECTED[e.fault] ?? `injected ${e.fault}`}`;
        break;
      case 'queued':
        text = `queued ${FRAME_KINDS[e.frame] ?? e.frame}: ${e.len} B`;
        break;
      case 'held':
        text = `fault layer holds ${e.bytes} B until ${e.until} ms`;
        break;
      case 'released':
        text = `fault layer: delay over, ${e.bytes} B released${e.held ? ` (${e.held} B still held)` : ''}`;
        break;
      default:
        text = e.kind;
    }
    // A release says how much the fault layer still holds: the timeline's held band ends
    // when nothing is.
    this.log(c, 'event', text, undefined, e.kind, e.kind === 'released' ? { held: e.held } : null);
  }

  onRelease(c, out) {
    // The core's words for why, and whether the peer got all it was owed.
    const { text: reason, graceful } = out.reason;
    c.released = { reason, graceful, t: this.now };
    c.snapshot = this.engine.snapshot(c.id) ?? c.snapshot;
    c.faultDeadline = null;
    c.blocked = false;
    // The socket is closed: what the kernel still had to read is dropped. A graceful end
    // has sent its FIN already; anything else resets the connection, the RST behind the
    // bytes already written (the core counted them sent, as the kernel took them).
    c.rx.buf = [];
    c.rx.inflight = [];
    if (!graceful) {
      c.tx.inflight.push({ at: this.arrival(c, c.tx), bytes: [], rst: true });
    }
    this.log(c, 'release', `released: ${reason}${graceful ? '' : ' (socket reset)'}`);
    // An ending that is not graceful is an error to the code around the connection: the
    // loop's driver decides whether it ends this connection only or the whole server.
    if (!graceful) {
      const exit = this.sim.on_error === 'exit';
      this.log(c, 'error', this.loop.errorText(c, reason, exit));
      if (exit) this.exitServer(c, reason);
    }
  }

  /**
   * The server process exits (an error passed up to `main`). The kernel closes what the
   * process had open: a socket with unread input is reset, one without ends with a FIN
   * after what was already written; connections still in the listen backlog are reset;
   * and later connects are refused. The core is never asked again: the process is gone.
   */
  exitServer(failed, reason) {
    this.down = { t: this.now, reason, cid: failed.cid };
    for (const o of this.conns) {
      if (o === failed || o.refused || o.released) continue;
      const unread = o.id === null || o.rx.buf.length > 0 || o.rx.inflight.length > 0;
      o.released = { reason: 'the server exited', graceful: !unread, t: this.now };
      o.faultDeadline = null;
      o.blocked = false;
      o.rx.buf = [];
      o.rx.inflight = [];
      o.tx.inflight.push({ at: this.arrival(o, o.tx), bytes: [], ...(unread ? { rst: true } : { fin: true }) });
      const how = o.id === null ? 'resets it (never accepted)' : unread ? 'resets it (unread input)' : 'closes its socket (FIN)';
      this.log(o, 'release', `${o.name}: the process exited, so the kernel ${how}`);
    }
  }

  scripted(c) {
    const a = c.script.shift();
    let text;
    if (a.send !== undefined) {
      this.send(c.cid, a.send);
      text = `types ${printable(toBytes(a.send))}`;
    } else if (a.stop_reading) {
      c.reading = false;
      text = 'stops reading';
    } else if (a.resume_reading) {
      c.reading = true;
      text = 'reads again';
    } else if (a.half_close) {
      c.halfClosePending = true;
      text = 'will half-close (shutdown SHUT_WR)';
    } else if (a.abort) {
      this.abort(c.cid);
      text = 'aborts (RST)';
    } else {
      text = 'does nothing';
    }
    return this.record({ kind: 'script', cid: c.cid, text: `${c.name} ${text}` });
  }

  clientWrite(c) {
    const room = c.rx.room();
    const n = Math.min(room, c.pending.length);
    const bytes = c.pending.splice(0, n);
    c.wrote.push(...bytes);
    c.rx.inflight.push({ at: this.arrival(c, c.rx), bytes });
    const short = c.pending.length ? `, ${c.pending.length} B wait: server buffer full` : '';
    return this.record({ kind: 'cwrite', cid: c.cid, n, text: `${c.name} writes ${n} B${short}` });
  }

  clientFin(c) {
    c.halfClosed = true;
    c.halfClosePending = false;
    c.rx.inflight.push({ at: this.arrival(c, c.rx), bytes: [], fin: true });
    return this.record({ kind: 'cfin', cid: c.cid, text: `${c.name} half-closes: FIN sent` });
  }

  clientRead(c) {
    // A reading client gets what arrived before a reset first; one that is not reading
    // learns of the reset at once (its next write would fail) and loses the rest.
    if (c.tx.rstArrived && !(c.reading && c.tx.buf.length)) {
      c.tx.eofTaken = true;
      c.clientReset = true;
      c.pending = [];
      c.tx.buf = [];
      c.creads.push({ t: this.now, n: 0, bytes: [], reset: true });
      trim(c.creads);
      return this.record({ kind: 'creset', cid: c.cid, text: `${c.name} reads: connection reset by peer` });
    }
    if (!c.tx.buf.length) {
      c.tx.eofTaken = true;
      c.clientEof = true;
      c.creads.push({ t: this.now, n: 0, bytes: [] });
      trim(c.creads);
      let text = `${c.name} reads end-of-stream`;
      // A client that saw the end closes its side too, as most do: the server's linger
      // wait ends with our FIN.
      if (!c.halfClosed) {
        c.halfClosed = true;
        c.pending = [];
        c.rx.inflight.push({ at: this.arrival(c, c.rx), bytes: [], fin: true });
        text += ' and closes: FIN sent';
      }
      return this.record({ kind: 'ceof', cid: c.cid, text });
    }
    const n = Math.min(c.readSize, c.tx.buf.length);
    const bytes = c.tx.buf.splice(0, n);
    c.got.push(...bytes);
    c.cuts.push(c.got.length);
    c.creads.push({ t: this.now, n, bytes });
    trim(c.creads);
    // Room appeared in the server's send buffer: the next loop turn sees it writable.
    return this.record({ kind: 'cread', cid: c.cid, n, text: `${c.name} reads ${n} B: ${printable(bytes)}` });
  }

  // ---- the recorded log ------------------------------------------------------------------

  log(c, kind, text, n, event, extra = null) {
    (this.pendingNotes ??= []).push({ cid: c.cid, kind, text, n, event, ...extra });
  }

  record(tick) {
    const notes = this.pendingNotes ?? [];
    this.pendingNotes = [];
    const full = { no: this.tickNo++, t: this.now, ...tick, notes, state: this.view() };
    this.ticks.push(full);
    if (this.ticks.length > MAX_TICKS) this.ticks.shift();
    return full;
  }

  /** Everything the views show, as plain data: a tick renders from this alone. */
  view() {
    return {
      t: this.now,
      counters: this.engine.counters(),
      // The server thread: its loop, what it is doing, its CPU and system calls.
      server: { ...this.loop.view(), onError: this.sim.on_error, down: this.down, backlog: this.backlog().map((c) => c.cid) },
      conns: this.conns.map((c) => ({
        cid: c.cid,
        name: c.name,
        refused: c.refused,
        accepted: c.id !== null,
        // The application the core runs: 'echo' or 'http'.
        app: this.app.kind,
        connectedAt: c.connectedAt,
        acceptedAt: c.acceptedAt,
        wouldBlock: c.wouldBlock,
        task: this.loop.task(c),
        reading: c.reading,
        halfClosed: c.halfClosed,
        aborted: c.aborted,
        wrote: c.wrote.slice(),
        pending: c.pending.slice(),
        rx: c.rx.view(),
        reads: c.reads.map((r) => ({ ...r, bytes: r.bytes.slice() })),
        writes: c.writes.map((w) => ({ ...w, bytes: w.bytes.slice() })),
        creads: c.creads.map((r) => ({ ...r, bytes: r.bytes.slice() })),
        core: c.snapshot ? plainSnapshot(c.snapshot) : null,
        frames: c.frames.map((f) => ({ ...f, bytes: f.bytes.slice() })),
        tx: c.tx.view(),
        got: c.got.slice(),
        cuts: c.cuts.slice(),
        interest: this.interest(c),
        blocked: c.blocked,
        released: c.released,
        deadline: c.deadline,
        // The faults configured (the config's section, shared by every connection), and
        // the fault layer's deadline with what it holds output for ('delay', 'pacing').
        faults: this.config.faults ?? null,
        fault: c.faultDeadline === null || c.released ? null : { at: c.faultDeadline, hold: this.hold },
        eof: c.clientEof,
        reset: c.clientReset,
      })),
    };
  }

  /**
   * The interest a selector would hold for this connection, derived from the core after
   * the drain (never hand-kept): READABLE while it takes input, WRITABLE while output waits.
   */
  interest(c) {
    if (c.id === null || c.released) return { readable: false, writable: false };
    return { readable: this.engine.capacity(c.id) > 0, writable: this.engine.wantsWrite(c.id) };
  }
}

/** The fault layer's injected faults, in words (the event's `fault`). */
const INJECTED = {
  reset: 'reset after its byte limit (RST)',
  close: 'closed after its byte limit (FIN)',
  chance: 'a frame drew the fault chance',
};

/** The kinds of frame the core queues (a `queued` event's `frame`), in words. */
export const FRAME_KINDS = {
  echo: 'an echo',
  partial: 'a partial line, flushed',
  collected: 'the collection',
  error: 'an error line',
};

/** A tick's words: what woke the server loop, then what it did. */
function said(how, text) {
  return how ? `${how} → ${text}` : text;
}

function trim(list) {
  if (list.length > KEEP_RECENT) list.splice(0, list.length - KEEP_RECENT);
}

function plainSnapshot(s) {
  return {
    ...s,
    input: Array.from(s.input),
    output: Array.from(s.output),
    collected: Array.from(s.collected),
    frame_ends: Array.from(s.frame_ends),
    counters: { ...s.counters },
    deadlines: { ...s.deadlines },
  };
}

/** Bytes as a short quoted string with escapes, for the log. */
export function printable(bytes, max = 24) {
  let s = '';
  for (const b of bytes.slice(0, max)) {
    if (b === 10) s += '\\n';
    else if (b === 13) s += '\\r';
    else if (b >= 32 && b < 127) s += String.fromCharCode(b);
    else s += `\\x${b.toString(16).padStart(2, '0')}`;
  }
  return `"${s}${bytes.length > max ? '…' : ''}"`;
}
