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
];

export function presetByKey(key) {
  return PRESETS.find((p) => p.key === key) ?? PRESETS[0];
}
