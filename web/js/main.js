// The page: reads the scenario from the URL, runs the shim over the engine, and renders
// the recorded tick the user is looking at (the latest, or one picked in the log). The
// views only ever see recorded, plain state. With `?live` in the URL, the page is live
// mode instead (views/live.js): a real server over WebSocket, and no wasm at all.

import { Simulation, SIM_DEFAULTS, toBytes, printable } from './shim.js';
import { PRESETS, presetByKey, nextPreset, previousPreset } from './presets.js';
import { LOOPS, ON_ERROR } from './loops.js';
import { renderServer } from './views/server.js';
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
  const live = new URLSearchParams(location.search);
  document.body.dataset.mode = live.has('live') ? 'live' : 'sim';
  $(live.has('live') ? 'mode-live' : 'mode-sim').setAttribute('aria-current', 'page');
  if (live.has('live')) {
    const { startLive } = await import('./views/live.js');
    await startLive(live.get('live'));
    document.documentElement.dataset.ready = 'true';
    return;
  }
  try {
    // Imported here, not statically: without web/pkg/ the page still says what is missing.
    const { loadEngine } = await import('./engine.js');
    engineApi = await loadEngine();
  } catch (e) {
    $('status').textContent = `Could not load the WebAssembly core: ${e.message}. Run \`cargo xtask web\` first.`;
    return;
  }
  scenario = decode(location.search, engineApi.defaults);
  $('preset').innerHTML = PRESETS.map((p, i) => `<option value="${p.key}">${i + 1}. ${p.title}</option>`).join('');
  $('loop').innerHTML = Object.entries(LOOPS).map(([key, l]) => `<option value="${key}">${l.title}</option>`).join('');
  $('on-error').innerHTML = Object.entries(ON_ERROR).map(([key, words]) => `<option value="${key}">${words}</option>`).join('');
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
    next = new Simulation({ createEngine: engineApi.createEngine, config, sim: simParams, seed: scenario.seed, clients: preset.clients, app: preset.app });
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
  $('loop').value = sim.sim.loop;
  $('on-error').value = sim.sim.on_error;
  $('lesson').innerHTML = `<b>${preset.title}.</b> ${preset.lesson}`;
  journey(preset);
  renderConfig($('config'), { config, sim: sim.sim, defaults: engineApi.defaults }, apply);
  history.replaceState(null, '', encode(scenario, engineApi.defaults));
  $('status').textContent = 'Ready. Press Play or Step.';
  render();
  return null;
}

/** The lesson's place in the journey, and the buttons to the previous and the next. */
function journey(preset) {
  const next = nextPreset(preset.key);
  const previous = previousPreset(preset.key);
  $('journey-pos').textContent = `lesson ${PRESETS.indexOf(preset) + 1} of ${PRESETS.length}`;
  $('next-lesson').disabled = !next;
  $('next-lesson').textContent = next ? `Next: ${next.title} →` : 'The last lesson';
  $('next-lesson').dataset.key = next?.key ?? '';
  $('prev-lesson').disabled = !previous;
  $('prev-lesson').dataset.key = previous?.key ?? '';
  $('prev-lesson').title = previous ? `Previous: ${previous.title}` : '';
}

/** Goes to preset `key`, with its own config and the same seed. */
function goTo(key) {
  if (!key) return;
  scenario = { preset: key, seed: scenario.seed, config: {}, sim: {} };
  start();
}

function apply({ config, sim: simParams }) {
  const previous = scenario;
  // The form holds the numbers; the loop and what to do on an error are chosen above it.
  scenario = { ...scenario, config, sim: { ...scenario.sim, ...simParams } };
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
  $('preset').addEventListener('change', (e) => goTo(e.target.value));
  $('next-lesson').addEventListener('click', (e) => {
    goTo(e.currentTarget.dataset.key);
    // Focus stays on the button, so Enter walks the journey lesson by lesson.
    if ($('next-lesson').disabled) $('prev-lesson').focus();
  });
  $('prev-lesson').addEventListener('click', (e) => goTo(e.currentTarget.dataset.key));
  for (const [id, key] of [['loop', 'loop'], ['on-error', 'on_error']]) {
    $(id).addEventListener('change', (e) => {
      const value = e.target.value;
      const base = effective().preset.sim[key] ?? SIM_DEFAULTS[key];
      const simParams = { ...scenario.sim };
      if (value === base) delete simParams[key];
      else simParams[key] = value;
      scenario = { ...scenario, sim: simParams };
      start();
    });
  }
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
  renderServer($('server'), state.server, names);
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
