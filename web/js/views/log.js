// The event log: one entry per tick, with the notes the drain produced. Clicking an
// entry shows the whole page as it was at that tick.

import { esc } from './html.js';

const SHOW = 300;

export function renderLog(ol, ticks, names, current, onPick) {
  const from = Math.max(0, ticks.length - SHOW);
  let html = '';
  for (let i = from; i < ticks.length; i++) {
    const t = ticks[i];
    const who = t.cid === null || t.cid === undefined ? 'server' : names[t.cid] ?? '';
    const notes = t.notes.map((n) => `<li class="k-${esc(n.event ?? n.kind)}">${esc(n.text)}</li>`).join('');
    html += `<li class="tick k-${esc(t.kind)}${i === current ? ' cur' : ''}" data-i="${i}"><button type="button" class="t" title="show the page at this moment"><time>${t.t} ms</time> <b>${esc(who)}</b></button> ${esc(t.text)}${notes ? `<ul>${notes}</ul>` : ''}</li>`;
  }
  ol.innerHTML = html;
  ol.onclick = (e) => {
    const li = e.target.closest('li.tick');
    if (li && e.target.closest('button')) onPick(Number(li.dataset.i));
  };
  const cur = ol.querySelector('.cur') ?? ol.lastElementChild;
  if (cur) ol.scrollTop = cur.offsetTop - ol.clientHeight + cur.offsetHeight + 8;
}
