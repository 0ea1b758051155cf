// Opens the demo page in headless Chromium, in real time (no virtual clock), and checks
// what a visitor sees: the photo's top-5 equal onnxruntime's (assets/manifest.json, same
// classes in order, logits within 1e-3), a positive median latency and the model size.
// Keeps a screenshot.
//   node browser_check.mjs URL MANIFEST SCREENSHOT.png
import { readFile } from 'node:fs/promises';
import { chromium } from 'playwright-core';

const [url, manifestPath, screenshot] = process.argv.slice(2);
const expected = JSON.parse(await readFile(manifestPath, 'utf8')).onnxruntime_top5;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu'],
});
const failures = [];
try {
  const page = await browser.newPage({ viewport: { width: 1000, height: 900 } });
  page.on('pageerror', (error) => failures.push(`page error: ${error.message}`));
  await page.goto(url);
  await page.waitForSelector('.top5 li, #status.error', { timeout: 180_000 });
  await page.screenshot({ path: screenshot, fullPage: true });
  const status = await page.textContent('#status');
  if (await page.$('#status.error')) failures.push(`the page reports: ${status}`);
  const top5 = await page.$$eval('.top5 li', (items) =>
    items.map((li) => ({ class: Number(li.dataset.class), logit: Number(li.dataset.logit) })));
  const median = Number(await page.getAttribute('#timing', 'data-median-ms'));
  const size = Number(await page.getAttribute('#timing', 'data-model-bytes'));
  if (top5.length !== expected.length) failures.push(`top-5 has ${top5.length} entries`);
  expected.forEach((want, i) => {
    const got = top5[i];
    if (!got || got.class !== want.class || Math.abs(got.logit - want.logit) > 1e-3 * Math.max(1, Math.abs(want.logit))) {
      failures.push(`top-5[${i}]: page ${JSON.stringify(got)}, onnxruntime ${JSON.stringify(want)}`);
    }
  });
  if (!(median > 0)) failures.push(`median latency ${median} ms is not positive`);
  if (!(size > 0)) failures.push(`model size ${size} bytes`);
  if (failures.length === 0) {
    console.log(`browser check passed: top-1 class #${top5[0].class} (onnxruntime #${expected[0].class}), ` +
                `median ${median.toFixed(2)} ms per run, model ${(size / 1e6).toFixed(2)} MB; screenshot ${screenshot}`);
  }
} finally {
  await browser.close();
}
if (failures.length) {
  console.error(`browser check FAILED (screenshot ${screenshot}):\n  ${failures.join('\n  ')}`);
  process.exit(1);
}
