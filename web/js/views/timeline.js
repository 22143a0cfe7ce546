// The timeline: one lane per connection, virtual time left to right. Each kind of mark
// has its own shape (and a legend), so colour is never the only way to tell them apart.
// Bands show spans: reading paused by backpressure (the lane's height), and output held by
// the fault layer (a hatched strip along the lane's foot: a delay's from the layer's own
// held and released events, pacing's while its deadline runs).

import { esc } from './html.js';

const KINDS = {
  accept: { shape: 'square', label: 'accepted' },
  cwrite: { shape: 'up', label: 'client write' },
  read: { shape: 'dot', label: 'server read' },
  write: { shape: 'diamond', label: 'server write' },
  cread: { shape: 'down', label: 'client read' },
  event: { shape: 'flag', label: 'core event' },
  timer: { shape: 'ring', label: 'timer fired' },
};

/** The held strip's fill: diagonal hatching, so it reads without its colour. */
const HATCH =
  '<defs><pattern id="held-hatch" width="4" height="4" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="4" height="4" fill="#f3eafc"/><line class="hatch" x1="0" y1="0" x2="0" y2="4"/></pattern></defs>';

const LANE = 40;
const LEFT = 130;
const WIDTH = 1180;

function shape(kind, x, y) {
  switch (KINDS[kind]?.shape) {
    case 'up':
      return `<path class="m-${kind}" d="M${x - 5},${y + 4} L${x},${y - 5} L${x + 5},${y + 4} Z"/>`;
    case 'down':
      return `<path class="m-${kind}" d="M${x - 5},${y - 4} L${x},${y + 5} L${x + 5},${y - 4} Z"/>`;
    case 'diamond':
      return `<path class="m-${kind}" d="M${x},${y - 5} L${x + 5},${y} L${x},${y + 5} L${x - 5},${y} Z"/>`;
    case 'flag':
      return `<path class="m-${kind}" d="M${x},${y + 6} L${x},${y - 7} L${x + 7},${y - 4} L${x},${y - 1}"/>`;
    case 'square':
      return `<rect class="m-${kind}" x="${x - 4}" y="${y - 4}" width="8" height="8"/>`;
    case 'ring':
      // A clock face: its hands say "a deadline passed".
      return `<circle class="m-${kind}" cx="${x}" cy="${y}" r="4.5"/><path class="m-${kind}" d="M${x},${y} L${x},${y - 3} M${x},${y} L${(Number(x) + 2.5).toFixed(1)},${y}"/>`;
    default:
      return `<circle class="m-${kind}" cx="${x}" cy="${y}" r="4"/>`;
  }
}

/** Marks from the tick log: {t, cid, kind, text}. */
function marks(ticks, upto) {
  const out = [];
  for (const t of ticks.slice(0, upto + 1)) {
    if (t.cid !== null && KINDS[t.kind] && (t.n ?? 1) > 0 && !(t.kind === 'accept' && !t.state.conns[t.cid]?.accepted)) out.push({ t: t.t, cid: t.cid, kind: t.kind, text: t.text });
    for (const n of t.notes) {
      if (n.kind === 'write' && n.n > 0) out.push({ t: t.t, cid: n.cid, kind: 'write', text: n.text });
      // A frame queued and output held are shown elsewhere (the frames, the held band):
      // one flag each would bury the others.
      if (n.kind === 'event' && !QUIET.has(n.event)) out.push({ t: t.t, cid: n.cid, kind: 'event', text: n.text });
      if (n.kind === 'release' || n.kind === 'fin') out.push({ t: t.t, cid: n.cid, kind: 'event', text: n.text });
    }
  }
  return out;
}

/** Core events the timeline marks no flag for. */
const QUIET = new Set(['echoed', 'queued', 'held']);

/**
 * Spans where the fault layer held a connection's output: [{cid, from, to, hold, open}].
 * A delay's span is what the layer reports: from output held while none was, to the
 * release that leaves none (or the connection's end). Pacing reports nothing of its own:
 * its span is while its deadline runs, from the recorded state of each tick.
 */
function heldSpans(ticks, upto) {
  const open = new Map();
  const spans = [];
  const start = (cid, hold, t) => {
    if (!open.has(`${cid} ${hold}`)) open.set(`${cid} ${hold}`, { cid, hold, from: t });
  };
  const stop = (cid, hold, t) => {
    const s = open.get(`${cid} ${hold}`);
    if (s) spans.push({ ...s, to: t });
    open.delete(`${cid} ${hold}`);
  };
  for (const t of ticks.slice(0, upto + 1)) {
    for (const n of t.notes) {
      if (n.event === 'held') start(n.cid, 'delay', t.t);
      if ((n.event === 'released' && !n.held) || n.kind === 'release') stop(n.cid, 'delay', t.t);
    }
    for (const c of t.state.conns) {
      if (c.fault?.hold === 'pacing') start(c.cid, 'pacing', t.t);
      else stop(c.cid, 'pacing', t.t);
    }
  }
  const end = ticks[upto]?.t ?? 0;
  for (const s of open.values()) spans.push({ ...s, to: end, open: true });
  return spans;
}

/** Spans where a connection's reading was paused by backpressure: [{cid, from, to}]. */
function pausedSpans(ticks, upto) {
  const open = new Map();
  const spans = [];
  for (const t of ticks.slice(0, upto + 1)) {
    for (const n of t.notes) {
      if (n.event === 'read_paused') open.set(n.cid, t.t);
      if ((n.event === 'read_resumed' || n.kind === 'release') && open.has(n.cid)) {
        spans.push({ cid: n.cid, from: open.get(n.cid), to: t.t });
        open.delete(n.cid);
      }
    }
  }
  const end = ticks[upto]?.t ?? 0;
  for (const [cid, from] of open) spans.push({ cid, from, to: end, open: true });
  return spans;
}

export function renderTimeline(el, ticks, names, current) {
  const ms = marks(ticks, current);
  const end = Math.max(100, ticks.at(-1)?.t ?? 0);
  const x = (t) => LEFT + ((WIDTH - LEFT - 20) * t) / end;
  const height = names.length * LANE + 54;
  const lanes = names
    .map((name, i) => {
      const y = 28 + i * LANE + LANE / 2;
      return `<g><line class="lane" x1="${LEFT}" x2="${WIDTH - 10}" y1="${y}" y2="${y}"/><text class="name" x="6" y="${y + 4}">${esc(name)}</text></g>`;
    })
    .join('');
  const offsets = { accept: 0, cwrite: -9, read: -3, write: 3, cread: 9, event: 0, timer: 0 };
  const dots = ms
    .map((m) => `<g><title>${esc(`${m.t} ms: ${m.text}`)}</title>${shape(m.kind, x(m.t).toFixed(1), 28 + m.cid * LANE + LANE / 2 + offsets[m.kind])}</g>`)
    .join('');
  const bands = pausedSpans(ticks, current)
    .map((p) => {
      const y = 28 + p.cid * LANE + 3;
      const w = Math.max(2, x(p.to) - x(p.from));
      return `<g><title>${esc(`reading paused ${p.from}–${p.open ? 'now' : `${p.to} ms`}`)}</title><rect class="paused" x="${x(p.from).toFixed(1)}" y="${y}" width="${w.toFixed(1)}" height="${LANE - 6}"/><text class="paused-l" x="${(x(p.from) + 4).toFixed(1)}" y="${y + 10}">paused</text></g>`;
    })
    .join('');
  const held = heldSpans(ticks, current);
  const strips = held
    .map((h) => {
      // Along the lane's foot, below the client-read marks.
      const y = 28 + h.cid * LANE + LANE / 2 + 14;
      const w = Math.max(2, x(h.to) - x(h.from));
      return `<g data-held="${h.cid}"><title>${esc(`fault layer (${h.hold}): output held ${h.from}–${h.open ? 'now' : `${h.to} ms`}`)}</title><rect class="held" x="${x(h.from).toFixed(1)}" y="${y}" width="${w.toFixed(1)}" height="5"/></g>`;
    })
    .join('');
  const now = ticks[current]?.t ?? 0;
  const ticksAxis = [0, 0.25, 0.5, 0.75, 1]
    .map((f) => `<text class="axis" x="${x(f * end)}" y="${height - 6}" text-anchor="${f === 1 ? 'end' : f === 0 ? 'start' : 'middle'}">${Math.round(f * end)} ms</text>`)
    .join('');
  const kinds = Object.entries(KINDS);
  const legend =
    kinds.map(([k, v], i) => `<g transform="translate(${LEFT + i * 112},10)">${shape(k, 6, 0)}<text class="legend" x="16" y="4">${v.label}</text></g>`).join('') +
    (held.length ? `<g transform="translate(${LEFT + kinds.length * 112},10)"><rect class="held" x="0" y="-3" width="14" height="6"/><text class="legend" x="18" y="4">output held (delay, pacing)</text></g>` : '');
  el.innerHTML = `<svg viewBox="0 0 ${WIDTH} ${height}" width="100%" role="img" aria-label="Timeline of reads and writes per connection">${HATCH}${legend}${lanes}${bands}${strips}${dots}<line class="now" x1="${x(now)}" x2="${x(now)}" y1="14" y2="${height - 18}"/>${ticksAxis}</svg>`;
}
