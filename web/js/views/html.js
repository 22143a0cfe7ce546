// Tiny helpers for building markup from recorded state. Every view escapes what it
// shows: bytes typed into a client are data, never markup.

export function esc(value) {
  return (
    String(value)
      .replaceAll('&', '&amp;')
      .replaceAll('<', '&lt;')
      .replaceAll('>', '&gt;')
      .replaceAll('"', '&quot;')
      // The HTML parser turns a raw CR (or CR LF) into LF; a reference keeps it, so an
      // HTTP request's CR LF reads back as it was sent.
      .replaceAll('\r', '&#13;')
  );
}

/** Bytes as a JS string for `data-text` (tests and screen readers read it). */
export function bytesText(bytes) {
  return new TextDecoder().decode(Uint8Array.from(bytes));
}

/** One byte as a visible glyph: controls get a symbol, not nothing. */
export function glyph(b) {
  if (b === 10) return '↵';
  // A carriage return: back to the line's start. (␍, its control picture, is missing
  // from common fonts.)
  if (b === 13) return '←';
  if (b === 32) return '·';
  if (b >= 33 && b < 127) return String.fromCharCode(b);
  return '¤';
}

export function hex(b) {
  return b.toString(16).padStart(2, '0');
}
