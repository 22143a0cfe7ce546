// The config form: the core's echo semantics and limits, and the shim's kernel and
// client parameters. Applying it restarts the scenario with the new values; the core
// itself validates the config and its message is shown as it is.

import { esc } from './html.js';
import { SIM_DEFAULTS } from '../shim.js';

const FIELDS = [
  { key: 'framing', label: 'Mode', kind: 'select', options: ['line', 'raw', 'collect'] },
  { key: 'prefix', label: 'Prefix', kind: 'text' },
  { key: 'suffix', label: 'Suffix', kind: 'text' },
  { key: 'quit_word', label: 'Quit word', kind: 'word' },
  { key: 'fault_word', label: 'Fault word', kind: 'word' },
  { key: 'max_line', label: 'Max line (B)', kind: 'int' },
  { key: 'high_watermark', label: 'High watermark (B)', kind: 'int' },
  { key: 'low_watermark', label: 'Low watermark (B)', kind: 'int' },
  { key: 'idle_timeout', label: 'Idle timeout (ms)', kind: 'ms' },
  { key: 'frame_timeout', label: 'Frame timeout (ms)', kind: 'ms' },
  { key: 'write_stall_timeout', label: 'Write stall timeout (ms)', kind: 'ms' },
  { key: 'flush_timeout', label: 'Flush timeout (ms)', kind: 'int' },
  { key: 'linger', label: 'Linger (ms)', kind: 'ms' },
];

const SIM = [
  { key: 'read_size', label: 'Server read size (B)' },
  { key: 'rx_cap', label: 'Receive buffer (B)' },
  { key: 'tx_cap', label: 'Send buffer (B)' },
  { key: 'latency', label: 'Latency (ms)' },
  { key: 'jitter', label: 'Jitter (ms)' },
  { key: 'client_read_size', label: 'Client read size (B)' },
];

/** Fills `form` from the effective config and sim parameters; `onApply({config, sim})`. */
export function renderConfig(form, { config, sim, defaults }, onApply) {
  const value = (k) => (k in config ? config[k] : defaults[k]);
  const input = (f) => {
    const v = value(f.key);
    const id = `cfg-${f.key}`;
    if (f.kind === 'select') {
      return `<label for="${id}">${f.label}</label><select id="${id}" name="${f.key}">${f.options
        .map((o) => `<option${o === v ? ' selected' : ''}>${o}</option>`)
        .join('')}</select>`;
    }
    const shown = v === null || v === undefined ? '' : v;
    const type = f.kind === 'int' || f.kind === 'ms' ? 'number' : 'text';
    const hint = f.kind === 'word' || f.kind === 'ms' ? ' placeholder="off"' : '';
    return `<label for="${id}">${f.label}</label><input id="${id}" name="${f.key}" type="${type}"${type === 'number' ? ' min="0"' : ''} value="${esc(shown)}"${hint}>`;
  };
  const simInput = (f) =>
    `<label for="sim-${f.key}">${f.label}</label><input id="sim-${f.key}" name="sim.${f.key}" type="number" min="${f.key === 'jitter' || f.key === 'latency' ? 0 : 1}" value="${sim[f.key] ?? SIM_DEFAULTS[f.key]}">`;
  form.innerHTML = `
    <fieldset><legend>Core (reverb-core Config)</legend><div class="grid">${FIELDS.map(input).join('')}</div></fieldset>
    <fieldset><legend>Kernel and clients (the shim)</legend><div class="grid">${SIM.map(simInput).join('')}</div></fieldset>
    <p class="error" role="alert" data-role="error"></p>
    <button type="submit">Apply and restart</button>`;
  form.onsubmit = (e) => {
    e.preventDefault();
    const data = new FormData(form);
    const next = {};
    for (const f of FIELDS) {
      const raw = String(data.get(f.key) ?? '');
      if (f.kind === 'int') next[f.key] = Number.parseInt(raw, 10) || 0;
      else if (f.kind === 'ms') next[f.key] = raw === '' ? null : Number.parseInt(raw, 10) || 0;
      else if (f.kind === 'word') next[f.key] = raw === '' ? null : raw;
      else next[f.key] = raw;
    }
    const nextSim = {};
    for (const f of SIM) nextSim[f.key] = Math.max(0, Number.parseInt(String(data.get(`sim.${f.key}`)), 10) || 0);
    const error = onApply({ config: next, sim: nextSim });
    form.querySelector('[data-role="error"]').textContent = error ?? '';
  };
}
