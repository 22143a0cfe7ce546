// The core's config as the page edits it: one object per section, `{echo: {...},
// stream: {...}}`, with the core's own names. The wasm module's `default_config()` names
// every section and field, so a field added to the core shows up in the form and the URL
// with no code here. HINTS holds only what a name and a default cannot say: a label for
// people, that a value may be turned off, and the type of a field whose default is off.

import { SIM_DEFAULTS } from './shim.js';

/** Sections shown first, in this order; any other section follows. */
const FIRST = ['echo', 'stream'];

/** What the page does not offer, and why. */
const HIDDEN = {
  faults: "the playground's connections have no fault layer",
  'echo.record_frames': 'always on: the views show where frames end',
  'echo.max_datagram': 'UDP only; the playground plays TCP',
  'stream.shutdown_timeout': 'the playground never shuts down',
};

/**
 * Labels and kinds, by `section.field`. `off`: an empty value turns the field off (null);
 * `type`: 'string' or 'number', for a field whose default (null) does not say;
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

/**
 * A field's value from what a person typed: empty turns an optional field off (null); a
 * number field takes a whole number; a field whose type nothing says takes a whole number
 * when that is all it is, else the text.
 */
export function parseValue(field, raw) {
  if (raw === '' && field.off) return null;
  switch (field.type) {
    case 'number':
      return Number.parseInt(raw, 10) || 0;
    case 'boolean':
      return raw === 'true' || raw === 'on';
    case 'guess':
      return /^\d+$/.test(raw) ? Number(raw) : raw;
    default:
      return raw;
  }
}
