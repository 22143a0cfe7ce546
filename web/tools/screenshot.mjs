// Takes the README's screenshot: `node web/tools/screenshot.mjs [out.png] [query]`.
// Runs the backpressure preset to the moment reading is paused, at 1280 px wide.

import { serveWeb } from './serve.mjs';
import { launch } from './browser.mjs';

const out = process.argv[2] ?? 'docs/playground.png';
const query = process.argv[3] ?? '?preset=backpressure&seed=1';
const steps = Number(process.argv[4] ?? 23);

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
