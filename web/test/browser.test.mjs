// The playground in real headless Chromium (Debian's, via playwright-core), served from
// 127.0.0.1 on a free port. Needs `cargo xtask web` first (web/pkg/).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { serveWeb } from '../tools/serve.mjs';
import { launch } from '../tools/browser.mjs';
import { PRESETS } from '../js/presets.js';

/** Bounds every wait on the page; the page itself runs on a virtual clock. */
const WAIT = 10_000;

let server;
let browser;

before(async () => {
  server = await serveWeb();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.close();
});

/** Opens the page at `query`; returns {page, problems} where problems collects errors. */
async function open(query) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const problems = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error' || msg.type() === 'warning') problems.push(`${msg.type()}: ${msg.text()}`);
  });
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
  page.on('requestfailed', (req) => problems.push(`request failed: ${req.url()}`));
  await page.goto(server.url + query);
  await page.waitForSelector('html[data-ready="true"]', { timeout: WAIT });
  return { page, problems };
}

const stageText = (page, cid, stage) =>
  page.getAttribute(`.conn[data-cid="${cid}"] [data-stage="${stage}"]`, 'data-text', { timeout: WAIT });

test('the page boots with no console errors and fits 1280 px', async () => {
  const { page, problems } = await open('');
  assert.equal(await page.locator('#preset option').count(), PRESETS.length);
  assert.equal(await page.locator('.conn').count(), 1);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `no horizontal scroll (overflow ${overflow}px)`);
  await page.click('#finish');
  assert.deepEqual(problems, []);
  await page.close();
});

test('reduced motion turns transitions off', async () => {
  const { page } = await open('');
  const duration = () => page.evaluate(() => getComputedStyle(document.querySelector('.fill')).transitionDuration);
  assert.notEqual(await duration(), '0s');
  await page.emulateMedia({ reducedMotion: 'reduce' });
  assert.equal(await duration(), '0s');
  await page.close();
});

for (const preset of PRESETS) {
  test(`preset "${preset.key}" runs and shows its bytes`, async () => {
    const { page, problems } = await open(`?preset=${preset.key}&seed=1`);
    assert.match(await page.textContent('#lesson'), new RegExp(preset.title));
    await page.click('#finish');
    await page.waitForSelector('#status:has-text("nothing left to happen")', { timeout: WAIT });
    for (const e of preset.expect) {
      assert.equal(await stageText(page, e.client, 'got'), e.got, `client ${e.client} read its echo`);
      const card = page.locator(`.conn[data-cid="${e.client}"]`);
      if (e.reset) assert.match(await card.textContent(), /connection reset by peer/);
      if (e.eof) assert.match(await card.textContent(), /end-of-stream/);
      if (e.reason) assert.match(await card.locator('.phase').textContent(), new RegExp(e.reason));
      // The fault layer's deadline ran: its band stays on the timeline.
      if (e.held) assert.ok((await page.locator(`#timeline [data-held="${e.client}"]`).count()) > 0, 'a held band on the timeline');
      if (e.pieces) assert.equal(await card.locator('[data-role="creads"] li').count(), 3, 'the client\'s last reads are listed');
      if (e.refused) assert.equal(await card.locator('.phase').textContent(), 'refused');
    }
    // The server loop's figures, as drawn: the meter and the counter carry their numbers.
    const want = preset.server ?? {};
    const cpu = Number(await page.getAttribute('#server [role="meter"]', 'data-cpu'));
    const wouldBlock = Number(await page.getAttribute('#server [data-role="would-block"]', 'data-n'));
    if (want.cpuAtLeast !== undefined) assert.ok(cpu >= want.cpuAtLeast, `CPU ${cpu} %`);
    if (want.cpuAtMost !== undefined) assert.ok(cpu <= want.cpuAtMost, `CPU ${cpu} %`);
    if (want.wouldBlockAtLeast !== undefined) assert.ok(wouldBlock >= want.wouldBlockAtLeast, `${wouldBlock} reads would block`);
    if (want.wouldBlock !== undefined) assert.equal(wouldBlock, want.wouldBlock);
    if (want.down !== undefined) assert.equal(await page.locator('#server .down').count(), want.down ? 1 : 0);
    assert.equal(await page.inputValue('#loop'), preset.sim.loop ?? 'selector', 'the loop select shows the preset\'s loop');
    assert.deepEqual(problems, []);
    await page.close();
  });
}

test('a frame split across reads shows "read 2 of 2" and the partial frame', async () => {
  const { page } = await open('?preset=split&seed=1');
  let sawPartial = false;
  for (let i = 0; i < 40 && !sawPartial; i++) {
    await page.click('#step');
    sawPartial = (await page.locator('.conn[data-cid="0"] [data-stage="input"] .b.partial').count()) > 0;
  }
  assert.ok(sawPartial, 'the core input shows a partial frame');
  assert.match(await page.textContent('.conn[data-cid="0"] .reads'), /read 2 of 2/);
  // With focus still on the Step button, the arrow key steps too.
  const stepNo = async () => Number((await page.textContent('#clock')).match(/step (\d+)/)[1]);
  const before = await stepNo();
  await page.keyboard.press('ArrowRight');
  assert.equal(await stepNo(), before + 1);
  await page.close();
});

test('the frames stage names each frame\'s kind as the core reported it: an error line, a flushed partial line', async () => {
  const { page, problems } = await open('?preset=one-line&seed=1&echo.max_line=6');
  await page.click('#finish');
  await page.fill('.conn[data-cid="0"] input[name="line"]', 'far too long');
  await page.press('.conn[data-cid="0"] input[name="line"]', 'Enter');
  await page.click('#finish');
  const error = page.locator('.conn[data-cid="0"] .frames li[data-frame="error"]');
  assert.equal(await error.count(), 1);
  assert.match(await error.textContent(), /^error line "error: line/, 'the kind, then the frame');
  assert.equal(await stageText(page, 0, 'got'), 'hello\nerror: line exceeds 6 bytes\n');
  await page.close();
  const half = await open('?preset=half-close&seed=1');
  await half.page.click('#finish');
  assert.match(await half.page.textContent('.conn[data-cid="0"] .frames li[data-frame="partial"]'), /partial line.*"bye"/);
  await half.page.close();
  assert.deepEqual([...problems, ...half.problems], []);
});

test('typing a line into a client shows its echo', async () => {
  const { page, problems } = await open('?preset=one-line&seed=1');
  await page.click('#finish');
  await page.fill('.conn[data-cid="0"] input[name="line"]', 'typed by hand');
  await page.press('.conn[data-cid="0"] input[name="line"]', 'Enter');
  assert.equal(await stageText(page, 0, 'wrote'), 'hello\ntyped by hand\n');
  await page.click('#finish');
  assert.equal(await stageText(page, 0, 'got'), 'hello\ntyped by hand\n');
  assert.deepEqual(problems, []);
  await page.close();
});

test('the backpressure preset shows reading paused, then resumed', async () => {
  const { page } = await open('?preset=backpressure&seed=1');
  const slow = page.locator('.conn[data-cid="1"]');
  let paused = false;
  for (let i = 0; i < 100 && !paused; i++) {
    await page.keyboard.press('ArrowRight'); // the keyboard works as well as the button
    paused = (await slow.locator('[data-badge="paused"]').count()) > 0;
  }
  assert.ok(paused, 'reading paused appears');
  assert.equal(await slow.locator('[data-badge="readable"]').getAttribute('data-on'), 'false');
  assert.equal(await slow.locator('[data-badge="writable"]').getAttribute('data-on'), 'true');
  assert.match(await slow.locator('.gauge.over').first().textContent(), /at high watermark/);
  // Client A is unaffected.
  assert.equal(await page.locator('.conn[data-cid="0"] [data-badge="paused"]').count(), 0);
  await page.click('#finish');
  assert.equal(await slow.locator('[data-badge="paused"]').count(), 0);
  assert.match(await page.textContent('#log'), /reading resumed/);
  await page.close();
});

test('the config lives in the URL and a bad config shows the core\'s message', async () => {
  const { page } = await open('?preset=one-line&seed=3&prefix=%3E%3E');
  await page.click('#finish');
  assert.equal(await stageText(page, 0, 'got'), '>>hello\n');
  await page.click('#config-panel summary');
  assert.equal(await page.inputValue('#cfg-prefix'), '>>', 'the form shows the value from the URL');
  assert.equal(await page.inputValue('#cfg-max_line'), '16384', 'and the core default for the rest');
  await page.fill('#cfg-low_watermark', '999999');
  await page.click('#config button[type="submit"]');
  assert.match(await page.textContent('#config [role="alert"]'), /low watermark .* must be below high watermark/);
  assert.match(page.url(), /prefix=%3E%3E/);
  await page.close();
});

test('collect mode, set in the URL, holds the echo until the quit word', async () => {
  const { page, problems } = await open('?preset=one-line&seed=1&framing=collect');
  const line = '.conn[data-cid="0"] input[name="line"]';
  await page.click('#finish');
  assert.equal(await stageText(page, 0, 'collected'), 'hello\n');
  assert.equal(await stageText(page, 0, 'got'), '');
  await page.fill(line, 'quit');
  await page.press(line, 'Enter');
  await page.click('#finish');
  assert.equal(await stageText(page, 0, 'got'), 'hello\nquit\n');
  assert.match(await page.textContent('.conn[data-cid="0"] .phase'), /collect complete/);
  assert.deepEqual(problems, []);
  await page.close();
});

test('the delay preset shows the fault deadline as a badge and the held echo in the queue', async () => {
  const { page, problems } = await open('?preset=delay&seed=1');
  const card = page.locator('.conn[data-cid="0"]');
  assert.match(await card.locator('[data-badge="faults"]').textContent(), /faults: delay 300 ms/);
  let held = false;
  for (let i = 0; i < 40 && !held; i++) {
    await page.click('#step');
    held = (await card.locator('[data-badge="fault-deadline"]').count()) > 0;
  }
  assert.ok(held, 'the fault deadline badge appears');
  assert.match(await card.locator('[data-badge="fault-deadline"]').textContent(), /delay: release at \d+ ms/);
  assert.equal(await stageText(page, 0, 'output'), 'one\n', 'the echo waits in the output queue');
  assert.match(await card.textContent(), /held by the fault layer \(delay\) until \d+ ms/);
  await page.click('#finish');
  assert.equal(await card.locator('[data-badge="fault-deadline"]').count(), 0);
  assert.match(await page.textContent('#log'), /the delay is over, held output released/);
  assert.ok((await page.locator('#timeline .m-timer').count()) > 0, 'the releases are marked on the timeline');
  assert.deepEqual(problems, []);
  await page.close();
});

test('the config form offers the fault fields, a chunk range included, and applies them', async () => {
  const { page, problems } = await open('?preset=chunk&seed=1');
  await page.click('#config-panel summary');
  assert.equal(await page.inputValue('#cfg-chunk'), '1..3', 'the preset\'s chunk range');
  assert.equal(await page.inputValue('#cfg-delay'), '', 'off');
  assert.equal(await page.locator('#cfg-drop').count(), 0, 'UDP faults are not offered');
  await page.fill('#cfg-chunk', '2..2');
  await page.fill('#cfg-reset_after', '7');
  await page.click('#config button[type="submit"]');
  assert.equal(await page.textContent('#config [role="alert"]'), '');
  assert.match(page.url(), /chunk=2\.\.2/);
  assert.match(page.url(), /reset_after=7/);
  await page.click('#finish');
  assert.equal(await stageText(page, 0, 'got'), 'hello, ');
  assert.match(await page.textContent('.conn[data-cid="0"]'), /connection reset by peer/);
  await page.fill('#cfg-chunk', '3..1');
  await page.click('#config button[type="submit"]');
  assert.match(await page.textContent('#config [role="alert"]'), /chunk range 3\.\.1 is empty/);
  assert.deepEqual(problems, []);
  await page.close();
});

test('the journey: Next goes to the following lesson in one click, and the keyboard does too', async () => {
  const { page, problems } = await open('?preset=one-line&seed=1');
  assert.match(await page.textContent('#journey-pos'), new RegExp(`lesson 1 of ${PRESETS.length}`));
  assert.equal(await page.isDisabled('#prev-lesson'), true);
  assert.match(await page.textContent('#next-lesson'), /Next: A blocking server, two clients/);
  await page.click('#next-lesson');
  assert.match(page.url(), /preset=blocking-many/);
  assert.match(await page.textContent('#lesson'), /A blocking server, two clients/);
  // Focus stays on Next: Enter walks on, lesson by lesson.
  await page.keyboard.press('Enter');
  assert.match(await page.textContent('#lesson'), /Non-blocking: a busy loop/);
  assert.equal(await page.inputValue('#loop'), 'busy');
  await page.click('#prev-lesson');
  assert.match(await page.textContent('#lesson'), /A blocking server, two clients/);
  await page.selectOption('#preset', PRESETS.at(-1).key);
  assert.equal(await page.isDisabled('#next-lesson'), true, 'the last lesson has no next');
  assert.deepEqual(problems, []);
  await page.close();
});

test('the blocking server leaves B in the backlog, and the busy loop\'s meter and counter climb', async () => {
  const { page, problems } = await open('?preset=blocking-many&seed=1');
  const b = page.locator('.conn[data-cid="1"]');
  let waiting = false;
  for (let i = 0; i < 40 && !waiting; i++) {
    await page.click('#step');
    waiting = (await stageText(page, 1, 'rx')) === 'hi\n';
  }
  assert.ok(waiting, 'B\'s line sits in its receive buffer');
  assert.match(await b.locator('.phase').textContent(), /in the listen backlog: not accepted yet/);
  assert.equal(await b.locator('[data-badge="backlog"]').count(), 1);
  assert.match(await page.textContent('#server [data-role="thread"]'), /blocked in recv\(\) on client A · 1 waiting in the backlog/);
  assert.equal(await page.textContent('#server [data-role="backlog"]'), 'client B');
  // The same clients under the busy loop, switched with the loop select.
  await page.selectOption('#loop', 'busy');
  assert.match(page.url(), /loop=busy/);
  const meter = page.locator('#server [role="meter"]');
  const counts = [];
  for (let i = 0; i < 12; i++) {
    await page.click('#step');
    counts.push(Number(await page.getAttribute('#server [data-role="would-block"]', 'data-n')));
  }
  assert.equal(await meter.getAttribute('aria-valuetext'), '100 %');
  assert.ok(counts.at(-1) > counts[0] && counts.at(-1) > 10_000, `the would-block counter climbs: ${counts}`);
  assert.ok((await page.locator('.conn[data-cid="1"] [data-badge="would-block"]').count()) === 1, 'each socket shows how often it was asked');
  await page.selectOption('#on-error', 'exit');
  assert.match(page.url(), /on_error=exit/);
  assert.deepEqual(problems, []);
  await page.close();
});

test('tasks: each card says what its task awaits, and an error passed up ends the server', async () => {
  const { page, problems } = await open('?preset=tasks&seed=1');
  const badge = (cid) => page.textContent(`.conn[data-cid="${cid}"] [data-badge="task"]`, { timeout: WAIT }).catch(() => '');
  let stuck = false;
  for (let i = 0; i < 60 && !stuck; i++) {
    await page.click('#step');
    stuck = /task awaits writable \(write_all\)/.test(await badge(1));
  }
  assert.ok(stuck, 'B\'s task waits in write_all');
  assert.match(await badge(0), /task awaits read/);
  await page.click('#next-lesson');
  await page.click('#finish');
  assert.match(await page.textContent('#server .down'), /The process exited at \d+ ms: client B's error "fault injected"/);
  assert.match(await page.textContent('.conn[data-cid="1"] [data-badge="task"]'), /task failed: Err\(fault injected\)/);
  assert.match(await page.textContent('.conn[data-cid="0"] .phase'), /closed: the server exited/);
  assert.match(await page.textContent('#log'), /main awaits it with \? → the process exits/);
  await page.click('#next-lesson');
  await page.click('#finish');
  assert.equal(await page.locator('#server .down').count(), 0);
  assert.equal(await stageText(page, 3, 'got'), 'hello\n', 'D is served after the error');
  assert.match(await page.textContent('.conn[data-cid="0"] [data-badge="task"]'), /task awaits read/);
  assert.deepEqual(problems, []);
  await page.close();
});
