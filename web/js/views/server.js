// The server panel: which loop drives the core, what its thread is doing right now, and
// what that costs — a CPU meter, the system calls, the reads that returned "would
// block". Renders the recorded `state.server` of a tick (see loops.js); the figures
// are data attributes too, so the tests read the same numbers people see.

import { esc } from './html.js';
import { LOOPS } from '../loops.js';

const count = (n) => n.toLocaleString('en-US');

/** A CPU share in words: "100 %", "0.004 %", "—" before any time has passed. */
export function cpuText(cpu) {
  if (cpu === null || cpu === undefined) return '—';
  if (cpu >= 99.95) return '100 %';
  if (cpu >= 1) return `${cpu.toFixed(1)} %`;
  return `${cpu.toFixed(3)} %`;
}

/** Renders `server` (a tick's `state.server`) into `el`; `names` by connection number. */
export function renderServer(el, server, names) {
  const loop = LOOPS[server.loop];
  const cpu = server.cpu;
  const width = cpu === null ? 0 : Math.max(cpu > 0 ? 1 : 0, Math.min(100, cpu));
  const backlog = server.backlog.map((cid) => names[cid]).join(', ');
  const wb = server.wouldBlock;
  const down = server.down
    ? `<p class="down" role="alert">The process exited at ${server.down.t} ms: ${esc(names[server.down.cid] ?? '')}'s error "${esc(server.down.reason)}" was passed up to main.</p>`
    : '';
  el.innerHTML = `
    <p class="loop-code"><code>${esc(loop.code)}</code> — ${esc(loop.about)}.</p>
    <p class="thread" data-role="thread"><b>Thread:</b> ${esc(server.thread)}</p>
    <div class="cpu${cpu !== null && cpu >= 50 ? ' hot' : ''}" role="meter" aria-label="server thread CPU since start" aria-valuemin="0" aria-valuemax="100" aria-valuenow="${cpu === null ? 0 : cpu.toFixed(3)}" aria-valuetext="${esc(cpuText(cpu))}" data-cpu="${cpu === null ? '' : cpu}">
      <span class="cpu-l">CPU</span><span class="track"><span class="fill" style="width:${width}%"></span></span><b>${esc(cpuText(cpu))}</b>
    </div>
    <dl class="figures">
      <div><dt>system calls</dt><dd data-role="syscalls">${count(server.syscalls)}</dd></div>
      <div title="reads that returned EAGAIN: the socket had nothing"><dt>reads → would block</dt><dd data-role="would-block" data-n="${wb.reads}">${count(wb.reads)}</dd></div>
      ${wb.accepts ? `<div><dt>accepts → would block</dt><dd>${count(wb.accepts)}</dd></div>` : ''}
      ${wb.writes ? `<div><dt>writes → would block</dt><dd>${count(wb.writes)}</dd></div>` : ''}
      ${server.loop === 'busy' ? `<div><dt>passes over every socket</dt><dd>${count(server.passes)}</dd></div>` : `<div title="times the thread woke from a wait to do something"><dt>wakeups</dt><dd>${count(server.wakeups)}</dd></div>`}
      <div><dt>listen backlog</dt><dd data-role="backlog">${backlog ? esc(backlog) : 'empty'}</dd></div>
    </dl>
    ${down}`;
}
