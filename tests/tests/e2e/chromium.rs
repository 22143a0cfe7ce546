//! Headless Chromium as a client no one here wrote: Debian's `/usr/bin/chromium` driven
//! through playwright-core from node, as the playground's browser tests drive it.

use std::path::Path;
use std::process::Command;

use crate::support::{output_within, LIMIT};

/// Runs `page_fn` — the source of an async JavaScript function of one argument — in a
/// headless Chromium page and returns what it resolved to. With `origin`, the page first
/// navigates there, so the function runs same-origin with it (a `fetch` needs no CORS).
/// `None`, with a message, when node's playwright-core or Chromium is missing (`npm ci`
/// and the test command install both).
pub(crate) fn in_chromium(
    origin: Option<&str>,
    page_fn: &str,
    input: &serde_json::Value,
) -> Option<serde_json::Value> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let playwright = root.join("node_modules/playwright-core");
    let chromium = std::env::var("CHROMIUM_PATH").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !playwright.exists() || !Path::new(&chromium).exists() {
        eprintln!("skipped: node_modules/playwright-core or {chromium} is missing (npm ci)");
        return None;
    }
    let script = r#"
import { chromium } from 'playwright-core';
const browser = await chromium.launch({
  executablePath: process.env.REVERB_CHROMIUM,
  headless: true,
  // Offline and quiet, as web/tools/browser.mjs; a wss:// or https:// server's
  // certificate is self-signed, made at start.
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
         '--disable-background-networking', '--ignore-certificate-errors'],
});
try {
  const page = await browser.newPage();
  if (process.env.REVERB_ORIGIN) await page.goto(process.env.REVERB_ORIGIN);
  const run = new Function('input', `return (${process.env.REVERB_PAGE_FN})(input);`);
  const result = await page.evaluate(run, JSON.parse(process.env.REVERB_INPUT));
  console.log(JSON.stringify(result));
} finally {
  await browser.close();
}
"#;
    let mut command = Command::new("node");
    command
        .args(["--input-type=module", "-e", script])
        .current_dir(&root)
        .env("REVERB_CHROMIUM", &chromium)
        .env("REVERB_ORIGIN", origin.unwrap_or(""))
        .env("REVERB_PAGE_FN", page_fn)
        .env("REVERB_INPUT", input.to_string());
    // Starting a browser takes a few seconds on a loaded 2-core machine.
    let out = output_within(command, LIMIT * 3);
    Some(serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}")))
}
