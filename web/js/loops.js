// The server loops: four ways to drive the same core, in the order the tutorials walk
// them. Each is a driver and only a driver — it decides which socket the server thread
// touches next and what it waits for, never what to echo: every byte goes through the
// shim's read / write / timer primitives, which speak the core's run-loop contract
// (read no more than `receive_capacity`, drain after every input, write from the
// transmit slice, report `written`, wait for readiness or the deadline).
//
// A loop answers three questions for the shim:
//   due()          — the server's next action now (a function), or null: it waits
//   spin(from, to) — the clock is about to jump over an idle span; what did the server
//                    do meanwhile? (only the busy loop does anything: it spins)
//   view()         — what the thread is doing, for the server panel
// and keeps its own account of system calls, so the CPU meter measures the thread, not
// the drawing.

/**
 * What one system call costs the server thread, in µs: a `read` that returns EAGAIN,
 * an `accept`, an `epoll_wait` that returns at once, with the core's work around it.
 * About a microsecond on a current machine; the busy loop's figures scale with it.
 */
export const SYSCALL_US = 1;

/** The loops, in the tutorials' order: key → words for the page. */
export const LOOPS = {
  blocking: {
    title: 'blocking, one at a time',
    code: 'accept(); loop { recv(); send() }',
    about: 'accept() one client, then recv() and send() on it until it leaves; the thread sleeps inside each call',
  },
  busy: {
    title: 'non-blocking busy loop',
    code: 'loop { for s in sockets { s.read() /* EAGAIN? */ } }',
    about: 'every socket set non-blocking and asked "anything yet?" in turn, forever: never sleeps',
  },
  selector: {
    title: 'selector (epoll)',
    code: 'loop { poll.wait(deadline); for ready in events { … } }',
    about: 'sleeps in poll() until the kernel says a socket is ready or the core\'s deadline comes; touches only ready sockets',
  },
  tasks: {
    title: 'a task per connection',
    code: 'loop { let s = accept().await; spawn(serve(s)) }',
    about: 'each connection has its own task, written as if blocking (read, then write all of it), run concurrently over a selector',
  },
};

export const LOOP_KEYS = Object.keys(LOOPS);

/** What the server does with a connection that ends in an error. */
export const ON_ERROR = {
  log: 'log it and go on',
  exit: 'pass it up with ? and exit',
};

/** The loop `key` driving `sim`; throws for an unknown key. */
export function makeLoop(key, sim) {
  switch (key) {
    case 'blocking':
      return new Blocking(sim);
    case 'busy':
      return new Busy(sim);
    case 'selector':
      return new Selector(sim);
    case 'tasks':
      return new Tasks(sim);
    default:
      throw new Error(`unknown server loop "${key}": one of ${LOOP_KEYS.join(', ')}`);
  }
}

/** The bookkeeping every loop shares: system calls, would-block answers, CPU time. */
class Loop {
  constructor(sim, key) {
    this.sim = sim;
    this.key = key;
    this.syscalls = 0;
    /** Calls that returned "would block" (EAGAIN): the busy loop's waste. */
    this.wouldBlock = { reads: 0, writes: 0, accepts: 0 };
    /** Times the thread woke from a wait (poll, recv, accept) to do something. */
    this.wakeups = 0;
    /** CPU time the thread used, in µs (the busy loop: all of it). */
    this.busyUs = 0;
    /** When the thread last acted: acting later than this means it slept in between. */
    this.lastActive = -1;
    /** Round-robin start, so no connection starves the others. */
    this.rr = 0;
  }

  /** The shim reports each system call the server makes (read, write, accept). */
  syscall(n = 1) {
    this.syscalls += n;
    this.busyUs += n * SYSCALL_US;
  }

  /** The thread acts now; if it was waiting, that wait returned (one more call). */
  wake() {
    if (this.lastActive < this.sim.now) {
      this.wakeups++;
      this.syscall();
    }
    this.lastActive = this.sim.now;
  }

  /** The server's connections the core holds and that are not finished, in turn order. */
  turn() {
    const open = this.sim.conns.filter((c) => c.id !== null && !c.released);
    const n = open.length;
    return open.map((_, k) => ({ c: open[(this.rr + k) % n], k }));
  }

  /** Moves the round-robin start past the connection at offset `k` of this turn. */
  served(k) {
    this.rr += k + 1;
  }

  timerDue() {
    const at = this.sim.engine.nextDeadline();
    return at !== null && at <= this.sim.now;
  }

  spin() {
    return null;
  }

  /** Percent of the elapsed virtual time the thread spent on the CPU (null at t = 0). */
  cpu() {
    const elapsedUs = this.sim.now * 1000;
    if (elapsedUs <= 0) return null;
    return Math.min(100, (100 * this.busyUs) / elapsedUs);
  }

  view() {
    return {
      loop: this.key,
      thread: this.thread(),
      cpu: this.cpu(),
      syscalls: this.syscalls,
      wouldBlock: { ...this.wouldBlock },
      wakeups: this.wakeups,
      passes: 0,
      current: null,
    };
  }

  /** What a connection's handler awaits, for its card (tasks and blocking say). */
  task() {
    return null;
  }

  /** The words for a connection's error, as this loop's code meets it. */
  errorText(c, reason, exit) {
    return exit
      ? `${c.name}: error "${reason}" returned to main → the process exits`
      : `${c.name}: error "${reason}" logged; the server goes on`;
  }
}

/**
 * Blocking, one at a time: `accept()`, then `recv()` / `send()` on that one socket until
 * its connection is released, then the next `accept()`. Other clients are connected in
 * the kernel (the listen backlog) and may write into their receive buffers; nobody reads
 * them. Each blocking call returns at the core's deadline too (a timeout on the socket,
 * SO_RCVTIMEO / SO_SNDTIMEO), so the core's timers still fire.
 */
class Blocking extends Loop {
  constructor(sim) {
    super(sim, 'blocking');
    this.current = null;
  }

  due() {
    const sim = this.sim;
    if (this.current && this.current.released) this.current = null;
    if (!this.current) {
      const next = sim.backlog()[0];
      if (!next) return null; // blocked in accept()
      return () => {
        this.wake();
        this.current = next;
        return sim.serverAccept(next, `accept() returns ${next.name}: the server serves it alone until it leaves`);
      };
    }
    const c = this.current;
    if (this.timerDue()) {
      return () => {
        this.wake();
        return sim.fireTimers(`the blocking call on ${c.name} times out at the core's deadline`);
      };
    }
    if (c.blocked) {
      if (c.tx.room() <= 0) return null; // blocked in send()
      return () => {
        this.wake();
        return sim.serverWritable(c, 'send() goes on: room in the send buffer');
      };
    }
    if (sim.serverReadable(c)) {
      return () => {
        this.wake();
        return sim.serverRead(c, 'recv() returns');
      };
    }
    return null; // blocked in recv()
  }

  thread() {
    const c = this.current && !this.current.released ? this.current : null;
    if (this.sim.down) return 'gone: the process exited';
    if (!c) return 'blocked in accept(): waiting for a client';
    const waiting = this.sim.backlog().length;
    const queue = waiting ? ` · ${waiting} waiting in the backlog, unanswered` : '';
    if (c.blocked) return `blocked in send() on ${c.name}: its send buffer is full${queue}`;
    return `blocked in recv() on ${c.name}${queue}`;
  }

  view() {
    return { ...super.view(), current: this.current && !this.current.released ? this.current.cid : null };
  }

  task(c) {
    if (c.id === null) return null;
    if (c === this.current && !c.released) return c.blocked ? 'being served: blocked in send()' : 'being served: blocked in recv()';
    return null;
  }

  errorText(c, reason, exit) {
    return exit
      ? `handle(${c.name})? returned "${reason}" → main returns it → the process exits`
      : `handle(${c.name}) failed: "${reason}", logged; back to accept()`;
  }
}

/**
 * Non-blocking, busy: every socket is set non-blocking and the loop asks the listener
 * and each one "anything yet?" in turn, forever. Served at once — and never asleep: its
 * CPU is 100 %, and nearly every call answers "would block". Between the moments
 * something happens the shim jumps the clock; `spin` counts the passes the loop made
 * over that span, at SYSCALL_US per call.
 */
class Busy extends Loop {
  constructor(sim) {
    super(sim, 'busy');
    this.passes = 0;
  }

  due() {
    const sim = this.sim;
    // The listener is asked first in each pass, then every socket, then the clock.
    const next = sim.backlog()[0];
    if (next) {
      return () => {
        this.act();
        return sim.serverAccept(next, `accept() returns ${next.name} (between thousands that said "would block")`);
      };
    }
    if (this.timerDue()) {
      return () => {
        this.act();
        return sim.fireTimers('the loop checks the clock each pass: the core\'s deadline passed');
      };
    }
    for (const { c, k } of this.turn()) {
      if (c.blocked && c.tx.room() > 0) {
        return () => {
          this.act();
          this.served(k);
          return sim.serverWritable(c, 'write() takes bytes again');
        };
      }
      if (sim.serverReadable(c)) {
        return () => {
          this.act();
          this.served(k);
          return sim.serverRead(c, 'read() has data at last');
        };
      }
    }
    return null;
  }

  act() {
    this.lastActive = this.sim.now;
  }

  /**
   * The loop over [from, to): one pass asks accept() and read() on every socket that
   * the core takes input for (and write() on every one waiting to write), each call
   * answering "would block". Returns the tick to record, or null for an empty span.
   */
  spin(from, to) {
    if (to <= from || this.sim.down) return null;
    const open = this.sim.conns.filter((c) => c.id !== null && !c.released);
    const readers = open.filter((c) => this.sim.engine.capacity(c.id) > 0);
    const writers = open.filter((c) => c.blocked);
    const calls = 1 + readers.length + writers.length;
    const us = (to - from) * 1000;
    const passes = Math.floor(us / (calls * SYSCALL_US));
    this.passes += passes;
    this.syscalls += passes * calls;
    this.busyUs += us;
    this.wouldBlock.accepts += passes;
    this.wouldBlock.reads += passes * readers.length;
    this.wouldBlock.writes += passes * writers.length;
    for (const c of readers) c.wouldBlock += passes;
    const n = (x) => x.toLocaleString('en-US');
    const what = [
      `${n(passes * readers.length)} reads returned "would block"`,
      writers.length ? `${n(passes * writers.length)} writes too` : '',
      `accept() ${n(passes)}×`,
    ]
      .filter(Boolean)
      .join(', ');
    return { kind: 'spin', cid: null, text: `busy loop spun ${to - from} ms: ${n(passes)} passes; ${what}` };
  }

  cpu() {
    return 100;
  }

  thread() {
    if (this.sim.down) return 'gone: the process exited';
    return 'spinning: asking the listener and every socket "anything yet?", never sleeping';
  }

  view() {
    return { ...super.view(), passes: this.passes };
  }
}

/**
 * Selector: one `poll()` over every socket, with the interest the core's state gives
 * (READABLE while it takes input, WRITABLE while output waits) and the core's deadline as
 * the timeout. The thread sleeps until the kernel says a socket is ready, then touches
 * only those sockets. This is the loop of `reverb serve`.
 */
class Selector extends Loop {
  constructor(sim) {
    super(sim, 'selector');
  }

  due() {
    const sim = this.sim;
    if (this.timerDue()) {
      return () => {
        this.wake();
        return sim.fireTimers('poll() returned at the core\'s deadline');
      };
    }
    const next = sim.backlog()[0];
    if (next) {
      return () => {
        this.wake();
        return sim.serverAccept(next, `poll(): the listener is readable → accept() ${next.name}`);
      };
    }
    for (const { c, k } of this.turn()) {
      if (c.blocked && c.tx.room() > 0) {
        return () => {
          this.wake();
          this.served(k);
          return sim.serverWritable(c, `poll(): ${c.name} writable`);
        };
      }
      if (sim.serverReadable(c)) {
        return () => {
          this.wake();
          this.served(k);
          return sim.serverRead(c, `poll(): ${c.name} readable`);
        };
      }
    }
    return null;
  }

  thread() {
    if (this.sim.down) return 'gone: the process exited';
    const at = this.sim.engine.nextDeadline();
    return `asleep in poll() until a socket is ready${at === null ? '' : ` or ${at} ms (the core's deadline)`}`;
  }
}

/**
 * A task per connection: the accept loop spawns a task for each client; each task reads,
 * lets the core echo, and writes all of it before it reads again (`write_all`), as
 * blocking code would — but a task that waits only parks itself, and the runtime (a
 * selector underneath) runs whichever task's socket is ready. A task that fails ends
 * alone, unless its error is passed up to `main`.
 */
class Tasks extends Loop {
  constructor(sim) {
    super(sim, 'tasks');
  }

  due() {
    const sim = this.sim;
    if (this.timerDue()) {
      return () => {
        this.wake();
        return sim.fireTimers('the runtime\'s timer wakes the task whose deadline passed');
      };
    }
    const next = sim.backlog()[0];
    if (next) {
      return () => {
        this.wake();
        return sim.serverAccept(next, `the accept loop: accept() ${next.name}, spawn its task`);
      };
    }
    for (const { c, k } of this.turn()) {
      // A task in write_all awaits writability only; it reads again once all is written.
      if (c.blocked) {
        if (c.tx.room() <= 0) continue;
        return () => {
          this.wake();
          this.served(k);
          return sim.serverWritable(c, `${c.name}'s task wakes: write_all goes on`);
        };
      }
      if (sim.serverReadable(c)) {
        return () => {
          this.wake();
          this.served(k);
          return sim.serverRead(c, `${c.name}'s task wakes: readable`);
        };
      }
    }
    return null;
  }

  thread() {
    if (this.sim.down) return 'gone: the process exited';
    const open = this.sim.conns.filter((c) => c.id !== null && !c.released).length;
    return `the runtime sleeps in poll(); ${open} task${open === 1 ? '' : 's'} parked, the accept loop awaiting a client`;
  }

  task(c) {
    if (c.id === null) return null;
    if (c.released) return c.released.graceful ? 'task done: Ok(())' : `task failed: Err(${c.released.reason})`;
    return c.blocked ? 'task awaits writable (write_all)' : 'task awaits read';
  }

  errorText(c, reason, exit) {
    return exit
      ? `${c.name}'s task returned Err("${reason}"); main awaits it with ? → the process exits`
      : `${c.name}'s task returned Err("${reason}"): logged; the other tasks and the accept loop go on`;
  }
}
