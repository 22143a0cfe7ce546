// One connection, in dataflow order: what the client wrote → the server's receive
// buffer → each read → the core's input with its partial frame → frames → the output
// queue → the server's send buffer → what the client read. Renders a recorded
// connection state (from the shim's tick log); the card's controls call back into main.

import { byteView, gauge, lineEnds } from './bytes.js';
import { esc } from './html.js';
import { printable } from '../shim.js';

/**
 * Creates the card for connection `cid`. `actions` has send(cid, text),
 * setReading(cid, bool), halfClose(cid), abort(cid). Returns {el, render(state)}.
 */
export function connCard(cid, name, actions) {
  const el = document.createElement('article');
  el.className = 'conn';
  el.dataset.cid = String(cid);
  el.setAttribute('aria-label', name);
  el.innerHTML = `
    <header class="conn-head">
      <h3>${esc(name)}</h3>
      <span class="phase" data-role="phase"></span>
      <span class="badges" data-role="badges"></span>
      <div class="ctl">
        <form class="say" data-role="say">
          <label><span class="sr">Line for ${esc(name)}</span><input name="line" autocomplete="off" placeholder="type a line, Enter sends it" maxlength="200"></label>
          <button type="submit">Send</button>
        </form>
        <button type="button" data-role="reading" aria-pressed="false">Stop reading</button>
        <button type="button" data-role="halfclose">Half-close</button>
        <button type="button" data-role="abort" title="Close abruptly (RST)">Remove</button>
      </div>
    </header>
    <div class="stages" data-role="stages"></div>`;
  const $ = (role) => el.querySelector(`[data-role="${role}"]`);
  $('say').addEventListener('submit', (e) => {
    e.preventDefault();
    const input = e.currentTarget.elements.line;
    actions.send(cid, `${input.value}\n`);
    input.value = '';
  });
  $('reading').addEventListener('click', (e) => {
    const stop = e.currentTarget.getAttribute('aria-pressed') !== 'true';
    actions.setReading(cid, !stop);
  });
  $('halfclose').addEventListener('click', () => actions.halfClose(cid));
  $('abort').addEventListener('click', () => actions.abort(cid));

  function render(c) {
    const done = Boolean(c.released) || Boolean(c.refused);
    const waiting = !c.accepted && !done;
    const phase = c.refused
      ? 'refused'
      : c.released
        ? `closed: ${c.released.reason}`
        : waiting
          ? 'in the listen backlog: not accepted yet'
          : c.core?.phase ?? 'open';
    $('phase').textContent = phase;
    $('phase').className = `phase ${(c.released && !c.released.graceful) || c.refused ? 'bad' : waiting ? 'wait' : ''}`;
    const badge = (key, on, text, why) =>
      `<span class="badge ${on ? 'on' : 'off'}" data-badge="${key}" data-on="${on}" title="${esc(why)}">${on ? '●' : '○'} ${text}${on ? '' : ' off'}</span>`;
    let badges = '';
    if (waiting) {
      badges += '<span class="badge warn" data-badge="backlog" title="the kernel completed the handshake; the server has not called accept() for it">not accepted: nobody reads it</span>';
    } else if (!c.refused) {
      badges +=
        badge('readable', c.interest.readable, 'READABLE', 'registered for readability while the core takes input') +
        badge('writable', c.interest.writable, 'WRITABLE', 'registered for writability while output is pending');
    }
    if (c.task) badges += `<span class="badge task${c.released && !c.released.graceful ? ' bad' : ''}" data-badge="task">${esc(c.task)}</span>`;
    if (c.wouldBlock) {
      badges += `<span class="badge warn" data-badge="would-block" data-n="${c.wouldBlock}" title="reads on this socket that returned EAGAIN">asked ${c.wouldBlock.toLocaleString('en-US')}× → would block</span>`;
    }
    if (c.core?.reading_paused) badges += '<span class="badge warn" data-badge="paused">‖ reading paused</span>';
    if (c.blocked) badges += '<span class="badge warn" data-badge="blocked">✕ write blocked</span>';
    if (!c.reading) badges += '<span class="badge warn" data-badge="client-stopped">client not reading</span>';
    const faults = faultWords(c);
    if (faults) badges += `<span class="badge fault" data-badge="faults" title="the fault layer between the echo and the wire (config section faults)">faults: ${esc(faults)}</span>`;
    if (!c.released && c.core) {
      for (const [timer, at] of Object.entries(c.core.deadlines)) {
        if (at !== null && at !== undefined) {
          badges += `<span class="badge timer" data-badge="timer-${timer}" title="running timer: fires at ${at} ms">timer: ${timer.replace('_', ' ')} at ${at} ms</span>`;
        }
      }
    }
    if (c.fault) {
      const what = HOLD[c.fault.hold] ?? 'fault layer';
      badges += `<span class="badge timer fault" data-badge="fault-deadline" title="the fault layer's deadline (the connection's next): the core is ticked then">◷ ${esc(what)} at ${c.fault.at} ms</span>`;
    }
    $('badges').innerHTML = badges;
    const reading = $('reading');
    reading.setAttribute('aria-pressed', String(!c.reading));
    reading.textContent = c.reading ? 'Stop reading' : 'Resume reading';
    for (const role of ['reading', 'halfclose', 'abort']) $(role).disabled = done && role !== 'reading';
    $('halfclose').disabled = done || c.halfClosed;
    el.querySelector('[data-role="say"] button').disabled = done || c.halfClosed;
    el.classList.toggle('closed', done);
    $('stages').innerHTML = stages(c);
  }
  return { el, render };
}

/** The fault layer's deadline, by what it holds output for. */
const HOLD = {
  delay: 'delay: release',
  pacing: 'paced: next bytes',
  'delay and pacing': 'delay/pacing: next',
};

/** The faults that are on, in a few words: `delay 300 ms · reset after 20 B (12 sent)`. */
function faultWords(c) {
  const f = c.faults;
  if (!f) return '';
  const sent = c.core?.counters.bytes_out ?? 0;
  const on = (v) => v !== null && v !== undefined;
  return [
    on(f.delay) && `delay ${f.delay} ms`,
    on(f.jitter) && `jitter ≤ ${f.jitter} ms`,
    on(f.rate) && `${f.rate} B/s`,
    on(f.chunk) && `chunks of ${f.chunk.min}–${f.chunk.max} B`,
    on(f.reset_after) && `reset after ${f.reset_after} B (${Math.min(sent, f.reset_after)} sent)`,
    on(f.close_after) && `close after ${f.close_after} B (${Math.min(sent, f.close_after)} sent)`,
    on(f.fault_chance) && `fault chance ${f.fault_chance} per frame`,
  ]
    .filter(Boolean)
    .join(' · ');
}

/** Where the fault layer holds the output queue, in words, or ''. */
function heldNote(c, out) {
  if (!c.fault || !out.length) return '';
  if (c.fault.hold === 'pacing') return `<p class="note fault-l">paced: the queue drains at the rate; the next bytes may go at ${c.fault.at} ms</p>`;
  return `<p class="note fault-l">held by the fault layer (${esc(c.fault.hold)}) until ${c.fault.at} ms</p>`;
}

/** The HTTP echo's stage 5: it marks no frame ends, so its answers are counted here and shown in the output queue. */
function answered(core) {
  const n = core?.counters.frames ?? 0;
  return `<p class="figure" data-role="answered"><b>${n}</b> request${n === 1 ? '' : 's'} answered</p><p class="note">The HTTP layer marks no frame ends: each answer shows in the output queue (6) and in what the client read (8).</p>`;
}

/** What a frame is, when it is not a plain echo, or dropped before it was written. */
function frameLabel(f) {
  const label = { partial: 'partial line', collected: 'collection', error: 'error line' }[f.kind];
  const words = [label, f.dropped ? 'dropped: the connection failed' : ''].filter(Boolean).join(', ');
  return words ? `<span class="fk fk-${esc(f.kind)}">${esc(words)}</span> ` : '';
}

function stage(n, title, body, note = '') {
  return `<section class="stage" aria-label="${esc(title)}"><h4><b>${n}</b> ${esc(title)}</h4>${body}${note ? `<p class="note">${note}</p>` : ''}</section>`;
}

/** `collect` framing: the echo the core holds until the quit word. */
function collected(core, app) {
  // The HTTP echo reports collect-like bounds (a request held whole), but no quit word.
  if (!core || core.framing !== 'collect' || app !== 'echo') return '';
  const held = core.collected;
  return `<p class="note">collected, held until the quit word (${held.length} B):</p>${byteView(held, { frameEnds: lineEnds(held), label: 'collected echo', stage: 'collected' })}`;
}

function stages(c) {
  const wrote = [...c.wrote, ...c.pending];
  const core = c.core;
  const partialLen = core?.partial_len ?? 0;
  const input = core?.input ?? [];
  const out = core?.output ?? [];
  const rxNote = [c.rx.fin ? 'FIN arrived' : '', c.rx.fin_in_flight ? 'FIN in flight' : '', c.rx.rst ? 'RST' : ''].filter(Boolean).join(' · ');
  const txNote = [c.tx.fin ? 'FIN arrived' : '', c.tx.fin_in_flight ? 'FIN in flight' : '', c.tx.rst ? 'RST' : ''].filter(Boolean).join(' · ');
  const reads = c.reads.length
    ? `<ol class="reads">${c.reads
        .slice(-4)
        .map((r) => `<li><span class="rl">read ${r.n} of ${r.of}</span> <code>${esc(r.n ? printable(r.bytes, 12) : 'EOF')}</code></li>`)
        .join('')}</ol>`
    : c.accepted
      ? '<p class="empty">no read yet</p>'
      : '<p class="empty">no read: the server has not accepted this connection</p>';
  // Each frame as the core reported it queued: an echo shows its bytes alone; another
  // kind (a flushed partial line, the collection, an error line) says what it is.
  const frames = c.frames.length
    ? `<ol class="frames">${c.frames
        .slice(-4)
        .map((f) => `<li data-frame="${esc(f.kind)}"${f.dropped ? ' data-dropped="true"' : ''}>${frameLabel(f)}<code>${esc(f.dropped ? `${f.len} B` : printable(f.bytes, 16))}</code></li>`)
        .join('')}</ol>`
    : '<p class="empty">no frame yet</p>';
  const clientEnd = c.refused
    ? `<p class="note bad">${esc(c.refused)}</p>`
    : c.reset
      ? '<p class="note bad">connection reset by peer</p>'
      : c.eof
        ? '<p class="note">end-of-stream (server FIN)</p>'
        : '';
  // Each write of the server and each read of the client: chunking shows as small writes
  // on one side and small reads on the other.
  const writes = c.writes.length
    ? `<ol class="reads" data-role="writes">${c.writes
        .slice(-3)
        .map((w) => `<li><span class="rl">write ${w.n} of ${w.of}</span> ${w.n ? `<code>${esc(printable(w.bytes, 12))}</code>` : 'socket full'}</li>`)
        .join('')}</ol>`
    : '';
  const creads = c.creads.length
    ? `<ol class="reads" data-role="creads">${c.creads
        .slice(-3)
        .map((r) => `<li><span class="rl">${r.reset ? 'RST' : r.n ? `read ${r.n} B` : 'read 0: EOF'}</span> ${r.n ? `<code>${esc(printable(r.bytes, 12))}</code>` : ''}</li>`)
        .join('')}</ol>`
    : '';
  const partial = partialLen ? `partial frame: ${partialLen} B, waiting for its newline` : '';
  const coreCap = core ? `<p class="note">takes ${core.receive_capacity > 1e9 ? 'anything (lingering: discarded)' : `${core.receive_capacity} B`} now</p>` : '';
  return `
  <div class="row" aria-label="client to server">
    ${stage(1, 'client wrote', byteView(wrote, { frameEnds: lineEnds(wrote), pendingFrom: c.wrote.length, label: 'client wrote', stage: 'wrote' }), c.pending.length ? `<span class="pend">${c.pending.length} B not yet taken by the kernel</span>` : c.halfClosed ? 'write side shut (FIN)' : '')}
    <span class="arrow" aria-hidden="true">→</span>
    ${stage(2, 'kernel receive buffer', gauge({ used: c.rx.buf.length, inflight: c.rx.inflight, cap: c.rx.cap, label: 'receive buffer' }) + byteView(c.rx.buf, { label: 'receive buffer', stage: 'rx' }), rxNote)}
    <span class="arrow" aria-hidden="true">→</span>
    ${stage(3, 'reads', reads)}
    <span class="arrow" aria-hidden="true">→</span>
    ${stage(4, 'core input', (core ? gauge({ used: input.length, cap: core.input_capacity, label: 'core input buffer' }) : '') + byteView(input, { partialFrom: partialLen ? input.length - partialLen : null, frameEnds: lineEnds(input), label: 'core input', stage: 'input' }), (partial ? `<span class="partial-l">${partial}</span>` : '') + coreCap + collected(core, c.app))}
  </div>
  <div class="row" aria-label="server to client">
    ${c.app === 'http' ? stage(5, 'requests answered', answered(core)) : stage(5, 'frames echoed', frames, core ? `${core.counters.frames} frame${core.counters.frames === 1 ? '' : 's'} so far` : '')}
    <span class="arrow" aria-hidden="true">→</span>
    ${stage(6, 'core output queue', (core ? gauge({ used: out.length, cap: Math.max(core.high_watermark + core.low_watermark, out.length), low: core.low_watermark, high: core.high_watermark, label: 'output queue' }) : '') + byteView(out, { frameEnds: core?.frame_ends ?? [], label: 'output queue', stage: 'output' }), heldNote(c, out))}
    <span class="arrow" aria-hidden="true">→</span>
    ${stage(7, 'kernel send buffer', gauge({ used: c.tx.buf.length, inflight: c.tx.inflight, cap: c.tx.cap, label: 'send buffer' }) + writes + byteView(c.tx.buf, { label: 'send buffer', stage: 'tx' }), txNote)}
    <span class="arrow" aria-hidden="true">→</span>
    ${stage(8, 'client read', creads + byteView(c.got, { frameEnds: lineEnds(c.got), cuts: c.cuts, label: 'client read', stage: 'got' }), clientEnd)}
  </div>`;
}
