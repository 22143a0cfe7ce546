// Presets: each one teaches one thing, and together they walk the tutorials' journey in
// their order: first the server loop (blocking, one client and then two; a busy loop; a
// selector; a task per connection, and what an error in one task may do), then what the
// core does with the bytes (frames, backpressure, closing, timers), then faults on
// purpose. A preset is data — a core config (by section, with the core's names: see
// wasm/src/lib.rs), the shim's parameters (`loop` picks the server loop: loops.js) and
// scripted clients — plus `expect`, what its run must show per client, and `server`, what
// the server loop's own figures must show (the browser and node tests check both, so a
// preset that stops teaching its lesson fails CI). The page's "Next" button goes to the
// next preset in this list.
//
// `expect` per client: `got` (what it read back), `reads` (the core's read count),
// `eof`, `reset`, `reason` (why the core released it), `paused`, `held`, `late`,
// `pieces` (see the tests), `refused` (it never got in), `acceptedAfter` (accepted only
// once that client's connection was released), `waited` (ms its first bytes sat in its
// receive buffer, unread, at least), `awaited` (what its task waited for at some point).
// `server`: `cpuAtLeast` / `cpuAtMost` (percent), `wouldBlockAtLeast` / `wouldBlock`
// (reads that returned "would block"), `down` (the process exited), `errors` (connections
// that ended in an error).

/** The journey's two clients, for the busy loop and the selector alike. */
const TWO_CLIENTS = [
  { name: 'client A', script: [{ at: 0, send: 'one\n' }, { at: 400, send: 'two\n' }] },
  { name: 'client B', script: [{ at: 200, send: 'alpha\n' }, { at: 600, send: 'beta\n' }] },
];
const TWO_ECHOED = [
  { client: 0, got: 'one\ntwo\n' },
  { client: 1, got: 'alpha\nbeta\n' },
];

/** Four clients, one of which sends the fault word, and one connecting after it. */
const ONE_FAILS = [
  { name: 'client A', script: [{ at: 0, send: 'one\n' }, { at: 400, send: 'two\n' }] },
  { name: 'client B', script: [{ at: 200, send: 'crash\n' }] },
  { name: 'client C', script: [{ at: 0, send: 'alpha\n' }, { at: 400, send: 'beta\n' }] },
  { name: 'client D (later)', connect_at: 600, script: [{ at: 650, send: 'hello\n' }] },
];

export const PRESETS = [
  {
    key: 'one-line',
    title: 'One line, a blocking server',
    lesson: 'The simplest server: accept() one client, then recv() and send() on it until it leaves, the thread asleep inside each call. Client A types "hello"; the line travels through both kernels and the core and comes back.',
    config: { echo: { framing: 'line' } },
    sim: { read_size: 64, loop: 'blocking' },
    clients: [{ name: 'client A', script: [{ at: 0, send: 'hello\n' }] }],
    expect: [{ client: 0, got: 'hello\n' }],
    server: { cpuAtMost: 1, wouldBlock: 0 },
  },
  {
    key: 'blocking-many',
    title: 'A blocking server, two clients',
    lesson: 'The same server, and client B connects too. The kernel completes B\'s handshake into the listen backlog and takes B\'s "hi" into B\'s receive buffer, but the thread is asleep in recv() on A, so nobody reads it. Only when A quits does accept() return B: B gets its echo a second late.',
    config: { echo: { framing: 'line' } },
    sim: { read_size: 64, loop: 'blocking' },
    clients: [
      { name: 'client A', script: [{ at: 0, send: 'hello\n' }, { at: 1200, send: 'quit\n' }] },
      { name: 'client B', script: [{ at: 100, send: 'hi\n' }] },
    ],
    expect: [
      { client: 0, got: 'hello\n', eof: true, reason: 'quit word' },
      { client: 1, got: 'hi\n', acceptedAfter: 0, waited: 1000 },
    ],
    server: { cpuAtMost: 1, wouldBlock: 0 },
  },
  {
    key: 'busy',
    title: 'Non-blocking: a busy loop',
    lesson: 'To serve both at once, make every socket non-blocking and ask the listener and each socket "anything yet?" in turn, forever. A and B are served together now, but the thread never sleeps: the CPU meter stays at 100 %, and for every read that returns data, hundreds of thousands return "would block".',
    config: { echo: { framing: 'line' } },
    sim: { read_size: 64, loop: 'busy' },
    clients: TWO_CLIENTS,
    expect: TWO_ECHOED,
    server: { cpuAtLeast: 100, wouldBlockAtLeast: 100_000 },
  },
  {
    key: 'selector',
    title: 'A selector: sleep until ready',
    lesson: 'Register every socket with the kernel (epoll, through mio) and sleep in poll() until one is ready or the core\'s deadline comes. The same two clients are served as promptly, yet the CPU meter stays near 0, no read returns "would block", and only ready sockets are touched. The interest — READABLE, WRITABLE — is read from the core after every drain. This is the loop of reverb serve.',
    config: { echo: { framing: 'line' } },
    sim: { read_size: 64, loop: 'selector' },
    clients: TWO_CLIENTS,
    expect: TWO_ECHOED,
    server: { cpuAtMost: 1, wouldBlock: 0 },
  },
  {
    key: 'tasks',
    title: 'A task per connection',
    lesson: 'Each client gets a task of its own, written like the blocking server — read, echo, write all of it, read again — and run concurrently by a runtime over the same selector: a task that waits only parks itself. Client B stops reading, so its task waits in write_all with B\'s send buffer full, while A\'s and C\'s tasks go on. Each card says what its task awaits.',
    config: { echo: { framing: 'line' } },
    sim: { read_size: 16, tx_cap: 16, loop: 'tasks' },
    clients: [
      { name: 'client A', script: [{ at: 0, send: 'one\n' }, { at: 500, send: 'two\n' }] },
      {
        name: 'client B (slow)',
        script: [
          { at: 0, stop_reading: true },
          { at: 0, send: 'line 01\nline 02\nline 03\nline 04\nline 05\n' },
          { at: 900, resume_reading: true },
        ],
      },
      { name: 'client C', script: [{ at: 100, send: 'alpha\n' }, { at: 600, send: 'beta\n' }] },
    ],
    expect: [
      { client: 0, got: 'one\ntwo\n' },
      { client: 1, got: 'line 01\nline 02\nline 03\nline 04\nline 05\n', awaited: 'write' },
      { client: 2, got: 'alpha\nbeta\n' },
    ],
    server: { cpuAtMost: 1, wouldBlock: 0 },
  },
  {
    key: 'task-error-exit',
    title: 'One error ends the server',
    lesson: 'Tasks again, but main awaits each one and passes its error up with ?. Client B sends the fault word: B\'s task fails, then main, then the process. The kernel closes every socket the process had: A and C read end-of-stream, and D, connecting later, is refused.',
    config: { echo: { framing: 'line', fault_word: 'crash' } },
    sim: { read_size: 16, loop: 'tasks', on_error: 'exit' },
    clients: ONE_FAILS,
    expect: [
      { client: 0, got: 'one\n', eof: true },
      { client: 1, got: '', reset: true, reason: 'fault injected' },
      { client: 2, got: 'alpha\n', eof: true },
      { client: 3, got: '', refused: true },
    ],
    server: { down: true, errors: 1 },
  },
  {
    key: 'task-error',
    title: 'An error stays in its task',
    lesson: 'The same clients; now each task handles its own error: it logs it and ends. B\'s connection is reset — and that is all. A and C go on echoing, the accept loop goes on accepting, and D, connecting after the error, is served. In reverb the core makes this the only way: a connection\'s error is its own release.',
    config: { echo: { framing: 'line', fault_word: 'crash' } },
    sim: { read_size: 16, loop: 'tasks', on_error: 'log' },
    clients: ONE_FAILS,
    expect: [
      { client: 0, got: 'one\ntwo\n' },
      { client: 1, got: '', reset: true, reason: 'fault injected' },
      { client: 2, got: 'alpha\nbeta\n' },
      { client: 3, got: 'hello\n' },
    ],
    server: { down: false, errors: 1 },
  },
  {
    key: 'split',
    title: 'A frame split across reads',
    lesson: 'recv(2): the server reads two bytes at a time, so "hello\\n" arrives as "he", "ll", "o\\n". The core keeps the partial frame until the newline completes it.',
    config: { echo: { framing: 'line', prefix: '> ' } },
    sim: { read_size: 2 },
    clients: [{ name: 'client A', script: [{ at: 0, send: 'hello\n' }] }],
    expect: [{ client: 0, got: '> hello\n', reads: 3 }],
  },
  {
    key: 'three-in-one',
    title: 'Three frames in one read',
    lesson: 'The opposite: three lines written together arrive in one read of 64 bytes, and the core cuts them into three frames.',
    config: { echo: { framing: 'line', prefix: '[', suffix: ']' } },
    sim: { read_size: 64 },
    clients: [{ name: 'client A', script: [{ at: 0, send: 'one\ntwo\nthree\n' }] }],
    expect: [{ client: 0, got: '[one]\n[two]\n[three]\n', reads: 1 }],
  },
  {
    key: 'http-pipelined',
    title: 'HTTP: two pipelined requests split across reads',
    lesson: 'Another application on the same stream shell: the HTTP/1.1 echo of reverb serve -l http://…, which answers each request 200 with the request itself. The client sends two requests back to back without waiting for the first answer; the server reads 16 bytes at a time, so the requests arrive cut anywhere. The layer holds a request until its head is whole, answers it, then the next — in order, whatever the reads.',
    app: { kind: 'http' },
    config: {},
    sim: { read_size: 16, rx_cap: 64, tx_cap: 256, client_read_size: 256 },
    clients: [{ name: 'client A', script: [{ at: 0, send: 'GET /one HTTP/1.1\r\nHost: reverb\r\n\r\nGET /two HTTP/1.1\r\nHost: reverb\r\n\r\n' }] }],
    // Each answer: the status, its headers, and the request as received, byte for byte.
    expect: [{ client: 0, got: 'HTTP/1.1 200 OK\r\nContent-Type: message/http\r\nContent-Length: 35\r\n\r\nGET /one HTTP/1.1\r\nHost: reverb\r\n\r\n' + 'HTTP/1.1 200 OK\r\nContent-Type: message/http\r\nContent-Length: 35\r\n\r\nGET /two HTTP/1.1\r\nHost: reverb\r\n\r\n', reads: 5 }],
  },
  {
    key: 'backpressure',
    title: 'A slow reader and backpressure',
    lesson: 'Client B stops reading. Its kernel buffer fills, writes go short, the core\'s output queue climbs to the high watermark and the core stops reading (READABLE off). Client A is not affected. When B reads again, the queue drains to the low watermark and reading resumes.',
    config: { echo: { framing: 'line', high_watermark: 24, low_watermark: 8 } },
    sim: { read_size: 8, rx_cap: 16, tx_cap: 16 },
    clients: [
      { name: 'client A', script: [{ at: 0, send: 'hi\n' }, { at: 900, send: 'still here\n' }] },
      {
        name: 'client B (slow)',
        script: [
          { at: 0, stop_reading: true },
          { at: 0, send: 'line 01\nline 02\nline 03\nline 04\nline 05\nline 06\nline 07\nline 08\n' },
          { at: 1500, resume_reading: true },
        ],
      },
    ],
    expect: [
      { client: 0, got: 'hi\nstill here\n' },
      { client: 1, got: 'line 01\nline 02\nline 03\nline 04\nline 05\nline 06\nline 07\nline 08\n', paused: true },
    ],
  },
  {
    key: 'half-close',
    title: 'Half-close',
    lesson: 'The client sends "hello\\nbye" and shuts down its write side. The server echoes everything it has, the unfinished "bye" included, then sends its own FIN.',
    config: { echo: { framing: 'line' } },
    sim: { read_size: 4 },
    clients: [{ name: 'client A', script: [{ at: 0, send: 'hello\nbye' }, { at: 0, half_close: true }] }],
    expect: [{ client: 0, got: 'hello\nbye', eof: true }],
  },
  {
    key: 'fault',
    title: 'A fault closes one connection',
    lesson: 'Client B sends the fault word. Its connection fails at once — the socket is reset — while A and C go on echoing.',
    config: { echo: { framing: 'line', fault_word: 'crash' } },
    sim: { read_size: 16 },
    clients: [
      { name: 'client A', script: [{ at: 0, send: 'one\n' }, { at: 400, send: 'two\n' }] },
      { name: 'client B', script: [{ at: 100, send: 'crash\n' }, { at: 400, send: 'after\n' }] },
      { name: 'client C', script: [{ at: 0, send: 'alpha\n' }, { at: 400, send: 'beta\n' }] },
    ],
    expect: [
      { client: 0, got: 'one\ntwo\n' },
      { client: 1, got: '', reset: true },
      { client: 2, got: 'alpha\nbeta\n' },
    ],
  },
  {
    key: 'slowloris',
    title: 'Slowloris cut by the frame timeout',
    lesson: 'Client B sends one byte every 300 ms and never ends its line. The frame timeout (1 s) measures how long a started line may take: the core closes B, while A, which sends whole lines, is fine.',
    config: { echo: { framing: 'line', frame_timeout: 1000 } },
    sim: { read_size: 16 },
    clients: [
      { name: 'client A', script: [{ at: 0, send: 'fast\n' }, { at: 1600, send: 'fast again\n' }] },
      {
        name: 'client B (slowloris)',
        script: ['G', 'E', 'T', ' ', '/', ' ', 'H', 'T'].map((ch, i) => ({ at: i * 300, send: ch })),
      },
    ],
    expect: [
      { client: 0, got: 'fast\nfast again\n' },
      { client: 1, got: '', eof: true, reason: 'frame timeout' },
    ],
  },
  {
    key: 'delay',
    title: 'Faults: delay',
    lesson: 'The fault layer holds each echo 300 ms before it may be written. The output queue keeps it while the delay runs (the faults badge, the held band on the timeline), then it goes out — in the order it was echoed, however the lines were spaced.',
    config: { echo: { framing: 'line' }, faults: { delay: 300 } },
    sim: { read_size: 64 },
    clients: [{ name: 'client A', script: [{ at: 0, send: 'one\n' }, { at: 100, send: 'two\n' }, { at: 150, send: 'three\n' }] }],
    expect: [{ client: 0, got: 'one\ntwo\nthree\n', held: true, late: 300 }],
  },
  {
    key: 'rate',
    title: 'Faults: rate',
    lesson: 'The fault layer paces the echo to 100 B/s: 5 bytes every 50 ms, and its deadline says when the next may go. The output queue drains at that rate, climbs to the high watermark and the core stops reading — backpressure from a slow link, with a client that reads everything at once.',
    config: { echo: { framing: 'line', high_watermark: 24, low_watermark: 8 }, faults: { rate: 100 } },
    sim: { read_size: 8, rx_cap: 16 },
    clients: [{ name: 'client A', script: [{ at: 0, send: 'line 01\nline 02\nline 03\nline 04\nline 05\nline 06\nline 07\nline 08\n' }] }],
    expect: [{ client: 0, got: 'line 01\nline 02\nline 03\nline 04\nline 05\nline 06\nline 07\nline 08\n', paused: true, held: true }],
  },
  {
    key: 'chunk',
    title: 'Faults: chunking',
    lesson: 'recv(2) from the client\'s side: the fault layer offers each echo in pieces of 1 to 3 bytes, each its own write, and the client reads its reply in pieces as they arrive. A client that expects one read per line breaks here; one that reads until the newline does not.',
    config: { echo: { framing: 'line' }, faults: { chunk: { min: 1, max: 3 } } },
    sim: { read_size: 64, jitter: 30 },
    clients: [{ name: 'client A', script: [{ at: 0, send: 'hello, world\n' }, { at: 200, send: 'again\n' }] }],
    expect: [{ client: 0, got: 'hello, world\nagain\n', pieces: 4 }],
  },
  {
    key: 'reset-after',
    title: 'Faults: reset after N bytes',
    lesson: 'The fault layer resets a connection once 20 bytes were echoed to it. Client B is cut in the middle of its third line: it reads the 20 bytes, then "connection reset by peer". Client A has echoed fewer and carries on.',
    config: { echo: { framing: 'line' }, faults: { reset_after: 20 } },
    sim: { read_size: 16 },
    clients: [
      { name: 'client A', script: [{ at: 0, send: 'hi\n' }, { at: 600, send: 'still here\n' }] },
      { name: 'client B', script: [{ at: 100, send: 'line 01\nline 02\nline 03\n' }, { at: 500, send: 'after\n' }] },
    ],
    expect: [
      { client: 0, got: 'hi\nstill here\n' },
      { client: 1, got: 'line 01\nline 02\nline', reset: true, reason: 'injected reset' },
    ],
  },
];

export function presetByKey(key) {
  return PRESETS.find((p) => p.key === key) ?? PRESETS[0];
}

/** The preset after `key` in the journey, or null after the last. */
export function nextPreset(key) {
  const i = PRESETS.findIndex((p) => p.key === key);
  return i >= 0 && i + 1 < PRESETS.length ? PRESETS[i + 1] : null;
}

/** The preset before `key`, or null before the first. */
export function previousPreset(key) {
  const i = PRESETS.findIndex((p) => p.key === key);
  return i > 0 ? PRESETS[i - 1] : null;
}
