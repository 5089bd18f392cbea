/**
 * `npm run screenshot`: runs the demo (loopback unless root), waits until every device has its
 * verdict and the chart has a minute's worth of points, and saves the dashboard and the vendor
 * report as PNGs with the same headless Chromium the tests use. Writes docs/images/ by default
 * (`--out DIR` elsewhere); tests never run it, so tests never change tracked files.
 * @module
 */
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchBrowser } from '../testing/browser.ts';
import { runDemo, type DemoReady } from './run.ts';

const args = process.argv.slice(2);
const outAt = args.indexOf('--out');
const outDir = resolve(outAt >= 0 ? (args[outAt + 1] ?? '.') : fileURLToPath(new URL('../../docs/images/', import.meta.url)));
/** How long the chart collects points before the picture (one per second in the demo). */
const HISTORY_MS = Number(process.env.TATTLER_SCREENSHOT_WAIT_MS ?? 45_000);

const controller = new AbortController();
const readyPromise = new Promise<DemoReady>((resolveReady) => {
  const demo = runDemo({
    devices: 24,
    durationMs: null,
    json: true,
    dataDir: join(tmpdir(), `tattler-screenshot-${String(process.pid)}`),
    httpPort: 0,
    collectorPort: 0,
    mode: 'auto',
    keepData: false,
    out: process.stdout,
    err: process.stderr,
    live: false,
    color: false,
    signal: controller.signal,
    onReady: resolveReady,
  });
  demo.then(
    (result) => {
      process.stderr.write(`screenshot: demo ended, exit ${String(result.exitCode)}\n`);
    },
    (err: unknown) => {
      process.stderr.write(`screenshot: demo failed: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
});

const r = await readyPromise;
if (r.dashboardUrl === undefined) throw new Error('the demo collector has no dashboard');
await new Promise((done) => setTimeout(done, HISTORY_MS));
await mkdir(outDir, { recursive: true });
const browser = await launchBrowser();
try {
  const page = await browser.context.newPage();
  await page.setViewportSize({ width: 1280, height: 900 });
  for (const [path, file] of [
    ['', 'dashboard.png'],
    ['/vendors', 'vendor-report.png'],
  ] as const) {
    await page.goto(`${r.dashboardUrl}${path}`, { waitUntil: 'networkidle' });
    await page.screenshot({ path: join(outDir, file), fullPage: true });
    process.stderr.write(`screenshot: wrote ${join(outDir, file)}\n`);
  }
} finally {
  await browser.close();
  controller.abort();
}
