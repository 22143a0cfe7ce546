// Byte views: each byte as its character over its hex code; frames in alternating
// tints with a bar at each frame end; the incomplete tail dashed and labelled; and
// capacity gauges with their watermarks. Shape and text carry every meaning the colours
// do, so nothing depends on telling colours apart.

import { esc, glyph, hex, bytesText } from './html.js';

/** How many bytes a view shows; older ones are summarised. */
const SHOW = 40;

/**
 * `frameEnds`: offsets where frames end (exclusive); `partialFrom`: where the
 * incomplete tail starts (or null); `pendingFrom`: bytes from here are not yet sent;
 * `cuts`: offsets where a read ended (a gap with a dotted line).
 */
export function byteView(bytes, { frameEnds = [], partialFrom = null, pendingFrom = null, cuts = [], label = '', stage = '' } = {}) {
  const skip = Math.max(0, bytes.length - SHOW);
  const ends = new Set(frameEnds);
  const cut = new Set(cuts);
  let frame = 0;
  let cells = '';
  for (let i = 0; i < bytes.length; i++) {
    if (ends.has(i)) frame++;
    if (i < skip) continue;
    const classes = ['b', `f${frame % 2}`];
    if (ends.has(i + 1)) classes.push('end');
    if (cut.has(i + 1) && i + 1 < bytes.length) classes.push('cut');
    if (partialFrom !== null && i >= partialFrom) classes.push('partial');
    if (pendingFrom !== null && i >= pendingFrom) classes.push('pending');
    const b = bytes[i];
    cells += `<span class="${classes.join(' ')}" title="0x${hex(b)}"><i>${esc(glyph(b))}</i><s>${hex(b)}</s></span>`;
  }
  const more = skip ? `<span class="more">…${skip} B before</span>` : '';
  const empty = bytes.length ? '' : '<span class="empty">empty</span>';
  return `<div class="bytes" data-stage="${esc(stage)}" data-text="${esc(bytesText(bytes))}" aria-label="${esc(label)}: ${esc(JSON.stringify(bytesText(bytes)))}">${more}${cells}${empty}</div>`;
}

/**
 * A capacity gauge: `used` of `cap`, with optional `inflight` (on its way, holding room)
 * and watermarks `{low, high}`.
 */
export function gauge({ used, cap, inflight = 0, low = null, high = null, label }) {
  const scale = Math.max(cap, used + inflight, 1);
  const pct = (n) => `${Math.min(100, (100 * n) / scale).toFixed(1)}%`;
  const marks = [];
  if (low !== null) marks.push(`<span class="mark low" style="left:${pct(low)}" title="low watermark ${low} B">low</span>`);
  if (high !== null) marks.push(`<span class="mark high" style="left:${pct(high)}" title="high watermark ${high} B">high</span>`);
  const over = high !== null && used >= high;
  const text =
    high !== null
      ? `${used} B queued · low ${low} · high ${high}`
      : `${used}${inflight ? ` + ${inflight} in flight` : ''} / ${cap} B`;
  return `<div class="gauge${over ? ' over' : ''}" role="meter" aria-label="${esc(label)}" aria-valuemin="0" aria-valuemax="${cap}" aria-valuenow="${used}" aria-valuetext="${esc(text)}">
    <div class="track"><span class="fill" style="width:${pct(used)}"></span><span class="flight" style="left:${pct(used)};width:${pct(inflight)}"></span>${marks.join('')}</div>
    <div class="gtext">${esc(text)}${over ? ' · at high watermark' : ''}</div>
  </div>`;
}

/** Frame ends of a byte stream cut at newlines (for the clients' side, which has no core). */
export function lineEnds(bytes) {
  const ends = [];
  bytes.forEach((b, i) => {
    if (b === 10) ends.push(i + 1);
  });
  return ends;
}
