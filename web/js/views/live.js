// Live mode's page: connection cards over LiveConnection (live.js), each with its
// messages — what was sent, the reply, when, the latency — and the help that says how to
// start a server when none answers. Only the parts that change are redrawn, so typing in
// a card's field is never interrupted by a reply arriving.

import { esc } from './html.js';
import { LiveConnection, DEFAULT_LIVE_URL, closeWords, parseMetrics, serverCounters, startCommands } from '../live.js';

/** How often the server's counters are read again, in ms. */
const COUNTERS_EVERY = 1000;
/** How many messages "send a burst" sends at once. */
const BURST = 10;
/** Rows a card shows; older ones are counted above the table. */
const SHOW = 50;

const $ = (id) => document.getElementById(id);
const ms = (v) => (v === null || v === undefined ? '—' : `${v.toFixed(1)} ms`);

/** A message as text, quoted, its control characters escaped, cut at 60 characters. */
function shown(text) {
  const cut = text.length > 60 ? `${text.slice(0, 60)}…` : text;
  return JSON.stringify(cut);
}

let conns = [];
let counter = 0;

/**
 * Starts live mode: the server's URL is `given` (from `?live=`), else what the playground
 * server says it started (`live.json`, from `cargo xtask playground --live`), else the
 * default. Connects at once. When the playground server also passes on that server's
 * admin endpoint (`metrics` in `live.json`), its counters are shown beside the cards.
 */
export async function startLive(given) {
  const announce = await announced();
  const url = given || announce?.url || DEFAULT_LIVE_URL;
  $('live-url').value = url;
  $('live-connect').addEventListener('submit', (e) => {
    e.preventDefault();
    for (const c of conns) c.live.close();
    conns = [];
    $('live-conns').replaceChildren();
    connect($('live-url').value.trim());
  });
  $('live-add').addEventListener('click', () => connect($('live-url').value.trim()));
  connect(url);
  // The counters are those of the server the playground started: shown only while the
  // page talks to that one.
  if (announce?.metrics && announce.url === url) watchCounters(announce.metrics);
}

/** What `cargo xtask playground --live` serves as live.json — {url, metrics} — or null. */
async function announced() {
  try {
    const res = await fetch('live.json', { cache: 'no-store' });
    if (!res.ok) return null;
    const body = await res.json();
    if (typeof body.url !== 'string') return null;
    return { url: body.url, metrics: typeof body.metrics === 'string' ? body.metrics : null };
  } catch {
    return null;
  }
}

/** Reads the server's `/metrics` (through the playground server) now and every second. */
function watchCounters(path) {
  const el = $('live-counters');
  const read = async () => {
    try {
      const res = await fetch(path, { cache: 'no-store' });
      if (!res.ok) throw new Error(`${res.status} ${res.statusText}`);
      el.innerHTML = countersTable(serverCounters(parseMetrics(await res.text())));
      el.dataset.state = 'read';
    } catch (e) {
      el.innerHTML = `<p class="note">The server's admin endpoint did not answer (${esc(String(e.message ?? e))}); it is read again every second.</p>`;
      el.dataset.state = 'failed';
    }
  };
  read();
  setInterval(read, COUNTERS_EVERY);
}

const bytes = (n) => (n === null ? '—' : n < 10_000 ? `${n} B` : `${(n / 1024).toFixed(1)} KiB`);
const count = (n) => (n === null ? '—' : String(n));

function countersTable(c) {
  const row = (role, name, value, what) =>
    `<tr><th scope="row">${name}</th><td data-role="${role}">${value}</td><td class="note">${what}</td></tr>`;
  return `<table class="server-counters"><caption class="sr">The server's own counters, from its /metrics</caption><tbody>
    ${row('open', 'open', count(c.open), 'connections now, all listeners')}
    ${row('accepted', 'accepted', count(c.accepted), 'connections since it started')}
    ${row('closed', 'closed', count(c.closed), 'for any reason')}
    ${row('received', 'received', bytes(c.received), 'wire bytes, WebSocket framing included')}
    ${row('sent', 'sent', bytes(c.sent), 'wire bytes')}
    ${row('frames', 'frames echoed', count(c.frames), 'lines, or messages in raw mode')}
    ${row('pauses', 'read paused', count(c.pauses), 'backpressure: a client not reading')}
    ${row('mean', 'time inside', c.meanMs === null ? '—' : `${c.meanMs.toFixed(3)} ms`, `mean over ${count(c.timed)} writes, read to written`)}
    ${row('uptime', 'uptime', c.uptime === null ? '—' : `${c.uptime.toFixed(0)} s`, '')}
  </tbody></table><p class="note">Read from <code>reverb serve --admin</code>'s <code>/metrics</code> every second: the server's view, beside what this page measures itself on the left.</p>`;
}

function connect(url) {
  counter += 1;
  history.replaceState(null, '', `?live=${encodeURIComponent(url)}`);
  const card = liveCard(`connection ${counter}`);
  const live = new LiveConnection({
    url,
    name: `connection ${counter}`,
    WebSocket: window.WebSocket,
    now: () => performance.now(),
    onChange: () => {
      card.render(live);
      help();
    },
  });
  conns.push({ live, card });
  $('live-conns').append(card.el);
  card.render(live);
  help();
}

/** The help line: connecting, connected, closed — or, when no server answered, how to start one. */
function help() {
  const el = $('live-help');
  const last = conns.at(-1)?.live;
  if (!last) {
    el.innerHTML = '';
    return;
  }
  el.dataset.state = last.state;
  if (last.state === 'failed') {
    const [both, own] = startCommands(last.url);
    el.innerHTML = `<p><b>No server answered at <code>${esc(last.url)}</code>.</b> Start one, then press Connect:</p>
      <pre><code>${esc(both)}</code></pre><p class="note">builds and starts <code>reverb serve</code> and this page together, and prints the page's address; or a server of your own:</p>
      <pre><code>${esc(own)}</code></pre><p class="note">add <code>--delay 200ms</code>, <code>--rate 1KiB/s</code> or <code>--prefix '&gt; '</code> to that line and watch the replies and their latency change.</p>`;
  } else if (last.state === 'connecting') {
    el.innerHTML = `<p>Connecting to <code>${esc(last.url)}</code>…</p>`;
  } else if (last.state === 'open') {
    el.innerHTML = `<p>Connected to <code>${esc(last.url)}</code>: type a message into a connection and press Enter.</p>`;
  } else {
    const c = last.closed;
    el.innerHTML = `<p>The connection to <code>${esc(last.url)}</code> closed: ${c.code} ${esc(c.reason || closeWords(c.code))}. Press Connect to open a new one.</p>`;
  }
}

function liveCard(name) {
  const el = document.createElement('article');
  el.className = 'conn live-conn';
  el.setAttribute('aria-label', name);
  el.innerHTML = `
    <header class="conn-head">
      <h3>${esc(name)}</h3>
      <span class="phase" data-role="state"></span>
      <div class="ctl">
        <form class="say" data-role="say">
          <label><span class="sr">Message for ${esc(name)}</span><input name="line" autocomplete="off" placeholder="a message, Enter sends it" maxlength="2000"></label>
          <label class="bin"><input type="checkbox" name="binary"> binary</label>
          <button type="submit">Send</button>
        </form>
        <button type="button" data-role="burst" title="${BURST} messages at once: see them queue">Send ${BURST} at once</button>
        <button type="button" data-role="close">Close</button>
      </div>
    </header>
    <p class="live-stats" data-role="stats"></p>
    <div data-role="rows"></div>`;
  const q = (role) => el.querySelector(`[data-role="${role}"]`);
  let live = null;
  q('say').addEventListener('submit', (e) => {
    e.preventDefault();
    const form = e.currentTarget;
    if (live?.send(form.elements.line.value, { binary: form.elements.binary.checked })) form.elements.line.value = '';
  });
  q('burst').addEventListener('click', () => {
    const base = q('say').elements.line.value || 'ping';
    for (let i = 1; i <= BURST; i++) live?.send(`${base} ${i}`, { binary: q('say').elements.binary.checked });
  });
  q('close').addEventListener('click', () => live?.close());

  function render(l) {
    live = l;
    const state = q('state');
    state.textContent = stateWords(l);
    state.className = `phase ${l.state === 'failed' ? 'bad' : ''}`;
    el.dataset.state = l.state;
    const open = l.state === 'open';
    for (const b of el.querySelectorAll('.ctl button, .ctl input')) b.disabled = !open;
    const s = l.stats();
    q('stats').innerHTML = `sent <b data-role="sent">${s.sent}</b> · received <b data-role="received">${s.received}</b>${s.waiting ? ` · waiting <b>${s.waiting}</b>` : ''} · latency min <b>${ms(s.min)}</b> / median <b>${ms(s.median)}</b> / max <b>${ms(s.max)}</b>`;
    q('rows').innerHTML = table(l);
  }
  return { el, render };
}

function stateWords(l) {
  switch (l.state) {
    case 'connecting':
      return `connecting to ${l.url}`;
    case 'open':
      return `open · ${l.url}`;
    case 'failed':
      return `no server at ${l.url}${l.error && l.error !== 'no server answered' ? ` (${l.error})` : ''}`;
    default:
      return `closed: ${l.closed.code} ${l.closed.reason || closeWords(l.closed.code)}`;
  }
}

function table(l) {
  const rows = l.messages.slice(-SHOW);
  const older = l.messages.length - rows.length;
  const t = (at) => `${l.since(at).toFixed(1)} ms`;
  const kind = (m) => (m.binary ? ' <span class="tag">binary</span>' : '');
  const body = rows
    .map((m) => {
      const r = m.reply;
      const reply = r
        ? `<td data-role="reply"><code>${esc(shown(r.text))}</code>${kind(r)}</td><td>${t(r.at)}</td><td data-role="latency" data-ms="${(r.at - m.sentAt).toFixed(3)}">${ms(r.at - m.sentAt)}</td>`
        : `<td data-role="reply" class="empty" colspan="3">${l.state === 'open' ? 'waiting…' : 'no reply'}</td>`;
      return `<tr data-no="${m.no}"><td>${m.no}</td><td data-role="sent"><code>${esc(shown(m.text))}</code>${kind(m)}</td><td>${t(m.sentAt)}</td>${reply}</tr>`;
    })
    .join('');
  const extra = l.unmatched
    .map((r) => `<tr class="unmatched"><td>—</td><td class="empty">(no message waiting)</td><td></td><td><code>${esc(shown(r.text))}</code>${kind(r)}</td><td>${t(r.at)}</td><td></td></tr>`)
    .join('');
  const close = l.closed && l.openedAt !== null
    ? `<tr class="closed"><td colspan="6">${t(l.closed.at)}: closed ${l.closed.code} ${esc(l.closed.reason || closeWords(l.closed.code))}${l.closed.clean ? '' : ' (not cleanly)'}</td></tr>`
    : '';
  if (!l.messages.length && !extra && !close) return '<p class="empty">no message yet</p>';
  return `${older ? `<p class="note">${older} older messages not shown</p>` : ''}<table class="msgs">
    <caption class="sr">Messages sent on ${esc(l.name)} and their replies</caption>
    <thead><tr><th scope="col">#</th><th scope="col">sent</th><th scope="col">at</th><th scope="col">reply</th><th scope="col">at</th><th scope="col">latency</th></tr></thead>
    <tbody>${body}${extra}${close}</tbody></table>`;
}
