// The scenario, seed and config live in the URL's query, so a view can be shared: only
// values that differ from the preset are written, and reading them back gives the same
// run (the simulation is deterministic for a seed). Config fields are named as the core
// names them (see fields.js): `max_line=64`, or `echo.max_line=64` where a bare name
// would be ambiguous; both forms are read.

import { SIM_DEFAULTS } from './shim.js';
import { LOOP_KEYS, ON_ERROR } from './loops.js';
import { presetByKey } from './presets.js';
import { configFields, formatValue, getValue, parseValue, setValue } from './fields.js';

export const SIM_FIELDS = Object.keys(SIM_DEFAULTS);

/** The simulation parameters that are names, and the names they take. */
const CHOICES = { loop: LOOP_KEYS, on_error: Object.keys(ON_ERROR) };

/**
 * The scenario a query string names: `{preset, seed, config, sim}` (overrides only, the
 * config by section). `defaults` is the core's default config, which names the fields.
 */
export function decode(search, defaults) {
  const q = new URLSearchParams(search);
  const preset = presetByKey(q.get('preset') ?? '').key;
  const seed = Number.parseInt(q.get('seed') ?? '1', 10);
  const config = {};
  for (const field of configFields(defaults)) {
    const raw = q.get(field.param) ?? q.get(field.path);
    if (raw === null) continue;
    // In a URL, `off` (or nothing) turns an optional field off; a number is never negative.
    if (field.off && (raw === '' || raw === 'off')) setValue(config, field, null);
    else if (field.type === 'number') setValue(config, field, toInt(raw));
    else setValue(config, field, parseValue(field, raw));
  }
  const sim = {};
  for (const field of SIM_FIELDS) {
    if (!q.has(field)) continue;
    const raw = q.get(field);
    if (typeof SIM_DEFAULTS[field] === 'number') sim[field] = toInt(raw);
    else if ((CHOICES[field] ?? []).includes(raw)) sim[field] = raw;
  }
  return { preset, seed: Number.isFinite(seed) ? seed >>> 0 : 1, config, sim };
}

/** The query string for a scenario; values equal to the preset's are left out. */
export function encode({ preset, seed, config = {}, sim = {} }, defaults) {
  const p = presetByKey(preset);
  const q = new URLSearchParams({ preset: p.key, seed: String(seed) });
  for (const field of configFields(defaults)) {
    const value = getValue(config, field);
    if (value === undefined || same(field, value, getValue(p.config, field))) continue;
    q.set(field.param, value === null ? 'off' : formatValue(field, value));
  }
  for (const field of SIM_FIELDS) {
    if (!(field in sim)) continue;
    const base = p.sim[field] ?? SIM_DEFAULTS[field];
    if (sim[field] !== base) q.set(field, String(sim[field]));
  }
  return `?${q}`;
}

/** Whether two values of a field are the same: a range is an object, compared as written. */
function same(field, a, b) {
  if (a === b) return true;
  if (a === null || b === null || a === undefined || b === undefined) return false;
  return formatValue(field, a) === formatValue(field, b);
}

function toInt(raw) {
  const n = Number.parseInt(raw, 10);
  return Number.isFinite(n) && n >= 0 ? n : 0;
}
