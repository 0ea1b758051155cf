// Opens the demo page in headless Chromium, in real time (no virtual clock), and checks
// what a visitor sees: the photo's top-5 equal onnxruntime's (assets/manifest.json, same
// classes in order, logits within 1e-3), a positive median latency and the model size.
// Twice: served plainly, the page must run the single-threaded build; served with
// COOP/COEP (ISOLATED_URL), it must be crossOriginIsolated and run the pthreads build
// with 2 or more threads. Keeps a screenshot of each (demo.png, demo_threads.png).
//   node browser_check.mjs MANIFEST SCREENSHOT_DIR URL ISOLATED_URL
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { chromium } from 'playwright-core';

const [manifestPath, screenshotDir, url, isolatedUrl] = process.argv.slice(2);
const expected = JSON.parse(await readFile(manifestPath, 'utf8')).onnxruntime_top5;
const pages = [
  { label: 'single-threaded', url, isolated: false, screenshot: path.join(screenshotDir, 'demo.png') },
  { label: 'pthreads', url: isolatedUrl, isolated: true, screenshot: path.join(screenshotDir, 'demo_threads.png') },
];

// Loads one page, returns [failures, a one-line summary].
async function checkPage(browser, { url, isolated, screenshot }) {
  const failures = [];
  // A context per page: nothing (cache, isolation) carries from one load to the next.
  const context = await browser.newContext({ viewport: { width: 1000, height: 900 } });
  try {
    const page = await context.newPage();
    page.on('pageerror', (error) => failures.push(`page error: ${error.message}`));
    await page.goto(url);
    await page.waitForSelector('.top5 li, #status.error', { timeout: 180_000 });
    await page.screenshot({ path: screenshot, fullPage: true });
    const status = await page.textContent('#status');
    if (await page.$('#status.error')) failures.push(`the page reports: ${status}`);
    const crossOriginIsolated = await page.evaluate(() => globalThis.crossOriginIsolated === true);
    const build = await page.getAttribute('#runtime', 'data-build');
    const threads = Number(await page.getAttribute('#runtime', 'data-threads'));
    const modelThreads = Number(await page.getAttribute('#timing', 'data-model-threads'));
    if (crossOriginIsolated !== isolated) failures.push(`crossOriginIsolated is ${crossOriginIsolated}`);
    if (isolated && !(build === 'threads' && threads >= 2 && modelThreads === threads)) {
      failures.push(`build ${build}, ${threads} threads, the model runs ${modelThreads}: want the pthreads build, >= 2 threads, all on the model`);
    }
    if (!isolated && !(build === 'single' && threads === 1)) failures.push(`build ${build}, ${threads} threads: want single, 1`);
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
    const summary = failures.length ? '' : `${build} build, ${threads} thread${threads > 1 ? 's' : ''}, ` +
      `crossOriginIsolated ${crossOriginIsolated}: top-1 class #${top5[0].class} (onnxruntime #${expected[0].class}), ` +
      `median ${median.toFixed(2)} ms per run, model ${(size / 1e6).toFixed(2)} MB; screenshot ${screenshot}`;
    return [failures, summary];
  } finally {
    await context.close();
  }
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu'],
});
let failed = false;
try {
  for (const demo of pages) {
    const [failures, summary] = await checkPage(browser, demo);
    if (failures.length) {
      failed = true;
      console.error(`browser check FAILED, ${demo.label} page ${demo.url} (screenshot ${demo.screenshot}):\n  ${failures.join('\n  ')}`);
    } else {
      console.log(`browser check passed, ${demo.label} page: ${summary}`);
    }
  }
} finally {
  await browser.close();
}
if (failed) process.exit(1);
