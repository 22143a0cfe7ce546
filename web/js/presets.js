// Presets: each one teaches one thing. A preset is data — a core config (by section, with
// the core's names: see wasm/src/lib.rs), the shim's parameters and scripted clients —
// plus `expect`, what its run must show (the browser and node tests check it, so a preset
// that stops teaching its lesson fails CI).

export const PRESETS = [
  {
    key: 'one-line',
    title: 'One line',
    lesson: 'A client types "hello"; the line travels through both kernels and the core and comes back.',
    config: { echo: { framing: 'line' } },
    sim: { read_size: 64 },
    clients: [{ name: 'client A', script: [{ at: 0, send: 'hello\n' }] }],
    expect: [{ client: 0, got: 'hello\n' }],
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
