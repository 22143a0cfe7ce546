// Live mode: one WebSocket connection to a real `reverb serve -l ws://…`, and the record
// of its traffic — each message sent, the reply that answered it, when, and the latency.
// No wasm and no DOM here: the page passes the browser's WebSocket and clock in, and the
// node tests a fake of both.
//
// Matching replies to messages needs no guessing: a WebSocket listener answers each text
// or binary message with one message of the same type, in order (reverb-ws's crate docs),
// so the n-th reply answers the n-th message still waiting. The exceptions are messages
// whose echo is empty — the quit word, lines held by `collect` mode — which get none;
// a reply with no message left to answer is kept as "unmatched".

/** Where the page looks for a server when the URL names none: next to reverb's 7007. */
export const DEFAULT_LIVE_URL = 'ws://127.0.0.1:7008';

/** Why a connection never opened, or ended, in words: `code` is the close code. */
const CLOSE_WORDS = {
  1000: 'normal closure',
  1001: 'going away (the server is shutting down)',
  1002: 'protocol error',
  1006: 'closed with no close frame',
  1007: 'invalid data',
  1009: 'message too big',
  1011: 'server error',
};

export function closeWords(code) {
  return CLOSE_WORDS[code] ?? 'closed';
}

/** The shell commands that start a server this page can reach at `url`. */
export function startCommands(url) {
  let hostPort = '127.0.0.1:7008';
  try {
    const u = new URL(url);
    hostPort = `${u.hostname}:${u.port || (u.protocol === 'wss:' ? 443 : 80)}`;
  } catch {
    // A URL that does not parse: show the default.
  }
  return [
    'cargo xtask playground --live',
    `cargo run -p reverb -- serve -l ws://${hostPort}`,
  ];
}

/**
 * A live connection. `WebSocket` is the constructor to use, `now()` a clock in ms
 * (`performance.now`), `onChange()` is called after anything changed.
 */
export class LiveConnection {
  constructor({ url, WebSocket, now, onChange = () => {}, name = 'connection' }) {
    this.url = url;
    this.name = name;
    this.now = now;
    this.onChange = onChange;
    /** 'connecting', 'open', 'closed' (it was open) or 'failed' (it never opened). */
    this.state = 'connecting';
    this.startedAt = now();
    this.openedAt = null;
    /** [{no, text, binary, size, sentAt, reply: {text, binary, size, at} | null}] */
    this.messages = [];
    /** Replies with no message left waiting (after `collect` mode, say). */
    this.unmatched = [];
    /** {code, reason, clean, at} once closed. */
    this.closed = null;
    this.error = null;
    let ws;
    try {
      ws = new WebSocket(url);
    } catch (e) {
      // A malformed URL throws at once; say so as a failure to connect.
      this.state = 'failed';
      this.error = String(e.message ?? e);
      return;
    }
    this.ws = ws;
    ws.binaryType = 'arraybuffer';
    ws.onopen = () => {
      this.state = 'open';
      this.openedAt = this.now();
      this.onChange();
    };
    ws.onmessage = (e) => this.received(e.data);
    ws.onerror = () => {
      this.error = this.state === 'connecting' ? 'no server answered' : 'the connection failed';
    };
    ws.onclose = (e) => {
      this.closed = { code: e.code, reason: e.reason, clean: e.wasClean, at: this.now() };
      this.state = this.openedAt === null ? 'failed' : 'closed';
      this.onChange();
    };
  }

  /** Time since the connection opened (or was started), in ms. */
  since(t) {
    return t - (this.openedAt ?? this.startedAt);
  }

  /** Sends `text` as one message (text, or its UTF-8 bytes as binary); false if not open. */
  send(text, { binary = false } = {}) {
    if (this.state !== 'open') return false;
    const bytes = new TextEncoder().encode(text);
    this.ws.send(binary ? bytes.buffer : text);
    this.messages.push({ no: this.messages.length + 1, text, binary, size: bytes.length, sentAt: this.now(), reply: null });
    this.onChange();
    return true;
  }

  received(data) {
    const at = this.now();
    const binary = typeof data !== 'string';
    const text = binary ? new TextDecoder().decode(new Uint8Array(data)) : data;
    const size = binary ? data.byteLength : new TextEncoder().encode(data).length;
    const reply = { text, binary, size, at };
    const waiting = this.messages.find((m) => m.reply === null);
    if (waiting) waiting.reply = reply;
    else this.unmatched.push(reply);
    this.onChange();
  }

  /** Closes the connection (a close frame 1000). */
  close() {
    if (this.ws && (this.state === 'open' || this.state === 'connecting')) this.ws.close(1000, 'bye');
  }

  /** Counts and latencies (ms) of the answered messages. */
  stats() {
    const lat = this.messages.filter((m) => m.reply).map((m) => m.reply.at - m.sentAt).sort((a, b) => a - b);
    const pick = (q) => (lat.length ? lat[Math.min(lat.length - 1, Math.floor(q * lat.length))] : null);
    return {
      sent: this.messages.length,
      received: this.messages.filter((m) => m.reply).length + this.unmatched.length,
      waiting: this.messages.filter((m) => !m.reply).length,
      min: lat.length ? lat[0] : null,
      median: pick(0.5),
      max: lat.length ? lat.at(-1) : null,
    };
  }
}

// ---- the server's own counters, from its admin endpoint ------------------------------------

/**
 * The samples of a Prometheus text exposition (what `reverb serve --admin` answers on
 * `GET /metrics`): `[{name, labels, value}]`, comments and blank lines skipped. Only what
 * the format allows: `name{label="value",…} number`, values with `\"`, `\\` and `\n`.
 */
export function parseMetrics(text) {
  const samples = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels = {};
    for (const l of (m[2] ?? '').matchAll(/([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[l[1]] = l[2].replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c));
    }
    samples.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return samples;
}

/**
 * What live mode shows of the server's counters, summed over its listeners (and over the
 * reasons of the closes): connections open, accepted and closed, bytes received and
 * sent, frames echoed, backpressure pauses, the echoes the server timed and their mean
 * time inside it (ms), and its uptime (s). A counter the exposition lacks is null.
 */
export function serverCounters(samples) {
  const sum = (name) => {
    const found = samples.filter((s) => s.name === name);
    return found.length ? found.reduce((a, s) => a + s.value, 0) : null;
  };
  const timed = sum('reverb_echo_latency_seconds_count');
  const seconds = sum('reverb_echo_latency_seconds_sum');
  return {
    open: sum('reverb_connections_open'),
    accepted: sum('reverb_connections_accepted_total'),
    closed: sum('reverb_connections_closed_total'),
    received: sum('reverb_received_bytes_total'),
    sent: sum('reverb_sent_bytes_total'),
    frames: sum('reverb_frames_echoed_total'),
    pauses: sum('reverb_backpressure_pauses_total'),
    timed,
    meanMs: timed ? (seconds / timed) * 1000 : null,
    uptime: sum('reverb_uptime_seconds'),
  };
}
