// A static server for web/ on 127.0.0.1 (port 0 picks a free one), for the browser tests
// and the screenshot script. The xtask's server does the same for people, /live.json
// included: where live mode finds the server `cargo xtask playground --live` started
// (`live`), or `{"url": null}`; and, given that server's admin endpoint (`admin`,
// `http://HOST:PORT`), its `/metrics` passed on under this origin (the page may not read
// another origin's answer), announced as `"metrics": "/metrics"`.

import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export const WEB_ROOT = fileURLToPath(new URL('..', import.meta.url));

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
};

/** Starts serving; resolves to {url, close()}. */
export async function serveWeb(port = 0, { live = null, admin = null } = {}) {
  const server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    if (path === '/live.json') {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify({ url: live, metrics: admin ? '/metrics' : null }));
      return;
    }
    if (path === '/metrics' && admin) {
      try {
        const answer = await fetch(`${admin}/metrics`, { signal: AbortSignal.timeout(5000) });
        res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'text/plain', 'cache-control': 'no-store' }).end(await answer.text());
      } catch (e) {
        res.writeHead(502, { 'content-type': 'text/plain' }).end(`the admin endpoint did not answer: ${e.message}\n`);
      }
      return;
    }
    const file = normalize(join(WEB_ROOT, path.endsWith('/') ? `${path}index.html` : path));
    if (!file.startsWith(WEB_ROOT.endsWith(sep) ? WEB_ROOT : WEB_ROOT + sep)) {
      res.writeHead(403).end();
      return;
    }
    try {
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
      res.end(body);
    } catch {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  });
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  const { port: actual } = server.address();
  return { url: `http://127.0.0.1:${actual}/`, close: () => new Promise((r) => server.close(r)) };
}
