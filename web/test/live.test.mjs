// Live mode: the model under node with a fake WebSocket, then the page in headless
// Chromium against a real `reverb serve -l ws://127.0.0.1:0` on loopback — started here,
// its port read from its startup line, stopped here. Every wait is bounded. The binary is
// $REVERB_BIN, else target/debug/reverb (under $CARGO_TARGET_DIR if set), built with
// cargo if it is missing (scripts/test-all.sh builds it before these tests).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { once } from 'node:events';

import { LiveConnection, closeWords, parseMetrics, serverCounters, startCommands, DEFAULT_LIVE_URL } from '../js/live.js';
import { serveWeb } from '../tools/serve.mjs';
import { launch } from '../tools/browser.mjs';

/** Bounds every wait on the page and on the server. */
const WAIT = 10_000;
/** Each test as a whole. */
const TEST = { timeout: 60_000 };
/** The delay the live server adds to every echo, so latency has a floor to check. */
const DELAY_MS = 40;

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

// ---- the model, with a fake socket ---------------------------------------------------------

class FakeSocket {
  static last = null;
  constructor(url) {
    this.url = url;
    this.sent = [];
    FakeSocket.last = this;
  }
  send(data) {
    this.sent.push(data);
  }
  close(code, reason) {
    this.onclose?.({ code, reason, wasClean: true });
  }
}

function fakeLive() {
  let t = 0;
  const clock = { now: () => t, advance: (ms) => (t += ms) };
  const live = new LiveConnection({ url: 'ws://127.0.0.1:9', WebSocket: FakeSocket, now: clock.now });
  return { live, socket: FakeSocket.last, clock };
}

test('each reply answers the oldest message still waiting, and its latency is the gap', () => {
  const { live, socket, clock } = fakeLive();
  assert.equal(live.send('early'), false, 'nothing is sent before the connection opens');
  socket.onopen();
  clock.advance(10);
  live.send('one');
  clock.advance(1);
  live.send('two', { binary: true });
  assert.equal(socket.sent[0], 'one');
  assert.ok(socket.sent[1] instanceof ArrayBuffer, 'binary goes as bytes');
  clock.advance(5);
  socket.onmessage({ data: '> one' });
  clock.advance(2);
  socket.onmessage({ data: new TextEncoder().encode('> two').buffer });
  socket.onmessage({ data: 'extra' });
  const [one, two] = live.messages;
  assert.deepEqual([one.reply.text, one.reply.at - one.sentAt], ['> one', 6]);
  assert.deepEqual([two.reply.text, two.reply.binary, two.reply.at - two.sentAt], ['> two', true, 7]);
  assert.deepEqual(live.unmatched.map((r) => r.text), ['extra'], 'a reply with no message waiting is kept apart');
  assert.deepEqual(live.stats(), { sent: 2, received: 3, waiting: 0, min: 6, median: 7, max: 7 });
  assert.equal(live.since(one.sentAt), 10, 'times count from the open');
  socket.onclose({ code: 1000, reason: 'quit word', wasClean: true });
  assert.equal(live.state, 'closed');
});

test('a connection that closes before it opened failed: no server answered', () => {
  const { live, socket } = fakeLive();
  socket.onerror();
  socket.onclose({ code: 1006, reason: '', wasClean: false });
  assert.equal(live.state, 'failed');
  assert.equal(live.error, 'no server answered');
  assert.equal(closeWords(1006), 'closed with no close frame');
  assert.equal(closeWords(1001), 'going away (the server is shutting down)');
  assert.deepEqual(startCommands('ws://127.0.0.1:7123/echo'), ['cargo xtask playground --live', 'cargo run -p reverb -- serve -l ws://127.0.0.1:7123']);
  assert.deepEqual(startCommands('not a url'), ['cargo xtask playground --live', `cargo run -p reverb -- serve -l ${DEFAULT_LIVE_URL}`]);
});

test("the server's counters: its /metrics read, summed over listeners and close reasons", () => {
  const text = [
    '# HELP reverb_connections_open Connections open now.',
    '# TYPE reverb_connections_open gauge',
    'reverb_connections_open{listener="ws://127.0.0.1:1",protocol="ws"} 2',
    'reverb_connections_open{listener="tcp://127.0.0.1:2",protocol="tcp"} 1',
    'reverb_connections_accepted_total{listener="ws://127.0.0.1:1",protocol="ws"} 5',
    'reverb_connections_closed_total{listener="ws://127.0.0.1:1",protocol="ws",reason="graceful"} 2',
    'reverb_connections_closed_total{listener="ws://127.0.0.1:1",protocol="ws",reason="timeout"} 1',
    'reverb_frames_echoed_total{listener="say \\"hi\\"\\nthere",protocol="ws"} 7',
    'reverb_echo_latency_seconds_bucket{listener="ws://127.0.0.1:1",protocol="ws",le="+Inf"} 4',
    'reverb_echo_latency_seconds_sum{listener="ws://127.0.0.1:1",protocol="ws"} 0.002',
    'reverb_echo_latency_seconds_count{listener="ws://127.0.0.1:1",protocol="ws"} 4',
    'reverb_uptime_seconds 12.5',
    '',
  ].join('\n');
  const samples = parseMetrics(text);
  assert.equal(samples.length, 10, 'comments and blank lines are not samples');
  assert.deepEqual(samples.find((s) => s.name === 'reverb_frames_echoed_total').labels, { listener: 'say "hi"\nthere', protocol: 'ws' });
  const c = serverCounters(samples);
  assert.deepEqual(
    [c.open, c.accepted, c.closed, c.frames, c.timed, c.uptime, c.received],
    [3, 5, 3, 7, 4, 12.5, null],
    'summed over listeners and reasons; a counter not there is null',
  );
  assert.ok(Math.abs(c.meanMs - 0.5) < 1e-9, `mean ${c.meanMs} ms`);
});

// ---- the page against a real reverb serve --------------------------------------------------

function reverbBinary() {
  if (process.env.REVERB_BIN) return process.env.REVERB_BIN;
  const bin = join(process.env.CARGO_TARGET_DIR ?? join(ROOT, 'target'), 'debug', 'reverb');
  if (!existsSync(bin)) {
    execFileSync(process.env.CARGO ?? 'cargo', ['build', '--quiet', '--package', 'reverb'], { cwd: ROOT, stdio: 'inherit', timeout: 900_000 });
  }
  return bin;
}

/**
 * Starts `reverb serve -l ws://127.0.0.1:0 …args`; resolves to {url, child, output()}
 * once it says where it listens (bounded by WAIT).
 */
async function startReverb(args) {
  const child = spawn(reverbBinary(), ['serve', '-l', 'ws://127.0.0.1:0', '--threads', '1', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d) => (err += d));
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`reverb serve did not listen within ${WAIT} ms: ${out}${err}`)), WAIT);
    const look = () => {
      const m = /reverb: listening on (ws:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout.on('data', look);
    child.once('exit', (code) => reject(new Error(`reverb serve exited (${code}): ${err}`)));
  });
  // With --admin, the endpoint's address is printed on the line after the listener's.
  const admin = args.includes('--admin')
    ? await new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no admin endpoint line within ${WAIT} ms: ${out}`)), WAIT);
        const look = () => {
          const m = /admin endpoint on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
          if (m) {
            clearTimeout(timer);
            resolve(m[1]);
          }
        };
        look();
        child.stdout.on('data', look);
      })
    : null;
  return { url, admin, child, output: () => out };
}

/** Stops a server this file started: SIGTERM to its pid, then waits (bounded) for it. */
async function stopReverb(server) {
  if (!server || server.child.exitCode !== null) return;
  const exited = once(server.child, 'exit');
  server.child.kill('SIGTERM');
  const timer = setTimeout(() => server.child.kill('SIGKILL'), WAIT);
  await exited;
  clearTimeout(timer);
}

/** A loopback port nothing listens on: one the kernel picked, closed again. */
async function deadPort() {
  const s = createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

let reverb;
let web;
let browser;

before(async () => {
  reverb = await startReverb(['--prefix', '> ', '--delay', `${DELAY_MS}ms`, '--admin', '127.0.0.1:0']);
  web = await serveWeb(0, { live: reverb.url, admin: reverb.admin });
  browser = await launch();
}, { timeout: 900_000 });

after(async () => {
  await browser?.close();
  await web?.close();
  await stopReverb(reverb);
});

/** Opens `query`; returns {page, problems}, problems collecting console errors. */
async function open(query, expected = []) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const problems = [];
  page.on('console', (msg) => {
    const text = msg.text();
    if ((msg.type() === 'error' || msg.type() === 'warning') && !expected.some((re) => re.test(text))) problems.push(`${msg.type()}: ${text}`);
  });
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
  await page.goto(web.url + query);
  await page.waitForSelector('html[data-ready="true"]', { timeout: WAIT });
  return { page, problems };
}

const card = '.live-conn';
const line = `${card} input[name="line"]`;

async function sendLine(page, text) {
  await page.fill(line, text);
  await page.press(line, 'Enter');
}

test('live: real messages go to reverb serve and come back, with when and how long', TEST, async () => {
  const { page, problems } = await open(`?live=${reverb.url}`);
  await page.waitForSelector(`${card}[data-state="open"]`, { timeout: WAIT });
  assert.match(await page.textContent('#live-help'), new RegExp(`Connected to ${reverb.url}`));
  await sendLine(page, 'hello');
  await sendLine(page, 'héllo, wörld');
  await page.check(`${card} input[name="binary"]`);
  await sendLine(page, 'bytes');
  await page.uncheck(`${card} input[name="binary"]`);
  await page.fill(line, 'ping');
  await page.click(`${card} [data-role="burst"]`);
  await page.waitForFunction(() => document.querySelector('.live-conn [data-role="received"]')?.textContent === '13', null, { timeout: WAIT });
  const rows = await page.$$eval(`${card} tbody tr[data-no]`, (trs) =>
    trs.map((tr) => ({
      sent: tr.querySelector('[data-role="sent"] code').textContent,
      reply: tr.querySelector('[data-role="reply"] code')?.textContent,
      binary: Boolean(tr.querySelector('[data-role="reply"] .tag')),
      latency: Number(tr.querySelector('[data-role="latency"]')?.dataset.ms),
    })),
  );
  assert.equal(rows.length, 13);
  assert.deepEqual(rows.slice(0, 3).map((r) => [r.sent, r.reply, r.binary]), [
    ['"hello"', '"> hello"', false],
    ['"héllo, wörld"', '"> héllo, wörld"', false],
    ['"bytes"', '"> bytes"', true],
  ]);
  assert.deepEqual(rows.slice(3).map((r) => r.reply), Array.from({ length: 10 }, (_, i) => `"> ping ${i + 1}"`), 'the burst comes back in order');
  // The server holds each echo DELAY_MS (--delay): no reply can be quicker.
  for (const r of rows) assert.ok(r.latency >= DELAY_MS - 1, `latency ${r.latency} ms ≥ ${DELAY_MS} ms`);
  assert.match(await page.textContent(`${card} [data-role="stats"]`), /latency min \d+\.\d ms \/ median \d+\.\d ms \/ max \d+\.\d ms/);
  // The quit word: no reply, and the server closes with 1000 and its reason.
  await sendLine(page, 'quit');
  await page.waitForSelector(`${card}[data-state="closed"]`, { timeout: WAIT });
  assert.match(await page.textContent(`${card} tr.closed`), /closed 1000 quit word/);
  assert.match(await page.textContent(`${card} tr[data-no="14"]`), /no reply/);
  assert.match(await page.textContent('#live-help'), /closed: 1000 quit word\. Press Connect/);
  // The server's own counters, read from its /metrics through the page's server: the 13
  // frames it echoed (the quit word is not echoed), the one connection it accepted.
  await page.waitForFunction(() => document.querySelector('#live-counters [data-role="frames"]')?.textContent === '13', null, { timeout: WAIT });
  assert.equal(await page.textContent('#live-counters [data-role="accepted"]'), '1');
  assert.equal(await page.getAttribute('#live-counters', 'data-state'), 'read');
  assert.deepEqual(problems, []);
  await page.close();
});

test('live: the address comes from live.json, a second connection runs beside the first, and the mode links switch', TEST, async () => {
  const { page, problems } = await open('?live');
  assert.equal(await page.inputValue('#live-url'), reverb.url, 'the address the playground server announced');
  await page.waitForSelector(`${card}[data-state="open"]`, { timeout: WAIT });
  assert.equal(await page.getAttribute('#mode-live', 'aria-current'), 'page');
  await page.click('#live-add');
  await page.waitForSelector(`${card}:nth-child(2)[data-state="open"]`, { timeout: WAIT });
  const second = `${card}:nth-child(2) input[name="line"]`;
  await page.fill(second, 'from two');
  await page.press(second, 'Enter');
  await page.waitForSelector(`${card}:nth-child(2) [data-role="latency"]`, { timeout: WAIT });
  assert.equal(await page.textContent(`${card}:nth-child(2) [data-role="reply"] code`), '"> from two"');
  assert.equal(await page.locator(`${card}:nth-child(1) tbody tr`).count(), 0, 'the first has sent nothing');
  // Keyboard only: Tab to a connection's field, type, Enter.
  await page.focus(`${card}:nth-child(1) input[name="line"]`);
  await page.keyboard.type('typed');
  await page.keyboard.press('Enter');
  await page.waitForSelector(`${card}:nth-child(1) [data-role="latency"]`, { timeout: WAIT });
  await page.click('#mode-sim');
  await page.waitForSelector('html[data-ready="true"]', { timeout: WAIT });
  assert.equal(await page.isVisible('#live'), false);
  assert.equal(await page.isVisible('#server'), true, 'the simulation is back');
  assert.deepEqual(problems, []);
  await page.close();
});

test('live: when no server answers, the page says how to start one', TEST, async () => {
  const port = await deadPort();
  const url = `ws://127.0.0.1:${port}`;
  // Chromium reports the refused connection itself; that is the point of this test.
  const { page, problems } = await open(`?live=${url}`, [/WebSocket connection to .* failed/]);
  await page.waitForSelector(`${card}[data-state="failed"]`, { timeout: WAIT });
  const help = await page.textContent('#live-help');
  assert.match(help, new RegExp(`No server answered at ${url}`));
  assert.match(help, /cargo xtask playground --live/);
  assert.match(help, new RegExp(`cargo run -p reverb -- serve -l ws://127.0.0.1:${port}`));
  assert.equal(await page.getAttribute('#live-help', 'role'), 'status', 'screen readers hear it');
  assert.equal(await page.isDisabled(`${card} [data-role="burst"]`), true);
  // Another server than the one the playground started: its counters are not that one's.
  assert.equal(await page.getAttribute('#live-counters', 'data-state'), 'none');
  assert.match(await page.textContent('#live-counters'), /cargo xtask playground --live/);
  // Point the form at the real server, and Connect.
  await page.fill('#live-url', reverb.url);
  await page.press('#live-url', 'Enter');
  await page.waitForSelector(`${card}[data-state="open"]`, { timeout: WAIT });
  assert.equal(await page.locator(card).count(), 1, 'Connect replaces the failed connection');
  assert.deepEqual(problems, []);
  await page.close();
});

test('live: a server shutting down closes the page\'s connection with 1001, and counted what it echoed', TEST, async () => {
  const own = await startReverb([]);
  try {
    const { page, problems } = await open(`?live=${own.url}`);
    await page.waitForSelector(`${card}[data-state="open"]`, { timeout: WAIT });
    await sendLine(page, 'last words');
    await page.waitForSelector(`${card} [data-role="latency"]`, { timeout: WAIT });
    await stopReverb(own);
    await page.waitForSelector(`${card}[data-state="closed"]`, { timeout: WAIT });
    assert.match(await page.textContent(`${card} tr.closed`), /closed 1001/);
    // No admin endpoint, but the server's own summary has its counters: our connection,
    // ended gracefully (its bytes include the handshake and the frame headers).
    assert.match(own.output(), /reverb: stopped by SIGTERM: 1 connection \(1 graceful, 0 faults/);
    assert.deepEqual(problems, []);
    await page.close();
  } finally {
    await stopReverb(own);
  }
});
