/**
 * The operator dashboard, live: a collector on loopback receives a known mix of real UDP
 * announcements, then headless Chromium loads /dashboard and /dashboard/vendors and every number
 * on the pages must equal /metrics of the same run; the chart is drawn, the CSP is sent and the
 * console stays clean. Also: the API's hardening (methods, CORS, the Host check against DNS
 * rebinding), 404 while disabled, the shared API answers, the history ring, and the stats store
 * holding the same counts after close (one process, and two workers).
 * @module
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import type { VendorReport } from '../report/types.ts';
import { browserSkipReason, launchBrowser, type TestBrowser } from '../testing/browser.ts';
import { identifiedRequest, privateRequest, requestBytes, writeCollectorDir } from '../testing/collector-fixture.ts';
import { startLiveCollector, type LiveCollector } from '../testing/live-collector.ts';
import { parseExposition, sampleSum, type Sample } from '../testing/prometheus.ts';
import type { AggregateCounts } from './aggregate-counts.ts';
import { HistoryRing, MAX_HISTORY_POINTS, buildDashboardSummary, thinHistory, type DashboardSummary, type HistoryPoint } from './dashboard.ts';
import { DASHBOARD_CSP } from './dashboard-page.ts';
import { DASHBOARD_CACHE_MS, startDashboard } from './dashboard-service.ts';
import { nextFlushDelayMs } from './dashboard-stats.ts';
import { isDashboardHost } from './http.ts';
import { openStatsStore } from './stats-store.ts';

const BIN = fileURLToPath(new URL('../../bin/tattler.js', import.meta.url));
const DASHBOARD_YAML = 'metrics: {address: 127.0.0.1, port: 0, dashboard: {enabled: true, sampleInterval: 1s}}';

let live: LiveCollector | undefined;
let statsDir = '';
let browser: TestBrowser | undefined;

/** The known mix: 2 FAIL, 1 PASS, 1 WARN, 1 unlisted UNKNOWN, 2 private, 1 malformed. */
const MIX: readonly Uint8Array[] = [
  requestBytes(identifiedRequest()),
  requestBytes(identifiedRequest()),
  requestBytes(identifiedRequest({ swVersion: { version: '2.1' } })),
  requestBytes(identifiedRequest({ vendor: 'hikvision', model: 'ds2cd2032i' })),
  requestBytes(identifiedRequest({ model: 'dir860l' })),
  requestBytes(privateRequest()),
  requestBytes(privateRequest(), 8),
  new Uint8Array(40),
];

function running(): LiveCollector & { ops: string } {
  assert.ok(live !== undefined, 'collector started');
  const ops = live.collector.opsAddress();
  assert.ok(ops !== undefined, 'metrics listener configured');
  return Object.assign(live, { ops: `http://127.0.0.1:${ops.port}` });
}

async function scrape(base: string): Promise<Sample[]> {
  const response = await fetch(`${base}/metrics`);
  assert.equal(response.status, 200);
  return parseExposition(await response.text());
}

async function getJson<T>(url: string): Promise<T> {
  const response = await fetch(url);
  assert.equal(response.status, 200, url);
  assert.equal(response.headers.get('cache-control'), 'no-store');
  assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
  assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
  return (await response.json()) as T;
}

/** The counts of /metrics in the stats store's shape, sorted like it. */
function countsOf(samples: readonly Sample[]): AggregateCounts {
  const identified = samples
    .filter((s) => s.name === 'tattler_identified_total' && s.value > 0)
    .map((s) => ({ vendor: s.labels.vendor ?? '', model: s.labels.model ?? '', status: s.labels.status as 'pass' | 'fail' | 'warn' | 'unknown', count: s.value }));
  const buckets = samples.filter((s) => s.name === 'tattler_private_total' && s.value > 0).map((s) => ({ bucket: s.labels.bucket ?? '', count: s.value }));
  return sortCounts({ identified, private: buckets });
}

function sortCounts(counts: AggregateCounts): AggregateCounts {
  const key = (c: { vendor: string; model: string; status: string }): string => `${c.vendor}\0${c.model}\0${c.status}`;
  return {
    identified: [...counts.identified].map((c) => ({ ...c })).sort((a, b) => key(a).localeCompare(key(b))),
    private: [...counts.private].map((c) => ({ ...c })).sort((a, b) => a.bucket.localeCompare(b.bucket)),
  };
}

/** Every `[data-metric]` of the page: name → number (thousands separators removed) or text. */
async function pageMetrics(page: Page): Promise<Map<string, string>> {
  // Node has no DOM types: the elements are described by what is read of them.
  const pairs = await page
    .locator('[data-metric]')
    .evaluateAll((nodes: { getAttribute(name: string): string | null; textContent: string | null }[]) =>
      nodes.map((n): [string, string] => [n.getAttribute('data-metric') ?? '', n.textContent ?? '']),
    );
  return new Map(pairs.map(([k, v]) => [k, v.replace(/,/g, '')]));
}

/** A page that records console errors and page errors. */
async function openPage(errors: string[]): Promise<Page> {
  assert.ok(browser !== undefined);
  const page = await browser.context.newPage();
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning') errors.push(`console ${message.type()}: ${message.text()}`);
  });
  page.on('pageerror', (err) => errors.push(`page error: ${err.message}`));
  page.on('requestfailed', (request) => errors.push(`request failed: ${request.url()}`));
  return page;
}

before(async () => {
  statsDir = await mkdtemp(join(tmpdir(), 'tattler-dashboard-stats-'));
  live = await startLiveCollector({
    nowSeconds: Math.floor(Date.now() / 1000),
    extraYaml: [DASHBOARD_YAML, `stats: {database: ${JSON.stringify(join(statsDir, 'stats.db'))}, flushInterval: 1h}`],
  });
  for (const bytes of MIX) await running().sendHandled(bytes);
  if (browserSkipReason() === undefined) browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await live?.close();
  await rm(statsDir, { recursive: true, force: true });
});

test('/dashboard shows exactly the /metrics counts, draws the chart, sends a strict CSP and logs no error', { skip: browserSkipReason(), timeout: 60_000 }, async () => {
  const { ops } = running();
  const samples = await scrape(ops);
  const m = (name: string, labels: Record<string, string> = {}): number => sampleSum(samples, `tattler_${name}`, labels);
  // The mix itself, so that equal-to-/metrics cannot pass with everything zero.
  assert.equal(m('datagrams_received_total'), MIX.length);
  assert.equal(m('verdicts_total', { status: 'fail' }), 2);
  assert.equal(m('verdicts_total', { status: 'warn' }), 1);
  assert.equal(m('private_total'), 2);

  const errors: string[] = [];
  const page = await openPage(errors);
  const response = await page.goto(`${ops}/dashboard`);
  assert.ok(response !== null);
  assert.equal(response.status(), 200);
  const headers = response.headers();
  assert.equal(headers['content-security-policy'], DASHBOARD_CSP);
  assert.match(DASHBOARD_CSP, /default-src 'none'; script-src 'self'/);
  assert.equal(headers['cache-control'], 'no-store');
  assert.equal(headers['x-content-type-options'], 'nosniff');
  assert.equal(headers['x-frame-options'], 'DENY');
  assert.equal(await page.title(), 'Tattler collector — dashboard');
  assert.equal(await page.getAttribute('html', 'lang'), 'en');
  await page.waitForSelector('body[data-rendered-at]');

  const shown = await pageMetrics(page);
  const expect = (metric: string, value: number): void => {
    assert.equal(shown.get(metric), String(value), `${metric} on the page`);
  };
  expect('totals.datagrams', m('datagrams_received_total'));
  expect('totals.identified', m('identified_total'));
  expect('totals.private', m('private_total'));
  for (const status of ['fail', 'warn', 'pass', 'unknown']) expect(`verdicts.${status}`, m('verdicts_total', { status }));
  expect('drops.total', m('drops_total'));
  expect('drops.BAD_LENGTH', m('drops_total', { reason: 'BAD_LENGTH' }));
  expect('rateLimited.drop', m('rate_limited_total', { action: 'drop' }));
  expect('rateLimited.slip', m('rate_limited_total', { action: 'slip' }));
  expect('feed.version', m('feed_version'));
  expect('workers', 1);
  const answers = samples.filter((s) => s.name === 'tattler_answers_total');
  assert.ok(answers.length >= 3);
  for (const s of answers) expect(`answers.${s.labels.kind ?? ''}`, s.value);
  const identified = samples.filter((s) => s.name === 'tattler_identified_total');
  assert.equal(identified.length, 4, 'fail, pass and warn of listed models, and the unlisted one');
  for (const s of identified) expect(`identified.${s.labels.vendor ?? ''}.${s.labels.model ?? ''}.${s.labels.status ?? ''}`, s.value);
  expect('identified.dlink.dir859.fail', 2);
  expect('identified.dlink.dir859.warn', 0);
  for (const s of samples.filter((x) => x.name === 'tattler_private_total')) expect(`private.${s.labels.bucket ?? ''}`, s.value);
  assert.equal(shown.get('certificate.status'), 'ok', 'the fixture certificate has 6 days left');
  assert.equal(shown.get('health.status'), 'ok');
  assert.match(await page.textContent('#feed') ?? '', /expires in 6 d 2\d h/);
  assert.match((await page.textContent('section[aria-labelledby="private-title"] caption')) ?? '', /private mode: the collector never learns the model/);

  // The chart: one path per series with a point per interval once a second sample exists.
  await page.waitForFunction("document.querySelectorAll('#chart path[data-series]').length === 5", undefined, { timeout: 15_000 });
  const chart = await page
    .locator('#chart path[data-series]')
    .evaluateAll((paths: { getAttribute(name: string): string | null }[]) => paths.map((p) => [p.getAttribute('data-series'), p.getAttribute('d')]));
  assert.deepEqual(chart.map(([series]) => series), ['ann', 'fail', 'warn', 'pass', 'unknown']);
  for (const [, d] of chart) assert.match(d ?? '', /^M[\d.]+ [\d.]+/);
  assert.ok((await page.$$('#chart circle')).length >= 5, 'points are plotted');
  assert.ok((await page.$$('#chart text')).length >= 10, 'axes are labelled');
  assert.equal(await page.locator('#legend li').count(), 5);
  // The plotted announcements add up to what was sent (the first point is the start: all zero).
  const summary = await getJson<DashboardSummary>(`${ops}/dashboard/api/summary`);
  const first = summary.history[0];
  const last = summary.history.at(-1);
  assert.ok(first !== undefined && last !== undefined && summary.history.length >= 2);
  assert.equal(first.datagrams, 0);
  assert.equal(last.identified + last.private - first.identified - first.private, m('identified_total') + m('private_total'));
  assert.equal(summary.totals.datagrams, m('datagrams_received_total'));
  await page.close();
  assert.deepEqual(errors, []);
});

test('/dashboard/vendors shows the vendor report of /dashboard/api/vendors, matching /metrics', { skip: browserSkipReason(), timeout: 60_000 }, async () => {
  const { ops } = running();
  const samples = await scrape(ops);
  const report = await getJson<VendorReport>(`${ops}/dashboard/api/vendors`);
  assert.equal(report.feedVersion, 42);
  assert.ok(report.window.fromSeconds !== null && report.window.toSeconds !== null && report.window.fromSeconds <= report.window.toSeconds);
  assert.deepEqual(report.rows.map((r) => `${r.vendor}/${r.model}`).slice(0, 2), ['dlink/dir859', 'hikvision/ds2cd2032i'], 'most vulnerable first');
  const errors: string[] = [];
  const page = await openPage(errors);
  const response = await page.goto(`${ops}/dashboard/vendors`);
  assert.equal(response?.headers()['content-security-policy'], DASHBOARD_CSP);
  await page.waitForSelector('body[data-rendered-at]');
  const shown = await pageMetrics(page);
  for (const row of report.rows) {
    const base = `vendors.${row.vendor}.${row.model}.`;
    const a = row.announcements;
    const fromMetrics = (status: string): number => sampleSum(samples, 'tattler_identified_total', { vendor: row.vendor, model: row.model, status });
    assert.equal(a.fail + a.warn + a.pass + a.unknown, ['fail', 'warn', 'pass', 'unknown'].reduce((n, s) => n + fromMetrics(s), 0));
    assert.equal(row.vulnerable, fromMetrics('fail') + fromMetrics('warn'));
    assert.equal(shown.get(`${base}announcements`), String(a.fail + a.warn + a.pass + a.unknown));
    assert.equal(shown.get(`${base}vulnerable`), String(row.vulnerable));
    assert.equal(shown.get(`${base}kev`), row.kev ? 'yes' : 'no');
    assert.equal(shown.get(`${base}advisories`), row.advisories.join(', '));
  }
  assert.equal(shown.get('vendors.dlink.dir859.vulnerable'), '2');
  assert.equal(shown.get('vendors.hikvision.ds2cd2032i.vulnerable'), '1');
  assert.equal(shown.get('vendors.dlink.dir859.cvss'), '9.8');
  assert.match(shown.get('vendors.dlink.dir859.fixed') ?? '', /^yes \(2\.0\)$/);
  assert.equal(shown.get('vendors.unlisted'), String(sampleSum(samples, 'tattler_identified_total', { vendor: '(unlisted)' })));
  assert.equal(report.unlisted, 1);
  for (const s of samples.filter((x) => x.name === 'tattler_private_total')) assert.equal(shown.get(`vendors.private.${s.labels.bucket ?? ''}`), String(s.value));
  assert.match((await page.textContent('#vendor-private-title')) ?? '', /Private mode \(the collector never learns the model\)/);
  assert.equal(await page.locator('thead th').count(), 9 + 2);
  await page.close();
  assert.deepEqual(errors, []);
});

test('the dashboard renders feed text as text, never as markup', { skip: browserSkipReason(), timeout: 60_000 }, async () => {
  const { ops } = running();
  const errors: string[] = [];
  const page = await openPage(errors);
  // The API answer replaced by one whose names are markup: they must show as typed.
  await page.route('**/dashboard/api/vendors', async (route) => {
    const report = await getJson<VendorReport>(`${ops}/dashboard/api/vendors`);
    const hostile = { ...report, rows: report.rows.map((r, i) => (i === 0 ? { ...r, model: '<img src=x onerror="window.pwned=1">' } : r)) };
    await route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(hostile) });
  });
  await page.goto(`${ops}/dashboard/vendors`);
  await page.waitForSelector('body[data-rendered-at]');
  assert.equal(await page.locator('#vendors img').count(), 0);
  assert.match((await page.textContent('#vendors')) ?? '', /<img src=x onerror=/);
  assert.equal(await page.evaluate('window.pwned'), undefined);
  await page.close();
  assert.deepEqual(errors, []);
});

test('the dashboard answers GET and HEAD only, 404s what it does not serve, and adds no CORS', async () => {
  const { ops } = running();
  const post = await fetch(`${ops}/dashboard/api/summary`, { method: 'POST', body: 'x' });
  assert.equal(post.status, 405);
  assert.equal(post.headers.get('allow'), 'GET, HEAD');
  const head = await fetch(`${ops}/dashboard`, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get('content-security-policy'), DASHBOARD_CSP);
  for (const path of ['/dashboard/app.js', '/dashboard/app.css', '/dashboard/icon.svg', '/dashboard/']) {
    const response = await fetch(`${ops}${path}`);
    assert.equal(response.status, 200, path);
    assert.equal(response.headers.get('access-control-allow-origin'), null);
  }
  const missing = await fetch(`${ops}/dashboard/api/other`);
  assert.equal(missing.status, 404);
  assert.equal(await missing.text(), 'not found: try /metrics, /healthz or /dashboard\n');
});

/** A GET with a chosen Host header (fetch does not let a caller set it). */
async function getWithHost(port: number, path: string, host: string): Promise<{ status: number; body: string }> {
  const req = httpRequest({ host: '127.0.0.1', port, path, headers: { host } });
  req.end();
  const [res] = (await once(req, 'response')) as [IncomingMessage];
  res.setEncoding('utf8');
  let body = '';
  for await (const chunk of res) body += String(chunk);
  return { status: res.statusCode ?? 0, body };
}

test('the dashboard answers 421 to a Host that may be a rebound name; /metrics and /healthz answer any Host', async () => {
  const port = running().collector.opsAddress()?.port ?? 0;
  for (const path of ['/dashboard', '/dashboard/api/summary', '/dashboard/api/vendors', '/dashboard/app.js']) {
    const refused = await getWithHost(port, path, 'evil.example');
    assert.equal(refused.status, 421, path);
    assert.match(refused.body, /^misdirected request: .*metrics\.dashboard\.allowedHosts\n$/);
  }
  assert.equal((await getWithHost(port, '/dashboard/api/summary', `evil.example:${port}`)).status, 421);
  for (const host of [`localhost:${port}`, 'LOCALHOST', `127.0.0.1:${port}`, `[::1]:${port}`]) {
    assert.equal((await getWithHost(port, '/dashboard', host)).status, 200, host);
  }
  assert.equal((await getWithHost(port, '/metrics', 'evil.example')).status, 200);
  assert.notEqual((await getWithHost(port, '/healthz', 'evil.example')).status, 421);
});

test('isDashboardHost() accepts IP literals, localhost and the listed names only', () => {
  const allowed = ['collector.example.net'];
  for (const host of ['127.0.0.1', '127.0.0.1:9464', '[::1]:9464', '192.0.2.7', 'localhost', 'localhost.:80', 'Collector.Example.NET:9464'])
    assert.equal(isDashboardHost(host, allowed), true, host);
  for (const host of [undefined, '', 'evil.example', 'localhost.evil.example', '127.0.0.1.evil.example', '::1', '[evil]', 'a:b:c', 'collector.example.net.evil'])
    assert.equal(isDashboardHost(host, allowed), false, String(host));
});

test('startDashboard() shares one read between concurrent requests and reuses it briefly', async () => {
  let reads = 0;
  let reports = 0;
  let nowMs = 0;
  const dashboard = startDashboard(
    { enabled: true, sampleIntervalSeconds: 300, allowedHosts: [] },
    {
      read: () => {
        reads++;
        return Promise.resolve({ metrics: [], status: {} });
      },
      vendorReport: ({ window, nowSeconds }) => {
        reports++;
        return Promise.resolve({ generatedAt: nowSeconds, window, feedVersion: null, rows: [], unlisted: 0, private: [] });
      },
      nowSeconds: () => 1_700_000_000,
      nowMs: () => nowMs,
    },
  );
  try {
    const sampled = reads; // the sampler's first point
    await Promise.all(Array.from({ length: 20 }, () => dashboard.summary()));
    assert.equal(reads - sampled, 1, 'a burst costs one read');
    nowMs += DASHBOARD_CACHE_MS.summary - 1;
    await dashboard.summary();
    assert.equal(reads - sampled, 1, 'reused within the cache time');
    nowMs += 1;
    await dashboard.summary();
    assert.equal(reads - sampled, 2, 'read again once it expired');
    await Promise.all(Array.from({ length: 20 }, () => dashboard.vendors()));
    nowMs += DASHBOARD_CACHE_MS.vendors - 1;
    await dashboard.vendors();
    assert.equal(reports, 1, 'one feed walk for the burst and within 5 s');
    nowMs += 1;
    await dashboard.vendors();
    assert.equal(reports, 2);
  } finally {
    dashboard.close();
  }
});

test('nextFlushDelayMs() waits the interval, or less to flush just after the next hour boundary', () => {
  const hour = 3_600_000;
  const t = 1_699_999_200_000; // an hour boundary
  assert.equal(nextFlushDelayMs(t + 60_000, 300_000), 300_000);
  assert.equal(nextFlushDelayMs(t + hour - 60_000, 300_000), 60_050);
  assert.equal(nextFlushDelayMs(t + 1_000, hour), hour - 1_000 + 50, 'an 1 h interval still flushes at the boundary');
  assert.ok(nextFlushDelayMs(t, hour) > 0);
});

test('with the dashboard off (the default) its paths are 404 as before', async () => {
  const off = await startLiveCollector({ nowSeconds: Math.floor(Date.now() / 1000), extraYaml: ['metrics: {address: 127.0.0.1, port: 0}'] });
  try {
    const port = off.collector.opsAddress()?.port ?? 0;
    for (const path of ['/dashboard', '/dashboard/api/summary', '/dashboard/api/vendors', '/dashboard/app.js']) {
      const response = await fetch(`http://127.0.0.1:${port}${path}`);
      assert.equal(response.status, 404, path);
      assert.equal(await response.text(), 'not found: try /metrics or /healthz\n');
    }
  } finally {
    await off.close();
  }
});

test('the stats store holds the /metrics counts after close', async () => {
  // Its own collector: closing the shared one would make the other tests depend on file order.
  const own = await startLiveCollector({
    nowSeconds: Math.floor(Date.now() / 1000),
    extraYaml: ['metrics: {address: 127.0.0.1, port: 0}', `stats: {database: ${JSON.stringify(join(statsDir, 'own.db'))}, flushInterval: 1h}`],
  });
  let counts: AggregateCounts;
  try {
    for (const bytes of MIX) await own.sendHandled(bytes);
    counts = countsOf(await scrape(`http://127.0.0.1:${String(own.collector.opsAddress()?.port)}`));
    assert.ok(counts.identified.length > 0 && counts.private.length > 0);
  } finally {
    await own.close();
  }
  const store = openStatsStore(join(statsDir, 'own.db'), { retentionSeconds: 400 * 86_400, readOnly: true });
  try {
    const stored = store.query(null);
    assert.deepEqual(sortCounts(stored), counts);
    assert.ok(stored.window.fromSeconds !== null);
  } finally {
    store.close();
  }
});

test('a stats store that cannot be opened is logged as stats_error and serving goes on', async () => {
  const logged: { event: string; message: string }[] = [];
  const broken = await startLiveCollector({
    nowSeconds: Math.floor(Date.now() / 1000),
    // The store's directory would be inside a regular file: it can never be created.
    prepare: (dir) => writeFile(join(dir, 'not-a-dir'), 'x'),
    extraYaml: ['stats: {database: not-a-dir/stats.db, flushInterval: 1h}'],
    deps: { log: (_level, event, message) => logged.push({ event, message }) },
  });
  try {
    const { answer } = await broken.ask(requestBytes(identifiedRequest()));
    assert.equal(answer.response.kind, 'verdict');
  } finally {
    await broken.close();
  }
  const errors = logged.filter((l) => l.event === 'stats_error');
  assert.ok(errors.length >= 1, JSON.stringify(logged));
  assert.match(errors[0]?.message ?? '', /stats store .*not-a-dir\/stats\.db: cannot open/);
  assert.equal(new Set(errors.map((e) => e.message)).size, errors.length, 'one line per distinct problem');
});

test('workers: 2 — the primary serves the dashboard from the summed counters and writes the stats store', { timeout: 90_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tattler-dashboard-cluster-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const config = await writeCollectorDir(dir, ['workers: 2', DASHBOARD_YAML, 'stats: {database: stats.db, flushInterval: 1h}'], { nowSeconds: Math.floor(Date.now() / 1000) });
  const child = spawn(process.execPath, [BIN, 'collector', '--config', config, '--log-format', 'json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => child.kill('SIGKILL'));
  let stderr = '';
  child.stderr.setEncoding('utf8');
  const banner = new Promise<string>((resolve) => {
    child.stderr.on('data', (chunk: string) => {
      stderr += chunk;
      const line = stderr.split('\n').find((l) => l.includes('listening on '));
      if (line !== undefined) resolve(line);
    });
  });
  const exited = once(child, 'exit') as Promise<[number | null]>;
  const line = await banner;
  const port = Number(/listening on 127\.0\.0\.1:(\d+)/.exec(line)?.[1]);
  const base = /(http:\/\/\S+)\/metrics/.exec(line)?.[1] ?? '';
  const client = createSocket('udp4');
  client.bind(0, '127.0.0.1');
  await once(client, 'listening');
  t.after(() => client.close());
  // Six FAILs, one at a time: each answered before the next.
  for (let i = 0; i < 6; i++) {
    const answered = once(client, 'message');
    client.send(requestBytes(identifiedRequest(), i), port, '127.0.0.1');
    await answered;
  }
  const samples = await scrape(base);
  const summary = await getJson<DashboardSummary>(`${base}/dashboard/api/summary`);
  assert.equal(summary.workers, 2);
  assert.equal(summary.totals.datagrams, sampleSum(samples, 'tattler_datagrams_received_total'));
  assert.equal(summary.totals.verdicts.fail, 6);
  assert.deepEqual(sortCounts(summary), countsOf(samples));
  const report = await getJson<VendorReport>(`${base}/dashboard/api/vendors`);
  assert.equal(report.feedVersion, 42, 'built by a worker, which holds the feed');
  assert.equal(report.rows.find((r) => r.model === 'dir859')?.vulnerable, 6);
  child.kill('SIGTERM');
  const [code] = await exited;
  assert.equal(code, 0, stderr);
  const store = openStatsStore(join(dir, 'stats.db'), { retentionSeconds: 400 * 86_400, readOnly: true });
  try {
    assert.deepEqual(sortCounts(store.query(null)), countsOf(samples));
  } finally {
    store.close();
  }
});

const point = (t: number, n: number): HistoryPoint => ({ t, datagrams: n, identified: n, private: 0, pass: 0, fail: n, warn: 0, unknown: 0, drops: 0 });

test('HistoryRing keeps the newest points, oldest first, within its bound', () => {
  const ring = new HistoryRing(3);
  for (let i = 1; i <= 5; i++) ring.push(point(i, i));
  assert.deepEqual(ring.points().map((p) => p.t), [3, 4, 5]);
  assert.throws(() => new HistoryRing(MAX_HISTORY_POINTS + 1), RangeError);
  assert.equal(HistoryRing.forInterval(1).points().length, 0);
});

test('thinHistory() keeps the first and last points, so the plotted deltas still add up', () => {
  const points = Array.from({ length: 1000 }, (_, i) => point(i, i * 3));
  const thin = thinHistory(points, 360);
  assert.equal(thin.length, 360);
  assert.deepEqual([thin[0]?.t, thin.at(-1)?.t], [0, 999]);
  assert.deepEqual(thinHistory(points.slice(0, 5), 360), points.slice(0, 5));
});

test('buildDashboardSummary() grades the certificate and appends the present to the history', () => {
  const base = { metrics: [], startedAt: 100, history: [point(100, 0)] };
  const at = (notAfter: number): string | undefined => buildDashboardSummary({ ...base, nowSeconds: 200, status: { certificateNotAfter: notAfter } }).certificate?.status;
  assert.equal(at(200 + 3 * 86_400), 'ok');
  assert.equal(at(200 + 2 * 86_400 - 1), 'expiring');
  assert.equal(at(200), 'expired');
  const summary = buildDashboardSummary({ ...base, nowSeconds: 200, status: {} });
  assert.deepEqual(summary.history.map((p) => p.t), [100, 200]);
  assert.equal(summary.feed, null);
  assert.deepEqual(summary.health.problems, ['NO_FEED']);
  assert.equal(buildDashboardSummary({ ...base, nowSeconds: 100, status: {} }).history.length, 1, 'a sample of this second is replaced');
});
