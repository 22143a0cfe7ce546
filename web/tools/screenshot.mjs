// Takes the README's screenshot: `node web/tools/screenshot.mjs [out.png] [query] [steps]`
// (`FULL=1` for the whole page). By default it runs the busy-loop preset 30 steps, to the
// moment client B types its second line: both clients served, the CPU meter at 100 % and
// hundreds of thousands of reads that returned "would block", at 1280 px wide.

import { serveWeb } from './serve.mjs';
import { launch } from './browser.mjs';

const out = process.argv[2] ?? 'docs/playground.png';
const query = process.argv[3] ?? '?preset=busy&seed=1';
const steps = Number(process.argv[4] ?? 30);

const server = await serveWeb();
const browser = await launch();
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1 });
  await page.goto(server.url + query);
  await page.waitForSelector('html[data-ready="true"]', { timeout: 10_000 });
  for (let i = 0; i < steps; i++) await page.click('#step');
  await page.screenshot({ path: out, fullPage: process.env.FULL === '1' });
  console.log(`wrote ${out}`);
} finally {
  await browser.close();
  await server.close();
}
