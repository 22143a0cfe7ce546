// The config form: the core's config, a field for each of its own (fields.js derives
// them from the core's defaults), and the shim's kernel and client parameters. Applying
// it restarts the scenario with the new values; the core itself validates the config and
// its message is shown as it is.

import { esc } from './html.js';
import { SIM_DEFAULTS } from '../shim.js';
import { SECTIONS, configFields, formatValue, getValue, parseValue, setValue } from '../fields.js';

const SIM = [
  { key: 'read_size', label: 'Server read size (B)' },
  { key: 'rx_cap', label: 'Receive buffer (B)' },
  { key: 'tx_cap', label: 'Send buffer (B)' },
  { key: 'latency', label: 'Latency (ms)' },
  { key: 'jitter', label: 'Jitter (ms)' },
  { key: 'client_read_size', label: 'Client read size (B)' },
];

/**
 * Fills `form` from the effective config (by section) and sim parameters; the fields are
 * the core's, from `defaults` (see fields.js). `onApply({config, sim})`.
 */
export function renderConfig(form, { config, sim, defaults }, onApply) {
  const fields = configFields(defaults);
  const value = (f) => {
    const v = getValue(config, f);
    return v === undefined ? getValue(defaults, f) : v;
  };
  const input = (f) => {
    const v = value(f);
    const id = `cfg-${f.param.replaceAll('.', '-')}`;
    const label = `<label for="${id}" title="${esc(f.path)}">${esc(f.label)}</label>`;
    if (f.options) {
      return `${label}<select id="${id}" name="${f.path}">${f.options
        .map((o) => `<option${o === v ? ' selected' : ''}>${esc(o)}</option>`)
        .join('')}</select>`;
    }
    if (f.type === 'boolean') return `${label}<input id="${id}" name="${f.path}" type="checkbox"${v ? ' checked' : ''}>`;
    const shown = formatValue(f, v);
    const type = f.type === 'number' ? 'number' : 'text';
    const hint = f.off ? ' placeholder="off"' : '';
    return `${label}<input id="${id}" name="${f.path}" type="${type}"${type === 'number' ? ' min="0"' : ''} value="${esc(shown)}"${hint}>`;
  };
  const simInput = (f) =>
    `<label for="sim-${f.key}">${f.label}</label><input id="sim-${f.key}" name="sim.${f.key}" type="number" min="${f.key === 'jitter' || f.key === 'latency' ? 0 : 1}" value="${sim[f.key] ?? SIM_DEFAULTS[f.key]}">`;
  const sections = [...new Set(fields.map((f) => f.section))];
  const fieldset = (section) =>
    `<fieldset><legend title="${esc(`reverb-core Config, section ${section}`)}">Core · ${esc(SECTIONS[section] ?? section)}</legend><div class="grid">${fields
      .filter((f) => f.section === section)
      .map(input)
      .join('')}</div></fieldset>`;
  form.innerHTML = `
    ${sections.map(fieldset).join('')}
    <fieldset><legend>Kernel and clients (the shim)</legend><div class="grid">${SIM.map(simInput).join('')}</div></fieldset>
    <p class="error" role="alert" data-role="error"></p>
    <button type="submit">Apply and restart</button>`;
  form.onsubmit = (e) => {
    e.preventDefault();
    const data = new FormData(form);
    const next = {};
    for (const f of fields) {
      const raw = f.type === 'boolean' ? String(data.has(f.path)) : String(data.get(f.path) ?? '');
      setValue(next, f, parseValue(f, raw));
    }
    const nextSim = {};
    for (const f of SIM) nextSim[f.key] = Math.max(0, Number.parseInt(String(data.get(`sim.${f.key}`)), 10) || 0);
    const error = onApply({ config: next, sim: nextSim });
    form.querySelector('[data-role="error"]').textContent = error ?? '';
  };
}
