// The page: reads the scenario from the URL, runs the shim over the engine, and renders
// the recorded tick the user is looking at (the latest, or one picked in the log). The
// views only ever see recorded, plain state.

import { Simulation, toBytes, printable } from './shim.js';
import { PRESETS, presetByKey } from './presets.js';
import { decode, encode } from './url.js';
import { mergeConfig } from './fields.js';
import { connCard } from './views/conn.js';
import { renderLog } from './views/log.js';
import { renderTimeline } from './views/timeline.js';
import { renderConfig } from './views/config.js';

/** Base pause between steps while playing, divided by the speed. */
const STEP_MS = 450;
/** "Run to end" stops after this many steps even if something is still going on. */
const FINISH_BOUND = 5000;

const $ = (id) => document.getElementById(id);

let engineApi;
let scenario;
let sim;
let cards = new Map();
/** Index into sim.ticks being shown, or null for "the latest". */
let viewing = null;
let timer = null;

async function boot() {
  try {
    // Imported here, not statically: without web/pkg/ the page still says what is missing.
    const { loadEngine } = await import('./engine.js');
    engineApi = await loadEngine();
  } catch (e) {
    $('status').textContent = `Could not load the WebAssembly core: ${e.message}. Run \`cargo xtask web\` first.`;
    return;
  }
  scenario = decode(location.search, engineApi.defaults);
  $('preset').innerHTML = PRESETS.map((p) => `<option value="${p.key}">${p.title}</option>`).join('');
  wireControls();
  start();
  document.documentElement.dataset.ready = 'true';
}

function effective() {
  const p = presetByKey(scenario.preset);
  return { preset: p, config: mergeConfig(p.config, scenario.config), sim: { ...p.sim, ...scenario.sim } };
}

/** (Re)starts the scenario; returns the core's complaint about the config, if any. */
function start() {
  pause();
  const { preset, config, sim: simParams } = effective();
  let next;
  try {
    next = new Simulation({ createEngine: engineApi.createEngine, config, sim: simParams, seed: scenario.seed, clients: preset.clients });
  } catch (e) {
    return String(e.message ?? e);
  }
  sim = next;
  window.playground = { sim };
  viewing = null;
  cards = new Map();
  $('conns').replaceChildren();
  $('preset').value = preset.key;
  $('seed').value = String(scenario.seed);
  $('lesson').innerHTML = `<b>${preset.title}.</b> ${preset.lesson}`;
  renderConfig($('config'), { config, sim: sim.sim, defaults: engineApi.defaults }, apply);
  history.replaceState(null, '', encode(scenario, engineApi.defaults));
  $('status').textContent = 'Ready. Press Play or Step.';
  render();
  return null;
}

function apply({ config, sim: simParams }) {
  const previous = scenario;
  scenario = { ...scenario, config, sim: simParams };
  const error = start();
  if (error) scenario = previous;
  return error;
}

// ---- driving the simulation --------------------------------------------------------------

function stepOnce() {
  viewing = null;
  const tick = sim.step();
  if (!tick) {
    pause();
    $('status').textContent = 'Nothing left to happen. Type a line into a client, or add one.';
  } else {
    $('status').textContent = `${tick.t} ms: ${tick.text}`;
  }
  render();
  return tick;
}

function play() {
  if (timer !== null) return;
  $('play').setAttribute('aria-pressed', 'true');
  $('play').textContent = 'Pause ‖';
  const loop = () => {
    if (!stepOnce()) return;
    timer = setTimeout(loop, STEP_MS / Number($('speed').value));
  };
  timer = setTimeout(loop, 0);
}

function pause() {
  if (timer !== null) clearTimeout(timer);
  timer = null;
  $('play').setAttribute('aria-pressed', 'false');
  $('play').textContent = 'Play ▶';
}

/** A user's command on a client: applied now and recorded as a tick of its own. */
function command(cid, text, fn) {
  viewing = null;
  fn();
  sim.record({ kind: 'user', cid, text });
  render();
}

const actions = {
  send: (cid, line) =>
    command(cid, `${sim.conns[cid].name} types ${printable(toBytes(line))}`, () => sim.send(cid, line)),
  setReading: (cid, on) =>
    command(cid, `${sim.conns[cid].name} ${on ? 'reads again' : 'stops reading'}`, () => sim.setReading(cid, on)),
  halfClose: (cid) => command(cid, `${sim.conns[cid].name} will half-close`, () => sim.halfClose(cid)),
  abort: (cid) => command(cid, `${sim.conns[cid].name} is removed (RST)`, () => sim.abort(cid)),
};

function wireControls() {
  $('step').addEventListener('click', () => {
    pause();
    stepOnce();
  });
  $('play').addEventListener('click', () => (timer === null ? play() : pause()));
  $('finish').addEventListener('click', () => {
    pause();
    viewing = null;
    const n = sim.run(FINISH_BOUND);
    $('status').textContent = sim.idle() ? `Ran ${n} steps; nothing left to happen.` : `Ran ${n} steps; still going.`;
    render();
  });
  $('reset').addEventListener('click', () => start());
  $('preset').addEventListener('change', (e) => {
    scenario = { preset: e.target.value, seed: scenario.seed, config: {}, sim: {} };
    start();
  });
  $('seed').addEventListener('change', (e) => {
    scenario = { ...scenario, seed: Number.parseInt(e.target.value, 10) >>> 0 };
    start();
  });
  $('add').addEventListener('click', () => {
    viewing = null;
    sim.addClient({});
    render();
  });
  document.addEventListener('keydown', (e) => {
    // Typing goes to the field; Space on a button presses that button.
    if (e.target.closest('input, select, textarea')) return;
    if (e.key === ' ' && e.target.closest('button, summary')) return;
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === ' ') {
      e.preventDefault();
      if (timer === null) play();
      else pause();
    } else if (e.key === 'ArrowRight' || e.key === 'n') {
      pause();
      stepOnce();
    } else if (e.key === 'r') {
      start();
    }
  });
}

// ---- rendering a tick --------------------------------------------------------------------

function render() {
  const ticks = sim.ticks;
  const index = viewing ?? ticks.length - 1;
  const tick = ticks[index];
  const state = tick.state;
  for (const c of state.conns) {
    if (!cards.has(c.cid)) {
      const card = connCard(c.cid, c.name, actions);
      cards.set(c.cid, card);
      $('conns').append(card.el);
    }
    cards.get(c.cid).render(c);
  }
  // A connection added after the tick being shown did not exist yet.
  for (const [cid, card] of cards) card.el.hidden = !state.conns.some((c) => c.cid === cid);
  $('clock').textContent = `t = ${state.t} ms · step ${tick.no}`;
  const names = state.conns.map((c) => c.name);
  renderLog($('log'), ticks, names, index, (i) => {
    pause();
    viewing = i === ticks.length - 1 ? null : i;
    render();
  });
  renderTimeline($('timeline'), ticks, names, index);
  const k = state.counters;
  $('counters').innerHTML = [
    ['open', k.active],
    ['accepted', k.accepted],
    ['closed', k.closed],
    ['graceful', k.graceful],
    ['faults', k.faults],
    ['timeouts', k.timeouts],
    ['resets', k.resets],
    ['bytes in', k.bytes_in],
    ['bytes out', k.bytes_out],
    ['frames', k.frames],
  ]
    .map(([name, v]) => `<div><dt>${name}</dt><dd>${v}</dd></div>`)
    .join('');
  const banner = $('viewing');
  banner.hidden = viewing === null;
  if (viewing !== null) {
    banner.innerHTML = `Showing step ${tick.no} (t = ${tick.t} ms), not the latest. <button type="button" id="live">Back to now</button>`;
    $('live').onclick = () => {
      viewing = null;
      render();
    };
  }
}

boot();
