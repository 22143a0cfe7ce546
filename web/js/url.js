// The scenario, seed and config live in the URL's query, so a view can be shared: only
// values that differ from the preset are written, and reading them back gives the same
// run (the simulation is deterministic for a seed).

import { SIM_DEFAULTS } from './shim.js';
import { presetByKey } from './presets.js';

/** Core config fields the page edits, with their kind. */
export const CONFIG_FIELDS = {
  framing: 'string',
  prefix: 'string',
  suffix: 'string',
  quit_word: 'word',
  fault_word: 'word',
  max_line: 'int',
  high_watermark: 'int',
  low_watermark: 'int',
  idle_timeout: 'ms',
  frame_timeout: 'ms',
  write_stall_timeout: 'ms',
  flush_timeout: 'int',
  linger: 'ms',
};

export const SIM_FIELDS = Object.keys(SIM_DEFAULTS);

/** The scenario a query string names: `{preset, seed, config, sim}` (overrides only). */
export function decode(search) {
  const q = new URLSearchParams(search);
  const preset = presetByKey(q.get('preset') ?? '').key;
  const seed = Number.parseInt(q.get('seed') ?? '1', 10);
  const config = {};
  for (const [field, kind] of Object.entries(CONFIG_FIELDS)) {
    if (!q.has(field)) continue;
    const raw = q.get(field);
    if (kind === 'string') config[field] = raw;
    else if (kind === 'word' || kind === 'ms') config[field] = raw === '' || raw === 'off' ? null : kind === 'ms' ? toInt(raw) : raw;
    else config[field] = toInt(raw);
  }
  const sim = {};
  for (const field of SIM_FIELDS) if (q.has(field)) sim[field] = toInt(q.get(field));
  return { preset, seed: Number.isFinite(seed) ? seed >>> 0 : 1, config, sim };
}

/** The query string for a scenario; values equal to the preset's are left out. */
export function encode({ preset, seed, config = {}, sim = {} }) {
  const p = presetByKey(preset);
  const q = new URLSearchParams({ preset: p.key, seed: String(seed) });
  for (const field of Object.keys(CONFIG_FIELDS)) {
    if (!(field in config)) continue;
    const value = config[field];
    if (value === p.config[field]) continue;
    q.set(field, value === null ? 'off' : String(value));
  }
  for (const field of SIM_FIELDS) {
    if (!(field in sim)) continue;
    const base = p.sim[field] ?? SIM_DEFAULTS[field];
    if (sim[field] !== base) q.set(field, String(sim[field]));
  }
  return `?${q}`;
}

function toInt(raw) {
  const n = Number.parseInt(raw, 10);
  return Number.isFinite(n) && n >= 0 ? n : 0;
}
