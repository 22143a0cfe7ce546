// The core's config as the page edits it: one object per section, `{echo: {...},
// stream: {...}, faults: {...}}`, with the core's own names. The wasm module's
// `default_config()` names every section and field, so a field added to the core shows up
// in the form and the URL with no code here. HINTS holds only what a name and a default
// cannot say: a label for people, that a value may be turned off, and the type of a field
// whose default is off.

import { SIM_DEFAULTS } from './shim.js';

/** Sections shown first, in this order; any other section follows. */
const FIRST = ['echo', 'stream', 'faults'];

/** What the page does not offer, and why. */
const HIDDEN = {
  'echo.record_frames': 'always on: the views show each frame queued and where it ends',
  'faults.drop': 'UDP only; the playground plays TCP (the core refuses it here)',
  'faults.duplicate': 'UDP only; the playground plays TCP (the core refuses it here)',
  'faults.reorder': 'UDP only; the playground plays TCP (the core refuses it here)',
  'echo.max_datagram': 'UDP only; the playground plays TCP',
  'stream.shutdown_timeout': 'the playground never shuts down',
};

/**
 * Labels and kinds, by `section.field`. `off`: an empty value turns the field off (null);
 * `type`: 'string' or 'number', for a field whose default (null) does not say, or
 * 'range' (`{min, max}`, written `1..3`) or 'fraction' (a probability, `0.01` or `1%`);
 * `options`: the choices of a select.
 */
const HINTS = {
  'echo.framing': { label: 'Mode', options: ['line', 'raw', 'collect'] },
  'echo.quit_word': { label: 'Quit word', off: true },
  'echo.fault_word': { label: 'Fault word', type: 'string' },
  'echo.max_frames': { label: 'Max frames', type: 'number' },
  'echo.max_line': { label: 'Max line (B)' },
  'echo.high_watermark': { label: 'High watermark (B)' },
  'echo.low_watermark': { label: 'Low watermark (B)' },
  'echo.max_collect': { label: 'Max collect (B)' },
  'echo.frame_timeout': { label: 'Frame timeout (ms)', type: 'number' },
  'stream.idle_timeout': { label: 'Idle timeout (ms)', type: 'number' },
  'stream.write_stall_timeout': { label: 'Write stall timeout (ms)', type: 'number' },
  'stream.flush_timeout': { label: 'Flush timeout (ms)' },
  'stream.linger': { label: 'Linger (ms)', off: true },
  'faults.delay': { label: 'Delay (ms)', type: 'number' },
  'faults.jitter': { label: 'Delay jitter (ms)', type: 'number' },
  'faults.rate': { label: 'Rate (B/s)', type: 'number' },
  'faults.chunk': { label: 'Chunks (B, min..max)', type: 'range' },
  'faults.reset_after': { label: 'Reset after (B)', type: 'number' },
  'faults.close_after': { label: 'Close after (B)', type: 'number' },
  'faults.fault_chance': { label: 'Fault chance per frame', type: 'fraction' },
  'faults.seed': { label: 'Fault seed' },
};

/** Section headings for people; a section not named here shows its own name. */
export const SECTIONS = {
  echo: 'Echo',
  stream: 'Stream',
  faults: 'Faults on purpose',
};

/** Names the URL already uses for the scenario itself. */
const RESERVED = new Set(['preset', 'seed', ...Object.keys(SIM_DEFAULTS)]);

/**
 * Every field the page offers, from the core's defaults, in order: `{section, key, path,
 * param, label, type, off, options}`. `param` is the field's name in the URL: the bare
 * field name (`max_line`, as URLs have always said) unless another section has a field of
 * that name, then `section.field`.
 */
export function configFields(defaults) {
  const sections = [...FIRST.filter((s) => s in defaults), ...Object.keys(defaults).filter((s) => !FIRST.includes(s))];
  const uses = new Map();
  for (const s of sections) for (const key of Object.keys(defaults[s])) uses.set(key, (uses.get(key) ?? 0) + 1);
  const fields = [];
  for (const section of sections) {
    if (section in HIDDEN) continue;
    for (const [key, value] of Object.entries(defaults[section])) {
      const path = `${section}.${key}`;
      if (path in HIDDEN) continue;
      const hint = HINTS[path] ?? {};
      const type = hint.type ?? (value === null ? 'guess' : typeof value);
      fields.push({
        section,
        key,
        path,
        param: uses.get(key) === 1 && !RESERVED.has(key) ? key : path,
        label: hint.label ?? humanize(key),
        type,
        off: hint.off ?? value === null,
        options: hint.options ?? null,
      });
    }
  }
  return fields;
}

/** `max_frames` → "Max frames". */
function humanize(key) {
  const words = key.replaceAll('_', ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** The field's value in `config`, `undefined` when it does not set it. */
export function getValue(config, field) {
  const section = config?.[field.section];
  return section && field.key in section ? section[field.key] : undefined;
}

/** Sets the field in `config` (in place). */
export function setValue(config, field, value) {
  (config[field.section] ??= {})[field.key] = value;
}

/** `over`'s fields over `base`'s, section by section; neither is changed. */
export function mergeConfig(base = {}, over = {}) {
  const merged = {};
  for (const s of new Set([...Object.keys(base), ...Object.keys(over)])) merged[s] = { ...base[s], ...over[s] };
  return merged;
}

/** A field's value as a form or a URL writes it: a range as `1..3`, off as ''. */
export function formatValue(field, value) {
  if (value === null || value === undefined) return '';
  if (field.type === 'range' && typeof value === 'object') return `${value.min}..${value.max}`;
  return String(value);
}

/**
 * A field's value from what a person typed: empty turns an optional field off (null); a
 * number field takes a whole number; a range `min..max` (or one number for both); a
 * fraction a number or a percentage; a field whose type nothing says takes a whole number
 * when that is all it is, else the text. What does not parse is passed on as it is, for
 * the core to refuse in its own words.
 */
export function parseValue(field, raw) {
  if (raw === '' && field.off) return null;
  switch (field.type) {
    case 'number':
      return Number.parseInt(raw, 10) || 0;
    case 'range': {
      const m = /^\s*(\d+)\s*(?:\.\.\s*(\d+)\s*)?$/.exec(raw);
      return m ? { min: Number(m[1]), max: Number(m[2] ?? m[1]) } : raw;
    }
    case 'fraction': {
      const percent = raw.trim().endsWith('%');
      const n = Number.parseFloat(raw);
      return Number.isFinite(n) ? (percent ? n / 100 : n) : raw;
    }
    case 'boolean':
      return raw === 'true' || raw === 'on';
    case 'guess':
      return /^\d+$/.test(raw) ? Number(raw) : raw;
    default:
      return raw;
  }
}
